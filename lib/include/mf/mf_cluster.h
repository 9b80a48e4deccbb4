/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cluster's registry, read from the broker: every node's retained status on
 * <prefix>/<node>/status (docs/control-api.md, "Status and events"), parsed strictly and
 * kept by node id, with what placing a session needs (capacity left, load, freshness).
 * Pure: no MQTT here; a tool or a control plane feeds it the messages it receives.
 *
 * Statuses are untrusted (anyone the broker lets publish there): every field is checked,
 * a bad one makes the node "invalid" with a sentence, and nothing is ever read out of
 * bounds. Strings are cut to their fields' sizes.
 */
#ifndef MF_CLUSTER_H
#define MF_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MF_CLUSTER_ID_MAX	64	/* a node id with its NUL (the control plane's limit) */
#define MF_CLUSTER_STATUS_MAX	65536	/* a status's bytes */
#define MF_CLUSTER_MAX_NODES	4096
#define MF_CLUSTER_PENDING	16
#define MF_CLUSTER_PEND_MS	10000	/* a send never settled: not counted after this */
#define MF_CLUSTER_PICK_ALL	4	/* mf_cluster_pick() takes the best among this many */

struct mf_node_status {
	char node[MF_CLUSTER_ID_MAX];
	bool valid;			/* false: the last status did not parse (why says why) */
	char why[160];
	bool online;
	char reason[32];		/* offline: why ("stopped", or the will's) */
	char version[16];
	uint64_t time_ms;		/* when the node published it (its clock) */
	bool dp_up;
	bool dp_stalled;		/* it has not answered its control plane of late */
	uint64_t generation;
	uint32_t sessions, outputs;
	uint64_t kbps;
	bool draining;
	bool failover;			/* takes dead nodes' sessions over: may be an heir */
	uint32_t max_sessions, sessions_free, max_outputs;
	uint64_t max_kbps;
	double rx_pps, rx_kbps, tx_pps, tx_kbps, busy_max, busy_mean;
	uint32_t ports;
	char pool[64];			/* the pool group it takes placed requests for; "" none */
	/* kept by the reader, not parsed: */
	uint64_t shun_until_ms;		/* a placer's: not chosen before then (its clock) */
	bool cleared;			/* its status cleared, kept for the shun */
	/* a placer's sessions sent to it, by when (its clock), until a status from after
	 * them: counted on top of the status's (MF_CLUSTER_PENDING: the last merged) */
	uint64_t pend_ms[MF_CLUSTER_PENDING];
	uint32_t pend_n[MF_CLUSTER_PENDING];
	uint32_t nb_pend;
	/* of those, what its status does not count yet (sent since, or unanswered when it
	 * came): each other placer of the pool has likely sent as many (mf_cluster_pick()) */
	uint32_t sent;
	bool full;			/* refused as full: until its next status */
};

struct mf_cluster {
	struct mf_node_status *nodes;	/* unordered (a removal moves the last one in) */
	uint32_t n, cap;
	char prefix[64];
	uint64_t pend_life_ms;		/* MF_CLUSTER_PEND_MS unless a placer waits longer */
};

/** An empty registry for statuses under @p prefix ("mfwd"). @return 0, -EINVAL. */
int mf_cluster_init(struct mf_cluster *c, const char *prefix);
void mf_cluster_free(struct mf_cluster *c);

/**
 * Parse one status @p payload (@p len bytes, not NUL-terminated) published on @p topic into
 * @p st. The topic must be <prefix>/<node>/status, and the payload's "node" that node.
 * @return 0, or -EINVAL with st->why set (st->node is the topic's node when it has one).
 */
int mf_cluster_parse(const struct mf_cluster *c, const char *topic, const void *payload,
		     size_t len, struct mf_node_status *st);

/**
 * Take a message received on @p topic at @p now_ms (the reader's clock): a status replaces
 * the node's entry (an invalid one is kept as invalid, so a tool can show it), an empty
 * payload (a retained status cleared) removes it (a node shunned beyond @p now_ms is kept,
 * invalid, until mf_cluster_expire(): its shun must outlive the clearing). Topics not of the
 * form <prefix>/<node>/status are ignored.
 * @return 1 taken, 0 ignored, -ENOMEM, -ENOSPC (MF_CLUSTER_MAX_NODES).
 */
int mf_cluster_update(struct mf_cluster *c, const char *topic, const void *payload, size_t len,
		      uint64_t now_ms);

/** Remove the entries of cleared statuses whose shun has ended by @p now_ms. */
void mf_cluster_expire(struct mf_cluster *c, uint64_t now_ms);

/** The node's entry, or NULL. */
const struct mf_node_status *mf_cluster_find(const struct mf_cluster *c, const char *node);

/**
 * The node a new session should go to: valid, online, its dataplane up, not draining,
 * with a session free, a status at most @p max_age_ms old at @p now_ms (0: any age), and
 * the least loaded (the busiest worker's share: below 25 % all alike, above in steps of
 * 10 %; then the smallest share of its max_sessions in use, then the id).
 * @return the entry, or NULL when no node can take it.
 */
