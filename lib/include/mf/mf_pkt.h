/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Parsers for Ethernet (up to two VLAN tags), ARP, IPv4, IPv6, UDP and ICMP/ICMPv6 echo,
 * and the Internet checksum.
 *
 * Every parser takes untrusted bytes and a length, reads nothing beyond that length, trusts
 * no length field, and returns 0 or a negative enum mf_pkt_err naming the reason. They
 * allocate nothing and keep no state: any thread may call them. Multi-byte fields in the
 * results are in host order except addresses, which are kept as the bytes on the wire.
 */
#ifndef MF_PKT_H
#define MF_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum mf_pkt_err {
	MF_PKT_OK = 0,
#define X(name, desc) MF_PKT_E_##name,
#include "mf/mf_pkt_err.inc"
#undef X
	MF_PKT_E_MAX
};

/** Short name of a reason ("ip4_ihl") for counters; accepts the negative return value. */
const char *mf_pkt_err_name(int err);
/** One-sentence description of a reason. */
const char *mf_pkt_err_desc(int err);

#define MF_ETHER_TYPE_IPV4	0x0800
#define MF_ETHER_TYPE_ARP	0x0806
#define MF_ETHER_TYPE_IPV6	0x86dd
#define MF_ETHER_TYPE_VLAN	0x8100
#define MF_ETHER_TYPE_QINQ	0x88a8
#define MF_ETHER_TYPE_QINQ_OLD	0x9100
#define MF_ETH_HDR_LEN		14
#define MF_ETH_MAX_VLAN		2

struct mf_eth {
	uint8_t dst[6];
	uint8_t src[6];
	uint16_t ethertype;		/* of the payload, after the VLAN tags */
	uint16_t vlan_tci[MF_ETH_MAX_VLAN];
	uint8_t nb_vlan;
	uint16_t hdr_len;		/* 14 + 4 per tag */
};
int mf_eth_parse(const uint8_t *p, size_t len, struct mf_eth *e);

#define MF_ARP_OP_REQUEST	1
#define MF_ARP_OP_REPLY		2
#define MF_ARP_LEN		28

struct mf_arp {
	uint16_t op;
	uint8_t sha[6];
	uint8_t spa[4];
	uint8_t tha[6];
	uint8_t tpa[4];
};
int mf_arp_parse(const uint8_t *p, size_t len, struct mf_arp *a);

#define MF_IP_F_OPTIONS		0x01	/* IPv4 options or IPv6 extension headers present */
#define MF_IP_F_MORE_FRAGS	0x02	/* more fragments follow */
#define MF_IP_F_FRAGMENT	0x04	/* a fragment: offset != 0 or more fragments follow */
#define MF_IP6_MAX_EXT		8	/* extension headers walked before giving up */

#define MF_IPPROTO_ICMP		1
#define MF_IPPROTO_UDP		17
#define MF_IPPROTO_ICMPV6	58

struct mf_ip {
	uint8_t version;	/* 4 or 6 */
	uint8_t proto;		/* upper-layer protocol, after IPv6 extension headers */
	uint8_t ttl;		/* TTL or hop limit */
	uint8_t flags;		/* MF_IP_F_* */
	uint8_t tos;		/* IPv4 TOS or IPv6 traffic class */
	uint16_t hdr_len;	/* bytes up to the upper-layer header */
	uint16_t total_len;	/* bytes of the IP packet as its length field says */
	uint16_t frag_off;	/* fragment offset in bytes */
	uint8_t src[16];	/* IPv4: the first 4 bytes */
	uint8_t dst[16];
};
int mf_ipv4_parse(const uint8_t *p, size_t len, struct mf_ip *ip);
int mf_ipv6_parse(const uint8_t *p, size_t len, struct mf_ip *ip);

#define MF_UDP_HDR_LEN		8

struct mf_udp {
	uint16_t sport;
	uint16_t dport;
	uint16_t len;		/* header + payload, as the length field says (validated) */
	uint16_t csum;
};
/** @p len is the IP payload length (from mf_ip: total_len - hdr_len). */
int mf_udp_parse(const uint8_t *p, size_t len, struct mf_udp *u);

