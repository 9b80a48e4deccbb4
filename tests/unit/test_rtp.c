/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the RTP and RTCP parsers and RFC 7983 demultiplexing. */

#include <stdint.h>

#include "mf/mf_rtp.h"
#include "mf_pktbuild.h"
#include "mf_test.h"

/* RTP with two CSRCs, a one-byte header extension of 2 words and 4 bytes of padding. */
static size_t
rtp_full(uint8_t *p)
{
	size_t n = 0;

	p[n++] = 0x80 | 0x20 | 0x10 | 2;
	p[n++] = 0x80 | 96;
	pb_w16(p + n, 1000);
	n += 2;
	pb_w32(p + n, 90000);
	n += 4;
	pb_w32(p + n, 0x11223344);
	n += 4;
	pb_w32(p + n, 0xaaaa0001);
	n += 4;
	pb_w32(p + n, 0xaaaa0002);
	n += 4;
	pb_w16(p + n, 0xbede);
	pb_w16(p + n + 2, 2);
	n += 4;
	memset(p + n, 0x11, 8);
	n += 8;
	memset(p + n, 0x55, 20);	/* payload */
	n += 20;
	memset(p + n, 0, 3);
	p[n + 3] = 4;
	return n + 4;
}

static int
test_rtp_valid(void)
{
	uint8_t p[128];
	struct mf_rtp r;
	size_t len = rtp_full(p);
	int rc = 0;

	MF_TEST_EQ(mf_rtp_parse(p, len, &r), 0);
	MF_TEST_EQ(r.pt, 96);
	MF_TEST_ASSERT(r.marker, "marker bit");
	MF_TEST_EQ(r.cc, 2);
	MF_TEST_EQ(r.seq, 1000);
	MF_TEST_EQ(r.ts, 90000);
	MF_TEST_EQ(r.ssrc, 0x11223344);
	MF_TEST_EQ(r.ext_profile, 0xbede);
	MF_TEST_EQ(r.ext_len, 8);
	MF_TEST_EQ(r.hdr_len, 12 + 8 + 4 + 8);
	MF_TEST_EQ(r.pad_len, 4);
	MF_TEST_EQ(r.payload_len, 20);
	/* The header-only parse leaves the (possibly encrypted) padding alone. */
	MF_TEST_EQ(mf_rtp_parse_hdr(p, len, &r), 0);
	MF_TEST_EQ(r.payload_len, 24);
	MF_TEST_EQ(r.pad_len, 0);
	len = pb_rtp(p, 0, 7, 160, 1, 0);
	MF_TEST_EQ(mf_rtp_parse(p, len, &r), 0);
	MF_TEST_EQ(r.payload_len, 0);
out:
	return rc;
}

