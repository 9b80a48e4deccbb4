/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SRTP transform against the RFCs' vectors (RFC 3711 B.2 and B.3, RFC 7714 16 and 17)
 * and against libsrtp2, the reference: for every suite, thousands of random packets
 * protected by both must be byte-identical, each side must unprotect the other's, across
 * sequence wrap and ROC rollover; and both must refuse the same replays, wrong keys and
 * truncated tags. The transform's source is included to reach its key set-up.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../lib/srtp/mf_srtp.c"
#include "mf/mf_srtp_ref.h"
#include "mf_test.h"

#define BUF 2048

static size_t
unhex(const char *h, uint8_t *out)
{
	size_t n = 0;

	while (*h) {
		unsigned int v;

		if (*h == ' ') {
			h++;
			continue;
		}
		sscanf(h, "%2x", &v);
		out[n++] = (uint8_t)v;
		h += 2;
	}
	return n;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* ---- the RFC vectors ---- */

static int
test_rfc3711_b2_keystream(void)
{
	static const struct {
		uint32_t block;
		const char *ks;
	} want[] = {
		{ 0x0000, "E03EAD0935C95E80E166B16DD92B4EB4" },
		{ 0x0001, "D23513162B02D0F72A43A2FE4A5F97AB" },
		{ 0x0002, "41E95B3BB0A2E8DD477901E4FCA894C0" },
		{ 0xfeff, "EC8CDF7398607CB0F2D21675EA9EA1E4" },
		{ 0xff00, "362B7C3C6773516318A077D7FC5073AE" },
		{ 0xff01, "6A2CC3787889374FBEB4C81B17BA6C44" },
	};
	uint8_t key[16], iv[16] = { 0 }, exp[16];
	size_t n = 0xff02 * 16, i;
	uint8_t *ks = calloc(1, n);
	EVP_CIPHER_CTX *ecb = NULL;
	int rc = 0;

	MF_TEST_ASSERT(ks != NULL, "calloc");
	unhex("2B7E151628AED2A6ABF7158809CF4F3C", key);
	unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD", iv);
	ecb = aes_new(EVP_aes_128_ecb(), key);
	MF_TEST_ASSERT(ecb != NULL, "aes");
	/* Session salt, SSRC 0, index 0: the IV is the salt. */
	MF_TEST_EQ(cm_xor(ecb, iv, ks, n), 0);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		unhex(want[i].ks, exp);
		MF_TEST_ASSERT(memcmp(ks + want[i].block * 16, exp, 16) == 0, "block %#x",
			       want[i].block);
	}
out:
	EVP_CIPHER_CTX_free(ecb);
	free(ks);
	return rc;
}

static int
test_rfc3711_b3_kdf(void)
{
	uint8_t mk[16], ms[14], k[16], s[14], a[20], ek[16], es[14], ea[20];
	EVP_CIPHER_CTX *prf;
	int rc = 0;

	unhex("E1F97A0D3E018BE0D64FA32C06DE4139", mk);
	unhex("0EC675AD498AFEEBB6960B3AABE6", ms);
	unhex("C61E7A93744F39EE10734AFE3FF7A087", ek);
	unhex("30CBBC08863D8C85D49DB34A9AE1", es);
	unhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", ea);
	prf = aes_new(EVP_aes_128_ecb(), mk);
	MF_TEST_ASSERT(prf != NULL, "aes");
	MF_TEST_EQ(kdf(prf, ms, L_RTP_KEY, k, 16), 0);
	MF_TEST_EQ(kdf(prf, ms, L_RTP_SALT, s, 14), 0);
	MF_TEST_EQ(kdf(prf, ms, L_RTP_AUTH, a, 20), 0);
	MF_TEST_ASSERT(memcmp(k, ek, 16) == 0, "cipher key");
	MF_TEST_ASSERT(memcmp(s, es, 14) == 0, "cipher salt");
	MF_TEST_ASSERT(memcmp(a, ea, 20) == 0, "auth key");
out:
	EVP_CIPHER_CTX_free(prf);
	return rc;
}

