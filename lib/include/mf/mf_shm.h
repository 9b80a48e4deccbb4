/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared-memory segment of one dataplane instance.
 *
 * The dataplane creates it (POSIX shm, /dev/shm/mfwd.<instance>); the control plane maps it
 * read-write to reach the channel rings; tools map it read-only to read stats. It holds a
 * fixed header and a table of regions (channel rings, stats area) addressed by offsets, so
 * every process may map it at a different address.
 *
 * Lifecycle: the creator writes the header under a temporary name and renames the file into
 * place in state INIT, initialises its regions, then publishes state READY; openers refuse a
 * segment before READY, so none sees a half-built one. A restarted dataplane makes a new
 * segment with a generation one higher; an opener notices the restart by its mapping's
 * creator being gone (mf_shm_creator_alive()) and the new segment's generation.
 */
#ifndef MF_SHM_H
#define MF_SHM_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MF_SHM_MAGIC		UINT64_C(0x4d4657442d53484d)	/* "MFWD-SHM" */
#define MF_SHM_ABI_VERSION	1u
#define MF_SHM_NAME_MAX		32	/* instance name, with its NUL */
#define MF_SHM_ALIGN		4096u	/* regions start on page boundaries */

/** Regions a segment may hold; the table in the header is indexed by these. */
enum mf_shm_region_id {
	MF_SHM_REGION_CMD = 0,	/* channel ring: commands, control plane -> dataplane */
	MF_SHM_REGION_REPLY,	/* channel ring: replies, dataplane -> control plane */
	MF_SHM_REGION_EVENT,	/* channel ring: events, dataplane -> control plane */
	MF_SHM_REGION_STATS,	/* stats area */
	MF_SHM_REGION_MAX = 8,
};

enum mf_shm_state {
	MF_SHM_STATE_INIT = 0,
	MF_SHM_STATE_READY = 1,
	MF_SHM_STATE_CLOSED = 2,	/* the creator shut down cleanly */
};

struct mf_shm_region {
	uint64_t offset;	/* from the start of the segment; 0 = absent */
	uint64_t size;
};

/** The fixed header at offset 0. Fields are written by the creator before READY. */
struct mf_shm_hdr {
	uint64_t magic;
	uint32_t abi_version;
	uint32_t hdr_size;		/* sizeof(struct mf_shm_hdr) of the creator */
	uint64_t total_size;		/* bytes, the whole segment */
	int32_t creator_pid;
	uint32_t reserved0;
	uint64_t creator_start_ticks;	/* /proc/<pid>/stat starttime: tells pid reuse apart */
	uint64_t start_time_ns;		/* CLOCK_REALTIME at creation */
	uint64_t generation;		/* one more than the segment it replaced */
	_Atomic uint32_t state;		/* enum mf_shm_state */
	uint32_t reserved1;
	char instance[MF_SHM_NAME_MAX];
	struct mf_shm_region regions[MF_SHM_REGION_MAX];
	uint8_t reserved2[96];
};

_Static_assert(sizeof(struct mf_shm_hdr) == 320, "mf_shm_hdr layout is ABI");
_Static_assert(offsetof(struct mf_shm_hdr, state) == 56, "mf_shm_hdr layout is ABI");
_Static_assert(offsetof(struct mf_shm_hdr, regions) == 96, "mf_shm_hdr layout is ABI");

/** Per-process handle of a mapped segment. */
struct mf_shm {
	struct mf_shm_hdr *hdr;
	size_t size;
	bool writable;
	int fd;				/* writable opens: the segment's file, kept for the claim;
					 * -1 otherwise (0 in a zeroed handle, never closed) */
	bool owner;			/* this process created it and unlinks it on destroy */
	char path[MF_SHM_NAME_MAX + 8];	/* file name under /dev/shm */
};

/** What the creator asks for: region sizes in bytes (0 = no such region). */
struct mf_shm_layout {
	uint64_t region_size[MF_SHM_REGION_MAX];
};

/**
 * Create the segment of @p instance, replacing a stale one of a dead dataplane.
 *
 * Context: the dataplane, once at start.
 * @return 0, or -EINVAL (bad name or layout), -EEXIST (a live dataplane owns the name),
 *   or the negative errno of the failed system call.
 */
int mf_shm_create(struct mf_shm *shm, const char *instance, const struct mf_shm_layout *layout);

/** Publish state READY once the creator has initialised every region. */
void mf_shm_publish(struct mf_shm *shm);

/** Mark the segment closed and unlink it. Accepts a handle that was never created. */
void mf_shm_destroy(struct mf_shm *shm);

/**
 * Open and validate the segment of @p instance.
 *
 * @param writable false maps read-only (tools); true read-write, keeping the file open for
 *   mf_shm_claim() (channel clients).
 * @return 0, or -ENOENT (no dataplane of that name), -EBADMSG (not an mfwd segment, or
 *   truncated), -EPROTO (another ABI version), -EAGAIN (still being built),
 *   -EOWNERDEAD (its dataplane is gone), -ESHUTDOWN (its dataplane shut down),
 *   or the negative errno of the failed system call.
 */
int mf_shm_open(struct mf_shm *shm, const char *instance, bool writable);

/**
 * Claim a segment opened writable as its one client (an exclusive, non-blocking flock held
 * until mf_shm_close() or the process's end, so a killed client never leaves it held).
 * @return 0, -EBUSY (another handle holds it), or -EBADF (not opened writable).
 */
int mf_shm_claim(struct mf_shm *shm);

/** Unmap a segment opened with mf_shm_open(), ending its claim. Accepts a zeroed handle. */
void mf_shm_close(struct mf_shm *shm);

/** Address of region @p id, or NULL when the segment has none. */
void *mf_shm_region(const struct mf_shm *shm, enum mf_shm_region_id id, uint64_t *size);

/** true while the segment's creator runs (same pid and same process start time). */
bool mf_shm_creator_alive(const struct mf_shm *shm);

/** A sentence for a code returned by mf_shm_open(), mf_shm_claim() or mf_shm_create(). */
const char *mf_shm_strerror(int rc);

/** Start time of process @p pid in clock ticks since boot, or 0 when it does not exist. */
uint64_t mf_proc_start_ticks(pid_t pid);

#endif /* MF_SHM_H */
