/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session table: a DPDK hash (rte_hash) in its lock-free mode keyed by (port, local
 * address, local UDP port), read by workers without locks, a burst at a time; the control
 * lcore is its only writer. Entries it points to are freed after a liburcu (QSBR) grace
 * period, and so are the key slots it gives back (rte_hash keeps a deleted key's slot until
 * told: a reader may be comparing it). On the control lcore only, the index by session id.
 * A second table, looked in only when the first has no session for a packet, finds a session
 * by where its outputs' receivers send RTCP. Entries go in and out whole: published (both
 * nodes of an RTP session, or neither), swapped for their replacement, unlinked.
 * Building them is dp_sess_build.c's job, timing them dp_sess_timer.c's.
 *
 * Why rte_hash and not liburcu's cds_lfht for the lookup: its bulk lookup hashes a burst
 * and fetches the buckets and keys of every packet before comparing any (cds_lfht walks one
 * chain at a time, through pointers nothing can prefetch), and its memory is hugepages
 * (perf/RESULTS.md, "The session table").
 */

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>

#include "dp.h"
#include "dp_sess.h"

static_assert(sizeof(struct dp_sess_key) == 32, "rte_hash compares 32-byte keys in vectors");
static_assert(DP_BURST <= RTE_HASH_LOOKUP_BULK_MAX, "a burst is one bulk lookup");

static uint32_t
key_hash(const struct dp_sess_key *k)
{
	return rte_hash_crc(k, sizeof(*k), 0x6d667764);
}

/* The table's data: the entry, its low bit set for the RTCP node (entries are cache-line
 * aligned), so a lookup reads nothing of the entry. */
static inline void *
node_data(const struct dp_sess *s, bool rtcp)
{
	return (void *)((uintptr_t)s | (uintptr_t)rtcp);
}

static inline struct dp_sess *
data_sess(void *data, bool *is_rtcp)
{
	*is_rtcp = ((uintptr_t)data & 1) != 0;
	return (struct dp_sess *)((uintptr_t)data & ~(uintptr_t)1);
}

struct dp_sess *
dp_sess_lookup(const struct dp_sess_key *key, bool *is_rtcp)
{
	void *data;

	if (rte_hash_lookup_data(dp.sess.table, key, &data) < 0)
		return NULL;
	return data_sess(data, is_rtcp);
}

uint64_t
dp_sess_lookup_bulk(const struct dp_sess_key **keys, unsigned int n, struct dp_sess **s,
		    bool *is_rtcp)
{
	void *data[DP_BURST];
	uint64_t hits = 0;
	unsigned int i;

	if (n == 0 || rte_hash_lookup_bulk_data(dp.sess.table, (const void **)keys, n, &hits,
						data) <= 0)
		return 0;
	for (i = 0; i < n; i++)
		if (hits & (1ull << i))
			s[i] = data_sess(data[i], &is_rtcp[i]);
	return hits;
}

static int
match_fb(struct cds_lfht_node *node, const void *key)
{
	const struct dp_fb_node *n = caa_container_of(node, struct dp_fb_node, lfht);

	return memcmp(&n->key, key, sizeof(n->key)) == 0;
}

struct dp_sess *
dp_sess_lookup_fb(const struct dp_sess_key *key)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;

	cds_lfht_lookup(dp.sess.fb_table, key_hash(key), match_fb, key, &it);
	node = cds_lfht_iter_get_node(&it);
	return node == NULL ? NULL : caa_container_of(node, struct dp_fb_node, lfht)->sess;
}

struct dp_sess *
dp_sess_at(const struct mf_pkt_l4 *l4, uint16_t port)
{
	struct dp_sess_key k;
	struct dp_sess *s;
	bool rtcp;

	dp_sess_key_of(l4, port, &k);
	s = dp_sess_lookup(&k, &rtcp);
	return s != NULL ? s : dp_sess_lookup_fb(&k);
}

/* Key slots: two per session, and those of keys deleted and not yet given back. A slot is
 * given back at the grace period that ends each control-lcore iteration, and an iteration
 * creates at most 32 sessions (its commands, dp_ctrl.c): slots in use never pass the keys
 * live at its start, at most two per session of --max-sessions, and 64. */
