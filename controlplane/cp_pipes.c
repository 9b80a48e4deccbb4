/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pipes: a session's media sent from this node (the origin) to another (the edge), whose
 * viewers then take it from there. Built of what a session already is, over the broker
 * the nodes share, with nothing but MQTT between them:
 *
 *   origin                                         edge
 *   session.pipe {id, to} ---- pipe.open --------> a session of the same id, its ingress on
 *                                                  the edge's port that shares a subnet
 *                                                  with one of the origin's, its source
 *                                                  fixed to the origin's output
 *   an output "pipe:<hash of edge>" <-- answer --  {port, addr, udp_port, the origin's
 *   toward it, then the reply                      address it matched}
 *
 * The edge's viewers are outputs of its session. Their key-frame requests go to its source,
 * the origin's output; the origin reads them as feedback of that output and asks its own
 * source, at most once per limits.keyframe_interval_ms however many edges ask. Their NACKs
 * for packets the edge never had (lost on the pipe) go the same way, to the origin's
 * output, which keeps what it sent (nack on) and resends it once per rtt_ms. With
 * "srtp": true the pipe is AEAD_AES_256_GCM under a key minted here, sent only in pipe.open
 * (over the broker: TLS in production); the edge protects its RTCP with it too.
 *
 * session.pipe is answered when the edge has answered (cp_cmd_answer), or refused after
 * reply_timeout_ms. Open pipes are kept in pipes.json beside the journal, on both nodes; a
 * session that goes closes its pipes (the edge's session with it).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cp.h"
#include "mf/mf_proto.h"
#include "mf/mf_time.h"

#define PIPES_FILE	"pipes.json"
#define PIPE_SUITE	MF_SRTP_AEAD_AES_256_GCM
#define PIPE_KEY_LEN	(32 + 12)	/* AES-256 key and GCM salt */
#define PIPE_KEY_WAIT_MAX_MS 300000	/* an unanswered key goes again, waits doubling to this */

static const char *
suite_name(uint8_t suite)
{
	return suite == PIPE_SUITE ? "AEAD_AES_256_GCM" : NULL;
}

/* ---- the table ---- */

static struct cp_pipe *
find(const struct cp *cp, const char *session, const char *node, bool in)
{
	uint32_t i;

	for (i = 0; i < cp->pipes.nb; i++) {
		struct cp_pipe *p = &cp->pipes.p[i];

		if (p->in == in && strcmp(p->session, session) == 0 &&
		    (node == NULL || strcmp(p->node, node) == 0))
			return p;
	}
	return NULL;
}

/* The session @p p pipes: the one it was made for (the origin's, or the edge's made by
 * pipe.open), not another created since under its name. */
static struct cp_sess *
piped(const struct cp *cp, const struct cp_pipe *p)
{
	struct cp_sess *s = cp_reg_find(&cp->reg, p->session);

	return s != NULL && s->seq == p->sess_seq ? s : NULL;
}

static struct cp_pipe *
add(struct cp *cp, const char *session, const char *node, bool in)
{
	struct cp_pipe *p;

	if (cp->pipes.nb == cp->pipes.cap) {
		uint32_t cap = cp->pipes.cap ? cp->pipes.cap * 2 : 16;

		p = realloc(cp->pipes.p, cap * sizeof(*p));
		if (p == NULL)
			return NULL;
		cp->pipes.p = p;
		cp->pipes.cap = cap;
	}
	p = &cp->pipes.p[cp->pipes.nb++];
	memset(p, 0, sizeof(*p));
	snprintf(p->session, sizeof(p->session), "%s", session);
	snprintf(p->node, sizeof(p->node), "%s", node);
	p->in = in;
	return p;
}

static void
drop(struct cp *cp, struct cp_pipe *p)
{
	free(p->later);
	*p = cp->pipes.p[--cp->pipes.nb];
	explicit_bzero(&cp->pipes.p[cp->pipes.nb], sizeof(*p));	/* its key, if any */
}

static void
save(struct cp *cp)
{
	json_t *a = json_array();
	uint32_t i;

	for (i = 0; i < cp->pipes.nb; i++) {
		const struct cp_pipe *p = &cp->pipes.p[i];

		if (p->state != CP_PIPE_OPEN)
			continue;
		json_t *e = p->in ?
			json_pack("{s:s, s:s}", "session", p->session, "from", p->node) :
			json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i}", "session", p->session,
				  "to", p->node, "output", p->out_id, "addr", p->addr, "udp_port",
				  p->udp_port, "port", p->port, "kind", p->kind);

		json_object_set_new(e, "srtp", json_integer(p->srtp));
		json_object_set_new(e, "epoch", json_integer(p->epoch));
		if (p->key_wait_ms != 0)
			json_object_set_new(e, "key_pending", json_true());
		json_array_append_new(a, e);
	}
	cp_journal_save_json(cp->journal, PIPES_FILE, json_pack("{s:o}", "pipes", a));
}

/* Sessions are numbered again at each load: a pipe read from the file is bound to the
 * session of its name now, an out pipe only if that session has its output (else it was
 * made again before the file was written, and the tick closes the pipe). */
static void
loaded_session(struct cp *cp, struct cp_pipe *p)
{
	struct cp_sess *s = cp_reg_find(&cp->reg, p->session);
	unsigned int i;

	if (s == NULL)
		return;
	if (p->in) {
		p->sess_seq = s->seq;
		return;
	}
	if (cp_store_spec(cp, s, &cp->spec) != 0)
		return;
	for (i = 0; i < cp->spec.nb_outputs; i++)
		if (strcmp(cp->spec.outputs[i].id, p->out_id) == 0)
			p->sess_seq = s->seq;
	mf_sess_wipe_keys(&cp->spec);
}

int
cp_pipes_load(struct cp *cp)
{
	json_t *root, *e;
	size_t i;
	int rc = cp_journal_load_json(cp->journal, PIPES_FILE, &root);

	if (rc == -EBADMSG)
		MF_LOG(ERR, main, "journal: not starting (the pipes would be forgotten); repair or "
		       "remove %s", PIPES_FILE);
	if (rc != 0 || root == NULL)
		return rc;
	json_array_foreach(json_object_get(root, "pipes"), i, e) {
		const char *sid = NULL, *from = NULL, *to = NULL, *out = "", *addr = "";
		json_int_t udp = 0, port = 0, srtp = 0, kind = 0, epoch = 0;
		int key_pending = 0;
		struct cp_pipe *p;

		if (json_unpack(e, "{s:s, s?s, s?s, s?s, s?s, s?I, s?I, s?I, s?I, s?I, s?b}",
				"session", &sid, "from", &from, "to", &to, "output", &out, "addr",
				&addr, "udp_port", &udp, "port", &port, "srtp", &srtp, "kind", &kind,
				"epoch", &epoch, "key_pending", &key_pending) != 0 ||
		    (from == NULL) == (to == NULL) ||
		    (p = add(cp, sid, from ? from : to, from != NULL)) == NULL) {
			MF_LOG(WARNING, main, "%s: entry %zu unreadable: skipped", PIPES_FILE, i);
			continue;
		}
		p->state = CP_PIPE_OPEN;
		snprintf(p->out_id, sizeof(p->out_id), "%s", out);
		loaded_session(cp, p);
		snprintf(p->addr, sizeof(p->addr), "%s", addr);
		p->udp_port = (uint16_t)udp;
		p->port = (uint16_t)port;
		p->srtp = (uint8_t)srtp;
		p->kind = (uint8_t)kind;
		p->epoch = (uint32_t)epoch;
		/* Our key was not answered before the restart: it goes again when due. */
		if (key_pending) {
			p->key_wait_ms = cp->cfg.reply_timeout_ms;
			p->key_due_ms = mf_mono_ms() + p->key_wait_ms;
		}
	}
	json_decref(root);
	return 0;
}

