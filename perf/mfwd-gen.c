/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mfwd-gen: a traffic generator and sink for RTP and MPEG-TS over UDP, on any two DPDK ports
 * (the benchmarks use memif). pktgen cannot do this: its packets have no advancing RTP
 * sequence numbers or timestamps, and a replayed pcap repeats them.
 *
 * TX port: N flows round robin, flow i to dst-port-base + 2i, RTP with an SSRC per flow
 * (i + 1), sequence numbers and 90 kHz timestamps that advance, the sending TSC in the first
 * payload bytes; or MPEG-TS (7 x 188 bytes, continuity counters that advance). Fixed rate,
 * or as fast as the port takes.
 * RX port: every packet is matched to its flow by (SSRC, UDP destination port), so fan-out
 * copies count apart; per flow received, gaps (lost), reordered and duplicated sequence
 * numbers; one-way latency from the TSC (same host) into a histogram.
 *
 * Fragments (--fragments): each RTP datagram (--size 1515 to 2994 bytes of frame) leaves
 * as two IPv4 fragments, 1,480 bytes of IP payload and the rest; the sink counts a datagram
 * when its first fragment (the one with the UDP and RTP headers) arrives, so rates, loss and
 * order are in datagrams.
 *
 * SRTP (--srtp SUITE:BASE64KEY): libsrtp2, the reference, protects the flows. It is far
 * slower than a forwarder (0.2-0.9 Mpps a core), so the packets are protected before the
 * clock starts, into a pool of --srtp-pool frames (cached in --srtp-cache, a file, for the
 * next run), each sent once; a trial ends early when the pool is spent. The sink checks
 * every 256th packet of each flow with libsrtp2 under --srtp-sink SUITE:BASE64KEY (the
 * forwarder's output key). SRTP payloads carry no send time: no latency figures then.
 *
 *   mfwd-gen [EAL] -- [--flows N] [--size BYTES] [--rate PPS] [--duration S] [--kind rtp|ts]
 *            [--dst-ip A] [--dst-port-base P] [--search] [--expect-copies K]
 *            [--srtp SUITE:KEY --srtp-sink SUITE:KEY [--srtp-pool N] [--srtp-cache FILE]]
 *            [--queues N] [--go-on-stdin]
 * --go-on-stdin: once the links are up (and SRTP frames protected), wait for a line on stdin
 * before the clock starts. The benchmark runs the generator as the memif server when the
 * forwarder is the zero-copy client; a client's link is up before its sessions are loaded,
 * so the link alone does not say the forwarder is ready.
 * One lcore sends and receives. --queues N (plain RTP or TS): N queue pairs on each port,
 * flow f sent on queue f % N (the forwarder's RX queues, one per worker) and every RX queue
 * polled. Prints one JSON object per trial.
 */

#include <errno.h>
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <jansson.h>

#include "mf/mf_bytes.h"
#include "mf/mf_pkt.h"
#include "mf/mf_session.h"
#include "pf_frames.h"

#ifdef MF_GEN_SRTP
#include "mf/mf_srtp_ref.h"
#endif

#define BURST		32
#define HIST_NS		50		/* histogram bin */
#define HIST_BINS	40000		/* up to 2 ms */
#define MAX_RX_FLOWS	(1 << 22)
#define MAX_QUEUES	16
#define L4_OFF		PF_L4_OFF

struct opts {
	struct pf_frames fr;		/* flows, size, kind, addresses */
	double rate;
	double duration;
	bool search;
	bool frag;			/* each datagram as two IPv4 fragments */
	uint32_t copies;		/* outputs per input flow (fan-out) */
	uint16_t queues;		/* queue pairs per port: flow f on queue f % queues */
	uint16_t tx_port, rx_port;
	struct mf_srtp_params srtp_tx, srtp_rx;	/* suite 0: plain RTP */
	uint64_t srtp_pool;
	const char *srtp_cache;
	bool go_on_stdin;		/* wait for a line on stdin before the clock starts */
};

struct rx_flow {
	uint32_t ssrc;
	uint16_t dport;
	bool used;
	uint16_t last;
	uint64_t received;
	uint64_t reorder;
	uint64_t dup;
};

struct trial {
	uint64_t tx, rx, reorder, dup, late_ns_max;
	uint64_t srtp_checked, srtp_bad;
	uint64_t hist[HIST_BINS + 1];
	double seconds;
};

static struct opts o = {
	.fr = { .flows = 1, .size = 214, .dst_ip = { 10, 99, 1, 2 }, .src_ip = { 10, 99, 1, 1 },
		.dst_port_base = 10000, .flows_per_ip = 25000 },
	.rate = 0, .duration = 5, .copies = 1, .queues = 1, .tx_port = 0, .rx_port = 1,
	.srtp_pool = 2000000,
};
static struct rx_flow *rxf;
static uint32_t rx_mask;
static struct rte_mempool *pool;
static uint64_t hz;
static volatile sig_atomic_t stop;
static uint8_t *srtp_frames;		/* srtp_pool frames of o.fr.size bytes, protected */
static uint64_t srtp_next;		/* the next one to send */

static void
on_signal(int s)
{
	(void)s;
	stop = 1;
}

/* ---- building packets ---- */

#define FRAG_PART	1480	/* IP payload of a first fragment: a multiple of 8 */

/* A frame of o.fr.size bytes at @p p: the next of the SRTP pool, or built now. */
static void
fill_frame(uint8_t *p, uint32_t flow, uint64_t now)
{
	if (srtp_frames != NULL)
		memcpy(p, srtp_frames + srtp_next++ * o.fr.size, o.fr.size);
	else
		pf_frames_fill(&o.fr, p, flow, now);
}

static void
fill(struct rte_mbuf *m, uint32_t flow, uint64_t now)
{
	m->data_len = m->pkt_len = (uint16_t)o.fr.size;
	fill_frame(rte_pktmbuf_mtod(m, uint8_t *), flow, now);
}

/* One datagram as two fragments: @p a the first (MF), @p b the rest. */
static void
fill_frags(struct rte_mbuf *a, struct rte_mbuf *b, uint32_t flow, uint64_t now)
{
	static uint16_t id;
	static uint8_t frame[3000];	/* one thread; the payload beyond the headers is zeros */
	uint8_t *pa = rte_pktmbuf_mtod(a, uint8_t *), *pb = rte_pktmbuf_mtod(b, uint8_t *);
	const uint16_t hdr = RTE_ETHER_HDR_LEN + 20, rest = (uint16_t)(o.fr.size - hdr - FRAG_PART);
	struct rte_ipv4_hdr *ip;

	fill_frame(frame, flow, now);
	memcpy(pa, frame, hdr + FRAG_PART);
	memcpy(pb, frame, hdr);
	memcpy(pb + hdr, frame + hdr + FRAG_PART, rest);
	a->data_len = a->pkt_len = (uint16_t)(hdr + FRAG_PART);
	b->data_len = b->pkt_len = (uint16_t)(hdr + rest);
	id++;
	ip = (struct rte_ipv4_hdr *)(pa + RTE_ETHER_HDR_LEN);
	ip->total_length = rte_cpu_to_be_16(20 + FRAG_PART);
	ip->packet_id = rte_cpu_to_be_16(id);
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	ip = (struct rte_ipv4_hdr *)(pb + RTE_ETHER_HDR_LEN);
	ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + rest));
	ip->packet_id = rte_cpu_to_be_16(id);
	ip->fragment_offset = rte_cpu_to_be_16(FRAG_PART / 8);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
}

