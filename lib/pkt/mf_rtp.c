/* SPDX-License-Identifier: BSD-3-Clause */
/* RTP and RTCP parsers and RFC 7983 demultiplexing over untrusted bytes (see mf_rtp.h). */

#include <string.h>

#include "mf/mf_bytes.h"
#include "mf/mf_rtp.h"

int
mf_rtp_parse_hdr(const uint8_t *p, size_t len, struct mf_rtp *r)
{
	size_t off, ext;

	if (len < MF_RTP_HDR_LEN)
		return -MF_PKT_E_RTP_TRUNC;
	if (p[0] >> 6 != 2)
		return -MF_PKT_E_RTP_VERSION;
	r->has_padding = (p[0] & 0x20) != 0;
	r->has_ext = (p[0] & 0x10) != 0;
	r->cc = p[0] & 0x0f;
	r->marker = (p[1] & 0x80) != 0;
	r->pt = p[1] & 0x7f;
	r->seq = mf_rd16(p + 2);
	r->ts = mf_rd32(p + 4);
	r->ssrc = mf_rd32(p + 8);
	r->pad_len = 0;
	r->ext_profile = 0;
	r->ext_len = 0;
	off = MF_RTP_HDR_LEN + (size_t)r->cc * 4;
	if (off > len)
		return -MF_PKT_E_RTP_CSRC;
	if (r->has_ext) {
		if (off + 4 > len)
			return -MF_PKT_E_RTP_EXT;
		/* In size_t: 4 * 0x4000 words would wrap to 0 in 16 bits. */
		ext = (size_t)mf_rd16(p + off + 2) * 4;
		if (off + 4 + ext > len)
			return -MF_PKT_E_RTP_EXT;
		r->ext_profile = mf_rd16(p + off);
		r->ext_len = (uint16_t)ext;
		off += 4 + ext;
	}
	r->hdr_len = (uint16_t)off;
	r->payload_len = (uint16_t)(len - off);
	return 0;
}

int
mf_rtp_parse(const uint8_t *p, size_t len, struct mf_rtp *r)
{
	int rc = mf_rtp_parse_hdr(p, len, r);

	if (rc != 0 || !r->has_padding)
		return rc;
	/* The last byte counts the padding, itself included. */
	if (r->payload_len == 0 || p[len - 1] == 0 || p[len - 1] > r->payload_len)
		return -MF_PKT_E_RTP_PADDING;
	r->pad_len = p[len - 1];
	r->payload_len = (uint16_t)(r->payload_len - r->pad_len);
	return 0;
}

/* SDES: chunks of an SSRC and items, each chunk ended by a null item and padded to 32 bits. */
static int
sdes_ok(const uint8_t *p, size_t len, unsigned int sc)
{
	size_t off = 0;
	unsigned int i;

	for (i = 0; i < sc; i++) {
		off += 4;		/* SSRC/CSRC */
		for (;;) {
			if (off >= len)
				return -MF_PKT_E_RTCP_BODY;
			if (p[off] == 0)
				break;
			if (off + 2 > len || off + 2 + p[off + 1] > len)
				return -MF_PKT_E_RTCP_BODY;
			off += 2 + (size_t)p[off + 1];
		}
		off = (off + 4) & ~(size_t)3;	/* the null item, then to the next word */
		if (off > len)
			return -MF_PKT_E_RTCP_BODY;
	}
	return 0;
}

/* Does the body of one packet fit its type? @p len excludes padding. */
static int
body_ok(const uint8_t *p, size_t len, uint8_t pt, unsigned int count)
{
	switch (pt) {
	case MF_RTCP_SR:
		return len >= 28 + 24 * (size_t)count ? 0 : -MF_PKT_E_RTCP_BODY;
	case MF_RTCP_RR:
		return len >= 8 + 24 * (size_t)count ? 0 : -MF_PKT_E_RTCP_BODY;
	case MF_RTCP_SDES:
		return sdes_ok(p + 4, len - 4, count);
	case MF_RTCP_BYE: {
		size_t off = 4 + 4 * (size_t)count;

		if (off > len)
			return -MF_PKT_E_RTCP_BODY;
		if (off < len && off + 1 + p[off] > len)	/* reason for leaving */
			return -MF_PKT_E_RTCP_BODY;
		return 0;
	}
	case MF_RTCP_APP:
	case MF_RTCP_RTPFB:
	case MF_RTCP_PSFB:
		return len >= 12 ? 0 : -MF_PKT_E_RTCP_BODY;
	default:
		return 0;
	}
}

static void
note_sr(const uint8_t *p, struct mf_rtcp *c)
{
	if (c->has_sr)
		return;
	c->has_sr = true;
	c->sr_ntp = (uint64_t)mf_rd32(p + 8) << 32 | mf_rd32(p + 12);
	c->sr_rtp_ts = mf_rd32(p + 16);
	c->sr_pkts = mf_rd32(p + 20);
	c->sr_octets = mf_rd32(p + 24);
}

