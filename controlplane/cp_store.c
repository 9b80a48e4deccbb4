/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sessions kept three ways in step: installed in the dataplane, in the registry, in the
 * journal. Creates and deletes are pipelined: each is entered in the registry and sent to
 * the dataplane at once (so later requests of the same batch see it), its journal record
 * buffered; the batch's replies wait for cp_store_flush(), which collects every answer,
 * undoes what the dataplane refused and syncs the journal once (group commit).
 *
 * A session created through the pool, with failover on, is kept a fourth way: its record on
 * the broker (cp_store_record), cleared when it ends here, for another node to take it
 * over if this one dies (cp_failover.c).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "cp.h"
#include "mf/mf_time.h"

#define COMPACT_SLACK	(1u << 20)	/* garbage tolerated beyond the live size */

uint64_t
cp_store_kbps(const struct cp *cp, uint32_t max_kbps)
{
	return max_kbps ? max_kbps : cp->cfg.limits.default_session_kbps;
}

/* Add (@p sign 1) or remove (-1) a session from the totals admission looks at. */
static void
count(struct cp *cp, const struct cp_sess *s, int sign)
{
	int64_t kbps = (int64_t)sign * (int64_t)cp_store_kbps(cp, s->max_kbps);

	cp->nb_outputs += (uint32_t)(sign * s->nb_outputs);
	cp->kbps += (uint64_t)kbps;
	cp->journal_live += (uint64_t)((int64_t)sign * (s->jlen + 2));
	cp_auth_count(cp, s->tenant, sign, sign * s->nb_outputs, kbps);
}

/* Its record in the journal, with its owner and its stream (@p s NULL: neither). */
static int
put(struct cp *cp, const struct mf_sess_spec *spec, const struct cp_sess *s, uint64_t *off,
    uint32_t *len)
{
	json_t *meta = json_object();
	int rc;

	if (s != NULL && s->tenant != CP_OPERATOR)
		json_object_set_new(meta, "tenant", json_string(cp->auth.tenants[s->tenant].name));
	if (s != NULL && s->stream != 0)
		json_object_set_new(meta, "stream", cp_stream_meta(cp, s->stream - 1));
	if (s != NULL && s->pooled)
		json_object_set_new(meta, "pooled", json_true());
	if (s != NULL && s->pooled && s->inc != 0)
		json_object_set_new(meta, "inc", cp_store_inc_json(s->inc));
	rc = cp_journal_put(cp->journal, spec, meta, off, len);
	json_decref(meta);
	return rc;
}

static struct cp_sess *
remember(struct cp *cp, const struct mf_sess_spec *spec, json_t *meta, uint64_t off,
	 uint32_t len)
{
	uint16_t tenant = cp_auth_tenant(cp, json_string_value(json_object_get(meta, "tenant")));

	struct cp_sess *s = cp_reg_find(&cp->reg, spec->id);

	if (s != NULL) {
		count(cp, s, -1);
		cp_reg_set(&cp->reg, s, spec);
	} else if ((s = cp_reg_add(&cp->reg, spec)) == NULL) {
		return NULL;
	}
	s->joff = off;
	s->jlen = len;
	s->tenant = tenant;
	s->pooled = json_is_true(json_object_get(meta, "pooled"));
	s->inc = cp_store_inc_parse(json_string_value(json_object_get(meta, "inc")));
	/* Each record says whether the session is a stream: a later one without it (a bind
	 * that was not synced, then undone) ends the stream. */
	if (s->stream != 0 && json_object_get(meta, "stream") == NULL) {
		cp_stream_gone(cp, s->stream - 1);
		s->stream = 0;
	} else if (s->stream == 0) {
		s->stream = cp_stream_restore(cp, json_object_get(meta, "stream"), s);
	} else {	/* a later bind's (a pull binds again with its device) */
		cp_stream_refresh(cp, s->stream - 1, json_object_get(meta, "stream"));
	}
	count(cp, s, 1);
	return s;
}

json_t *
cp_store_inc_json(uint64_t inc)
{
	char hex[17];

	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)inc);
	return json_string(hex);
}

uint64_t
cp_store_inc_parse(const char *hex)
{
	unsigned long long inc;
	char *end;

	if (hex == NULL || strlen(hex) != 16 || strspn(hex, "0123456789abcdef") != 16)
		return 0;
	inc = strtoull(hex, &end, 16);
	return *end == '\0' ? (uint64_t)inc : 0;
}

void
cp_store_record_topic(const struct cp *cp, const char *node, const char *id,
		      char topic[CP_TOPIC_MAX])
{
	snprintf(topic, CP_TOPIC_MAX, "%s/%s/sess/%02x/%s", cp->cfg.prefix, node,
		 mf_cluster_bucket(id), id);
}

