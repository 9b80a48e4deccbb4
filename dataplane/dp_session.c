/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session table: a liburcu lock-free hash table (cds_lfht, QSBR flavour) keyed by
 * (port, local address, local UDP port), read by workers without locks; and, on the
 * control lcore only, the index by session id and every change.
 *
 * Changes are copy-and-swap: a new immutable entry is built and published with
 * cds_lfht_add_replace(); the old one is freed after a grace period. What packets mutate
 * (latch, RTP receive state, per-output rewrite state, counters) lives in objects the new
 * entry takes over, so an update resets nothing. Frees are batched: the control lcore
 * collects them and, once per loop, waits one grace period and frees them all itself, so
 * the stats directory and neighbour table keep their single writer.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>

#include "dp.h"
#include "dp_event.h"
#include "mf/mf_time.h"

static struct cds_lfht *table;
static struct rte_hash *by_id;
static uint32_t nb_sessions;
static uint32_t per_worker[DP_MAX_LCORES];

/* Sessions with an idle timeout or a lifetime: the timer looks at these only, so a million
 * sessions without limits cost the control lcore nothing. */
static struct dp_sess **timed;
static uint32_t nb_timed, cap_timed;

static bool
has_timers(const struct dp_sess *s)
{
	return s->limits.idle_timeout_ms != 0 || s->limits.timeout_s != 0;
}

static void
timed_remove(struct dp_sess *s)
{
	if (s->timed_idx == UINT32_MAX)
		return;
	timed[s->timed_idx] = timed[--nb_timed];
	timed[s->timed_idx]->timed_idx = s->timed_idx;
	s->timed_idx = UINT32_MAX;
}

static int
timed_add(struct dp_sess *s)
{
	if (nb_timed == cap_timed) {
		uint32_t cap = cap_timed ? cap_timed * 2 : 1024;
		struct dp_sess **t = realloc(timed, sizeof(*t) * cap);

		if (t == NULL)
			return -ENOMEM;
		timed = t;
		cap_timed = cap;
	}
	s->timed_idx = nb_timed;
	timed[nb_timed++] = s;
	return 0;
}

/* @p s replaces @p old in the timed list, joins it, or leaves it, by its limits. */
static int
timed_update(struct dp_sess *old, struct dp_sess *s)
{
	if (old != NULL && old->timed_idx != UINT32_MAX && has_timers(s)) {
		s->timed_idx = old->timed_idx;
		timed[s->timed_idx] = s;
		old->timed_idx = UINT32_MAX;
		return 0;
	}
	if (old != NULL)
		timed_remove(old);
	return has_timers(s) ? timed_add(s) : 0;
}

/* Sessions a timer tick removes at most; the rest go at the next tick. */
#define DP_EXPIRE_PER_TICK	64

struct deferred {
	void (*fn)(void *arg, int idx);
	void *arg;
	int idx;
};

static struct deferred *defer_list;
static uint32_t nb_defer, cap_defer;

static int
defer(void (*fn)(void *, int), void *arg, int idx)
{
	if (nb_defer == cap_defer) {
		uint32_t cap = cap_defer ? cap_defer * 2 : 256;
		struct deferred *d = realloc(defer_list, sizeof(*d) * cap);

		if (d == NULL) {
			/* Better late than unsafe: wait for readers now and free at once. */
			urcu_qsbr_synchronize_rcu();
			fn(arg, idx);
			return 0;
		}
		defer_list = d;
		cap_defer = cap;
	}
	defer_list[nb_defer++] = (struct deferred){ .fn = fn, .arg = arg, .idx = idx };
	return 0;
}

void
dp_sess_reclaim(void)
{
	uint32_t i;

	if (nb_defer == 0)
		return;
	urcu_qsbr_synchronize_rcu();
	for (i = 0; i < nb_defer; i++)
		defer_list[i].fn(defer_list[i].arg, defer_list[i].idx);
	nb_defer = 0;
}

static void
free_mem(void *arg, int idx)
{
	(void)idx;
	free(arg);
}

static void
free_stats(void *arg, int idx)
{
	(void)arg;
	dp_stats_remove(idx);
}

