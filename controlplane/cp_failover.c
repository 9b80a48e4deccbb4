/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Failover (docs/cluster.md): a session created through the pool is kept cluster-wide as a
 * retained record, <prefix>/<node>/sess/<bb>/<id> = {"v": 1, "node", "tenant", "spec",
 * "inc"} (<bb> the id's bucket; the spec with its keys: a broker with TLS, and an ACL that
 * lets only nodes near these topics), published once it is journaled and cleared when it
 * ends (cp_store.c).
 *
 * When a node's will says its connection is gone, every node of its pool subscribes to the
 * buckets of its records it is the heir of (mf_cluster_heir(): one node for each bucket,
 * the same on every node that reads the same online nodes; only then: no node holds the
 * cluster's records before it needs them), so that each record is read by its heir alone,
 * and re-creates them on its own address of the same dataplane port; then it keeps its own
 * record, replaces the dead node's with a mark naming itself ({"v": 1, "moved_to": NODE,
 * "inc"}, retained for MOVED_MARK_S) and says session.moved. An heir that cannot says
 * session.move_failed, and the next in rank takes it (every node reading a dead node reads
 * these), on the record's own topic. Another death while records are read has every node
 * work the heirs out again and subscribe again to its buckets: an heir that died with them
 * is passed over now, its buckets read by their new heirs. A node
 * that is connected again (restarted, or back after its will) looks its own records up: a
 * pooled session whose record is a mark was taken over elsewhere, and it is deleted here
 * (which clears the mark); one with neither record nor mark (a broker that lost its
 * retained messages) is kept and its record published again; a record of a session no
 * longer here is cleared. After the lookup it stays subscribed to its records (no retained
 * messages): a mark that comes later, from a takeover slower than its return, deletes the
 * session then.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "cp.h"
#include "mf/mf_cluster.h"
#include "mf/mf_time.h"

/* After a connection, the own records are looked up this much later: nodes that took some
 * over meanwhile have cleared them by then (their will came as the connection went). */
#define SYNC_DELAY_MS	2000
#define SYNC_WAIT_MS	10000	/* no end marker by then: looked up again */
#define SYNC_RETRY_MS	5000	/* a session taken over elsewhere not deleted: looked up again */
#define SYNC_RETRY_MAX_MS	300000
#define MARK		"!sync"	/* not a session id: the lookup's end */
#define SETTLE_MS	200	/* wills this close together are one death for the heirs */
/* How long a mark of a session taken over stays on the broker for its node to come back to:
 * one back later finds no mark, keeps the session and publishes its record again. */
#define MOVED_MARK_S	(7u * 86400u)

int
cp_failover_init(struct cp *cp)
{
	struct cp_failover *f = &cp->failover;

	f->on = cp->cfg.failover && cp->cfg.pool_group[0] != '\0' && cp->cfg.mqtt_version == 5;
	snprintf(f->t_own, sizeof(f->t_own), "%s/%s/sess/#", cp->cfg.prefix, cp->cfg.node);
	snprintf(f->t_mark, sizeof(f->t_mark), "%s/%s/sess/" MARK, cp->cfg.prefix,
		 cp->cfg.node);
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

/* Subscribe to (@p on) or leave the buckets of dead node @p dead set in @p bits, in one
 * request. @return 0 or -EIO (-ENOMEM). */
static int
buckets_send(struct cp *cp, const char *dead, const uint64_t *bits, bool on)
{
	char (*t)[CP_TOPIC_MAX] = NULL, *p[MF_CLUSTER_BUCKETS];
	int n = 0, rc = 0;
	uint32_t b;

	for (b = 0; b < MF_CLUSTER_BUCKETS; b++) {
		if (!(bits[b / 64] & (1ull << (b % 64))))
			continue;
		if (t == NULL && (t = malloc(MF_CLUSTER_BUCKETS * sizeof(*t))) == NULL)
			return -ENOMEM;
		snprintf(t[n], CP_TOPIC_MAX, "%s/%s/sess/%02x/+", cp->cfg.prefix, dead, b);
		p[n] = t[n];
		n++;
	}
	if (n > 0)
		rc = cp_mqtt_follow_many(cp->mqtt, p, n, on);
	free(t);
	return rc;
}

/* Dead node @p i's buckets left, as it is no longer read. Should the broker not be told
 * (away from it), their records still come, and are not read (dead_record). */
static void
buckets_leave(struct cp *cp, uint32_t i)
{
	struct cp_failover *f = &cp->failover;

	buckets_send(cp, f->dead[i], f->followed[i], false);
	memset(f->followed[i], 0, sizeof(f->followed[i]));
}

/*
 * Dead node @p i's buckets worked out for the nodes that could be heirs now: those this
 * node is the heir of subscribed to (@p again: also those it followed already, whose
 * retained records the broker sends again; else only those it gains), those it no longer
 * is left. When no node of the pool can take any (every one draining or its dataplane
 * down), nothing changes: the dead node waits (orphans[]) until the heirs change
 * (heirs_changed). followed[] keeps what the broker was told.
 */
static void
buckets_follow(struct cp *cp, uint32_t i, bool again)
{
	struct cp_failover *f = &cp->failover;
	uint64_t mine[MF_CLUSTER_BUCKETS / 64] = { 0 }, left[MF_CLUSTER_BUCKETS / 64];
	uint64_t *had = f->followed[i];
	const struct mf_node_status *h;
	uint32_t b;

	for (b = 0; b < MF_CLUSTER_BUCKETS; b++) {
		h = mf_cluster_heir(&cp->place.reg, cp->cfg.pool_group, f->dead[i], b, NULL, 0);
		if (h == NULL) {	/* none can, whatever the bucket */
			f->orphans[i] = true;
			return;
		}
		if (strcmp(h->node, cp->cfg.node) == 0)
			mine[b / 64] |= 1ull << (b % 64);
	}
	f->orphans[i] = false;
	for (b = 0; b < MF_CLUSTER_BUCKETS / 64; b++) {
		left[b] = had[b] & ~mine[b];
		if (!again)
			mine[b] &= ~had[b];
	}
	if (buckets_send(cp, f->dead[i], left, false) == 0)
		for (b = 0; b < MF_CLUSTER_BUCKETS / 64; b++)
			had[b] &= ~left[b];
	else
		f->heirs_sig = 0;	/* left at the next status: gained again, sent again */
	if (buckets_send(cp, f->dead[i], mine, true) == 0) {
		for (b = 0; b < MF_CLUSTER_BUCKETS / 64; b++)
			had[b] |= mine[b];
	} else {
		MF_LOG(ERR, cmd, "node %s's records not subscribed to: worked out again at the "
		       "next status", f->dead[i]);
		f->heirs_sig = 0;
	}
}

void
cp_failover_stop(struct cp *cp)
{
	struct cp_failover *f = &cp->failover;
	char topic[CP_TOPIC_MAX];
	uint32_t i;

	if (!f->on || !cp_mqtt_connected(cp->mqtt))
		return;
	for (i = 0; i < f->nb_refused; i++)
		if (f->refused[i].followed) {
			cp_store_record_topic(cp, f->refused[i].dead, f->refused[i].id, topic);
			cp_mqtt_follow(cp->mqtt, topic, false);
		}
	for (i = 0; i < f->nb_dead; i++)
		buckets_leave(cp, i);
	if (f->nb_dead > 0)
		cp_mqtt_follow(cp->mqtt, f->t_failed, false);
	cp_mqtt_follow(cp->mqtt, f->t_own, false);	/* the next lookup subscribes again */
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

/* @p node's place among @p n names, or -1. */
static int
name_find(const char (*names)[CP_NODE_MAX], uint32_t n, const char *node)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], node) == 0)
			return (int)i;
	return -1;
}

