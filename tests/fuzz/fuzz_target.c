/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer targets, one per parser, chosen at compile time by MF_FUZZ_<NAME>. Each feeds
 * the fuzzer's bytes (an exact-size buffer, so ASan sees any read past the end) to one
 * parser and, when the parser accepts, checks that what it reports stays inside the input.
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "mf/mf_cluster.h"
#include "mf/mf_keyframe.h"
#include "mf/mf_pkt.h"
#include "mf/mf_rtp.h"
#include "mf/mf_session.h"
#include "mf/mf_ts.h"
#include "mf_pktbuild.h"
#ifdef MF_FUZZ_SRTP
#include <string.h>

#include "mf/mf_srtp.h"
#endif
#ifdef MF_FUZZ_STUN
#include <string.h>

#include "mf/mf_stun.h"
#endif
#ifdef MF_FUZZ_SDP
#include <string.h>

#include "mf/mf_sdp.h"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			abort(); \
	} while (0)

static void
fuzz_eth(const uint8_t *d, size_t n)
{
	struct mf_eth e;

	if (mf_eth_parse(d, n, &e) == 0)
		CHECK(e.hdr_len <= n && e.nb_vlan <= MF_ETH_MAX_VLAN);
}

static void
fuzz_arp(const uint8_t *d, size_t n)
{
	struct mf_arp a;

	if (mf_arp_parse(d, n, &a) == 0)
		CHECK(n >= MF_ARP_LEN);
}

static void
fuzz_ip(const uint8_t *d, size_t n, int v)
{
	struct mf_ip ip;
	int rc = v == 4 ? mf_ipv4_parse(d, n, &ip) : mf_ipv6_parse(d, n, &ip);

	if (rc == 0)
		CHECK(ip.hdr_len <= ip.total_len && ip.total_len <= n && ip.version == v);
}

static void
fuzz_udp(const uint8_t *d, size_t n)
{
	struct mf_udp u;

	if (mf_udp_parse(d, n, &u) == 0)
		CHECK(u.len >= MF_UDP_HDR_LEN && u.len <= n);
}

static void
fuzz_icmp(const uint8_t *d, size_t n)
{
	struct mf_icmp ic;

	if (n > 0 && mf_icmp_parse(d + 1, n - 1, d[0] & 1, &ic) == 0)
		CHECK(n - 1 >= 8);
}

static void
fuzz_chain(const uint8_t *d, size_t n)
{
	struct mf_pkt_l4 p;

	if (mf_pkt_parse_udp(d, n, &p) == 0)
		CHECK((size_t)p.payload_off + p.payload_len <= n && p.l4_off + 8u == p.payload_off);
}

static void
fuzz_rtp(const uint8_t *d, size_t n)
{
	struct mf_rtp r;

	if (mf_rtp_parse(d, n, &r) == 0)
		CHECK((size_t)r.hdr_len + r.payload_len + r.pad_len == n);
	if (mf_rtp_parse_hdr(d, n, &r) == 0)
		CHECK((size_t)r.hdr_len + r.payload_len == n && r.hdr_len >= MF_RTP_HDR_LEN);
}

static void
fuzz_rtcp(const uint8_t *d, size_t n)
{
	struct mf_rtcp c;
	size_t end = 0;
	unsigned int i;

	if (mf_rtcp_parse(d, n, &c) != 0)
		return;
	for (i = 0; i < c.nb; i++) {
		struct mf_rtcp_fb fb;

		CHECK(c.pkts[i].off == end && c.pkts[i].len >= 4);
		end += c.pkts[i].len;
		/* Feedback entries, when read, lie inside their packet. */
		if (mf_rtcp_fb_parse(d, &c.pkts[i], &fb) != 0 || fb.kind == MF_RTCP_FB_OTHER)
			continue;
		CHECK(fb.fci_off == 12);
		CHECK(fb.kind == MF_RTCP_FB_PLI || fb.kind == MF_RTCP_FB_REMB ||
		      12 + (size_t)fb.nb * (fb.kind == MF_RTCP_FB_FIR ? 8 : 4) <= c.pkts[i].len);
		CHECK(fb.kind != MF_RTCP_FB_REMB || 20 + 4 * (size_t)fb.nb <= c.pkts[i].len);
	}
	CHECK(end == n && c.nb > 0);
}

