/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RTP (RFC 3550: CSRC list, header extension, padding), RTCP compound packets (SR, RR,
 * SDES, BYE, APP, RTPFB, PSFB and others by length), and RFC 7983 first-byte
 * demultiplexing of STUN / ZRTP / DTLS / TURN / RTP / RTCP.
 *
 * Same contract as mf_pkt.h: untrusted bytes, bounded reads, 0 or -mf_pkt_err, no state.
 */
#ifndef MF_RTP_H
#define MF_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mf/mf_pkt.h"

#define MF_RTP_HDR_LEN		12

struct mf_rtp {
	uint8_t pt;
	bool marker;
	uint8_t cc;		/* CSRC count */
	bool has_ext;
	bool has_padding;
	uint8_t pad_len;	/* padding bytes at the end, count byte included */
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint16_t ext_profile;	/* defined by the extension: 0xBEDE one-byte, 0x100x two-byte */
	uint16_t ext_len;	/* bytes of extension data after its 4-byte header */
	uint16_t hdr_len;	/* 12 + 4 * cc + extension */
	uint16_t payload_len;	/* after the header, padding excluded */
};

/**
 * The header only: padding is not examined, as an SRTP payload's padding is encrypted.
 * payload_len then counts everything after the header.
 */
int mf_rtp_parse_hdr(const uint8_t *p, size_t len, struct mf_rtp *r);
/** Header and padding of a plain RTP packet. */
int mf_rtp_parse(const uint8_t *p, size_t len, struct mf_rtp *r);

#define MF_RTCP_SR		200
#define MF_RTCP_RR		201
#define MF_RTCP_SDES		202
#define MF_RTCP_BYE		203
#define MF_RTCP_APP		204
#define MF_RTCP_RTPFB		205
#define MF_RTCP_PSFB		206
#define MF_RTCP_MAX_PKTS	16	/* packets in one compound that we parse */

struct mf_rtcp_pkt {
	uint8_t pt;
	uint8_t count;		/* RC, SC or FMT by type */
	uint16_t off;		/* from the start of the compound */
	uint16_t len;		/* bytes of this packet, header and padding included */
	uint32_t ssrc;		/* sender SSRC (first SSRC/CSRC of SDES and BYE); 0 if none */
};

struct mf_rtcp {
	uint8_t nb;
	uint32_t types_seen;	/* bit (pt - 192) set per packet type present */
	struct mf_rtcp_pkt pkts[MF_RTCP_MAX_PKTS];
	/* The first SR's sender info, when there is one. */
	bool has_sr;
	uint64_t sr_ntp;
	uint32_t sr_rtp_ts;
	uint32_t sr_pkts;
	uint32_t sr_octets;
};

/**
 * A compound RTCP packet. A compound need not begin with SR or RR (RFC 5506 reduced size).
 * @return 0, or -MF_PKT_E_RTCP_* for the first bad packet.
 */
int mf_rtcp_parse(const uint8_t *p, size_t len, struct mf_rtcp *c);

/* Feedback messages (RFC 4585 and RFC 5104) by transport-layer (RTPFB) or payload-specific
 * (PSFB) type and FMT. */
enum mf_rtcp_fb_kind {
	MF_RTCP_FB_OTHER = 0,	/* any other feedback, or not feedback */
	MF_RTCP_FB_NACK,	/* RTPFB 1: Generic NACK, entries of PID + BLP */
	MF_RTCP_FB_PLI,		/* PSFB 1: Picture Loss Indication */
	MF_RTCP_FB_FIR,		/* PSFB 4: Full Intra Request, entries of SSRC + seq */
	MF_RTCP_FB_REMB,	/* PSFB 15 "REMB": receiver estimated maximum bitrate */
};

struct mf_rtcp_fb {
	uint8_t kind;		/* enum mf_rtcp_fb_kind */
	uint32_t sender_ssrc;
	uint32_t media_ssrc;
	uint16_t fci_off;	/* the FCI, from the start of this packet */
	uint16_t nb;		/* NACK: PID/BLP words; FIR: 8-byte entries; REMB: SSRCs */
	uint64_t remb_bps;	/* REMB: the bitrate (mantissa << exponent; UINT64_MAX past it) */
};

/**
 * What feedback packet @p k (from mf_rtcp_parse over @p compound) is. Lengths are checked
 * against what each kind needs: a FIR or NACK whose FCI is not whole entries, or a REMB
 * whose SSRC count does not fit, is -MF_PKT_E_RTCP_BODY.
 */
int mf_rtcp_fb_parse(const uint8_t *compound, const struct mf_rtcp_pkt *k, struct mf_rtcp_fb *fb);

enum mf_demux_kind {
	MF_DEMUX_STUN = 1,	/* first byte 0-3 */
	MF_DEMUX_ZRTP,		/* 16-19 */
	MF_DEMUX_DTLS,		/* 20-63 */
	MF_DEMUX_TURN,		/* 64-79: TURN channel data */
	MF_DEMUX_RTP,		/* 128-191, second byte's type not an RTCP one */
	MF_DEMUX_RTCP,		/* 128-191, packet type 192-223 (RFC 5761) */
	MF_DEMUX_UNKNOWN,
};

/** Classify a datagram by RFC 7983. @return enum mf_demux_kind, or -MF_PKT_E_DEMUX_EMPTY. */
int mf_demux_classify(const uint8_t *p, size_t len);

#endif /* MF_RTP_H */
