/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frames waiting for their next hop's MAC, held by the worker that built them.
 *
 * The worker that holds a frame sends it itself, the moment it sees the MAC, before any
 * newer frame to that next hop: at the top of its loop, or in the middle of a burst when a
 * frame finds the entry resolved and older ones still waiting. So a stream's first packets
 * leave in order. (They used to wait on the control lcore, which sent them back through a
 * ring while the worker, already seeing the MAC, sent newer ones directly: 3801, 3802,
 * 3800.) The control lcore only resolves (dp_neigh.c); nothing crosses lcores here.
 *
 * Per worker, DP_HOLD_SLOTS next hops wait at once with their newest DP_HOLD_FRAMES frames
 * each (a key frame's burst: four were too few to start a video), within a budget of an
 * eighth of the pool shared by the workers, for DP_HOLD_S seconds at most (the control
 * lcore's three probes). A slot remembers
 * the entry's generation: an entry freed and reused for another next hop meanwhile never
 * gets the frames built for the old one.
 */

#include <errno.h>
#include <string.h>

#include <rte_malloc.h>

#include "dp.h"
#include "dp_tx.h"

#define DP_HOLD_S	3

int
dp_hold_init(struct dp_lcore *lc)
{
	lc->hold.slot_of = rte_zmalloc_socket("mf_hold", DP_MAX_NEIGH, RTE_CACHE_LINE_SIZE,
					      (int)rte_socket_id());
	lc->hold.budget = dp.cfg.nb_mbufs / 8 / dp.nb_workers;
	return lc->hold.slot_of == NULL ? -ENOMEM : 0;
}

static void
slot_drop(struct dp_lcore *lc, struct dp_hold_slot *s)
{
	rte_pktmbuf_free_bulk(s->m, s->n);
	lc->ctr[DP_CTR_drop_neigh] += s->n;
	lc->hold.held -= s->n;
	s->n = 0;
}

/* Slot @p i leaves the dense array [0, nb): the last one takes its place. */
static void
slot_free(struct dp_hold *h, uint16_t i)
{
	uint16_t last = --h->nb;

	h->slot_of[h->slot[i].neigh] = 0;
	if (i == last)
		return;
	h->slot[i] = h->slot[last];
	h->slot_of[h->slot[i].neigh] = (uint8_t)(i + 1);
}

/* The slot's frames to the MAC in @p v, oldest first; dropped if the entry was reused. */
static void
slot_send(struct dp_lcore *lc, struct dp_hold_slot *s, uint64_t v)
{
	uint8_t i;

	if (dp_neigh_gen(v) != s->gen) {
		slot_drop(lc, s);
		return;
	}
	for (i = 0; i < s->n; i++) {
		struct rte_mbuf *m = s->m[i];

		memcpy(rte_pktmbuf_mtod(m, uint8_t *), &v, RTE_ETHER_ADDR_LEN);
		dp_tx(lc, m->port, m);
	}
	lc->hold.held -= s->n;
	s->n = 0;
}

void
dp_hold_fini(struct dp_lcore *lc)
{
	struct dp_hold *h = &lc->hold;

	while (h->nb > 0) {
		slot_drop(lc, &h->slot[h->nb - 1]);
		slot_free(h, (uint16_t)(h->nb - 1));
	}
	rte_free(h->slot_of);
	h->slot_of = NULL;
}

bool
dp_hold_wait(struct dp_lcore *lc, uint32_t neigh, bool resolved)
{
	struct dp_hold *h = &lc->hold;
	uint8_t k = h->slot_of[neigh];

	if (k == 0 || !resolved)
		return !resolved;
	slot_send(lc, &h->slot[k - 1], dp_neigh_word(neigh));
	slot_free(h, (uint16_t)(k - 1));
	return false;
}

int
dp_hold_add(struct dp_lcore *lc, uint32_t neigh, uint16_t port, struct rte_mbuf *m,
	    uint64_t now)
{
	uint16_t gen = dp_neigh_gen(dp_neigh_word(neigh));
	struct dp_hold *h = &lc->hold;
	uint8_t k = h->slot_of[neigh];
	struct dp_hold_slot *s;

	if (k == 0) {
		if (h->nb == DP_HOLD_SLOTS || h->held >= h->budget)
			return -ENOSPC;
		s = &h->slot[h->nb++];
		h->slot_of[neigh] = (uint8_t)h->nb;
		s->neigh = neigh;
		s->n = 0;
		s->gen = gen;
		s->since = now;
	} else {
		s = &h->slot[k - 1];
		if (s->gen != gen) {	/* the entry was reused: its old frames go nowhere */
			slot_drop(lc, s);
			s->gen = gen;
			s->since = now;
		}
	}
	if (s->n == DP_HOLD_FRAMES || (s->n > 0 && h->held >= h->budget)) {
		/* Keep the newest: a late start beats stale media. */
		rte_pktmbuf_free(s->m[0]);
		memmove(s->m, s->m + 1, sizeof(s->m[0]) * (size_t)(s->n - 1));
		s->n--;
		h->held--;
		lc->ctr[DP_CTR_drop_neigh]++;
	}
	m->port = port;
	s->m[s->n++] = m;
	h->held++;
	return 0;
}

void
dp_hold_poll(struct dp_lcore *lc, uint64_t now)
{
	struct dp_hold *h = &lc->hold;
	uint16_t i = h->nb;

	/* Downwards: a freed slot takes the last one, already looked at. */
	while (i-- > 0) {
		struct dp_hold_slot *s = &h->slot[i];
		uint64_t v = dp_neigh_word(s->neigh);

		if (v & DP_NEIGH_VALID)
			slot_send(lc, s, v);
		else if (now - s->since >= DP_HOLD_S * dp.tsc_hz)
			slot_drop(lc, s);
		else
			continue;
		slot_free(h, i);
	}
}
