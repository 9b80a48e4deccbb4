/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One action per command. Each validates its arguments strictly and changes nothing when it
 * refuses. session.create/delete (and their _many forms) are pipelined: start sends their
 * channel commands through cp_store.c, finish (after the batch's flush) makes the result.
 * The others run at once, with nothing in flight.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp.h"
#include "mf/mf_proto_json.h"
#include "mf/mf_stats.h"

void
cp_err_set(struct cp_err *e, const char *code, const char *path, const char *fmt, ...)
{
	va_list ap;

	snprintf(e->code, sizeof(e->code), "%s", code);
	snprintf(e->path, sizeof(e->path), "%s", path ? path : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

json_t *
cp_err_json(const struct cp_err *e)
{
	json_t *o = json_pack("{s:s, s:s}", "code", e->code, "message", e->message);

	if (e->path[0] != '\0')
		json_object_set_new(o, "path", json_string(e->path));
	return o;
}

int
cp_args_unpack(json_t *args, struct cp_err *err, const char *fmt, ...)
{
	json_error_t je;
	va_list ap;
	int rc;

	if (args == NULL)
		args = json_object();
	else
		json_incref(args);
	va_start(ap, fmt);
	rc = json_vunpack_ex(args, &je, JSON_STRICT, fmt, ap);
	va_end(ap);
	json_decref(args);
	if (rc != 0) {
		cp_err_set(err, "bad_args", "args", "%s", je.text);
		return -EINVAL;
	}
	return 0;
}

/* ---- session.create ---- */

/* An ingress port from the configured range, even for kind rtp (RTCP takes the next). */
int
cp_spec_alloc_port(struct cp *cp, json_t *spec, struct cp_err *err)
{
	json_t *in = json_object_get(spec, "ingress");
	const char *kind = json_string_value(json_object_get(spec, "kind"));
	const char *addr = json_string_value(json_object_get(in, "addr"));
	struct mf_addr local;
	int p;

	if (!json_is_object(in) || json_object_get(in, "udp_port") != NULL ||
	    mf_addr_parse(addr ? addr : "", &local) != 0)
		return 0;	/* the decoder names the problem */
	p = cp_reg_alloc_port(&cp->reg, (uint16_t)json_integer_value(json_object_get(in, "port")),
			      &local, cp->cfg.port_min, cp->cfg.port_max,
			      kind != NULL && strcmp(kind, "rtp") == 0);
	if (p < 0) {
		cp_err_set(err, "capacity", "ingress.udp_port", "no free port in %u-%u",
			   cp->cfg.port_min, cp->cfg.port_max);
		return p;
	}
	json_object_set_new(in, "udp_port", json_integer(p));
	return 0;
}

static int
decode_spec(json_t *spec, struct mf_sess_spec *out, struct cp_err *err)
{
	struct mf_sess_err se;

	if (mf_sess_from_json(spec, out, &se) != 0) {
		cp_err_set(err, mf_sess_errcode_str(se.code), se.path, "%s", se.msg);
		return -EINVAL;
	}
	return 0;
}

/* Admission: would the node still be within its limits with @p add instead of @p old? */
static int
admit(struct cp *cp, const struct mf_sess_spec *add, const struct cp_sess *old,
      struct cp_err *err)
{
	const struct cp_limits *l = &cp->cfg.limits;
	uint32_t max = l->max_sessions ? l->max_sessions : cp->dp_max_sessions;
	uint32_t outs = cp->nb_outputs + add->nb_outputs - (old ? old->nb_outputs : 0);
	uint64_t kbps = cp->kbps + cp_store_kbps(cp, add->limits.max_kbps) -
			(old ? cp_store_kbps(cp, old->max_kbps) : 0);
	uint16_t tenant = old ? old->tenant : cp->caller;

	if (old == NULL && max != 0 && cp->reg.count >= max)
		cp_err_set(err, "capacity", NULL, "the node holds its maximum of %u sessions", max);
	else if (l->max_outputs != 0 && outs > l->max_outputs)
		cp_err_set(err, "capacity", "outputs", "%u outputs would exceed the node's %u",
			   outs, l->max_outputs);
	else if (l->max_kbps != 0 && kbps > l->max_kbps)
		cp_err_set(err, "capacity", "limits.max_kbps",
			   "%llu kbit/s would exceed the node's %llu", (unsigned long long)kbps,
			   (unsigned long long)l->max_kbps);
	else
		return cp_auth_admit(cp, tenant, old ? 0 : 1,
				     (int64_t)add->nb_outputs - (old ? old->nb_outputs : 0),
				     (int64_t)cp_store_kbps(cp, add->limits.max_kbps) -
				     (int64_t)(old ? cp_store_kbps(cp, old->max_kbps) : 0), err);
	return -ENOSPC;
}

static json_t *
created(struct cp *cp, const struct mf_sess_spec *spec)
{
	char a[64];

	return json_pack("{s:s, s:s, s:{s:i, s:s, s:i}}", "session", spec->id, "node",
			 cp->cfg.node, "ingress", "port", spec->ingress.port, "addr",
			 mf_addr_str(&spec->ingress.local, a, sizeof(a)), "udp_port",
			 spec->ingress.udp_port);
}

/* A tenant with a bit-rate quota: a session that declares none gets the node's default as
 * its limit, which the dataplane enforces (what counts against the quota holds). */
static int
rate_of_tenant(struct cp *cp, struct mf_sess_spec *spec, struct cp_err *err)
{
	const struct cp_tenant *t = &cp->auth.tenants[cp->caller];

	if (t->max_kbps == 0 || spec->limits.max_kbps != 0)
		return 0;
	if (cp->cfg.limits.default_session_kbps == 0 ||
	    cp->cfg.limits.default_session_kbps > MF_SESS_MAX_KBPS) {
		cp_err_set(err, "missing", "limits.max_kbps", "tenant %s has a bit-rate quota: "
			   "declare the session's limits.max_kbps", t->name);
		return -EINVAL;
	}
	spec->limits.max_kbps = cp->cfg.limits.default_session_kbps;
	return 0;
}

/* A UDP port given in the spec that a session here holds: refused before the registry
 * marks it (as the dataplane would refuse it): marked and then dropped, it was freed in
 * the registry while the other session held it, and allocated again to a third. */
static bool
port_used(struct cp *cp, const struct mf_sess_spec *spec, struct cp_err *err)
{
	const struct mf_sess_ingress *in = &spec->ingress;

	if (!cp_reg_port_used(&cp->reg, in->port, &in->local, in->udp_port,
			      spec->kind == MF_SESS_RTP))
		return false;
	cp_err_set(err, "address_in_use", "ingress.udp_port", "ingress: port %u address and "
		   "UDP port %u already used by a session", in->port, in->udp_port);
	return true;
}

/* One spec of a create: validated, a port allocated, sent. */
static int
create_one(struct cp *cp, json_t *args, struct cp_item *it, json_t **result)
{
	/* The request's own object: the allocated port is written into it (no copy). */
	json_t *copy = json_is_object(args) ? json_incref(args) : NULL;
	int rc = -EINVAL;

	if (copy == NULL)
		cp_err_set(&it->err, "bad_args", NULL, "a session spec is an object");
	else if ((rc = cp_spec_alloc_port(cp, copy, &it->err)) == 0 &&
		 (rc = decode_spec(copy, &cp->spec, &it->err)) == 0) {
		if (cp_reg_find(&cp->reg, cp->spec.id) != NULL) {
			cp_err_set(&it->err, "exists", "id", "session \"%s\" exists", cp->spec.id);
			rc = -EEXIST;
		} else if (port_used(cp, &cp->spec, &it->err)) {
			rc = -EADDRINUSE;
		} else if ((rc = rate_of_tenant(cp, &cp->spec, &it->err)) == 0 &&
			   (rc = admit(cp, &cp->spec, NULL, &it->err)) == 0 &&
			   (rc = cp_store_create(cp, it, &cp->spec)) == 0) {
			*result = created(cp, &cp->spec);
		}
	}
	mf_sess_wipe_keys(&cp->spec);
	json_decref(copy);
	return rc;
}

int
cp_create_pipelined(struct cp *cp, json_t *spec, struct cp_item *it)
{
	json_t *res = NULL;
	int rc;

	it->op = CP_OP_CREATE;
	if (cp->draining) {
		cp_err_set(&it->err, "draining", NULL, "node %s is draining: no new sessions",
			   cp->cfg.node);
		return -EBUSY;
	}
	rc = create_one(cp, spec, it, &res);
	json_decref(res);
	return rc;
}

int
cp_create_now(struct cp *cp, json_t *spec, struct cp_sess **out, struct cp_err *err)
{
	struct cp_item it = { .op = CP_OP_CREATE };
	json_t *res = NULL;
	int rc;

	*out = NULL;
	if (cp->draining) {
		cp_err_set(err, "draining", NULL, "node %s is draining: no new sessions",
			   cp->cfg.node);
		return -EBUSY;
	}
	rc = create_one(cp, spec, &it, &res);

	json_decref(res);
	if (rc != 0) {
		*err = it.err;
		return rc;
	}
	rc = cp_store_flush(cp);
	if (!it.ok) {
		*err = it.err;
		return -EIO;
	}
	if (rc != 0) {
		cp_delete_now(cp, it.s->id, err);
		cp_err_set(err, "internal", NULL, "the journal could not be written");
		return rc;
	}
	*out = it.s;
	return 0;
}

/* A delete the dataplane made whose journal record could not be written: not a success
 * (that promises the change on disk), and the client is told what holds. */
static void
delete_unjournaled(struct cp_err *err)
{
	cp_err_set(err, "internal", NULL, "deleted from the dataplane, but the journal could not "
		   "be written: until a later change writes it, a restart of the control plane "
		   "brings the session back");
}

int
cp_delete_now(struct cp *cp, const char *id, struct cp_err *err)
{
	struct cp_item it = { .op = CP_OP_DELETE };
	int rc = cp_store_delete(cp, &it, id);

	if (rc == 0) {
		rc = cp_store_flush(cp);
		if (!it.ok) {
			*err = it.err;
			rc = -EIO;
		} else if (rc != 0) {
			delete_unjournaled(err);
		}
	} else {
		*err = it.err;
	}
	return rc;
}

static int
items_alloc(struct cp_req *rq, size_t n)
{
	rq->items = calloc(n ? n : 1, sizeof(*rq->items));
	rq->results = calloc(n ? n : 1, sizeof(*rq->results));
	if (rq->items == NULL || rq->results == NULL) {
		/* Neither kept: finish reads the items only of a request that has them. */
		free(rq->items);
		free(rq->results);
		rq->items = NULL;
		rq->results = NULL;
		cp_err_set(&rq->err, "internal", NULL, "no memory for %zu items", n);
		return -ENOMEM;
	}
	rq->nb_items = (uint32_t)n;
	return 0;
}

/* The specs of session.create ({spec}) or session.create_many ({"sessions": [...],
 * "atomic": bool}). An atomic batch stops at its first refusal (and is undone by finish). */
void
cp_create_start(struct cp *cp, struct cp_req *rq)
{
	json_t *list = NULL;
	int atomic = 0;
	size_t i, n = 1;

	rq->pipelined = true;
	if (cp->draining) {
		cp_err_set(&rq->err, "draining", NULL, "node %s is draining: no new sessions",
			   cp->cfg.node);
		return;
	}
	if (rq->many) {
		if (cp_args_unpack(rq->args, &rq->err, "{s:o, s?b}", "sessions", &list, "atomic",
				&atomic) != 0)
			return;
		n = json_array_size(list);
		if (!json_is_array(list) || n == 0 || n > CP_MANY_MAX) {
			cp_err_set(&rq->err, json_is_array(list) ? "out_of_range" : "wrong_type",
				   "sessions", "an array of 1 to %d session specs", CP_MANY_MAX);
			return;
		}
		rq->atomic = atomic;
	} else if (!json_is_object(rq->args)) {
		cp_err_set(&rq->err, "bad_args", "args", "session.create takes a session spec object");
		return;
	}
	if (items_alloc(rq, n) != 0)
		return;
	for (i = 0; i < n; i++) {
		if (create_one(cp, rq->many ? json_array_get(list, i) : rq->args, &rq->items[i],
			       &rq->results[i]) != 0 && rq->atomic)
			break;
	}
}

bool
cp_sees(const struct cp *cp, const char *id)
{
	const struct cp_sess *s;

	if (cp_auth_admin(cp, cp->caller))
		return true;
	s = cp_reg_find(&cp->reg, id);
	return s != NULL && s->tenant == cp->caller;
}

/* session.delete ({"id"}) or session.delete_many ({"ids": [...]}). */
void
cp_delete_start(struct cp *cp, struct cp_req *rq)
{
	const char *id = NULL;
	json_t *ids = NULL;
	size_t i, n = 1;

	rq->pipelined = true;
	if (rq->many ? cp_args_unpack(rq->args, &rq->err, "{s:o}", "ids", &ids) :
		       cp_args_unpack(rq->args, &rq->err, "{s:s}", "id", &id))
		return;
	if (rq->many) {
		n = json_array_size(ids);
		if (!json_is_array(ids) || n == 0 || n > CP_MANY_MAX) {
			cp_err_set(&rq->err, json_is_array(ids) ? "out_of_range" : "wrong_type",
				   "ids", "an array of 1 to %d session ids", CP_MANY_MAX);
			return;
		}
	}
	if (items_alloc(rq, n) != 0)
		return;
	for (i = 0; i < n; i++) {
		const char *one = rq->many ? json_string_value(json_array_get(ids, i)) : id;

		if (one == NULL) {
			rq->items[i].op = CP_OP_DELETE;
			cp_err_set(&rq->items[i].err, "wrong_type", NULL, "a session id is a string");
		} else if (!cp_sees(cp, one)) {
			rq->items[i].op = CP_OP_DELETE;
			cp_err_set(&rq->items[i].err, "not_found", "id", "no session \"%s\"", one);
		} else if (cp_store_delete(cp, &rq->items[i], one) == 0) {
			rq->results[i] = json_pack("{s:s}", "session", one);
		}
	}
}

/* An atomic create_many with a refusal, or a journal that could not be written: the
 * sessions this request created are deleted again. @return 0, or the journal's error
 * when their deletion could not be written (a restart would bring them back). */
static int
undo(struct cp *cp, struct cp_req *rq, const struct cp_err *why)
{
	/* The deletes all sent, then answered: behind one the dataplane does not answer in
	 * time, the rest are not waited for a timeout each. Each goes in an item of its own
	 * (the request's still say what was created). */
	struct cp_item *del = calloc(rq->nb_items, sizeof(*del)), one;
	bool sent = false;
	uint32_t i;

	for (i = 0; i < rq->nb_items; i++) {
		struct cp_item *it = &rq->items[i], *d = del != NULL ? &del[i] : &one;

		if (!it->ok || it->s == NULL)
			continue;
		memset(d, 0, sizeof(*d));
		if (cp_store_undo(cp, d, it->id, it->made)) {
			sent = true;
			if (del == NULL)
				cp_store_collect(cp);	/* no memory: one at a time */
		}
		it->ok = false;
		it->s = NULL;
		it->err = *why;
		json_decref(rq->results[i]);
		rq->results[i] = NULL;
	}
	cp_store_collect(cp);		/* the answers go to del */
	free(del);
	return sent ? cp_store_flush(cp) : 0;
}

/* Deletes made whose journal could not be written (the dataplane's sessions are gone; the
 * records stay buffered for the next sync): each is told so. */
static void
unjournaled(struct cp_req *rq)
{
	uint32_t i;

	for (i = 0; i < rq->nb_items; i++) {
		if (!rq->items[i].ok)
			continue;
		rq->items[i].ok = false;
		delete_unjournaled(&rq->items[i].err);
		json_decref(rq->results[i]);
		rq->results[i] = NULL;
	}
}

/* An atomic batch's refusal @p e, when the undoing of the rest could not be journaled:
 * the answer says so (the refusal's code kept in the message, its path as the path). */
static void
rollback_unjournaled(struct cp_err *e)
{
	struct cp_err was = *e;

	cp_err_set(e, "internal", was.path[0] ? was.path : NULL, "refused (%s); the batch was "
		   "undone in the dataplane but not in the journal: until a later change is "
		   "written, a restart brings it back", was.code);
}

/* The error of item @p i, its path inside the request. */
static json_t *
item_error(const struct cp_req *rq, uint32_t i)
{
	struct cp_err e = rq->items[i].err;

	if (rq->many && rq->items[i].op == CP_OP_DELETE)
		snprintf(e.path, sizeof(e.path), "ids[%u]", i);
	else if (rq->many)
		snprintf(e.path, sizeof(e.path), "sessions[%u]%s%.100s", i,
			 rq->items[i].err.path[0] ? "." : "", rq->items[i].err.path);
	if (e.code[0] == '\0')
		cp_err_set(&e, "not_attempted", NULL, "an earlier session of this atomic batch "
			   "was refused");
	return cp_err_json(&e);
}

void
cp_pipelined_finish(struct cp *cp, struct cp_req *rq, bool journal_ok)
{
	struct cp_err why;
	json_t *list;
	uint32_t i, good = 0, first_bad = UINT32_MAX;

	if (rq->items == NULL)
		return;			/* refused before any item */
	for (i = 0; i < rq->nb_items; i++) {
		if (rq->items[i].ok)
			good++;
		else if (first_bad == UINT32_MAX)
			first_bad = i;
	}
	if (!journal_ok && good > 0 && rq->items[0].op == CP_OP_CREATE) {
		cp_err_set(&why, "internal", NULL, "the journal could not be written");
		undo(cp, rq, &why);
		good = 0;
		first_bad = 0;
	} else if (!journal_ok && good > 0) {
		unjournaled(rq);
		good = 0;
		first_bad = 0;
	} else if (rq->atomic && first_bad != UINT32_MAX && good > 0) {
		cp_err_set(&why, "rolled_back", NULL, "undone: session %u of this atomic batch "
			   "was refused", first_bad);
		if (undo(cp, rq, &why) != 0)
			rollback_unjournaled(&rq->items[first_bad].err);
		good = 0;
	}
	/* Journaled: the pooled ones kept on the broker too (failover); one a later request
	 * of the batch deleted is not there to keep (it->s may be freed). */
	for (i = 0; good > 0 && i < rq->nb_items; i++) {
		struct cp_sess *s = rq->items[i].ok && rq->items[i].op == CP_OP_CREATE ?
				    cp_reg_find(&cp->reg, rq->items[i].id) : NULL;

		if (s != NULL && s->seq == rq->items[i].made)
			cp_store_record(cp, s);
	}
	if (!rq->many || rq->atomic) {
		if (first_bad == UINT32_MAX) {
			rq->result = rq->many ? json_pack("{s:i, s:i}", "created", good, "failed", 0)
					      : json_incref(rq->results[0]);
			if (rq->many)
				json_object_set_new(rq->result, "results", json_array());
		} else {
			json_t *e = item_error(rq, first_bad);

			cp_err_set(&rq->err, json_string_value(json_object_get(e, "code")),
				   json_string_value(json_object_get(e, "path")), "%s",
				   json_string_value(json_object_get(e, "message")));
			json_decref(e);
		}
		if (!rq->many || first_bad != UINT32_MAX)
			return;
	} else {
		rq->result = json_pack("{s:i, s:i}", rq->items[0].op == CP_OP_CREATE ? "created" :
				       "deleted", good, "failed", rq->nb_items - good);
		json_object_set_new(rq->result, "results", json_array());
	}
	list = json_object_get(rq->result, "results");
	for (i = 0; i < rq->nb_items; i++)
		json_array_append_new(list, rq->items[i].ok ? json_incref(rq->results[i]) :
				      json_pack("{s:i, s:o}", "index", i, "error",
						item_error(rq, i)));
}

/* ---- session.update ---- */

static int
output_index(const struct mf_sess_spec *s, const char *id)
{
	int i;

	for (i = 0; i < s->nb_outputs; i++)
		if (strcmp(s->outputs[i].id, id) == 0)
			return i;
	return -1;
}

/* The output named by element @p k of @p ids, or -ENOENT with @p err set. */
static int
named_output(const struct mf_sess_spec *s, json_t *ids, size_t k, const char *what,
	     struct cp_err *err)
{
	const char *id = json_string_value(json_array_get(ids, k));
	int i = id ? output_index(s, id) : -1;

	if (i < 0)
		cp_err_set(err, "not_found", what, "no output \"%s\"", id ? id : "(not a string)");
	return i < 0 ? -ENOENT : i;
}

static int
remove_outputs(struct mf_sess_spec *s, json_t *ids, struct cp_err *err)
{
	size_t k;
	int i;

	for (k = 0; k < json_array_size(ids); k++) {
		i = named_output(s, ids, k, "remove_outputs", err);
		if (i < 0)
			return i;
		memmove(&s->outputs[i], &s->outputs[i + 1],
			sizeof(s->outputs[0]) * (size_t)(s->nb_outputs - i - 1));
		s->nb_outputs--;
		/* The last one is a copy now: nothing of a spec past its outputs. */
		explicit_bzero(&s->outputs[s->nb_outputs], sizeof(s->outputs[0]));
	}
	return 0;
}

static int
add_outputs(struct mf_sess_spec *s, json_t *outs, struct cp_err *err)
{
	struct mf_sess_err se;
	char path[200];
	size_t k;

	for (k = 0; k < json_array_size(outs); k++) {
		struct mf_sess_output *o = &s->outputs[s->nb_outputs];

		snprintf(path, sizeof(path), "add_outputs[%zu]", k);
		if (s->nb_outputs == MF_SESS_MAX_OUTPUTS) {
			cp_err_set(err, "too_many", path, "at most %d outputs", MF_SESS_MAX_OUTPUTS);
			return -E2BIG;
		}
		if (mf_sess_output_from_json(json_array_get(outs, k), s->kind, o, &se) != 0) {
			snprintf(path, sizeof(path), "add_outputs[%zu].%s", k, se.path);
			cp_err_set(err, mf_sess_errcode_str(se.code), path, "%s", se.msg);
			return -EINVAL;
		}
		if (o->id[0] == '\0' || output_index(s, o->id) >= 0) {
			cp_err_set(err, o->id[0] ? "duplicate" : "missing", path,
				   o->id[0] ? "output \"%s\" exists" : "added outputs need an id%s",
				   o->id);
			explicit_bzero(o, sizeof(*o));	/* past nb_outputs: no key stays */
			return -EINVAL;
		}
		s->nb_outputs++;
	}
	return 0;
}

static int
set_paused(struct mf_sess_spec *s, json_t *ids, bool paused, const char *what,
	   struct cp_err *err)
{
	size_t k;
	int i;

	for (k = 0; k < json_array_size(ids); k++) {
		i = named_output(s, ids, k, what, err);
		if (i < 0)
			return i;
		if (paused)
			s->outputs[i].flags |= MF_OUT_F_PAUSED;
		else
			s->outputs[i].flags &= (uint8_t)~MF_OUT_F_PAUSED;
	}
	return 0;
}

/* New SRTP parameters (a re-key, or SRTP on or off): "srtp" for the ingress, "output_srtp"
 * by output id. The dataplane keeps the stream state where a key stays, and accepts the
 * previous ingress key while senders switch. */
static int
rekey(struct mf_sess_spec *s, json_t *in, json_t *outs, struct cp_err *err)
{
	struct mf_sess_err se;
	const char *oid;
	char path[200];
	json_t *v;
	int i;

	if (in != NULL && s->ingress.dtls.on) {
		cp_err_set(err, "bad_value", "srtp", "the ingress takes its keys from DTLS");
		return -EINVAL;
	}
	if (in != NULL && mf_srtp_params_from_json(in, s->kind, &s->ingress.srtp, &se) != 0) {
		snprintf(path, sizeof(path), "srtp%s%s", se.path[0] ? "." : "", se.path);
		cp_err_set(err, mf_sess_errcode_str(se.code), path, "%s", se.msg);
		return -EINVAL;
	}
	if (outs != NULL && !json_is_object(outs)) {
		cp_err_set(err, "wrong_type", "output_srtp", "an object: output id to SRTP parameters");
		return -EINVAL;
	}
	json_object_foreach(outs, oid, v) {
		i = output_index(s, oid);
		if (i < 0) {
			cp_err_set(err, "not_found", "output_srtp", "no output \"%s\"", oid);
			return -ENOENT;
		}
		if (s->outputs[i].dtls.on) {
			cp_err_set(err, "bad_value", "output_srtp", "output \"%s\" takes its keys from "
				   "DTLS", oid);
			return -EINVAL;
		}
		if (mf_srtp_params_from_json(v, s->kind, &s->outputs[i].srtp, &se) != 0) {
			snprintf(path, sizeof(path), "output_srtp.%s%s%s", oid, se.path[0] ? "." : "",
				 se.path);
			cp_err_set(err, mf_sess_errcode_str(se.code), path, "%s", se.msg);
			return -EINVAL;
		}
	}
	return 0;
}

json_t *
cp_session_update(struct cp *cp, json_t *args, struct cp_err *err)
{
	struct mf_sess_spec *spec = &cp->spec;
	json_t *add = NULL, *rm = NULL, *pause = NULL, *resume = NULL, *out = NULL;
	json_t *srtp = NULL, *out_srtp = NULL;
	const char *id = NULL;
	int block = -1;
	struct cp_sess *s;

	if (cp_args_unpack(args, err, "{s:s, s?o, s?o, s?o, s?o, s?b, s?o, s?o}", "id", &id,
			"add_outputs", &add, "remove_outputs", &rm, "pause", &pause, "resume",
			&resume, "block", &block, "srtp", &srtp, "output_srtp", &out_srtp) != 0)
		return NULL;
	s = cp_reg_find(&cp->reg, id);
	if (s == NULL || s->deleting) {		/* or an unanswered create being undone */
		cp_err_set(err, "not_found", "id", "no session \"%s\"", id);
		return NULL;
	}
	if (cp_store_spec(cp, s, spec) != 0) {
		cp_err_set(err, "internal", NULL, "the journal's record of \"%s\" is unreadable", id);
		return NULL;
	}
	if ((add && !json_is_array(add)) || (rm && !json_is_array(rm)) ||
	    (pause && !json_is_array(pause)) || (resume && !json_is_array(resume)))
		cp_err_set(err, "wrong_type", NULL,
			   "add_outputs, remove_outputs, pause and resume are arrays");
	else if (remove_outputs(spec, rm, err) == 0 && add_outputs(spec, add, err) == 0 &&
		 set_paused(spec, pause, true, "pause", err) == 0 &&
		 set_paused(spec, resume, false, "resume", err) == 0 &&
		 rekey(spec, srtp, out_srtp, err) == 0 &&
		 admit(cp, spec, s, err) == 0) {
		if (block >= 0)
			spec->flags = block ? (uint8_t)(spec->flags | MF_SESS_F_BLOCKED) :
					      (uint8_t)(spec->flags & ~MF_SESS_F_BLOCKED);
		if (cp_store_update(cp, s, spec, err) == 0)
			out = json_pack("{s:s, s:i, s:b}", "session", spec->id, "outputs",
					spec->nb_outputs, "blocked",
					(spec->flags & MF_SESS_F_BLOCKED) != 0);
	}
	mf_sess_wipe_keys(spec);
	return out;
}

/* ---- delete, get, list ---- */

static int
ref_of(json_t *args, struct mf_msg_sess_ref *ref, struct cp_err *err)
{
	const char *id = NULL;

	if (cp_args_unpack(args, err, "{s:s}", "id", &id) != 0)
		return -EINVAL;
	if (strlen(id) >= sizeof(ref->id)) {
		cp_err_set(err, "not_found", "id", "no session \"%.60s...\"", id);
		return -ENOENT;
	}
	memset(ref, 0, sizeof(*ref));
	strcpy(ref->id, id);
	return 0;
}

int
cp_stats_attach(struct cp *cp, struct mf_stats_reader *r)
{
	uint64_t sz;
	const void *mem = mf_shm_region(&cp->dp.shm, MF_SHM_REGION_STATS, &sz);

	return mem == NULL || mf_stats_reader_attach(r, mem, sz) != 0 ? -ENOENT : 0;
}

json_t *
cp_stats_json(struct cp *cp, const char *session)
{
	struct mf_stats_reader r;

	if (cp_stats_attach(cp, &r) != 0)
		return json_object();
	return mf_stats_to_json(&r, session);
}

json_t *
cp_session_get(struct cp *cp, json_t *args, struct cp_err *err)
{
	struct mf_msg_sess_ref ref;
	json_t *o, *st, *pipes;

	if (ref_of(args, &ref, err) != 0 || cp_store_given(cp, ref.id, err) != 0 ||
	    cp_dp_call(cp, MF_MSG_SESSION_GET, &ref, sizeof(ref), cp->res, sizeof(cp->res),
		       err) < 0)
		return NULL;
	o = mf_sess_info_to_json((struct mf_msg_sess_info *)cp->res);
	pipes = cp_pipes_of(cp, ref.id);
	if (pipes != NULL)
		json_object_set_new(o, "pipes", pipes);
	st = cp_stats_json(cp, ref.id);
	json_object_set(o, "stats", json_object_get(json_object_get(st, "sessions"), ref.id));
	json_decref(st);
	return o;
}

/* A page of session ids in creation order. The cursor is the creation number of the last
 * session of the previous page: sessions removed meanwhile cannot shift a page, so a session
 * that exists throughout the paging is listed exactly once. */
json_t *
cp_session_list(struct cp *cp, json_t *args, struct cp_err *err)
{
	const char *cursor = NULL;
	json_int_t lim = 100;
	struct cp_sess **page;
	unsigned long long after = 0;
	json_t *ids, *o;
	uint32_t n, i;
	bool more, all;
	char *end;

	if (cp_args_unpack(args, err, "{s?s, s?I}", "cursor", &cursor, "limit", &lim) != 0)
		return NULL;
	if (lim < 1 || lim > CP_LIST_MAX) {
		cp_err_set(err, "out_of_range", "limit", "limit 1..%d", CP_LIST_MAX);
		return NULL;
	}
	if (cursor != NULL) {
		errno = 0;
		after = strtoull(cursor, &end, 10);
		if (errno != 0 || end == cursor || *end != '\0') {
			cp_err_set(err, "invalid", "cursor", "not a cursor this node gave");
			return NULL;
		}
	}
	page = malloc(sizeof(*page) * (size_t)lim);
	if (page == NULL) {
		cp_err_set(err, "internal", NULL, "no memory for a page");
		return NULL;
	}
	all = cp_auth_admin(cp, cp->caller);
	n = cp_reg_page(&cp->reg, after, (uint32_t)lim, all ? -1 : cp->caller, page, &more);
	ids = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(ids, json_string(page[i]->id));
	o = json_pack("{s:i, s:o}", "total", all ? cp->reg.count :
		      cp->auth.tenants[cp->caller].sessions, "sessions", ids);
	if (more) {
		char next[24];

		snprintf(next, sizeof(next), "%llu", (unsigned long long)page[n - 1]->seq);
		json_object_set_new(o, "next", json_string(next));
	}
	free(page);
	return o;
}

/* ---- node ---- */

json_t *
cp_node_info(struct cp *cp, json_t *args, struct cp_err *err)
{
	json_t *o;

	if (cp_args_unpack(args, err, "{}") != 0 ||
	    cp_dp_call(cp, MF_MSG_NODE_INFO, NULL, 0, cp->res, sizeof(cp->res), err) < 0)
		return NULL;
	o = mf_node_info_to_json((struct mf_msg_node_info *)cp->res);
	json_object_set_new(o, "node", json_string(cp->cfg.node));
	json_object_set_new(o, "draining", json_boolean(cp->draining));
	json_object_set_new(o, "port_spaces", json_integer(cp->reg.nb_spaces));
	json_object_set_new(o, "limits", json_pack("{s:i, s:i, s:I}", "max_sessions",
		cp->cfg.limits.max_sessions ? cp->cfg.limits.max_sessions : cp->dp_max_sessions,
		"max_outputs", cp->cfg.limits.max_outputs, "max_kbps",
		(json_int_t)cp->cfg.limits.max_kbps));
	json_object_set_new(o, "auth", cp_auth_json(cp, cp->caller));
	json_object_set_new(o, "placement", json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:i}",
		"on", cp->place.on, "here", (json_int_t)cp->place.here, "forwarded",
		(json_int_t)cp->place.forwarded, "relayed", (json_int_t)cp->place.relayed,
		"again", (json_int_t)cp->place.again, "timeouts", (json_int_t)cp->place.timeouts,
		"waiting", cp->place.nb));
	json_object_set_new(o, "failover", json_pack("{s:b, s:I, s:I, s:I, s:I, s:i, s:I, s:I, s:I, "
						     "s:I}",
		"on", cp->failover.on, "moved", (json_int_t)cp->failover.moved, "failed",
		(json_int_t)cp->failover.failed, "gone", (json_int_t)cp->failover.gone,
		"republished", (json_int_t)cp->failover.republished, "reading",
		cp->failover.nb_dead, "forgotten", (json_int_t)cp->failover.forgotten,
		"unsigned", (json_int_t)cp->failover.unsigned_records, "stale",
		(json_int_t)cp->failover.stale, "others", (json_int_t)cp->failover.others));
	return o;
}

json_t *
cp_node_stats(struct cp *cp, json_t *args, struct cp_err *err)
{
	json_t *o;

	if (cp_args_unpack(args, err, "{}") != 0)
		return NULL;
	if (!cp->dp_up) {
		cp_dp_down(cp, err);
		return NULL;
	}
	o = cp_stats_json(cp, NULL);
	json_object_del(o, "sessions");		/* session.get has each; a node may have 1M */
	return o;
}

/* The dataplane checks the ranges and the file name (one place for the rules): here only
 * that each number fits the message. */
static int
u32_arg(json_int_t v, const char *name, uint32_t *out, struct cp_err *err)
{
	if (v < 0 || v > UINT32_MAX) {
		cp_err_set(err, "out_of_range", name, "%s: 0..%u", name, UINT32_MAX);
		return -ERANGE;
	}
	*out = (uint32_t)v;
	return 0;
}

json_t *
cp_session_capture(struct cp *cp, json_t *args, struct cp_err *err)
{
	struct mf_msg_capture c;
	const char *id = NULL, *file = "";
	json_int_t secs = MF_CAPTURE_SECONDS, max = MF_CAPTURE_PACKETS, snap = 0;

	if (cp_args_unpack(args, err, "{s:s, s?I, s?I, s?I, s?s}", "id", &id, "seconds", &secs,
			"max_packets", &max, "snaplen", &snap, "file", &file) != 0)
		return NULL;
	memset(&c, 0, sizeof(c));
	if (strlen(id) >= sizeof(c.id)) {
		cp_err_set(err, "not_found", "id", "no session \"%.60s...\"", id);
		return NULL;
	}
	if (strlen(file) >= sizeof(c.file)) {
		cp_err_set(err, "invalid", "file", "file: at most %d characters",
			   MF_CAPTURE_FILE_MAX - 1);
		return NULL;
	}
	strcpy(c.id, id);
	strcpy(c.file, file);
	if (u32_arg(secs, "seconds", &c.seconds, err) != 0 ||
	    u32_arg(max, "max_packets", &c.max_packets, err) != 0 ||
	    u32_arg(snap, "snaplen", &c.snaplen, err) != 0 || cp_store_given(cp, c.id, err) != 0 ||
	    cp_dp_call(cp, MF_MSG_SESSION_CAPTURE, &c, sizeof(c), cp->res, sizeof(cp->res),
		       err) < 0)
		return NULL;
	return json_pack("{s:s, s:s, s:i, s:i, s:i}", "session", c.id, "file",
			 ((struct mf_msg_capture_info *)cp->res)->path, "seconds", c.seconds,
			 "max_packets", c.max_packets, "snaplen", c.snaplen);
}

json_t *
cp_node_drain(struct cp *cp, json_t *args, struct cp_err *err)
{
	int drain = 1;

	if (cp_args_unpack(args, err, "{s?b}", "drain", &drain) != 0)
		return NULL;
	cp->draining = drain;
	cp->status_dirty = true;
	return json_pack("{s:b, s:i}", "draining", drain, "sessions", cp->reg.count);
}