/* ---- SRTP: the pool, and the sink's check (libsrtp2) ---- */

#ifdef MF_GEN_SRTP
static srtp_t srtp_sink;

/* The sink samples: gaps, never replays; a wide window all the same. */
static srtp_t
srtp_session(const struct mf_srtp_params *p, bool outbound)
{
	return mf_srtp_ref_session(p, outbound, 0, 1024);
}

static void
srtp_check(struct trial *t, const uint8_t *pl, uint32_t len)
{
	uint8_t buf[2048];
	int n = (int)len;

	if (len > sizeof(buf))
		return;
	memcpy(buf, pl, len);
	t->srtp_checked++;
	t->srtp_bad += srtp_unprotect(srtp_sink, buf, &n) != srtp_err_status_ok;
}

/* Protect o.srtp_pool frames, flows round robin, or read them from the cache. */
static int
srtp_pool_build(void)
{
	size_t bytes = o.srtp_pool * o.fr.size;
	uint32_t rtp_len = o.fr.size - L4_OFF - mf_srtp_suite_tag_len(o.srtp_tx.suite), flow = 0;
	FILE *f = o.srtp_cache ? fopen(o.srtp_cache, "rb") : NULL;
	srtp_t tx;
	uint64_t i;

	srtp_frames = malloc(bytes);
	if (srtp_frames == NULL)
		return -ENOMEM;
	if (f != NULL) {
		size_t got = fread(srtp_frames, 1, bytes, f);

		fclose(f);
		if (got == bytes)
			return 0;
	}
	tx = srtp_session(&o.srtp_tx, true);
	if (tx == NULL)
		return -EINVAL;
	for (i = 0; i < o.srtp_pool; i++) {
		uint8_t *p = srtp_frames + i * o.fr.size;
		int n = (int)rtp_len;

		pf_frames_rtp_hdr(&o.fr, p, flow);
		memset(p + L4_OFF + 12, 0xa5, rtp_len - 12);
		if (srtp_protect(tx, p + L4_OFF, &n) != srtp_err_status_ok ||
		    (uint32_t)n != rtp_len + mf_srtp_suite_tag_len(o.srtp_tx.suite)) {
			srtp_dealloc(tx);
			return -EIO;
		}
		pf_frames_udp_csum(&o.fr, p);
		flow = flow + 1 == o.fr.flows ? 0 : flow + 1;
	}
	srtp_dealloc(tx);
	f = o.srtp_cache ? fopen(o.srtp_cache, "wb") : NULL;
	if (f != NULL) {
		fwrite(srtp_frames, 1, bytes, f);
		fclose(f);
	}
	return 0;
}

