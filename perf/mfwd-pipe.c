/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mfwd-pipe: the worker pipeline alone, with no device I/O. The dataplane's own code
 * (dataplane/libmfwd-dp: the same start-up, session table and pipeline as mfwd-dataplane)
 * on one lcore; bursts of prepared mbufs go in where a port's receive burst would, and the
 * TX buffers flush to a null port (net_null frees what it is given).
 *
 * Two loops, each timed for --seconds, in turns for --runs rounds:
 *   floor     prepare a burst (allocate, write the frames, SRTP-protect them), hand it to
 *             the null port: testpmd's io forwarding with the preparation in place of RX
 *   pipeline  prepare the same way, then dp_pipeline_rx() and the TX flush, as a worker
 * The pipeline's own cost is the difference, in cycles and ns per packet. Every packet must
 * leave --outputs times (the worker's counters are checked): a pipeline that drops would
 * look fast.
 *
 *   mfwd-pipe [EAL] -- [mfwd-dataplane options: --ports F --sessions F ...]
 *             -- [--flows N] [--flows-per-ip P] [--size B] [--kind rtp|ts]
 *                [--srtp SUITE:KEY] [--outputs K] [--seconds S] [--runs R]
 * The frames are perf/bench's (pf_frames.h): flow i to the session perf/bench makes for it.
 * Prints one JSON object: medians of the rounds.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "dp_tx.h"
#include "mf/mf_args.h"
#include "mf/mf_srtp.h"
#include "pf_frames.h"

#define MAX_RUNS	15
#define MAX_SRTP_FLOWS	64

struct pipe_bench {
	struct pf_frames fr;
	struct mf_srtp_params srtp_params;
	/* One stream per flow, as the sessions keep; the floor's own, for its packets never
	 * reach the sessions (a gap of a million would put their ROC guess off). */
	struct mf_srtp *srtp[MAX_SRTP_FLOWS], *srtp_floor[MAX_SRTP_FLOWS], **protect;
	struct pf_flow *flows_saved;		/* the flows' sequence numbers around a floor run */
	uint32_t outputs;
	uint32_t runs;
	double seconds;
	uint32_t next_flow;
	struct dp_lcore *lc;			/* worker 1's state; its lcore is never launched */
	uint16_t null_port_id;			/* the dataplane's port 1 */
};

static int
parse(struct pipe_bench *b, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "flows", 1, NULL, 'f' }, { "flows-per-ip", 1, NULL, 'F' },
		{ "size", 1, NULL, 's' }, { "kind", 1, NULL, 'k' }, { "srtp", 1, NULL, 'x' },
		{ "outputs", 1, NULL, 'o' }, { "seconds", 1, NULL, 'd' }, { "runs", 1, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c, rc = 0;

	optind = 1;
	while (rc == 0 && (c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'f': rc = mf_parse_u32(optarg, 1, 1u << 21, &b->fr.flows); break;
		case 'F': rc = mf_parse_u32(optarg, 1, 30000, &b->fr.flows_per_ip); break;
		case 's': rc = mf_parse_u32(optarg, 64, 1500, &b->fr.size); break;
		case 'k': b->fr.ts = strcmp(optarg, "ts") == 0; break;
		case 'x': rc = pf_srtp_arg(optarg, &b->srtp_params); break;
		case 'o': rc = mf_parse_u32(optarg, 1, MF_SESS_MAX_OUTPUTS, &b->outputs); break;
		case 'd':
			b->seconds = strtod(optarg, &end);
			rc = *end != '\0' || !(b->seconds >= 0.01 && b->seconds <= 600) ? -EINVAL : 0;
			break;
		case 'r': rc = mf_parse_u32(optarg, 1, MAX_RUNS, &b->runs); break;
		default: rc = -EINVAL;
		}
	}
	if (b->fr.ts)
		b->fr.size = PF_L4_OFF + 7 * 188;
	if (rc != 0 || optind != argc ||
	    (b->srtp_params.suite != MF_SRTP_NONE && (b->fr.ts || b->fr.flows > MAX_SRTP_FLOWS)))
		return -EINVAL;
	return 0;
}

static int
srtp_start(struct pipe_bench *b)
{
	uint32_t i;
	int rc;

	if (b->srtp_params.suite == MF_SRTP_NONE)
		return 0;
	for (i = 0; i < b->fr.flows; i++)
		if ((rc = mf_srtp_create(&b->srtp_params, &b->srtp[i])) != 0)
			return rc;
	return 0;
}

/* The floor's streams start afresh each run: they would refuse to protect an index again. */
static int
srtp_floor_streams(struct pipe_bench *b)
{
	uint32_t i;
	int rc;

	for (i = 0; b->srtp_params.suite != MF_SRTP_NONE && i < b->fr.flows; i++) {
		mf_srtp_destroy(b->srtp_floor[i]);
		b->srtp_floor[i] = NULL;
		if ((rc = mf_srtp_create(&b->srtp_params, &b->srtp_floor[i])) != 0)
			return rc;
	}
	return 0;
}

/* What a port's receive burst would give: n frames of the flows in turn, SRTP-protected
 * when the sessions want it. */
static int
prepare(struct pipe_bench *b, struct rte_mbuf **pkts, uint16_t n, uint64_t now)
{
	size_t tag = b->protect[0] ? mf_srtp_overhead(b->protect[0], false) : 0;
	uint16_t i;

	if (rte_pktmbuf_alloc_bulk(dp.pool, pkts, n) != 0)
		return -ENOBUFS;
	for (i = 0; i < n; i++) {
		uint8_t *p = rte_pktmbuf_mtod(pkts[i], uint8_t *);
		uint32_t f = b->next_flow;

		pkts[i]->data_len = pkts[i]->pkt_len = (uint16_t)b->fr.size;
		b->next_flow = f + 1 == b->fr.flows ? 0 : f + 1;
		if (b->protect[0] == NULL) {
			pf_frames_fill(&b->fr, p, f, now);
		} else {
			size_t len = b->fr.size - PF_L4_OFF - tag;

			pf_frames_rtp_hdr(&b->fr, p, f);
			if (mf_srtp_protect(b->protect[f], p + PF_L4_OFF, &len, len + tag) != 0)
				return -EIO;
			pf_frames_udp_csum(&b->fr, p);
		}
	}
	return 0;
}

/* One timed loop. @return cycles per packet, or a negative errno. */
static double
timed(struct pipe_bench *b, bool pipeline, double seconds, uint64_t *pkts_done)
{
	struct rte_mbuf *pkts[DP_BURST];
	uint64_t t0 = rte_rdtsc(), now = t0, end = t0 + (uint64_t)(seconds * (double)dp.tsc_hz);
	uint64_t n = 0, iter = 0;
	int rc;

	while (now < end) {
		if ((rc = prepare(b, pkts, DP_BURST, now)) != 0)
			return rc;
		if (pipeline) {
			dp_pipeline_rx(b->lc, 0, pkts, DP_BURST);
			dp_tx_flush(b->lc);
			dp_frag_poll(b->lc, now);
			if ((++iter & 63) == 0)
				urcu_qsbr_quiescent_state();
		} else {
			uint16_t sent = rte_eth_tx_burst(b->null_port_id, b->lc->txq, pkts,
							 DP_BURST);

			if (sent < DP_BURST)
				rte_pktmbuf_free_bulk(pkts + sent, DP_BURST - sent);
		}
		n += DP_BURST;
		now = rte_rdtsc();
	}
	*pkts_done = n;
	return (double)(now - t0) / (double)n;
}

/* The floor's packets go nowhere near the sessions: the flows continue after it where
 * they were, so the sessions see no gap. */
static double
run(struct pipe_bench *b, bool pipeline, double seconds, uint64_t *pkts_done)
{
	size_t bytes = sizeof(*b->fr.flow) * b->fr.flows;
	double c;
	int rc;

	b->protect = pipeline ? b->srtp : b->srtp_floor;
	if (!pipeline && (rc = srtp_floor_streams(b)) != 0)
		return rc;
	if (!pipeline)
		memcpy(b->flows_saved, b->fr.flow, bytes);
	c = timed(b, pipeline, seconds, pkts_done);
	if (!pipeline)
		memcpy(b->fr.flow, b->flows_saved, bytes);
	return c;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, uint32_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *const ctr_names[] = {
#define X(name, desc) #name,
#include "dp_counters.inc"
#undef X
};

/* The pipeline must have sent every packet it was given, outputs times over; otherwise
 * say where they went (the worker's drop counters, by name or parser reason number). */
static int
check_forwarded(const struct pipe_bench *b, uint64_t rx0, uint64_t tx0, uint64_t pkts)
{
	uint64_t rx = b->lc->ctr[DP_CTR_rx_pkts] - rx0, tx = b->lc->ctr[DP_CTR_tx_pkts] - tx0;
	unsigned int i;

	if (rx == pkts && tx == pkts * b->outputs)
		return 0;
	fprintf(stderr, "mfwd-pipe: %lu packets in, %lu out, %lu expected; worker counters:",
		(unsigned long)rx, (unsigned long)tx, (unsigned long)(pkts * b->outputs));
	for (i = DP_CTR_tx_full; i < DP_CTR_MAX; i++) {
		if (b->lc->ctr[i] == 0 || i == DP_CTR_ctrl_tx_full ||
		    (i >= DP_CTR_iterations && i <= DP_CTR_burst_32))
			continue;
		if (i < DP_CTR_PKT_ERR_BASE)
			fprintf(stderr, " %s %lu", ctr_names[i], (unsigned long)b->lc->ctr[i]);
		else
			fprintf(stderr, " parser reason %u: %lu", i - DP_CTR_PKT_ERR_BASE + 1,
				(unsigned long)b->lc->ctr[i]);
	}
	fprintf(stderr, "\n");
	return -EPROTO;
}

static int
bench(struct pipe_bench *b)
{
	double floor_c[MAX_RUNS], pipe_c[MAX_RUNS], fl, pl, ns_per_cycle = 1e9 / dp.tsc_hz;
	uint64_t pkts, rx0, tx0;
	uint32_t r;
	int rc;

	/* Warm caches, the table and the pools up, untimed. */
	if ((fl = run(b, false, 0.2, &pkts)) < 0 || (fl = run(b, true, 0.2, &pkts)) < 0)
		return (int)fl;
	for (r = 0; r < b->runs; r++) {
		floor_c[r] = run(b, false, b->seconds, &pkts);
		rx0 = b->lc->ctr[DP_CTR_rx_pkts];
		tx0 = b->lc->ctr[DP_CTR_tx_pkts];
		pipe_c[r] = run(b, true, b->seconds, &pkts);
		if (floor_c[r] < 0 || pipe_c[r] < 0)
			return (int)RTE_MIN(floor_c[r], pipe_c[r]);
		if ((rc = check_forwarded(b, rx0, tx0, pkts)) != 0)
			return rc;
	}
	fl = median(floor_c, b->runs);
	pl = median(pipe_c, b->runs);
	printf("{\"kind\":\"%s\",\"srtp\":\"%s\",\"size\":%u,\"flows\":%u,\"outputs\":%u,"
	       "\"runs\":%u,\"seconds\":%.3f,\"tsc_hz\":%lu,"
	       "\"floor_cycles\":%.1f,\"pipeline_cycles\":%.1f,\"own_cycles\":%.1f,"
	       "\"floor_ns\":%.2f,\"pipeline_ns\":%.2f,\"own_ns\":%.2f,"
	       "\"floor_mpps\":%.3f,\"pipeline_mpps\":%.3f}\n",
	       b->fr.ts ? "ts" : "rtp", mf_srtp_suite_str(b->srtp_params.suite), b->fr.size,
	       b->fr.flows, b->outputs, b->runs, b->seconds, (unsigned long)dp.tsc_hz, fl, pl,
	       pl - fl, fl * ns_per_cycle, pl * ns_per_cycle, (pl - fl) * ns_per_cycle,
	       dp.tsc_hz / fl / 1e6, dp.tsc_hz / pl / 1e6);
	return 0;
}

/* argv after EAL's: the dataplane's options, "--", the benchmark's. */
static int
setup(struct pipe_bench *b, int argc, char **argv)
{
	int sep, rc;

	for (sep = 1; sep < argc && strcmp(argv[sep], "--") != 0; sep++)
		;
	if (sep < argc) {
		argv[sep] = argv[0];	/* the program's name in front of getopt's options */
		if ((rc = parse(b, argc - sep, argv + sep)) != 0)
			return rc;
	}
	if ((rc = dp_setup(sep, argv)) != 0)
		return rc < 0 ? rc : -EINVAL;
	if (dp.nb_ports < 2 || dp.nb_workers != 1)
		return -EINVAL;
	b->lc = &dp.lcores[1];
	b->null_port_id = dp.ports[1].port_id;
	if ((rc = srtp_start(b)) != 0)
		return rc;
	rte_eth_macaddr_get(dp.ports[0].port_id, &b->fr.src_mac);
	b->flows_saved = calloc(b->fr.flows, sizeof(*b->flows_saved));
	if (b->flows_saved == NULL)
		return -ENOMEM;
	return pf_frames_build(&b->fr);
}

int
main(int argc, char **argv)
{
	struct pipe_bench b = {
		.fr = { .flows = 1, .size = 214, .dst_ip = { 10, 99, 1, 2 },
			.src_ip = { 10, 99, 1, 1 }, .dst_port_base = 10000, .flows_per_ip = 25000 },
		.outputs = 1, .runs = 3, .seconds = 1,
	};
	uint32_t i;
	int n, rc;

	n = rte_eal_init(argc, argv);
	if (n < 0)
		rte_exit(1, "EAL: %s\n", rte_strerror(rte_errno));
	dp_logtype = rte_log_register_type_and_pick_level("user.mf.dp", RTE_LOG_INFO);
	/* EAL leaves the program name in front of what follows its options. */
	rc = setup(&b, argc - n, argv + n);
	if (rc == 0) {
		rc = bench(&b);
		if (rc != 0 && rc != -EPROTO)
			fprintf(stderr, "mfwd-pipe: %s\n", rc == -ENOBUFS ? "out of mbufs" :
				rc == -EIO ? "SRTP protect failed" : strerror(-rc));
	} else {
		fprintf(stderr, "usage: mfwd-pipe [EAL: 2 lcores] -- --ports F [--sessions F ...] -- "
			"[--flows N] [--flows-per-ip P] [--size B] [--kind rtp|ts] "
			"[--srtp SUITE:KEY] [--outputs K] [--seconds S] [--runs R]\n"
			"(the ports file names two ports, the second a net_null): %s\n",
			strerror(-rc));
	}
	for (i = 0; i < MAX_SRTP_FLOWS; i++) {
		mf_srtp_destroy(b.srtp[i]);
		mf_srtp_destroy(b.srtp_floor[i]);
	}
	free(b.flows_saved);
	pf_frames_free(&b.fr);
	dp_teardown();
	rte_eal_cleanup();
	return rc == 0 ? 0 : 1;
}
