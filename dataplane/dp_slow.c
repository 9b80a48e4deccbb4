/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The slow path, on the control lcore: frames the workers punted (ARP, ICMP, ICMPv6; STUN
 * from ICE sessions goes on to dp_ice.c) and the frames it sends itself (ARP requests and
 * replies, gratuitous ARP, IPv6 neighbour solicitations and advertisements, echo replies).
 * Replies are built in the received mbuf where they can be; everything leaves through a
 * worker's TX queue (dp_tx_from_ctrl()).
 */

#include <string.h>

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include <rte_cycles.h>

#include "dp.h"
#include "dp_dtls.h"
#include "dp_ice.h"
#include "dp_tx.h"
#include "mf/mf_rtp.h"

#define ND_OPT_SLL	1
#define ND_OPT_TLL	2

/* Workers set m->port to our index of the arrival port (dp_pipeline_rx()), not the
 * ethdev's id. */
static struct dp_port *
port_of_mbuf(const struct rte_mbuf *m)
{
	return dp_port_by_index(m->port);
}

static void
count(unsigned int ctr)
{
	dp.node_ctr[ctr]++;
}

/* ---- ARP ---- */

static void
arp_input(struct dp_port *p, struct rte_mbuf *m, uint16_t l3)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	uint8_t *a = rte_pktmbuf_mtod_offset(m, uint8_t *, l3);
	struct mf_addr sender;
	struct mf_arp arp;

	count(DP_CTR_arp_rx);
	if (mf_arp_parse(a, m->data_len - l3, &arp) != 0 || !dp_port_owns(p, 4, arp.tpa)) {
		rte_pktmbuf_free(m);
		return;
	}
	memset(&sender, 0, sizeof(sender));
	sender.family = 4;
	memcpy(sender.a, arp.spa, 4);
	dp_neigh_learn(p->index, &sender, arp.sha);
	if (arp.op != MF_ARP_OP_REQUEST) {
		rte_pktmbuf_free(m);
		return;
	}
	/* Answer in place: the requester becomes the target. */
	memcpy(eth->dst_addr.addr_bytes, arp.sha, 6);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	a[7] = MF_ARP_OP_REPLY;
	memcpy(a + 8, p->mac.addr_bytes, 6);
	memcpy(a + 14, arp.tpa, 4);
	memcpy(a + 18, arp.sha, 6);
	memcpy(a + 24, arp.spa, 4);
	count(DP_CTR_arp_reply_tx);
	dp_tx_from_ctrl(p->index, m);
}

static struct rte_mbuf *
frame_new(struct dp_port *p, const uint8_t *dst_mac, uint16_t ethertype, uint16_t len,
	  uint8_t **l3)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp.pool);
	struct rte_ether_hdr *eth;

	if (m == NULL)
		return NULL;
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, (uint16_t)(sizeof(*eth) + len));
	if (eth == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memcpy(eth->dst_addr.addr_bytes, dst_mac, 6);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(ethertype);
	*l3 = (uint8_t *)(eth + 1);
	memset(*l3, 0, len);
	return m;
}

static void
arp_request(struct dp_port *p, const uint8_t *target, bool gratuitous)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t *src = dp_port_src_addr(p, 4);
	struct rte_mbuf *m;
	uint8_t *a;

	if (src == NULL)
		return;
	m = frame_new(p, bcast, RTE_ETHER_TYPE_ARP, MF_ARP_LEN, &a);
	if (m == NULL)
		return;
	a[1] = 1;				/* Ethernet */
	a[2] = 0x08;				/* IPv4 */
	a[4] = 6;
	a[5] = 4;
	a[7] = MF_ARP_OP_REQUEST;
	memcpy(a + 8, p->mac.addr_bytes, 6);
	memcpy(a + 14, gratuitous ? target : src, 4);
	memcpy(a + 24, target, 4);
	count(DP_CTR_arp_request_tx);
	dp_tx_from_ctrl(p->index, m);
}

/* ---- ICMP echo ---- */

/* Send a reply built in the received frame back to where it came from. */
static void
reply(struct dp_port *p, struct rte_mbuf *m, unsigned int ctr)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	m->ol_flags = 0;
	count(ctr);
	dp_tx_from_ctrl(p->index, m);
}

static void
icmp4_input(struct dp_port *p, struct rte_mbuf *m, const struct mf_eth *e)
{
	uint8_t *l3 = rte_pktmbuf_mtod_offset(m, uint8_t *, e->hdr_len);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)l3;
	struct mf_icmp ic;
	struct mf_ip info;
	uint8_t *icmp;
	uint16_t ilen;
	uint32_t tmp;

	if (mf_ipv4_parse(l3, m->data_len - e->hdr_len, &info) != 0 ||
	    (info.flags & MF_IP_F_FRAGMENT) || !dp_port_owns(p, 4, info.dst))
		goto ignore;
	icmp = l3 + info.hdr_len;
	ilen = (uint16_t)(info.total_len - info.hdr_len);
	if (mf_icmp_parse(icmp, ilen, false, &ic) != 0 || !ic.is_echo_request)
		goto ignore;
	tmp = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = tmp;
	ip->time_to_live = 64;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	icmp[0] = MF_ICMP_ECHO_REPLY;
	icmp[2] = icmp[3] = 0;
	tmp = (uint16_t)~rte_raw_cksum(icmp, ilen);
	memcpy(icmp + 2, &tmp, 2);
	reply(p, m, DP_CTR_icmp_echo_tx);
	return;
