/* SPDX-License-Identifier: BSD-3-Clause */
/* Creating, validating and mapping the shared-memory segment (see mf_shm.h). */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mf/mf_shm.h"

#define SHM_DIR "/dev/shm"

static bool
instance_name_ok(const char *name)
{
	size_t n = 0;

	if (name == NULL)
		return false;
	for (; name[n] != '\0'; n++) {
		char c = name[n];

		if (n + 1 >= MF_SHM_NAME_MAX)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return n > 0;
}

uint64_t
mf_proc_start_ticks(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long ticks = 0;
	const char *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields count from the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	/* After ')' comes field 3 (state); starttime is field 22. */
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &ticks) != 1)
		return 0;
	return ticks;
}

static bool
hdr_creator_alive(const struct mf_shm_hdr *h)
{
	if (h->creator_pid <= 0)
		return false;
	if (kill(h->creator_pid, 0) != 0 && errno == ESRCH)
		return false;
	return mf_proc_start_ticks(h->creator_pid) == h->creator_start_ticks;
}

bool
mf_shm_creator_alive(const struct mf_shm *shm)
{
	return shm->hdr != NULL && hdr_creator_alive(shm->hdr);
}

static int
check_layout(const struct mf_shm_layout *layout, uint64_t *total)
{
	uint64_t off = (sizeof(struct mf_shm_hdr) + MF_SHM_ALIGN - 1) & ~(uint64_t)(MF_SHM_ALIGN - 1);
	int i;

	for (i = 0; i < MF_SHM_REGION_MAX; i++) {
		uint64_t sz = layout->region_size[i];

		if (sz > (UINT64_C(1) << 40))
			return -EINVAL;
		off += (sz + MF_SHM_ALIGN - 1) & ~(uint64_t)(MF_SHM_ALIGN - 1);
	}
	*total = off;
	return 0;
}

static void
fill_header(struct mf_shm_hdr *h, const char *instance, const struct mf_shm_layout *layout,
	    uint64_t total, uint64_t generation)
{
	uint64_t off = (sizeof(*h) + MF_SHM_ALIGN - 1) & ~(uint64_t)(MF_SHM_ALIGN - 1);
	struct timespec ts;
	int i;

	clock_gettime(CLOCK_REALTIME, &ts);
	h->magic = MF_SHM_MAGIC;
	h->abi_version = MF_SHM_ABI_VERSION;
	h->hdr_size = sizeof(*h);
	h->total_size = total;
	h->creator_pid = getpid();
	h->creator_start_ticks = mf_proc_start_ticks(getpid());
	h->start_time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	h->generation = generation;
	snprintf(h->instance, sizeof(h->instance), "%s", instance);
	for (i = 0; i < MF_SHM_REGION_MAX; i++) {
		uint64_t sz = layout->region_size[i];

		if (sz == 0)
			continue;
		h->regions[i].offset = off;
		h->regions[i].size = sz;
		off += (sz + MF_SHM_ALIGN - 1) & ~(uint64_t)(MF_SHM_ALIGN - 1);
	}
}

/* Generation of the segment being replaced, or -EEXIST while its dataplane lives. */
static int
previous_generation(const char *instance, uint64_t *gen)
{
	struct mf_shm old;
	int rc;

	*gen = 0;
	rc = mf_shm_open(&old, instance, false);
	if (rc == 0) {
		mf_shm_close(&old);
		return -EEXIST;
	}
	if (rc == -EOWNERDEAD || rc == -ESHUTDOWN || rc == -EAGAIN) {
		/* Read the generation from the raw header even though open refused it. */
		char path[128];
		struct mf_shm_hdr h;
		int fd;

		snprintf(path, sizeof(path), SHM_DIR "/mfwd.%s", instance);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
			    h.magic == MF_SHM_MAGIC)
				*gen = h.generation;
			close(fd);
		}
	}
	return 0;
}

int
mf_shm_create(struct mf_shm *shm, const char *instance, const struct mf_shm_layout *layout)
{
	char tmp[128], final[64];
	uint64_t total, gen;
	void *map = MAP_FAILED;
	int fd = -1, rc;

	memset(shm, 0, sizeof(*shm));
	if (!instance_name_ok(instance) || layout == NULL || check_layout(layout, &total) != 0)
		return -EINVAL;
	rc = previous_generation(instance, &gen);
	if (rc != 0)
		return rc;

	snprintf(tmp, sizeof(tmp), SHM_DIR "/mfwd.%s.tmp.%d", instance, (int)getpid());
	snprintf(final, sizeof(final), SHM_DIR "/mfwd.%s", instance);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)total) != 0) {
		rc = -errno;
		goto err_unlink;
	}
	map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		goto err_unlink;
	}
	fill_header(map, instance, layout, total, gen + 1);
	if (rename(tmp, final) != 0) {
		rc = -errno;
		goto err_unmap;
	}
	close(fd);
	shm->hdr = map;
	shm->size = total;
	shm->writable = true;
	shm->fd = -1;		/* the creator claims nothing */
	shm->owner = true;
	snprintf(shm->path, sizeof(shm->path), "mfwd.%s", instance);
	return 0;

err_unmap:
	munmap(map, total);
