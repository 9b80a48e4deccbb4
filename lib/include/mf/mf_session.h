/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session model: what a session is asked to do, as a fixed-size C structure that
 * crosses the shared-memory channel as it is, and its strict JSON codec.
 *
 * A session has one ingress (a dataplane port, a local address and UDP port, a kind, who may
 * send, clock rates and optional SRTP) and up to MF_SESS_MAX_OUTPUTS outputs (a port, a
 * destination, rewrites, optional SRTP, paused), plus limits. See docs/control-api.md for
 * the JSON schema.
 */
#ifndef MF_SESSION_H
#define MF_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MF_SESS_ID_MAX		48	/* with its NUL */
#define MF_OUT_ID_MAX		16	/* with its NUL */
/* Besides letters and digits, what an identifier may hold: printable, and safe in MQTT
 * topics (no wildcard) and file names. */
#define MF_SESS_ID_PUNCT	"-_.:"
#define MF_SESS_MAX_OUTPUTS	128
#define MF_SESS_MAX_CLOCKS	16
#define MF_SESS_MAX_PT_MAP	8
#define MF_SESS_MAX_PIDS	32
#define MF_SESS_MAX_CODECS	8
#define MF_SESS_KF_INTERVAL_MS	1000	/* limits.keyframe_interval_ms by default */
#define MF_GOP_MAX_FRAMES	300	/* ingress.gop_cache defaults */
#define MF_GOP_MAX_BYTES	(4u << 20)
#define MF_GOP_MAX_MS		10000
#define MF_NACK_PKTS		256	/* outputs[].nack defaults */
#define MF_NACK_BUFFER_MS	1000
#define MF_NACK_RTT_MS		100
#define MF_MAX_PORTS		32
#define MF_SRTP_MAX_KEY		32
#define MF_SRTP_MAX_SALT	14
#define MF_ICE_UFRAG_MAX	33	/* 4..32 characters (RFC 8445 allows 256), with NUL */
#define MF_ICE_PWD_MAX		65	/* 22..64 characters, with NUL */
#define MF_ICE_CONSENT_MS	30000	/* RFC 7675: consent ends 30 s after the last check */

enum mf_sess_kind {
	MF_SESS_RTP = 1,	/* RTP on udp_port, RTCP on udp_port + 1 */
	MF_SESS_RTP_MUX,	/* RTP and RTCP on one port (RFC 5761) */
	MF_SESS_MPEGTS,		/* MPEG-TS straight over UDP */
	MF_SESS_RTP_MPEGTS,	/* RTP carrying MPEG-TS (RFC 2250, PT 33) */
	MF_SESS_UDP,		/* any UDP payload, relayed as it is */
};

enum mf_src_mode {
	MF_SRC_ANY = 0,		/* accept any sender */
	MF_SRC_FIXED,		/* only the given address (and port, unless 0) */
	MF_SRC_LATCH,		/* the first sender, then only it */
	MF_SRC_ICE,		/* the address the ICE peer nominated (ingress.ice) */
};

enum mf_srtp_suite {
	MF_SRTP_NONE = 0,
	MF_SRTP_AES_CM_128_HMAC_SHA1_80,
	MF_SRTP_AES_CM_128_HMAC_SHA1_32,
	MF_SRTP_AEAD_AES_128_GCM,
	MF_SRTP_AEAD_AES_256_GCM,
	MF_SRTP_SUITE_MAX
};

struct mf_addr {
	uint8_t family;		/* 0 none, 4 or 6 */
	uint8_t reserved[3];
	uint8_t a[16];		/* IPv4 in the first 4 bytes, network order */
};

struct mf_srtp_params {
	uint8_t suite;		/* enum mf_srtp_suite; MF_SRTP_NONE = plain RTP */
	uint8_t key_len;
	uint8_t salt_len;
	uint8_t reserved;
	uint32_t roc;		/* initial rollover counter */
	uint8_t key[MF_SRTP_MAX_KEY];
	uint8_t salt[MF_SRTP_MAX_SALT];
	uint8_t reserved2[2];
};

struct mf_clock_rate {
	uint8_t pt;
	uint8_t reserved[3];
	uint32_t rate;		/* Hz */
};

/* What the dataplane sends the media source when an output needs a key frame. */
enum mf_kf_request {
	MF_KF_REQ_PLI = 0,	/* RFC 4585 Picture Loss Indication (the default) */
	MF_KF_REQ_FIR,		/* RFC 5104 Full Intra Request */
	MF_KF_REQ_NONE,
};