static int
dead_find(const struct cp_failover *f, const char *node)
{
	return name_find(f->dead, f->nb_dead, node);
}

/* Gone by its will (not stopped: a node stopped on purpose may come back with its
 * sessions; drain it first to move them), another node of our pool (its will says which). */
static bool
died(const struct cp *cp, const struct mf_node_status *st)
{
	return st != NULL && st->valid && !st->online && strcmp(st->reason, "stopped") != 0 &&
	       strcmp(st->node, cp->cfg.node) != 0 && strcmp(st->pool, cp->cfg.pool_group) == 0;
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

/* @p dead is back: its refusals forgotten, the topics of their records left. */
static void
refusals_forget(struct cp *cp, const char *dead)
{
	struct cp_failover *f = &cp->failover;
	char topic[CP_TOPIC_MAX];
	uint32_t i = 0;

	while (i < f->nb_refused) {
		if (strcmp(f->refused[i].dead, dead) != 0) {
			i++;
			continue;
		}
		if (f->refused[i].followed) {
			cp_store_record_topic(cp, dead, f->refused[i].id, topic);
			cp_mqtt_follow(cp->mqtt, topic, false);
		}
		f->refused[i] = f->refused[--f->nb_refused];
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

/* Session @p id of @p dead goes to this node? Its heir, passing over those that refused.
 * @return 1 if so, 0 if to another (or to none: refused enough), -1 if no node can take it
 * now (every one draining, its dataplane down, or refused it): an orphan, read again when
 * the nodes that could be heirs change (heirs_changed). */
static int
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
		return 0;		/* refused enough: its record stays */
	heir = mf_cluster_heir(&cp->place.reg, cp->cfg.pool_group, dead, mf_cluster_bucket(id),
			       skip, n);
	if (heir == NULL)
		return -1;	/* no node, or every one refused: perhaps one that comes */
	return strcmp(heir->node, cp->cfg.node) == 0;
}

/* Dead node @p i no longer read: back, or quiet for failover_forget_s. With no dead node
 * left, what was taken and refused is forgotten too. */
static void
dead_forget(struct cp *cp, uint32_t i)
{
	struct cp_failover *f = &cp->failover;

	buckets_leave(cp, i);
	refusals_forget(cp, f->dead[i]);
	f->nb_dead--;
	memcpy(f->dead[i], f->dead[f->nb_dead], sizeof(f->dead[i]));
	memcpy(f->followed[i], f->followed[f->nb_dead], sizeof(f->followed[i]));
	f->dead_ms[i] = f->dead_ms[f->nb_dead];
	f->orphans[i] = f->orphans[f->nb_dead];
	if (f->nb_dead == 0) {
		cp_mqtt_follow(cp->mqtt, f->t_failed, false);
		cp_failover_fini(cp);
		f->taken_n = f->taken_cap = 0;
		f->read_at = f->refollow_at = 0;
	}
}

/* Something of dead node @p node came (a record, a mark, a refusal): not quiet yet. */
static void
dead_stir(struct cp_failover *f, const char *node)
{
	int i = dead_find(f, node);

	if (i >= 0)
		f->dead_ms[i] = mf_mono_ms();
}

static int
forgot_find(const struct cp_failover *f, const char *node)
{
	return name_find(f->forgot, f->nb_forgot, node);
}

/* Dead node @p i no longer read, its name kept so that its will read again is no death. */
static void
dead_retire(struct cp *cp, uint32_t i, const char *why)
{
	struct cp_failover *f = &cp->failover;

	MF_LOG(NOTICE, cmd, "node %s: %s: its records are no longer read", f->dead[i], why);
	snprintf(f->forgot[f->forgot_next], CP_NODE_MAX, "%s", f->dead[i]);
	f->forgot_next = (f->forgot_next + 1) % CP_FAILOVER_FORGOT_MAX;
	if (f->nb_forgot < CP_FAILOVER_FORGOT_MAX)
		f->nb_forgot++;
	f->forgotten++;
	dead_forget(cp, i);
}

/* Record @p id of dead node @p i had no heir: remembered with the refusals (its own
 * topic read again later) while they fill at most half of that table (the rest is for
 * refusals, which have no other way), else the whole dead node marked. */
static void
orphan_add(struct cp_failover *f, uint32_t i, const char *id)
{
	int r = refusal(f, f->dead[i], id, false);

	if (r < 0 && f->nb_refused < CP_FAILOVER_REFUSED_MAX / 2)
		r = refusal(f, f->dead[i], id, true);

	if (r >= 0)
		f->refused[r].orphan = true;
	else
		f->orphans[i] = true;
}

/* Dead node @p i has records that wait for an heir. */
static bool
orphaned(const struct cp_failover *f, uint32_t i)
{
	uint32_t r;

	if (f->orphans[i])
		return true;
	for (r = 0; r < f->nb_refused; r++)
		if (f->refused[r].orphan && strcmp(f->refused[r].dead, f->dead[i]) == 0)
			return true;
	return false;
}

/*
 * A node that never comes back (replaced under another name) would be read for ever, and
 * CP_FAILOVER_DEAD_MAX of them would leave no room for the next death: once nothing of a
 * dead node has come for failover_forget_s (its records read and taken, marked or left by
 * every heir), it is no longer read, and its name is kept (the newest 256) so that its will,
 * read again with the registry at a reconnection, is not taken for a new death; an online
 * status of it clears that. A full list also makes room: the node quiet the longest goes.
 * Its records stay on the broker.
 */
static void
dead_expire(struct cp *cp, uint64_t now)
{
	struct cp_failover *f = &cp->failover;
	uint32_t i = 0;

	/* Not while away from the broker: nothing could come then, nor before what it follows
	 * is followed again after a reconnection. Nor while records of it wait for a node that
	 * can take them. */
	while (f->read_at == 0 && f->refollow_at == 0 && i < f->nb_dead &&
	       cp_mqtt_connected(cp->mqtt)) {
		if (orphaned(f, i) || now < f->dead_ms[i] + cp->cfg.failover_forget_s * 1000ull) {
			i++;
			continue;
		}
		dead_retire(cp, i, "nothing of it for failover_forget_s");
	}
}

/* The list full: the dead node quiet the longest (at least SETTLE_MS) makes room, or none
 * can. @return whether there is room now. */
static bool
dead_room(struct cp *cp, uint64_t now)
{
	struct cp_failover *f = &cp->failover;
	uint32_t i, q = 0;

	if (f->nb_dead < CP_FAILOVER_DEAD_MAX)
		return true;
	for (i = 1; i < f->nb_dead; i++)
		if (f->dead_ms[i] < f->dead_ms[q])
			q = i;
	if (now < f->dead_ms[q] + SETTLE_MS)
		return false;
	dead_retire(cp, q, "the quietest of the dead nodes read, making room for another");
	return true;
}

/* The records heirs refused, once the heirs are worked out again (a death, a change of the
 * nodes that could be heirs): each whose next in rank is this node now is read on its own
 * topic (again for one no node could take, or @p again for every one: the broker sends it
 * again), one that no node can take now waits (an orphan). Its next in rank may have died,
 * or drained, since the refusal; only the nodes that saw the refusal know of it. */
static void
refusals_reread(struct cp *cp, bool again)
{
	struct cp_failover *f = &cp->failover;
	char topic[CP_TOPIC_MAX];
	uint32_t r;
	int heir;

	for (r = 0; r < f->nb_refused; r++) {
		if (dead_find(f, f->refused[r].dead) < 0)
			continue;
		heir = heir_is_me(cp, f->refused[r].dead, f->refused[r].id);
		cp_store_record_topic(cp, f->refused[r].dead, f->refused[r].id, topic);
		if (heir <= 0) {
			f->refused[r].orphan = heir < 0;
			/* Left: if it is this node's again, subscribing sends it again. */
			if (f->refused[r].followed &&
			    cp_mqtt_follow(cp->mqtt, topic, false) == 0)
				f->refused[r].followed = false;
			continue;
		}
		if (f->refused[r].followed && !f->refused[r].orphan && !again)
			continue;	/* being read here already */
		if (cp_mqtt_follow(cp->mqtt, topic, true) == 0) {
			f->refused[r].followed = true;
			f->refused[r].orphan = false;
		}
	}
}

/* Every dead node's buckets and refusals worked out again for the nodes that could be heirs
 * now (@p again: those kept read again too, as after a death or a reconnection). */
static void
heirs_again(struct cp *cp, bool again)
{
	struct cp_failover *f = &cp->failover;
	uint32_t i;

	f->heirs_sig = mf_cluster_heirs_sig(&cp->place.reg, cp->cfg.pool_group);
	for (i = 0; i < f->nb_dead; i++)
		buckets_follow(cp, i, again || f->orphans[i]);
	refusals_reread(cp, again);
}

/*
 * A status came: if the nodes that could be heirs changed (one drained or undrained, its
 * dataplane down or up, one new or back) while dead nodes are read, each bucket a node
 * gains is read there (else a record a new heir never subscribed to would stay untaken),
 * and the dead nodes with records nobody could take are read again whole. Those it keeps
 * are not: their records are being taken here; read with another set of heirs some would be
 * taken twice. Not at every status of the same nodes.
 */
static void
heirs_changed(struct cp *cp, const char *node)
{
	struct cp_failover *f = &cp->failover;

	if (f->nb_dead == 0 || f->read_at != 0 || f->refollow_at != 0 ||
	    mf_cluster_heirs_sig(&cp->place.reg, cp->cfg.pool_group) == f->heirs_sig)
		return;
	MF_LOG(NOTICE, cmd, "the nodes that could take sessions changed (%s): the dead nodes' "
	       "heirs worked out again", node);
	heirs_again(cp, false);
}

void
cp_failover_status(struct cp *cp, const char *node)
{
	struct cp_failover *f = &cp->failover;
	const struct mf_node_status *st = mf_cluster_find(&cp->place.reg, node);
	int i = dead_find(f, node), k;

	if (!f->on)
		return;
	if (i < 0 && (st == NULL || st->online) && (k = forgot_find(f, node)) >= 0)
		f->forgot[k][0] = '\0';	/* back: its next death is one */
	if (i < 0 && died(cp, st) && forgot_find(f, node) < 0) {
		if (!dead_room(cp, mf_mono_ms())) {
			MF_LOG(ERR, cmd, "node %s is gone, and %u others are being taken over: "
			       "its sessions are not", node, CP_FAILOVER_DEAD_MAX);
			return;
		}
		if (f->nb_dead == 0)
			cp_mqtt_follow(cp->mqtt, f->t_failed, true);
		i = (int)f->nb_dead++;
		snprintf(f->dead[i], sizeof(f->dead[i]), "%s", node);
		f->dead_ms[i] = mf_mono_ms();
		f->orphans[i] = false;
		memset(f->followed[i], 0, sizeof(f->followed[i]));
		/* Read once the deaths settle: nodes that die together are all passed over as
		 * heirs, and their records read once, not again at each will. */
		f->read_at = mf_mono_ms() + SETTLE_MS;
		MF_LOG(NOTICE, cmd, "node %s is gone (%s): its sessions are taken over", node,
		       st->reason[0] ? st->reason : "will");
	} else if (i >= 0 && (st == NULL || st->online)) {
		/* Back (or its status cleared): what it still holds is its own. */
		dead_forget(cp, (uint32_t)i);
	}
	heirs_changed(cp, node);
}

/* ---- taking a dead node's sessions over, a batch of records at once ---- */

/* A record this node is the heir of, being re-created. */
struct takeover {
	char dead[CP_NODE_MAX];
	char id[MF_SESS_ID_MAX];
	json_t *rec;
	uint16_t tenant;
	bool again;		/* its UDP port taken here: created again on one of the range */
	struct cp_item it;
};

/* Its ingress on this node: this node's address of the same port and family (from the
 * dataplane's node info in @p ni). */
static int
readdress(struct cp *cp, const struct mf_msg_node_info *ni, struct takeover *t)
{
	json_t *spec = json_object_get(t->rec, "spec"), *in = json_object_get(spec, "ingress");
	unsigned int i, k, port = (unsigned int)json_integer_value(json_object_get(in, "port"));
	struct mf_addr was;
	char addr[64];

	if (!json_is_object(spec) ||
	    strcmp(json_string_value(json_object_get(spec, "id")) ?: "", t->id) != 0) {
		cp_err_set(&t->it.err, "invalid", "spec", "a record that is not session %s's",
			   t->id);
		return -EINVAL;
	}
	if (!json_is_object(in) ||
	    mf_addr_parse(json_string_value(json_object_get(in, "addr")) ?: "", &was) != 0) {
		cp_err_set(&t->it.err, "invalid", "ingress.addr", "the record's ingress has no "
			   "address");
		return -EINVAL;
	}
	for (i = 0; ni != NULL && i < ni->nb_ports && i < MF_MAX_PORTS; i++)
		for (k = 0; ni->ports[i].port == port && k < ni->ports[i].nb_addrs &&
			    k < MF_NODE_MAX_ADDRS; k++)
			if (ni->ports[i].addrs[k].family == was.family) {
				mf_addr_str(&ni->ports[i].addrs[k], addr, sizeof(addr));
				json_object_set_new(in, "addr", json_string(addr));
				return 0;
			}
	cp_err_set(&t->it.err, "address_not_available", "ingress.port", "port %u has no IPv%u "
		   "address on node %s", port, was.family, cp->cfg.node);
	return -EADDRNOTAVAIL;
}

static void
moved(struct cp *cp, const struct takeover *t, struct cp_sess *s)
{
	char topic[CP_TOPIC_MAX], addr[64], *mark;
	json_t *o;

	taken_add(&cp->failover, t->dead, t->id);
	MF_LOG(NOTICE, cmd, "session %s of node %s taken over here", t->id, t->dead);
	cp_store_record(cp, s);
	/* The dead node's record becomes the mark that we took it: when that node comes back
	 * holding the session, this is what tells it to let it go (nothing else does: a
	 * record missing may be a broker's loss). */
	cp_store_record_topic(cp, t->dead, t->id, topic);
	o = json_pack("{s:i, s:s}", "v", 1, "moved_to", cp->cfg.node);
	/* The incarnation it took: a mark replayed over a later session of the id is stale. */
	if (o != NULL && json_is_string(json_object_get(t->rec, "inc")))
		json_object_set(o, "inc", json_object_get(t->rec, "inc"));
	mark = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (mark == NULL || cp_store_record_publish(cp, topic, mark, MOVED_MARK_S) != 0)
		MF_LOG(ERR, cmd, "session %s: the mark that it was taken over not published: "
		       "node %s may keep it too when it comes back", t->id, t->dead);
	free(mark);
	mf_addr_str(&s->local, addr, sizeof(addr));
	cp_event_publish(cp, json_pack("{s:s, s:s, s:s, s:s, s:{s:i, s:s, s:i}}", "event",
				       "session.moved", "session", t->id, "from", t->dead, "to",
				       cp->cfg.node, "ingress", "port", s->port, "addr", addr,
				       "udp_port", s->udp_port));
	cp->failover.moved++;
	cp->status_dirty = true;
}

/* The next in rank takes it (this node passes it over from now on, its own event coming
 * back changes nothing); after CP_FAILOVER_REFUSERS, its record stays: the node may come
 * back with it. */
static void
not_moved(struct cp *cp, const struct takeover *t)
{
	const struct cp_err *err = &t->it.err;

	refused_by(&cp->failover, t->dead, t->id, cp->cfg.node);
	MF_LOG(ERR, cmd, "session %s of node %s not taken over: %s%s%s: %s", t->id, t->dead,
	       err->code, err->path[0] ? " at " : "", err->path, err->message);
	cp_event_publish(cp, json_pack("{s:s, s:s, s:s, s:s, s:s}", "event",
				       "session.move_failed", "session", t->id, "from", t->dead,
				       "code", err->code, "message", err->message));
	cp->failover.failed++;
}

/* The creates of @p t that are ok, of the first round or (@p again) of the second,
 * pipelined, then one sync of the journal (as a create_many). @return whether it synced. */
static bool
create_round(struct cp *cp, struct takeover *t, unsigned int n, bool again)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!t[i].it.ok || t[i].again != again)
			continue;
		cp->caller = t[i].tenant;
		if (cp_create_pipelined(cp, json_object_get(t[i].rec, "spec"), &t[i].it) != 0)
			t[i].it.ok = false;
	}
	return cp_store_flush(cp) == 0;
}