void
cp_pipes_fini(struct cp *cp)
{
	while (cp->pipes.nb > 0) {
		struct cp_pipe *p = &cp->pipes.p[cp->pipes.nb - 1];

		/* An opening pipe's request goes unanswered: its sender times out. */
		if (p->later != NULL)
			cp_cmd_answer_free(p->later);
		drop(cp, p);
	}
	free(cp->pipes.p);
	cp->pipes.p = NULL;
	cp->pipes.cap = 0;
}

/* ---- talking to the other node ---- */

/* Zero every "key" string in @p o, @p depth levels down: freed, a pipe's key leaves nothing
 * in the heap. */
static void
wipe_keys(json_t *o, int depth)
{
	const char *k;
	json_t *v;

	if (depth <= 0 || !json_is_object(o))
		return;
	json_object_foreach(o, k, v) {
		if (strcmp(k, "key") == 0 && json_is_string(v))
			explicit_bzero((char *)json_string_value(v), json_string_length(v));
		else
			wipe_keys(v, depth - 1);
	}
}

/* A command to @p node: the id says ours ("pipe-<token>"); its answer comes on our pipe
 * reply topic. @p args is consumed. */
static void
send_to(struct cp *cp, const char *node, const char *cmd, const char *token, json_t *args)
{
	char topic[CP_TOPIC_MAX], reply[CP_TOPIC_MAX], id[32], *text, *env = NULL;
	json_t *o;

	snprintf(topic, sizeof(topic), "%s/%s/cmd", cp->cfg.prefix, node);
	snprintf(reply, sizeof(reply), "%s/%s/pipe/reply", cp->cfg.prefix, cp->cfg.node);
	snprintf(id, sizeof(id), "pipe-%s", token);
	o = json_pack("{s:i, s:s, s:s, s:s, s:o}", "v", 1, "id", id, "cmd", cmd, "reply_to",
		      reply, "args", args);
	text = json_dumps(o, JSON_COMPACT);
	/* Signed when this node has a tenant for it: a node that requires signed commands
	 * takes only those (the tenant must be an admin there). */
	if (text != NULL && cp_auth_sign(cp, topic, text, &env) == -EIO)
		MF_LOG(ERR, cmd, "%s to node %s: not signed (no randomness or MAC)", cmd, node);
	if (text == NULL ||
	    cp_mqtt_publish(cp->mqtt, topic, env ? env : text, 1, false, NULL, 0) != 0)
		MF_LOG(WARNING, cmd, "%s to node %s not sent", cmd, node);
	if (text != NULL)
		explicit_bzero(text, strlen(text));	/* a pipe.open carries its key */
	if (env != NULL)
		explicit_bzero(env, strlen(env));
	free(text);
	free(env);
	wipe_keys(o, 4);
	json_decref(o);
}


static void
event(struct cp *cp, const struct cp_pipe *p, const char *name, const char *reason)
{
	json_t *ev = json_pack("{s:s, s:s, s:s}", "event", name, "session", p->session,
			       p->in ? "from" : "to", p->node);

	if (reason != NULL)
		json_object_set_new(ev, "reason", json_string(reason));
	cp_event_publish(cp, ev);
}

