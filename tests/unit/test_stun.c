/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of lib/stun: the RFC 5769 test vectors, the builder, and refusals. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mf/mf_pkt.h"
#include "mf/mf_stun.h"
#include "mf_test.h"

/* RFC 5769 §2.1: a Binding request with SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME
 * "evtj:h6vY" (padded with spaces), MESSAGE-INTEGRITY and FINGERPRINT. */
static const uint8_t req_2_1[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
	0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
	0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
	0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
	0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* §2.2: the IPv4 response, XOR-MAPPED-ADDRESS 192.0.2.1:32853. */
static const uint8_t resp_2_2[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
	0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* §2.3: the IPv6 response, [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static const uint8_t resp_2_3[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
	0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
	0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
	0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
	0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

static const char pwd[] = "VOkJxbRl1RmTxUk/WvJxBt";
static const uint8_t v6_addr[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
				     0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 };
static const uint8_t txid[MF_STUN_TXID_LEN] = {
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
};

static int
test_rfc5769_request(void)
{
	uint8_t m[sizeof(req_2_1)];
	struct mf_stun s;
	int rc = 0;

	MF_TEST_EQ(mf_stun_parse(req_2_1, sizeof(req_2_1), &s), 0);
	MF_TEST_EQ(s.type, MF_STUN_BINDING_REQUEST);
	MF_TEST_EQ(s.len, sizeof(req_2_1));
	MF_TEST_ASSERT(memcmp(s.txid, txid, sizeof(txid)) == 0, "transaction id");
	/* SOFTWARE at 20, PRIORITY at 40, ICE-CONTROLLED at 48, USERNAME at 60, MI at 76, FP
	 * at 100: where the checks and the USERNAME comparison will read. */
	MF_TEST_EQ(s.username_off, 64);
	MF_TEST_EQ(s.username_len, 9);
	MF_TEST_EQ(s.mi_off, 76);
	MF_TEST_EQ(s.fp_off, 100);
	MF_TEST_ASSERT(!s.has_mapped && s.error_code == 0, "nothing else");
	/* The vector's USERNAME is 9 bytes padded with spaces: the padding is not in it. */
	MF_TEST_ASSERT(mf_stun_username_is(req_2_1, &s, "evtj", "h6vY"), "username");
	MF_TEST_ASSERT(!mf_stun_username_is(req_2_1, &s, "evtj", "h6v"), "a shorter one");
	MF_TEST_ASSERT(!mf_stun_username_is(req_2_1, &s, "h6vY", "evtj"), "swapped");
	MF_TEST_ASSERT(s.has_priority && s.priority == 0x6e0001ff, "priority %x", s.priority);
	MF_TEST_EQ(s.role, MF_STUN_ROLE_CONTROLLED);
	MF_TEST_ASSERT(s.tiebreaker == 0x932ff9b151263b36ull, "tie-breaker");
	MF_TEST_ASSERT(!s.use_candidate, "no USE-CANDIDATE");
	MF_TEST_EQ(s.unknown_required, 0);
	MF_TEST_ASSERT(mf_stun_integrity_ok(req_2_1, &s, pwd, strlen(pwd)), "integrity");
	MF_TEST_ASSERT(!mf_stun_integrity_ok(req_2_1, &s, "VOkJxbRl1RmTxUk/WvJxBu", 22),
		       "integrity under another password");
	MF_TEST_ASSERT(mf_stun_fingerprint_ok(req_2_1, &s), "fingerprint");
	/* One bit of the body changed: both checks fail. */
	memcpy(m, req_2_1, sizeof(m));
	m[30] ^= 1;
	MF_TEST_EQ(mf_stun_parse(m, sizeof(m), &s), 0);
	MF_TEST_ASSERT(!mf_stun_integrity_ok(m, &s, pwd, strlen(pwd)), "altered: integrity");
	MF_TEST_ASSERT(!mf_stun_fingerprint_ok(m, &s), "altered: fingerprint");
	/* The header is hashed too: another transaction id fails both. */
	memcpy(m, req_2_1, sizeof(m));
	m[19] ^= 0x80;
	MF_TEST_EQ(mf_stun_parse(m, sizeof(m), &s), 0);
	MF_TEST_ASSERT(!mf_stun_integrity_ok(m, &s, pwd, strlen(pwd)), "txid: integrity");
	MF_TEST_ASSERT(!mf_stun_fingerprint_ok(m, &s), "txid: fingerprint");
	/* The last byte of the HMAC: all 20 are compared. */
	memcpy(m, req_2_1, sizeof(m));
	m[99] ^= 1;
	MF_TEST_EQ(mf_stun_parse(m, sizeof(m), &s), 0);
	MF_TEST_ASSERT(!mf_stun_integrity_ok(m, &s, pwd, strlen(pwd)), "mac[19]: integrity");
	/* And one bit of the FINGERPRINT's own value. */
	memcpy(m, req_2_1, sizeof(m));
	m[sizeof(m) - 1] ^= 1;
	MF_TEST_EQ(mf_stun_parse(m, sizeof(m), &s), 0);
	MF_TEST_ASSERT(mf_stun_integrity_ok(m, &s, pwd, strlen(pwd)), "fp value: integrity");
	MF_TEST_ASSERT(!mf_stun_fingerprint_ok(m, &s), "fp value: fingerprint");
out:
	return rc;
}

static int
test_rfc5769_responses(void)
{
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	struct mf_stun s;
	int rc = 0;

	MF_TEST_EQ(mf_stun_parse(resp_2_2, sizeof(resp_2_2), &s), 0);
	MF_TEST_EQ(s.type, MF_STUN_BINDING_SUCCESS);
	MF_TEST_EQ(s.len, sizeof(resp_2_2));
	MF_TEST_ASSERT(memcmp(s.txid, txid, sizeof(txid)) == 0, "v4 transaction id");
	MF_TEST_ASSERT(s.username_off == 0 && !s.has_priority && s.role == MF_STUN_ROLE_NONE &&
		       !s.use_candidate && s.unknown_required == 0 && s.error_code == 0,
		       "v4: no request attributes");
	MF_TEST_EQ(s.mi_off, 48);
	MF_TEST_EQ(s.fp_off, 72);
	MF_TEST_ASSERT(s.has_mapped && s.mapped_family == 4 && s.mapped_port == 32853 &&
		       memcmp(s.mapped_addr, v4, 4) == 0, "IPv4 XOR-MAPPED-ADDRESS");
	MF_TEST_ASSERT(mf_stun_integrity_ok(resp_2_2, &s, pwd, strlen(pwd)), "v4 integrity");
	MF_TEST_ASSERT(mf_stun_fingerprint_ok(resp_2_2, &s), "v4 fingerprint");
	MF_TEST_ASSERT(!mf_stun_integrity_ok(resp_2_2, &s, "VOkJxbRl1RmTxUk/WvJxB", 21),
		       "v4 integrity under a shorter password");
	MF_TEST_EQ(mf_stun_parse(resp_2_3, sizeof(resp_2_3), &s), 0);
	MF_TEST_EQ(s.type, MF_STUN_BINDING_SUCCESS);
	MF_TEST_EQ(s.len, sizeof(resp_2_3));
	MF_TEST_ASSERT(memcmp(s.txid, txid, sizeof(txid)) == 0, "v6 transaction id");
	MF_TEST_EQ(s.mi_off, 60);
	MF_TEST_EQ(s.fp_off, 84);
	MF_TEST_ASSERT(s.has_mapped && s.mapped_family == 6 && s.mapped_port == 32853 &&
		       memcmp(s.mapped_addr, v6_addr, 16) == 0, "IPv6 XOR-MAPPED-ADDRESS");
	MF_TEST_ASSERT(mf_stun_integrity_ok(resp_2_3, &s, pwd, strlen(pwd)), "v6 integrity");
	MF_TEST_ASSERT(mf_stun_fingerprint_ok(resp_2_3, &s), "v6 fingerprint");
	MF_TEST_ASSERT(!mf_stun_integrity_ok(resp_2_3, &s, "x", 1), "v6 under another password");
out:
	return rc;
}

/* RFC 5769's response (§2.2 for @p family 4, §2.3 for 6) built into @p b of @p cap bytes.
 * @return mf_stun_end(). */
static int
build_vector_response(uint8_t *b, size_t cap, uint8_t family)
{
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	struct mf_stun_msg m;

	mf_stun_begin(&m, b, cap, MF_STUN_BINDING_SUCCESS, txid);
	mf_stun_add(&m, MF_STUN_A_SOFTWARE, "test vector", 11);
	/* The vectors pad SOFTWARE with a space where we pad with zero (both are allowed). */
	if (m.err == 0)
		b[m.len - 1] = 0x20;
	mf_stun_add_xor_address(&m, family, family == 4 ? v4 : v6_addr, 32853);
	mf_stun_add_integrity(&m, pwd, strlen(pwd));
	mf_stun_add_fingerprint(&m);
	return mf_stun_end(&m);
}

/* What mfwd answers, built byte for byte as RFC 5769 §2.2 and §2.3, and read back. */
static int
test_build_responses(void)
{
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	uint8_t b[256];
	struct mf_stun s;
	int rc = 0, n;

	n = build_vector_response(b, sizeof(b), 4);
	MF_TEST_EQ(n, sizeof(resp_2_2));
	MF_TEST_ASSERT(memcmp(b, resp_2_2, sizeof(resp_2_2)) == 0, "RFC 5769 §2.2 rebuilt");
	MF_TEST_EQ(mf_stun_parse(b, (size_t)n, &s), 0);
	MF_TEST_ASSERT(s.type == MF_STUN_BINDING_SUCCESS &&
		       memcmp(s.txid, txid, sizeof(txid)) == 0, "v4 header");
	MF_TEST_ASSERT(s.has_mapped && s.mapped_family == 4 && s.mapped_port == 32853 &&
		       memcmp(s.mapped_addr, v4, 4) == 0, "v4 XOR-MAPPED-ADDRESS read back");
	MF_TEST_ASSERT(mf_stun_integrity_ok(b, &s, pwd, strlen(pwd)) &&
		       mf_stun_fingerprint_ok(b, &s), "v4 checks");

	n = build_vector_response(b, sizeof(b), 6);
	MF_TEST_EQ(n, sizeof(resp_2_3));
	MF_TEST_ASSERT(memcmp(b, resp_2_3, sizeof(resp_2_3)) == 0, "RFC 5769 §2.3 rebuilt");
	MF_TEST_EQ(mf_stun_parse(b, (size_t)n, &s), 0);
	MF_TEST_ASSERT(s.has_mapped && s.mapped_family == 6 && s.mapped_port == 32853 &&
		       memcmp(s.mapped_addr, v6_addr, 16) == 0, "v6 XOR-MAPPED-ADDRESS read back");
	MF_TEST_ASSERT(mf_stun_integrity_ok(b, &s, pwd, strlen(pwd)) &&
		       mf_stun_fingerprint_ok(b, &s), "v6 checks");
out:
	return rc;
}

/* A request as a controlling peer sends it, and the 487 mfwd answers a role conflict with. */
static int
test_build_request(void)
{
	uint8_t b[256];
	struct mf_stun_msg m;
	struct mf_stun s;
	int rc = 0, n;

	mf_stun_begin(&m, b, sizeof(b), MF_STUN_BINDING_REQUEST, txid);
	mf_stun_add(&m, MF_STUN_A_USERNAME, "a:b", 3);
	mf_stun_add_u32(&m, MF_STUN_A_PRIORITY, 1234);
	mf_stun_add(&m, MF_STUN_A_USE_CANDIDATE, NULL, 0);
	mf_stun_add_u64(&m, MF_STUN_A_ICE_CONTROLLING, 0x0102030405060708ull);
	mf_stun_add_integrity(&m, "k", 1);
	mf_stun_add_fingerprint(&m);
	n = mf_stun_end(&m);
	/* 20 header + USERNAME 4+3+1 pad + PRIORITY 8 + USE-CANDIDATE 4 + ICE-CONTROLLING 12
	 * + MI 24 + FP 8: the padding is counted, or every later attribute is misplaced. */
	MF_TEST_EQ(n, 84);
	MF_TEST_EQ(b[2] << 8 | b[3], 84 - MF_STUN_HDR_LEN);
	MF_TEST_EQ(mf_stun_parse(b, (size_t)n, &s), 0);
	MF_TEST_EQ(s.type, MF_STUN_BINDING_REQUEST);
	MF_TEST_EQ(s.username_off, 24);
	MF_TEST_EQ(s.username_len, 3);
	MF_TEST_EQ(s.mi_off, 52);
	MF_TEST_EQ(s.fp_off, 76);
	MF_TEST_ASSERT(mf_stun_username_is(b, &s, "a", "b"), "username, padded");
	MF_TEST_ASSERT(s.has_priority && s.priority == 1234, "priority");
	MF_TEST_ASSERT(s.use_candidate, "USE-CANDIDATE");
	MF_TEST_EQ(s.role, MF_STUN_ROLE_CONTROLLING);
	MF_TEST_ASSERT(s.tiebreaker == 0x0102030405060708ull, "tie-breaker");
	MF_TEST_ASSERT(mf_stun_integrity_ok(b, &s, "k", 1) && mf_stun_fingerprint_ok(b, &s),
		       "checks");
	MF_TEST_ASSERT(!mf_stun_integrity_ok(b, &s, "K", 1), "another key");

	mf_stun_begin(&m, b, sizeof(b), MF_STUN_BINDING_ERROR, txid);
	mf_stun_add_error(&m, 487, "Role Conflict");
	mf_stun_add_integrity(&m, pwd, strlen(pwd));
	mf_stun_add_fingerprint(&m);
	n = mf_stun_end(&m);
	/* ERROR-CODE: 4 + 4 + 13 reason + 3 pad. */
	MF_TEST_EQ(n, MF_STUN_HDR_LEN + 24 + 24 + 8);
	MF_TEST_EQ(mf_stun_parse(b, (size_t)n, &s), 0);
	MF_TEST_EQ(s.type, MF_STUN_BINDING_ERROR);
	MF_TEST_EQ(s.error_code, 487);
	MF_TEST_ASSERT(mf_stun_integrity_ok(b, &s, pwd, strlen(pwd)), "487 signed");
	MF_TEST_ASSERT(mf_stun_fingerprint_ok(b, &s), "487 fingerprinted");

	/* A consent check carries FINGERPRINT alone: one check passes, the other says no. */
	mf_stun_begin(&m, b, sizeof(b), MF_STUN_BINDING_INDICATION, txid);
	mf_stun_add_fingerprint(&m);
	n = mf_stun_end(&m);
	MF_TEST_EQ(n, MF_STUN_HDR_LEN + 8);
	MF_TEST_EQ(mf_stun_parse(b, (size_t)n, &s), 0);
	MF_TEST_ASSERT(mf_stun_fingerprint_ok(b, &s), "fingerprint alone");
	MF_TEST_ASSERT(s.mi_off == 0 && !mf_stun_integrity_ok(b, &s, pwd, strlen(pwd)),
		       "no integrity");
out:
	return rc;
}

/* The builder never writes past its buffer: every capacity below the message's length gives
 * -ENOSPC, exactly the length gives the vector (heap buffers of exactly @c cap bytes, so
 * the sanitizer build sees a stray write). */
static int
test_build_nospace(void)
{
	uint8_t *b = NULL;
	size_t cap;
	int rc = 0, n;

	for (cap = 0; cap <= sizeof(resp_2_3); cap++) {
		b = malloc(cap ? cap : 1);
		MF_TEST_ASSERT(b != NULL, "malloc");
		n = build_vector_response(b, cap, 6);
		if (cap < sizeof(resp_2_3))
			MF_TEST_ASSERT(n == -ENOSPC, "cap %zu: %d", cap, n);
		else
			MF_TEST_ASSERT(n == (int)cap && memcmp(b, resp_2_3, cap) == 0, "cap %zu",
				       cap);
		free(b);
		b = NULL;
	}
out:
	free(b);
	return rc;
}

/* A copy of §2.1 with the bytes at @p off replaced. */
static int
parse_patched(size_t off, const uint8_t *with, size_t n, size_t len, struct mf_stun *s)
{
	uint8_t m[sizeof(req_2_1) + 16];

	memcpy(m, req_2_1, sizeof(req_2_1));
	memcpy(m + off, with, n);
	return mf_stun_parse(m, len, s);
}

/* Every cut of §2.1 is refused, read from a heap copy of exactly that many bytes so the
 * sanitizer build sees a read past it; bytes after the message are not part of it. */
static int
test_truncated(void)
{
	uint8_t m[sizeof(req_2_1) + 8];
	unsigned char *d = NULL;
	struct mf_stun s;
	size_t n;
	int rc = 0;

	for (n = 0; n < sizeof(req_2_1); n++) {
		d = mf_test_dup(req_2_1, n);
		MF_TEST_ASSERT(d != NULL, "malloc");
		MF_TEST_ASSERT(mf_stun_parse(d, n, &s) == -MF_PKT_E_STUN_TRUNC, "cut at %zu", n);
		free(d);
		d = NULL;
	}
	memcpy(m, req_2_1, sizeof(req_2_1));
	memset(m + sizeof(req_2_1), 0xff, sizeof(m) - sizeof(req_2_1));
	for (n = sizeof(req_2_1); n <= sizeof(m); n++) {
		MF_TEST_ASSERT(mf_stun_parse(m, n, &s) == 0, "%zu bytes", n);
		MF_TEST_EQ(s.len, sizeof(req_2_1));
		MF_TEST_ASSERT(mf_stun_integrity_ok(m, &s, pwd, strlen(pwd)) &&
			       mf_stun_fingerprint_ok(m, &s), "checks with %zu bytes", n);
	}
out:
	free(d);
	return rc;
}

/* §2.1 with its length field cut to each multiple of 4: a message ending between two
 * attributes is whole, one ending inside an attribute is refused. Ending just after
 * MESSAGE-INTEGRITY, the HMAC still verifies: it never covered what came after. */
static int
test_length_field(void)
{
	/* The header alone, then the ends of SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MI
	 * and FP. */
	static const unsigned int ends[] = { 20, 40, 48, 60, 76, 100, 108 };
	uint8_t m[sizeof(req_2_1)];
	struct mf_stun s;
	unsigned int mlen, i;
	bool boundary;
	int rc = 0, e;

	for (mlen = 0; mlen + MF_STUN_HDR_LEN <= sizeof(req_2_1); mlen += 4) {
		memcpy(m, req_2_1, sizeof(m));
		m[2] = (uint8_t)(mlen >> 8);
		m[3] = (uint8_t)mlen;
		boundary = false;
		for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
			boundary |= ends[i] == MF_STUN_HDR_LEN + mlen;
		e = mf_stun_parse(m, sizeof(m), &s);
		MF_TEST_ASSERT(e == (boundary ? 0 : -MF_PKT_E_STUN_ATTR), "length %u: %d", mlen, e);
		if (e != 0)
			continue;
		MF_TEST_EQ(s.len, MF_STUN_HDR_LEN + mlen);
		MF_TEST_EQ(s.mi_off, mlen >= 80 ? 76 : 0);
		MF_TEST_EQ(s.fp_off, mlen >= 88 ? 100 : 0);
		MF_TEST_EQ(mf_stun_integrity_ok(m, &s, pwd, strlen(pwd)), mlen >= 80);
		MF_TEST_EQ(mf_stun_fingerprint_ok(m, &s), mlen >= 88);
	}
out:
	return rc;
}

static int
test_refused(void)
{
	static const uint8_t cookie[] = { 0x21, 0x12, 0xa4, 0x43 };
	static const uint8_t top[] = { 0x40, 0x80, 0xc0, 0x41 };
	static const uint8_t len_odd[] = { 0x00, 0x56 };
	static const uint8_t len_long[] = { 0x00, 0x5c };
	static const uint8_t attr_over[] = { 0x00, 0x24, 0x00, 0x44 };
	static const uint8_t prio_5[] = { 0x00, 0x24, 0x00, 0x05 };
	/* SOFTWARE's header turned into an unknown required / optional one. */
	static const uint8_t unk_req[] = { 0x00, 0x33 };
	static const uint8_t unk_opt[] = { 0x80, 0x33 };
	/* The FINGERPRINT turned into a PRIORITY: after MESSAGE-INTEGRITY. */
	static const uint8_t after_mi[] = { 0x00, 0x24, 0x00, 0x04 };
	uint8_t m[sizeof(req_2_1) + 8];
	struct mf_stun s;
	size_t i;
	int rc = 0;

	MF_TEST_EQ(parse_patched(4, cookie, 4, sizeof(req_2_1), &s), -MF_PKT_E_STUN_HDR);
	/* RFC 7983 sends 0-3 to STUN; any of the top two bits set is not STUN. */
	for (i = 0; i < sizeof(top); i++)
		MF_TEST_EQ(parse_patched(0, &top[i], 1, sizeof(req_2_1), &s), -MF_PKT_E_STUN_HDR);
	MF_TEST_EQ(parse_patched(2, len_odd, 2, sizeof(req_2_1), &s), -MF_PKT_E_STUN_HDR);
	MF_TEST_EQ(parse_patched(2, len_long, 2, sizeof(req_2_1), &s), -MF_PKT_E_STUN_TRUNC);
	MF_TEST_EQ(parse_patched(40, attr_over, 4, sizeof(req_2_1), &s), -MF_PKT_E_STUN_ATTR);
	MF_TEST_EQ(parse_patched(40, prio_5, 4, sizeof(req_2_1), &s), -MF_PKT_E_STUN_VALUE);
	MF_TEST_EQ(parse_patched(100, after_mi, 4, sizeof(req_2_1), &s), -MF_PKT_E_STUN_ORDER);
	MF_TEST_EQ(parse_patched(20, unk_req, 2, sizeof(req_2_1), &s), 0);
	MF_TEST_EQ(s.unknown_required, 0x0033);
	MF_TEST_EQ(parse_patched(20, unk_opt, 2, sizeof(req_2_1), &s), 0);
	MF_TEST_EQ(s.unknown_required, 0);
	/* Anything after FINGERPRINT: a PRIORITY appended (the length says so). */
	memcpy(m, req_2_1, sizeof(req_2_1));
	memcpy(m + sizeof(req_2_1), "\x00\x24\x00\x04\x00\x00\x00\x01", 8);
	m[3] = (uint8_t)(m[3] + 8);
	MF_TEST_EQ(mf_stun_parse(m, sizeof(m), &s), -MF_PKT_E_STUN_ORDER);
	/* PRIORITY of the wrong length inside the bounds. */
	memcpy(m, req_2_1, sizeof(req_2_1));
	m[43] = 0;
	MF_TEST_EQ(mf_stun_parse(m, sizeof(req_2_1), &s), -MF_PKT_E_STUN_VALUE);
	/* No MESSAGE-INTEGRITY or FINGERPRINT: the checks say no, they do not crash. */
	memset(&s, 0, sizeof(s));
	MF_TEST_ASSERT(!mf_stun_integrity_ok(req_2_1, &s, pwd, strlen(pwd)), "no MI");
	MF_TEST_ASSERT(!mf_stun_fingerprint_ok(req_2_1, &s), "no FP");
	MF_TEST_ASSERT(!mf_stun_username_is(req_2_1, &s, "evtj", "h6vY"), "no USERNAME");
out:
	return rc;
}

/* Parse what @p m built (a request of the attributes a case added). */
static int
parse_built(const struct mf_stun_msg *m, struct mf_stun *s)
{
	int n = mf_stun_end(m);

	return n < 0 ? n : mf_stun_parse(m->buf, (size_t)n, s);
}

/* Attributes ICE reads, twice or with a value of the wrong length or form. */
static int
test_bad_values(void)
{
	static const uint8_t xor_fam3[8] = { 0, 3, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43 };
	static const uint8_t xor_v4_long[20] = { 0, 1, 0xa1, 0x47 };
	static const uint8_t err_700[] = { 0, 0, 7, 0, 'x' };
	static const uint8_t err_200[] = { 0, 0, 2, 0, 'x' };
	static const uint8_t err_4100[] = { 0, 0, 4, 100, 'x' };
	static uint8_t name[MF_STUN_USERNAME_MAX];
	uint8_t b[640];
	struct mf_stun_msg m;
	struct mf_stun s;
	int rc = 0;

#define REQ() mf_stun_begin(&m, b, sizeof(b), MF_STUN_BINDING_REQUEST, txid)
	REQ();
	mf_stun_add_u32(&m, MF_STUN_A_PRIORITY, 1);
	mf_stun_add_u32(&m, MF_STUN_A_PRIORITY, 2);
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_ORDER);
	REQ();
	mf_stun_add(&m, MF_STUN_A_USERNAME, "a:b", 3);
	mf_stun_add(&m, MF_STUN_A_USERNAME, "c:d", 3);
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_ORDER);
	/* Both roles at once: which one the peer holds is unknowable. */
	REQ();
	mf_stun_add_u64(&m, MF_STUN_A_ICE_CONTROLLING, 1);
	mf_stun_add_u64(&m, MF_STUN_A_ICE_CONTROLLED, 2);
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_ORDER);
	REQ();
	mf_stun_add_u32(&m, MF_STUN_A_ICE_CONTROLLED, 2);
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_VALUE);
	REQ();
	mf_stun_add_u32(&m, MF_STUN_A_USE_CANDIDATE, 0);
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_VALUE);
	REQ();
	mf_stun_add(&m, MF_STUN_A_PRIORITY, "\1\2", 2);
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_VALUE);
	REQ();
	mf_stun_add(&m, MF_STUN_A_XOR_MAPPED_ADDRESS, xor_fam3, sizeof(xor_fam3));
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_VALUE);
	REQ();
	mf_stun_add(&m, MF_STUN_A_XOR_MAPPED_ADDRESS, xor_v4_long, sizeof(xor_v4_long));
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_VALUE);
	REQ();
	mf_stun_add(&m, MF_STUN_A_XOR_MAPPED_ADDRESS, xor_fam3, 3);
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_VALUE);
	/* ERROR-CODE: class 3-6 and number 0-99 (RFC 5389 §15.6), at least its 4 bytes. */
	REQ();
	mf_stun_add(&m, MF_STUN_A_ERROR_CODE, err_700, sizeof(err_700));
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_VALUE);
	REQ();
	mf_stun_add(&m, MF_STUN_A_ERROR_CODE, err_200, sizeof(err_200));
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_VALUE);
	REQ();
	mf_stun_add(&m, MF_STUN_A_ERROR_CODE, err_4100, sizeof(err_4100));
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_VALUE);
	REQ();
	mf_stun_add(&m, MF_STUN_A_ERROR_CODE, err_700, 3);
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_VALUE);
	/* MESSAGE-INTEGRITY and FINGERPRINT of another length would be read past their value. */
	REQ();
	mf_stun_add(&m, MF_STUN_A_MESSAGE_INTEGRITY, name, 16);
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_VALUE);
	REQ();
	mf_stun_add(&m, MF_STUN_A_FINGERPRINT, name, 2);
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_VALUE);
	REQ();
	mf_stun_add_integrity(&m, pwd, strlen(pwd));
	mf_stun_add_integrity(&m, pwd, strlen(pwd));
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_ORDER);
	REQ();
	mf_stun_add_integrity(&m, pwd, strlen(pwd));
	mf_stun_add_u32(&m, 0x0033, 0);
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_ORDER);
	/* Nothing after FINGERPRINT, with no MESSAGE-INTEGRITY before it to refuse it too. */
	REQ();
	mf_stun_add_fingerprint(&m);
	mf_stun_add_u32(&m, MF_STUN_A_PRIORITY, 1);
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_ORDER);
	REQ();
	mf_stun_add_integrity(&m, pwd, strlen(pwd));
	mf_stun_add_fingerprint(&m);
	mf_stun_add_fingerprint(&m);
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_ORDER);
	/* USERNAME: less than 513 bytes (RFC 5389 §15.3). */
	memset(name, 'u', sizeof(name));
	REQ();
	mf_stun_add(&m, MF_STUN_A_USERNAME, name, MF_STUN_USERNAME_MAX - 1);
	MF_TEST_EQ(parse_built(&m, &s), 0);
	MF_TEST_EQ(s.username_len, MF_STUN_USERNAME_MAX - 1);
	REQ();
	mf_stun_add(&m, MF_STUN_A_USERNAME, name, MF_STUN_USERNAME_MAX);
	MF_TEST_EQ(parse_built(&m, &s), -MF_PKT_E_STUN_VALUE);
	/* An optional unknown one is skipped; the required one after it is the one reported,
	 * and the known ones around them are still read. */
	REQ();
	mf_stun_add_u32(&m, 0x8033, 0);
	mf_stun_add_u32(&m, MF_STUN_A_PRIORITY, 7);
	mf_stun_add(&m, 0x0034, "abc", 3);
	mf_stun_add(&m, MF_STUN_A_USE_CANDIDATE, NULL, 0);
	MF_TEST_EQ(parse_built(&m, &s), 0);
	MF_TEST_EQ(s.unknown_required, 0x0034);
	MF_TEST_ASSERT(s.has_priority && s.priority == 7 && s.use_candidate, "known ones read");
