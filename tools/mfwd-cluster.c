/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mfwd-cluster: every node of a cluster and its load, from the retained statuses on the
 * broker (lib/cluster reads them), as a table or JSON; --best says which node a new
 * session should go to.
 *
 *   mfwd-cluster [-b URI] [-p PREFIX] [-u USER] [--wait MS] [--json | --best [--max-age MS]]
 *
 * The password comes from MFWD_MQTT_PASSWORD (never on the command line, where ps shows
 * it). Exit status: 0; 1 when --best finds no node; 2 on usage or when the broker cannot
 * be reached.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <MQTTClient.h>
#include <jansson.h>

#include "mf/mf_args.h"
#include "mf/mf_cluster.h"

struct opts {
	const char *broker, *prefix, *user;
	uint32_t wait_ms, max_age_ms;
	bool json, best;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Retained statuses arrive right after the subscription: take what comes for wait_ms. */
static int
collect(const struct opts *o, struct mf_cluster *c)
{
	MQTTClient_connectOptions co = MQTTClient_connectOptions_initializer;
	char id[64], topic[128];
	MQTTClient cl;
	uint64_t end;
	int rc;

	snprintf(id, sizeof(id), "mfwd-cluster-%d", (int)getpid());
	snprintf(topic, sizeof(topic), "%s/+/status", o->prefix);
	if (MQTTClient_create(&cl, o->broker, id, MQTTCLIENT_PERSISTENCE_NONE, NULL) !=
	    MQTTCLIENT_SUCCESS) {
		fprintf(stderr, "mfwd-cluster: %s: not a broker URI\n", o->broker);
		return 2;
	}
	co.keepAliveInterval = 10;
	co.cleansession = 1;
	co.username = o->user;
	co.password = getenv("MFWD_MQTT_PASSWORD");
	rc = MQTTClient_connect(cl, &co);
	if (rc != MQTTCLIENT_SUCCESS || MQTTClient_subscribe(cl, topic, 1) != MQTTCLIENT_SUCCESS) {
		fprintf(stderr, "mfwd-cluster: %s: %s\n", o->broker,
			rc != MQTTCLIENT_SUCCESS ? MQTTClient_strerror(rc) : "subscription refused");
		MQTTClient_destroy(&cl);
		return 2;
	}
	end = mono_ms() + o->wait_ms;
	for (uint64_t t = mono_ms(); t < end; t = mono_ms()) {
		MQTTClient_message *m = NULL;
		char *name = NULL;
		int nlen = 0;

		if (MQTTClient_receive(cl, &name, &nlen, &m, (unsigned long)(end - t)) !=
		    MQTTCLIENT_SUCCESS)
			break;
		if (m == NULL)		/* the wait ended with nothing */
			continue;
		if (mf_cluster_update(c, name, m->payload, (size_t)m->payloadlen, now_ms()) < 0)
			fprintf(stderr, "mfwd-cluster: too many nodes; some are not shown\n");
		MQTTClient_freeMessage(&m);
		MQTTClient_free(name);
	}
	MQTTClient_disconnect(cl, 1000);
	MQTTClient_destroy(&cl);
	return 0;
}

static const char *
state(const struct mf_node_status *s)
{
	return !s->valid ? "invalid" : !s->online ? "offline" : s->draining ? "draining" :
	       s->dp_up ? "online" : "no-dataplane";
}

static json_t *
node_json(const struct mf_node_status *s, uint64_t now)
{
	if (!s->valid)
		return json_pack("{s:s, s:s, s:s}", "node", s->node, "state", "invalid", "why",
				 s->why);
	if (!s->online)
		return json_pack("{s:s, s:s, s:s}", "node", s->node, "state", "offline", "reason",
				 s->reason);
	/* Counts are uint32_t: "I" with json_int_t, as "i" would take them for an int. */
	return json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, "
			 "s:f, s:f, s:f, s:I}",
			 "node", s->node, "state", state(s), "version", s->version,
			 "dataplane_up", s->dp_up, "generation", (json_int_t)s->generation,
			 "ports", (json_int_t)s->ports, "sessions", (json_int_t)s->sessions,
			 "outputs", (json_int_t)s->outputs, "max_sessions", (json_int_t)s->max_sessions,
			 "sessions_free", (json_int_t)s->sessions_free,
			 "rx_pps", s->rx_pps, "rx_kbps", s->rx_kbps, "tx_pps", s->tx_pps,
			 "tx_kbps", s->tx_kbps, "worker_busy_max", s->busy_max,
			 "worker_busy_mean", s->busy_mean, "age_ms",
			 (json_int_t)(now > s->time_ms ? now - s->time_ms : 0));
}

