/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Feedback to a session's media source, made by the worker that owns the session
 * (ARCHITECTURE.md §6: only it knows the source it latched and holds the SRTCP context):
 * key-frame requests, and the receivers' REMB (the lowest of their last estimates, with the
 * source's SSRC: a lower one at once, else at most once per DP_REMB_INTERVAL_MS), each sent
 * with the next RTP packet from the source.
 *
 * One request is pending at a time per session, however many outputs and receivers want
 * one (the rest are counted as coalesced). It is sent with the next RTP packet from the
 * source, to where that packet came from (its RTCP port: the one its reports come from, else
 * RTP + 1; the RTP port itself with rtcp-mux), back through the MAC it came from, so no
 * neighbour lookup is needed. At most one request per limits.keyframe_interval_ms; if no
 * key frame started within that time it is sent once more, then given up.
 *
 * Also the packets the receivers' NACKs asked for that never reached us (lost between the
 * source and here: an edge's pipe): up to DP_NACK_UP_MAX entries, those of one PID merged,
 * in one Generic NACK with the source's next packet. The source answers as it can (an
 * origin's pipe output from its buffer, at most once per its rtt_ms however many ask).
 */

#include "dp.h"
#include "dp_capture.h"
#include "dp_hdr.h"
#include "dp_pkt.h"
#include "dp_tx.h"
#include "mf/mf_bytes.h"

#define KF_TRIES	2	/* the request and one retry */
/* A PLI is 12 bytes, a FIR 20, a REMB 24, a NACK 12 and 4 an entry; SRTCP adds its index
 * and a tag of at most 16. */
#define FB_PAYLOAD_MAX	(12 + 4 * DP_NACK_UP_MAX + 4 + 16)
_Static_assert(12 + 4 * DP_NACK_UP_MAX >= 24, "a REMB fits");

void
dp_kf_want(struct dp_sess *s, uint64_t *sc)
{
	struct dp_kf_req *kr = &s->st->kf;

	if (s->ingress.kf_request == MF_KF_REQ_NONE || !mf_sess_kind_is_rtp(s->kind))
		return;
	if (kr->pending) {
		sc[DP_SC_kf_req_coalesced]++;
		return;
	}
	kr->pending = true;
	kr->tries = 0;
}

/* RFC 4585 6.3.1 PLI, or RFC 5104 4.3.1 FIR: what the source is asked for. */
static size_t
kf_payload(struct dp_sess *s, uint32_t media_ssrc, uint8_t *b)
{
	if (s->ingress.kf_request == MF_KF_REQ_FIR) {
		b[0] = 0x80 | 4;
		b[1] = MF_RTCP_PSFB;
		mf_wr16(b + 2, 4);
		mf_wr32(b + 4, s->fb_ssrc);
		mf_wr32(b + 8, 0);		/* media source: unused by FIR */
		mf_wr32(b + 12, media_ssrc);
		b[16] = s->st->kf.fir_seq;	/* the same in the retry (RFC 5104 4.3.1.2) */
		memset(b + 17, 0, 3);
		return 20;
	}
	b[0] = 0x80 | 1;
	b[1] = MF_RTCP_PSFB;
	mf_wr16(b + 2, 2);
	mf_wr32(b + 4, s->fb_ssrc);
	mf_wr32(b + 8, media_ssrc);
	return 12;
}

/* REMB (draft-alvestrand-rmcat-remb) for the source's SSRC: @p bps as an 18-bit mantissa
 * and a 6-bit exponent. */
static size_t
remb_payload(struct dp_sess *s, uint32_t media_ssrc, uint64_t bps, uint8_t *b)
{
	uint8_t exp = 0;

	while (bps >= (1u << 18) && exp < 63) {
		bps >>= 1;
		exp++;
	}
	b[0] = 0x80 | 15;
	b[1] = MF_RTCP_PSFB;
	mf_wr16(b + 2, 5);
	mf_wr32(b + 4, s->fb_ssrc);
	mf_wr32(b + 8, 0);
	memcpy(b + 12, "REMB", 4);
	b[16] = 1;
	b[17] = (uint8_t)(exp << 2 | (bps >> 16 & 3));
	mf_wr16(b + 18, (uint16_t)bps);
	mf_wr32(b + 20, media_ssrc);
	return 24;
}

/* Send the RTCP payload @p fb (@p n bytes, room for SRTCP's trailer) toward the sender of
 * @p p (an RTP packet from the media source), queued on the arrival port.
 * @return 0, or the node counter of why it was not sent. */