static void
fuzz_ts(const uint8_t *d, size_t n)
{
	struct mf_ts t;
	unsigned int i;
	int rc = mf_ts_parse(d, n, &t);

	CHECK(t.nb <= MF_TS_MAX_PKTS);
	for (i = 0; i < t.nb; i++)
		CHECK(t.pkts[i].payload_off <= MF_TS_PKT_LEN && t.pkts[i].pid < 8192);
	if (rc == 0)
		CHECK(t.nb * MF_TS_PKT_LEN == n);
}

static void
fuzz_demux(const uint8_t *d, size_t n)
{
	int k = mf_demux_classify(d, n);

	CHECK(k == -MF_PKT_E_DEMUX_EMPTY || (k >= MF_DEMUX_STUN && k <= MF_DEMUX_UNKNOWN));
}

static void
fuzz_session(const uint8_t *d, size_t n)
{
	struct mf_sess_spec s;
	struct mf_sess_err err;

	if (mf_sess_from_text((const char *)d, n, &s, &err) == 0) {
		CHECK(s.nb_outputs <= MF_SESS_MAX_OUTPUTS && s.id[0] != '\0');
		CHECK(s.kind >= MF_SESS_RTP && s.kind <= MF_SESS_UDP);
	} else {
		CHECK(err.code != MF_SESS_E_NONE && err.path[0] != '\0' && err.msg[0] != '\0');
	}
}

/* A node's status from anyone the broker lets publish: the registry takes it as valid or
 * invalid with a reason, never reads past it; a valid one has its figures in range, and
 * the node chosen for a session is one that can take it. */
static void
fuzz_cluster(const uint8_t *d, size_t n)
{
	static struct mf_cluster c;
	const struct mf_node_status *st, *best;

	if (c.prefix[0] == '\0')
		CHECK(mf_cluster_init(&c, "mfwd") == 0);
	CHECK(mf_cluster_update(&c, "mfwd/n1/status", d, n, 0) == 1);
	st = mf_cluster_find(&c, "n1");
	if (n == 0) {			/* a retained status cleared: the node is gone */
		CHECK(st == NULL && c.n == 0);
		return;
	}
	CHECK(st != NULL && (st->valid ? st->why[0] == '\0' : st->why[0] != '\0'));
	CHECK(!st->valid || (st->busy_max <= 1 && st->rx_pps >= 0));
	best = mf_cluster_best(&c, st->time_ms, 0);
	CHECK(best == NULL || (best->valid && best->online && best->sessions_free > 0));
}

#ifdef MF_FUZZ_SRTP
/* SRTP/SRTCP: the first byte picks the suite, RTP or RTCP, and the mode. Unprotect the rest
 * as it came (what an attacker sends: must be refused without a stray read), or protect it
 * and unprotect the result under the same key (must give the input back). Contexts live
 * across inputs, so windows and streams fill and slide. */
static void
fuzz_srtp(const uint8_t *d, size_t n)
{
	static struct mf_srtp *tx[MF_SRTP_SUITE_MAX], *rx[MF_SRTP_SUITE_MAX];
	unsigned int suite, over;
	struct mf_srtp_params p;
	size_t len;
	uint8_t *b;
	bool rtcp;
	int rc;

	if (n < 1)
		return;
	suite = 1 + d[0] % (MF_SRTP_SUITE_MAX - 1);
	rtcp = d[0] & 0x10;
	if (tx[suite] == NULL) {
		memset(&p, 0, sizeof(p));
		p.suite = (uint8_t)suite;
		mf_srtp_suite_lens(suite, &p.key_len, &p.salt_len);
		memset(p.key, 0x3c, p.key_len);
		CHECK(mf_srtp_create(&p, &tx[suite]) == 0 && mf_srtp_create(&p, &rx[suite]) == 0);
	}
	over = mf_srtp_overhead(tx[suite], rtcp);
	len = n - 1;
	b = malloc(len + over);
	CHECK(b != NULL);
	memcpy(b, d + 1, len);
	if (d[0] & 0x20) {
		rc = rtcp ? mf_srtcp_unprotect(rx[suite], b, &len) : mf_srtp_unprotect(rx[suite], b, &len);
		CHECK(rc <= 0 && (rc != 0 || len + over == n - 1));
	} else {
		rc = rtcp ? mf_srtcp_protect(tx[suite], b, &len, n - 1 + over) :
			    mf_srtp_protect(tx[suite], b, &len, n - 1 + over);
		if (rc == 0) {
			CHECK(len == n - 1 + over);
			rc = rtcp ? mf_srtcp_unprotect(rx[suite], b, &len) :
				    mf_srtp_unprotect(rx[suite], b, &len);
			CHECK(rc == 0 || rc == -MF_SRTP_E_REPLAY);
			CHECK(rc != 0 || (len == n - 1 && memcmp(b, d + 1, len) == 0));
		}
	}
	free(b);
}
#endif