static int
test_rtp_malformed(void)
{
	uint8_t p[128];
	struct mf_rtp r;
	unsigned char *d = NULL;
	size_t len = rtp_full(p), n;
	int rc = 0, e;

	/* Every cut inside the header fails with the reason of the part cut. */
	for (n = 0; n < 32; n++) {
		d = mf_test_dup(p, n);
		e = mf_rtp_parse_hdr(d, n, &r);
		MF_TEST_EQ(e, n < 12 ? -MF_PKT_E_RTP_TRUNC : n < 20 ? -MF_PKT_E_RTP_CSRC
								  : -MF_PKT_E_RTP_EXT);
		free(d);
		d = NULL;
	}
	/* Cuts in the payload lose the padding byte; what is left may be padding that lies. */
	for (n = 32; n <= len; n++) {
		d = mf_test_dup(p, n);
		e = mf_rtp_parse(d, n, &r);
		MF_TEST_ASSERT(e == 0 || e == -MF_PKT_E_RTP_PADDING, "cut at %zu: %d", n, e);
		if (e == 0)
			MF_TEST_EQ((size_t)r.hdr_len + r.payload_len + r.pad_len, n);
		free(d);
		d = NULL;
	}
	p[len - 1] = 0;
	MF_TEST_EQ(mf_rtp_parse(p, len, &r), -MF_PKT_E_RTP_PADDING);
	p[len - 1] = 25;	/* more than the 24 bytes after the header */
	MF_TEST_EQ(mf_rtp_parse(p, len, &r), -MF_PKT_E_RTP_PADDING);
	p[len - 1] = 24;
	MF_TEST_EQ(mf_rtp_parse(p, len, &r), 0);
	MF_TEST_EQ(r.payload_len, 0);
	/* An extension length of 4 * (0x4000 + n) bytes is no length of 4n (16-bit wrap). */
	pb_w16(p + 22, (uint16_t)(0x4000 + (p[22] << 8 | p[23])));
	MF_TEST_EQ(mf_rtp_parse(p, len, &r), -MF_PKT_E_RTP_EXT);
	pb_w16(p + 22, 100);	/* extension length lies */
	MF_TEST_EQ(mf_rtp_parse(p, len, &r), -MF_PKT_E_RTP_EXT);
	p[0] = (p[0] & 0x3f) | 0x40;	/* version 1 */
	MF_TEST_EQ(mf_rtp_parse(p, len, &r), -MF_PKT_E_RTP_VERSION);
	p[0] = 0x8f;	/* 15 CSRCs */
	MF_TEST_EQ(mf_rtp_parse(p, 40, &r), -MF_PKT_E_RTP_CSRC);
out:
	free(d);
	return rc;
}

/* SR with one report block, SDES with CNAME, BYE with a reason, then padded APP. */
static size_t
rtcp_compound(uint8_t *p)
{
	size_t n = 0;

	p[n] = 0x81;
	p[n + 1] = MF_RTCP_SR;
	pb_w16(p + n + 2, 12);	/* 52 bytes */
	pb_w32(p + n + 4, 0x11223344);
	pb_w32(p + n + 8, 0xe0000000);
	pb_w32(p + n + 12, 0x80000000);
	pb_w32(p + n + 16, 90000);
	pb_w32(p + n + 20, 50);
	pb_w32(p + n + 24, 8000);
	memset(p + n + 28, 0x22, 24);
	n += 52;
	p[n] = 0x81;
	p[n + 1] = MF_RTCP_SDES;
	pb_w16(p + n + 2, 3);	/* 16 bytes: SSRC, CNAME "abcd", END + pad */
	pb_w32(p + n + 4, 0x11223344);
	p[n + 8] = 1;
	p[n + 9] = 4;
	memcpy(p + n + 10, "abcd", 4);
	p[n + 14] = 0;
	p[n + 15] = 0;
	n += 16;
	p[n] = 0x81;
	p[n + 1] = MF_RTCP_BYE;
	pb_w16(p + n + 2, 2);	/* 12 bytes: SSRC, reason "bye" */
	pb_w32(p + n + 4, 0x11223344);
	p[n + 8] = 3;
	memcpy(p + n + 9, "bye", 3);
	n += 12;
	p[n] = 0x80 | 0x20 | 1;	/* APP subtype 1, padded by 4 */
	p[n + 1] = MF_RTCP_APP;
	pb_w16(p + n + 2, 3);
	pb_w32(p + n + 4, 0x11223344);
	memcpy(p + n + 8, "MFWD", 4);
	memset(p + n + 12, 0, 3);
	p[n + 15] = 4;
	return n + 16;
}

