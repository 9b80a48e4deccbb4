/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Session capture, the control lcore's side: session.capture opens a pcapng file (DPDK's
 * rte_pcapng: one interface per port, each packet marked in or out) in --capture-dir,
 * starts a writer thread and turns the session's capture flag on (an entry copy, as ICE
 * does). The workers copy the session's packets into an MP/SC ring (dp_capture.h); the
 * writer, an ordinary thread since it makes system calls, writes them until the time or
 * the packet count is reached; the timer then turns the flag off, closes the file and
 * sends capture.done. One capture at a time: a node-wide ring and pool, sized once.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "dp_capture.h"
#include "dp_event.h"
#include "mf/mf_fs.h"

#define CAP_RING	4096
#define CAP_MBUFS	2047
#define CAP_BURST	64

/* Copies left in the ring by workers that saw the flag after the writer ended. */
static void
drain(void)
{
	struct rte_mbuf *pkts[CAP_BURST];
	unsigned int n;

	while ((n = rte_ring_sc_dequeue_burst(dp.cap.ring, (void **)pkts, CAP_BURST, NULL)) > 0)
		rte_pktmbuf_free_bulk(pkts, n);
}

static void *
writer_main(void *arg)
{
	struct dp_capture *c = arg;
	struct rte_mbuf *pkts[CAP_BURST];
	struct timespec nap = { .tv_sec = 0, .tv_nsec = 1000000 };
	uint64_t written = 0;
	unsigned int n;

	while (!atomic_load(&c->stop) && written < c->max_packets &&
	       rte_rdtsc() < c->deadline_tsc) {
		n = rte_ring_sc_dequeue_burst(c->ring, (void **)pkts,
					      (unsigned int)RTE_MIN((uint64_t)CAP_BURST,
								    c->max_packets - written),
					      NULL);
		if (n == 0) {
			nanosleep(&nap, NULL);
			continue;
		}
		/* DPDK 22.11's rte_pcapng_write_packets() does not free what it writes, though
		 * its header says so (dumpcap frees after it): the copies go back here. */
		if (rte_pcapng_write_packets(c->pcapng, pkts, (uint16_t)n) < 0) {
			rte_pktmbuf_free_bulk(pkts, n);
			c->write_failed = true;
			break;
		}
		rte_pktmbuf_free_bulk(pkts, n);
		written += n;
		atomic_store(&c->written, written);
	}
	atomic_store(&c->done, true);
	return NULL;
}

/* A name of letters, digits, '.', '_', '-' ending in ".pcapng", not hidden. */
static bool
file_name_ok(const char *f)
{
	size_t n = strnlen(f, MF_CAPTURE_FILE_MAX), i;

	if (n < 8 || n >= MF_CAPTURE_FILE_MAX || f[0] == '.' || strcmp(f + n - 7, ".pcapng") != 0)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)f[i]) && strchr("._-", f[i]) == NULL)
			return false;
	return true;
}

static int
check(const struct mf_msg_capture *c, char *detail, size_t len)
{
	if (dp.cap.running)
		return dp_refuse(-EBUSY, detail, len, "a capture of \"%s\" runs: one at a time",
			      dp.cap.id);
	if (c->seconds < 1 || c->seconds > 3600)
		return dp_refuse(-EINVAL, detail, len, "seconds: 1..3600");
	if (c->max_packets < 1 || c->max_packets > 10000000)
		return dp_refuse(-EINVAL, detail, len, "max_packets: 1..10000000");
	if (c->snaplen != 0 && (c->snaplen < 64 || c->snaplen > 65535))
		return dp_refuse(-EINVAL, detail, len, "snaplen: 0 (all) or 64..65535");
	if (c->file[0] != '\0' && !file_name_ok(c->file))
		return dp_refuse(-EINVAL, detail, len, "file: a name of letters, digits, '.', '_', "
			      "'-' ending in .pcapng (it goes in --capture-dir)");
	return 0;
}

/* The ring and pool, once: 2,047 frames of any size in flight is a lot of hugepage memory
 * for a feature most nodes never use. */
static int
resources(void)
{
	if (dp.cap.ring == NULL)
		dp.cap.ring = rte_ring_create("mf_capture", CAP_RING, (int)rte_socket_id(),
					      RING_F_SC_DEQ);
	if (dp.cap.pool == NULL)
		dp.cap.pool = rte_pktmbuf_pool_create("mf_capture", CAP_MBUFS, 0, 0,
			(uint16_t)(rte_pcapng_mbuf_size(dp.cfg.frag_max_bytes + RTE_ETHER_HDR_LEN) +
				   RTE_PKTMBUF_HEADROOM),
			(int)rte_socket_id());
	return dp.cap.ring != NULL && dp.cap.pool != NULL ? 0 : -ENOMEM;
}