#undef REQ
out:
	return rc;
}

/* The longest length field whose message a uint16_t still holds is read to its end; a
 * longer one is refused even when its bytes are all there, not wrapped into a short one. */
static int
test_largest(void)
{
	static const uint8_t opt[4] = { 0x80, 0x33, 0, 0 };
	const size_t max = UINT16_MAX & ~(size_t)3, over = MF_STUN_HDR_LEN + 0xfffc;
	uint8_t *d = NULL;
	struct mf_stun s;
	size_t i;
	int rc = 0;

	/* Empty optional attributes, so each of the thousands of steps is one attribute. */
	d = malloc(over);
	MF_TEST_ASSERT(d != NULL, "malloc");
	memcpy(d, req_2_1, MF_STUN_HDR_LEN);
	for (i = MF_STUN_HDR_LEN; i < over; i += 4)
		memcpy(d + i, opt, 4);
	d[2] = (uint8_t)((max - MF_STUN_HDR_LEN) >> 8);
	d[3] = (uint8_t)(max - MF_STUN_HDR_LEN);
	MF_TEST_EQ(mf_stun_parse(d, max, &s), 0);
	MF_TEST_EQ(s.len, max);
	MF_TEST_EQ(s.unknown_required, 0);
	/* A length field of 0xfffc: 65,552 bytes, more than s.len can say. */
	d[2] = 0xff;
	d[3] = 0xfc;
	MF_TEST_EQ(mf_stun_parse(d, over, &s), -MF_PKT_E_STUN_HDR);
out:
	free(d);
	return rc;
}

static const struct mf_test_case cases[] = {
	{ "rfc5769_request", test_rfc5769_request },
	{ "rfc5769_responses", test_rfc5769_responses },
	{ "build_responses", test_build_responses },
	{ "build_request", test_build_request },
	{ "build_nospace", test_build_nospace },
	{ "truncated", test_truncated },
	{ "length_field", test_length_field },
	{ "refused", test_refused },
	{ "bad_values", test_bad_values },
	{ "largest", test_largest },
};

MF_TEST_MAIN("stun", cases)
