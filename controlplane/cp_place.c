/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Placement: a session.create (or create_many) that the broker gave this node from the pool
 * goes to the least loaded node of the registry that can take it, through the broker even
 * when that is this one (its refusal for room is then placed again as another's). The
 * registry is every node's retained status (<prefix>/+/status, read by lib/cluster as
 * untrusted input); between two statuses of a node, the sessions placed on it here are
 * counted on its entry, so a burst spreads instead of all going to the node that looked
 * emptiest.
 *
 *   client --pool/cmd--> this node --<node>/cmd (the bytes and signature as they came,
 *                                      mfwd-placed: the client's response topic)--> node
 *   client <--its topic, its correlation-- this node <--<me>/place/reply-- node's answer
 *
 * The node placed on answers us and we pass its answer on unchanged (it names the node
 * that holds the session). A refusal that created nothing (capacity, draining, dataplane
 * down) is placed again on the next best, CP_PLACE_TRIES nodes at most, then taken here;
 * no answer within twice reply_timeout_ms and a second is answered "timeout" naming the
 * node, which is passed over for a while: it may have created the session, so it is not
 * placed twice (its answer, if it comes later, is passed on).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "cp.h"
#include "mf/mf_time.h"

/* What a node that did not answer a placed request is passed over for: its status will say
 * the same again if it lies. (One that refuses as full is taken as full until its next
 * status, which says when it has room again.) */
#define SHUN_MIN_MS	30000u

static uint64_t
wall_ms(void)
{
	return mf_time_ns(CLOCK_REALTIME) / 1000000u;
}

/* How long a placed request waits for its node: longer than the node's own wait for its
 * dataplane (reply_timeout_ms), so a slow node that answers is not taken for a silent one. */
static uint64_t
wait_ms(const struct cp *cp)
{
	return cp->cfg.reply_timeout_ms * 2ull + 1000;
}

int
cp_place_init(struct cp *cp)
{
	int rc;

	cp->place.on = cp->cfg.pool_group[0] != '\0' && cp->cfg.placement &&
		       cp->cfg.mqtt_version == 5;
	rc = mf_cluster_init(&cp->place.reg, cp->cfg.prefix);
	/* A send stays counted while we wait for its answer (and a little longer). */
	if (cp->place.reg.pend_life_ms < wait_ms(cp) + 1000)
		cp->place.reg.pend_life_ms = wait_ms(cp) + 1000;
	return rc;
}

uint32_t
cp_place_awaited(const struct cp *cp)
{
	uint32_t i, n = 0;

	for (i = 0; i < cp->place.nb; i++)
		n += !cp->place.p[i].late;
	return n;
}

void
cp_place_stop(struct cp *cp)
{
	struct cp_err err;
	uint32_t i;

	for (i = 0; i < cp->place.nb; i++) {
		struct cp_placing *pl = &cp->place.p[i];

		if (pl->late)
			continue;
		cp_err_set(&err, "timeout", NULL, "node %s stopped before node %s answered a "
			   "request placed on it; it may hold the session", cp->cfg.node, pl->node);
		cp_cmd_refuse(cp, pl->msg, &err);
		pl->late = true;
	}
}

void
cp_place_fini(struct cp *cp)
{
	uint32_t i;

	for (i = 0; i < cp->place.nb; i++)
		cp_msg_free(cp->place.p[i].msg);
	free(cp->place.p);
	mf_cluster_free(&cp->place.reg);
}

/* The sessions a request would create if it is placeable (a pool create), else 0. */
static uint32_t
placeable(const struct cp_msg *msg)
{
	json_t *root = json_loadb(msg->payload, msg->len, 0, NULL), *inner = NULL, *r;
	const char *body, *cmd;
	struct cp_sig sig;
	struct cp_err err;
	size_t len, many;
	uint32_t n = 0;

	if (root == NULL)
		return 0;
	r = root;
	if (cp_auth_unwrap(root, &sig, &body, &len, &err) == 1)
		r = inner = json_loadb(body, len, 0, NULL);
	cmd = json_string_value(json_object_get(r, "cmd"));
	if (cmd != NULL && strcmp(cmd, "session.create") == 0) {
		n = 1;
	} else if (cmd != NULL && strcmp(cmd, "session.create_many") == 0) {
		/* Unverified here: a bad count only misjudges a load, the node checks it. */
		many = json_array_size(json_object_get(json_object_get(r, "args"), "sessions"));
		n = many < 1 ? 1 : many > CP_MANY_MAX ? CP_MANY_MAX : (uint32_t)many;
	}
	json_decref(inner);
	json_decref(root);
	return n;
}

static uint64_t
max_age_ms(const struct cp *cp)
{
	return cp->cfg.status_interval_s * 3000ull + 2000;
}

static uint64_t
shun_ms(const struct cp *cp)
{
	uint64_t ms = max_age_ms(cp);

	return ms > SHUN_MIN_MS ? ms : SHUN_MIN_MS;
}

/* FNV-1a of a request's bytes: a repeat (QoS 1 redelivery, a client's retry) is the same. */
static uint64_t
bytes_hash(const struct cp_msg *msg)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < msg->len; i++)
		h = (h ^ (uint8_t)msg->payload[i]) * 0x100000001b3ull;
	return h;
}

