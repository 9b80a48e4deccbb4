/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The packet path of a worker, for one burst:
 *
 *   classify   Ethernet/VLAN -> IPv4/IPv6 -> UDP (lib parsers); ARP, ICMP echo and ND go
 *              to the control lcore (punt); anything else is counted by reason and dropped
 *   lookup     (port, destination address, destination port), the burst at once, in the
 *              session table (dp_sess_table.c);
 *              a packet of another worker's session is handed to that worker, in order
 *   demux      ICE sessions (RFC 7983): STUN to the control lcore (punt, within a
 *              budget), only RTP and RTCP go on
 *   admit      source check (fixed, latched on the first packet, or ICE's nominated
 *              pair), rate limit
 *   unprotect  SRTP/SRTCP sessions: authenticate, check replay, decrypt in place (lib/srtp)
 *   inspect    by kind: RTP (receive figures, jitter), RTCP (compound check), MPEG-TS
 *              (sync, continuity counters, PAT/PMT), UDP (nothing)
 *   fan out    per output: pause and payload-type filter, RTP SSRC/sequence/timestamp
 *              rewrite, TS PID filter, SRTP/SRTCP protect with the output's key, then new
 *              Ethernet/IP/UDP headers (dp_out.c) and the TX buffer of the output's port
 *
 * Nothing here allocates from the heap, locks, logs or makes a system call; every drop is
 * counted by reason.
 */

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include "dp.h"
#include "dp_capture.h"
#include "dp_event.h"
#include "dp_pkt.h"
#include "mf/mf_keyframe.h"
#include "mf/mf_rtp.h"
#include "mf/mf_ts.h"

static inline void
count_drop(struct dp_lcore *lc, struct rte_mbuf *m, unsigned int ctr)
{
	lc->ctr[ctr]++;
	rte_pktmbuf_free(m);
}

/* ---- classify ---- */

static inline bool
is_slow_path(const struct dp_pkt *p, int rc)
{
	if (rc == MF_PKT_NON_IP)
		return p->l4.eth.ethertype == MF_ETHER_TYPE_ARP;
	if (rc == MF_PKT_NON_UDP)
		return p->l4.ip.proto == MF_IPPROTO_ICMP || p->l4.ip.proto == MF_IPPROTO_ICMPV6;
	return false;
}

/* A fragment for us joins its datagram (dp_frag.c); the one that completes it brings the
 * whole datagram back, parsed. @return the parse result of what p->m is now, or 1 when the
 * fragment was consumed (held or dropped, counted). */
static int
reassemble(struct dp_lcore *lc, struct dp_pkt *p, uint16_t port, uint64_t now)
{
	struct rte_mbuf *m;

	if (!dp_port_owns(&dp.ports[port], p->l4.ip.version, p->l4.ip.dst)) {
		count_drop(lc, p->m, DP_CTR_drop_not_ours);
		return 1;
	}
	m = dp_frag_in(lc, p, now);
	if (m == NULL)
		return 1;
	p->m = m;
	p->data = rte_pktmbuf_mtod(m, uint8_t *);
	return mf_pkt_parse_udp(p->data, m->data_len, &p->l4);
}

/* @return true when the packet goes on to the lookup; otherwise it was consumed. */
static inline bool
classify(struct dp_lcore *lc, struct dp_pkt *p, uint16_t port, uint64_t now)
{
	struct rte_mbuf *m = p->m;
	int rc;

	if (unlikely(m->nb_segs != 1)) {
		count_drop(lc, m, DP_CTR_drop_multiseg);
		return false;
	}
	p->data = rte_pktmbuf_mtod(m, uint8_t *);
	rc = mf_pkt_parse_udp(p->data, m->data_len, &p->l4);
	if (likely(rc == 0))
		return true;
	if (rc == MF_PKT_FRAGMENT) {
		rc = reassemble(lc, p, port, now);
		if (rc == 1)
			return false;
		if (likely(rc == 0))
			return true;
		m = p->m;
	}
	if (rc < 0) {
		count_drop(lc, m, DP_CTR_PKT_ERR_BASE + (unsigned int)(-rc) - 1);
	} else if (is_slow_path(p, rc)) {
		if (rte_ring_sp_enqueue(lc->punt, m) != 0)
			count_drop(lc, m, DP_CTR_punt_full);
		else
			lc->ctr[DP_CTR_punted]++;
	} else {
		/* Not UDP (or, reassembled, a fragment still: the table never gives one). */
		count_drop(lc, m, DP_CTR_drop_not_udp);
	}
	return false;
}

/* No session receives there: RTCP from a session's receivers, to where its outputs send
 * from (off the fast path: only packets no ingress wants get here). */
