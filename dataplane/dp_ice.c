/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICE-lite (RFC 8445 §2.5), on the control lcore: the STUN that workers punted from ICE
 * sessions' ports (dp_pipeline.c's demux), and consent (RFC 7675).
 *
 * An endpoint is a session's ingress or one of its outputs with ICE credentials; its peer's
 * checks come to the ingress's UDP port or to the output's source port. A check is answered
 * only when it is a Binding request whose USERNAME is "ours:theirs", whose FINGERPRINT is
 * right and whose MESSAGE-INTEGRITY verifies under our password; anything else is counted
 * and dropped, never answered (an unauthenticated answer would let anyone probe ports and
 * reflect traffic). mfwd is lite, hence always controlled: a peer that claims the
 * controlled role too gets 487 Role Conflict. The pair of a check with USE-CANDIDATE, or of
 * the first valid check while the endpoint has none (as mediasoup's ICE server does: after a
 * dataplane restart the peer's consent checks bring its pair back without an ICE restart),
 * becomes the endpoint's: the peer's address and port are the ingress's only source or the
 * output's destination (dp_sess_ice_select(): the entry is replaced; the fast path reads the
 * pair as it reads a fixed source). Every valid check on the pair renews consent; none
 * within consent_timeout_ms ends the pair (the ingress drops, the output stops) with an
 * ice.consent_lost event. MESSAGE-INTEGRITY does not cover addresses: a check seen before
 * (its transaction id among the endpoint's last few) is answered again, as a retransmission
 * must be, but neither moves the pair nor renews consent, so a replayed check from a spoofed
 * address cannot turn a stream towards someone else.
 */

#include <string.h>

#include <rte_ip.h>
#include <rte_udp.h>

#include "dp.h"
#include "dp_event.h"
#include "dp_ice.h"
#include "dp_tx.h"
#include "mf/mf_rtp.h"
#include "mf/mf_stun.h"

#define ICE_RESP_MAX	128	/* a success: XOR-MAPPED-ADDRESS (24), MI (24), FP (8) */

/* One ICE endpoint of a session: out -1 is the ingress. */
struct ice_ep {
	struct dp_sess *s;
	int out;
	const struct mf_ice_cred *cred;
};

static void
count(unsigned int ctr)
{
	dp.node_ctr[ctr]++;
}

/* The endpoint on the datagram's port whose credentials the USERNAME names. */
static bool
find_endpoint(const struct mf_pkt_l4 *l4, uint16_t port, const uint8_t *msg,
	      const struct mf_stun *st, struct ice_ep *ep)
{
	struct dp_sess *s = dp_sess_at(l4, port);
	const struct mf_ice_cred *c;
	unsigned int i;

	if (s == NULL || !s->ice)
		return false;
	ep->s = s;
	c = &s->ingress.ice;
	if (s->ingress.port == port && s->ingress.udp_port == l4->udp.dport &&
	    c->ufrag[0] != '\0' && dp_l4_dst_is(s->ingress.local.family, s->ingress.local.a, l4) &&
	    mf_stun_username_is(msg, st, c->ufrag, c->remote_ufrag)) {
		ep->out = -1;
		ep->cred = c;
		return true;
	}
	for (i = 0; i < s->nb_out; i++) {
		const struct dp_out *o = &s->out[i];

		c = &o->cfg.ice;
		if (o->cfg.port == port && o->src_port == l4->udp.dport && c->ufrag[0] != '\0' &&
		    dp_l4_dst_is(o->family ? o->family : s->ingress.local.family, o->src_ip, l4) &&
		    mf_stun_username_is(msg, st, c->ufrag, c->remote_ufrag)) {
			ep->out = (int)i;
			ep->cred = c;
			return true;
		}
	}
	return false;
}

/* @return 0 when the check may be answered, else the node counter of the drop. */
static unsigned int
verify(const uint8_t *msg, const struct mf_stun *st, const struct ice_ep *ep)
{
	if (!mf_stun_fingerprint_ok(msg, st))
		return DP_CTR_drop_stun_fingerprint;
	if (!mf_stun_integrity_ok(msg, st, ep->cred->pwd, strlen(ep->cred->pwd)))
		return DP_CTR_drop_stun_auth;
	if (st->has_unknown)
		return DP_CTR_drop_stun_unknown;
	/* RFC 8445 §7.1.1-2: a check carries PRIORITY and the sender's role. */
	if (!st->has_priority || st->role == MF_STUN_ROLE_NONE)
		return DP_CTR_drop_stun_kind;
	return 0;
}

/* Turn the request's frame around: the same Ethernet (VLANs kept), IP and UDP headers with
 * the ends swapped, the answer as payload. IPv4 options and IPv6 extension headers are not
 * carried back (checks never have them). */
static int
send_answer(struct dp_port *p, struct rte_mbuf *m, const struct mf_pkt_l4 *l4,
	    const uint8_t *ans, uint16_t n)
{
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)d;
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(d + l4->l4_off);
	uint16_t end = (uint16_t)(l4->payload_off + n);
	uint8_t tmp[16];

	if (l4->ip.flags & MF_IP_F_OPTIONS || end > m->buf_len - m->data_off)
		return -EINVAL;
	memcpy(d + l4->payload_off, ans, n);
	m->data_len = end;
	m->pkt_len = end;
	m->ol_flags = 0;
	udp->src_port = rte_cpu_to_be_16(l4->udp.dport);
	udp->dst_port = rte_cpu_to_be_16(l4->udp.sport);
	udp->dgram_len = rte_cpu_to_be_16((uint16_t)(MF_UDP_HDR_LEN + n));
	udp->dgram_cksum = 0;
	if (l4->ip.version == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(d + l4->l3_off);

		RTE_SWAP(ip->src_addr, ip->dst_addr);
		ip->total_length = rte_cpu_to_be_16((uint16_t)(end - l4->l3_off));
		ip->time_to_live = 64;
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
	} else {
		struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(d + l4->l3_off);

		memcpy(tmp, ip->src_addr, 16);
		memcpy(ip->src_addr, ip->dst_addr, 16);
		memcpy(ip->dst_addr, tmp, 16);
		ip->payload_len = rte_cpu_to_be_16((uint16_t)(MF_UDP_HDR_LEN + n));
		ip->hop_limits = 64;
		udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip, udp);
	}
	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	dp_tx_from_ctrl(p->index, m);
	return 0;
}

