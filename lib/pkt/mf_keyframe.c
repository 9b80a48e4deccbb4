/* SPDX-License-Identifier: BSD-3-Clause */
/* Key-frame classifier over untrusted bytes (see mf_keyframe.h). */

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "mf/mf_bytes.h"
#include "mf/mf_keyframe.h"
#include "mf/mf_ts.h"

static const char *const codec_names[MF_CODEC_MAX] = {
	[MF_CODEC_H264] = "h264",
	[MF_CODEC_H265] = "h265",
	[MF_CODEC_H265_DONL] = "h265-donl",
	[MF_CODEC_VP8] = "vp8",
	[MF_CODEC_VP9] = "vp9",
	[MF_CODEC_AV1] = "av1",
};

const char *
mf_codec_str(unsigned int codec)
{
	return codec < MF_CODEC_MAX ? codec_names[codec] : NULL;
}

unsigned int
mf_codec_parse(const char *name)
{
	unsigned int i;

	for (i = 1; i < MF_CODEC_MAX; i++)
		if (strcmp(name, codec_names[i]) == 0)
			return i;
	return MF_CODEC_NONE;
}

/* ---- H.264 (RFC 6184) ---- */

enum { H264_IDR = 5, H264_SPS = 7, H264_STAP_A = 24, H264_STAP_B, H264_MTAP16, H264_MTAP24,
       H264_FU_A, H264_FU_B };

static inline bool
h264_key_nal(uint8_t type)
{
	return type == H264_IDR || type == H264_SPS;
}

/* Aggregation units from @p off: [size16][skip bytes][NAL of size bytes], repeated. A unit
 * that does not fit makes the whole packet unknown: a lying length is not a key frame. */
static int
h264_units(const uint8_t *p, size_t len, size_t off, size_t skip)
{
	int kf = MF_KF_NO;

	if (off >= len)
		return MF_KF_UNKNOWN;
	while (off < len) {
		size_t n;

		if (len - off < 2 + skip)
			return MF_KF_UNKNOWN;
		n = mf_rd16(p + off);
		off += 2 + skip;
		if (n == 0 || n > len - off)
			return MF_KF_UNKNOWN;
		if (h264_key_nal(p[off] & 0x1f))
			kf = MF_KF_START;
		off += n;
	}
	return kf;
}

static int
kf_h264(const uint8_t *p, size_t len)
{
	uint8_t type;

	if (len < 1)
		return MF_KF_UNKNOWN;
	type = p[0] & 0x1f;
	if (type >= 1 && type <= 23)
		return h264_key_nal(type) ? MF_KF_START : MF_KF_NO;
	switch (type) {
	case H264_STAP_A:
		return h264_units(p, len, 1, 0);
	case H264_STAP_B:
		return h264_units(p, len, 3, 0);	/* after the DON */
	case H264_MTAP16:
		return h264_units(p, len, 3, 3);	/* DONB; per unit DOND and TS offset */
	case H264_MTAP24:
		return h264_units(p, len, 3, 4);
	case H264_FU_A:
	case H264_FU_B:
		if (len < 2 || (type == H264_FU_B && len < 4))
			return MF_KF_UNKNOWN;
		/* FU header: S E R type; only the first fragment starts anything. */
		return (p[1] & 0x80) && h264_key_nal(p[1] & 0x1f) ? MF_KF_START : MF_KF_NO;
	default:
		return MF_KF_UNKNOWN;	/* 0, 30, 31: undefined */
	}
}

/* ---- H.265 (RFC 7798) ---- */

enum { H265_VPS = 32, H265_AP = 48, H265_FU = 49, H265_PACI = 50 };

/* IRAP pictures (BLA, IDR, CRA: 16-21) of the base layer, and the VPS. */
static inline bool
h265_key_nal(const uint8_t *hdr)
{
	uint8_t type = (hdr[0] >> 1) & 0x3f;
	uint8_t layer = (uint8_t)((hdr[0] & 1) << 5 | hdr[1] >> 3);

	return layer == 0 && ((type >= 16 && type <= 21) || type == H265_VPS);
}

