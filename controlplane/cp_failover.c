/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Failover (docs/cluster.md): a session created through the pool is kept cluster-wide as a
 * retained record, <prefix>/<node>/sess/<id> = {"v": 1, "node", "tenant", "spec"} (the spec
 * with its keys: a broker with TLS, and an ACL that lets only nodes near these topics),
 * published once it is journaled and cleared when it ends (cp_store.c).
 *
 * When a node's will says its connection is gone, every node of its pool subscribes to its
 * records (only then: no node holds the cluster's records before it needs them) and
 * re-creates those it is the heir of (mf_cluster_heir(): one node for each, the same on
 * every node that reads the same online nodes), on its own address of the same dataplane
 * port; then it keeps its own record, clears the dead node's and says session.moved. An
 * heir that cannot says session.move_failed, and the next in rank takes it (every node
 * reading the dead node's records reads these too). Another death while records are read
 * makes every node read them again: an heir that died with them is passed over now. A node
 * that is connected again (restarted, or back after its will) looks its own records up: a
 * pooled session whose record is gone was taken over elsewhere, and it is deleted here.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "cp.h"
#include "mf/mf_cluster.h"

/* After a connection, the own records are looked up this much later: nodes that took some
 * over meanwhile have cleared them by then (their will came as the connection went). */
#define SYNC_DELAY_MS	2000
#define SYNC_WAIT_MS	10000	/* no end marker by then: looked up again */
#define MARK		"!sync"	/* not a session id: the lookup's end */

int
cp_failover_init(struct cp *cp)
{
	struct cp_failover *f = &cp->failover;

	f->on = cp->cfg.failover && cp->cfg.pool_group[0] != '\0' && cp->cfg.mqtt_version == 5;
	cp_store_record_topic(cp, cp->cfg.node, "+", f->t_own);
	cp_store_record_topic(cp, cp->cfg.node, MARK, f->t_mark);
	snprintf(f->t_failed, sizeof(f->t_failed), "%s/+/event/session.move_failed",
		 cp->cfg.prefix);
	return 0;
}

void
cp_failover_fini(struct cp *cp)
{
	free(cp->failover.taken);
	cp->failover.taken = NULL;
}

static uint64_t
taken_hash(const char *dead, const char *id)
{
	uint64_t h = 14695981039346656037ull;

	for (; *dead != '\0'; dead++)
		h = (h ^ (uint8_t)*dead) * 1099511628211ull;
	h = (h ^ '/') * 1099511628211ull;
	for (; *id != '\0'; id++)
		h = (h ^ (uint8_t)*id) * 1099511628211ull;
	return h | 1;
}

static uint64_t *
taken_slot(const struct cp_failover *f, uint64_t h)
{
	uint32_t i = (uint32_t)h & (f->taken_cap - 1);

	while (f->taken[i] != 0 && f->taken[i] != h)
		i = (i + 1) & (f->taken_cap - 1);
	return &f->taken[i];
}

static bool
taken(const struct cp_failover *f, const char *dead, const char *id)
{
	return f->taken_cap != 0 && *taken_slot(f, taken_hash(dead, id)) != 0;
}

/* Remembered until no dead node is read any more; kept at most half full. */
static void
taken_add(struct cp_failover *f, const char *dead, const char *id)
{
	uint32_t i, cap = f->taken_cap ? f->taken_cap * 2 : 1024;
	uint64_t *old = f->taken, *grown;

	if (2 * (f->taken_n + 1) > f->taken_cap) {
		grown = calloc(cap, sizeof(*grown));
		if (grown == NULL)
			return;		/* read again, it is refused "exists": logged */
		f->taken = grown;
		f->taken_cap = cap;
		for (i = 0; old != NULL && i < cap / 2; i++)
			if (old[i] != 0)
				*taken_slot(f, old[i]) = old[i];
		free(old);
	}
	if (*taken_slot(f, taken_hash(dead, id)) == 0)
		f->taken_n++;
	*taken_slot(f, taken_hash(dead, id)) = taken_hash(dead, id);
}

static int
dead_find(const struct cp_failover *f, const char *node)
{
	uint32_t i;

	for (i = 0; i < f->nb_dead; i++)
		if (strcmp(f->dead[i], node) == 0)
			return (int)i;
	return -1;
}

/* Gone by its will (not stopped: a node stopped on purpose may come back with its
 * sessions; drain it first to move them), another node of our pool. */
static bool
died(const struct cp *cp, const struct mf_node_status *st)
{
	return st != NULL && st->valid && !st->online && strcmp(st->reason, "stopped") != 0 &&
	       strcmp(st->node, cp->cfg.node) != 0;
}

/* The heirs that refused session @p id of @p dead, or NULL; @p add: a new entry if none. */
static int
refusal(struct cp_failover *f, const char *dead, const char *id, bool add)
{
	uint32_t i;

	for (i = 0; i < f->nb_refused; i++)
		if (strcmp(f->refused[i].id, id) == 0 && strcmp(f->refused[i].dead, dead) == 0)
			return (int)i;
	if (!add || f->nb_refused == CP_FAILOVER_REFUSED_MAX)
		return -1;
	i = f->nb_refused++;
	memset(&f->refused[i], 0, sizeof(f->refused[i]));
	snprintf(f->refused[i].dead, sizeof(f->refused[i].dead), "%s", dead);
	snprintf(f->refused[i].id, sizeof(f->refused[i].id), "%s", id);
	return (int)i;
}

static void
refusals_forget(struct cp_failover *f, const char *dead)
{
	uint32_t i = 0;

	while (i < f->nb_refused) {
		if (strcmp(f->refused[i].dead, dead) == 0)
			f->refused[i] = f->refused[--f->nb_refused];
		else
			i++;
	}
}

/* @p by refused session @p id of @p dead. @return whether that is new. */
static bool
refused_by(struct cp_failover *f, const char *dead, const char *id, const char *by)
{
	int r = refusal(f, dead, id, true);
	uint8_t k;

	if (r < 0)
		return false;
	for (k = 0; k < f->refused[r].n; k++)
		if (strcmp(f->refused[r].by[k], by) == 0)
			return false;
	if (f->refused[r].n == CP_FAILOVER_REFUSERS)
		return false;
	snprintf(f->refused[r].by[f->refused[r].n++], CP_NODE_MAX, "%s", by);
	return true;
}

/* Session @p id of @p dead goes to this node? Its heir, passing over those that refused. */
static bool
heir_is_me(struct cp *cp, const char *dead, const char *id)
{
	struct cp_failover *f = &cp->failover;
	const char *skip[CP_FAILOVER_REFUSERS];
	const struct mf_node_status *heir;
	int r = refusal(f, dead, id, false);
	uint32_t k, n = r < 0 ? 0 : f->refused[r].n;

	for (k = 0; k < n; k++)
		skip[k] = f->refused[r].by[k];
	if (n == CP_FAILOVER_REFUSERS)
		return false;		/* refused enough: its record stays */
	heir = mf_cluster_heir(&cp->place.reg, cp->cfg.pool_group, dead, id, skip, n);
	return heir != NULL && strcmp(heir->node, cp->cfg.node) == 0;
}

void
cp_failover_status(struct cp *cp, const char *node)
{
	struct cp_failover *f = &cp->failover;
	const struct mf_node_status *st = mf_cluster_find(&cp->place.reg, node);
	int i = dead_find(f, node);

	if (!f->on)
		return;
	if (i < 0 && died(cp, st)) {
		if (f->nb_dead == CP_FAILOVER_DEAD_MAX) {
			MF_LOG(ERR, cmd, "node %s is gone, and %u others are being taken over: "
			       "its sessions are not", node, CP_FAILOVER_DEAD_MAX);
			return;
		}
		if (f->nb_dead == 0)
			cp_mqtt_follow(cp->mqtt, f->t_failed, true);
		/* Heirs named before may have died with it: the records not taken yet again
		 * (subscribing again brings what is retained; what was taken is cleared). */
		for (i = 0; i < (int)f->nb_dead; i++)
			cp_mqtt_follow(cp->mqtt, f->t_dead[i], true);
		i = (int)f->nb_dead;
		snprintf(f->dead[i], sizeof(f->dead[i]), "%s", node);
		cp_store_record_topic(cp, node, "+", f->t_dead[i]);
		if (cp_mqtt_follow(cp->mqtt, f->t_dead[i], true) != 0)
			return;
		f->nb_dead++;
		MF_LOG(NOTICE, cmd, "node %s is gone (%s): reading its sessions", node,
		       st->reason[0] ? st->reason : "will");
	} else if (i >= 0 && (st == NULL || st->online)) {
		/* Back (or its status cleared): what it still holds is its own. */
		cp_mqtt_follow(cp->mqtt, f->t_dead[i], false);
		refusals_forget(f, node);
		f->nb_dead--;
		memcpy(f->dead[i], f->dead[f->nb_dead], sizeof(f->dead[i]));
		memcpy(f->t_dead[i], f->t_dead[f->nb_dead], sizeof(f->t_dead[i]));
		if (f->nb_dead == 0) {
			cp_mqtt_follow(cp->mqtt, f->t_failed, false);
			cp_failover_fini(cp);
			f->taken_n = f->taken_cap = 0;
		}
	}
}

/* ---- taking a dead node's session over ---- */

/* An address of this node's dataplane port @p port of @p family (4 or 6), as a string. */
static int
local_addr(struct cp *cp, unsigned int port, unsigned int family, char out[64],
	   struct cp_err *err)
{
	const struct mf_msg_node_info *ni = (const struct mf_msg_node_info *)cp->res;
	unsigned int i, k;

	if (cp_dp_call(cp, MF_MSG_NODE_INFO, NULL, 0, cp->res, sizeof(cp->res), err) < 0)
		return -EIO;
	for (i = 0; i < ni->nb_ports && i < MF_MAX_PORTS; i++)
		for (k = 0; ni->ports[i].port == port && k < ni->ports[i].nb_addrs &&
			    k < MF_NODE_MAX_ADDRS; k++)
			if (ni->ports[i].addrs[k].family == family) {
				mf_addr_str(&ni->ports[i].addrs[k], out, 64);
				return 0;
			}
	cp_err_set(err, "address_not_available", "ingress.port", "port %u has no IPv%u address "
		   "on node %s", port, family, cp->cfg.node);
	return -EADDRNOTAVAIL;
}

/* @p spec's ingress on this node: its address of the same port and family; its UDP port
 * kept if free here, else one allocated. */
static int
create_here(struct cp *cp, json_t *spec, struct cp_sess **s, struct cp_err *err)
{
	json_t *in = json_object_get(spec, "ingress");
	struct mf_addr was;
	char addr[64];
	int rc;

	if (!json_is_object(in) ||
	    mf_addr_parse(json_string_value(json_object_get(in, "addr")) ?: "", &was) != 0) {
		cp_err_set(err, "invalid", "ingress.addr", "the record's ingress has no address");
		return -EINVAL;
	}
	rc = local_addr(cp, (unsigned int)json_integer_value(json_object_get(in, "port")),
			was.family, addr, err);
	if (rc != 0)
		return rc;
	json_object_set_new(in, "addr", json_string(addr));
	rc = cp_create_now(cp, spec, s, err);
	if (rc != 0 && strcmp(err->code, "address_in_use") == 0) {
		json_object_del(in, "udp_port");
		rc = cp_create_now(cp, spec, s, err);
	}
	return rc;
}

static void
moved(struct cp *cp, const char *dead, const char *id, struct cp_sess *s)
{
	char topic[CP_TOPIC_MAX], addr[64];

	cp_store_record(cp, s);
	cp_store_record_topic(cp, dead, id, topic);
	cp_mqtt_publish(cp->mqtt, topic, "", 1, true, NULL, 0);
	mf_addr_str(&s->local, addr, sizeof(addr));
	cp_event_publish(cp, json_pack("{s:s, s:s, s:s, s:s, s:{s:i, s:s, s:i}}", "event",
				       "session.moved", "session", id, "from", dead, "to",
				       cp->cfg.node, "ingress", "port", s->port, "addr", addr,
				       "udp_port", s->udp_port));
	cp->failover.moved++;
	cp->status_dirty = true;
}

/* Record @p rec of session @p id of @p dead: re-created here as its owner's. */
static void
take_over(struct cp *cp, const char *dead, const char *id, json_t *rec)
{
	const char *tenant = json_string_value(json_object_get(rec, "tenant"));
	json_t *spec = json_object_get(rec, "spec");
	uint16_t caller = cp->caller;
	struct cp_sess *s = NULL;
	struct cp_err err = { 0 };
	int rc;

	if (!json_is_object(spec) ||
	    strcmp(json_string_value(json_object_get(spec, "id")) ?: "", id) != 0) {
		cp_err_set(&err, "invalid", "spec", "a record that is not session %s's", id);
		rc = -EINVAL;
	} else {
		cp->caller = cp_auth_tenant(cp, tenant);
		cp->pooled = true;
		rc = create_here(cp, spec, &s, &err);
		cp->pooled = false;
		cp->caller = caller;
	}
	if (rc == 0) {
		taken_add(&cp->failover, dead, id);
		MF_LOG(NOTICE, cmd, "session %s of node %s taken over here", id, dead);
		moved(cp, dead, id, s);
		return;
	}
	/* The next in rank takes it (this node passes it over from now on, its own event
	 * coming back changes nothing); after CP_FAILOVER_REFUSERS, its record stays: the
	 * node may come back with it. */
	refused_by(&cp->failover, dead, id, cp->cfg.node);
	MF_LOG(ERR, cmd, "session %s of node %s not taken over: %s%s%s: %s", id, dead, err.code,
	       err.path[0] ? " at " : "", err.path, err.message);
	cp_event_publish(cp, json_pack("{s:s, s:s, s:s, s:s, s:s}", "event",
				       "session.move_failed", "session", id, "from", dead, "code",
				       err.code, "message", err.message));
	cp->failover.failed++;
}

/* <prefix>/<node>/sess/<id>: its node and id (cp_mqtt.c checked the form). */
static int
split(const struct cp *cp, const char *topic, char node[CP_NODE_MAX], const char **id)
{
	const char *n = topic + strlen(cp->cfg.prefix) + 1, *end = strchr(n, '/');

	if (end == NULL || (size_t)(end - n) >= CP_NODE_MAX)
		return -EINVAL;
	memcpy(node, n, (size_t)(end - n));
	node[end - n] = '\0';
	*id = end + 6;			/* "/sess/" */
	return strlen(*id) < MF_SESS_ID_MAX ? 0 : -EINVAL;
}

static void
dead_record(struct cp *cp, const char *dead, const char *id, const struct cp_msg *m)
{
	json_error_t e;
	json_t *rec;

	if (m->len == 0 || dead_find(&cp->failover, dead) < 0 ||
	    !died(cp, mf_cluster_find(&cp->place.reg, dead)) ||
	    taken(&cp->failover, dead, id) || !heir_is_me(cp, dead, id))
		return;		/* cleared, its node back, taken here, or another's to take */
	rec = json_loadb(m->payload, m->len, JSON_REJECT_DUPLICATES, &e);
	if (json_is_object(rec))
		take_over(cp, dead, id, rec);
	else
		MF_LOG(ERR, cmd, "session %.48s of node %s: its record is not JSON (%s)", id,
		       dead, e.text);
	json_decref(rec);
	explicit_bzero(m->payload, m->len);
}

/* Another node (or this one) could not take session "session" of "from" over: the next in
 * rank, when that is this node, reads the dead node's records again to take it. */
static void
move_failed(struct cp *cp, const struct cp_msg *m)
{
	struct cp_failover *f = &cp->failover;
	json_t *ev = json_loadb(m->payload, m->len, 0, NULL);
	const char *id = json_string_value(json_object_get(ev, "session"));
	const char *dead = json_string_value(json_object_get(ev, "from"));
	const char *by = json_string_value(json_object_get(ev, "node"));
	int d;

	if (id != NULL && dead != NULL && by != NULL && strlen(by) < CP_NODE_MAX &&
	    strlen(id) < MF_SESS_ID_MAX && (d = dead_find(f, dead)) >= 0 &&
	    refused_by(f, dead, id, by) && heir_is_me(cp, dead, id))
		cp_mqtt_follow(cp->mqtt, f->t_dead[d], true);
	json_decref(ev);
}

/* ---- this node's own records, after a connection ---- */

static void
sync_begin(struct cp *cp, uint64_t now)
{
	struct cp_failover *f = &cp->failover;
	uint8_t b[16];
	unsigned int i;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return;
	for (i = 0; i < sizeof(b); i++)
		snprintf(f->nonce + 2 * i, 3, "%02x", b[i]);
	f->sync_seq = cp->reg.next_seq;
	f->sync_at_ms = 0;
	f->sync_until_ms = now + SYNC_WAIT_MS;
	/* The retained records come on subscribing, before the marker published after. */
	if (cp_mqtt_follow(cp->mqtt, f->t_own, true) != 0 ||
	    cp_mqtt_publish(cp->mqtt, f->t_mark, f->nonce, 1, false, NULL, 0) != 0) {
		f->sync_until_ms = 0;
		f->sync_at_ms = now + SYNC_DELAY_MS;
	}
}

struct sweep {
	struct cp *cp;
	char (*ids)[MF_SESS_ID_MAX];
	uint32_t n;
};

static void
unkept(void *ctx, struct cp_sess *s)
{
	struct sweep *w = ctx;

	if (s->pooled && !s->kept && s->seq < w->cp->failover.sync_seq && w->ids != NULL)
		memcpy(w->ids[w->n++], s->id, MF_SESS_ID_MAX);
	s->kept = false;
}

static void
unkept_clear(void *ctx, struct cp_sess *s)
{
	(void)ctx;
	s->kept = false;
}

/* The marker came: every record of ours has. A pooled session made before the lookup whose
 * record is gone was taken over by another node while we were away. */
static void
sync_end(struct cp *cp)
{
	struct cp_failover *f = &cp->failover;
	struct sweep w = { .cp = cp, .ids = calloc(cp->reg.count + 1, MF_SESS_ID_MAX) };
	struct cp_err err;
	uint32_t i;

	cp_mqtt_follow(cp->mqtt, f->t_own, false);
	f->sync_until_ms = 0;
	cp_reg_each(&cp->reg, unkept, &w);
	for (i = 0; i < w.n; i++) {
		if (cp_delete_now(cp, w.ids[i], &err) != 0) {
			MF_LOG(ERR, cmd, "session %s, taken over by another node: not deleted "
			       "here: %s", w.ids[i], err.message);
			continue;
		}
		MF_LOG(NOTICE, cmd, "session %s was taken over by another node: deleted here",
		       w.ids[i]);
		cp_event_publish(cp, json_pack("{s:s, s:s}", "event", "session.gone",
					       "session", w.ids[i]));
		f->gone++;
		cp->status_dirty = true;
	}
	if (w.ids == NULL)
		MF_LOG(ERR, cmd, "no memory to look up this node's records");
	free(w.ids);
}

static void
own_record(struct cp *cp, const char *id, const struct cp_msg *m)
{
	struct cp_failover *f = &cp->failover;
	struct cp_sess *s;

	if (f->sync_until_ms == 0)
		return;			/* our own publishing: nothing to look up */
	if (strcmp(id, MARK) == 0) {
		if (m->len == strlen(f->nonce) && memcmp(m->payload, f->nonce, m->len) == 0)
			sync_end(cp);
		return;
	}
	s = cp_reg_find(&cp->reg, id);
	if (s != NULL && m->len > 0)
		s->kept = true;
}

unsigned int
cp_failover_route(struct cp *cp, struct cp_msg **batch, unsigned int n)
{
	char node[CP_NODE_MAX];
	const char *id;
	unsigned int i, k = 0;

	for (i = 0; i < n; i++) {
		struct cp_msg *m = batch[i];

		if (!m->record) {
			batch[k++] = m;
			continue;
		}
		if (!cp->failover.on || m->len > cp->cfg.max_payload)
			;		/* not ours to read */
		else if (strstr(m->topic, "/event/") != NULL)
			move_failed(cp, m);
		else if (split(cp, m->topic, node, &id) != 0)
			;
		else if (strcmp(node, cp->cfg.node) == 0)
			own_record(cp, id, m);
		else
			dead_record(cp, node, id, m);
		cp_msg_free(m);
	}
	return k;
}

void
cp_failover_tick(struct cp *cp, bool again, uint64_t now)
{
	struct cp_failover *f = &cp->failover;

	if (!f->on)
		return;
	if (again) {
		f->sync_at_ms = now + SYNC_DELAY_MS;
		f->sync_until_ms = 0;
	}
	if (f->sync_until_ms != 0 && now >= f->sync_until_ms) {
		MF_LOG(WARNING, cmd, "this node's records did not come in %u ms: looked up again",
		       SYNC_WAIT_MS);
		cp_reg_each(&cp->reg, unkept_clear, NULL);
		f->sync_until_ms = 0;
		f->sync_at_ms = now;
	}
	if (f->sync_at_ms != 0 && now >= f->sync_at_ms && cp->dp_up &&
	    cp_mqtt_connected(cp->mqtt))
		sync_begin(cp, now);
}
