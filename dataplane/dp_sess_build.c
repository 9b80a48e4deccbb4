/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Session entries, on the control lcore: check a spec, build the immutable entry (outputs,
 * SRTP contexts, stats entries, neighbour references), and add, replace or remove it.
 *
 * Changes are copy-and-swap: a new entry is built and swapped into the table
 * (dp_sess_table.c); the old one is freed after a grace period (dp_defer.c). What packets
 * mutate (latch, RTP receive state, per-output rewrite state, counters) lives in objects
 * the new entry takes over, so an update resets nothing.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include "dp.h"
#include "dp_event.h"
#include "dp_pkt.h"
#include "dp_sess.h"
#include "mf/mf_time.h"

/* What a block costs in hugepages: its usable size and DPDK's header in front of it. */
static uint64_t
huge_cost(void *p)
{
	size_t got = 0;

	rte_malloc_validate(p, &got);
	return got + 2 * RTE_CACHE_LINE_SIZE;
}

/*
 * Zeroed, on cache lines of its own: entries, their state and their outputs' state, what
 * the pipeline reads for every packet. From hugepages within --session-hugepages-mb (a
 * million sessions on 4 KiB pages would miss the TLB on every packet; unbounded, sessions
 * would take the hugepages ports need when they reconnect, and other DPDK processes'), else
 * from the heap; lines_free() tells which by the address. Control lcore only.
 */
static void *
zalloc_lines(size_t size)
{
	size_t n = RTE_ALIGN_CEIL(size, RTE_CACHE_LINE_SIZE);
	bool within = dp.sess.huge_bytes + n + 2 * RTE_CACHE_LINE_SIZE <=
		      (uint64_t)dp.cfg.sess_huge_mb << 20;
	void *p = NULL;

	if (within && (p = rte_zmalloc_socket("mfwd_sess", n, RTE_CACHE_LINE_SIZE,
					      (int)rte_socket_id())) != NULL) {
		dp.sess.huge_bytes += huge_cost(p);
		return p;
	}
	if (!dp.sess.huge_full) {
		dp.sess.huge_full = true;
		DP_LOG(NOTICE, "sessions: %" PRIu64 " bytes of hugepages in use (%s): entries and "
		       "state beyond it come from the heap\n", dp.sess.huge_bytes,
		       within ? "no hugepage free" : "--session-hugepages-mb");
	}
	if ((p = aligned_alloc(RTE_CACHE_LINE_SIZE, n)) != NULL)
		memset(p, 0, n);
	return p;
}

static void
lines_free(void *p)
{
	if (p == NULL || rte_mem_virt2memseg_list(p) == NULL) {
		free(p);
		return;
	}
	dp.sess.huge_bytes -= RTE_MIN(dp.sess.huge_bytes, huge_cost(p));
	rte_free(p);
}

static void
free_mem(void *arg, int idx)
{
	(void)idx;
	free(arg);
}

static void
free_lines(void *arg, int idx)
{
	(void)idx;
	lines_free(arg);
}

static void
free_stats(void *arg, int idx)
{
	(void)arg;
	dp_stats_remove(idx);
}

static void
free_srtp(void *arg, int idx)
{
	(void)idx;
	mf_srtp_destroy(arg);
}

/* An endpoint's handshake state goes with its session or output: freed by dp_dtls.c, which
 * registered how (it calls into this file, not the other way). */
static void
dtls_release(struct dp_dtls *d)
{
	if (d != NULL && dp.sess.dtls_free != NULL)
		dp.sess.dtls_free(d);
}

/* An SRTP context for @p p: @p keep when it holds the same key (the stream state goes on),
 * a new one otherwise, or NULL for plain RTP. Keys are then wiped from the entry's copy of
 * the spec: the context is their only holder. */
static int
srtp_take(struct mf_srtp_params *p, struct mf_srtp *keep, struct mf_srtp **out)
{
	int rc = 0;

	*out = NULL;
	if (p->suite != MF_SRTP_NONE) {
		if (keep != NULL && mf_srtp_same_params(keep, p))
			*out = keep;
		else
			rc = mf_srtp_create(p, out);
	}
	explicit_bzero(p->key, sizeof(p->key));
	explicit_bzero(p->salt, sizeof(p->salt));
	return rc;
}

static void
free_nack(void *arg, int idx)
{
	(void)idx;
	dp_nack_ring_free(arg);
}

static void
free_gop(void *arg, int idx)
{
	(void)idx;
	dp_gop_free(arg);
}

/* Whether what a cache holds under @p a stays good under @p b: the same limits, and its
 * key frames found the same way (each payload type the same codec, in any order). A
 * source that changed codec sends a new key frame; a viewer sent the old GOP could not
 * decode it. */
static bool
gop_same(const struct mf_sess_ingress *a, const struct mf_sess_ingress *b)
{
	unsigned int i;

	if (a->gop_max_frames != b->gop_max_frames || a->gop_max_bytes != b->gop_max_bytes ||
	    a->gop_max_ms != b->gop_max_ms || a->nb_codecs != b->nb_codecs)
		return false;
	for (i = 0; i < a->nb_codecs && i < RTE_DIM(a->codecs); i++)
		if (mf_sess_codec_of(b, a->codecs[i].pt) != a->codecs[i].codec)
			return false;
	return true;
}

/* The GOP cache: @p old's when what it holds stays good (gop_same), else new. */
static int
gop_take(struct dp_sess *s, const struct dp_sess *old)
{
	const struct mf_sess_ingress *in = &s->ingress;

	s->gop = NULL;
	if (in->gop_max_frames == 0)
		return 0;
	if (old != NULL && old->gop != NULL && gop_same(&old->ingress, in)) {
		s->gop = old->gop;
		return 0;
	}
	s->gop = dp_gop_new(in);
	return s->gop == NULL ? -ENOMEM : 0;
}

static void
free_neigh(void *arg, int idx)
{
	(void)arg;
	dp_neigh_put((uint32_t)idx);
}

static uint16_t
pick_worker(void)
{
	uint16_t w, best = 1;

	for (w = 2; w <= dp.nb_workers; w++)
		if (dp.sess.per_worker[w] < dp.sess.per_worker[best])
			best = w;
	return best;
}

