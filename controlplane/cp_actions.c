/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One action function per command. Each validates its arguments strictly, changes nothing
 * when it refuses, applies the change through the dataplane's channel, writes the journal
 * before returning, and returns the result object for the reply.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp.h"
#include "mf/mf_proto_json.h"
#include "mf/mf_stats.h"

static uint8_t res[MF_CHAN_SLOT_SIZE];

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

struct cp_sess *
cp_sess_find(struct cp *cp, const char *id)
{
	struct cp_sess *s;

	for (s = cp->sessions; s != NULL; s = s->next)
		if (strcmp(s->spec.id, id) == 0)
			return s;
	return NULL;
}

static uint64_t
kbps_of(const struct cp *cp, const struct mf_sess_spec *spec)
{
	return spec->limits.max_kbps ? spec->limits.max_kbps : cp->cfg.limits.default_session_kbps;
}

void
cp_sess_forget(struct cp *cp, const char *id)
{
	struct cp_sess **pp, *s;

	for (pp = &cp->sessions; (s = *pp) != NULL; pp = &s->next) {
		if (strcmp(s->spec.id, id) != 0)
			continue;
		*pp = s->next;
		cp->nb_sessions--;
		cp->nb_outputs -= s->spec.nb_outputs;
		cp->kbps -= kbps_of(cp, &s->spec);
		cp_journal_del(cp->journal, id);
		mf_sess_wipe_keys(&s->spec);
		free(s);
		return;
	}
}

/* Arguments are an object of exactly the keys a command takes. */
static int
args_unpack(json_t *args, struct cp_err *err, const char *fmt, ...)
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

static bool
port_free(struct cp *cp, const struct mf_sess_ingress *in, uint16_t port, bool pair)
{
	struct cp_sess *s;

	for (s = cp->sessions; s != NULL; s = s->next) {
		const struct mf_sess_ingress *o = &s->spec.ingress;
		uint16_t lo = o->udp_port, hi = s->spec.kind == MF_SESS_RTP ? lo + 1 : lo;

		if (o->port != in->port || !mf_addr_equal(&o->local, &in->local))
			continue;
		if ((port >= lo && port <= hi) || (pair && port + 1 >= lo && port + 1 <= hi))
			return false;
	}
	return true;
}

/* An ingress port from the configured range, even for kind rtp (RTCP takes the next). */
static int
allocate_port(struct cp *cp, json_t *spec, struct cp_err *err)
{
	json_t *in = json_object_get(spec, "ingress");
	struct mf_sess_ingress probe = { 0 };
	const char *kind = json_string_value(json_object_get(spec, "kind"));
	bool pair = kind != NULL && strcmp(kind, "rtp") == 0;
	uint32_t p;

	if (!json_is_object(in) || json_object_get(in, "udp_port") != NULL)
		return 0;
	probe.port = (uint16_t)json_integer_value(json_object_get(in, "port"));
	if (mf_addr_parse(json_string_value(json_object_get(in, "addr")) ?
			  json_string_value(json_object_get(in, "addr")) : "", &probe.local) != 0)
		return 0;	/* the decoder names the problem */
	for (p = cp->cfg.port_min + (pair && (cp->cfg.port_min & 1)); p <= cp->cfg.port_max;
	     p += pair ? 2 : 1) {
		if (port_free(cp, &probe, (uint16_t)p, pair)) {
			json_object_set_new(in, "udp_port", json_integer(p));
			return 0;
		}
	}
	cp_err_set(err, "capacity", "ingress.udp_port", "no free port in %u-%u",
		   cp->cfg.port_min, cp->cfg.port_max);
	return -ENOSPC;
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
admit(struct cp *cp, const struct mf_sess_spec *add, const struct mf_sess_spec *old,
      struct cp_err *err)
{
	const struct cp_limits *l = &cp->cfg.limits;
	uint32_t max = l->max_sessions ? l->max_sessions : cp->dp_max_sessions;
	uint32_t outs = cp->nb_outputs + add->nb_outputs - (old ? old->nb_outputs : 0);
	uint64_t kbps = cp->kbps + kbps_of(cp, add) - (old ? kbps_of(cp, old) : 0);

	if (old == NULL && max != 0 && cp->nb_sessions >= max)
		cp_err_set(err, "capacity", NULL, "the node holds its maximum of %u sessions", max);
	else if (l->max_outputs != 0 && outs > l->max_outputs)
		cp_err_set(err, "capacity", "outputs", "%u outputs would exceed the node's %u",
			   outs, l->max_outputs);
	else if (l->max_kbps != 0 && kbps > l->max_kbps)
		cp_err_set(err, "capacity", "limits.max_kbps",
			   "%llu kbit/s would exceed the node's %llu", (unsigned long long)kbps,
			   (unsigned long long)l->max_kbps);
	else
		return 0;
	return -ENOSPC;
}

/* The dataplane took @p spec: journal it before anyone hears of it. */
static int
commit(struct cp *cp, struct cp_sess *s, const struct mf_sess_spec *spec, struct cp_err *err)
{
	if (cp_journal_put(cp->journal, spec) != 0) {
		cp_err_set(err, "internal", NULL, "the journal could not be written");
		return -EIO;
	}
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s == NULL)
			return -ENOMEM;
		s->next = cp->sessions;
		cp->sessions = s;
		cp->nb_sessions++;
	} else {
		cp->nb_outputs -= s->spec.nb_outputs;
		cp->kbps -= kbps_of(cp, &s->spec);
	}
	mf_sess_wipe_keys(&s->spec);
	s->spec = *spec;
	cp->nb_outputs += spec->nb_outputs;
	cp->kbps += kbps_of(cp, spec);
	return 0;
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

