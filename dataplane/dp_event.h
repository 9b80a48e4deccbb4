/* SPDX-License-Identifier: BSD-3-Clause */
/* Session and node events (dp_event.c): posted by workers, sent by the control lcore. */
#ifndef DP_EVENT_H
#define DP_EVENT_H

#include "dp.h"

/** Worker @p lc: queue an event for the control lcore; a full ring or pool counts
 * events_lost. */
void dp_event_post(struct dp_lcore *lc, enum mf_event_kind kind, const char *id,
		   const struct mf_addr *src, uint16_t src_port, uint32_t ssrc);
/** Control lcore: send an event on the channel now. */
void dp_event(enum mf_event_kind kind, const char *id, const struct mf_addr *src,
	      uint16_t src_port, uint32_t ssrc);
/** Control lcore: send an event about output @p output of session @p id (NULL: its
 * ingress) now. */
void dp_event_output(enum mf_event_kind kind, const char *id, const char *output,
		     const struct mf_addr *src, uint16_t src_port);
/** Control lcore: send an event of session @p id with a count (capture.done) now. */
void dp_event_count(enum mf_event_kind kind, const char *id, uint64_t count);
/** Control lcore: send the events worker @p lc posted. @return how many. */
unsigned int dp_event_drain(struct dp_lcore *lc);

#endif /* DP_EVENT_H */