/* Those whose UDP port is taken here are created again on one from the range, all in a
 * second round: one at a time, a sync each, a node taking over hundreds of sessions from
 * a port range like its own (most of their ports in use here) took seconds. */
static bool
port_taken_again(struct cp *cp, struct takeover *t, unsigned int n)
{
	unsigned int i, k = 0;

	for (i = 0; i < n; i++) {
		if (t[i].it.ok || strcmp(t[i].it.err.code, "address_in_use") != 0)
			continue;
		json_object_del(json_object_get(json_object_get(t[i].rec, "spec"), "ingress"),
				"udp_port");
		memset(&t[i].it, 0, sizeof(t[i].it));
		t[i].it.ok = t[i].again = true;
		k++;
	}
	return k == 0 || create_round(cp, t, n, true);
}

/* The batch's records re-created here: a first round on their own UDP ports, a second for
 * those whose port is taken here; each moved, or refused for the next in rank. */
static void
take_over(struct cp *cp, struct takeover *t, unsigned int n)
{
	const struct mf_msg_node_info *ni = (const struct mf_msg_node_info *)cp->res;
	uint16_t caller = cp->caller;
	struct cp_sess *s;
	struct cp_err err;
	unsigned int i;
	bool synced[2];

	if (cp_dp_call(cp, MF_MSG_NODE_INFO, NULL, 0, cp->res, sizeof(cp->res), &err) < 0)
		ni = NULL;
	for (i = 0; i < n; i++)
		t[i].it.ok = readdress(cp, ni, &t[i]) == 0;	/* before cp->res is reused */
	cp->pooled = true;
	synced[0] = create_round(cp, t, n, false);
	synced[1] = port_taken_again(cp, t, n);
	for (i = 0; i < n; i++) {
		s = t[i].it.ok ? cp_reg_find(&cp->reg, t[i].id) : NULL;
		if (s != NULL && !synced[t[i].again]) {
			cp_delete_now(cp, t[i].id, &err);
			cp_err_set(&t[i].it.err, "internal", NULL, "the journal could not be "
				   "written");
			s = NULL;
		}
		if (s != NULL)
			moved(cp, &t[i], s);
		else
			not_moved(cp, &t[i]);
	}
	cp->pooled = false;
	cp->caller = caller;
}

