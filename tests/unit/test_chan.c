/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The channel ring: unit behaviour in one process, then two real processes exchanging
 * 1M messages through a segment (rate printed), and a consumer killed with SIGKILL mid-way
 * and restarted, which must resume at the first message it had not consumed.
 */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mf/mf_chan.h"
#include "mf/mf_client.h"
#include "mf/mf_shm.h"
#include "mf_test.h"

#define NB_MSGS		1000000u
#define MSG_WORDS	8	/* 64-byte payloads */

static int
test_geometry(void)
{
	static uint8_t mem[192 + 8 * 256] __attribute__((aligned(64)));
	struct mf_chan ch;
	int rc = 0;

	MF_TEST_EQ(mf_chan_init(mem, sizeof(mem), 6, 256), -EINVAL);	/* not a power of 2 */
	MF_TEST_EQ(mf_chan_init(mem, sizeof(mem), 8, 100), -EINVAL);	/* not 64-multiple */
	MF_TEST_EQ(mf_chan_init(mem, sizeof(mem), 16, 256), -EINVAL);	/* does not fit */
	MF_TEST_EQ(mf_chan_attach(&ch, mem, sizeof(mem)), -EBADMSG);	/* nothing there */
	MF_TEST_EQ(mf_chan_init(mem, sizeof(mem), 8, 256), 0);
	MF_TEST_EQ(mf_chan_attach(&ch, mem, sizeof(mem) - 1), -EBADMSG);
	MF_TEST_EQ(mf_chan_attach(&ch, mem, sizeof(mem)), 0);
	MF_TEST_EQ(ch.max_payload, 240);
	((struct mf_chan_ring *)mem)->nb_slots = 1u << 30;	/* a lying geometry */
	MF_TEST_EQ(mf_chan_attach(&ch, mem, sizeof(mem)), -EBADMSG);
out:
	return rc;
}

static int
test_send_recv(void)
{
	static uint8_t mem[192 + 4 * 128] __attribute__((aligned(64)));
	struct mf_chan ch;
	struct mf_chan_msg_hdr h;
	const struct mf_chan_msg_hdr *ph;
	uint8_t big[200], buf[112];
	uint64_t i;
	uint32_t len;
	int rc = 0;

	MF_TEST_EQ(mf_chan_init(mem, sizeof(mem), 4, 128), 0);
	MF_TEST_EQ(mf_chan_attach(&ch, mem, sizeof(mem)), 0);
	MF_TEST_EQ(mf_chan_recv(&ch, &h, buf, sizeof(buf)), -EAGAIN);
	memset(big, 7, sizeof(big));
	MF_TEST_EQ(mf_chan_send(&ch, 1, 1, 0, big, 113), -EMSGSIZE);
	/* Many laps of the 4-slot ring, in order, with full and empty at each lap. */
	for (i = 0; i < 1000; i++) {
		uint64_t k;

		for (k = 0; k < 4; k++)
			MF_TEST_EQ(mf_chan_send(&ch, 2, 1, i * 4 + k, &k, sizeof(k)), 0);
		MF_TEST_EQ(mf_chan_send(&ch, 2, 1, 99, big, 1), -ENOSPC);
		MF_TEST_EQ(mf_chan_count(&ch), 4);
		for (k = 0; k < 4; k++) {
			uint64_t v = 0;

			MF_TEST_EQ(mf_chan_recv(&ch, &h, &v, sizeof(v)), 8);
			MF_TEST_EQ(h.seq, i * 4 + k);
			MF_TEST_EQ(h.type, 2);
			MF_TEST_EQ(v, k);
		}
		MF_TEST_EQ(mf_chan_count(&ch), 0);
	}
	/* A message larger than the caller's buffer stays in the ring. */
	MF_TEST_EQ(mf_chan_send(&ch, 3, 1, 5, big, 100), 0);
	MF_TEST_EQ(mf_chan_recv(&ch, &h, buf, 50), -EMSGSIZE);
	ph = mf_chan_peek(&ch, &len);
	MF_TEST_ASSERT(ph != NULL && len == 100 && ph->seq == 5, "peek in place");
	/* A producer's lying len is clamped to the slot. */
	((struct mf_chan_msg_hdr *)ph)->len = 100000;
	ph = mf_chan_peek(&ch, &len);
	MF_TEST_EQ(len, ch.max_payload);
	mf_chan_consume(&ch);
	MF_TEST_ASSERT(mf_chan_peek(&ch, &len) == NULL, "empty after consume");
out:
	return rc;
}

/* ---- two processes ---- */

static char inst[32];

static void
fill(uint64_t *w, uint64_t i)
{
	int k;

	for (k = 0; k < MSG_WORDS; k++)
		w[k] = i * 0x9e3779b97f4a7c15ull + (uint64_t)k;
}

