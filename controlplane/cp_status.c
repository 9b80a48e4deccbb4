/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The node's retained status (its size does not grow with the sessions: counts only) and
 * its events, both published on MQTT. The status carries what placing sessions on nodes
 * needs: capacity left and the load since the previous status (rates from the stats area's
 * node counters, the busiest worker's share of its cycles). Its figures for people (the
 * dashboard page of tools/web) go on a stats topic, at a bounded rate and size.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cp.h"
#include "mf/mf_proto_json.h"
#include "mf/mf_stats.h"

#define LOAD_MIN_NS	200000000ull	/* rates over less than this are kept from before */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The node counters now: totals, and each lcore's busy and total cycles. */
static int
load_sample(struct cp *cp, struct cp_load *n)
{
	struct mf_stats_reader r;
	struct mf_stats_view v;
	uint64_t vals[256];
	uint32_t l;
	int idx;

	if (cp_stats_attach(cp, &r) != 0 || (idx = mf_stats_find(&r, "node")) < 0)
		return -ENOENT;
	for (l = 0; l < r.hdr->nb_lcores && l < CP_LOAD_LCORES; l++) {
		if (mf_stats_read_lcore(&r, (uint32_t)idx, l, &v, vals, 256) != 0)
			return -EAGAIN;
		mf_stats_view_get(&v, "busy_cycles", &n->busy[l]);
		mf_stats_view_get(&v, "total_cycles", &n->total[l]);
	}
	if (mf_stats_read(&r, (uint32_t)idx, &v, vals, 256) != 0)
		return -EAGAIN;
	mf_stats_view_get(&v, "rx_pkts", &n->rx_pkts);
	mf_stats_view_get(&v, "rx_bytes", &n->rx_bytes);
	mf_stats_view_get(&v, "tx_pkts", &n->tx_pkts);
	mf_stats_view_get(&v, "tx_bytes", &n->tx_bytes);
	n->t_ns = now_ns();
	n->generation = cp->dp_generation;
	return (int)l;
}

static double
per_s(uint64_t now, uint64_t before, double dt)
{
	return now >= before ? (double)(now - before) / dt : 0;
}

/* The load since the last status: {rx_pps, rx_kbps, tx_pps, tx_kbps, worker_busy_max,
 * worker_busy_mean, interval_ms}; zeros for the first status of a dataplane. */
static json_t *
load_json(struct cp *cp)
{
	struct cp_load n = { 0 }, *p = &cp->load;
	double dt, busy, max = 0, sum = 0;
	int nl = cp->dp_up ? load_sample(cp, &n) : -ENOENT, l, workers = 0;

	/* A read that raced the writer, or too soon: the last figures stand. */
	if (p->last != NULL && cp->dp_up &&
	    (nl < 0 || (p->generation == n.generation && n.t_ns - p->t_ns < LOAD_MIN_NS)))
		return json_incref(p->last);
	if (nl < 0)
		return
			json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:i}", "rx_pps", 0.0, "rx_kbps",
				  0.0, "tx_pps", 0.0, "tx_kbps", 0.0, "worker_busy_max", 0.0,
				  "worker_busy_mean", 0.0, "interval_ms", 0);
	if (p->t_ns == 0 || p->generation != n.generation)
		*p = (struct cp_load){ .last = p->last };	/* rates start from zero */
	dt = p->t_ns ? (double)(n.t_ns - p->t_ns) * 1e-9 : 0;
	for (l = 1; l < nl && dt > 0; l++) {	/* lcore 0 is the control lcore */
		uint64_t tot = n.total[l] - p->total[l];

		busy = tot ? (double)(n.busy[l] - p->busy[l]) / (double)tot : 0;
		/* The worker adds an iteration to its total, then to its busy cycles: a sample
		 * read between the two puts those cycles in the next interval's busy only. */
		busy = busy > 1 ? 1 : busy;
		max = busy > max ? busy : max;
		sum += busy;
		workers++;
	}
	json_decref(p->last);
	p->last = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:I}",
		"rx_pps", dt > 0 ? per_s(n.rx_pkts, p->rx_pkts, dt) : 0.0,
		"rx_kbps", dt > 0 ? per_s(n.rx_bytes, p->rx_bytes, dt) * 8e-3 : 0.0,
		"tx_pps", dt > 0 ? per_s(n.tx_pkts, p->tx_pkts, dt) : 0.0,
		"tx_kbps", dt > 0 ? per_s(n.tx_bytes, p->tx_bytes, dt) * 8e-3 : 0.0,
		"worker_busy_max", max, "worker_busy_mean", workers ? sum / workers : 0.0,
		"interval_ms", (json_int_t)(dt * 1e3));
	n.last = p->last;
	*p = n;
	return json_incref(p->last);
}