static int
srtp_start(void)
{
	if (o.srtp_tx.suite == MF_SRTP_NONE)
		return 0;
	if (srtp_init() != srtp_err_status_ok)
		return -EIO;
	srtp_sink = srtp_session(&o.srtp_rx, false);
	return srtp_sink == NULL ? -EINVAL : srtp_pool_build();
}
#else
static void
srtp_check(struct trial *t, const uint8_t *pl, uint32_t len)
{
	(void)t;
	(void)pl;
	(void)len;
}

static int
srtp_start(void)
{
	return o.srtp_tx.suite == MF_SRTP_NONE ? 0 : -ENOTSUP;
}
#endif

/* ---- the sink ---- */

static struct rx_flow *
rx_flow(uint32_t ssrc, uint16_t dport)
{
	uint32_t h = (ssrc * 2654435761u ^ dport * 40503u) & rx_mask;

	for (;;) {
		struct rx_flow *f = &rxf[h];

		if (!f->used) {
			f->used = true;
			f->ssrc = ssrc;
			f->dport = dport;
			f->last = 0xffff;
			return f;
		}
		if (f->ssrc == ssrc && f->dport == dport)
			return f;
		h = (h + 1) & rx_mask;
	}
}

static void
sink(struct trial *t, struct rte_mbuf **pkts, uint16_t n, uint64_t now)
{
	uint16_t i;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *), *pl = p + L4_OFF;
		uint16_t dport, seq;
		uint32_t ssrc;
		uint64_t sent, lat;
		struct rx_flow *f;

		/* Of a fragmented datagram only the first piece has the headers: it counts. */
		if (m->data_len < L4_OFF + 20 || mf_rd16(p + 12) != RTE_ETHER_TYPE_IPV4 ||
		    (mf_rd16(p + RTE_ETHER_HDR_LEN + 6) & RTE_IPV4_HDR_OFFSET_MASK) != 0) {
			rte_pktmbuf_free(m);
			continue;
		}
		dport = mf_rd16(p + RTE_ETHER_HDR_LEN + 20 + 2);
		if (o.fr.ts) {
			uint32_t s32;

			memcpy(&ssrc, pl + 4, 4);
			memcpy(&s32, pl + 8, 4);
			seq = (uint16_t)s32;
			memcpy(&sent, pl + 12, 8);
		} else {
			ssrc = mf_rd32(pl + 8);
			seq = mf_rd16(pl + 2);
			memcpy(&sent, pl + 12, 8);
		}
		f = rx_flow(ssrc, dport);
		if (o.srtp_rx.suite != MF_SRTP_NONE) {
			/* One packet in 256 of each output, a different one of each: the
			 * copies of one packet (a fan-out's outputs share the key and SSRC)
			 * would look like replays to the sink. */
			if ((seq & 255) == ((dport >> 1) & 255))
				srtp_check(t, pl, m->data_len - L4_OFF);
			sent = now;
		}
		if (f->received > 0 && seq == f->last)
			f->dup++;
		else if (f->received > 0 && (int16_t)(seq - f->last) < 0)
			f->reorder++;
		else
			f->last = seq;
		f->received++;
		t->rx++;
		lat = now > sent ? (now - sent) * 1000000000ull / hz : 0;
		t->hist[RTE_MIN(lat / HIST_NS, (uint64_t)HIST_BINS)]++;
		t->late_ns_max = RTE_MAX(t->late_ns_max, lat);
		rte_pktmbuf_free(m);
	}
}

