/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-packet context of the worker pipeline: inputs (the mbuf and what the parsers
 * found), verdicts (what the packet is within its session), and scratch the fan-out
 * reuses across outputs.
 */
#ifndef DP_PKT_H
#define DP_PKT_H

#include "dp.h"
#include "mf/mf_keyframe.h"
#include "mf/mf_rtp.h"
#include "mf/mf_ts.h"

enum dp_what {
	DP_WHAT_UDP = 0,
	DP_WHAT_RTP,
	DP_WHAT_RTCP,
	DP_WHAT_TS,
};

/* MPEG-TS tables in a datagram that the session read (not flagged damaged, applying now,
 * the CRC_32 right where the section ends in its packet): what the GOP cache may keep for
 * a viewer to start from (dp_pkt.psi). */
enum dp_psi {
	DP_PSI_PAT = 1,
	DP_PSI_PMT = 2,
};

struct dp_pkt {
	/* inputs */
	struct rte_mbuf *m;
	uint8_t *data;
	struct mf_pkt_l4 l4;
	/* verdicts */
	bool rtcp;			/* arrived on the RTCP port, or demuxed as RTCP */
	bool fb_only;			/* found by a receivers' RTCP key, not an ingress one */
	uint8_t what;			/* enum dp_what */
	struct mf_rtp rtp;
	struct mf_rtcp rtcp_info;
	int8_t kf;			/* enum mf_kf once asked (dp_pkt_kf), -1 before */
	bool cached;			/* the GOP cache holds it: no output may write into it */
	const struct dp_ts_rx *psi_only; /* send only the PAT and these PMTs (GOP cache start) */
	uint8_t psi;			/* enum dp_psi bits, set by the TS stage */
	/* scratch: the one's-complement sum of the shared bytes, once per packet */
	uint16_t sum_off;
	uint16_t sum_len;
	uint32_t sum;
	/* the input's UDP checksum minus its pseudo-header and UDP header (RFC 1624), valid
	 * when the input carried a checksum: outputs update it instead of summing payload */
	bool incr;
	uint32_t incr_base;
};

/** Does this RTP packet start a key frame? Classified once per packet, and only when
 * someone asks (a waiting output, a pending request): other sessions never pay for it. */
/* MPEG-TS: does a PES of the video the PMT named start a key frame in these packets? */
static inline int
dp_ts_kf(const struct dp_ts_rx *ts, const uint8_t *d, uint16_t len)
{
	uint16_t i;

	if (!ts->has_video)
		return MF_KF_NO;
	for (i = 0; i + MF_TS_PKT_LEN <= len; i += MF_TS_PKT_LEN) {
		const uint8_t *k = d + i;

		if ((k[1] & 0x40) && ((k[1] & 0x1f) << 8 | k[2]) == ts->video_pid &&
		    mf_kf_ts(k, MF_TS_PKT_LEN, ts->video_type) == MF_KF_START)
			return MF_KF_START;
	}
	return MF_KF_NO;
}

static inline int
dp_pkt_kf(const struct dp_sess *s, struct dp_pkt *p, uint64_t *sc)
{
	const uint8_t *pl = p->data + p->l4.payload_off;
	unsigned int codec;

	if (p->kf >= 0)
		return p->kf;
	if (p->what == DP_WHAT_TS) {
		p->kf = (int8_t)dp_ts_kf(&s->st->ts, pl, p->l4.payload_len);
	} else if (p->what != DP_WHAT_RTP) {
		p->kf = MF_KF_NO;
	} else if (s->kind == MF_SESS_RTP_MPEGTS) {
		p->kf = (int8_t)dp_ts_kf(&s->st->ts, pl + p->rtp.hdr_len, p->rtp.payload_len);
	} else {
		codec = mf_sess_codec_of(&s->ingress, p->rtp.pt);
		p->kf = (int8_t)(codec == 0 ? MF_KF_NO :
				 mf_kf_rtp(codec, pl + p->rtp.hdr_len, p->rtp.payload_len));
	}
	if (p->kf == MF_KF_START)
		sc[DP_SC_keyframes]++;
	return p->kf;
}