json_t *
cp_status_json(struct cp *cp)
{
	struct cp_err err;
	json_t *o, *ports = json_array();
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* Not asked while it does not answer: each status would leave it a command. */
	if (cp->dp_up && !cp_dp_stalled(cp) &&
	    cp_dp_call(cp, MF_MSG_NODE_INFO, NULL, 0, cp->res, sizeof(cp->res), &err) >= 0) {
		json_t *ni = mf_node_info_to_json((struct mf_msg_node_info *)cp->res);

		/* Not asked at attach if the dataplane did not answer then. */
		cp->dp_max_sessions = ((struct mf_msg_node_info *)cp->res)->max_sessions;
		json_decref(ports);
		ports = json_incref(json_object_get(ni, "ports"));
		json_decref(ni);
	}
	uint32_t max_sessions = cp->cfg.limits.max_sessions ? cp->cfg.limits.max_sessions :
				cp->dp_max_sessions;

	o = json_pack("{s:b, s:s, s:s, s:I, s:{s:b, s:s, s:I}, s:o, s:i, s:i, s:I, s:b,"
		      " s:{s:i, s:i, s:I, s:i}, s:o}",
		      "online", 1, "node", cp->cfg.node, "version", MF_VERSION, "time_ms",
		      (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, "dataplane", "up",
		      cp->dp_up, "instance", cp->cfg.instance, "generation",
		      (json_int_t)cp->dp_generation, "ports", ports, "sessions", cp->reg.count,
		      "outputs", cp->nb_outputs, "kbps", (json_int_t)cp->kbps, "draining",
		      cp->draining, "capacity", "max_sessions", max_sessions,
		      "max_outputs", cp->cfg.limits.max_outputs, "max_kbps",
		      (json_int_t)cp->cfg.limits.max_kbps, "sessions_free",
		      max_sessions > cp->reg.count ? max_sessions - cp->reg.count : 0,
		      "load", load_json(cp));
	if (cp->dp_up && cp_dp_stalled(cp))
		json_object_set_new(json_object_get(o, "dataplane"), "stalled", json_true());
	/* Why not: no dataplane of that instance, one still starting, another client on it. */
	if (!cp->dp_up && cp->last_dp_rc != 0)
		json_object_set_new(json_object_get(o, "dataplane"), "waiting",
				    json_string(mf_shm_strerror(cp->last_dp_rc)));
	/* Placed pool requests come with MQTT 5 properties: a 3.1.1 node cannot take them. */
	if (cp->cfg.pool_group[0] != '\0' && cp->cfg.mqtt_version == 5)
		json_object_set_new(o, "pool", json_string(cp->cfg.pool_group));
	/* Only a node that reads dead nodes' records may be named their heir (said either way:
	 * a status without it is taken for one of an older version, an heir). */
	json_object_set_new(o, "failover", json_boolean(cp->failover.on));
	return o;
}

void
cp_status_publish(struct cp *cp, bool online)
{
	json_t *o = online ? cp_status_json(cp) :
		json_pack("{s:b, s:s, s:s}", "online", 0, "node", cp->cfg.node, "reason",
			  "stopped");
	char *text = json_dumps(o, JSON_COMPACT);

	if (text != NULL)
		cp_mqtt_publish(cp->mqtt, cp->t_status, text, 1, true, NULL, 0);
	free(text);
	json_decref(o);
}

/* <prefix>/<node>/stats: mfwd-stat --json's document (the same counters, read the same
 * way) with the busiest stats_max_sessions sessions, their outputs counted, and the losses
 * by reason: every stats_interval_ms, QoS 0, not retained (a figure missed is superseded
 * by the next). */
void
cp_stats_publish(struct cp *cp)
{
	struct mf_stats_reader r;
	struct timespec ts;
	json_t *o;
	char *text;

	if (!cp->dp_up || cp_stats_attach(cp, &r) != 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	o = mf_stats_to_json_top(&r, cp->cfg.stats_max_sessions);
	if (o == NULL)
		return;
	json_object_set_new(o, "losses", mf_stats_losses_json(&r));
	json_object_set_new(o, "instance", json_string(cp->cfg.instance));
	json_object_set_new(o, "generation", json_integer((json_int_t)cp->dp_generation));
	json_object_set_new(o, "time_ms", json_integer((json_int_t)ts.tv_sec * 1000 +
						       ts.tv_nsec / 1000000));
	json_object_set_new(o, "interval_ms", json_integer(cp->cfg.stats_interval_ms));
	text = json_dumps(o, JSON_COMPACT);
	if (text != NULL)
		cp_mqtt_publish(cp->mqtt, cp->t_stats, text, 0, false, NULL, 0);
	free(text);
	json_decref(o);
}

void
cp_event_publish(struct cp *cp, json_t *ev)
{
	char topic[CP_TOPIC_MAX], *text;
	const char *kind = json_string_value(json_object_get(ev, "event"));

	json_object_set_new(ev, "node", json_string(cp->cfg.node));
	snprintf(topic, sizeof(topic), "%s/%s/event/%s", cp->cfg.prefix, cp->cfg.node,
		 kind ? kind : "unknown");
	text = json_dumps(ev, JSON_COMPACT);
	if (text != NULL)
		cp_mqtt_publish(cp->mqtt, topic, text, 0, false, NULL, 0);
	free(text);
	json_decref(ev);
}