/* An ICE-lite endpoint (RFC 8445 §2.5): mfwd answers the peer's connectivity checks on the
 * endpoint's UDP port, and the pair the peer nominates becomes the ingress's source or the
 * output's destination. ufrag[0] == '\0': no ICE. */
struct mf_ice_cred {
	char ufrag[MF_ICE_UFRAG_MAX];		/* ours */
	char remote_ufrag[MF_ICE_UFRAG_MAX];	/* the peer's */
	char pwd[MF_ICE_PWD_MAX];		/* ours: the peer's checks are signed with it */
	uint8_t reserved;
	uint32_t consent_timeout_ms;		/* no valid check this long: consent lost */
};

/* DTLS-SRTP (RFC 5763, 5764) on an ICE endpoint: mfwd is the DTLS server (SDP
 * "a=setup:passive"), the peer's certificate must have this SHA-256 fingerprint, and the
 * keys the handshake exports become the endpoint's SRTP. on == 0: none. */
#define MF_SESS_MAX_KBPS	100000000	/* limits.max_kbps */
#define MF_DTLS_FP_LEN	32	/* SHA-256 */
#define MF_DTLS_FP_STR	(8 + 3 * MF_DTLS_FP_LEN)	/* "sha-256 AB:...:EF" and NUL */

struct mf_dtls_cfg {
	uint8_t on;
	uint8_t reserved[3];
	uint8_t fingerprint[MF_DTLS_FP_LEN];	/* SHA-256 of the peer's certificate (DER) */
};

struct mf_codec_pt {
	uint8_t pt;
	uint8_t codec;		/* enum mf_codec (mf_keyframe.h) */
};

struct mf_sess_ingress {
	uint16_t port;		/* dataplane port index */
	uint16_t udp_port;	/* local UDP port */
	struct mf_addr local;	/* local address, one of the port's */
	uint8_t src_mode;	/* enum mf_src_mode */
	uint8_t nb_clock;
	uint16_t src_port;	/* MF_SRC_FIXED: 0 = any port */
	struct mf_addr src;	/* MF_SRC_FIXED */
	struct mf_clock_rate clock[MF_SESS_MAX_CLOCKS];
	struct mf_srtp_params srtp;
	uint8_t nb_codecs;
	uint8_t kf_request;	/* enum mf_kf_request */
	uint16_t gop_max_frames;	/* GOP cache: 0 = none */
	struct mf_codec_pt codecs[MF_SESS_MAX_CODECS];	/* the video payload types' codecs */
	uint32_t gop_max_bytes;
	uint32_t gop_max_ms;
	struct mf_ice_cred ice;	/* a publishing WebRTC peer */
	struct mf_dtls_cfg dtls;	/* its keys, with ice */
};

#define MF_OUT_F_PAUSED		0x01
#define MF_OUT_F_SSRC		0x02	/* rewrite the SSRC to ssrc */
#define MF_OUT_F_DROP_NULL	0x04	/* MPEG-TS: remove null packets */

/* When an output starts sending (and starts again after a pause). */
enum mf_out_start {
	MF_OUT_START_IMMEDIATE = 0,	/* with the next packet */
	MF_OUT_START_KEYFRAME,		/* with the next key frame, asking the source for one */
	MF_OUT_START_GOP,		/* with the GOP cache, then live; else as KEYFRAME */
};

struct mf_pt_map {
	uint8_t from;
	uint8_t to;
};

/* What sending a packet reads comes first, up to dst (the dataplane keeps it in an
 * output's first two cache lines); the payload-type bitmap, read only by an output that
 * filters, follows. */