static int
h265_ap(const uint8_t *p, size_t len, bool donl)
{
	size_t off = 2 + (donl ? 2 : 0);
	int kf = MF_KF_NO;
	bool first = true;

	if (off >= len)
		return MF_KF_UNKNOWN;
	while (off < len) {
		size_t n, skip = donl && !first ? 1 : 0;	/* DOND after the first unit */

		if (len - off < 2 + skip)
			return MF_KF_UNKNOWN;
		off += skip;
		n = mf_rd16(p + off);
		off += 2;
		if (n < 2 || n > len - off)
			return MF_KF_UNKNOWN;
		if (h265_key_nal(p + off))
			kf = MF_KF_START;
		off += n;
		first = false;
	}
	return kf;
}

static int
kf_h265(const uint8_t *p, size_t len, bool donl)
{
	uint8_t type, fu_hdr[2];

	if (len < 2)
		return MF_KF_UNKNOWN;
	type = (p[0] >> 1) & 0x3f;
	if (type < H265_AP)
		return h265_key_nal(p) ? MF_KF_START : MF_KF_NO;
	if (type == H265_AP)
		return h265_ap(p, len, donl);
	if (type != H265_FU)
		return MF_KF_UNKNOWN;	/* PACI and undefined types */
	if (len < 3)
		return MF_KF_UNKNOWN;
	if (!(p[2] & 0x80))
		return MF_KF_NO;
	if (donl && len < 5)
		return MF_KF_UNKNOWN;
	/* The fragmented unit's header: its type from the FU header, its layer from ours. */
	fu_hdr[0] = (uint8_t)((p[0] & 0x81) | (p[2] & 0x3f) << 1);
	fu_hdr[1] = p[1];
	return h265_key_nal(fu_hdr) ? MF_KF_START : MF_KF_NO;
}

/* ---- VP8 (RFC 7741) ---- */

static int
kf_vp8(const uint8_t *p, size_t len)
{
	size_t off = 1;

	if (len < 1)
		return MF_KF_UNKNOWN;
	if (p[0] & 0x80) {		/* X: extended control bits */
		uint8_t x;

		if (len < 2)
			return MF_KF_UNKNOWN;
		x = p[1];
		off = 2;
		if (x & 0x80)		/* I: picture ID, 7 or 15 bits by its M bit */
			off += off < len && (p[off] & 0x80) ? 2 : 1;
		if (x & 0x40)		/* L: TL0PICIDX */
			off++;
		if (x & 0x30)		/* T or K: TID/Y/KEYIDX */
			off++;
	}
	/* S (start of a partition) with partition index 0: the frame's first packet. */
	if ((p[0] & 0x10) == 0 || (p[0] & 0x07) != 0)
		return off <= len ? MF_KF_NO : MF_KF_UNKNOWN;
	if (off + 3 > len)
		return MF_KF_UNKNOWN;
	if (p[off] & 0x01)		/* frame tag P bit: 1 is an interframe */
		return MF_KF_NO;
	/* A key frame's tag is followed by the start code 9d 01 2a. */
	if (off + 6 > len || p[off + 3] != 0x9d || p[off + 4] != 0x01 || p[off + 5] != 0x2a)
		return MF_KF_UNKNOWN;
	return MF_KF_START;
}

/* ---- VP9 (RFC 9628) ---- */

struct bits {
	const uint8_t *p;
	size_t len;		/* bytes */
	size_t pos;		/* bits read */
};

/* Up to 8 bits, MSB first; -1 past the end. */
static int
bits_get(struct bits *b, unsigned int n)
{
	int v = 0;

	if (b->pos + n > b->len * 8)
		return -1;
	while (n-- > 0) {
		v = v << 1 | ((b->p[b->pos >> 3] >> (7 - (b->pos & 7))) & 1);
		b->pos++;
	}
	return v;
}