static int
random_hex(char *out, size_t n, struct cp_err *err)
{
	uint8_t b[16];
	size_t i;

	if (n > sizeof(b) || RAND_bytes(b, (int)n) != 1) {
		cp_err_set(err, "internal", NULL, "no random bytes");
		return -EIO;
	}
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

/* Its id fresh each time: the edge answers a repeated id with its first reply, undone. */
/* The session.pipe request waiting on @p p gets its reply. */
static void
answer(struct cp *cp, struct cp_pipe *p, json_t *result, const struct cp_err *err)
{
	if (p->later == NULL) {
		json_decref(result);
		return;
	}
	cp_cmd_answer(cp, p->later, result, err);
	free(p->later);
	p->later = NULL;
}

/* @p cmd with @p args (consumed) to @p node, under a fresh id: its answer awaited by none. */
static void
send_once(struct cp *cp, const char *node, const char *cmd, json_t *args)
{
	struct cp_err err;
	char token[17];

	if (random_hex(token, 8, &err) != 0)
		json_decref(args);
	else
		send_to(cp, node, cmd, token, args);
}

static void
send_close(struct cp *cp, const struct cp_pipe *p)
{
	send_once(cp, p->node, "pipe.close", json_pack("{s:s, s:s}", "id", p->session, "origin",
						       cp->cfg.node));
}
/* The edge asks the origin to stop piping @p p here. */
static void
send_unpipe(struct cp *cp, const struct cp_pipe *p)
{
	send_once(cp, p->node, "session.unpipe", json_pack("{s:s, s:s}", "id", p->session, "to",
							   cp->cfg.node));
}
/* ---- the origin: session.pipe, session.unpipe ---- */

/* Whether port @p pi has a gateway of @p a's family. */
static bool
routed(const struct mf_msg_port_info *pi, const struct mf_addr *a)
{
	return (pi->gw & (a->family == 4 ? MF_PORT_GW4 : MF_PORT_GW6)) != 0;
}

/* The addresses of this node's ports (or of port @p only, if >= 0): where the edge may
 * find one in a subnet of its own, or reach through its gateway ("gateway": the port has
 * one of that family, so the origin can answer there too). */
static json_t *
our_addrs(struct cp *cp, json_int_t only, struct cp_err *err)
{
	const struct mf_msg_node_info *ni = (const struct mf_msg_node_info *)cp->res;
	json_t *a;
	char s[64];
	unsigned int i, k;

	if (cp_dp_call(cp, MF_MSG_NODE_INFO, NULL, 0, cp->res, sizeof(cp->res), err) < 0)
		return NULL;
	a = json_array();
	for (i = 0; i < ni->nb_ports && i < MF_MAX_PORTS; i++) {
		const struct mf_msg_port_info *pi = &ni->ports[i];

		for (k = 0; (only < 0 || pi->port == only) && k < pi->nb_addrs &&
		     k < MF_NODE_MAX_ADDRS; k++) {
			mf_addr_str(&pi->addrs[k], s, sizeof(s));
			json_array_append_new(a, json_pack("{s:i, s:s, s:b}", "port", pi->port,
							   "addr", s, "gateway",
							   routed(pi, &pi->addrs[k])));
		}
	}
	if (json_array_size(a) > 0)
		return a;
	json_decref(a);
	cp_err_set(err, "unavailable", only >= 0 ? "port" : NULL, "no address on %s",
		   only >= 0 ? "that port" : "any port of this node");
	return NULL;
}

/* What the edge's ingress takes from ours, @p in: how to read the video and ask for key
 * frames; nothing else (an announcement's may say more: it is not believed). */
static json_t *
ingress_keep(const json_t *in)
{
	static const char *const keep[] = { "codecs", "clock_rates", "keyframe_request",
					    "gop_cache" };
	json_t *t = json_object();
	size_t i;

	for (i = 0; t != NULL && i < sizeof(keep) / sizeof(keep[0]); i++)
		if (json_object_get(in, keep[i]) != NULL)
			json_object_set(t, keep[i], json_object_get(in, keep[i]));
	return t;
}

static json_t *
ingress_template(const struct mf_sess_spec *spec)
{
	json_t *full = mf_sess_to_json(spec, 0);
	json_t *t = ingress_keep(json_object_get(full, "ingress"));

	json_decref(full);
	return t;
}

/* A pipe's SRTP, as another node sends it: none, or the pipe's suite. */
static bool
pipe_srtp_ok(const json_t *srtp)
{
	const char *suite = json_string_value(json_object_get(srtp, "suite"));

	return srtp == NULL || (suite != NULL && strcmp(suite, suite_name(PIPE_SUITE)) == 0);
}

static json_t *
srtp_json(const uint8_t *key)
{
	char b64[128];

	json_t *o;

	mf_base64_encode(key, PIPE_KEY_LEN, b64, sizeof(b64));
	o = json_pack("{s:s, s:s}", "suite", suite_name(PIPE_SUITE), "key", b64);
	explicit_bzero(b64, sizeof(b64));
	return o;
}

/* An edge that pulls (cp_pipe_pull) made its ingress first, under a key of its own: with
 * SRTP, the key is in @p edge. */
static int
edge_key(const json_t *edge, int srtp, struct cp_pipe *p, struct cp_err *err)
{
	const char *b64 = json_string_value(json_object_get(edge, "key"));

	if (edge == NULL || !srtp)
		return 0;
	if (b64 == NULL || mf_base64_decode(b64, strlen(b64), p->key, sizeof(p->key)) !=
	    PIPE_KEY_LEN) {
		cp_err_set(err, "bad_value", "edge", "with srtp, the edge's key: %d bytes in "
			   "base64", PIPE_KEY_LEN);
		return -EINVAL;
	}
	return 0;
}

static int unpipe_out(struct cp *cp, struct cp_pipe *p, const char *reason, bool tell,
		      struct cp_err *err);

/* Check and build what session.pipe sends; @p p is filled but not yet in the table. */
static json_t *
open_args(struct cp *cp, json_t *args, struct cp_pipe *p, struct cp_err *err)
{
	const char *id = NULL, *to = NULL;
	json_int_t port = -1;
	int srtp = 0;
	struct mf_sess_spec *spec = &cp->spec;
	json_t *from, *o, *edge = NULL;
	struct cp_pipe *old;
	struct cp_sess *s;
	unsigned int i;

	if (cp_args_unpack(args, err, "{s:s, s:s, s?b, s?I, s?o}", "id", &id, "to", &to, "srtp",
			   &srtp, "port", &port, "edge", &edge) != 0)
		return NULL;
	s = cp_reg_find(&cp->reg, id);
	if (s == NULL || s->deleting || !cp_sees(cp, id)) {
		cp_err_set(err, "not_found", "id", "no session \"%.60s\"", id);
		return NULL;
	}
	/* An edge's own ingress and key: what a node of the cluster (an admin) says only, or a
	 * tenant could send its session's media, under a key of its choosing, anywhere. */
	if (edge != NULL && !cp_auth_admin(cp, cp->caller)) {
		cp_err_set(err, "forbidden", "edge", "edge is for the cluster's nodes");
		return NULL;
	}
	if (edge_key(edge, srtp, p, err) != 0)
		return NULL;
	if (to[0] == '\0' || strlen(to) >= CP_NODE_MAX || strpbrk(to, "/+#") != NULL ||
	    strcmp(to, cp->cfg.node) == 0) {
		cp_err_set(err, "bad_value", "to", "another node's name");
		return NULL;
	}
	/* The edge pulls again what is piped to it: it has forgotten that pipe (its unpipe
	 * lost, or it restarted), so the old output goes, untold. */
	old = find(cp, id, to, false);
	if (old != NULL && edge != NULL && old->state == CP_PIPE_OPEN &&
	    unpipe_out(cp, old, "replaced", false, err) != 0)
		return NULL;
	s = cp_reg_find(&cp->reg, id);
	if (find(cp, id, to, false) != NULL) {
		cp_err_set(err, "exists", "to", "session \"%.60s\" is already piped to %s", id, to);
		return NULL;
	}
	if (cp_store_spec(cp, s, spec) != 0) {
		cp_err_set(err, "internal", NULL, "the journal's record of \"%.60s\" is unreadable",
			   id);
		return NULL;
	}
	snprintf(p->session, sizeof(p->session), "%s", id);
	p->sess_seq = s->seq;
	snprintf(p->node, sizeof(p->node), "%s", to);
	snprintf(p->out_id, sizeof(p->out_id), "pipe:%08x", cp_id_hash(to));
	for (i = 0; i < spec->nb_outputs; i++)
		if (strcmp(spec->outputs[i].id, p->out_id) == 0) {
			cp_err_set(err, "exists", "to", "session \"%.60s\" has an output %s", id,
				   p->out_id);
			goto fail;
		}
	if (spec->nb_outputs >= MF_SESS_MAX_OUTPUTS) {
		cp_err_set(err, "capacity", "id", "session \"%.60s\" has %u outputs already", id,
			   spec->nb_outputs);
		goto fail;
	}
	if (srtp && edge == NULL && RAND_bytes(p->key, PIPE_KEY_LEN) != 1) {
		cp_err_set(err, "internal", NULL, "no random bytes");
		goto fail;
	}
	if (random_hex(p->token, 8, err) != 0 || (from = our_addrs(cp, port, err)) == NULL)
		goto fail;
	p->srtp = srtp ? PIPE_SUITE : MF_SRTP_NONE;
	p->kind = spec->kind;
	o = json_pack("{s:s, s:s, s:s, s:o, s:i, s:o}", "id", id, "origin", cp->cfg.node, "kind",
		      mf_sess_kind_str(spec->kind), "from", from, "src_port",
		      spec->ingress.udp_port, "ingress", ingress_template(spec));
	if (o != NULL && srtp)
		json_object_set_new(json_object_get(o, "ingress"), "srtp", srtp_json(p->key));
	if (o == NULL)
		cp_err_set(err, "internal", NULL, "no memory for pipe.open");
	mf_sess_wipe_keys(spec);
	return o;
fail:
	mf_sess_wipe_keys(spec);
	return NULL;
}

static json_t *opened_json(const struct cp_pipe *p);
static int pipe_output(struct cp *cp, struct cp_pipe *p, json_t *res, struct cp_err *err);

/* The edge pulls: its ingress is there already, the output goes to it now. */
static json_t *
pipe_to_edge(struct cp *cp, struct cp_pipe *p, json_t *edge, struct cp_err *err)
{
	json_t *o;

	if (pipe_output(cp, p, edge, err) != 0) {
		drop(cp, p);
		return NULL;
	}
	p->state = CP_PIPE_OPEN;
	save(cp);
	event(cp, p, "pipe.opened", NULL);
	o = opened_json(p);
	MF_LOG(NOTICE, cmd, "session %s piped to node %s (%s:%u), pulled", p->session, p->node,
	       p->addr, p->udp_port);
	return o;
}

json_t *
cp_session_pipe(struct cp *cp, json_t *args, struct cp_err *err)
{
	struct cp_pipe tmp = { 0 }, *p;
	json_t *req = open_args(cp, args, &tmp, err), *edge = json_object_get(args, "edge");

	if (req == NULL)
		goto out;
	p = add(cp, tmp.session, tmp.node, false);
	if (p == NULL) {
		json_decref(req);
		cp_err_set(err, "internal", NULL, "no memory for a pipe");
		goto out;
	}
	memcpy(p, &tmp, sizeof(*p));
	if (edge != NULL) {
		json_decref(req);
		req = pipe_to_edge(cp, p, edge, err);
		explicit_bzero(&tmp, sizeof(tmp));
		return req;
	}
	/* Apart from the entry, which moves as the table changes; filled when the batch
	 * answers what it can. */
	p->later = calloc(1, sizeof(*p->later));
	if (p->later == NULL) {
		drop(cp, p);
		json_decref(req);
		cp_err_set(err, "internal", NULL, "no memory for a pipe");
		goto out;
	}
	p->state = CP_PIPE_OPENING;
	p->deadline_ms = mf_mono_ms() + cp->cfg.reply_timeout_ms;
	send_to(cp, p->node, "pipe.open", p->token, req);
	cp->later = p->later;		/* answered by cp_pipes_reply() or the tick */
	MF_LOG(INFO, cmd, "session %s: asking node %s for a pipe", p->session, p->node);
out:
	explicit_bzero(&tmp, sizeof(tmp));
	return NULL;
}

/* The origin's output toward the edge, under p->key when the pipe has SRTP (its receiver,
 * the edge, protects its RTCP with the same key). */
static json_t *
output_json(const struct cp_pipe *p)
{
	json_t *out = json_pack("{s:s, s:i, s:s, s:i}", "id", p->out_id, "port", p->port,
				"addr", p->addr, "udp_port", p->udp_port);

	if (out != NULL && p->srtp != MF_SRTP_NONE) {
		json_object_set_new(out, "srtp", srtp_json(p->key));
		json_object_set_new(out, "receiver_srtp", srtp_json(p->key));
	}
	/* The edge asks for what its viewers miss and it never had (lost on the pipe). */
	if (out != NULL && mf_sess_kind_is_rtp(p->kind))
		json_object_set_new(out, "nack", json_object());
	return out;
}

/* The edge agreed (@p res): the output toward it, then the reply. @return 0 or a code. */
static int
pipe_output(struct cp *cp, struct cp_pipe *p, json_t *res, struct cp_err *err)
{
	const char *addr = NULL;
	json_int_t udp = 0, port = 0;
	json_t *upd, *r;

	if (piped(cp, p) == NULL) {
		cp_err_set(err, "not_found", "id", "session \"%.60s\" was deleted while its pipe "
			   "opened", p->session);
		return -ENOENT;
	}
	if (json_unpack(res, "{s:s, s:I, s:I}", "addr", &addr, "udp_port", &udp,
			"origin_port", &port) != 0 || udp <= 0 || udp > 65535 || port < 0 ||
	    port > 65535) {
		cp_err_set(err, "bad_reply", NULL, "node %s answered pipe.open without addr, "
			   "udp_port and origin_port", p->node);
		return -EPROTO;
	}
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	p->udp_port = (uint16_t)udp;
	p->port = (uint16_t)port;
	upd = json_pack("{s:s, s:[o]}", "id", p->session, "add_outputs", output_json(p));
	if (p->later != NULL)
		cp->caller = p->later->tenant;
	r = cp_session_update(cp, upd, err);
	json_decref(upd);
	explicit_bzero(p->key, sizeof(p->key));
	if (r == NULL)
		return -EINVAL;
	json_decref(r);
	return 0;
}

static json_t *
opened_json(const struct cp_pipe *p)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i}", "session", p->session, "to", p->node,
			      "output", p->out_id, "addr", p->addr, "udp_port", p->udp_port);

	json_object_set_new(o, "srtp", p->srtp ? json_string(suite_name(p->srtp)) : json_null());
	return o;
}