err_unlink:
	unlink(tmp);
	close(fd);
	return rc;
}

void
mf_shm_publish(struct mf_shm *shm)
{
	atomic_store_explicit(&shm->hdr->state, MF_SHM_STATE_READY, memory_order_release);
}

void
mf_shm_destroy(struct mf_shm *shm)
{
	char path[sizeof(SHM_DIR) + sizeof(shm->path) + 1];

	if (shm->hdr == NULL)
		return;
	atomic_store_explicit(&shm->hdr->state, MF_SHM_STATE_CLOSED, memory_order_release);
	snprintf(path, sizeof(path), SHM_DIR "/%s", shm->path);
	if (shm->owner)
		unlink(path);
	munmap(shm->hdr, shm->size);
	memset(shm, 0, sizeof(*shm));
}

static int
validate(const struct mf_shm_hdr *h, size_t file_size)
{
	uint32_t state;
	int i;

	if (h->magic != MF_SHM_MAGIC)
		return -EBADMSG;
	if (h->abi_version != MF_SHM_ABI_VERSION || h->hdr_size != sizeof(*h))
		return -EPROTO;
	if (h->total_size != file_size)
		return -EBADMSG;
	for (i = 0; i < MF_SHM_REGION_MAX; i++) {
		const struct mf_shm_region *r = &h->regions[i];

		if (r->offset == 0)
			continue;
		if (r->offset < sizeof(*h) || r->offset > file_size ||
		    r->size > file_size - r->offset)
			return -EBADMSG;
	}
	state = atomic_load_explicit(&h->state, memory_order_acquire);
	if (state == MF_SHM_STATE_CLOSED)
		return -ESHUTDOWN;
	if (state != MF_SHM_STATE_READY)
		return -EAGAIN;
	if (!hdr_creator_alive(h))
		return -EOWNERDEAD;
	return 0;
}

int
mf_shm_open(struct mf_shm *shm, const char *instance, bool writable)
{
	char path[128];
	struct stat st;
	void *map;
	int fd, rc;

	memset(shm, 0, sizeof(*shm));
	if (!instance_name_ok(instance))
		return -EINVAL;
	snprintf(path, sizeof(path), SHM_DIR "/mfwd.%s", instance);
	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if ((size_t)st.st_size < sizeof(struct mf_shm_hdr)) {
		close(fd);
		return -EBADMSG;
	}
	map = mmap(NULL, (size_t)st.st_size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
		   MAP_SHARED, fd, 0);
	rc = map == MAP_FAILED ? -errno : 0;
	if (rc == 0)
		rc = validate(map, (size_t)st.st_size);
	if (rc != 0) {
		if (map != MAP_FAILED)
			munmap(map, (size_t)st.st_size);
		close(fd);
		return rc;
	}
	/* A writer keeps the file open: mf_shm_claim() locks this very segment, not a newer
	 * one renamed over its name meanwhile. */
	if (!writable) {
		close(fd);
		fd = -1;
	}
	shm->fd = fd;
	shm->hdr = map;
	shm->size = (size_t)st.st_size;
	shm->writable = writable;
	snprintf(shm->path, sizeof(shm->path), "mfwd.%s", instance);
	return 0;
}

int
mf_shm_claim(struct mf_shm *shm)
{
	if (shm->hdr == NULL || shm->fd < 0)
		return -EBADF;
	if (flock(shm->fd, LOCK_EX | LOCK_NB) != 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	return 0;
}

void
mf_shm_close(struct mf_shm *shm)
{
	if (shm->hdr != NULL)
		munmap(shm->hdr, shm->size);
	if (shm->hdr != NULL && shm->fd >= 0)
		close(shm->fd);		/* and with it the claim */
	memset(shm, 0, sizeof(*shm));
}

void *
mf_shm_region(const struct mf_shm *shm, enum mf_shm_region_id id, uint64_t *size)
{
	const struct mf_shm_region *r;

	if (shm->hdr == NULL || (unsigned int)id >= MF_SHM_REGION_MAX)
		return NULL;
	r = &shm->hdr->regions[id];
	if (r->offset == 0)
		return NULL;
	if (size != NULL)
		*size = r->size;
	return (uint8_t *)shm->hdr + r->offset;
}

const char *
mf_shm_strerror(int rc)
{
	switch (rc) {
	case 0:
		return "ok";
	case -ENOENT:
		return "no dataplane runs with that instance name (no segment in " SHM_DIR ")";
	case -EBADMSG:
		return "not an mfwd segment, or truncated";
	case -EPROTO:
		return "segment of another mfwd version (ABI mismatch): use tools of the same version";
	case -EAGAIN:
		return "the dataplane is still starting";
	case -EOWNERDEAD:
		return "the dataplane that created the segment is gone";
	case -ESHUTDOWN:
		return "the dataplane shut down";
	case -EBUSY:
		return "another client (a control plane or an mfwd-ctl) holds the dataplane's "
		       "command channel";
	case -EEXIST:
		return "a running dataplane already uses that instance name";
	case -EINVAL:
		return "invalid instance name (1-31 of A-Z a-z 0-9 - _) or layout";
	case -EACCES:
		return "permission denied (run as the dataplane's user or root)";
	default:
		return strerror(-rc);
	}
}
