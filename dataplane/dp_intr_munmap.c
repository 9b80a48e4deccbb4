/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The EAL interrupt thread's munmap waits until no worker can be inside a burst.
 *
 * Why: DPDK 22.11's memif PMD tears a connection down in the interrupt thread when its peer
 * goes (memif_disconnect): it clears the port's "connected" flag, closes descriptors, then
 * unmaps the shared regions and frees their descriptors (memif_free_regions). A worker
 * checks that flag once, at the start of eth_memif_rx/tx, and then reads the rings and
 * buffers with no lock, barrier or reference: a burst that began just before the flag was
 * cleared still runs when the memory goes, and faults (seen: SIGSEGV in
 * librte_net_memif.so within ten kills of a peer sending at 200 kpps, in either role). No
 * upstream release changes this, and the application never hears of the disconnection
 * before it happens, so no check of ours before a burst could close the window.
 *
 * What: mfwd-dataplane defines munmap (exported: -Wl,--export-dynamic-symbol=munmap), so the
 * PMD's call lands here. Called from the interrupt thread, it first waits for a QSBR grace
 * period: every worker reports a quiescent state only between bursts, with a full barrier,
 * so once the period ends every burst that began before the flag was cleared has returned
 * and every later one has seen the flag and touched nothing. Then the real munmap (libc's,
 * or a sanitizer's in front of it) runs, and the descriptors are freed after it. Other
 * threads' munmaps, and the interrupt thread's when no worker is registered, pass at once.
 * The interrupt thread is not a QSBR reader; nothing the control lcore does while online
 * waits for it, so the wait cannot deadlock.
 */

#include <dlfcn.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rte_interrupts.h>

#include "dp.h"

static int (*next_munmap)(void *addr, size_t len);

/* Before EAL starts any thread: the lookup itself may unmap, and must not recurse. */
void
dp_intr_munmap_init(void)
{
	next_munmap = (int (*)(void *, size_t))dlsym(RTLD_NEXT, "munmap");
}

int
munmap(void *addr, size_t len)
{
	if (rte_thread_is_intr())
		urcu_qsbr_synchronize_rcu();
	if (next_munmap == NULL)
		return (int)syscall(SYS_munmap, addr, len);
	return next_munmap(addr, len);
}
