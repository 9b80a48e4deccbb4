/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK telemetry commands (/mfwd/...), so dpdk-telemetry.py shows mfwd's figures beside
 * the ethdev ones. They run on EAL's telemetry thread and read the stats area like any
 * other reader (copies checked against the writer, never a lock, never the session
 * table), so they cannot slow or disturb the lcores. Commands cannot be unregistered, so
 * teardown closes a gate and waits for the callbacks inside before the area goes.
 *
 *   /mfwd/info                   instance, version, generation, workers, ports, sessions
 *   /mfwd/node                   node counters summed over the lcores
 *   /mfwd/lcore,N                lcore N's node counters (0 is the control lcore)
 *   /mfwd/port,N                 port N's figures
 *   /mfwd/sessions[,START]       session ids, a page at a time
 *   /mfwd/session,ID             a session's figures and its output ids
 *   /mfwd/output,ID,OUTPUT       an output's figures
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_pause.h>
#include <rte_telemetry.h>

#include "dp.h"
#include "mf/mf_args.h"

#define TEL_FIELDS	256	/* RTE_TEL_MAX_DICT_ENTRIES: at most this many fields a reply */
#define TEL_PAGE	100	/* session ids a reply: 100 of 48 bytes fit the 16 KiB reply */

/* The gate: a callback counts itself in, then checks the area is there; teardown closes
 * the gate, then waits for the count to fall (both sequentially consistent). */
static bool
tel_enter(void)
{
	atomic_fetch_add(&dp.tel.users, 1);
	if (atomic_load(&dp.tel.open))
		return true;
	atomic_fetch_sub(&dp.tel.users, 1);
	return false;
}

static void
tel_leave(void)
{
	atomic_fetch_sub(&dp.tel.users, 1);
}

static void
add_view(struct rte_tel_data *d, const struct mf_stats_view *v)
{
	char name[MF_STATS_FIELD_MAX];
	uint32_t i;

	for (i = 0; i < v->nb_fields && i < TEL_FIELDS - 2; i++) {
		snprintf(name, sizeof(name), "%.*s", MF_STATS_FIELD_NAME_MAX, v->fields[i]);
		rte_tel_data_add_dict_u64(d, name, v->values[i]);
	}
}

/* Entry @p name (lcore @p lcore or all) as a dict in @p d. */
static int
entry_dict(const char *name, uint32_t lcore, struct rte_tel_data *d)
{
	uint64_t vals[TEL_FIELDS];
	struct mf_stats_view v;
	int idx = mf_stats_find(&dp.tel.rd, name);

	if (idx < 0 || mf_stats_read_lcore(&dp.tel.rd, (uint32_t)idx, lcore, &v, vals,
					   TEL_FIELDS) != 0)
		return -ENOENT;
	rte_tel_data_start_dict(d);
	add_view(d, &v);
	return 0;
}

/* An index below @p max, the whole string. */
static int
parse_index(const char *s, uint32_t max, uint32_t *out)
{
	return max == 0 ? -EINVAL : mf_parse_u32(s, 0, max - 1, out);
}

static uint32_t
count_sessions(void)
{
	uint32_t i, n = 0;
	struct mf_stats_view v;
	uint64_t vals[TEL_FIELDS];

	for (i = 0; i < dp.tel.rd.hdr->max_entries; i++)
		if (mf_stats_read(&dp.tel.rd, i, &v, vals, TEL_FIELDS) == 0 &&
		    strncmp(v.name, "session/", 8) == 0 && strstr(v.name + 8, "/out/") == NULL)
			n++;
	return n;
}

static int
cmd_info(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	if (!tel_enter())
		return -EAGAIN;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "instance", dp.cfg.instance);
	rte_tel_data_add_dict_string(d, "version", MF_VERSION);
	rte_tel_data_add_dict_u64(d, "generation", dp.shm.hdr->generation);
	rte_tel_data_add_dict_u64(d, "workers", dp.nb_workers);
	rte_tel_data_add_dict_u64(d, "ports", dp.nb_ports);
	rte_tel_data_add_dict_u64(d, "max_sessions", dp.cfg.max_sessions);
	rte_tel_data_add_dict_u64(d, "sessions", count_sessions());
	rte_tel_data_add_dict_u64(d, "uptime_s", (rte_rdtsc() - dp.start_tsc) / dp.tsc_hz);
	tel_leave();
	return 0;
}

