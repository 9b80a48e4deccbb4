/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/cluster: statuses as the control plane publishes them (online, with and
 * without load; offline; a will), refused ones with their reason, the registry's updates
 * and removals, and the choice of the node for a new session.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mf/mf_cluster.h"
#include "mf_test.h"

#define RTE_DIM_(a)	(sizeof(a) / sizeof((a)[0]))

#define ONLINE(node, sessions, free, busy, t) \
	"{\"online\":true,\"node\":\"" node "\",\"version\":\"0.1.0\",\"time_ms\":" #t "," \
	"\"dataplane\":{\"up\":true,\"instance\":\"x\",\"generation\":2},\"ports\":[{},{}]," \
	"\"sessions\":" #sessions ",\"outputs\":3,\"kbps\":4000,\"draining\":false," \
	"\"capacity\":{\"max_sessions\":100,\"max_outputs\":0,\"max_kbps\":0," \
	"\"sessions_free\":" #free "},\"load\":{\"rx_pps\":1500.5,\"rx_kbps\":2000," \
	"\"tx_pps\":3000,\"tx_kbps\":4000,\"worker_busy_max\":" busy "," \
	"\"worker_busy_mean\":0.1,\"interval_ms\":2000}}"

/* A status arriving at @p now (the reader's clock). */
static int
update_at(struct mf_cluster *c, const char *topic, const char *payload, uint64_t now)
{
	return mf_cluster_update(c, topic, payload, strlen(payload), now);
}

static int
update(struct mf_cluster *c, const char *topic, const char *payload)
{
	return update_at(c, topic, payload, 10000);
}

static int
test_parse(void)
{
	struct mf_cluster c;
	struct mf_node_status st;
	const char *p = ONLINE("n1", 10, 90, "0.25", 1000);
	int rc = 0;

	MF_TEST_EQ(mf_cluster_init(&c, "mfwd"), 0);
	MF_TEST_EQ(mf_cluster_parse(&c, "mfwd/n1/status", p, strlen(p), &st), 0);
	MF_TEST_ASSERT(st.valid && st.online && st.dp_up && !st.draining, "%s", st.why);
	MF_TEST_ASSERT(strcmp(st.node, "n1") == 0 && strcmp(st.version, "0.1.0") == 0, "ids");
	MF_TEST_EQ(st.sessions, 10);
	MF_TEST_EQ(st.sessions_free, 90);
	MF_TEST_EQ(st.max_sessions, 100);
	MF_TEST_EQ(st.ports, 2);
	MF_TEST_EQ(st.generation, 2);
	MF_TEST_EQ(st.time_ms, 1000);
	MF_TEST_ASSERT(st.rx_pps == 1500.5 && st.busy_max == 0.25 && st.busy_mean == 0.1, "load");
	/* An older node: no load, no sessions_free (what its counts give). */
	p = "{\"online\":true,\"node\":\"old\",\"time_ms\":5,\"dataplane\":{\"up\":true},"
	    "\"sessions\":7,\"capacity\":{\"max_sessions\":10}}";
	MF_TEST_EQ(mf_cluster_parse(&c, "mfwd/old/status", p, strlen(p), &st), 0);
	MF_TEST_EQ(st.sessions_free, 3);
	MF_TEST_ASSERT(st.rx_pps == 0 && st.busy_max == 0, "no load");
	p = "{\"online\":false,\"node\":\"n2\",\"reason\":\"stopped\"}";
	MF_TEST_EQ(mf_cluster_parse(&c, "mfwd/n2/status", p, strlen(p), &st), 0);
	MF_TEST_ASSERT(st.valid && !st.online && strcmp(st.reason, "stopped") == 0, "offline");
out:
	mf_cluster_free(&c);
	return rc;
}

