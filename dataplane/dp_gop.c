/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The GOP cache (seed 001: a viewer starts at once): the session's worker keeps references
 * to the RTP packets (or MPEG-TS datagrams) since the last key frame, as received and
 * decrypted, no copies; for MPEG-TS over UDP also the last datagrams with the PAT and the
 * PMT, which a decoder needs first. A new key frame restarts it; going over max_frames,
 * max_bytes, max_ms or the packets it has room for, or a pool of mbufs under an eighth
 * free, drops it until the next key frame, so it never holds a partial GOP that a decoder
 * could not start from. Outputs that start with it (dp_out.c) send it from the
 * first packet, then go live.
 *
 * A held packet is read by later outputs, so no output may write into it: the fan-out
 * never gives a cached input to its last output (dp_pkt.cached).
 */

#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "dp_pkt.h"

/* Packets a cache has room for: a generous number per frame, bounded. */
#define GOP_PKTS_PER_FRAME	64
#define GOP_MAX_PKTS		65536
/* A cache's own limits do not bound what all of them hold: one of the defaults holds 4 MiB,
 * some 3,500 packets of 1,200 bytes, and a few fill the packet pool (a reassembled
 * datagram's pool of 511 at once). Past a share of free mbufs a cache lets go, as at a
 * limit, rather than hold what the ports receive into: with the pool empty no packet
 * arrives that would make a cache let go. The worker looks once every GOP_POOL_EVERY
 * packets its caches take, whichever cache (so together they take at most that many past
 * the mark), and at once for a packet of another pool than the last one looked at. */
#define GOP_POOL_EVERY		32
#define GOP_POOL_LOW_SHARE	8	/* an eighth free */

/* What this worker can take of @p mp: its common store and the worker's own cache (another
 * lcore's cache, up to 384 of a small pool, is that lcore's alone). The store's count
 * through the pool's ops: one read, not rte_mempool_avail_count()'s 128 lcores. */
static bool
pool_short(const struct rte_mempool *mp)
{
	unsigned int left = rte_mempool_get_ops(mp->ops_index)->get_count(mp);

	if (mp->cache_size != 0 && rte_lcore_id() < RTE_MAX_LCORE)
		left += mp->local_cache[rte_lcore_id()].len;
	return left < mp->size / GOP_POOL_LOW_SHARE;
}

static bool
pool_low(struct dp_lcore *lc, const struct rte_mbuf *m)
{
	if (m->pool != lc->gop_pool || lc->gop_seen++ % GOP_POOL_EVERY == 0) {
		lc->gop_pool = m->pool;
		lc->gop_seen = 1;
		lc->gop_low = pool_short(m->pool);
	}
	return lc->gop_low;
}

static void
gop_clear(struct dp_gop *g)
{
	uint32_t i;

	for (i = 0; i < g->n; i++)
		rte_pktmbuf_free(g->pkt[i].m);
	g->n = 0;
	g->frames = 0;
	g->bytes = 0;
	g->valid = false;
	g->gen++;
}

static bool
gop_full(const struct dp_gop *g, const struct dp_pkt *p, uint64_t now)
{
	return g->n == g->cap || g->bytes + p->l4.payload_len > g->max_bytes ||
	       now - g->start_tsc > g->max_tsc ||
	       (p->what == DP_WHAT_RTP && g->frames >= g->max_frames && p->rtp.ts != g->last_ts);
}

/* Over a limit: nothing until the next key frame. */
static void
gop_drop(struct dp_gop *g, uint64_t *sc)
{
	gop_clear(g);
	sc[DP_SC_gop_dropped]++;
	sc[DP_SC_gop_pkts] = 0;
	sc[DP_SC_gop_bytes] = 0;
}

