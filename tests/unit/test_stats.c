/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stats area: directory, per-lcore counters summed by readers, gauges, reuse of freed
 * blocks; then a writer process adding and removing entries in a loop while a reader in
 * another process reads every entry and checks that what it sees is never torn.
 */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "mf/mf_shm.h"
#include "mf/mf_stats.h"
#include "mf_test.h"

static const char *const port_fields[] = { "rx_pkts", "rx_bytes", "tx_pkts" };
static const char *const port_descs[] = { "packets received", "bytes received",
					  "packets sent" };
static const char *const gauge_fields[] = { "jitter_us", "created_ms" };

static int
test_basic(void)
{
	static uint8_t mem[64 * 1024] __attribute__((aligned(64)));
	struct mf_stats_writer *w = NULL;
	struct mf_stats_reader r;
	struct mf_stats_view v;
	uint64_t vals[8], x, init[2] = { 0, 1234 };
	int sp, sg, e1, e2, e3, rc = 0;
	uint64_t *blk;

	w = mf_stats_writer_create(mem, sizeof(mem), 3, 16);
	MF_TEST_ASSERT(w != NULL, "writer");
	MF_TEST_EQ(mf_stats_reader_attach(&r, mem, sizeof(mem)), 0);
	sp = mf_stats_schema_add(w, "schema/port", port_fields, NULL, port_descs, 3);
	sg = mf_stats_schema_add(w, "schema/sess", gauge_fields,
				 (const uint8_t[]){ MF_STATS_FIELD_GAUGE,
						    MF_STATS_FIELD_GAUGE | MF_STATS_FIELD_LOSS },
				 NULL, 2);
	MF_TEST_ASSERT(sp >= 0 && sg >= 0, "schemas");
	e1 = mf_stats_add(w, "port/0", MF_STATS_COUNTERS, sp, NULL);
	e2 = mf_stats_add(w, "sess/a", MF_STATS_GAUGES, sg, init);
	MF_TEST_ASSERT(e1 >= 0 && e2 >= 0, "entries");
	MF_TEST_EQ(mf_stats_add(w, "bad", MF_STATS_COUNTERS, e1, NULL), -EINVAL);
	MF_TEST_EQ(mf_stats_count(w), 4);
	/* Three lcores count; the reader sees the sums. */
	for (unsigned int l = 0; l < 3; l++) {
		blk = mf_stats_values(w, e1, l);
		MF_TEST_EQ((uintptr_t)blk % 64, 0);
		blk[0] += 10 * (l + 1);
		blk[1] += 1000;
		blk[2] += l;
	}
	mf_stats_values(w, e2, 0)[0] = 77;
	MF_TEST_EQ(mf_stats_read(&r, (uint32_t)e1, &v, vals, 8), 0);
	MF_TEST_EQ(v.nb_fields, 3);
	MF_TEST_ASSERT(strcmp(v.name, "port/0") == 0, "name");
	MF_TEST_ASSERT(strcmp(v.fields[1], "rx_bytes") == 0, "field names");
	MF_TEST_ASSERT(strcmp(v.descs[1], "bytes received") == 0, "field descriptions");
	MF_TEST_EQ(vals[0], 60);
	MF_TEST_EQ(vals[1], 3000);
	MF_TEST_EQ(vals[2], 3);
	MF_TEST_ASSERT(mf_stats_view_get(&v, "tx_pkts", &x) && x == 3, "by name");
	MF_TEST_EQ(mf_stats_read_lcore(&r, (uint32_t)e1, 1, &v, vals, 8), 0);
	MF_TEST_EQ(vals[0], 20);
	MF_TEST_EQ(mf_stats_read_lcore(&r, (uint32_t)e1, 3, &v, vals, 8), -ERANGE);
	MF_TEST_ASSERT(!mf_stats_view_get(&v, "nope", &x), "unknown field");
	MF_TEST_EQ(mf_stats_read(&r, (uint32_t)e1, &v, vals, 2), -ENOSPC);
	MF_TEST_EQ(mf_stats_read(&r, (uint32_t)e2, &v, vals, 8), 0);
	MF_TEST_EQ(vals[0], 77);
	MF_TEST_EQ(vals[1], 1234);
	MF_TEST_ASSERT(mf_stats_view_is_gauge(&v, 1), "gauge kind kept, beside the loss flag");
	MF_TEST_ASSERT(mf_stats_view_is_loss(&v, 1) && !mf_stats_view_is_loss(&v, 0), "loss flag");
	MF_TEST_ASSERT(v.descs[1][0] == '\0', "no description given: empty");
	MF_TEST_EQ(mf_stats_read(&r, (uint32_t)e1, &v, vals, 8), 0);
	MF_TEST_ASSERT(!mf_stats_view_is_gauge(&v, 0), "counter kind");
	MF_TEST_EQ(mf_stats_read(&r, (uint32_t)sp, &v, vals, 8), -ENOENT);	/* a schema */
	MF_TEST_EQ(mf_stats_read(&r, 15, &v, vals, 8), -ENOENT);
	MF_TEST_EQ(mf_stats_read(&r, 16, &v, vals, 8), -ENOENT);
	MF_TEST_EQ(mf_stats_find(&r, "sess/a"), e2);
	MF_TEST_EQ(mf_stats_find(&r, "sess/b"), -ENOENT);

	/* Remove and add again: the block is reused and zeroed, the epoch moved. */
	x = mf_stats_epoch(&r);
	mf_stats_remove(w, e1);
	MF_TEST_EQ(mf_stats_read(&r, (uint32_t)e1, &v, vals, 8), -ENOENT);
	MF_TEST_ASSERT(mf_stats_epoch(&r) > x, "epoch moved");
	e3 = mf_stats_add(w, "port/1", MF_STATS_COUNTERS, sp, NULL);
	MF_TEST_EQ(e3, e1);
	MF_TEST_EQ(mf_stats_read(&r, (uint32_t)e3, &v, vals, 8), 0);
	MF_TEST_EQ(vals[0] + vals[1] + vals[2], 0);
	/* Out of entries. */
	for (int i = 0; i < 12; i++)
		MF_TEST_ASSERT(mf_stats_add(w, "fill", MF_STATS_GAUGES, sg, NULL) >= 0, "fill");
	MF_TEST_EQ(mf_stats_add(w, "one-too-many", MF_STATS_GAUGES, sg, NULL), -ENOSPC);
out:
	mf_stats_writer_destroy(w);
	return rc;
}

