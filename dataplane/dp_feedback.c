/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RTCP from the receivers of a session's outputs. It arrives where they send their reports:
 * the session's RTCP port (its ingress UDP port + 1, or the port itself with rtcp-mux), from
 * an output's destination address and RTCP port. It is read, not forwarded: a PLI or FIR for
 * the output's SSRC (or the source's, when the output keeps it) becomes a key-frame request
 * to the source (dp_kfreq.c), a REMB naming it a REMB to the source (the lowest of the
 * receivers' last ones),
 * a Generic NACK a resend from the output's buffer (dp_nack.c), or of what never reached
 * us a NACK to the source (dp_kfreq.c); reports and other feedback
 * are counted and consumed.
 *
 * An SRTP output's receiver protects its RTCP with its own key: with the output's
 * receiver_srtp it is authenticated and decrypted here, without it counted and consumed
 * unread. So is a DTLS output's before its handshake gives it keys: plain RTCP from its
 * pair's address is anyone's who can spoof that address (a REMB would throttle the source
 * for every viewer).
 */

#include "dp.h"
#include "dp_pkt.h"
#include "mf/mf_bytes.h"

static struct dp_out *
from_receiver(struct dp_sess *s, const struct dp_pkt *p)
{
	size_t alen = p->l4.ip.version == 4 ? 4 : 16;
	unsigned int i;

	for (i = 0; i < s->nb_out; i++) {
		struct dp_out *o = &s->out[i];

		if (o->family == p->l4.ip.version && o->rtcp_dst_port == p->l4.udp.sport &&
		    memcmp(o->cfg.dst.a, p->l4.ip.src, alen) == 0)
			return o;
	}
	return NULL;
}

/* Is the feedback about what this output sends? Its own SSRC, or the source's it forwards. */
static bool
for_output(const struct dp_sess *s, const struct dp_out *o, uint32_t ssrc)
{
	if (o->cfg.flags & MF_OUT_F_SSRC)
		return ssrc == o->cfg.ssrc;
	return ssrc == s->st->rx.ssrc;
}

/* FIR: entries of (SSRC, sequence number); one of them names the output's stream. */
static bool
fir_for_output(const struct dp_sess *s, const struct dp_out *o, const uint8_t *pkt,
	       const struct mf_rtcp_fb *fb)
{
	unsigned int i;

	for (i = 0; i < fb->nb; i++)
		if (for_output(s, o, mf_rd32(pkt + fb->fci_off + 8 * i)))
			return true;
	return false;
}

/* REMB: one of the SSRCs it lists (after its 20 bytes; the parser bounded them) names the
 * output's stream; Chrome lists every stream the estimate covers. */
static bool
remb_for_output(const struct dp_sess *s, const struct dp_out *o, const uint8_t *pkt,
		const struct mf_rtcp_fb *fb)
{
	unsigned int i;

	for (i = 0; i < fb->nb; i++)
		if (for_output(s, o, mf_rd32(pkt + 20 + 4 * i)))
			return true;
	return false;
}

static void
read_feedback(struct dp_lcore *lc, struct dp_sess *s, struct dp_out *o, const uint8_t *pl,
	      const struct mf_rtcp *c, uint64_t now, uint64_t *sc, uint64_t *oc)
{
	struct mf_rtcp_fb fb;
	unsigned int i;

	for (i = 0; i < c->nb; i++) {
		const uint8_t *k = pl + c->pkts[i].off;

		if (mf_rtcp_fb_parse(pl, &c->pkts[i], &fb) != 0)
			continue;
		if (fb.kind == MF_RTCP_FB_REMB && remb_for_output(s, o, k, &fb)) {
			sc[DP_SC_remb_received]++;
			dp_remb_want(s, o, fb.remb_bps, now);
			continue;
		}
		if (fb.kind == MF_RTCP_FB_NACK && o->nack != NULL &&
		    for_output(s, o, fb.media_ssrc)) {
			dp_nack_input(lc, s, o, k, &fb, now, sc, oc);
			continue;
		}
		if (fb.kind == MF_RTCP_FB_PLI && for_output(s, o, fb.media_ssrc)) {
			oc[DP_OC_fb_pli]++;
		} else if (fb.kind == MF_RTCP_FB_FIR && fir_for_output(s, o, k, &fb)) {
			oc[DP_OC_fb_fir]++;
		} else {
			continue;
		}
		sc[DP_SC_kf_req_received]++;
		dp_kf_want(s, sc);
	}
}

bool
dp_fb_input(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, uint64_t now, uint64_t *sc)
{
	uint8_t *pl = p->data + p->l4.payload_off;
	struct dp_out *o = from_receiver(s, p);
	size_t n = p->l4.payload_len;
	uint64_t *oc;
	int rc = 0;

	if (o == NULL)
		return false;
	oc = dp_ctr_of(o->ctr, dp.stride_out, lc->index);
	oc[DP_OC_fb_rtcp]++;
	/* Consumed here, so decrypted in place. */
	if (o->srtp_rx != NULL)
		rc = mf_srtcp_unprotect(o->srtp_rx, pl, &n);
	if ((o->srtp != NULL || (o->cfg.flags & DP_OUT_F_NO_KEYS)) && o->srtp_rx == NULL) {
		lc->ctr[DP_CTR_fb_rx]++;
	} else if (rc != 0) {
		sc[rc == -MF_SRTP_E_REPLAY ? DP_SC_drop_srtp_replay : DP_SC_drop_srtp_auth]++;
		lc->ctr[rc == -MF_SRTP_E_REPLAY ? DP_CTR_drop_srtp_replay : DP_CTR_drop_srtp_auth]++;
	} else if (mf_rtcp_parse(pl, n, &p->rtcp_info) == 0) {
		lc->ctr[DP_CTR_fb_rx]++;
		read_feedback(lc, s, o, pl, &p->rtcp_info, now, sc, oc);
	} else {
		sc[DP_SC_drop_media]++;
		lc->ctr[DP_CTR_drop_media]++;
	}
	rte_pktmbuf_free(p->m);
	return true;
}
