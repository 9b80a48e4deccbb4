/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Start-up and shutdown of the dataplane's state, for mfwd-dataplane and for the pipeline
 * benchmark (perf/mfwd-pipe) alike: options and port profile, memory pools, the
 * shared-memory segment (channel rings and stats), ports, the neighbour and session tables,
 * per-lcore rings, sessions from a file. Launching lcores is the caller's.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dp.h"
#include "dp_capture.h"
#include "dp_dtls.h"

struct dp_main dp;
int dp_logtype;

static int
pools_init(void)
{
	int socket = (int)rte_socket_id();
	unsigned int n = dp.cfg.nb_mbufs;

	dp.pool = rte_pktmbuf_pool_create("mfwd_pkt", n, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					  socket);
	dp.hdr_pool = rte_pktmbuf_pool_create("mfwd_hdr", n, 256, 0,
					      RTE_PKTMBUF_HEADROOM + 128, socket);
	dp.clone_pool = rte_pktmbuf_pool_create("mfwd_clone", n, 256, 0, 0, socket);
	dp.event_pool = rte_mempool_create("mfwd_event", 4095, sizeof(struct mf_msg_event), 32, 0,
					   NULL, NULL, NULL, NULL, socket, 0);
	/* Reassembled datagrams, and copies of frames larger than a packet mbuf; the tail
	 * leaves room for an SRTP trailer. */
	dp.frag_pool = rte_pktmbuf_pool_create("mfwd_big", DP_BIG_MBUFS, 32, 0,
		(uint16_t)(RTE_PKTMBUF_HEADROOM + dp.cfg.frag_max_bytes + 64), socket);
	if (dp.pool == NULL || dp.hdr_pool == NULL || dp.clone_pool == NULL ||
	    dp.event_pool == NULL || dp.frag_pool == NULL) {
		DP_LOG(ERR, "cannot create mbuf pools of %u: %s (hugepages?)\n", n,
		       rte_strerror(rte_errno));
		return -ENOMEM;
	}
	return 0;
}

static int
ring_init(struct mf_chan *ch, enum mf_shm_region_id id, uint32_t slots, uint32_t slot_size)
{
	uint64_t sz;
	void *mem = mf_shm_region(&dp.shm, id, &sz);
	int rc = mf_chan_init(mem, sz, slots, slot_size);

	return rc != 0 ? rc : mf_chan_attach(ch, mem, sz);
}

static int
shm_init(void)
{
	struct mf_shm_layout l = { 0 };
	int rc;

	l.region_size[MF_SHM_REGION_CMD] = mf_chan_mem_size(MF_CHAN_CMD_SLOTS, MF_CHAN_SLOT_SIZE);
	l.region_size[MF_SHM_REGION_REPLY] = mf_chan_mem_size(MF_CHAN_REPLY_SLOTS,
							       MF_CHAN_SLOT_SIZE);
	l.region_size[MF_SHM_REGION_EVENT] = mf_chan_mem_size(MF_CHAN_EVENT_SLOTS,
							       MF_CHAN_EVENT_SLOT_SIZE);
	l.region_size[MF_SHM_REGION_STATS] = dp_stats_area_bytes(dp.cfg.max_sessions,
								  1u + dp.nb_workers);
	rc = mf_shm_create(&dp.shm, dp.cfg.instance, &l);
	if (rc != 0) {
		DP_LOG(ERR, "shared memory for instance \"%s\": %s\n", dp.cfg.instance,
		       mf_shm_strerror(rc));
		return rc;
	}
	if ((rc = ring_init(&dp.cmd, MF_SHM_REGION_CMD, MF_CHAN_CMD_SLOTS, MF_CHAN_SLOT_SIZE)) ||
	    (rc = ring_init(&dp.reply, MF_SHM_REGION_REPLY, MF_CHAN_REPLY_SLOTS,
			    MF_CHAN_SLOT_SIZE)) ||
	    (rc = ring_init(&dp.event, MF_SHM_REGION_EVENT, MF_CHAN_EVENT_SLOTS,
			    MF_CHAN_EVENT_SLOT_SIZE)))
		return rc;
	return 0;
}

