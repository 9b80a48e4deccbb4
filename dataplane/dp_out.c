/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fan-out: one input packet to each eligible output of its session.
 *
 * Each output frame is new headers (Ethernet, IP, UDP), then a private part (bytes that
 * differ per output: a rewritten RTP header, a rewritten RTCP compound, a PID-filtered TS
 * payload), then the shared part (bytes every output sends as they are). The shared part
 * is never copied when the port sends chained mbufs: a small header mbuf is chained to an
 * indirect clone of the input. The last output takes the input mbuf itself when writing
 * its headers in place cannot touch bytes another output still shares.
 *
 * An SRTP output protects its own copy: its payload is made flat (private bytes and the
 * shared ones in one segment) and encrypted in place, the trailer in the tailroom.
 *
 * UDP checksums are offloaded where the port can. Otherwise, when the input carried a UDP
 * checksum and an output's payload is the input's but for a same-length rewrite (the RTP
 * header), the output's checksum is the input's updated for what changed (RFC 1624:
 * addresses, ports, rewritten bytes), without reading the payload; a wrong input checksum
 * stays wrong, as through any NAT. Otherwise the shared bytes are summed once per input
 * packet and each output adds its own headers and private bytes. The headers' part of each
 * sum was made when the output was built (dp_hdr_sums): a frame adds only its lengths.
 */

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "dp.h"
#include "dp_capture.h"
#include "dp_hdr.h"
#include "dp_pkt.h"
#include "dp_tx.h"
#include "mf/mf_bytes.h"
#include "mf/mf_ts.h"

/* Room for what an output rewrites: the most TS packets a datagram carries and an RTP
 * header of up to 64 bytes. Reassembled datagrams (and large receive buffers) can bring
 * more: such a copy is dropped and counted (drop_rewrite_size), never written past it. */
#define PRIV_MAX	(MF_TS_MAX_PKTS * MF_TS_PKT_LEN + 64)
#define IP4_HDR_LEN	((uint16_t)sizeof(struct rte_ipv4_hdr))
#define IP6_HDR_LEN	((uint16_t)sizeof(struct rte_ipv6_hdr))
#define UDP_HDR_LEN	((uint16_t)sizeof(struct rte_udp_hdr))
/* The most an SRTP/SRTCP trailer adds (a 16-byte tag and SRTCP's 4-byte index). */
#define SRTP_TRAILER_MAX	20
/* Until the input's payload type has a known clock, a new SSRC's timestamps follow on at
 * the video clock (RFC 3551: every static video type is 90 kHz). */
#define FALLBACK_CLOCK	90000
/* GOP cache packets an output is sent per packet of its session while it catches up. */
#define GOP_BURST	32

/* The node counter of each output drop reason, under the same name. A packet that an
 * output filters by its config (paused, payload type, PID) is not lost and has none: 0,
 * which is rx_pkts, never a drop. */
static const uint16_t dp_out_node_ctr[DP_OC_MAX] = {
	[DP_OC_drop_neigh] = DP_CTR_drop_neigh,
	[DP_OC_drop_no_mbuf] = DP_CTR_drop_no_mbuf,
	[DP_OC_drop_srtp_protect] = DP_CTR_drop_srtp_protect,
	[DP_OC_drop_mtu] = DP_CTR_drop_mtu,
	[DP_OC_drop_rewrite_size] = DP_CTR_drop_rewrite_size,
};
_Static_assert(DP_CTR_rx_pkts == 0, "0 marks an output drop the node does not count");

/* ---- what differs per output ---- */

static inline bool
rtp_rewrites(const struct dp_out *o)
{
	return (o->cfg.flags & MF_OUT_F_SSRC) || o->cfg.nb_pt_map > 0 || o->ost->renumber;
}

static inline bool
ts_filters(const struct dp_out *o)
{
	return o->cfg.nb_pids > 0 || (o->cfg.flags & MF_OUT_F_DROP_NULL);
}

/* The bitmap is read only where it filters: it lies past an output's hot lines. */
static inline bool
pt_allowed(const struct dp_out *o, uint8_t pt)
{
	return !(o->cfg.flags & DP_OUT_F_PT_FILTER) ||
	       (o->cfg.pt_allow[pt >> 3] & (1u << (pt & 7))) != 0;
}

/* Where the bytes this output shares with the input begin. */
static uint16_t
shared_off(const struct dp_pkt *p, const struct dp_sess *s, const struct dp_out *o)
{
	uint16_t pl = p->l4.payload_off, end = (uint16_t)(pl + p->l4.payload_len);

	switch (p->what) {
	case DP_WHAT_RTP:
		if (s->kind == MF_SESS_RTP_MPEGTS && ts_filters(o))
			return end;
		return rtp_rewrites(o) ? (uint16_t)(pl + MF_RTP_HDR_LEN) : pl;
	case DP_WHAT_RTCP:
		return (o->cfg.flags & MF_OUT_F_SSRC) ? end : pl;
	case DP_WHAT_TS:
		return ts_filters(o) || p->psi_only != NULL ? end : pl;
	default:
		return pl;
	}
}

