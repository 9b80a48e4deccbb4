/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SRTP and SRTCP (RFC 3711, RFC 7714) for the fast path: our own transform on OpenSSL's
 * primitives, byte-identical to libsrtp2 (tests/unit/test_srtp.c proves it).
 *
 * Why not libsrtp2 itself: Debian builds it on NSS, whose per-packet context set-up costs
 * about 3.7 us, so one core protects 0.27 Mpps with AES_CM_128_HMAC_SHA1_80. Here a context
 * keeps its keyed AES schedule and the HMAC-SHA1 inner and outer states from key time, so a
 * packet costs one AES call and two SHA-1 updates (AES-NI, SHA-NI).
 *
 * A context holds one SDES master key (suite, key, salt, initial ROC), the session keys
 * derived from it (KDF with key derivation rate 0), and up to MF_SRTP_MAX_STREAMS streams by
 * SSRC (ROC, 128-packet replay window, SRTCP index), as libsrtp's ssrc_any policies do.
 * A context is used by one thread at a time; it allocates only when created.
 */
#ifndef MF_SRTP_H
#define MF_SRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mf/mf_session.h"

#define MF_SRTP_MAX_STREAMS	8	/* SSRCs per context (BUNDLE: audio, video, RTX...) */
#define MF_SRTP_REPLAY_WINDOW	128	/* packets, as libsrtp's default */

#define MF_SRTP_ERRORS(X) \
	X(SHORT,	"too short, or not RTP/RTCP") \
	X(AUTH,		"authentication failed") \
	X(REPLAY,	"replayed, or older than the replay window") \
	X(ROOM,		"no room for the trailer") \
	X(CRYPTO,	"crypto library error")

enum mf_srtp_err {
	MF_SRTP_E_NONE = 0,
#define X(name, desc) MF_SRTP_E_##name,
	MF_SRTP_ERRORS(X)
#undef X
	MF_SRTP_E_MAX
};

struct mf_srtp;

/**
 * A context for @p p (its key is copied, the caller may wipe its own).
 * @return 0, -EINVAL (unknown suite, wrong key or salt length), -ENOMEM or -EIO (OpenSSL).
 */
int mf_srtp_create(const struct mf_srtp_params *p, struct mf_srtp **out);
/** Free a context, wiping every key. Accepts NULL. */
void mf_srtp_destroy(struct mf_srtp *c);
/** Does @p c hold exactly the master key, suite and ROC of @p p? */
bool mf_srtp_same_params(const struct mf_srtp *c, const struct mf_srtp_params *p);
/** Bytes protect adds: RTP (the tag) or RTCP (tag, E flag and index). */
unsigned int mf_srtp_overhead(const struct mf_srtp *c, bool rtcp);

/*
 * In place. @p len is the packet's length on entry and on return; protect needs @p cap
 * (the buffer's size) >= len + mf_srtp_overhead(). Each returns 0 or -MF_SRTP_E_*; on an
 * error the context is unchanged (an unauthenticated packet never moves a window or creates
 * a stream) and the packet must be dropped.
 */
int mf_srtp_protect(struct mf_srtp *c, uint8_t *pkt, size_t *len, size_t cap);
int mf_srtp_unprotect(struct mf_srtp *c, uint8_t *pkt, size_t *len);
int mf_srtcp_protect(struct mf_srtp *c, uint8_t *pkt, size_t *len, size_t cap);
int mf_srtcp_unprotect(struct mf_srtp *c, uint8_t *pkt, size_t *len);

/** What -MF_SRTP_E_<x> means. */
const char *mf_srtp_strerror(int rc);

#endif /* MF_SRTP_H */
