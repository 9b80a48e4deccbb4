/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mfwd-srtp-speed: what one core can relay SRTP -> SRTP (unprotect with one key, protect
 * with another), per suite and frame size, three ways in one run:
 *
 *   limit    the raw primitives twice per packet, with nothing of SRTP around them:
 *            OpenSSL AES (one ECB call over counter blocks) + HMAC-SHA1 from precomputed
 *            pads, or OpenSSL AES-GCM. No header parsing, index, replay window or tag check.
 *   mfwd     our transform (lib/srtp): mf_srtp_unprotect then mf_srtp_protect.
 *   libsrtp2 Debian's libsrtp2: srtp_unprotect then srtp_protect.
 *
 * Packets are protected ahead in batches (untimed) with advancing sequence numbers, so the
 * timed loop sees a real stream: windows slide, the ROC rolls over.
 *
 *   mfwd-srtp-speed [--suite NAME|all] [--size FRAME_BYTES] [--seconds S]
 * Prints one JSON object per suite and size.
 */

#define OPENSSL_API_COMPAT 10101

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "mf/mf_args.h"
#include "mf/mf_bytes.h"
#include "mf/mf_srtp.h"
#include "mf/mf_srtp_ref.h"

#define BATCH	4096
#define SLOT	2048
#define FRAME_OVERHEAD	42	/* Ethernet, IPv4, UDP */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
fill_rtp(uint8_t *p, size_t len, uint16_t seq)
{
	p[0] = 0x80;
	p[1] = 96;
	mf_wr16(p + 2, seq);
	mf_wr32(p + 4, seq * 3000u);
	mf_wr32(p + 8, 0x11223344);
	memset(p + 12, 0xab, len - 12);
}

struct run {
	const char *how;
	double mpps;
	unsigned long pkts;
};

/* ---- the limit: raw primitives ---- */

/* One AES-CM + HMAC-SHA1 operation as cheaply as OpenSSL allows: the key stream is one ECB
 * call over counter blocks (cheaper than re-setting a CTR context's IV), the HMAC starts
 * from precomputed pads. */
static void
limit_cm(EVP_CIPHER_CTX *ecb, const SHA_CTX *ipad, const SHA_CTX *opad, uint8_t *p, size_t len)
{
	uint8_t ctr[SLOT], ks[SLOT], md[20];
	size_t nb = (len - 12 + 15) / 16, i;
	SHA_CTX h;
	int outl;

	for (i = 0; i < nb; i++) {
		memset(ctr + i * 16, 0x42, 14);
		ctr[i * 16 + 14] = (uint8_t)(i >> 8);
		ctr[i * 16 + 15] = (uint8_t)i;
	}
	EVP_EncryptUpdate(ecb, ks, &outl, ctr, (int)(nb * 16));
	for (i = 0; i + 8 <= len - 12; i += 8) {
		uint64_t a, b;

		memcpy(&a, p + 12 + i, 8);
		memcpy(&b, ks + i, 8);
		a ^= b;
		memcpy(p + 12 + i, &a, 8);
	}
	for (; i < len - 12; i++)
		p[12 + i] ^= ks[i];
	h = *ipad;
	SHA1_Update(&h, p, len);
	SHA1_Update(&h, ks, 4);
	SHA1_Final(md, &h);
	h = *opad;
	SHA1_Update(&h, md, 20);
	SHA1_Final(md, &h);
	memcpy(p + len, md, 10);
}

/* Decrypt (the tag is checked; the verdict is not looked at) or encrypt. */
static void
limit_gcm(EVP_CIPHER_CTX *x, int enc, uint8_t *iv, uint8_t *p, size_t len)
{
	int outl;

	iv[11]++;
	EVP_CipherInit_ex(x, NULL, NULL, NULL, iv, enc);
	EVP_CipherUpdate(x, NULL, &outl, p, 12);
	EVP_CipherUpdate(x, p + 12, &outl, p + 12, (int)len - 12);
	if (!enc)
		EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, 16, p + len);
	EVP_CipherFinal_ex(x, p + len, &outl);
	if (enc)
		EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, p + len);
}

/* Two operations per relayed packet (GCM: a decryption then an encryption), over the same batch of buffers the relays use (the
 * same cache footprint). */
