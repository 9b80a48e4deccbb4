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

#endif /* DP_HDR_H */