static void
psi_keep(struct dp_gop_pkt *k, const struct dp_sess *s, struct dp_pkt *p)
{
	if (k->m == p->m)
		return;
	rte_pktmbuf_free(k->m);		/* NULL is fine */
	rte_mbuf_refcnt_update(p->m, 1);
	k->m = p->m;
	k->payload_len = p->l4.payload_len;
	k->opened = s->srtp_in != NULL;
	/* Held now, whether or not the cache holds a GOP yet: no output may write into it. */
	p->cached = true;
}

/* MPEG-TS over UDP: keep the last datagrams with a PAT and a PMT the session read (the TS
 * stage, dp_pipeline.c): not flagged damaged, applying now, the CRC_32 right where the
 * section ends in its packet (one going on in the next is kept as its first packet reads:
 * the datagram alone, not the next). One announcing the next
 * version (current_next_indicator 0) would give a viewer starting from the cache a table
 * that does not apply yet, and no other until the next one comes live. */
static void
psi_note(struct dp_gop *g, const struct dp_sess *s, struct dp_pkt *p)
{
	if (p->psi & DP_PSI_PAT)
		psi_keep(&g->psi[0], s, p);
	if (p->psi & DP_PSI_PMT)
		psi_keep(&g->psi[1], s, p);
}

void
dp_gop_add(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, uint64_t now,
	   uint64_t *sc)
{
	struct dp_gop *g = s->gop;

	if (p->what == DP_WHAT_TS)
		psi_note(g, s, p);
	else if (p->what != DP_WHAT_RTP)
		return;
	/* A key frame's parameter sets may come in packets of their own before its slices
	 * (H.264: SPS, PPS, then the IDR; each of SPS and IDR starts a key frame): packets of
	 * the frame the cache starts with continue it, or it would lose the parameter sets a
	 * decoder starting from it needs. */
	if (dp_pkt_kf(s, p, sc) == MF_KF_START &&
	    !(g->valid && g->frames == 1 && p->what == DP_WHAT_RTP && p->rtp.ts == g->last_ts)) {
		if (g->valid)
			sc[DP_SC_gop_restarts]++;
		gop_clear(g);
		g->valid = true;
		g->start_tsc = now;
	} else if (!g->valid) {
		return;
	} else if (gop_full(g, p, now)) {
		gop_drop(g, sc);
		return;
	}
	if (unlikely(pool_low(lc, p->m))) {
		gop_drop(g, sc);
		lc->ctr[DP_CTR_gop_pool_low]++;
		return;
	}
	if (p->what == DP_WHAT_RTP && (g->n == 0 || p->rtp.ts != g->last_ts)) {
		g->frames++;
		g->last_ts = p->rtp.ts;
	}
	rte_mbuf_refcnt_update(p->m, 1);
	g->pkt[g->n].m = p->m;
	g->pkt[g->n].payload_len = p->l4.payload_len;
	g->pkt[g->n].opened = s->srtp_in != NULL;
	g->n++;
	g->bytes += p->l4.payload_len;
	p->cached = true;
	sc[DP_SC_gop_pkts] = g->n;
	sc[DP_SC_gop_bytes] = g->bytes;
}

struct dp_gop *
dp_gop_new(const struct mf_sess_ingress *in)
{
	uint32_t cap = RTE_MIN((uint32_t)in->gop_max_frames * GOP_PKTS_PER_FRAME,
			       (uint32_t)GOP_MAX_PKTS);
	struct dp_gop *g = calloc(1, sizeof(*g) + cap * sizeof(g->pkt[0]));

	if (g == NULL)
		return NULL;
	g->cap = cap;
	g->gen = dp.gop_gen_next;
	dp.gop_gen_next += UINT64_C(1) << 32;
	g->max_frames = in->gop_max_frames;
	g->max_bytes = in->gop_max_bytes;
	g->max_tsc = (uint64_t)in->gop_max_ms * dp.tsc_hz / 1000;
	return g;
}

void
dp_gop_free(struct dp_gop *g)
{
	if (g == NULL)
		return;
	gop_clear(g);
	rte_pktmbuf_free(g->psi[0].m);
	rte_pktmbuf_free(g->psi[1].m);
	free(g);
}