static int
test_reader_refusals(void)
{
	static uint8_t mem[16 * 1024] __attribute__((aligned(64)));
	struct mf_stats_writer *w = NULL;
	struct mf_stats_reader r;
	struct mf_stats_hdr *h = (struct mf_stats_hdr *)mem;
	int rc = 0;

	MF_TEST_EQ(mf_stats_reader_attach(&r, mem, sizeof(mem)), -EBADMSG);
	MF_TEST_ASSERT(mf_stats_writer_create(mem, 100, 1, 16) == NULL && errno == EINVAL,
		       "too small an area");
	w = mf_stats_writer_create(mem, sizeof(mem), 2, 8);
	MF_TEST_ASSERT(w != NULL, "writer");
	MF_TEST_EQ(mf_stats_reader_attach(&r, mem, sizeof(mem) / 2), -EBADMSG);
	h->version = MF_STATS_VERSION + 1;
	MF_TEST_EQ(mf_stats_reader_attach(&r, mem, sizeof(mem)), -EPROTO);
	h->version = MF_STATS_VERSION;
	h->max_entries = 1u << 30;	/* a directory larger than the area */
	MF_TEST_EQ(mf_stats_reader_attach(&r, mem, sizeof(mem)), -EBADMSG);
	h->max_entries = 8;
	MF_TEST_EQ(mf_stats_reader_attach(&r, mem, sizeof(mem)), 0);
	/* An entry whose offsets point outside the area is refused, not followed. */
	{
		const char *f[] = { "a" };
		int s = mf_stats_schema_add(w, "s", f, NULL, NULL, 1);
		int e = mf_stats_add(w, "e", MF_STATS_COUNTERS, s, NULL);
		struct mf_stats_entry *de = (struct mf_stats_entry *)(mem + h->dir_off) + e;
		struct mf_stats_view v;
		uint64_t vals[1];

		de->values_off = sizeof(mem) - 8;
		MF_TEST_EQ(mf_stats_read(&r, (uint32_t)e, &v, vals, 1), -EBADMSG);
	}
out:
	mf_stats_writer_destroy(w);
	return rc;
}