static int
test_rtcp_valid(void)
{
	uint8_t p[256], fb[12];
	struct mf_rtcp c;
	size_t len = rtcp_compound(p);
	int rc = 0;

	MF_TEST_EQ(mf_rtcp_parse(p, len, &c), 0);
	MF_TEST_EQ(c.nb, 4);
	MF_TEST_EQ(c.pkts[0].pt, MF_RTCP_SR);
	MF_TEST_EQ(c.pkts[0].count, 1);
	MF_TEST_EQ(c.pkts[1].off, 52);
	MF_TEST_EQ(c.pkts[2].pt, MF_RTCP_BYE);
	MF_TEST_EQ(c.pkts[3].len, 16);
	MF_TEST_EQ(c.pkts[3].ssrc, 0x11223344);
	MF_TEST_ASSERT(c.has_sr, "SR sender info");
	MF_TEST_EQ(c.sr_rtp_ts, 90000);
	MF_TEST_EQ(c.sr_pkts, 50);
	MF_TEST_EQ(c.sr_octets, 8000);
	MF_TEST_EQ(c.sr_ntp >> 32, 0xe0000000u);
	MF_TEST_EQ(c.types_seen, (1u << 8) | (1u << 10) | (1u << 11) | (1u << 12));

	/* Reduced-size RTCP (RFC 5506): a lone PLI (PSFB FMT 1) and a lone NACK (RTPFB 1). */
	fb[0] = 0x81;
	fb[1] = MF_RTCP_PSFB;
	pb_w16(fb + 2, 2);
	pb_w32(fb + 4, 1);
	pb_w32(fb + 8, 2);
	MF_TEST_EQ(mf_rtcp_parse(fb, sizeof(fb), &c), 0);
	MF_TEST_EQ(c.pkts[0].count, 1);
	fb[1] = MF_RTCP_RTPFB;
	MF_TEST_EQ(mf_rtcp_parse(fb, sizeof(fb), &c), 0);
	/* An empty RR, the smallest legal report. */
	fb[0] = 0x80;
	fb[1] = MF_RTCP_RR;
	pb_w16(fb + 2, 1);
	MF_TEST_EQ(mf_rtcp_parse(fb, 8, &c), 0);
out:
	return rc;
}

static int
test_rtcp_malformed(void)
{
	uint8_t p[256], q[256];
	struct mf_rtcp c;
	unsigned char *d = NULL;
	size_t len = rtcp_compound(p), n;
	int rc = 0, e;

	/* Truncation: valid only on a packet boundary (a shorter compound). */
	for (n = 0; n < len; n++) {
		d = mf_test_dup(p, n);
		e = mf_rtcp_parse(d, n, &c);
		if (n == 52 || n == 68 || n == 80)
			MF_TEST_EQ(e, 0);
		else
			MF_TEST_ASSERT(e < 0, "cut at %zu parsed", n);
		free(d);
		d = NULL;
	}
	memcpy(q, p, len);
	pb_w16(q + 2, 200);	/* SR length beyond the compound */
	MF_TEST_EQ(mf_rtcp_parse(q, len, &c), -MF_PKT_E_RTCP_LEN);
	memcpy(q, p, len);
	q[0] = 0x85;		/* SR claims 5 report blocks in 52 bytes */
	MF_TEST_EQ(mf_rtcp_parse(q, len, &c), -MF_PKT_E_RTCP_BODY);
	memcpy(q, p, len);
	q[52 + 9] = 40;		/* SDES item longer than the chunk */
	MF_TEST_EQ(mf_rtcp_parse(q, len, &c), -MF_PKT_E_RTCP_BODY);
	memcpy(q, p, len);
	q[52] = 0x83;		/* SDES claims 3 chunks */
	MF_TEST_EQ(mf_rtcp_parse(q, len, &c), -MF_PKT_E_RTCP_BODY);
	memcpy(q, p, len);
	q[68 + 8] = 10;		/* BYE reason longer than the packet */
	MF_TEST_EQ(mf_rtcp_parse(q, len, &c), -MF_PKT_E_RTCP_BODY);
	memcpy(q, p, len);
	q[0] |= 0x20;		/* padding on the first packet of a compound */
	MF_TEST_EQ(mf_rtcp_parse(q, len, &c), -MF_PKT_E_RTCP_PADDING);
	memcpy(q, p, len);
	q[len - 1] = 13;	/* padding count beyond the packet body */
	MF_TEST_EQ(mf_rtcp_parse(q, len, &c), -MF_PKT_E_RTCP_PADDING);
	q[len - 1] = 0;
	MF_TEST_EQ(mf_rtcp_parse(q, len, &c), -MF_PKT_E_RTCP_PADDING);
	memcpy(q, p, len);
	q[1] = 72;		/* RTP PT 72 with marker: outside 192-223 once the bit is gone */
	MF_TEST_EQ(mf_rtcp_parse(q, len, &c), -MF_PKT_E_RTCP_PT);
	memcpy(q, p, len);
	q[0] = 0x41;
	MF_TEST_EQ(mf_rtcp_parse(q, len, &c), -MF_PKT_E_RTCP_VERSION);
	/* More packets than we keep: 17 empty RRs. */
	for (n = 0; n < 17; n++) {
		q[n * 8] = 0x80;
		q[n * 8 + 1] = MF_RTCP_RR;
		pb_w16(q + n * 8 + 2, 1);
		pb_w32(q + n * 8 + 4, (uint32_t)n);
	}
	MF_TEST_EQ(mf_rtcp_parse(q, 16 * 8, &c), 0);
	MF_TEST_EQ(mf_rtcp_parse(q, 17 * 8, &c), -MF_PKT_E_RTCP_TOO_MANY);
out:
	free(d);
	return rc;
}

