/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the key-frame classifier: packets real encoders and packetizers sent
 * (tests/unit/kf, made by make-kf-fixtures, labelled by ffprobe's key flags), every prefix of
 * them (no read past the end, no crash), and hand-made forms the encoders do not make.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "mf/mf_keyframe.h"
#include "mf/mf_rtp.h"
#include "mf/mf_ts.h"
#include "mf_pktbuild.h"
#include "mf_test.h"

#ifndef MF_KF_DIR
#error "MF_KF_DIR: the folder of the captures"
#endif

enum { EXPECT_NO = 0, EXPECT_START = 1, EXPECT_ANY = 2, EXPECT_SKIP = 3 };

struct capture {
	char codec[13];
	uint8_t *buf;
	size_t len;
};

static int
capture_load(const char *name, struct capture *c)
{
	char path[512];
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s.bin", MF_KF_DIR, name);
	f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	c->buf = malloc((size_t)n);
	if (c->buf == NULL || n < 16 || fread(c->buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(c->buf);
		return -1;
	}
	fclose(f);
	c->len = (size_t)n;
	memcpy(c->codec, c->buf + 4, 12);
	c->codec[12] = 0;
	return memcmp(c->buf, "MFKF", 4) == 0 ? 0 : -1;
}

/* Each prefix of a packet, copied to a buffer of its exact size: ASan sees any overread. */
static int
all_prefixes(unsigned int codec, const uint8_t *pl, size_t len, bool ts)
{
	size_t i;

	for (i = 0; i <= len; i++) {
		uint8_t *b = malloc(i ? i : 1);
		int r;

		memcpy(b, pl, i);
		r = ts ? mf_kf_ts(b, i, MF_TS_STREAM_H264) : mf_kf_rtp(codec, b, i);
		free(b);
		if (r < MF_KF_NO || r > MF_KF_UNKNOWN)
			return -1;
	}
	return 0;
}

static const char *const kf_names[] = { "no", "start", "unknown" };

static int
check_capture(const char *name)
{
	struct capture c = { 0 };
	unsigned int codec, starts = 0, pkts = 0;
	size_t off = 16;
	bool ts;
	int rc = 0;

	MF_TEST_ASSERT(capture_load(name, &c) == 0, "cannot read %s/%s.bin", MF_KF_DIR, name);
	ts = strcmp(c.codec, "mpegts") == 0;
	codec = ts ? MF_CODEC_NONE : mf_codec_parse(c.codec);
	MF_TEST_ASSERT(ts || codec != MF_CODEC_NONE, "codec %s", c.codec);
	while (off + 3 <= c.len) {
		uint8_t expect = c.buf[off];
		size_t n = (size_t)(c.buf[off + 1] << 8 | c.buf[off + 2]);
		const uint8_t *p = c.buf + off + 3, *pl = p;
		size_t pl_len = n;
		struct mf_rtp r;
		int got;

		MF_TEST_ASSERT(off + 3 + n <= c.len, "%s: truncated record", name);
		off += 3 + n;
		pkts++;
		if (!ts) {
			MF_TEST_EQ(mf_rtp_parse(p, n, &r), 0);
			pl = p + r.hdr_len;
			pl_len = r.payload_len;
		}
		MF_TEST_EQ(all_prefixes(codec, pl, pl_len, ts), 0);
		if (expect == EXPECT_SKIP)
			continue;
		got = ts ? mf_kf_ts(pl, pl_len, MF_TS_STREAM_H264) : mf_kf_rtp(codec, pl, pl_len);
		starts += got == MF_KF_START;
		MF_TEST_ASSERT(expect != EXPECT_START || got == MF_KF_START,
			       "%s packet %u: a key frame's first packet classified %s", name, pkts,
			       kf_names[got]);
		MF_TEST_ASSERT(expect != EXPECT_NO || got == MF_KF_NO,
			       "%s packet %u: a packet of a non-key frame classified %s", name,
			       pkts, kf_names[got]);
		MF_TEST_ASSERT(expect != EXPECT_ANY || got != MF_KF_UNKNOWN,
			       "%s packet %u: a key frame's packet not understood", name, pkts);
	}
	MF_TEST_ASSERT(off == c.len, "%s: trailing bytes", name);
	MF_TEST_ASSERT(starts >= 4, "%s: %u key-frame starts", name, starts);
out:
	free(c.buf);
	return rc;
}

#define CAPTURE_TEST(fn, file) \
	static int fn(void) { return check_capture(file); }

CAPTURE_TEST(test_ffmpeg_x264, "ffmpeg-x264")
CAPTURE_TEST(test_ffmpeg_x265, "ffmpeg-x265")
CAPTURE_TEST(test_ffmpeg_vp8, "ffmpeg-vp8")
CAPTURE_TEST(test_ffmpeg_vp9, "ffmpeg-vp9")
CAPTURE_TEST(test_ffmpeg_av1, "ffmpeg-aom-av1")
CAPTURE_TEST(test_ffmpeg_ts, "ffmpeg-x264-ts")
CAPTURE_TEST(test_gst_x264, "gst-x264")
CAPTURE_TEST(test_gst_vp8, "gst-vp8")
CAPTURE_TEST(test_gst_vp9, "gst-vp9")

#define KF(codec, ...) \
	({ const uint8_t b_[] = { __VA_ARGS__ }; mf_kf_rtp(codec, b_, sizeof(b_)); })

static int
test_h264_forms(void)
{
	int rc = 0;

	MF_TEST_EQ(KF(MF_CODEC_H264, 0x67, 0x42), MF_KF_START);		/* SPS */
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x65, 0x88), MF_KF_START);		/* IDR */
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x68, 0xce), MF_KF_NO);		/* PPS */
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x41, 0x9a), MF_KF_NO);		/* P slice */
	/* STAP-A: SEI then SPS; a lying size; a zero size. */
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x78, 0, 2, 0x06, 0x05, 0, 2, 0x67, 0x42), MF_KF_START);
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x78, 0, 2, 0x06, 0x05, 0, 9, 0x67, 0x42), MF_KF_UNKNOWN);
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x78, 0, 0, 0x67), MF_KF_UNKNOWN);
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x78), MF_KF_UNKNOWN);
	/* STAP-B (DON first), MTAP16 (DONB, then size, DOND, TS offset), MTAP24. */
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x79, 0, 7, 0, 2, 0x65, 0x88), MF_KF_START);
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x7a, 0, 7, 0, 2, 1, 0, 9, 0x65, 0x88), MF_KF_START);
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x7b, 0, 7, 0, 2, 1, 0, 0, 9, 0x41, 0x88), MF_KF_NO);
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x7b, 0, 7, 0, 2, 1, 0, 0), MF_KF_UNKNOWN);
	/* FU-A: start of an IDR; its middle; the start of a P slice. FU-B has a DON. */
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x7c, 0x85, 0x88), MF_KF_START);
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x7c, 0x05, 0x88), MF_KF_NO);
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x7c, 0x81, 0x9a), MF_KF_NO);
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x7d, 0x87, 0, 1, 0x42), MF_KF_START);
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x7d, 0x87), MF_KF_UNKNOWN);
	MF_TEST_EQ(KF(MF_CODEC_H264, 0x7e, 0), MF_KF_UNKNOWN);		/* type 30 */
	MF_TEST_EQ(mf_kf_rtp(MF_CODEC_H264, NULL, 0), MF_KF_UNKNOWN);
