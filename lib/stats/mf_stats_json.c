/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stats area as one JSON document: {"node", "lcores", "ports", "sessions"} with
 * counters summed, sessions with their outputs nested. mfwd-stat --json and the control
 * plane's node.stats and session.get give the same shape.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mf/mf_stats.h"

#define MAX_FIELDS 128

/* The fields of @p v; with @p losses_only, those the dataplane marks as losses. */
static json_t *
view_fields(const struct mf_stats_view *v, bool losses_only)
{
	json_t *o = json_object();
	uint32_t i;

	for (i = 0; i < v->nb_fields; i++) {
		char name[MF_STATS_NAME_MAX];

		if (losses_only && !mf_stats_view_is_loss(v, i))
			continue;
		snprintf(name, sizeof(name), "%.*s", MF_STATS_FIELD_NAME_MAX, v->fields[i]);
		json_object_set_new(o, name, json_integer((json_int_t)v->values[i]));
	}
	return o;
}

static json_t *
lcores_json(const struct mf_stats_reader *r, uint32_t idx)
{
	json_t *a = json_array();
	struct mf_stats_view v;
	uint64_t vals[MAX_FIELDS], busy = 0, total = 0;
	uint32_t l;

	for (l = 0; l < r->hdr->nb_lcores; l++) {
		json_t *o;

		if (mf_stats_read_lcore(r, idx, l, &v, vals, MAX_FIELDS) != 0)
			continue;
		o = view_fields(&v, false);
		mf_stats_view_get(&v, "busy_cycles", &busy);
		mf_stats_view_get(&v, "total_cycles", &total);
		json_object_set_new(o, "lcore", json_integer(l));
		json_object_set_new(o, "role", json_string(l == 0 ? "control" : "worker"));
		json_object_set_new(o, "busy_ratio", json_real(total ? (double)busy / (double)total
								    : 0.0));
		json_array_append_new(a, o);
	}
	return a;
}

/* The session object of @p id in @p sessions, created (with "outputs") when missing. */
static json_t *
session_obj(json_t *sessions, const char *id)
{
	json_t *o = json_object_get(sessions, id);

	if (o == NULL) {
		o = json_pack("{s:{}}", "outputs");
		json_object_set_new(sessions, id, o);
	}
	return o;
}

static void
add_session_entry(json_t *sessions, const struct mf_stats_view *v)
{
	char sid[MF_STATS_NAME_MAX], *slash;
	json_t *o, *fields;

	snprintf(sid, sizeof(sid), "%s", v->name + strlen("session/"));
	slash = strstr(sid, "/out/");
	if (slash != NULL) {
		*slash = '\0';
		json_object_set_new(json_object_get(session_obj(sessions, sid), "outputs"),
				    slash + 5, view_fields(v, false));
		return;
	}
	o = session_obj(sessions, sid);
	fields = view_fields(v, false);
	json_object_update(o, fields);
	json_decref(fields);
}

json_t *
mf_stats_to_json(const struct mf_stats_reader *r, const char *session)
{
	json_t *root, *ports = json_object(), *sessions = json_object();
	struct mf_stats_view v;
	uint64_t vals[MAX_FIELDS];
	size_t slen = session ? strlen(session) : 0;
	uint32_t i;

	root = json_object();
	for (i = 0; i < r->hdr->max_entries; i++) {
		if (mf_stats_read(r, i, &v, vals, MAX_FIELDS) != 0)
			continue;
		if (strncmp(v.name, "session/", 8) == 0) {
			if (session != NULL && (strncmp(v.name + 8, session, slen) != 0 ||
						(v.name[8 + slen] != '\0' && v.name[8 + slen] != '/')))
				continue;
			add_session_entry(sessions, &v);
		} else if (session != NULL) {
			continue;
		} else if (strcmp(v.name, "node") == 0) {
			json_object_set_new(root, "node", view_fields(&v, false));
			json_object_set_new(root, "lcores", lcores_json(r, i));
		} else if (strncmp(v.name, "port/", 5) == 0) {
			json_object_set_new(ports, v.name + 5, view_fields(&v, false));
		}
	}
	if (session == NULL)
		json_object_set_new(root, "ports", ports);
	else
		json_decref(ports);
	json_object_set_new(root, "sessions", sessions);
	return root;
}

/* Sessions by ingress bytes, most first (ties by id, so a page's order is stable). */
struct json_rank {
	const char *id;
	uint64_t rx_bytes;
};

static int
json_rank_cmp(const void *a, const void *b)
{
	const struct json_rank *x = a, *y = b;

	if (x->rx_bytes != y->rx_bytes)
		return x->rx_bytes < y->rx_bytes ? 1 : -1;
	return strcmp(x->id, y->id);
}

int
mf_stats_json_trim(json_t *root, uint32_t max_sessions)
{
	json_t *sessions = json_object_get(root, "sessions"), *s, *keep;
	size_t n = json_object_size(sessions), i = 0;
	struct json_rank *ranks;
	const char *id;

	json_object_foreach(sessions, id, s) {
		json_object_set_new(s, "outputs", json_integer((json_int_t)json_object_size(
			json_object_get(s, "outputs"))));
	}
	json_object_set_new(root, "sessions_total", json_integer((json_int_t)n));
	if (n <= max_sessions)
		return 0;
	ranks = calloc(n, sizeof(*ranks));
	keep = json_object();
	if (ranks == NULL || keep == NULL) {
		free(ranks);
		json_decref(keep);
		return -ENOMEM;
	}
	json_object_foreach(sessions, id, s) {
		ranks[i].id = id;
		ranks[i++].rx_bytes = (uint64_t)json_integer_value(json_object_get(s, "rx_bytes"));
	}
	qsort(ranks, n, sizeof(*ranks), json_rank_cmp);
	for (i = 0; i < max_sessions; i++)
		json_object_set(keep, ranks[i].id, json_object_get(sessions, ranks[i].id));
	free(ranks);
	return json_object_set_new(root, "sessions", keep) == 0 ? 0 : -ENOMEM;
}

json_t *
mf_stats_losses_json(const struct mf_stats_reader *r)
{
	json_t *root = json_object(), *ports = json_object();
	struct mf_stats_view v;
	uint64_t vals[MAX_FIELDS];
	uint32_t i;

	for (i = 0; i < r->hdr->max_entries; i++) {
		if (mf_stats_read(r, i, &v, vals, MAX_FIELDS) != 0)
			continue;
		if (strcmp(v.name, "node") == 0)
			json_object_set_new(root, "node", view_fields(&v, true));
		else if (strncmp(v.name, "port/", 5) == 0)
			json_object_set_new(ports, v.name + 5, view_fields(&v, true));
	}
	json_object_set_new(root, "ports", ports);
	return root;
}