json_t *
cp_session_create(struct cp *cp, json_t *args, struct cp_err *err)
{
	static struct mf_sess_spec spec;
	struct mf_msg_sess_ref ref;
	json_t *copy, *out = NULL;

	if (cp->draining) {
		cp_err_set(err, "draining", NULL, "node %s is draining: no new sessions",
			   cp->cfg.node);
		return NULL;
	}
	if (!json_is_object(args)) {
		cp_err_set(err, "bad_args", "args", "session.create takes a session spec object");
		return NULL;
	}
	copy = json_deep_copy(args);
	if (allocate_port(cp, copy, err) == 0 && decode_spec(copy, &spec, err) == 0) {
		if (cp_sess_find(cp, spec.id) != NULL)
			cp_err_set(err, "exists", "id", "session \"%s\" exists", spec.id);
		else if (admit(cp, &spec, NULL, err) == 0 &&
			 cp_dp_call(cp, MF_MSG_SESSION_ADD, &spec, sizeof(spec), res, sizeof(res),
				    err) >= 0) {
			if (commit(cp, NULL, &spec, err) == 0) {
				out = created(cp, &spec);
			} else {
				memset(&ref, 0, sizeof(ref));
				memcpy(ref.id, spec.id, sizeof(ref.id));
				cp_dp_call(cp, MF_MSG_SESSION_DEL, &ref, sizeof(ref), res,
					   sizeof(res), err);
				cp_err_set(err, "internal", NULL, "the journal could not be written");
			}
		}
	}
	mf_sess_wipe_keys(&spec);
	json_decref(copy);
	return out;
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
	static struct mf_sess_spec spec;
	json_t *add = NULL, *rm = NULL, *pause = NULL, *resume = NULL, *out = NULL;
	json_t *srtp = NULL, *out_srtp = NULL;
	const char *id = NULL;
	int block = -1;
	struct cp_sess *s;

	if (args_unpack(args, err, "{s:s, s?o, s?o, s?o, s?o, s?b, s?o, s?o}", "id", &id,
			"add_outputs", &add, "remove_outputs", &rm, "pause", &pause, "resume",
			&resume, "block", &block, "srtp", &srtp, "output_srtp", &out_srtp) != 0)
		return NULL;
	s = cp_sess_find(cp, id);
	if (s == NULL) {
		cp_err_set(err, "not_found", "id", "no session \"%s\"", id);
		return NULL;
	}
	spec = s->spec;
	if ((add && !json_is_array(add)) || (rm && !json_is_array(rm)) ||
	    (pause && !json_is_array(pause)) || (resume && !json_is_array(resume)))
		cp_err_set(err, "wrong_type", NULL,
			   "add_outputs, remove_outputs, pause and resume are arrays");
	else if (remove_outputs(&spec, rm, err) == 0 && add_outputs(&spec, add, err) == 0 &&
		 set_paused(&spec, pause, true, "pause", err) == 0 &&
		 set_paused(&spec, resume, false, "resume", err) == 0 &&
		 rekey(&spec, srtp, out_srtp, err) == 0 &&
		 admit(cp, &spec, &s->spec, err) == 0) {
		if (block >= 0)
			spec.flags = block ? (uint8_t)(spec.flags | MF_SESS_F_BLOCKED) :
					     (uint8_t)(spec.flags & ~MF_SESS_F_BLOCKED);
		if (cp_dp_call(cp, MF_MSG_SESSION_REPLACE, &spec, sizeof(spec), res, sizeof(res),
			       err) >= 0 && commit(cp, s, &spec, err) == 0)
			out = json_pack("{s:s, s:i, s:b}", "session", spec.id, "outputs",
					spec.nb_outputs, "blocked",
					(spec.flags & MF_SESS_F_BLOCKED) != 0);
	}
	mf_sess_wipe_keys(&spec);
	return out;
}

/* ---- delete, get, list ---- */

