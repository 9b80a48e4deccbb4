/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mfwd-stat: the dataplane's figures from its stats area, mapped read-only: it never writes
 * to the segment and never slows the dataplane (readers only copy and retry).
 *
 *   mfwd-stat [-i INSTANCE]                 live view, refreshed every second (a terminal)
 *   mfwd-stat [-i INSTANCE] --once          one text view (rates over --interval seconds)
 *   mfwd-stat [-i INSTANCE] --json          one JSON snapshot
 *   mfwd-stat [-i INSTANCE] --prometheus    one Prometheus text exposition
 *   mfwd-stat [-i INSTANCE] --listen ADDR:PORT   serve that exposition at /metrics
 *   mfwd-stat [-i INSTANCE] --session ID    every figure of one session and its outputs
 * --max-sessions N: the sessions in an exposition, those with the most ingress bytes
 * (default 100).
 *
 * Exit status 2 and a sentence when no dataplane runs, or one of another version.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "mf/mf_args.h"
#include "mf/mf_shm.h"
#include "mf/mf_stats.h"
#include "mf/mf_time.h"
#include "stat_prom.h"

#define MAX_FIELDS 128
#define PROM_SESSIONS 100	/* default of --max-sessions */

/* One entry of a snapshot: its name, field names and summed values. */
struct item {
	char name[MF_STATS_NAME_MAX];
	uint32_t idx;
	uint32_t nb;
	const char (*fields)[MF_STATS_FIELD_MAX];
	uint64_t vals[MAX_FIELDS];
};

struct snap {
	struct item *items;
	uint32_t n, cap;
	uint64_t t_ns;
};

static struct mf_shm shm;
static struct mf_stats_reader rd;
static const char *instance = "mfwd";

static int
attach(void)
{
	uint64_t sz;
	const void *mem;
	int rc = mf_shm_open(&shm, instance, false);

	if (rc != 0) {
		fprintf(stderr, "mfwd-stat: instance \"%s\": %s\n", instance, mf_shm_strerror(rc));
		return rc;
	}
	mem = mf_shm_region(&shm, MF_SHM_REGION_STATS, &sz);
	rc = mf_stats_reader_attach(&rd, mem, mem == NULL ? 0 : sz);
	if (rc != 0)
		fprintf(stderr, "mfwd-stat: instance \"%s\": stats area: %s\n", instance,
			rc == -EPROTO ? "another version: use the mfwd-stat of the dataplane's"
				      : "not readable");
	return rc;
}

/* Every entry whose name starts with @p prefix (NULL: all). */
static int
take(struct snap *s, const char *prefix)
{
	uint32_t i, max = rd.hdr->max_entries;
	struct mf_stats_view v;

	s->n = 0;
	s->t_ns = mf_time_ns(CLOCK_REALTIME);
	for (i = 0; i < max; i++) {
		struct item *it;

		if (s->n == s->cap) {
			uint32_t cap = s->cap ? s->cap * 2 : 256;
			struct item *n = realloc(s->items, sizeof(*n) * cap);

			if (n == NULL)
				return -ENOMEM;
			s->items = n;
			s->cap = cap;
		}
		it = &s->items[s->n];
		if (mf_stats_read(&rd, i, &v, it->vals, MAX_FIELDS) != 0)
			continue;
		if (prefix != NULL && strncmp(v.name, prefix, strlen(prefix)) != 0)
			continue;
		memcpy(it->name, v.name, sizeof(it->name));
		it->idx = i;
		it->nb = v.nb_fields;
		it->fields = v.fields;
		s->n++;
	}
	return 0;
}

static const struct item *
find(const struct snap *s, const char *name)
{
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->items[i].name, name) == 0)
			return &s->items[i];
	return NULL;
}

static uint64_t
get(const struct item *it, const char *field)
{
	uint32_t i;

	for (i = 0; it != NULL && i < it->nb; i++)
		if (strncmp(it->fields[i], field, MF_STATS_FIELD_NAME_MAX + 1) == 0)
			return it->vals[i];
	return 0;
}

static bool
is_loss(const struct item *it, uint32_t i)
{
	return mf_stats_field_is_loss(it->fields[i]);
}

/* ---- JSON ---- */

static int
print_json(void)
{
	json_t *root = mf_stats_to_json(&rd, NULL);
	char *out;

	if (root == NULL)
		return 2;
	json_object_set_new(root, "instance", json_string(instance));
	json_object_set_new(root, "generation", json_integer((json_int_t)shm.hdr->generation));
	json_object_set_new(root, "time_ns", json_integer((json_int_t)mf_time_ns(CLOCK_REALTIME)));
	json_object_set_new(root, "uptime_ms", json_integer((json_int_t)((mf_time_ns(CLOCK_REALTIME) -
							 shm.hdr->start_time_ns) / 1000000)));
	json_object_set_new(root, "lcores_count", json_integer(rd.hdr->nb_lcores));
	out = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	printf("%s\n", out);
	free(out);
	json_decref(root);
	return 0;
}

