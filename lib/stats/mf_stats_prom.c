/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stats area as a Prometheus text exposition (format 0.0.4): one family per field of
 * each kind of entry (node per lcore, port, session, output), each with its HELP and TYPE
 * lines once and all its samples together, counters named with "_total", times in
 * seconds (a field in ms, us or ns is scaled and renamed).
 *
 * Sessions can number hundreds of thousands, and a series per session and field would
 * swamp a Prometheus server, so only the @p max_sessions sessions with the most ingress
 * bytes are exported, with their outputs; mfwd_sessions and mfwd_sessions_exported say how
 * many there are and how many were shown. The area is read in passes (ranking, then the
 * chosen sessions, then their outputs) so memory follows what is exported, not what runs.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/mf_stats.h"

#define MAX_FIELDS	128
#define LABELS_MAX	1024	/* escaped label sets: an instance and two ids */

/* One entry to export: its label set and a copy of its values. */
struct prom_item {
	char labels[LABELS_MAX];
	uint32_t nb;
	const char (*fields)[MF_STATS_FIELD_MAX];
	const char (*descs)[MF_STATS_DESC_MAX];
	uint64_t *vals;
};

/* The entries of one kind: they make the families mfwd_<kind>_<field>. */
struct prom_group {
	const char *kind;
	struct prom_item *items;
	uint32_t n, cap;
};

struct prom_ctx {
	const struct mf_stats_reader *r;
	FILE *out;
	char inst[LABELS_MAX / 4];	/* the instance label, escaped */
	struct prom_group node, port, session, output;
	char (*chosen)[MF_STATS_NAME_MAX];	/* ids of the exported sessions, sorted */
	uint32_t nb_chosen, nb_sessions;
};

/* Escape @p s for a label value (backslash, quote, newline) or a HELP text (no quote). */
static size_t
escape(char *dst, size_t cap, const char *s, size_t max, bool label)
{
	size_t n = 0, i;

	for (i = 0; i < max && s[i] != '\0' && n + 3 < cap; i++) {
		if (s[i] == '\n') {
			dst[n++] = '\\';
			dst[n++] = 'n';
			continue;
		}
		if (s[i] == '\\' || (label && s[i] == '"'))
			dst[n++] = '\\';
		dst[n++] = s[i];
	}
	dst[n] = '\0';
	return n;
}

size_t
mf_stats_prom_label(char *dst, size_t cap, const char *s)
{
	return escape(dst, cap, s, SIZE_MAX, true);
}

/* Add a copy of @p v to @p g, labelled with the instance and one or two more labels. */
static int
group_add(struct prom_ctx *c, struct prom_group *g, const struct mf_stats_view *v,
	  const char *key1, const char *val1, const char *key2, const char *val2)
{
	char e1[MF_STATS_NAME_MAX * 2], e2[MF_STATS_NAME_MAX * 2];
	struct prom_item *it;

	if (g->n == g->cap) {
		uint32_t cap = g->cap ? g->cap * 2 : 16;
		struct prom_item *n = realloc(g->items, sizeof(*n) * cap);

		if (n == NULL)
			return -ENOMEM;
		g->items = n;
		g->cap = cap;
	}
	it = &g->items[g->n];
	it->vals = malloc(sizeof(uint64_t) * v->nb_fields);
	if (it->vals == NULL)
		return -ENOMEM;
	memcpy(it->vals, v->values, sizeof(uint64_t) * v->nb_fields);
	it->nb = v->nb_fields;
	it->fields = v->fields;
	it->descs = v->descs;
	escape(e1, sizeof(e1), val1, MF_STATS_NAME_MAX, true);
	escape(e2, sizeof(e2), val2 ? val2 : "", MF_STATS_NAME_MAX, true);
	if (key2 == NULL)
		snprintf(it->labels, sizeof(it->labels), "mfwd_instance=\"%s\",%s=\"%s\"",
			 c->inst, key1, e1);
	else
		snprintf(it->labels, sizeof(it->labels),
			 "mfwd_instance=\"%s\",%s=\"%s\",%s=\"%s\"", c->inst, key1, e1, key2, e2);
	g->n++;
	return 0;
}

static void
group_free(struct prom_group *g)
{
	uint32_t i;

	for (i = 0; i < g->n; i++)
		free(g->items[i].vals);
	free(g->items);
}

