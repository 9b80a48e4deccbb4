/* SPDX-License-Identifier: BSD-3-Clause */
/* One clock reader for every process: nanoseconds of @p clk (CLOCK_REALTIME for times
 * shown to people and ordered across restarts, CLOCK_MONOTONIC for deadlines). */
#ifndef MF_TIME_H
#define MF_TIME_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
mf_time_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Milliseconds of CLOCK_MONOTONIC: the control plane's deadlines and ticks, one clock. */
static inline uint64_t
mf_mono_ms(void)
{
	return mf_time_ns(CLOCK_MONOTONIC) / 1000000u;
}

#endif /* MF_TIME_H */
