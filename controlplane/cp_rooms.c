/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Rooms and streams: the names viewers and devices use, above sessions. A room belongs to a
 * tenant and holds streams; a stream is one session (its publisher's ingress, its viewers
 * the session's outputs) and keeps what its publisher sends, for viewers' answers.
 *
 * Durability: a stream is kept in its session's journal record ("meta": {"stream": ...}),
 * so it comes and goes with the session, atomically; the rooms themselves (few, changed
 * rarely) in the journal directory's rooms.json, replaced whole. A stream whose room the
 * file lacks (a crash between the two) brings its room back, owned by the stream's owner.
 *
 * Entries live in arrays whose free slots are reused: a stream's index (+ 1) is kept in its
 * session's registry entry. Lookups by name walk the array: fine for thousands of rooms and
 * streams per node.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cp.h"
#include "mf/mf_array.h"

#define ROOMS_FILE	"rooms.json"

static const char *const kind_names[] = { "", "audio", "video", "application" };
static const char *const codec_names[MF_SDP_C_MAX] = {
	"", "h264", "vp8", "vp9", "av1", "opus", "pcmu", "pcma",
};

bool
cp_room_name_ok(const char *s, bool stream)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
		    c != '-' && c != '_' && c != '.' && (!stream || (c != '/' && c != ':')))
			return false;
	}
	return n > 0 && n < (stream ? CP_STREAM_MAX : CP_ROOM_MAX);
}

int
cp_codec_of(const char *name)
{
	int i;

	for (i = 1; name != NULL && i < MF_SDP_C_MAX; i++)
		if (strcmp(codec_names[i], name) == 0)
			return i;
	return -1;
}

const char *
cp_codec_name(unsigned int codec)
{
	return codec < MF_SDP_C_MAX ? codec_names[codec] : "";
}

/* ---- rooms ---- */