/* Field @p name of @p it: by position when it shares the first item's schema. */
static bool
item_value(const struct prom_item *it, const struct prom_item *first, uint32_t i,
	   uint64_t *out)
{
	uint32_t k;

	if (it->fields == first->fields) {
		*out = it->vals[i];
		return true;
	}
	for (k = 0; k < it->nb; k++) {
		if (strncmp(it->fields[k], first->fields[i], MF_STATS_FIELD_NAME_MAX + 1) == 0) {
			*out = it->vals[k];
			return true;
		}
	}
	return false;
}

/* Family name of field @p f of @p kind: Prometheus wants base units (seconds) and counters
 * ending in _total. @return the decimal places of a second in the field's unit (0: none). */
static int
family_name(char *name, size_t cap, const char *kind, const char *f, bool gauge)
{
	static const struct { const char *suffix; int places; } units[] = {
		{ "_ms", 3 }, { "_us", 6 }, { "_ns", 9 },
	};
	size_t n = strnlen(f, MF_STATS_FIELD_NAME_MAX), i;
	int places = 0;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (n > 3 && strncmp(f + n - 3, units[i].suffix, 3) == 0) {
			places = units[i].places;
			n -= 3;
			break;
		}
	}
	snprintf(name, cap, "mfwd_%s_%.*s%s%s", kind, (int)n, f, places ? "_seconds" : "",
		 !gauge && (n < 6 || strncmp(f + n - 6, "_total", 6) != 0) ? "_total" : "");
	return places;
}

/* @p val in a unit of 10^-@p places seconds, printed in seconds exactly. */
static void
print_value(FILE *out, uint64_t val, int places)
{
	uint64_t div = 1;
	int i;

	for (i = 0; i < places; i++)
		div *= 10;
	if (places == 0)
		fprintf(out, "%llu\n", (unsigned long long)val);
	else
		fprintf(out, "%llu.%0*llu\n", (unsigned long long)(val / div), places,
			(unsigned long long)(val % div));
}

/* Every family of a group: HELP, TYPE, then the samples of every item. */
static void
group_print(struct prom_ctx *c, const struct prom_group *g)
{
	const struct prom_item *first = g->n ? &g->items[0] : NULL;
	char help[MF_STATS_DESC_MAX * 2], name[128];
	uint32_t i, k;
	uint64_t val;
	int places;

	for (i = 0; first != NULL && i < first->nb; i++) {
		bool gauge = mf_stats_field_is_gauge(first->fields[i]);

		places = family_name(name, sizeof(name), g->kind, first->fields[i], gauge);
		if (escape(help, sizeof(help), first->descs[i], MF_STATS_DESC_MAX - 1, false) == 0)
			snprintf(help, sizeof(help), "%s %.*s (docs/stats.md)", g->kind,
				 MF_STATS_FIELD_NAME_MAX, first->fields[i]);
		fprintf(c->out, "# HELP %s %s%s\n# TYPE %s %s\n", name, help,
			places ? " (in seconds here)" : "", name, gauge ? "gauge" : "counter");
		for (k = 0; k < g->n; k++) {
			if (!item_value(&g->items[k], first, i, &val))
				continue;
			fprintf(c->out, "%s{%s} ", name, g->items[k].labels);
			print_value(c->out, val, places);
		}
	}
}

static bool
is_session(const char *name)
{
	return strncmp(name, "session/", 8) == 0 && strstr(name + 8, "/out/") == NULL;
}