static int
test_refusals(void)
{
	static const struct { const char *topic, *payload, *why; } bad[] = {
		{ "mfwd/n1/status", "not json", "not a JSON object" },
		{ "mfwd/n1/status", "[1]", "not a JSON object" },
		{ "mfwd/n1/status", "{\"online\":true}", "node: missing" },
		{ "mfwd/n1/status", "{\"node\":\"n2\",\"online\":true}", "node: \"n2\" on the" },
		{ "mfwd/n1/status", "{\"node\":\"n1\",\"online\":1}", "online: not true" },
		{ "mfwd/n1/status", "{\"node\":\"n1\",\"online\":true}", "dataplane: missing" },
		{ "mfwd/n1/status", "{\"node\":\"n1\",\"online\":true,\"dataplane\":{\"up\":true},"
		  "\"capacity\":{\"max_sessions\":-1},\"sessions\":1,\"time_ms\":1}",
		  "max_sessions: not an integer" },
		{ "mfwd/n1/status", "{\"node\":\"n1\",\"online\":true,\"dataplane\":{\"up\":true},"
		  "\"capacity\":{\"max_sessions\":1},\"sessions\":1,\"time_ms\":1,"
		  "\"load\":{\"worker_busy_max\":2}}", "worker_busy_max: not a number" },
		{ "mfwd/n1/status", "{\"node\":\"n1\",\"node\":\"n1\",\"online\":false}",
		  "not a JSON object" },
		{ "other/n1/status", "{}", "topic: not mfwd/<node>/status" },
		{ "mfwd/n1/status/x", "{}", "topic: not mfwd/<node>/status" },
	};
	struct mf_cluster c;
	struct mf_node_status st;
	size_t i;
	int rc = 0;

	MF_TEST_EQ(mf_cluster_init(&c, "mfwd"), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned char *d = mf_test_dup(bad[i].payload, strlen(bad[i].payload));
		int r = mf_cluster_parse(&c, bad[i].topic, d, strlen(bad[i].payload), &st);

		free(d);
		MF_TEST_ASSERT(r == -EINVAL && !st.valid && strstr(st.why, bad[i].why) != NULL,
			       "case %zu: %d, %s", i, r, st.why);
	}
	MF_TEST_EQ(mf_cluster_parse(&c, "mfwd/n1/status", "{}", MF_CLUSTER_STATUS_MAX + 1, &st),
		   -EINVAL);
	MF_TEST_EQ(mf_cluster_init(&c, ""), -EINVAL);
out:
	return rc;
}