int
cp_room_find(const struct cp *cp, const char *name)
{
	uint32_t i;

	for (i = 0; i < cp->rooms.nb_rooms; i++)
		if (cp->rooms.rooms[i].name[0] != '\0' && strcmp(cp->rooms.rooms[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
cp_room_add(struct cp *cp, const char *name, uint16_t tenant)
{
	struct cp_rooms *r = &cp->rooms;
	struct cp_room *grown;
	uint32_t i;

	for (i = 0; i < r->nb_rooms && r->rooms[i].name[0] != '\0'; i++)
		;
	if (i == r->nb_rooms) {
		grown = mf_array_grow(r->rooms, &r->cap_rooms, r->nb_rooms, sizeof(*grown), 16, 0);
		if (grown == NULL)
			return -ENOMEM;
		r->rooms = grown;
		r->nb_rooms++;
	}
	memset(&r->rooms[i], 0, sizeof(r->rooms[i]));
	snprintf(r->rooms[i].name, sizeof(r->rooms[i].name), "%s", name);
	r->rooms[i].tenant = tenant;
	return (int)i;
}

void
cp_room_del(struct cp *cp, uint32_t room)
{
	cp->rooms.rooms[room].name[0] = '\0';
}

int
cp_rooms_save(struct cp *cp)
{
	json_t *list = json_array();
	uint32_t i;

	for (i = 0; i < cp->rooms.nb_rooms; i++) {
		const struct cp_room *m = &cp->rooms.rooms[i];

		if (m->name[0] != '\0')
			json_array_append_new(list, json_pack("{s:s, s:s}", "room", m->name, "tenant",
							      cp->auth.tenants[m->tenant].name));
	}
	return cp_journal_save_json(cp->journal, ROOMS_FILE, list);
}

int
cp_rooms_load(struct cp *cp)
{
	json_t *list, *o;
	size_t i;
	int rc = cp_journal_load_json(cp->journal, ROOMS_FILE, &list);

	if (rc != 0 || list == NULL)
		return rc;
	if (!json_is_array(list)) {
		MF_LOG(ERR, main, "journal: %s is not a list", ROOMS_FILE);
		json_decref(list);
		return -EBADMSG;
	}
	json_array_foreach(list, i, o) {
		const char *name = json_string_value(json_object_get(o, "room"));
		const char *t = json_string_value(json_object_get(o, "tenant"));

		if (name != NULL && cp_room_name_ok(name, false) && cp_room_find(cp, name) < 0 &&
		    cp_room_add(cp, name, cp_auth_tenant(cp, t)) < 0)
			break;
	}
	json_decref(list);
	return 0;
}

/* ---- streams ---- */

int
cp_stream_find(const struct cp *cp, uint32_t room, const char *name)
{
	uint32_t i;

	for (i = 0; i < cp->rooms.nb_streams; i++) {
		const struct cp_stream *st = &cp->rooms.streams[i];

		if (st->session[0] != '\0' && st->room == room && strcmp(st->name, name) == 0)
			return (int)i;
	}
	return -1;
}

int
cp_stream_add(struct cp *cp, const struct cp_stream *st)
{
	struct cp_rooms *r = &cp->rooms;
	struct cp_stream *grown;
	uint32_t i;

	for (i = 0; i < r->nb_streams && r->streams[i].session[0] != '\0'; i++)
		;
	if (i == r->nb_streams) {
		grown = mf_array_grow(r->streams, &r->cap_streams, r->nb_streams, sizeof(*grown),
				      64, 0);
		if (grown == NULL)
			return -ENOMEM;
		r->streams = grown;
		r->nb_streams++;
	}
	r->streams[i] = *st;
	r->rooms[st->room].nb_streams++;
	return (int)i;
}

void
cp_stream_dir_topic(const struct cp *cp, const char *node, uint32_t idx,
		    char topic[CP_TOPIC_MAX])
{
	const struct cp_stream *st = &cp->rooms.streams[idx];

	snprintf(topic, CP_TOPIC_MAX, "%s/%s/stream/%s/%s", cp->cfg.prefix, node,
		 cp->rooms.rooms[st->room].name, st->name);
}

void
cp_stream_gone(struct cp *cp, uint32_t idx)
{
	struct cp_stream *st = &cp->rooms.streams[idx];
	char topic[CP_TOPIC_MAX];

	if (st->session[0] == '\0')
		return;
	/* Its announcement goes with it (an empty retained message); a stream pulled here
	 * was not announced. */
	if (cp->cfg.edge_pull && st->origin[0] == '\0' && cp->mqtt != NULL) {
		cp_stream_dir_topic(cp, cp->cfg.node, idx, topic);
		cp_mqtt_publish(cp->mqtt, topic, "", 1, true, NULL, 0);
	}
	/* However it goes (unpublished, its room deleted, its session deleted or timed out,
	 * no viewer for linger_s), a pulled stream's device stops pushing to its port, which
	 * another session may get. "session" says which push: a device pulled by several
	 * nodes stops only this one's. */
	if (st->device[0] != '\0' && strchr(st->name, '/') != NULL && cp->mqtt != NULL &&
	    cp_device_online(cp, st->device))
		cp_device_command(cp, st->device, json_pack("{s:s, s:s, s:s, s:s}", "cmd", "stop",
			"room", cp->rooms.rooms[st->room].name, "stream", strchr(st->name, '/') + 1,
			"session", st->session));
	cp->rooms.rooms[st->room].nb_streams--;
	st->session[0] = '\0';
}

json_t *
cp_stream_meta(const struct cp *cp, uint32_t idx)
{
	const struct cp_stream *st = &cp->rooms.streams[idx];
	json_t *media = json_array();
	unsigned int i;

	for (i = 0; i < st->nb_media; i++) {
		const struct cp_media *m = &st->media[i];

		json_array_append_new(media, json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:I}",
			"kind", kind_names[m->kind], "codec", codec_names[m->codec], "pt", m->pt,
			"clock", m->clock, "h264_mode", m->h264_mode, "profile", m->profile,
			"ssrc", (json_int_t)m->ssrc));
	}
	json_t *o = json_pack("{s:s, s:s, s:b, s:o}", "room", cp->rooms.rooms[st->room].name,
			      "name", st->name, "webrtc", st->webrtc, "media", media);

	if (st->device[0] != '\0')
		json_object_set_new(o, "device", json_string(st->device));
	if (st->tag[0] != '\0')
		json_object_set_new(o, "tag", json_string(st->tag));
	if (st->origin[0] != '\0')
		json_object_set_new(o, "origin", json_string(st->origin));
	return o;
}

static int
media_of(json_t *o, struct cp_media *m)
{
	const char *kind = NULL, *codec = NULL;
	json_int_t pt = 0, clock = 0, mode = 0, profile = 0, ssrc = 0;
	int c;

	if (json_unpack(o, "{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "kind", &kind, "codec", &codec,
			"pt", &pt, "clock", &clock, "h264_mode", &mode, "profile", &profile,
			"ssrc", &ssrc) != 0 || (c = cp_codec_of(codec)) < 0 || pt < 0 || pt > 127 ||
	    clock < 1 || clock > 10000000 || ssrc < 0 || ssrc > UINT32_MAX)
		return -EBADMSG;
	m->kind = strcmp(kind, "video") == 0 ? MF_SDP_VIDEO : MF_SDP_AUDIO;
	m->codec = (uint8_t)c;
	m->pt = (uint8_t)pt;
	m->clock = (uint32_t)clock;
	m->h264_mode = mode != 0;
	m->profile = (uint8_t)profile;
	m->ssrc = (uint32_t)ssrc;
	return 0;
}

int
cp_stream_media(json_t *media, struct cp_stream *st)
{
	json_t *o;
	size_t k;

	if (json_array_size(media) > CP_STREAM_MEDIA)	/* not an array: none */
		return -EBADMSG;
	st->nb_media = 0;
	json_array_foreach(media, k, o)
		if (media_of(o, &st->media[st->nb_media++]) != 0)
			return -EBADMSG;
	return 0;
}

uint32_t
cp_stream_restore(struct cp *cp, json_t *meta, const struct cp_sess *s)
{
	const char *room = NULL, *name = NULL, *device = "", *tag = "", *origin = "";
	struct cp_stream st = { .nb_media = 0 };
	json_t *media = NULL;
	int webrtc = 0, r, i;

	if (meta == NULL)
		return 0;
	if (json_unpack(meta, "{s:s, s:s, s:b, s:o, s?s, s?s, s?s}", "room", &room, "name",
			&name, "webrtc", &webrtc, "media", &media, "device", &device, "tag", &tag,
			"origin", &origin) != 0 ||
	    !cp_room_name_ok(room, false) || strlen(device) >= sizeof(st.device) ||
	    strlen(tag) >= sizeof(st.tag) || strlen(origin) >= sizeof(st.origin) ||
	    !cp_room_name_ok(name, true) || cp_stream_media(media, &st) != 0)
		goto bad;
	r = cp_room_find(cp, room);
	if (r < 0) {
		r = cp_room_add(cp, room, s->tenant);
		if (r >= 0)
			cp->rooms.dirty = true;
	}
	/* A room of that name now another tenant's (rooms.json and the journal apart after
	 * a crash): the session stays a session. */
	if (r < 0 || cp_stream_find(cp, (uint32_t)r, name) >= 0 ||
	    cp->rooms.rooms[r].tenant != s->tenant)
		goto bad;
	snprintf(st.name, sizeof(st.name), "%s", name);
	snprintf(st.session, sizeof(st.session), "%s", s->id);
	st.room = (uint32_t)r;
	st.webrtc = webrtc;
	snprintf(st.device, sizeof(st.device), "%s", device);
	snprintf(st.tag, sizeof(st.tag), "%s", tag);
	snprintf(st.origin, sizeof(st.origin), "%s", origin);
	i = cp_stream_add(cp, &st);
	return i < 0 ? 0 : (uint32_t)i + 1;
bad:
	MF_LOG(ERR, main, "session %s: its stream record is unreadable: kept as a session", s->id);
	return 0;
}

void
cp_stream_refresh(struct cp *cp, uint32_t idx, const json_t *meta)
{
	struct cp_stream *st = &cp->rooms.streams[idx];
	const char *device = "", *tag = "", *origin = "";

	if (json_unpack((json_t *)meta, "{s?s, s?s, s?s}", "device", &device, "tag", &tag,
			"origin", &origin) != 0 || strlen(device) >= sizeof(st->device) ||
	    strlen(tag) >= sizeof(st->tag) || strlen(origin) >= sizeof(st->origin))
		return;
	snprintf(st->device, sizeof(st->device), "%s", device);
	snprintf(st->tag, sizeof(st->tag), "%s", tag);
	snprintf(st->origin, sizeof(st->origin), "%s", origin);
}

void
cp_rooms_fini(struct cp *cp)
{
	free(cp->rooms.rooms);
	free(cp->rooms.streams);
	memset(&cp->rooms, 0, sizeof(cp->rooms));
}

void
cp_stream_label(struct cp *cp, json_t *ev)
{
	const char *id = json_string_value(json_object_get(ev, "session"));
	const struct cp_sess *s = id != NULL ? cp_reg_find(&cp->reg, id) : NULL;
	const struct cp_stream *st;
	json_t *out;

	if (s == NULL || s->stream == 0)
		return;
	st = &cp->rooms.streams[s->stream - 1];
	json_object_set_new(ev, "room", json_string(cp->rooms.rooms[st->room].name));
	json_object_set_new(ev, "stream", json_string(st->name));
	out = json_object_get(ev, "output");
	if (out != NULL)
		json_object_set(ev, "viewer", out);
}
