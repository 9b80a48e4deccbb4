/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Does this packet start a key frame? For an output that must start on one (a viewer joining
 * mid-stream) and a GOP cache that restarts on one.
 *
 * The codec is never guessed from the bytes: the session spec names it per payload type.
 * Same contract as mf_pkt.h: untrusted bytes, every read bounded, no state.
 */
#ifndef MF_KEYFRAME_H
#define MF_KEYFRAME_H

#include <stddef.h>
#include <stdint.h>

enum mf_codec {
	MF_CODEC_NONE = 0,
	MF_CODEC_H264,		/* RFC 6184 */
	MF_CODEC_H265,		/* RFC 7798, sprop-max-don-diff 0: no DONL fields */
	MF_CODEC_H265_DONL,	/* RFC 7798 with DONL/DOND fields (sprop-max-don-diff > 0) */
	MF_CODEC_VP8,		/* RFC 7741 */
	MF_CODEC_VP9,		/* RFC 9628 */
	MF_CODEC_AV1,		/* AOM "RTP Payload Format for AV1" v1.0 */
	MF_CODEC_MAX
};

enum mf_kf {
	MF_KF_NO = 0,		/* not the start of a key frame */
	MF_KF_START,		/* the first packet of a key frame (or of its parameter sets) */
	MF_KF_UNKNOWN,		/* cannot tell: malformed, truncated or a form we do not read */
};

/** "h264", "h265", "h265-donl", "vp8", "vp9", "av1"; NULL for an unknown value. */
const char *mf_codec_str(unsigned int codec);
/** @return enum mf_codec, or MF_CODEC_NONE for an unknown name. */
unsigned int mf_codec_parse(const char *name);

/**
 * Classify an RTP payload (after the RTP header, padding excluded) of @p codec.
 * H.264: SPS or IDR in a single NAL unit, STAP-A/B, MTAP16/24 or the first FU-A/B fragment.
 * H.265: VPS or an IRAP picture (types 16-21, base layer) the same ways (AP, FU).
 * VP8: S bit, partition 0, P bit 0 of the frame tag, and the key frame's start code.
 * VP9: B bit, P bit 0, spatial layer 0, and an uncompressed header saying KEY_FRAME.
 * AV1: a sequence header OBU in a packet that does not continue an OBU, followed (if the
 * frame header is in the packet) by a KEY_FRAME header.
 * @return enum mf_kf.
 */
int mf_kf_rtp(unsigned int codec, const uint8_t *pl, size_t len);

/* MPEG-TS stream types (ISO/IEC 13818-1 table 2-34) of the video we classify. */
#define MF_TS_STREAM_MPEG2	0x02
#define MF_TS_STREAM_H264	0x1b
#define MF_TS_STREAM_H265	0x24

/**
 * Classify one 188-byte TS packet of a video PID of @p stream_type: a PES start whose
 * adaptation field has the random-access indicator, or failing that, whose elementary
 * stream bytes in this packet hold an H.264 SPS/IDR or an H.265 VPS/IRAP NAL unit.
 * @return enum mf_kf.
 */
int mf_kf_ts(const uint8_t *pkt, size_t len, uint8_t stream_type);

/**
 * The first video stream of the PMT section that starts in one TS packet (after its
 * pointer_field; PUSI set), read up to the packet's end. @return 0 with *program (its
 * program_number), *pid and *stream_type set; -ENOENT with *program set when the section
 * names no video stream: its streams all in the packet, ending where the section says;
 * -EINVAL when it tells nothing: not a PMT's start, flagged damaged
 * (transport_error_indicator), not in long form (section_syntax_indicator), not applying
 * yet (current_next_indicator 0), not section 0 of 0, malformed, or its streams going on
 * in the next packet with no video in this one; -EBADMSG when the section, whole in the
 * packet, has the wrong CRC_32 (one going on in the next packet is not checked). Nothing is
 * written unless it says so.
 */
int mf_ts_pmt_video(const uint8_t *pkt, size_t len, uint16_t *program, uint16_t *pid,
		    uint8_t *stream_type);

#endif /* MF_KEYFRAME_H */