out:
	return rc;
}

static int
test_h265_forms(void)
{
	int rc = 0;

	MF_TEST_EQ(KF(MF_CODEC_H265, 0x40, 0x01, 0x0c), MF_KF_START);	/* VPS */
	MF_TEST_EQ(KF(MF_CODEC_H265, 0x26, 0x01, 0xaf), MF_KF_START);	/* IDR_W_RADL */
	MF_TEST_EQ(KF(MF_CODEC_H265, 0x2a, 0x01, 0xaf), MF_KF_START);	/* CRA */
	MF_TEST_EQ(KF(MF_CODEC_H265, 0x26, 0x09, 0xaf), MF_KF_NO);	/* IDR of layer 1 */
	MF_TEST_EQ(KF(MF_CODEC_H265, 0x02, 0x01, 0xd0), MF_KF_NO);	/* TRAIL_R */
	/* AP without and with DONL (then a DOND before each further unit). */
	MF_TEST_EQ(KF(MF_CODEC_H265, 0x60, 0x01, 0, 2, 0x42, 0x01, 0, 2, 0x40, 0x01),
		   MF_KF_START);
	MF_TEST_EQ(KF(MF_CODEC_H265_DONL, 0x60, 0x01, 0, 5, 0, 4, 0x44, 0x01, 0xc1, 0x72, 1, 0, 2,
		      0x40, 0x01), MF_KF_START);
	/* The same bytes read without DONL do not add up. */
	MF_TEST_EQ(KF(MF_CODEC_H265, 0x60, 0x01, 0, 5, 0, 4, 0x44, 0x01, 0xc1, 0x72, 1, 0, 2,
		      0x40, 0x01), MF_KF_UNKNOWN);
	MF_TEST_EQ(KF(MF_CODEC_H265, 0x60, 0x01, 0, 7, 0x42, 0x01), MF_KF_UNKNOWN);
	/* FU: start of an IDR, its end, start with DONL; PACI is not read. */
	MF_TEST_EQ(KF(MF_CODEC_H265, 0x62, 0x01, 0x93, 0xaf), MF_KF_START);
	MF_TEST_EQ(KF(MF_CODEC_H265, 0x62, 0x01, 0x53, 0xaf), MF_KF_NO);
	MF_TEST_EQ(KF(MF_CODEC_H265_DONL, 0x62, 0x01, 0x93, 0, 1, 0xaf), MF_KF_START);
	MF_TEST_EQ(KF(MF_CODEC_H265_DONL, 0x62, 0x01, 0x93, 0), MF_KF_UNKNOWN);
	MF_TEST_EQ(KF(MF_CODEC_H265, 0x64, 0x01, 0x26, 0), MF_KF_UNKNOWN);
	MF_TEST_EQ(KF(MF_CODEC_H265, 0x40), MF_KF_UNKNOWN);
out:
	return rc;
}

