/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's side of the stats area: schemas generated from the counter lists
 * (dp_*counters.inc), the node and port entries, and the ethdev figures copied each second.
 * Workers write their own lcore's blocks directly; this file only builds the directory.
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>

#include "dp.h"

static const char *const sess_fields[] = {
#define X(name, desc) #name,
#define G(name, desc) #name,
#include "dp_sess_counters.inc"
#undef X
#undef G
};

static const uint8_t sess_gauges[] = {
#define X(name, desc) MF_STATS_FIELD_COUNTER,
#define G(name, desc) MF_STATS_FIELD_GAUGE,
#include "dp_sess_counters.inc"
#undef X
#undef G
};

static const char *const sess_descs[] = {
#define X(name, desc) desc,
#define G(name, desc) desc,
#include "dp_sess_counters.inc"
#undef X
#undef G
};

static const char *const out_fields[] = {
#define X(name, desc) #name,
#define G(name, desc) #name,
#include "dp_out_counters.inc"
#undef X
#undef G
};

static const uint8_t out_gauges[] = {
#define X(name, desc) MF_STATS_FIELD_COUNTER,
#define G(name, desc) MF_STATS_FIELD_GAUGE,
#include "dp_out_counters.inc"
#undef X
#undef G
};

static const char *const out_descs[] = {
#define X(name, desc) desc,
#define G(name, desc) desc,
#include "dp_out_counters.inc"
#undef X
#undef G
};

static const char *const port_fields[] = {
#define X(name, desc) #name,
#define E(name, desc) #name,
#include "dp_port_counters.inc"
#undef X
#undef E
};

/* ethdev figures are copied, not added: gauges of the ethdev's own counters. */
static const uint8_t port_gauges[] = {
#define X(name, desc) MF_STATS_FIELD_COUNTER,
#define E(name, desc) MF_STATS_FIELD_GAUGE,
#include "dp_port_counters.inc"
#undef X
#undef E
};

static const char *const port_descs[] = {
#define X(name, desc) desc,
#define E(name, desc) desc,
#include "dp_port_counters.inc"
#undef X
#undef E
};

static const char *const node_base_fields[] = {
#define X(name, desc) #name,
#include "dp_counters.inc"
#undef X
};

static const char *const node_base_descs[] = {
#define X(name, desc) desc,
#include "dp_counters.inc"
#undef X
};

/* Node fields: the list above, then drop_<reason> for every parser reason. The schema is
 * copied into the stats area, so these live only while it is added. */
struct node_schema {
	char err_names[MF_PKT_E_MAX][MF_STATS_FIELD_MAX];
	char err_descs[MF_PKT_E_MAX][MF_STATS_DESC_MAX];
	const char *fields[DP_CTR_MAX];
	const char *descs[DP_CTR_MAX];
};

static void
build_node_fields(struct node_schema *ns)
{
	unsigned int i, e;

	for (i = 0; i < DP_CTR_PKT_ERR_BASE; i++) {
		ns->fields[i] = node_base_fields[i];
		ns->descs[i] = node_base_descs[i];
	}
	for (e = 1; e < MF_PKT_E_MAX; e++) {
		char *n = ns->err_names[e];

		snprintf(n, MF_STATS_FIELD_MAX, "drop_%s", mf_pkt_err_name((int)e));
		for (; *n; n++)
			*n = (char)tolower((unsigned char)*n);
		snprintf(ns->err_descs[e], MF_STATS_DESC_MAX, "dropped by the parser: %s",
			 mf_pkt_err_desc((int)e));
		ns->fields[DP_CTR_PKT_ERR_BASE + e - 1] = ns->err_names[e];
		ns->descs[DP_CTR_PKT_ERR_BASE + e - 1] = ns->err_descs[e];
	}
}

/* Which fields count losses (MF_STATS_FIELD_LOSS), by one rule for every schema: a drop,
 * a full ring or queue, a lost event, and what the NIC itself lost. An output's filters
 * (paused, payload type, PIDs) do what its config says and lose nothing. */
static bool
is_loss(const char *f)
{
	static const char *const not_lost[] = { "drop_paused", "drop_pt", "drop_ts_filtered",
						"drop_kf_wait" };
	static const char *const nic[] = { "imissed", "rx_nombuf", "ierrors", "oerrors" };
	size_t n = strlen(f), i;

	for (i = 0; i < RTE_DIM(not_lost); i++)
		if (strcmp(f, not_lost[i]) == 0)
			return false;
	for (i = 0; i < RTE_DIM(nic); i++)
		if (strcmp(f, nic[i]) == 0)
			return true;
	return strncmp(f, "drop_", 5) == 0 || (n > 5 && strcmp(f + n - 5, "_full") == 0) ||
	       (n > 5 && strcmp(f + n - 5, "_lost") == 0);
}

/* The kinds of a schema's fields: gauges where @p gauges says (NULL: none), losses by rule. */
static const uint8_t *
kinds_of(uint8_t *kinds, const char *const *fields, const uint8_t *gauges, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		kinds[i] = (uint8_t)((gauges ? gauges[i] : MF_STATS_FIELD_COUNTER) |
				     (is_loss(fields[i]) ? MF_STATS_FIELD_LOSS : 0));
	return kinds;
}

