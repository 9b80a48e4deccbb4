/* SPDX-License-Identifier: BSD-3-Clause */
/* The cluster's registry from the nodes' retained statuses (see mf_cluster.h). */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mf/mf_cluster.h"

/* Field checks: each records the first problem in st->why and says whether all is well. */
struct pctx {
	struct mf_node_status *st;
	bool bad;
};

static void __attribute__((format(printf, 2, 3)))
bad(struct pctx *p, const char *fmt, ...)
{
	va_list ap;

	if (p->bad)
		return;
	p->bad = true;
	va_start(ap, fmt);
	vsnprintf(p->st->why, sizeof(p->st->why), fmt, ap);
	va_end(ap);
}

static void
get_bool(struct pctx *p, json_t *o, const char *key, bool required, bool *out)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL && !required)
		return;
	if (!json_is_boolean(v)) {
		bad(p, "%s: %s", key, v ? "not true or false" : "missing");
		return;
	}
	*out = json_is_true(v);
}

static void
get_u64(struct pctx *p, json_t *o, const char *key, bool required, uint64_t max,
	uint64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL && !required)
		return;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max) {
		bad(p, "%s: %s", key, v ? "not an integer in range" : "missing");
		return;
	}
	*out = (uint64_t)json_integer_value(v);
}

static void
get_u32(struct pctx *p, json_t *o, const char *key, bool required, uint32_t *out)
{
	uint64_t v = *out;

	get_u64(p, o, key, required, UINT32_MAX, &v);
	*out = (uint32_t)v;
}

static void
get_num(struct pctx *p, json_t *o, const char *key, double max, double *out)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return;
	if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > max) {
		bad(p, "%s: not a number in range", key);
		return;
	}
	*out = json_number_value(v);
}

static void
get_str(struct pctx *p, json_t *o, const char *key, bool required, char *out, size_t cap)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL && !required)
		return;
	if (!json_is_string(v)) {
		bad(p, "%s: %s", key, v ? "not a string" : "missing");
		return;
	}
	snprintf(out, cap, "%s", json_string_value(v));
}

static json_t *
get_obj(struct pctx *p, json_t *o, const char *key, bool required)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL && !required)
		return NULL;
	if (!json_is_object(v)) {
		bad(p, "%s: %s", key, v ? "not an object" : "missing");
		return NULL;
	}
	return v;
}

static void
parse_online(struct pctx *p, json_t *root)
{
	struct mf_node_status *st = p->st;
	json_t *dp = get_obj(p, root, "dataplane", true);
	json_t *cap = get_obj(p, root, "capacity", true);
	json_t *load = get_obj(p, root, "load", false);
	json_t *ports = json_object_get(root, "ports");

	get_str(p, root, "version", false, st->version, sizeof(st->version));
	get_u64(p, root, "time_ms", true, UINT64_MAX >> 1, &st->time_ms);
	get_u32(p, root, "sessions", true, &st->sessions);
	get_u32(p, root, "outputs", false, &st->outputs);
	get_u64(p, root, "kbps", false, UINT64_MAX >> 1, &st->kbps);
	get_bool(p, root, "draining", false, &st->draining);
	/* Absent: a node of a version before the flag, which took part as an heir. */
	st->failover = true;
	get_bool(p, root, "failover", false, &st->failover);
	get_str(p, root, "pool", false, st->pool, sizeof(st->pool));
	if (ports != NULL && !json_is_array(ports))
		bad(p, "ports: not a list");
	st->ports = (uint32_t)json_array_size(ports);
	if (dp != NULL) {
		get_bool(p, dp, "up", true, &st->dp_up);
		get_bool(p, dp, "stalled", false, &st->dp_stalled);
		get_u64(p, dp, "generation", false, UINT64_MAX >> 1, &st->generation);
	}
	if (cap != NULL) {
		get_u32(p, cap, "max_sessions", true, &st->max_sessions);
		get_u32(p, cap, "sessions_free", false, &st->sessions_free);
		get_u32(p, cap, "max_outputs", false, &st->max_outputs);
		get_u64(p, cap, "max_kbps", false, UINT64_MAX >> 1, &st->max_kbps);
		/* A node of an older version says no sessions_free: what its counts give. */
		if (json_object_get(cap, "sessions_free") == NULL)
			st->sessions_free = st->max_sessions > st->sessions ?
					    st->max_sessions - st->sessions : 0;
	}
	if (load != NULL) {
		get_num(p, load, "rx_pps", 1e12, &st->rx_pps);
		get_num(p, load, "rx_kbps", 1e12, &st->rx_kbps);
		get_num(p, load, "tx_pps", 1e12, &st->tx_pps);
		get_num(p, load, "tx_kbps", 1e12, &st->tx_kbps);
		get_num(p, load, "worker_busy_max", 1, &st->busy_max);
		get_num(p, load, "worker_busy_mean", 1, &st->busy_mean);
	}
}