static struct dp_sess *
lookup_fb(struct dp_pkt *p, uint16_t port)
{
	struct dp_sess_key k;

	dp_sess_key_of(&p->l4, port, &k);
	p->rtcp = true;
	p->fb_only = true;
	return dp_sess_lookup_fb(&k);
}

/* ---- admit ---- */

static inline bool
source_ok(struct dp_sess *s, const struct dp_pkt *p)
{
	const struct mf_sess_ingress *in = &s->ingress;
	struct dp_sess_state *st = s->st;
	size_t alen = p->l4.ip.version == 4 ? 4 : 16;

	switch (in->src_mode) {
	case MF_SRC_ICE:	/* the nominated pair, set by the control lcore; none: family 0 */
	case MF_SRC_FIXED:
		return in->src.family == p->l4.ip.version &&
		       memcmp(in->src.a, p->l4.ip.src, alen) == 0 &&
		       (in->src_port == 0 || in->src_port == p->l4.udp.sport);
	case MF_SRC_LATCH:
		/* The address latches on the first packet, the port on the first that is not
		 * RTCP: senders often send a report from port + 1 before any media. */
		if (!st->latched) {
			st->src.family = p->l4.ip.version;
			memcpy(st->src.a, p->l4.ip.src, sizeof(st->src.a));
			st->src_port = p->rtcp ? 0 : p->l4.udp.sport;
			st->latched = true;
			dp_event_post(&dp.lcores[s->worker], MF_EV_SOURCE_LATCHED, s->id, &st->src,
				      p->l4.udp.sport, 0);
			return true;
		}
		if (st->src.family != p->l4.ip.version || memcmp(st->src.a, p->l4.ip.src, alen) != 0)
			return false;
		if (p->rtcp)
			return true;
		if (st->src_port == 0)
			st->src_port = p->l4.udp.sport;
		return st->src_port == p->l4.udp.sport;
	default:
		return true;
	}
}

static inline bool
rate_ok(struct dp_sess *s, uint64_t now, uint32_t bytes)
{
	struct dp_sess_state *st = s->st;
	unsigned __int128 add;

	if (s->limits.max_kbps == 0)
		return true;
	/* Bytes earned since the last refill; the factor is the entry's, made once. */
	add = ((unsigned __int128)(now - st->rate_tsc) * s->rate_bytes_per_tsc_q32) >> 32;
	if (add > 0) {
		st->rate_tokens = add >= s->rate_burst ? s->rate_burst :
			RTE_MIN(st->rate_tokens + (uint64_t)add, s->rate_burst);
		st->rate_tsc = now;
	}
	if (st->rate_tokens < bytes)
		return false;
	st->rate_tokens -= bytes;
	return true;
}

/* ---- inspect: RTP ---- */

/* RFC 3551 tables 4 and 5, the static payload types; 0 where none is assigned. Dynamic
 * types need the spec's clock_rates. */
static const uint32_t rfc3551_rate[35] = {
	[0] = 8000,	/* PCMU */
	[3] = 8000,	/* GSM */
	[4] = 8000,	/* G723 */
	[5] = 8000,	/* DVI4 */
	[6] = 16000,	/* DVI4 */
	[7] = 8000,	/* LPC */
	[8] = 8000,	/* PCMA */
	[9] = 8000,	/* G722: 8000 by the RFC's note, though sampled at 16 kHz */
	[10] = 44100,	/* L16 stereo */
	[11] = 44100,	/* L16 mono */
	[12] = 8000,	/* QCELP */
	[13] = 8000,	/* CN */
	[14] = 90000,	/* MPA */
	[15] = 8000,	/* G728 */
	[16] = 11025,	/* DVI4 */
	[17] = 22050,	/* DVI4 */
	[18] = 8000,	/* G729 */
	[25] = 90000,	/* CelB */
	[26] = 90000,	/* JPEG */
	[28] = 90000,	/* nv */
	[31] = 90000,	/* H261 */
	[32] = 90000,	/* MPV */
	[33] = 90000,	/* MP2T */
	[34] = 90000,	/* H263 */
};

static uint32_t
clock_rate(const struct dp_sess *s, uint8_t pt)
{
	unsigned int i;

	for (i = 0; i < s->ingress.nb_clock; i++)
		if (s->ingress.clock[i].pt == pt)
			return s->ingress.clock[i].rate;
	return pt < RTE_DIM(rfc3551_rate) ? rfc3551_rate[pt] : 0;
}

static void
rtp_rx_reset(struct dp_rtp_rx *rx, const struct mf_rtp *r)
{
	uint64_t pe = rx->prior_expected, pr = rx->prior_received;

	if (rx->init) {
		pe += rx->cycles + rx->max_seq - rx->base_seq + 1;
		pr += rx->received;
	}
	memset(rx, 0, sizeof(*rx));
	rx->prior_expected = pe;
	rx->prior_received = pr;
	rx->init = true;
	rx->ssrc = r->ssrc;
	rx->max_seq = r->seq;
	rx->base_seq = r->seq;
}