static int
limit_run(unsigned int suite, size_t rtp_len, double secs, struct run *r)
{
	uint8_t key[32] = { 1 }, iv[16] = { 2 }, pad[64];
	bool gcm = suite >= MF_SRTP_AEAD_AES_128_GCM;
	const EVP_CIPHER *t = suite == MF_SRTP_AEAD_AES_256_GCM ? EVP_aes_256_gcm() :
			      gcm ? EVP_aes_128_gcm() : EVP_aes_128_ecb();
	uint8_t *pkts = malloc((size_t)BATCH * SLOT);
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	SHA_CTX ipad, opad;
	unsigned long n = 0;
	double t0, t1;
	int i, k;

	if (pkts == NULL || x == NULL || EVP_CipherInit_ex(x, t, NULL, key, iv, 1) != 1)
		return -1;
	for (i = 0; i < 64; i++)
		pad[i] = 0x36;
	SHA1_Init(&ipad);
	SHA1_Update(&ipad, pad, 64);
	for (i = 0; i < 64; i++)
		pad[i] = 0x5c;
	SHA1_Init(&opad);
	SHA1_Update(&opad, pad, 64);
	for (i = 0; i < BATCH; i++)
		fill_rtp(pkts + (size_t)i * SLOT, rtp_len, (uint16_t)i);
	t0 = now_s();
	do {
		for (i = 0; i < BATCH; i++) {
			uint8_t *p = pkts + (size_t)i * SLOT;

			for (k = 0; k < 2; k++) {
				if (gcm)
					limit_gcm(x, k, iv, p, rtp_len);
				else
					limit_cm(x, &ipad, &opad, p, rtp_len);
			}
		}
		n += BATCH;
		t1 = now_s();
	} while (t1 - t0 < secs);
	EVP_CIPHER_CTX_free(x);
	free(pkts);
	r->how = "limit";
	r->pkts = n;
	r->mpps = n / (t1 - t0) / 1e6;
	return 0;
}

/* ---- mfwd's transform and libsrtp2, through the same batch loop ---- */

struct relay_ops {
	const char *how;
	int (*setup)(unsigned int suite, void *st);
	int (*send)(void *st, uint8_t *p, size_t *len);		/* the sender, untimed */
	int (*relay)(void *st, uint8_t *p, size_t *len);	/* unprotect + protect */
	void (*teardown)(void *st);
};

static void
params(unsigned int suite, uint8_t fill, struct mf_srtp_params *p)
{
	memset(p, 0, sizeof(*p));
	p->suite = (uint8_t)suite;
	mf_srtp_suite_lens(suite, &p->key_len, &p->salt_len);
	memset(p->key, fill, p->key_len);
	memset(p->salt, fill ^ 0x5a, p->salt_len);
}

struct mf_st {
	struct mf_srtp *snd, *in, *out;
};

static int
mf_setup(unsigned int suite, void *v)
{
	struct mf_st *s = v;
	struct mf_srtp_params a, b;

	params(suite, 1, &a);
	params(suite, 2, &b);
	return mf_srtp_create(&a, &s->snd) | mf_srtp_create(&a, &s->in) |
	       mf_srtp_create(&b, &s->out);
}

static int
mf_send(void *v, uint8_t *p, size_t *len)
{
	return mf_srtp_protect(((struct mf_st *)v)->snd, p, len, SLOT);
}

static int
mf_relay(void *v, uint8_t *p, size_t *len)
{
	struct mf_st *s = v;
	int rc = mf_srtp_unprotect(s->in, p, len);

	return rc != 0 ? rc : mf_srtp_protect(s->out, p, len, SLOT);
}

static void
mf_teardown(void *v)
{
	struct mf_st *s = v;

	mf_srtp_destroy(s->snd);
	mf_srtp_destroy(s->in);
	mf_srtp_destroy(s->out);
}

struct ref_st {
	srtp_t snd, in, out;
};

static srtp_t
ref_new(unsigned int suite, uint8_t fill, bool outbound)
{
	struct mf_srtp_params p;

	params(suite, fill, &p);
	return mf_srtp_ref_session(&p, outbound, 0, 128);
}

static int
ref_setup(unsigned int suite, void *v)
{
	struct ref_st *s = v;

	s->snd = ref_new(suite, 1, true);
	s->in = ref_new(suite, 1, false);
	s->out = ref_new(suite, 2, true);
	return s->snd && s->in && s->out ? 0 : -1;
}

static int
ref_send(void *v, uint8_t *p, size_t *len)
{
	int n = (int)*len, rc = srtp_protect(((struct ref_st *)v)->snd, p, &n);

	*len = (size_t)n;
	return rc;
}