int
cp_store_record_publish(struct cp *cp, const char *topic, const char *text, uint32_t expiry_s)
{
	char sig[CP_SIG_HEX + 1];
	int rc = cp_auth_record_mac(cp, topic, text, strlen(text), sig);

	if (rc != 0 && rc != -ENOENT)
		return -EIO;	/* with a node tenant, an unsigned record would not be believed */
	return cp_mqtt_publish_signed(cp->mqtt, topic, text, expiry_s, rc == 0 ? sig : NULL);
}

void
cp_store_record(struct cp *cp, struct cp_sess *s)
{
	char topic[CP_TOPIC_MAX], *text = NULL;
	json_t *rec = NULL, *spec;

	if (!s->pooled || cp->mqtt == NULL || cp_store_spec(cp, s, &cp->spec) != 0)
		return;
	spec = mf_sess_to_json(&cp->spec, MF_SESS_JSON_KEYS);
	mf_sess_wipe_keys(&cp->spec);
	if (spec != NULL)
		rec = json_pack("{s:i, s:s, s:o}", "v", 1, "node", cp->cfg.node, "spec", spec);
	if (rec != NULL && s->tenant != CP_OPERATOR)
		json_object_set_new(rec, "tenant", json_string(cp->auth.tenants[s->tenant].name));
	if (rec != NULL && s->inc != 0)
		json_object_set_new(rec, "inc", cp_store_inc_json(s->inc));
	if (rec != NULL)
		text = json_dumps(rec, JSON_COMPACT);
	cp_store_record_topic(cp, cp->cfg.node, s->id, topic);
	if (text == NULL || cp_store_record_publish(cp, topic, text, 0) != 0)
		MF_LOG(ERR, cmd, "session %s: its record could not be kept on the broker: "
		       "no other node can take it over", s->id);
	if (text != NULL)
		explicit_bzero(text, strlen(text));
	free(text);
	json_decref(rec);
}

/* A pooled session ended here: its record goes (an empty retained message). */
static void
unrecord(struct cp *cp, const struct cp_sess *s)
{
	char topic[CP_TOPIC_MAX];

	if (!s->pooled || cp->mqtt == NULL)
		return;
	cp_store_record_topic(cp, cp->cfg.node, s->id, topic);
	cp_mqtt_publish(cp->mqtt, topic, "", 1, true, NULL, 0);
}

static void
drop(struct cp *cp, struct cp_sess *s)
{
	unrecord(cp, s);
	if (s->stream != 0)
		cp_stream_gone(cp, s->stream - 1);
	count(cp, s, -1);
	cp_reg_del(&cp->reg, s);
}

static void
on_record(void *ctx, const char *id, const struct mf_sess_spec *spec, json_t *meta,
	  uint64_t off, uint32_t len)
{
	struct cp *cp = ctx;
	struct cp_sess *s;

	if (spec != NULL) {
		/* Not in the registry, the next compaction would drop its record: the load
		 * fails instead. */
		if (remember(cp, spec, meta, off, len) == NULL) {
			MF_LOG(ERR, main, "session %s: no memory for it", id);
			cp->load_lost = true;
		}
	} else if ((s = cp_reg_find(&cp->reg, id)) != NULL) {
		drop(cp, s);
	}
}

int
cp_store_load(struct cp *cp)
{
	int rc = cp_journal_load(cp->journal, on_record, cp);

	if (rc >= 0 && cp->load_lost)
		rc = -ENOMEM;
	if (rc >= 0)
		MF_LOG(NOTICE, main, "journal: %u sessions (%d records)", cp->reg.count, rc);
	return rc < 0 ? rc : (int)cp->reg.count;
}

int
cp_store_spec(struct cp *cp, const struct cp_sess *s, struct mf_sess_spec *spec)
{
	return cp_journal_read(cp->journal, s->joff, s->jlen, spec);
}

/* ---- the pipeline ---- */

/* A create the dataplane did not answer in time is still in the channel and may yet be
 * made: undone by a delete sent behind it (sweep_orphans()), the session held in the
 * registry until then, so that its id and port are not given to another before. */