/* The ring's newest entry for hash @p h, or -1. */
static int
recent_slot(const struct cp_place *P, uint64_t h)
{
	uint32_t i, k;

	for (i = 1; i <= CP_PLACE_RECENT; i++) {
		k = (P->recent_next + CP_PLACE_RECENT - i) % CP_PLACE_RECENT;
		if (P->recent[k].hash == h && P->recent[k].node[0] != '\0')
			return (int)k;
	}
	return -1;
}

/* Where the request of hash @p h is, into @p node (a copy: the ring changes as it is
 * followed), and whether it was answered "timeout" there. @return node, or NULL. */
static const char *
recent_find(const struct cp_place *P, uint64_t h, char node[CP_NODE_MAX], bool *timed_out)
{
	int k = recent_slot(P, h);

	if (k < 0)
		return NULL;
	snprintf(node, CP_NODE_MAX, "%s", P->recent[k].node);
	*timed_out = P->recent[k].timed_out;
	return node;
}

/* The request of hash @p h is now at @p node: its entry moves to the newest (a request
 * placed again, or taken here at last, is forgotten no sooner than a new one). A repeat
 * then goes where the work was done. */
static void
recent_set(struct cp_place *P, uint64_t h, const char *node)
{
	int k = recent_slot(P, h);

	if (k >= 0) {
		P->recent[k].hash = 0;
		P->recent[k].node[0] = '\0';
	}
	P->recent[P->recent_next].hash = h;
	P->recent[P->recent_next].timed_out = false;
	snprintf(P->recent[P->recent_next].node, CP_NODE_MAX, "%s", node);
	P->recent_next = (P->recent_next + 1) % CP_PLACE_RECENT;
}

/* The request of hash @p h was answered "timeout" at @p node. */
static void
recent_timed_out(struct cp_place *P, uint64_t h, const char *node)
{
	int k = recent_slot(P, h);

	if (k >= 0 && strcmp(P->recent[k].node, node) == 0)
		P->recent[k].timed_out = true;
}

/* Send @p pl's request to @p node, counted there once sent. @return 0 or -EIO. */
static int
forward(struct cp *cp, struct cp_placing *pl, const char *node)
{
	char topic[CP_TOPIC_MAX], corr[17], mac[CP_SIG_HEX + 1];
	int rc;

	/* Random, so an answer cannot be forged by guessing (the ACL is the first guard). */
	if (RAND_bytes((unsigned char *)&pl->token, sizeof(pl->token)) != 1)
		pl->token = ++cp->place.next_token ^ mf_mono_ms() << 20;
	snprintf(corr, sizeof(corr), "%016llx", (unsigned long long)pl->token);
	snprintf(topic, sizeof(topic), "%s/%s/cmd", cp->cfg.prefix, node);
	if (pl->nb_tried < CP_PLACE_TRIES)
		snprintf(pl->tried[pl->nb_tried++], CP_NODE_MAX, "%s", node);
	rc = cp_auth_place_mac(cp, topic, pl->msg->response_topic, cp->t_place,
			       pl->msg->payload, pl->msg->len, mac);
	if (rc == -EIO)
		return rc;
	rc = cp_mqtt_forward(cp->mqtt, topic, pl->msg, cp->t_place, (const uint8_t *)corr, 16,
			     rc == 0 ? mac : NULL, (uint32_t)(wait_ms(cp) / 1000));
	if (rc != 0)
		return rc;
	snprintf(pl->node, sizeof(pl->node), "%s", node);
	pl->deadline_ms = mf_mono_ms() + wait_ms(cp);
	recent_set(&cp->place, pl->hash, node);
	mf_cluster_count(&cp->place.reg, node, pl->count, wall_ms());
	cp->place.forwarded++;
	return 0;
}