/* The uncompressed header (VP9 bitstream spec 6.2): KEY_FRAME with its sync code? */
static int
vp9_header_key(const uint8_t *p, size_t len)
{
	struct bits b = { p, len, 0 };
	int lo, hi, v;

	if (bits_get(&b, 2) != 2)		/* frame_marker */
		return MF_KF_UNKNOWN;
	lo = bits_get(&b, 1);
	hi = bits_get(&b, 1);
	if (lo < 0 || hi < 0 || (hi == 1 && lo == 1 && bits_get(&b, 1) != 0))
		return MF_KF_UNKNOWN;		/* profile 3 has a reserved zero bit */
	v = bits_get(&b, 1);			/* show_existing_frame */
	if (v != 0)
		return v < 0 ? MF_KF_UNKNOWN : MF_KF_NO;
	v = bits_get(&b, 1);			/* frame_type: 0 KEY_FRAME */
	if (v != 0)
		return v < 0 ? MF_KF_UNKNOWN : MF_KF_NO;
	if (bits_get(&b, 2) < 0)		/* show_frame, error_resilient_mode */
		return MF_KF_UNKNOWN;
	if (bits_get(&b, 8) != 0x49 || bits_get(&b, 8) != 0x83 || bits_get(&b, 8) != 0x42)
		return MF_KF_UNKNOWN;
	return MF_KF_START;
}

/* The scalability structure (V): its length, or 0 when it does not fit. */
static size_t
vp9_ss_len(const uint8_t *p, size_t len, size_t off)
{
	size_t start = off, ng, i;
	uint8_t h;

	if (off >= len)
		return 0;
	h = p[off++];
	if (h & 0x10)			/* Y: a width and height per spatial layer */
		off += 4 * (size_t)((h >> 5) + 1);
	if (h & 0x08) {			/* G: the picture group */
		if (off >= len)
			return 0;
		ng = p[off++];
		for (i = 0; i < ng; i++) {
			if (off >= len)
				return 0;
			off += 1 + (size_t)((p[off] >> 2) & 3);	/* R reference indices */
		}
	}
	return off <= len ? off - start : 0;
}

static int
kf_vp9(const uint8_t *p, size_t len)
{
	size_t off = 1, ss;
	uint8_t d;
	int sid = 0, i;

	if (len < 1)
		return MF_KF_UNKNOWN;
	d = p[0];			/* I P L F B E V Z */
	if (d & 0x80)			/* picture ID, 7 or 15 bits */
		off += off < len && (p[off] & 0x80) ? 2 : 1;
	if (d & 0x20) {			/* L: TID U SID D, and TL0PICIDX when not flexible */
		if (off >= len)
			return MF_KF_UNKNOWN;
		sid = (p[off] >> 1) & 7;
		off += (d & 0x10) ? 1 : 2;
	}
	if ((d & 0x10) && (d & 0x40)) {	/* F and P: up to 3 P_DIFF, N bit chaining them */
		for (i = 0; i < 3; i++) {
			if (off >= len)
				return MF_KF_UNKNOWN;
			if (!(p[off++] & 0x01))
				break;
		}
	}
	if (d & 0x02) {			/* V: scalability structure */
		ss = vp9_ss_len(p, len, off);
		if (ss == 0)
			return MF_KF_UNKNOWN;
		off += ss;
	}
	if (off > len)
		return MF_KF_UNKNOWN;
	/* B (a frame's first packet), not inter-predicted, the base spatial layer. */
	if (!(d & 0x08) || (d & 0x40) || sid != 0)
		return MF_KF_NO;
	return vp9_header_key(p + off, len - off);
}

/* ---- AV1 (RTP payload format v1.0) ---- */

enum { OBU_SEQ_HDR = 1, OBU_TD = 2, OBU_FRAME_HDR = 3, OBU_FRAME = 6, OBU_PADDING = 15 };

/* LEB128 (at most 8 bytes). @return bytes read, 0 when malformed or past the end. */
static size_t
leb128(const uint8_t *p, size_t len, size_t off, uint64_t *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < 8 && off + i < len; i++) {
		*v |= (uint64_t)(p[off + i] & 0x7f) << (7 * i);
		if (!(p[off + i] & 0x80))
			return i + 1;
	}
	return 0;
}

struct av1_walk {
	bool seq;		/* a sequence header seen */
	bool reduced_still;	/* its reduced_still_picture_header */
	int frame;		/* -1 none yet; else the first frame header's MF_KF_* */
};

/* One OBU element of @p n bytes at @p o (its header included); @p partial: the first
 * fragment of an OBU that the next packet continues, so its size field may say more. */