static uint64_t
percentile(const struct trial *t, double q)
{
	uint64_t want = (uint64_t)ceil((double)t->rx * q), acc = 0;
	uint32_t b;

	for (b = 0; b <= HIST_BINS && t->rx > 0; b++) {
		acc += t->hist[b];
		if (acc >= want)
			return (uint64_t)b * HIST_NS + HIST_NS / 2;
	}
	return 0;
}

/* ---- a trial ---- */

static void
run_trial(struct trial *t, double rate)
{
	struct rte_mbuf *tx[BURST], *rx[BURST];
	uint64_t t0 = rte_rdtsc(), now = t0, end = t0 + (uint64_t)(o.duration * (double)hz);
	uint64_t drain, built = 0;
	uint32_t next_flow[MAX_QUEUES];
	uint16_t n, k, q, off = 0, pending = 0, txq = 0;

	for (q = 0; q < o.queues; q++)
		next_flow[q] = q;
	memset(t, 0, sizeof(*t));
	memset(rxf, 0, sizeof(*rxf) * (rx_mask + 1));
	while (now < end && !stop) {
		uint64_t due = rate > 0 ? (uint64_t)((double)(now - t0) * rate / (double)hz) : UINT64_MAX;

		/* A burst the port did not take stays pending, in order: flows stay gap-free. */
		n = (uint16_t)RTE_MIN((uint64_t)BURST, due > built ? due - built : 0);
		if (srtp_frames != NULL) {
			if (srtp_next + BURST > o.srtp_pool && pending == 0)
				break;		/* the pool is spent: the trial ends here */
			n = (uint16_t)RTE_MIN((uint64_t)n, o.srtp_pool - srtp_next);
		}
		if (o.frag)
			n = RTE_MIN(n, (uint16_t)(BURST / 2));
		if (pending == 0 && n > 0 &&
		    rte_pktmbuf_alloc_bulk(pool, tx, o.frag ? 2u * n : n) == 0) {
			for (k = 0; k < n; k++) {
				if (o.frag)
					fill_frags(tx[2 * k], tx[2 * k + 1], next_flow[txq], now);
				else
					fill(tx[k], next_flow[txq], now);
				/* This queue's flows only: each flow stays in order. */
				next_flow[txq] += o.queues;
				if (next_flow[txq] >= o.fr.flows)
					next_flow[txq] = txq;
			}
			built += n;
			pending = o.frag ? (uint16_t)(2 * n) : n;
			off = 0;
		}
		if (pending > 0) {
			k = rte_eth_tx_burst(o.tx_port, txq, tx + off, pending);
			off += k;
			pending -= k;
			t->tx += k;
			if (pending == 0)
				txq = (uint16_t)((txq + 1) % o.queues);
		}
		for (q = 0; q < o.queues; q++) {
			n = rte_eth_rx_burst(o.rx_port, q, rx, BURST);
			now = rte_rdtsc();
			sink(t, rx, n, now);
		}
	}
	if (pending > 0)
		rte_pktmbuf_free_bulk(tx + off, pending);
	if (o.frag)
		t->tx /= 2;	/* datagrams (a last one half sent counts as not sent) */
	t->seconds = (double)(now - t0) / (double)hz;
	/* What is still in flight arrives within a few milliseconds. */
	drain = rte_rdtsc() + hz / 10;
	while (rte_rdtsc() < drain) {
		for (q = 0; q < o.queues; q++) {
			n = rte_eth_rx_burst(o.rx_port, q, rx, BURST);
			sink(t, rx, n, rte_rdtsc());
		}
	}
}