static void
free_srtp(void *arg, int idx)
{
	(void)idx;
	mf_srtp_destroy(arg);
}

/* An SRTP context for @p p: @p keep when it holds the same key (the stream state goes on),
 * a new one otherwise, or NULL for plain RTP. Keys are then wiped from the entry's copy of
 * the spec: the context is their only holder. */
static int
srtp_take(struct mf_srtp_params *p, struct mf_srtp *keep, struct mf_srtp **out)
{
	int rc = 0;

	*out = NULL;
	if (p->suite != MF_SRTP_NONE) {
		if (keep != NULL && mf_srtp_same_params(keep, p))
			*out = keep;
		else
			rc = mf_srtp_create(p, out);
	}
	explicit_bzero(p->key, sizeof(p->key));
	explicit_bzero(p->salt, sizeof(p->salt));
	return rc;
}

static void
free_neigh(void *arg, int idx)
{
	(void)arg;
	dp_neigh_put((uint32_t)idx);
}

static uint32_t
key_hash(const struct dp_sess_key *k)
{
	return rte_hash_crc(k, sizeof(*k), 0x6d667764);
}

static int
match_key(struct cds_lfht_node *node, const void *key)
{
	const struct dp_sess_node *n = caa_container_of(node, struct dp_sess_node, lfht);

	return memcmp(&n->key, key, sizeof(n->key)) == 0;
}

static struct dp_sess *
sess_of(struct cds_lfht_node *node, bool *is_rtcp)
{
	struct dp_sess_node *n = caa_container_of(node, struct dp_sess_node, lfht);

	*is_rtcp = n->rtcp;
	if (n->rtcp)
		return (struct dp_sess *)((char *)n - offsetof(struct dp_sess, n[1]));
	return caa_container_of(n, struct dp_sess, n[0]);
}

struct dp_sess *
dp_sess_lookup(const struct dp_sess_key *key, bool *is_rtcp)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	cds_lfht_lookup(table, key_hash(key), match_key, key, &it);
	node = cds_lfht_iter_get_node(&it);
	return node == NULL ? NULL : sess_of(node, is_rtcp);
}

int
dp_sess_table_init(void)
{
	struct rte_hash_parameters hp = {
		.name = "mfwd_sess_id",
		.entries = dp.cfg.max_sessions < 8 ? 8 : dp.cfg.max_sessions,
		.key_len = MF_SESS_ID_MAX,
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
	};

	unsigned long buckets = 1024;

	/* Sized for --max-sessions (two nodes for kind rtp) from the start: automatic resizing
	 * runs in call_rcu and waits for grace periods, which a long load or a burst of
	 * creates can hold off while lookups walk long chains. */
	while (buckets < 2ul * dp.cfg.max_sessions && buckets < (1ul << 24))
		buckets <<= 1;
	table = cds_lfht_new_flavor(buckets, 1024, 0, CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
				    &urcu_qsbr_flavor, NULL);
	if (table == NULL)
		return -ENOMEM;
	by_id = rte_hash_create(&hp);
	if (by_id == NULL)
		return -rte_errno;
	return 0;
}

static void
id_key(const char *id, char key[MF_SESS_ID_MAX])
{
	memset(key, 0, MF_SESS_ID_MAX);
	snprintf(key, MF_SESS_ID_MAX, "%s", id);
}

struct dp_sess *
dp_sess_find(const char *id)
{
	char key[MF_SESS_ID_MAX];
	void *data;

	id_key(id, key);
	return rte_hash_lookup_data(by_id, key, &data) >= 0 ? data : NULL;
}

uint32_t
dp_sess_count(void)
{
	return nb_sessions;
}

static void
make_key(const struct mf_sess_ingress *in, uint16_t udp_port, struct dp_sess_key *k)
{
	memset(k, 0, sizeof(*k));
	k->port = in->port;
	k->udp_port = udp_port;
	k->family = in->local.family;
	memcpy(k->addr, in->local.a, sizeof(k->addr));
}

static uint16_t
pick_worker(void)
{
	uint16_t w, best = 1;

	for (w = 2; w <= dp.nb_workers; w++)
		if (per_worker[w] < per_worker[best])
			best = w;
	return best;
}