static int
test_registry(void)
{
	struct mf_cluster c;
	const struct mf_node_status *b;
	int rc = 0;

	MF_TEST_EQ(mf_cluster_init(&c, "mfwd"), 0);
	MF_TEST_EQ(update(&c, "mfwd/a/status", ONLINE("a", 50, 50, "0.5", 10000)), 1);
	MF_TEST_EQ(update(&c, "mfwd/b/status", ONLINE("b", 10, 90, "0.5", 10000)), 1);
	MF_TEST_EQ(update(&c, "mfwd/c/status", ONLINE("c", 1, 99, "0.9", 10000)), 1);
	MF_TEST_EQ(update(&c, "mfwd/d/status", "{\"node\":\"x\"}"), 1);	/* kept, invalid */
	MF_TEST_EQ(update(&c, "mfwd/d/cmd", "{}"), 0);			/* not a status */
	MF_TEST_EQ(c.n, 4);
	MF_TEST_ASSERT(!mf_cluster_find(&c, "d")->valid, "an invalid status is shown");
	/* Least busy worker, then fewest sessions. */
	b = mf_cluster_best(&c, 10000, 30000);
	MF_TEST_ASSERT(b != NULL && strcmp(b->node, "b") == 0, "best: %s", b ? b->node : "none");
	/* b replaced by its will: offline; then a is best. */
	MF_TEST_EQ(update(&c, "mfwd/b/status", "{\"online\":false,\"node\":\"b\","
			  "\"reason\":\"connection lost\",\"pool\":\"mfwd\"}"), 1);
	MF_TEST_EQ(c.n, 4);
	MF_TEST_ASSERT(strcmp(mf_cluster_find(&c, "b")->pool, "mfwd") == 0 &&
		       strcmp(mf_cluster_find(&c, "b")->reason, "connection lost") == 0,
		       "a will says the pool the node was in");
	b = mf_cluster_best(&c, 10000, 30000);
	MF_TEST_ASSERT(b != NULL && strcmp(b->node, "a") == 0, "best: %s", b ? b->node : "none");
	/* Too old, and a clock far ahead, do not count; age 0 takes any. */
	MF_TEST_ASSERT(mf_cluster_best(&c, 50000, 30000) == NULL, "stale");
	MF_TEST_ASSERT(mf_cluster_best(&c, 1000, 5000) == NULL, "a clock 9 s ahead");
	MF_TEST_ASSERT(mf_cluster_best(&c, 50000, 0) != NULL, "any age");
	/* Full, draining, no dataplane: none. */
	MF_TEST_EQ(update(&c, "mfwd/a/status", ONLINE("a", 100, 0, "0.1", 10000)), 1);
	MF_TEST_EQ(update(&c, "mfwd/c/status", "{\"online\":true,\"node\":\"c\",\"time_ms\":10000,"
			  "\"dataplane\":{\"up\":false},\"sessions\":0,"
			  "\"capacity\":{\"max_sessions\":10}}"), 1);
	MF_TEST_ASSERT(mf_cluster_best(&c, 10000, 30000) == NULL, "no node can take one");
	/* Nor one whose dataplane does not answer its control plane. */
#define E(stalled) "{\"online\":true,\"node\":\"e\",\"time_ms\":10000,\"dataplane\":" \
	"{\"up\":true,\"stalled\":" stalled "},\"sessions\":0,\"capacity\":{\"max_sessions\":10}}"
	MF_TEST_EQ(update(&c, "mfwd/e/status", E("false")), 1);
	b = mf_cluster_best(&c, 10000, 30000);
	MF_TEST_ASSERT(b != NULL && strcmp(b->node, "e") == 0, "e: %s", b ? b->node : "none");
	MF_TEST_EQ(update(&c, "mfwd/e/status", E("true")), 1);
	MF_TEST_ASSERT(mf_cluster_best(&c, 10000, 30000) == NULL, "e stalled");
#undef E
	MF_TEST_EQ(mf_cluster_update(&c, "mfwd/e/status", "", 0, 10000), 1);
	/* A cleared retained status removes the node. */
	MF_TEST_EQ(mf_cluster_update(&c, "mfwd/c/status", "", 0, 10000), 1);
	MF_TEST_ASSERT(mf_cluster_find(&c, "c") == NULL && c.n == 3, "removed");
out:
	mf_cluster_free(&c);
	return rc;
}

