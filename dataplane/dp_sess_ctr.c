/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The counters every packet moves, from where the workers keep them to the stats area, on
 * the control lcore. A worker counts a session's packets and bytes and its RFC 3550 figures
 * in the session's state (struct dp_sess_hot), and an output's copies in the output's
 * state, on lines it writes anyway; a million sessions' blocks in the stats area (4 KiB
 * pages of shared memory) would cost each packet a line and a TLB miss more. Here they are
 * copied into the worker's block of each stats entry, the field names and layout as before,
 * so readers see no difference but the delay: a call at most every millisecond (the
 * control lcore wakes every --idle-sleep-us), every session each call up to a thousand, a
 * pass of 800 calls at a million (about 3.5 % of the control lcore's cpu then, with
 * every session idle: perf/ctrl-cpu). A session moved into a place already passed waits
 * for the next pass.
 * The walk goes down dp.sess.all (every session and its counters' line, dense), fetching
 * the counters a few sessions ahead: a session whose counts did not move costs that line,
 * read, never written (the generation copied is kept in the list, not on the worker's line).
 */

#include <rte_common.h>
#include <rte_prefetch.h>

#include "dp.h"

#define DP_CTR_SLICE_MIN	1024	/* sessions a call looks at, at least */
#define DP_CTR_PASS_CALLS	800	/* calls a pass takes at most beyond that */
#define DP_CTR_AHEAD		8	/* sessions whose counters are fetched ahead */

/* The counters of @p s, at least as new as the generation read before (the worker may be
 * counting the next packet meanwhile: that one bumps gen again and is copied next time). */
static void
copy(struct dp_sess *s)
{
	const struct dp_sess_hot *h = &s->st->hot;
	uint64_t *c = dp_ctr_of(s->ctr, dp.stride_sess, s->worker);
	unsigned int i;

	c[DP_SC_rx_pkts] = h->rx_pkts;
	c[DP_SC_rx_bytes] = h->rx_bytes;
	c[DP_SC_tx_pkts] = h->tx_pkts;
	c[DP_SC_tx_bytes] = h->tx_bytes;
	c[DP_SC_rtp_expected] = h->rtp_expected;
	c[DP_SC_rtp_lost] = h->rtp_lost;
	c[DP_SC_jitter_us] = h->jitter_us;
	if (h->last_rx_tsc != 0)
		c[DP_SC_last_rx_ms] = dp_tsc_ms(h->last_rx_tsc - dp.start_tsc);
	for (i = 0; i < s->nb_out; i++) {
		const struct dp_out *o = &s->out[i];
		uint64_t *oc = dp_ctr_of(o->ctr, dp.stride_out, s->worker);

		oc[DP_OC_tx_pkts] = o->ost->hot.tx_pkts;
		oc[DP_OC_tx_bytes] = o->ost->hot.tx_bytes;
	}
}

void
dp_sess_ctr_sync(uint64_t now)
{
	uint32_t n = dp.sess.nb_all, i = dp.sess.ctr_pos < n ? dp.sess.ctr_pos : 0, end;
	uint32_t slice = RTE_MAX((uint32_t)DP_CTR_SLICE_MIN, n / DP_CTR_PASS_CALLS);

	if (now < dp.sess.ctr_next_tsc)
		return;
	dp.sess.ctr_next_tsc = now + dp.tsc_hz / 1000;
	end = RTE_MIN(n, i + slice);
	for (; i < end; i++) {
		struct dp_sess_ref *r = &dp.sess.all[i];
		uint32_t gen;

		if (i + DP_CTR_AHEAD < end)
			rte_prefetch0(dp.sess.all[i + DP_CTR_AHEAD].hot);
		gen = atomic_load_explicit(&r->hot->gen, memory_order_acquire);
		if (gen != r->synced) {
			copy(r->s);
			r->synced = gen;
		}
	}
	/* A session moved into a place already passed (a delete fills its place with the
	 * last) waits for the next pass. */
	dp.sess.ctr_pos = end < n ? end : 0;
}