static int
add_node(struct prom_ctx *c, uint32_t idx)
{
	uint64_t vals[MAX_FIELDS];
	struct mf_stats_view v;
	char lc[16];
	uint32_t l;
	int rc;

	for (l = 0; l < c->r->hdr->nb_lcores; l++) {
		if (mf_stats_read_lcore(c->r, idx, l, &v, vals, MAX_FIELDS) != 0)
			continue;
		snprintf(lc, sizeof(lc), "%u", l);
		rc = group_add(c, &c->node, &v, "lcore", lc, "role", l == 0 ? "control" : "worker");
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Pass 1: the node, the ports, and every session's rank. */
static int
pass_rank(struct prom_ctx *c, struct mf_stats_rank **ranks)
{
	uint32_t i, cap = 0, max = c->r->hdr->max_entries;
	uint64_t vals[MAX_FIELDS], rx;
	struct mf_stats_view v;
	int rc = 0;

	*ranks = NULL;
	for (i = 0; i < max && rc == 0; i++) {
		if (mf_stats_read(c->r, i, &v, vals, MAX_FIELDS) != 0)
			continue;
		if (strcmp(v.name, "node") == 0) {
			rc = add_node(c, i);
		} else if (strncmp(v.name, "port/", 5) == 0) {
			rc = group_add(c, &c->port, &v, "port", v.name + 5, NULL, NULL);
		} else if (is_session(v.name)) {
			if (c->nb_sessions == cap) {
				struct mf_stats_rank *n;

				cap = cap ? cap * 2 : 256;
				n = realloc(*ranks, sizeof(*n) * cap);
				if (n == NULL)
					return -ENOMEM;
				*ranks = n;
			}
			rx = 0;
			mf_stats_view_get(&v, "rx_bytes", &rx);
			(*ranks)[c->nb_sessions++] = (struct mf_stats_rank){ i, rx };
		}
	}
	return rc;
}

/* Pass 2: the chosen sessions, read again (an index reused meanwhile by another session
 * shows that one: a scrape is a moment, not a transaction). */
static int
pass_sessions(struct prom_ctx *c, const struct mf_stats_rank *ranks, uint32_t n)
{
	uint64_t vals[MAX_FIELDS];
	struct mf_stats_view v;
	uint32_t i;
	int rc;

	c->chosen = calloc(n ? n : 1, sizeof(*c->chosen));
	if (c->chosen == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (mf_stats_read(c->r, ranks[i].idx, &v, vals, MAX_FIELDS) != 0 ||
		    !is_session(v.name))
			continue;
		rc = group_add(c, &c->session, &v, "session", v.name + 8, NULL, NULL);
		if (rc != 0)
			return rc;
		memcpy(c->chosen[c->nb_chosen++], v.name + 8, MF_STATS_NAME_MAX - 8);
	}
	qsort(c->chosen, c->nb_chosen, sizeof(*c->chosen), id_cmp);
	return 0;
}

/* Pass 3: the outputs of the chosen sessions. */
static int
pass_outputs(struct prom_ctx *c)
{
	uint32_t i, max = c->r->hdr->max_entries;
	char sid[MF_STATS_NAME_MAX], *out;
	uint64_t vals[MAX_FIELDS];
	struct mf_stats_view v;
	int rc;

	for (i = 0; i < max && c->nb_chosen > 0; i++) {
		if (mf_stats_read(c->r, i, &v, vals, MAX_FIELDS) != 0 ||
		    strncmp(v.name, "session/", 8) != 0)
			continue;
		memcpy(sid, v.name + 8, sizeof(sid) - 8);
		sid[sizeof(sid) - 9] = '\0';
		out = strstr(sid, "/out/");
		if (out == NULL)
			continue;
		*out = '\0';
		if (bsearch(sid, c->chosen, c->nb_chosen, sizeof(*c->chosen), id_cmp) == NULL)
			continue;
		rc = group_add(c, &c->output, &v, "session", sid, "output", out + 5);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static void
print_sessions_gauges(struct prom_ctx *c)
{
	fprintf(c->out, "# HELP mfwd_sessions sessions in the dataplane\n"
			"# TYPE mfwd_sessions gauge\nmfwd_sessions{mfwd_instance=\"%s\"} %u\n",
		c->inst, c->nb_sessions);
	fprintf(c->out, "# HELP mfwd_sessions_exported sessions shown here: those with the "
			"most ingress bytes, up to the exporter's limit\n"
			"# TYPE mfwd_sessions_exported gauge\n"
			"mfwd_sessions_exported{mfwd_instance=\"%s\"} %u\n", c->inst, c->nb_chosen);
}

int
mf_stats_to_prometheus(const struct mf_stats_reader *r, const char *instance,
		       uint32_t max_sessions, FILE *out)
{
	struct prom_ctx c = {
		.r = r, .out = out,
		.node = { .kind = "node" }, .port = { .kind = "port" },
		.session = { .kind = "session" }, .output = { .kind = "output" },
	};
	struct mf_stats_rank *ranks = NULL;
	int rc;

	escape(c.inst, sizeof(c.inst), instance, sizeof(c.inst), true);
	rc = pass_rank(&c, &ranks);
	if (rc != 0)
		goto out;
	qsort(ranks, c.nb_sessions, sizeof(*ranks), mf_stats_rank_cmp);
	rc = pass_sessions(&c, ranks, c.nb_sessions < max_sessions ? c.nb_sessions : max_sessions);
	if (rc != 0)
		goto out;
	rc = pass_outputs(&c);
	if (rc != 0)
		goto out;
	print_sessions_gauges(&c);
	group_print(&c, &c.node);
	group_print(&c, &c.port);
	group_print(&c, &c.session);
	group_print(&c, &c.output);
	rc = ferror(out) ? -EIO : 0;
out:
	free(ranks);
	free(c.chosen);
	group_free(&c.node);
	group_free(&c.port);
	group_free(&c.session);
	group_free(&c.output);
	return rc;
}