/* A TS packet's section, when it starts and ends within the packet, given its right CRC_32:
 * a fuzzer rarely finds one, and without it a PMT's streams would never be read. */
static void
fix_section_crc(uint8_t *p)
{
	size_t off = (p[3] & 0x20) ? 5u + p[4] : 4u;

	if (off >= MF_TS_PKT_LEN)
		return;
	off += 1u + p[off];			/* pointer_field */
	if (off + 3 <= MF_TS_PKT_LEN &&
	    off + 3 + (size_t)((p[off + 1] & 0x0f) << 8 | p[off + 2]) <= MF_TS_PKT_LEN)
		pb_section_crc(p + off);
}

/* The first byte picks what the rest is: an RTP payload of codec 1..6, a TS packet, a PMT
 * (its CRC_32 made right when the first byte's top bit is set). */
static void
fuzz_keyframe(const uint8_t *d, size_t n)
{
	uint16_t prog = 0xdead, pid = 0xbeef, prog2, pid2;
	uint8_t st = 0xee, st2, pkt[MF_TS_PKT_LEN];
	const uint8_t *t = d + 1;
	size_t tn = n - 1;
	int k;

	if (n < 1)
		return;
	switch (d[0] % 8) {
	case 7:
		k = mf_kf_ts(d + 1, n - 1, d[0] & 0x80 ? MF_TS_STREAM_H265 : MF_TS_STREAM_H264);
		break;
	case 0:
		if ((d[0] & 0x80) && tn >= sizeof(pkt)) {
			memcpy(pkt, t, sizeof(pkt));
			fix_section_crc(pkt);
			t = pkt;
			tn = sizeof(pkt);
		}
		/* Video found, none in a whole section, the CRC wrong, or nothing known: the
		 * dataplane writes into its state through these pointers and relies on each
		 * result's promise of what is written. */
		k = mf_ts_pmt_video(t, tn, &prog, &pid, &st);
		CHECK(k == 0 || k == -ENOENT || k == -EINVAL || k == -EBADMSG);
		if (k == 0)
			CHECK(pid < 0x2000 && st != 0xee);
		else
			CHECK(pid == 0xbeef && st == 0xee);
		CHECK(k == -EINVAL || k == -EBADMSG ? prog == 0xdead : (t[1] & 0xc0) == 0x40);
		CHECK(k != -EBADMSG || (t[1] & 0xc0) == 0x40);
		/* Again from other values: the same answer, each promised value written. */
		prog2 = 0x1234;
		pid2 = 0x4321;
		st2 = 0x11;
		CHECK(mf_ts_pmt_video(t, tn, &prog2, &pid2, &st2) == k);
		CHECK(k == -EINVAL || k == -EBADMSG ? prog2 == 0x1234 : prog2 == prog);
		CHECK(k == 0 ? pid2 == pid && st2 == st : pid2 == 0x4321 && st2 == 0x11);
		return;
	default:
		k = mf_kf_rtp(d[0] % 8, d + 1, n - 1);
		break;
	}
	CHECK(k >= MF_KF_NO && k <= MF_KF_UNKNOWN);
}