static void
opened(struct cp *cp, struct cp_pipe *p, json_t *res)
{
	struct cp_err err = { 0 };
	json_t *o;

	if (pipe_output(cp, p, res, &err) != 0) {
		send_close(cp, p);
		answer(cp, p, NULL, &err);
		drop(cp, p);
		return;
	}
	p->state = CP_PIPE_OPEN;
	save(cp);
	event(cp, p, "pipe.opened", NULL);
	o = opened_json(p);
	answer(cp, p, o, NULL);
	MF_LOG(NOTICE, cmd, "session %s piped to node %s (%s:%u)", p->session, p->node, p->addr,
	       p->udp_port);
}

/* Edge pull: a pulled session ends here, @p reason said in pipe.closed. */
static void
unpull_here(struct cp *cp, struct cp_pipe *p, const char *reason)
{
	struct cp_err err = { 0 };

	if (piped(cp, p) != NULL && cp_delete_now(cp, p->session, &err) != 0)
		MF_LOG(ERR, cmd, "session %s pulled from %s: %s", p->session, p->node,
		       err.message);
	event(cp, p, "pipe.closed", reason);
	drop(cp, p);
	save(cp);
}

/* Edge pull: the origin's answer to our session.pipe (@p root). */
static void
pulled(struct cp *cp, struct cp_pipe *p, bool ok, json_t *root)
{
	const char *why = json_string_value(json_object_get(json_object_get(root, "error"),
							    "message"));

	if (!ok) {
		MF_LOG(WARNING, cmd, "session %s: node %s did not pipe it: %.150s", p->session,
		       p->node, why != NULL ? why : "an unreadable answer");
		unpull_here(cp, p, "refused");
		return;
	}
	p->state = CP_PIPE_OPEN;
	save(cp);
	event(cp, p, "pipe.opened", NULL);
	MF_LOG(NOTICE, cmd, "session %s pulled from node %s", p->session, p->node);
}

/* Re-keying, below with the keys. */
static void key_answered(struct cp *cp, struct cp_pipe *p, json_t *root);
static void resend_key(struct cp *cp, struct cp_pipe *p);

void
cp_pipes_reply(struct cp *cp, const struct cp_msg *msg)
{
	json_t *root = json_loadb(msg->payload, msg->len, 0, NULL), *ok;
	const char *id = json_string_value(json_object_get(root, "id")), *code, *why;
	struct cp_pipe *p = NULL;
	struct cp_err err = { 0 };
	uint32_t i;

	for (i = 0; id != NULL && strncmp(id, "pipe-", 5) == 0 && i < cp->pipes.nb; i++) {
		struct cp_pipe *q = &cp->pipes.p[i];

		if (q->state == CP_PIPE_OPEN && q->key_wait_ms != 0 &&
		    strcmp(q->key_token, id + 5) == 0) {
			key_answered(cp, q, root);
			goto out;
		}
		if (q->state == CP_PIPE_OPENING && strcmp(q->token, id + 5) == 0)
			p = q;
	}
	if (p == NULL)
		goto out;	/* a pipe.close's answer, or too late: nothing waits for it */
	ok = json_object_get(root, "ok");
	if (p->in) {
		pulled(cp, p, json_is_true(ok), root);
		goto out;
	}
	if (json_is_true(ok)) {
		opened(cp, p, json_object_get(root, "result"));
		goto out;
	}
	code = json_string_value(json_object_get(json_object_get(root, "error"), "code"));
	why = json_string_value(json_object_get(json_object_get(root, "error"), "message"));
	cp_err_set(&err, code != NULL && strlen(code) < sizeof(err.code) ? code : "bad_reply",
		   "to", "node %s: %.150s", p->node, why != NULL ? why : "an unreadable answer");
	answer(cp, p, NULL, &err);
	drop(cp, p);
out:
	json_decref(root);
}