/* @p in_family: the ingress's, where an ICE output's receiver checks before it has a pair. */
static int
check_output(const struct mf_sess_output *o, unsigned int i, uint8_t in_family, char *detail,
	     size_t len)
{
	struct dp_port *p = dp_port_by_index(o->port);
	struct mf_addr nh;

	if (p == NULL)
		return dp_refuse(-ENODEV, detail, len, "outputs[%u].port: no port %u", i, o->port);
	if (o->ice.ufrag[0] != '\0' && o->dst.family == 0) {
		if (dp_port_src_addr(p, in_family) == NULL)
			return dp_refuse(-EADDRNOTAVAIL, detail, len, "outputs[%u]: port %u has no "
				      "IPv%u address for the receiver's checks", i, o->port, in_family);
		return 0;	/* the receiver's nominated pair, once it checks */
	}
	if (o->dst.family != 4 && o->dst.family != 6)
		return dp_refuse(-EINVAL, detail, len, "outputs[%u].addr: missing", i);
	if (dp_port_src_addr(p, o->dst.family) == NULL)
		return dp_refuse(-EADDRNOTAVAIL, detail, len,
			      "outputs[%u]: port %u has no IPv%u address to send from", i, o->port,
			      o->dst.family);
	if (dp_port_next_hop(p, &o->dst, &nh) != 0)
		return dp_refuse(-EHOSTUNREACH, detail, len,
			      "outputs[%u]: no route to the destination from port %u (no gateway)",
			      i, o->port);
	return 0;
}

/* Credentials arrive through the channel as the codec checked them; the lengths again,
 * since the STUN checks rely on them. */
static int
check_ice(const struct mf_ice_cred *c, unsigned int kind, const char *where, char *detail,
	  size_t len)
{
	size_t u = strnlen(c->ufrag, sizeof(c->ufrag)), r, p;

	if (u == 0)
		return 0;
	r = strnlen(c->remote_ufrag, sizeof(c->remote_ufrag));
	p = strnlen(c->pwd, sizeof(c->pwd));
	if (kind != MF_SESS_RTP_MUX)
		return dp_refuse(-EINVAL, detail, len, "%s.ice: only for kind rtp-mux", where);
	if (u < 4 || u == sizeof(c->ufrag) || r < 4 || r == sizeof(c->remote_ufrag) || p < 22 ||
	    p == sizeof(c->pwd))
		return dp_refuse(-EINVAL, detail, len, "%s.ice: ufrag, remote_ufrag or pwd length",
			      where);
	if (c->consent_timeout_ms < 1000)
		return dp_refuse(-EINVAL, detail, len, "%s.ice.consent_timeout_ms: below 1000", where);
	return 0;
}

/* DTLS runs with the ICE peer and brings the keys: the last gate, whatever the caller. */
static int
check_dtls(const struct mf_dtls_cfg *d, const struct mf_ice_cred *ice, bool has_srtp,
	   const char *where, char *detail, size_t len)
{
	if (d->on && ice->ufrag[0] == '\0')
		return dp_refuse(-EINVAL, detail, len, "%s.dtls: needs ice", where);
	if (d->on && has_srtp)
		return dp_refuse(-EINVAL, detail, len, "%s.dtls: its keys come from the handshake, "
			      "not SDES srtp", where);
	return 0;
}

static int
check_spec_ice(const struct mf_sess_spec *spec, char *detail, size_t len)
{
	char where[32];
	unsigned int i;
	int rc;

	if ((spec->ingress.src_mode == MF_SRC_ICE) != (spec->ingress.ice.ufrag[0] != '\0'))
		return dp_refuse(-EINVAL, detail, len,
			      "ingress.source: ICE's exactly when ingress.ice");
	rc = check_ice(&spec->ingress.ice, spec->kind, "ingress", detail, len);
	if (rc == 0)
		rc = check_dtls(&spec->ingress.dtls, &spec->ingress.ice,
				spec->ingress.srtp.suite != MF_SRTP_NONE, "ingress", detail, len);
	for (i = 0; rc == 0 && i < spec->nb_outputs; i++) {
		const struct mf_sess_output *o = &spec->outputs[i];

		snprintf(where, sizeof(where), "outputs[%u]", i);
		rc = check_ice(&o->ice, spec->kind, where, detail, len);
		if (rc == 0)
			rc = check_dtls(&o->dtls, &o->ice, o->srtp.suite != MF_SRTP_NONE ||
					o->receiver_srtp.suite != MF_SRTP_NONE, where, detail, len);
	}
	return rc;
}

static bool
has_ice(const struct mf_sess_spec *spec)
{
	unsigned int i;

	for (i = 0; i < spec->nb_outputs; i++)
		if (spec->outputs[i].ice.ufrag[0] != '\0')
			return true;
	return spec->ingress.ice.ufrag[0] != '\0';
}

static bool
has_dtls(const struct mf_sess_spec *spec)
{
	unsigned int i;

	for (i = 0; i < spec->nb_outputs; i++)
		if (spec->outputs[i].dtls.on)
			return true;
	return spec->ingress.dtls.on;
}

static int
check_spec(const struct mf_sess_spec *spec, char *detail, size_t len)
{
	const struct mf_sess_ingress *in = &spec->ingress;
	struct dp_port *p = dp_port_by_index(in->port);
	unsigned int i;
	int rc;

	/* The channel's specs come from a codec; a writer of the channel is trusted no more:
	 * every count and id the hot path indexes by is bounded here, once. */
	rc = mf_sess_spec_bounds(spec, detail, len);
	if (rc != 0)
		return rc;
	if (spec->kind < MF_SESS_RTP || spec->kind > MF_SESS_UDP)
		return dp_refuse(-EINVAL, detail, len, "kind: unknown kind %u", spec->kind);
	if (p == NULL)
		return dp_refuse(-ENODEV, detail, len, "ingress.port: no port %u", in->port);
	if (!dp_port_owns(p, in->local.family, in->local.a))
		return dp_refuse(-EADDRNOTAVAIL, detail, len,
			      "ingress.addr: not an address of port %u", in->port);
	if (spec->kind == MF_SESS_RTP && in->udp_port == 65535)
		return dp_refuse(-EINVAL, detail, len, "ingress.udp_port: no room for RTCP above it");
	rc = check_spec_ice(spec, detail, len);
	if (rc != 0)
		return rc;
	if (!mf_sess_kind_is_rtp(spec->kind)) {
		if (in->srtp.suite != MF_SRTP_NONE)
			return dp_refuse(-EINVAL, detail, len, "ingress.srtp: only for RTP kinds");
		for (i = 0; i < spec->nb_outputs; i++)
			if (spec->outputs[i].srtp.suite != MF_SRTP_NONE)
				return dp_refuse(-EINVAL, detail, len,
					      "outputs[%u].srtp: only for RTP kinds", i);
	}
	for (i = 0; i < spec->nb_outputs; i++) {
		rc = check_output(&spec->outputs[i], i, in->local.family, detail, len);
		if (rc != 0)
			return rc;
		if (spec->outputs[i].start != MF_OUT_START_IMMEDIATE &&
		    !mf_sess_kind_is_ts(spec->kind) &&
		    (!mf_sess_kind_is_rtp(spec->kind) || in->nb_codecs == 0))
			return dp_refuse(-EINVAL, detail, len, "outputs[%u].start: needs MPEG-TS, or "
				      "RTP and ingress.codecs", i);
		if (spec->outputs[i].start == MF_OUT_START_GOP && in->gop_max_frames == 0)
			return dp_refuse(-EINVAL, detail, len, "outputs[%u].start: gop needs "
				      "ingress.gop_cache", i);
	}
	return 0;
}