/* ---- writer and reader in two processes ---- */

#define CHURN_OPS	300000
#define CHURN_LIVE	64
#define NB_SCHEMAS	5
#define NB_LCORES	4

/* Entry k has k % NB_SCHEMAS + 1 fields; field f starts at k * 1000 + f. */
static uint64_t
expect(uint64_t k, uint32_t f)
{
	return k * 1000 + f;
}

static void
churn_writer(struct mf_stats_writer *w, volatile int *done)
{
	static const char *const names[] = { "f0", "f1", "f2", "f3", "f4" };
	int schema[NB_SCHEMAS], live[CHURN_LIVE];
	uint64_t init[NB_SCHEMAS];
	char name[64];
	uint64_t k;
	uint32_t f;
	int s, slot;

	for (s = 0; s < NB_SCHEMAS; s++)
		schema[s] = mf_stats_schema_add(w, names[s], names, NULL, NULL, (uint32_t)s + 1);
	for (slot = 0; slot < CHURN_LIVE; slot++)
		live[slot] = -1;
	/* Churn only once the reader reads: otherwise a fast writer could be done first. */
	while (!done[1])
		sched_yield();
	for (k = 0; k < CHURN_OPS; k++) {
		slot = (int)((k * 2654435761u) % CHURN_LIVE);
		if (live[slot] >= 0)
			mf_stats_remove(w, live[slot]);
		s = (int)(k % NB_SCHEMAS);
		for (f = 0; f <= (uint32_t)s; f++)
			init[f] = expect(k, f);
		snprintf(name, sizeof(name), "e/%llu", (unsigned long long)k);
		live[slot] = mf_stats_add(w, name, MF_STATS_COUNTERS, schema[s], init);
		if (live[slot] < 0)
			_exit(3);
	}
	*done = 1;
	_exit(0);
}

static int
churn_reader(const struct mf_stats_reader *r, volatile int *done, uint64_t *reads)
{
	struct mf_stats_view v;
	uint64_t vals[8], k;
	uint32_t i, f;
	int e;

	while (!*done) {
		for (i = 0; i < r->hdr->max_entries; i++) {
			e = mf_stats_read(r, i, &v, vals, 8);
			if (e == -ENOENT || e == -EAGAIN)
				continue;
			if (e != 0 || sscanf(v.name, "e/%llu", (unsigned long long *)&k) != 1) {
				fprintf(stderr, "read %u: %d name %s\n", i, e, v.name);
				return -1;
			}
			if (v.nb_fields != k % NB_SCHEMAS + 1)
				return fprintf(stderr, "%s has %u fields\n", v.name, v.nb_fields), -1;
			for (f = 0; f < v.nb_fields; f++) {
				if (vals[f] != expect(k, f) || strcmp(v.fields[f], (char[]){ 'f',
						(char)('0' + f), 0 }) != 0) {
					fprintf(stderr, "%s field %u = %llu\n", v.name, f,
						(unsigned long long)vals[f]);
					return -1;
				}
			}
			(*reads)++;
		}
	}
	return 0;
}