void
cp_pipes_tick(struct cp *cp, uint64_t now_ms)
{
	struct cp_err err = { 0 };
	bool changed = false;
	uint32_t i = 0;

	while (i < cp->pipes.nb) {
		struct cp_pipe *p = &cp->pipes.p[i];

		if (p->state == CP_PIPE_OPENING && p->in && now_ms >= p->deadline_ms) {
			send_unpipe(cp, p);	/* in case it answers after all */
			unpull_here(cp, p, "timeout");
			continue;
		} else if (p->state == CP_PIPE_OPENING && now_ms >= p->deadline_ms) {
			cp_err_set(&err, "timeout", "to", "node %s did not answer within %u ms",
				   p->node, cp->cfg.reply_timeout_ms);
			send_close(cp, p);	/* in case it answers after all */
			answer(cp, p, NULL, &err);
		} else if (p->state == CP_PIPE_OPEN && piped(cp, p) == NULL) {
			/* The session gone on either side: the other stops too (an edge's
			 * deleted by hand would be sent to until the origin's ended). */
			if (p->in)
				send_unpipe(cp, p);
			else
				send_close(cp, p);
			event(cp, p, "pipe.closed", "session_gone");
			changed = true;
		} else if (p->state == CP_PIPE_OPEN && p->key_wait_ms != 0 &&
			   now_ms >= p->key_due_ms) {
			resend_key(cp, p);
			i++;
			continue;
		} else {
			i++;
			continue;
		}
		drop(cp, p);
	}
	if (changed)
		save(cp);
}

/* The output toward @p p's edge removed and the pipe dropped, @p reason in pipe.closed; the
 * edge told when @p tell. @return 0, or -1 with @p err set (the pipe kept). */
static int
unpipe_out(struct cp *cp, struct cp_pipe *p, const char *reason, bool tell,
	   struct cp_err *err)
{
	json_t *upd = json_pack("{s:s, s:[s]}", "id", p->session, "remove_outputs", p->out_id);
	json_t *r = cp_session_update(cp, upd, err);

	json_decref(upd);
	/* An output someone removed already leaves nothing to undo: the pipe goes anyway. */
	if (r == NULL && strcmp(err->code, "not_found") != 0)
		return -1;
	json_decref(r);
	if (tell)
		send_close(cp, p);
	event(cp, p, "pipe.closed", reason);
	drop(cp, p);
	save(cp);
	return 0;
}

json_t *
cp_session_unpipe(struct cp *cp, json_t *args, struct cp_err *err)
{
	const char *id = NULL, *to = NULL;
	struct cp_pipe *p;
	json_t *r;

	if (cp_args_unpack(args, err, "{s:s, s:s}", "id", &id, "to", &to) != 0)
		return NULL;
	p = find(cp, id, to, false);
	if (p == NULL || !cp_sees(cp, id)) {
		cp_err_set(err, "not_found", "to", "session \"%.60s\" is not piped to %.60s", id,
			   to);
		return NULL;
	}
	if (p->state != CP_PIPE_OPEN) {
		cp_err_set(err, "busy", "to", "the pipe to %s is still opening", p->node);
		return NULL;
	}
	r = json_pack("{s:s, s:s, s:b}", "session", p->session, "to", p->node, "closed", 1);
	if (unpipe_out(cp, p, "unpipe", true, err) != 0) {
		json_decref(r);
		return NULL;
	}
	return r;
}

/* ---- the edge: pipe.open, pipe.close ---- */

static bool
same_subnet(const struct mf_addr *a, const struct mf_addr *b, unsigned int plen)
{
	unsigned int n = plen / 8, r = plen % 8;

	if (a->family != b->family || plen > (a->family == 4 ? 32u : 128u))
		return false;
	if (memcmp(a->a, b->a, n) != 0)
		return false;
	return r == 0 || ((a->a[n] ^ b->a[n]) & (0xff << (8 - r))) == 0;
}

/* Our port and address for origin address @p o: one in its subnet, or, if @p via_gw, one
 * whose gateway reaches it. @return whether there is one (*@p pi, *@p k). */
static bool
find_way(const struct mf_msg_node_info *ni, const struct mf_addr *o, bool via_gw,
	 const struct mf_msg_port_info **pi, unsigned int *k)
{
	unsigned int i;

	for (i = 0; i < ni->nb_ports && i < MF_MAX_PORTS; i++) {
		*pi = &ni->ports[i];
		for (*k = 0; *k < (*pi)->nb_addrs && *k < MF_NODE_MAX_ADDRS; (*k)++) {
			const struct mf_addr *a = &(*pi)->addrs[*k];

			if (via_gw ? a->family == o->family && routed(*pi, a) :
				     same_subnet(a, o, (*pi)->prefix[*k]))
				return true;
		}
	}
	return false;
}

/* Our port and address toward one of the origin's addresses (@p from), and that address
 * and its port: a shared subnet first, else through our gateway to an origin address whose
 * port has a gateway of its own (so the origin's output and our RTCP can be routed back).
 * @return 0 or -ENETUNREACH with @p err set. */
static int
route(struct cp *cp, json_t *from, json_t *in, const char **origin_addr, json_int_t *oport,
      struct cp_err *err)
{
	const struct mf_msg_node_info *ni = (const struct mf_msg_node_info *)cp->res;
	const struct mf_msg_port_info *pi;
	struct mf_addr o;
	unsigned int k, pass;
	char s[64];
	size_t j;
	json_t *e;

	if (cp_dp_call(cp, MF_MSG_NODE_INFO, NULL, 0, cp->res, sizeof(cp->res), err) < 0)
		return -EIO;
	for (pass = 0; pass < 2; pass++)
		json_array_foreach(from, j, e) {
			const char *a = json_string_value(json_object_get(e, "addr"));

			if (a == NULL || mf_addr_parse(a, &o) != 0 ||
			    (pass == 1 && !json_is_true(json_object_get(e, "gateway"))) ||
			    !find_way(ni, &o, pass == 1, &pi, &k))
				continue;
			mf_addr_str(&pi->addrs[k], s, sizeof(s));
			json_object_set_new(in, "port", json_integer(pi->port));
			json_object_set_new(in, "addr", json_string(s));
			*origin_addr = a;
			*oport = json_integer_value(json_object_get(e, "port"));
			return 0;
		}
	cp_err_set(err, "no_route", "from", "no port of node %s shares a subnet with the "
		   "origin's addresses or has a gateway toward one the origin routes from",
		   cp->cfg.node);
	return -ENETUNREACH;
}

static json_t *
opened_result(const struct cp_sess *s, const char *origin_addr, json_int_t oport)
{
	char a[64];

	mf_addr_str(&s->local, a, sizeof(a));
	return json_pack("{s:s, s:i, s:s, s:i, s:s, s:I}", "id", s->id, "port", s->port,
			 "addr", a, "udp_port", s->udp_port, "origin_addr", origin_addr,
			 "origin_port", oport);
}