static int
out_stats(const char *sess_id, struct dp_out *o)
{
	char name[MF_STATS_NAME_MAX];

	snprintf(name, sizeof(name), "session/%s/out/%s", sess_id, o->cfg.id);
	o->stats_idx = dp_stats_add(name, dp.schema_out, &o->ctr);
	return o->stats_idx < 0 ? o->stats_idx : 0;
}

/* Do @p a and @p b build the same frames: the same port, addresses, UDP ports, SSRC,
 * payload-type map and keys? (A NACK ring carried over resends only frames of this.) */
static bool
same_wire(const struct dp_out *a, const struct dp_out *b)
{
	return a->port == b->port && a->family == b->family && a->src_port == b->src_port &&
	       a->cfg.dst_port == b->cfg.dst_port &&
	       memcmp(&a->cfg.dst, &b->cfg.dst, sizeof(a->cfg.dst)) == 0 &&
	       (a->cfg.flags & MF_OUT_F_SSRC) == (b->cfg.flags & MF_OUT_F_SSRC) &&
	       a->cfg.ssrc == b->cfg.ssrc && a->cfg.nb_pt_map == b->cfg.nb_pt_map &&
	       memcmp(a->cfg.pt_map, b->cfg.pt_map,
		      a->cfg.nb_pt_map * sizeof(a->cfg.pt_map[0])) == 0 && a->srtp == b->srtp;
}

/* The NACK ring: @p prev's when it has one of the same size (what it holds stays useful,
 * unless the frames are built otherwise now: wire_gen), else a new one. */
static int
nack_take(struct dp_out *o, const struct dp_out *prev)
{
	o->nack = NULL;
	if (o->cfg.nack_pkts == 0)
		return 0;
	o->nack_age_tsc = (uint64_t)o->cfg.nack_buffer_ms * dp.tsc_hz / 1000;
	o->nack_rtt_tsc = (uint64_t)o->cfg.nack_rtt_ms * dp.tsc_hz / 1000;
	if (prev != NULL && prev->nack != NULL && prev->cfg.nack_pkts == o->cfg.nack_pkts) {
		o->nack = prev->nack;
		return 0;
	}
	return dp_nack_ring_new(o->cfg.nack_pkts, &o->nack);
}

static bool
ice_same(const struct mf_ice_cred *a, const struct mf_ice_cred *b)
{
	return strcmp(a->ufrag, b->ufrag) == 0 && strcmp(a->remote_ufrag, b->remote_ufrag) == 0 &&
	       strcmp(a->pwd, b->pwd) == 0;
}

/* The same DTLS peer: its handshake's keys stay, across an ICE restart too (a WebRTC peer
 * keeps its DTLS association then and sends no new ClientHello). */
static bool
dtls_same(const struct mf_dtls_cfg *a, const struct mf_dtls_cfg *b)
{
	return a->on && b->on && memcmp(a->fingerprint, b->fingerprint, MF_DTLS_FP_LEN) == 0;
}

/* A DTLS output sends nothing until its handshake gave it keys. */
static void
out_keys_flag(struct dp_out *o)
{
	o->cfg.flags &= (uint8_t)~DP_OUT_F_NO_KEYS;
	if (o->cfg.dtls.on && o->srtp == NULL)
		o->cfg.flags |= DP_OUT_F_NO_KEYS;
}

/* Where the output sends to: its cfg's destination, or none yet (an ICE output before its
 * receiver nominates a pair: it sends nothing). */
static void
out_route(const struct dp_sess *s, struct dp_out *o)
{
	/* Before a destination, the receiver's checks come to the ingress's family. */
	uint8_t fam = o->cfg.dst.family ? o->cfg.dst.family : s->ingress.local.family;
	const uint8_t *src = dp_port_src_addr(o->port, fam);

	o->family = o->cfg.dst.family;
	o->cfg.flags &= (uint8_t)~DP_OUT_F_NO_DST;
	if (o->family == 0)
		o->cfg.flags |= DP_OUT_F_NO_DST;
	memset(o->src_ip, 0, sizeof(o->src_ip));
	if (src != NULL)
		memcpy(o->src_ip, src, fam == 4 ? 4 : 16);
	o->rtcp_dst_port = s->kind == MF_SESS_RTP ? (uint16_t)(o->cfg.dst_port + 1) :
						     o->cfg.dst_port;
	dp_hdr_sums(&o->sums, o->family, o->src_ip, o->cfg.dst.a, o->rtcp_src_port,
		    o->rtcp_dst_port);
	o->rtcp_ports_sum = o->sums.ports;
	dp_hdr_sums(&o->sums, o->family, o->src_ip, o->cfg.dst.a, o->src_port, o->cfg.dst_port);
}

/* The output's next hop: @p prev's reference when it has the same one (same port and next
 * hop, though perhaps another destination behind the gateway), else a new reference. So
 * the entries' indices differ exactly when a reference was taken. @return 0,
 * -EHOSTUNREACH (a nominated destination off-link with no gateway), -ENOMEM. */
