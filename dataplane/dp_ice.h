/* SPDX-License-Identifier: BSD-3-Clause */
/* ICE-lite on the control lcore (dp_ice.c): called by the slow path and the timers. */
#ifndef DP_ICE_H
#define DP_ICE_H

#include "dp.h"

/** A STUN message punted from an ICE session's port, parsed to UDP in @p l4: answered, or
 * counted and freed. */
void dp_ice_input(struct dp_port *p, struct rte_mbuf *m, const struct mf_pkt_l4 *l4,
		  uint64_t now);
/** End the pairs whose peers stopped checking (RFC 7675). */
void dp_ice_consent(uint64_t now);

#endif /* DP_ICE_H */