/* pipe.open's work: the session made here and its pipe (*@p pp) entered, open.
 * @return the answer, or NULL with @p err set. */
static json_t *
open_here(struct cp *cp, json_t *args, struct cp_pipe **pp, struct cp_err *err)
{
	const char *id = NULL, *origin = NULL, *kind = NULL, *oaddr = NULL;
	json_t *from = NULL, *in = NULL, *spec = NULL, *res = NULL;
	json_int_t src_port = 0, oport = 0;
	struct cp_sess *s;
	struct cp_pipe *p;

	if (cp_args_unpack(args, err, "{s:s, s:s, s:s, s:o, s:I, s:o}", "id", &id, "origin",
			   &origin, "kind", &kind, "from", &from, "src_port", &src_port,
			   "ingress", &in) != 0)
		return NULL;
	if (origin[0] == '\0' || strlen(origin) >= CP_NODE_MAX ||
	    strpbrk(origin, "/+#") != NULL || !json_is_array(from) || !json_is_object(in) ||
	    src_port <= 0 || src_port > 65535 || !pipe_srtp_ok(json_object_get(in, "srtp"))) {
		cp_err_set(err, "bad_args", NULL, "origin a node's name, from an array, "
			   "src_port 1-65535, ingress an object, its srtp %s", suite_name(PIPE_SUITE));
		return NULL;
	}
	s = cp_reg_find(&cp->reg, id);
	p = find(cp, id, origin, true);
	if (s != NULL && (p == NULL || piped(cp, p) != s)) {
		cp_err_set(err, "exists", "id", "node %s has a session \"%.60s\" of its own",
			   cp->cfg.node, id);
		return NULL;
	}
	/* The origin opens again what it piped here: it has forgotten that pipe (its close
	 * never arrived, or it was restored from before), so the old session goes. */
	if (s != NULL && cp_delete_now(cp, id, err) != 0)
		return NULL;
	in = json_deep_copy(in);
	spec = json_pack("{s:s, s:s, s:o}", "id", id, "kind", kind, "ingress", in);
	if (route(cp, from, in, &oaddr, &oport, err) != 0)
		goto out;
	json_object_set_new(in, "source", json_pack("{s:s, s:I}", "addr", oaddr, "port",
						    src_port));
	if (p == NULL && (p = add(cp, id, origin, true)) == NULL) {
		cp_err_set(err, "internal", NULL, "no memory for a pipe");
		goto out;
	}
	if (cp_spec_alloc_port(cp, spec, err) != 0 || cp_create_now(cp, spec, &s, err) != 0) {
		drop(cp, p);
		save(cp);
		goto out;
	}
	p->state = CP_PIPE_OPEN;
	p->sess_seq = s->seq;
	p->srtp = json_object_get(in, "srtp") != NULL ? PIPE_SUITE : MF_SRTP_NONE;
	p->epoch = 0;
	save(cp);
	res = opened_result(s, oaddr, oport);
	*pp = p;
out:
	wipe_keys(spec, 3);
	json_decref(spec);
	return res;
}

json_t *
cp_pipe_open(struct cp *cp, json_t *args, struct cp_err *err)
{
	struct cp_pipe *p;
	json_t *res = open_here(cp, args, &p, err);

	if (res == NULL)
		return NULL;
	event(cp, p, "pipe.opened", NULL);
	MF_LOG(NOTICE, cmd, "session %s piped here from node %s", p->session, p->node);
	return res;
}

/* ---- the edge that pulls: a pipe asked for by the edge ---- */

json_t *
cp_pipes_offer(struct cp *cp, const struct cp_sess *s, struct cp_err *err)
{
	json_t *o, *from;

	if (cp_store_spec(cp, s, &cp->spec) != 0) {
		cp_err_set(err, "internal", NULL, "the journal's record of \"%.60s\" is unreadable",
			   s->id);
		return NULL;
	}
	o = json_pack("{s:s, s:i, s:o}", "kind", mf_sess_kind_str(cp->spec.kind), "src_port",
		      cp->spec.ingress.udp_port, "ingress", ingress_template(&cp->spec));
	mf_sess_wipe_keys(&cp->spec);
	from = o != NULL ? our_addrs(cp, -1, err) : NULL;
	if (from == NULL) {
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "from", from);
	return o;
}

/* pipe.open's arguments as the origin would send them, from its @p offer, under @p key. */
static json_t *
pull_args(const char *origin, const char *id, json_t *offer, const uint8_t *key)
{
	json_t *in = json_object_get(offer, "ingress");

	if (!json_is_object(in) || (in = ingress_keep(in)) == NULL)
		return NULL;
	json_object_set_new(in, "srtp", srtp_json(key));
	return json_pack("{s:s, s:s, s:O, s:O, s:O, s:o}", "id", id, "origin", origin, "kind",
			 json_object_get(offer, "kind"), "from", json_object_get(offer, "from"),
			 "src_port", json_object_get(offer, "src_port"), "ingress", in);
}

int
cp_pipe_pull(struct cp *cp, const char *origin, const char *id, json_t *offer,
	     struct cp_sess **out, struct cp_err *err)
{
	uint8_t key[PIPE_KEY_LEN];
	json_t *args = NULL, *res = NULL, *edge;
	struct cp_pipe *p;
	char token[17], b64[128];
	int rc = -EINVAL;

	p = find(cp, id, origin, true);
	if (p != NULL && p->state == CP_PIPE_OPENING) {
		cp_err_set(err, "busy", "stream", "node %s is still piping it here", origin);
		goto out;
	}
	if (RAND_bytes(key, sizeof(key)) != 1 || random_hex(token, 8, err) != 0) {
		cp_err_set(err, "internal", NULL, "no random bytes");
		goto out;
	}
	args = pull_args(origin, id, offer, key);
	if (args == NULL) {
		cp_err_set(err, "unavailable", "stream", "node %s announces it unreadably", origin);
		goto out;
	}
	res = open_here(cp, args, &p, err);
	if (res == NULL)
		goto out;
	p->state = CP_PIPE_OPENING;
	save(cp);		/* open_here saved it open: not before the origin says so */
	memcpy(p->token, token, sizeof(p->token));
	p->deadline_ms = mf_mono_ms() + cp->cfg.reply_timeout_ms;
	mf_base64_encode(key, PIPE_KEY_LEN, b64, sizeof(b64));
	edge = json_pack("{s:O, s:O, s:O, s:s}", "addr", json_object_get(res, "addr"),
			 "udp_port", json_object_get(res, "udp_port"), "origin_port",
			 json_object_get(res, "origin_port"), "key", b64);
	explicit_bzero(b64, sizeof(b64));
	send_to(cp, origin, "session.pipe", token, json_pack("{s:s, s:s, s:b, s:o}", "id", id,
		"to", cp->cfg.node, "srtp", 1, "edge", edge));
	*out = cp_reg_find(&cp->reg, id);
	MF_LOG(INFO, cmd, "session %s: pulling it from node %s", id, origin);
	rc = 0;
out:
	explicit_bzero(key, sizeof(key));
	wipe_keys(args, 3);
	json_decref(args);
	json_decref(res);
	return rc;
}