static int
cmd_node(const char *cmd, const char *params, struct rte_tel_data *d)
{
	int rc;

	(void)cmd;
	(void)params;
	if (!tel_enter())
		return -EAGAIN;
	rc = entry_dict("node", MF_STATS_ALL_LCORES, d);
	tel_leave();
	return rc;
}

static int
cmd_lcore(const char *cmd, const char *params, struct rte_tel_data *d)
{
	uint32_t l;
	int rc;

	(void)cmd;
	if (parse_index(params, 1u + dp.nb_workers, &l) != 0)
		return -EINVAL;
	if (!tel_enter())
		return -EAGAIN;
	rc = entry_dict("node", l, d);
	if (rc == 0)
		rte_tel_data_add_dict_string(d, "role", l == 0 ? "control" : "worker");
	tel_leave();
	return rc;
}

static int
cmd_port(const char *cmd, const char *params, struct rte_tel_data *d)
{
	char name[32];
	uint32_t p;
	int rc;

	(void)cmd;
	if (parse_index(params, dp.nb_ports, &p) != 0)
		return -EINVAL;
	snprintf(name, sizeof(name), "port/%u", p);
	if (!tel_enter())
		return -EAGAIN;
	rc = entry_dict(name, MF_STATS_ALL_LCORES, d);
	tel_leave();
	return rc;
}

/* Output ids of session @p sid (the entries "session/SID/out/OID") into array @p ids. */
static void
output_ids(const char *sid, struct rte_tel_data *ids)
{
	char prefix[MF_STATS_NAME_MAX];
	uint64_t vals[TEL_FIELDS];
	struct mf_stats_view v;
	size_t n = (size_t)snprintf(prefix, sizeof(prefix), "session/%s/out/", sid);
	uint32_t i;

	for (i = 0; i < dp.tel.rd.hdr->max_entries; i++)
		if (mf_stats_read(&dp.tel.rd, i, &v, vals, TEL_FIELDS) == 0 &&
		    strncmp(v.name, prefix, n) == 0)
			rte_tel_data_add_array_string(ids, v.name + n);
}

static int
cmd_session(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct rte_tel_data *ids;
	char name[MF_STATS_NAME_MAX];
	int rc;

	(void)cmd;
	if (params == NULL || params[0] == '\0' || strlen(params) >= MF_SESS_ID_MAX ||
	    strchr(params, '/') != NULL)
		return -EINVAL;
	ids = rte_tel_data_alloc();
	if (ids == NULL)
		return -ENOMEM;
	snprintf(name, sizeof(name), "session/%s", params);
	if (!tel_enter()) {
		rte_tel_data_free(ids);
		return -EAGAIN;
	}
	rc = entry_dict(name, MF_STATS_ALL_LCORES, d);
	if (rc == 0) {
		rte_tel_data_start_array(ids, RTE_TEL_STRING_VAL);
		output_ids(params, ids);
		if (rte_tel_data_add_dict_container(d, "outputs", ids, 0) != 0)
			rte_tel_data_free(ids);
	} else {
		rte_tel_data_free(ids);
	}
	tel_leave();
	return rc;
}

static int
cmd_output(const char *cmd, const char *params, struct rte_tel_data *d)
{
	char sid[MF_SESS_ID_MAX], name[MF_STATS_NAME_MAX];
	const char *comma = params ? strchr(params, ',') : NULL;
	int rc;

	(void)cmd;
	if (comma == NULL || comma == params || (size_t)(comma - params) >= sizeof(sid) ||
	    comma[1] == '\0' || strlen(comma + 1) >= MF_OUT_ID_MAX || strchr(params, '/'))
		return -EINVAL;
	memcpy(sid, params, (size_t)(comma - params));
	sid[comma - params] = '\0';
	snprintf(name, sizeof(name), "session/%s/out/%s", sid, comma + 1);
	if (!tel_enter())
		return -EAGAIN;
	rc = entry_dict(name, MF_STATS_ALL_LCORES, d);
	tel_leave();
	return rc;
}

