/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker lcore loop: RX bursts from its queues, packets handed over by other workers,
 * frames the control lcore asks it to send; then TX bursts, then one QSBR quiescent state.
 * Also the per-lcore TX buffers and the worker's end of events.
 */

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "dp.h"
#include "dp_pkt.h"

void
dp_worker_tx_flush(struct dp_lcore *lc)
{
	uint16_t port;

	for (port = 0; port < dp.nb_ports; port++) {
		struct dp_txbuf *b = &lc->tx[port];
		uint64_t *pc, bytes = 0;
		uint16_t sent, i;

		if (b->n == 0)
			continue;
		sent = rte_eth_tx_burst(dp.ports[port].port_id, lc->txq, b->pkts, b->n);
		for (i = 0; i < sent; i++)
			bytes += b->pkts[i]->pkt_len;
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
}

void
dp_worker_event(enum mf_event_kind kind, const struct dp_sess *s, const struct mf_addr *src,
		uint16_t src_port, uint32_t ssrc)
{
	struct dp_lcore *lc = &dp.lcores[s->worker];
	struct mf_msg_event *ev;

	if (rte_mempool_get(dp.event_pool, (void **)&ev) != 0) {
		lc->ctr[DP_CTR_events_lost]++;
		return;
	}
	memset(ev, 0, sizeof(*ev));
	ev->kind = (uint16_t)kind;
	ev->ssrc = ssrc;
	ev->src_port = src_port;
	if (src != NULL)
		ev->src = *src;
	memcpy(ev->id, s->id, sizeof(ev->id));
	if (rte_ring_sp_enqueue(lc->events, ev) != 0) {
		rte_mempool_put(dp.event_pool, ev);
		lc->ctr[DP_CTR_events_lost]++;
	}
}

static inline void
count_burst(struct dp_lcore *lc, uint16_t n)
{
	unsigned int b = n >= 32 ? DP_CTR_burst_32 : n >= 16 ? DP_CTR_burst_16_31 :
			 n >= 8 ? DP_CTR_burst_8_15 : n >= 2 ? DP_CTR_burst_2_7 : DP_CTR_burst_1;

	lc->ctr[b]++;
}

static uint16_t
poll_rx(struct dp_lcore *lc)
{
	struct rte_mbuf *pkts[DP_BURST];
	uint16_t q, n, total = 0;

	for (q = 0; q < lc->nb_rxq; q++) {
		const struct dp_rxq *rq = &lc->rxq[q];

		n = rte_eth_rx_burst(dp.ports[rq->port].port_id, rq->queue, pkts, DP_BURST);
		if (n == 0)
			continue;
		count_burst(lc, n);
		dp_pipeline_burst(lc, rq->port, pkts, n, false);
		total += n;
	}
	return total;
}

static uint16_t
poll_rings(struct dp_lcore *lc)
{
	struct rte_mbuf *pkts[DP_BURST];
	uint16_t w, i, n, total = 0;

	for (w = 1; w <= dp.nb_workers; w++) {
		struct rte_ring *r = dp.lcores[w].handoff[lc->index];

		if (r == NULL)
			continue;
		n = (uint16_t)rte_ring_sc_dequeue_burst(r, (void **)pkts, DP_BURST, NULL);
		if (n == 0)
			continue;
		lc->ctr[DP_CTR_handoff_in] += n;
		dp_pipeline_burst(lc, 0, pkts, n, true);
		total += n;
	}
	n = (uint16_t)rte_ring_sc_dequeue_burst(lc->ctrl_tx, (void **)pkts, DP_BURST, NULL);
	for (i = 0; i < n; i++)
		dp_tx(lc, pkts[i]->port, pkts[i]);
	return (uint16_t)(total + n);
}

int
dp_worker_main(void *arg)
{
	struct dp_lcore *lc = arg;
	uint64_t t0, t1;
	uint16_t n;

	urcu_qsbr_register_thread();
	DP_LOG(INFO, "worker %u on lcore %u: %u RX queues\n", lc->index, lc->lcore_id, lc->nb_rxq);
	t0 = rte_rdtsc();
	while (!atomic_load_explicit(&dp.quit, memory_order_relaxed)) {
		n = poll_rx(lc);
		n += poll_rings(lc);
		dp_worker_tx_flush(lc);
		/* The quiescent state is a full barrier: once per 64 iterations is often enough
		 * (a grace period waits microseconds longer), and keeps idle polling light. */
		if ((lc->ctr[DP_CTR_iterations] & 63) == 0)
			urcu_qsbr_quiescent_state();
		if (n == 0)
			rte_pause();
		t1 = rte_rdtsc();
		lc->ctr[DP_CTR_iterations]++;
		lc->ctr[DP_CTR_total_cycles] += t1 - t0;
		if (n > 0) {
			lc->ctr[DP_CTR_busy_iterations]++;
			lc->ctr[DP_CTR_busy_cycles] += t1 - t0;
		}
		t0 = t1;
	}
	dp_worker_tx_flush(lc);
	urcu_qsbr_unregister_thread();
	return 0;
}