static int
fb_send(struct dp_lcore *lc, struct dp_sess *s, const struct dp_pkt *p, uint8_t *fb, size_t n)
{
	uint16_t l2 = p->l4.l3_off, l3 = p->l4.ip.version == 4 ? 20 : 40;
	struct mf_srtp *srtp = s->srtp_src_tx != NULL ? s->srtp_src_tx : s->srtp_in;
	struct rte_udp_hdr *udp;
	struct rte_mbuf *m;
	uint8_t *h;

	if (srtp != NULL && mf_srtcp_protect(srtp, fb, &n, FB_PAYLOAD_MAX) != 0)
		return DP_CTR_drop_srtp_protect;
	m = rte_pktmbuf_alloc(dp.pool);
	if (m == NULL)
		return DP_CTR_drop_no_mbuf;
	h = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(l2 + l3 + 8 + n));
	if (h == NULL) {
		rte_pktmbuf_free(m);
		return DP_CTR_drop_no_mbuf;
	}
	/* The arrival frame's link header, VLAN tags included: to the MAC it came from, from
	 * the port's own (the frame's destination may have been a broadcast one). */
	memcpy(h, p->data, l2);
	memcpy(h, p->data + 6, 6);
	memcpy(h + 6, dp_port_by_index(s->ingress.port)->mac.addr_bytes, 6);
	/* Back to the source, from the address and RTCP port it sends to. */
	udp = dp_hdr_ip_udp(h + l2, p->l4.ip.version, p->l4.ip.dst, p->l4.ip.src,
			    s->kind == MF_SESS_RTP_MUX ? s->ingress.udp_port :
			    (uint16_t)(s->ingress.udp_port + 1),
			    s->kind == MF_SESS_RTP_MUX ? p->l4.udp.sport :
			    s->st->kf.src_rtcp_port ? s->st->kf.src_rtcp_port :
			    (uint16_t)(p->l4.udp.sport + 1), (uint16_t)(8 + n));
	if (p->l4.ip.version == 4)
		((struct rte_ipv4_hdr *)(h + l2))->hdr_checksum =
			rte_ipv4_cksum((struct rte_ipv4_hdr *)(h + l2));
	memcpy(udp + 1, fb, n);
	udp->dgram_cksum = p->l4.ip.version == 4 ?
		rte_ipv4_udptcp_cksum((struct rte_ipv4_hdr *)(h + l2), udp) :
		rte_ipv6_udptcp_cksum((struct rte_ipv6_hdr *)(h + l2), udp);
	if (unlikely(s->capture))
		dp_capture_copy(lc, m, s->ingress.port, true);
	dp_tx(lc, s->ingress.port, m);
	return 0;
}

/* The lowest of the receivers' estimates that are fresh: each receiver's last REMB,
 * DP_REMB_FRESH_MS at most old (one that stopped sending, or left, holds no one back). */
static uint64_t
remb_lowest(const struct dp_sess *s, uint64_t now)
{
	uint64_t fresh = dp.tsc_hz / 1000 * DP_REMB_FRESH_MS, low = UINT64_MAX;
	unsigned int i;

	for (i = 0; i < s->nb_out; i++) {
		const struct dp_out_state *os = s->out[i].ost;

		if (os->remb_tsc != 0 && now - os->remb_tsc <= fresh && os->remb_bps < low)
			low = os->remb_bps;
	}
	return low;
}

void
dp_remb_want(struct dp_sess *s, struct dp_out *o, uint64_t bps, uint64_t now)
{
	struct dp_sess_state *st = s->st;
	uint64_t low;

	o->ost->remb_bps = bps;
	o->ost->remb_tsc = now;
	/* Lower than the source was last told: at once (no fresh one is lower: it would have
	 * been passed on, or be pending). Otherwise the lowest once per interval, so that N
	 * receivers' estimates are not N a second, the last of them obeyed; and the outputs
	 * are looked through only then, not for each of the N. */
	if (bps < st->remb_sent_bps) {
		if (!st->kf.remb_pending || bps < st->kf.remb_bps)
			st->kf.remb_bps = bps;
		st->kf.remb_pending = true;
		return;
	}
	if (now - st->remb_sent_tsc < dp.tsc_hz / 1000 * DP_REMB_INTERVAL_MS)
		return;
	low = remb_lowest(s, now);
	st->kf.remb_bps = low;
	st->kf.remb_pending = true;
}