static int
out_neigh(struct dp_out *o, const struct dp_out *prev)
{
	struct mf_addr nh, pnh;

	o->neigh = DP_NEIGH_NONE;
	if (o->family == 0)
		return 0;
	if (dp_port_next_hop(o->port, &o->cfg.dst, &nh) != 0)
		return -EHOSTUNREACH;
	if (prev != NULL && prev->family != 0 && prev->cfg.port == o->cfg.port &&
	    dp_port_next_hop(prev->port, &prev->cfg.dst, &pnh) == 0 && mf_addr_equal(&nh, &pnh)) {
		o->neigh = prev->neigh;
		return 0;
	}
	return dp_neigh_get(o->cfg.port, &nh, &o->neigh);
}

/* Fill what an output needs to send; new state, stats and neighbour unless @p prev has
 * them for the same output id (then they are taken over). */
static int
out_build(struct dp_sess *s, struct dp_out *o, const struct mf_sess_output *cfg,
	  const struct dp_out *prev)
{
	int rc;

	/* Before anything can fail: sess_unbuild() gives back this output's next hop, and 0
	 * (the zeroed entry's) is another output's. */
	o->neigh = DP_NEIGH_NONE;
	o->cfg = *cfg;
	/* ICE: the pair its receiver nominated stays while the credentials do. */
	if (cfg->ice.ufrag[0] != '\0' && prev != NULL && prev->family != 0 &&
	    ice_same(&prev->cfg.ice, &cfg->ice)) {
		o->cfg.dst = prev->cfg.dst;
		o->cfg.dst_port = prev->cfg.dst_port;
	}
	o->cfg.flags &= (uint8_t)~DP_OUT_F_PT_FILTER;
	if (!mf_sess_output_pt_all(cfg))
		o->cfg.flags |= DP_OUT_F_PT_FILTER;
	o->port = dp_port_by_index(cfg->port);
	o->src_port = cfg->src_port ? cfg->src_port : s->ingress.udp_port;
	o->rtcp_src_port = s->kind == MF_SESS_RTP ? (uint16_t)(o->src_port + 1) : o->src_port;
	out_route(s, o);
	o->stats_idx = -1;
	rc = nack_take(o, prev);
	if (rc != 0)
		return rc;
	/* Added, resumed or switched to start on a key frame or the GOP cache: start again. */
	o->wait_gen = prev != NULL ? prev->wait_gen : 0;
	if (cfg->start != MF_OUT_START_IMMEDIATE &&
	    (prev == NULL || prev->cfg.start != cfg->start ||
	     ((prev->cfg.flags & MF_OUT_F_PAUSED) && !(cfg->flags & MF_OUT_F_PAUSED))))
		o->wait_gen++;
	if (prev != NULL) {
		o->ost = prev->ost;
		o->stats_idx = prev->stats_idx;
		o->ctr = prev->ctr;
	} else {
		o->ost = zalloc_lines(sizeof(*o->ost));
		if (o->ost == NULL)
			return -ENOMEM;
		rc = out_stats(s->id, o);
		if (rc != 0)
			return rc;
	}
	rc = out_neigh(o, prev);
	if (rc != 0)
		return rc;
	/* A new output's consent runs from its making (a peer that never checks times out);
	 * one that replaces another shares its state with the live entry: ice_restart(),
	 * once the replace cannot fail. */
	if (o->cfg.ice.ufrag[0] != '\0' && prev == NULL)
		o->ost->ice.check_tsc = rte_rdtsc();
	rc = srtp_take(&o->cfg.srtp, prev != NULL ? prev->srtp : NULL, &o->srtp);
	if (rc == 0)
		rc = srtp_take(&o->cfg.receiver_srtp, prev != NULL ? prev->srtp_rx : NULL,
			       &o->srtp_rx);
	if (rc == 0 && prev != NULL && dtls_same(&cfg->dtls, &prev->cfg.dtls)) {
		o->srtp = prev->srtp;
		o->srtp_rx = prev->srtp_rx;
	}
	out_keys_flag(o);
	o->wire_gen = prev == NULL ? 0 : prev->wire_gen + !same_wire(prev, o);
	return rc;
}

static const struct dp_out *
prev_out(const struct dp_sess *old, const char *id)
{
	unsigned int i;

	for (i = 0; old != NULL && i < old->nb_out; i++)
		if (strcmp(old->out[i].cfg.id, id) == 0)
			return &old->out[i];
	return NULL;
}

/* Our SSRC in feedback to the source, new with each context that protects it: a context
 * starts its SRTCP index again (RFC 3711 3.4), so under an SDES key the session had before
 * (the same id created again, the dataplane restarted from the journal) the same SSRC
 * would repeat a keystream, and the source's replay window would refuse the feedback as
 * old. A new SSRC is a new stream to it. Never 0. */
static uint32_t
fb_ssrc_new(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
		v = (uint32_t)(rte_rdtsc() * 0x9e3779b97f4a7c15ull >> 32);
	return v != 0 ? v : 1;
}

/* The context feedback to the source is protected with (dp_kfreq.c). */
static const struct mf_srtp *
fb_srtp(const struct dp_sess *s)
{
	return s->srtp_src_tx != NULL ? s->srtp_src_tx : s->srtp_in;
}

static struct dp_sess *
sess_alloc(const struct mf_sess_spec *spec)
{
	struct dp_sess *s = zalloc_lines(sizeof(*s) + spec->nb_outputs * sizeof(struct dp_out));

	if (s == NULL)
		return NULL;
	snprintf(s->id, sizeof(s->id), "%s", spec->id);
	s->kind = spec->kind;
	s->flags = spec->flags;
	s->ice = has_ice(spec);
	s->dtls = has_dtls(spec);
	s->nb_out = spec->nb_outputs;
	s->ingress = spec->ingress;
	s->limits = spec->limits;
	s->rate_burst = (uint64_t)spec->limits.max_kbps * 125;
	s->rate_bytes_per_tsc_q32 =
		(uint64_t)(((unsigned __int128)s->rate_burst << 32) / dp.tsc_hz);
	s->port = dp_port_by_index(spec->ingress.port);
	s->kf_interval_tsc = (uint64_t)(spec->limits.keyframe_interval_ms ?
		spec->limits.keyframe_interval_ms : MF_SESS_KF_INTERVAL_MS) * dp.tsc_hz / 1000;
	s->fb_ssrc = fb_ssrc_new();
	s->stats_idx = -1;
	s->timed_idx = UINT32_MAX;
	dp_sess_make_key(&spec->ingress, spec->ingress.udp_port, &s->n[0].key);
	dp_sess_make_key(&spec->ingress, (uint16_t)(spec->ingress.udp_port + 1), &s->n[1].key);
	s->n[1].rtcp = true;
	return s;
}