struct mf_sess_output {
	uint16_t port;		/* dataplane port index */
	uint16_t src_port;	/* UDP source port; 0 = the ingress udp_port */
	uint16_t dst_port;
	/* NACK repair: the last nack_pkts packets sent, resent on a receiver's Generic NACK
	 * while younger than nack_buffer_ms, a packet at most once per nack_rtt_ms; 0 = off. */
	uint16_t nack_pkts;
	uint8_t flags;		/* MF_OUT_F_* */
	uint8_t nb_pt_map;
	uint8_t nb_pids;	/* 0 = every PID */
	uint8_t start;		/* enum mf_out_start */
	uint32_t ssrc;
	struct mf_addr dst;
	uint8_t pt_allow[16];	/* bitmap of the payload types forwarded */
	uint16_t nack_buffer_ms;
	uint16_t nack_rtt_ms;
	char id[MF_OUT_ID_MAX];
	struct mf_pt_map pt_map[MF_SESS_MAX_PT_MAP];
	uint16_t pids[MF_SESS_MAX_PIDS];
	struct mf_srtp_params srtp;
	/* What the receiver protects its RTCP with (its own SDES key): to read its feedback. */
	struct mf_srtp_params receiver_srtp;
	/* A WebRTC viewer: with ICE, dst and dst_port are the nominated pair's (none until
	 * then: the output sends nothing). */
	struct mf_ice_cred ice;
	struct mf_dtls_cfg dtls;	/* the viewer's keys, with ice */
};

struct mf_sess_limits {
	uint32_t idle_timeout_ms;	/* no ingress this long: an idle event; 0 = never */
	uint32_t timeout_s;		/* removed this long after creation; 0 = never */
	uint32_t max_kbps;		/* ingress rate above which packets drop; 0 = no limit */
	uint32_t keyframe_interval_ms;	/* at most one key-frame request a source this often */
};

#define MF_SESS_F_BLOCKED	0x01	/* ingress dropped (and counted), outputs kept */

struct mf_sess_spec {
	char id[MF_SESS_ID_MAX];
	uint8_t kind;		/* enum mf_sess_kind */
	uint8_t nb_outputs;
	uint8_t flags;		/* MF_SESS_F_* */
	uint8_t reserved;
	struct mf_sess_ingress ingress;
	struct mf_sess_limits limits;
	struct mf_sess_output outputs[MF_SESS_MAX_OUTPUTS];
};

_Static_assert(sizeof(struct mf_addr) == 20, "session layout is ABI");
_Static_assert(sizeof(struct mf_srtp_params) == 56, "session layout is ABI");
_Static_assert(sizeof(struct mf_ice_cred) == 136, "session layout is ABI");
_Static_assert(sizeof(struct mf_dtls_cfg) == 36, "session layout is ABI");
_Static_assert(sizeof(struct mf_sess_output) == 436, "session layout is ABI");
_Static_assert(sizeof(struct mf_sess_spec) == 56308, "session layout is ABI");

/** The bytes of @p spec up to its last output: what crosses the channel (a spec of a few
 *  outputs is a few hundred bytes of the whole's 55 KiB). */
static inline size_t
mf_sess_spec_size(const struct mf_sess_spec *spec)
{
	return offsetof(struct mf_sess_spec, outputs) +
	       (size_t)spec->nb_outputs * sizeof(spec->outputs[0]);
}

/* ---- errors of the codec ---- */

#define MF_SESS_ERRORS(X) \
	X(BAD_JSON,	"bad_json",	"not valid JSON") \
	X(WRONG_TYPE,	"wrong_type",	"wrong JSON type") \
	X(UNKNOWN_KEY,	"unknown_key",	"unknown key") \
	X(MISSING,	"missing",	"required field missing") \
	X(RANGE,	"out_of_range",	"value out of range") \
	X(BAD_VALUE,	"bad_value",	"value not allowed") \
	X(DUPLICATE,	"duplicate",	"duplicate value") \
	X(TOO_MANY,	"too_many",	"too many elements")

enum mf_sess_errcode {
	MF_SESS_E_NONE = 0,
#define X(name, code, desc) MF_SESS_E_##name,
	MF_SESS_ERRORS(X)
#undef X
};

struct mf_sess_err {
	int code;		/* enum mf_sess_errcode */
	char path[128];		/* JSON path of the offending field, e.g. outputs[2].ssrc */
	char msg[192];		/* what is wrong, for a human */
};

/** Stable error code string ("unknown_key") for replies. */
const char *mf_sess_errcode_str(int code);

/* ---- names ---- */