/* Binding success (XOR-MAPPED-ADDRESS: where the check came from), or 487. */
static int
build_answer(const struct mf_stun *st, const struct mf_pkt_l4 *l4, const struct ice_ep *ep,
	     bool conflict, uint8_t *buf)
{
	struct mf_stun_msg b;

	mf_stun_begin(&b, buf, ICE_RESP_MAX, conflict ? MF_STUN_BINDING_ERROR :
			MF_STUN_BINDING_SUCCESS, st->txid);
	if (conflict)
		mf_stun_add_error(&b, 487, "Role Conflict");
	else
		mf_stun_add_xor_address(&b, l4->ip.version, l4->ip.src, l4->udp.sport);
	mf_stun_add_integrity(&b, ep->cred->pwd, strlen(ep->cred->pwd));
	mf_stun_add_fingerprint(&b);
	return mf_stun_end(&b);
}

static bool
is_selected(const struct ice_ep *ep, const struct mf_pkt_l4 *l4)
{
	if (ep->out < 0)
		return dp_l4_src_is(&ep->s->ingress.src, ep->s->ingress.src_port, l4);
	return dp_l4_src_is(&ep->s->out[ep->out].cfg.dst, ep->s->out[ep->out].cfg.dst_port, l4);
}

static struct dp_ice_seen *
seen_of(const struct ice_ep *ep)
{
	return ep->out < 0 ? &ep->s->st->ice : &ep->s->out[ep->out].ost->ice;
}

/* Remember the check's transaction id. @return false when it was seen before. */
static bool
first_seen(struct dp_ice_seen *seen, const uint8_t *txid)
{
	unsigned int i;

	for (i = 0; i < DP_ICE_TXIDS; i++)
		if (memcmp(seen->txid[i], txid, MF_STUN_TXID_LEN) == 0)
			return false;
	memcpy(seen->txid[seen->next], txid, MF_STUN_TXID_LEN);
	seen->next = (uint8_t)((seen->next + 1) % DP_ICE_TXIDS);
	return true;
}

static bool
has_pair(const struct ice_ep *ep)
{
	return ep->out < 0 ? ep->s->ingress.src.family != 0 : ep->s->out[ep->out].family != 0;
}

/* The check's pair becomes the endpoint's: nominated (a later nomination replaces an
 * earlier pair: the peer moved), or the first valid one. @return whether the check's pair
 * is the endpoint's now (@p ep's entry may have been replaced). */
static bool
select_pair(const struct ice_ep *ep, const struct mf_pkt_l4 *l4, bool nominated)
{
	struct mf_addr a;
	char id[MF_SESS_ID_MAX], out[MF_OUT_ID_MAX] = "";
	int rc;

	if (is_selected(ep, l4))
		return true;
	if (!nominated && has_pair(ep))
		return false;
	memset(&a, 0, sizeof(a));
	a.family = l4->ip.version;
	memcpy(a.a, l4->ip.src, a.family == 4 ? 4 : 16);
	snprintf(id, sizeof(id), "%s", ep->s->id);
	if (ep->out >= 0)
		snprintf(out, sizeof(out), "%s", ep->s->out[ep->out].cfg.id);
	/* Out of memory, or no route: the peer's next check tries again. */
	rc = dp_sess_ice_select(ep->s, ep->out, &a, l4->udp.sport);
	if (rc != 0) {
		count(rc == -EHOSTUNREACH ? DP_CTR_ice_no_route : DP_CTR_slow_other);
		return false;
	}
	count(DP_CTR_ice_selected);
	dp_event_output(MF_EV_ICE_CONNECTED, id, ep->out >= 0 ? out : NULL, &a, l4->udp.sport);
	return true;
}

