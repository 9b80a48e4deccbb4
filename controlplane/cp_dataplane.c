/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control plane's link to its dataplane: the channel client, its (re)connection, and
 * what happens then. The dataplane is the source of truth for what is installed.
 *
 * - The control plane restarted, the dataplane did not (the journal names this dataplane):
 *   the sessions are read back from the dataplane; journal entries it no longer has (they
 *   timed out meanwhile) are dropped, sessions it has that the journal lacks are adopted.
 * - The dataplane restarted (another start time): the journal is replayed into it.
 * Either way media never waits for the control plane.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cp.h"
#include "mf/mf_proto_json.h"

static uint8_t buf[MF_CHAN_SLOT_SIZE];

int
cp_dp_call(struct cp *cp, uint16_t type, const void *payload, uint32_t len, void *res,
	   uint32_t cap, struct cp_err *err)
{
	struct mf_msg_reply r;
	int n;

	if (!cp->dp_up) {
		cp_err_set(err, "dataplane_down", NULL, "the dataplane is not running");
		return -ENOTCONN;
	}
	n = mf_client_call(&cp->dp, type, payload, len, &r, res, cap, cp->cfg.reply_timeout_ms);
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

static void
remember(struct cp *cp, const struct mf_sess_spec *spec)
{
	struct cp_sess *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return;
	s->spec = *spec;
	s->next = cp->sessions;
	cp->sessions = s;
}

static void
journal_to_list(void *ctx, struct mf_sess_spec *spec)
{
	remember(ctx, spec);
}

static void
forget_all(struct cp *cp)
{
	struct cp_sess *s;

	while ((s = cp->sessions) != NULL) {
		cp->sessions = s->next;
		mf_sess_wipe_keys(&s->spec);
		free(s);
	}
}

/* A new dataplane: give it every journaled session. */
static void
replay(struct cp *cp)
{
	struct cp_sess *s;
	struct cp_err err;
	int ok = 0, bad = 0;

	for (s = cp->sessions; s != NULL; s = s->next) {
		int rc = cp_dp_call(cp, MF_MSG_SESSION_ADD, &s->spec, sizeof(s->spec), buf,
				    sizeof(buf), &err);

		/* Loaded from the dataplane's own --sessions file: make it ours. */
		if (rc == -EEXIST)
			rc = cp_dp_call(cp, MF_MSG_SESSION_REPLACE, &s->spec, sizeof(s->spec), buf,
					sizeof(buf), &err);
		if (rc < 0) {
			bad++;
			MF_LOG(ERR, cmd, "replay of session %s refused: %s", s->spec.id,
			       err.message);
		} else {
			ok++;
		}
	}
	MF_LOG(NOTICE, cmd, "dataplane generation %llu: %d sessions replayed from the journal, "
	       "%d refused", (unsigned long long)cp->dp_generation, ok, bad);
}

static bool
listed(const struct mf_msg_list *l, const char *id)
{
	uint32_t i;

	for (i = 0; i < l->count; i++)
		if (strncmp(l->ids[i], id, MF_SESS_ID_MAX) == 0)
			return true;
	return false;
}

/* The same dataplane as before our restart: it is right; the journal follows it. */
static void
reconcile(struct cp *cp)
{
	static struct mf_msg_list page;
	struct mf_msg_list_req req = { .offset = 0, .limit = MF_LIST_MAX };
	struct mf_msg_list *all = NULL;
	struct cp_sess **pp, *s;
	struct cp_err err;
	uint32_t n = 0, i;

	/* Gather every id the dataplane has, page by page. */
	for (;;) {
		struct mf_msg_list *grown;

		if (cp_dp_call(cp, MF_MSG_SESSION_LIST, &req, sizeof(req), &page, sizeof(page),
			       &err) < 0)
			break;
		grown = realloc(all, sizeof(*all) + sizeof(all->ids[0]) * (n + page.count));
		if (grown == NULL)
			break;
		all = grown;
		memcpy(all->ids + n, page.ids, sizeof(page.ids[0]) * page.count);
		n += page.count;
		if (page.count < MF_LIST_MAX)
			break;
		req.offset += page.count;
	}
	if (all == NULL)
		return;
	all->count = n;
	for (pp = &cp->sessions; (s = *pp) != NULL;) {
		if (listed(all, s->spec.id)) {
			pp = &s->next;
			continue;
		}
		MF_LOG(NOTICE, cmd, "session %s ended while the control plane was away", s->spec.id);
		cp_journal_del(cp->journal, s->spec.id);
		*pp = s->next;
		mf_sess_wipe_keys(&s->spec);
		free(s);
	}
	for (i = 0; i < n; i++) {
		struct mf_msg_sess_ref ref = { { 0 } };

		if (cp_sess_find(cp, all->ids[i]) != NULL)
			continue;
		memcpy(ref.id, all->ids[i], sizeof(ref.id));
		ref.id[MF_SESS_ID_MAX - 1] = '\0';
		if (cp_dp_call(cp, MF_MSG_SESSION_GET, &ref, sizeof(ref), buf, sizeof(buf),
			       &err) < 0)
			continue;
		remember(cp, &((struct mf_msg_sess_info *)buf)->spec);
		cp_journal_put(cp->journal, &((struct mf_msg_sess_info *)buf)->spec);
	}
	free(all);
}

static void
recount(struct cp *cp)
{
	struct cp_sess *s;

	cp->nb_sessions = 0;
	cp->nb_outputs = 0;
	cp->kbps = 0;
	for (s = cp->sessions; s != NULL; s = s->next) {
		cp->nb_sessions++;
		cp->nb_outputs += s->spec.nb_outputs;
		cp->kbps += s->spec.limits.max_kbps ? s->spec.limits.max_kbps :
						      cp->cfg.limits.default_session_kbps;
	}
}

static void
connected(struct cp *cp)
{
	struct mf_msg_node_info *ni = (struct mf_msg_node_info *)buf;
	struct cp_err err;
	json_t *ev;

	cp->dp_up = true;
	cp->dp_generation = cp->dp.shm.hdr->generation;
	cp->dp_start_ns = cp->dp.shm.hdr->start_time_ns;
	if (cp_dp_call(cp, MF_MSG_NODE_INFO, NULL, 0, buf, sizeof(buf), &err) >= 0)
		cp->dp_max_sessions = ni->max_sessions;
	forget_all(cp);
	cp_journal_each(cp->journal, journal_to_list, cp);
	if (cp_journal_dataplane(cp->journal) != cp->dp_start_ns) {
		replay(cp);
		cp_journal_set_dataplane(cp->journal, cp->dp_start_ns);
	} else {
		reconcile(cp);
	}
	recount(cp);
	MF_LOG(NOTICE, main, "dataplane \"%s\" generation %llu: %u sessions", cp->cfg.instance,
	       (unsigned long long)cp->dp_generation, cp->nb_sessions);
	ev = json_pack("{s:s, s:I, s:i}", "event", "dataplane.up", "generation",
		       (json_int_t)cp->dp_generation, "sessions", cp->nb_sessions);
	cp_event_publish(cp, ev);
	cp_status_publish(cp, true);
}

void
cp_dp_poll(struct cp *cp)
{
	static int last_rc;
	int rc;

	if (cp->dp_up && mf_shm_creator_alive(&cp->dp.shm))
		return;
	if (cp->dp_up) {
		MF_LOG(ERR, main, "dataplane \"%s\" is gone", cp->cfg.instance);
		mf_client_close(&cp->dp);
		cp->dp_up = false;
		cp_event_publish(cp, json_pack("{s:s, s:I}", "event", "dataplane.down",
					       "generation", (json_int_t)cp->dp_generation));
		cp_status_publish(cp, true);
	}
	rc = mf_client_open(&cp->dp, cp->cfg.instance);
	if (rc != 0) {
		if (rc != last_rc)
			MF_LOG(WARNING, main, "waiting for dataplane \"%s\": %s", cp->cfg.instance,
			       mf_shm_strerror(rc));
		last_rc = rc;
		return;
	}
	last_rc = 0;
	connected(cp);
}

void
cp_dp_events(struct cp *cp)
{
	struct mf_msg_event ev;

	while (cp->dp_up && mf_client_event(&cp->dp, &ev) == 0) {
		/* We publish our own dataplane.up and .down, with what we did about it. */
		if (ev.kind == MF_EV_DATAPLANE_UP || ev.kind == MF_EV_DATAPLANE_DOWN)
			continue;
		/* A session the dataplane ended is no longer ours to replay. */
		if (ev.kind == MF_EV_SESSION_TIMEOUT) {
			ev.id[MF_SESS_ID_MAX - 1] = '\0';
			cp_sess_forget(cp, ev.id);
		}
		cp_event_publish(cp, mf_event_to_json(&ev));
	}
}
