/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's link to its dataplane: the channel client, its (re)connection, calls
 * (one at a time, or pipelined: sent now, answered in order later) and events. What a
 * (re)connection means for the sessions is cp_store.c's.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cp.h"
#include "mf/mf_proto_json.h"

int
cp_dp_down(const struct cp *cp, struct cp_err *err)
{
	cp_err_set(err, "dataplane_down", NULL, "the dataplane is not attached: %s",
		   cp->last_dp_rc != 0 ? mf_shm_strerror(cp->last_dp_rc) : "it is not running");
	return -ENOTCONN;
}

int
cp_dp_send(struct cp *cp, uint16_t type, const void *payload, uint32_t len, uint64_t *seq,
	   struct cp_err *err)
{
	int rc;

	if (!cp->dp_up)
		return cp_dp_down(cp, err);
	rc = mf_client_send(&cp->dp, type, payload, len, seq);
	/* Full of commands it has not taken: not "capacity", which a placer takes for a full
	 * node. */
	if (rc == -ENOSPC)
		cp_err_set(err, "timeout", NULL, "dataplane: its channel is full (commands it has "
			   "not taken yet)");
	else if (rc != 0)
		cp_err_set(err, mf_status_code(rc), NULL, "dataplane: %s", strerror(-rc));
	return rc;
}

bool
cp_dp_stalled(struct cp *cp)
{
	uint32_t rlen;

	/* The ring was empty when the wait ran out (older replies are passed first): a reply
	 * in it, or one taken since, is the dataplane moving again. */
	if (cp->dp_quiet && cp->dp_up && (cp->dp.answered != cp->dp_quiet_at ||
					  mf_chan_peek(&cp->dp.reply, &rlen) != NULL)) {
		cp->dp_quiet = false;
		cp->status_dirty = true;	/* the status says it */
		MF_LOG(NOTICE, main, "the dataplane answers again");
	}
	return cp->dp_quiet;
}

void
cp_dp_stall(struct cp *cp)
{
	cp->dp_quiet = true;
	cp->dp_quiet_at = cp->dp.answered;
	cp->status_dirty = true;
	MF_LOG(WARNING, main, "no answer from the dataplane in %u ms, or it is gone: it is not "
	       "waited for until it answers again", cp->cfg.reply_timeout_ms);
}

int
cp_dp_reply(struct cp *cp, uint64_t seq, void *res, uint32_t cap, struct cp_err *err)
{
	struct mf_msg_reply r;
	int n = mf_client_reply(&cp->dp, seq, &r, res, cap,
				cp_dp_stalled(cp) ? 0 : cp->cfg.reply_timeout_ms);

	/* Not waited for, but the dataplane took older commands meanwhile: waited for. */
	if (n == -ETIMEDOUT && cp->dp_quiet && !cp_dp_stalled(cp))
		n = mf_client_reply(&cp->dp, seq, &r, res, cap, cp->cfg.reply_timeout_ms);
	/* Gone (noticed within 100 ms): nothing more is waited for until cp_dp_poll() sees
	 * it and a new one comes. */
	if ((n == -ETIMEDOUT || n == -EOWNERDEAD) && !cp->dp_quiet)
		cp_dp_stall(cp);
	if (n < 0) {
		cp_err_set(err, n == -EOWNERDEAD ? "dataplane_down" : mf_status_code(n), NULL,
			   "dataplane: %s", strerror(-n));
		return n;
	}
	if (r.status != 0) {
		cp_err_set(err, mf_status_code(r.status), NULL, "%s",
			   r.detail[0] ? r.detail : strerror(-r.status));
		return r.status;
	}
	return n;
}

int
cp_dp_call(struct cp *cp, uint16_t type, const void *payload, uint32_t len, void *res,
	   uint32_t cap, struct cp_err *err)
{
	uint64_t seq;
	int rc = cp_dp_send(cp, type, payload, len, &seq, err);

	return rc != 0 ? rc : cp_dp_reply(cp, seq, res, cap, err);
}

enum cp_dp_change
cp_dp_poll(struct cp *cp)
{
	struct mf_msg_node_info *ni = (struct mf_msg_node_info *)cp->res;
	struct cp_err err;
	int rc;

	if (cp->dp_up && mf_shm_creator_alive(&cp->dp.shm))
		return CP_DP_SAME;
	if (cp->dp_up) {
		MF_LOG(ERR, main, "dataplane \"%s\" is gone", cp->cfg.instance);
		mf_client_close(&cp->dp);
		cp->dp_up = false;
		cp->dp_quiet = false;
		cp->last_dp_rc = -EOWNERDEAD;
		return CP_DP_DOWN;
	}
	rc = mf_client_open(&cp->dp, cp->cfg.instance);
	if (rc != 0) {
		if (rc != cp->last_dp_rc) {
			MF_LOG(WARNING, main, "waiting for dataplane \"%s\": %s", cp->cfg.instance,
			       mf_shm_strerror(rc));
			cp->status_dirty = true;	/* the status says why */
		}
		cp->last_dp_rc = rc;
		return CP_DP_SAME;
	}
	cp->last_dp_rc = 0;
	cp->dp_up = true;
	cp->dp_quiet = false;
	cp->dp_generation = cp->dp.shm.hdr->generation;
	cp->dp_start_ns = cp->dp.shm.hdr->start_time_ns;
	if (cp_dp_call(cp, MF_MSG_NODE_INFO, NULL, 0, cp->res, sizeof(cp->res), &err) >= 0)
		cp->dp_max_sessions = ni->max_sessions;
	return CP_DP_UP;
}

int
cp_dp_event(struct cp *cp, struct mf_msg_event *ev)
{
	/* We publish our own dataplane.up and .down, with what we did about it. */
	while (cp->dp_up && mf_client_event(&cp->dp, ev) == 0) {
		if (ev->kind == MF_EV_DATAPLANE_UP || ev->kind == MF_EV_DATAPLANE_DOWN)
			continue;
		ev->id[MF_SESS_ID_MAX - 1] = '\0';
		return 0;
	}
	return -EAGAIN;
}