/* Session ids from the @p start-th on, TEL_PAGE of them, in directory order: "next" is
 * the START of the following page while there is one. */
static int
cmd_sessions(const char *cmd, const char *params, struct rte_tel_data *d)
{
	uint64_t vals[TEL_FIELDS];
	struct mf_stats_view v;
	struct rte_tel_data *ids;
	uint32_t start = 0, i, n = 0, shown = 0;

	(void)cmd;
	if (params != NULL && params[0] != '\0' && parse_index(params, UINT32_MAX, &start) != 0)
		return -EINVAL;
	ids = rte_tel_data_alloc();
	if (ids == NULL)
		return -ENOMEM;
	if (!tel_enter()) {
		rte_tel_data_free(ids);
		return -EAGAIN;
	}
	rte_tel_data_start_array(ids, RTE_TEL_STRING_VAL);
	for (i = 0; i < dp.tel.rd.hdr->max_entries; i++) {
		if (mf_stats_read(&dp.tel.rd, i, &v, vals, TEL_FIELDS) != 0 ||
		    strncmp(v.name, "session/", 8) != 0 || strstr(v.name + 8, "/out/") != NULL)
			continue;
		if (n++ >= start && shown < TEL_PAGE) {
			rte_tel_data_add_array_string(ids, v.name + 8);
			shown++;
		}
	}
	tel_leave();
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "total", n);
	rte_tel_data_add_dict_u64(d, "start", start);
	if (start + shown < n)
		rte_tel_data_add_dict_u64(d, "next", start + shown);
	if (rte_tel_data_add_dict_container(d, "ids", ids, 0) != 0)
		rte_tel_data_free(ids);
	return 0;
}

int
dp_telemetry_init(void)
{
	static const struct {
		const char *cmd;
		telemetry_cb fn;
		const char *help;
	} cmds[] = {
		{ "/mfwd/info", cmd_info, "mfwd: instance, version, workers, ports, sessions" },
		{ "/mfwd/node", cmd_node, "mfwd: node counters, all lcores. No parameters" },
		{ "/mfwd/lcore", cmd_lcore, "mfwd: one lcore's node counters. Parameter: lcore" },
		{ "/mfwd/port", cmd_port, "mfwd: one port's figures. Parameter: port" },
		{ "/mfwd/sessions", cmd_sessions,
		  "mfwd: session ids, 100 a page. Parameter: the first (default 0)" },
		{ "/mfwd/session", cmd_session, "mfwd: one session's figures. Parameter: id" },
		{ "/mfwd/output", cmd_output,
		  "mfwd: one output's figures. Parameters: session id,output id" },
	};
	uint64_t sz;
	const void *mem = mf_shm_region(&dp.shm, MF_SHM_REGION_STATS, &sz);
	size_t i;
	int rc = mf_stats_reader_attach(&dp.tel.rd, mem, mem ? sz : 0);

	if (rc != 0)
		return rc;
	atomic_store(&dp.tel.open, true);
	/* Without telemetry (EAL --no-telemetry) registering still succeeds: nothing asks. */
	for (i = 0; i < RTE_DIM(cmds); i++) {
		rc = rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn, cmds[i].help);
		if (rc != 0)
			DP_LOG(WARNING, "telemetry: %s not registered (%d): dpdk-telemetry.py "
			       "will not show it\n", cmds[i].cmd, rc);
	}
	return 0;
}

void
dp_telemetry_fini(void)
{
	atomic_store(&dp.tel.open, false);
	while (atomic_load(&dp.tel.users) != 0)
		rte_pause();
}