int
mf_rtcp_parse(const uint8_t *p, size_t len, struct mf_rtcp *c)
{
	size_t off = 0;
	int rc;

	c->nb = 0;
	c->types_seen = 0;
	c->has_sr = false;
	if (len < 4)
		return -MF_PKT_E_RTCP_TRUNC;
	while (off < len) {
		const uint8_t *h = p + off;
		struct mf_rtcp_pkt *k;
		size_t plen, body;

		if (len - off < 4)
			return -MF_PKT_E_RTCP_TRUNC;
		if (h[0] >> 6 != 2)
			return -MF_PKT_E_RTCP_VERSION;
		if (h[1] < 192 || h[1] > 223)
			return -MF_PKT_E_RTCP_PT;
		plen = ((size_t)mf_rd16(h + 2) + 1) * 4;
		if (plen > len - off)
			return -MF_PKT_E_RTCP_LEN;
		body = plen;
		if (h[0] & 0x20) {
			/* Only the last packet of a compound may be padded. */
			if (off + plen != len || h[plen - 1] == 0 || h[plen - 1] > plen - 4)
				return -MF_PKT_E_RTCP_PADDING;
			body -= h[plen - 1];
		}
		rc = body_ok(h, body, h[1], h[0] & 0x1f);
		if (rc != 0)
			return rc;
		if (c->nb == MF_RTCP_MAX_PKTS)
			return -MF_PKT_E_RTCP_TOO_MANY;
		k = &c->pkts[c->nb++];
		k->pt = h[1];
		k->count = h[0] & 0x1f;
		k->off = (uint16_t)off;
		k->len = (uint16_t)plen;
		k->ssrc = body >= 8 ? mf_rd32(h + 4) : 0;
		c->types_seen |= 1u << (h[1] - 192);
		if (h[1] == MF_RTCP_SR)
			note_sr(h, c);
		off += plen;
	}
	return 0;
}

/* The FCI of a PLI is empty; of a NACK, 4-byte words; of a FIR, 8-byte entries. */
static int
fb_fci(struct mf_rtcp_fb *fb, size_t fci_len, size_t unit)
{
	if (fci_len % unit != 0 || fci_len / unit > UINT16_MAX || (unit > 0 && fci_len == 0))
		return -MF_PKT_E_RTCP_BODY;
	fb->nb = (uint16_t)(fci_len / unit);
	return 0;
}

/* REMB (draft-alvestrand-rmcat-remb): "REMB", number of SSRCs, a 6-bit exponent and an
 * 18-bit mantissa, then the SSRCs. */
static int
fb_remb(const uint8_t *h, size_t len, struct mf_rtcp_fb *fb)
{
	const uint8_t *f = h + 12;
	unsigned int exp;
	uint64_t mant;

	if (len < 20 || memcmp(f, "REMB", 4) != 0)
		return 0;		/* another application-layer message: not ours to read */
	if (20 + 4 * (size_t)f[4] > len)
		return -MF_PKT_E_RTCP_BODY;
	fb->kind = MF_RTCP_FB_REMB;
	fb->nb = f[4];
	mant = (uint64_t)((f[5] & 0x03) << 16 | f[6] << 8 | f[7]);
	exp = f[5] >> 2;
	/* Up to 2^81 bit/s: what does not fit 64 bits is no limit, not a wrapped small one. */
	fb->remb_bps = exp > 46 && (mant >> (64 - exp)) != 0 ? UINT64_MAX : mant << exp;
	return 0;
}

int
mf_rtcp_fb_parse(const uint8_t *compound, const struct mf_rtcp_pkt *k, struct mf_rtcp_fb *fb)
{
	const uint8_t *h = compound + k->off;
	size_t len = k->len;

	memset(fb, 0, sizeof(*fb));
	if ((k->pt != MF_RTCP_RTPFB && k->pt != MF_RTCP_PSFB) || len < 12)
		return 0;
	if (h[0] & 0x20)		/* padded: the FCI ends before the padding */
		len -= h[len - 1];
	if (len < 12)
		return -MF_PKT_E_RTCP_BODY;
	fb->sender_ssrc = mf_rd32(h + 4);
	fb->media_ssrc = mf_rd32(h + 8);
	fb->fci_off = 12;
	if (k->pt == MF_RTCP_RTPFB && k->count == 1) {
		fb->kind = MF_RTCP_FB_NACK;
		return fb_fci(fb, len - 12, 4);
	}
	if (k->pt != MF_RTCP_PSFB)
		return 0;
	switch (k->count) {
	case 1:
		fb->kind = MF_RTCP_FB_PLI;
		return 0;
	case 4:
		fb->kind = MF_RTCP_FB_FIR;
		return fb_fci(fb, len - 12, 8);
	case 15:
		return fb_remb(h, len, fb);
	default:
		return 0;
	}
}

int
mf_demux_classify(const uint8_t *p, size_t len)
{
	uint8_t b;

	if (len < 1)
		return -MF_PKT_E_DEMUX_EMPTY;
	b = p[0];
	if (b <= 3)
		return MF_DEMUX_STUN;
	if (b >= 16 && b <= 19)
		return MF_DEMUX_ZRTP;
	if (b >= 20 && b <= 63)
		return MF_DEMUX_DTLS;
	if (b >= 64 && b <= 79)
		return MF_DEMUX_TURN;
	if (b >= 128 && b <= 191) {
		if (len < 2)
			return -MF_PKT_E_DEMUX_EMPTY;
		/* RFC 5761: RTCP packet types 192-223 collide with RTP PT 64-95 with marker set. */
		return p[1] >= 192 && p[1] <= 223 ? MF_DEMUX_RTCP : MF_DEMUX_RTP;
	}
	return MF_DEMUX_UNKNOWN;
}
