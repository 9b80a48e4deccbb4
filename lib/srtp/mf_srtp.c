/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SRTP/SRTCP transforms (see mf_srtp.h). Layout of this file: key derivation and the two
 * ciphers (AES-CM + HMAC-SHA1, AES-GCM), streams and replay windows, then the four packet
 * operations. Index estimation and replay checks follow libsrtp2's rdbx/rdb code so that
 * both accept and refuse the same packets.
 */

/* The SHA-1 block API is what lets a context keep HMAC's inner and outer states: EVP would
 * copy (allocate) a digest context per packet. OpenSSL 3 deprecates it without removing it. */
#define OPENSSL_API_COMPAT 10101

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "mf/mf_bytes.h"
#include "mf/mf_srtp.h"

#define CM_TAG_80	10	/* SRTCP's tag with both AES-CM suites (RFC 4568) */
#define GCM_TAG		16
#define SRTCP_E		0x80000000u
#define KS_BLOCKS	64	/* AES blocks of key stream per OpenSSL call */

enum label {
	L_RTP_KEY = 0, L_RTP_AUTH, L_RTP_SALT, L_RTCP_KEY, L_RTCP_AUTH, L_RTCP_SALT
};

/* The session keys of one direction (RTP or RTCP), ready to use. */
struct keys {
	EVP_CIPHER_CTX *aes;	/* AES-ECB for CM (we count), AES-GCM for AEAD */
	uint8_t salt[16];	/* CM: 14 bytes, then the two zero bytes of the block counter */
	SHA_CTX ipad, opad;	/* CM: HMAC-SHA1 after the key's first block */
};

/* The highest index sent or received, and which of the 128 below it came. */
struct replay {
	bool init;
	uint64_t top;
	uint64_t win[2];	/* bit i of win[i / 64]: top - i seen */
};

struct stream {
	bool used;
	bool sent;		/* we protected for it: its indexes must never start again */
	uint32_t ssrc;
	uint64_t last_use;
	struct replay rtp;	/* packet index: ROC << 16 | SEQ */
	struct replay rtcp;	/* SRTCP index */
};

struct mf_srtp {
	struct mf_srtp_params params;
	bool gcm;
	uint8_t tag_len;	/* RTP; SRTCP's is CM_TAG_80 for both CM suites (RFC 4568) */
	uint8_t rtcp_tag_len;
	uint8_t salt_len;	/* session salt: 14 (CM) or 12 (GCM) */
	uint64_t uses;
	struct keys rtp, rtcp;
	struct stream streams[MF_SRTP_MAX_STREAMS];
};

static const char *const err_desc[] = {
	[MF_SRTP_E_NONE] = "ok",
#define X(name, desc) [MF_SRTP_E_##name] = desc,
	MF_SRTP_ERRORS(X)
#undef X
};

const char *
mf_srtp_strerror(int rc)
{
	if (rc < 0)
		rc = -rc;
	return rc < MF_SRTP_E_MAX ? err_desc[rc] : "unknown error";
}

/* ---- AES counter mode: the key stream of RFC 3711 4.1.1, XORed into @p buf ---- */

static int
cm_xor(EVP_CIPHER_CTX *ecb, const uint8_t iv[16], uint8_t *buf, size_t len)
{
	uint8_t ctr[KS_BLOCKS * 16], ks[KS_BLOCKS * 16];
	uint32_t blk = 0;
	size_t done = 0, i;
	int outl;

	while (done < len) {
		size_t n = len - done < sizeof(ks) ? len - done : sizeof(ks);
		size_t nb = (n + 15) / 16;

		/* The IV's low 16 bits are zero: a 16-bit block counter there never carries. */
		for (i = 0; i < nb; i++, blk++) {
			memcpy(ctr + i * 16, iv, 14);
			ctr[i * 16 + 14] = (uint8_t)(iv[14] ^ (blk >> 8));
			ctr[i * 16 + 15] = (uint8_t)(iv[15] ^ blk);
		}
		if (EVP_EncryptUpdate(ecb, ks, &outl, ctr, (int)(nb * 16)) != 1)
			return -MF_SRTP_E_CRYPTO;
		for (i = 0; i + 8 <= n; i += 8) {
			uint64_t a, b;

			memcpy(&a, buf + done + i, 8);
			memcpy(&b, ks + i, 8);
			a ^= b;
			memcpy(buf + done + i, &a, 8);
		}
		for (; i < n; i++)
			buf[done + i] ^= ks[i];
		done += n;
	}
	return 0;
}

