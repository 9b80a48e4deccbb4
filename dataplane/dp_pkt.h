/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-packet context of the worker pipeline: inputs (the mbuf and what the parsers
 * found), verdicts (what the packet is within its session), and scratch the fan-out
 * reuses across outputs.
 */
#ifndef DP_PKT_H
#define DP_PKT_H

#include "dp.h"
#include "mf/mf_rtp.h"

enum dp_what {
	DP_WHAT_UDP = 0,
	DP_WHAT_RTP,
	DP_WHAT_RTCP,
	DP_WHAT_TS,
};

struct dp_pkt {
	/* inputs */
	struct rte_mbuf *m;
	uint8_t *data;
	struct mf_pkt_l4 l4;
	/* verdicts */
	bool rtcp;			/* arrived on the RTCP port, or demuxed as RTCP */
	uint8_t what;			/* enum dp_what */
	struct mf_rtp rtp;
	struct mf_rtcp rtcp_info;
	/* scratch: the one's-complement sum of the shared bytes, once per packet */
	uint16_t sum_off;
	uint16_t sum_len;
	uint32_t sum;
	/* the input's UDP checksum minus its pseudo-header and UDP header (RFC 1624), valid
	 * when the input carried a checksum: outputs update it instead of summing payload */
	bool incr;
	uint32_t incr_base;
};

/** An IP fragment for us joins its datagram; consumes p->m. @return the whole datagram in one
 * mbuf when this fragment completed it, else NULL. Context: the worker that polled it. */
struct rte_mbuf *dp_frag_in(struct dp_lcore *lc, struct dp_pkt *p, uint64_t now);
/** Send @p p to every output of @p s; consumes p->m. Context: the session's worker. */
void dp_fanout(struct dp_lcore *lc, struct dp_sess *s, struct dp_pkt *p, uint64_t now,
	       uint64_t *sc);

#endif /* DP_PKT_H */
