/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stats area as one JSON document: {"node", "lcores", "ports", "sessions"} with
 * counters summed, sessions with their outputs nested. mfwd-stat --json and the control
 * plane's node.stats and session.get give the same shape.
 */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "mf/mf_stats.h"

#define MAX_FIELDS 128

static json_t *
view_json(const struct mf_stats_view *v)
{
	json_t *o = json_object();
	uint32_t i;

	for (i = 0; i < v->nb_fields; i++) {
		char name[MF_STATS_NAME_MAX];

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
		o = view_json(&v);
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
				    slash + 5, view_json(v));
		return;
	}
	o = session_obj(sessions, sid);
	fields = view_json(v);
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
			json_object_set_new(root, "node", view_json(&v));
			json_object_set_new(root, "lcores", lcores_json(r, i));
		} else if (strncmp(v.name, "port/", 5) == 0) {
			json_object_set_new(ports, v.name + 5, view_json(&v));
		}
	}
	if (session == NULL)
		json_object_set_new(root, "ports", ports);
	else
		json_decref(ports);
	json_object_set_new(root, "sessions", sessions);
	return root;
}
