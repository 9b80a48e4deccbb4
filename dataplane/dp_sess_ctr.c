/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The counters every packet moves, from where the workers keep them to the stats area, on
 * the control lcore. A worker counts a session's packets and bytes and its RFC 3550 figures
 * in the session's state (struct dp_sess_hot), and an output's copies in the output's
 * state, on lines it writes anyway; a million sessions' blocks in the stats area (4 KiB
 * pages of shared memory) would cost each packet a line and a TLB miss more. Here they are
 * copied into the worker's block of each stats entry, the field names and layout as before,
 * so readers see no difference but the delay: every millisecond up to a thousand sessions,
 * a pass of under a second at a million (about 8 % of the control lcore's cpu then, with
 * every session idle).
 * The walk goes down dp.sess.all (every session and its counters' line, dense), fetching
 * the counters a few sessions ahead: a session whose counts did not move costs that line.
 */

#include <rte_common.h>
#include <rte_prefetch.h>

#include "dp.h"

#define DP_CTR_SLICE_MIN	1024	/* sessions a call looks at, at least */
#define DP_CTR_PASS_CALLS	800	/* calls a pass takes at most beyond that */
#define DP_CTR_AHEAD		8	/* sessions whose counters are fetched ahead */

/* What says the hot counters moved: each of these only grows (rtp_expected moves where a
 * packet counted by RFC 3550 is then dropped, as a bad TS payload is). */
static inline uint64_t
moved(const struct dp_sess_hot *h)
{
	return h->rx_pkts + h->tx_pkts + h->rtp_expected;
}

static void
copy(struct dp_sess *s)
{
	struct dp_sess_hot *h = &s->st->hot;
	uint64_t *c = dp_ctr_of(s->ctr, dp.stride_sess, s->worker);
	uint64_t last = atomic_load_explicit(&s->st->last_rx_tsc, memory_order_relaxed);
	unsigned int i;

	h->synced = moved(h);
	c[DP_SC_rx_pkts] = h->rx_pkts;
	c[DP_SC_rx_bytes] = h->rx_bytes;
	c[DP_SC_tx_pkts] = h->tx_pkts;
	c[DP_SC_tx_bytes] = h->tx_bytes;
	c[DP_SC_rtp_expected] = h->rtp_expected;
	c[DP_SC_rtp_lost] = h->rtp_lost;
	c[DP_SC_jitter_us] = h->jitter_us;
	/* The source's last packet, once one was accepted (last_rx_tsc starts at the
	 * session's creation, which is no packet). */
	if (h->rx_pkts != 0 && last > dp.start_tsc)
		c[DP_SC_last_rx_ms] = ((unsigned __int128)(last - dp.start_tsc) *
				       dp.ms_per_tsc_q32) >> 32;
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
		const struct dp_sess_ref *r = &dp.sess.all[i];

		if (i + DP_CTR_AHEAD < end)
			rte_prefetch0(dp.sess.all[i + DP_CTR_AHEAD].hot);
		if (moved(r->hot) != r->hot->synced)
			copy(r->s);
	}
	/* A session moved into a place already passed (a delete fills its place with the
	 * last) waits for the next pass. */
	dp.sess.ctr_pos = end < n ? end : 0;
}
