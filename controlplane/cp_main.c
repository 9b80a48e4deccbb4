/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mfwd-controlplane: takes JSON commands over MQTT and sets sessions up in a dataplane
 * through its shared-memory channel. It never touches packets: killing it, restarting it,
 * or losing the broker leaves media flowing.
 *
 *   mfwd-controlplane [--config FILE] [--log-level LEVEL] [--syslog]
 */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cp.h"
#include "mf/mf_proto_json.h"
#include "mf/mf_time.h"

#define POLL_MS		100
#define DP_POLL_MS	200
#define BATCH_MAX	1024	/* requests taken from the queue at once */
#define STOP_DRAIN_MS	3000	/* stopping: what was taken and placed is done within */

static volatile sig_atomic_t quit;

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void
topics(struct cp *cp)
{
	snprintf(cp->t_status, sizeof(cp->t_status), "%s/%s/status", cp->cfg.prefix, cp->cfg.node);
	snprintf(cp->t_stats, sizeof(cp->t_stats), "%s/%s/stats", cp->cfg.prefix, cp->cfg.node);
	snprintf(cp->t_pool, sizeof(cp->t_pool), "%s/pool/cmd", cp->cfg.prefix);
	snprintf(cp->t_place, sizeof(cp->t_place), "%s/%s/place/reply", cp->cfg.prefix,
		 cp->cfg.node);
}

/* The dataplane came or went: what we did about it, as an event and in the status. */
static void
dataplane(struct cp *cp)
{
	enum cp_dp_change ch = cp_dp_poll(cp);
	struct mf_msg_event ev;

	if (ch == CP_DP_UP && cp_store_fresh(cp))
		cp_pipes_rekey(cp);
	if (ch == CP_DP_UP) {
		cp_store_attach(cp);
		cp_pipes_attached(cp);
	}
	if (ch != CP_DP_SAME) {
		cp_event_publish(cp, ch == CP_DP_UP ?
			json_pack("{s:s, s:I, s:i}", "event", "dataplane.up", "generation",
				  (json_int_t)cp->dp_generation, "sessions", cp->reg.count) :
			json_pack("{s:s, s:I}", "event", "dataplane.down", "generation",
				  (json_int_t)cp->dp_generation));
		cp_status_publish(cp, true);
	}
	while (cp_dp_event(cp, &ev) == 0) {
		json_t *o = mf_event_to_json(&ev);

		cp_stream_label(cp, o);		/* before a timeout ends the stream */
		/* A session the dataplane ended is no longer ours to replay. */
		if (ev.kind == MF_EV_SESSION_TIMEOUT)
			cp_store_forget(cp, ev.id);
		cp_event_publish(cp, o);
		if ((ev.kind == MF_EV_ICE_CONSENT_LOST || ev.kind == MF_EV_ICE_TIMEOUT) &&
		    ev.output[0] != '\0')
			cp_streams_viewer_lost(cp, ev.id, ev.output);
	}
}

/* Devices' statuses, other nodes' answers and streams taken out of @p batch (and handled).
 * @return the requests left. */
static unsigned int
devices(struct cp *cp, struct cp_msg **batch, unsigned int n)
{
	unsigned int i, k = 0;
	char gone[64];
	int rc;

	for (i = 0; i < n; i++) {
		if (!batch[i]->pipe_reply && !batch[i]->device && !batch[i]->stream_dir) {
			batch[k++] = batch[i];
			continue;
		}
		/* An oversized message is kept only as its length (cp_mqtt.c). */
		if (batch[i]->len > cp->cfg.max_payload)
			MF_LOG(WARNING, main, "%zu bytes on %.100s: over max_payload, ignored",
			       batch[i]->len, batch[i]->topic);
		else if (batch[i]->pipe_reply)
			cp_pipes_reply(cp, batch[i]);
		else if (batch[i]->stream_dir)
			cp_edge_dir(cp, batch[i]);
		else if ((rc = cp_device_status(cp, batch[i], gone, sizeof(gone))) > 0) {
			cp_streams_device_gone(cp, gone);	/* told, if it hears */
			if (rc == 2)
				cp_device_forget(cp, gone);
		}
		cp_msg_free(batch[i]);
	}
	return k;
}

/* Stopping: out of the pool first (what it gives now goes to other nodes) and draining
 * (said in a status: other nodes place nothing more here, and a create placed here is
 * refused "draining", which its placer places again), then what was taken, and the answers
 * of the nodes requests were placed on, within STOP_DRAIN_MS (the requests still awaited
 * are answered "timeout"). @return true when the loop may end. */
static bool
stopped(struct cp *cp, uint64_t *by)
{
	if (*by == 0) {
		cp_mqtt_leave_pool(cp->mqtt);
		cp->draining = true;
		cp_status_publish(cp, true);
		*by = mf_mono_ms() + STOP_DRAIN_MS;
	}
	if ((cp_mqtt_queued(cp->mqtt) != 0 || cp_place_awaited(cp) != 0) && mf_mono_ms() < *by)
		return false;
	cp_place_stop(cp);
	return true;
}

/* How long a node whose sessions change waits between two statuses: 25 ms for each node of
 * the registry, 100 ms to 5 s. A placer sees other placers' sends only in statuses, so a
 * small pool needs them fresh (with 500 ms, a burst of 300 creates over three nodes went
 * 147 to one of them, whose status was the oldest); each status goes to every node, so a
 * large one needs them rare (N nodes publish N^2 messages a second at N / interval). */