static int
ref_of(json_t *args, struct mf_msg_sess_ref *ref, struct cp_err *err)
{
	const char *id = NULL;

	if (args_unpack(args, err, "{s:s}", "id", &id) != 0)
		return -EINVAL;
	if (strlen(id) >= sizeof(ref->id)) {
		cp_err_set(err, "not_found", "id", "no session \"%.60s...\"", id);
		return -ENOENT;
	}
	memset(ref, 0, sizeof(*ref));
	strcpy(ref->id, id);
	return 0;
}

json_t *
cp_session_delete(struct cp *cp, json_t *args, struct cp_err *err)
{
	struct mf_msg_sess_ref ref;

	if (ref_of(args, &ref, err) != 0 ||
	    cp_dp_call(cp, MF_MSG_SESSION_DEL, &ref, sizeof(ref), res, sizeof(res), err) < 0)
		return NULL;
	cp_sess_forget(cp, ref.id);
	return json_pack("{s:s}", "session", ref.id);
}

static json_t *
stats_json(struct cp *cp, const char *session)
{
	struct mf_stats_reader r;
	uint64_t sz;
	const void *mem = mf_shm_region(&cp->dp.shm, MF_SHM_REGION_STATS, &sz);

	if (mem == NULL || mf_stats_reader_attach(&r, mem, sz) != 0)
		return json_object();
	return mf_stats_to_json(&r, session);
}

json_t *
cp_session_get(struct cp *cp, json_t *args, struct cp_err *err)
{
	struct mf_msg_sess_ref ref;
	json_t *o, *st;

	if (ref_of(args, &ref, err) != 0 ||
	    cp_dp_call(cp, MF_MSG_SESSION_GET, &ref, sizeof(ref), res, sizeof(res), err) < 0)
		return NULL;
	o = mf_sess_info_to_json((struct mf_msg_sess_info *)res);
	st = stats_json(cp, ref.id);
	json_object_set(o, "stats", json_object_get(json_object_get(st, "sessions"), ref.id));
	json_decref(st);
	return o;
}

json_t *
cp_session_list(struct cp *cp, json_t *args, struct cp_err *err)
{
	json_int_t off = 0, lim = 100;
	struct mf_msg_list_req req;

	if (args_unpack(args, err, "{s?I, s?I}", "offset", &off, "limit", &lim) != 0)
		return NULL;
	if (off < 0 || off > UINT32_MAX || lim < 1 || lim > MF_LIST_MAX) {
		cp_err_set(err, "out_of_range", off < 0 || off > UINT32_MAX ? "offset" : "limit",
			   "offset >= 0, limit 1..%d", MF_LIST_MAX);
		return NULL;
	}
	req.offset = (uint32_t)off;
	req.limit = (uint32_t)lim;
	if (cp_dp_call(cp, MF_MSG_SESSION_LIST, &req, sizeof(req), res, sizeof(res), err) < 0)
		return NULL;
	return mf_list_to_json((struct mf_msg_list *)res, req.offset);
}

/* ---- node ---- */

json_t *
cp_node_info(struct cp *cp, json_t *args, struct cp_err *err)
{
	json_t *o;

	if (args_unpack(args, err, "{}") != 0 ||
	    cp_dp_call(cp, MF_MSG_NODE_INFO, NULL, 0, res, sizeof(res), err) < 0)
		return NULL;
	o = mf_node_info_to_json((struct mf_msg_node_info *)res);
	json_object_set_new(o, "node", json_string(cp->cfg.node));
	json_object_set_new(o, "draining", json_boolean(cp->draining));
	json_object_set_new(o, "limits", json_pack("{s:i, s:i, s:I}", "max_sessions",
		cp->cfg.limits.max_sessions ? cp->cfg.limits.max_sessions : cp->dp_max_sessions,
		"max_outputs", cp->cfg.limits.max_outputs, "max_kbps",
		(json_int_t)cp->cfg.limits.max_kbps));
	return o;
}

json_t *
cp_node_stats(struct cp *cp, json_t *args, struct cp_err *err)
{
	json_t *o;

	if (args_unpack(args, err, "{}") != 0)
		return NULL;
	if (!cp->dp_up) {
		cp_err_set(err, "dataplane_down", NULL, "the dataplane is not running");
		return NULL;
	}
	o = stats_json(cp, NULL);
	json_object_del(o, "sessions");		/* session.get has each; a node may have 1M */
	return o;
}

json_t *
cp_node_drain(struct cp *cp, json_t *args, struct cp_err *err)
{
	int drain = 1;

	if (args_unpack(args, err, "{s?b}", "drain", &drain) != 0)
		return NULL;
	cp->draining = drain;
	cp_status_publish(cp, true);
	return json_pack("{s:b, s:i}", "draining", drain, "sessions", cp->nb_sessions);
}
