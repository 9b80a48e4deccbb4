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

#include "mf/mf_array.h"
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

/* The session object of @p id in @p sessions, created when missing with "outputs": an
 * object of them, or their count (@p counted). */
static json_t *
session_obj(json_t *sessions, const char *id, bool counted)
{
	json_t *o = json_object_get(sessions, id);

	if (o == NULL) {
		o = counted ? json_pack("{s:i}", "outputs", 0) : json_pack("{s:{}}", "outputs");
		json_object_set_new(sessions, id, o);
	}
	return o;
}

/* A session's entry, or one of its outputs', into @p sessions; with @p only (the ids to
 * keep as keys), only those sessions, and their outputs as a count. */
static void
add_session_entry(json_t *sessions, const struct mf_stats_view *v, const json_t *only)
{
	char sid[MF_STATS_NAME_MAX], *slash;
	json_t *o, *fields;

	snprintf(sid, sizeof(sid), "%s", v->name + strlen("session/"));
	slash = strstr(sid, "/out/");
	if (slash != NULL)
		*slash = '\0';
	if (only != NULL && json_object_get(only, sid) == NULL)
		return;
	o = session_obj(sessions, sid, only != NULL);
	if (slash != NULL && only != NULL) {
		json_object_set_new(o, "outputs", json_integer(json_integer_value(
			json_object_get(o, "outputs")) + 1));
	} else if (slash != NULL) {
		json_object_set_new(json_object_get(o, "outputs"), slash + 5,
				    view_fields(v, false));
	} else {
		fields = view_fields(v, false);
		json_object_update(o, fields);
		json_decref(fields);
	}
}

/* The document of mf_stats_to_json(): of the whole area, of one @p session, or of the
 * sessions @p only names (their outputs counted). */
static json_t *
build(const struct mf_stats_reader *r, const char *session, const json_t *only)
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
			add_session_entry(sessions, &v, only);
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

json_t *
mf_stats_to_json(const struct mf_stats_reader *r, const char *session)
{
	return build(r, session, NULL);
}

/* Pass 1: every session's ingress bytes (outputs not read). */
static struct mf_stats_rank *
rank_sessions(const struct mf_stats_reader *r, uint32_t *nb)
{
	struct mf_stats_rank *ranks = NULL, *grown;
	struct mf_stats_view v;
	uint64_t vals[MAX_FIELDS], rx;
	uint32_t i, cap = 0;

	*nb = 0;
	for (i = 0; i < r->hdr->max_entries; i++) {
		if (mf_stats_read(r, i, &v, vals, MAX_FIELDS) != 0 ||
		    strncmp(v.name, "session/", 8) != 0 || strstr(v.name + 8, "/out/") != NULL)
			continue;
		grown = mf_array_grow(ranks, &cap, *nb, sizeof(*ranks), 256, 0);
		if (grown == NULL) {
			free(ranks);
			return NULL;
		}
		ranks = grown;
		rx = 0;
		mf_stats_view_get(&v, "rx_bytes", &rx);
		ranks[(*nb)++] = (struct mf_stats_rank){ i, rx };
	}
	return ranks != NULL ? ranks : calloc(1, sizeof(*ranks));
}

json_t *
mf_stats_to_json_top(const struct mf_stats_reader *r, uint32_t max_sessions)
{
	struct mf_stats_view v;
	uint64_t vals[MAX_FIELDS];
	json_t *only, *root = NULL;
	struct mf_stats_rank *ranks;
	uint32_t n, i;

	ranks = rank_sessions(r, &n);
	only = json_object();
	if (ranks == NULL || only == NULL)
		goto out;
	qsort(ranks, n, sizeof(*ranks), mf_stats_rank_cmp);
	/* A chosen entry removed since pass 1 is left out: a message is a moment. */
	for (i = 0; i < n && i < max_sessions; i++)
		if (mf_stats_read(r, ranks[i].idx, &v, vals, MAX_FIELDS) == 0)
			json_object_set_new(only, v.name + 8, json_true());
	root = build(r, NULL, only);
	if (root != NULL)
		json_object_set_new(root, "sessions_total", json_integer(n));
out:
	free(ranks);
	json_decref(only);
	return root;
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