/* A GCM context with the given session key and salt for both RTP and RTCP (RFC 7714 gives
 * session keys, not master keys). */
static struct mf_srtp *
gcm_ctx(const char *key_hex)
{
	struct mf_srtp *c = calloc(1, sizeof(*c));
	uint8_t key[32], salt[12];
	size_t kl = unhex(key_hex, key);

	if (c == NULL)
		return NULL;
	unhex("517569642070726f2071756f", salt);
	c->params.suite = kl == 32 ? MF_SRTP_AEAD_AES_256_GCM : MF_SRTP_AEAD_AES_128_GCM;
	c->params.key_len = (uint8_t)kl;
	c->params.salt_len = 12;
	c->gcm = true;
	c->tag_len = c->rtcp_tag_len = GCM_TAG;
	c->salt_len = 12;
	if (keys_set(c, &c->rtp, key, salt, NULL) != 0 ||
	    keys_set(c, &c->rtcp, key, salt, NULL) != 0) {
		mf_srtp_destroy(c);
		return NULL;
	}
	return c;
}

#define RFC7714_RTP	"8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573"
#define RFC7714_RTCP	"81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef"

static int
rfc7714_case(const char *key, const char *srtp, const char *srtcp)
{
	uint8_t p[BUF], exp[BUF], plain[BUF];
	size_t n, en, pn;
	struct mf_srtp *c = gcm_ctx(key), *d = gcm_ctx(key);
	struct stream *s;
	int rc = 0;

	MF_TEST_ASSERT(c != NULL && d != NULL, "context");
	/* RTP: sequence 0xf17b, ROC 0. */
	pn = unhex(RFC7714_RTP, plain);
	memcpy(p, plain, pn);
	n = pn;
	en = unhex(srtp, exp);
	MF_TEST_EQ(mf_srtp_protect(c, p, &n, sizeof(p)), 0);
	MF_TEST_EQ(n, en);
	MF_TEST_ASSERT(memcmp(p, exp, en) == 0, "SRTP differs from RFC 7714");
	MF_TEST_EQ(mf_srtp_unprotect(d, p, &n), 0);
	MF_TEST_ASSERT(n == pn && memcmp(p, plain, pn) == 0, "RTP back");
	/* SRTCP: index 0x5d4, so the last one sent was 0x5d3. */
	pn = unhex(RFC7714_RTCP, plain);
	memcpy(p, plain, pn);
	n = pn;
	en = unhex(srtcp, exp);
	s = stream_get(c, 0x4d617273, true);
	replay_commit(&s->rtcp, 0x5d3, 1);
	MF_TEST_EQ(mf_srtcp_protect(c, p, &n, sizeof(p)), 0);
	MF_TEST_EQ(n, en);
	MF_TEST_ASSERT(memcmp(p, exp, en) == 0, "SRTCP differs from RFC 7714");
	MF_TEST_EQ(mf_srtcp_unprotect(d, p, &n), 0);
	MF_TEST_ASSERT(n == pn && memcmp(p, plain, pn) == 0, "RTCP back");
	/* The same again is a replay; one flipped tag bit fails authentication. */
	memcpy(p, exp, en);
	n = en;
	MF_TEST_EQ(mf_srtcp_unprotect(d, p, &n), -MF_SRTP_E_REPLAY);
	mf_srtp_destroy(c);
	c = gcm_ctx(key);
	MF_TEST_ASSERT(c != NULL, "context");
	n = unhex(srtp, p);
	p[n - 1] ^= 0x80;
	MF_TEST_EQ(mf_srtp_unprotect(c, p, &n), -MF_SRTP_E_AUTH);
out:
	mf_srtp_destroy(c);
	mf_srtp_destroy(d);
	return rc;
}