static uint32_t
stride_words(uint32_t nb_fields)
{
	return (nb_fields * 8 + MF_STATS_UNIT - 1) / MF_STATS_UNIT * MF_STATS_UNIT / 8;
}

static int
add_schemas(void)
{
	uint8_t kinds[DP_CTR_MAX + DP_SC_MAX + DP_OC_MAX + DP_PC_MAX];
	struct node_schema ns;

	build_node_fields(&ns);
	dp.schema_node = mf_stats_schema_add(dp.stats, "schema/node", ns.fields,
		kinds_of(kinds, ns.fields, NULL, DP_CTR_MAX), ns.descs, DP_CTR_MAX);
	dp.schema_sess = mf_stats_schema_add(dp.stats, "schema/session", sess_fields,
		kinds_of(kinds, sess_fields, sess_gauges, DP_SC_MAX), sess_descs, DP_SC_MAX);
	dp.schema_out = mf_stats_schema_add(dp.stats, "schema/output", out_fields,
		kinds_of(kinds, out_fields, out_gauges, DP_OC_MAX), out_descs, DP_OC_MAX);
	dp.schema_port = mf_stats_schema_add(dp.stats, "schema/port", port_fields,
		kinds_of(kinds, port_fields, port_gauges, DP_PC_MAX), port_descs, DP_PC_MAX);
	if (dp.schema_node < 0 || dp.schema_sess < 0 || dp.schema_out < 0 || dp.schema_port < 0)
		return -ENOSPC;
	dp.stride_node = stride_words(DP_CTR_MAX);
	dp.stride_sess = stride_words(DP_SC_MAX);
	dp.stride_out = stride_words(DP_OC_MAX);
	dp.stride_port = stride_words(DP_PC_MAX);
	return 0;
}

int
dp_stats_add(const char *name, int schema, uint64_t **ctr)
{
	int idx = mf_stats_add(dp.stats, name, MF_STATS_COUNTERS, schema, NULL);

	if (idx >= 0)
		*ctr = mf_stats_values(dp.stats, idx, 0);
	return idx;
}

void
dp_stats_remove(int idx)
{
	if (idx >= 0)
		mf_stats_remove(dp.stats, idx);
}

int
dp_stats_init(void)
{
	uint64_t sz;
	uint16_t i;
	char name[32];
	void *mem = mf_shm_region(&dp.shm, MF_SHM_REGION_STATS, &sz);
	uint32_t max_entries = dp.cfg.max_sessions * 3 + 1024;
	uint64_t *ctr;
	int rc;

	dp.stats = mf_stats_writer_create(mem, sz, 1u + dp.nb_workers, max_entries);
	if (dp.stats == NULL)
		return -errno;
	rc = add_schemas();
	if (rc != 0)
		return rc;
	dp.node_stats_idx = dp_stats_add("node", dp.schema_node, &dp.node_ctr);
	if (dp.node_stats_idx < 0)
		return dp.node_stats_idx;
	for (i = 0; i < dp.nb_ports; i++) {
		snprintf(name, sizeof(name), "port/%u", i);
		dp.ports[i].stats_idx = dp_stats_add(name, dp.schema_port, &ctr);
		if (dp.ports[i].stats_idx < 0)
			return dp.ports[i].stats_idx;
		dp.ports[i].ctr = ctr;
	}
	return 0;
}

size_t
dp_stats_area_bytes(uint32_t max_sessions, uint32_t nb_lcores)
{
	uint64_t sess = (uint64_t)nb_lcores * stride_words(DP_SC_MAX) * 8;
	uint64_t out = (uint64_t)nb_lcores * stride_words(DP_OC_MAX) * 8;
	uint64_t fixed = (uint64_t)(DP_CTR_MAX + DP_SC_MAX + DP_OC_MAX + DP_PC_MAX) *
			 (MF_STATS_FIELD_MAX + MF_STATS_DESC_MAX) + (uint64_t)nb_lcores * 8 * 8 * (DP_CTR_MAX +
			 MF_MAX_PORTS * DP_PC_MAX) + 65536;

	return mf_stats_area_size(nb_lcores, max_sessions * 3 + 1024,
				  (size_t)(max_sessions * (sess + 2 * out) + fixed));
}

void
dp_stats_fini(void)
{
	mf_stats_writer_destroy(dp.stats);
	dp.stats = NULL;
}

void
dp_stats_ports_update(void)
{
	struct rte_eth_stats st;
	uint16_t i;

	for (i = 0; i < dp.nb_ports; i++) {
		struct dp_port *p = &dp.ports[i];
		uint64_t *c;

		if (p->stats_idx < 0 || rte_eth_stats_get(p->port_id, &st) != 0)
			continue;
		c = mf_stats_values(dp.stats, p->stats_idx, 0);
		c[DP_PC_ipackets] = st.ipackets;
		c[DP_PC_opackets] = st.opackets;
		c[DP_PC_ibytes] = st.ibytes;
		c[DP_PC_obytes] = st.obytes;
		c[DP_PC_imissed] = st.imissed;
		c[DP_PC_ierrors] = st.ierrors;
		c[DP_PC_oerrors] = st.oerrors;
		c[DP_PC_rx_nombuf] = st.rx_nombuf;
	}
}
