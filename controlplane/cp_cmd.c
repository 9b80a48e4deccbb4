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
 *
 * Requests come in batches (whatever the queue holds). Creates and deletes are pipelined:
 * their channel commands go out one after another and their replies wait for one flush (all
 * answers in, the journal synced once). Any other command first flushes and answers what
 * came before it, then runs alone: replies leave in the order of the requests.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cp.h"
#include "mf/mf_proto_json.h"

#define REPLAY_MAX	1024
#define REPLAY_TEXT_MAX	65536	/* a longer reply is not kept for a repeat */

/* Who may send a command: any tenant (the action keeps to the caller's sessions), only
 * about a session of its own (args.id), or an admin. */
enum access { ANY, OWN, ADMIN };

struct cmd {
	const char *name;
	cp_action_fn fn;		/* runs alone */
	void (*start)(struct cp *cp, struct cp_req *rq);	/* or pipelined */
	bool many;
	bool changes;			/* the node's status follows */
	uint8_t access;			/* enum access */
};

/* Sorted by name for bsearch. */
static const struct cmd cmds[] = {
	{ "device.list", cp_device_list, NULL, false, false, ANY },
	{ "node.drain", cp_node_drain, NULL, false, true, ADMIN },
	{ "node.info", cp_node_info, NULL, false, false, ANY },
	{ "node.stats", cp_node_stats, NULL, false, false, ADMIN },
	{ "pipe.close", cp_pipe_close, NULL, false, true, ADMIN },
	{ "pipe.key", cp_pipe_key, NULL, false, false, ADMIN },
	{ "pipe.open", cp_pipe_open, NULL, false, true, ADMIN },
	{ "room.create", cp_room_create, NULL, false, false, ANY },
	{ "room.delete", cp_room_delete, NULL, false, true, ANY },
	{ "room.get", cp_room_get, NULL, false, false, ANY },
	{ "room.list", cp_room_list, NULL, false, false, ANY },
	{ "session.capture", cp_session_capture, NULL, false, false, OWN },
	{ "session.create", NULL, cp_create_start, false, true, ANY },
	{ "session.create_many", NULL, cp_create_start, true, true, ANY },
	{ "session.delete", NULL, cp_delete_start, false, true, ANY },
	{ "session.delete_many", NULL, cp_delete_start, true, true, ANY },
	{ "session.get", cp_session_get, NULL, false, false, OWN },
	{ "session.list", cp_session_list, NULL, false, false, ANY },
	{ "session.pipe", cp_session_pipe, NULL, false, true, OWN },
	{ "session.unpipe", cp_session_unpipe, NULL, false, true, OWN },
	{ "session.update", cp_session_update, NULL, false, true, OWN },
	{ "stream.publish", cp_stream_publish, NULL, false, true, ANY },
	{ "stream.subscribe", cp_stream_subscribe, NULL, false, true, ANY },
	{ "stream.unpublish", cp_stream_unpublish, NULL, false, true, ANY },
	{ "stream.unsubscribe", cp_stream_unsubscribe, NULL, false, true, ANY },
	{ "token.create", cp_token_create, NULL, false, false, ANY },
};

/* The last REPLAY_MAX request ids and their replies (a ring), per tenant: one tenant's
 * id never brings back another's reply. */
struct cp_replay {
	struct {
		uint32_t hash;		/* of id: most entries are passed over on it alone */
		uint16_t tenant;
		char id[128];
		char *reply;
	} ring[REPLAY_MAX];
	unsigned int next;
};

static int
cmd_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cmd *)elem)->name);
}

static const char *
replay_find(struct cp *cp, uint16_t tenant, const char *id)
{
	struct cp_replay *r = cp->replay;
	uint32_t h = id != NULL ? cp_id_hash(id) : 0;
	unsigned int i;

	for (i = 0; r != NULL && id != NULL && i < REPLAY_MAX; i++)
		if (r->ring[i].hash == h && r->ring[i].reply != NULL &&
		    r->ring[i].tenant == tenant && strcmp(r->ring[i].id, id) == 0)
			return r->ring[i].reply;
	return NULL;
}