/* Undo out_build() for outputs that did not exist in @p old (a failed build). */
static void
sess_unbuild(struct dp_sess *s, const struct dp_sess *old, unsigned int built)
{
	unsigned int i;

	for (i = 0; i < built; i++) {
		struct dp_out *o = &s->out[i];
		const struct dp_out *p = prev_out(old, o->cfg.id);

		if (p == NULL || p->srtp != o->srtp)
			mf_srtp_destroy(o->srtp);
		if (p == NULL || p->srtp_rx != o->srtp_rx)
			mf_srtp_destroy(o->srtp_rx);
		if (p == NULL || p->nack != o->nack)
			dp_nack_ring_free(o->nack);
		explicit_bzero(&o->cfg.srtp, sizeof(o->cfg.srtp));
		explicit_bzero(&o->cfg.receiver_srtp, sizeof(o->cfg.receiver_srtp));
		if (p == NULL) {
			lines_free(o->ost);
			dp_stats_remove(o->stats_idx);
		}
		if (p == NULL || p->neigh != o->neigh)
			dp_neigh_put(o->neigh);
	}
}

/* Why outputs could not be built, in @p detail. @return the code to answer with. */
static int
outputs_refused(int rc, char *detail, size_t len)
{
	if (rc == -ENOBUFS)
		return dp_refuse(-ENOSPC, detail, len, "outputs: their NACK buffers would pass the "
				 "node's (%u of %u frames held: half of --mbufs)", dp.nack_slots,
				 dp.cfg.nb_mbufs / 2);
	return dp_refuse(rc, detail, len, "cannot set up outputs: %s", strerror(-rc));
}

static int
sess_build_outputs(struct dp_sess *s, const struct mf_sess_spec *spec, const struct dp_sess *old)
{
	unsigned int i;
	int rc;

	for (i = 0; i < s->nb_out; i++) {
		rc = out_build(s, &s->out[i], &spec->outputs[i], prev_out(old, spec->outputs[i].id));
		if (rc != 0) {
			sess_unbuild(s, old, i + 1);
			return rc;
		}
	}
	return 0;
}

int
dp_sess_add(const struct mf_sess_spec *spec, char *detail, size_t len)
{
	char name[MF_STATS_NAME_MAX];
	struct dp_sess *s = NULL;
	int rc;

	rc = check_spec(spec, detail, len);
	if (rc != 0)
		return rc;
	if (dp_sess_find(spec->id) != NULL)
		return dp_refuse(-EEXIST, detail, len, "id: session \"%s\" exists", spec->id);
	if (dp.sess.nb >= dp.cfg.max_sessions)
		return dp_refuse(-ENOSPC, detail, len, "the dataplane holds its maximum of %u sessions",
			      dp.cfg.max_sessions);
	if (dp_sess_key_taken(&spec->ingress, spec->ingress.udp_port) ||
	    (spec->kind == MF_SESS_RTP &&
	     dp_sess_key_taken(&spec->ingress, (uint16_t)(spec->ingress.udp_port + 1))))
		return dp_refuse(-EADDRINUSE, detail, len,
			      "ingress: port %u address and UDP port already used by a session",
			      spec->ingress.port);
	s = sess_alloc(spec);
	if (s == NULL)
		goto err_nomem;
	s->st = zalloc_lines(sizeof(*s->st));
	if (s->st == NULL)
		goto err_nomem;
	s->created_ns = mf_time_ns(CLOCK_REALTIME);
	s->created_tsc = rte_rdtsc();
	atomic_store(&s->st->last_rx_tsc, s->created_tsc);
	s->worker = pick_worker();
	rc = srtp_take(&s->ingress.srtp, NULL, &s->srtp_in);
	if (rc != 0) {
		dp_refuse(rc, detail, len, "ingress.srtp: cannot set up the key: %s", strerror(-rc));
		goto err;
	}
	s->dtls_wait = s->ingress.dtls.on;
	if (gop_take(s, NULL) != 0)
		goto err_nomem;
	snprintf(name, sizeof(name), "session/%s", s->id);
	s->stats_idx = dp_stats_add(name, dp.schema_sess, &s->ctr);
	if (s->stats_idx < 0) {
		rc = dp_refuse(-ENOSPC, detail, len, "stats area full");
		goto err;
	}
	rc = sess_build_outputs(s, spec, NULL);
	if (rc == 0 && (rc = dp_sess_fb_build(s)) != 0)
		sess_unbuild(s, NULL, s->nb_out);
	if (rc != 0) {
		rc = outputs_refused(rc, detail, len);
		goto err;
	}
	rc = dp_sess_tab_index(s);
	if (rc != 0) {
		sess_unbuild(s, NULL, s->nb_out);
		dp_refuse(rc, detail, len, "session index full");
		goto err;
	}
	rc = dp_sess_timed_update(NULL, s);
	if (rc == 0)
		rc = dp_sess_tab_publish(s);
	if (rc != 0) {
		dp_sess_timed_remove(s);
		dp_sess_tab_unindex(s);
		sess_unbuild(s, NULL, s->nb_out);
		dp_refuse(rc, detail, len, rc == -EADDRINUSE ? "ingress address and port taken" :
			  "session table full");
		goto err;
	}
	dp_sess_fb_link(NULL, s);
	dp.sess.per_worker[s->worker]++;
	dp.sess.nb++;
	return 0;

err_nomem:
	rc = dp_refuse(-ENOMEM, detail, len, "out of memory");
err:
	if (s != NULL) {
		dp_stats_remove(s->stats_idx);
		mf_srtp_destroy(s->srtp_in);
		dp_gop_free(s->gop);
		free(s->fb);
		lines_free(s->st);
		lines_free(s);
	}
	return rc;
}

/* The old entry's objects that the new one does not take over go after a grace period. */
/* An endpoint whose DTLS peer changed (another fingerprint, or DTLS off) lost its keys: its
 * handshake state goes too, so the next ClientHello starts clean. */
