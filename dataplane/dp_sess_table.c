/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The session table: a liburcu lock-free hash table (cds_lfht, QSBR flavour) keyed by
 * (port, local address, local UDP port), read by workers without locks; and, on the
 * control lcore only, the index by session id. A second table, looked in only when the first
 * has no session for a packet, finds a session by where its outputs' receivers send RTCP.
 * Entries go in and out whole: published
 * (both nodes of an RTP session, or neither), swapped for their replacement, unlinked.
 * Building them is dp_sess_build.c's job, timing them dp_sess_timer.c's.
 */

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

	cds_lfht_lookup(dp.sess.table, key_hash(key), match_key, key, &it);
	node = cds_lfht_iter_get_node(&it);
	return node == NULL ? NULL : sess_of(node, is_rtcp);
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
	dp.sess.table = cds_lfht_new_flavor(buckets, 1024, 0,
					    CDS_LFHT_AUTO_RESIZE | CDS_LFHT_ACCOUNTING,
					    &urcu_qsbr_flavor, NULL);
	dp.sess.fb_table = cds_lfht_new_flavor(1024, 1024, 0, CDS_LFHT_AUTO_RESIZE, &urcu_qsbr_flavor,
					       NULL);
	if (dp.sess.table == NULL || dp.sess.fb_table == NULL)
		return -ENOMEM;
	dp.sess.by_id = rte_hash_create(&hp);
	if (dp.sess.by_id == NULL)
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

int
dp_sess_tab_publish(struct dp_sess *s)
{
	struct cds_lfht_node *r;

	r = cds_lfht_add_unique(dp.sess.table, key_hash(&s->n[0].key), match_key, &s->n[0].key,
				&s->n[0].lfht);
	if (r != &s->n[0].lfht)
		return -EADDRINUSE;
	if (s->kind == MF_SESS_RTP) {
		r = cds_lfht_add_unique(dp.sess.table, key_hash(&s->n[1].key), match_key, &s->n[1].key,
					&s->n[1].lfht);
		if (r != &s->n[1].lfht) {
			cds_lfht_del(dp.sess.table, &s->n[0].lfht);
			return -EADDRINUSE;
		}
	}
	return 0;
}

void
dp_sess_tab_replace(struct dp_sess *old, struct dp_sess *s)
{
	struct cds_lfht_node *r;
	int i, n = s->kind == MF_SESS_RTP ? 2 : 1;

	for (i = 0; i < n; i++) {
		r = cds_lfht_add_replace(dp.sess.table, key_hash(&s->n[i].key), match_key,
					 &s->n[i].key, &s->n[i].lfht);
		/* The control lcore is the table's only writer and found @p old by its id, whose
		 * nodes are in the table under these keys: anything else is a broken invariant,
		 * and no unwinding could make the table right again. */
		RTE_VERIFY(r == &old->n[i].lfht);
	}
}

int
dp_sess_list(uint32_t offset, uint32_t limit, struct mf_msg_list *out)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	uint32_t pos = 0;
	bool rtcp;

	memset(out, 0, sizeof(*out));
	out->total = dp.sess.nb;
	if (limit > MF_LIST_MAX)
		limit = MF_LIST_MAX;
	cds_lfht_for_each(dp.sess.table, &it, node) {
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

int
dp_sess_tab_index(struct dp_sess *s)
{
	char key[MF_SESS_ID_MAX];

	id_key(s->id, key);
	return rte_hash_add_key_data(dp.sess.by_id, key, s);
}

void
dp_sess_tab_unindex(const struct dp_sess *s)
{
	char key[MF_SESS_ID_MAX];

	id_key(s->id, key);
	rte_hash_del_key(dp.sess.by_id, key);
}

void
dp_sess_tab_unlink(struct dp_sess *s)
{
	cds_lfht_del(dp.sess.table, &s->n[0].lfht);
	if (s->kind == MF_SESS_RTP)
		cds_lfht_del(dp.sess.table, &s->n[1].lfht);
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

/* Shutdown: unlink every node; @return the entries (one per session; free with free()),
 * their number in *n. cds_lfht_destroy() wants an empty table. */
struct dp_sess **
dp_sess_tab_drain(uint32_t *n)
{
	struct dp_sess **all = calloc(dp.sess.nb ? dp.sess.nb : 1, sizeof(*all));
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	bool rtcp;

	*n = 0;
	cds_lfht_for_each(dp.sess.table, &it, node) {
		struct dp_sess *s = sess_of(node, &rtcp);

		cds_lfht_del(dp.sess.table, node);
		if (!rtcp && all != NULL && *n < dp.sess.nb) {
			dp_sess_fb_unlink(s);
			all[(*n)++] = s;
		}
	}
	return all;
}

/* Context: QSBR offline (a resize the deletions queued waits for a grace period). */
void
dp_sess_tab_destroy(void)
{
	cds_lfht_destroy(dp.sess.table, NULL);
	dp.sess.table = NULL;
	cds_lfht_destroy(dp.sess.fb_table, NULL);
	dp.sess.fb_table = NULL;
	rte_hash_free(dp.sess.by_id);
	dp.sess.by_id = NULL;
	dp.sess.nb = 0;
}