static int
test_two_process_churn(void)
{
	struct mf_shm shm = { 0 };
	struct mf_shm_layout l = { 0 };
	struct mf_stats_writer *w = NULL;
	struct mf_stats_reader r;
	char inst[32];
	uint64_t sz, reads = 0;
	volatile int *done;
	uint8_t *mem;
	pid_t pid = -1;
	int rc = 0, st;

	snprintf(inst, sizeof(inst), "t-stats-%d", (int)getpid());
	l.region_size[MF_SHM_REGION_STATS] = mf_stats_area_size(NB_LCORES, 256, 256 * 1024);
	l.region_size[MF_SHM_REGION_CMD] = 4096;	/* holds the test's done flag */
	MF_TEST_EQ(mf_shm_create(&shm, inst, &l), 0);
	mem = mf_shm_region(&shm, MF_SHM_REGION_STATS, &sz);
	done = mf_shm_region(&shm, MF_SHM_REGION_CMD, NULL);
	w = mf_stats_writer_create(mem, sz, NB_LCORES, 256);
	MF_TEST_ASSERT(w != NULL, "writer");
	mf_shm_publish(&shm);
	pid = fork();
	if (pid == 0)
		churn_writer(w, done);
	MF_TEST_ASSERT(pid > 0, "fork");
	{
		/* The reader maps the segment read-only, as mfwd-stat does. */
		struct mf_shm ro;

		MF_TEST_EQ(mf_shm_open(&ro, inst, false), 0);
		mem = mf_shm_region(&ro, MF_SHM_REGION_STATS, &sz);
		MF_TEST_EQ(mf_stats_reader_attach(&r, mem, sz), 0);
		done[1] = 1;		/* the writer may start */
		rc = churn_reader(&r, (volatile int *)mf_shm_region(&ro, MF_SHM_REGION_CMD, NULL),
				  &reads);
		printf("stats: %d adds and removes in one process while another read %llu "
		       "consistent entries, epoch %llu\n", CHURN_OPS, (unsigned long long)reads,
		       (unsigned long long)mf_stats_epoch(&r));
		mf_shm_close(&ro);
	}
	MF_TEST_EQ(rc, 0);
	MF_TEST_EQ(waitpid(pid, &st, 0), pid);
	pid = -1;
	MF_TEST_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer exit %d", st);
	MF_TEST_ASSERT(reads > 1000, "the reader read while the writer churned (%llu)",
		       (unsigned long long)reads);
out:
	if (pid > 0)
		kill(pid, SIGKILL), waitpid(pid, NULL, 0);
	mf_stats_writer_destroy(w);
	mf_shm_destroy(&shm);
	return rc;
}

/* A stats message's bounds: the busiest sessions kept by ingress bytes (ties by entry),
 * outputs counted, the total said; losses by reason are the loss-flagged fields only. */