static void rtp_jitter(const struct dp_sess *s, struct dp_rtp_rx *rx, const struct mf_rtp *r,
		       uint64_t now);

/* RFC 3550 A.1 and A.8: sequence tracking with duplicates and reordering, and jitter. */
static void
rtp_rx(struct dp_sess *s, const struct mf_rtp *r, uint64_t now, uint64_t *sc)
{
	struct dp_rtp_rx *rx = &s->st->rx;
	uint16_t delta;
	bool dup = false;

	if (unlikely(!rx->init || rx->ssrc != r->ssrc)) {
		if (rx->init) {
			sc[DP_SC_ssrc_changes]++;
			dp_event_post(&dp.lcores[s->worker], MF_EV_SSRC_CHANGED, s->id, NULL, 0,
				      r->ssrc);
		}
		rtp_rx_reset(rx, r);
		rx->window = 1;
		rx->received = 1;
		goto jitter;
	}
	delta = (uint16_t)(r->seq - rx->max_seq);
	if (delta == 0) {
		dup = true;
	} else if (delta < 0x8000) {
		if (r->seq < rx->max_seq)
			rx->cycles += 65536;
		rx->window = delta >= 64 ? 1 : (rx->window << delta) | 1;
		rx->max_seq = r->seq;
	} else {
		uint16_t back = (uint16_t)(rx->max_seq - r->seq);

		if (back < 64 && (rx->window & (UINT64_C(1) << back)))
			dup = true;
		else if (back < 64)
			rx->window |= UINT64_C(1) << back;
		if (!dup)
			sc[DP_SC_reorder]++;
	}
	if (dup) {
		sc[DP_SC_dup]++;
		return;
	}
	rx->received++;
jitter:
	{
		uint64_t expected = rx->prior_expected + rx->cycles + rx->max_seq - rx->base_seq + 1;
		uint64_t received = rx->prior_received + rx->received;

		s->st->hot.rtp_expected = expected;
		s->st->hot.rtp_lost = expected > received ? expected - received : 0;
	}
	rtp_jitter(s, rx, r, now);
}

/* RFC 3550 A.8 from arrival deltas: D = (arrival delta) - (timestamp delta), in RTP units.
 * The clock rate and the factors that replace divisions change only with the payload type. */
static void
rtp_jitter(const struct dp_sess *s, struct dp_rtp_rx *rx, const struct mf_rtp *r, uint64_t now)
{
	int64_t d;

	if (unlikely(r->pt != rx->pt || rx->rate == 0)) {
		rx->pt = r->pt;
		rx->rate = clock_rate(s, r->pt);
		rx->last_tsc = 0;
		if (rx->rate == 0)
			return;
		rx->rtp_per_tsc_q32 = ((uint64_t)rx->rate << 32) / dp.tsc_hz;
		rx->us_per_q4_q32 = (UINT64_C(1000000) << 32) / (16ull * rx->rate);
	}
	if (rx->last_tsc != 0) {
		d = (int64_t)(((unsigned __int128)(now - rx->last_tsc) * rx->rtp_per_tsc_q32) >> 32) -
		    (int32_t)(r->ts - rx->last_ts);
		if (d < 0)
			d = -d;
		rx->jitter_q4 += (uint32_t)d - ((rx->jitter_q4 + 8) >> 4);
		s->st->hot.jitter_us = (uint32_t)(((uint64_t)rx->jitter_q4 *
						   rx->us_per_q4_q32) >> 32);
	}
	rx->last_tsc = now;
	rx->last_ts = r->ts;
}

/* ---- inspect: MPEG-TS ---- */

/* The PIDs a PMT may have (ISO/IEC 13818-1 table 2-3), below the null packets'. */
#define TS_PID_MIN	0x0010

/* The PMT PIDs the latest PAT names, each once. Each PAT replaces the list: a PID it no
 * longer names may carry anything next (a GOP cache would keep that as the PMT), and a list
 * that only grew would be full after eight moves and learn no more. A PAT of several
 * sections replaces it at its first and adds the others; after its last, a video stream
 * whose program it no longer names with that PMT PID is forgotten until a PMT names one
 * again (unless the list was cut short: a ninth PMT PID, or a section going on in the next
 * packet, not read). Programs may share a PMT PID: the PID alone would keep a video whose
 * program left.
 * A PAT that does not apply yet (current_next_indicator 0), one flagged damaged
 * (transport_error_indicator), one whose section length no PAT has, or one whole in the
 * packet with the wrong CRC_32 (counted) changes nothing. @return whether it was read. */