void
cp_pipe_unpull(struct cp *cp, const char *id, const char *origin, const char *reason)
{
	struct cp_pipe *p = find(cp, id, origin, true);
	struct cp_pipe gone = { .in = true };
	struct cp_err err = { 0 };

	if (p != NULL) {
		send_unpipe(cp, p);
		unpull_here(cp, p, reason);
		return;
	}
	/* Its pipe forgotten (a restart while it opened): the origin told all the same. */
	snprintf(gone.session, sizeof(gone.session), "%s", id);
	snprintf(gone.node, sizeof(gone.node), "%s", origin);
	send_unpipe(cp, &gone);
	if (cp_delete_now(cp, id, &err) != 0 && cp_reg_find(&cp->reg, id) != NULL)
		MF_LOG(ERR, cmd, "session %s pulled from %s: not removed: %s", id, origin,
		       err.message);
}

json_t *
cp_pipe_close(struct cp *cp, json_t *args, struct cp_err *err)
{
	const char *id = NULL, *origin = NULL;
	struct cp_pipe *p;

	if (cp_args_unpack(args, err, "{s:s, s:s}", "id", &id, "origin", &origin) != 0)
		return NULL;
	p = find(cp, id, origin, true);
	/* A pull still opening: the origin has not answered it, so this close is of the pipe
	 * before (the origin sends in order), closed already here. */
	if (p == NULL || p->state == CP_PIPE_OPENING) {
		cp_err_set(err, "not_found", "id", "no open pipe of \"%.60s\" from %.60s", id,
			   origin);
		return NULL;
	}
	if (piped(cp, p) != NULL && cp_delete_now(cp, id, err) != 0)
		return NULL;
	event(cp, p, "pipe.closed", "origin");
	drop(cp, p);
	save(cp);
	return json_pack("{s:s, s:b}", "id", id, "closed", 1);
}

json_t *
cp_pipes_of(const struct cp *cp, const char *session)
{
	const struct cp_sess *s = cp_reg_find(&cp->reg, session);
	json_t *a = NULL;
	uint32_t i;

	for (i = 0; i < cp->pipes.nb; i++) {
		const struct cp_pipe *p = &cp->pipes.p[i];
		json_t *o;

		if (strcmp(p->session, session) != 0 || piped(cp, p) != s)
			continue;
		o = p->in ? json_pack("{s:s}", "from", p->node) :
			    json_pack("{s:s, s:s, s:s}", "to", p->node, "state",
				      p->state == CP_PIPE_OPEN ? "open" : "opening", "output",
				      p->out_id);
		if (!p->in && p->state == CP_PIPE_OPEN)
			json_object_set_new(o, "addr", json_sprintf("%s:%u", p->addr,
								    p->udp_port));
		json_object_set_new(o, "srtp", p->srtp ? json_string(suite_name(p->srtp)) :
							 json_null());
		if (a == NULL)
			a = json_array();
		json_array_append_new(a, o);
	}
	return a;
}

/* ---- new keys for a new dataplane ---- */

/* Its SRTP parameters from p->key. */
static void
pipe_params(const struct cp_pipe *p, struct mf_srtp_params *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->suite = PIPE_SUITE;
	sp->key_len = 32;
	sp->salt_len = 12;
	memcpy(sp->key, p->key, 32);
	memcpy(sp->salt, p->key + 32, 12);
}

/* p->key into its session: the edge's ingress, or the origin's output and what it reads
 * its receiver's RTCP with; nothing else of the session changes. @p live: through the
 * dataplane (cp_store_update), else in the journal only, before a replay. */
static int
rekey_spec(struct cp *cp, struct cp_pipe *p, bool live, struct cp_err *err)
{
	struct mf_sess_spec *spec = &cp->spec;
	struct cp_sess *s = piped(cp, p);
	unsigned int i;
	int rc = -ENOENT;

	cp_err_set(err, "not_found", "id", "session \"%.60s\" or its output %s is gone",
		   p->session, p->out_id);
	if (s == NULL || cp_store_spec(cp, s, spec) != 0)
		return -ENOENT;
	if (p->in) {
		pipe_params(p, &spec->ingress.srtp);
		rc = 0;
	}
	for (i = 0; !p->in && i < spec->nb_outputs; i++)
		if (strcmp(spec->outputs[i].id, p->out_id) == 0) {
			pipe_params(p, &spec->outputs[i].srtp);
			pipe_params(p, &spec->outputs[i].receiver_srtp);
			rc = 0;
		}
	if (rc == 0)
		rc = live ? cp_store_update(cp, s, spec, err) : cp_store_rewrite(cp, s, spec);
	mf_sess_wipe_keys(spec);
	return rc;
}

/* A new dataplane starts every SRTP context's counters again: under the same key GCM's
 * nonces would repeat. Whichever end's dataplane is new mints a key for it (a higher
 * epoch) before it sends anything, and tells the other end; when both did, the origin's
 * key wins. */
void
cp_pipes_rekey(struct cp *cp)
{
	struct cp_err err;
	uint32_t i;

	for (i = 0; i < cp->pipes.nb; i++) {
		struct cp_pipe *p = &cp->pipes.p[i];

		if (p->state != CP_PIPE_OPEN || p->srtp == MF_SRTP_NONE)
			continue;
		p->rekeyed = RAND_bytes(p->key, PIPE_KEY_LEN) == 1 &&
			     rekey_spec(cp, p, false, &err) == 0;
		if (p->rekeyed) {
			p->epoch++;
			continue;
		}
		explicit_bzero(p->key, sizeof(p->key));
		MF_LOG(ERR, main, "pipe of %s %s %s: no new key could be written: its session "
		       "goes back in under the old one", p->session, p->in ? "from" : "to",
		       p->node);
	}
}

/* Send the other end p->key (wiped then) as the pipe's key of p->epoch, and again until
 * it answers (cp_pipes_tick), the wait doubling each time: a key lost on the way, or
 * refused (stale: the broker held it while that node was away), would otherwise leave the
 * pipe's packets failing authentication for good. Its id is fresh each time: a node
 * answers an id it has seen with its first reply. */
static void
send_key(struct cp *cp, struct cp_pipe *p)
{
	struct cp_err err;

	p->key_wait_ms = p->key_wait_ms == 0 ? cp->cfg.reply_timeout_ms :
			 p->key_wait_ms >= PIPE_KEY_WAIT_MAX_MS / 2 ? PIPE_KEY_WAIT_MAX_MS :
			 2 * p->key_wait_ms;
	p->key_due_ms = mf_mono_ms() + p->key_wait_ms;
	if (random_hex(p->key_token, 8, &err) == 0)
		send_to(cp, p->node, "pipe.key", p->key_token,
			json_pack("{s:s, s:s, s:o, s:I}", "id", p->session, "node", cp->cfg.node,
				  "srtp", srtp_json(p->key), "epoch", (json_int_t)p->epoch));
	explicit_bzero(p->key, sizeof(p->key));
}

/* The key @p p's session uses now, into p->key. @return 0, or -ENOENT: no session, or no
 * key of the pipe's suite in it. */
