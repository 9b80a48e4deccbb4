/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SDP (RFC 8866) as WebRTC peers offer it (RFC 8829/8843), and the answers mfwd gives: a
 * strict, bounded parser of untrusted offers and an answer builder for what mfwd supports:
 * one BUNDLE transport, rtcp-mux, ICE-lite, DTLS-SRTP with mfwd passive, H.264 / VP8 / VP9 /
 * AV1 / Opus / PCMU / PCMA, rtcp-fb nack / nack pli / ccm fir, no header extensions. Every
 * refusal names the offer's line. Pure: no I/O, no allocation; the caller owns the text.
 */
#ifndef MF_SDP_H
#define MF_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mf/mf_session.h"

#define MF_SDP_MAX_LEN		65536	/* a longer offer is refused */
#define MF_SDP_MAX_LINE		4096
#define MF_SDP_MAX_MEDIA	8	/* m-sections */
#define MF_SDP_MAX_FMT		64	/* payload types on one m= line */
#define MF_SDP_MAX_SSRC		8	/* a=ssrc values of one m-section */
#define MF_SDP_MID_MAX		33	/* a=mid: 1..32 characters, with NUL */
#define MF_SDP_ERR_MAX		192

enum mf_sdp_codec {
	MF_SDP_C_OTHER = 0,	/* a name mfwd does not forward (rtx, red, ulpfec, ...) */
	MF_SDP_C_H264,
	MF_SDP_C_VP8,
	MF_SDP_C_VP9,
	MF_SDP_C_AV1,
	MF_SDP_C_OPUS,
	MF_SDP_C_PCMU,
	MF_SDP_C_PCMA,
	MF_SDP_C_MAX
};

enum mf_sdp_kind { MF_SDP_AUDIO = 1, MF_SDP_VIDEO, MF_SDP_APPLICATION };

enum mf_sdp_dir {
	MF_SDP_SENDRECV = 0,	/* the default (RFC 8866 §6.7) */
	MF_SDP_SENDONLY,
	MF_SDP_RECVONLY,
	MF_SDP_INACTIVE,
};

enum mf_sdp_setup { MF_SDP_SETUP_NONE = 0, MF_SDP_SETUP_ACTPASS, MF_SDP_SETUP_ACTIVE,
		    MF_SDP_SETUP_PASSIVE, MF_SDP_SETUP_HOLDCONN };

/* a=rtcp-fb values mfwd serves (others are ignored). */
#define MF_SDP_FB_NACK	0x01	/* nack: Generic NACK, repaired from the NACK buffer */
#define MF_SDP_FB_PLI	0x02	/* nack pli */
#define MF_SDP_FB_FIR	0x04	/* ccm fir */

/* One payload type of an m-section. The fmtp is a slice of the offer's text. */
struct mf_sdp_fmt {
	uint8_t pt;
	uint8_t codec;		/* enum mf_sdp_codec */
	uint8_t channels;	/* audio: 1 unless the rtpmap says 2 */
	uint8_t fb;		/* MF_SDP_FB_* */
	bool has_rtpmap;
	uint8_t h264_mode;	/* packetization-mode (0 or 1) */
	uint8_t profile;	/* H.264 profile_idc, VP9 profile-id, AV1 profile */
	uint32_t clock;
	uint32_t fmtp_off;	/* a=fmtp's parameters in the text; len 0: none */
	uint16_t fmtp_len;
};

struct mf_sdp_media {
	uint8_t kind;		/* enum mf_sdp_kind */
	uint8_t dir;		/* enum mf_sdp_dir */
	bool rtcp_mux;
	bool rtcp_rsize;
	bool crypto;		/* a=crypto (SDES) was offered */
	bool bundle_only;
	bool fingerprint_set;
	bool srtp;		/* UDP/TLS/RTP/SAVP(F); application: UDP/DTLS/SCTP */
	uint16_t port;		/* 0: the offerer rejected or disabled it */
	uint16_t line;		/* the m= line's number (1-based) */
	uint8_t setup;		/* enum mf_sdp_setup, media-level */
	uint8_t nb_fmt;
	uint8_t nb_ssrc;
	char mid[MF_SDP_MID_MAX];
	bool pwd_set;
	char ufrag[MF_ICE_UFRAG_MAX];	/* media-level ICE credentials, if any */
	uint8_t fingerprint[MF_DTLS_FP_LEN];
	char name[16];		/* the m= line's media, proto and first format: a rejection */
	char proto[24];		/* repeats them */
	char fmt0[24];
	uint32_t ssrc[MF_SDP_MAX_SSRC];	/* in order of first appearance */
	struct mf_sdp_fmt fmt[MF_SDP_MAX_FMT];
};

/* A parsed offer. Session-level transport attributes apply to m-sections without their own. */
struct mf_sdp {
	const char *text;
	size_t len;
	bool ice_lite;
	bool fingerprint_set;
	uint8_t setup;
	uint8_t nb_media;
	uint8_t nb_bundle;		/* mids in a=group:BUNDLE */
	uint8_t bundle[MF_SDP_MAX_MEDIA];	/* their m-section indexes */
	bool pwd_set;			/* the peer's password: checked, not kept (ICE-lite) */
	char ufrag[MF_ICE_UFRAG_MAX];
	uint8_t fingerprint[MF_DTLS_FP_LEN];
	struct mf_sdp_media media[MF_SDP_MAX_MEDIA];
};

