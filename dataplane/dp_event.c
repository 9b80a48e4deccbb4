/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Events, a leaf both lcore kinds call down into. A worker posts a session's event to its
 * event ring (a mempool object: no allocation, no system call); the control lcore drains
 * the rings and sends events on the channel, stamped with the wall clock, beside the ones
 * it raises itself (session removed, idle, node up and down).
 */

#include <string.h>

#include <rte_mempool.h>

#include "dp.h"
#include "dp_event.h"
#include "mf/mf_time.h"

static void
fill(struct mf_msg_event *ev, enum mf_event_kind kind, const char *id,
     const struct mf_addr *src, uint16_t src_port, uint32_t ssrc)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = (uint16_t)kind;
	ev->ssrc = ssrc;
	ev->src_port = src_port;
	if (src != NULL)
		ev->src = *src;
	if (id != NULL)
		memcpy(ev->id, id, strnlen(id, sizeof(ev->id) - 1));
}

void
dp_event_post(struct dp_lcore *lc, enum mf_event_kind kind, const char *id,
	      const struct mf_addr *src, uint16_t src_port, uint32_t ssrc)
{
	struct mf_msg_event *ev;

	if (unlikely(rte_mempool_get(dp.event_pool, (void **)&ev) != 0)) {
		lc->ctr[DP_CTR_events_lost]++;
		return;
	}
	fill(ev, kind, id, src, src_port, ssrc);
	if (unlikely(rte_ring_sp_enqueue(lc->events, ev) != 0)) {
		rte_mempool_put(dp.event_pool, ev);
		lc->ctr[DP_CTR_events_lost]++;
	}
}

static void
send_now(struct mf_msg_event *ev)
{
	ev->time_ns = mf_time_ns(CLOCK_REALTIME);
	if (mf_chan_send(&dp.event, MF_MSG_EVENT, MF_PROTO_VERSION, 0, ev, sizeof(*ev)) == 0)
		dp.node_ctr[DP_CTR_events]++;
	else
		dp.node_ctr[DP_CTR_events_lost]++;
}

void
dp_event(enum mf_event_kind kind, const char *id, const struct mf_addr *src, uint16_t src_port,
	 uint32_t ssrc)
{
	struct mf_msg_event ev;

	fill(&ev, kind, id, src, src_port, ssrc);
	send_now(&ev);
}

void
dp_event_output(enum mf_event_kind kind, const char *id, const char *output,
		const struct mf_addr *src, uint16_t src_port)
{
	struct mf_msg_event ev;

	fill(&ev, kind, id, src, src_port, 0);
	if (output != NULL)
		memcpy(ev.output, output, strnlen(output, sizeof(ev.output) - 1));
	send_now(&ev);
}

void
dp_event_count(enum mf_event_kind kind, const char *id, uint64_t count)
{
	struct mf_msg_event ev;

	fill(&ev, kind, id, NULL, 0, 0);
	ev.count = count;
	send_now(&ev);
}

unsigned int
dp_event_drain(struct dp_lcore *lc)
{
	void *objs[DP_BURST];
	unsigned int n, i;

	n = rte_ring_sc_dequeue_burst(lc->events, objs, DP_BURST, NULL);
	for (i = 0; i < n; i++) {
		send_now(objs[i]);
		rte_mempool_put(dp.event_pool, objs[i]);
	}
	return n;
}
