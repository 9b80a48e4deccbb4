/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The benchmarks' frames (mfwd-gen on a wire, mfwd-pipe with no I/O): N flows, flow i from
 * src_ip:4000 to dst_ip + i / flows_per_ip, port dst_port_base + 2 (i % flows_per_ip);
 * RTP with SSRC i + 1 and a sequence number and 90 kHz timestamp that advance, or MPEG-TS
 * (7 x 188 bytes, continuity counters that advance, the last a null packet). Every frame
 * carries its UDP checksum, as a kernel socket's sender's do (an RTP frame's is updated from
 * its flow's, not summed again).
 */
#ifndef PF_FRAMES_H
#define PF_FRAMES_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

#define PF_L4_OFF	(RTE_ETHER_HDR_LEN + 20 + 8)	/* Ethernet, IPv4, UDP */

struct pf_flow {
	/* Ethernet, IPv4, UDP, RTP; aligned as the header structs written through it need */
	uint8_t hdr[PF_L4_OFF + 12] __rte_aligned(8);
	uint32_t seq;
	uint32_t csum_base;	/* host-order sum of the frame with sequence, timestamp, 0 */
	uint8_t cc;
};

struct pf_frames {
	uint32_t flows;
	uint32_t size;			/* frame bytes */
	bool ts;
	uint8_t dst_ip[4], src_ip[4];
	uint16_t dst_port_base;
	uint32_t flows_per_ip;		/* then the next destination address */
	struct rte_ether_addr src_mac;
	struct pf_flow *flow;		/* flows of them, from pf_frames_build() */
	uint8_t *payload;		/* what follows every RTP header: 8 zero bytes, 0xa5s */
};

/** The flows' headers, once. @return 0 or -ENOMEM. */
int pf_frames_build(struct pf_frames *f);
void pf_frames_free(struct pf_frames *f);
/** One frame of flow @p flow at @p p (f->size bytes), carrying @p now in its payload. */
void pf_frames_fill(struct pf_frames *f, uint8_t *p, uint32_t flow, uint64_t now);
/** The headers of flow @p flow's next RTP packet at @p p; the payload is the caller's, and
 * so is pf_frames_udp_csum() once it is written. */
void pf_frames_rtp_hdr(struct pf_frames *f, uint8_t *p, uint32_t flow);
/** The UDP checksum of the frame at @p p, summed and written. */
void pf_frames_udp_csum(const struct pf_frames *f, uint8_t *p);

struct mf_srtp_params;
/** SUITE:BASE64 (key || salt, as in SDP a=crypto), read as a session spec's srtp object.
 * @return 0 or -EINVAL. */
int pf_srtp_arg(const char *arg, struct mf_srtp_params *p);

#endif /* PF_FRAMES_H */