/* This node takes @p pl. @return 0. */
static int
keep(struct cp *cp, struct cp_placing *pl)
{
	recent_set(&cp->place, pl->hash, cp->cfg.node);
	/* Run in this batch, before this node's next status. */
	mf_cluster_count(&cp->place.reg, cp->cfg.node, pl->count, wall_ms());
	mf_cluster_settle(&cp->place.reg, cp->cfg.node, pl->count, true);
	cp->place.here++;
	return 0;
}

/* Where @p pl goes next: the best node (forwarded; 1), this one too when it is the best,
 * so that its refusal for room is placed again as another's is; or kept here (0) when no
 * node can take it, the tries are spent or the forward failed. */
static int
place(struct cp *cp, struct cp_placing *pl)
{
	const char *skip[CP_PLACE_TRIES + 1] = { "pool" };	/* <prefix>/pool/cmd: a loop */
	const struct mf_node_status *best;
	uint64_t r;
	uint32_t i;

	for (i = 0; i < pl->nb_tried; i++)
		skip[i + 1] = pl->tried[i];
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = mf_mono_ms() * 0x9e3779b97f4a7c15ull;
	best = pl->nb_tried < CP_PLACE_TRIES ?
	       mf_cluster_pick(&cp->place.reg, wall_ms(), max_age_ms(cp), cp->cfg.pool_group,
			       skip, pl->nb_tried + 1, r) : NULL;
	if (best == NULL || forward(cp, pl, best->node) != 0)
		return keep(cp, pl);
	return 1;
}

static bool
tried(const struct cp_placing *pl, const char *node)
{
	uint32_t i;

	for (i = 0; i < pl->nb_tried; i++)
		if (strcmp(pl->tried[i], node) == 0)
			return true;
	return false;
}

/* Room for one more request awaited. @return 0 or -ENOMEM. */
static int
reserve(struct cp_place *P)
{
	uint32_t cap = P->cap ? P->cap * 2 : 16;
	struct cp_placing *p;

	if (P->nb < P->cap)
		return 0;
	p = realloc(P->p, sizeof(*p) * cap);
	if (p == NULL)
		return -ENOMEM;
	P->p = p;
	P->cap = cap;
	return 0;
}

/* A repeat of @p pl goes where its bytes went last, @p before (whose replay cache answers
 * it): forwarded (1), or here (0) if that fails. */
static int
follow(struct cp *cp, struct cp_placing *pl, const char *before)
{
	return forward(cp, pl, before) == 0 ? 1 : keep(cp, pl);
}

/* A pool create: placed on a node (kept here until it answers; 1), or 0 to take it here.
 * Not a request another node placed (it would go round), nor an oversized one (the command
 * layer refuses it). A repeat goes where its first is, unless that node was answered
 * "timeout" (then sending it again is the client's call; this node never is: it is alive).
 * A new request past CP_PLACE_WAITING_MAX awaited is taken here (nodes that answer slowly
 * do not make this one hold ever more). */
static int
route(struct cp *cp, struct cp_msg *msg)
{
	struct cp_placing pl = { .msg = msg };
	struct cp_place *P = &cp->place;
	char buf[CP_NODE_MAX];
	const char *before;
	bool timed_out = false;
	int rc;

	if (msg->placed_n > 0 || msg->len > cp->cfg.max_payload)
		return 0;
	pl.count = placeable(msg);
	if (pl.count == 0)
		return 0;
	pl.hash = bytes_hash(msg);
	before = recent_find(P, pl.hash, buf, &timed_out);
	if (timed_out && strcmp(before, cp->cfg.node) != 0)
		before = NULL;
	if (reserve(P) != 0)
		rc = keep(cp, &pl);
	else if (before != NULL)
		rc = follow(cp, &pl, before);
	else if (P->nb >= CP_PLACE_WAITING_MAX)
		rc = keep(cp, &pl);
	else
		rc = place(cp, &pl);
	if (rc == 1)
		P->p[P->nb++] = pl;
	return rc;
}

