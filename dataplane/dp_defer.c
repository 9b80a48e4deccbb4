/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Deferred frees of the control lcore: what an entry replaced or removed still holds
 * (memory, SRTP contexts, stats entries, neighbour references) is queued here and freed,
 * all of it, after one grace period once per loop iteration. The control lcore frees it
 * itself, so the stats directory and the neighbour table keep their single writer.
 */

#include <stdlib.h>

#include "dp.h"

int
dp_defer(void (*fn)(void *, int), void *arg, int idx)
{
	if (dp.defer.n == dp.defer.cap) {
		uint32_t cap = dp.defer.cap ? dp.defer.cap * 2 : 256;
		struct dp_deferred *d = realloc(dp.defer.list, sizeof(*d) * cap);

		if (d == NULL) {
			/* Better late than unsafe: wait for readers now and free at once. */
			urcu_qsbr_synchronize_rcu();
			fn(arg, idx);
			return 0;
		}
		dp.defer.list = d;
		dp.defer.cap = cap;
	}
	dp.defer.list[dp.defer.n++] = (struct dp_deferred){ .fn = fn, .arg = arg, .idx = idx };
	return 0;
}

void
dp_defer_reclaim(void)
{
	uint32_t i;

	if (dp.defer.n == 0)
		return;
	urcu_qsbr_synchronize_rcu();
	for (i = 0; i < dp.defer.n; i++)
		dp.defer.list[i].fn(dp.defer.list[i].arg, dp.defer.list[i].idx);
	dp.defer.n = 0;
}

void
dp_defer_fini(void)
{
	free(dp.defer.list);
	dp.defer.list = NULL;
	dp.defer.n = dp.defer.cap = 0;
}
