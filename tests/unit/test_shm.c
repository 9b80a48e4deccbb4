/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared-memory segment: creation, validation, and every refusal an opener can meet
 * (no segment, foreign or truncated file, other ABI version, still starting, creator dead,
 * shut down, name taken), each with its code and message, never a crash; one client's claim.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mf/mf_shm.h"
#include "mf_test.h"

static char name[32];
static char path[96];

static const struct mf_shm_layout layout = {
	.region_size = { [MF_SHM_REGION_CMD] = 10000, [MF_SHM_REGION_STATS] = 70000 },
};

static void
set_name(const char *tag)
{
	snprintf(name, sizeof(name), "t-%s-%d", tag, (int)getpid());
	snprintf(path, sizeof(path), "/dev/shm/mfwd.%s", name);
	unlink(path);
}

static int
write_file(const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t w;

	if (fd < 0)
		return -errno;
	w = write(fd, p, n);
	close(fd);
	return w == (ssize_t)n ? 0 : -EIO;
}

static int
test_create_open(void)
{
	struct mf_shm a = { 0 }, b = { 0 };
	uint64_t sz = 0;
	uint8_t *r;
	int rc = 0;

	set_name("co");
	MF_TEST_EQ(mf_shm_create(&a, name, &layout), 0);
	MF_TEST_EQ(mf_shm_open(&b, name, false), -EAGAIN);	/* not published yet */
	r = mf_shm_region(&a, MF_SHM_REGION_STATS, &sz);
	MF_TEST_ASSERT(r != NULL && sz == 70000, "stats region of %llu bytes",
		       (unsigned long long)sz);
	MF_TEST_EQ(((uintptr_t)r) % MF_SHM_ALIGN, 0);
	r[0] = 42;
	MF_TEST_ASSERT(mf_shm_region(&a, MF_SHM_REGION_EVENT, NULL) == NULL, "absent region");
	mf_shm_publish(&a);
	MF_TEST_EQ(mf_shm_open(&b, name, false), 0);
	MF_TEST_EQ(b.hdr->generation, 1);
	MF_TEST_EQ(b.hdr->creator_pid, getpid());
	MF_TEST_ASSERT(strcmp(b.hdr->instance, name) == 0, "instance name");
	MF_TEST_ASSERT(mf_shm_creator_alive(&b), "we are alive");
	r = mf_shm_region(&b, MF_SHM_REGION_STATS, &sz);
	MF_TEST_EQ(r[0], 42);	/* the same memory, mapped elsewhere */
	mf_shm_close(&b);
	/* A second creator is refused while we live. */
	MF_TEST_EQ(mf_shm_create(&b, name, &layout), -EEXIST);
	mf_shm_destroy(&a);
	MF_TEST_EQ(access(path, F_OK), -1);
	MF_TEST_EQ(mf_shm_open(&b, name, false), -ENOENT);
out:
	mf_shm_close(&b);
	mf_shm_destroy(&a);
	return rc;
}

/* A creator that dies without cleaning up leaves a segment that says so. */
static int
test_dead_creator(void)
{
	struct mf_shm a = { 0 }, b = { 0 };
	int rc = 0, st;
	pid_t pid;

	set_name("dead");
	pid = fork();
	if (pid == 0) {
		if (mf_shm_create(&a, name, &layout) != 0)
			_exit(1);
		mf_shm_publish(&a);
		_exit(0);	/* no destroy: as if killed */
	}
	MF_TEST_ASSERT(pid > 0, "fork");
	waitpid(pid, &st, 0);
	MF_TEST_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child created the segment");
	MF_TEST_EQ(mf_shm_open(&b, name, false), -EOWNERDEAD);
	MF_TEST_ASSERT(strstr(mf_shm_strerror(-EOWNERDEAD), "gone") != NULL, "message");
	/* A new dataplane takes the name over with the next generation. */
	MF_TEST_EQ(mf_shm_create(&a, name, &layout), 0);
	mf_shm_publish(&a);
	MF_TEST_EQ(mf_shm_open(&b, name, true), 0);
	MF_TEST_EQ(b.hdr->generation, 2);
out:
	mf_shm_close(&b);
	mf_shm_destroy(&a);
	unlink(path);
	return rc;
}