static void
dtls_forget_changed(const struct dp_sess *old, struct dp_sess *s)
{
	unsigned int i, j;

	if (!dtls_same(&s->ingress.dtls, &old->ingress.dtls) && s->st->dtls != NULL) {
		dtls_release(s->st->dtls);
		s->st->dtls = NULL;
	}
	for (i = 0; i < s->nb_out; i++)
		for (j = 0; j < old->nb_out; j++)
			if (s->out[i].ost == old->out[j].ost && s->out[i].ost->dtls != NULL &&
			    !dtls_same(&s->out[i].cfg.dtls, &old->out[j].cfg.dtls)) {
				dtls_release(s->out[i].ost->dtls);
				s->out[i].ost->dtls = NULL;
			}
}

static void
defer_dropped_outputs(const struct dp_sess *old, const struct dp_sess *s)
{
	unsigned int i;

	for (i = 0; i < old->nb_out; i++) {
		const struct dp_out *o = &old->out[i];
		const struct dp_out *kept = NULL;
		unsigned int j;

		for (j = 0; j < s->nb_out; j++)
			if (s->out[j].ost == o->ost)
				kept = &s->out[j];
		if (o->srtp != NULL && (kept == NULL || kept->srtp != o->srtp))
			dp_defer(free_srtp, o->srtp, 0);
		if (o->srtp_rx != NULL && (kept == NULL || kept->srtp_rx != o->srtp_rx))
			dp_defer(free_srtp, o->srtp_rx, 0);
		if (o->nack != NULL && (kept == NULL || kept->nack != o->nack)) {
			dp_nack_ring_retire(o->nack);
			dp_defer(free_nack, o->nack, 0);
		}
		if (kept == NULL) {
			dtls_release(o->ost->dtls);
			dp_defer(free_lines, o->ost, 0);
			dp_defer(free_stats, NULL, o->stats_idx);
		}
		if (kept == NULL || kept->neigh != o->neigh)
			dp_defer(free_neigh, NULL, (int)o->neigh);
	}
}

static void
sess_unbuild_ingress(struct dp_sess *s, const struct dp_sess *old)
{
	if (s->srtp_in != old->srtp_in)
		mf_srtp_destroy(s->srtp_in);
	if (s->gop != old->gop)
		dp_gop_free(s->gop);
}

/* A new ingress key: the one it replaces stays as the previous key (packets already on
 * their way under it still pass). No key: plaintext never tries one, so both old keys go
 * rather than stay in memory for the session's life. @p retired gets the keys no entry will
 * use once @p s is published (or NULLs). */
static void
sess_rekey_ingress(const struct dp_sess *old, struct dp_sess *s, struct mf_srtp *retired[2])
{
	retired[0] = NULL;
	retired[1] = NULL;
	if (s->srtp_in == old->srtp_in) {
		s->srtp_in_prev = old->srtp_in_prev;
	} else if (s->srtp_in == NULL) {
		s->srtp_in_prev = NULL;
		retired[0] = old->srtp_in;
		retired[1] = old->srtp_in_prev;
	} else {
		s->srtp_in_prev = old->srtp_in;
		retired[0] = old->srtp_in_prev;
	}
}

/* Outputs whose consent runs again from now, @p s having replaced @p old: a destination
 * from the spec counts as a check just made (not a check of a pair it had before, lost or
 * under other credentials), and so do new credentials. Not before the replace is done: the
 * state is the live entry's too, and a refused update must renew no consent. */
static void
ice_restart(const struct dp_sess *old, struct dp_sess *s)
{
	uint64_t now = rte_rdtsc();
	unsigned int i;

	for (i = 0; i < s->nb_out; i++) {
		struct dp_out *o = &s->out[i];
		const struct dp_out *p = prev_out(old, o->cfg.id);

		if (o->cfg.ice.ufrag[0] != '\0' && p != NULL &&
		    (!ice_same(&o->cfg.ice, &p->cfg.ice) || (o->family != 0 && p->family == 0)))
			o->ost->ice.check_tsc = now;
	}
}

int
dp_sess_replace(const struct mf_sess_spec *spec, char *detail, size_t len)
{
	struct mf_srtp *retired[2];
	struct dp_sess *old, *s;
	unsigned int i;
	int rc;

	old = dp_sess_find(spec->id);
	if (old == NULL)
		return dp_refuse(-ENOENT, detail, len, "id: no session \"%s\"", spec->id);
	rc = check_spec(spec, detail, len);
	if (rc != 0)
		return rc;
	if (spec->kind != old->kind || spec->ingress.port != old->ingress.port ||
	    spec->ingress.udp_port != old->ingress.udp_port ||
	    !mf_addr_equal(&spec->ingress.local, &old->ingress.local))
		return dp_refuse(-EINVAL, detail, len,
			      "kind and ingress port, address and udp_port cannot change");
	s = sess_alloc(spec);
	if (s == NULL)
		return dp_refuse(-ENOMEM, detail, len, "out of memory");
	s->st = old->st;
	/* ICE: the source its peer nominated stays while the credentials do. */
	if (s->ingress.src_mode == MF_SRC_ICE && old->ingress.src_mode == MF_SRC_ICE &&
	    ice_same(&s->ingress.ice, &old->ingress.ice)) {
		s->ingress.src = old->ingress.src;
		s->ingress.src_port = old->ingress.src_port;
	}
	s->worker = old->worker;
	s->capture = old->capture;	/* an update does not end a capture */
	s->created_ns = old->created_ns;
	s->created_tsc = old->created_tsc;
	s->idle = old->idle;
	s->stats_idx = old->stats_idx;
	s->ctr = old->ctr;
	rc = srtp_take(&s->ingress.srtp, old->srtp_in, &s->srtp_in);
	if (rc != 0) {
		lines_free(s);
		return dp_refuse(rc, detail, len, "ingress.srtp: cannot set up the key: %s",
			      strerror(-rc));
	}
	if (dtls_same(&s->ingress.dtls, &old->ingress.dtls)) {
		s->srtp_in = old->srtp_in;
		s->srtp_src_tx = old->srtp_src_tx;
	}
	s->dtls_wait = s->ingress.dtls.on && s->srtp_in == NULL;
	if (fb_srtp(s) == fb_srtp(old))
		s->fb_ssrc = old->fb_ssrc;
	if (gop_take(s, old) != 0) {
		sess_unbuild_ingress(s, old);
		lines_free(s);
		return dp_refuse(-ENOMEM, detail, len, "out of memory");
	}
	rc = sess_build_outputs(s, spec, old);
	if (rc == 0 && (rc = dp_sess_fb_build(s)) != 0)
		sess_unbuild(s, old, s->nb_out);
	if (rc != 0) {
		sess_unbuild_ingress(s, old);
		lines_free(s);
		return outputs_refused(rc, detail, len);
	}
	rc = dp_sess_timed_update(old, s);
	if (rc != 0) {
		sess_unbuild(s, old, s->nb_out);
		sess_unbuild_ingress(s, old);
		free(s->fb);
		lines_free(s);
		return dp_refuse(rc, detail, len, "out of memory");
	}
	sess_rekey_ingress(old, s, retired);
	dp_sess_tab_replace(old, s);
	dp_sess_fb_link(old, s);
	/* The id's index entry now points at the new entry (same key: no allocation). */
	dp_sess_tab_index(s);
	for (i = 0; i < RTE_DIM(retired); i++)
		if (retired[i] != NULL)
			dp_defer(free_srtp, retired[i], 0);
	if (old->srtp_src_tx != NULL && old->srtp_src_tx != s->srtp_src_tx)
		dp_defer(free_srtp, old->srtp_src_tx, 0);
	dtls_forget_changed(old, s);
	ice_restart(old, s);
	defer_dropped_outputs(old, s);
	if (old->gop != NULL && old->gop != s->gop)
		dp_defer(free_gop, old->gop, 0);
	dp_defer(free_mem, old->fb, 0);
	dp_defer(free_lines, old, 0);
	return 0;
}