static int
attach(struct mf_shm *shm, struct mf_chan *ch)
{
	uint64_t sz;
	void *mem;

	if (mf_shm_open(shm, inst, true) != 0)
		return -1;
	mem = mf_shm_region(shm, MF_SHM_REGION_CMD, &sz);
	return mf_chan_attach(ch, mem, sz);
}

static void
producer(void)
{
	struct mf_shm shm;
	struct mf_chan ch;
	uint64_t i, w[MSG_WORDS];

	if (attach(&shm, &ch) != 0)
		_exit(2);
	for (i = 0; i < NB_MSGS; i++) {
		fill(w, i);
		while (mf_chan_send(&ch, 7, 1, i, w, sizeof(w)) == -ENOSPC)
			sched_yield();
	}
	_exit(0);
}

/* A consumer that dies by SIGKILL once it has taken this many messages (0: never): where
 * it dies does not depend on how the scheduler runs the processes. */
static uint64_t die_at;

/* Checks every message from the ring's current tail on; exits 0 after the last. */
static void
consumer(void)
{
	struct mf_shm shm;
	struct mf_chan ch;
	struct mf_chan_msg_hdr h;
	uint64_t next, w[MSG_WORDS], want[MSG_WORDS];
	int n;

	if (attach(&shm, &ch) != 0)
		_exit(2);
	next = atomic_load(&ch.ring->tail);
	while (next < NB_MSGS) {
		n = mf_chan_recv(&ch, &h, w, sizeof(w));
		if (n == -EAGAIN) {
			sched_yield();
			continue;
		}
		fill(want, next);
		if (n != (int)sizeof(w) || h.seq != next || memcmp(w, want, sizeof(w)) != 0) {
			fprintf(stderr, "consumer: message %llu wrong (seq %llu, len %d)\n",
				(unsigned long long)next, (unsigned long long)h.seq, n);
			_exit(1);
		}
		next++;
		if (next == die_at)
			raise(SIGKILL);
	}
	_exit(0);
}