static int
test_json_trim_losses(void)
{
	static uint8_t mem[64 * 1024] __attribute__((aligned(64)));
	static const char *const node_f[] = { "rx_pkts", "drop_sess_miss", "drop_src" };
	static const char *const sess_f[] = { "rx_pkts", "rx_bytes" };
	static const char *const ids[] = { "a", "b", "c", "d" };
	static const uint64_t bytes[] = { 500, 9000, 700, 9000 };
	struct mf_stats_writer *w = NULL;
	struct mf_stats_reader r;
	json_t *doc = NULL, *sess, *loss = NULL;
	int sn, ss, e, rc = 0;
	char name[32];

	w = mf_stats_writer_create(mem, sizeof(mem), 2, 32);
	MF_TEST_ASSERT(w != NULL, "writer");
	MF_TEST_EQ(mf_stats_reader_attach(&r, mem, sizeof(mem)), 0);
	sn = mf_stats_schema_add(w, "schema/node", node_f, (const uint8_t[]){
		0, MF_STATS_FIELD_LOSS, MF_STATS_FIELD_LOSS }, NULL, 3);
	ss = mf_stats_schema_add(w, "schema/sess", sess_f, NULL, NULL, 2);
	e = mf_stats_add(w, "node", MF_STATS_COUNTERS, sn, NULL);
	MF_TEST_ASSERT(sn >= 0 && ss >= 0 && e >= 0, "schemas and node");
	mf_stats_values(w, e, 0)[0] = 42;
	mf_stats_values(w, e, 1)[1] = 7;
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "session/%s", ids[i]);
		e = mf_stats_add(w, name, MF_STATS_COUNTERS, ss, NULL);
		MF_TEST_ASSERT(e >= 0, "session %s", ids[i]);
		mf_stats_values(w, e, 1)[1] = bytes[i];
	}
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "session/b/out/o%d", i);
		MF_TEST_ASSERT(mf_stats_add(w, name, MF_STATS_COUNTERS, ss, NULL) >= 0, "output");
	}
	doc = mf_stats_to_json_top(&r, 2);
	MF_TEST_ASSERT(doc != NULL, "document");
	sess = json_object_get(doc, "sessions");
	/* b and d tie on bytes, both above the rest. */
	MF_TEST_EQ(json_object_size(sess), 2);
	MF_TEST_ASSERT(json_object_get(sess, "b") != NULL && json_object_get(sess, "d") != NULL,
		       "the busiest");
	MF_TEST_EQ(json_integer_value(json_object_get(json_object_get(sess, "b"), "outputs")), 3);
	MF_TEST_ASSERT(json_is_integer(json_object_get(json_object_get(sess, "d"), "outputs")) &&
		       json_integer_value(json_object_get(json_object_get(sess, "d"), "outputs")) == 0,
		       "a session without outputs: a count of 0");
	MF_TEST_EQ(json_integer_value(json_object_get(json_object_get(sess, "b"), "rx_bytes")),
		   9000);
	MF_TEST_EQ(json_integer_value(json_object_get(doc, "sessions_total")), 4);
	json_decref(doc);
	/* The tie at the cut: the earlier entry (b, added before d). */
	doc = mf_stats_to_json_top(&r, 1);
	MF_TEST_ASSERT(doc != NULL, "document");
	sess = json_object_get(doc, "sessions");
	MF_TEST_ASSERT(json_object_size(sess) == 1 && json_object_get(sess, "b") != NULL,
		       "a tie goes to the earlier entry");
	json_decref(doc);
	doc = mf_stats_to_json_top(&r, 100);
	MF_TEST_ASSERT(doc != NULL, "document");
	MF_TEST_EQ(json_object_size(json_object_get(doc, "sessions")), 4);
	MF_TEST_ASSERT(json_object_get(doc, "node") != NULL && json_object_get(doc, "ports") != NULL,
		       "the node and ports as mf_stats_to_json gives them");
	loss = mf_stats_losses_json(&r);
	MF_TEST_EQ(json_object_size(json_object_get(loss, "node")), 2);
	MF_TEST_EQ(json_integer_value(json_object_get(json_object_get(loss, "node"),
						      "drop_sess_miss")), 7);
	MF_TEST_ASSERT(json_object_get(json_object_get(loss, "node"), "drop_src") != NULL &&
		       json_object_get(json_object_get(loss, "node"), "rx_pkts") == NULL,
		       "zeros kept, counters that are no loss left out");
out:
	json_decref(doc);
	json_decref(loss);
	mf_stats_writer_destroy(w);
	return rc;
}

static const struct mf_test_case cases[] = {
	{ "basic", test_basic },
	{ "reader_refusals", test_reader_refusals },
	{ "two_process_churn", test_two_process_churn },
	{ "json_trim_losses", test_json_trim_losses },
};

MF_TEST_MAIN("stats", cases)