static void
report(const struct trial *t, double rate, const char *phase)
{
	uint64_t expected = t->tx * o.copies, reorder = 0, dup = 0;
	uint32_t i, flows = 0;

	for (i = 0; i <= rx_mask; i++) {
		if (!rxf[i].used)
			continue;
		flows++;
		reorder += rxf[i].reorder;
		dup += rxf[i].dup;
	}
	printf("{\"phase\":\"%s\",\"kind\":\"%s\",\"size\":%u,\"flows\":%u,\"copies\":%u,"
	       "\"rate_asked\":%.0f,\"seconds\":%.3f,\"tx_pkts\":%" PRIu64 ",\"rx_pkts\":%" PRIu64
	       ",\"tx_mpps\":%.4f,\"rx_mpps\":%.4f,\"rx_gbps\":%.4f,\"lost\":%" PRId64
	       ",\"rx_flows\":%u,\"reorder\":%" PRIu64 ",\"dup\":%" PRIu64
	       ",\"srtp\":\"%s\",\"srtp_checked\":%" PRIu64 ",\"srtp_bad\":%" PRIu64
	       ",\"latency_ns\":{\"p50\":%" PRIu64 ",\"p99\":%" PRIu64 ",\"p999\":%" PRIu64
	       ",\"max\":%" PRIu64 "}}\n",
	       phase, o.fr.ts ? "ts" : "rtp", o.fr.size, o.fr.flows, o.copies, rate, t->seconds, t->tx,
	       t->rx, (double)t->tx / t->seconds / 1e6, (double)t->rx / t->seconds / 1e6,
	       (double)t->rx * (o.fr.size + 24) * 8 / t->seconds / 1e9,
	       (int64_t)expected - (int64_t)t->rx, flows, reorder, dup,
	       mf_srtp_suite_str(o.srtp_tx.suite), t->srtp_checked, t->srtp_bad,
	       percentile(t, 0.5),
	       percentile(t, 0.99), percentile(t, 0.999), t->late_ns_max);
	fflush(stdout);
}

/* RFC 2544 style: the highest rate with no loss, by bisection below the maximum rate. */
static void
search(struct trial *t)
{
	double lo = 0, hi, rate;
	int i;

	run_trial(t, 0);
	report(t, 0, "max");
	hi = (double)t->tx / t->seconds;
	for (i = 0; i < 7 && !stop; i++) {
		rate = (lo + hi) / 2;
		run_trial(t, rate);
		report(t, rate, "search");
		if ((int64_t)(t->tx * o.copies) - (int64_t)t->rx <= 0)
			lo = rate;
		else
			hi = rate;
	}
	printf("{\"phase\":\"zero_loss\",\"rate_pps\":%.0f}\n", lo);
}

static int
parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "flows", 1, NULL, 'f' }, { "size", 1, NULL, 's' }, { "rate", 1, NULL, 'r' },
		{ "duration", 1, NULL, 'd' }, { "kind", 1, NULL, 'k' }, { "search", 0, NULL, 'S' },
		{ "dst-ip", 1, NULL, 'i' }, { "dst-port-base", 1, NULL, 'p' },
		{ "expect-copies", 1, NULL, 'c' }, { "flows-per-ip", 1, NULL, 'F' },
		{ "srtp", 1, NULL, 'x' }, { "srtp-sink", 1, NULL, 'y' },
		{ "srtp-pool", 1, NULL, 'P' }, { "srtp-cache", 1, NULL, 'C' },
		{ "fragments", 0, NULL, 'g' }, { "queues", 1, NULL, 'q' },
		{ "go-on-stdin", 0, NULL, 'G' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'f': o.fr.flows = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 's': o.fr.size = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'r': o.rate = strtod(optarg, NULL); break;
		case 'd': o.duration = strtod(optarg, NULL); break;
		case 'k': o.fr.ts = strcmp(optarg, "ts") == 0; break;
		case 'S': o.search = true; break;
		case 'i': if (inet_pton(AF_INET, optarg, o.fr.dst_ip) != 1) return -EINVAL; break;
		case 'p': o.fr.dst_port_base = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'c': o.copies = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'F': o.fr.flows_per_ip = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'x': if (pf_srtp_arg(optarg, &o.srtp_tx) != 0) return -EINVAL; break;
		case 'y': if (pf_srtp_arg(optarg, &o.srtp_rx) != 0) return -EINVAL; break;
		case 'P': o.srtp_pool = strtoull(optarg, NULL, 0); break;
		case 'C': o.srtp_cache = optarg; break;
		case 'g': o.frag = true; break;
		case 'q': o.queues = (uint16_t)strtoul(optarg, NULL, 0); break;
		case 'G': o.go_on_stdin = true; break;
		default: return -EINVAL;
		}
	}
	if (o.fr.ts)
		o.fr.size = L4_OFF + 7 * 188;
	if ((o.srtp_tx.suite != MF_SRTP_NONE) != (o.srtp_rx.suite != MF_SRTP_NONE) ||
	    (o.srtp_tx.suite != MF_SRTP_NONE && (o.fr.ts || o.srtp_pool < BURST ||
	     o.fr.size < L4_OFF + 12 + 16 + mf_srtp_suite_tag_len(o.srtp_tx.suite))))
		return -EINVAL;
	if (o.fr.flows == 0 || o.fr.flows > (1u << 21) || o.copies == 0 || o.fr.size < 64 ||
	    o.fr.flows_per_ip == 0 || o.fr.dst_port_base + 2ull * (o.fr.flows_per_ip - 1) > 65535 ||
	    o.fr.dst_ip[3] + (o.fr.flows - 1) / o.fr.flows_per_ip > 254 ||
	    o.fr.size > (o.frag ? 2994u : 1500u) || o.duration <= 0 ||
	    (o.frag && (o.fr.ts || o.srtp_tx.suite != MF_SRTP_NONE || o.fr.size <= 1514)))
		return -EINVAL;
	/* SRTP frames are protected ahead in one flow order: one queue only. */
	if (o.queues == 0 || o.queues > MAX_QUEUES || o.queues > o.fr.flows ||
	    (o.queues > 1 && o.srtp_tx.suite != MF_SRTP_NONE))
		return -EINVAL;
	return 0;
}

