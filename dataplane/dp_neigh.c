/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The neighbour table: next hops of outputs and their MAC addresses.
 *
 * Control lcore only, except dp_neigh_pub[]: one 64-bit word per entry (MAC, a valid bit
 * and a generation) that workers read with an acquire load per frame, so a MAC learnt or
 * changed takes effect at once without rebuilding any session entry. An output holds a
 * reference; an unreferenced entry is freed (its index reused only after the session
 * entries that named it are gone: puts are deferred past a grace period by dp_defer.c). A
 * reused index gets a new generation, so frames a worker holds for the old next hop
 * (dp_hold.c) never go to the new one.
 *
 * Resolution: an entry starts INCOMPLETE and sends ARP requests (IPv6: neighbour
 * solicitations) once a second, three times, then every 5 s; meanwhile the workers hold a
 * few frames each (dp_hold.c), and send them themselves, in order, once the MAC is here.
 * A reachable entry is refreshed every 30 s and keeps its MAC until a new one is learnt.
 * Static entries come from the port profile and never change.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>

#include "dp.h"

#define PROBE_S		1
#define RETRY_S		5
#define REFRESH_S	30

enum neigh_state {
	N_FREE = 0,
	N_INCOMPLETE,
	N_REACHABLE,
	N_STATIC,
};

struct neigh_key {
	uint16_t port;
	uint8_t family;
	uint8_t reserved;
	uint8_t ip[16];
};

struct dp_neigh_ent {
	uint8_t state;
	uint8_t probes;
	uint32_t refs;
	uint64_t next_tsc;
	struct neigh_key key;
};

struct dp_neigh_pub *dp_neigh_pub;

/* The protocol that asks for a MAC (ARP, ND: dp_slow.c) is registered at start as VPP's ARP
 * registers with its neighbour table: the table never calls it by name. */
void
dp_neigh_register_probe(dp_neigh_probe_fn fn)
{
	dp.neigh.probe = fn;
}

static void
make_key(uint16_t port, const struct mf_addr *ip, struct neigh_key *k)
{
	memset(k, 0, sizeof(*k));
	k->port = port;
	k->family = ip->family;
	memcpy(k->ip, ip->a, ip->family == 4 ? 4 : 16);
}

static void
key_addr(const struct neigh_key *k, struct mf_addr *ip)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = k->family;
	memcpy(ip->a, k->ip, sizeof(ip->a));
}

/* Entry @p idx's word: @p mac (NULL: none, not valid) under its generation. */
static void
publish_mac(uint32_t idx, const uint8_t mac[6])
{
	uint64_t v = (uint64_t)dp_neigh_gen(dp_neigh_word(idx)) << DP_NEIGH_GEN_SHIFT;

	if (mac != NULL) {
		memcpy(&v, mac, 6);
		v |= DP_NEIGH_VALID;
	}
	atomic_store_explicit(&dp_neigh_pub[idx].mac, v, memory_order_release);
}

/* A new generation for a reused index, with no MAC. */
static void
publish_new_gen(uint32_t idx)
{
	uint64_t gen = (uint64_t)((dp_neigh_gen(dp_neigh_word(idx)) + 1) & 0x7fff);

	atomic_store_explicit(&dp_neigh_pub[idx].mac, gen << DP_NEIGH_GEN_SHIFT,
			      memory_order_release);
}

static int
neigh_alloc(uint16_t port, const struct mf_addr *ip, uint32_t *idx)
{
	struct dp_neigh_ent *n;
	int rc;

	if (dp.neigh.nb_free == 0)
		return -ENOSPC;
	*idx = dp.neigh.free_idx[--dp.neigh.nb_free];
	n = &dp.neigh.tab[*idx];
	memset(n, 0, sizeof(*n));
	make_key(port, ip, &n->key);
	rc = rte_hash_add_key_data(dp.neigh.index_of, &n->key, (void *)(uintptr_t)*idx);
	if (rc != 0) {
		dp.neigh.free_idx[dp.neigh.nb_free++] = *idx;
		return rc;
	}
	publish_new_gen(*idx);
	n->state = N_INCOMPLETE;
	return 0;
}