#define TABLE_SLACK	1024

int
dp_sess_table_init(void)
{
	uint32_t max = dp.cfg.max_sessions < 8 ? 8 : dp.cfg.max_sessions;
	struct rte_hash_parameters hp = {
		.name = "mfwd_sess_id",
		.entries = max,
		.key_len = MF_SESS_ID_MAX,
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
		/* Every one of .entries usable: the id index must not fill before the table. */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	struct rte_hash_parameters kp = {
		.name = "mfwd_sess_key",
		/* Room to spare: cuckoo inserts near a full table search long and make
		 * readers retry (the buckets are rounded up to a power of two besides). */
		.entries = RTE_MAX(2 * max + TABLE_SLACK, 2 * max / 4 * 5),
		.key_len = sizeof(struct dp_sess_key),
		.hash_func = rte_hash_crc,
		.hash_func_init_val = 0x6d667764,
		.socket_id = (int)rte_socket_id(),
		/* Workers read while the control lcore writes; the extendable buckets make
		 * every one of .entries usable whatever the keys' hashes. */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};

	/* rte_hash_create() leaves rte_errno as it was when an allocation fails. */
	rte_errno = 0;
	dp.sess.table = rte_hash_create(&kp);
	dp.sess.by_id = dp.sess.table != NULL ? rte_hash_create(&hp) : NULL;
	if (dp.sess.by_id == NULL) {
		DP_LOG(ERR, "session tables for %u sessions: %s (hugepages?)\n", max,
		       rte_errno ? rte_strerror(rte_errno) : "out of memory");
		goto fail;
	}
	dp.sess.all = calloc(max, sizeof(*dp.sess.all));
	if (dp.sess.all == NULL) {
		DP_LOG(ERR, "session list for %u sessions: out of memory\n", max);
		goto fail;
	}
	dp.sess.cap_all = max;
	dp.sess.fb_table = cds_lfht_new_flavor(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE,
					       &urcu_qsbr_flavor, NULL);
	if (dp.sess.fb_table == NULL) {
		DP_LOG(ERR, "session feedback index: out of memory\n");
		goto fail;
	}
	return 0;

fail:
	free(dp.sess.all);
	dp.sess.all = NULL;
	rte_hash_free(dp.sess.by_id);
	rte_hash_free(dp.sess.table);
	dp.sess.by_id = dp.sess.table = NULL;
	return rte_errno ? -rte_errno : -ENOMEM;
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
	return rte_hash_lookup_data(dp.sess.by_id, key, &data) >= 0 ? data : NULL;
}

uint32_t
dp_sess_count(void)
{
	return dp.sess.nb;
}

void
dp_sess_make_key(const struct mf_sess_ingress *in, uint16_t udp_port, struct dp_sess_key *k)
{
	memset(k, 0, sizeof(*k));
	k->port = in->port;
	k->udp_port = udp_port;
	k->family = in->local.family;
	memcpy(k->addr, in->local.a, sizeof(k->addr));
}

bool
dp_sess_key_taken(const struct mf_sess_ingress *in, uint16_t udp_port)
{
	struct dp_sess_key k;
	bool rtcp;

	dp_sess_make_key(in, udp_port, &k);
	return dp_sess_lookup(&k, &rtcp) != NULL;
}

/* After a grace period (dp_defer.c): no reader compares the deleted key any more. */
static void
key_slot_free(void *arg, int pos)
{
	(void)arg;
	rte_hash_free_key_with_position(dp.sess.table, pos);
}

static void
key_del(const struct dp_sess_key *k)
{
	int pos = rte_hash_del_key(dp.sess.table, k);

	if (pos >= 0)
		dp_defer(key_slot_free, NULL, pos);
}

int
dp_sess_tab_publish(struct dp_sess *s)
{
	bool rtp = s->kind == MF_SESS_RTP;
	int rc;

	if (rte_hash_lookup(dp.sess.table, &s->n[0].key) >= 0 ||
	    (rtp && rte_hash_lookup(dp.sess.table, &s->n[1].key) >= 0))
		return -EADDRINUSE;
	rc = rte_hash_add_key_data(dp.sess.table, &s->n[0].key, node_data(s, false));
	if (rc == 0 && rtp &&
	    (rc = rte_hash_add_key_data(dp.sess.table, &s->n[1].key, node_data(s, true))) != 0) {
		key_del(&s->n[0].key);
		/* A worker may have found @p s by its RTP key: the caller frees it at once. */
		urcu_qsbr_synchronize_rcu();
	}
	return rc;
}

void
dp_sess_tab_replace(struct dp_sess *old, struct dp_sess *s)
{
	int i, n = s->kind == MF_SESS_RTP ? 2 : 1;
	void *data;

	for (i = 0; i < n; i++) {
		/* The control lcore is the table's only writer and found @p old by its id, whose
		 * keys are in the table: anything else is a broken invariant, and no unwinding
		 * could make the table right again. Adding a present key swaps its data in one
		 * store, which readers see whole. */
		RTE_VERIFY(rte_hash_lookup_data(dp.sess.table, &s->n[i].key, &data) >= 0 &&
			   data == node_data(old, i == 1));
		RTE_VERIFY(rte_hash_add_key_data(dp.sess.table, &s->n[i].key,
						 node_data(s, i == 1)) == 0);
	}
}

int
dp_sess_list(uint32_t offset, uint32_t limit, struct mf_msg_list *out)
{
	const void *key;
	void *data;
	uint32_t pos = 0, next = 0;
	bool rtcp;

	memset(out, 0, sizeof(*out));
	out->total = dp.sess.nb;
	if (limit > MF_LIST_MAX)
		limit = MF_LIST_MAX;
	while (out->count < limit && rte_hash_iterate(dp.sess.table, &key, &data, &next) >= 0) {
		struct dp_sess *s = data_sess(data, &rtcp);

		if (rtcp || pos++ < offset)
			continue;
		snprintf(out->ids[out->count++], MF_SESS_ID_MAX, "%s", s->id);
	}
	return 0;
}

/* The id index and the dense list of every session move together: an entry of an id
 * already indexed takes the place of the one it replaces. */
int
dp_sess_tab_index(struct dp_sess *s)
{
	char key[MF_SESS_ID_MAX];
	bool added = false;
	void *old;
	int rc;

	id_key(s->id, key);
	if (rte_hash_lookup_data(dp.sess.by_id, key, &old) >= 0) {
		s->all_idx = ((struct dp_sess *)old)->all_idx;
	} else {
		if (dp.sess.nb_all == dp.sess.cap_all)
			return -ENOSPC;
		s->all_idx = dp.sess.nb_all;
		added = true;
	}
	rc = rte_hash_add_key_data(dp.sess.by_id, key, s);
	if (rc != 0)
		return rc;
	dp.sess.nb_all += added;
	/* A replacement keeps its place's synced: the state, so the counters, are the same. */
	dp.sess.all[s->all_idx].s = s;
	dp.sess.all[s->all_idx].hot = &s->st->hot;
	if (added)
		dp.sess.all[s->all_idx].synced = 0;
	return 0;
}

void
dp_sess_tab_unindex(const struct dp_sess *s)
{
	char key[MF_SESS_ID_MAX];
	uint32_t i = s->all_idx;

	id_key(s->id, key);
	rte_hash_del_key(dp.sess.by_id, key);
	dp.sess.all[i] = dp.sess.all[--dp.sess.nb_all];
	dp.sess.all[i].s->all_idx = i;
}

void
dp_sess_tab_unlink(struct dp_sess *s)
{
	key_del(&s->n[0].key);
	if (s->kind == MF_SESS_RTP)
		key_del(&s->n[1].key);
}

/* ---- the feedback index ---- */

static bool
fb_key_known(const struct dp_sess *s, const struct dp_sess_key *k, unsigned int nb)
{
	unsigned int i;

	for (i = 0; i < nb; i++)
		if (memcmp(&s->fb[i].key, k, sizeof(*k)) == 0)
			return true;
	return memcmp(&s->n[0].key, k, sizeof(*k)) == 0 ||
	       (s->kind == MF_SESS_RTP && memcmp(&s->n[1].key, k, sizeof(*k)) == 0);
}

int
dp_sess_fb_build(struct dp_sess *s)
{
	unsigned int i;

	s->nb_fb = 0;
	s->fb = NULL;
	if (!mf_sess_kind_is_rtp(s->kind) || s->nb_out == 0)
		return 0;
	s->fb = calloc(s->nb_out, sizeof(*s->fb));
	if (s->fb == NULL)
		return -ENOMEM;
	for (i = 0; i < s->nb_out; i++) {
		const struct dp_out *o = &s->out[i];
		struct dp_sess_key k;

		memset(&k, 0, sizeof(k));
		k.port = o->cfg.port;
		k.udp_port = o->rtcp_src_port;
		/* An ICE output without a destination yet: where its receiver's checks come. */
		k.family = o->family ? o->family : s->ingress.local.family;
		memcpy(k.addr, o->src_ip, k.family == 4 ? 4 : 16);
		if (fb_key_known(s, &k, s->nb_fb))
			continue;
		s->fb[s->nb_fb].key = k;
		s->fb[s->nb_fb].sess = s;
		cds_lfht_node_init(&s->fb[s->nb_fb].lfht);
		s->nb_fb++;
	}
	return 0;
}

/* @p old's linked node of key @p k, or NULL. */
static struct dp_fb_node *
fb_node_of(struct dp_sess *old, const struct dp_sess_key *k)
{
	unsigned int i;

	for (i = 0; old != NULL && i < old->nb_fb; i++)
		if (old->fb[i].linked && memcmp(&old->fb[i].key, k, sizeof(*k)) == 0)
			return &old->fb[i];
	return NULL;
}

/* A key another session holds stays with it: its receivers' RTCP would otherwise change
 * hands silently. Readers see either node of a replaced key, never none. */
void
dp_sess_fb_link(struct dp_sess *old, struct dp_sess *s)
{
	unsigned int i;

	for (i = 0; i < s->nb_fb; i++) {
		struct dp_fb_node *n = &s->fb[i], *prev = fb_node_of(old, &n->key);
		unsigned long h = key_hash(&n->key);

		if (prev != NULL) {
			RTE_VERIFY(cds_lfht_add_replace(dp.sess.fb_table, h, match_fb, &n->key,
							&n->lfht) == &prev->lfht);
			prev->linked = false;
			n->linked = true;
		} else {
			n->linked = cds_lfht_add_unique(dp.sess.fb_table, h, match_fb, &n->key,
							&n->lfht) == &n->lfht;
		}
	}
	if (old != NULL)
		dp_sess_fb_unlink(old);
}

void
dp_sess_fb_unlink(struct dp_sess *s)
{
	unsigned int i;

	for (i = 0; i < s->nb_fb; i++) {
		if (s->fb[i].linked)
			cds_lfht_del(dp.sess.fb_table, &s->fb[i].lfht);
		s->fb[i].linked = false;
	}
}

/* Shutdown, the workers stopped: @return the entries (one per session),
 * their number in *n; the feedback index emptied (cds_lfht_destroy() wants it so). */
struct dp_sess **
dp_sess_tab_drain(uint32_t *n)
{
	struct dp_sess **all = calloc(dp.sess.nb ? dp.sess.nb : 1, sizeof(*all));
	const void *key;
	void *data;
	uint32_t next = 0;
	bool rtcp;

	*n = 0;
	while (rte_hash_iterate(dp.sess.table, &key, &data, &next) >= 0) {
		struct dp_sess *s = data_sess(data, &rtcp);

		if (rtcp)
			continue;
		dp_sess_fb_unlink(s);
		if (all != NULL && *n < dp.sess.nb)
			all[(*n)++] = s;
	}
	return all;
}

/* Context: QSBR offline (a resize the deletions queued waits for a grace period). */
void
dp_sess_tab_destroy(void)
{
	rte_hash_free(dp.sess.table);
	dp.sess.table = NULL;
	cds_lfht_destroy(dp.sess.fb_table, NULL);
	dp.sess.fb_table = NULL;
	rte_hash_free(dp.sess.by_id);
	dp.sess.by_id = NULL;
	free(dp.sess.all);
	dp.sess.all = NULL;
	dp.sess.nb = dp.sess.nb_all = dp.sess.cap_all = 0;
}