ignore:
	count(DP_CTR_slow_other);
	rte_pktmbuf_free(m);
}

/* ---- IPv6: echo and neighbour discovery ---- */

static void
icmp6_csum(struct rte_ipv6_hdr *ip, uint8_t *icmp)
{
	uint16_t c;

	icmp[2] = icmp[3] = 0;
	c = rte_ipv6_udptcp_cksum(ip, icmp);
	memcpy(icmp + 2, &c, 2);
}

/* The link-layer address option of type @p want in an ND message, or NULL. */
static const uint8_t *
nd_option(const uint8_t *opt, uint16_t len, uint8_t want)
{
	uint16_t off = 0;

	while (off + 8 <= len && opt[off + 1] != 0) {
		if (opt[off] == want)
			return opt + off + 2;
		off = (uint16_t)(off + opt[off + 1] * 8);
	}
	return NULL;
}

static void
nd_learn(struct dp_port *p, const uint8_t *ip, const uint8_t *mac)
{
	struct mf_addr a;

	if (mac == NULL)
		return;
	a.family = 6;
	memcpy(a.a, ip, 16);
	dp_neigh_learn(p->index, &a, mac);
}

/* Reply in place to a solicitation for one of our addresses: a solicited advertisement,
 * 32 bytes of ICMPv6, longer than a solicitation without options (a unicast probe). */
static void
nd_advertise(struct dp_port *p, struct rte_mbuf *m, struct rte_ipv6_hdr *ip, uint8_t *icmp,
	     const uint8_t *target)
{
	const uint8_t *eth = rte_pktmbuf_mtod(m, const uint8_t *);
	uint16_t len = 32, want = (uint16_t)(icmp - eth + len);

	if (m->nb_segs != 1 ||
	    (m->data_len < want ? rte_pktmbuf_append(m, want - m->data_len) == NULL :
	     rte_pktmbuf_trim(m, m->data_len - want) != 0)) {
		count(DP_CTR_slow_other);
		rte_pktmbuf_free(m);
		return;
	}
	memcpy(ip->dst_addr, ip->src_addr, 16);
	memcpy(ip->src_addr, target, 16);
	ip->hop_limits = 255;
	ip->payload_len = rte_cpu_to_be_16(len);
	icmp[0] = MF_ICMP6_NA;
	icmp[1] = 0;
	icmp[4] = 0x60;		/* solicited, override */
	icmp[5] = icmp[6] = icmp[7] = 0;
	memcpy(icmp + 8, target, 16);
	icmp[24] = ND_OPT_TLL;
	icmp[25] = 1;
	memcpy(icmp + 26, p->mac.addr_bytes, 6);
	icmp6_csum(ip, icmp);
	reply(p, m, DP_CTR_nd_tx);
}

static void
icmp6_input(struct dp_port *p, struct rte_mbuf *m, const struct mf_eth *e)
{
	uint8_t *l3 = rte_pktmbuf_mtod_offset(m, uint8_t *, e->hdr_len);
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)l3;
	struct mf_ip info;
	uint8_t *icmp;
	uint16_t ilen;

	if (mf_ipv6_parse(l3, m->data_len - e->hdr_len, &info) != 0 || info.hdr_len != 40 ||
	    info.proto != MF_IPPROTO_ICMPV6)
		goto ignore;
	icmp = l3 + 40;
	ilen = (uint16_t)(info.total_len - 40);
	if (ilen < 8)
		goto ignore;
	/* RFC 4861 7.1: neighbour discovery is link-local; one routed here from elsewhere
	 * (its hop limit spent) must not teach us a MAC. */
	if ((icmp[0] == MF_ICMP6_NS || icmp[0] == MF_ICMP6_NA) &&
	    (info.ttl != 255 || icmp[1] != 0))
		goto ignore;
	if (icmp[0] == MF_ICMP6_NS && ilen >= 24) {
		count(DP_CTR_nd_rx);
		/* Duplicate address detection comes from :: and is not ours to answer. */
		if (memcmp(info.src, (const uint8_t[16]){ 0 }, 16) == 0)
			goto ignore;
		nd_learn(p, info.src, nd_option(icmp + 24, ilen - 24, ND_OPT_SLL));
		if (!dp_port_owns(p, 6, icmp + 8))
			goto ignore;
		nd_advertise(p, m, ip, icmp, icmp + 8);
		return;
	}
	if (icmp[0] == MF_ICMP6_NA && ilen >= 24) {
		count(DP_CTR_nd_rx);
		nd_learn(p, icmp + 8, nd_option(icmp + 24, ilen - 24, ND_OPT_TLL));
		rte_pktmbuf_free(m);
		return;
	}
	if (icmp[0] == MF_ICMP6_ECHO_REQUEST && dp_port_owns(p, 6, info.dst)) {
		memcpy(ip->dst_addr, ip->src_addr, 16);
		memcpy(ip->src_addr, info.dst, 16);
		ip->hop_limits = 64;
		icmp[0] = MF_ICMP6_ECHO_REPLY;
		icmp6_csum(ip, icmp);
		reply(p, m, DP_CTR_icmp_echo_tx);
		return;
	}
