/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Between the session files of the control lcore: dp_sess_build.c (entries: check, build,
 * add, replace, remove) calls down into dp_sess_table.c (the lookup table and the id
 * index) and dp_sess_timer.c (the timed list); neither calls back. dp_sess_ctr.c (the
 * hot counters' copy into the stats area, called by the control loop) walks dp.sess.all,
 * which the id index keeps.
 */
#ifndef DP_SESS_H
#define DP_SESS_H

#include "dp.h"

/* dp_sess_table.c */
void dp_sess_make_key(const struct mf_sess_ingress *in, uint16_t udp_port,
		      struct dp_sess_key *k);
bool dp_sess_key_taken(const struct mf_sess_ingress *in, uint16_t udp_port);
/** Insert both nodes of @p s (or neither). @return 0, -EADDRINUSE. */
int dp_sess_tab_publish(struct dp_sess *s);
/** Swap @p s for @p old, which holds the same keys. */
void dp_sess_tab_replace(struct dp_sess *old, struct dp_sess *s);
void dp_sess_tab_unlink(struct dp_sess *s);
/** Point the id index, and dp.sess.all, at @p s (add, or replace the entry of the same id).
 * @return 0, -ENOSPC or rte_hash's error. */
int dp_sess_tab_index(struct dp_sess *s);
void dp_sess_tab_unindex(const struct dp_sess *s);
struct dp_sess **dp_sess_tab_drain(uint32_t *n);
/** The feedback keys of @p s's outputs that are not its ingress ones. @return 0, -ENOMEM. */
int dp_sess_fb_build(struct dp_sess *s);
/** Link @p s's feedback keys, taking over those of @p old (or NULL); unlink old's others. */
void dp_sess_fb_link(struct dp_sess *old, struct dp_sess *s);
void dp_sess_fb_unlink(struct dp_sess *s);
void dp_sess_tab_destroy(void);

/* dp_sess_timer.c */
/** @p s replaces @p old (or NULL) in the timed list, joins it, or leaves it. */
int dp_sess_timed_update(struct dp_sess *old, struct dp_sess *s);
void dp_sess_timed_remove(struct dp_sess *s);
void dp_sess_timers_fini(void);

#endif /* DP_SESS_H */