static bool
ts_note_pat(struct dp_ts_rx *ts, const uint8_t *pkt, const struct mf_ts_pkt *k, uint64_t *sc)
{
	unsigned int off = k->payload_off, end, i;
	uint16_t section_len;

	if (!k->pusi || k->tei || off >= MF_TS_PKT_LEN)
		return false;
	off += 1u + pkt[off];		/* pointer_field */
	if (off + 8 > MF_TS_PKT_LEN || pkt[off] != 0)	/* table_id 0: PAT */
		return false;
	/* 5 bytes after the length, 4 a program, the CRC's 4; at most 1,021 in all. */
	section_len = (uint16_t)((pkt[off + 1] & 0x0f) << 8 | pkt[off + 2]);
	if (section_len < 9 || section_len > 1021 || (section_len - 9) % 4 != 0 ||
	    !(pkt[off + 5] & 0x01) || pkt[off + 6] > pkt[off + 7])
		return false;
	if (off + 3u + section_len <= MF_TS_PKT_LEN &&
	    !mf_ts_section_crc_ok(pkt + off, 3u + section_len)) {
		sc[DP_SC_ts_crc_err]++;
		return false;
	}
	ts->pat_seen = true;
	if (pkt[off + 6] == 0) {	/* section_number */
		ts->nb_pmt = 0;
		ts->pat_cut = false;
		ts->pat_video = false;
	}
	if (off + 3u + section_len > MF_TS_PKT_LEN)
		ts->pat_cut = true;
	end = RTE_MIN(off + 3u + section_len - 4u, (unsigned int)MF_TS_PKT_LEN);
	for (i = off + 8; i + 4 <= end; i += 4) {
		uint16_t prog = (uint16_t)(pkt[i] << 8 | pkt[i + 1]);
		uint16_t pid = (uint16_t)((pkt[i + 2] & 0x1f) << 8 | pkt[i + 3]);

		if (prog == ts->video_prog && pid == ts->video_pmt)
			ts->pat_video = true;
		if (prog == 0 || pid < TS_PID_MIN || pid == MF_TS_PID_NULL || dp_ts_is_pmt(ts, pid))
			continue;
		if (ts->nb_pmt == RTE_DIM(ts->pmt_pid)) {
			ts->pat_cut = true;
			break;
		}
		ts->pmt_pid[ts->nb_pmt++] = pid;
	}
	/* last_section_number: the list is whole. */
	if (pkt[off + 6] == pkt[off + 7] && !ts->pat_cut && ts->has_video && !ts->pat_video)
		ts->has_video = false;
	return true;
}

/* The video a PMT names. One that names none drops the video its program named before (a
 * key frame on a PID no longer video is none); programs may share a PMT PID, told apart
 * by program_number. A PMT flagged damaged or not current, one with the wrong CRC_32
 * (counted), or one going on in the next packet with no video in this one, cannot drop
 * it. @return whether it was read. */
static bool
ts_note_pmt(struct dp_ts_rx *ts, const uint8_t *pkt, uint16_t pid, uint64_t *sc)
{
	uint16_t prog = 0;
	int rc = mf_ts_pmt_video(pkt, MF_TS_PKT_LEN, &prog, &ts->video_pid, &ts->video_type);

	if (rc == -EBADMSG)
		sc[DP_SC_ts_crc_err]++;
	if (rc == 0) {
		ts->has_video = true;
		ts->video_pmt = pid;
		ts->video_prog = prog;
	} else if (rc == -ENOENT && ts->video_pmt == pid && ts->video_prog == prog) {
		ts->has_video = false;
	}
	return rc == 0 || rc == -ENOENT;
}

static void
ts_cc(struct dp_ts_rx *ts, const struct mf_ts_pkt *k, uint64_t *sc)
{
	unsigned int i;

	for (i = 0; i < ts->nb; i++)
		if (ts->pid[i] == k->pid)
			break;
	if (i == ts->nb) {
		if (ts->nb < DP_TS_TRACK) {
			ts->pid[ts->nb] = k->pid;
			ts->cc[ts->nb++] = k->cc;
		}
		return;
	}
	/* With a payload the counter advances by one; a single repeat is a legal duplicate. */
	if (mf_ts_has_payload(k) && !k->discontinuity && k->cc != ts->cc[i] &&
	    k->cc != ((ts->cc[i] + 1) & 0x0f))
		sc[DP_SC_ts_cc_err]++;
	ts->cc[i] = k->cc;
}

/* The TS packets of one datagram (or RTP payload); @p psi: the tables read (enum dp_psi).
 * @return false when it is not MPEG-TS. */