/* The request a node's answer is for, by our correlation data, or NULL. */
static struct cp_placing *
pending(struct cp *cp, const struct cp_msg *reply)
{
	char hex[17];
	uint8_t b[8];
	uint64_t token = 0;
	uint32_t i;

	if (reply->corr_len != 16)
		return NULL;
	memcpy(hex, reply->corr, 16);
	hex[16] = '\0';
	if (cp_unhex(hex, b, sizeof(b)) != 0)
		return NULL;
	for (i = 0; i < sizeof(b); i++)
		token = token << 8 | b[i];
	for (i = 0; i < cp->place.nb; i++)
		if (cp->place.p[i].token == token)
			return &cp->place.p[i];
	return NULL;
}

/* An error's want of room: 2 the node is full for any session (capacity for one more,
 * at no path or at a create_many's first, draining, its dataplane down), 1 refused for
 * this request's size (capacity at a path: outputs, bit rate, ports, a create_many's later
 * session), 0 not for room. */
static int
room_of(json_t *error)
{
	const char *code = json_string_value(json_object_get(error, "code"));
	const char *path = json_string_value(json_object_get(error, "path"));

	if (code == NULL)
		return 0;
	if (strcmp(code, "draining") == 0 || strcmp(code, "dataplane_down") == 0)
		return 2;
	if (strcmp(code, "capacity") != 0)
		return 0;
	return path == NULL || path[0] == '\0' || strcmp(path, "sessions[0]") == 0 ? 2 : 1;
}

/* Did the node create nothing for want of room (room_of()'s 1 or 2), or answer (0)? A
 * create_many that is not atomic answers ok with what it created: none, each refused for
 * room, is such a refusal (its first session's says whether the node is full). */
static int
full(const struct cp_msg *reply)
{
	json_t *o = json_loadb(reply->payload, reply->len, 0, NULL), *res, *list, *made;
	size_t i;
	int rc = 0;

	res = json_object_get(o, "result");
	list = json_object_get(res, "results");
	made = json_object_get(res, "created");
	if (json_is_false(json_object_get(o, "ok"))) {
		rc = room_of(json_object_get(o, "error"));
	} else if (json_is_true(json_object_get(o, "ok")) && json_is_array(list) &&
		   json_array_size(list) > 0 && json_is_integer(made) &&
		   json_integer_value(made) == 0) {
		rc = room_of(json_object_get(json_array_get(list, 0), "error"));
		for (i = 1; rc != 0 && i < json_array_size(list); i++)
			if (room_of(json_object_get(json_array_get(list, i), "error")) == 0)
				rc = 0;
	}
	json_decref(o);
	return rc;
}

static void
drop(struct cp *cp, struct cp_placing *pl)
{
	*pl = cp->place.p[--cp->place.nb];
}

/* A node's answer to a request placed on it: passed on, or the request placed again (or
 * given back in *@p here to take it on this node). */