/* The node of <prefix>/<node>/status into @p node; false when the topic is not one. */
static bool
topic_node(const struct mf_cluster *c, const char *topic, char *node)
{
	size_t pl = strlen(c->prefix), nl;
	const char *n, *end;

	if (strncmp(topic, c->prefix, pl) != 0 || topic[pl] != '/')
		return false;
	n = topic + pl + 1;
	end = strchr(n, '/');
	if (end == NULL || strcmp(end, "/status") != 0)
		return false;
	nl = (size_t)(end - n);
	if (nl == 0 || nl >= MF_CLUSTER_ID_MAX)
		return false;
	memcpy(node, n, nl);
	node[nl] = '\0';
	return true;
}

int
mf_cluster_init(struct mf_cluster *c, const char *prefix)
{
	memset(c, 0, sizeof(*c));
	if (prefix == NULL || prefix[0] == '\0' || strlen(prefix) >= sizeof(c->prefix))
		return -EINVAL;
	strcpy(c->prefix, prefix);
	c->pend_life_ms = MF_CLUSTER_PEND_MS;
	return 0;
}

void
mf_cluster_free(struct mf_cluster *c)
{
	free(c->nodes);
	c->nodes = NULL;
	c->n = c->cap = 0;
}

int
mf_cluster_parse(const struct mf_cluster *c, const char *topic, const void *payload,
		 size_t len, struct mf_node_status *st)
{
	struct pctx p = { .st = st };
	char node[MF_CLUSTER_ID_MAX] = "";
	json_error_t je;
	json_t *root = NULL;

	memset(st, 0, sizeof(*st));
	if (!topic_node(c, topic, node))
		bad(&p, "topic: not %s/<node>/status", c->prefix);
	snprintf(st->node, sizeof(st->node), "%s", node);
	if (!p.bad && len > MF_CLUSTER_STATUS_MAX)
		bad(&p, "status of %zu bytes: at most %d", len, MF_CLUSTER_STATUS_MAX);
	if (!p.bad) {
		root = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &je);
		if (!json_is_object(root))
			bad(&p, "not a JSON object%s%s", root ? "" : ": ", root ? "" : je.text);
	}
	if (!p.bad) {
		char named[MF_CLUSTER_ID_MAX + 1] = "";

		get_str(&p, root, "node", true, named, sizeof(named));
		if (!p.bad && strcmp(named, node) != 0)
			bad(&p, "node: \"%.64s\" on the status topic of \"%s\"", named, node);
		get_bool(&p, root, "online", true, &st->online);
	}
	if (!p.bad && st->online)
		parse_online(&p, root);
	else if (!p.bad) {
		get_str(&p, root, "reason", false, st->reason, sizeof(st->reason));
		get_str(&p, root, "pool", false, st->pool, sizeof(st->pool));	/* a will's */
	}
	json_decref(root);
	st->valid = !p.bad;
	return p.bad ? -EINVAL : 0;
}

static struct mf_node_status *
find(const struct mf_cluster *c, const char *node)
{
	uint32_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->nodes[i].node, node) == 0)
			return &c->nodes[i];
	return NULL;
}

const struct mf_node_status *
mf_cluster_find(const struct mf_cluster *c, const char *node)
{
	return find(c, node);
}

static void
add_sessions(struct mf_node_status *e, uint32_t n)
{
	e->sessions = e->sessions + n >= e->sessions ? e->sessions + n : UINT32_MAX;
	e->sent = e->sent + n >= e->sent ? e->sent + n : UINT32_MAX;
	e->sessions_free = e->sessions_free > n ? e->sessions_free - n : 0;
}