static uint64_t
churn_ms(const struct cp *cp)
{
	uint64_t ms = 25ull * cp->place.reg.n;

	return ms < 100 ? 100 : ms > 5000 ? 5000 : ms;
}

static void
run(struct cp *cp)
{
	uint64_t next_dp = 0, next_status = 0, last_status = 0, next_stats = 0, t, judged;
	uint64_t stop_by = 0;
	struct cp_msg *batch[BATCH_MAX];
	bool again;
	unsigned int n, i;

	/* Attach to the dataplane before the first request: commands the broker kept for us
	 * while we were away are queued as soon as the connection is up. */
	dataplane(cp);
	while (!quit || !stopped(cp, &stop_by)) {
		/* Placed requests are judged as of the last message taken (the queue is in
		 * order of arrival: any answer that came before it is in this batch), or of
		 * the moment the batch emptied the queue. */
		n = cp_mqtt_take(cp->mqtt, batch, BATCH_MAX, POLL_MS, &judged);
		n = devices(cp, batch, n);
		n = cp_place_route(cp, batch, n);
		n = cp_failover_route(cp, batch, n);
		if (n > 0)
			cp_cmd_batch(cp, batch, n);
		for (i = 0; i < n; i++)
			cp_msg_free(batch[i]);
		cp_reg_trim(&cp->reg);
		t = mf_mono_ms();
		cp_streams_tick(cp, t);
		cp_pipes_tick(cp, t);
		cp_place_tick(cp, judged);
		if (t >= next_dp) {
			next_dp = t + DP_POLL_MS;
			dataplane(cp);
			cp_store_tick(cp);
		}
		/* Status: on (re)connection, every status_interval_s, and while sessions
		 * change at most every churn_ms(). */
		again = cp_mqtt_take_reconnected(cp->mqtt);
		cp_failover_tick(cp, again, t);
		if (again)
			cp_edge_reannounce(cp);
		if (again || (cp->status_dirty && t >= last_status + churn_ms(cp)) ||
		    (t >= next_status && cp_mqtt_connected(cp->mqtt))) {
			next_status = t + cp->cfg.status_interval_s * 1000ull;
			last_status = t;
			cp->status_dirty = false;
			cp_status_publish(cp, true);
		}
		if (cp->cfg.stats_interval_ms != 0 && t >= next_stats &&
		    cp_mqtt_connected(cp->mqtt)) {
			next_stats = t + cp->cfg.stats_interval_ms;
			cp_stats_publish(cp);
		}
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: mfwd-controlplane [--config FILE] [--log-level LEVEL] "
			"[--syslog]\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "syslog", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct cp cp;
	const char *config = NULL, *level = NULL;
	bool use_syslog = false;
	int c;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (c == 'c')
			config = optarg;
		else if (c == 'l')
			level = optarg;
		else if (c == 's')
			use_syslog = true;
		else {
			usage();
			return 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	if (config != NULL ? cp_config_load(&cp.cfg, config) != 0 :
			     (cp_config_defaults(&cp.cfg), 0))
		return 2;
	mf_log_init("mfwd-controlplane", use_syslog);
	if (mf_log_set_level("all", mf_log_level_parse(level ? level : cp.cfg.log_level)) != 0) {
		fprintf(stderr, "mfwd-controlplane: --log-level: error, warning, notice, info or "
				"debug\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	topics(&cp);
	if (cp_auth_init(&cp) != 0 || cp_place_init(&cp) != 0 || cp_failover_init(&cp) != 0)
		return 2;
	cp.journal = cp_journal_open(cp.cfg.journal_dir);
	if (cp.journal == NULL || cp_rooms_load(&cp) != 0 || cp_tokens_load(&cp) != 0 ||
	    cp_store_load(&cp) < 0 || cp_pipes_load(&cp) != 0 ||
	    (cp.rooms.dirty && cp_rooms_save(&cp) != 0))
		return 1;
	cp.mqtt = cp_mqtt_start(&cp.cfg);
	if (cp.mqtt == NULL)
		return 1;
	MF_LOG(NOTICE, main, "node %s: commands on %s/%s/cmd%s%s%s, dataplane \"%s\"",
	       cp.cfg.node, cp.cfg.prefix, cp.cfg.node, cp.cfg.pool_group[0] ? " and " : "",
	       cp.cfg.pool_group[0] ? cp.cfg.prefix : "",
	       cp.cfg.pool_group[0] ? "/pool/cmd" : "", cp.cfg.instance);
	run(&cp);
	MF_LOG(NOTICE, main, "stopping");
	cp_failover_stop(&cp);
	cp_status_publish(&cp, false);
	cp_mqtt_stop(cp.mqtt);
	if (cp.dp_up)
		mf_client_close(&cp.dp);
	cp_journal_close(cp.journal);
	cp_reg_clear(&cp.reg);
	free(cp.orphans.v);
	free(cp.unconfirmed.v);
	cp_devices_fini(&cp);
	cp_pipes_fini(&cp);
	cp_place_fini(&cp);
	cp_failover_fini(&cp);
	cp_edge_fini(&cp);
	cp_tokens_fini(&cp);
	cp_rooms_fini(&cp);
	cp_auth_fini(&cp);
	json_decref(cp.load.last);
	return 0;
}
