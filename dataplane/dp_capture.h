/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Session capture: what a worker does for a packet of a session being captured (a copy
 * into the capture ring, never a wait), and the control lcore's side (dp_capture.c).
 */
#ifndef DP_CAPTURE_H
#define DP_CAPTURE_H

#include <rte_pcapng.h>
#include <rte_ring.h>

#include "dp.h"

/** Worker: a copy of frame @p m, received (@p out false) or sent on port index @p port,
 * for the capture. A full ring or pool loses the copy (capture_dropped), never @p m. */
static inline void
dp_capture_copy(struct dp_lcore *lc, const struct rte_mbuf *m, uint16_t port, bool out)
{
	struct rte_mbuf *c = rte_pcapng_copy(dp.ports[port].port_id, out ? lc->txq : 0, m,
					     dp.cap.pool, dp.cap.snaplen, rte_rdtsc(),
					     out ? RTE_PCAPNG_DIRECTION_OUT :
						   RTE_PCAPNG_DIRECTION_IN);

	if (unlikely(c == NULL || rte_ring_mp_enqueue(dp.cap.ring, c) != 0)) {
		rte_pktmbuf_free(c);
		lc->ctr[DP_CTR_capture_dropped]++;
		return;
	}
	lc->ctr[DP_CTR_capture_pkts]++;
}

/** Control lcore: start capturing as @p c asks; the file's path goes to @p path.
 * @return 0, or -ENOENT (no session), -EBUSY (a capture runs), -EINVAL, -EEXIST (the file
 * exists), -ENOMEM, or an errno of the file, with @p detail set. */
int dp_capture_start(const struct mf_msg_capture *c, char *path, char *detail, size_t len);
/** Control lcore, on the timer: a capture whose writer ended is closed, its session stops
 * copying, and capture.done is sent. */
void dp_capture_poll(void);
/** Teardown: a running capture ends now; the ring and pool go. */
void dp_capture_fini(void);

#endif /* DP_CAPTURE_H */