/* What the reader kept on the node's entry @p old, into its new status @p st arriving at
 * @p now_ms (the reader's clock, as the sends': the node's may be off): the shun, and the
 * sessions sent and not answered yet, which it does not count (those answered before it
 * came, it does: a node answers before it publishes its status). A send never answered is
 * forgotten after @p life_ms. */
static void
keep_reader(struct mf_node_status *st, const struct mf_node_status *old, uint64_t now_ms,
	    uint64_t life_ms)
{
	uint32_t i;

	st->shun_until_ms = old->shun_until_ms;
	st->nb_pend = 0;
	for (i = 0; i < old->nb_pend && i < MF_CLUSTER_PENDING; i++) {
		if (st->valid && old->pend_ms[i] + life_ms <= now_ms)
			continue;
		st->pend_ms[st->nb_pend] = old->pend_ms[i];
		st->pend_n[st->nb_pend++] = old->pend_n[i];
		add_sessions(st, old->pend_n[i]);
	}
}

int
mf_cluster_update(struct mf_cluster *c, const char *topic, const void *payload, size_t len,
		  uint64_t now_ms)
{
	char node[MF_CLUSTER_ID_MAX];
	struct mf_node_status st, *e;

	if (!topic_node(c, topic, node))
		return 0;
	e = find(c, node);
	if (len == 0) {
		if (e != NULL && e->shun_until_ms > now_ms) {
			e->valid = false;
			e->cleared = true;
			snprintf(e->why, sizeof(e->why), "status cleared");
		} else if (e != NULL) {
			*e = c->nodes[--c->n];
		}
		return 1;
	}
	mf_cluster_parse(c, topic, payload, len, &st);
	if (e == NULL) {
		if (c->n == MF_CLUSTER_MAX_NODES)
			return -ENOSPC;
		if (c->n == c->cap) {
			uint32_t cap = c->cap ? c->cap * 2 : 16;
			struct mf_node_status *n = realloc(c->nodes, sizeof(*n) * cap);

			if (n == NULL)
				return -ENOMEM;
			c->nodes = n;
			c->cap = cap;
		}
		e = &c->nodes[c->n++];
		e->shun_until_ms = 0;
		e->nb_pend = 0;
	}
	keep_reader(&st, e, now_ms, c->pend_life_ms);
	*e = st;
	return 1;
}

/* How busy a node is, for placing: below a quarter of its busiest worker's cycles a node has
 * room and its sessions say more of what is coming (and a few percent is noise on a loaded
 * machine); above, in steps of 10 %. */
static int
busy_level(double busy)
{
	return busy < 0.25 ? 0 : (int)(busy * 10);
}

/* @p s's sessions as a placer with @p others other placers reckons them: its own sends that
 * the status does not count yet, as many again for each other placer. */
static uint64_t
reckoned(const struct mf_node_status *s, uint32_t others)
{
	return (uint64_t)s->sessions + (uint64_t)s->sent * others;
}

/* Is @p a a better place than @p b? The busy level, then the smaller share of its sessions
 * in use (nodes of different sizes fill alike), then the id. */
static bool
better(const struct mf_node_status *a, const struct mf_node_status *b, uint32_t others)
{
	int ba = busy_level(a->busy_max), bb = busy_level(b->busy_max);
	uint64_t ua = reckoned(a, others) * (b->max_sessions ? b->max_sessions : 1);
	uint64_t ub = reckoned(b, others) * (a->max_sessions ? a->max_sessions : 1);

	if (ba != bb)
		return ba < bb;
	if (ua != ub)
		return ua < ub;
	return strcmp(a->node, b->node) < 0;
}

static bool
skipped(const struct mf_node_status *s, uint64_t now_ms, const char *pool,
	const char *const *skip, uint32_t n)
{
	uint32_t i;

	if (s->shun_until_ms > now_ms || (pool != NULL && strcmp(s->pool, pool) != 0))
		return true;
	for (i = 0; i < n; i++)
		if (strcmp(s->node, skip[i]) == 0)
			return true;
	return false;
}