void
dp_nack_up_want(struct dp_sess *s, uint16_t pid, uint16_t blp, uint64_t *sc)
{
	struct dp_kf_req *kr = &s->st->kf;
	unsigned int i;

	for (i = 0; i < kr->nack_nb; i++)
		if (s->st->nack_up[i].pid == pid) {
			s->st->nack_up[i].blp |= blp;
			return;
		}
	if (kr->nack_nb == DP_NACK_UP_MAX) {
		sc[DP_SC_nack_relay_full] += 1u + (unsigned int)__builtin_popcount(blp);
		return;
	}
	s->st->nack_up[kr->nack_nb++] = (struct dp_nack_fci){ .pid = pid, .blp = blp };
}

/* RFC 4585 6.2.1 Generic NACK for the source's SSRC: the entries waiting. */
static size_t
nack_payload(struct dp_sess *s, uint32_t media_ssrc, uint8_t *b, uint64_t *asked)
{
	const struct dp_kf_req *kr = &s->st->kf;
	unsigned int i;

	b[0] = 0x80 | 1;
	b[1] = MF_RTCP_RTPFB;
	mf_wr16(b + 2, (uint16_t)(2 + kr->nack_nb));
	mf_wr32(b + 4, s->fb_ssrc);
	mf_wr32(b + 8, media_ssrc);
	for (i = 0; i < kr->nack_nb; i++) {
		mf_wr16(b + 12 + 4 * i, s->st->nack_up[i].pid);
		mf_wr16(b + 14 + 4 * i, s->st->nack_up[i].blp);
		*asked += 1u + (unsigned int)__builtin_popcount(s->st->nack_up[i].blp);
	}
	return 12 + 4 * (size_t)kr->nack_nb;
}

static void
nack_poll(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, uint64_t *sc)
{
	uint8_t fb[FB_PAYLOAD_MAX];
	uint64_t asked = 0;
	int why;

	why = fb_send(lc, s, p, fb, nack_payload(s, p->rtp.ssrc, fb, &asked));
	s->st->kf.nack_nb = 0;
	if (why != 0)
		lc->ctr[why]++;
	else
		sc[DP_SC_nack_relayed] += asked;
}

/* A REMB waiting: to the source with this packet. */
static void
remb_poll(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, uint64_t now,
	  uint64_t *sc)
{
	struct dp_kf_req *kr = &s->st->kf;
	uint8_t fb[FB_PAYLOAD_MAX];
	int why;

	kr->remb_pending = false;
	why = fb_send(lc, s, p, fb, remb_payload(s, p->rtp.ssrc, kr->remb_bps, fb));
	if (why != 0) {
		lc->ctr[why]++;
		return;
	}
	sc[DP_SC_remb_sent]++;
	s->st->remb_sent_bps = kr->remb_bps;
	s->st->remb_sent_tsc = now;
}

/* The pending request ends (a key frame came, or it was given up): a FIR after it is a
 * new command, with the next sequence number. */
static void
kf_done(struct dp_kf_req *kr)
{
	if (kr->tries > 0)
		kr->fir_seq++;
	kr->pending = false;
}

void
dp_kf_poll(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, uint64_t now, uint64_t *sc)
{
	struct dp_kf_req *kr = &s->st->kf;
	uint8_t fb[FB_PAYLOAD_MAX];
	int why;

	if (p->what != DP_WHAT_RTP)
		return;
	if (kr->nack_nb)
		nack_poll(lc, s, p, sc);
	if (kr->remb_pending)
		remb_poll(lc, s, p, now, sc);
	if (!kr->pending)
		return;
	/* An update turned requests off while one was pending: it ends (a FIR after it, once
	 * they are on again, is a new command). */
	if (unlikely(s->ingress.kf_request == MF_KF_REQ_NONE)) {
		kf_done(kr);
		return;
	}
	if (dp_pkt_kf(s, p, sc) == MF_KF_START) {
		kf_done(kr);
		return;
	}
	if (kr->sent_tsc != 0 && now - kr->sent_tsc < s->kf_interval_tsc)
		return;
	/* Without a codec no key frame can be seen: one request answers every want. */
	if (kr->tries >= KF_TRIES || (kr->tries > 0 && s->ingress.nb_codecs == 0)) {
		kf_done(kr);
		return;
	}
	kr->tries++;
	kr->sent_tsc = now;
	why = fb_send(lc, s, p, fb, kf_payload(s, p->rtp.ssrc, fb));
	if (why != 0) {
		lc->ctr[why]++;
		return;
	}
	sc[DP_SC_kf_req_sent]++;
	lc->ctr[DP_CTR_kf_req_tx]++;
}