static int
test_rfc7714_gcm128(void)
{
	return rfc7714_case("000102030405060708090a0b0c0d0e0f",
		"8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833899d7f27beb16a9152cf765ee4390cce",
		"81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf87245d9eade800005d4");
}

static int
test_rfc7714_gcm256(void)
{
	return rfc7714_case("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"8040f17b8041f8d35501a0b232b1de78a822fe12ef9f78fa332e33aab18012389a58e2f3b50b2a0276ffae0f1ba63799b87b7aa3db36dfffd6b0f9bb7878d7a76c13",
		"81c8000d4d617273d50ae4d1f5ce5d304ba297e47d470c282c3ece5dbffe0a50a2eaa5c1110555be8415f658c61de0476f1b6fad1d1eb30c4446839f57ff6f6cb26ac3be800005d4");
}

/* ---- against libsrtp2 ---- */

static void
random_params(unsigned int suite, uint32_t roc, struct mf_srtp_params *p)
{
	unsigned int i;

	memset(p, 0, sizeof(*p));
	p->suite = (uint8_t)suite;
	mf_srtp_suite_lens(suite, &p->key_len, &p->salt_len);
	p->roc = roc;
	for (i = 0; i < p->key_len; i++)
		p->key[i] = (uint8_t)rnd();
	for (i = 0; i < p->salt_len; i++)
		p->salt[i] = (uint8_t)rnd();
}

/* A libsrtp2 session for @p p; with @p ssrc != 0 a specific-SSRC stream (to set a ROC). */
static srtp_t
ref_session(const struct mf_srtp_params *p, bool outbound, uint32_t ssrc)
{
	return mf_srtp_ref_session(p, outbound, ssrc, 128);
}

/* A random RTP packet: sometimes CSRCs, an extension, padding. @return its length. */
static size_t
random_rtp(uint8_t *p, uint16_t seq, uint32_t ssrc)
{
	unsigned int cc = rnd() % 8 == 0 ? rnd() % 4 : 0, ext = rnd() % 8 == 0 ? rnd() % 3 : 0;
	size_t n = 12, pl = rnd() % 1200, i;

	p[0] = (uint8_t)(0x80 | cc | (ext ? 0x10 : 0));
	p[1] = (uint8_t)(rnd() & 0xff);
	mf_wr16(p + 2, seq);
	mf_wr32(p + 4, rnd());
	mf_wr32(p + 8, ssrc);
	for (i = 0; i < cc; i++, n += 4)
		mf_wr32(p + n, rnd());
	if (ext) {
		mf_wr16(p + n, 0xbede);
		mf_wr16(p + n + 2, (uint16_t)ext);
		n += 4;
		for (i = 0; i < ext * 4; i++)
			p[n++] = (uint8_t)rnd();
	}
	for (i = 0; i < pl; i++)
		p[n++] = (uint8_t)rnd();
	return n;
}

static size_t
random_rtcp(uint8_t *p, uint32_t ssrc)
{
	size_t words = 1 + rnd() % 40, i;

	p[0] = 0x80;
	p[1] = 200;
	mf_wr16(p + 2, (uint16_t)words);
	mf_wr32(p + 4, ssrc);
	for (i = 8; i < (words + 1) * 4; i++)
		p[i] = (uint8_t)rnd();
	return (words + 1) * 4;
}

/*
 * @p count packets of one SSRC from sequence @p seq0 (with some reordering), protected by
 * both; each side unprotects the other's. The sequence runs through 65535 to 0, so the ROC
 * rolls over. RTCP every 10th packet.
 */