static bool
ts_rx(struct dp_sess *s, const uint8_t *d, uint16_t len, uint8_t *psi, uint64_t *sc)
{
	struct dp_ts_rx *ts = &s->st->ts;
	struct mf_ts t;
	unsigned int i;
	int rc = mf_ts_parse(d, len, &t);

	if (rc == -MF_PKT_E_TS_SYNC)
		sc[DP_SC_ts_sync_err]++;
	if (rc != 0)
		return false;
	sc[DP_SC_ts_pkts] += t.nb;
	for (i = 0; i < t.nb; i++) {
		const struct mf_ts_pkt *k = &t.pkts[i];

		if (k->pid == MF_TS_PID_NULL)
			continue;
		ts_cc(ts, k, sc);
		if (k->pid == MF_TS_PID_PAT && ts_note_pat(ts, d + i * MF_TS_PKT_LEN, k, sc))
			*psi |= DP_PSI_PAT;
		if (!dp_ts_is_pmt(ts, k->pid))
			continue;
		ts->pmt_seen = true;
		if (k->pusi && ts_note_pmt(ts, d + i * MF_TS_PKT_LEN, k->pid, sc))
			*psi |= DP_PSI_PMT;
	}
	sc[DP_SC_ts_pat_seen] = ts->pat_seen;
	sc[DP_SC_ts_pmt_seen] = ts->pmt_seen;
	return true;
}

/* ---- the session stage ---- */

/* SRTP/SRTCP unprotect in place: the payload loses its trailer. After a re-key, packets the
 * sender protected under the previous key still pass. @return 0, or the session counter of
 * the drop. */
static int
unprotect(struct dp_sess *s, struct dp_pkt *p, uint64_t *sc)
{
	uint8_t *pl = p->data + p->l4.payload_off;
	size_t n = p->l4.payload_len;
	int rc;

	rc = p->rtcp ? mf_srtcp_unprotect(s->srtp_in, pl, &n) : mf_srtp_unprotect(s->srtp_in, pl, &n);
	if (unlikely(rc == -MF_SRTP_E_AUTH && s->srtp_in_prev != NULL)) {
		rc = p->rtcp ? mf_srtcp_unprotect(s->srtp_in_prev, pl, &n) :
			       mf_srtp_unprotect(s->srtp_in_prev, pl, &n);
		if (rc == 0)
			sc[DP_SC_srtp_prev_key]++;
	}
	if (likely(rc == 0)) {
		p->l4.payload_len = (uint16_t)n;
		return 0;
	}
	if (rc == -MF_SRTP_E_AUTH)
		return DP_SC_drop_srtp_auth;
	return rc == -MF_SRTP_E_REPLAY ? DP_SC_drop_srtp_replay : DP_SC_drop_media;
}

/* Decide what the packet is within its session, unprotect and inspect it. @return 0, or the
 * session counter of the drop. */
static int
inspect(struct dp_sess *s, struct dp_pkt *p, uint64_t now, uint64_t *sc)
{
	const uint8_t *pl = p->data + p->l4.payload_off;
	int drop;

	p->what = DP_WHAT_UDP;
	p->psi = 0;
	if (s->kind == MF_SESS_UDP)
		return 0;
	if (s->kind == MF_SESS_MPEGTS) {
		p->what = DP_WHAT_TS;
		return ts_rx(s, pl, p->l4.payload_len, &p->psi, sc) ? 0 : DP_SC_drop_media;
	}
	if (unlikely(s->dtls_wait))
		return DP_SC_drop_dtls_wait;
	if (s->srtp_in != NULL && (drop = unprotect(s, p, sc)) != 0)
		return drop;
	if (p->rtcp) {
		p->what = DP_WHAT_RTCP;
		sc[DP_SC_rtcp_pkts]++;
		return mf_rtcp_parse(pl, p->l4.payload_len, &p->rtcp_info) == 0 ? 0 : DP_SC_drop_media;
	}
	p->what = DP_WHAT_RTP;
	if (mf_rtp_parse(pl, p->l4.payload_len, &p->rtp) != 0)
		return DP_SC_drop_media;
	rtp_rx(s, &p->rtp, now, sc);
	if (s->kind == MF_SESS_RTP_MPEGTS &&
	    !ts_rx(s, pl + p->rtp.hdr_len, p->rtp.payload_len, &p->psi, sc))
		return DP_SC_drop_media;
	return 0;
}

static inline unsigned int
node_drop(int sess_drop)
{
	if (sess_drop == DP_SC_drop_srtp_auth)
		return DP_CTR_drop_srtp_auth;
	if (sess_drop == DP_SC_drop_dtls_wait)
		return DP_CTR_drop_dtls_wait;
	return sess_drop == DP_SC_drop_srtp_replay ? DP_CTR_drop_srtp_replay : DP_CTR_drop_media;
}

