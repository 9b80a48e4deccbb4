/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Requests from MQTT: the envelope, the dispatch to one action function per command, and
 * exactly one reply per request. Also the node's status and events.
 *
 * Request: {"v": 1, "id": "req-1", "cmd": "session.create", "args": {...}} on
 * <prefix>/<node>/cmd (or the pool topic). Replies go to the MQTT 5 response topic with the
 * request's correlation data; MQTT 3.1.1 clients put "reply_to" (and optionally "seqid",
 * echoed) in the JSON; with neither, to <prefix>/<node>/reply. A request id seen in the last
 * REPLAY_MAX requests is answered again with the same reply, the work not done twice.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cp.h"
#include "mf/mf_proto_json.h"

#define REPLAY_MAX	1024

struct cmd {
	const char *name;
	cp_action_fn fn;
};

/* Sorted by name for bsearch. */
static const struct cmd cmds[] = {
	{ "node.drain", cp_node_drain },
	{ "node.info", cp_node_info },
	{ "node.stats", cp_node_stats },
	{ "session.create", cp_session_create },
	{ "session.delete", cp_session_delete },
	{ "session.get", cp_session_get },
	{ "session.list", cp_session_list },
	{ "session.update", cp_session_update },
};

/* The last REPLAY_MAX request ids and their replies (a ring). */
static struct {
	char id[128];
	char *reply;
} replay[REPLAY_MAX];
static unsigned int replay_next;

static int
cmd_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cmd *)elem)->name);
}

static const char *
replay_find(const char *id)
{
	unsigned int i;

	for (i = 0; id != NULL && i < REPLAY_MAX; i++)
		if (replay[i].reply != NULL && strcmp(replay[i].id, id) == 0)
			return replay[i].reply;
	return NULL;
}

static void
replay_add(const char *id, const char *reply)
{
	if (id == NULL || strlen(id) >= sizeof(replay[0].id))
		return;
	free(replay[replay_next].reply);
	snprintf(replay[replay_next].id, sizeof(replay[0].id), "%s", id);
	replay[replay_next].reply = strdup(reply);
	replay_next = (replay_next + 1) % REPLAY_MAX;
}

static bool
topic_ok(const char *t)
{
	size_t n = strlen(t);

	return n > 0 && n < CP_TOPIC_MAX && strpbrk(t, "+#") == NULL && t[0] != '$';
}

struct request {
	const char *id;
	const char *cmd;
	const char *reply_to;
	json_t *seqid;
	json_t *args;
};

static json_t *
error_json(const struct cp_err *e)
{
	json_t *o = json_pack("{s:s, s:s}", "code", e->code, "message", e->message);

	if (e->path[0] != '\0')
		json_object_set_new(o, "path", json_string(e->path));
	return o;
}

static int
parse_envelope(json_t *root, struct request *rq, struct cp_err *err)
{
	json_int_t v = 1;
	json_error_t je;

	memset(rq, 0, sizeof(*rq));
	if (!json_is_object(root)) {
		cp_err_set(err, "bad_request", NULL, "a request is a JSON object");
		return -EINVAL;
	}
	/* Reply routing first, so that even a bad request is answered where it asked. */
	rq->reply_to = json_string_value(json_object_get(root, "reply_to"));
	rq->seqid = json_object_get(root, "seqid");
	rq->id = json_string_value(json_object_get(root, "id"));
	if (json_unpack_ex(root, &je, JSON_STRICT, "{s?I, s?s, s:s, s?o, s?s, s?o}", "v", &v,
			   "id", &rq->id, "cmd", &rq->cmd, "args", &rq->args, "reply_to",
			   &rq->reply_to, "seqid", &rq->seqid) != 0) {
		cp_err_set(err, "bad_request", NULL, "%s", je.text);
		return -EINVAL;
	}
	if (v != 1) {
		cp_err_set(err, "unsupported_version", "v", "request version %lld; this node speaks 1",
			   (long long)v);
		return -EINVAL;
	}
	if (rq->reply_to != NULL && !topic_ok(rq->reply_to)) {
		cp_err_set(err, "bad_request", "reply_to", "not a topic one can publish to");
		rq->reply_to = NULL;
		return -EINVAL;
	}
	return 0;
}