static int
compare_suite(unsigned int suite, uint32_t roc, uint16_t seq0, unsigned int count)
{
	uint8_t a[BUF], b[BUF], orig[BUF];
	struct mf_srtp_params p;
	struct mf_srtp *tx = NULL, *rx = NULL;
	srtp_t rtx = NULL, rrx = NULL;
	uint32_t ssrc = rnd() | 1;
	unsigned int i;
	int rc = 0;

	random_params(suite, roc, &p);
	MF_TEST_EQ(mf_srtp_create(&p, &tx), 0);
	MF_TEST_EQ(mf_srtp_create(&p, &rx), 0);
	rtx = ref_session(&p, true, roc ? ssrc : 0);
	rrx = ref_session(&p, false, roc ? ssrc : 0);
	MF_TEST_ASSERT(rtx != NULL && rrx != NULL, "libsrtp2 session");
	for (i = 0; i < count; i++) {
		/* Every 50th packet swaps with its successor: out of order by one. */
		uint16_t seq = (uint16_t)(seq0 + i + (i % 50 == 1 ? 1 : i % 50 == 2 ? -1 : 0));
		bool rtcp = i % 10 == 5;
		size_t n = rtcp ? random_rtcp(orig, ssrc) : random_rtp(orig, seq, ssrc), na = n;
		int nb = (int)n;

		memcpy(a, orig, n);
		memcpy(b, orig, n);
		MF_TEST_EQ(rtcp ? mf_srtcp_protect(tx, a, &na, sizeof(a))
				: mf_srtp_protect(tx, a, &na, sizeof(a)), 0);
		MF_TEST_EQ(rtcp ? srtp_protect_rtcp(rtx, b, &nb) : srtp_protect(rtx, b, &nb), 0);
		MF_TEST_ASSERT(na == (size_t)nb && memcmp(a, b, na) == 0,
			       "packet %u (%s seq %u): ours differs from libsrtp2's", i,
			       rtcp ? "RTCP" : "RTP", seq);
		/* libsrtp2 takes ours, we take libsrtp2's. */
		MF_TEST_EQ(rtcp ? srtp_unprotect_rtcp(rrx, a, &nb) : srtp_unprotect(rrx, a, &nb), 0);
		MF_TEST_ASSERT((size_t)nb == n && memcmp(a, orig, n) == 0, "libsrtp2 decrypt %u", i);
		memcpy(a, b, na);
		MF_TEST_EQ(rtcp ? mf_srtcp_unprotect(rx, b, &na) : mf_srtp_unprotect(rx, b, &na), 0);
		MF_TEST_ASSERT(na == n && memcmp(b, orig, n) == 0, "our decrypt %u", i);
	}
	/* The rollover happened: the highest index is past the initial ROC. */
	if ((uint32_t)seq0 + count > 65536) {
		struct stream *s = stream_find(rx, ssrc);

		MF_TEST_ASSERT(s != NULL && (s->rtp.top >> 16) == roc + 1, "ROC %u after rollover",
			       s ? (unsigned int)(s->rtp.top >> 16) : 0);
	}
out:
	mf_srtp_destroy(tx);
	mf_srtp_destroy(rx);
	if (rtx)
		srtp_dealloc(rtx);
	if (rrx)
		srtp_dealloc(rrx);
	return rc;
}

static int
test_libsrtp_identical(void)
{
	unsigned int suite;
	int rc = 0;

	for (suite = 1; suite < MF_SRTP_SUITE_MAX; suite++) {
		/* Start 2000 before the wrap; then a stream with an initial ROC of 7. */
		MF_TEST_EQ(compare_suite(suite, 0, 63536, 5000), 0);
		MF_TEST_EQ(compare_suite(suite, 7, 0x7000, 0x9000 + 3000), 0);
		MF_TEST_EQ(compare_suite(suite, 0, (uint16_t)rnd() % 0x8000, 2000), 0);
	}
out:
	return rc;
}