void
dp_ice_input(struct dp_port *p, struct rte_mbuf *m, const struct mf_pkt_l4 *l4, uint64_t now)
{
	const uint8_t *msg = rte_pktmbuf_mtod_offset(m, uint8_t *, l4->payload_off);
	uint8_t ans[ICE_RESP_MAX];
	struct mf_stun st;
	struct dp_ice_seen *seen;
	struct ice_ep ep;
	unsigned int drop;
	bool conflict;
	int rc, n;

	count(DP_CTR_stun_rx);
	rc = mf_stun_parse(msg, l4->payload_len, &st);
	if (rc != 0) {
		drop = DP_CTR_PKT_ERR_BASE + (unsigned int)(-rc) - 1;
		goto drop;
	}
	drop = DP_CTR_drop_stun_kind;
	if (st.type != MF_STUN_BINDING_REQUEST)
		goto drop;
	drop = DP_CTR_drop_stun_user;
	if (!find_endpoint(l4, p->index, msg, &st, &ep))
		goto drop;
	drop = verify(msg, &st, &ep);
	if (drop != 0)
		goto drop;
	conflict = st.role == MF_STUN_ROLE_CONTROLLED;
	n = build_answer(&st, l4, &ep, conflict, ans);
	if (n < 0 || send_answer(p, m, l4, ans, (uint16_t)n) != 0) {
		drop = DP_CTR_drop_stun_reply;
		goto drop;
	}
	count(conflict ? DP_CTR_stun_role_conflict : DP_CTR_stun_answered);
	if (conflict)
		return;
	if (!first_seen(seen_of(&ep), st.txid)) {
		count(DP_CTR_ice_replayed);
		return;
	}
	/* Consent is the pair's: a check from elsewhere that does not move it renews nothing.
	 * The state outlives the entry select_pair() may have replaced. */
	seen = seen_of(&ep);
	if (select_pair(&ep, l4, st.use_candidate))
		seen->check_tsc = now;
	return;
drop:
	count(drop);
	rte_pktmbuf_free(m);
}

/* An endpoint's pair, if it has one, whose consent ran out; an output without one whose
 * peer has been silent as long: told once (ice.timeout), for a viewer that went before its
 * first check would otherwise hold its output, and the control plane its place, for good.
 * @return true when a pair ended (the entry was replaced: @p s is gone). */
static bool
consent_expired(struct dp_sess *s, int out, uint64_t now)
{
	const struct mf_ice_cred *c = out < 0 ? &s->ingress.ice : &s->out[out].cfg.ice;
	struct dp_ice_seen *seen = out < 0 ? &s->st->ice : &s->out[out].ost->ice;
	uint64_t last = seen->check_tsc;
	uint8_t fam = out < 0 ? s->ingress.src.family : s->out[out].family;
	char id[MF_SESS_ID_MAX], oid[MF_OUT_ID_MAX] = "";

	if (c->ufrag[0] == '\0' || (fam == 0 && (out < 0 || seen->told_tsc == last)) ||
	    now - last <= (uint64_t)c->consent_timeout_ms * dp.tsc_hz / 1000)
		return false;
	if (fam == 0) {
		seen->told_tsc = last;
		count(DP_CTR_ice_timeout);
		dp_event_output(MF_EV_ICE_TIMEOUT, s->id, s->out[out].cfg.id, NULL, 0);
		return false;
	}
	snprintf(id, sizeof(id), "%s", s->id);
	if (out >= 0)
		snprintf(oid, sizeof(oid), "%s", s->out[out].cfg.id);
	if (dp_sess_ice_select(s, out, NULL, 0) != 0)
		return false;
	seen->told_tsc = last;		/* its silence told: not again as a timeout */
	count(DP_CTR_ice_consent_lost);
	dp_event_output(MF_EV_ICE_CONSENT_LOST, id, out >= 0 ? oid : NULL, NULL, 0);
	return true;
}

void
dp_ice_consent(uint64_t now)
{
	uint32_t k;
	int i;

	/* ICE sessions are in the timed list; one pair ends per session and tick at most. */
	for (k = 0; k < dp.sess.nb_timed; k++) {
		struct dp_sess *s = dp.sess.timed[k];

		if (!s->ice)
			continue;
		for (i = -1; i < (int)s->nb_out; i++)
			if (consent_expired(s, i, now))
				break;
	}
}