static int
test_refusals(void)
{
	struct mf_shm a = { 0 }, b = { 0 };
	uint8_t junk[8192];
	struct mf_shm_hdr *h = NULL;
	size_t i;
	int rc = 0;

	set_name("bad");
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 7);
	/* A foreign file of any size, down to empty. */
	MF_TEST_EQ(write_file(junk, sizeof(junk)), 0);
	MF_TEST_EQ(mf_shm_open(&b, name, false), -EBADMSG);
	MF_TEST_EQ(write_file(junk, 10), 0);
	MF_TEST_EQ(mf_shm_open(&b, name, false), -EBADMSG);
	MF_TEST_EQ(write_file(junk, 0), 0);
	MF_TEST_EQ(mf_shm_open(&b, name, false), -EBADMSG);

	/* A real segment, copied into a file and altered one way at a time. */
	unlink(path);
	MF_TEST_EQ(mf_shm_create(&a, name, &layout), 0);
	mf_shm_publish(&a);
	h = malloc(a.size);
	MF_TEST_ASSERT(h != NULL, "malloc");
	memcpy(h, a.hdr, a.size);
	a.owner = false;	/* we overwrite its file below */
	mf_shm_destroy(&a);

	h->abi_version = MF_SHM_ABI_VERSION + 1;
	MF_TEST_EQ(write_file(h, h->total_size), 0);
	MF_TEST_EQ(mf_shm_open(&b, name, false), -EPROTO);
	MF_TEST_ASSERT(strstr(mf_shm_strerror(-EPROTO), "version") != NULL, "message");
	h->abi_version = MF_SHM_ABI_VERSION;
	MF_TEST_EQ(write_file(h, h->total_size - 4096), 0);	/* truncated */
	MF_TEST_EQ(mf_shm_open(&b, name, false), -EBADMSG);
	h->regions[MF_SHM_REGION_STATS].size = h->total_size;	/* region beyond the end */
	MF_TEST_EQ(write_file(h, h->total_size), 0);
	MF_TEST_EQ(mf_shm_open(&b, name, false), -EBADMSG);
	h->regions[MF_SHM_REGION_STATS].size = 70000;
	atomic_store(&h->state, MF_SHM_STATE_CLOSED);
	MF_TEST_EQ(write_file(h, h->total_size), 0);
	MF_TEST_EQ(mf_shm_open(&b, name, false), -ESHUTDOWN);
	atomic_store(&h->state, MF_SHM_STATE_READY);
	MF_TEST_EQ(write_file(h, h->total_size), 0);
	MF_TEST_EQ(mf_shm_open(&b, name, false), 0);	/* intact copy, creator still us */
	mf_shm_close(&b);

	MF_TEST_EQ(mf_shm_open(&b, "", false), -EINVAL);
	MF_TEST_EQ(mf_shm_open(&b, "../etc", false), -EINVAL);
	MF_TEST_EQ(mf_shm_open(&b, "a-name-that-is-far-too-long-to-use", false), -EINVAL);
	MF_TEST_EQ(mf_shm_create(&a, "x/y", &layout), -EINVAL);
	MF_TEST_EQ(mf_shm_open(&b, "nobody-runs-this", false), -ENOENT);
out:
	free(h);
	mf_shm_close(&b);
	unlink(path);
	return rc;
}

/* One client at a time: a second claim is refused while the first holds, readers are not
 * affected, and the claim ends with its handle or its process (a killed client). */
static int
test_claim(void)
{
	struct mf_shm a = { 0 }, b = { 0 }, c = { 0 }, r = { 0 };
	int rc = 0, st;
	pid_t pid;

	set_name("claim");
	MF_TEST_EQ(mf_shm_create(&a, name, &layout), 0);
	mf_shm_publish(&a);
	MF_TEST_EQ(mf_shm_open(&b, name, true), 0);
	MF_TEST_EQ(mf_shm_open(&c, name, true), 0);
	MF_TEST_EQ(mf_shm_open(&r, name, false), 0);
	MF_TEST_EQ(mf_shm_claim(&r), -EBADF);
	MF_TEST_EQ(mf_shm_claim(&b), 0);
	MF_TEST_EQ(mf_shm_claim(&c), -EBUSY);
	MF_TEST_ASSERT(strstr(mf_shm_strerror(-EBUSY), "another client") != NULL, "message");
	mf_shm_close(&b);
	MF_TEST_EQ(mf_shm_claim(&c), 0);
	mf_shm_close(&c);
	pid = fork();
	if (pid == 0)
		_exit(mf_shm_open(&b, name, true) == 0 && mf_shm_claim(&b) == 0 ? 0 : 1);
	MF_TEST_ASSERT(pid > 0, "fork");
	waitpid(pid, &st, 0);
	MF_TEST_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child claimed, no close");
	MF_TEST_EQ(mf_shm_open(&c, name, true), 0);
	MF_TEST_EQ(mf_shm_claim(&c), 0);
out:
	mf_shm_close(&b);
	mf_shm_close(&c);
	mf_shm_close(&r);
	mf_shm_destroy(&a);
	return rc;
}

static int
test_proc_start(void)
{
	int rc = 0;

	MF_TEST_ASSERT(mf_proc_start_ticks(getpid()) > 0, "own start time");
	MF_TEST_EQ(mf_proc_start_ticks(0x3fffffff), 0);
out:
	return rc;
}

static const struct mf_test_case cases[] = {
	{ "create_open", test_create_open },
	{ "dead_creator", test_dead_creator },
	{ "refusals", test_refusals },
	{ "claim", test_claim },
	{ "proc_start", test_proc_start },
};

MF_TEST_MAIN("shm", cases)
