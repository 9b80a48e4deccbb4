/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NACK repair (RFC 4585 Generic NACK): an output with `nack` keeps a reference to each RTP
 * frame it sends, as it went out (headers, rewrite, SRTP), in a ring indexed by its own
 * sequence number. A NACK from its receiver names lost numbers (a PID and a bitmask of the
 * 16 after it); each one still in the ring and younger than buffer_ms is sent again as a
 * clone of the kept frame (no copy), at most once per rtt_ms, so a receiver asking again
 * before the resend could arrive does not double the traffic.
 *
 * A kept frame is a reference on every segment of it: the port frees the frame it sent,
 * the ring keeps the bytes until a newer packet takes the slot. A frame over the link's MTU
 * is kept whole, before its fragments are cut, and cut again when it is resent.
 */

#include <rte_mbuf.h>

#include "dp.h"
#include "dp_capture.h"
#include "dp_pkt.h"
#include "dp_tx.h"
#include "mf/mf_bytes.h"

static inline void
hold(struct rte_mbuf *m)
{
	for (; m != NULL; m = m->next)
		rte_mbuf_refcnt_update(m, 1);
}

void
dp_nack_keep(struct dp_out *o, struct rte_mbuf *m, uint16_t seq, uint64_t now)
{
	struct dp_nack_slot *sl = &o->nack->slot[seq & o->nack->mask];

	if (o->nack->credit_gen != o->wire_gen) {
		o->nack->credit_gen = o->wire_gen;
		o->nack->credit = 0;
	}
	if (o->nack->credit <= o->nack->mask)
		o->nack->credit++;
	/* A late packet, a lap of the ring behind (the source's resend, say), does not push
	 * out the newer one its receiver may still ask for; a slot past buffer_ms is anyone's,
	 * and so is one after a jump back (a source that restarted its numbers). */
	if (sl->m != NULL && (uint16_t)(sl->seq - seq) == o->nack->mask + 1 &&
	    now - sl->sent_tsc <= o->nack_age_tsc)
		return;
	if (sl->m != NULL)
		rte_pktmbuf_free(sl->m);
	hold(m);
	sl->m = m;
	sl->wire_gen = o->wire_gen;
	sl->seq = seq;
	sl->sent_tsc = now;
	sl->resent_tsc = 0;
}

/* Resend @p seq if kept. @return true when @p o never had it: its slot holds nothing or
 * an older packet (one kept is too old only when a newer one took its slot). */
static bool
resend(struct dp_lcore *lc, struct dp_out *o, uint16_t seq, uint64_t now, uint64_t *oc,
       bool capture)
{
	struct dp_nack_slot *sl = &o->nack->slot[seq & o->nack->mask];
	struct rte_ether_addr mac;
	struct rte_mbuf *c;
	int n;

	if (sl->m == NULL || sl->seq != seq || now - sl->sent_tsc > o->nack_age_tsc ||
	    sl->wire_gen != o->wire_gen) {
		oc[DP_OC_nack_miss]++;
		return sl->m == NULL || (int16_t)(seq - sl->seq) > 0;
	}
	if (sl->resent_tsc != 0 && now - sl->resent_tsc < o->nack_rtt_tsc) {
		oc[DP_OC_nack_rtt_skip]++;
		return false;
	}
	/* The slot is of this path, so its keep made the credit this path's too. */
	if (o->nack->credit == 0) {
		oc[DP_OC_nack_rate_skip]++;
		return false;
	}
	c = rte_pktmbuf_clone(sl->m, dp.clone_pool);
	if (c == NULL) {
		oc[DP_OC_drop_no_mbuf]++;
		lc->ctr[DP_CTR_drop_no_mbuf]++;
		return false;
	}
	/* The MAC now: a frame kept while its next hop was resolving may never have left. The
	 * bytes are shared with the kept frame; the same next hop writes the same MAC. */
	if (!dp_neigh_mac(o->neigh, &mac)) {
		rte_pktmbuf_free(c);
		oc[DP_OC_drop_neigh]++;
		lc->ctr[DP_CTR_drop_neigh]++;
		return false;
	}
	rte_ether_addr_copy(&mac, &rte_pktmbuf_mtod(c, struct rte_ether_hdr *)->dst_addr);
	sl->resent_tsc = now;
	o->nack->credit--;
	if (unlikely(capture))
		dp_capture_copy(lc, c, o->port->index, true);
	/* A frame kept whole goes in fragments again, as it did the first time. */
	if (rte_pktmbuf_pkt_len(c) - RTE_ETHER_HDR_LEN <= o->port->mtu) {
		dp_tx(lc, o->port->index, c);
	} else {
		n = dp_frag_out(lc, o->port, c, o->family);	/* consumes c */
		if (n < 0) {
			oc[n == -ENOMEM ? DP_OC_drop_no_mbuf : DP_OC_drop_mtu]++;
			lc->ctr[n == -ENOMEM ? DP_CTR_drop_no_mbuf : DP_CTR_drop_mtu]++;
			return false;
		}
		oc[DP_OC_frag_tx] += (uint64_t)n;
		lc->ctr[DP_CTR_frag_tx] += (uint64_t)n;
	}
	oc[DP_OC_nack_resent]++;
	return false;
}