int
dp_neigh_init(void)
{
	struct rte_hash_parameters hp = {
		.name = "mfwd_neigh",
		.entries = DP_MAX_NEIGH,
		.key_len = sizeof(struct neigh_key),
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
	};
	uint32_t i, idx;
	uint16_t p;

	dp_neigh_pub = calloc(DP_MAX_NEIGH, sizeof(*dp_neigh_pub));
	dp.neigh.tab = calloc(DP_MAX_NEIGH, sizeof(*dp.neigh.tab));
	dp.neigh.free_idx = calloc(DP_MAX_NEIGH, sizeof(*dp.neigh.free_idx));
	dp.neigh.index_of = rte_hash_create(&hp);
	if (dp_neigh_pub == NULL || dp.neigh.tab == NULL || dp.neigh.free_idx == NULL ||
	    dp.neigh.index_of == NULL)
		return -ENOMEM;
	for (i = 0; i < DP_MAX_NEIGH; i++)
		dp.neigh.free_idx[i] = DP_MAX_NEIGH - 1 - i;
	dp.neigh.nb_free = DP_MAX_NEIGH;
	for (p = 0; p < dp.nb_ports; p++) {
		const struct dp_port_conf *c = dp.ports[p].conf;

		for (i = 0; i < c->nb_neigh; i++) {
			if (neigh_alloc(p, &c->neigh[i].ip, &idx) != 0)
				return -ENOSPC;
			dp.neigh.tab[idx].state = N_STATIC;
			dp.neigh.tab[idx].refs = 1;	/* never freed */
			publish_mac(idx, c->neigh[i].mac.addr_bytes);
		}
	}
	return 0;
}

void
dp_neigh_fini(void)
{
	rte_hash_free(dp.neigh.index_of);
	free(dp.neigh.tab);
	free(dp.neigh.free_idx);
	free(dp_neigh_pub);
	dp.neigh.tab = NULL;
}

static int
neigh_find(uint16_t port, const struct mf_addr *ip, uint32_t *idx)
{
	struct neigh_key k;
	void *data;

	make_key(port, ip, &k);
	if (rte_hash_lookup_data(dp.neigh.index_of, &k, &data) < 0)
		return -ENOENT;
	*idx = (uint32_t)(uintptr_t)data;
	return 0;
}

int
dp_neigh_get(uint16_t port, const struct mf_addr *ip, uint32_t *idx)
{
	int rc;

	if (neigh_find(port, ip, idx) == 0) {
		dp.neigh.tab[*idx].refs++;
		return 0;
	}
	rc = neigh_alloc(port, ip, idx);
	if (rc != 0)
		return rc;
	dp.neigh.tab[*idx].refs = 1;
	dp.neigh.tab[*idx].probes = 1;
	dp.neigh.tab[*idx].next_tsc = rte_rdtsc() + PROBE_S * dp.tsc_hz;
	dp.neigh.probe(port, ip, false);
	return 0;
}

void
dp_neigh_put(uint32_t idx)
{
	struct dp_neigh_ent *n;

	if (idx == DP_NEIGH_NONE)
		return;
	n = &dp.neigh.tab[idx];
	if (n->state == N_FREE || n->state == N_STATIC || --n->refs > 0)
		return;
	rte_hash_del_key(dp.neigh.index_of, &n->key);
	n->state = N_FREE;
	publish_mac(idx, NULL);
	dp.neigh.free_idx[dp.neigh.nb_free++] = idx;
}

void
dp_neigh_learn(uint16_t port, const struct mf_addr *ip, const uint8_t mac[6])
{
	struct dp_neigh_ent *n;
	uint32_t idx;

	/* Entries exist only for next hops in use. */
	if (neigh_find(port, ip, &idx) != 0)
		return;
	n = &dp.neigh.tab[idx];
	if (n->state == N_STATIC)
		return;
	publish_mac(idx, mac);
	n->state = N_REACHABLE;
	n->probes = 0;
	n->next_tsc = rte_rdtsc() + REFRESH_S * dp.tsc_hz;
}

void
dp_neigh_timer(uint64_t now)
{
	struct mf_addr ip;
	uint32_t i;

	for (i = 0; i < DP_MAX_NEIGH; i++) {
		struct dp_neigh_ent *n = &dp.neigh.tab[i];

		if ((n->state != N_INCOMPLETE && n->state != N_REACHABLE) || now < n->next_tsc)
			continue;
		key_addr(&n->key, &ip);
		dp.neigh.probe(n->key.port, &ip, false);
		if (n->state == N_REACHABLE) {
			n->next_tsc = now + REFRESH_S * dp.tsc_hz;
		} else if (++n->probes < 3) {
			n->next_tsc = now + PROBE_S * dp.tsc_hz;
		} else {
			n->probes = 0;
			n->next_tsc = now + RETRY_S * dp.tsc_hz;
		}
	}
}

void
dp_neigh_announce(void)
{
	struct mf_addr ip;
	uint16_t p;
	uint8_t i;

	for (p = 0; p < dp.nb_ports; p++) {
		const struct dp_port_conf *c = dp.ports[p].conf;

		for (i = 0; i < c->nb_v4; i++) {
			memset(&ip, 0, sizeof(ip));
			ip.family = 4;
			memcpy(ip.a, c->v4[i].a, 4);
			dp.neigh.probe(p, &ip, true);
		}
		for (i = 0; i < c->nb_v6; i++) {
			ip.family = 6;
			memcpy(ip.a, c->v6[i].a, 16);
			dp.neigh.probe(p, &ip, true);
		}
	}
}