static int
test_demux(void)
{
	uint8_t b[2] = { 0, 0 };
	int rc = 0;

	MF_TEST_EQ(mf_demux_classify(b, 0), -MF_PKT_E_DEMUX_EMPTY);
	b[0] = 0x00;
	MF_TEST_EQ(mf_demux_classify(b, 1), MF_DEMUX_STUN);
	b[0] = 0x01;
	MF_TEST_EQ(mf_demux_classify(b, 2), MF_DEMUX_STUN);
	b[0] = 17;
	MF_TEST_EQ(mf_demux_classify(b, 2), MF_DEMUX_ZRTP);
	b[0] = 22;	/* DTLS handshake */
	MF_TEST_EQ(mf_demux_classify(b, 2), MF_DEMUX_DTLS);
	b[0] = 64;
	MF_TEST_EQ(mf_demux_classify(b, 2), MF_DEMUX_TURN);
	b[0] = 0x80;
	b[1] = 96;
	MF_TEST_EQ(mf_demux_classify(b, 2), MF_DEMUX_RTP);
	b[1] = 0x80 | 111;	/* marker + PT 111 = 239: RTP */
	MF_TEST_EQ(mf_demux_classify(b, 2), MF_DEMUX_RTP);
	b[1] = 200;
	MF_TEST_EQ(mf_demux_classify(b, 2), MF_DEMUX_RTCP);
	b[1] = 223;
	MF_TEST_EQ(mf_demux_classify(b, 2), MF_DEMUX_RTCP);
	MF_TEST_EQ(mf_demux_classify(b, 1), -MF_PKT_E_DEMUX_EMPTY);
	b[0] = 0xff;
	MF_TEST_EQ(mf_demux_classify(b, 2), MF_DEMUX_UNKNOWN);
	b[0] = 100;
	MF_TEST_EQ(mf_demux_classify(b, 2), MF_DEMUX_UNKNOWN);
out:
	return rc;
}

