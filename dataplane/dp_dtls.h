/* SPDX-License-Identifier: BSD-3-Clause */
/* DTLS-SRTP on the control lcore (dp_dtls.c): called by the slow path, the timers and the
 * node info command. */
#ifndef DP_DTLS_H
#define DP_DTLS_H

#include "dp.h"

/** Our certificate and the DTLS context. @return 0, -ENOMEM or -EIO (OpenSSL, logged). */
int dp_dtls_init(void);
void dp_dtls_fini(void);
/** A DTLS datagram punted from a DTLS session's port, parsed to UDP in @p l4: fed to its
 * endpoint's handshake, or counted and freed. Consumes @p m. */
void dp_dtls_input(struct dp_port *p, struct rte_mbuf *m, const struct mf_pkt_l4 *l4,
		   uint64_t now);
/** Retransmit flights whose answer is late (RFC 6347 §4.2.4). */
void dp_dtls_timer(uint64_t now);
/** Our certificate's SHA-256 fingerprint as SDP writes it ("sha-256 AB:..."). */
const char *dp_dtls_fingerprint(void);

#endif /* DP_DTLS_H */