#ifdef MF_FUZZ_SDP
/* An offer from anyone: what the parser keeps stays inside its bounds and the text, and
 * every offer accepted is answered as a publisher and as a viewer; each answer must parse
 * back with as many m-sections, the accepted ones on mfwd's port. */
static void
fuzz_sdp(const uint8_t *d, size_t n)
{
	static const struct mf_sdp_cap caps[] = {
		{ .kind = MF_SDP_VIDEO, .codec = MF_SDP_C_H264, .pt = 96, .h264_mode = 1,
		  .ssrc = 1 },
		{ .kind = MF_SDP_VIDEO, .codec = MF_SDP_C_VP8, .pt = 97, .ssrc = 1 },
		{ .kind = MF_SDP_VIDEO, .codec = MF_SDP_C_VP9, .pt = 98, .ssrc = 1 },
		{ .kind = MF_SDP_AUDIO, .codec = MF_SDP_C_OPUS, .pt = 111, .ssrc = 2 },
		{ .kind = MF_SDP_AUDIO, .codec = MF_SDP_C_PCMU, .pt = 0, .ssrc = 2 },
	};
	static struct mf_sdp offer, back;
	static char answer[32768];
	struct mf_sdp_agreed ag[MF_SDP_MAX_MEDIA];
	struct mf_sdp_local l = {
		.ufrag = "fuzz", .pwd = "fuzzpassword0123456789", .addr = "10.0.0.1",
		.fingerprint = "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
			       "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF",
		.port = 5004, .cname = "fuzz", .nb_cap = 5, .cap = caps,
	};
	struct mf_sdp_err err;
	unsigned int i, j, role;
	int len;

	if (mf_sdp_parse((const char *)d, n, &offer, &err) != 0) {
		CHECK(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
		return;
	}
	CHECK(offer.nb_media <= MF_SDP_MAX_MEDIA && offer.nb_bundle <= MF_SDP_MAX_MEDIA);
	for (i = 0; i < offer.nb_bundle; i++)
		CHECK(offer.bundle[i] < offer.nb_media);
	for (i = 0; i < offer.nb_media; i++) {
		const struct mf_sdp_media *m = &offer.media[i];

		CHECK(m->nb_fmt <= MF_SDP_MAX_FMT && m->nb_ssrc <= MF_SDP_MAX_SSRC);
		for (j = 0; j < m->nb_fmt; j++)
			CHECK(m->fmt[j].pt < 128 && m->fmt[j].codec < MF_SDP_C_MAX &&
			      (size_t)m->fmt[j].fmtp_off + m->fmt[j].fmtp_len <= n);
	}
	for (role = MF_SDP_PUBLISH; role <= MF_SDP_SUBSCRIBE; role++) {
		l.role = role;
		len = mf_sdp_answer(&offer, &l, answer, sizeof(answer), ag, &err);
		if (len < 0)
			continue;
		CHECK((size_t)len < sizeof(answer) && answer[len] == '\0');
		CHECK(mf_sdp_parse(answer, (size_t)len, &back, &err) == 0);
		CHECK(back.nb_media == offer.nb_media && back.ice_lite);
		for (i = 0; i < offer.nb_media; i++)
			CHECK(ag[i].accepted ? back.media[i].port == 5004 &&
						       back.media[i].nb_fmt == 1 &&
						       back.media[i].fmt[0].pt == ag[i].pt :
					       back.media[i].port == 0);
	}
}
#endif

#ifdef MF_FUZZ_STUN
/* STUN from anyone: what the parser reports stays inside the message, and the checks run
 * over it (their hashes read up to the attributes) without a stray read. Every message
 * accepted is then answered as mfwd answers a check, and the answer must parse back whole:
 * the builder and the parser agree on padding, XOR and where the hashes end. */
static void
fuzz_stun(const uint8_t *d, size_t n)
{
	static const char key[] = "fuzzpassword0123456789";
	uint8_t out[128], addr[16];
	struct mf_stun_msg m;
	struct mf_stun s, a;
	uint8_t family;
	int len;

	if (mf_stun_parse(d, n, &s) != 0)
		return;
	CHECK(s.len <= n && s.len >= MF_STUN_HDR_LEN && s.len % 4 == 0);
	CHECK(s.username_off == 0 || (size_t)s.username_off + s.username_len <= s.len);
	CHECK(s.username_off == 0 || s.username_len < MF_STUN_USERNAME_MAX);
	CHECK(s.mi_off == 0 || (size_t)s.mi_off + 4 + MF_STUN_MI_LEN <= s.len);
	/* Only FINGERPRINT may follow MESSAGE-INTEGRITY: the two are adjacent, or MI is last. */
	CHECK(s.mi_off == 0 || (size_t)s.mi_off + 4 + MF_STUN_MI_LEN ==
				       (s.fp_off != 0 ? s.fp_off : s.len));
	CHECK(s.fp_off == 0 || (size_t)s.fp_off + 8 == s.len);
	CHECK((s.mi_off == 0 || s.mi_off >= MF_STUN_HDR_LEN) &&
	      (s.fp_off == 0 || s.fp_off >= MF_STUN_HDR_LEN));
	CHECK(!s.has_mapped || s.mapped_family == 4 || s.mapped_family == 6);
	CHECK(s.error_code == 0 || (s.error_code >= 300 && s.error_code <= 699));
	(void)mf_stun_integrity_ok(d, &s, key, sizeof(key) - 1);
	(void)mf_stun_fingerprint_ok(d, &s);
	(void)mf_stun_username_is(d, &s, "abcd", "efgh");

	family = s.txid[0] & 1 ? 6 : 4;
	memcpy(addr, d + 4, sizeof(addr));
	mf_stun_begin(&m, out, sizeof(out), MF_STUN_BINDING_SUCCESS, s.txid);
	mf_stun_add_xor_address(&m, family, addr, s.len);
	mf_stun_add_integrity(&m, key, sizeof(key) - 1);
	mf_stun_add_fingerprint(&m);
	len = mf_stun_end(&m);
	CHECK(len == MF_STUN_HDR_LEN + 4 + (family == 4 ? 8 : 20) + 24 + 8);
	CHECK(mf_stun_parse(out, (size_t)len, &a) == 0 && a.len == len);
	CHECK(memcmp(a.txid, s.txid, MF_STUN_TXID_LEN) == 0 && a.type == MF_STUN_BINDING_SUCCESS);
	CHECK(a.has_mapped && a.mapped_family == family && a.mapped_port == s.len &&
	      memcmp(a.mapped_addr, addr, family == 4 ? 4 : 16) == 0);
	CHECK(mf_stun_integrity_ok(out, &a, key, sizeof(key) - 1));
	CHECK(mf_stun_fingerprint_ok(out, &a));
}
#endif

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#if defined(MF_FUZZ_ETH)
	fuzz_eth(data, size);
#elif defined(MF_FUZZ_ARP)
	fuzz_arp(data, size);
#elif defined(MF_FUZZ_IPV4)
	fuzz_ip(data, size, 4);
#elif defined(MF_FUZZ_IPV6)
	fuzz_ip(data, size, 6);
#elif defined(MF_FUZZ_UDP)
	fuzz_udp(data, size);
#elif defined(MF_FUZZ_ICMP)
	fuzz_icmp(data, size);
#elif defined(MF_FUZZ_CHAIN)
	fuzz_chain(data, size);
#elif defined(MF_FUZZ_RTP)
	fuzz_rtp(data, size);
#elif defined(MF_FUZZ_RTCP)
	fuzz_rtcp(data, size);
#elif defined(MF_FUZZ_TS)
	fuzz_ts(data, size);
#elif defined(MF_FUZZ_DEMUX)
	fuzz_demux(data, size);
#elif defined(MF_FUZZ_KEYFRAME)
	fuzz_keyframe(data, size);
#elif defined(MF_FUZZ_SESSION)
	fuzz_session(data, size);
#elif defined(MF_FUZZ_CLUSTER)
	fuzz_cluster(data, size);
#elif defined(MF_FUZZ_SRTP)
	fuzz_srtp(data, size);
#elif defined(MF_FUZZ_STUN)
	fuzz_stun(data, size);
#elif defined(MF_FUZZ_SDP)
	fuzz_sdp(data, size);
#else
#error "define MF_FUZZ_<target>"
#endif
	return 0;
}