static int
test_vp8_forms(void)
{
	int rc = 0;

	/* Minimal descriptor, S=1 PID 0, key frame tag and start code. */
	MF_TEST_EQ(KF(MF_CODEC_VP8, 0x10, 0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a), MF_KF_START);
	/* Every optional field: X, I with a 15-bit picture ID, L, T and K. */
	MF_TEST_EQ(KF(MF_CODEC_VP8, 0x90, 0xf0, 0x81, 0x23, 0x05, 0x40, 0x50, 0x02, 0x00, 0x9d,
		      0x01, 0x2a), MF_KF_START);
	MF_TEST_EQ(KF(MF_CODEC_VP8, 0x90, 0x80, 0x12, 0x51, 0x02, 0x00), MF_KF_NO);	/* P=1 */
	MF_TEST_EQ(KF(MF_CODEC_VP8, 0x00, 0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a), MF_KF_NO);	/* S=0 */
	MF_TEST_EQ(KF(MF_CODEC_VP8, 0x11, 0x50, 0x02, 0x00, 0x9d, 0x01, 0x2a), MF_KF_NO);	/* PID 1 */
	MF_TEST_EQ(KF(MF_CODEC_VP8, 0x10, 0x50, 0x02, 0x00, 0x9d, 0x01, 0x2b), MF_KF_UNKNOWN);
	MF_TEST_EQ(KF(MF_CODEC_VP8, 0x90, 0xf0, 0x81), MF_KF_UNKNOWN);
	MF_TEST_EQ(KF(MF_CODEC_VP8, 0x90), MF_KF_UNKNOWN);
out:
	return rc;
}

static int
test_vp9_forms(void)
{
	int rc = 0;

	/* I (15-bit), B, a key frame's header: marker 2, profile 0, show_existing 0,
	 * frame_type 0, show_frame 1, error_res 0, then 49 83 42. */
	MF_TEST_EQ(KF(MF_CODEC_VP9, 0x88, 0x80, 0x01, 0x82, 0x49, 0x83, 0x42, 0x00),
		   MF_KF_START);
	/* L, non-flexible (TL0PICIDX), SID 1: not the base layer. */
	MF_TEST_EQ(KF(MF_CODEC_VP9, 0x28, 0x02, 0x05, 0x82, 0x49, 0x83, 0x42), MF_KF_NO);
	/* L with SID 0, flexible; V with Y (one layer: 4 bytes) and G (one entry, R=1). */
	MF_TEST_EQ(KF(MF_CODEC_VP9, 0x3a, 0x00, 0x18, 0, 160, 0, 96, 1, 0x04, 0x01,
		      0x82, 0x49, 0x83, 0x42), MF_KF_START);
	/* P set (inter-predicted): not a key frame, whatever follows. */
	MF_TEST_EQ(KF(MF_CODEC_VP9, 0x48, 0x86, 0x00), MF_KF_NO);
	/* Flexible with P: P_DIFFs chained by their N bit. */
	MF_TEST_EQ(KF(MF_CODEC_VP9, 0x58, 0x03, 0x05, 0x86, 0x00), MF_KF_NO);
	/* Descriptor says key, header says inter frame (frame_type 1): intra-only refresh. */
	MF_TEST_EQ(KF(MF_CODEC_VP9, 0x08, 0x86, 0x00), MF_KF_NO);
	/* A bad sync code, a bad frame marker, a truncated SS. */
	MF_TEST_EQ(KF(MF_CODEC_VP9, 0x08, 0x82, 0x49, 0x83, 0x43), MF_KF_UNKNOWN);
	MF_TEST_EQ(KF(MF_CODEC_VP9, 0x08, 0x42, 0x49, 0x83, 0x42), MF_KF_UNKNOWN);
	MF_TEST_EQ(KF(MF_CODEC_VP9, 0x0a, 0x18, 0, 160), MF_KF_UNKNOWN);
out:
	return rc;
}