/* A reply may carry a secret (token.create's token, a stream's key): wiped before it goes. */
static void
wipe_free(char *text)
{
	if (text != NULL)
		explicit_bzero(text, strlen(text));
	free(text);
}

static void
replay_add(struct cp *cp, uint16_t tenant, const char *id, const char *reply)
{
	struct cp_replay *r = cp->replay;

	if (r == NULL)
		r = cp->replay = calloc(1, sizeof(*r));
	if (r == NULL || id == NULL || strlen(id) >= sizeof(r->ring[0].id))
		return;
	wipe_free(r->ring[r->next].reply);
	r->ring[r->next].hash = cp_id_hash(id);
	r->ring[r->next].tenant = tenant;
	snprintf(r->ring[r->next].id, sizeof(r->ring[0].id), "%s", id);
	r->ring[r->next].reply = strdup(reply);
	r->next = (r->next + 1) % REPLAY_MAX;
}

/* @p s for a log line: at most @p cap - 1 bytes, control characters as '?' (a request's
 * id or command comes from anyone: it must not forge lines). */
static const char *
printable(const char *s, char *buf, size_t cap)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static bool
topic_ok(const char *t)
{
	size_t n = strlen(t);

	return n > 0 && n < CP_TOPIC_MAX && strpbrk(t, "+#") == NULL && t[0] != '$';
}