/* Replay edges: the same arrival order into ours and libsrtp2, same verdicts. */
static int
test_replay_window(void)
{
	static const int32_t order[] = {
		1000, 1000, 999, 873, 872, 873, 1001, 1200, 1073, 1072, 1200, 1199, 1500, 1373,
		1372, 65535, 65536, 65537, 65536, 65409, 65408, 66000,
	};
	uint8_t pkt[BUF], q[BUF];
	struct mf_srtp_params p;
	struct mf_srtp *rx = NULL;
	srtp_t rrx = NULL;
	unsigned int i;
	int rc = 0;

	random_params(MF_SRTP_AES_CM_128_HMAC_SHA1_80, 0, &p);
	MF_TEST_EQ(mf_srtp_create(&p, &rx), 0);
	rrx = ref_session(&p, false, 0);
	MF_TEST_ASSERT(rrx != NULL, "libsrtp2");
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		/* Our sender may not repeat an index either: each packet from a fresh one, with
		 * the index's ROC as the initial ROC. */
		struct mf_srtp_params q1 = p;
		struct mf_srtp *one = NULL;
		size_t n, m;
		int nb, ours, ref;

		q1.roc = (uint32_t)order[i] >> 16;
		MF_TEST_EQ(mf_srtp_create(&q1, &one), 0);
		n = random_rtp(pkt, (uint16_t)order[i], 0x1234);
		rc = mf_srtp_protect(one, pkt, &n, sizeof(pkt));
		mf_srtp_destroy(one);
		MF_TEST_EQ(rc, 0);
		memcpy(q, pkt, n);
		m = n;
		nb = (int)n;
		ours = mf_srtp_unprotect(rx, pkt, &m);
		ref = srtp_unprotect(rrx, q, &nb);
		MF_TEST_ASSERT((ours == 0) == (ref == 0),
			       "index %d: ours %d (%s), libsrtp2 %d", order[i], ours,
			       mf_srtp_strerror(ours), ref);
		if (ours != 0)
			MF_TEST_EQ(ours, -MF_SRTP_E_REPLAY);
	}
out:
	mf_srtp_destroy(rx);
	if (rrx)
		srtp_dealloc(rrx);
	return rc;
}

/* Wrong key, truncated or altered packets: refused, counted as what they are, and a
 * refused packet changes nothing (the genuine one after it still passes). */