static int
test_av1_forms(void)
{
	int rc = 0;

	/* N, W=2: a sequence header (length 2), then a frame OBU (the rest): KEY_FRAME. */
	MF_TEST_EQ(KF(MF_CODEC_AV1, 0x28, 2, 0x08, 0x00, 0x30, 0x10), MF_KF_START);
	/* The same with an inter frame header (frame_type 1). */
	MF_TEST_EQ(KF(MF_CODEC_AV1, 0x28, 2, 0x08, 0x00, 0x30, 0x30), MF_KF_NO);
	/* A sequence header alone (its frame in the next packet): a start. */
	MF_TEST_EQ(KF(MF_CODEC_AV1, 0x18, 0x08, 0x00), MF_KF_START);
	/* Z: continues an OBU. N without a sequence header: unknown. */
	MF_TEST_EQ(KF(MF_CODEC_AV1, 0x98, 0x08, 0x00), MF_KF_NO);
	MF_TEST_EQ(KF(MF_CODEC_AV1, 0x18, 0x30, 0x10), MF_KF_UNKNOWN);
	/* W=0 with a length beyond the packet; a size field inside an OBU that lies. */
	MF_TEST_EQ(KF(MF_CODEC_AV1, 0x08, 9, 0x08, 0x00), MF_KF_UNKNOWN);
	MF_TEST_EQ(KF(MF_CODEC_AV1, 0x18, 0x0a, 5, 0x00), MF_KF_UNKNOWN);
	/* ...unless it is the first fragment of an OBU (Y, last element). */
	MF_TEST_EQ(KF(MF_CODEC_AV1, 0x68, 2, 0x08, 0x00, 0x32, 40, 0x10), MF_KF_START);
	/* W=3 with only two elements: unknown; the forbidden bit: unknown. */
	MF_TEST_EQ(KF(MF_CODEC_AV1, 0x38, 2, 0x08, 0x00, 0x30), MF_KF_UNKNOWN);
	MF_TEST_EQ(KF(MF_CODEC_AV1, 0x18, 0x88, 0x00), MF_KF_UNKNOWN);
out:
	return rc;
}

static void
ts_pkt(uint8_t *p, bool pusi, int af_flags, const uint8_t *es, size_t es_len)
{
	size_t off = 4;

	memset(p, 0xff, MF_TS_PKT_LEN);
	p[0] = MF_TS_SYNC;
	p[1] = (uint8_t)((pusi ? 0x40 : 0) | 0x01);
	p[2] = 0x00;
	p[3] = 0x10;
	if (af_flags >= 0) {
		p[3] = 0x30;
		p[4] = 1;
		p[5] = (uint8_t)af_flags;
		off = 6;
	}
	if (es != NULL) {
		const uint8_t pes[9] = { 0, 0, 1, 0xe0, 0, 0, 0x80, 0x00, 0 };

		memcpy(p + off, pes, sizeof(pes));
		memcpy(p + off + 9, es, es_len);
	}
}