ignore:
	count(DP_CTR_slow_other);
	rte_pktmbuf_free(m);
}

/* A solicitation to the solicited-node multicast group of @p target (RFC 4861 7.2.2);
 * @p unsolicited_na instead advertises @p target (ours) to all nodes. */
static void
nd_send(struct dp_port *p, const uint8_t *target, bool unsolicited_na)
{
	uint8_t mac[6] = { 0x33, 0x33, 0xff, target[13], target[14], target[15] };
	const uint8_t *src = dp_port_src_addr(p, 6);
	struct rte_ipv6_hdr *ip;
	struct rte_mbuf *m;
	uint8_t *l3, *icmp;

	if (src == NULL)
		return;
	if (unsolicited_na) {
		mac[2] = 0;
		mac[3] = 0;
		mac[4] = 0;
		mac[5] = 1;
	}
	m = frame_new(p, mac, RTE_ETHER_TYPE_IPV6, 40 + 32, &l3);
	if (m == NULL)
		return;
	ip = (struct rte_ipv6_hdr *)l3;
	ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip->payload_len = rte_cpu_to_be_16(32);
	ip->proto = MF_IPPROTO_ICMPV6;
	ip->hop_limits = 255;
	memcpy(ip->src_addr, unsolicited_na ? target : src, 16);
	if (unsolicited_na) {
		ip->dst_addr[0] = 0xff;
		ip->dst_addr[1] = 0x02;
		ip->dst_addr[15] = 1;
	} else {
		static const uint8_t sn[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff };

		memcpy(ip->dst_addr, sn, 13);
		memcpy(ip->dst_addr + 13, target + 13, 3);
	}
	icmp = l3 + 40;
	icmp[0] = unsolicited_na ? MF_ICMP6_NA : MF_ICMP6_NS;
	icmp[4] = unsolicited_na ? 0x20 : 0;	/* override */
	memcpy(icmp + 8, target, 16);
	icmp[24] = unsolicited_na ? ND_OPT_TLL : ND_OPT_SLL;
	icmp[25] = 1;
	memcpy(icmp + 26, p->mac.addr_bytes, 6);
	icmp6_csum(ip, icmp);
	count(DP_CTR_nd_tx);
	dp_tx_from_ctrl(p->index, m);
}

void
dp_slow_solicit(uint16_t port, const struct mf_addr *ip, bool gratuitous)
{
	struct dp_port *p = dp_port_by_index(port);

	if (p == NULL)
		return;
	if (ip->family == 4)
		arp_request(p, ip->a, gratuitous);
	else
		nd_send(p, ip->a, gratuitous);
}

/* Only ICE sessions punt UDP: STUN and DTLS (RFC 7983). */
static void
udp_input(struct dp_port *p, struct rte_mbuf *m, const struct mf_pkt_l4 *l4)
{
	int what = mf_demux_classify(rte_pktmbuf_mtod_offset(m, uint8_t *, l4->payload_off),
				     l4->payload_len);

	if (what == MF_DEMUX_STUN) {
		dp_ice_input(p, m, l4, rte_rdtsc());
	} else if (what == MF_DEMUX_DTLS) {
		dp_dtls_input(p, m, l4, rte_rdtsc());
	} else {
		count(DP_CTR_slow_other);
		rte_pktmbuf_free(m);
	}
}

void
dp_slow_input(struct rte_mbuf *m)
{
	struct dp_port *p = port_of_mbuf(m);
	struct mf_pkt_l4 l4;
	struct mf_eth e;

	if (p == NULL || m->nb_segs != 1 ||
	    mf_eth_parse(rte_pktmbuf_mtod(m, uint8_t *), m->data_len, &e) != 0) {
		count(DP_CTR_slow_other);
		rte_pktmbuf_free(m);
		return;
	}
	if (mf_pkt_parse_udp(rte_pktmbuf_mtod(m, uint8_t *), m->data_len, &l4) == 0)
		udp_input(p, m, &l4);
	else if (e.ethertype == MF_ETHER_TYPE_ARP)
		arp_input(p, m, e.hdr_len);
	else if (e.ethertype == MF_ETHER_TYPE_IPV4)
		icmp4_input(p, m, &e);
	else if (e.ethertype == MF_ETHER_TYPE_IPV6)
		icmp6_input(p, m, &e);
	else {
		count(DP_CTR_slow_other);
		rte_pktmbuf_free(m);
	}
}
