/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of lib/stun: the RFC 5769 test vectors, the builder, and refusals. */

#include <errno.h>
#include <stdint.h>
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
	MF_TEST_EQ(s.username_len, 9);
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
out:
	return rc;
}

static int
test_rfc5769_responses(void)
{
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
					0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 };
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	struct mf_stun s;
	int rc = 0;

	MF_TEST_EQ(mf_stun_parse(resp_2_2, sizeof(resp_2_2), &s), 0);
	MF_TEST_EQ(s.type, MF_STUN_BINDING_SUCCESS);
	MF_TEST_ASSERT(s.has_mapped && s.mapped_family == 4 && s.mapped_port == 32853 &&
		       memcmp(s.mapped_addr, v4, 4) == 0, "IPv4 XOR-MAPPED-ADDRESS");
	MF_TEST_ASSERT(mf_stun_integrity_ok(resp_2_2, &s, pwd, strlen(pwd)), "v4 integrity");
	MF_TEST_ASSERT(mf_stun_fingerprint_ok(resp_2_2, &s), "v4 fingerprint");
	MF_TEST_EQ(mf_stun_parse(resp_2_3, sizeof(resp_2_3), &s), 0);
	MF_TEST_ASSERT(s.has_mapped && s.mapped_family == 6 && s.mapped_port == 32853 &&
		       memcmp(s.mapped_addr, v6, 16) == 0, "IPv6 XOR-MAPPED-ADDRESS");
	MF_TEST_ASSERT(mf_stun_integrity_ok(resp_2_3, &s, pwd, strlen(pwd)), "v6 integrity");
	MF_TEST_ASSERT(mf_stun_fingerprint_ok(resp_2_3, &s), "v6 fingerprint");
out:
	return rc;
}

/* What mfwd answers, built and read back; and RFC 5769 §2.2 rebuilt byte for byte. */
static int
test_build(void)
{
	static const uint8_t v4[4] = { 192, 0, 2, 1 };
	uint8_t b[256];
	struct mf_stun_msg m;
	struct mf_stun s;
	int rc = 0, n;

	mf_stun_begin(&m, b, sizeof(b), MF_STUN_BINDING_SUCCESS, txid);
	mf_stun_add(&m, MF_STUN_A_SOFTWARE, "test vector", 11);
	/* The vector pads SOFTWARE with a space where we pad with zero. */
	b[m.len - 1] = 0x20;
	mf_stun_add_xor_address(&m, 4, v4, 32853);
	mf_stun_add_integrity(&m, pwd, strlen(pwd));
	mf_stun_add_fingerprint(&m);
	n = mf_stun_end(&m);
	MF_TEST_EQ(n, sizeof(resp_2_2));
	MF_TEST_ASSERT(memcmp(b, resp_2_2, sizeof(resp_2_2)) == 0, "RFC 5769 §2.2 rebuilt");

	mf_stun_begin(&m, b, sizeof(b), MF_STUN_BINDING_REQUEST, txid);
	mf_stun_add(&m, MF_STUN_A_USERNAME, "a:b", 3);
	mf_stun_add_u32(&m, MF_STUN_A_PRIORITY, 1234);
	mf_stun_add(&m, MF_STUN_A_USE_CANDIDATE, NULL, 0);
	mf_stun_add_u64(&m, MF_STUN_A_ICE_CONTROLLING, 0x0102030405060708ull);
	mf_stun_add_integrity(&m, "k", 1);
	mf_stun_add_fingerprint(&m);
	n = mf_stun_end(&m);
	MF_TEST_ASSERT(n > 0 && n % 4 == 0, "length %d", n);
	MF_TEST_EQ(mf_stun_parse(b, (size_t)n, &s), 0);
	MF_TEST_ASSERT(mf_stun_username_is(b, &s, "a", "b"), "username, padded");
	MF_TEST_ASSERT(s.use_candidate && s.role == MF_STUN_ROLE_CONTROLLING &&
		       s.tiebreaker == 0x0102030405060708ull && s.priority == 1234, "attributes");
	MF_TEST_ASSERT(mf_stun_integrity_ok(b, &s, "k", 1) && mf_stun_fingerprint_ok(b, &s),
		       "checks");

	mf_stun_begin(&m, b, sizeof(b), MF_STUN_BINDING_ERROR, txid);
	mf_stun_add_error(&m, 487, "Role Conflict");
	mf_stun_add_integrity(&m, pwd, strlen(pwd));
	mf_stun_add_fingerprint(&m);
	n = mf_stun_end(&m);
	MF_TEST_EQ(mf_stun_parse(b, (size_t)n, &s), 0);
	MF_TEST_EQ(s.error_code, 487);
	MF_TEST_ASSERT(mf_stun_integrity_ok(b, &s, pwd, strlen(pwd)), "487 signed");

	mf_stun_begin(&m, b, 40, MF_STUN_BINDING_SUCCESS, txid);
	mf_stun_add_xor_address(&m, 4, v4, 1);
	mf_stun_add_integrity(&m, pwd, strlen(pwd));
	MF_TEST_EQ(mf_stun_end(&m), -ENOSPC);
out:
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

static int
test_refused(void)
{
	static const uint8_t cookie[] = { 0x21, 0x12, 0xa4, 0x43 };
	static const uint8_t top[] = { 0x40 };
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

	for (i = 0; i < sizeof(req_2_1); i++)
		MF_TEST_ASSERT(mf_stun_parse(req_2_1, i, &s) == -MF_PKT_E_STUN_TRUNC, "cut at %zu",
			       i);
	MF_TEST_EQ(parse_patched(4, cookie, 4, sizeof(req_2_1), &s), -MF_PKT_E_STUN_HDR);
	MF_TEST_EQ(parse_patched(0, top, 1, sizeof(req_2_1), &s), -MF_PKT_E_STUN_HDR);
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

static const struct mf_test_case cases[] = {
	{ "rfc5769_request", test_rfc5769_request },
	{ "rfc5769_responses", test_rfc5769_responses },
	{ "build", test_build },
	{ "refused", test_refused },
};

MF_TEST_MAIN("stun", cases)