static int
test_ts_forms(void)
{
	const uint8_t idr[] = { 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 0x88 };
	const uint8_t p_slice[] = { 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x41, 0x9a };
	const uint8_t irap[] = { 0, 0, 1, 0x26, 0x01, 0xaf };
	uint8_t p[MF_TS_PKT_LEN];
	int rc = 0;

	ts_pkt(p, true, 0x40, idr, 0);			/* random_access_indicator */
	MF_TEST_EQ(mf_kf_ts(p, sizeof(p), MF_TS_STREAM_H264), MF_KF_START);
	ts_pkt(p, false, 0x40, NULL, 0);		/* RAI without a PES start */
	MF_TEST_EQ(mf_kf_ts(p, sizeof(p), MF_TS_STREAM_H264), MF_KF_NO);
	ts_pkt(p, true, -1, idr, sizeof(idr));		/* no RAI: the IDR in the PES */
	MF_TEST_EQ(mf_kf_ts(p, sizeof(p), MF_TS_STREAM_H264), MF_KF_START);
	ts_pkt(p, true, 0x00, p_slice, sizeof(p_slice));
	MF_TEST_EQ(mf_kf_ts(p, sizeof(p), MF_TS_STREAM_H264), MF_KF_NO);
	ts_pkt(p, true, -1, irap, sizeof(irap));
	MF_TEST_EQ(mf_kf_ts(p, sizeof(p), MF_TS_STREAM_H265), MF_KF_START);
	MF_TEST_EQ(mf_kf_ts(p, sizeof(p), MF_TS_STREAM_H264), MF_KF_NO);
	ts_pkt(p, true, -1, NULL, 0);			/* no PES start code */
	MF_TEST_EQ(mf_kf_ts(p, sizeof(p), MF_TS_STREAM_H264), MF_KF_UNKNOWN);
	p[3] = 0x30;
	p[4] = 190;					/* AF longer than the packet */
	MF_TEST_EQ(mf_kf_ts(p, sizeof(p), MF_TS_STREAM_H264), MF_KF_UNKNOWN);
	MF_TEST_EQ(mf_kf_ts(p, 100, MF_TS_STREAM_H264), MF_KF_UNKNOWN);
out:
	return rc;
}

static int
test_section_crc(void)
{
	uint8_t check[13] = "123456789";
	uint8_t sec[MF_TS_PKT_LEN + 1];
	unsigned int i;
	int rc = 0;

	/* The catalogue's check value of CRC-32/MPEG-2: 0x0376e6e7 over "123456789". */
	MF_TEST_EQ(pb_crc_mpeg2(check, 9), 0x0376e6e7);
	pb_w32(check + 9, 0x0376e6e7);
	MF_TEST_ASSERT(mf_ts_section_crc_ok(check, sizeof(check)), "check value");
	check[3] ^= 0x10;
	MF_TEST_ASSERT(!mf_ts_section_crc_ok(check, sizeof(check)), "a bit flipped");
	for (i = 0; i < sizeof(sec); i++)
		sec[i] = (uint8_t)(i * 37 + 11);
	pb_w32(sec + MF_TS_PKT_LEN - 4, pb_crc_mpeg2(sec, MF_TS_PKT_LEN - 4));
	MF_TEST_ASSERT(mf_ts_section_crc_ok(sec, MF_TS_PKT_LEN), "a packet's length");
	MF_TEST_ASSERT(!mf_ts_section_crc_ok(sec, MF_TS_PKT_LEN + 1), "longer than a packet");
	MF_TEST_ASSERT(!mf_ts_section_crc_ok(sec, 3), "no room for a CRC");
out:
	return rc;
}

