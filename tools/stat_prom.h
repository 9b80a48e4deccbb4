/* SPDX-License-Identifier: BSD-3-Clause */
/* mfwd-stat's Prometheus side: the exposition, and the /metrics endpoint that serves it. */
#ifndef STAT_PROM_H
#define STAT_PROM_H

#include <stdint.h>
#include <stdio.h>

#include "mf/mf_shm.h"
#include "mf/mf_stats.h"

/**
 * The exposition of one dataplane: mfwd_up and its start time and generation, then the
 * stats area (mf_stats_to_prometheus()). With @p rd NULL (no dataplane), mfwd_up 0 alone.
 * @return 0, -ENOMEM, -EIO.
 */
int stat_prom_write(const struct mf_shm *shm, const struct mf_stats_reader *rd,
		    const char *instance, uint32_t max_sessions, FILE *out);

/**
 * Serve GET /metrics on @p listen ("ADDR:PORT", "[ADDR6]:PORT") until SIGINT or SIGTERM,
 * mapping the dataplane of @p instance at each scrape when it is not mapped yet or has
 * gone, so the endpoint outlives dataplane restarts (mfwd_up says which scrapes had one).
 * @return the exit status: 0 on a signal, 2 when the address cannot be served.
 */
int stat_prom_serve(const char *instance, const char *listen, uint32_t max_sessions);

#endif /* STAT_PROM_H */