/* <prefix>/<node>/sess/<bb>/<id> (<bb> the id's bucket), or <prefix>/<node>/sess/!sync, the
 * lookup's marker: its node and id, neither empty (cp_mqtt.c checked up to "<prefix>/").
 * Records kept before buckets, <prefix>/<node>/sess/<id>, are not read. */
static int
split(const struct cp *cp, const char *topic, char node[CP_NODE_MAX], const char **id)
{
	const char *n = topic + strlen(cp->cfg.prefix) + 1, *end = strchr(n, '/'), *b;
	char bb[3];

	if (end == NULL || end == n || (size_t)(end - n) >= CP_NODE_MAX ||
	    strncmp(end, "/sess/", 6) != 0)
		return -EINVAL;
	memcpy(node, n, (size_t)(end - n));
	node[end - n] = '\0';
	b = end + 6;
	if (strcmp(b, MARK) == 0) {
		*id = b;
		return 0;
	}
	*id = b + 3;
	if (strlen(b) < 4 || b[2] != '/' || strchr(*id, '/') != NULL ||
	    strlen(*id) >= MF_SESS_ID_MAX)
		return -EINVAL;
	snprintf(bb, sizeof(bb), "%02x", mf_cluster_bucket(*id));
	return memcmp(b, bb, 2) == 0 ? 0 : -EINVAL;
}