/* ---- validation: everything a command can get wrong, before anything changes ---- */

static int __attribute__((format(printf, 4, 5)))
refuse(int rc, char *detail, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, len, fmt, ap);
	va_end(ap);
	return rc;
}

static int
check_output(const struct mf_sess_output *o, unsigned int i, char *detail, size_t len)
{
	struct dp_port *p = dp_port_by_index(o->port);
	struct mf_addr nh;

	if (p == NULL)
		return refuse(-ENODEV, detail, len, "outputs[%u].port: no port %u", i, o->port);
	if (dp_port_src_addr(p, o->dst.family) == NULL)
		return refuse(-EADDRNOTAVAIL, detail, len,
			      "outputs[%u]: port %u has no IPv%u address to send from", i, o->port,
			      o->dst.family);
	if (dp_port_next_hop(p, &o->dst, &nh) != 0)
		return refuse(-EHOSTUNREACH, detail, len,
			      "outputs[%u]: no route to the destination from port %u (no gateway)",
			      i, o->port);
	return 0;
}

static int
check_spec(const struct mf_sess_spec *spec, char *detail, size_t len)
{
	const struct mf_sess_ingress *in = &spec->ingress;
	struct dp_port *p = dp_port_by_index(in->port);
	unsigned int i;
	int rc;

	if (spec->id[0] == '\0' || memchr(spec->id, '\0', sizeof(spec->id)) == NULL)
		return refuse(-EINVAL, detail, len, "id: missing");
	if (spec->kind < MF_SESS_RTP || spec->kind > MF_SESS_UDP)
		return refuse(-EINVAL, detail, len, "kind: unknown kind %u", spec->kind);
	if (spec->nb_outputs > MF_SESS_MAX_OUTPUTS)
		return refuse(-EINVAL, detail, len, "outputs: more than %d", MF_SESS_MAX_OUTPUTS);
	if (p == NULL)
		return refuse(-ENODEV, detail, len, "ingress.port: no port %u", in->port);
	if (!dp_port_owns(p, in->local.family, in->local.a))
		return refuse(-EADDRNOTAVAIL, detail, len,
			      "ingress.addr: not an address of port %u", in->port);
	if (spec->kind == MF_SESS_RTP && in->udp_port == 65535)
		return refuse(-EINVAL, detail, len, "ingress.udp_port: no room for RTCP above it");
	if (!mf_sess_kind_is_rtp(spec->kind)) {
		if (in->srtp.suite != MF_SRTP_NONE)
			return refuse(-EINVAL, detail, len, "ingress.srtp: only for RTP kinds");
		for (i = 0; i < spec->nb_outputs; i++)
			if (spec->outputs[i].srtp.suite != MF_SRTP_NONE)
				return refuse(-EINVAL, detail, len,
					      "outputs[%u].srtp: only for RTP kinds", i);
	}
	for (i = 0; i < spec->nb_outputs; i++) {
		rc = check_output(&spec->outputs[i], i, detail, len);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static bool
key_taken(const struct mf_sess_ingress *in, uint16_t udp_port)
{
	struct dp_sess_key k;
	bool rtcp;

	make_key(in, udp_port, &k);
	return dp_sess_lookup(&k, &rtcp) != NULL;
}

/* ---- building entries ---- */

static int
out_stats(const char *sess_id, struct dp_out *o)
{
	char name[MF_STATS_NAME_MAX];

	snprintf(name, sizeof(name), "session/%s/out/%s", sess_id, o->cfg.id);
	o->stats_idx = dp_stats_add(name, dp.schema_out, &o->ctr);
	return o->stats_idx < 0 ? o->stats_idx : 0;
}

/* Fill what an output needs to send; new state, stats and neighbour unless @p prev has
 * them for the same output id (then they are taken over). */
static int
out_build(struct dp_sess *s, struct dp_out *o, const struct mf_sess_output *cfg,
	  const struct dp_out *prev)
{
	struct mf_addr nh;
	int rc;

	o->cfg = *cfg;
	o->port = dp_port_by_index(cfg->port);
	o->family = cfg->dst.family;
	memcpy(o->src_ip, dp_port_src_addr(o->port, o->family), o->family == 4 ? 4 : 16);
	o->src_port = cfg->src_port ? cfg->src_port : s->ingress.udp_port;
	o->rtcp_src_port = s->kind == MF_SESS_RTP ? (uint16_t)(o->src_port + 1) : o->src_port;
	o->rtcp_dst_port = s->kind == MF_SESS_RTP ? (uint16_t)(cfg->dst_port + 1) : cfg->dst_port;
	o->stats_idx = -1;
	if (prev != NULL) {
		o->ost = prev->ost;
		o->stats_idx = prev->stats_idx;
		o->ctr = prev->ctr;
		if (prev->cfg.port == cfg->port && mf_addr_equal(&prev->cfg.dst, &cfg->dst)) {
			o->neigh = prev->neigh;
			goto srtp;
		}
	} else {
		o->ost = calloc(1, sizeof(*o->ost));
		if (o->ost == NULL)
			return -ENOMEM;
		rc = out_stats(s->id, o);
		if (rc != 0)
			return rc;
	}
	dp_port_next_hop(o->port, &cfg->dst, &nh);
	rc = dp_neigh_get(cfg->port, &nh, &o->neigh);
	if (rc != 0)
		return rc;
srtp:
	return srtp_take(&o->cfg.srtp, prev != NULL ? prev->srtp : NULL, &o->srtp);
}

static const struct dp_out *
prev_out(const struct dp_sess *old, const char *id)
{
	unsigned int i;

	for (i = 0; old != NULL && i < old->nb_out; i++)
		if (strcmp(old->out[i].cfg.id, id) == 0)
			return &old->out[i];
	return NULL;
}

static struct dp_sess *
sess_alloc(const struct mf_sess_spec *spec)
{
	struct dp_sess *s = calloc(1, sizeof(*s) + spec->nb_outputs * sizeof(struct dp_out));

	if (s == NULL)
		return NULL;
	snprintf(s->id, sizeof(s->id), "%s", spec->id);
	s->kind = spec->kind;
	s->flags = spec->flags;
	s->nb_out = spec->nb_outputs;
	s->ingress = spec->ingress;
	s->limits = spec->limits;
	s->rate_burst = (uint64_t)spec->limits.max_kbps * 125;
	s->rate_bytes_per_tsc_q32 =
		(uint64_t)(((unsigned __int128)s->rate_burst << 32) / dp.tsc_hz);
	s->port = dp_port_by_index(spec->ingress.port);
	s->stats_idx = -1;
	s->timed_idx = UINT32_MAX;
	make_key(&spec->ingress, spec->ingress.udp_port, &s->n[0].key);
	make_key(&spec->ingress, (uint16_t)(spec->ingress.udp_port + 1), &s->n[1].key);
	s->n[1].rtcp = true;
	cds_lfht_node_init(&s->n[0].lfht);
	cds_lfht_node_init(&s->n[1].lfht);
	return s;
}

/* Undo out_build() for outputs that did not exist in @p old (a failed build). */
static void
sess_unbuild(struct dp_sess *s, const struct dp_sess *old, unsigned int built)
{
	unsigned int i;

	for (i = 0; i < built; i++) {
		struct dp_out *o = &s->out[i];
		const struct dp_out *p = prev_out(old, o->cfg.id);

		if (p == NULL || p->srtp != o->srtp)
			mf_srtp_destroy(o->srtp);
		explicit_bzero(&o->cfg.srtp, sizeof(o->cfg.srtp));
		if (p == NULL) {
			free(o->ost);
			dp_stats_remove(o->stats_idx);
		}
		if (p == NULL || p->neigh != o->neigh)
			dp_neigh_put(o->neigh);
	}
}

static int
sess_build_outputs(struct dp_sess *s, const struct mf_sess_spec *spec, const struct dp_sess *old)
{
	unsigned int i;
	int rc;

	for (i = 0; i < s->nb_out; i++) {
		rc = out_build(s, &s->out[i], &spec->outputs[i], prev_out(old, spec->outputs[i].id));
		if (rc != 0) {
			sess_unbuild(s, old, i + 1);
			return rc;
		}
	}
	return 0;
}

static int
sess_publish(struct dp_sess *s)
{
	struct cds_lfht_node *r;

	r = cds_lfht_add_unique(table, key_hash(&s->n[0].key), match_key, &s->n[0].key,
				&s->n[0].lfht);
	if (r != &s->n[0].lfht)
		return -EADDRINUSE;
	if (s->kind == MF_SESS_RTP) {
		r = cds_lfht_add_unique(table, key_hash(&s->n[1].key), match_key, &s->n[1].key,
					&s->n[1].lfht);
		if (r != &s->n[1].lfht) {
			cds_lfht_del(table, &s->n[0].lfht);
			return -EADDRINUSE;
		}
	}
	return 0;
}

int
dp_sess_add(const struct mf_sess_spec *spec, char *detail, size_t len)
{
	char key[MF_SESS_ID_MAX], name[MF_STATS_NAME_MAX];
	struct dp_sess *s = NULL;
	int rc;

	rc = check_spec(spec, detail, len);
	if (rc != 0)
		return rc;
	if (dp_sess_find(spec->id) != NULL)
		return refuse(-EEXIST, detail, len, "id: session \"%s\" exists", spec->id);
	if (nb_sessions >= dp.cfg.max_sessions)
		return refuse(-ENOSPC, detail, len, "the dataplane holds its maximum of %u sessions",
			      dp.cfg.max_sessions);
	if (key_taken(&spec->ingress, spec->ingress.udp_port) ||
	    (spec->kind == MF_SESS_RTP &&
	     key_taken(&spec->ingress, (uint16_t)(spec->ingress.udp_port + 1))))
		return refuse(-EADDRINUSE, detail, len,
			      "ingress: port %u address and UDP port already used by a session",
			      spec->ingress.port);
	s = sess_alloc(spec);
	if (s == NULL)
		goto err_nomem;
	s->st = calloc(1, sizeof(*s->st));
	if (s->st == NULL)
		goto err_nomem;
	s->created_ns = mf_time_ns(CLOCK_REALTIME);
	s->created_tsc = rte_rdtsc();
	atomic_store(&s->st->last_rx_tsc, s->created_tsc);
	s->worker = pick_worker();
	rc = srtp_take(&s->ingress.srtp, NULL, &s->srtp_in);
	if (rc != 0) {
		refuse(rc, detail, len, "ingress.srtp: cannot set up the key: %s", strerror(-rc));
		goto err;
	}
	snprintf(name, sizeof(name), "session/%s", s->id);
	s->stats_idx = dp_stats_add(name, dp.schema_sess, &s->ctr);
	if (s->stats_idx < 0) {
		rc = refuse(-ENOSPC, detail, len, "stats area full");
		goto err;
	}
	rc = sess_build_outputs(s, spec, NULL);
	if (rc != 0) {
		refuse(rc, detail, len, "cannot set up outputs: %s", strerror(-rc));
		goto err;
	}
	id_key(s->id, key);
	rc = rte_hash_add_key_data(by_id, key, s);
	if (rc != 0) {
		sess_unbuild(s, NULL, s->nb_out);
		refuse(rc, detail, len, "session index full");
		goto err;
	}
	rc = timed_update(NULL, s);
	if (rc == 0)
		rc = sess_publish(s);
	if (rc != 0) {
		timed_remove(s);
		rte_hash_del_key(by_id, key);
		sess_unbuild(s, NULL, s->nb_out);
		refuse(rc, detail, len, "ingress address and port taken");
		goto err;
	}
	per_worker[s->worker]++;
	nb_sessions++;
	return 0;

err_nomem:
	rc = refuse(-ENOMEM, detail, len, "out of memory");
err:
	if (s != NULL) {
		dp_stats_remove(s->stats_idx);
		mf_srtp_destroy(s->srtp_in);
		free(s->st);
		free(s);
	}
	return rc;
}

/* The old entry's objects that the new one does not take over go after a grace period. */
static void
defer_dropped_outputs(const struct dp_sess *old, const struct dp_sess *s)
{
	unsigned int i;

	for (i = 0; i < old->nb_out; i++) {
		const struct dp_out *o = &old->out[i];
		const struct dp_out *kept = NULL;
		unsigned int j;

		for (j = 0; j < s->nb_out; j++)
			if (s->out[j].ost == o->ost)
				kept = &s->out[j];
		if (o->srtp != NULL && (kept == NULL || kept->srtp != o->srtp))
			defer(free_srtp, o->srtp, 0);
		if (kept == NULL) {
			defer(free_mem, o->ost, 0);
			defer(free_stats, NULL, o->stats_idx);
		}
		if (kept == NULL || kept->neigh != o->neigh)
			defer(free_neigh, NULL, (int)o->neigh);
	}
}

static void
replace_nodes(struct dp_sess *old, struct dp_sess *s)
{
	struct cds_lfht_node *r;
	int i, n = s->kind == MF_SESS_RTP ? 2 : 1;

	for (i = 0; i < n; i++) {
		r = cds_lfht_add_replace(table, key_hash(&s->n[i].key), match_key, &s->n[i].key,
					 &s->n[i].lfht);
		/* The control lcore is the table's only writer and found @p old by its id, whose
		 * nodes are in the table under these keys: anything else is a broken invariant,
		 * and no unwinding could make the table right again. */
		RTE_VERIFY(r == &old->n[i].lfht);
	}
}

static void
sess_unbuild_ingress(struct dp_sess *s, const struct dp_sess *old)
{
	if (s->srtp_in != old->srtp_in)
		mf_srtp_destroy(s->srtp_in);
}

/* A new ingress key: the one it replaces stays as the previous key (packets already on
 * their way under it still pass). @return the key before that, which no entry will use once
 * @p s is published, or NULL. */
static struct mf_srtp *
sess_rekey_ingress(const struct dp_sess *old, struct dp_sess *s)
{
	if (s->srtp_in == old->srtp_in) {
		s->srtp_in_prev = old->srtp_in_prev;
		return NULL;
	}
	s->srtp_in_prev = old->srtp_in;
	return old->srtp_in_prev;
}

int
dp_sess_replace(const struct mf_sess_spec *spec, char *detail, size_t len)
{
	char key[MF_SESS_ID_MAX];
	struct dp_sess *old, *s;
	struct mf_srtp *retired;
	int rc;

	old = dp_sess_find(spec->id);
	if (old == NULL)
		return refuse(-ENOENT, detail, len, "id: no session \"%s\"", spec->id);
	rc = check_spec(spec, detail, len);
	if (rc != 0)
		return rc;
	if (spec->kind != old->kind || spec->ingress.port != old->ingress.port ||
	    spec->ingress.udp_port != old->ingress.udp_port ||
	    !mf_addr_equal(&spec->ingress.local, &old->ingress.local))
		return refuse(-EINVAL, detail, len,
			      "kind and ingress port, address and udp_port cannot change");
	s = sess_alloc(spec);
	if (s == NULL)
		return refuse(-ENOMEM, detail, len, "out of memory");
	s->st = old->st;
	s->worker = old->worker;
	s->created_ns = old->created_ns;
	s->created_tsc = old->created_tsc;
	s->idle = old->idle;
	s->stats_idx = old->stats_idx;
	s->ctr = old->ctr;
	rc = srtp_take(&s->ingress.srtp, old->srtp_in, &s->srtp_in);
	if (rc != 0) {
		free(s);
		return refuse(rc, detail, len, "ingress.srtp: cannot set up the key: %s",
			      strerror(-rc));
	}
	rc = sess_build_outputs(s, spec, old);
	if (rc != 0) {
		sess_unbuild_ingress(s, old);
		free(s);
		return refuse(rc, detail, len, "cannot set up outputs: %s", strerror(-rc));
	}
	rc = timed_update(old, s);
	if (rc != 0) {
		sess_unbuild(s, old, s->nb_out);
		sess_unbuild_ingress(s, old);
		free(s);
		return refuse(rc, detail, len, "out of memory");
	}
	retired = sess_rekey_ingress(old, s);
	replace_nodes(old, s);
	id_key(s->id, key);
	rte_hash_add_key_data(by_id, key, s);
	if (retired != NULL)
		defer(free_srtp, retired, 0);
	defer_dropped_outputs(old, s);
	defer(free_mem, old, 0);
	return 0;
}

int
dp_sess_del(const char *id, enum mf_event_kind why, char *detail, size_t len)
{
	char key[MF_SESS_ID_MAX];
	struct dp_sess *s = dp_sess_find(id);
	unsigned int i;

	if (s == NULL)
		return refuse(-ENOENT, detail, len, "id: no session \"%s\"", id);
	cds_lfht_del(table, &s->n[0].lfht);
	if (s->kind == MF_SESS_RTP)
		cds_lfht_del(table, &s->n[1].lfht);
	timed_remove(s);
	id_key(id, key);
	rte_hash_del_key(by_id, key);
	if (s->srtp_in != NULL)
		defer(free_srtp, s->srtp_in, 0);
	if (s->srtp_in_prev != NULL)
		defer(free_srtp, s->srtp_in_prev, 0);
	for (i = 0; i < s->nb_out; i++) {
		if (s->out[i].srtp != NULL)
			defer(free_srtp, s->out[i].srtp, 0);
		defer(free_mem, s->out[i].ost, 0);
		defer(free_stats, NULL, s->out[i].stats_idx);
		defer(free_neigh, NULL, (int)s->out[i].neigh);
	}
	defer(free_stats, NULL, s->stats_idx);
	defer(free_mem, s->st, 0);
	defer(free_mem, s, 0);
	per_worker[s->worker]--;
	nb_sessions--;
	dp_event(why, s->id, NULL, 0, 0);
	return 0;
}

void
dp_sess_info(const struct dp_sess *s, struct mf_msg_sess_info *info)
{
	const struct dp_sess_state *st = s->st;
	uint64_t vals[DP_SC_MAX] = { 0 }, last;
	uint16_t l, f;
	unsigned int i;

	memset(info, 0, sizeof(*info));
	snprintf(info->spec.id, sizeof(info->spec.id), "%s", s->id);
	info->spec.kind = s->kind;
	info->spec.flags = s->flags;
	info->spec.ingress = s->ingress;
	info->spec.limits = s->limits;
	info->spec.nb_outputs = s->nb_out;
	for (i = 0; i < s->nb_out; i++)
		info->spec.outputs[i] = s->out[i].cfg;
	mf_sess_wipe_keys(&info->spec);
	info->live.worker = s->worker;
	/* Read without the owner's cooperation: a snapshot that may be a packet old. */
	info->live.src_latched = st->latched;
	info->live.latched_src = st->src;
	info->live.latched_port = st->src_port;
	info->live.last_ssrc = st->rx.ssrc;
	info->live.created_ns = s->created_ns;
	last = atomic_load_explicit(&st->last_rx_tsc, memory_order_relaxed);
	info->live.idle_ms = (rte_rdtsc() - last) * 1000 / dp.tsc_hz;
	for (l = 0; l <= dp.nb_workers; l++) {
		const uint64_t *c = dp_ctr_of(s->ctr, dp.stride_sess, l);

		for (f = 0; f < DP_SC_MAX; f++)
			vals[f] += c[f];
	}
	info->live.rx_pkts = vals[DP_SC_rx_pkts];
	info->live.rx_bytes = vals[DP_SC_rx_bytes];
	info->live.tx_pkts = vals[DP_SC_tx_pkts];
	info->live.dropped = vals[DP_SC_drop_src] + vals[DP_SC_drop_media] + vals[DP_SC_drop_rate] +
			     vals[DP_SC_drop_blocked] + vals[DP_SC_drop_srtp_auth] +
			     vals[DP_SC_drop_srtp_replay];
}

int
dp_sess_list(uint32_t offset, uint32_t limit, struct mf_msg_list *out)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	uint32_t pos = 0;
	bool rtcp;

	memset(out, 0, sizeof(*out));
	out->total = nb_sessions;
	if (limit > MF_LIST_MAX)
		limit = MF_LIST_MAX;
	cds_lfht_for_each(table, &it, node) {
		struct dp_sess *s = sess_of(node, &rtcp);

		if (rtcp)
			continue;
		if (pos++ < offset)
			continue;
		if (out->count == limit)
			break;
		snprintf(out->ids[out->count++], MF_SESS_ID_MAX, "%s", s->id);
	}
	return 0;
}

/* Idle sessions raise an event once (and again when they come back); expired ones go. */
void
dp_sess_clock_advance(uint64_t tsc)
{
	uint32_t k;

	for (k = 0; k < nb_timed; k++) {
		struct dp_sess *s = timed[k];

		s->created_tsc -= RTE_MIN(tsc, s->created_tsc);
		/* Tests advance the clock of idle sessions; a packet arriving meanwhile may be
		 * aged with them, which no test relies on. */
		atomic_fetch_sub_explicit(&s->st->last_rx_tsc,
					  RTE_MIN(tsc, atomic_load(&s->st->last_rx_tsc)),
					  memory_order_relaxed);
	}
}

void
dp_sess_timer(uint64_t now)
{
	char expired[DP_EXPIRE_PER_TICK][MF_SESS_ID_MAX], detail[120];
	unsigned int n = 0, i;
	uint32_t k;

	for (k = 0; k < nb_timed; k++) {
		struct dp_sess *s = timed[k];
		uint64_t last, idle_tsc;

		if (s->limits.timeout_s != 0 &&
		    now - s->created_tsc > (uint64_t)s->limits.timeout_s * dp.tsc_hz) {
			if (n < DP_EXPIRE_PER_TICK)
				snprintf(expired[n++], MF_SESS_ID_MAX, "%s", s->id);
			continue;
		}
		if (s->limits.idle_timeout_ms == 0)
			continue;
		last = atomic_load_explicit(&s->st->last_rx_tsc, memory_order_relaxed);
		idle_tsc = (uint64_t)s->limits.idle_timeout_ms * dp.tsc_hz / 1000;
		if (!s->idle && now - last > idle_tsc) {
			s->idle = true;
			dp_event(MF_EV_SESSION_IDLE, s->id, NULL, 0, 0);
		} else if (s->idle && now - last <= idle_tsc) {
			s->idle = false;
			dp_event(MF_EV_SESSION_ACTIVE, s->id, NULL, 0, 0);
		}
	}
	for (i = 0; i < n; i++)
		dp_sess_del(expired[i], MF_EV_SESSION_TIMEOUT, detail, sizeof(detail));
}

/* At shutdown the workers have stopped: free everything directly, without the events,
 * stats updates and grace periods a deletion by command needs (a million sessions would
 * take a minute that way). */
void
dp_sess_table_fini(void)
{
	struct dp_sess **all;
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	uint32_t n = 0, k;
	unsigned int i;
	bool rtcp;

	if (table == NULL)
		return;
	dp_sess_reclaim();
	all = calloc(nb_sessions ? nb_sessions : 1, sizeof(*all));
	/* cds_lfht_destroy() wants an empty table: unlink every node, then free after one
	 * grace period (there are no readers left; liburcu's contract is kept all the same). */
	cds_lfht_for_each(table, &it, node) {
		struct dp_sess *s = sess_of(node, &rtcp);

		cds_lfht_del(table, node);
		if (!rtcp && all != NULL && n < nb_sessions)
			all[n++] = s;
	}
	/* Offline from here: cds_lfht_destroy() waits for resizes the deletions queued, and a
	 * resize waits for a grace period that an online caller would hold off forever. */
	if (dp.rcu_registered)
		urcu_qsbr_thread_offline();
	if (dp.rcu_registered)
		urcu_qsbr_synchronize_rcu();
	for (k = 0; k < n; k++) {
		for (i = 0; i < all[k]->nb_out; i++) {
			mf_srtp_destroy(all[k]->out[i].srtp);
			free(all[k]->out[i].ost);
		}
		mf_srtp_destroy(all[k]->srtp_in);
		mf_srtp_destroy(all[k]->srtp_in_prev);
		free(all[k]->st);
		free(all[k]);
	}
	free(all);
	cds_lfht_destroy(table, NULL);
	if (dp.rcu_registered)
		urcu_qsbr_thread_online();
	table = NULL;
	rte_hash_free(by_id);
	free(defer_list);
	free(timed);
	nb_sessions = 0;
}
