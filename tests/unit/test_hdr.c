/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fan-out's header checksums from sums made once per output (dataplane/dp_hdr.h)
 * against DPDK's, which read the headers each time: the IPv4 header checksum, the
 * pseudo-header sum a NIC completes, and the whole UDP checksum, over IPv4 and IPv6, random
 * addresses, ports and payloads of every length parity.
 */

#include <stdlib.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_udp.h>

#include "dp_hdr.h"
#include "mf_test.h"

#define ROUNDS		2000
#define PAYLOAD_MAX	1400

static void
fill(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rand();
}

/* One frame's checksums both ways. @return 0 when they agree. */
static int
one_frame(uint8_t family)
{
	uint8_t frame[sizeof(struct rte_ipv6_hdr) + sizeof(struct rte_udp_hdr) + PAYLOAD_MAX];
	uint8_t src[16], dst[16];
	uint16_t sport = (uint16_t)rand(), dport = (uint16_t)rand();
	uint16_t plen = (uint16_t)(rand() % PAYLOAD_MAX), udp_len;
	struct dp_hdr_sums sums;
	struct rte_udp_hdr *udp;
	uint16_t want, got, half;
	int rc = 0;

	fill(src, sizeof(src));
	fill(dst, sizeof(dst));
	udp_len = (uint16_t)(plen + sizeof(*udp));
	udp = dp_hdr_ip_udp(frame, family, src, dst, sport, dport, udp_len);
	fill((uint8_t *)(udp + 1), plen);
	dp_hdr_sums(&sums, family, src, dst, sport, dport);
	if (family == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)frame;

		MF_TEST_EQ(dp_hdr_ip4_csum(&sums, udp_len), rte_ipv4_cksum(ip));
		MF_TEST_EQ(dp_hdr_ph_sum(&sums, udp_len), rte_ipv4_phdr_cksum(ip, 0));
		want = rte_ipv4_udptcp_cksum(ip, udp);
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)frame;

		MF_TEST_EQ(dp_hdr_ph_sum(&sums, udp_len), rte_ipv6_phdr_cksum(ip, 0));
		want = rte_ipv6_udptcp_cksum(ip, udp);
	}
	/* The payload's sum in two parts, unfolded, as send_one passes its private and shared
	 * bytes' sums (the first part even, so the second's bytes keep their places). */
	half = (uint16_t)(plen / 2 & ~1u);
	got = dp_hdr_udp_csum(&sums, udp_len, (uint32_t)mf_csum_host(udp + 1, half) +
			      mf_csum_host((const uint8_t *)(udp + 1) + half, plen - half));
	MF_TEST_ASSERT(got == want, "IPv%u UDP checksum, %u payload bytes: 0x%04x, DPDK 0x%04x",
		       family, plen, got, want);
out:
	return rc;
}

static int
test_against_dpdk(void)
{
	int rc = 0;

	srand(14);
	for (int i = 0; i < ROUNDS && rc == 0; i++)
		rc = one_frame(i % 2 ? 6 : 4);
	return rc;
}

/* A sum of 0xffff is sent as 0xffff (RFC 768: 0 says there is no checksum). */
static int
test_zero_sent_as_ones(void)
{
	struct dp_hdr_sums sums = { .ph = 0, .ports = 0 };
	int rc = 0;

	/* The length's two words, the payload's making the whole sum 0xffff. */
	MF_TEST_EQ(dp_hdr_udp_csum(&sums, 8, 0xffffu - 2u * rte_cpu_to_be_16(8)), 0xffff);
out:
	return rc;
}

static const struct mf_test_case cases[] = {
	{ "against_dpdk", test_against_dpdk },
	{ "zero_sent_as_ones", test_zero_sent_as_ones },
};

MF_TEST_MAIN("hdr", cases)