/* Whether record or mark @p m (of session @p id of @p node) may be believed: signed as a
 * node when this node has auth.node_tenant (cp_auth_record_ok); one that is not is counted
 * and logged, and read as if it were not there. */
static bool
signed_record(struct cp *cp, const struct cp_msg *m, const char *id, const char *node)
{
	uint64_t n;

	if (cp_auth_record_ok(cp, m->topic, m->payload, m->len, m->sig.sig))
		return true;
	n = ++cp->failover.unsigned_records;
	/* Anyone who may publish there could flood the log: the first ten, then sparser. */
	if (n <= 10 || (n & (n - 1)) == 0)
		MF_LOG(WARNING, cmd, "session %.48s of node %s: its record or mark is not signed "
		       "as a node (auth.node_tenant): not believed (%llu so far)", id, node,
		       (unsigned long long)n);
	return false;
}

/* A record of a dead node: into @p t when this node is its heir. @return 1 if so. */
static int
dead_record(struct cp *cp, const char *dead, const char *id, const struct cp_msg *m,
	    struct takeover *batch, unsigned int nb)
{
	struct takeover *t = &batch[nb];
	int i = dead_find(&cp->failover, dead), heir;
	json_error_t e;
	unsigned int k;

	if (m->len == 0 || i < 0 || !died(cp, mf_cluster_find(&cp->place.reg, dead)) ||
	    taken(&cp->failover, dead, id))
		return 0;	/* cleared, its node back, or taken here */
	heir = heir_is_me(cp, dead, id);
	/* (The caller wipes every record once read: they hold keys.) */
	if (heir == 0) {	/* another's to take */
		if (memmem(m->payload, m->len, "\"moved_to\"", 10) == NULL)
			cp->failover.others++;
		return 0;
	}
	if (!signed_record(cp, m, id, dead))
		return 0;
	if (heir < 0) {		/* nobody's yet; a mark is no record */
		if (memmem(m->payload, m->len, "\"moved_to\"", 10) == NULL)
			orphan_add(&cp->failover, (uint32_t)i, id);
		return 0;
	}
	memset(t, 0, sizeof(*t));
	t->rec = json_loadb(m->payload, m->len, JSON_REJECT_DUPLICATES, &e);
	explicit_bzero(m->payload, m->len);
	if (!json_is_object(t->rec)) {
		MF_LOG(ERR, cmd, "session %.48s of node %s: its record is not JSON (%s)", id,
		       dead, e.text);
		json_decref(t->rec);
		return 0;
	}
	if (json_object_get(t->rec, "moved_to") != NULL) {
		json_decref(t->rec);	/* taken over already: its mark */
		return 0;
	}
	snprintf(t->dead, sizeof(t->dead), "%s", dead);
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->tenant = cp_auth_tenant(cp, json_string_value(json_object_get(t->rec, "tenant")));
	/* The same record twice in a batch (read again meanwhile): once. */
	for (k = 0; k < nb; k++)
		if (strcmp(batch[k].id, id) == 0 && strcmp(batch[k].dead, dead) == 0) {
			json_decref(t->rec);
			return 0;
		}
	return 1;
}

