/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the Ethernet, ARP, IPv4, IPv6, UDP and ICMP parsers and checksums. */

#include <stdint.h>

#include "mf/mf_pkt.h"
#include "mf_pktbuild.h"
#include "mf_test.h"

static const uint8_t src4[4] = { 10, 99, 1, 1 };
static const uint8_t dst4[4] = { 10, 99, 1, 2 };

static size_t
frame4(uint8_t *f, size_t plen)
{
	uint8_t pl[1500];

	memset(pl, 0xab, sizeof(pl));
	return pb_udp4(f, src4, 4000, dst4, 5004, pl, plen);
}

/* Ethernet + IPv6 + hop-by-hop + destination options + UDP. */
static size_t
frame6(uint8_t *f, int nb_ext)
{
	uint8_t *ip = f + 14, *x;
	size_t plen = 8 + 16 + (size_t)nb_ext * 8;
	int i;

	memset(f, 0, 14 + 40 + plen);
	pb_w16(f + 12, MF_ETHER_TYPE_IPV6);
	ip[0] = 0x60;
	pb_w16(ip + 4, (uint16_t)plen);
	ip[6] = nb_ext > 0 ? 0 : MF_IPPROTO_UDP;
	ip[7] = 64;
	ip[8] = 0xfd;
	ip[23] = 1;
	ip[24] = 0xfd;
	ip[39] = 2;
	x = ip + 40;
	for (i = 0; i < nb_ext; i++, x += 8) {
		x[0] = i + 1 < nb_ext ? 60 : MF_IPPROTO_UDP;
		x[1] = 0;	/* 8 bytes */
		x[2] = 1;	/* PadN */
		x[3] = 4;
	}
	pb_w16(x, 4000);
	pb_w16(x + 2, 5004);
	pb_w16(x + 4, 8 + 16);
	return 14 + 40 + plen;
}

static int
test_eth(void)
{
	uint8_t f[64] = { 0 };
	struct mf_eth e;
	unsigned char *d = NULL;
	size_t n;
	int rc = 0;

	pb_w16(f + 12, MF_ETHER_TYPE_VLAN);
	pb_w16(f + 14, 0x2064);			/* PCP 1, VID 100 */
	pb_w16(f + 16, MF_ETHER_TYPE_IPV4);
	MF_TEST_EQ(mf_eth_parse(f, 60, &e), 0);
	MF_TEST_EQ(e.nb_vlan, 1);
	MF_TEST_EQ(e.vlan_tci[0], 0x2064);
	MF_TEST_EQ(e.ethertype, MF_ETHER_TYPE_IPV4);
	MF_TEST_EQ(e.hdr_len, 18);

	pb_w16(f + 12, MF_ETHER_TYPE_QINQ);
	pb_w16(f + 16, MF_ETHER_TYPE_VLAN);
	pb_w16(f + 18, 0x0005);
	pb_w16(f + 20, MF_ETHER_TYPE_IPV6);
	MF_TEST_EQ(mf_eth_parse(f, 60, &e), 0);
	MF_TEST_EQ(e.nb_vlan, 2);
	MF_TEST_EQ(e.vlan_tci[1], 5);
	MF_TEST_EQ(e.ethertype, MF_ETHER_TYPE_IPV6);
	MF_TEST_EQ(e.hdr_len, 22);
	for (n = 0; n < 22; n++) {
		d = mf_test_dup(f, n);
		MF_TEST_EQ(mf_eth_parse(d, n, &e), -MF_PKT_E_ETH_TRUNC);
		free(d);
		d = NULL;
	}
	/* A third tag is more than we accept. */
	pb_w16(f + 20, MF_ETHER_TYPE_VLAN);
	MF_TEST_EQ(mf_eth_parse(f, 60, &e), -MF_PKT_E_ETH_VLAN_DEPTH);
out:
	free(d);
	return rc;
}