/* What a placer keeps on the entries: sessions it sent, nodes it skips or shuns. */
static int
test_placing(void)
{
	const char *skip[] = { "a" };
	const struct mf_node_status *b;
	struct mf_cluster c;
	int rc = 0, i, on_a = 0;

	MF_TEST_EQ(mf_cluster_init(&c, "mfwd"), 0);
	MF_TEST_EQ(update(&c, "mfwd/a/status", ONLINE("a", 10, 3, "0.1", 10000)), 1);
	MF_TEST_EQ(update(&c, "mfwd/b/status", ONLINE("b", 12, 90, "0.1", 10000)), 1);
	/* Counted between statuses: a burst of 6 spreads, a's 3 free places used up. */
	for (i = 0; i < 6; i++) {
		b = mf_cluster_best(&c, 10000, 30000);
		MF_TEST_ASSERT(b != NULL, "a node for session %d", i);
		on_a += strcmp(b->node, "a") == 0;
		MF_TEST_EQ(mf_cluster_count(&c, b->node, 1, 10000), 0);
	}
	MF_TEST_EQ(on_a, 3);
	MF_TEST_EQ(mf_cluster_find(&c, "a")->sessions_free, 0);
	MF_TEST_EQ(mf_cluster_count(&c, "nobody", 1, 10000), -ENOENT);
	/* Refused: taken back, never more than were counted. */
	MF_TEST_EQ(mf_cluster_settle(&c, "a", 2, false), 0);
	MF_TEST_EQ(mf_cluster_find(&c, "a")->sessions, 11);
	MF_TEST_EQ(mf_cluster_find(&c, "a")->sessions_free, 2);
	MF_TEST_EQ(mf_cluster_settle(&c, "a", 5, false), 0);
	MF_TEST_EQ(mf_cluster_find(&c, "a")->sessions, 10);
	MF_TEST_EQ(mf_cluster_find(&c, "a")->sessions_free, 3);
	MF_TEST_EQ(mf_cluster_settle(&c, "nobody", 1, false), -ENOENT);
	for (i = 0; i < 3; i++)
		MF_TEST_EQ(mf_cluster_count(&c, "a", 1, 10000), 0);
	/* Not answered yet: counted on top of its statuses, whatever its clock says. */
	MF_TEST_EQ(update_at(&c, "mfwd/a/status", ONLINE("a", 10, 3, "0.1", 30000), 12000), 1);
	MF_TEST_EQ(mf_cluster_find(&c, "a")->sessions, 13);
	MF_TEST_EQ(mf_cluster_find(&c, "a")->sessions_free, 0);
	/* Two created: counted until the next status, which counts them itself. */
	MF_TEST_EQ(mf_cluster_settle(&c, "a", 2, true), 0);
	MF_TEST_EQ(mf_cluster_find(&c, "a")->sessions, 13);
	MF_TEST_EQ(update_at(&c, "mfwd/a/status", ONLINE("a", 12, 1, "0.1", 10001), 12001), 1);
	MF_TEST_EQ(mf_cluster_find(&c, "a")->sessions, 13);
	/* The third never answered: not counted after MF_CLUSTER_PEND_MS. */
	MF_TEST_EQ(update_at(&c, "mfwd/a/status", ONLINE("a", 10, 3, "0.1", 11001),
			     10000 + MF_CLUSTER_PEND_MS), 1);
	MF_TEST_EQ(mf_cluster_find(&c, "a")->sessions, 10);
	b = mf_cluster_best_skip(&c, 11001, 30000, NULL, skip, 1);
	MF_TEST_ASSERT(b != NULL && strcmp(b->node, "b") == 0, "skipped: %s", b ? b->node : "-");
	/* Shunned: passed over until then, across its statuses. */
	MF_TEST_EQ(mf_cluster_shun(&c, "a", 20000), 0);
	MF_TEST_EQ(update(&c, "mfwd/a/status", ONLINE("a", 0, 100, "0.1", 10002)), 1);
	b = mf_cluster_best(&c, 10002, 30000);
	MF_TEST_ASSERT(b != NULL && strcmp(b->node, "b") == 0, "shunned: %s", b ? b->node : "-");
	b = mf_cluster_best(&c, 20000, 30000);
	MF_TEST_ASSERT(b != NULL && strcmp(b->node, "a") == 0, "back: %s", b ? b->node : "-");
	MF_TEST_EQ(mf_cluster_shun(&c, "nobody", 1), -ENOENT);
	/* Refused as full: passed over until its next status. */
	MF_TEST_EQ(mf_cluster_full(&c, "a"), 0);
	b = mf_cluster_best(&c, 20000, 30000);
	MF_TEST_ASSERT(b != NULL && strcmp(b->node, "b") == 0, "full: %s", b ? b->node : "-");
	MF_TEST_EQ(mf_cluster_count(&c, "a", 2, 20000), 0);	/* another refusal frees none */
	MF_TEST_EQ(mf_cluster_settle(&c, "a", 2, false), 0);
	b = mf_cluster_best(&c, 20000, 30000);
	MF_TEST_ASSERT(b != NULL && strcmp(b->node, "b") == 0, "still full: %s",
		       b ? b->node : "-");
	MF_TEST_EQ(update(&c, "mfwd/a/status", ONLINE("a", 0, 100, "0.1", 10002)), 1);
	b = mf_cluster_best(&c, 20000, 30000);
	MF_TEST_ASSERT(b != NULL && strcmp(b->node, "a") == 0, "room again: %s",
		       b ? b->node : "-");
	MF_TEST_EQ(mf_cluster_full(&c, "nobody"), -ENOENT);
	/* A shunned node's status cleared and sent again: still shunned. */
	MF_TEST_EQ(mf_cluster_update(&c, "mfwd/a/status", "", 0, 10003), 1);
	MF_TEST_ASSERT(!mf_cluster_find(&c, "a")->valid, "cleared, kept invalid");
	mf_cluster_expire(&c, 19999);
	MF_TEST_ASSERT(mf_cluster_find(&c, "a") != NULL, "kept while shunned");
	MF_TEST_EQ(update(&c, "mfwd/a/status", ONLINE("a", 0, 100, "0.1", 10003)), 1);
	b = mf_cluster_best(&c, 10003, 30000);
	MF_TEST_ASSERT(b != NULL && strcmp(b->node, "b") == 0, "still shunned: %s",
		       b ? b->node : "-");
	/* Only the nodes of a pool: none says one. */
	MF_TEST_ASSERT(mf_cluster_best_skip(&c, 20000, 30000, "mfwd", NULL, 0) == NULL,
		       "no node of pool mfwd");
	/* Cleared again: gone once its shun ends (or at once, with none left). */
	MF_TEST_EQ(mf_cluster_update(&c, "mfwd/a/status", "", 0, 10004), 1);
	mf_cluster_expire(&c, 20000);
	MF_TEST_ASSERT(mf_cluster_find(&c, "a") == NULL && c.n == 1, "expired");
	MF_TEST_EQ(mf_cluster_shun(&c, "b", 20500), 0);
	MF_TEST_EQ(mf_cluster_update(&c, "mfwd/b/status", "", 0, 20500), 1);
	MF_TEST_ASSERT(c.n == 0, "a shun already over keeps nothing");
out:
	mf_cluster_free(&c);
	return rc;
}