/* STUN and DTLS punts a worker may make a second (--punt-pps), and in a burst (an eighth
 * of a second's, at least 256): anyone can send them to an ICE port, and the punt ring is
 * also ARP's and ND's. Browsers check every few seconds; a viewer's set-up is a check and
 * a handshake of about three datagrams, so the default 2,000 bounds a worker's set-ups
 * to some 500 a second (perf/bench --scenarios dtls). */
static inline bool
stun_budget(struct dp_lcore *lc, uint64_t now)
{
	uint64_t burst = dp.cfg.punt_pps / 8 > 256 ? dp.cfg.punt_pps / 8 : 256;
	/* A second or more since the last refill (the first ever: since boot) gives a
	 * second's; within one the product cannot overflow. */
	uint64_t add = now - lc->stun_tsc >= dp.tsc_hz ? dp.cfg.punt_pps :
		       (now - lc->stun_tsc) * dp.cfg.punt_pps / dp.tsc_hz;

	if (add > 0) {
		lc->stun_tokens = RTE_MIN(lc->stun_tokens + add, burst);
		lc->stun_tsc = now;
	}
	if (lc->stun_tokens == 0)
		return false;
	lc->stun_tokens--;
	return true;
}

/* An ICE session's port carries STUN and DTLS beside RTP and RTCP (RFC 7983): STUN goes to
 * the control lcore, which answers the checks, and DTLS too where an endpoint uses it, both
 * within a budget; anything else is dropped. @return true when the packet was consumed. */
static bool
ice_demux(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, int what, uint64_t now,
	  uint64_t *sc)
{
	if (likely(what == MF_DEMUX_RTP || what == MF_DEMUX_RTCP))
		return false;
	if (what == MF_DEMUX_DTLS)
		sc[DP_SC_dtls_rx]++;
	if (what == MF_DEMUX_STUN)
		sc[DP_SC_stun_rx]++;
	if ((what != MF_DEMUX_STUN && what != MF_DEMUX_DTLS) || (what == MF_DEMUX_DTLS && !s->dtls)) {
		count_drop(lc, p->m, what == MF_DEMUX_DTLS ? DP_CTR_dtls_rx : DP_CTR_drop_demux);
		if (what != MF_DEMUX_DTLS)
			sc[DP_SC_drop_demux]++;
		return true;
	}
	if (!stun_budget(lc, now))
		count_drop(lc, p->m, DP_CTR_drop_stun_rate);
	else if (rte_ring_sp_enqueue(lc->punt, p->m) != 0)
		count_drop(lc, p->m, DP_CTR_punt_full);
	else
		lc->ctr[DP_CTR_punted]++;
	return true;
}

/* A packet changed the session's hot counters (or its outputs'): the copier's cue, stored
 * after them (release), so a copy that sees it sees them. */
static inline void
hot_done(struct dp_sess_hot *h)
{
	atomic_store_explicit(&h->gen, atomic_load_explicit(&h->gen, memory_order_relaxed) + 1,
			      memory_order_release);
}

static void
session_packet(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, uint64_t now)
{
	uint64_t *sc = dp_ctr_of(s->ctr, dp.stride_sess, lc->index);
	int drop, what;

	if (unlikely(s->flags & MF_SESS_F_BLOCKED)) {
		sc[DP_SC_drop_blocked]++;
		count_drop(lc, p->m, DP_CTR_drop_blocked);
		return;
	}
	/* Everything that comes for the session, as it arrived: media, receivers' RTCP,
	 * STUN and DTLS, what is dropped below too. */
	if (unlikely(s->capture))
		dp_capture_copy(lc, p->m, p->m->port, false);
	/* ICE endpoints (rtp-mux) classify every packet, receivers' feedback too: STUN comes
	 * to an output's port as well as to the ingress's. */
	if (s->kind == MF_SESS_RTP_MUX && (!p->rtcp || s->ice)) {
		what = mf_demux_classify(p->data + p->l4.payload_off, p->l4.payload_len);
		if (unlikely(s->ice) && ice_demux(lc, s, p, what, now, sc))
			return;
		p->rtcp = p->rtcp || what == MF_DEMUX_RTCP;
	}
	/* Receivers' reports come back to the RTCP port: read, not forwarded to the others. */
	if (p->rtcp && mf_sess_kind_is_rtp(s->kind) && dp_fb_input(lc, s, p, now, sc))
		return;
	if (unlikely(p->fb_only)) {
		/* To where only receivers send, from someone else: no session's ingress. */
		count_drop(lc, p->m, DP_CTR_drop_sess_miss);
		return;
	}
	if (unlikely(!source_ok(s, p))) {
		sc[DP_SC_drop_src]++;
		count_drop(lc, p->m, DP_CTR_drop_src);
		return;
	}
	atomic_store_explicit(&s->st->last_rx_tsc, now, memory_order_relaxed);
	if (unlikely(!rate_ok(s, now, p->l4.payload_len))) {
		sc[DP_SC_drop_rate]++;
		count_drop(lc, p->m, DP_CTR_drop_rate);
		return;
	}
	drop = inspect(s, p, now, sc);
	if (unlikely(drop != 0)) {
		sc[drop]++;
		count_drop(lc, p->m, node_drop(drop));
		if (p->what == DP_WHAT_RTP)	/* RFC 3550 counted it before the drop */
			hot_done(&s->st->hot);
		return;
	}
	s->st->hot.rx_pkts++;
	s->st->hot.rx_bytes += p->l4.payload_len;
	s->st->hot.last_rx_tsc = now;
	p->kf = -1;
	p->cached = false;
	p->psi_only = NULL;
	if (unlikely(p->rtcp && p->what == DP_WHAT_RTCP))
		s->st->kf.src_rtcp_port = p->l4.udp.sport;	/* where the source reports from */
	else if (unlikely(s->st->kf.pending || s->st->kf.remb_pending || s->st->kf.nack_nb))
		dp_kf_poll(lc, s, p, now, sc);
	if (s->gop != NULL)
		dp_gop_add(lc, s, p, now, sc);
	dp_fanout(lc, s, p, now, sc);
	hot_done(&s->st->hot);
}