static int
test_arp(void)
{
	uint8_t a[28] = { 0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 99, 1, 1,
			  0, 0, 0, 0, 0, 0, 10, 99, 1, 2 };
	struct mf_arp arp;
	unsigned char *d = NULL;
	size_t n;
	int rc = 0;

	MF_TEST_EQ(mf_arp_parse(a, sizeof(a), &arp), 0);
	MF_TEST_EQ(arp.op, MF_ARP_OP_REQUEST);
	MF_TEST_EQ(arp.tpa[3], 2);
	MF_TEST_EQ(arp.spa[3], 1);
	MF_TEST_EQ(arp.sha[5], 1);
	for (n = 0; n < sizeof(a); n++) {
		d = mf_test_dup(a, n);
		MF_TEST_EQ(mf_arp_parse(d, n, &arp), -MF_PKT_E_ARP_TRUNC);
		free(d);
		d = NULL;
	}
	a[1] = 6;	/* IEEE 802 hardware type */
	MF_TEST_EQ(mf_arp_parse(a, sizeof(a), &arp), -MF_PKT_E_ARP_FORMAT);
	a[1] = 1;
	a[5] = 16;	/* IPv6-sized protocol address */
	MF_TEST_EQ(mf_arp_parse(a, sizeof(a), &arp), -MF_PKT_E_ARP_FORMAT);
out:
	free(d);
	return rc;
}

static int
test_ipv4(void)
{
	uint8_t f[1600];
	uint8_t *ip = f + 14;
	struct mf_ip info;
	size_t len = frame4(f, 100);
	int rc = 0;

	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(info.version, 4);
	MF_TEST_EQ(info.proto, MF_IPPROTO_UDP);
	MF_TEST_EQ(info.hdr_len, 20);
	MF_TEST_EQ(info.total_len, 128);
	MF_TEST_EQ(info.flags, 0);
	MF_TEST_EQ(memcmp(info.dst, dst4, 4), 0);
	MF_TEST_EQ(mf_csum_fold(mf_csum_partial(ip, 20, 0)), 0);	/* header checksum */

	ip[0] = 0x55;
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), -MF_PKT_E_IP4_VERSION);
	ip[0] = 0x44;
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), -MF_PKT_E_IP4_IHL);
	ip[0] = 0x4f;	/* 60 bytes of header, but total length says 128: fine structurally */
	memset(ip + 20, 1, 40);	/* NOPs */
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(info.flags, MF_IP_F_OPTIONS);
	MF_TEST_EQ(mf_ipv4_parse(ip, 50, &info), -MF_PKT_E_IP4_IHL);
	ip[0] = 0x46;	/* one option word: record route with a length that lies */
	ip[20] = 7;
	ip[21] = 9;
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), -MF_PKT_E_IP4_OPTIONS);
	ip[21] = 0;
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), -MF_PKT_E_IP4_OPTIONS);
	ip[21] = 4;
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), 0);
	ip[20] = 0;	/* end of options list */
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), 0);

	len = frame4(f, 100);
	pb_w16(ip + 2, 19);
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), -MF_PKT_E_IP4_TOTLEN);
	pb_w16(ip + 2, (uint16_t)(len - 14 + 1));
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), -MF_PKT_E_IP4_TOTLEN);
	pb_w16(ip + 2, (uint16_t)(len - 14));
	pb_w16(ip + 6, 0x2000);	/* more fragments */
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(info.flags, MF_IP_F_FRAGMENT | MF_IP_F_MORE_FRAGS);
	pb_w16(ip + 6, 0x0010);	/* offset 128 bytes, last fragment */
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(info.flags, MF_IP_F_FRAGMENT);
	MF_TEST_EQ(info.frag_off, 128);
	MF_TEST_EQ(mf_ipv4_parse(ip, 19, &info), -MF_PKT_E_IP4_TRUNC);
out:
	return rc;
}