static int
ids_add(struct cp_ids *l, const struct cp_sess *s)
{
	uint32_t cap = l->cap ? 2 * l->cap : 2 * MF_CHAN_CMD_SLOTS;
	struct cp_orphan *v = l->v;

	if (l->n == l->cap) {
		v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	memcpy(l->v[l->n].id, s->id, sizeof(s->id));
	l->v[l->n++].seq = s->seq;
	return 0;
}

static void
orphan(struct cp *cp, struct cp_sess *s)
{
	if (ids_add(&cp->orphans, s) != 0) {
		MF_LOG(ERR, cmd, "session %s: not undone (no memory): the dataplane may have it, "
		       "unknown to the control plane", s->id);
		drop(cp, s);
		return;
	}
	s->deleting = true;
	s->never = true;
}

/* With nothing in flight, the replies in the ring are nobody's (commands that timed out,
 * or undoing them): passed, or the dataplane, which takes a command only once its reply
 * has room, would take no more. */
static void
pass_replies(struct cp *cp)
{
	if (cp->dp_up && cp->nb_inflight == 0)
		mf_client_pass(&cp->dp, cp->dp.next_seq);
}

/* The unanswered creates' deletes, sent (their answers are not waited for: a later
 * collection passes over them) and their sessions dropped. A channel still full keeps
 * the rest for the next flush; a dataplane gone, or new (@p send false), never makes
 * them. */
static void
sweep_orphans(struct cp *cp, bool send)
{
	struct mf_msg_sess_ref ref = { { 0 } };
	struct cp_orphan *o;
	struct cp_sess *s;
	uint64_t seq;
	int rc;

	pass_replies(cp);
	while (cp->orphans.n > 0) {
		o = &cp->orphans.v[cp->orphans.n - 1];
		s = cp_reg_find(&cp->reg, o->id);
		if (s != NULL && s->seq != o->seq)
			s = NULL;	/* it ended meanwhile (cp_store_forget): not this one */
		if (s != NULL && send && cp->dp_up) {
			memcpy(ref.id, s->id, sizeof(ref.id));
			rc = mf_client_send(&cp->dp, MF_MSG_SESSION_DEL, &ref, sizeof(ref), &seq);
			if (rc == -ENOSPC)
				return;
			if (rc != 0)
				MF_LOG(ERR, cmd, "session %s: unanswered, its undoing not sent "
				       "(%s): the dataplane may make it unknown to the control "
				       "plane", s->id, strerror(-rc));
		}
		if (s != NULL)
			drop(cp, s);
		cp->orphans.n--;
	}
}

/* The dataplane answered @p it (@p rc 0, or its error in @p it->err). */
static void
complete(struct cp *cp, struct cp_item *it, int rc)
{
	struct cp_sess *s = it->s;

	it->ok = rc >= 0;
	if (it->op == CP_OP_REPLAY) {
		/* Loaded from the dataplane's own file, or not answered in time (the command
		 * still in the channel, answered either way): replaced by ours behind it. */
		if (rc == -EEXIST || rc == -ETIMEDOUT)
			s->seen = true;
		else if (rc < 0 && rc != -EOWNERDEAD)	/* gone: a new one is given all */
			MF_LOG(ERR, cmd, "replay of session %s refused: %s", s->id,
			       it->err.message);
	} else if (it->op == CP_OP_CREATE) {
		s->pending = false;
		it->s = it->ok ? s : NULL;
		if (it->ok)
			return;
		s->pooled = false;			/* no record was published */
		cp_journal_del(cp->journal, s->id);	/* its "+" is in the same batch */
		s->unanswered = rc == -ETIMEDOUT;
		if (s->deleting)
			s->never = true;	/* the delete in flight behind it drops it */
		else if (rc == -ETIMEDOUT)
			orphan(cp, s);
		else
			drop(cp, s);
	} else if (rc == -ETIMEDOUT) {
		/* Still in the channel: the dataplane takes commands in order and answers
		 * each, so it carries the delete out (or dies, and a new one is given only the
		 * registry's sessions). */
		it->ok = true;
		memset(&it->err, 0, sizeof(it->err));
		drop(cp, s);
		it->s = NULL;
	} else if (it->ok || rc == -ENOENT || s->never) {
		/* Gone either way: a session the dataplane ended meanwhile is not ours. */
		drop(cp, s);
		it->s = NULL;
	} else {
		/* Still installed: its record again after the "-" already buffered. */
		s->deleting = false;
		if (cp_store_spec(cp, s, &cp->spec) == 0) {
			count(cp, s, -1);
			put(cp, &cp->spec, s, &s->joff, &s->jlen);
			count(cp, s, 1);
			mf_sess_wipe_keys(&cp->spec);
		}
	}
}

static void
collect_one(struct cp *cp)
{
	struct cp_item *it = cp->inflight[0];
	/* Answered in order: behind a command unanswered in reply_timeout_ms, what is in
	 * flight is taken as answered or not, not waited for again (cp_dp_stalled()). */
	int rc = cp_dp_reply(cp, it->seq, cp->res, sizeof(cp->res), &it->err);

	memmove(cp->inflight, cp->inflight + 1, sizeof(cp->inflight[0]) * --cp->nb_inflight);
	complete(cp, it, rc);
}

/* A command that timed out may still sit in the ring, unanswered: the ring can be full with
 * fewer than its slots in flight. Then the oldest answer is collected (or, with nothing in
 * flight, the dataplane given time to take the stale ones) and the send tried again. */
static int
send_item(struct cp *cp, struct cp_item *it, uint16_t type, const void *payload, uint32_t len)
{
	uint64_t deadline = 0, alive_by = 0, now;
	int rc;

	for (;;) {
		if (cp->nb_inflight == MF_CHAN_CMD_SLOTS)
			collect_one(cp);
		rc = cp_dp_send(cp, type, payload, len, &it->seq, &it->err);
		if (rc != -ENOSPC)
			break;
		if (cp->nb_inflight > 0) {
			collect_one(cp);
			continue;
		}
		pass_replies(cp);
		if (cp_dp_stalled(cp))
			break;
		now = mf_time_ns(CLOCK_MONOTONIC);
		if (deadline == 0) {
			deadline = now + cp->cfg.reply_timeout_ms * 1000000ull;
			alive_by = now + 100000000u;
		}
		/* Gone: noticed within 100 ms (cp_dp_poll() then says so), as in a reply's
		 * wait. */
		if (now > deadline ||
		    (now >= alive_by && !mf_shm_creator_alive(&cp->dp.shm))) {
			cp_dp_stall(cp);
			break;
		}
		if (now >= alive_by)
			alive_by = now + 100000000u;
		nanosleep(&(struct timespec){ .tv_nsec = 100000 }, NULL);
	}
	if (rc != 0)
		return rc;
	it->sent = true;
	cp->inflight[cp->nb_inflight++] = it;
	return 0;
}

int
cp_store_create(struct cp *cp, struct cp_item *it, const struct mf_sess_spec *spec)
{
	struct cp_sess *s = cp_reg_add(&cp->reg, spec);
	int rc;

	it->op = CP_OP_CREATE;
	if (s != NULL) {
		s->tenant = cp->caller;
		s->pooled = cp->pooled && cp->failover.on;
		/* A mark of an earlier session of this id (replayed) must not delete this one. */
		if (s->pooled && RAND_bytes((unsigned char *)&s->inc, sizeof(s->inc)) != 1)
			s->inc = 0;
	}
	if (s == NULL || put(cp, spec, s, &s->joff, &s->jlen) != 0) {
		if (s != NULL)
			cp_reg_del(&cp->reg, s);
		cp_err_set(&it->err, "internal", NULL, "no memory for another session");
		return -ENOMEM;
	}
	rc = send_item(cp, it, MF_MSG_SESSION_ADD, spec, (uint32_t)mf_sess_spec_size(spec));
	if (rc != 0) {
		cp_journal_del(cp->journal, s->id);	/* cancels the "+" just buffered */
		cp_reg_del(&cp->reg, s);
		return rc;
	}
	s->pending = true;
	it->s = s;
	it->made = s->seq;
	memcpy(it->id, s->id, sizeof(it->id));
	count(cp, s, 1);
	return 0;
}

int
cp_store_delete(struct cp *cp, struct cp_item *it, const char *id)
{
	struct cp_sess *s = cp_reg_find(&cp->reg, id);
	struct mf_msg_sess_ref ref = { { 0 } };
	int rc;

	it->op = CP_OP_DELETE;
	if (s == NULL || s->deleting) {
		cp_err_set(&it->err, "not_found", "id", "no session \"%s\"", id);
		return -ENOENT;
	}
	if (s->unreplayed && cp->dp_up) {	/* never given it (replay_more()) */
		cp_journal_del(cp->journal, s->id);
		drop(cp, s);
		it->ok = true;
		return 0;
	}
	memcpy(ref.id, s->id, sizeof(ref.id));
	/* Marked first: sending may collect the answer to this session's own create, still in
	 * flight, and a refused create drops a session no delete is after (complete()). */
	s->deleting = true;
	rc = send_item(cp, it, MF_MSG_SESSION_DEL, &ref, sizeof(ref));
	if (rc != 0) {
		s->deleting = false;
		if (s->never && s->unanswered)	/* its create timed out meanwhile */
			orphan(cp, s);
		else if (s->never)		/* ...or was refused */
			drop(cp, s);
		return rc;
	}
	it->s = s;
	cp_journal_del(cp->journal, s->id);
	return 0;
}

bool
cp_store_undo(struct cp *cp, struct cp_item *it, const char *id, uint64_t made)
{
	struct cp_sess *s = cp_reg_find(&cp->reg, id);

	/* A later request of the batch may have deleted it, or deleted it and made another
	 * of the same name: only this one goes. */
	if (s == NULL || s->seq != made || s->deleting)
		return false;
	if (cp_store_delete(cp, it, id) == 0) {
		s->never = true;	/* gone whatever the dataplane answers (complete()) */
		return true;
	}
	s = cp_reg_find(&cp->reg, id);
	if (s != NULL && s->seq == made) {
		cp_journal_del(cp->journal, s->id);
		orphan(cp, s);
	}
	return true;
}

struct compaction {
	struct cp *cp;
	uint64_t *offs;
	uint32_t *lens;
	struct cp_sess **who;
	uint32_t n;
};

static void
gather(void *ctx, struct cp_sess *s)
{
	struct compaction *c = ctx;

	if (s->never) {
		/* An unanswered create being undone, its "-" written: not kept, its record
		 * not read again. */
		c->cp->journal_live -= s->jlen;
		s->jlen = 0;
		return;
	}
	c->offs[c->n] = s->joff;
	c->lens[c->n] = s->jlen;
	c->who[c->n++] = s;
}

/* The log is more than twice what is live: rewrite it with only the live records. */
static void
compact(struct cp *cp)
{
	struct compaction c = { .cp = cp, .n = 0 };
	uint32_t i;

	c.offs = malloc(sizeof(*c.offs) * (cp->reg.count + 1));
	c.lens = malloc(sizeof(*c.lens) * (cp->reg.count + 1));
	c.who = malloc(sizeof(*c.who) * (cp->reg.count + 1));
	if (c.offs != NULL && c.lens != NULL && c.who != NULL) {
		cp_reg_each(&cp->reg, gather, &c);
		if (cp_journal_compact(cp->journal, c.offs, c.lens, c.n) == 0)
			for (i = 0; i < c.n; i++)
				c.who[i]->joff = c.offs[i];
	}
	free(c.offs);
	free(c.lens);
	free(c.who);
}

void
cp_store_collect(struct cp *cp)
{
	while (cp->nb_inflight > 0)
		collect_one(cp);
}

int
cp_store_flush(struct cp *cp)
{
	int rc;

	cp_store_collect(cp);
	sweep_orphans(cp, true);
	rc = cp_journal_sync(cp->journal);
	if (rc == 0 && cp_journal_size(cp->journal) > 2 * cp->journal_live + COMPACT_SLACK)
		compact(cp);
	return rc;
}

int
cp_store_update(struct cp *cp, struct cp_sess *s, const struct mf_sess_spec *spec,
		struct cp_err *err)
{
	/* One the dataplane has not been given yet is given this spec (replay_more()). */
	int rc = s->unreplayed && cp->dp_up ? 0 :
		 cp_dp_call(cp, MF_MSG_SESSION_REPLACE, spec, (uint32_t)mf_sess_spec_size(spec),
			    cp->res, sizeof(cp->res), err);

	/* Not answered in time, it is still in the channel: the dataplane applies it later (it
	 * takes commands in order), so it is taken as done, and what follows from it too (a
	 * pipe opened, a viewer added, a key's epoch). Sending the spec before it behind it
	 * instead would give the dataplane back keys it may have left, their packet counters
	 * started again. */
	if (rc == -ETIMEDOUT) {
		MF_LOG(WARNING, cmd, "session %s: an update unanswered in %u ms, applied later",
		       s->id, cp->cfg.reply_timeout_ms);
		memset(err, 0, sizeof(*err));
		rc = 0;
	}
	if (rc < 0)
		return rc;
	count(cp, s, -1);
	cp_reg_set(&cp->reg, s, spec);
	rc = put(cp, spec, s, &s->joff, &s->jlen);
	count(cp, s, 1);
	if (rc == 0)
		rc = cp_journal_sync(cp->journal);
	if (rc != 0)
		cp_err_set(err, "internal", NULL, "the journal could not be written");
	else
		cp_store_record(cp, s);
	return rc;
}

/*
 * A record that could not be synced stays in the journal's buffer, and the next sync that
 * succeeds writes it: where the change it records is then undone, the record before is
 * put again after it, so that the last one is the session as it is (a reload takes the
 * last). @p s's own record is put again (its stream as it is now).
 */
static void
put_again(struct cp *cp, struct cp_sess *s)
{
	struct mf_sess_spec *spec = malloc(sizeof(*spec));

	if (spec != NULL && cp_store_spec(cp, s, spec) == 0) {
		count(cp, s, -1);
		put(cp, spec, s, &s->joff, &s->jlen);
		count(cp, s, 1);
	}
	if (spec != NULL)
		mf_sess_wipe_keys(spec);
	free(spec);
}

int
cp_store_bind(struct cp *cp, struct cp_sess *s, uint32_t stream)
{
	int rc = cp_store_spec(cp, s, &cp->spec);
	uint32_t was = s->stream;	/* a pull binds again: it stays bound */
	bool put_ok = false;

	if (rc == 0) {
		count(cp, s, -1);
		s->stream = stream;
		rc = put(cp, &cp->spec, s, &s->joff, &s->jlen);
		put_ok = rc == 0;
		count(cp, s, 1);
		mf_sess_wipe_keys(&cp->spec);
	}
	if (rc == 0)
		rc = cp_journal_sync(cp->journal);
	if (rc != 0) {
		s->stream = was;
		if (put_ok)
			put_again(cp, s);
	}
	return rc;
}

int
cp_store_rewrite(struct cp *cp, struct cp_sess *s, const struct mf_sess_spec *spec)
{
	uint64_t off;
	uint32_t len;
	int rc = put(cp, spec, s, &off, &len);

	if (rc == 0 && (rc = cp_journal_sync(cp->journal)) != 0)
		put_again(cp, s);	/* the record before stays the session's */
	if (rc != 0)
		return rc;
	count(cp, s, -1);
	s->joff = off;
	s->jlen = len;
	count(cp, s, 1);
	return 0;
}

bool
cp_store_fresh(const struct cp *cp)
{
	return cp_journal_dataplane(cp->journal) != cp->dp_start_ns;
}

/* Whether the dataplane ended @p s (a session.timeout event): then it is dropped. @return
 * false when the dataplane did not say (cp_store_tick() asks again). */
static bool
forget(struct cp *cp, struct cp_sess *s)
{
	struct mf_msg_sess_ref ref = { { 0 } };
	struct cp_err err;
	int rc;

	/* Events are read between batches: since this one, a delete may have ended that
	 * session and a create made another of its id, which the dataplane has. */
	memcpy(ref.id, s->id, sizeof(ref.id));
	rc = cp_dp_call(cp, MF_MSG_SESSION_GET, &ref, sizeof(ref), cp->res, sizeof(cp->res),
			&err);
	if (rc >= 0) {		/* one of that id runs: not the one that ended */
		mf_sess_wipe_keys(&((struct mf_msg_sess_info *)cp->res)->spec);
		return true;
	}
	if (rc != -ENOENT)
		return false;
	cp_journal_del(cp->journal, s->id);
	drop(cp, s);
	cp_journal_sync(cp->journal);
	return true;
}

void
cp_store_forget(struct cp *cp, const char *id)
{
	struct cp_sess *s = cp_reg_find(&cp->reg, id);

	/* Not one being undone either: its undoing ends it (sweep_orphans()); nor one a new
	 * dataplane was not given yet: the one that ended came from its own file. A stalled
	 * dataplane is not asked: each question would leave it a command. */
	if (s == NULL || s->pending || s->deleting || s->unreplayed ||
	    (!cp_dp_stalled(cp) && forget(cp, s)))
		return;
	if (ids_add(&cp->unconfirmed, s) != 0)
		MF_LOG(WARNING, cmd, "session %s: its timeout not confirmed by the dataplane: "
		       "kept (no memory to ask again)", id);
}

/* The timeouts not confirmed, asked again: of the same sessions only. */
static void
confirm(struct cp *cp)
{
	struct cp_orphan *u;
	struct cp_sess *s;
	uint32_t i = 0;

	while (i < cp->unconfirmed.n && !cp_dp_stalled(cp)) {
		u = &cp->unconfirmed.v[i];
		s = cp_reg_find(&cp->reg, u->id);
		if (s != NULL && s->seq == u->seq && !s->deleting && !forget(cp, s)) {
			i++;
			continue;
		}
		*u = cp->unconfirmed.v[--cp->unconfirmed.n];
	}
}

/* ---- a dataplane came ---- */

struct replay {
	struct cp *cp;
	struct cp_item ring[MF_CHAN_CMD_SLOTS];
	uint32_t k;			/* items sent */
	uint32_t left;			/* sessions not sent: the dataplane stalled */
};

/* Held for later: the dataplane stalled, or gone (a new one is given all), before the
 * command (@p rc 0) or by it (not sent, or its answer lost). */
static bool
replay_held(struct replay *rp, int rc)
{
	bool held = rc == 0 ? !rp->cp->dp_up || cp_dp_stalled(rp->cp) :
			      rc == -ENOSPC || rc == -ENOTCONN || rc == -EOWNERDEAD;

	rp->left += held;
	return held;
}

/* A new dataplane gets every session of the journal, pipelined; one it already has (from
 * its own --sessions file), or that it did not answer in time, is marked and replaced by
 * ours afterwards. One it does not answer: the rest wait (cp_store_tick()). */
static void
replay_one(void *ctx, struct cp_sess *s)
{
	struct replay *rp = ctx;
	struct cp *cp = rp->cp;
	/* The slots of the items sent, in order: the oldest in flight is the one taken. */
	struct cp_item *it = &rp->ring[rp->k % MF_CHAN_CMD_SLOTS];
	int rc = -EIO;

	if (!s->unreplayed)
		return;
	if (cp->nb_inflight == MF_CHAN_CMD_SLOTS)
		collect_one(cp);
	if (replay_held(rp, 0))
		return;
	memset(it, 0, sizeof(*it));
	it->op = CP_OP_REPLAY;
	it->s = s;
	s->seen = false;
	if (cp_store_spec(cp, s, &cp->spec) == 0)
		rc = send_item(cp, it, MF_MSG_SESSION_ADD, &cp->spec,
			       (uint32_t)mf_sess_spec_size(&cp->spec));
	mf_sess_wipe_keys(&cp->spec);
	if (rc < 0 && replay_held(rp, rc))
		return;
	s->unreplayed = false;
	if (rc == 0)
		rp->k++;
	else
		MF_LOG(ERR, cmd, "replay of session %s not sent: %s", s->id,
		       rc == -EIO ? "its journal record is unreadable" : it->err.message);
}

static void
replace_marked(void *ctx, struct cp_sess *s)
{
	struct replay *rp = ctx;
	struct cp *cp = rp->cp;
	struct cp_err err = { .message = "its journal record is unreadable" };
	int rc = -EIO;

	if (!s->seen)
		return;
	if (replay_held(rp, 0))
		return;
	if (cp_store_spec(cp, s, &cp->spec) == 0)
		rc = cp_dp_call(cp, MF_MSG_SESSION_REPLACE, &cp->spec,
				(uint32_t)mf_sess_spec_size(&cp->spec), cp->res, sizeof(cp->res),
				&err);
	mf_sess_wipe_keys(&cp->spec);
	if (rc < 0 && replay_held(rp, rc))
		return;
	s->seen = false;
	/* Not answered in time, it is still in the channel: carried out later. */
	if (rc < 0 && rc != -ETIMEDOUT)
		MF_LOG(ERR, cmd, "replay of session %s refused: %s", s->id, err.message);
}

/* What is left of the replay, while the dataplane answers. Only once all is given does the
 * journal name this dataplane: a control plane restarted before then replays again, rather
 * than take this dataplane's sessions for the truth (reconcile()). */
static void
replay_more(struct cp *cp)
{
	struct replay *rp = calloc(1, sizeof(*rp));

	if (rp == NULL)
		return;		/* cp_store_tick() tries again */
	rp->cp = cp;
	cp_reg_each(&cp->reg, replay_one, rp);
	while (cp->nb_inflight > 0)
		collect_one(cp);
	cp_reg_each(&cp->reg, replace_marked, rp);
	/* One that died meanwhile answered nothing (complete()): the next is given all. */
	cp->replay_due = rp->left > 0 || !mf_shm_creator_alive(&cp->dp.shm);
	/* Said when it changes: a channel full of commands the dataplane takes slowly holds
	 * the rest for the next main loop pass, five a second. */
	if (cp->replay_due && rp->left != cp->replay_left)
		MF_LOG(WARNING, cmd, "dataplane generation %llu: %u sessions not replayed yet, "
		       "given once it takes them", (unsigned long long)cp->dp_generation,
		       rp->left);
	cp->replay_left = rp->left;
	if (!cp->replay_due && cp_journal_set_dataplane(cp->journal, cp->dp_start_ns) != 0)
		MF_LOG(ERR, cmd, "dataplane generation %llu: %u sessions replayed, but the "
		       "journal could not say so: a restart of the control plane replays them "
		       "again", (unsigned long long)cp->dp_generation, cp->reg.count);
	else if (!cp->replay_due)
		MF_LOG(NOTICE, cmd, "dataplane generation %llu: %u sessions replayed from the "
		       "journal", (unsigned long long)cp->dp_generation, cp->reg.count);
	free(rp);
}

static void
mark(void *ctx, struct cp_sess *s)
{
	(void)ctx;
	s->unreplayed = true;
	s->seen = false;
}

static void
replay(struct cp *cp)
{
	cp_reg_each(&cp->reg, mark, NULL);
	cp->replay_due = true;
	cp->replay_left = 0;
	replay_more(cp);
}

static void
unmark(void *ctx, struct cp_sess *s)
{
	(void)ctx;
	s->seen = false;
}

/* One of ours that no listing showed: ended while we were away, or missed (one that ended
 * between two pages moved the next ones back a place): asked for by name before it is
 * dropped, and kept unless the dataplane says it has none of that name. */
static void
sweep(void *ctx, struct cp_sess *s)
{
	struct cp *cp = ctx;
	struct mf_msg_sess_ref ref = { { 0 } };
	struct cp_err err;

	if (s->seen)
		return;
	memcpy(ref.id, s->id, sizeof(ref.id));
	if (cp_dp_call(cp, MF_MSG_SESSION_GET, &ref, sizeof(ref), cp->res, sizeof(cp->res),
		       &err) != -ENOENT)
		return;
	MF_LOG(NOTICE, cmd, "session %s ended while the control plane was away", s->id);
	cp_journal_del(cp->journal, s->id);
	drop(cp, s);
}

/*
 * A session the dataplane has that we do not (its create was never answered: a crash
 * between installing it and syncing the journal; or made with mfwd-ctl): ours from now on.
 * Unless it has keys (SDES SRTP, ICE): the dataplane gives none back (an SRTP context is
 * their only holder there), and a record with zeros would have an update or a replay send
 * them. Such a one is deleted. @return 1 deleted, 0 otherwise.
 */
static int
adopt(struct cp *cp, const char *id)
{
	struct mf_msg_sess_ref ref = { { 0 } };
	struct mf_msg_sess_info *si = (struct mf_msg_sess_info *)cp->res;
	struct cp_sess *s;
	struct cp_err err;
	uint64_t off;
	uint32_t len;

	memcpy(ref.id, id, sizeof(ref.id));
	ref.id[MF_SESS_ID_MAX - 1] = '\0';
	if (cp_dp_call(cp, MF_MSG_SESSION_GET, &ref, sizeof(ref), cp->res, sizeof(cp->res),
		       &err) != (int)sizeof(*si))
		return 0;
	if (mf_sess_has_keys(&si->spec)) {
		MF_LOG(NOTICE, cmd, "session %s, in the dataplane without a journal record, has "
		       "keys the dataplane does not give back: deleted", ref.id);
		return cp_dp_call(cp, MF_MSG_SESSION_DEL, &ref, sizeof(ref), cp->res,
				  sizeof(cp->res), &err) >= 0;
	}
	if (put(cp, &si->spec, NULL, &off, &len) != 0)
		return 0;
	s = remember(cp, &si->spec, NULL, off, len);
	if (s != NULL)
		s->seen = true;
	return 0;
}

/* Every session of the dataplane listed once, page by page: each of ours marked seen, each
 * else adopted. @return 0 when the table held still meanwhile (its count the same on every
 * page, nothing deleted here), 1 when one could have been passed over (a session ended or
 * deleted between two pages moves those after it), -1 when the dataplane did not answer. */
static int
reconcile_pass(struct cp *cp, struct mf_msg_list *page)
{
	struct mf_msg_list_req req = { .offset = 0, .limit = MF_LIST_MAX };
	uint32_t i, n, gone, total = 0;
	struct cp_err err;
	struct cp_sess *s;
	int moved = 0;

	for (;;) {
		if (cp_dp_call(cp, MF_MSG_SESSION_LIST, &req, sizeof(req), page, sizeof(*page),
			       &err) != (int)sizeof(*page))
			return -1;
		if (req.offset > 0 && page->total != total)
			moved = 1;
		n = page->count < MF_LIST_MAX ? page->count : MF_LIST_MAX;
		gone = 0;
		for (i = 0; i < n; i++) {
			page->ids[i][MF_SESS_ID_MAX - 1] = '\0';
			s = cp_reg_find(&cp->reg, page->ids[i]);
			if (s != NULL)
				s->seen = true;
			else
				gone += (uint32_t)adopt(cp, page->ids[i]);
		}
		moved |= gone > 0;
		total = page->total - gone;
		if (n < MF_LIST_MAX)
			return moved;
		req.offset += n - gone;	/* the next moved back over those deleted */
	}
}

/* The dataplane we had before our restart: it is right; registry and journal follow it. */
static void
reconcile(struct cp *cp)
{
	struct mf_msg_list *page = malloc(sizeof(*page));
	int pass, rc = 1;

	if (page == NULL)
		return;
	cp_reg_each(&cp->reg, unmark, NULL);
	/* Listed again while the table moved under the listing (a few times at most). */
	for (pass = 0; pass < 3 && rc == 1; pass++)
		if ((rc = reconcile_pass(cp, page)) < 0) {
			free(page);
			return;		/* keep everything: we know nothing better */
		}
	free(page);
	cp_reg_each(&cp->reg, sweep, cp);
	cp_journal_sync(cp->journal);
}

int
cp_store_given(struct cp *cp, const char *id, struct cp_err *err)
{
	const struct cp_sess *s = cp_reg_find(&cp->reg, id);

	if (s == NULL || !s->unreplayed || !cp->dp_up)
		return 0;
	cp_err_set(err, "busy", "id", "session \"%s\" is not given to the new dataplane yet: it "
		   "has not answered since it came", id);
	return -EAGAIN;
}

void
cp_store_tick(struct cp *cp)
{
	if (cp->nb_inflight != 0)
		return;
	if (cp->orphans.n > 0)
		sweep_orphans(cp, true);
	if (cp->replay_due && cp->dp_up && !cp_dp_stalled(cp))
		replay_more(cp);
	if (cp->unconfirmed.n > 0 && cp->dp_up)
		confirm(cp);
}

void
cp_store_attach(struct cp *cp)
{
	sweep_orphans(cp, false);	/* a new dataplane never had them */
	cp->replay_due = false;		/* a dataplane before this one's */
	if (cp_journal_dataplane(cp->journal) != cp->dp_start_ns)
		replay(cp);
	else
		reconcile(cp);
	MF_LOG(NOTICE, main, "dataplane \"%s\" generation %llu: %u sessions", cp->cfg.instance,
	       (unsigned long long)cp->dp_generation, cp->reg.count);
}
