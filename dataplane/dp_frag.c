/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IP fragments, with DPDK's librte_ip_frag: reassembly on ingress (before the session
 * lookup) and fragmentation on egress (an output frame over its port's MTU).
 *
 * Ingress. A fragment for one of our addresses is first checked alone (mf_frag_check:
 * tiny, misaligned, too far, IPv6 header order), then joins its datagram in the worker's
 * own table (keyed by addresses and id, as the kernel's). A worker holds at most a budget
 * of fragments (a quarter of the packet pool shared by the workers): past it new fragments
 * are dropped, so a flood of datagrams that never complete cannot take the mbufs unfragmented
 * traffic needs. The table holds --frag-max-datagrams datagrams for --frag-timeout-ms each;
 * a datagram not complete by then is dropped (drop_frag_timeout, swept while the worker
 * polls); the table itself refuses duplicates, overlaps that overrun the datagram, more
 * than RTE_LIBRTE_IP_FRAG_MAX_FRAG (8) fragments and datagrams beyond its size
 * (drop_frag_invalid). A complete datagram is copied into one mbuf, of the packet pool when
 * it fits one, else of the reassembly pool (the pipeline reads packets as one segment),
 * and goes on as if it had come whole: it is classified again, looked up, and handed to
 * its session's worker if that is another.
 *
 * Fragments of one datagram must meet on one worker. With RSS, NICs hash IP fragments (the
 * first included: it is typed a fragment, not UDP) by addresses only (RTE_ETH_RSS_FRAG_*,
 * part of the RSS_IP set the ports ask for); without RSS one queue is polled by one worker.
 * Either way the worker that polls the queue reassembles, and the datagram then reaches its
 * session's owner through the handoff ring like any packet.
 *
 * Egress. A frame over the MTU is fragmented when its port allows it (profile key
 * `fragment`, default yes; otherwise drop_mtu): IPv4 with DF cleared and an id of the
 * worker's, IPv6 with a fragment header whose id is the worker's too (the library leaves
 * it 0). The UDP checksum was computed over the whole datagram before (no offload can).
 */

#include <errno.h>

#include <rte_ip.h>
#include <rte_ip_frag.h>

#include "dp.h"
#include "dp_pkt.h"
#include "dp_tx.h"
#include "mf/mf_bytes.h"

#define FRAG_BUCKET_ENTRIES	16
#define FRAG_SWEEP_US		1000	/* how often a worker holding fragments sweeps */
#define FRAG_OUT_MAX		64	/* fragments of one output frame */

int
dp_frag_init(struct dp_lcore *lc)
{
	uint64_t cycles = dp.tsc_hz / 1000 * dp.cfg.frag_timeout_ms;
	uint32_t n = dp.cfg.frag_max_datagrams;

	lc->frag.tbl = rte_ip_frag_table_create(n, FRAG_BUCKET_ENTRIES, n, cycles,
						(int)rte_socket_id());
	if (lc->frag.tbl == NULL)
		return -ENOMEM;
	lc->frag.budget = dp.cfg.nb_mbufs / 4 / dp.nb_workers;
	return 0;
}

void
dp_frag_fini(struct dp_lcore *lc)
{
	if (lc->frag.tbl == NULL)
		return;
	rte_ip_frag_free_death_row(&lc->frag.dr, 0);
	rte_ip_frag_table_destroy(lc->frag.tbl);
	lc->frag.tbl = NULL;
}

/* The datagram @p m (a chain, one segment a fragment) in one mbuf.
 * @return it, or NULL (pool empty, counted). @p m is freed either way. */
static struct rte_mbuf *
linearize(struct dp_lcore *lc, struct rte_mbuf *m)
{
	/* Most datagrams are one MTU and a little (an SRTP tag over it): a packet mbuf holds
	 * them with room for a trailer, and the few large ones stay for the rest (a GOP cache
	 * or a NACK ring may keep a datagram for seconds). */
	uint32_t room = (uint32_t)rte_pktmbuf_data_room_size(dp.pool) - RTE_PKTMBUF_HEADROOM;
	struct rte_mempool *mp = m->pkt_len + 64 <= room ? dp.pool : dp.frag_pool;
	struct rte_mbuf *flat = rte_pktmbuf_alloc(mp), *s;
	uint8_t *d;

	if (unlikely(flat == NULL || rte_pktmbuf_tailroom(flat) < m->pkt_len)) {
		lc->ctr[DP_CTR_drop_no_mbuf]++;
		rte_pktmbuf_free(flat);
		rte_pktmbuf_free(m);
		return NULL;
	}
	d = (uint8_t *)rte_pktmbuf_append(flat, (uint16_t)m->pkt_len);
	for (s = m; s != NULL; s = s->next) {
		memcpy(d, rte_pktmbuf_mtod(s, void *), s->data_len);
		d += s->data_len;
	}
	flat->port = m->port;
	rte_pktmbuf_free(m);
	return flat;
}

/* Account for what the table freed into the death row during one call: @p before was its
 * count then. @return how many mbufs it freed. */
static uint32_t
freed_since(const struct dp_lcore *lc, uint32_t before)
{
	return lc->frag.dr.cnt - before;
}

struct rte_mbuf *
dp_frag_in(struct dp_lcore *lc, struct dp_pkt *p, uint64_t now)
{
	struct rte_mbuf *m = p->m, *whole;
	uint8_t *l3 = p->data + p->l4.l3_off;
	uint32_t before, freed;
	int rc;

	lc->ctr[DP_CTR_frag_rx]++;
	rc = mf_frag_check(&p->l4.ip, l3, dp.cfg.frag_max_bytes);
	if (unlikely(rc != 0)) {
		lc->ctr[DP_CTR_PKT_ERR_BASE + (unsigned int)(-rc) - 1]++;
		goto drop;
	}
	if (unlikely(p->l4.ip.proto != MF_IPPROTO_UDP)) {
		lc->ctr[DP_CTR_drop_not_udp]++;
		goto drop;
	}
	if (unlikely(lc->frag.held >= lc->frag.budget)) {
		lc->ctr[DP_CTR_drop_frag_budget]++;
		goto drop;
	}
	m->l2_len = p->l4.l3_off;
	before = lc->frag.dr.cnt;
	if (p->l4.ip.version == 4) {
		m->l3_len = p->l4.ip.hdr_len;
		whole = rte_ipv4_frag_reassemble_packet(lc->frag.tbl, &lc->frag.dr, m, now,
							(struct rte_ipv4_hdr *)l3);
	} else {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)l3;

		m->l3_len = sizeof(*ip6) + sizeof(struct rte_ipv6_fragment_ext);
		whole = rte_ipv6_frag_reassemble_packet(lc->frag.tbl, &lc->frag.dr, m, now, ip6,
						rte_ipv6_frag_get_ipv6_fragment_header(ip6));
	}
	freed = freed_since(lc, before);
	lc->ctr[DP_CTR_drop_frag_invalid] += freed;
	/* This fragment came in; what the table freed and what it gave back went out. */
	lc->frag.held = (uint32_t)RTE_MAX((int64_t)lc->frag.held + 1 - freed -
					  (whole != NULL ? whole->nb_segs : 0), (int64_t)0);
	if (whole == NULL)
		return NULL;
	lc->ctr[DP_CTR_frag_reassembled]++;
	return linearize(lc, whole);
drop:
	rte_pktmbuf_free(m);
	return NULL;
}

void
dp_frag_poll(struct dp_lcore *lc, uint64_t now)
{
	uint32_t before;

	if (lc->frag.dr.cnt > 0)
		rte_ip_frag_free_death_row(&lc->frag.dr, 3);
	if (lc->frag.held == 0 || now < lc->frag.next_sweep)
		return;
	lc->frag.next_sweep = now + dp.tsc_hz / 1000000 * FRAG_SWEEP_US;
	before = lc->frag.dr.cnt;
	rte_ip_frag_table_del_expired_entries(lc->frag.tbl, &lc->frag.dr, now);
	lc->ctr[DP_CTR_drop_frag_timeout] += freed_since(lc, before);
	lc->frag.held -= RTE_MIN(lc->frag.held, freed_since(lc, before));
	rte_ip_frag_free_death_row(&lc->frag.dr, 3);
}

/* Ethernet header and offload flags on one fragment (IP header at its start). */
static void
frag_finish(struct rte_mbuf *f, const struct rte_ether_hdr *eth, const struct dp_port *port,
	    uint8_t family, uint32_t id6)
{
	struct rte_ether_hdr *e = (struct rte_ether_hdr *)rte_pktmbuf_prepend(f, sizeof(*e));

	*e = *eth;
	f->l2_len = sizeof(*e);
	if (family == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(e + 1);

		f->l3_len = sizeof(*ip);
		f->ol_flags = RTE_MBUF_F_TX_IPV4;
		ip->hdr_checksum = 0;
		if (port->tx_ip_csum)
			f->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
		else
			ip->hdr_checksum = rte_ipv4_cksum(ip);
	} else {
		struct rte_ipv6_fragment_ext *fh =
			(struct rte_ipv6_fragment_ext *)((struct rte_ipv6_hdr *)(e + 1) + 1);

		fh->id = rte_cpu_to_be_32(id6);
		f->l3_len = sizeof(struct rte_ipv6_hdr) + sizeof(*fh);
		f->ol_flags = RTE_MBUF_F_TX_IPV6;
	}
}

int
dp_frag_out(struct dp_lcore *lc, const struct dp_port *port, struct rte_mbuf *m, uint8_t family)
{
	struct rte_mbuf *frags[FRAG_OUT_MAX];
	struct rte_ether_hdr eth;
	uint32_t id6 = 0;
	int n, i;

	memcpy(&eth, rte_pktmbuf_mtod(m, void *), sizeof(eth));
	rte_pktmbuf_adj(m, sizeof(eth));
	if (family == 4) {
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);

		ip->fragment_offset = 0;	/* DF off: mfwd sends this datagram in pieces */
		ip->packet_id = rte_cpu_to_be_16(++lc->frag.ip4_id);
		n = rte_ipv4_fragment_packet(m, frags, RTE_DIM(frags), port->mtu, dp.hdr_pool,
					     dp.clone_pool);
	} else {
		id6 = ++lc->frag.ip6_id;
		n = rte_ipv6_fragment_packet(m, frags, RTE_DIM(frags), port->mtu, dp.hdr_pool,
					     dp.clone_pool);
	}
	/* The fragments hold references to the frame's data: it goes with the last of them. */
	rte_pktmbuf_free(m);
	if (unlikely(n < 0))
		return n;
	for (i = 0; i < n; i++) {
		frag_finish(frags[i], &eth, port, family, id6);
		dp_tx(lc, port->index, frags[i]);
	}
	return n;
}