static struct rte_ring *
ring_new(const char *what, unsigned int a, unsigned int b)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "mf_%s_%u_%u", what, a, b);
	return rte_ring_create(name, DP_RING_SIZE, (int)rte_socket_id(),
			       RING_F_SP_ENQ | RING_F_SC_DEQ);
}

/* Workers 1..N on the EAL worker lcores; RX queues spread over them round robin. */
static int
lcores_init(void)
{
	unsigned int lcore_id, w = 1, i, k = 0;
	uint16_t p, q;

	dp.lcores[0].lcore_id = (uint16_t)rte_get_main_lcore();
	RTE_LCORE_FOREACH_WORKER(lcore_id) {
		dp.lcores[w].index = (uint16_t)w;
		dp.lcores[w].lcore_id = (uint16_t)lcore_id;
		dp.lcores[w].txq = (uint16_t)(w - 1);
		w++;
	}
	for (p = 0; p < dp.nb_ports; p++) {
		for (q = 0; q < dp.ports[p].nb_rxq; q++, k++) {
			struct dp_lcore *lc = &dp.lcores[1 + k % dp.nb_workers];

			if (lc->nb_rxq == DP_MAX_RXQ)
				return -E2BIG;
			lc->rxq[lc->nb_rxq++] = (struct dp_rxq){ .port = p, .queue = q };
		}
	}
	for (i = 0; i <= dp.nb_workers; i++) {
		struct dp_lcore *lc = &dp.lcores[i];

		lc->index = (uint16_t)i;
		lc->ctr = dp_ctr_of(dp.node_ctr, dp.stride_node, lc->index);
		if (i == 0)
			continue;
		lc->punt = ring_new("punt", i, 0);
		lc->ctrl_tx = ring_new("ctx", i, 0);
		lc->events = ring_new("ev", i, 0);
		if (lc->punt == NULL || lc->ctrl_tx == NULL || lc->events == NULL ||
		    dp_hold_init(lc) != 0 || dp_frag_init(lc) != 0)
			return -ENOMEM;
		for (w = 1; w <= dp.nb_workers && dp.nb_workers > 1; w++) {
			if (w == i)
				continue;
			lc->handoff[w] = ring_new("ho", i, w);
			if (lc->handoff[w] == NULL)
				return -ENOMEM;
		}
	}
	return 0;
}

/* One spec of the sessions file; @p where names it in errors. */
static int
session_load(json_t *j, struct mf_sess_spec *spec, const char *file, const char *where)
{
	struct mf_sess_err err;
	char detail[120];
	int rc;

	rc = mf_sess_from_json(j, spec, &err);
	if (rc != 0) {
		DP_LOG(ERR, "%s: %s: %s at %s: %s\n", file, where, mf_sess_errcode_str(err.code),
		       err.path, err.msg);
		return rc;
	}
	rc = dp_sess_add(spec, detail, sizeof(detail));
	if (rc != 0)
		DP_LOG(ERR, "%s: %s \"%s\": %s\n", file, where, spec->id, detail);
	mf_sess_wipe_keys(spec);
	return rc;
}

/*
 * Sessions from a file at start, all or nothing: a JSON array of specs, or JSON Lines (one
 * spec per line), read a line at a time so a million sessions need no more memory than one.
 */