const struct mf_node_status *mf_cluster_best(const struct mf_cluster *c, uint64_t now_ms,
					     uint64_t max_age_ms);

/**
 * mf_cluster_best() among the nodes that take placed requests for @p pool (NULL: any node),
 * passing over the @p nb_skip nodes named in @p skip and those shunned until after
 * @p now_ms.
 */
const struct mf_node_status *mf_cluster_best_skip(const struct mf_cluster *c, uint64_t now_ms,
						  uint64_t max_age_ms, const char *pool,
						  const char *const *skip, uint32_t nb_skip);

/**
 * What a placer sends a session to: mf_cluster_best_skip() among up to MF_CLUSTER_PICK_ALL
 * nodes that can take it; among more, the better of two of them chosen by the random
 * number @p r. Every placer reads the same statuses, and with the best each would send to
 * the same emptiest node until its next status (a herd: at 20 nodes, 414 to 765 sessions
 * where 500 was even); two random choices spread the placers and still favour the emptier
 * (as Envoy's least-request balancer does). A node's sessions are ranked with the
 * sessions this reader sent it since its status times the number of other nodes that can
 * take it: the pool's nodes each place about as many (the broker shares the pool's
 * requests out), and a node whose status is older would otherwise look the emptiest to
 * every placer (three nodes given 300 at once held 82 to 123, one 147). @return the entry,
 * or NULL.
 */
const struct mf_node_status *mf_cluster_pick(const struct mf_cluster *c, uint64_t now_ms,
					     uint64_t max_age_ms, const char *pool,
					     const char *const *skip, uint32_t nb_skip, uint64_t r);

/**
 * @p n sessions sent to @p node at @p now_ms: counted in its entry (more sessions, fewer
 * free) until they are settled (mf_cluster_settle()) and a status arrives after that, or a
 * status arrives pend_life_ms after the send (both times the reader's clock). A
 * placer that sends many sessions between two statuses spreads them so, without counting
 * twice those a status already counts. @return 0, or -ENOENT.
 */
int mf_cluster_count(struct mf_cluster *c, const char *node, uint32_t n, uint64_t now_ms);

/**
 * @p n of the sessions counted on @p node answered: @p created, they stay counted until its
 * next status (which counts them itself: a node answers before it publishes); refused (or
 * never answered), they are taken back. The oldest sends first, never more than were
 * counted. @return 0, or -ENOENT.
 */
int mf_cluster_settle(struct mf_cluster *c, const char *node, uint32_t n, bool created);

/**
 * @p node refused a session as full: not chosen until its next status says otherwise
 * (room freed there is seen then), whatever is settled meanwhile. @return 0, or -ENOENT.
 */
int mf_cluster_full(struct mf_cluster *c, const char *node);

/**
 * Pass over @p node until @p until_ms (it took a session and did not answer, or refused
 * one as full): kept across its statuses, since a node that lies says the same again.
 * @return 0, or -ENOENT.
 */
int mf_cluster_shun(struct mf_cluster *c, const char *node, uint64_t until_ms);

/** Failover: a dead node's records are filed in this many buckets by their id. */
#define MF_CLUSTER_BUCKETS	256

/**
 * The bucket of session @p id's record, 0 to MF_CLUSTER_BUCKETS - 1 (its topic's level,
 * "%02x"): the low byte of FNV-1a 64 of the id, mixed by splitmix64's finisher.
 */
uint32_t mf_cluster_bucket(const char *id);

/**
 * Failover: the node that takes over the sessions of @p bucket of the dead node @p dead.
 * Among the nodes of pool group @p pool that are valid, online, with their dataplane up
 * and not draining (not @p dead), the one of highest rendezvous weight for (node, dead,
 * bucket): every node that reads the same online nodes names the same heir, whatever order
 * it holds them in, and a node's death moves only the buckets it had. Per bucket, not per
 * session, so that each heir subscribes to its buckets alone and every record is read once
 * (docs/cluster.md). Load, fullness and age are not looked at: they differ between readers
 * by the moment a status came, and the heir must not. The @p nb_skip nodes named in
 * @p skip (those that said they could not take a session) are passed over: the next in
 * rank takes it. @return the entry, or NULL when no node can take it.
 */
const struct mf_node_status *mf_cluster_heir(const struct mf_cluster *c, const char *pool,
					     const char *dead, uint32_t bucket,
					     const char *const *skip, uint32_t nb_skip);

/**
 * Which nodes could be heirs (mf_cluster_heir's test, no node skipped), as one number:
 * the same for the same set whatever the order, another (but for a 2^-64 chance) when a
 * node joins or leaves it. Failover reads records again when it changes.
 */
uint64_t mf_cluster_heirs_sig(const struct mf_cluster *c, const char *pool);

#endif /* MF_CLUSTER_H */
