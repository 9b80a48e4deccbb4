/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TX buffering of a worker, a leaf of the hot path (DPDK l3fwd's send_single_packet and
 * send_burst): frames for a port collect in the lcore's buffer for that port; a full buffer
 * is sent at once, and only that port's; the worker loop sends what is left once per
 * iteration. What the queue does not take is counted (tx_full) and freed.
 *
 * The control lcore has no TX queue of its own: its frames (ARP, ND, ICMP replies, STUN
 * answers, DTLS) go through a ring to worker 1, which sends them with its own.
 */
#ifndef DP_TX_H
#define DP_TX_H

#include <rte_ethdev.h>

#include "dp.h"

/** Send what @p lc holds for @p port. Context: the worker @p lc. */
static inline void
dp_tx_flush_port(struct dp_lcore *lc, uint16_t port)
{
	struct dp_txbuf *b = &lc->tx[port];
	uint64_t *pc, bytes = 0;
	uint16_t sent = 0, i;

	/* Summed before the burst: a driver that copies (af_packet, memif) frees what it
	 * sent inside it, and another lcore may have the mbuf by the time we read it. */
	for (i = 0; i < b->n; i++)
		bytes += b->pkts[i]->pkt_len;
	/* A port being restarted takes nothing: what was for it is counted below. */
	if (likely(atomic_load_explicit(&dp.ports[port].active, memory_order_acquire)))
		sent = rte_eth_tx_burst(dp.ports[port].port_id, lc->txq, b->pkts, b->n);
	for (i = sent; i < b->n; i++)
		bytes -= b->pkts[i]->pkt_len;
	pc = dp_ctr_of(dp.ports[port].ctr, dp.stride_port, lc->index);
	pc[DP_PC_tx_pkts] += sent;
	pc[DP_PC_tx_bytes] += bytes;
	lc->ctr[DP_CTR_tx_pkts] += sent;
	lc->ctr[DP_CTR_tx_bytes] += bytes;
	if (unlikely(sent < b->n)) {
		pc[DP_PC_tx_full] += b->n - sent;
		lc->ctr[DP_CTR_tx_full] += b->n - sent;
		rte_pktmbuf_free_bulk(b->pkts + sent, b->n - sent);
	}
	b->n = 0;
}

/** Send what @p lc holds for every port. Context: the worker @p lc. */
static inline void
dp_tx_flush(struct dp_lcore *lc)
{
	uint16_t port;

	for (port = 0; port < dp.nb_ports; port++)
		if (lc->tx[port].n > 0)
			dp_tx_flush_port(lc, port);
}

/** Queue @p m for @p port; a full buffer goes out now. Context: the worker @p lc. */
static inline void
dp_tx(struct dp_lcore *lc, uint16_t port, struct rte_mbuf *m)
{
	struct dp_txbuf *b = &lc->tx[port];

	b->pkts[b->n++] = m;
	if (unlikely(b->n == DP_BURST))
		dp_tx_flush_port(lc, port);
}

/** Control lcore: have worker 1 send @p m on @p port (our index). A full ring drops it,
 * counted as ctrl_tx_full (not tx_full: no TX queue refused it). */
static inline void
dp_tx_from_ctrl(uint16_t port, struct rte_mbuf *m)
{
	m->port = port;
	if (rte_ring_sp_enqueue(dp.lcores[1].ctrl_tx, m) != 0) {
		dp.node_ctr[DP_CTR_ctrl_tx_full]++;
		rte_pktmbuf_free(m);
	}
}

#endif /* DP_TX_H */