/* Another node (or this one) could not take session "session" of "from" over: the next in
 * rank, when that is this node, reads its record again to take it. */
static void
move_failed(struct cp *cp, const struct cp_msg *m)
{
	struct cp_failover *f = &cp->failover;
	json_t *ev = json_loadb(m->payload, m->len, 0, NULL);
	const char *id = json_string_value(json_object_get(ev, "session"));
	const char *dead = json_string_value(json_object_get(ev, "from"));
	const char *said = json_string_value(json_object_get(ev, "node"));
	char topic[CP_TOPIC_MAX], by[CP_NODE_MAX];
	const char *n = m->topic + strlen(cp->cfg.prefix) + 1, *end = strchr(n, '/');
	int r, i, heir;

	/* The refuser is the node whose topic it came on (cp_mqtt.c checked its form), as
	 * the ACL lets each node publish only under its own: not whatever the payload says. */
	if (end == NULL || end == n || (size_t)(end - n) >= CP_NODE_MAX)
		goto out;
	memcpy(by, n, (size_t)(end - n));
	by[end - n] = '\0';
	if (said != NULL && strcmp(said, by) != 0)
		goto out;
	/* A session id's characters alone: it becomes a topic to follow, where "+" or "#"
	 * would be a wildcard. */
	if (id == NULL || dead == NULL || !mf_sess_id_ok(id) || (i = dead_find(f, dead)) < 0)
		goto out;
	dead_stir(f, dead);
	if (!refused_by(f, dead, id, by))
		goto out;
	heir = heir_is_me(cp, dead, id);
	if (heir < 0)			/* nobody left to take it now */
		orphan_add(f, (uint32_t)i, id);
	if (heir == 1 && (r = refusal(f, dead, id, false)) >= 0) {
		/* Its own topic: the broker sends this record alone, not all of the node's.
		 * Subscribed again even if it was (an orphan's, read again): then it is sent
		 * again. */
		cp_store_record_topic(cp, dead, id, topic);
		if (cp_mqtt_follow(cp->mqtt, topic, true) == 0)
			f->refused[r].followed = true;
	}
out:
	json_decref(ev);
}

/* ---- this node's own records, after a connection ---- */

struct sweep {
	struct cp *cp;
	char (*ids)[MF_SESS_ID_MAX];
	uint32_t n;
};

/* A pooled session made before the lookup: taken over (into the list), or with neither its
 * record nor a mark (the broker lost them; published again). */
static void
unkept(void *ctx, struct cp_sess *s)
{
	struct sweep *w = ctx;

	if (s->pooled && s->seq <= w->cp->failover.sync_seq) {
		if (s->taken && w->ids != NULL)
			memcpy(w->ids[w->n++], s->id, MF_SESS_ID_MAX);
		else if (!s->kept && !s->taken) {
			MF_LOG(WARNING, cmd, "session %s: its record is not on the broker, "
			       "published again", s->id);
			cp_store_record(w->cp, s);
			w->cp->failover.republished++;
		}
	}
	s->kept = false;
	s->taken = false;
}

static void
unkept_clear(void *ctx, struct cp_sess *s)
{
	(void)ctx;
	s->kept = false;
	s->taken = false;
}

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
	f->sync_seq = cp->reg.next_seq;	/* the newest session's (seq = ++next_seq) */
	f->sync_at_ms = 0;
	/* A lookup cut short by a reconnection left some marked: this one starts clean. */
	cp_reg_each(&cp->reg, unkept_clear, NULL);
	f->sync_until_ms = now + SYNC_WAIT_MS;
	/* The retained records come on subscribing, before the marker published after. */
	if (cp_mqtt_follow(cp->mqtt, f->t_own, true) != 0 ||
	    cp_mqtt_publish(cp->mqtt, f->t_mark, f->nonce, 1, false, NULL, 0) != 0) {
		f->sync_until_ms = 0;
		f->sync_at_ms = now + SYNC_DELAY_MS;
	}
}

/* Session @p id, taken over by another node, deleted here (which clears its record topic,
 * the mark). @return 0, or -1: the dataplane refused; its mark stays, and a lookup again
 * later deletes it then (5 s, doubling up to 5 min while the dataplane refuses). */