/* ---- the burst ---- */

static inline void
rx_counters(struct dp_lcore *lc, uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t *pc = dp_ctr_of(dp.ports[port].ctr, dp.stride_port, lc->index);
	uint64_t bytes = 0;
	uint16_t i;

	for (i = 0; i < n; i++)
		bytes += pkts[i]->pkt_len;
	pc[DP_PC_rx_pkts] += n;
	pc[DP_PC_rx_bytes] += bytes;
	lc->ctr[DP_CTR_rx_pkts] += n;
	lc->ctr[DP_CTR_rx_bytes] += bytes;
}

static inline void
handoff(struct dp_lcore *lc, struct rte_mbuf **held, uint16_t *nb_held)
{
	uint16_t w;

	for (w = 1; w <= dp.nb_workers; w++) {
		unsigned int sent;

		if (nb_held[w] == 0)
			continue;
		sent = rte_ring_sp_enqueue_burst(lc->handoff[w], (void **)held + w * DP_BURST,
						 nb_held[w], NULL);
		lc->ctr[DP_CTR_handoff_out] += sent;
		if (sent < nb_held[w]) {
			lc->ctr[DP_CTR_handoff_full] += nb_held[w] - sent;
			rte_pktmbuf_free_bulk(held + w * DP_BURST + sent, nb_held[w] - sent);
		}
	}
}

/* Packets ahead whose headers are fetched while one is classified; sessions ahead whose
 * state is fetched while a packet is acted on. */
#define DP_PREFETCH_PKTS	4
#define DP_PREFETCH_STATE	4

/* At lookup: the entry's hot lines and its first output; addresses within the entry, no
 * load waits for them (the lookup read the table's own copy of the key, not the entry). */
static inline void
prefetch_entry(const struct dp_sess *s)
{
	unsigned int l;

	for (l = 0; l < DP_SESS_HOT_LINES; l++)
		rte_prefetch0((const uint8_t *)s + l * RTE_CACHE_LINE_SIZE);
	for (l = 0; l < DP_OUT_HOT_LINES && s->nb_out > 0; l++)
		rte_prefetch0((const uint8_t *)&s->out[0] + l * RTE_CACHE_LINE_SIZE);
}

/* A few packets before acting on one of @p s, its entry in cache by now: what its pointers
 * lead to, the state's lines a packet reads (its counters' line, its rate limit's when it
 * has one), its first output's state line (its counters in it). */
static inline void
prefetch_state(const struct dp_sess *s)
{
	unsigned int l;

	for (l = 0; l < DP_SESS_STATE_PKT_LINES; l++)
		rte_prefetch0((const uint8_t *)s->st + l * RTE_CACHE_LINE_SIZE);
	rte_prefetch0(&s->st->hot);
	if (s->limits.max_kbps != 0)
		rte_prefetch0(&s->st->rate_tokens);
	if (s->nb_out > 0)
		rte_prefetch0(s->out[0].ost);
}

/* A packet no ingress wants: a receiver's RTCP, or a drop. */
static inline struct dp_sess *
miss(struct dp_lcore *lc, struct dp_pkt *p)
{
	uint16_t in_port = p->m->port;
	struct dp_sess *s = lookup_fb(p, in_port);

	if (s == NULL)
		count_drop(lc, p->m, dp_port_owns(&dp.ports[in_port], p->l4.ip.version, p->l4.ip.dst) ?
				     DP_CTR_drop_sess_miss : DP_CTR_drop_not_ours);
	return s;
}