/* A placer's pick: the best among a few nodes; among more, the better of two random ones
 * (never the worst, never one passed over, and not always the same). */
static int
test_pick(void)
{
	static const char *const st[] = {
		ONLINE("a", 10, 90, "0.1", 10000), ONLINE("b", 20, 80, "0.1", 10000),
		ONLINE("c", 30, 70, "0.1", 10000), ONLINE("d", 40, 60, "0.1", 10000),
		ONLINE("e", 50, 50, "0.1", 10000), ONLINE("f", 60, 40, "0.1", 10000),
		ONLINE("g", 70, 30, "0.1", 10000), ONLINE("h", 80, 20, "0.1", 10000),
	};
	const char *skip[] = { "b" };
	const struct mf_node_status *p;
	struct mf_cluster c;
	char topic[32];
	int rc = 0, seen[8] = { 0 }, distinct = 0;
	uint64_t r;

	MF_TEST_EQ(mf_cluster_init(&c, "mfwd"), 0);
	for (r = 0; r < 4; r++) {
		snprintf(topic, sizeof(topic), "mfwd/%c/status", (char)('a' + r));
		MF_TEST_EQ(update(&c, topic, st[r]), 1);
	}
	for (r = 0; r < 50; r++) {
		p = mf_cluster_pick(&c, 10000, 30000, NULL, NULL, 0, r * 7919);
		MF_TEST_ASSERT(p != NULL && strcmp(p->node, "a") == 0, "few: the best");
	}
	for (r = 4; r < 8; r++) {
		snprintf(topic, sizeof(topic), "mfwd/%c/status", (char)('a' + r));
		MF_TEST_EQ(update(&c, topic, st[r]), 1);
	}
	MF_TEST_EQ(mf_cluster_shun(&c, "c", 20000), 0);
	for (r = 0; r < 200; r++) {
		p = mf_cluster_pick(&c, 10000, 30000, NULL, skip, 1, r * 0x9e3779b97f4a7c15ull);
		MF_TEST_ASSERT(p != NULL && strcmp(p->node, "h") != 0 &&
			       strcmp(p->node, "b") != 0 && strcmp(p->node, "c") != 0,
			       "many: %s", p ? p->node : "none");
		seen[p->node[0] - 'a']++;
	}
	for (r = 0; r < 8; r++)
		distinct += seen[r] != 0;
	MF_TEST_EQ(distinct, 5);		/* a, d, e, f, g: h only ever loses */
	MF_TEST_ASSERT(seen[0] > seen[3] && seen[3] > seen[6], "the emptier more often: %d %d %d",
		       seen[0], seen[3], seen[6]);
out:
	mf_cluster_free(&c);
	return rc;
}