static void
answered(struct cp *cp, const struct cp_msg *reply, struct cp_msg **here)
{
	struct cp_placing *pl = pending(cp, reply);
	char buf[CP_NODE_MAX];
	const char *moved;
	bool timed_out;
	int room, rc;

	if (pl == NULL) {
		MF_LOG(WARNING, cmd, "an answer for no request we placed (after its timeout?): "
		       "ignored");
		return;
	}
	room = full(reply);
	if (pl->late) {
		/* Answered "timeout" already: what the node did is passed on all the same (a
		 * client still listening learns where its session is); nothing placed again. */
		MF_LOG(WARNING, cmd, "%s answered a request placed on it after its timeout: "
		       "passed on", pl->node);
		cp_cmd_relay(cp, pl->msg, reply->payload);
		cp->place.relayed++;
		cp_msg_free(pl->msg);
	} else if (room != 0) {
		MF_LOG(INFO, cmd, "%s had no room after all: placing again", pl->node);
		mf_cluster_settle(&cp->place.reg, pl->node, pl->count, false);
		if (room == 2)
			mf_cluster_full(&cp->place.reg, pl->node);
		cp->place.again++;
		/* A repeat sent where its first went, refused there as the first was: it
		 * follows the first to where that one was placed since (within the tries). */
		moved = recent_find(&cp->place, pl->hash, buf, &timed_out);
		rc = moved != NULL && !timed_out && strcmp(moved, pl->node) != 0 &&
		     !tried(pl, moved) && pl->nb_tried < CP_PLACE_TRIES ? follow(cp, pl, moved) :
		     place(cp, pl);
		if (rc == 1)
			return;
		*here = pl->msg;
	} else {
		mf_cluster_settle(&cp->place.reg, pl->node, pl->count, true);
		cp_cmd_relay(cp, pl->msg, reply->payload);
		cp->place.relayed++;
		cp_msg_free(pl->msg);
	}
	drop(cp, pl);
}

/* A status taken: failover looks at its node (<prefix>/<node>/status). */
static void
failover_status(struct cp *cp, const char *topic)
{
	const char *n = topic + strlen(cp->cfg.prefix) + 1, *end = strchr(n, '/');
	char node[CP_NODE_MAX];

	if (end == NULL || (size_t)(end - n) >= sizeof(node))
		return;
	memcpy(node, n, (size_t)(end - n));
	node[end - n] = '\0';
	cp_failover_status(cp, node);
}

unsigned int
cp_place_route(struct cp *cp, struct cp_msg **batch, unsigned int n)
{
	unsigned int i, k = 0;
	struct cp_msg *here;

	for (i = 0; i < n; i++) {
		struct cp_msg *m = batch[i];

		if (!m->registry && !m->place_reply && !(m->pool && cp->place.on)) {
			batch[k++] = m;
			continue;
		}
		if (m->pool) {
			if (route(cp, m) == 0)
				batch[k++] = m;
			continue;
		}
		/* An oversized message is kept only as its length (cp_mqtt.c). */
		here = NULL;
		if (m->len > cp->cfg.max_payload)
			MF_LOG(WARNING, cmd, "%zu bytes on %.100s: over max_payload, ignored",
			       m->len, m->topic);
		else if (!m->registry)
			answered(cp, m, &here);
		/* A status it could not keep (no room, not a node's topic) is no answer. */
		else if (mf_cluster_update(&cp->place.reg, m->topic, m->payload, m->len,
					   wall_ms()) == 1)
			failover_status(cp, m->topic);
		cp_msg_free(m);
		if (here != NULL)
			batch[k++] = here;
	}
	return k;
}

void
cp_place_tick(struct cp *cp, uint64_t now_ms)
{
	struct cp_err err;
	uint32_t i = 0;

	mf_cluster_expire(&cp->place.reg, wall_ms());
	while (i < cp->place.nb) {
		struct cp_placing *pl = &cp->place.p[i];

		if (now_ms < pl->deadline_ms) {
			i++;
			continue;
		}
		if (pl->late) {		/* kept for a late answer: none came */
			cp_msg_free(pl->msg);
			drop(cp, pl);
			continue;
		}
		/* It may have created the session: not placed again, and the node passed over;
		 * kept as long again for a late answer. */
		MF_LOG(WARNING, cmd, "%s did not answer a request placed on it in %llu ms",
		       pl->node, (unsigned long long)wait_ms(cp));
		mf_cluster_shun(&cp->place.reg, pl->node, wall_ms() + shun_ms(cp));
		mf_cluster_settle(&cp->place.reg, pl->node, pl->count, false);
		cp_err_set(&err, "timeout", NULL, "placed on node %s, which did not answer in %llu "
			   "ms; it may hold the session", pl->node, (unsigned long long)wait_ms(cp));
		cp_cmd_refuse(cp, pl->msg, &err);
		recent_timed_out(&cp->place, pl->hash, pl->node);
		cp->place.timeouts++;
		pl->late = true;
		pl->deadline_ms = now_ms + wait_ms(cp);
		i++;
	}
}