/* ---- text: snapshot and live view ---- */

static double
rate(const struct snap *cur, const struct snap *prev, const struct item *it, const char *f)
{
	const struct item *p = prev ? find(prev, it->name) : NULL;
	double dt = prev ? (double)(cur->t_ns - prev->t_ns) * 1e-9 : 0;

	if (p == NULL || dt <= 0)
		return 0;
	return (double)(get(it, f) - get(p, f)) / dt;
}

/* Every non-zero field the dataplane marks as a loss, of @p it, after @p prefix. */
static bool
print_losses(const struct item *it, const char *prefix, bool any)
{
	uint32_t i;

	for (i = 0; it != NULL && i < it->nb; i++) {
		if (!is_loss(it, i) || it->vals[i] == 0)
			continue;
		printf("%s %s%s=%llu", any ? "," : "  lost:", prefix, it->fields[i],
		       (unsigned long long)it->vals[i]);
		any = true;
	}
	return any;
}

/* The node's losses and each port's (the NIC's own among them): "none" only when every
 * one is zero. Sessions and outputs show theirs in --session and --json. */
static void
print_drops(const struct snap *s, const struct item *node)
{
	char prefix[MF_STATS_NAME_MAX + 2];
	bool any = print_losses(node, "", false);
	uint32_t i;

	for (i = 0; i < s->n; i++) {
		if (strncmp(s->items[i].name, "port/", 5) != 0)
			continue;
		snprintf(prefix, sizeof(prefix), "%s.", s->items[i].name);
		any = print_losses(&s->items[i], prefix, any);
	}
	printf("%s\n", any ? "" : "  lost: none");
}

static void
print_text(const struct snap *s, const struct snap *prev)
{
	const struct item *node = find(s, "node");
	struct mf_stats_view v;
	uint64_t vals[MAX_FIELDS];
	uint32_t i, l, nsess = 0;

	printf("mfwd %s  generation %llu  up %.0f s\n", instance,
	       (unsigned long long)shm.hdr->generation,
	       (double)(s->t_ns - shm.hdr->start_time_ns) * 1e-9);
	if (node != NULL) {
		printf("node: rx %llu pkts (%.0f pps)  tx %llu pkts (%.0f pps)\n",
		       (unsigned long long)get(node, "rx_pkts"), rate(s, prev, node, "rx_pkts"),
		       (unsigned long long)get(node, "tx_pkts"), rate(s, prev, node, "tx_pkts"));
		print_drops(s, node);
		for (l = 0; l < rd.hdr->nb_lcores; l++) {
			struct item it = { .nb = 0 };

			if (mf_stats_read_lcore(&rd, node->idx, l, &v, vals, MAX_FIELDS) != 0)
				continue;
			it.nb = v.nb_fields;
			it.fields = v.fields;
			memcpy(it.vals, vals, sizeof(uint64_t) * v.nb_fields);
			printf("lcore %u %-7s busy %5.1f%%  rx %llu  tx %llu  iterations %llu\n", l,
			       l == 0 ? "control" : "worker", get(&it, "total_cycles") ?
			       100.0 * (double)get(&it, "busy_cycles") /
			       (double)get(&it, "total_cycles") : 0.0,
			       (unsigned long long)get(&it, "rx_pkts"),
			       (unsigned long long)get(&it, "tx_pkts"),
			       (unsigned long long)get(&it, "iterations"));
		}
	}
	for (i = 0; i < s->n; i++) {
		const struct item *it = &s->items[i];

		if (strncmp(it->name, "port/", 5) == 0)
			printf("%-8s rx %10llu (%9.0f pps)  tx %10llu (%9.0f pps)  missed %llu\n",
			       it->name, (unsigned long long)get(it, "rx_pkts"),
			       rate(s, prev, it, "rx_pkts"), (unsigned long long)get(it, "tx_pkts"),
			       rate(s, prev, it, "tx_pkts"), (unsigned long long)get(it, "imissed"));
	}
	printf("%-24s %10s %9s %10s %9s %7s %9s %7s %5s %7s\n", "session", "rx", "rx pps", "tx",
	       "tx pps", "lost", "jitter us", "reorder", "dup", "cc err");
	for (i = 0; i < s->n; i++) {
		const struct item *it = &s->items[i];

		if (strncmp(it->name, "session/", 8) != 0 || strstr(it->name + 8, "/out/"))
			continue;
		if (++nsess > 50)
			continue;
		printf("%-24.24s %10llu %9.0f %10llu %9.0f %7llu %9llu %7llu %5llu %7llu\n",
		       it->name + 8, (unsigned long long)get(it, "rx_pkts"),
		       rate(s, prev, it, "rx_pkts"), (unsigned long long)get(it, "tx_pkts"),
		       rate(s, prev, it, "tx_pkts"), (unsigned long long)get(it, "rtp_lost"),
		       (unsigned long long)get(it, "jitter_us"),
		       (unsigned long long)get(it, "reorder"), (unsigned long long)get(it, "dup"),
		       (unsigned long long)get(it, "ts_cc_err"));
	}
	if (nsess > 50)
		printf("... and %u more sessions (--json for all)\n", nsess - 50);
}