/* What the parser or the answer refused: the offer's line (0: the whole offer) and why. */
struct mf_sdp_err {
	unsigned int line;
	char msg[MF_SDP_ERR_MAX];
};

/**
 * Parse an offer from untrusted text (lines end in CRLF or LF; at most MF_SDP_MAX_LEN).
 * v=0, o= and s= first; t= before the first m=; every line "<letter>=<value>" of a type RFC
 * 8866 defines (any other is refused); attributes mfwd does not read are skipped. Every
 * bound above is enforced; what follows the a=mid of BUNDLE must name m-sections of the
 * offer. @p sdp keeps a pointer to @p text. @return 0, or -EINVAL/-E2BIG with @p err set.
 */
int mf_sdp_parse(const char *text, size_t len, struct mf_sdp *sdp, struct mf_sdp_err *err);

/** The ICE credentials, fingerprint and setup that apply to m-section @p m. */
const char *mf_sdp_ufrag(const struct mf_sdp *sdp, const struct mf_sdp_media *m);
const uint8_t *mf_sdp_fingerprint(const struct mf_sdp *sdp, const struct mf_sdp_media *m);
unsigned int mf_sdp_setup(const struct mf_sdp *sdp, const struct mf_sdp_media *m);

/** "H264", "VP8", ... (the rtpmap encoding name); "" for MF_SDP_C_OTHER. */
const char *mf_sdp_codec_name(unsigned int codec);

/** The key-frame classifier's codec (enum mf_codec) of a video codec; MF_CODEC_NONE else. */
unsigned int mf_sdp_codec_kf(unsigned int codec);

/* What mfwd does on the answer's transport. */
enum mf_sdp_role {
	MF_SDP_PUBLISH = 1,	/* the offerer sends media to mfwd: answered recvonly */
	MF_SDP_SUBSCRIBE,	/* mfwd sends to the offerer: answered sendonly */
};

/* A codec the answer may choose: for a publish what mfwd accepts, for a subscribe what the
 * stream's publisher sends (its payload type then maps to the viewer's). */
struct mf_sdp_cap {
	uint8_t kind;		/* enum mf_sdp_kind */
	uint8_t codec;		/* enum mf_sdp_codec */
	uint8_t pt;		/* the publisher's payload type (subscribe) */
	uint8_t h264_mode;	/* H.264: the packetization-mode that must match */
	uint8_t profile;	/* H.264 profile_idc (0: any), VP9/AV1 profile */
	uint32_t ssrc;		/* subscribe: the SSRC mfwd sends this kind as */
};

struct mf_sdp_local {
	unsigned int role;		/* enum mf_sdp_role */
	const char *ufrag;		/* ours, 4..32 ice-chars */
	const char *pwd;		/* ours, 22..64 */
	const char *fingerprint;	/* "sha-256 AB:..." of our certificate */
	const char *addr;		/* the host candidate: an IPv4 or IPv6 address */
	uint16_t port;
	uint64_t session_id;		/* o= */
	const char *cname;		/* subscribe: a=ssrc cname */
	unsigned int nb_cap;
	const struct mf_sdp_cap *cap;
};

/* What the answer agreed for one m-section of the offer. */
struct mf_sdp_agreed {
	bool accepted;		/* false: answered with port 0 */
	uint8_t codec;		/* enum mf_sdp_codec */
	uint8_t pt;		/* the offerer's payload type */
	uint8_t cap_pt;		/* the chosen mf_sdp_cap's pt */
	uint8_t fb;		/* MF_SDP_FB_* both sides have */
	uint32_t clock;
	uint32_t ssrc;		/* publish: the offerer's first a=ssrc (0: none); subscribe: ours */
	char why[96];		/* not accepted: why */
};

/**
 * Answer @p offer (RFC 8829 §5.3): each m-section mfwd can serve gets the first of the
 * offerer's formats (in its order of preference) that a capability of its kind matches, and
 * the rtcp-fb both have; the others are rejected with port 0 and a reason in @p agreed. All
 * accepted m-sections share one transport (BUNDLE): ICE-lite with one host candidate, DTLS
 * passive. The offer must be a WebRTC offer (UDP/TLS/RTP/SAVPF, rtcp-mux, ICE credentials,
 * a SHA-256 fingerprint, setup actpass or active, BUNDLE over several m-sections). @p agreed
 * has an entry per offered m-section. @return the answer's length, or -EINVAL (nothing
 * acceptable, @p err names the line) / -ENOSPC (@p cap too small).
 */
int mf_sdp_answer(const struct mf_sdp *offer, const struct mf_sdp_local *local, char *out,
		  size_t cap, struct mf_sdp_agreed agreed[MF_SDP_MAX_MEDIA],
		  struct mf_sdp_err *err);

#endif /* MF_SDP_H */