static int
test_refusals(void)
{
	uint8_t pkt[BUF], bad[BUF];
	struct mf_srtp_params p, wrong;
	struct mf_srtp *tx = NULL, *rx = NULL, *rxw = NULL;
	unsigned int suite, cut;
	int rc = 0;

	for (suite = 1; suite < MF_SRTP_SUITE_MAX; suite++) {
		size_t n, m, tag;

		random_params(suite, 0, &p);
		wrong = p;
		wrong.key[3] ^= 0x40;
		MF_TEST_EQ(mf_srtp_create(&p, &tx), 0);
		MF_TEST_EQ(mf_srtp_create(&p, &rx), 0);
		MF_TEST_EQ(mf_srtp_create(&wrong, &rxw), 0);
		n = random_rtp(pkt, 10, 77);
		MF_TEST_EQ(mf_srtp_protect(tx, pkt, &n, n + 3), -MF_SRTP_E_ROOM);
		MF_TEST_EQ(mf_srtp_protect(tx, pkt, &n, sizeof(pkt)), 0);
		tag = mf_srtp_overhead(tx, false);
		/* wrong key; the packet is left as it came, for another key to try */
		memcpy(bad, pkt, n);
		m = n;
		MF_TEST_EQ(mf_srtp_unprotect(rxw, bad, &m), -MF_SRTP_E_AUTH);
		MF_TEST_ASSERT(m == n && memcmp(bad, pkt, n) == 0, "suite %u: packet changed", suite);
		/* truncated tags: one byte short up to the whole tag gone */
		for (cut = 1; cut <= tag; cut++) {
			memcpy(bad, pkt, n);
			m = n - cut;
			rc = mf_srtp_unprotect(rx, bad, &m);
			MF_TEST_ASSERT(rc == -MF_SRTP_E_AUTH || rc == -MF_SRTP_E_SHORT,
				       "suite %u cut %u: %d", suite, cut, rc);
			rc = 0;
		}
		/* one bit of the payload, of the header, of the tag */
		memcpy(bad, pkt, n);
		bad[n - tag - 1] ^= 1;
		m = n;
		MF_TEST_EQ(mf_srtp_unprotect(rx, bad, &m), -MF_SRTP_E_AUTH);
		memcpy(bad, pkt, n);
		bad[3] ^= 1;
		m = n;
		MF_TEST_EQ(mf_srtp_unprotect(rx, bad, &m), -MF_SRTP_E_AUTH);
		memcpy(bad, pkt, n);
		bad[n - 1] ^= 0x80;
		m = n;
		MF_TEST_EQ(mf_srtp_unprotect(rx, bad, &m), -MF_SRTP_E_AUTH);
		/* not RTP at all, and a header longer than the packet */
		m = 11;
		MF_TEST_EQ(mf_srtp_unprotect(rx, bad, &m), -MF_SRTP_E_SHORT);
		memcpy(bad, pkt, n);
		bad[0] |= 0x0f;
		m = 20;
		MF_TEST_EQ(mf_srtp_unprotect(rx, bad, &m), -MF_SRTP_E_SHORT);
		/* nothing above moved the window or made a stream: the genuine packet passes */
		MF_TEST_ASSERT(stream_find(rx, 77) == NULL, "a refused packet made a stream");
		m = n;
		MF_TEST_EQ(mf_srtp_unprotect(rx, pkt, &m), 0);
		/* RTCP: short, wrong key */
		n = random_rtcp(pkt, 77);
		MF_TEST_EQ(mf_srtcp_protect(tx, pkt, &n, sizeof(pkt)), 0);
		m = n;
		memcpy(bad, pkt, n);
		MF_TEST_EQ(mf_srtcp_unprotect(rxw, bad, &m), -MF_SRTP_E_AUTH);
		m = 8 + mf_srtp_overhead(tx, true) - 1;
		MF_TEST_EQ(mf_srtcp_unprotect(rx, bad, &m), -MF_SRTP_E_SHORT);
		mf_srtp_destroy(tx);
		mf_srtp_destroy(rx);
		mf_srtp_destroy(rxw);
		tx = rx = rxw = NULL;
	}
	/* key and salt lengths must be the suite's */
	random_params(MF_SRTP_AEAD_AES_128_GCM, 0, &p);
	p.salt_len = 14;
	MF_TEST_EQ(mf_srtp_create(&p, &tx), -EINVAL);
	p.suite = 0;
	MF_TEST_EQ(mf_srtp_create(&p, &tx), -EINVAL);
out:
	mf_srtp_destroy(tx);
	mf_srtp_destroy(rx);
	mf_srtp_destroy(rxw);
	return rc;
}

/* Streams by SSRC: two interleaved SSRCs keep their own ROC and windows; a ninth SSRC
 * evicts the least recently used. */