static int
ref_relay(void *v, uint8_t *p, size_t *len)
{
	struct ref_st *s = v;
	int n = (int)*len, rc = srtp_unprotect(s->in, p, &n);

	if (rc == 0)
		rc = srtp_protect(s->out, p, &n);
	*len = (size_t)n;
	return rc;
}

static void
ref_teardown(void *v)
{
	struct ref_st *s = v;

	if (s->snd)
		srtp_dealloc(s->snd);
	if (s->in)
		srtp_dealloc(s->in);
	if (s->out)
		srtp_dealloc(s->out);
}

static int
relay_run(const struct relay_ops *ops, unsigned int suite, size_t rtp_len, double secs,
	  struct run *r)
{
	union {
		struct mf_st mf;
		struct ref_st ref;
	} st;
	uint8_t *pkts = malloc((size_t)BATCH * SLOT);
	size_t lens[BATCH];
	unsigned long n = 0, bad = 0;
	uint16_t seq = 1;
	double timed = 0, t0;
	int i, rc = -1;

	memset(&st, 0, sizeof(st));
	if (pkts == NULL || ops->setup(suite, &st) != 0)
		goto out;
	do {
		for (i = 0; i < BATCH; i++, seq++) {
			lens[i] = rtp_len;
			fill_rtp(pkts + (size_t)i * SLOT, rtp_len, seq);
			if (ops->send(&st, pkts + (size_t)i * SLOT, &lens[i]) != 0)
				goto out;
		}
		t0 = now_s();
		for (i = 0; i < BATCH; i++)
			bad += ops->relay(&st, pkts + (size_t)i * SLOT, &lens[i]) != 0;
		timed += now_s() - t0;
		n += BATCH;
	} while (timed < secs);
	if (bad != 0) {
		fprintf(stderr, "%s: %lu packets failed\n", ops->how, bad);
		goto out;
	}
	r->how = ops->how;
	r->pkts = n;
	r->mpps = n / timed / 1e6;
	rc = 0;
out:
	ops->teardown(&st);
	free(pkts);
	return rc;
}

static const struct relay_ops mf_ops = { "mfwd", mf_setup, mf_send, mf_relay, mf_teardown };
static const struct relay_ops ref_ops = { "libsrtp2", ref_setup, ref_send, ref_relay,
					  ref_teardown };

static int
one(unsigned int suite, unsigned int frame, double secs)
{
	/* The frame is the SRTP packet as it arrives: headers, RTP, tag. */
	size_t tag = mf_srtp_suite_tag_len(suite);
	size_t rtp_len = frame - FRAME_OVERHEAD - tag;
	struct run lim, mf, ref;

	if (frame < FRAME_OVERHEAD + tag + 12 || rtp_len + 64 > SLOT) {
		fprintf(stderr, "frame size %u out of range\n", frame);
		return -1;
	}
	if (limit_run(suite, rtp_len, secs, &lim) != 0 || relay_run(&mf_ops, suite, rtp_len,
	    secs, &mf) != 0 || relay_run(&ref_ops, suite, rtp_len, secs, &ref) != 0)
		return -1;
	printf("{\"suite\":\"%s\",\"frame\":%u,\"rtp_bytes\":%zu,\"limit_mpps\":%.3f,"
	       "\"mfwd_mpps\":%.3f,\"libsrtp2_mpps\":%.3f,\"mfwd_of_limit\":%.3f}\n",
	       mf_srtp_suite_str(suite), frame, rtp_len, lim.mpps, mf.mpps, ref.mpps,
	       mf.mpps / lim.mpps);
	fflush(stdout);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "suite", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'z' },
		{ "seconds", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *suite = "all";
	uint32_t size = 214;
	unsigned int s;
	double secs = 1.0;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': suite = optarg; break;
		case 'z':
			if (mf_parse_u32(optarg, 64, 1500, &size) != 0) {
				fprintf(stderr, "--size: a frame of 64 to 1500 bytes\n");
				return 2;
			}
			break;
		case 't': secs = atof(optarg); break;
		default:
			fprintf(stderr, "usage: %s [--suite NAME|all] [--size FRAME] [--seconds S]\n",
				argv[0]);
			return 2;
		}
	}
	if (srtp_init() != srtp_err_status_ok)
		return 1;
	for (s = 1; s < MF_SRTP_SUITE_MAX; s++)
		if (strcmp(suite, "all") == 0 || strcmp(suite, mf_srtp_suite_str(s)) == 0)
			rc |= one(s, size, secs);
	srtp_shutdown();
	return rc ? 1 : 0;
}