/* Can @p s take a session? */
static bool
eligible(const struct mf_node_status *s, uint64_t now_ms, uint64_t max_age_ms,
	 const char *pool, const char *const *skip, uint32_t nb_skip)
{
	/* Stalled: what is placed there would be answered timeout, and not placed again. */
	if (!s->valid || !s->online || !s->dp_up || s->dp_stalled || s->draining || s->full ||
	    s->sessions_free == 0 || skipped(s, now_ms, pool, skip, nb_skip))
		return false;
	/* Either way: a node whose clock is ahead is as suspect as a silent one. */
	return max_age_ms == 0 || (now_ms >= s->time_ms ? now_ms - s->time_ms :
				   s->time_ms - now_ms) <= max_age_ms;
}

const struct mf_node_status *
mf_cluster_best_skip(const struct mf_cluster *c, uint64_t now_ms, uint64_t max_age_ms,
		     const char *pool, const char *const *skip, uint32_t nb_skip)
{
	const struct mf_node_status *best = NULL;
	uint32_t i;

	for (i = 0; i < c->n; i++)
		if (eligible(&c->nodes[i], now_ms, max_age_ms, pool, skip, nb_skip) &&
		    (best == NULL || better(&c->nodes[i], best, 0)))
			best = &c->nodes[i];
	return best;
}

const struct mf_node_status *
mf_cluster_pick(const struct mf_cluster *c, uint64_t now_ms, uint64_t max_age_ms,
		const char *pool, const char *const *skip, uint32_t nb_skip, uint64_t r)
{
	const struct mf_node_status *best = NULL, *two[2] = { NULL, NULL };
	uint32_t i, k = 0, want[2], seen = 0;

	for (i = 0; i < c->n; i++)
		k += eligible(&c->nodes[i], now_ms, max_age_ms, pool, skip, nb_skip);
	if (k == 0)
		return NULL;
	if (k <= MF_CLUSTER_PICK_ALL) {
		for (i = 0; i < c->n; i++)
			if (eligible(&c->nodes[i], now_ms, max_age_ms, pool, skip, nb_skip) &&
			    (best == NULL || better(&c->nodes[i], best, k - 1)))
				best = &c->nodes[i];
		return best;
	}
	want[0] = (uint32_t)(r % k);
	want[1] = (uint32_t)((r / k) % (k - 1));
	want[1] += want[1] >= want[0];
	for (i = 0; i < c->n; i++) {
		if (!eligible(&c->nodes[i], now_ms, max_age_ms, pool, skip, nb_skip))
			continue;
		if (seen == want[0])
			two[0] = &c->nodes[i];
		else if (seen == want[1])
			two[1] = &c->nodes[i];
		seen++;
	}
	return better(two[1], two[0], k - 1) ? two[1] : two[0];
}