static int
print_session(const struct snap *s, const char *id)
{
	uint32_t i, k, shown = 0;
	size_t n = strlen("session/") + strlen(id);

	for (i = 0; i < s->n; i++) {
		const struct item *it = &s->items[i];

		/* The prefix also matches longer ids: keep the session and its outputs only. */
		if (it->name[n] != '\0' && it->name[n] != '/')
			continue;
		printf("%s\n", it->name);
		for (k = 0; k < it->nb; k++)
			printf("  %-22s %llu\n", it->fields[k], (unsigned long long)it->vals[k]);
		shown++;
	}
	if (shown == 0) {
		fprintf(stderr, "mfwd-stat: no session \"%s\"\n", id);
		return 1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: mfwd-stat [-i INSTANCE] [--once | --json | --prometheus | "
			"--listen ADDR:PORT | --session ID] [--interval SECONDS] "
			"[--max-sessions N]\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "instance", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "once", no_argument, NULL, 'o' },
		{ "session", required_argument, NULL, 's' },
		{ "interval", required_argument, NULL, 'n' },
		{ "listen", required_argument, NULL, 'l' },
		{ "max-sessions", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct snap a = { 0 }, b = { 0 }, *cur = &a, *prev = NULL, *t;
	const char *session = NULL, *listen = NULL;
	char prefix[MF_STATS_NAME_MAX];
	uint32_t max_sessions = PROM_SESSIONS;
	int c, mode = 0, rc;
	double interval = 1;

	while ((c = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': instance = optarg; break;
		case 'j': case 'p': case 'o': mode = c; break;
		case 's': session = optarg; mode = 's'; break;
		case 'n': interval = strtod(optarg, NULL); break;
		case 'l': listen = optarg; break;
		case 'm':
			if (mf_parse_u32(optarg, 0, UINT32_MAX, &max_sessions) != 0) {
				fprintf(stderr, "mfwd-stat: --max-sessions %s: not a count\n",
					optarg);
				return 2;
			}
			break;
		default: usage(); return 2;
		}
	}
	if (optind != argc || interval < 0.1 || (listen != NULL && mode != 0)) {
		usage();
		return 2;
	}
	/* The endpoint maps the dataplane at each scrape: it may start later or restart. */
	if (listen != NULL)
		return stat_prom_serve(instance, listen, max_sessions);
	if (attach() != 0)
		return 2;
	if (mode == 0 && !isatty(STDOUT_FILENO))
		mode = 'o';
	if (session != NULL)
		snprintf(prefix, sizeof(prefix), "session/%s", session);
	rc = take(cur, session ? prefix : NULL) != 0 ? 2 : 0;
	if (rc == 0 && mode == 'j')
		rc = print_json();
	else if (rc == 0 && mode == 'p')
		rc = stat_prom_write(&shm, &rd, instance, max_sessions, stdout) ? 2 : 0;
	else if (rc == 0 && mode == 'o') {
		/* Rates need two snapshots. */
		usleep((useconds_t)(interval * 1e6));
		rc = take(&b, NULL) != 0 ? 2 : 0;
		if (rc == 0)
			print_text(&b, cur);
	}
	else if (rc == 0 && mode == 's')
		rc = print_session(cur, session);
	while (rc == 0 && mode == 0) {
		printf("\033[H\033[2J");
		print_text(cur, prev);
		fflush(stdout);
		usleep((useconds_t)(interval * 1e6));
		if (!mf_shm_creator_alive(&shm)) {
			printf("mfwd-stat: the dataplane is gone\n");
			rc = 2;
			break;
		}
		prev = cur;
		t = cur == &a ? &b : &a;
		cur = t;
		if (take(cur, NULL) != 0)
			rc = 2;
	}
	free(a.items);
	free(b.items);
	mf_shm_close(&shm);
	return rc;
}
