/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker lcore loop: RX bursts from its queues, packets handed over by other workers,
 * frames the control lcore asks it to send, frames it held for a next hop now resolved; then
 * TX bursts, then one QSBR quiescent state. It calls down only: dp_pipeline.c for packets,
 * dp_hold.c for held frames, dp_tx.h for what is left to send.
 *
 * Idle power: a worker that found nothing to do for DP_IDLE_AFTER_US sleeps
 * --worker-nap-us at a time (RCU offline meanwhile, so grace periods do not wait for it)
 * until something arrives, instead of burning its core; a packet then waits at most one
 * nap. Busy, it never sleeps; --busy-poll turns napping off.
 */

#include <sys/prctl.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "dp.h"
#include "dp_tx.h"

#define DP_IDLE_AFTER_US	1000	/* idle this long before the first nap */

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

		if (unlikely(!atomic_load_explicit(&dp.ports[rq->port].active,
						   memory_order_acquire)))
			continue;
		n = rte_eth_rx_burst(dp.ports[rq->port].port_id, rq->queue, pkts, DP_BURST);
		if (n == 0)
			continue;
		count_burst(lc, n);
		dp_pipeline_rx(lc, rq->port, pkts, n);
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
		dp_pipeline_handoff(lc, pkts, n);
		total += n;
	}
	n = (uint16_t)rte_ring_sc_dequeue_burst(lc->ctrl_tx, (void **)pkts, DP_BURST, NULL);
	for (i = 0; i < n; i++)
		dp_tx(lc, pkts[i]->port, pkts[i]);
	return (uint16_t)(total + n);
}

static void
nap(struct dp_lcore *lc)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)dp.cfg.worker_nap_us * 1000 };

	urcu_qsbr_thread_offline();
	nanosleep(&ts, NULL);
	urcu_qsbr_thread_online();
	lc->ctr[DP_CTR_idle_naps]++;
}

int
dp_worker_main(void *arg)
{
	struct dp_lcore *lc = arg;
	uint64_t t0, t1, idle_tsc = dp.tsc_hz / 1000000 * DP_IDLE_AFTER_US;
	uint16_t n;

	urcu_qsbr_register_thread();
	/* The kernel's default timer slack (50 us) would double a nap. */
	if (!dp.cfg.busy_poll)
		prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	DP_LOG(INFO, "worker %u on lcore %u: %u RX queues%s\n", lc->index, lc->lcore_id,
	       lc->nb_rxq, dp.cfg.busy_poll ? ", busy polling" : "");
	t0 = rte_rdtsc();
	lc->last_work_tsc = t0;
	while (!atomic_load_explicit(&dp.quit, memory_order_relaxed)) {
		/* Frames that waited for a next hop go before any newer one to it. */
		if (unlikely(lc->hold.nb != 0))
			dp_hold_poll(lc, t0);
		n = poll_rx(lc);
		n += poll_rings(lc);
		dp_tx_flush(lc);
		/* Timed-out fragments go even when nothing arrives. */
		dp_frag_poll(lc, t0);
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
			lc->last_work_tsc = t1;
		}
		t0 = t1;
		/* A nap is idle time: in the total, never in the next iteration's busy cycles. */
		if (unlikely(n == 0 && !dp.cfg.busy_poll && t1 - lc->last_work_tsc > idle_tsc)) {
			nap(lc);
			t0 = rte_rdtsc();
			lc->ctr[DP_CTR_total_cycles] += t0 - t1;
		}
	}
	dp_tx_flush(lc);
	urcu_qsbr_unregister_thread();
	return 0;
}