static int
av1_obu(const uint8_t *o, size_t n, bool partial, struct av1_walk *w)
{
	uint8_t type;
	size_t hdr;
	uint64_t sz;

	if (n < 1 || (o[0] & 0x80))		/* forbidden bit */
		return -1;
	type = (o[0] >> 3) & 0x0f;
	hdr = (o[0] & 0x04) ? 2 : 1;		/* extension byte */
	if (hdr > n)
		return -1;
	if (o[0] & 0x02) {			/* has_size_field: it may say less than n */
		size_t k = leb128(o, n, hdr, &sz);

		if (k == 0 || (sz > n - hdr - k && !partial))
			return -1;
		hdr += k;
		if (sz < n - hdr)
			n = hdr + (size_t)sz;
	}
	if (type == OBU_SEQ_HDR && w->frame < 0) {
		if (n <= hdr)
			return -1;
		w->seq = true;
		w->reduced_still = (o[hdr] & 0x08) != 0;	/* profile(3) still(1) reduced(1) */
	} else if ((type == OBU_FRAME_HDR || type == OBU_FRAME) && w->frame < 0) {
		if (n <= hdr)
			return -1;
		if (w->reduced_still)
			w->frame = MF_KF_START;
		else	/* show_existing_frame(1) == 0, frame_type(2) == KEY_FRAME (0) */
			w->frame = (o[hdr] & 0xe0) == 0 ? MF_KF_START : MF_KF_NO;
	}
	return 0;
}

static int
kf_av1(const uint8_t *p, size_t len)
{
	struct av1_walk w = { false, false, -1 };
	unsigned int count, i;
	size_t off = 1;
	uint8_t agg;

	if (len < 2)
		return MF_KF_UNKNOWN;
	agg = p[0];				/* Z Y W(2) N */
	if (agg & 0x80)				/* Z: the first element continues an OBU */
		return MF_KF_NO;
	count = (agg >> 4) & 3;			/* W: 0 = every element has a length */
	for (i = 0; off < len; i++) {
		uint64_t n;
		bool last_is_rest = count != 0 && i + 1 == count;

		if (count != 0 && i >= count)
			return MF_KF_UNKNOWN;
		if (last_is_rest) {
			n = len - off;
		} else {
			size_t k = leb128(p, len, off, &n);

			if (k == 0 || n > len - off - k)
				return MF_KF_UNKNOWN;
			off += k;
		}
		/* The last element may be the start of a fragmented OBU (Y): only its header
		 * and first bytes are here, which is what we read. */
		if (n > 0 && av1_obu(p + off, (size_t)n, (agg & 0x40) && off + n == len, &w) != 0)
			return MF_KF_UNKNOWN;
		off += (size_t)n;
	}
	if (!w.seq)
		return (agg & 0x08) ? MF_KF_UNKNOWN : MF_KF_NO;	/* N without a sequence header */
	return w.frame < 0 ? MF_KF_START : w.frame;
}

int
mf_kf_rtp(unsigned int codec, const uint8_t *pl, size_t len)
{
	switch (codec) {
	case MF_CODEC_H264:
		return kf_h264(pl, len);
	case MF_CODEC_H265:
	case MF_CODEC_H265_DONL:
		return kf_h265(pl, len, codec == MF_CODEC_H265_DONL);
	case MF_CODEC_VP8:
		return kf_vp8(pl, len);
	case MF_CODEC_VP9:
		return kf_vp9(pl, len);
	case MF_CODEC_AV1:
		return kf_av1(pl, len);
	default:
		return MF_KF_UNKNOWN;
	}
}

/* ---- MPEG-TS ---- */

/* Annex B start codes in the elementary stream bytes [off, len): a key NAL unit? */
static int
es_scan(const uint8_t *p, size_t len, size_t off, uint8_t stream_type)
{
	size_t i;

	for (i = off; i + 3 < len; i++) {
		const uint8_t *h;

		if (p[i] != 0 || p[i + 1] != 0 || p[i + 2] != 1)
			continue;
		h = p + i + 3;
		if (stream_type == MF_TS_STREAM_H264 && h264_key_nal(h[0] & 0x1f))
			return MF_KF_START;
		if (stream_type == MF_TS_STREAM_H265 && i + 4 < len && h265_key_nal(h))
			return MF_KF_START;
	}
	return MF_KF_NO;
}