const char *mf_sess_kind_str(unsigned int kind);
/** The codec of payload type @p pt in the ingress (enum mf_codec; 0 none). */
unsigned int mf_sess_codec_of(const struct mf_sess_ingress *in, uint8_t pt);
/** Whether output @p o forwards every payload type (its pt_allow bitmap all ones). */
bool mf_sess_output_pt_all(const struct mf_sess_output *o);
const char *mf_srtp_suite_str(unsigned int suite);
/** Key and salt lengths of a suite. @return false for an unknown suite. */
bool mf_srtp_suite_lens(unsigned int suite, uint8_t *key_len, uint8_t *salt_len);
/** Bytes of the SRTP authentication tag of a suite (0: none or unknown). */
unsigned int mf_srtp_suite_tag_len(unsigned int suite);
/** RTP-based kinds (RTP, RTP-mux, RTP/MPEG-TS). */
bool mf_sess_kind_is_rtp(unsigned int kind);
bool mf_sess_kind_is_ts(unsigned int kind);
/** A session id as a spec's "id" must be: 1..MF_SESS_ID_MAX-1 letters, digits and
 *  MF_SESS_ID_PUNCT. */
bool mf_sess_id_ok(const char *id);

/** Address to text. @return @p buf. */
const char *mf_addr_str(const struct mf_addr *a, char *buf, size_t len);
/** Text to address. @return 0 or -EINVAL. */
int mf_addr_parse(const char *s, struct mf_addr *a);
bool mf_addr_equal(const struct mf_addr *x, const struct mf_addr *y);

/* ---- JSON codec ---- */

struct json_t;

/**
 * Decode and validate a session spec. Strict: unknown keys, wrong types, out-of-range and
 * inconsistent values are refused; @p err names the JSON path of the first offender.
 * @return 0, or -EINVAL with @p err filled. @p spec is zeroed first and undefined on error.
 */
int mf_sess_from_json(const struct json_t *root, struct mf_sess_spec *spec,
		      struct mf_sess_err *err);
/** Same, from text. */
int mf_sess_from_text(const char *text, size_t len, struct mf_sess_spec *spec,
		      struct mf_sess_err *err);

/** Decode one output object (session.update adds outputs one by one). */
int mf_sess_output_from_json(const struct json_t *obj, unsigned int kind,
			     struct mf_sess_output *out, struct mf_sess_err *err);

/** Decode SRTP parameters alone (session.update re-keys with them); JSON null = no SRTP. */
/** SDP's "sha-256 AB:CD:..." (RFC 8122) to 32 bytes. @return 0, -EINVAL. */
int mf_dtls_fingerprint_parse(const char *str, uint8_t fp[MF_DTLS_FP_LEN]);
/** And back, upper-case. */
void mf_dtls_fingerprint_str(const uint8_t fp[MF_DTLS_FP_LEN], char out[MF_DTLS_FP_STR]);
int mf_srtp_params_from_json(const struct json_t *v, unsigned int kind,
			     struct mf_srtp_params *out, struct mf_sess_err *err);

#define MF_SESS_JSON_KEYS	0x1	/* include SRTP keys (journal only; never in replies) */

/** Encode a spec. @return a new reference, or NULL on allocation failure. */
struct json_t *mf_sess_to_json(const struct mf_sess_spec *spec, unsigned int flags);
struct json_t *mf_sess_output_to_json(const struct mf_sess_output *o, unsigned int kind,
				      unsigned int flags);

/** Wipe the key material of a spec (before freeing or reusing it): keys, salts and ICE
 * passwords of the ingress and of its nb_outputs outputs; the suites and ROCs stay, so a
 * reply can say what protects a session without saying how. The outputs past nb_outputs
 * must hold no key: whatever writes one there (a decoder that fails, an output removed)
 * zeroes it. */
void mf_sess_wipe_keys(struct mf_sess_spec *spec);
/** The counts and strings of a binary @p spec within their arrays, its output ids distinct:
 *  what the JSON decoder makes sure of, checked again where a spec arrives in binary (the
 *  dataplane's channel). @return 0, or -EINVAL with why in @p detail. */
int mf_sess_spec_bounds(const struct mf_sess_spec *spec, char *detail, size_t len);
/** Whether @p spec has a secret mf_sess_wipe_keys() wipes: an SRTP key (SDES) or an ICE
 *  password, on the ingress or an output. */
bool mf_sess_has_keys(const struct mf_sess_spec *spec);
/** The same for the ingress and the first @p nb_outputs outputs (at most all of them):
 *  a spec a decoder left half-written. */
void mf_sess_wipe_keys_n(struct mf_sess_spec *spec, unsigned int nb_outputs);

/** Base64 (RFC 4648, padded). @return bytes decoded, or -EINVAL. */
int mf_base64_decode(const char *in, size_t in_len, uint8_t *out, size_t cap);
/** @return characters written (NUL excluded), or -ENOSPC. */
int mf_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap);

#endif /* MF_SESSION_H */