static int
test_pmt(void)
{
	/* PMT: program 1, PCR PID 0x100, no program info; audio 0x101 (mp2), video 0x100 (H.264). */
	const uint8_t sec[] = { 0x00, 0x02, 0xb0, 0x17, 0x00, 0x01, 0xc1, 0x00, 0x00, 0xe1, 0x00,
				0xf0, 0x00, 0x03, 0xe1, 0x01, 0xf0, 0x00, 0x1b, 0xe1, 0x00, 0xf0,
				0x00, 0xde, 0xad, 0xbe, 0xef };
	uint8_t p[MF_TS_PKT_LEN];
	uint16_t prog = 0, pid = 0;
	uint8_t st = 0;
	int rc = 0;

	memset(p, 0xff, sizeof(p));
	p[0] = MF_TS_SYNC;
	p[1] = 0x50;
	p[2] = 0x00;
	p[3] = 0x10;
	memcpy(p + 4, sec, sizeof(sec));
	p[4 + 5] = 0x07;				/* program 7 */
	/* The CRC_32 checked: wrong, nothing read or written. */
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), -EBADMSG);
	MF_TEST_EQ(prog + pid + st, 0);
	pb_section_crc(p + 5);
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), 0);
	MF_TEST_EQ(prog, 7);
	MF_TEST_EQ(pid, 0x100);
	MF_TEST_EQ(st, MF_TS_STREAM_H264);
	p[4 + 19] ^= 0x01;				/* the video's PID, damaged */
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), -EBADMSG);
	p[4 + 19] ^= 0x01;
	/* Each of these tells nothing, whatever its streams. */
	p[1] |= 0x80;					/* transport_error_indicator */
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), -EINVAL);
	p[1] = 0x10;					/* no PUSI: no section starts */
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), -EINVAL);
	p[1] = 0x50;
	p[4 + 6] = 0xc0;				/* current_next_indicator 0 */
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), -EINVAL);
	p[4 + 6] = 0xc1;
	p[4 + 7] = 0x01;				/* section_number 1 */
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), -EINVAL);
	p[4 + 7] = 0x00;
	p[4 + 2] = 0x30;				/* section_syntax_indicator 0 */
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), -EINVAL);
	p[4 + 2] = 0xb0;
	p[4 + 1] = 0x00;				/* table_id 0: a PAT */
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), -EINVAL);
	p[4 + 1] = 0x02;
	p[4 + 12] = 0xff;				/* program_info_length past the packet */
	pb_section_crc(p + 5);
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), -EINVAL);
	p[4 + 12] = 0x00;
	/* No video: said only of a section read whole whose streams end where it does. */
	p[4 + 18] = 0x0f;				/* AAC */
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), -EBADMSG);
	pb_section_crc(p + 5);
	prog = 0;
	pid = 0;
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), -ENOENT);
	MF_TEST_EQ(prog, 7);
	MF_TEST_EQ(pid, 0);				/* nothing else written */
	p[4 + 3] = 0x1c;				/* length 28: an entry overruns it */
	pb_section_crc(p + 5);
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), -EINVAL);
	/* One AAC stream whose descriptors end at the packet's end: the streams end there
	 * (length 184: only the CRC is in the next packet) or go on into the next packet
	 * (length 200), which may name a video. */
	p[4 + 13] = 0x0f;
	p[4 + 16] = 0xf0;
	p[4 + 17] = 166;
	p[4 + 3] = 184;
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), -ENOENT);
	p[4 + 3] = 200;
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), -EINVAL);
	/* After an empty adaptation field the section is read; with no payload, nothing is. */
	memset(p, 0xff, sizeof(p));
	p[0] = MF_TS_SYNC;
	p[1] = 0x50;
	p[2] = 0x00;
	p[3] = 0x30;
	p[4] = 0x00;
	memcpy(p + 5, sec, sizeof(sec));
	pb_section_crc(p + 6);
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), 0);
	p[3] = 0x20;
	MF_TEST_EQ(mf_ts_pmt_video(p, sizeof(p), &prog, &pid, &st), -EINVAL);
out:
	return rc;
}

static int
test_codec_names(void)
{
	unsigned int i;
	int rc = 0;

	for (i = 1; i < MF_CODEC_MAX; i++)
		MF_TEST_EQ(mf_codec_parse(mf_codec_str(i)), i);
	MF_TEST_EQ(mf_codec_parse("H264"), MF_CODEC_NONE);
	MF_TEST_ASSERT(mf_codec_str(MF_CODEC_MAX) == NULL, "past the end");
out:
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct mf_test_case cases[] = {
		{ "ffmpeg_x264", test_ffmpeg_x264 },
		{ "ffmpeg_x265", test_ffmpeg_x265 },
		{ "ffmpeg_vp8", test_ffmpeg_vp8 },
		{ "ffmpeg_vp9", test_ffmpeg_vp9 },
		{ "ffmpeg_av1", test_ffmpeg_av1 },
		{ "ffmpeg_ts", test_ffmpeg_ts },
		{ "gst_x264", test_gst_x264 },
		{ "gst_vp8", test_gst_vp8 },
		{ "gst_vp9", test_gst_vp9 },
		{ "h264_forms", test_h264_forms },
		{ "h265_forms", test_h265_forms },
		{ "vp8_forms", test_vp8_forms },
		{ "vp9_forms", test_vp9_forms },
		{ "av1_forms", test_av1_forms },
		{ "ts_forms", test_ts_forms },
		{ "section_crc", test_section_crc },
		{ "pmt", test_pmt },
		{ "codec_names", test_codec_names },
	};

	return mf_test_run("keyframe", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