static int
gone_here(struct cp *cp, const char *id)
{
	struct cp_failover *f = &cp->failover;
	struct cp_err err;

	if (cp_delete_now(cp, id, &err) != 0) {
		f->sync_retry_ms = f->sync_retry_ms == 0 ? SYNC_RETRY_MS :
				   2 * f->sync_retry_ms > SYNC_RETRY_MAX_MS ?
				   SYNC_RETRY_MAX_MS : 2 * f->sync_retry_ms;
		MF_LOG(ERR, cmd, "session %s, taken over by another node: not deleted here: %s "
		       "(looked up again in %u ms)", id, err.message, f->sync_retry_ms);
		f->sync_at_ms = mf_mono_ms() + f->sync_retry_ms;
		return -1;
	}
	MF_LOG(NOTICE, cmd, "session %s was taken over by another node: deleted here", id);
	cp_event_publish(cp, json_pack("{s:s, s:s}", "event", "session.gone", "session", id));
	f->gone++;
	cp->status_dirty = true;
	return 0;
}

/* The marker came: every record of ours has. A pooled session made before the lookup whose
 * record is an heir's mark was taken over by another node while we were away: deleted.
 * From then on the records are watched (what is published there from now on): an heir
 * that takes one over after this lookup, its takeover slower than this node's return,
 * has it deleted here when its mark comes (own_record). */
static void
sync_end(struct cp *cp)
{
	struct cp_failover *f = &cp->failover;
	struct sweep w = { .cp = cp, .ids = calloc(cp->reg.count + 1, MF_SESS_ID_MAX) };
	uint32_t i;

	if (cp_mqtt_watch(cp->mqtt, f->t_own) != 0) {
		MF_LOG(ERR, cmd, "this node's records not watched: a takeover that ends after "
		       "now leaves its session here too until the next connection");
		cp_mqtt_follow(cp->mqtt, f->t_own, false);
	}
	f->sync_until_ms = 0;
	cp_reg_each(&cp->reg, unkept, &w);
	for (i = 0; i < w.n && gone_here(cp, w.ids[i]) == 0; i++)
		;
	if (i == w.n)
		f->sync_retry_ms = 0;
	if (w.ids == NULL)
		MF_LOG(ERR, cmd, "no memory to look up this node's records");
	free(w.ids);
}

/* The incarnation a record names, {..., "inc": "<16 hex>"}, read without parsing the
 * record (its keys); 0 if none. */
static uint64_t
record_inc(const struct cp_msg *m)
{
	const char *p = memmem(m->payload, m->len, "\"inc\":\"", 7);
	char hex[17];

	if (p == NULL || (size_t)(p - m->payload) + 7 + 17 > m->len || p[7 + 16] != '"')
		return 0;
	memcpy(hex, p + 7, 16);
	hex[16] = '\0';
	return cp_store_inc_parse(hex);
}

enum mark { NOT_MARK, MARK_OURS, MARK_STALE };

/* Is @p m an heir's mark, {"v": 1, "moved_to": NODE, "inc": ...}, rather than a record (a
 * record, with its keys, is not parsed for it), and of the incarnation @p inc of session
 * (0: one journaled before incarnations, any mark)? One of another is a replay. */
static enum mark
mark_of(const struct cp_msg *m, uint64_t inc)
{
	enum mark k = NOT_MARK;
	json_t *o;

	if (m->len == 0 || memmem(m->payload, m->len, "\"moved_to\"", 10) == NULL)
		return NOT_MARK;
	o = json_loadb(m->payload, m->len, 0, NULL);
	if (json_is_string(json_object_get(o, "moved_to")))
		k = inc == 0 ||
		    cp_store_inc_parse(json_string_value(json_object_get(o, "inc"))) == inc ?
		    MARK_OURS : MARK_STALE;
	json_decref(o);
	return k;
}

/* Our record of @p s, or an heir's mark of it, replaced by one of another incarnation (a
 * replay): our record again over it, counted, logged (sparsely: anyone who may publish
 * there could flood the log). */
static void
stale(struct cp *cp, struct cp_sess *s, enum mark k)
{
	uint64_t n = ++cp->failover.stale;

	if (n <= 10 || (n & (n - 1)) == 0)
		MF_LOG(WARNING, cmd, "session %s: %s of another session of this id came on its "
		       "record (replayed, or our own of one just deleted): its record published "
		       "again (%llu so far)", s->id, k == MARK_STALE ? "a mark" : "a record",
		       (unsigned long long)n);
	cp_store_record(cp, s);
}

/* Its record on the broker again, or clearing what is there when @p s is NULL. */
static void
record_again(struct cp *cp, const char *id, struct cp_sess *s)
{
	char topic[CP_TOPIC_MAX];

	if (s != NULL) {
		cp_store_record(cp, s);
		return;
	}
	cp_store_record_topic(cp, cp->cfg.node, id, topic);
	cp_mqtt_publish(cp->mqtt, topic, "", 1, true, NULL, 0);
}

/*
 * The watch after a lookup: what is published on our records from now on. Our own records
 * come back too (see sync_end) and change nothing. An heir's mark of a pooled session here
 * since before the lookup deletes it (a takeover that ended after this node's return). A
 * mark or record not signed, or of another incarnation, has our record published again
 * over it; a record of a session not here (or not pooled) is cleared, or it would be taken
 * over when this node dies. Clearings, which cannot be signed, are not read.
 */
static void
watched(struct cp *cp, const char *id, const struct cp_msg *m)
{
	struct cp_sess *s = cp_reg_find(&cp->reg, id);
	enum mark k;

	if (m->len == 0 || strcmp(id, MARK) == 0)
		return;
	if (s == NULL || !s->pooled) {
		if (mark_of(m, 0) == NOT_MARK)
			record_again(cp, id, NULL);
		return;
	}
	k = mark_of(m, s->inc);
	if (!signed_record(cp, m, id, cp->cfg.node)) {
		record_again(cp, id, s);
	} else if (k == MARK_OURS && s->seq <= cp->failover.sync_seq) {
		MF_LOG(NOTICE, cmd, "session %s: taken over after this node's lookup", id);
		gone_here(cp, id);
	} else if (k == MARK_STALE || (k == NOT_MARK && record_inc(m) != s->inc)) {
		stale(cp, s, k);
	}
}