static EVP_CIPHER_CTX *
aes_new(const EVP_CIPHER *type, const uint8_t *key)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();

	if (x == NULL)
		return NULL;
	if (EVP_CipherInit_ex(x, type, NULL, key, NULL, 1) != 1) {
		EVP_CIPHER_CTX_free(x);
		return NULL;
	}
	EVP_CIPHER_CTX_set_padding(x, 0);
	return x;
}

static const EVP_CIPHER *
ecb_for(size_t key_len)
{
	return key_len == 32 ? EVP_aes_256_ecb() : EVP_aes_128_ecb();
}

/* ---- key derivation (RFC 3711 4.3.3, key_derivation_rate 0) ---- */

/* GCM's 12-byte master salt is padded with zeros to the 14 bytes of the PRF's input, as
 * libsrtp2 does (RFC 7714 section 11 derives with the same AES-CM PRF). */
static int
kdf(EVP_CIPHER_CTX *prf, const uint8_t salt14[14], enum label l, uint8_t *out, size_t len)
{
	uint8_t iv[16] = { 0 };

	memcpy(iv, salt14, 14);
	iv[7] ^= (uint8_t)l;
	memset(out, 0, len);
	return cm_xor(prf, iv, out, len);
}

static int
hmac_init(struct keys *k, const uint8_t auth_key[20])
{
	uint8_t pad[64];
	unsigned int i;

	for (i = 0; i < 64; i++)
		pad[i] = (uint8_t)((i < 20 ? auth_key[i] : 0) ^ 0x36);
	if (SHA1_Init(&k->ipad) != 1 || SHA1_Update(&k->ipad, pad, 64) != 1)
		return -MF_SRTP_E_CRYPTO;
	for (i = 0; i < 64; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	if (SHA1_Init(&k->opad) != 1 || SHA1_Update(&k->opad, pad, 64) != 1)
		return -MF_SRTP_E_CRYPTO;
	OPENSSL_cleanse(pad, sizeof(pad));
	return 0;
}

/* Session keys for one direction from their encryption key, salt and (CM) auth key. */
static int
keys_set(struct mf_srtp *c, struct keys *k, const uint8_t *key, const uint8_t *salt,
	 const uint8_t *auth)
{
	size_t kl = c->params.key_len;
	const EVP_CIPHER *t;

	if (c->gcm)
		t = kl == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm();
	else
		t = ecb_for(kl);
	EVP_CIPHER_CTX_free(k->aes);
	k->aes = aes_new(t, key);
	if (k->aes == NULL)
		return -MF_SRTP_E_CRYPTO;
	memset(k->salt, 0, sizeof(k->salt));
	memcpy(k->salt, salt, c->salt_len);
	return c->gcm ? 0 : hmac_init(k, auth);
}

static int
derive(struct mf_srtp *c)
{
	uint8_t salt14[14] = { 0 }, key[32], salt[14], auth[20];
	EVP_CIPHER_CTX *prf;
	size_t kl = c->params.key_len;
	int rc = -MF_SRTP_E_CRYPTO;
	unsigned int dir;

	memcpy(salt14, c->params.salt, c->params.salt_len);
	prf = aes_new(ecb_for(kl), c->params.key);
	if (prf == NULL)
		return rc;
	for (dir = 0; dir < 2; dir++) {
		enum label base = dir == 0 ? L_RTP_KEY : L_RTCP_KEY;

		if (kdf(prf, salt14, base, key, kl) != 0 ||
		    kdf(prf, salt14, base + 2, salt, c->salt_len) != 0 ||
		    (!c->gcm && kdf(prf, salt14, base + 1, auth, sizeof(auth)) != 0))
			goto out;
		rc = keys_set(c, dir == 0 ? &c->rtp : &c->rtcp, key, salt, auth);
		if (rc != 0)
			goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(salt, sizeof(salt));
	OPENSSL_cleanse(auth, sizeof(auth));
	OPENSSL_cleanse(salt14, sizeof(salt14));
	EVP_CIPHER_CTX_free(prf);
	return rc;
}

int
mf_srtp_create(const struct mf_srtp_params *p, struct mf_srtp **out)
{
	struct mf_srtp *c;
	uint8_t kl, sl;
	int rc;

	*out = NULL;
	if (!mf_srtp_suite_lens(p->suite, &kl, &sl) || p->key_len != kl || p->salt_len != sl)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->params = *p;
	c->gcm = p->suite == MF_SRTP_AEAD_AES_128_GCM || p->suite == MF_SRTP_AEAD_AES_256_GCM;
	c->tag_len = (uint8_t)mf_srtp_suite_tag_len(p->suite);
	c->rtcp_tag_len = c->gcm ? GCM_TAG : CM_TAG_80;
	c->salt_len = c->gcm ? 12 : 14;
	rc = derive(c);
	if (rc != 0) {
		mf_srtp_destroy(c);
		return -EIO;
	}
	*out = c;
	return 0;
}

void
mf_srtp_destroy(struct mf_srtp *c)
{
	if (c == NULL)
		return;
	EVP_CIPHER_CTX_free(c->rtp.aes);	/* cleanses the key schedule */
	EVP_CIPHER_CTX_free(c->rtcp.aes);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

bool
mf_srtp_same_params(const struct mf_srtp *c, const struct mf_srtp_params *p)
{
	return c->params.suite == p->suite && c->params.roc == p->roc &&
	       c->params.key_len == p->key_len && c->params.salt_len == p->salt_len &&
	       CRYPTO_memcmp(c->params.key, p->key, p->key_len) == 0 &&
	       CRYPTO_memcmp(c->params.salt, p->salt, p->salt_len) == 0;
}

unsigned int
mf_srtp_overhead(const struct mf_srtp *c, bool rtcp)
{
	return rtcp ? c->rtcp_tag_len + 4u : c->tag_len;
}

/* ---- streams and replay windows ---- */

static struct stream *
stream_find(struct mf_srtp *c, uint32_t ssrc)
{
	unsigned int i;

	for (i = 0; i < MF_SRTP_MAX_STREAMS; i++)
		if (c->streams[i].used && c->streams[i].ssrc == ssrc)
			return &c->streams[i];
	return NULL;
}

/* The slot a new stream takes: a free one, else the least recently used of those we only
 * received on, else the least recently used. A stream we sent on is kept while it can be:
 * started again, its index would repeat under the same key and SSRC (a keystream used
 * before, and a replay to its receiver). An SDES ingress context sends our feedback on one
 * stream among the source's; a source whose SSRC changed 8 times would push it out. */
static struct stream *
stream_slot(struct mf_srtp *c)
{
	struct stream *v = NULL, *s;
	unsigned int i;

	for (i = 0; i < MF_SRTP_MAX_STREAMS; i++) {
		s = &c->streams[i];
		if (!s->used)
			return s;
		if (v == NULL || s->sent < v->sent ||
		    (s->sent == v->sent && s->last_use < v->last_use))
			v = s;
	}
	return v;
}

/* The stream of @p ssrc, made when new (@p sent: for a packet we protect). Called only once
 * a packet is authentic (or is ours to send). */
static struct stream *
stream_get(struct mf_srtp *c, uint32_t ssrc, bool sent)
{
	struct stream *s = stream_find(c, ssrc);

	if (s == NULL) {
		s = stream_slot(c);
		memset(s, 0, sizeof(*s));
		s->used = true;
		s->ssrc = ssrc;
	}
	s->sent |= sent;
	s->last_use = ++c->uses;
	return s;
}

static bool
win_get(const uint64_t w[2], uint64_t back)
{
	return (w[back / 64] >> (back % 64)) & 1;
}

static void
win_set(uint64_t w[2], uint64_t back)
{
	w[back / 64] |= UINT64_C(1) << (back % 64);
}

/* Slide the window forward by @p d packets. */
static void
win_advance(uint64_t w[2], uint64_t d)
{
	if (d >= 128) {
		w[0] = w[1] = 0;
	} else if (d >= 64) {
		w[1] = w[0] << (d - 64);
		w[0] = 0;
	} else if (d > 0) {
		w[1] = w[1] << d | w[0] >> (64 - d);
		w[0] <<= d;
	}
}

/* The packet index of @p seq (RFC 3711 3.3.1), as libsrtp2's srtp_rdbx_estimate_index().
 * @return its distance from the stream's highest index. */
static int64_t
rtp_index(const struct mf_srtp *c, const struct stream *s, uint16_t seq, uint64_t *idx)
{
	uint64_t top;
	uint32_t roc;
	uint16_t lseq;

	if (s == NULL || !s->rtp.init) {
		*idx = (uint64_t)c->params.roc << 16 | seq;
		return 1;
	}
	top = s->rtp.top;
	if (top <= 0x8000) {
		*idx = seq;
		return (int64_t)seq - (int64_t)top;
	}
	roc = (uint32_t)(top >> 16);
	lseq = (uint16_t)top;
	if (lseq < 0x8000) {
		if (seq - lseq > 0x8000)
			roc--;
	} else if (lseq - 0x8000 > seq) {
		roc++;
	}
	*idx = (uint64_t)roc << 16 | seq;
	return (int64_t)*idx - (int64_t)top;
}

/* Is an index @p delta from the highest new, or in the window and not seen? (NULL: a stream
 * not seen yet.) */
static int
replay_check(const struct replay *r, int64_t delta)
{
	if (r == NULL || !r->init || delta > 0)
		return 0;
	if (delta <= -MF_SRTP_REPLAY_WINDOW || win_get(r->win, (uint64_t)-delta))
		return -MF_SRTP_E_REPLAY;
	return 0;
}

/* Record an accepted index: a new highest slides the window, an older one marks its bit. */
static void
replay_commit(struct replay *r, uint64_t idx, int64_t delta)
{
	if (!r->init) {
		r->init = true;
		r->top = idx;
		r->win[0] = 1;
		r->win[1] = 0;
	} else if (delta > 0) {
		win_advance(r->win, (uint64_t)delta);
		r->top = idx;
		win_set(r->win, 0);
	} else {
		win_set(r->win, (uint64_t)-delta);
	}
}

/* ---- RTP ---- */

static int
rtp_hdr_len(const uint8_t *p, size_t len)
{
	size_t h;

	if (len < 12 || (p[0] >> 6) != 2)
		return -MF_SRTP_E_SHORT;
	h = 12 + 4u * (p[0] & 0x0f);
	if (p[0] & 0x10) {
		if (h + 4 > len)
			return -MF_SRTP_E_SHORT;
		h += 4 + 4u * mf_rd16(p + h + 2);
	}
	return h > len ? -MF_SRTP_E_SHORT : (int)h;
}

static void
cm_iv(uint8_t iv[16], const uint8_t salt[16], uint32_t ssrc, uint64_t idx)
{
	memcpy(iv, salt, 16);
	iv[4] ^= (uint8_t)(ssrc >> 24);
	iv[5] ^= (uint8_t)(ssrc >> 16);
	iv[6] ^= (uint8_t)(ssrc >> 8);
	iv[7] ^= (uint8_t)ssrc;
	iv[8] ^= (uint8_t)(idx >> 40);
	iv[9] ^= (uint8_t)(idx >> 32);
	iv[10] ^= (uint8_t)(idx >> 24);
	iv[11] ^= (uint8_t)(idx >> 16);
	iv[12] ^= (uint8_t)(idx >> 8);
	iv[13] ^= (uint8_t)idx;
}

/* HMAC-SHA1 of @p p then the 4 bytes @p tail (the ROC; NULL for SRTCP). */
static int
hmac(const struct keys *k, const uint8_t *p, size_t len, const uint8_t *tail, uint8_t out[20])
{
	SHA_CTX x = k->ipad;

	if (SHA1_Update(&x, p, len) != 1 || (tail != NULL && SHA1_Update(&x, tail, 4) != 1) ||
	    SHA1_Final(out, &x) != 1)
		return -MF_SRTP_E_CRYPTO;
	x = k->opad;
	if (SHA1_Update(&x, out, 20) != 1 || SHA1_Final(out, &x) != 1)
		return -MF_SRTP_E_CRYPTO;
	return 0;
}

/* AES-GCM over @p buf in place with @p aad; on encrypt the tag goes to @p tag, on decrypt
 * it is checked against @p tag. */
static int
gcm(EVP_CIPHER_CTX *x, int enc, const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
    const uint8_t *aad2, uint8_t *buf, size_t len, uint8_t *tag)
{
	int outl;

	if (EVP_CipherInit_ex(x, NULL, NULL, NULL, iv, enc) != 1 ||
	    EVP_CipherUpdate(x, NULL, &outl, aad, (int)aad_len) != 1 ||
	    (aad2 != NULL && EVP_CipherUpdate(x, NULL, &outl, aad2, 4) != 1) ||
	    (len > 0 && EVP_CipherUpdate(x, buf, &outl, buf, (int)len) != 1))
		return -MF_SRTP_E_CRYPTO;
	if (!enc && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, GCM_TAG, tag) != 1)
		return -MF_SRTP_E_CRYPTO;
	if (EVP_CipherFinal_ex(x, buf + len, &outl) != 1) {
		if (enc)
			return -MF_SRTP_E_CRYPTO;
		/* Put the packet back as it came (the same key stream again), so that the caller
		 * can try another key on it, as after an AES-CM tag mismatch. */
		if (len > 0 && (EVP_CipherInit_ex(x, NULL, NULL, NULL, iv, 1) != 1 ||
				EVP_CipherUpdate(x, buf, &outl, buf, (int)len) != 1))
			return -MF_SRTP_E_CRYPTO;
		return -MF_SRTP_E_AUTH;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, GCM_TAG, tag) != 1)
		return -MF_SRTP_E_CRYPTO;
	return 0;
}

/* RFC 7714 8.1: 00 00 | SSRC | ROC | SEQ, XOR the session salt (SRTCP: 00 00 | SSRC |
 * 00 00 | index). */
static void
gcm_iv(uint8_t iv[12], const uint8_t salt[16], uint32_t ssrc, uint32_t hi, uint16_t lo)
{
	uint8_t b[12] = { 0 };
	unsigned int i;

	mf_wr32(b + 2, ssrc);
	mf_wr32(b + 6, hi);
	mf_wr16(b + 10, lo);
	for (i = 0; i < 12; i++)
		iv[i] = b[i] ^ salt[i];
}

static int
rtp_crypt(struct mf_srtp *c, int enc, uint8_t *pkt, size_t hl, size_t pl, uint32_t ssrc,
	  uint64_t idx)
{
	uint8_t iv[16];

	if (c->gcm) {
		gcm_iv(iv, c->rtp.salt, ssrc, (uint32_t)(idx >> 16), (uint16_t)idx);
		return gcm(c->rtp.aes, enc, iv, pkt, hl, NULL, pkt + hl, pl, pkt + hl + pl);
	}
	cm_iv(iv, c->rtp.salt, ssrc, idx);
	return cm_xor(c->rtp.aes, iv, pkt + hl, pl);
}

int
mf_srtp_protect(struct mf_srtp *c, uint8_t *pkt, size_t *len, size_t cap)
{
	uint8_t roc[4], mac[20];
	int hl = rtp_hdr_len(pkt, *len), rc;
	uint32_t ssrc;
	struct stream *s;
	uint64_t idx;
	int64_t delta;

	if (hl < 0)
		return hl;
	if (cap < *len + c->tag_len)
		return -MF_SRTP_E_ROOM;
	ssrc = mf_rd32(pkt + 8);
	s = stream_find(c, ssrc);
	delta = rtp_index(c, s, mf_rd16(pkt + 2), &idx);
	/* As libsrtp2 without allow_repeat_tx: one index never encrypts two packets. */
	if (replay_check(s ? &s->rtp : NULL, delta) != 0)
		return -MF_SRTP_E_REPLAY;
	rc = rtp_crypt(c, 1, pkt, (size_t)hl, *len - (size_t)hl, ssrc, idx);
	if (rc != 0)
		return rc;
	if (!c->gcm) {
		mf_wr32(roc, (uint32_t)(idx >> 16));
		rc = hmac(&c->rtp, pkt, *len, roc, mac);
		if (rc != 0)
			return rc;
		memcpy(pkt + *len, mac, c->tag_len);
	}
	*len += c->tag_len;
	replay_commit(&stream_get(c, ssrc, true)->rtp, idx, delta);
	return 0;
}

int
mf_srtp_unprotect(struct mf_srtp *c, uint8_t *pkt, size_t *len)
{
	uint8_t roc[4], mac[20];
	int hl = rtp_hdr_len(pkt, *len), rc;
	size_t body;
	uint32_t ssrc;
	struct stream *s;
	uint64_t idx;
	int64_t delta;

	if (hl < 0 || *len < (size_t)hl + c->tag_len)
		return -MF_SRTP_E_SHORT;
	body = *len - c->tag_len;
	ssrc = mf_rd32(pkt + 8);
	s = stream_find(c, ssrc);
	delta = rtp_index(c, s, mf_rd16(pkt + 2), &idx);
	if (replay_check(s ? &s->rtp : NULL, delta) != 0)
		return -MF_SRTP_E_REPLAY;
	if (!c->gcm) {
		mf_wr32(roc, (uint32_t)(idx >> 16));
		rc = hmac(&c->rtp, pkt, body, roc, mac);
		if (rc != 0)
			return rc;
		if (CRYPTO_memcmp(mac, pkt + body, c->tag_len) != 0)
			return -MF_SRTP_E_AUTH;
	}
	rc = rtp_crypt(c, 0, pkt, (size_t)hl, body - (size_t)hl, ssrc, idx);
	if (rc != 0)
		return rc;
	*len = body;
	replay_commit(&stream_get(c, ssrc, false)->rtp, idx, delta);
	return 0;
}

/* ---- RTCP ---- */

static bool
rtcp_ok(const uint8_t *p, size_t len)
{
	return len >= 8 && (p[0] >> 6) == 2;
}

static int
rtcp_crypt(struct mf_srtp *c, int enc, uint8_t *pkt, size_t body, uint32_t ssrc,
	   const uint8_t eidx[4], bool encrypt)
{
	uint32_t index = mf_rd32(eidx) & ~SRTCP_E;
	uint8_t iv[16];

	if (c->gcm) {
		gcm_iv(iv, c->rtcp.salt, ssrc, 0, 0);
		iv[8] ^= eidx[0] & 0x7f;
		iv[9] ^= eidx[1];
		iv[10] ^= eidx[2];
		iv[11] ^= eidx[3];
		/* Without the E flag (RFC 7714 9.2) everything after the header is AAD. */
		if (!encrypt)
			return gcm(c->rtcp.aes, enc, iv, pkt, body, eidx, pkt + body, 0, pkt + body);
		return gcm(c->rtcp.aes, enc, iv, pkt, 8, eidx, pkt + 8, body - 8, pkt + body);
	}
	if (!encrypt)
		return 0;
	cm_iv(iv, c->rtcp.salt, ssrc, index);
	return cm_xor(c->rtcp.aes, iv, pkt + 8, body - 8);
}

int
mf_srtcp_protect(struct mf_srtp *c, uint8_t *pkt, size_t *len, size_t cap)
{
	uint8_t eidx[4], mac[20];
	size_t body = *len;
	uint32_t ssrc, index;
	struct stream *s;
	int rc;

	if (!rtcp_ok(pkt, *len))
		return -MF_SRTP_E_SHORT;
	if (cap < *len + mf_srtp_overhead(c, true))
		return -MF_SRTP_E_ROOM;
	ssrc = mf_rd32(pkt + 4);
	s = stream_find(c, ssrc);
	/* libsrtp2 sends 1 first: its replay database is incremented before use. */
	index = s != NULL && s->rtcp.init ? (uint32_t)(s->rtcp.top + 1) & ~SRTCP_E : 1;
	mf_wr32(eidx, index | SRTCP_E);
	rc = rtcp_crypt(c, 1, pkt, body, ssrc, eidx, true);
	if (rc != 0)
		return rc;
	if (c->gcm) {
		memcpy(pkt + body + GCM_TAG, eidx, 4);
	} else {
		memcpy(pkt + body, eidx, 4);
		rc = hmac(&c->rtcp, pkt, body + 4, NULL, mac);
		if (rc != 0)
			return rc;
		memcpy(pkt + body + 4, mac, c->rtcp_tag_len);
	}
	*len = body + mf_srtp_overhead(c, true);
	replay_commit(&stream_get(c, ssrc, true)->rtcp, index, 1);
	return 0;
}

int
mf_srtcp_unprotect(struct mf_srtp *c, uint8_t *pkt, size_t *len)
{
	unsigned int over = mf_srtp_overhead(c, true);
	uint8_t eidx[4], mac[20];
	uint32_t ssrc, index;
	struct stream *s;
	int64_t delta = 1;
	size_t body;
	int rc;

	if (*len < 8 + over || !rtcp_ok(pkt, *len - over))
		return -MF_SRTP_E_SHORT;
	body = *len - over;
	ssrc = mf_rd32(pkt + 4);
	memcpy(eidx, c->gcm ? pkt + body + GCM_TAG : pkt + body, 4);
	index = mf_rd32(eidx) & ~SRTCP_E;
	s = stream_find(c, ssrc);
	if (s != NULL && s->rtcp.init)
		delta = (int64_t)index - (int64_t)s->rtcp.top;
	if (replay_check(s ? &s->rtcp : NULL, delta) != 0)
		return -MF_SRTP_E_REPLAY;
	if (!c->gcm) {
		rc = hmac(&c->rtcp, pkt, body + 4, NULL, mac);
		if (rc != 0)
			return rc;
		if (CRYPTO_memcmp(mac, pkt + body + 4, c->rtcp_tag_len) != 0)
			return -MF_SRTP_E_AUTH;
	}
	rc = rtcp_crypt(c, 0, pkt, body, ssrc, eidx, (eidx[0] & 0x80) != 0);
	if (rc != 0)
		return rc;
	*len = body;
	replay_commit(&stream_get(c, ssrc, false)->rtcp, index, delta);
	return 0;
}