/* The offset of input sequence number @p seq: seq_off, which counts every skip up to the
 * newest input, less the skips of the numbers after @p seq (a packet reordered past them
 * takes its own place, not a place a newer one took). Older than the skips known for: all
 * of those are after it. */
static inline uint16_t
seq_off_of(const struct dp_out_state *os, uint16_t seq)
{
	uint16_t back = (uint16_t)(os->max_in_seq - seq);
	uint64_t after;

	if (back == 0 || back > 0x8000)
		return os->seq_off;
	after = back >= DP_SEQ_SKIPS_SEEN ? os->skips : os->skips & ((UINT64_C(1) << back) - 1);
	return (uint16_t)(os->seq_off + __builtin_popcountll(after));
}

/* SimpleConsumer-style continuity: when the input SSRC changes, new offsets make the
 * output's sequence numbers follow on by one and its timestamps by the time elapsed. */
static void
ssrc_continuity(const struct mf_rtp *r, const struct dp_sess *s, struct dp_out_state *os,
		uint64_t now)
{
	uint32_t rate;

	if (os->started) {
		rate = s->st->rx.rate ? s->st->rx.rate : FALLBACK_CLOCK;
		os->seq_off = (uint16_t)(os->last_seq + 1 - r->seq);
		os->ts_off = os->last_ts + (uint32_t)RTE_MAX(UINT64_C(1),
			(now - os->last_tsc) * rate / dp.tsc_hz) - r->ts;
	}
	os->last_in_ssrc = r->ssrc;
	os->started = true;
	os->last_seq = (uint16_t)(r->seq + os->seq_off - 1);
	os->skips = 0;			/* nothing from before is renumbered apart */
	os->max_in_seq = r->seq;
}

static void
rtp_rewrite(uint8_t *h, const struct mf_rtp *r, const struct dp_sess *s, struct dp_out *o,
	    uint64_t now)
{
	struct dp_out_state *os = o->ost;
	bool ssrc = (o->cfg.flags & MF_OUT_F_SSRC) != 0;
	uint16_t seq;
	uint32_t ts;
	unsigned int i;

	for (i = 0; i < o->cfg.nb_pt_map; i++)
		if (o->cfg.pt_map[i].from == r->pt)
			h[1] = (uint8_t)((h[1] & 0x80) | o->cfg.pt_map[i].to);
	if (!ssrc && !os->renumber)
		return;
	if (ssrc && unlikely(!os->started || os->last_in_ssrc != r->ssrc))
		ssrc_continuity(r, s, os, now);
	seq = (uint16_t)(r->seq + seq_off_of(os, r->seq));
	ts = r->ts + os->ts_off;
	if ((int16_t)(seq - os->last_seq) > 0) {
		os->last_seq = seq;
		os->last_ts = ts;
		os->last_tsc = now;
	}
	mf_wr16(h + 2, seq);
	mf_wr32(h + 4, ts);
	if (ssrc)
		mf_wr32(h + 8, o->cfg.ssrc);
}

/* RTCP from the media sender: its SSRC (the word after every header) becomes the output's;
 * an SR's RTP timestamp follows the output's timestamp offset. */
static uint16_t
rtcp_rewrite(uint8_t *buf, const struct dp_pkt *p, const struct dp_out *o)
{
	const uint8_t *pl = p->data + p->l4.payload_off;
	unsigned int i;

	memcpy(buf, pl, p->l4.payload_len);
	for (i = 0; i < p->rtcp_info.nb; i++) {
		const struct mf_rtcp_pkt *k = &p->rtcp_info.pkts[i];

		if (k->len >= 8)
			mf_wr32(buf + k->off + 4, o->cfg.ssrc);
		if (k->pt == MF_RTCP_SR && k->len >= 20 && o->ost->started)
			mf_wr32(buf + k->off + 16, mf_rd32(buf + k->off + 16) + o->ost->ts_off);
	}
	return p->l4.payload_len;
}

/* The TS packets output @p o sends; with @p psi, only the PAT and the PMTs it names. */
static uint16_t
ts_filter(uint8_t *out, const uint8_t *ts, uint16_t len, const struct dp_out *o,
	  const struct dp_ts_rx *psi)
{
	uint16_t n = 0, i, j;

	for (i = 0; i + MF_TS_PKT_LEN <= len; i += MF_TS_PKT_LEN) {
		uint16_t pid = (uint16_t)((ts[i + 1] & 0x1f) << 8 | ts[i + 2]);
		bool keep = o->cfg.nb_pids == 0;

		if (pid == MF_TS_PID_NULL && (o->cfg.flags & MF_OUT_F_DROP_NULL))
			continue;
		for (j = 0; j < o->cfg.nb_pids && !keep; j++)
			keep = o->cfg.pids[j] == pid;
		if (psi != NULL)
			keep = pid == MF_TS_PID_PAT || dp_ts_is_pmt(psi, pid);
		if (!keep)
			continue;
		memcpy(out + n, ts + i, MF_TS_PKT_LEN);
		n += MF_TS_PKT_LEN;
	}
	return n;
}

