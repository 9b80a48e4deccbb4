/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Devices that push on demand (a camera fleet's uplinks carry video only while someone
 * watches). A device announces itself with a retained status on <devices prefix>/<device>/
 * status, its last will saying it is gone:
 *
 *   {"online": true, "room": "lobby", "streams": {"main": {"media": [...]}, ...}}
 *
 * ("media" as stream.publish takes it). Its streams are "<device>/<stream>" in that room.
 * When a viewer subscribes to one nobody publishes, cp_streams.c publishes it and asks the
 * device, on <devices prefix>/<device>/cmd, to push there; and to stop once the last viewer
 * has been gone for linger_s. This file keeps what devices said and carries the commands.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cp.h"
#include "mf/mf_array.h"

#define DEVICE_MAX	33	/* a device's name: 1-32 of A-Z a-z 0-9 - _ . */

static struct cp_device *
find(struct cp *cp, const char *name)
{
	json_t *at = json_object_get(cp->devices.index, name);

	return at != NULL ? &cp->devices.d[json_integer_value(at)] : NULL;
}

static struct cp_device *
add(struct cp *cp, const char *name)
{
	struct cp_devices *ds = &cp->devices;
	struct cp_device *d;

	if (ds->index == NULL && (ds->index = json_object()) == NULL)
		return NULL;
	if ((d = mf_array_grow(ds->d, &ds->cap, ds->nb, sizeof(*d), 16, 0)) == NULL)
		return NULL;
	ds->d = d;
	if (json_object_set_new(ds->index, name, json_integer(ds->nb)) != 0)
		return NULL;
	d = &ds->d[ds->nb++];
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	return d;
}

/* Device @p name forgotten: the last takes its place. */
void
cp_device_forget(struct cp *cp, const char *name)
{
	struct cp_devices *ds = &cp->devices;
	struct cp_device *d = find(cp, name);

	if (d == NULL)
		return;
	json_decref(d->streams);
	json_object_del(ds->index, d->name);
	*d = ds->d[--ds->nb];
	if (d != &ds->d[ds->nb])
		json_object_set_new(ds->index, d->name, json_integer(d - ds->d));
}

/* Its streams as announced: names that fit "<device>/<name>", each with a media array. */
static json_t *
streams_of(const char *device, json_t *streams)
{
	json_t *ok = json_object(), *v;
	const char *k;
	char full[CP_STREAM_MAX + 8];

	json_object_foreach(streams, k, v) {
		snprintf(full, sizeof(full), "%s/%s", device, k);
		if (cp_room_name_ok(full, true) && json_is_array(json_object_get(v, "media")))
			json_object_set(ok, k, json_object_get(v, "media"));
	}
	return ok;
}

int
cp_device_status(struct cp *cp, const struct cp_msg *msg, char *gone, size_t cap)
{
	size_t p = strlen(cp->cfg.devices_prefix) + 1;
	const char *room = NULL, *end = strrchr(msg->topic, '/');
	char name[DEVICE_MAX];
	json_t *o, *streams = NULL;
	struct cp_device *d;
	int online = 0;

	if (end == NULL || (size_t)(end - msg->topic) <= p || (size_t)(end - msg->topic) - p >=
	    sizeof(name))
		return 0;
	memcpy(name, msg->topic + p, (size_t)(end - msg->topic) - p);
	name[(size_t)(end - msg->topic) - p] = '\0';
	/* An empty retained message clears a status: a device taken out of the fleet is
	 * forgotten (kept, every name ever seen would stay), its streams ended. */
	if (msg->len == 0 && cp_room_name_ok(name, false) && find(cp, name) != NULL) {
		MF_LOG(INFO, main, "device %s cleared", name);
		snprintf(gone, cap, "%s", name);
		return 2;
	}
	o = json_loadb(msg->payload, msg->len, JSON_REJECT_DUPLICATES, NULL);
	if (!cp_room_name_ok(name, false) || strchr(name, '/') != NULL ||
	    json_unpack(o, "{s:b, s?s, s?o}", "online", &online, "room", &room, "streams",
			&streams) != 0 || (online && (room == NULL || !cp_room_name_ok(room, false)))) {
		if (msg->len > 0)	/* an empty retained message clears a status */
			MF_LOG(INFO, main, "device status on %.100s unreadable: ignored", msg->topic);
		json_decref(o);
		return 0;
	}
	d = find(cp, name);
	if (d == NULL && (d = add(cp, name)) == NULL) {
		json_decref(o);
		return 0;
	}
	d->online = online;
	snprintf(d->room, sizeof(d->room), "%s", online ? room : "");
	json_decref(d->streams);
	d->streams = online ? streams_of(name, streams) : NULL;
	json_decref(o);
	MF_LOG(INFO, main, "device %s %s", name, online ? "online" : "offline");
	/* Offline, even the first status seen of it (a control plane restarted as it went):
	 * its streams end. */
	if (online)
		return 0;
	snprintf(gone, cap, "%s", name);
	return 1;
}

json_t *
cp_device_media(struct cp *cp, const char *room, const char *stream, char *device, size_t cap)
{
	const char *slash = strchr(stream, '/');
	const struct cp_device *d;
	char name[DEVICE_MAX];

	if (slash == NULL || (size_t)(slash - stream) >= sizeof(name))
		return NULL;
	memcpy(name, stream, (size_t)(slash - stream));
	name[slash - stream] = '\0';
	d = find(cp, name);
	if (d == NULL || !d->online || strcmp(d->room, room) != 0)
		return NULL;
	snprintf(device, cap, "%s", name);
	return json_object_get(d->streams, slash + 1);
}

void
cp_device_command(struct cp *cp, const char *device, json_t *cmd)
{
	char topic[CP_TOPIC_MAX], *text = json_dumps(cmd, JSON_COMPACT);

	snprintf(topic, sizeof(topic), "%s/%s/cmd", cp->cfg.devices_prefix, device);
	if (text != NULL)
		cp_mqtt_publish(cp->mqtt, topic, text, 1, false, NULL, 0);
	MF_LOG(INFO, main, "device %s: %s", device, text ? text : "(no memory)");
	free(text);
	json_decref(cmd);
}

bool
cp_device_online(struct cp *cp, const char *device)
{
	const struct cp_device *d = find(cp, device);

	return d != NULL && d->online;
}

void
cp_devices_fini(struct cp *cp)
{
	uint32_t i;

	for (i = 0; i < cp->devices.nb; i++)
		json_decref(cp->devices.d[i].streams);
	json_decref(cp->devices.index);
	free(cp->devices.d);
	memset(&cp->devices, 0, sizeof(cp->devices));
}

json_t *
cp_device_list(struct cp *cp, json_t *args, struct cp_err *err)
{
	bool all = cp_auth_admin(cp, cp->caller);
	json_t *list = json_array(), *v;
	const char *k;
	uint32_t i;
	int r;

	if (cp_args_unpack(args, err, "{}") != 0) {
		json_decref(list);
		return NULL;
	}
	for (i = 0; i < cp->devices.nb; i++) {
		const struct cp_device *d = &cp->devices.d[i];
		json_t *names = json_array();

		r = d->online ? cp_room_find(cp, d->room) : -1;
		if (!all && (r < 0 || cp->rooms.rooms[r].tenant != cp->caller)) {
			json_decref(names);
			continue;
		}
		json_object_foreach(d->streams, k, v)
			json_array_append_new(names, json_string(k));
		json_array_append_new(list, json_pack("{s:s, s:b, s:s, s:o}", "device", d->name,
						      "online", d->online, "room", d->room,
						      "streams", names));
	}
	return json_pack("{s:o}", "devices", list);
}