static pid_t
spawn(void (*fn)(void))
{
	pid_t pid = fork();

	if (pid == 0)
		fn();
	return pid;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
make_segment(struct mf_shm *shm, struct mf_chan *ch)
{
	struct mf_shm_layout l = { 0 };
	uint64_t sz;
	void *mem;
	int rc;

	l.region_size[MF_SHM_REGION_CMD] = mf_chan_mem_size(1024, 128);
	rc = mf_shm_create(shm, inst, &l);
	if (rc != 0)
		return rc;
	mem = mf_shm_region(shm, MF_SHM_REGION_CMD, &sz);
	rc = mf_chan_init(mem, sz, 1024, 128);
	if (rc == 0)
		rc = mf_chan_attach(ch, mem, sz);
	mf_shm_publish(shm);
	return rc;
}

static int
wait_ok(pid_t pid)
{
	int st;

	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int
test_two_process(void)
{
	struct mf_shm shm = { 0 };
	struct mf_chan ch;
	pid_t prod = -1, cons = -1;
	double t0, dt;
	int rc = 0;

	snprintf(inst, sizeof(inst), "t-chan-%d", (int)getpid());
	MF_TEST_EQ(make_segment(&shm, &ch), 0);
	t0 = now_s();
	cons = spawn(consumer);
	prod = spawn(producer);
	MF_TEST_EQ(wait_ok(prod), 0);
	prod = -1;
	MF_TEST_EQ(wait_ok(cons), 0);
	cons = -1;
	dt = now_s() - t0;
	printf("channel: %u messages of %zu bytes between two processes in %.3f s: "
	       "%.2f M msg/s, no loss, no reordering\n", NB_MSGS, MSG_WORDS * sizeof(uint64_t),
	       dt, NB_MSGS / dt / 1e6);
	MF_TEST_EQ(atomic_load(&ch.ring->tail), NB_MSGS);
out:
	if (prod > 0)
		kill(prod, SIGKILL), waitpid(prod, NULL, 0);
	if (cons > 0)
		kill(cons, SIGKILL), waitpid(cons, NULL, 0);
	mf_shm_destroy(&shm);
	return rc;
}

static int
test_consumer_restart(void)
{
	struct mf_shm shm = { 0 };
	struct mf_chan ch;
	pid_t prod = -1, cons = -1;
	uint64_t killed_at;
	int rc = 0, st;

	snprintf(inst, sizeof(inst), "t-chanr-%d", (int)getpid());
	MF_TEST_EQ(make_segment(&shm, &ch), 0);
	die_at = NB_MSGS / 3;
	cons = spawn(consumer);
	die_at = 0;
	prod = spawn(producer);
	MF_TEST_EQ(waitpid(cons, &st, 0), cons);
	cons = -1;
	MF_TEST_ASSERT(WIFSIGNALED(st), "the first consumer was killed, did not fail");
	killed_at = atomic_load(&ch.ring->tail);
	MF_TEST_ASSERT(killed_at < NB_MSGS, "killed mid-way, at %llu",
		       (unsigned long long)killed_at);
	/* The producer met a full ring meanwhile; it must not have overwritten anything. */
	cons = spawn(consumer);
	MF_TEST_EQ(wait_ok(prod), 0);
	prod = -1;
	MF_TEST_EQ(wait_ok(cons), 0);
	cons = -1;
	printf("channel: consumer killed after %llu of %u messages; its successor resumed "
	       "there and received the rest in order\n", (unsigned long long)killed_at, NB_MSGS);
out:
	if (prod > 0)
		kill(prod, SIGKILL), waitpid(prod, NULL, 0);
	if (cons > 0)
		kill(cons, SIGKILL), waitpid(cons, NULL, 0);
	mf_shm_destroy(&shm);
	return rc;
}

static int
ring(struct mf_shm *shm, enum mf_shm_region_id id, uint32_t slots, uint32_t size,
     struct mf_chan *ch)
{
	uint64_t sz;
	void *mem = mf_shm_region(shm, id, &sz);
	int rc = mf_chan_init(mem, sz, slots, size);

	return rc != 0 ? rc : mf_chan_attach(ch, mem, sz);
}

/* A client, and the dataplane's ends of its rings played here: what a predecessor left in
 * them does not block it. Before, a reply above every seq it sent (a predecessor's, its
 * seqs from a wall clock since stepped back) and an event larger than it knows each held
 * their ring for good. */
static int
test_client_leftovers(void)
{
	struct mf_shm shm = { 0 };
	struct mf_shm_layout l = { 0 };
	struct mf_chan cmd, reply, event;
	struct mf_client cl;
	struct mf_msg_reply r = { 0 }, got;
	struct mf_msg_event ev = { .kind = MF_EV_SESSION_IDLE }, evg;
	uint8_t big[240] = { 0 }, buf[16];
	uint64_t seq;
	int rc = 0, opened = 0;

	snprintf(inst, sizeof(inst), "t-chanc-%d", (int)getpid());
	l.region_size[MF_SHM_REGION_CMD] = mf_chan_mem_size(8, 1024);
	l.region_size[MF_SHM_REGION_REPLY] = mf_chan_mem_size(8, 1024);
	l.region_size[MF_SHM_REGION_EVENT] = mf_chan_mem_size(16, MF_CHAN_EVENT_SLOT_SIZE);
	MF_TEST_EQ(mf_shm_create(&shm, inst, &l), 0);
	MF_TEST_EQ(ring(&shm, MF_SHM_REGION_CMD, 8, 1024, &cmd), 0);
	MF_TEST_EQ(ring(&shm, MF_SHM_REGION_REPLY, 8, 1024, &reply), 0);
	MF_TEST_EQ(ring(&shm, MF_SHM_REGION_EVENT, 16, MF_CHAN_EVENT_SLOT_SIZE, &event), 0);
	mf_shm_publish(&shm);
	MF_TEST_EQ(mf_client_open(&cl, inst), 0);
	opened = 1;
	MF_TEST_EQ(mf_client_send(&cl, MF_MSG_NODE_INFO, NULL, 0, &seq), 0);
	MF_TEST_EQ(mf_chan_send(&reply, MF_MSG_REPLY, MF_PROTO_VERSION, seq + 1000000000ull, &r,
				sizeof(r)), 0);
	MF_TEST_EQ(mf_chan_send(&reply, MF_MSG_REPLY, MF_PROTO_VERSION, seq, &r, sizeof(r)), 0);
	MF_TEST_EQ(mf_client_reply(&cl, seq, &got, buf, sizeof(buf), 100), 0);
	MF_TEST_EQ(mf_chan_count(&reply), 0);
	MF_TEST_ASSERT(sizeof(big) > sizeof(ev), "the event is smaller than %zu", sizeof(big));
	MF_TEST_EQ(mf_chan_send(&event, MF_MSG_EVENT, MF_PROTO_VERSION, 1, big, sizeof(big)), 0);
	MF_TEST_EQ(mf_chan_send(&event, MF_MSG_EVENT, MF_PROTO_VERSION, 2, &ev, sizeof(ev)), 0);
	MF_TEST_EQ(mf_client_event(&cl, &evg), 0);
	MF_TEST_EQ(evg.kind, MF_EV_SESSION_IDLE);
	MF_TEST_EQ(mf_client_event(&cl, &evg), -EAGAIN);
out:
	if (opened)
		mf_client_close(&cl);
	mf_shm_destroy(&shm);
	return rc;
}

static const struct mf_test_case cases[] = {
	{ "geometry", test_geometry },
	{ "send_recv", test_send_recv },
	{ "two_process", test_two_process },
	{ "consumer_restart", test_consumer_restart },
	{ "client_leftovers", test_client_leftovers },
};

MF_TEST_MAIN("chan", cases)