/* The private part of output @p o into @p priv (PRIV_MAX bytes). @return its length, 0 with
 * *empty set when a filter left nothing to send, or -E2BIG when it would not fit. */
static int
build_priv(uint8_t *priv, const struct dp_pkt *p, const struct dp_sess *s, struct dp_out *o,
	   uint64_t now, bool *empty)
{
	const uint8_t *pl = p->data + p->l4.payload_off;
	uint16_t n;

	*empty = false;
	switch (p->what) {
	case DP_WHAT_RTP:
		if (s->kind == MF_SESS_RTP_MPEGTS && ts_filters(o)) {
			/* The header and every TS packet, the most a filter keeps. */
			if (p->rtp.hdr_len + p->rtp.payload_len > PRIV_MAX)
				return -E2BIG;
			memcpy(priv, pl, p->rtp.hdr_len);
			priv[0] &= (uint8_t)~0x20;	/* padding is not carried over */
			rtp_rewrite(priv, &p->rtp, s, o, now);
			n = ts_filter(priv + p->rtp.hdr_len, pl + p->rtp.hdr_len,
				      p->rtp.payload_len, o, NULL);
			*empty = n == 0;
			return (uint16_t)(p->rtp.hdr_len + n);
		}
		if (!rtp_rewrites(o))
			return 0;
		memcpy(priv, pl, MF_RTP_HDR_LEN);
		rtp_rewrite(priv, &p->rtp, s, o, now);
		return MF_RTP_HDR_LEN;
	case DP_WHAT_RTCP:
		if (!(o->cfg.flags & MF_OUT_F_SSRC))
			return 0;
		return p->l4.payload_len > PRIV_MAX ? -E2BIG : rtcp_rewrite(priv, p, o);
	case DP_WHAT_TS:
		if (!ts_filters(o) && p->psi_only == NULL)
			return 0;
		if (p->l4.payload_len > PRIV_MAX)	/* the parser allows no more; kept sure */
			return -E2BIG;
		n = ts_filter(priv, pl, p->l4.payload_len, o, p->psi_only);
		*empty = n == 0;
		return n;
	default:
		return 0;
	}
}

/* ---- headers and checksums ---- */

static inline uint32_t
negate(uint32_t s)
{
	return ~dp_hdr_fold(s) & 0xffff;
}

/* The input's checksum less its pseudo-header and UDP header: the sum of its payload, which
 * outputs build on. Not when the payload is no longer what the checksum covered (decrypted
 * in place: @p payload_intact false). */
static void
incr_prepare(struct dp_pkt *p, bool payload_intact)
{
	const uint8_t *l3 = p->data + p->l4.l3_off, *udp = p->data + p->l4.l4_off;
	bool v4 = p->l4.ip.version == 4;
	uint16_t in_csum, udp_len, sport, dport;
	uint32_t hdrs;

	memcpy(&in_csum, udp + 6, 2);
	p->incr = payload_intact && in_csum != 0;
	if (!p->incr)
		return;
	/* What the checksum covered besides the payload, summed once and taken away once: the
	 * pseudo-header (RFC 768: the addresses, the protocol, the UDP length) and the UDP
	 * header but its checksum (the ports, the length again). */
	memcpy(&sport, udp, 2);
	memcpy(&dport, udp + 2, 2);
	memcpy(&udp_len, udp + 4, 2);
	hdrs = mf_csum_host(l3 + (v4 ? 12 : 8), v4 ? 8 : 32) + rte_cpu_to_be_16(IPPROTO_UDP) +
	       2u * udp_len + sport + dport;
	p->incr_base = dp_hdr_fold((uint32_t)(uint16_t)~in_csum + negate(hdrs));
}

static uint32_t
shared_sum(struct dp_pkt *p, uint16_t off, uint16_t len)
{
	if (p->sum_off != off || p->sum_len != len) {
		p->sum = mf_csum_host(p->data + off, len);
		p->sum_off = off;
		p->sum_len = len;
	}
	return p->sum;
}

/* The sum of the shared bytes [off, off + len) behind @p priv_len private bytes. When the
 * private bytes replace as many at the payload's start (an RTP header rewrite) and the input
 * carried a checksum, it comes from that checksum less the replaced bytes (RFC 1624) and the
 * payload is not read; otherwise the shared bytes are summed, once per input packet. */
static uint32_t
shared_part(struct dp_pkt *p, uint16_t off, uint16_t len, uint16_t priv_len)
{
	uint32_t ss;

	if (p->incr && off - p->l4.payload_off == priv_len &&
	    off + len == p->l4.payload_off + p->l4.payload_len)
		return dp_hdr_fold(p->incr_base +
				   negate(mf_csum_host(p->data + p->l4.payload_off, priv_len)));
	ss = shared_sum(p, off, len);
	/* Behind an odd number of bytes the shared sum's bytes swap places. */
	return (priv_len & 1) ? ((ss & 0xff) << 8 | (ss >> 8 & 0xff)) : ss;
}