static int
test_streams(void)
{
	uint8_t pkt[BUF];
	struct mf_srtp_params p;
	struct mf_srtp *tx = NULL, *rx = NULL;
	unsigned int i;
	int rc = 0;

	random_params(MF_SRTP_AES_CM_128_HMAC_SHA1_80, 0, &p);
	MF_TEST_EQ(mf_srtp_create(&p, &tx), 0);
	MF_TEST_EQ(mf_srtp_create(&p, &rx), 0);
	for (i = 0; i < 3000; i++) {
		uint32_t ssrc = i % 2 ? 0xaaaa : 0xbbbb;
		uint16_t seq = (uint16_t)((i % 2 ? 65000 : 100) + i / 2);
		size_t n = random_rtp(pkt, seq, ssrc);

		MF_TEST_EQ(mf_srtp_protect(tx, pkt, &n, sizeof(pkt)), 0);
		MF_TEST_EQ(mf_srtp_unprotect(rx, pkt, &n), 0);
	}
	MF_TEST_EQ(stream_find(rx, 0xaaaa)->rtp.top >> 16, 1);
	MF_TEST_EQ(stream_find(rx, 0xbbbb)->rtp.top >> 16, 0);
	for (i = 0; i < MF_SRTP_MAX_STREAMS; i++) {
		size_t n = random_rtp(pkt, 5, 0x100 + i);

		MF_TEST_EQ(mf_srtp_protect(tx, pkt, &n, sizeof(pkt)), 0);
		MF_TEST_EQ(mf_srtp_unprotect(rx, pkt, &n), 0);
	}
	MF_TEST_ASSERT(stream_find(rx, 0xaaaa) == NULL && stream_find(rx, 0xbbbb) == NULL,
		       "the oldest streams were not evicted");
out:
	mf_srtp_destroy(tx);
	mf_srtp_destroy(rx);
	return rc;
}

/* The SRTCP index of a packet @p rx protected for @p ssrc (the word before the tag). */
static uint32_t
srtcp_index_sent(struct mf_srtp *rx, uint32_t ssrc)
{
	uint8_t pkt[BUF];
	size_t n = random_rtcp(pkt, ssrc);

	if (mf_srtcp_protect(rx, pkt, &n, sizeof(pkt)) != 0)
		return 0;
	return mf_rd32(pkt + n - mf_srtp_overhead(rx, true)) & 0x7fffffffu;
}

/* An ingress context also protects our feedback (SDES): the stream we send on is not
 * pushed out by the source's SSRCs, however many, so its SRTCP index never starts again. */
static int
test_sent_stream_kept(void)
{
	uint8_t pkt[BUF];
	struct mf_srtp_params p;
	struct mf_srtp *src = NULL, *rx = NULL;
	uint32_t idx;
	unsigned int i;
	int rc = 0;

	random_params(MF_SRTP_AES_CM_128_HMAC_SHA1_80, 0, &p);
	MF_TEST_EQ(mf_srtp_create(&p, &src), 0);
	MF_TEST_EQ(mf_srtp_create(&p, &rx), 0);
	idx = srtcp_index_sent(rx, 0xfeed);
	MF_TEST_EQ(idx, 1);
	for (i = 0; i < 2 * MF_SRTP_MAX_STREAMS; i++) {
		size_t n = random_rtp(pkt, 5, 0x100 + i);

		MF_TEST_EQ(mf_srtp_protect(src, pkt, &n, sizeof(pkt)), 0);
		MF_TEST_EQ(mf_srtp_unprotect(rx, pkt, &n), 0);
	}
	idx = srtcp_index_sent(rx, 0xfeed);	/* (the macro reads its arguments twice) */
	MF_TEST_EQ(idx, 2);
	MF_TEST_ASSERT(stream_find(rx, 0x100) == NULL, "received streams evicted first");
out:
	mf_srtp_destroy(src);
	mf_srtp_destroy(rx);
	return rc;
}

static const struct mf_test_case cases[] = {
	{ "rfc3711_b2_keystream", test_rfc3711_b2_keystream },
	{ "rfc3711_b3_kdf", test_rfc3711_b3_kdf },
	{ "rfc7714_gcm128", test_rfc7714_gcm128 },
	{ "rfc7714_gcm256", test_rfc7714_gcm256 },
	{ "libsrtp_identical", test_libsrtp_identical },
	{ "replay_window", test_replay_window },
	{ "refusals", test_refusals },
	{ "streams", test_streams },
	{ "sent_stream_kept", test_sent_stream_kept },
};

int
main(int argc, char **argv)
{
	int rc;

	if (srtp_init() != srtp_err_status_ok)
		return 1;
	rc = mf_test_run("srtp", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
	srtp_shutdown();
	return rc;
}