static char *
reply_text(struct cp *cp, const struct request *rq, json_t *result, const struct cp_err *err)
{
	json_t *o = json_pack("{s:b, s:s}", "ok", result != NULL, "node", cp->cfg.node);
	char *text;

	if (rq->id != NULL)
		json_object_set_new(o, "id", json_string(rq->id));
	if (rq->cmd != NULL)
		json_object_set_new(o, "cmd", json_string(rq->cmd));
	if (rq->seqid != NULL)
		json_object_set(o, "seqid", rq->seqid);
	if (result != NULL)
		json_object_set_new(o, "result", result);
	else
		json_object_set_new(o, "error", error_json(err));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static void
send_reply(struct cp *cp, const struct cp_msg *msg, const struct request *rq, const char *text)
{
	char fallback[CP_TOPIC_MAX];
	const char *topic = msg->response_topic[0] ? msg->response_topic : rq->reply_to;

	if (topic == NULL || !topic_ok(topic)) {
		snprintf(fallback, sizeof(fallback), "%s/%s/reply", cp->cfg.prefix, cp->cfg.node);
		topic = fallback;
	}
	cp_mqtt_publish(cp->mqtt, topic, text, false, msg->corr, msg->corr_len);
}

static json_t *
dispatch(struct cp *cp, const struct request *rq, struct cp_err *err)
{
	const struct cmd *c = bsearch(rq->cmd, cmds, sizeof(cmds) / sizeof(cmds[0]),
				      sizeof(cmds[0]), cmd_cmp);

	if (c == NULL) {
		cp_err_set(err, "unknown_command", "cmd", "no command \"%s\"", rq->cmd);
		return NULL;
	}
	return c->fn(cp, rq->args, err);
}

void
cp_cmd_handle(struct cp *cp, struct cp_msg *msg)
{
	struct request rq = { 0 };
	struct cp_err err = { { 0 } };
	json_t *root = NULL, *result = NULL;
	json_error_t je;
	const char *again;
	char *text;

	if (msg->len > cp->cfg.max_payload) {
		cp_err_set(&err, "too_large", NULL, "request of %zu bytes; the limit is %u",
			   msg->len, cp->cfg.max_payload);
	} else if ((root = json_loadb(msg->payload, msg->len, JSON_REJECT_DUPLICATES, &je)) ==
		   NULL) {
		cp_err_set(&err, "bad_json", NULL, "line %d column %d: %s", je.line, je.column,
			   je.text);
	} else if (parse_envelope(root, &rq, &err) == 0) {
		again = replay_find(rq.id);
		if (again != NULL) {
			MF_LOG(INFO, cmd, "request %s repeated: the first reply again", rq.id);
			send_reply(cp, msg, &rq, again);
			json_decref(root);
			return;
		}
		result = dispatch(cp, &rq, &err);
	}
	if (result != NULL && strncmp(rq.cmd, "session.", 8) == 0 &&
	    strcmp(rq.cmd, "session.get") != 0 && strcmp(rq.cmd, "session.list") != 0)
		cp->status_dirty = true;
	text = reply_text(cp, &rq, result, &err);
	if (result == NULL)
		MF_LOG(INFO, cmd, "%s%s%s refused: %s%s%s: %s", rq.cmd ? rq.cmd : "request",
		       rq.id ? " " : "", rq.id ? rq.id : "", err.code, err.path[0] ? " at " : "",
		       err.path, err.message);
	if (text != NULL) {
		if (result != NULL || (rq.cmd != NULL && strcmp(err.code, "dataplane_down") != 0))
			replay_add(rq.id, text);
		send_reply(cp, msg, &rq, text);
		explicit_bzero(text, strlen(text));
		free(text);
	}
	json_decref(root);
}

/* ---- status and events ---- */

json_t *
cp_status_json(struct cp *cp)
{
	static uint8_t buf[MF_CHAN_SLOT_SIZE];
	struct cp_err err;
	json_t *o, *ports = json_array();
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (cp->dp_up && cp_dp_call(cp, MF_MSG_NODE_INFO, NULL, 0, buf, sizeof(buf), &err) >= 0) {
		json_t *ni = mf_node_info_to_json((struct mf_msg_node_info *)buf);

		json_decref(ports);
		ports = json_incref(json_object_get(ni, "ports"));
		json_decref(ni);
	}
	o = json_pack("{s:b, s:s, s:s, s:I, s:{s:b, s:s, s:I}, s:o, s:i, s:i, s:I, s:b,"
		      " s:{s:i, s:i, s:I}}",
		      "online", 1, "node", cp->cfg.node, "version", MF_VERSION, "time_ms",
		      (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, "dataplane", "up",
		      cp->dp_up, "instance", cp->cfg.instance, "generation",
		      (json_int_t)cp->dp_generation, "ports", ports, "sessions", cp->nb_sessions,
		      "outputs", cp->nb_outputs, "kbps", (json_int_t)cp->kbps, "draining",
		      cp->draining, "capacity", "max_sessions",
		      cp->cfg.limits.max_sessions ? cp->cfg.limits.max_sessions : cp->dp_max_sessions,
		      "max_outputs", cp->cfg.limits.max_outputs, "max_kbps",
		      (json_int_t)cp->cfg.limits.max_kbps);
	return o;
}

void
cp_status_publish(struct cp *cp, bool online)
{
	json_t *o = online ? cp_status_json(cp) :
		json_pack("{s:b, s:s, s:s}", "online", 0, "node", cp->cfg.node, "reason",
			  "stopped");
	char *text = json_dumps(o, JSON_COMPACT);

	if (text != NULL)
		cp_mqtt_publish(cp->mqtt, cp->t_status, text, true, NULL, 0);
	free(text);
	json_decref(o);
}

void
cp_event_publish(struct cp *cp, json_t *ev)
{
	char topic[CP_TOPIC_MAX], *text;
	const char *kind = json_string_value(json_object_get(ev, "event"));

	json_object_set_new(ev, "node", json_string(cp->cfg.node));
	snprintf(topic, sizeof(topic), "%s/%s/event/%s", cp->cfg.prefix, cp->cfg.node,
		 kind ? kind : "unknown");
	text = json_dumps(ev, JSON_COMPACT);
	if (text != NULL)
		cp_mqtt_publish(cp->mqtt, topic, text, false, NULL, 0);
	free(text);
	json_decref(ev);
}