/* May packet @p seq of the current SSRC, which @p o never had, be asked for from the
 * source? Not before the SSRC's first number, nor after its newest; within its last 64 only
 * if the session never received it (its RTP state's window); older, as far back as @p o's
 * ring reaches, on @p o's word (a receiver's NACK can come later than 64 packets). */
static bool
session_lost(const struct dp_sess *s, const struct dp_out *o, uint16_t seq)
{
	const struct dp_rtp_rx *rx = &s->st->rx;
	uint16_t back = (uint16_t)(rx->max_seq - seq);

	if (!rx->init || back > o->nack->mask ||
	    (rx->cycles == 0 && back > (uint16_t)(rx->max_seq - (uint16_t)rx->base_seq)))
		return false;
	return back >= 64 || !((rx->window >> back) & 1);
}

void
dp_nack_input(struct dp_lcore *lc, struct dp_sess *s, struct dp_out *o, const uint8_t *pkt,
	      const struct mf_rtcp_fb *fb, uint64_t now, uint64_t *sc, uint64_t *oc)
{
	/* Its numbers are the source's: what it never had and the session never received
	 * can be asked for upstream (an edge's pipe, a WebRTC publisher that answers NACKs). */
	bool upstream = !(o->cfg.flags & MF_OUT_F_SSRC) && !o->ost->renumber;
	unsigned int i, b, first;

	oc[DP_OC_nack_rx]++;
	for (i = 0; i < fb->nb; i++) {
		const uint8_t *e = pkt + fb->fci_off + 4 * i;
		uint16_t pid = mf_rd16(e);
		uint32_t want = 1u | (uint32_t)mf_rd16(e + 2) << 1, never = 0;

		for (b = 0; b < 17; b++)
			if ((want & (1u << b)) &&
			    resend(lc, o, (uint16_t)(pid + b), now, oc, s->capture) && upstream &&
			    session_lost(s, o, (uint16_t)(pid + b)))
				never |= 1u << b;
		if (never == 0)
			continue;
		first = (unsigned int)__builtin_ctz(never);
		dp_nack_up_want(s, (uint16_t)(pid + first), (uint16_t)(never >> (first + 1)), sc);
	}
}

int
dp_nack_ring_new(uint16_t pkts, struct dp_nack_ring **out)
{
	uint32_t n = rte_align32pow2(pkts);
	struct dp_nack_ring *r;

	*out = NULL;
	if (dp.nack_slots + n > dp.cfg.nb_mbufs / 2)
		return -ENOBUFS;
	r = calloc(1, sizeof(*r) + n * sizeof(r->slot[0]));
	if (r == NULL)
		return -ENOMEM;
	r->mask = n - 1;
	r->counted = true;
	dp.nack_slots += n;
	*out = r;
	return 0;
}

void
dp_nack_ring_retire(struct dp_nack_ring *r)
{
	if (r != NULL && r->counted) {
		dp.nack_slots -= r->mask + 1;
		r->counted = false;
	}
}

void
dp_nack_ring_free(struct dp_nack_ring *r)
{
	uint32_t i;

	if (r == NULL)
		return;
	dp_nack_ring_retire(r);
	for (i = 0; i <= r->mask; i++)
		rte_pktmbuf_free(r->slot[i].m);
	free(r);
}