static int
parse_envelope(json_t *root, struct cp_req *rq, struct cp_err *err)
{
	json_int_t v = 1;
	json_error_t je;

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
reply_text(struct cp *cp, const char *id, const char *cmd, json_t *seqid, json_t *result,
	   const struct cp_err *err)
{
	json_t *o = json_pack("{s:b, s:s}", "ok", result != NULL, "node", cp->cfg.node);
	char *text;

	if (id != NULL)
		json_object_set_new(o, "id", json_string(id));
	if (cmd != NULL)
		json_object_set_new(o, "cmd", json_string(cmd));
	if (seqid != NULL)
		json_object_set(o, "seqid", seqid);
	if (result != NULL)
		json_object_set_new(o, "result", result);
	else
		json_object_set_new(o, "error", cp_err_json(err));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* Does @p t start with @p prefix and a slash? @return what follows, or NULL. */
static const char *
under(const char *t, const char *prefix)
{
	size_t n = strlen(prefix);

	return n > 0 && strncmp(t, prefix, n) == 0 && t[n] == '/' ? t + n + 1 : NULL;
}

/* May the reply to @p rq go to @p t? The node publishes it with its own rights, so whoever
 * may send a command must not choose a topic of the nodes' or the devices' own (a status,
 * an event, a device's commands). Under the prefix only this node's reply topic, and where
 * nodes answer each other: a node's pipe/reply for its pipe commands ("pipe-" ids), a
 * node's place/reply for a request it placed here. Under the devices' prefix nothing. */
static bool
reply_allowed(const struct cp *cp, const struct cp_msg *msg, const struct cp_req *rq,
	      const char *t)
{
	const char *rest = under(t, cp->cfg.prefix), *slash;

	if (under(t, cp->cfg.devices_prefix) != NULL)
		return false;
	if (rest == NULL)
		return true;
	slash = strchr(rest, '/');
	if (slash == NULL || slash == rest)
		return false;
	if (strcmp(slash, "/reply") == 0)
		return (size_t)(slash - rest) == strlen(cp->cfg.node) &&
		       strncmp(rest, cp->cfg.node, (size_t)(slash - rest)) == 0;
	if (strcmp(slash, "/pipe/reply") == 0)
		return rq->id != NULL && strncmp(rq->id, "pipe-", 5) == 0;
	return strcmp(slash, "/place/reply") == 0 && msg->placed;
}

/* Where the reply to @p msg goes, into @p buf. It goes at the request's QoS: a client that
 * sends at QoS 0 takes the risk of a lost message both ways (and repeats the request with
 * the same id), and spares the broker and both ends an acknowledgement each way: with 256
 * requests in flight, 45 to 60 % more creates a second (perf/RESULTS.md). */
static const char *
reply_topic(struct cp *cp, const struct cp_msg *msg, const struct cp_req *rq, char *buf)
{
	const char *topic = msg->response_topic[0] ? msg->response_topic : rq->reply_to;

	if (topic != NULL && topic_ok(topic) && reply_allowed(cp, msg, rq, topic))
		return topic;
	snprintf(buf, CP_TOPIC_MAX, "%s/%s/reply", cp->cfg.prefix, cp->cfg.node);
	return buf;
}

/* Nodes answer each other (placements, pipes) on topics under the prefix: those go at QoS 1
 * whatever QoS a bridge or a subscription's grant delivered the request at. */
static int
reply_qos(const struct cp *cp, const struct cp_msg *msg, const char *topic)
{
	size_t n = strlen(cp->cfg.prefix);

	return msg->qos || (strncmp(topic, cp->cfg.prefix, n) == 0 && topic[n] == '/');
}

static void
send_reply(struct cp *cp, const struct cp_msg *msg, const struct cp_req *rq, const char *text)
{
	char buf[CP_TOPIC_MAX];
	const char *topic = reply_topic(cp, msg, rq, buf);

	cp_mqtt_publish(cp->mqtt, topic, text, reply_qos(cp, msg, topic), false, msg->corr,
			msg->corr_len);
}

/* The action answers later (cp_cmd_answer): what the reply needs is kept in rq->later. */
static void
keep_routing(struct cp *cp, const struct cp_msg *msg, const struct cp_req *rq)
{
	struct cp_later *l = rq->later;
	char buf[CP_TOPIC_MAX];

	snprintf(l->topic, sizeof(l->topic), "%s", reply_topic(cp, msg, rq, buf));
	l->corr = msg->corr_len ? malloc(msg->corr_len) : NULL;
	l->corr_len = l->corr != NULL ? msg->corr_len : 0;
	if (l->corr != NULL)
		memcpy(l->corr, msg->corr, msg->corr_len);
	l->id = rq->id != NULL ? strdup(rq->id) : NULL;
	snprintf(l->cmd, sizeof(l->cmd), "%s", rq->cmd);
	l->seqid = json_incref(rq->seqid);
	l->tenant = rq->tenant;
	l->qos = (uint8_t)reply_qos(cp, msg, l->topic);
}

void
cp_cmd_answer(struct cp *cp, struct cp_later *l, json_t *result, const struct cp_err *err)
{
	char *text, id[72], message[sizeof(err->message)], path[sizeof(err->path)];

	if (result != NULL)
		cp->status_dirty = true;
	else
		MF_LOG(INFO, cmd, "%s%s%s refused: %s%s%s: %s", l->cmd, l->id ? " " : "",
		       l->id ? printable(l->id, id, sizeof(id)) : "", err->code,
		       err->path[0] ? " at " : "", printable(err->path, path, sizeof(path)),
		       printable(err->message, message, sizeof(message)));
	text = reply_text(cp, l->id, l->cmd, l->seqid, result, err);
	if (text != NULL)
		cp_mqtt_publish(cp->mqtt, l->topic, text, l->qos, false, l->corr, l->corr_len);
	wipe_free(text);
	cp_cmd_answer_free(l);
}

void
cp_cmd_answer_free(struct cp_later *l)
{
	free(l->corr);
	free(l->id);
	json_decref(l->seqid);
	l->corr = NULL;
	l->id = NULL;
	l->seqid = NULL;
}

static const struct cmd *
find_cmd(const char *name)
{
	return bsearch(name, cmds, sizeof(cmds) / sizeof(cmds[0]), sizeof(cmds[0]), cmd_cmp);
}

/* The request's JSON into rq->root (a signed envelope's body, the envelope kept in
 * rq->outer), and where its signature and signed bytes are. */
static int
parse(struct cp_msg *msg, struct cp_req *rq, const struct cp_sig **sig, const char **body,
      size_t *len)
{
	json_error_t je;
	int rc;

	rq->root = json_loadb(msg->payload, msg->len, JSON_REJECT_DUPLICATES, &je);
	if (rq->root == NULL)
		goto bad_json;
	*sig = &msg->sig;
	*body = msg->payload;
	*len = msg->len;
	rc = cp_auth_unwrap(rq->root, &rq->env, body, len, &rq->err);
	if (rc <= 0)
		return rc;
	if (msg->sig.present) {
		cp_err_set(&rq->err, "bad_auth", "auth", "signed twice: user properties and "
			   "an envelope");
		return -EINVAL;
	}
	*sig = &rq->env;
	rq->outer = rq->root;
	rq->root = json_loadb(*body, *len, JSON_REJECT_DUPLICATES, &je);
	if (rq->root != NULL)
		return 0;
bad_json:
	cp_err_set(&rq->err, "bad_json", rq->outer ? "body" : NULL, "line %d column %d: %s",
		   je.line, je.column, je.text);
	return -EINVAL;
}

/* May the request's tenant send it? */
static int
allowed(struct cp *cp, const struct cmd *c, struct cp_req *rq)
{
	const char *id = json_string_value(json_object_get(rq->args, "id"));

	cp->caller = rq->tenant;
	if (c->access == ADMIN && !cp_auth_admin(cp, rq->tenant)) {
		cp_err_set(&rq->err, "forbidden", "cmd", "%s is for the node's operator", c->name);
		cp_auth_refuse(cp, rq->tenant, CP_AUTH_FORBIDDEN, NULL);
		return -EPERM;
	}
	if (c->access == OWN && id != NULL && !cp_sees(cp, id)) {
		cp_err_set(&rq->err, "not_found", "id", "no session \"%.100s\"", id);
		return -ENOENT;
	}
	return 0;
}

/* Is @p msg a pool create another node of our pool placed here? Only a create, only with
 * its answer going to a node of the registry, and vouched for by the
 * placing node's MAC when this node has a node tenant (docs/cluster.md). */
static bool
from_pool(struct cp *cp, const struct cp_msg *msg, const struct cp_req *rq)
{
	size_t p = strlen(cp->cfg.prefix) + 1;
	char node[CP_NODE_MAX], mac[CP_SIG_HEX + 1];
	const char *end;
	int rc;

	if (!msg->placed || cp->cfg.pool_group[0] == '\0' || rq->cmd == NULL ||
	    (strcmp(rq->cmd, "session.create") != 0 && strcmp(rq->cmd, "session.create_many")))
		return false;
	end = strchr(msg->response_topic + p, '/');	/* cp_mqtt.c checked the form */
	if (end == NULL || (size_t)(end - msg->response_topic - p) >= sizeof(node))
		return false;
	memcpy(node, msg->response_topic + p, (size_t)(end - msg->response_topic - p));
	node[end - msg->response_topic - p] = '\0';
	if (mf_cluster_find(&cp->place.reg, node) == NULL)
		return false;
	rc = cp_auth_place_mac(cp, msg->topic, msg->placed_response, msg->response_topic,
			       msg->payload, msg->len, mac);
	return rc == -ENOENT || (rc == 0 && CRYPTO_memcmp(mac, msg->placer_mac, CP_SIG_HEX) == 0 &&
				 strlen(msg->placer_mac) == CP_SIG_HEX);
}

/* Refused for its nonce (a replay, or none could be kept): that says nothing of the
 * request under its id, so it answers no repeat. */
static bool
nonce_refused(const struct cp_req *rq)
{
	return strcmp(rq->err.code, "replayed") == 0 ||
	       strcmp(rq->err.code, "replay_cache_full") == 0;
}

/* A refusal that passes (the dataplane away or slow): not kept for a repeat, which may
 * find it back. For a batch, any of its items refused so. */
static bool
passing_code(const char *code)
{
	return strcmp(code, "timeout") == 0 || strcmp(code, "dataplane_down") == 0;
}

static bool
passing(const struct cp_req *rq)
{
	uint32_t i;

	if (passing_code(rq->err.code))
		return true;
	for (i = 0; rq->items != NULL && i < rq->nb_items; i++)
		if (!rq->items[i].ok && passing_code(rq->items[i].err.code))
			return true;
	return false;
}

/* An earlier request of this batch, [0, @p n), from the same sender with @p rq's id, not
 * itself a repeat nor refused for its nonce. @return its index, or -1. */
static int
batch_twin(const struct cp_req *rqs, unsigned int n, const struct cp_req *rq)
{
	unsigned int j;

	for (j = 0; rq->id != NULL && j < n; j++)
		if (rqs[j].verified && rqs[j].tenant == rq->tenant && rqs[j].id != NULL &&
		    rqs[j].twin == 0 && strcmp(rqs[j].id, rq->id) == 0 &&
		    !nonce_refused(&rqs[j]))
			return (int)j;
	return -1;
}

/* Parse @p msg into @p rq, the @p i th request of the batch @p rqs; a request that needs no
 * work has its reply ready (rq->result or rq->err set, @p again, or a twin earlier in the
 * batch). @return the command to run, or NULL. */
static const struct cmd *
take(struct cp *cp, struct cp_msg *msg, struct cp_req *rqs, unsigned int i, char **again)
{
	struct cp_req *rq = &rqs[i];
	const struct cp_sig *sig = NULL;
	const struct cmd *c;
	const char *first, *body = NULL;
	char idbuf[72];
	size_t len = 0;
	bool placed;
	int twin;

	*again = NULL;
	if (msg->len > cp->cfg.max_payload) {
		cp_err_set(&rq->err, "too_large", NULL, "request of %zu bytes; the limit is %u",
			   msg->len, cp->cfg.max_payload);
		return NULL;
	}
	/* Routing before the signature, so that even a refusal is answered where it asked. */
	if (parse(msg, rq, &sig, &body, &len) != 0 || parse_envelope(rq->root, rq, &rq->err) != 0)
		return NULL;
	rq->sig = sig;
	if (!sig->present && json_object_get(rq->args, "token") != NULL) {
		/* A device's token instead of a signature: its uses count, not its repeats. */
		if (cp_token_check(cp, rq->cmd, rq->args, &rq->grant, &rq->err) != 0)
			return NULL;
		rq->tenant = rq->grant.tenant;
		goto run;
	}
	/* A pool request another node placed here was signed for the pool and its sender's
	 * response topic (cp_place.c). */
	placed = from_pool(cp, msg, rq);
	rq->pooled = placed || msg->pool;
	if (cp_auth_check(cp, sig, placed ? cp->t_pool : msg->topic,
			  placed ? msg->placed_response : msg->response_topic, body, len,
			  &rq->tenant, &rq->err) != 0)
		return NULL;
	rq->verified = true;
	/* A copy: answers of earlier requests of this batch may push it out of the ring. A
	 * request sent again (QoS 1 redelivery, a client's retry) gets its first reply before
	 * its nonce is looked at: the same bytes, nothing done twice. */
	first = replay_find(cp, rq->tenant, rq->id);
	*again = first != NULL ? strdup(first) : NULL;
	if (*again != NULL) {
		MF_LOG(INFO, cmd, "request %s repeated: the first reply again",
		       printable(rq->id, idbuf, sizeof(idbuf)));
		cp_auth_note(cp, sig, rq->tenant);	/* a retry signed again */
		return NULL;
	}
	twin = batch_twin(rqs, i, rq);
	if (twin >= 0) {
		MF_LOG(INFO, cmd, "request %s repeated in its batch: the first's reply again",
		       printable(rq->id, idbuf, sizeof(idbuf)));
		cp_auth_note(cp, sig, rq->tenant);
		rq->twin = (uint32_t)twin + 1;
		rqs[twin].keep = true;
		return NULL;
	}
	if (cp_auth_spend(cp, sig, rq->tenant, &rq->err) != 0)
		return NULL;
run:
	c = find_cmd(rq->cmd);
	if (c == NULL)
		cp_err_set(&rq->err, "unknown_command", "cmd", "no command \"%s\"", rq->cmd);
	else if (allowed(cp, c, rq) != 0)
		return NULL;
	else
		rq->many = c->many;
	return c;
}

/* @p msg parsed as far as it goes: its id, command and routing into @p rq. */
static void
peek(struct cp_msg *msg, struct cp_req *rq)
{
	const struct cp_sig *sig = NULL;
	const char *body = NULL;
	size_t len = 0;

	if (parse(msg, rq, &sig, &body, &len) == 0)
		parse_envelope(rq->root, rq, &rq->err);
}

void
cp_cmd_relay(struct cp *cp, struct cp_msg *msg, const char *text)
{
	struct cp_req rq = { 0 };

	peek(msg, &rq);
	send_reply(cp, msg, &rq, text);
	json_decref(rq.root);
	json_decref(rq.outer);
}

void
cp_cmd_refuse(struct cp *cp, struct cp_msg *msg, const struct cp_err *err)
{
	struct cp_req rq = { 0 };
	char *text;

	peek(msg, &rq);
	text = reply_text(cp, rq.id, rq.cmd, rq.seqid, NULL, err);
	if (text != NULL)
		send_reply(cp, msg, &rq, text);
	free(text);
	json_decref(rq.root);
	json_decref(rq.outer);
}

/* The strings of @p v wiped (a reply's token, a key), then @p v released. */
static void
wipe_json(json_t *v)
{
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_string(v))
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
	json_object_foreach(v, k, e)
		wipe_json(e);
	json_array_foreach(v, i, e)
		wipe_json(e);
}

/* A reply kept for repeats carries the first request's seqid (MQTT 3.1.1 clients match
 * replies by it): the repeat's own instead, or none if it has none. Takes @p text. */
static char *
with_seqid(char *text, json_t *seqid)
{
	json_t *o;
	char *t = NULL;

	if (seqid == NULL && strstr(text, "\"seqid\"") == NULL)
		return text;
	o = json_loads(text, 0, NULL);
	if (json_is_object(o) &&
	    (seqid != NULL ? json_object_set(o, "seqid", seqid) : json_object_del(o, "seqid")) == 0)
		t = json_dumps(o, JSON_COMPACT);
	wipe_json(o);
	json_decref(o);
	if (t == NULL)
		return text;
	wipe_free(text);
	return t;
}

static void
answer(struct cp *cp, struct cp_msg *msg, struct cp_req *rqs, unsigned int k, char *again)
{
	char *text, who[CP_TENANT_MAX + 40], id[72], cmd[40];
	char message[sizeof(rqs->err.message)], path[sizeof(rqs->err.path)];
	struct cp_req *rq = &rqs[k];
	uint32_t i;

	/* Its twin was answered before it: the same bytes; unless that answer comes later,
	 * was made before the repeat came (and the replay ring had no room for it) or could
	 * not be made: then this one is refused, not run again. */
	if (rq->twin != 0 && rqs[rq->twin - 1].kept != NULL &&
	    (again = strdup(rqs[rq->twin - 1].kept)) == NULL)
		cp_err_set(&rq->err, "internal", NULL, "no memory for the reply");
	else if (rq->twin != 0 && again == NULL)
		cp_err_set(&rq->err, "busy", "id", "the same request, earlier, not answered yet");
	if (again != NULL) {
		again = with_seqid(again, rq->seqid);
		send_reply(cp, msg, rq, again);
		goto out;
	}
	if (rq->later != NULL) {
		keep_routing(cp, msg, rq);
		goto out;
	}
	if (rq->result != NULL && rq->cmd != NULL && find_cmd(rq->cmd)->changes)
		cp->status_dirty = true;
	/* A message or path may quote what the client sent (a command's name, an id, a key):
	 * printable, so that no client writes a line of the log of its own. */
	if (rq->result == NULL)
		MF_LOG(INFO, cmd, "%s%s%s of %s refused: %s%s%s: %s",
		       rq->cmd ? printable(rq->cmd, cmd, sizeof(cmd)) : "request", rq->id ? " " : "",
		       rq->id ? printable(rq->id, id, sizeof(id)) : "",
		       cp_auth_who(cp, rq->tenant, rq->sig, who, sizeof(who)), rq->err.code,
		       rq->err.path[0] ? " at " : "", printable(rq->err.path, path, sizeof(path)),
		       printable(rq->err.message, message, sizeof(message)));
	text = reply_text(cp, rq->id, rq->cmd, rq->seqid, json_incref(rq->result), &rq->err);
	if (text != NULL) {
		/* Kept to answer a repeat: what a verified sender got, unless the refusal
		 * passes (the dataplane away or slow, for the request or one of its items;
		 * the nonces full), says nothing of the request under that id (a replay: the
		 * one that ran is answered by its own) or the reply is large. */
		if (rq->verified && rq->twin == 0 && rq->cmd != NULL &&
		    strlen(text) <= REPLAY_TEXT_MAX && !passing(rq) && !nonce_refused(rq))
			replay_add(cp, rq->tenant, rq->id, text);
		send_reply(cp, msg, rq, text);
		if (rq->keep) {
			rq->kept = text;	/* for its twin; freed with the batch */
			text = NULL;
		}
		wipe_free(text);
	}
out:
	wipe_free(again);
	for (i = 0; rq->results != NULL && i < rq->nb_items; i++)
		json_decref(rq->results[i]);
	free(rq->results);
	free(rq->items);
	json_decref(rq->result);
	rq->results = NULL;
	rq->items = NULL;
	rq->result = NULL;
	/* root (which rq->id points into) and outer stay with the batch: a repeat later in
	 * it is told apart by its id. */
}

/* Everything pipelined in [@p from, @p to) is answered: flush, finish, reply. */
static void
settle(struct cp *cp, struct cp_msg **msgs, struct cp_req *rqs, char **again,
       unsigned int from, unsigned int to)
{
	bool journal_ok = cp_store_flush(cp) == 0;
	unsigned int i;

	for (i = from; i < to; i++)
		if (rqs[i].pipelined)
			cp_pipelined_finish(cp, &rqs[i], journal_ok);
	for (i = from; i < to; i++)
		answer(cp, msgs[i], rqs, i, again[i]);
}

/* Room for a batch of @p n requests, zeroed. @return 0 or -ENOMEM. */
static int
batch_room(struct cp *cp, unsigned int n)
{
	struct cp_req *rqs;
	char **again;

	if (n > cp->batch_cap) {
		rqs = realloc(cp->batch_rqs, n * sizeof(*rqs));
		if (rqs == NULL)
			return -ENOMEM;
		cp->batch_rqs = rqs;
		again = realloc(cp->batch_again, n * sizeof(*again));
		if (again == NULL)
			return -ENOMEM;
		cp->batch_again = again;
		cp->batch_cap = n;
	}
	memset(cp->batch_rqs, 0, n * sizeof(*cp->batch_rqs));
	memset(cp->batch_again, 0, n * sizeof(*cp->batch_again));
	return 0;
}

void
cp_cmd_batch(struct cp *cp, struct cp_msg **msgs, unsigned int n)
{
	struct cp_req *rqs;
	char **again;
	const struct cmd *c;
	unsigned int i, from = 0;

	if (batch_room(cp, n) != 0) {
		MF_LOG(ERR, cmd, "no memory for a batch of %u requests: dropped", n);
		return;
	}
	rqs = cp->batch_rqs;
	again = cp->batch_again;
	for (i = 0; i < n; i++) {
		c = take(cp, msgs[i], rqs, i, &again[i]);
		if (c == NULL)
			continue;
		if (c->start != NULL) {
			cp->caller = rqs[i].tenant;
			cp->pooled = rqs[i].pooled;
			c->start(cp, &rqs[i]);
			cp->pooled = false;
			continue;
		}
		/* Runs alone: what came before is answered first. */
		settle(cp, msgs, rqs, again, from, i);
		from = i;
		cp->caller = rqs[i].tenant;
		cp->grant = rqs[i].grant.on ? &rqs[i].grant : NULL;
		rqs[i].result = c->fn(cp, rqs[i].args, &rqs[i].err);
		rqs[i].later = rqs[i].result == NULL ? cp->later : NULL;
		cp->later = NULL;
		cp->grant = NULL;
	}
	settle(cp, msgs, rqs, again, from, n);
	for (i = 0; i < n; i++) {
		if (rqs[i].kept != NULL) {
			wipe_free(rqs[i].kept);
		}
		json_decref(rqs[i].root);
		json_decref(rqs[i].outer);
	}
}