/* The entry again, sharing everything with @p old (state, contexts, rings, counters): only
 * the entry itself is new. */
static struct dp_sess *
entry_copy(const struct dp_sess *old)
{
	size_t size = sizeof(*old) + old->nb_out * sizeof(struct dp_out);
	struct dp_sess *s = zalloc_lines(size);

	if (s == NULL)
		return NULL;
	memcpy(s, old, size);
	return s;
}

/* @p s, a changed copy of @p old, takes its place. @return 0, or -ENOMEM (nothing done). */
static int
entry_swap(struct dp_sess *old, struct dp_sess *s)
{
	int rc = dp_sess_fb_build(s);

	if (rc == 0 && (rc = dp_sess_timed_update(old, s)) != 0)
		free(s->fb);
	if (rc != 0)
		return rc;
	dp_sess_tab_replace(old, s);
	dp_sess_fb_link(old, s);
	dp_sess_tab_index(s);
	dp_defer(free_mem, old->fb, 0);
	dp_defer(free_lines, old, 0);
	return 0;
}

/* One ICE endpoint's pair changed. */
int
dp_sess_ice_select(struct dp_sess *old, int out, const struct mf_addr *addr, uint16_t port)
{
	static const struct mf_addr none;
	struct dp_sess *s = entry_copy(old);
	int rc;

	if (s == NULL)
		return -ENOMEM;
	if (addr == NULL)
		addr = &none;
	if (out < 0) {
		s->ingress.src = *addr;
		s->ingress.src_port = port;
	} else {
		struct dp_out *o = &s->out[out];

		o->cfg.dst = *addr;
		o->cfg.dst_port = port;
		o->wire_gen++;		/* frames kept were for the pair before */
		out_route(s, o);
		rc = out_neigh(o, &old->out[out]);
		if (rc != 0)
			goto err;
		o->wait_gen++;	/* a new receiver: it starts as its start says */
	}
	if (out >= 0 && old->out[out].neigh != s->out[out].neigh) {
		uint32_t neigh = old->out[out].neigh;

		rc = entry_swap(old, s);
		if (rc == 0)
			dp_defer(free_neigh, NULL, (int)neigh);
	} else {
		rc = entry_swap(old, s);
	}
	if (rc != 0)
		goto err;
	return 0;
err:
	if (out >= 0 && old->out[out].neigh != s->out[out].neigh)
		dp_neigh_put(s->out[out].neigh);
	lines_free(s);
	return rc;
}

/* A capture of the session starts or ends: the workers copy its packets while it is on. */
int
dp_sess_capture(struct dp_sess *old, bool on)
{
	struct dp_sess *s = entry_copy(old);
	int rc;

	if (s == NULL)
		return -ENOMEM;
	s->capture = on;
	rc = entry_swap(old, s);
	if (rc != 0)
		lines_free(s);
	return rc;
}

/* One DTLS endpoint's handshake gave it keys. */
int
dp_sess_dtls_keys(struct dp_sess *old, int out, struct mf_srtp_params *local,
		  struct mf_srtp_params *remote)
{
	struct mf_srtp *rx = NULL, *tx = NULL;
	struct mf_srtp *gone[3] = { NULL, NULL, NULL };
	struct dp_sess *s = NULL;
	unsigned int i;
	int rc;

	rc = mf_srtp_create(remote, &rx);
	if (rc == 0)
		rc = mf_srtp_create(local, &tx);
	explicit_bzero(local, sizeof(*local));
	explicit_bzero(remote, sizeof(*remote));
	if (rc == 0 && (s = entry_copy(old)) == NULL)
		rc = -ENOMEM;
	if (rc != 0)
		goto err;
	if (out < 0) {
		/* As an SDES re-key: the publisher sends under the old keys until our last
		 * flight reaches it, so the old stays as the previous key. */
		gone[0] = old->srtp_in_prev;
		gone[1] = old->srtp_src_tx;
		s->srtp_in = rx;
		s->srtp_in_prev = old->srtp_in;
		s->srtp_src_tx = tx;
		s->dtls_wait = false;
	} else {
		struct dp_out *o = &s->out[out];

		gone[0] = o->srtp;
		gone[1] = o->srtp_rx;
		o->srtp = tx;
		o->srtp_rx = rx;
		o->wire_gen++;		/* frames kept were under the keys before */
		out_keys_flag(o);
		o->wait_gen++;	/* its receiver can read from now: it starts as its start says */
	}
	rc = entry_swap(old, s);
	if (rc != 0)
		goto err;
	for (i = 0; i < 3; i++)
		if (gone[i] != NULL)
			dp_defer(free_srtp, gone[i], 0);
	return 0;
err:
	lines_free(s);
	mf_srtp_destroy(rx);
	mf_srtp_destroy(tx);
	return rc;
}