static int
sessions_load(const char *file)
{
	struct mf_sess_spec *spec = malloc(sizeof(*spec));
	char *line = NULL, where[48];
	size_t cap = 0, i, n = 0;
	json_error_t jerr;
	json_t *j;
	FILE *f = fopen(file, "r");
	int c, rc = 0;

	if (f == NULL || spec == NULL) {
		DP_LOG(ERR, "%s: %s\n", file, f == NULL ? strerror(errno) : "out of memory");
		rc = -ENOENT;
		goto out;
	}
	while ((c = fgetc(f)) == ' ' || c == '\n' || c == '\t' || c == '\r')
		;
	ungetc(c, f);
	if (c == '[') {
		j = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
		if (j == NULL || !json_is_array(j)) {
			DP_LOG(ERR, "%s: %s\n", file, j == NULL ? jerr.text : "expected an array");
			json_decref(j);
			rc = -EINVAL;
			goto out;
		}
		for (i = 0; rc == 0 && i < json_array_size(j); i++, n++) {
			snprintf(where, sizeof(where), "session [%zu]", i);
			rc = session_load(json_array_get(j, i), spec, file, where);
		}
		json_decref(j);
		goto out;
	}
	for (i = 1; rc == 0 && getline(&line, &cap, f) > 0; i++) {
		if (strspn(line, " \t\r\n") == strlen(line))
			continue;
		snprintf(where, sizeof(where), "line %zu", i);
		j = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
		if (j == NULL) {
			DP_LOG(ERR, "%s: %s: %s\n", file, where, jerr.text);
			rc = -EINVAL;
			break;
		}
		rc = session_load(j, spec, file, where);
		json_decref(j);
		/* Let deferred RCU work (table resizing, call_rcu) progress during long loads. */
		if ((++n & 1023) == 0)
			urcu_qsbr_quiescent_state();
	}
out:
	if (rc == 0)
		DP_LOG(INFO, "%s: %zu sessions installed\n", file, n);
	free(line);
	free(spec);
	if (f != NULL)
		fclose(f);
	return rc;
}

int
dp_setup(int argc, char **argv)
{
	int rc;

	rc = dp_config_parse_args(&dp.cfg, argc, argv);
	if (rc == 0)
		rc = dp_config_load_ports(&dp.cfg);
	if (rc != 0)
		return rc;
	if (dp.cfg.check_only) {
		dp_config_print(&dp.cfg);
		return 1;	/* not an error: main() exits 0 without starting */
	}
	if (rte_lcore_count() < 2 || rte_lcore_count() - 1 > DP_MAX_WORKERS) {
		DP_LOG(ERR, "needs the main lcore and 1 to %d worker lcores (EAL -l or --lcores)\n",
		       DP_MAX_WORKERS);
		return -EINVAL;
	}
	dp.nb_workers = (uint16_t)(rte_lcore_count() - 1);
	dp.tsc_hz = rte_get_tsc_hz();
	dp.ms_per_tsc_q32 = (UINT64_C(1000) << 32) / dp.tsc_hz;
	dp.start_tsc = rte_rdtsc();
	/* The neighbour table resolves through ARP and ND without calling up into them. */
	dp_neigh_register_probe(dp_slow_solicit);
	if ((rc = pools_init()) != 0 || (rc = shm_init()) != 0 || (rc = dp_ports_init()) != 0 ||
	    (rc = dp_stats_init()) != 0 || (rc = dp_telemetry_init()) != 0 ||
	    (rc = lcores_init()) != 0 ||
	    (rc = dp_neigh_init()) != 0 || (rc = dp_sess_table_init()) != 0 ||
	    (rc = dp_dtls_init()) != 0)
		return rc;
	urcu_qsbr_register_thread();
	dp.rcu_registered = true;
	if (dp.cfg.sessions_file[0] != '\0' && (rc = sessions_load(dp.cfg.sessions_file)) != 0)
		return rc;
	mf_shm_publish(&dp.shm);
	return 0;
}

void
dp_teardown(void)
{
	uint16_t i;

	dp_capture_fini();
	dp_sess_table_fini();
	for (i = 1; i <= dp.nb_workers; i++) {
		dp_hold_fini(&dp.lcores[i]);
		dp_frag_fini(&dp.lcores[i]);
	}
	dp_ports_close();
	dp_neigh_fini();
	dp_dtls_fini();
	dp_telemetry_fini();
	dp_stats_fini();
	mf_shm_destroy(&dp.shm);
	if (dp.rcu_registered)
		urcu_qsbr_unregister_thread();
	dp.rcu_registered = false;
}