static uint64_t
fnv(uint64_t h, const char *s)
{
	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

/* splitmix64's finisher: hashes of names alike differ in every bit. */
static uint64_t
mix(uint64_t h)
{
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

uint32_t
mf_cluster_bucket(const char *id)
{
	return (uint32_t)(mix(fnv(14695981039346656037ull, id)) & (MF_CLUSTER_BUCKETS - 1));
}

/* FNV-1a over "node\0dead\0" and the bucket's byte, mixed. */
static uint64_t
heir_weight(const char *node, const char *dead, uint32_t bucket)
{
	uint64_t h = fnv(14695981039346656037ull, node) * 1099511628211ull;

	h = fnv(h, dead) * 1099511628211ull;
	return mix((h ^ (uint8_t)bucket) * 1099511628211ull);
}

/* A stalled dataplane would refuse its takeovers (`timeout`), each refusal one of the few a
 * record allows (CP_FAILOVER_REFUSERS) and a round trip before the next in rank takes it:
 * passed over while its status says so, like a draining node. A node of the pool with
 * failover off reads no dead node's records: as its heir, it would lose its buckets. */
static bool
may_inherit(const struct mf_node_status *s, const char *pool)
{
	return s->valid && s->online && s->failover && s->dp_up && !s->dp_stalled &&
	       !s->draining && strcmp(s->pool, pool) == 0;
}

uint64_t
mf_cluster_heirs_sig(const struct mf_cluster *c, const char *pool)
{
	uint64_t sig = 0;
	uint32_t i;

	for (i = 0; i < c->n; i++)
		if (may_inherit(&c->nodes[i], pool))
			sig ^= heir_weight(c->nodes[i].node, "", 0);
	return sig;
}

const struct mf_node_status *
mf_cluster_heir(const struct mf_cluster *c, const char *pool, const char *dead, uint32_t bucket,
		const char *const *skip, uint32_t nb_skip)
{
	const struct mf_node_status *heir = NULL;
	uint64_t w, best = 0;
	uint32_t i, k;

	for (i = 0; i < c->n; i++) {
		const struct mf_node_status *s = &c->nodes[i];

		if (!may_inherit(s, pool) || strcmp(s->node, dead) == 0)
			continue;
		for (k = 0; k < nb_skip && strcmp(s->node, skip[k]) != 0; k++)
			;
		if (k < nb_skip)
			continue;
		w = heir_weight(s->node, dead, bucket);
		/* Equal weights: the smaller name, so the order held in does not count. */
		if (heir == NULL || w > best || (w == best && strcmp(s->node, heir->node) < 0)) {
			heir = s;
			best = w;
		}
	}
	return heir;
}

const struct mf_node_status *
mf_cluster_best(const struct mf_cluster *c, uint64_t now_ms, uint64_t max_age_ms)
{
	return mf_cluster_best_skip(c, now_ms, max_age_ms, NULL, NULL, 0);
}

int
mf_cluster_count(struct mf_cluster *c, const char *node, uint32_t n, uint64_t now_ms)
{
	struct mf_node_status *e = find(c, node);
	uint32_t last;

	if (e == NULL)
		return -ENOENT;
	add_sessions(e, n);
	if (e->nb_pend < MF_CLUSTER_PENDING) {
		e->pend_ms[e->nb_pend] = now_ms;
		e->pend_n[e->nb_pend++] = n;
		return 0;
	}
	/* Full: into the newest, which then lasts as long as this one. */
	last = MF_CLUSTER_PENDING - 1;
	e->pend_ms[last] = now_ms;
	e->pend_n[last] = e->pend_n[last] + n >= n ? e->pend_n[last] + n : UINT32_MAX;
	return 0;
}

int
mf_cluster_settle(struct mf_cluster *c, const char *node, uint32_t n, bool created)
{
	struct mf_node_status *e = find(c, node);
	uint32_t i, k, left = n, kept = 0, room;

	if (e == NULL)
		return -ENOENT;
	/* Answers come mostly in the order of the sends: the oldest go first. */
	for (i = 0; i < e->nb_pend; i++) {
		k = e->pend_n[i] < left ? e->pend_n[i] : left;
		e->pend_n[i] -= k;
		left -= k;
		if (e->pend_n[i] != 0) {
			e->pend_ms[kept] = e->pend_ms[i];
			e->pend_n[kept++] = e->pend_n[i];
		}
	}
	e->nb_pend = kept;
	n -= left;			/* never more than were counted */
	if (created)			/* counted on until its next status counts them */
		return 0;
	e->sessions -= n < e->sessions ? n : e->sessions;
	e->sent -= n < e->sent ? n : e->sent;
	e->sessions_free = e->sessions_free + n >= n ? e->sessions_free + n : UINT32_MAX;
	/* Never more free than its maximum leaves (counting cut at 0 what it took). */
	room = e->max_sessions > e->sessions ? e->max_sessions - e->sessions : 0;
	if (e->max_sessions != 0 && e->sessions_free > room)
		e->sessions_free = room;
	return 0;
}

int
mf_cluster_full(struct mf_cluster *c, const char *node)
{
	struct mf_node_status *e = find(c, node);

	if (e == NULL)
		return -ENOENT;
	e->full = true;
	return 0;
}

int
mf_cluster_shun(struct mf_cluster *c, const char *node, uint64_t until_ms)
{
	struct mf_node_status *e = find(c, node);

	if (e == NULL)
		return -ENOENT;
	e->shun_until_ms = until_ms;
	return 0;
}

void
mf_cluster_expire(struct mf_cluster *c, uint64_t now_ms)
{
	uint32_t i = 0;

	while (i < c->n) {
		if (c->nodes[i].cleared && c->nodes[i].shun_until_ms <= now_ms)
			c->nodes[i] = c->nodes[--c->n];
		else
			i++;
	}
}