#define MF_ICMP_ECHO_REPLY	0
#define MF_ICMP_ECHO_REQUEST	8
#define MF_ICMP6_ECHO_REQUEST	128
#define MF_ICMP6_ECHO_REPLY	129
#define MF_ICMP6_NS		135
#define MF_ICMP6_NA		136

struct mf_icmp {
	uint8_t type;
	uint8_t code;
	uint16_t id;		/* echo only */
	uint16_t seq;		/* echo only */
	bool is_echo_request;	/* ICMP 8/0 or ICMPv6 128/0 */
};
/** @p v6 selects ICMPv6 type numbers. */
int mf_icmp_parse(const uint8_t *p, size_t len, bool v6, struct mf_icmp *ic);

/** One frame parsed down to UDP: what the dataplane's first stage fills. */
struct mf_pkt_l4 {
	struct mf_eth eth;
	struct mf_ip ip;
	struct mf_udp udp;
	uint16_t l3_off;
	uint16_t l4_off;
	uint16_t payload_off;	/* UDP payload */
	uint16_t payload_len;
};
/* What mf_pkt_parse_udp() found when the frame is not a UDP datagram it can parse. */
#define MF_PKT_NON_IP		0x10000	/* eth filled: see eth.ethertype (ARP, LLC...) */
#define MF_PKT_NON_UDP		0x10001	/* eth and ip filled: see ip.proto */
#define MF_PKT_FRAGMENT		0x10002	/* an IP fragment, first or not: eth and ip filled */
/**
 * Ethernet -> IPv4/IPv6 -> UDP in one call.
 * @return 0 when the frame is UDP (all of @p out filled); MF_PKT_NON_IP, MF_PKT_NON_UDP or
 *   MF_PKT_FRAGMENT (positive) with the layers reached filled; or a negative mf_pkt_err.
 */
int mf_pkt_parse_udp(const uint8_t *p, size_t len, struct mf_pkt_l4 *out);

/**
 * Check one IP fragment (mf_pkt_parse_udp() said MF_PKT_FRAGMENT) before it may join a
 * reassembly: it carries payload; a first fragment holds at least the UDP header; a
 * fragment followed by more is a multiple of 8 bytes; it ends within 65,535 bytes of IP
 * payload and within @p max_datagram bytes of datagram (IP header included); an IPv6
 * fragment header comes right after the fixed header (@p l3: the IP header the parser
 * read). What it does not see (overlaps, duplicates, a missing piece) is the reassembly's
 * to refuse.
 * @return 0, or a negative mf_pkt_err (MF_PKT_E_FRAG_*).
 */
int mf_frag_check(const struct mf_ip *ip, const uint8_t *l3, uint32_t max_datagram);

/**
 * The one's-complement sum of @p len bytes taken as 16-bit words in host order, folded to
 * 16 bits (never 0 unless every byte is): the value of DPDK's rte_raw_cksum(), which sums a
 * word at a time; this takes 8 bytes at a time. An odd last byte counts as the first byte
 * of a word whose second is 0. For the fast path: inline, any alignment.
 */
static inline uint16_t
mf_csum_host(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t s = 0, v;
	uint32_t w;
	uint16_t h = 0;

	/* Modulo 2^64 - 1 (an end-around carry), which 65535 divides: the fold below gives
	 * the sum of the 16-bit words. */
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&v, p, 8);
		s += v;
		s += s < v;
	}
	if (len >= 4) {
		memcpy(&w, p, 4);
		s += w;
		s += s < w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		s += h;
		s += s < h;
		p += 2;
		len -= 2;
		h = 0;
	}
	if (len) {
		memcpy(&h, p, 1);
		s += h;
		s += s < h;
	}
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)((s & 0xffff) + (s >> 16));
}

/** Internet checksum: the one's-complement sum of @p len bytes as big-endian words, not
 * complemented, added to @p sum (a partial sum of the same kind); mf_csum_fold() ends it. */
uint32_t mf_csum_partial(const void *p, size_t len, uint32_t sum);
uint16_t mf_csum_fold(uint32_t sum);
/** Checksum of a UDP datagram over IPv4 or IPv6 (pseudo-header included); 0 is sent as 0xffff. */
uint16_t mf_csum_udp(const struct mf_ip *ip, const uint8_t *udp, size_t udp_len);

#endif /* MF_PKT_H */
