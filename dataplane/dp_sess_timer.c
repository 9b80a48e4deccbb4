/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Session timers, on the control lcore: the sessions with an idle timeout or a lifetime are
 * in one array (each knows its place, so joining, leaving and replacing are O(1)); every
 * timer tick looks at those only, so a million sessions without limits cost nothing.
 * Expiry removes the session (session.timeout); idleness raises session.idle once, and
 * session.active when packets come back.
 */

#include <stdlib.h>

#include <rte_common.h>

#include "dp.h"
#include "dp_event.h"
#include "dp_sess.h"

/* Sessions a timer tick removes at most; the rest go at the next tick. */
#define DP_EXPIRE_PER_TICK	64

static bool
has_timers(const struct dp_sess *s)
{
	/* ICE endpoints: consent is checked on the same ticks (dp_ice_consent()). */
	return s->limits.idle_timeout_ms != 0 || s->limits.timeout_s != 0 || s->ice;
}

void
dp_sess_timed_remove(struct dp_sess *s)
{
	if (s->timed_idx == UINT32_MAX)
		return;
	dp.sess.timed[s->timed_idx] = dp.sess.timed[--dp.sess.nb_timed];
	dp.sess.timed[s->timed_idx]->timed_idx = s->timed_idx;
	s->timed_idx = UINT32_MAX;
}

static int
timed_add(struct dp_sess *s)
{
	if (dp.sess.nb_timed == dp.sess.cap_timed) {
		uint32_t cap = dp.sess.cap_timed ? dp.sess.cap_timed * 2 : 1024;
		struct dp_sess **t = realloc(dp.sess.timed, sizeof(*t) * cap);

		if (t == NULL)
			return -ENOMEM;
		dp.sess.timed = t;
		dp.sess.cap_timed = cap;
	}
	s->timed_idx = dp.sess.nb_timed;
	dp.sess.timed[dp.sess.nb_timed++] = s;
	return 0;
}

/* @p s replaces @p old in the timed list, joins it, or leaves it, by its limits. */
int
dp_sess_timed_update(struct dp_sess *old, struct dp_sess *s)
{
	if (old != NULL && old->timed_idx != UINT32_MAX && has_timers(s)) {
		s->timed_idx = old->timed_idx;
		dp.sess.timed[s->timed_idx] = s;
		old->timed_idx = UINT32_MAX;
		return 0;
	}
	if (old != NULL)
		dp_sess_timed_remove(old);
	return has_timers(s) ? timed_add(s) : 0;
}

void
dp_sess_clock_advance(uint64_t tsc)
{
	uint32_t k;

	for (k = 0; k < dp.sess.nb_timed; k++) {
		struct dp_sess *s = dp.sess.timed[k];

		s->created_tsc -= RTE_MIN(tsc, s->created_tsc);
		/* Tests advance the clock of idle sessions; a packet arriving meanwhile may be
		 * aged with them, which no test relies on. */
		atomic_fetch_sub_explicit(&s->st->last_rx_tsc,
					  RTE_MIN(tsc, atomic_load(&s->st->last_rx_tsc)),
					  memory_order_relaxed);
	}
}

/* Idle sessions raise an event once (and again when they come back); expired ones go. */
void
dp_sess_timer(uint64_t now)
{
	char expired[DP_EXPIRE_PER_TICK][MF_SESS_ID_MAX], detail[120];
	unsigned int n = 0, i;
	uint32_t k;

	for (k = 0; k < dp.sess.nb_timed; k++) {
		struct dp_sess *s = dp.sess.timed[k];
		uint64_t last, idle_tsc;

		if (s->limits.timeout_s != 0 &&
		    now - s->created_tsc > (uint64_t)s->limits.timeout_s * dp.tsc_hz) {
			if (n < DP_EXPIRE_PER_TICK)
				snprintf(expired[n++], MF_SESS_ID_MAX, "%s", s->id);
			continue;
		}
		if (s->limits.idle_timeout_ms == 0)
			continue;
		last = atomic_load_explicit(&s->st->last_rx_tsc, memory_order_relaxed);
		idle_tsc = (uint64_t)s->limits.idle_timeout_ms * dp.tsc_hz / 1000;
		if (!s->idle && now - last > idle_tsc) {
			s->idle = true;
			dp_event(MF_EV_SESSION_IDLE, s->id, NULL, 0, 0);
		} else if (s->idle && now - last <= idle_tsc) {
			s->idle = false;
			dp_event(MF_EV_SESSION_ACTIVE, s->id, NULL, 0, 0);
		}
	}
	for (i = 0; i < n; i++)
		dp_sess_del(expired[i], MF_EV_SESSION_TIMEOUT, detail, sizeof(detail));
}

void
dp_sess_timers_fini(void)
{
	free(dp.sess.timed);
	dp.sess.timed = NULL;
	dp.sess.nb_timed = dp.sess.cap_timed = 0;
}