static int
test_ipv6(void)
{
	uint8_t f[256];
	uint8_t *ip = f + 14;
	struct mf_ip info;
	size_t len;
	int rc = 0;

	len = frame6(f, 0);
	MF_TEST_EQ(mf_ipv6_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(info.proto, MF_IPPROTO_UDP);
	MF_TEST_EQ(info.hdr_len, 40);
	MF_TEST_EQ(info.flags, 0);
	MF_TEST_EQ(info.dst[15], 2);

	len = frame6(f, 3);
	MF_TEST_EQ(mf_ipv6_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(info.proto, MF_IPPROTO_UDP);
	MF_TEST_EQ(info.hdr_len, 64);
	MF_TEST_EQ(info.flags, MF_IP_F_OPTIONS);

	len = frame6(f, MF_IP6_MAX_EXT + 1);
	MF_TEST_EQ(mf_ipv6_parse(ip, len - 14, &info), -MF_PKT_E_IP6_EXT_DEPTH);
	len = frame6(f, MF_IP6_MAX_EXT);
	MF_TEST_EQ(mf_ipv6_parse(ip, len - 14, &info), 0);

	len = frame6(f, 2);
	ip[41] = 200;	/* first extension claims 1608 bytes */
	MF_TEST_EQ(mf_ipv6_parse(ip, len - 14, &info), -MF_PKT_E_IP6_EXT_TRUNC);
	len = frame6(f, 1);
	ip[6] = 44;	/* the extension is now a fragment header */
	pb_w16(ip + 42, 0x0009);	/* offset 8, more fragments */
	MF_TEST_EQ(mf_ipv6_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(info.frag_off, 8);
	MF_TEST_EQ(info.flags, MF_IP_F_FRAGMENT | MF_IP_F_MORE_FRAGS | MF_IP_F_OPTIONS);

	len = frame6(f, 0);
	pb_w16(ip + 4, 1000);
	MF_TEST_EQ(mf_ipv6_parse(ip, len - 14, &info), -MF_PKT_E_IP6_PLEN);
	ip[0] = 0x40;
	MF_TEST_EQ(mf_ipv6_parse(ip, len - 14, &info), -MF_PKT_E_IP6_VERSION);
	MF_TEST_EQ(mf_ipv6_parse(ip, 39, &info), -MF_PKT_E_IP6_TRUNC);
out:
	return rc;
}

static int
test_udp_icmp(void)
{
	uint8_t u[16] = { 0x0f, 0xa0, 0x13, 0x8c, 0, 16, 0, 0 };
	uint8_t echo[16] = { 8, 0, 0, 0, 0x12, 0x34, 0, 7 };
	struct mf_udp udp;
	struct mf_icmp ic;
	int rc = 0;

	MF_TEST_EQ(mf_udp_parse(u, 16, &udp), 0);
	MF_TEST_EQ(udp.sport, 4000);
	MF_TEST_EQ(udp.dport, 5004);
	MF_TEST_EQ(udp.len, 16);
	MF_TEST_EQ(mf_udp_parse(u, 15, &udp), -MF_PKT_E_UDP_LEN);
	MF_TEST_EQ(mf_udp_parse(u, 7, &udp), -MF_PKT_E_UDP_TRUNC);
	u[5] = 7;
	MF_TEST_EQ(mf_udp_parse(u, 16, &udp), -MF_PKT_E_UDP_LEN);

	MF_TEST_EQ(mf_icmp_parse(echo, 16, false, &ic), 0);
	MF_TEST_ASSERT(ic.is_echo_request, "ICMP type 8 is an echo request");
	MF_TEST_EQ(ic.id, 0x1234);
	MF_TEST_EQ(ic.seq, 7);
	MF_TEST_EQ(mf_icmp_parse(echo, 16, true, &ic), 0);
	MF_TEST_ASSERT(!ic.is_echo_request, "type 8 is not an ICMPv6 echo request");
	echo[0] = MF_ICMP6_ECHO_REQUEST;
	MF_TEST_EQ(mf_icmp_parse(echo, 16, true, &ic), 0);
	MF_TEST_ASSERT(ic.is_echo_request, "ICMPv6 128 is an echo request");
	MF_TEST_EQ(mf_icmp_parse(echo, 7, true, &ic), -MF_PKT_E_ICMP_TRUNC);
out:
	return rc;
}

/* The whole chain, and every truncation of a valid frame is refused without a stray read. */
static int
test_parse_udp_chain(void)
{
	uint8_t f[1600];
	struct mf_pkt_l4 p;
	unsigned char *d = NULL;
	size_t len, n;
	int rc = 0, r;

	len = frame4(f, 172);
	MF_TEST_EQ(mf_pkt_parse_udp(f, len, &p), 0);
	MF_TEST_EQ(p.l3_off, 14);
	MF_TEST_EQ(p.l4_off, 34);
	MF_TEST_EQ(p.payload_off, 42);
	MF_TEST_EQ(p.payload_len, 172);
	MF_TEST_EQ(p.udp.dport, 5004);
	/* The checksum we wrote verifies: the sum over pseudo-header and datagram is 0xffff. */
	MF_TEST_EQ(mf_csum_udp(&p.ip, f + p.l4_off, p.udp.len),
		   (uint16_t)(f[p.l4_off + 6] << 8 | f[p.l4_off + 7]));
	/* Ethernet padding after the IP packet is not part of it. */
	MF_TEST_EQ(mf_pkt_parse_udp(f, len + 10, &p), 0);
	MF_TEST_EQ(p.payload_len, 172);
	for (n = 0; n < len; n++) {
		d = mf_test_dup(f, n);
		r = mf_pkt_parse_udp(d, n, &p);
		MF_TEST_ASSERT(r < 0, "truncated at %zu: %d", n, r);
		free(d);
		d = NULL;
	}
	len = frame6(f, 2);
	MF_TEST_EQ(mf_pkt_parse_udp(f, len, &p), 0);
	MF_TEST_EQ(p.payload_len, 16);
	MF_TEST_EQ(p.l4_off, 14 + 56);
	for (n = 0; n < len; n++) {
		d = mf_test_dup(f, n);
		r = mf_pkt_parse_udp(d, n, &p);
		MF_TEST_ASSERT(r < 0, "truncated at %zu: %d", n, r);
		free(d);
		d = NULL;
	}
	/* Not UDP: ARP by ethertype, ICMP by protocol, a later fragment. */
	len = frame4(f, 20);
	pb_w16(f + 12, MF_ETHER_TYPE_ARP);
	MF_TEST_EQ(mf_pkt_parse_udp(f, len, &p), MF_PKT_NON_IP);
	MF_TEST_EQ(p.eth.ethertype, MF_ETHER_TYPE_ARP);
	pb_w16(f + 12, 0x0000);	/* an 802.3 length field is no success */
	MF_TEST_EQ(mf_pkt_parse_udp(f, len, &p), MF_PKT_NON_IP);
	pb_w16(f + 12, MF_ETHER_TYPE_IPV4);
	f[14 + 9] = MF_IPPROTO_ICMP;
	MF_TEST_EQ(mf_pkt_parse_udp(f, len, &p), MF_PKT_NON_UDP);
	MF_TEST_EQ(p.ip.proto, MF_IPPROTO_ICMP);
	f[14 + 9] = 0;		/* IPv4 protocol 0 (HOPOPT) is no success either */
	MF_TEST_EQ(mf_pkt_parse_udp(f, len, &p), MF_PKT_NON_UDP);
	f[14 + 9] = MF_IPPROTO_UDP;
	pb_w16(f + 14 + 6, 0x0003);
	MF_TEST_EQ(mf_pkt_parse_udp(f, len, &p), MF_PKT_FRAGMENT);
	pb_w16(f + 14 + 6, 0x2000);	/* a first fragment is refused too */
	MF_TEST_EQ(mf_pkt_parse_udp(f, len, &p), MF_PKT_FRAGMENT);
	/* A UDP length that lies beyond the IP payload. */
	len = frame4(f, 20);
	pb_w16(f + 34 + 4, 29);
	MF_TEST_EQ(mf_pkt_parse_udp(f, len, &p), -MF_PKT_E_UDP_LEN);
out:
	free(d);
	return rc;
}

static int
test_csum(void)
{
	/* RFC 1071 example words: 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d. */
	static const uint8_t words[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	static const uint8_t odd[] = { 0x01 };
	int rc = 0;

	MF_TEST_EQ(mf_csum_fold(mf_csum_partial(words, sizeof(words), 0)), 0x220d);
	MF_TEST_EQ(mf_csum_fold(mf_csum_partial(words + 2, 6, mf_csum_partial(words, 2, 0))),
		   0x220d);
	MF_TEST_EQ(mf_csum_partial(odd, 1, 0), 0x0100);
	MF_TEST_EQ(mf_csum_partial(odd, 0, 0), 0);
out:
	return rc;
}

/* A word at a time, as DPDK's rte_raw_cksum() does: the reference for mf_csum_host(). */
static uint16_t
ref_host_sum(const uint8_t *p, size_t len)
{
	uint32_t s = 0;
	uint16_t v;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		memcpy(&v, p + i, 2);
		s += v;
	}
	if (len & 1) {
		v = 0;
		memcpy(&v, p + len - 1, 1);
		s += v;
	}
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)((s & 0xffff) + (s >> 16));
}

/* Every length up to 1,600 bytes at every alignment, on random bytes, all-0xff bytes (the
 * sums that carry most) and zeros: the same value as a word at a time. */
static int
test_csum_host(void)
{
	static uint8_t buf[1600 + 8];
	size_t len, off;
	unsigned int fill;
	uint32_t x = 12345;
	int rc = 0;

	for (fill = 0; fill < 3; fill++) {
		for (len = 0; len < sizeof(buf); len++) {
			x = x * 1103515245u + 12345u;
			buf[len] = fill == 0 ? (uint8_t)(x >> 16) : fill == 1 ? 0xff : 0;
		}
		for (len = 0; len <= 1600; len++)
			for (off = 0; off < 8; off++)
				if (mf_csum_host(buf + off, len) != ref_host_sum(buf + off, len)) {
					fprintf(stderr, "fill %u len %zu off %zu: %04x != %04x\n",
						fill, len, off, mf_csum_host(buf + off, len),
						ref_host_sum(buf + off, len));
					MF_TEST_EQ(1, 0);
				}
	}
out:
	return rc;
}

static int
test_err_names(void)
{
	int e, rc = 0;

	for (e = 1; e < MF_PKT_E_MAX; e++) {
		MF_TEST_ASSERT(strcmp(mf_pkt_err_name(-e), "unknown") != 0, "name of %d", e);
		MF_TEST_ASSERT(strlen(mf_pkt_err_desc(e)) > 5, "description of %d", e);
	}
	MF_TEST_ASSERT(strcmp(mf_pkt_err_name(-MF_PKT_E_MAX), "unknown") == 0, "out of range");
	MF_TEST_ASSERT(strcmp(mf_pkt_err_name(-MF_PKT_E_RTP_VERSION), "RTP_VERSION") == 0,
		       "names come from the X-macro list");
out:
	return rc;
}

/* Each reason a fragment is refused before reassembly, at its bound. */
static int
test_frag_check(void)
{
	uint8_t f[1600];
	uint8_t *ip = f + 14;
	struct mf_ip info;
	size_t len;
	int rc = 0;

	len = frame4(f, 1472);				/* 1480 bytes of IP payload */
	pb_w16(ip + 6, 0x2000);				/* first of several */
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(mf_frag_check(&info, ip, 9000), 0);
	MF_TEST_EQ(mf_frag_check(&info, ip, 1499), -MF_PKT_E_FRAG_SIZE);
	MF_TEST_EQ(mf_frag_check(&info, ip, 1500), 0);	/* 20 + 1480 */
	pb_w16(ip + 6, 0x2000 | (65528 / 8));		/* offset 65528, 1480 more: too far */
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(mf_frag_check(&info, ip, 1u << 20), -MF_PKT_E_FRAG_SIZE);
	pb_w16(ip + 6, 64000 / 8);			/* last, ends at 65480: fits 64 KB */
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(mf_frag_check(&info, ip, 1u << 20), 0);

	len = frame4(f, 0);				/* 8 bytes: the UDP header only */
	pb_w16(ip + 2, 20 + 7);				/* a first fragment of 7 bytes */
	pb_w16(ip + 6, 0x2000);
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(mf_frag_check(&info, ip, 9000), -MF_PKT_E_FRAG_TINY);
	pb_w16(ip + 6, 0x2001);				/* the same at offset 8: misaligned */
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(mf_frag_check(&info, ip, 9000), -MF_PKT_E_FRAG_ALIGN);
	pb_w16(ip + 6, 0x0001);				/* last: any length */
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(mf_frag_check(&info, ip, 9000), 0);
	pb_w16(ip + 2, 20);				/* no payload at all */
	MF_TEST_EQ(mf_ipv4_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(mf_frag_check(&info, ip, 9000), -MF_PKT_E_FRAG_EMPTY);

	len = frame6(f, 1);
	ip[6] = 44;					/* fragment header first: fine */
	pb_w16(ip + 42, 0x0008);			/* offset 8, last */
	MF_TEST_EQ(mf_ipv6_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(mf_frag_check(&info, ip, 9000), 0);
	len = frame6(f, 2);				/* after a hop-by-hop header */
	ip[40] = 44;
	pb_w16(ip + 50, 0x0008);
	MF_TEST_EQ(mf_ipv6_parse(ip, len - 14, &info), 0);
	MF_TEST_EQ(info.flags & MF_IP_F_FRAGMENT, MF_IP_F_FRAGMENT);
	MF_TEST_EQ(mf_frag_check(&info, ip, 9000), -MF_PKT_E_FRAG_EXT);
out:
	return rc;
}

static const struct mf_test_case cases[] = {
	{ "eth", test_eth },
	{ "arp", test_arp },
	{ "ipv4", test_ipv4 },
	{ "ipv6", test_ipv6 },
	{ "udp_icmp", test_udp_icmp },
	{ "parse_udp_chain", test_parse_udp_chain },
	{ "csum", test_csum },
	{ "csum_host", test_csum_host },
	{ "frag_check", test_frag_check },
	{ "err_names", test_err_names },
};

MF_TEST_MAIN("pkt", cases)