int
dp_sess_del(const char *id, enum mf_event_kind why, char *detail, size_t len)
{
	struct dp_sess *s = dp_sess_find(id);
	unsigned int i;

	if (s == NULL)
		return dp_refuse(-ENOENT, detail, len, "id: no session \"%s\"", id);
	dp_sess_tab_unlink(s);
	dp_sess_fb_unlink(s);
	dp_sess_timed_remove(s);
	dp_sess_tab_unindex(s);
	if (s->srtp_in != NULL)
		dp_defer(free_srtp, s->srtp_in, 0);
	if (s->srtp_in_prev != NULL)
		dp_defer(free_srtp, s->srtp_in_prev, 0);
	if (s->srtp_src_tx != NULL)
		dp_defer(free_srtp, s->srtp_src_tx, 0);
	dtls_release(s->st->dtls);
	for (i = 0; i < s->nb_out; i++) {
		if (s->out[i].srtp != NULL)
			dp_defer(free_srtp, s->out[i].srtp, 0);
		if (s->out[i].srtp_rx != NULL)
			dp_defer(free_srtp, s->out[i].srtp_rx, 0);
		if (s->out[i].nack != NULL) {
			dp_nack_ring_retire(s->out[i].nack);
			dp_defer(free_nack, s->out[i].nack, 0);
		}
		dtls_release(s->out[i].ost->dtls);
		dp_defer(free_lines, s->out[i].ost, 0);
		dp_defer(free_stats, NULL, s->out[i].stats_idx);
		dp_defer(free_neigh, NULL, (int)s->out[i].neigh);
	}
	dp_defer(free_stats, NULL, s->stats_idx);
	dp_defer(free_lines, s->st, 0);
	dp_defer(free_mem, s->fb, 0);
	if (s->gop != NULL)
		dp_defer(free_gop, s->gop, 0);
	dp.sess.per_worker[s->worker]--;
	dp.sess.nb--;
	dp_event(why, s->id, NULL, 0, 0);
	/* Last: with no memory to defer, the entry is freed at once (after a grace period). */
	dp_defer(free_lines, s, 0);
	return 0;
}

void
dp_sess_info(const struct dp_sess *s, struct mf_msg_sess_info *info)
{
	const struct dp_sess_state *st = s->st;
	uint64_t vals[DP_SC_MAX] = { 0 }, last, now;
	uint16_t l, f;
	unsigned int i;

	memset(info, 0, sizeof(*info));
	snprintf(info->spec.id, sizeof(info->spec.id), "%s", s->id);
	info->spec.kind = s->kind;
	info->spec.flags = s->flags;
	info->spec.ingress = s->ingress;
	info->spec.limits = s->limits;
	info->spec.nb_outputs = s->nb_out;
	for (i = 0; i < s->nb_out; i++) {
		info->spec.outputs[i] = s->out[i].cfg;
		info->spec.outputs[i].flags &= (uint8_t)~DP_OUT_F_OURS;
	}
	mf_sess_wipe_keys(&info->spec);
	info->live.worker = s->worker;
	/* Read without the owner's cooperation: a snapshot that may be a packet old. */
	info->live.src_latched = st->latched;
	info->live.latched_src = st->src;
	info->live.latched_port = st->src_port;
	if (s->ingress.src_mode == MF_SRC_ICE) {	/* the nominated pair, if any */
		info->live.src_latched = s->ingress.src.family != 0;
		info->live.latched_src = s->ingress.src;
		info->live.latched_port = s->ingress.src_port;
	}
	info->live.last_ssrc = st->rx.ssrc;
	info->live.created_ns = s->created_ns;
	last = atomic_load_explicit(&st->last_rx_tsc, memory_order_relaxed);
	now = rte_rdtsc();
	/* A worker's TSC a little ahead of this lcore's reads as 0, not as 2^64. */
	info->live.idle_ms = dp_tsc_ms(now > last ? now - last : 0);
	for (l = 0; l <= dp.nb_workers; l++) {
		const uint64_t *c = dp_ctr_of(s->ctr, dp.stride_sess, l);

		for (f = 0; f < DP_SC_MAX; f++)
			vals[f] += c[f];
	}
	/* The hot counters as the worker has them, not their last copy into the stats area. */
	info->live.rx_pkts = st->hot.rx_pkts;
	info->live.rx_bytes = st->hot.rx_bytes;
	info->live.tx_pkts = st->hot.tx_pkts;
	info->live.dropped = vals[DP_SC_drop_src] + vals[DP_SC_drop_media] + vals[DP_SC_drop_rate] +
			     vals[DP_SC_drop_blocked] + vals[DP_SC_drop_srtp_auth] +
			     vals[DP_SC_drop_srtp_replay];
}

/* At shutdown the workers have stopped: free everything directly, without the events,
 * stats updates and grace periods a deletion by command needs (a million sessions would
 * take a minute that way). */
void
dp_sess_table_fini(void)
{
	struct dp_sess **all;
	uint32_t n, k;
	unsigned int i;

	if (dp.sess.table == NULL)
		return;
	dp_defer_reclaim();
	all = dp_sess_tab_drain(&n);
	/* Offline from here: cds_lfht_destroy() waits for resizes the deletions queued, and a
	 * resize waits for a grace period that an online caller would hold off forever. There
	 * are no readers left; liburcu's contract is kept all the same. */
	if (dp.rcu_registered) {
		urcu_qsbr_thread_offline();
		urcu_qsbr_synchronize_rcu();
	}
	for (k = 0; k < n; k++) {
		for (i = 0; i < all[k]->nb_out; i++) {
			mf_srtp_destroy(all[k]->out[i].srtp);
			mf_srtp_destroy(all[k]->out[i].srtp_rx);
			dp_nack_ring_free(all[k]->out[i].nack);
			dtls_release(all[k]->out[i].ost->dtls);
			lines_free(all[k]->out[i].ost);
		}
		mf_srtp_destroy(all[k]->srtp_in);
		mf_srtp_destroy(all[k]->srtp_in_prev);
		mf_srtp_destroy(all[k]->srtp_src_tx);
		dtls_release(all[k]->st->dtls);
		dp_gop_free(all[k]->gop);
		free(all[k]->fb);
		lines_free(all[k]->st);
		lines_free(all[k]);
	}
	free(all);
	dp_sess_tab_destroy();
	if (dp.rcu_registered)
		urcu_qsbr_thread_online();
	dp_defer_fini();
	dp_sess_timers_fini();
}