/* Three placers share a burst: what this one sent since a node's status counts twice more
 * (the two others sent about as many), so a node whose status is older does not look the
 * emptiest: "a"'s status came before any of the burst, "b"'s and "c"'s after 10 of it each
 * (from every placer) were created; this reader sent 3 to each, all answered. */
static int
test_reckoned(void)
{
	const struct mf_node_status *p;
	struct mf_cluster c;
	int rc = 0, i;
	const char *n;

	MF_TEST_EQ(mf_cluster_init(&c, "mfwd"), 0);
	MF_TEST_EQ(update(&c, "mfwd/a/status", ONLINE("a", 10, 90, "0.1", 10000)), 1);
	MF_TEST_EQ(update(&c, "mfwd/b/status", ONLINE("b", 10, 90, "0.1", 10000)), 1);
	MF_TEST_EQ(update(&c, "mfwd/c/status", ONLINE("c", 10, 90, "0.1", 10000)), 1);
	for (i = 0; i < 9; i++) {
		n = i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c";
		MF_TEST_EQ(mf_cluster_count(&c, n, 1, 10000), 0);
		MF_TEST_EQ(mf_cluster_settle(&c, n, 1, true), 0);
	}
	MF_TEST_EQ(update(&c, "mfwd/b/status", ONLINE("b", 19, 81, "0.1", 10100)), 1);
	MF_TEST_EQ(update(&c, "mfwd/c/status", ONLINE("c", 19, 81, "0.1", 10100)), 1);
	/* a: 10 + 3 sent x 3 placers = 19, as b and c; ties by name. */
	p = mf_cluster_pick(&c, 10100, 30000, NULL, NULL, 0, 1);
	MF_TEST_ASSERT(p != NULL && strcmp(p->node, "a") == 0, "a tie: %s", p ? p->node : "-");
	MF_TEST_EQ(mf_cluster_count(&c, "a", 1, 10100), 0);
	/* a: 10 + 4 x 3 = 22, more than 19: not the emptiest, though its status says 10. */
	p = mf_cluster_pick(&c, 10100, 30000, NULL, NULL, 0, 1);
	MF_TEST_ASSERT(p != NULL && strcmp(p->node, "b") == 0, "b: %s", p ? p->node : "-");
	/* Its status comes: what it counts is reckoned no more, only the one unanswered
	 * (15 + 1 + 1 x 2 = 18). */
	MF_TEST_EQ(update(&c, "mfwd/a/status", ONLINE("a", 15, 85, "0.1", 10200)), 1);
	p = mf_cluster_pick(&c, 10200, 30000, NULL, NULL, 0, 1);
	MF_TEST_ASSERT(p != NULL && strcmp(p->node, "a") == 0, "a: %s", p ? p->node : "-");
	MF_TEST_EQ(mf_cluster_find(&c, "a")->sessions, 16);
	MF_TEST_EQ(mf_cluster_find(&c, "a")->sent, 1);
out:
	mf_cluster_free(&c);
	return rc;
}

/* A dead node's heirs: one per bucket whatever order the registry holds the nodes in;
 * never the dead, an offline, a draining, a stalled, a failover-less or another pool's
 * node; spread over the rest; a node's death moves only its own buckets' heirs; another
 * dead node's buckets have other heirs. Buckets: the values tests/cp/test_cp_failover.py
 * computes too. */
#define POOLED(node, extra) \
	"{\"online\":true,\"node\":\"" node "\",\"time_ms\":10000,\"pool\":\"g\"," \
	"\"dataplane\":{\"up\":true},\"sessions\":1,\"capacity\":{\"max_sessions\":100," \
	"\"sessions_free\":99}" extra "}"