/* Key-frame requests to the media source (dp_kfreq.c), on the session's worker. */
/** An output or a receiver wants a key frame: one request pending at a time. */
void dp_kf_want(struct dp_sess *s, uint64_t *sc);
/** @p o's receiver's REMB: the lowest of the receivers' last ones is passed on to the
 *  source with its next packet, a lower one at once, else once per DP_REMB_INTERVAL_MS. */
void dp_remb_want(struct dp_sess *s, struct dp_out *o, uint64_t bps, uint64_t now);
/** Packets @p pid and those of @p blp's bits after it, which never reached this session:
 *  asked again from the source in a Generic NACK with its next packet. */
void dp_nack_up_want(struct dp_sess *s, uint16_t pid, uint16_t blp, uint64_t *sc);
/** With each RTP packet while a request, a REMB or a NACK is pending: a REMB or a NACK goes
 * to where this packet came from; a request is done when a key frame starts, else sent
 * there, at most once per interval, retried once. */
void dp_kf_poll(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, uint64_t now,
		uint64_t *sc);

/** RTCP from one of the session's outputs' receivers (dp_feedback.c): read its PLI and FIR
 * and consume it. @return false when @p p is not from a receiver (left untouched). */
bool dp_fb_input(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, uint64_t now,
		 uint64_t *sc);

/* NACK repair (dp_nack.c), on the session's worker. */
/** Keep a reference to @p m, sent by @p o with its sequence number @p seq. */
void dp_nack_keep(struct dp_out *o, struct rte_mbuf *m, uint16_t seq, uint64_t now);
/** A Generic NACK from @p o's receiver: resend what it lists and the buffer has (copies
 * of the resends go to @p s's capture when it has one); what @p o never had (lost before
 * it reached us) is asked again from the source when @p o keeps the source's numbers. */
void dp_nack_input(struct dp_lcore *lc, struct dp_sess *s, struct dp_out *o,
		   const uint8_t *pkt, const struct mf_rtcp_fb *fb, uint64_t now, uint64_t *sc,
		   uint64_t *oc);
/* Control lcore. */
/** A ring of @p pkts slots (rounded up to a power of two) in @p out. @return 0, -ENOBUFS
 *  when every output's rings together would pass half of a pool's mbufs (--mbufs: the
 *  frames they hold would starve the workers' receive), or -ENOMEM. */
int dp_nack_ring_new(uint16_t pkts, struct dp_nack_ring **out);
/** The ring leaves its session (freed after the grace period): its slots no longer count
 *  against the budget, so a session made at once may have them. */
void dp_nack_ring_retire(struct dp_nack_ring *r);
/** Free the ring and the frames it holds (after a grace period); retired if it was not. */
void dp_nack_ring_free(struct dp_nack_ring *r);

/* GOP cache (dp_gop.c). On the session's worker: */
/** Restart the cache on a key frame, add to it after one, drop it at a limit. */
void dp_gop_add(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, uint64_t now,
		uint64_t *sc);
/* Control lcore. */
struct dp_gop *dp_gop_new(const struct mf_sess_ingress *in);
/** Free the cache and drop its references (after a grace period). */
void dp_gop_free(struct dp_gop *g);

/** An IP fragment for us joins its datagram; consumes p->m. @return the whole datagram in one
 * mbuf when this fragment completed it, else NULL. Context: the worker that polled it. */
struct rte_mbuf *dp_frag_in(struct dp_lcore *lc, struct dp_pkt *p, uint64_t now);
/** Send @p p to every output of @p s; consumes p->m. Context: the session's worker. */
void dp_fanout(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, uint64_t now,
	       uint64_t *sc);

#endif /* DP_PKT_H */