/* Ethernet, IP and UDP headers at @p h. @return whether the destination MAC written is a
 * resolved one: the neighbour entry is read once, so the frame sent and the decision to
 * send it agree even if the entry changes meanwhile. */
static bool
write_headers(struct rte_mbuf *m, uint8_t *h, const struct dp_out *o, bool rtcp,
	      uint16_t udp_len, uint32_t tail_sum, bool csum_offload)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)h;
	struct dp_hdr_sums sums;
	struct rte_udp_hdr *udp;
	bool resolved;

	resolved = dp_neigh_mac(o->neigh, &eth->dst_addr);
	rte_ether_addr_copy(&o->port->mac, &eth->src_addr);
	/* Lengths for offloads, in one store: a bit-field's would first read the mbuf's second
	 * cache line, a miss in a frame just taken from the pool. */
	m->tx_offload = rte_mbuf_tx_offload(RTE_ETHER_HDR_LEN,
					    o->family == 4 ? sizeof(struct rte_ipv4_hdr) :
							     sizeof(struct rte_ipv6_hdr), 0, 0, 0, 0, 0);
	udp = dp_hdr_ip_udp((uint8_t *)(eth + 1), o->family, o->src_ip, o->cfg.dst.a,
			    rtcp ? o->rtcp_src_port : o->src_port,
			    rtcp ? o->rtcp_dst_port : o->cfg.dst_port, udp_len);
	if (o->family == 4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);

		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
		m->ol_flags |= RTE_MBUF_F_TX_IPV4;
		if (o->port->tx_ip_csum)
			m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
		else
			ip->hdr_checksum = dp_hdr_ip4_csum(&o->sums, udp_len);
	} else {
		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
		m->ol_flags |= RTE_MBUF_F_TX_IPV6;
	}
	/* The headers' sums are the output's, made when it was built: no header is read. */
	sums = o->sums;
	if (rtcp)
		sums.ports = o->rtcp_ports_sum;
	if (csum_offload) {
		m->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
		udp->dgram_cksum = dp_hdr_ph_sum(&sums, udp_len);
	} else {
		udp->dgram_cksum = dp_hdr_udp_csum(&sums, udp_len, tail_sum);
	}
	return resolved;
}

/* A frame about to go in fragments, kept whole for NACK repair: the ring takes @p m, the
 * fragments are cut from a clone of it (dp_frag_out moves the frame's start). @return what
 * to fragment (NULL when no clone could be had: nothing is kept, nothing sent). */
