/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4 or IPv6 and UDP headers of a datagram the dataplane sends (fan-out copies, feedback
 * to sources): one writer, so every frame leaves with the same TTL, DF and layout. Both
 * checksums are left 0: the caller fills or offloads them. A leaf: static inlines only.
 */
#ifndef DP_HDR_H
#define DP_HDR_H

#include <rte_ip.h>
#include <rte_udp.h>

#include "mf/mf_pkt.h"

#define DP_HDR_TTL	64

/** Write the headers at @p l3 for @p udp_len bytes of UDP (its header included) from
 * @p src to @p dst (4 or 16 bytes by @p family). @return the UDP header. */
static inline struct rte_udp_hdr *
dp_hdr_ip_udp(uint8_t *l3, uint8_t family, const uint8_t *src, const uint8_t *dst,
	      uint16_t sport, uint16_t dport, uint16_t udp_len)
{
	struct rte_udp_hdr *udp;

	if (family == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)l3;

		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->type_of_service = 0;
		ip->total_length = rte_cpu_to_be_16((uint16_t)(udp_len + sizeof(*ip)));
		ip->packet_id = 0;
		ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
		ip->time_to_live = DP_HDR_TTL;
		ip->next_proto_id = IPPROTO_UDP;
		ip->hdr_checksum = 0;
		memcpy(&ip->src_addr, src, 4);
		memcpy(&ip->dst_addr, dst, 4);
		udp = (struct rte_udp_hdr *)(ip + 1);
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)l3;

		ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
		ip->payload_len = rte_cpu_to_be_16(udp_len);
		ip->proto = IPPROTO_UDP;
		ip->hop_limits = DP_HDR_TTL;
		memcpy(ip->src_addr, src, 16);
		memcpy(ip->dst_addr, dst, 16);
		udp = (struct rte_udp_hdr *)(ip + 1);
	}
	udp->src_port = rte_cpu_to_be_16(sport);
	udp->dst_port = rte_cpu_to_be_16(dport);
	udp->dgram_len = rte_cpu_to_be_16(udp_len);
	udp->dgram_cksum = 0;
	return udp;
}

/* The checksum sums of what the headers of one sender to one receiver keep from frame to
 * frame, so that each frame's checksums cost a few additions (sums of 16-bit words as
 * loaded, folded to 16 bits, not complemented; a frame adds its lengths). */
struct dp_hdr_sums {
	uint32_t ip4;			/* the IPv4 header but its length and checksum */
	uint32_t ph;			/* the pseudo-header but its length */
	uint32_t ports;			/* the UDP ports */
};

/** The sums of the headers dp_hdr_ip_udp() writes for these addresses and ports. */
static inline void
dp_hdr_sums(struct dp_hdr_sums *sums, uint8_t family, const uint8_t *src, const uint8_t *dst,
	    uint16_t sport, uint16_t dport)
{
	uint8_t h[sizeof(struct rte_ipv6_hdr) + sizeof(struct rte_udp_hdr)];
	struct rte_udp_hdr *udp = dp_hdr_ip_udp(h, family, src, dst, sport, dport, 0);

	/* With no UDP bytes the length fields are 0 but IPv4's, which counts its header. */
	if (family == 4) {
		sums->ph = rte_ipv4_phdr_cksum((const struct rte_ipv4_hdr *)h, 0);
		((struct rte_ipv4_hdr *)h)->total_length = 0;
		sums->ip4 = mf_csum_host(h, sizeof(struct rte_ipv4_hdr));
	} else {
		sums->ip4 = 0;
		sums->ph = rte_ipv6_phdr_cksum((const struct rte_ipv6_hdr *)h, 0);
	}
	sums->ports = mf_csum_host(udp, 4);
}

static inline uint16_t
dp_hdr_fold(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)((s & 0xffff) + (s >> 16));
}

/** The IPv4 header checksum of a frame of @p udp_len UDP bytes. */
static inline uint16_t
dp_hdr_ip4_csum(const struct dp_hdr_sums *sums, uint16_t udp_len)
{
	return (uint16_t)~dp_hdr_fold(sums->ip4 + rte_cpu_to_be_16((uint16_t)(udp_len +
							sizeof(struct rte_ipv4_hdr))));
}

/** The pseudo-header sum a NIC completes when it offloads the UDP checksum. */
static inline uint16_t
dp_hdr_ph_sum(const struct dp_hdr_sums *sums, uint16_t udp_len)
{
	return dp_hdr_fold(sums->ph + rte_cpu_to_be_16(udp_len));
}

/** The UDP checksum of @p udp_len bytes whose payload sums to @p payload_sum (16-bit words
 * as loaded; up to 2^31). The length counts twice: the pseudo-header's and the header's. */
static inline uint16_t
dp_hdr_udp_csum(const struct dp_hdr_sums *sums, uint16_t udp_len, uint32_t payload_sum)
{
	uint16_t c = (uint16_t)~dp_hdr_fold(sums->ph + sums->ports + payload_sum +
					    2u * rte_cpu_to_be_16(udp_len));

	return c == 0 ? 0xffff : c;	/* 0 would say "no checksum" */
}

#endif /* DP_HDR_H */