static int
open_file(const struct mf_msg_capture *c, char *path, char *detail, size_t len)
{
	char name[MF_CAPTURE_FILE_MAX];
	int fd, rc;

	if (c->file[0] != '\0')
		snprintf(name, sizeof(name), "%s", c->file);
	else
		snprintf(name, sizeof(name), "%.*s-%ld.pcapng", MF_SESS_ID_MAX - 1, c->id,
			 (long)time(NULL));
	rc = mf_mkdirs(dp.cfg.capture_dir, 0700);
	if (rc != 0)
		return dp_refuse(rc, detail, len, "%s: %s", dp.cfg.capture_dir, strerror(-rc));
	snprintf(path, MF_CAPTURE_PATH_MAX, "%s/%s", dp.cfg.capture_dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return dp_refuse(-errno, detail, len, "file: %s: %s", path, strerror(errno));
	dp.cap.pcapng = rte_pcapng_fdopen(fd, NULL, NULL, "mfwd " MF_VERSION, c->id);
	if (dp.cap.pcapng == NULL) {
		close(fd);
		unlink(path);
		return dp_refuse(-EIO, detail, len, "file: %s: cannot write pcapng", path);
	}
	return 0;
}

int
dp_capture_start(const struct mf_msg_capture *c, char *path, char *detail, size_t len)
{
	struct dp_sess *s = dp_sess_find(c->id);
	int rc;

	if (s == NULL)
		return dp_refuse(-ENOENT, detail, len, "id: no session \"%s\"", c->id);
	rc = check(c, detail, len);
	if (rc != 0)
		return rc;
	if (resources() != 0)
		return dp_refuse(-ENOMEM, detail, len, "no memory for the capture's ring and pool");
	rc = open_file(c, path, detail, len);
	if (rc != 0)
		return rc;
	drain();
	dp.cap.snaplen = c->snaplen ? c->snaplen : UINT32_MAX;
	dp.cap.max_packets = c->max_packets;
	dp.cap.deadline_tsc = rte_rdtsc() + (uint64_t)c->seconds * dp.tsc_hz;
	atomic_store(&dp.cap.written, 0);
	atomic_store(&dp.cap.done, false);
	atomic_store(&dp.cap.stop, false);
	dp.cap.write_failed = false;
	snprintf(dp.cap.id, sizeof(dp.cap.id), "%s", c->id);
	rc = -pthread_create(&dp.cap.writer, NULL, writer_main, &dp.cap);
	if (rc == 0) {
		rc = dp_sess_capture(s, true);
		if (rc != 0) {
			atomic_store(&dp.cap.stop, true);
			pthread_join(dp.cap.writer, NULL);
		}
	}
	if (rc != 0) {
		rte_pcapng_close(dp.cap.pcapng);
		unlink(path);
		return dp_refuse(rc, detail, len, "cannot start the capture: %s", strerror(-rc));
	}
	dp.cap.running = true;
	DP_LOG(INFO, "capture of %s to %s: %u s, %u packets at most\n", c->id, path, c->seconds,
	       c->max_packets);
	return 0;
}

void
dp_capture_poll(void)
{
	struct dp_sess *s;
	uint64_t written;

	if (!dp.cap.running)
		return;
	s = dp_sess_find(dp.cap.id);
	/* Its session gone, a capture has nothing more to write: end it, not at its time. */
	if (s == NULL)
		atomic_store(&dp.cap.stop, true);
	if (!atomic_load(&dp.cap.done))
		return;
	/* Without memory for the entry copy the flag stays, and copies only fill the ring:
	 * the next timer tick tries again. */
	if (s != NULL && s->capture && dp_sess_capture(s, false) != 0)
		return;
	pthread_join(dp.cap.writer, NULL);	/* it has ended: done */
	rte_pcapng_close(dp.cap.pcapng);
	dp.cap.pcapng = NULL;
	dp.cap.running = false;
	written = atomic_load(&dp.cap.written);
	DP_LOG(INFO, "capture of %s done: %" PRIu64 " packets%s\n", dp.cap.id, written,
	       dp.cap.write_failed ? " (writing failed)" : "");
	dp_event_count(MF_EV_CAPTURE_DONE, dp.cap.id, written);
}

void
dp_capture_fini(void)
{
	if (dp.cap.running) {
		atomic_store(&dp.cap.stop, true);
		pthread_join(dp.cap.writer, NULL);
		rte_pcapng_close(dp.cap.pcapng);
		dp.cap.running = false;
	}
	if (dp.cap.ring != NULL) {
		drain();
		rte_ring_free(dp.cap.ring);
	}
	rte_mempool_free(dp.cap.pool);
	dp.cap.ring = NULL;
	dp.cap.pool = NULL;
}
