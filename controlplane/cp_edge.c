/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Edge pull: a viewer that subscribes on one node (the edge) to a stream another node (the
 * origin) has gets it through a pipe the edge asks for; the edge closes the pipe once its
 * last viewer has been gone for pipe_linger_s (cp_streams.c's tick).
 *
 * Which node has which stream: with edge_pull on, a node announces each stream it has
 * (published there, not itself pulled) in a retained message on
 * <prefix>/<node>/stream/<room>/<stream>, cleared when the stream ends (cp_rooms.c), and
 * reads every node's: the directory, kept here. An announcement says the stream as its
 * origin knows it (its media, for viewers' answers) and what a pipe from it needs
 * (cp_pipes_offer). It is untrusted (whoever the broker lets publish there): with
 * auth.node_tenant it is signed as a node, as session records are (cp_store_record_publish),
 * and one that is not is not kept; its shape is checked when it comes, its fields strictly
 * when it is used (cp_pipe_open's checks, the stream's record's), and the directory is
 * bounded. (A clearing cannot be signed: the broker's ACL guards it, as for records.)
 *
 * cp_streams.c -> cp_edge.c -> cp_pipes.c (the pipe), cp_rooms.c and cp_store.c (the
 * stream).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cp.h"
#include "mf/mf_array.h"
#include "mf/mf_time.h"

#define DIR_MAX		65536	/* announcements kept */

static struct cp_dir_entry *
find(struct cp *cp, const char *node, const char *room, const char *stream)
{
	uint32_t i;

	for (i = 0; i < cp->edge.nb; i++) {
		struct cp_dir_entry *e = &cp->edge.e[i];

		if (strcmp(e->stream, stream) == 0 && strcmp(e->room, room) == 0 &&
		    (node == NULL || strcmp(e->node, node) == 0))
			return e;
	}
	return NULL;
}

static void
forget(struct cp *cp, struct cp_dir_entry *e)
{
	json_decref(e->rec);
	*e = cp->edge.e[--cp->edge.nb];
}

/* Copy @p n bytes of @p s into @p out of @p cap as a string. @return 0, or -EINVAL. */
static int
part(char *out, size_t cap, const char *s, size_t n)
{
	if (n == 0 || n >= cap)
		return -EINVAL;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* <prefix>/<node>/stream/<room>/<stream> (cp_mqtt.c checked up to "<prefix>/<node>/stream",
 * the node maybe empty). */
static int
topic_parts(const struct cp *cp, const char *t, struct cp_dir_entry *e)
{
	const char *node = t + strlen(cp->cfg.prefix) + 1, *slash = strchr(node, '/');
	const char *room, *stream;

	if (slash == NULL || strncmp(slash, "/stream/", 8) != 0)
		return -EINVAL;
	room = slash + 8;
	stream = strchr(room, '/');
	if (stream == NULL || part(e->node, sizeof(e->node), node, (size_t)(slash - node)) ||
	    part(e->room, sizeof(e->room), room, (size_t)(stream - room)) ||
	    part(e->stream, sizeof(e->stream), stream + 1, strlen(stream + 1)) ||
	    !cp_room_name_ok(e->room, false) || !cp_room_name_ok(e->stream, true))
		return -EINVAL;
	return 0;
}

/* Its shape: version 1, its node, room and stream the topic's, a session, media, a pipe. */
static int
checked(const struct cp_dir_entry *e, json_t *rec)
{
	const char *node = NULL, *room = NULL, *stream = NULL, *session = NULL, *tenant = NULL;
	json_t *media = NULL, *pipe = NULL;
	json_int_t v = 0;
	int webrtc = 0;

	if (json_unpack(rec, "{s:I, s:s, s:s, s:s, s:s, s?s, s:b, s:o, s:o}", "v", &v, "node",
			&node, "room", &room, "name", &stream, "session", &session, "tenant",
			&tenant, "webrtc", &webrtc, "media", &media, "pipe", &pipe) != 0 ||
	    v != 1 || strcmp(node, e->node) != 0 || strcmp(room, e->room) != 0 ||
	    strcmp(stream, e->stream) != 0 || session[0] == '\0' ||
	    strlen(session) >= MF_SESS_ID_MAX || !json_is_array(media) ||
	    json_array_size(media) == 0 || json_array_size(media) > CP_STREAM_MEDIA ||
	    !json_is_object(json_object_get(pipe, "ingress")) ||
	    !json_is_array(json_object_get(pipe, "from")))
		return -EINVAL;
	return 0;
}

static void
refuse(struct cp *cp, const char *topic, const char *why)
{
	/* The first, then one in a thousand: a flood of bad ones is not a flood of lines. */
	if (cp->edge.refused++ % 1000 == 0)
		MF_LOG(WARNING, main, "stream announcement on %.120s not kept (%s; %lu so far)",
		       topic, why, (unsigned long)cp->edge.refused);
}

/* Whether announcement @p msg may be believed: signed as a node when this node has
 * auth.node_tenant (cp_auth_record_ok). MQTT 3.1.1 carries no user property: there a node
 * neither signs nor checks them. */
static bool
believed(struct cp *cp, const struct cp_msg *msg)
{
	return cp->cfg.mqtt_version != 5 ||
	       cp_auth_record_ok(cp, msg->topic, msg->payload, msg->len, msg->sig.sig);
}

/* Ours, overwritten unsigned (by someone the ACL let write there; signed nodes now pass the
 * stream over): published again, signed, at most once a second for each stream (a broker
 * that dropped user properties, or another node under our name, would otherwise have it
 * echo for ever). One sooner, or with the dataplane down (no addresses to say), waits for
 * that second (cp_streams_tick). */
void
cp_edge_resign(struct cp *cp, uint32_t idx, uint64_t now_ms)
{
	struct cp_stream *st = &cp->rooms.streams[idx];

	if (!cp->dp_up || (st->resigned_ms != 0 && now_ms < st->resigned_ms + 1000)) {
		st->resign_at_ms = cp->dp_up ? st->resigned_ms + 1000 : now_ms + 1000;
		return;
	}
	st->resign_at_ms = 0;
	st->resigned_ms = now_ms;
	if (cp_edge_announce(cp, idx) == 0)
		MF_LOG(WARNING, main, "stream %s: its announcement was overwritten, not signed as "
		       "a node: published again", st->name);
}

/* Our own announcement, as the broker keeps it: one of a stream no longer published here
 * (its clearing lost with a connection, or this node restarted without it) is cleared, or
 * edges would pull from us what we do not have. */
static void
own(struct cp *cp, const struct cp_msg *msg, const struct cp_dir_entry *e)
{
	int r = cp_room_find(cp, e->room), i;

	i = r >= 0 ? cp_stream_find(cp, (uint32_t)r, e->stream) : -1;
	if (msg->len == 0)
		return;
	if (i >= 0 && cp->rooms.streams[i].origin[0] == '\0') {
		if (!believed(cp, msg))
			cp_edge_resign(cp, (uint32_t)i, mf_mono_ms());
		return;
	}
	cp_mqtt_publish(cp->mqtt, msg->topic, "", 1, true, NULL, 0);
	MF_LOG(NOTICE, main, "stream %s of room %s: its announcement left over, cleared",
	       e->stream, e->room);
}

void
cp_edge_dir(struct cp *cp, const struct cp_msg *msg)
{
	struct cp_dir_entry e = { .rec = NULL }, *old, *grown;

	if (topic_parts(cp, msg->topic, &e) != 0) {
		refuse(cp, msg->topic, "not <prefix>/<node>/stream/<room>/<stream>");
		return;
	}
	if (strcmp(e.node, cp->cfg.node) == 0) {
		own(cp, msg, &e);
		return;
	}
	old = find(cp, e.node, e.room, e.stream);
	if (msg->len > 0 && !believed(cp, msg)) {
		refuse(cp, msg->topic, "not signed as a node (auth.node_tenant)");
	} else if (msg->len > 0) {
		e.rec = json_loadb(msg->payload, msg->len, JSON_REJECT_DUPLICATES, NULL);
		if (e.rec == NULL || checked(&e, e.rec) != 0) {
			refuse(cp, msg->topic, "unreadable");
			json_decref(e.rec);
			e.rec = NULL;
		}
	}
	if (old != NULL && e.rec != NULL) {
		json_decref(old->rec);
		old->rec = e.rec;
		return;
	}
	if (old != NULL)
		forget(cp, old);	/* cleared, or replaced: unreadable, unsigned */
	if (e.rec == NULL)
		return;
	grown = cp->edge.nb < DIR_MAX ? mf_array_grow(cp->edge.e, &cp->edge.cap, cp->edge.nb,
						      sizeof(*grown), 64, 0) : NULL;
	if (grown == NULL) {
		refuse(cp, msg->topic, "the directory is full");
		json_decref(e.rec);
		return;
	}
	cp->edge.e = grown;
	cp->edge.e[cp->edge.nb++] = e;
}

int
cp_edge_announce(struct cp *cp, uint32_t idx)
{
	const struct cp_stream *st = &cp->rooms.streams[idx];
	char topic[CP_TOPIC_MAX], *text = NULL;
	const struct cp_sess *s;
	struct cp_err err = { 0 };
	json_t *rec, *pipe;
	int rc;

	if (!cp->cfg.edge_pull || st->session[0] == '\0' || st->origin[0] != '\0' ||
	    cp->mqtt == NULL || (s = cp_reg_find(&cp->reg, st->session)) == NULL)
		return -ENOENT;
	pipe = cp_pipes_offer(cp, s, &err);
	if (pipe == NULL) {
		MF_LOG(WARNING, main, "stream %s not announced: %s", st->name, err.message);
		return -EIO;
	}
	rec = cp_stream_meta(cp, idx);
	/* Who pulls it and with what token is this node's business. */
	json_object_del(rec, "device");
	json_object_del(rec, "tag");
	json_object_set_new(rec, "v", json_integer(1));
	json_object_set_new(rec, "node", json_string(cp->cfg.node));
	json_object_set_new(rec, "session", json_string(st->session));
	json_object_set_new(rec, "pipe", pipe);
	if (s->tenant != CP_OPERATOR)
		json_object_set_new(rec, "tenant", json_string(cp->auth.tenants[s->tenant].name));
	text = json_dumps(rec, JSON_COMPACT);
	cp_stream_dir_topic(cp, cp->cfg.node, idx, topic);
	rc = text == NULL ? -ENOMEM : cp_store_record_publish(cp, topic, text, 0);
	if (rc != 0)
		MF_LOG(WARNING, main, "stream %s: its announcement not sent", st->name);
	free(text);
	json_decref(rec);
	return rc;
}

void
cp_edge_reannounce(struct cp *cp)
{
	uint32_t i;

	/* Without a dataplane there are no addresses to say: what the broker keeps stays. */
	for (i = 0; cp->cfg.edge_pull && cp->dp_up && i < cp->rooms.nb_streams; i++)
		cp_edge_announce(cp, i);
}

/* An announcement of @p room / @p name by a node other than this one that the registry
 * shows up (when this node reads it) and whose stream the caller may see. */
static struct cp_dir_entry *
origin_of(struct cp *cp, const char *room, const char *name, uint16_t *tenant)
{
	bool registry = cp->cfg.pool_group[0] != '\0' && cp->cfg.mqtt_version == 5;
	const struct mf_node_status *n;
	const char *tname;
	uint32_t i;
	int t;

	for (i = 0; i < cp->edge.nb; i++) {
		struct cp_dir_entry *e = &cp->edge.e[i];

		if (strcmp(e->stream, name) != 0 || strcmp(e->room, room) != 0)
			continue;
		n = mf_cluster_find(&cp->place.reg, e->node);
		if (registry && (n == NULL || !n->valid || !n->online || !n->dp_up))
			continue;
		/* A tenant this node does not know owns nothing here. */
		tname = json_string_value(json_object_get(e->rec, "tenant"));
		t = tname != NULL ? cp_auth_find(cp, tname) : CP_OPERATOR;
		if (t < 0 || (!cp_auth_admin(cp, cp->caller) && cp->caller != (uint16_t)t))
			continue;
		*tenant = (uint16_t)t;
		return e;
	}
	return NULL;
}

/* The pulled session @p s made a stream here, as its origin said it. @return its index + 1,
 * or 0. */
static uint32_t
mirror(struct cp *cp, const struct cp_dir_entry *e, struct cp_sess *s)
{
	json_t *meta = json_deep_copy(e->rec);
	uint32_t idx;

	json_object_del(meta, "device");	/* not ours to ask */
	json_object_del(meta, "tag");
	json_object_set_new(meta, "origin", json_string(e->node));
	idx = cp_stream_restore(cp, meta, s);
	json_decref(meta);
	if (idx != 0 && cp->rooms.dirty && cp_rooms_save(cp) == 0)
		cp->rooms.dirty = false;
	if (idx != 0 && cp_store_bind(cp, s, idx) != 0) {
		cp_stream_gone(cp, idx - 1);
		idx = 0;
	}
	return idx;
}

int
cp_edge_media(struct cp *cp, const char *room, const char *name, struct cp_stream *st,
	      char node[CP_NODE_MAX])
{
	struct cp_dir_entry *e;
	uint16_t tenant;
	int r;

	if (!cp->cfg.edge_pull || (e = origin_of(cp, room, name, &tenant)) == NULL)
		return -ENOENT;
	snprintf(node, CP_NODE_MAX, "%s", e->node);
	/* Another tenant's room of that name here: cp_edge_pull() says what it says. */
	r = cp_room_find(cp, room);
	if (r >= 0 && cp->rooms.rooms[r].tenant != tenant)
		return -EEXIST;
	return cp_stream_media(json_object_get(e->rec, "media"), st);
}

int
cp_edge_pull(struct cp *cp, const char *room, const char *name, struct cp_err *err)
{
	const struct cp_grant *grant = cp->grant;
	uint16_t caller = cp->caller, tenant = CP_OPERATOR;
	char node[CP_NODE_MAX], id[MF_SESS_ID_MAX];
	struct cp_dir_entry *e;
	struct cp_sess *s = NULL;
	uint32_t idx;
	int r, rc;

	if (!cp->cfg.edge_pull || (e = origin_of(cp, room, name, &tenant)) == NULL)
		return -1;
	r = cp_room_find(cp, room);
	/* Another tenant's room of that name here: only an admin learns of it. */
	if (r >= 0 && cp->rooms.rooms[r].tenant != tenant && cp_auth_admin(cp, caller)) {
		cp_err_set(err, "exists", "room", "room %s here is not the owner's of %s's stream",
			   room, e->node);
		return -1;
	}
	if (r >= 0 && cp->rooms.rooms[r].tenant != tenant)
		return -1;
	snprintf(node, sizeof(node), "%s", e->node);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(e->rec, "session")));
	/* The stream's session is its owner's here too, whoever the viewer is. */
	cp->caller = tenant;
	cp->grant = NULL;
	rc = cp_pipe_pull(cp, node, id, json_object_get(e->rec, "pipe"), &s, err);
	cp->caller = caller;
	cp->grant = grant;
	if (rc != 0 || s == NULL)
		return -1;
	idx = mirror(cp, e, s);
	if (idx == 0) {
		cp_pipe_unpull(cp, id, node, "error");
		cp_err_set(err, "internal", "stream", "stream %s of node %s could not be kept here",
			   name, node);
		return -1;
	}
	MF_LOG(NOTICE, main, "stream %s of room %s: pulled from node %s", name, room, node);
	return (int)idx - 1;
}

void
cp_edge_fini(struct cp *cp)
{
	while (cp->edge.nb > 0)
		forget(cp, &cp->edge.e[cp->edge.nb - 1]);
	free(cp->edge.e);
	memset(&cp->edge, 0, sizeof(cp->edge));
}