int
mf_kf_ts(const uint8_t *pkt, size_t len, uint8_t stream_type)
{
	size_t off = 4;
	uint8_t afc;

	if (len < MF_TS_PKT_LEN || pkt[0] != MF_TS_SYNC)
		return MF_KF_UNKNOWN;
	if (!(pkt[1] & 0x40))			/* PUSI: a PES starts here */
		return MF_KF_NO;
	afc = (pkt[3] >> 4) & 3;
	if (afc & 2) {
		if (pkt[4] > 183)
			return MF_KF_UNKNOWN;
		if (pkt[4] > 0 && (pkt[5] & 0x40))	/* random_access_indicator */
			return MF_KF_START;
		off = 5 + (size_t)pkt[4];
	}
	if (!(afc & 1))
		return MF_KF_NO;
	/* PES header: 00 00 01, stream_id, length, two flag bytes, header_data_length. */
	if (off + 9 > MF_TS_PKT_LEN || pkt[off] != 0 || pkt[off + 1] != 0 || pkt[off + 2] != 1)
		return MF_KF_UNKNOWN;
	off += 9 + (size_t)pkt[off + 8];
	if (off > MF_TS_PKT_LEN)
		return MF_KF_UNKNOWN;
	return es_scan(pkt, MF_TS_PKT_LEN, off, stream_type);
}

static bool
is_video(uint8_t st)
{
	return st == MF_TS_STREAM_MPEG2 || st == MF_TS_STREAM_H264 || st == MF_TS_STREAM_H265 ||
	       st == 0x01 || st == 0x10;	/* MPEG-1 video, MPEG-4 part 2 */
}

int
mf_ts_pmt_video(const uint8_t *pkt, size_t len, uint16_t *program, uint16_t *pid,
		uint8_t *stream_type)
{
	size_t off, end, i;
	uint16_t section_len, info_len;
	bool cut;

	/* A section start (PUSI) with a payload, not flagged damaged (TEI). */
	if (len < MF_TS_PKT_LEN || pkt[0] != MF_TS_SYNC || (pkt[1] & 0xc0) != 0x40 ||
	    !(pkt[3] & 0x10))
		return -EINVAL;
	off = 4;
	if ((pkt[3] >> 4) & 2)
		off = 5 + (size_t)pkt[4];
	if (off >= MF_TS_PKT_LEN)
		return -EINVAL;
	off += 1 + (size_t)pkt[off];		/* pointer_field */
	/* table_id 2: a PMT, in long form (section_syntax_indicator), applying now
	 * (current_next_indicator), in its one section (section_number 0 of 0). */
	if (off + 12 > MF_TS_PKT_LEN || pkt[off] != 2 || !(pkt[off + 1] & 0x80) ||
	    !(pkt[off + 5] & 0x01) || pkt[off + 6] != 0 || pkt[off + 7] != 0)
		return -EINVAL;
	section_len = (uint16_t)((pkt[off + 1] & 0x0f) << 8 | pkt[off + 2]);
	if (section_len < 13)
		return -EINVAL;
	end = off + 3 + section_len - 4;	/* the CRC excluded */
	cut = end > MF_TS_PKT_LEN;
	if (cut)
		end = MF_TS_PKT_LEN;
	/* Damage the TEI does not flag: a section whole in the packet is checked. */
	if (end + 4 <= MF_TS_PKT_LEN && !mf_ts_section_crc_ok(pkt + off, 3u + section_len))
		return -EBADMSG;
	info_len = (uint16_t)((pkt[off + 10] & 0x0f) << 8 | pkt[off + 11]);
	for (i = off + 12 + info_len; i + 5 <= end;
	     i += 5 + (size_t)((pkt[i + 3] & 0x0f) << 8 | pkt[i + 4])) {
		if (is_video(pkt[i])) {
			*program = (uint16_t)(pkt[off + 3] << 8 | pkt[off + 4]);
			*stream_type = pkt[i];
			*pid = (uint16_t)((pkt[i + 1] & 0x1f) << 8 | pkt[i + 2]);
			return 0;
		}
	}
	/* Only a section read whole, whose streams end where it does, says there is none. */
	if (cut || i != end)
		return -EINVAL;
	*program = (uint16_t)(pkt[off + 3] << 8 | pkt[off + 4]);
	return -ENOENT;
}