static int
port_start(uint16_t port)
{
	struct rte_eth_conf conf = { 0 };
	uint16_t q;
	int rc;

	rc = rte_eth_dev_configure(port, o.queues, o.queues, &conf);
	for (q = 0; rc == 0 && q < o.queues; q++) {
		rc = rte_eth_rx_queue_setup(port, q, 1024, rte_socket_id(), NULL, pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(port, q, 1024, rte_socket_id(), NULL);
	}
	return rc == 0 ? rte_eth_dev_start(port) : rc;
}

/* memif links come up when the peer connects: wait for both. */
static int
links_up(void)
{
	struct rte_eth_link a, b;
	int i;

	for (i = 0; i < 600 && !stop; i++) {
		rte_eth_link_get_nowait(o.tx_port, &a);
		rte_eth_link_get_nowait(o.rx_port, &b);
		if (a.link_status && b.link_status)
			return 0;
		rte_delay_ms(100);
	}
	return -ETIMEDOUT;
}

int
main(int argc, char **argv)
{
	struct trial *t;
	uint32_t rx_flows;
	int n;

	n = rte_eal_init(argc, argv);
	if (n < 0)
		rte_exit(1, "EAL: %s\n", rte_strerror(rte_errno));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (parse(argc - n, argv + n) != 0 || rte_eth_dev_count_avail() < 2)
		rte_exit(2, "usage: mfwd-gen [EAL with two ports] -- [--flows N] [--size B] "
			    "[--rate PPS] [--duration S] [--kind rtp|ts] [--search] [--dst-ip A] "
			    "[--dst-port-base P] [--expect-copies K] [--fragments] [--queues N] "
			    "[--go-on-stdin]\n");
	hz = rte_get_tsc_hz();
	pool = rte_pktmbuf_pool_create("gen", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       rte_socket_id());
	for (rx_flows = 1024; rx_flows < 2 * o.fr.flows * o.copies && rx_flows < MAX_RX_FLOWS;)
		rx_flows *= 2;
	rxf = calloc(rx_flows, sizeof(*rxf));
	rx_mask = rx_flows - 1;
	t = calloc(1, sizeof(*t));
	if (pool == NULL || rxf == NULL || t == NULL)
		rte_exit(1, "out of memory\n");
	o.tx_port = 0;
	o.rx_port = 1;
	if (port_start(o.tx_port) != 0 || port_start(o.rx_port) != 0 || links_up() != 0)
		rte_exit(1, "ports did not come up (is the forwarder connected?)\n");
	rte_eth_macaddr_get(o.tx_port, &o.fr.src_mac);
	if (pf_frames_build(&o.fr) != 0)
		rte_exit(1, "out of memory\n");
	n = srtp_start();
	if (n != 0)
		rte_exit(1, "SRTP set-up failed: %s\n", strerror(-n));
	if (o.go_on_stdin && getchar() == EOF)
		rte_exit(1, "stdin closed before the go\n");
	rte_delay_ms(200);
	if (o.search)
		search(t);
	else {
		run_trial(t, o.rate);
		report(t, o.rate, "run");
	}
	rte_eth_dev_stop(o.tx_port);
	rte_eth_dev_stop(o.rx_port);
	rte_eal_cleanup();
	free(t);
	free(rxf);
	pf_frames_free(&o.fr);
	free(srtp_frames);
	return 0;
}