static struct rte_mbuf *
nack_keep_whole(struct dp_out *o, const struct dp_pkt *p, struct rte_mbuf *m, uint16_t seq,
		uint64_t now)
{
	struct rte_mbuf *c;

	if (o->nack == NULL || p->what != DP_WHAT_RTP)
		return m;
	c = rte_pktmbuf_clone(m, dp.clone_pool);
	if (c == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	dp_nack_keep(o, m, seq, now);
	rte_pktmbuf_free(m);		/* the ring holds it now */
	return c;
}

/* An mbuf holding @p hdr_len + @p priv_len bytes of headers, then the shared bytes. */
static struct rte_mbuf *
frame_alloc(struct dp_pkt *p, const struct dp_out *o, bool reuse, uint16_t room,
	    uint16_t off, uint16_t len, uint8_t **h)
{
	/* SRTP encrypts the whole payload in place: it must be in one segment of its own. */
	bool flat = o->srtp != NULL;
	struct rte_mbuf *m, *c;

	if (reuse) {
		m = p->m;
		rte_pktmbuf_adj(m, off);
		rte_pktmbuf_trim(m, (uint16_t)(m->data_len - len));
		m->ol_flags = 0;
		*h = (uint8_t *)rte_pktmbuf_prepend(m, room);
		return *h == NULL ? NULL : m;
	}
	if (len > 0 && o->port->tx_multiseg && !flat) {
		m = rte_pktmbuf_alloc(dp.hdr_pool);
		c = m == NULL ? NULL : rte_pktmbuf_clone(p->m, dp.clone_pool);
		if (c == NULL) {
			rte_pktmbuf_free(m);
			return NULL;
		}
		rte_pktmbuf_adj(c, off);
		rte_pktmbuf_trim(c, (uint16_t)(c->data_len - len));
		*h = (uint8_t *)rte_pktmbuf_append(m, room);
		rte_pktmbuf_chain(m, c);
		return m;
	}
	/* A frame larger than a packet mbuf (a reassembled datagram's copy) takes a big one;
	 * SRTP's trailer goes in the tailroom after it. */
	m = rte_pktmbuf_alloc(room + len + SRTP_TRAILER_MAX <=
			      rte_pktmbuf_data_room_size(dp.pool) - RTE_PKTMBUF_HEADROOM ?
			      dp.pool : dp.frag_pool);
	if (m == NULL)
		return NULL;
	*h = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(room + len));
	if (*h == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memcpy(*h + room, p->data + off, len);
	return m;
}

/* SRTP/SRTCP protect the payload @p pl of the flat frame @p m with the output's key: the
 * trailer goes into the tailroom. The checksum of the payload is then summed here. */
static int
protect(struct rte_mbuf *m, uint8_t *pl, uint16_t *plen, bool rtcp, const struct dp_out *o,
	bool sw_csum, uint32_t *tail)
{
	size_t n = *plen, cap = n + rte_pktmbuf_tailroom(m);
	int rc;

	rc = rtcp ? mf_srtcp_protect(o->srtp, pl, &n, cap) : mf_srtp_protect(o->srtp, pl, &n, cap);
	if (unlikely(rc != 0))
		return rc;
	rte_pktmbuf_append(m, (uint16_t)(n - *plen));
	*plen = (uint16_t)n;
	if (sw_csum)
		*tail = mf_csum_host(pl, n);
	return 0;
}

/* One output's copy of @p p: build, protect, check, address and queue it. Every way out
 * that does not send goes through drop:, which counts the output's reason and the node's
 * (one name for a reason everywhere) and frees what was made. */
static void
send_one(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, struct dp_out *o,
	 bool reuse, uint64_t now)
{
	uint64_t *oc = dp_ctr_of(o->ctr, dp.stride_out, lc->index);
	uint16_t hdr_len = (uint16_t)(RTE_ETHER_HDR_LEN +
				      (o->family == 4 ? IP4_HDR_LEN : IP6_HDR_LEN) + UDP_HDR_LEN);
	uint16_t off = shared_off(p, s, o), end = p->l4.payload_off + p->l4.payload_len;
	uint16_t len = (uint16_t)(end - off), priv_len, plen;
	uint8_t priv[PRIV_MAX], *h;
	struct rte_mbuf *m = NULL;
	bool empty, over, sw_csum, resolved;
	unsigned int why;
	uint32_t tail = 0;
	int n;

	n = build_priv(priv, p, s, o, now, &empty);
	if (unlikely(n < 0)) {
		why = DP_OC_drop_rewrite_size;
		goto drop;
	}
	if (empty) {
		why = DP_OC_drop_ts_filtered;
		goto drop;
	}
	priv_len = (uint16_t)n;
	/* A frame that may be sent in fragments has its UDP checksum summed here: no NIC can
	 * checksum a datagram it sends in pieces. */
	sw_csum = !o->port->tx_udp_csum ||
		  hdr_len - RTE_ETHER_HDR_LEN + priv_len + len + SRTP_TRAILER_MAX > o->port->mtu;
	if (sw_csum && o->srtp == NULL) {
		tail = mf_csum_host(priv, priv_len);
		if (len > 0)
			tail += shared_part(p, off, len, priv_len);
	}
	m = frame_alloc(p, o, reuse, (uint16_t)(hdr_len + priv_len), off, len, &h);
	if (unlikely(m == NULL)) {
		why = DP_OC_drop_no_mbuf;
		goto drop;
	}
	reuse = false;		/* the input is m now, or part of it */
	memcpy(h + hdr_len, priv, priv_len);
	plen = (uint16_t)(priv_len + len);
	if (o->srtp != NULL &&
	    protect(m, h + hdr_len, &plen, p->what == DP_WHAT_RTCP, o, sw_csum, &tail) != 0) {
		why = DP_OC_drop_srtp_protect;
		goto drop;
	}
	/* What would not fit the link goes in fragments where the port allows it, and is
	 * counted otherwise, not lost silently in the NIC. */
	over = hdr_len - RTE_ETHER_HDR_LEN + plen > o->port->mtu;
	if (unlikely(over && (!o->port->conf->fragment ||
			      hdr_len - RTE_ETHER_HDR_LEN + plen > UINT16_MAX))) {
		why = DP_OC_drop_mtu;
		goto drop;
	}
	resolved = write_headers(m, h, o, p->what == DP_WHAT_RTCP,
				 (uint16_t)(UDP_HDR_LEN + plen), tail, !sw_csum);
	if (unlikely(s->capture))
		dp_capture_copy(lc, m, o->port->index, true);
	if (unlikely(!resolved || lc->hold.nb != 0) && dp_hold_wait(lc, o->neigh, resolved)) {
		/* This worker holds a few frames per next hop while the control lcore resolves
		 * it, and sends them first once it has; not one to fragment. */
		why = DP_OC_drop_neigh;
		if (over || dp_hold_add(lc, o->neigh, o->port->index, m, now) != 0)
			goto drop;
		/* Kept for repair like a frame sent: the stream's first packets are the ones a
		 * receiver NACKs when a path starts lossy. */
		if (o->nack != NULL && p->what == DP_WHAT_RTP)
			dp_nack_keep(o, m, priv_len >= 4 ? mf_rd16(priv + 2) : p->rtp.seq, now);
	} else if (likely(!over)) {
		if (o->nack != NULL && p->what == DP_WHAT_RTP)
			dp_nack_keep(o, m, priv_len >= 4 ? mf_rd16(priv + 2) : p->rtp.seq, now);
		dp_tx(lc, o->port->index, m);
	} else {
		m = nack_keep_whole(o, p, m, priv_len >= 4 ? mf_rd16(priv + 2) : p->rtp.seq, now);
		n = m == NULL ? -ENOMEM : dp_frag_out(lc, o->port, m, o->family); /* consumes m */
		if (unlikely(n < 0)) {
			m = NULL;
			why = n == -ENOMEM ? DP_OC_drop_no_mbuf : DP_OC_drop_mtu;
			goto drop;
		}
		oc[DP_OC_frag_tx] += (uint64_t)n;
		lc->ctr[DP_CTR_frag_tx] += (uint64_t)n;
	}
	o->ost->hot.tx_pkts++;
	o->ost->hot.tx_bytes += plen;
	s->st->hot.tx_pkts++;
	s->st->hot.tx_bytes += plen;
	return;
drop:
	oc[why]++;
	if (dp_out_node_ctr[why] != 0)
		lc->ctr[dp_out_node_ctr[why]]++;
	rte_pktmbuf_free(m);		/* NULL is fine */
	if (reuse)
		rte_pktmbuf_free(p->m);
}

/* ---- which outputs send: filters, start on a key frame, gapless numbering ---- */

/* The newest input becomes @p seq, @p n numbers on (the last @p skipped of them skipped). */
static inline void
seq_move(struct dp_out_state *os, uint16_t seq, uint16_t n, uint16_t skipped)
{
	os->skips = n >= DP_SEQ_SKIPS_SEEN ? 0 : os->skips << n;
	os->skips |= skipped >= DP_SEQ_SKIPS_SEEN ? ~UINT64_C(0) :
		     (UINT64_C(1) << skipped) - 1;
	os->max_in_seq = seq;
}

/* An RTP packet output @p o sends: the newest input it has seen moves on. */
static inline void
seq_sent(struct dp_out *o, const struct mf_rtp *r)
{
	struct dp_out_state *os = o->ost;

	/* Sent as it came (nothing renumbered, no SSRC of its own): its number is the
	 * input's. rtp_rewrite keeps last_seq otherwise. */
	if (!os->renumber && !(o->cfg.flags & MF_OUT_F_SSRC) &&
	    (!os->sent || (int16_t)(r->seq - os->last_seq) > 0))
		os->last_seq = r->seq;
	if (!os->sent) {
		os->skips = 0;
		os->max_in_seq = r->seq;
	} else if ((int16_t)(r->seq - os->max_in_seq) > 0) {
		seq_move(os, r->seq, (uint16_t)(r->seq - os->max_in_seq), 0);
	}
	os->sent = true;
}

/* A replay's first packet, for an output that sent before: the numbers go on from the last
 * it sent, as if the input went on from this one (the cache's packets are older than what
 * was skipped meanwhile: as they came they would take numbers used already). */
static inline void
seq_rebase(struct dp_out_state *os, const struct mf_rtp *r)
{
	if (!os->rebase)
		return;
	os->seq_off = (uint16_t)(os->last_seq + 1 - r->seq);
	os->skips = 0;
	os->max_in_seq = (uint16_t)(r->seq - 1);
	os->renumber = true;
	os->rebase = false;
}

/* An RTP packet this output does not send takes no number of its own: later ones move down
 * by one (mediasoup's SeqManager drop). One older than the newest seen already has its
 * place, and before the first packet sent there is no sequence to keep. */
static inline void
seq_skip(struct dp_out_state *os, const struct mf_rtp *r)
{
	if (!os->sent || (int16_t)(r->seq - os->max_in_seq) <= 0)
		return;
	seq_move(os, r->seq, (uint16_t)(r->seq - os->max_in_seq), 1);
	os->seq_off--;
	os->renumber = true;
}

/* A replay that ended before the cache's end (the cache started again on a key frame, or
 * was dropped at a limit) never sends the rest of the GOP: its input numbers, up to @p r's,
 * take no numbers either (skipped each), or the receiver would count them lost and ask
 * for packets no ring holds. */
static inline void
seq_cut(struct dp_out_state *os, const struct mf_rtp *r)
{
	uint16_t gap = (uint16_t)(r->seq - os->max_in_seq - 1);

	if (!os->sent || (int16_t)(r->seq - os->max_in_seq) <= 1)
		return;
	seq_move(os, (uint16_t)(r->seq - 1), gap, gap);
	os->seq_off = (uint16_t)(os->seq_off - gap);
	os->renumber = true;
}

/* Start waiting for a key frame, asking the source for one. */
static void
wait_keyframe(struct dp_sess *s, struct dp_out_state *os, uint64_t now, uint64_t *sc,
	      uint64_t *oc)
{
	os->waiting = true;
	os->wait_tsc = now;
	oc[DP_OC_kf_waits]++;
	dp_kf_want(s, sc);
}

/* A new start (output added, resumed or switched): with the GOP cache when the output may
 * and the cache holds a GOP, else by waiting for a key frame. */
static void
start_again(struct dp_sess *s, struct dp_out *o, uint64_t now, uint64_t *sc, uint64_t *oc)
{
	struct dp_out_state *os = o->ost;

	os->wait_gen = o->wait_gen;
	os->replaying = false;
	os->waiting = false;
	if (o->cfg.start == MF_OUT_START_GOP && s->gop != NULL && s->gop->valid) {
		os->replaying = true;
		os->rebase = os->sent;
		os->replay_psi = s->kind == MF_SESS_MPEGTS;
		os->replay_gen = s->gop->gen;
		os->replay_pos = 0;
		oc[DP_OC_gop_replays]++;
		return;
	}
	wait_keyframe(s, os, now, sc, oc);
}

/* The per-packet scratch every output's copy builds on; @p opened: the payload was
 * decrypted in place. */
static void
out_prepare(struct dp_pkt *p, bool opened)
{
	p->sum_len = 0;
	p->sum_off = 0;
	incr_prepare(p, !opened);
}

/* A GOP cache packet as a packet to send: parsed again, as it was when it came. */
static int
cached_pkt(const struct dp_sess *s, struct dp_pkt *q, const struct dp_gop_pkt *gp)
{
	q->m = gp->m;
	q->data = rte_pktmbuf_mtod(gp->m, uint8_t *);
	/* The length kept is the payload's after SRTP's trailer went: never more than the
	 * datagram's, but bound it all the same, as any length read back. */
	if (mf_pkt_parse_udp(q->data, gp->m->data_len, &q->l4) != 0 ||
	    gp->payload_len > q->l4.payload_len)
		return -EINVAL;
	q->l4.payload_len = gp->payload_len;
	q->rtcp = false;
	q->fb_only = false;
	q->kf = -1;
	q->cached = true;
	q->psi_only = NULL;
	if (s->kind == MF_SESS_MPEGTS) {
		q->what = DP_WHAT_TS;
		return 0;
	}
	q->what = DP_WHAT_RTP;
	return mf_rtp_parse(q->data + q->l4.payload_off, q->l4.payload_len, &q->rtp);
}

/* One cached packet to output @p o; of a PSI datagram, only its PAT and PMT packets.
 * @return whether it was sent (not filtered). */
static bool
replay_one(struct dp_lcore *lc, struct dp_sess *s, struct dp_out *o,
	   const struct dp_gop_pkt *gp, bool psi, uint64_t now)
{
	struct dp_pkt q;

	if (gp->m == NULL || cached_pkt(s, &q, gp) != 0)
		return false;
	if (psi)
		q.psi_only = &s->st->ts;
	if (q.what == DP_WHAT_RTP) {
		if (!pt_allowed(o, q.rtp.pt)) {
			seq_skip(o->ost, &q.rtp);
			return false;
		}
		seq_rebase(o->ost, &q.rtp);
		seq_sent(o, &q.rtp);
	}
	out_prepare(&q, gp->opened);
	send_one(lc, s, &q, o, false, now);
	return true;
}

/* Send output @p o up to GOP_BURST packets of the cache, so a long GOP goes out over
 * several of the session's packets and other sessions are not held up.
 * @return true when it reached the cache's end (which holds the current packet). */
static bool
gop_replay(struct dp_lcore *lc, struct dp_sess *s, struct dp_out *o, uint64_t now,
	   uint64_t *oc)
{
	struct dp_out_state *os = o->ost;
	const struct dp_gop *g = s->gop;
	unsigned int sent = 0, i;

	if (os->replay_psi) {
		os->replay_psi = false;
		for (i = 0; i < RTE_DIM(g->psi); i++)
			if (i == 0 || g->psi[1].m != g->psi[0].m)
				sent += replay_one(lc, s, o, &g->psi[i], true, now);
	}
	while (os->replay_pos < g->n && sent < GOP_BURST)
		sent += replay_one(lc, s, o, &g->pkt[os->replay_pos++], false, now);
	oc[DP_OC_gop_replayed] += sent;
	return os->replay_pos == g->n;
}

enum start_verdict { START_SEND, START_HOLD, START_REPLAYED };

/* start: keyframe or gop. Until a key frame starts (RTCP goes on: a sender report harms
 * nobody), RTP is held back; while the cache is replayed, the live packet (the cache's
 * last) is sent by the replay. */
static enum start_verdict
start_ok(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, struct dp_out *o,
	 uint64_t now, uint64_t *sc, uint64_t *oc)
{
	struct dp_out_state *os = o->ost;

	if (unlikely(os->wait_gen != o->wait_gen))
		start_again(s, o, now, sc, oc);
	if (likely(!os->waiting && !os->replaying) ||
	    (p->what != DP_WHAT_RTP && p->what != DP_WHAT_TS))
		return START_SEND;
	if (os->replaying) {
		if (s->gop->gen == os->replay_gen) {
			if (gop_replay(lc, s, o, now, oc))
				os->replaying = false;
			return START_REPLAYED;
		}
		/* The cache restarted on this key frame: live from it. Or it was dropped at
		 * a limit: wait for the next key frame. Either way the rest of the old GOP is
		 * gone. */
		os->replaying = false;
		os->rebase = false;	/* nothing replayed: the skips' numbering holds */
		if (p->what == DP_WHAT_RTP)
			seq_cut(os, &p->rtp);
		if (s->gop->valid)
			return START_SEND;
		wait_keyframe(s, os, now, sc, oc);
	}
	if (dp_pkt_kf(s, p, sc) != MF_KF_START)
		return START_HOLD;
	os->waiting = false;
	oc[DP_OC_kf_wait_ms] = dp_tsc_ms(now - os->wait_tsc);
	return START_SEND;
}

/* Does output @p o send @p p? Counts why not, and keeps its numbering gapless either way. */
static bool
output_sends(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, struct dp_out *o,
	     uint64_t now, uint64_t *sc)
{
	uint64_t *oc = dp_ctr_of(o->ctr, dp.stride_out, s->worker);
	bool rtp = p->what == DP_WHAT_RTP;
	enum start_verdict v = START_SEND;
	unsigned int why = 0;

	if (o->cfg.flags & (MF_OUT_F_PAUSED | DP_OUT_F_NO_DST | DP_OUT_F_NO_KEYS))
		why = o->cfg.flags & MF_OUT_F_PAUSED ? DP_OC_drop_paused :
		      o->cfg.flags & DP_OUT_F_NO_DST ? DP_OC_drop_ice_wait : DP_OC_drop_dtls_wait;
	else if (rtp && !pt_allowed(o, p->rtp.pt))
		why = DP_OC_drop_pt;
	else if (o->cfg.start != MF_OUT_START_IMMEDIATE)
		v = start_ok(lc, s, p, o, now, sc, oc);
	if (v == START_REPLAYED)
		return false;
	if (v == START_HOLD)
		why = DP_OC_drop_kf_wait;
	if (!rtp)
		return why == 0 ? true : (oc[why]++, false);
	if (why == 0) {
		seq_sent(o, &p->rtp);
		return true;
	}
	oc[why]++;
	seq_skip(o->ost, &p->rtp);
	return false;
}

/* A bit per output: a session's outputs in a few words. */
#define OUT_WORDS	((MF_SESS_MAX_OUTPUTS + 63) / 64)

/* Which outputs send this packet (bits of @p mask). For the last, where its writes into the
 * input would end (@p reuse_off); for the others, the lowest offset of the input bytes they
 * read (@p min_off). @return the last output's index, or -1 when none sends. */
static int
eligible(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, uint64_t now, uint64_t *sc,
	 uint64_t mask[OUT_WORDS], uint16_t *reuse_off, uint16_t *min_off)
{
	uint16_t last_shared = 0;
	unsigned int i;
	int last = -1;

	*min_off = UINT16_MAX;
	for (i = 0; i < s->nb_out; i++) {
		const struct dp_out *o = &s->out[i];

		if (!output_sends(lc, s, p, &s->out[i], now, sc))
			continue;
		mask[i / 64] |= UINT64_C(1) << (i % 64);
		if (last >= 0)
			*min_off = RTE_MIN(*min_off, last_shared);
		last = (int)i;
		last_shared = shared_off(p, s, o);
		/* An SRTP output writes over its whole payload (it encrypts in place). */
		*reuse_off = o->srtp != NULL ? (uint16_t)(p->l4.payload_off + p->l4.payload_len) :
					       last_shared;
	}
	return last;
}

void
dp_fanout(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, uint64_t now, uint64_t *sc)
{
	uint64_t mask[OUT_WORDS] = { 0 };
	uint16_t last_off = 0, min_off;
	unsigned int w;
	bool reuse;
	int last;

	out_prepare(p, s->srtp_in != NULL);
	last = eligible(lc, s, p, now, sc, mask, &last_off, &min_off);
	if (last < 0) {
		rte_pktmbuf_free(p->m);
		return;
	}
	/* The last output may write its headers into the input only if no other output
	 * shares the bytes it writes over, and the GOP cache does not keep it. */
	reuse = last_off <= min_off && !p->cached;
	for (w = 0; w < OUT_WORDS; w++)
		while (mask[w] != 0) {
			int i = (int)w * 64 + __builtin_ctzll(mask[w]);

			mask[w] &= mask[w] - 1;
			send_one(lc, s, p, &s->out[i], reuse && i == last, now);
		}
	if (!reuse)
		rte_pktmbuf_free(p->m);
}