static int
test_heir(void)
{
	static const char *const st[][2] = {
		{ "mfwd/a/status", POOLED("a", "") }, { "mfwd/b/status", POOLED("b", "") },
		{ "mfwd/c/status", POOLED("c", "") }, { "mfwd/d/status", POOLED("d", "") },
		{ "mfwd/x/status", POOLED("x", ",\"draining\":true") },
		{ "mfwd/y/status", "{\"online\":false,\"node\":\"y\",\"reason\":\"gone\"}" },
		{ "mfwd/z/status", "{\"online\":true,\"node\":\"z\",\"time_ms\":1,\"pool\":\"h\","
				   "\"failover\":true,\"dataplane\":{\"up\":true},\"sessions\":0,"
				   "\"capacity\":{\"max_sessions\":9,\"sessions_free\":9}}" },
	};
	const struct mf_node_status *h, *h2;
	struct mf_cluster c, r;
	const char *const not_a[] = { "a" };
	char first[64][2];
	int rc = 0, on[4] = { 0 }, moved = 0, other = 0;
	unsigned int i;
	uint64_t sig;

	MF_TEST_EQ(mf_cluster_init(&c, "mfwd"), 0);
	MF_TEST_EQ(mf_cluster_init(&r, "mfwd"), 0);
	for (i = 0; i < RTE_DIM_(st); i++) {
		MF_TEST_EQ(update(&c, st[i][0], st[i][1]), 1);
		MF_TEST_EQ(update(&r, st[RTE_DIM_(st) - 1 - i][0], st[RTE_DIM_(st) - 1 - i][1]), 1);
	}
	MF_TEST_EQ(mf_cluster_bucket("s0"), 208);
	MF_TEST_EQ(mf_cluster_bucket("s1"), 254);
	MF_TEST_EQ(mf_cluster_bucket("acme-7"), 132);
	for (i = 0; i < MF_CLUSTER_BUCKETS; i++) {
		h = mf_cluster_heir(&c, "g", "a", i, NULL, 0);
		h2 = mf_cluster_heir(&r, "g", "a", i, NULL, 0);
		MF_TEST_ASSERT(h != NULL && h2 != NULL && strcmp(h->node, h2->node) == 0,
			       "one heir whatever the order: %u", i);
		MF_TEST_ASSERT(strchr("bcd", h->node[0]) != NULL && h->node[1] == '\0',
			       "heir of %u: %s", i, h->node);
		h2 = mf_cluster_heir(&c, "g", "y", i, not_a, 1);	/* b, c, d again */
		other += h2 != NULL && strcmp(h2->node, h->node) != 0;
		on[h->node[0] - 'a']++;
		if (i < 64)
			first[i][0] = h->node[0];
	}
	MF_TEST_ASSERT(on[1] > 60 && on[2] > 60 && on[3] > 60, "spread: %d %d %d", on[1], on[2],
		       on[3]);
	MF_TEST_ASSERT(other > 100, "another dead node's buckets, other heirs: %d", other);
	sig = mf_cluster_heirs_sig(&c, "g");
	MF_TEST_ASSERT(sig != 0 && sig == mf_cluster_heirs_sig(&r, "g"),
		       "who could be heirs: one number whatever the order");
	/* d dies too: only the sessions whose heir was d move. */
	MF_TEST_EQ(update(&c, "mfwd/d/status", "{\"online\":false,\"node\":\"d\"}"), 1);
	MF_TEST_ASSERT(mf_cluster_heirs_sig(&c, "g") != sig, "d gone: another number");
	for (i = 0; i < 64; i++) {
		h = mf_cluster_heir(&c, "g", "a", i, NULL, 0);
		MF_TEST_ASSERT(h != NULL && (first[i][0] == 'd' || h->node[0] == first[i][0]),
			       "kept its heir: %u", i);
		moved += first[i][0] == 'd';
	}
	MF_TEST_ASSERT(moved > 0, "some had d");
	/* Its heir refused one: the next in rank, the same for every reader. */
	MF_TEST_EQ(update(&r, "mfwd/d/status", "{\"online\":false,\"node\":\"d\"}"), 1);
	MF_TEST_ASSERT(mf_cluster_heirs_sig(&r, "g") == mf_cluster_heirs_sig(&c, "g"),
		       "the same set again, the same number");
	sig = mf_cluster_heirs_sig(&r, "g");
	MF_TEST_EQ(update(&r, "mfwd/x/status", POOLED("x", "")), 1);
	MF_TEST_ASSERT(mf_cluster_heirs_sig(&r, "g") != sig, "x undrained: another number");
	MF_TEST_EQ(update(&r, "mfwd/x/status", POOLED("x", ",\"draining\":true")), 1);
	MF_TEST_ASSERT(mf_cluster_heirs_sig(&r, "g") == sig, "x draining again: the number before");
	/* b's dataplane stalled: no heir while it says so, and the same set again after. */
	MF_TEST_EQ(update(&r, "mfwd/b/status", "{\"online\":true,\"node\":\"b\",\"time_ms\":"
			  "10000,\"pool\":\"g\",\"failover\":true,\"dataplane\":{\"up\":true,"
			  "\"stalled\":true},\"sessions\":1,\"capacity\":{\"max_sessions\":100}}"),
		   1);
	MF_TEST_ASSERT(mf_cluster_heirs_sig(&r, "g") != sig, "b stalled: another number");
	for (i = 0; i < MF_CLUSTER_BUCKETS; i++) {
		h = mf_cluster_heir(&r, "g", "a", i, NULL, 0);
		MF_TEST_ASSERT(h != NULL && strcmp(h->node, "b") != 0, "b stalled heir of %u", i);
	}
	MF_TEST_EQ(update(&r, "mfwd/b/status", POOLED("b", "")), 1);
	MF_TEST_ASSERT(mf_cluster_heirs_sig(&r, "g") == sig, "b answers again: the number before");
	/* c with failover off: never an heir. (A status that does not say is an older
	 * node's, which is one: POOLED's.) */
	MF_TEST_EQ(update(&r, "mfwd/c/status", "{\"online\":true,\"node\":\"c\",\"time_ms\":"
			  "10000,\"pool\":\"g\",\"failover\":false,\"dataplane\":{\"up\":true},"
			  "\"sessions\":1,\"capacity\":{\"max_sessions\":100}}"), 1);
	MF_TEST_ASSERT(mf_cluster_heirs_sig(&r, "g") != sig, "c without failover: another number");
	for (i = 0; i < MF_CLUSTER_BUCKETS; i++) {
		h = mf_cluster_heir(&r, "g", "a", i, NULL, 0);
		MF_TEST_ASSERT(h != NULL && strcmp(h->node, "c") != 0, "c no heir of %u", i);
	}
	MF_TEST_EQ(update(&r, "mfwd/c/status", POOLED("c", "")), 1);
	for (i = 0; i < 64; i++) {
		const struct mf_node_status *h3;
		const char *no[1];

		h = mf_cluster_heir(&c, "g", "a", i, NULL, 0);
		no[0] = h->node;
		h2 = mf_cluster_heir(&c, "g", "a", i, no, 1);
		h3 = mf_cluster_heir(&r, "g", "a", i, no, 1);
		MF_TEST_ASSERT(h2 != NULL && h3 != NULL && strcmp(h2->node, h->node) != 0 &&
			       strcmp(h2->node, h3->node) == 0, "the next heir of %u", i);
	}
	MF_TEST_ASSERT(mf_cluster_heir(&c, "h", "a", 1, NULL, 0) != NULL &&
		       mf_cluster_heir(&c, "nope", "a", 1, NULL, 0) == NULL, "by pool");
out:
	mf_cluster_free(&c);
	mf_cluster_free(&r);
	return rc;
}

static const struct mf_test_case cases[] = {
	{ "parse", test_parse },
	{ "refusals", test_refusals },
	{ "registry", test_registry },
	{ "placing", test_placing },
	{ "pick", test_pick },
	{ "reckoned", test_reckoned },
	{ "heir", test_heir },
};

MF_TEST_MAIN("cluster", cases)
