/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libsrtp2, the reference, set up from our SRTP parameters: for the tests that compare our
 * transform with it and for the traffic generator, which protects with it. Header-only:
 * only what links libsrtp2 includes it (the dataplane does not).
 */
#ifndef MF_SRTP_REF_H
#define MF_SRTP_REF_H

#include <string.h>

#include <srtp2/srtp.h>

#include "mf/mf_session.h"

static const srtp_profile_t mf_srtp_ref_profiles[MF_SRTP_SUITE_MAX] = {
	[MF_SRTP_AES_CM_128_HMAC_SHA1_80] = srtp_profile_aes128_cm_sha1_80,
	[MF_SRTP_AES_CM_128_HMAC_SHA1_32] = srtp_profile_aes128_cm_sha1_32,
	[MF_SRTP_AEAD_AES_128_GCM] = srtp_profile_aead_aes_128_gcm,
	[MF_SRTP_AEAD_AES_256_GCM] = srtp_profile_aead_aes_256_gcm,
};

/**
 * A libsrtp2 session for @p p: ssrc_any_outbound or _inbound, or, with @p ssrc != 0, that
 * one SSRC (whose ROC is then set to p->roc). @return NULL on failure.
 */
static inline srtp_t
mf_srtp_ref_session(const struct mf_srtp_params *p, int outbound, uint32_t ssrc,
		    unsigned long window)
{
	uint8_t key[MF_SRTP_MAX_KEY + MF_SRTP_MAX_SALT];
	srtp_policy_t pol;
	srtp_t s = NULL;

	if (p->suite == MF_SRTP_NONE || p->suite >= MF_SRTP_SUITE_MAX)
		return NULL;
	memset(&pol, 0, sizeof(pol));
	srtp_crypto_policy_set_from_profile_for_rtp(&pol.rtp, mf_srtp_ref_profiles[p->suite]);
	srtp_crypto_policy_set_from_profile_for_rtcp(&pol.rtcp, mf_srtp_ref_profiles[p->suite]);
	memcpy(key, p->key, p->key_len);
	memcpy(key + p->key_len, p->salt, p->salt_len);
	pol.key = key;
	pol.window_size = window;
	if (ssrc != 0) {
		pol.ssrc.type = ssrc_specific;
		pol.ssrc.value = ssrc;
	} else {
		pol.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
	}
	if (srtp_create(&s, &pol) != srtp_err_status_ok)
		s = NULL;
	else if (ssrc != 0 && p->roc != 0 && srtp_set_stream_roc(s, ssrc, p->roc) != srtp_err_status_ok) {
		srtp_dealloc(s);
		s = NULL;
	}
	explicit_bzero(key, sizeof(key));
	return s;
}

#endif /* MF_SRTP_REF_H */