static int
current_key(struct cp *cp, struct cp_pipe *p)
{
	struct mf_sess_spec *spec = &cp->spec;
	struct cp_sess *s = piped(cp, p);
	const struct mf_srtp_params *sp = NULL;
	bool found = false;
	unsigned int i;

	if (s == NULL || cp_store_spec(cp, s, spec) != 0)
		return -ENOENT;
	if (p->in)
		sp = &spec->ingress.srtp;
	for (i = 0; !p->in && i < spec->nb_outputs; i++)
		if (strcmp(spec->outputs[i].id, p->out_id) == 0)
			sp = &spec->outputs[i].srtp;
	if (sp != NULL && sp->key_len == 32 && sp->salt_len == 12) {
		memcpy(p->key, sp->key, 32);
		memcpy(p->key + 32, sp->salt, 12);
		found = true;
	}
	mf_sess_wipe_keys(spec);
	return found ? 0 : -ENOENT;
}

/* Whether @p sp is the key @p p's session uses now. */
static bool
same_key(struct cp *cp, struct cp_pipe *p, const struct mf_srtp_params *sp)
{
	bool same = current_key(cp, p) == 0 && CRYPTO_memcmp(p->key, sp->key, 32) == 0 &&
		    CRYPTO_memcmp(p->key + 32, sp->salt, 12) == 0;

	explicit_bzero(p->key, sizeof(p->key));
	return same;
}

/* Our key unanswered when due: sent again, read from its session (the key is not kept
 * beside the pipe); a session gone or without one leaves nothing to send. */
static void
resend_key(struct cp *cp, struct cp_pipe *p)
{
	if (current_key(cp, p) != 0) {
		p->key_wait_ms = 0;
		save(cp);
		return;
	}
	MF_LOG(NOTICE, cmd, "pipe of %s %s %s: our key of epoch %u unanswered: sent again",
	       p->session, p->in ? "from" : "to", p->node, p->epoch);
	send_key(cp, p);
}

/* Refusals of a pipe.key that sending it again cannot change: the pipe is gone there, or
 * that node will never take it from us as we send it (its keys, its version). */
static bool
final_refusal(const char *code)
{
	static const char *const final[] = {
		"not_found", "bad_value", "bad_request", "bad_json", "unsigned", "bad_auth",
		"bad_signature", "unknown_tenant", "unsupported_version", "forbidden",
		"unknown_command",
	};
	size_t i;

	for (i = 0; code != NULL && i < sizeof(final) / sizeof(final[0]); i++)
		if (strcmp(code, final[i]) == 0)
			return true;
	return false;
}

/* The other node's answer to our pipe.key: done when it took it (or sent its own back),
 * or refused it for good; a refusal that may pass (stale, its dataplane down...) leaves
 * the key to go again when due. */
static void
key_answered(struct cp *cp, struct cp_pipe *p, json_t *root)
{
	json_t *e = json_object_get(root, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *why = json_string_value(json_object_get(e, "message"));
	bool ok = json_is_true(json_object_get(root, "ok"));

	if (!ok && final_refusal(code))
		MF_LOG(ERR, cmd, "pipe of %s %s %s: our key refused (%s: %.150s): not sent again",
		       p->session, p->in ? "from" : "to", p->node, code, why ? why : "");
	if (ok || final_refusal(code)) {
		p->key_wait_ms = 0;
		save(cp);
		return;
	}
	MF_LOG(WARNING, cmd, "pipe of %s %s %s: our key refused (%s: %.150s): sent again in %u "
	       "ms", p->session, p->in ? "from" : "to", p->node, code ? code : "no code",
	       why ? why : "", p->key_wait_ms);
}

void
cp_pipes_attached(struct cp *cp)
{
	bool changed = false;
	uint32_t i;

	for (i = 0; i < cp->pipes.nb; i++) {
		struct cp_pipe *p = &cp->pipes.p[i];

		if (!p->rekeyed)
			continue;
		p->key_wait_ms = 0;	/* a new key: the first wait again */
		send_key(cp, p);
		MF_LOG(NOTICE, main, "pipe of %s %s %s: new key (a new dataplane)", p->session,
		       p->in ? "from" : "to", p->node);
		p->rekeyed = false;
		changed = true;
	}
	if (changed)
		save(cp);
}

/* The other end of a pipe has a new key (its dataplane is new): ours takes it, unless
 * ours is newer, or as new and this node the origin (the origin's wins a tie): then ours
 * goes back to it, so both ends end on one key whatever the order the restarts and
 * messages came in. Without a dataplane the key goes into the journal, for the replay. */
json_t *
cp_pipe_key(struct cp *cp, json_t *args, struct cp_err *err)
{
	const char *id = NULL, *node = NULL;
	json_int_t epoch = 0;
	json_t *srtp = NULL;
	struct cp_pipe *p;
	struct mf_srtp_params sp;
	struct mf_sess_err se;
	int rc;

	if (cp_args_unpack(args, err, "{s:s, s:s, s:o, s:I}", "id", &id, "node", &node, "srtp",
			   &srtp, "epoch", &epoch) != 0)
		return NULL;
	p = find(cp, id, node, true);
	if (p == NULL)
		p = find(cp, id, node, false);
	if (p == NULL || p->state != CP_PIPE_OPEN || p->srtp == MF_SRTP_NONE) {
		cp_err_set(err, "not_found", "id", "no SRTP pipe of \"%.60s\" with %.60s", id, node);
		return NULL;
	}
	rc = mf_srtp_params_from_json(srtp, MF_SESS_RTP, &sp, &se);
	if (!pipe_srtp_ok(srtp) || rc != 0 || sp.key_len != 32 || sp.salt_len != 12 ||
	    epoch <= 0 || epoch > UINT32_MAX) {
		explicit_bzero(&sp, sizeof(sp));
		cp_err_set(err, "bad_value", "srtp", "%s with a key, and an epoch",
			   suite_name(PIPE_SUITE));
		return NULL;
	}
	/* Ours sent again, or theirs again after we took it: both ends hold it already. */
	if ((uint32_t)epoch == p->epoch && same_key(cp, p, &sp)) {
		explicit_bzero(&sp, sizeof(sp));
		if (p->key_wait_ms != 0) {
			p->key_wait_ms = 0;
			save(cp);
		}
		return json_pack("{s:s, s:b}", "id", id, "rekeyed", 1);
	}
	if ((uint32_t)epoch < p->epoch || ((uint32_t)epoch == p->epoch && !p->in)) {
		explicit_bzero(&sp, sizeof(sp));
		p->key_wait_ms = 0;
		if (current_key(cp, p) == 0)
			send_key(cp, p);
		save(cp);
		MF_LOG(NOTICE, cmd, "pipe of %s %s %s: its key of epoch %lld refused, ours "
		       "(epoch %u) sent back", p->session, p->in ? "from" : "to", p->node,
		       (long long)epoch, p->epoch);
		return json_pack("{s:s, s:b}", "id", id, "rekeyed", 0);
	}
	memcpy(p->key, sp.key, 32);
	memcpy(p->key + 32, sp.salt, 12);
	explicit_bzero(&sp, sizeof(sp));
	rc = rekey_spec(cp, p, cp->dp_up, err);
	explicit_bzero(p->key, sizeof(p->key));
	if (rc != 0)
		return NULL;
	p->epoch = (uint32_t)epoch;
	p->key_wait_ms = 0;	/* ours, if any was awaited, is no longer the pipe's */
	save(cp);
	MF_LOG(NOTICE, cmd, "pipe of %s %s %s: new key from it", p->session,
	       p->in ? "from" : "to", p->node);
	return json_pack("{s:s, s:b}", "id", id, "rekeyed", 1);
}