static void
print_table(const struct mf_cluster *c, uint64_t now)
{
	uint32_t i;

	printf("%-20s %-12s %9s %9s %11s %11s %6s %7s\n", "node", "state", "sessions", "free",
	       "rx pps", "rx Mbit/s", "busy", "age s");
	for (i = 0; i < c->n; i++) {
		const struct mf_node_status *s = &c->nodes[i];

		if (!s->valid || !s->online) {
			printf("%-20.20s %-12s %s\n", s->node, state(s), s->valid ? s->reason : s->why);
			continue;
		}
		printf("%-20.20s %-12s %9u %9u %11.0f %11.1f %5.0f%% %7.1f\n", s->node, state(s),
		       s->sessions, s->sessions_free, s->rx_pps, s->rx_kbps / 1000,
		       s->busy_max * 100, now > s->time_ms ? (double)(now - s->time_ms) / 1e3 : 0);
	}
	if (c->n == 0)
		printf("(no node has published a status)\n");
}

static void
usage(void)
{
	fprintf(stderr, "usage: mfwd-cluster [-b BROKER_URI] [-p PREFIX] [-u USER] [--wait MS] "
			"[--json | --best [--max-age MS]]\n");
}

static int
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "broker", required_argument, NULL, 'b' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'u' },
		{ "wait", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "best", no_argument, NULL, 'B' },
		{ "max-age", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "b:p:u:h", lo, NULL)) != -1) {
		switch (c) {
		case 'b': o->broker = optarg; break;
		case 'p': o->prefix = optarg; break;
		case 'u': o->user = optarg; break;
		case 'j': o->json = true; break;
		case 'B': o->best = true; break;
		case 'w':
			if (mf_parse_u32(optarg, 1, 600000, &o->wait_ms) != 0)
				return -EINVAL;
			break;
		case 'a':
			if (mf_parse_u32(optarg, 0, 86400000, &o->max_age_ms) != 0)
				return -EINVAL;
			break;
		default: return -EINVAL;
		}
	}
	return optind == argc && !(o->json && o->best) ? 0 : -EINVAL;
}

int
main(int argc, char **argv)
{
	struct opts o = { .broker = "tcp://127.0.0.1:1883", .prefix = "mfwd", .wait_ms = 1000,
			  .max_age_ms = 30000 };
	const struct mf_node_status *best;
	struct mf_cluster c;
	uint32_t i;
	int rc;

	if (parse(argc, argv, &o) != 0 || mf_cluster_init(&c, o.prefix) != 0) {
		usage();
		return 2;
	}
	rc = collect(&o, &c);
	if (rc == 0 && o.best) {
		best = mf_cluster_best(&c, now_ms(), o.max_age_ms);
		if (best != NULL)
			printf("%s\n", best->node);
		else
			fprintf(stderr, "mfwd-cluster: no node can take a session\n");
		rc = best != NULL ? 0 : 1;
	} else if (rc == 0 && o.json) {
		json_t *a = json_array();
		char *text;

		for (i = 0; i < c.n; i++)
			json_array_append_new(a, node_json(&c.nodes[i], now_ms()));
		text = json_dumps(a, JSON_COMPACT);
		printf("%s\n", text ? text : "[]");
		free(text);
		json_decref(a);
	} else if (rc == 0) {
		print_table(&c, now_ms());
	}
	mf_cluster_free(&c);
	return rc;
}