/* Feedback: PLI, FIR, NACK and REMB read; FCIs that are not whole entries refused. */
static int
test_rtcp_fb(void)
{
	uint8_t c[] = {
		0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2,			/* PLI */
		0x84, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 7, 0, 0, 0,	/* FIR */
		0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0x03, 0xe8, 0x00, 0x05,	/* NACK */
		0x8f, 206, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0, 'R', 'E', 'M', 'B',
		1, 0x0a, 0x00, 0x01, 0, 0, 0, 2,				/* REMB */
	};
	struct mf_rtcp r;
	struct mf_rtcp_fb fb;
	int rc = 0;

	MF_TEST_EQ(mf_rtcp_parse(c, sizeof(c), &r), 0);
	MF_TEST_EQ(r.nb, 4);
	MF_TEST_EQ(mf_rtcp_fb_parse(c, &r.pkts[0], &fb), 0);
	MF_TEST_EQ(fb.kind, MF_RTCP_FB_PLI);
	MF_TEST_EQ(fb.media_ssrc, 2);
	MF_TEST_EQ(mf_rtcp_fb_parse(c, &r.pkts[1], &fb), 0);
	MF_TEST_EQ(fb.kind, MF_RTCP_FB_FIR);
	MF_TEST_EQ(fb.nb, 1);
	MF_TEST_EQ(mf_rtcp_fb_parse(c, &r.pkts[2], &fb), 0);
	MF_TEST_EQ(fb.kind, MF_RTCP_FB_NACK);
	MF_TEST_EQ(fb.nb, 1);
	MF_TEST_EQ(mf_rtcp_fb_parse(c, &r.pkts[3], &fb), 0);
	MF_TEST_EQ(fb.kind, MF_RTCP_FB_REMB);
	MF_TEST_EQ(fb.remb_bps, (uint64_t)((0x0a & 3) << 16 | 1) << (0x0a >> 2));
	/* Exponents past 64 bits: no limit, not the low bits of a wrapped number. */
	c[65] = 47 << 2 | 2;				/* 2^17 + 1 << 47: 2^64 + 2^47 */
	MF_TEST_EQ(mf_rtcp_fb_parse(c, &r.pkts[3], &fb), 0);
	MF_TEST_EQ(fb.remb_bps, UINT64_MAX);
	c[65] = 46 << 2 | 3;				/* 0x30001 << 46: fits */
	MF_TEST_EQ(mf_rtcp_fb_parse(c, &r.pkts[3], &fb), 0);
	MF_TEST_EQ(fb.remb_bps, UINT64_C(0x30001) << 46);
	c[65] = 63 << 2;				/* 1 << 63 */
	MF_TEST_EQ(mf_rtcp_fb_parse(c, &r.pkts[3], &fb), 0);
	MF_TEST_EQ(fb.remb_bps, UINT64_C(1) << 63);
	/* A FIR whose FCI is 4 bytes, not 8: its length says one word too few. */
	c[15] = 3;
	r.pkts[1].len = 16;
	MF_TEST_EQ(mf_rtcp_fb_parse(c, &r.pkts[1], &fb), -MF_PKT_E_RTCP_BODY);
	/* A REMB that claims 5 SSRCs in room for 1. */
	c[64] = 5;
	MF_TEST_EQ(mf_rtcp_fb_parse(c, &r.pkts[3], &fb), -MF_PKT_E_RTCP_BODY);
	/* A NACK with no entry. */
	r.pkts[2].len = 12;
	MF_TEST_EQ(mf_rtcp_fb_parse(c, &r.pkts[2], &fb), -MF_PKT_E_RTCP_BODY);
	/* Not feedback: nothing to read, no error. */
	MF_TEST_EQ(mf_rtcp_fb_parse(c, &(struct mf_rtcp_pkt){ .pt = MF_RTCP_SR, .len = 28 }, &fb), 0);
	MF_TEST_EQ(fb.kind, MF_RTCP_FB_OTHER);
out:
	return rc;
}

static const struct mf_test_case cases[] = {
	{ "rtp_valid", test_rtp_valid },
	{ "rtp_malformed", test_rtp_malformed },
	{ "rtcp_valid", test_rtcp_valid },
	{ "rtcp_malformed", test_rtcp_malformed },
	{ "demux", test_demux },
	{ "rtcp_fb", test_rtcp_fb },
};

MF_TEST_MAIN("rtp", cases)