/*
 * The first half of a burst's path, for the whole burst before any packet is acted on (as
 * VPP's nodes and l3fwd do): headers fetched a few packets ahead and each packet classified;
 * then the burst's keys looked up at once (the table fetches every bucket and key before
 * comparing any), each entry's hot lines fetched; the first packets' state too. Acting then
 * finds them in cache, fetching the state of the packets a few ahead as it goes: the misses
 * overlap instead of stalling one packet at a time. Each mbuf carries our index of its
 * arrival port in m->port. @p s gets the packets' sessions, NULL for those consumed
 * (punted, dropped, held as fragments).
 */
static inline void
find_sessions(struct dp_lcore *lc, struct rte_mbuf **pkts, uint16_t n, uint64_t now,
	      struct dp_pkt *p, struct dp_sess **s)
{
	struct dp_sess_key keys[DP_BURST];
	const struct dp_sess_key *kp[DP_BURST];
	struct dp_sess *found[DP_BURST];
	bool rtcp[DP_BURST];
	uint8_t at[DP_BURST];
	unsigned int nk = 0, j;
	uint64_t hits;
	uint16_t i, port;

	for (i = 0; i < n && i < DP_PREFETCH_PKTS; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (i = 0; i < n; i++) {
		if (i + DP_PREFETCH_PKTS < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + DP_PREFETCH_PKTS], void *));
		port = pkts[i]->port;
		p[i].m = pkts[i];
		s[i] = NULL;
		if (!classify(lc, &p[i], port, now))
			continue;
		p[i].m->port = port;	/* a reassembled datagram's mbuf too */
		dp_sess_key_of(&p[i].l4, port, &keys[nk]);
		kp[nk] = &keys[nk];
		at[nk++] = (uint8_t)i;
	}
	hits = dp_sess_lookup_bulk(kp, nk, found, rtcp);
	for (j = 0; j < nk; j++) {
		struct dp_pkt *q = &p[at[j]];

		q->fb_only = false;
		if (likely(hits & (1ull << j))) {
			q->rtcp = rtcp[j];
			s[at[j]] = found[j];
		} else {
			s[at[j]] = miss(lc, q);
		}
		if (s[at[j]] != NULL)
			prefetch_entry(s[at[j]]);
	}
	for (i = 0; i < n && i < DP_PREFETCH_STATE; i++)
		if (s[i] != NULL)
			prefetch_state(s[i]);
}

/* Before acting on packet @p i of the burst: fetch the state of the one a few ahead. */
static inline void
prefetch_ahead(struct dp_sess **s, uint16_t i, uint16_t n)
{
	if (i + DP_PREFETCH_STATE < n && s[i + DP_PREFETCH_STATE] != NULL)
		prefetch_state(s[i + DP_PREFETCH_STATE]);
}

void
dp_pipeline_rx(struct dp_lcore *lc, uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	struct rte_mbuf *held[(DP_MAX_WORKERS + 1) * DP_BURST];
	uint16_t nb_held[DP_MAX_WORKERS + 1] = { 0 };
	uint64_t now = rte_rdtsc();
	struct dp_pkt p[DP_BURST];
	struct dp_sess *s[DP_BURST];
	uint16_t i;

	rx_counters(lc, port, pkts, n);
	/* The owner of a session another worker received for learns the port from m->port. */
	for (i = 0; i < n; i++)
		pkts[i]->port = port;
	find_sessions(lc, pkts, n, now, p, s);
	for (i = 0; i < n; i++) {
		prefetch_ahead(s, i, n);
		if (s[i] == NULL)
			continue;
		if (unlikely(s[i]->worker != lc->index)) {
			p[i].m->port = port;	/* a reassembled datagram's mbuf too */
			held[s[i]->worker * DP_BURST + nb_held[s[i]->worker]++] = p[i].m;
			continue;
		}
		session_packet(lc, s[i], &p[i], now);
	}
	handoff(lc, held, nb_held);
	dp_frag_poll(lc, now);
}

void
dp_pipeline_handoff(struct dp_lcore *lc, struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t now = rte_rdtsc();
	struct dp_pkt p[DP_BURST];
	struct dp_sess *s[DP_BURST];
	uint16_t i;

	find_sessions(lc, pkts, n, now, p, s);
	for (i = 0; i < n; i++) {
		prefetch_ahead(s, i, n);
		if (s[i] == NULL)
			continue;
		/* Owners never change, but a session deleted and created again may have a new
		 * one while its packets are in a handoff ring: drop those. */
		if (unlikely(s[i]->worker != lc->index)) {
			count_drop(lc, p[i].m, DP_CTR_drop_sess_miss);
			continue;
		}
		session_packet(lc, s[i], &p[i], now);
	}
}