static void
own_record(struct cp *cp, const char *id, const struct cp_msg *m)
{
	struct cp_failover *f = &cp->failover;
	struct cp_sess *s;
	enum mark k;

	if (f->sync_until_ms == 0) {
		watched(cp, id, m);
		return;
	}
	if (strcmp(id, MARK) == 0) {
		if (m->len == strlen(f->nonce) && memcmp(m->payload, f->nonce, m->len) == 0)
			sync_end(cp);
		return;
	}
	s = cp_reg_find(&cp->reg, id);
	if (m->len == 0)
		return;
	if (s == NULL) {
		/* A record of a session no longer here (its clearing lost with a connection):
		 * left, it would be taken over when this node dies. */
		record_again(cp, id, NULL);
		MF_LOG(NOTICE, cmd, "session %.48s: its record left over, cleared", id);
		return;
	}
	/* One not signed is as if not there, even after ours: the record is published again
	 * over it at the lookup's end (unkept). */
	if (!signed_record(cp, m, id, cp->cfg.node)) {
		s->kept = false;
		return;
	}
	k = mark_of(m, s->inc);
	if (k == MARK_OURS) {
		s->taken = true;
	} else if (k == NOT_MARK && record_inc(m) == s->inc) {
		s->kept = true;
	} else if (s->taken) {
		cp->failover.stale++;	/* taken over: deleted at the end, its mark cleared */
	} else {
		stale(cp, s, k);	/* ours again over it now */
		s->kept = true;
	}
}

/* A message on a dead node's records: into *@p t (made for @p n) when it is this node's
 * to take. @return 1 if so. */
static unsigned int
dead_msg(struct cp *cp, const char *node, const char *id, const struct cp_msg *m,
	 struct takeover **t, unsigned int n, unsigned int nb)
{
	dead_stir(&cp->failover, node);
	if (*t == NULL && (*t = calloc(n, sizeof(**t))) == NULL) {
		MF_LOG(ERR, cmd, "no memory to take session %s of node %s over", id, node);
		return 0;
	}
	return (unsigned int)dead_record(cp, node, id, m, *t, nb);
}

unsigned int
cp_failover_route(struct cp *cp, struct cp_msg **batch, unsigned int n)
{
	struct takeover *t = NULL;
	char node[CP_NODE_MAX];
	unsigned int i, k = 0, nb = 0;
	const char *id;

	for (i = 0; i < n; i++) {
		struct cp_msg *m = batch[i];

		if (!m->record) {
			batch[k++] = m;
			continue;
		}
		/* One over max_payload is kept as its length alone (cp_mqtt.c): nothing to read,
		 * nor to wipe. Said, sparser after the first ten (anyone who may publish there
		 * could flood the log): a dead node's record lost so is a session lost. */
		if (m->len > cp->cfg.max_payload) {
			uint64_t big = ++cp->failover.oversized;

			if (big <= 10 || (big & (big - 1)) == 0)
				MF_LOG(WARNING, cmd, "%zu bytes on %.100s: over max_payload, not "
				       "read (%llu so far)", m->len, m->topic,
				       (unsigned long long)big);
			cp_msg_free(m);
			continue;
		}
		if (!cp->failover.on)
			;		/* not ours to read */
		else if (strstr(m->topic, "/event/") != NULL)
			move_failed(cp, m);
		else if (split(cp, m->topic, node, &id) != 0)
			;
		else if (strcmp(node, cp->cfg.node) == 0)
			own_record(cp, id, m);
		else
			nb += dead_msg(cp, node, id, m, &t, n, nb);
		explicit_bzero(m->payload, m->len);	/* a record holds keys */
		cp_msg_free(m);
	}
	if (nb > 0)
		take_over(cp, t, nb);
	for (i = 0; i < nb; i++) {
		dead_stir(&cp->failover, t[i].dead);	/* a long batch is no quiet */
		json_decref(t[i].rec);
	}
	free(t);
	return k;
}

/*
 * Connected again while dead nodes are read: the broker may have lost this node's session
 * (restarted without it, expired, taken over by the same client id), and with it every
 * subscription failover made: the refusals' topic, the buckets, the refused records.
 * Without them a refusal never reached this node, the next in rank, and that session was
 * lost. The refusals' topic is followed again now, the rest once the registry's statuses
 * settle, as after a death (heirs_again()); with the session kept, the records that come
 * again are read again, and what was taken is not taken twice.
 */
static void
follow_again(struct cp *cp, uint64_t now)
{
	struct cp_failover *f = &cp->failover;

	cp_mqtt_follow(cp->mqtt, f->t_failed, true);
	f->refollow_at = now + SETTLE_MS;
}

void
cp_failover_tick(struct cp *cp, bool again, uint64_t now)
{
	struct cp_failover *f = &cp->failover;
	uint32_t i;

	if (!f->on)
		return;
	/* The deaths settled: every dead node's records read (again: an heir may have died
	 * since they were last; what was taken is cleared and does not come). */
	if (f->read_at != 0 && now >= f->read_at) {
		f->read_at = f->refollow_at = 0;
		for (i = 0; i < f->nb_dead; i++)
			f->dead_ms[i] = now;
		heirs_again(cp, true);
	}
	/* Connected again: followed again without a death's new quiet times (a broker that
	 * comes and goes would keep every dead node read for good). */
	if (f->refollow_at != 0 && now >= f->refollow_at && f->read_at == 0) {
		f->refollow_at = 0;
		heirs_again(cp, true);
	}
	if (again && f->nb_dead > 0)
		follow_again(cp, now);
	dead_expire(cp, now);
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
