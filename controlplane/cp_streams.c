/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * room.* and stream.*: the IoT push/pull flow over MQTT. A device publishes a stream into a
 * room (a WebRTC device with its SDP offer, a plain RTP camera with what it sends), a viewer
 * subscribes with its offer and gets an answer. Each is said in session terms and goes the
 * same way as session.create and session.update (validated, admitted, journaled): a stream
 * is an rtp-mux session on the streams' port (config "streams"), its publisher the ingress
 * (ICE-lite and DTLS-SRTP from the offer, or a latched plain source), each viewer an output
 * with ICE and DTLS that shares the ingress's port, starts on a key frame (from the GOP
 * cache when the stream has video) and has its NACKs repaired when it asked for them.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "cp.h"
#include "mf/mf_proto.h"

#define ANSWER_MAX	16384
#define VIEWER_ID_MAX	16
#define SUBSCRIBE_MANY	16	/* streams in one stream.subscribe */

/* An offer and its answer: 100 kB, taken per command (they are rare), not on the stack. */
struct sdp_work {
	struct mf_sdp offer;
	struct mf_sdp_agreed ag[MF_SDP_MAX_MEDIA];
	char answer[ANSWER_MAX];
};

/* Where peers reach streams, and what our DTLS certificate is. */
struct endpoint {
	uint16_t port;
	char addr[64];
	char fingerprint[MF_DTLS_FP_STR];
};

static const char ice_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
random_bytes(void *out, size_t n, struct cp_err *err)
{
	if (RAND_bytes(out, (int)n) == 1)
		return 0;
	cp_err_set(err, "internal", NULL, "no random bytes");
	return -EIO;
}

/* @p n ice-chars and a NUL. */
static int
random_ice(char *out, size_t n, struct cp_err *err)
{
	uint8_t b[64];
	size_t i;

	if (n > sizeof(b) || random_bytes(b, n, err) != 0)
		return -EIO;
	for (i = 0; i < n; i++)
		out[i] = ice_chars[b[i] % 64];
	out[n] = '\0';
	return 0;
}

static int
endpoint_of(struct cp *cp, struct endpoint *ep, struct cp_err *err)
{
	const struct mf_msg_node_info *ni = (const struct mf_msg_node_info *)cp->res;
	const struct mf_msg_port_info *p = NULL;
	unsigned int i, k;

	if (cp_dp_call(cp, MF_MSG_NODE_INFO, NULL, 0, cp->res, sizeof(cp->res), err) < 0)
		return -EIO;
	memset(ep, 0, sizeof(*ep));
	ep->port = cp->cfg.stream_port;
	snprintf(ep->fingerprint, sizeof(ep->fingerprint), "%s", ni->dtls_fingerprint);
	for (i = 0; i < ni->nb_ports && i < MF_MAX_PORTS; i++)
		if (ni->ports[i].port == ep->port)
			p = &ni->ports[i];
	if (cp->cfg.stream_addr[0] != '\0') {
		snprintf(ep->addr, sizeof(ep->addr), "%s", cp->cfg.stream_addr);
		return 0;
	}
	for (k = 0; p != NULL && k < p->nb_addrs && k < MF_NODE_MAX_ADDRS; k++)
		if (p->addrs[k].family == 4 || ep->addr[0] == '\0')
			mf_addr_str(&p->addrs[k], ep->addr, sizeof(ep->addr));
	for (k = 0; p != NULL && k < p->nb_addrs && k < MF_NODE_MAX_ADDRS; k++)
		if (p->addrs[k].family == 4) {
			mf_addr_str(&p->addrs[k], ep->addr, sizeof(ep->addr));
			break;
		}
	if (ep->addr[0] != '\0' && ep->fingerprint[0] != '\0')
		return 0;
	cp_err_set(err, "unavailable", NULL, "the streams' port %u has no address%s", ep->port,
		   ep->fingerprint[0] ? "" : " or the dataplane no DTLS certificate");
	return -ENXIO;
}

/* A room the caller may use: its own, or any for an admin; another's is not told of. */
static int
room_of(struct cp *cp, const char *name, struct cp_err *err)
{
	int r = cp_room_find(cp, name);

	if (r >= 0 && (cp_auth_admin(cp, cp->caller) || cp->rooms.rooms[r].tenant == cp->caller))
		return r;
	cp_err_set(err, "not_found", "room", "no room \"%.40s\"", name);
	return -ENOENT;
}

static int
stream_of(struct cp *cp, const char *room, const char *name, struct cp_err *err)
{
	int r = room_of(cp, room, err), i;

	if (r < 0)
		return r;
	i = cp_stream_find(cp, (uint32_t)r, name);
	if (i < 0)
		cp_err_set(err, "not_found", "stream", "no stream \"%.70s\" in room %s", name, room);
	return i;
}

/* ---- rooms ---- */

json_t *
cp_room_create(struct cp *cp, json_t *args, struct cp_err *err)
{
	const char *name = NULL;
	int r;

	if (cp_args_unpack(args, err, "{s:s}", "room", &name) != 0)
		return NULL;
	if (!cp_room_name_ok(name, false)) {
		cp_err_set(err, "bad_value", "room", "a room is 1-%d of A-Z a-z 0-9 - _ .",
			   CP_ROOM_MAX - 1);
		return NULL;
	}
	if (cp_room_find(cp, name) >= 0) {
		cp_err_set(err, "exists", "room", "room \"%s\" exists", name);
		return NULL;
	}
	r = cp_room_add(cp, name, cp->caller);
	if (r < 0 || cp_rooms_save(cp) != 0) {
		if (r >= 0)
			cp_room_del(cp, (uint32_t)r);
		cp_err_set(err, "internal", NULL, "the room could not be kept");
		return NULL;
	}
	return json_pack("{s:s}", "room", name);
}

json_t *
cp_room_delete(struct cp *cp, json_t *args, struct cp_err *err)
{
	const char *name = NULL;
	uint32_t i, n = 0;
	bool unjournaled = false;
	int r;

	if (cp_args_unpack(args, err, "{s:s}", "room", &name) != 0 || (r = room_of(cp, name, err)) < 0)
		return NULL;
	if (!cp->dp_up) {
		cp_dp_down(cp, err);
		return NULL;
	}
	for (i = 0; i < cp->rooms.nb_streams; i++) {
		const struct cp_stream *st = &cp->rooms.streams[i];
		char id[MF_SESS_ID_MAX];

		if (st->session[0] == '\0' || st->room != (uint32_t)r)
			continue;
		memcpy(id, st->session, sizeof(id));
		if (cp_delete_now(cp, id, err) != 0) {
			if (cp_reg_find(&cp->reg, id) != NULL)
				return NULL;	/* still there: the room stays */
			/* Gone: ended by the dataplane already (not_found), or its deletion
			 * not yet on disk (internal, cp_delete_now()). */
			unjournaled |= strcmp(err->code, "internal") == 0;
		}
		n++;
	}
	cp_room_del(cp, (uint32_t)r);
	if (cp_rooms_save(cp) != 0 || unjournaled) {
		cp_err_set(err, "internal", NULL, "room deleted, but %s could not be written: a "
			   "restart of the control plane may bring %s back", unjournaled ?
			   "the journal" : "the rooms", unjournaled ? "its sessions" : "it");
		return NULL;
	}
	return json_pack("{s:s, s:i}", "room", name, "streams", n);
}

json_t *
cp_room_list(struct cp *cp, json_t *args, struct cp_err *err)
{
	bool all = cp_auth_admin(cp, cp->caller);
	json_t *list;
	uint32_t i;

	if (cp_args_unpack(args, err, "{}") != 0)
		return NULL;
	list = json_array();
	for (i = 0; i < cp->rooms.nb_rooms; i++) {
		const struct cp_room *m = &cp->rooms.rooms[i];

		if (m->name[0] != '\0' && (all || m->tenant == cp->caller))
			json_array_append_new(list, json_pack("{s:s, s:i}", "room", m->name,
							      "streams", m->nb_streams));
	}
	return json_pack("{s:o}", "rooms", list);
}

/* The viewers of stream @p st (its session's outputs). */
static json_t *
viewers_of(struct cp *cp, const struct cp_stream *st)
{
	struct cp_sess *s = cp_reg_find(&cp->reg, st->session);
	json_t *list = json_array();
	unsigned int i;

	if (s != NULL && cp_store_spec(cp, s, &cp->spec) == 0) {
		for (i = 0; i < cp->spec.nb_outputs; i++)
			json_array_append_new(list, json_string(cp->spec.outputs[i].id));
		mf_sess_wipe_keys(&cp->spec);
	}
	return list;
}

json_t *
cp_room_get(struct cp *cp, json_t *args, struct cp_err *err)
{
	const char *name = NULL;
	json_t *list, *meta, *stats;
	uint32_t i;
	int r;

	if (cp_args_unpack(args, err, "{s:s}", "room", &name) != 0 || (r = room_of(cp, name, err)) < 0)
		return NULL;
	list = json_array();
	for (i = 0; i < cp->rooms.nb_streams; i++) {
		const struct cp_stream *st = &cp->rooms.streams[i];

		if (st->session[0] == '\0' || st->room != (uint32_t)r)
			continue;
		meta = cp_stream_meta(cp, i);
		stats = cp_stats_json(cp, st->session);
		json_array_append_new(list, json_pack("{s:s, s:s, s:b, s:O, s:o, s:O?}", "stream",
			st->name, "session", st->session, "webrtc", st->webrtc, "media",
			json_object_get(meta, "media"), "viewers", viewers_of(cp, st), "stats",
			json_object_get(json_object_get(stats, "sessions"), st->session)));
		json_decref(meta);
		json_decref(stats);
	}
	return json_pack("{s:s, s:s, s:o}", "room", name, "tenant",
			 cp_auth_who(cp, cp->rooms.rooms[r].tenant, NULL, NULL, 0), "streams", list);
}

/* ---- publish ---- */

static json_t *
sdp_error(struct cp_err *err, const char *path, const struct mf_sdp_err *se)
{
	cp_err_set(err, "bad_sdp", path, "%s", se->msg);	/* it names the line */
	return NULL;
}

/* The ingress of a stream: what its media need (codecs and clock rates, the GOP cache and
 * key-frame requests when it has video). */
static void
ingress_media(json_t *in, const struct cp_stream *st, unsigned int fb)
{
	json_t *codecs = json_object(), *clocks = json_object();
	bool video = false;
	char pt[8];
	unsigned int i;

	for (i = 0; i < st->nb_media; i++) {
		const struct cp_media *m = &st->media[i];

		snprintf(pt, sizeof(pt), "%u", m->pt);
		json_object_set_new(clocks, pt, json_integer(m->clock));
		if (m->kind == MF_SDP_VIDEO) {
			json_object_set_new(codecs, pt, json_string(cp_codec_name(m->codec)));
			video = true;
		}
	}
	json_object_set_new(in, "clock_rates", clocks);
	if (video) {
		json_object_set_new(in, "codecs", codecs);
		json_object_set_new(in, "gop_cache", json_object());
		json_object_set_new(in, "keyframe_request", json_string(
			fb & MF_SDP_FB_PLI ? "pli" : fb & MF_SDP_FB_FIR ? "fir" : "pli"));
	} else {
		json_decref(codecs);
	}
}

/* One medium of each kind at most, each its own payload type: what an answer can say and
 * what the ingress tells apart (its clock rate and codec are by payload type). */
static int
media_ok(const struct cp_stream *st, struct cp_err *err)
{
	unsigned int i, k;

	for (i = 0; i < st->nb_media; i++)
		for (k = 0; k < i; k++)
			if (st->media[i].kind == st->media[k].kind ||
			    st->media[i].pt == st->media[k].pt) {
				cp_err_set(err, "bad_value", "media", "one audio and one video "
					   "medium at most, each with its own payload type");
				return -EINVAL;
			}
	return 0;
}

/* The format of @p m the answer agreed on. */
static const struct mf_sdp_fmt *
fmt_of(const struct mf_sdp_media *m, unsigned int pt)
{
	unsigned int i;

	for (i = 0; i < m->nb_fmt; i++)
		if (m->fmt[i].pt == pt)
			return &m->fmt[i];
	return NULL;
}

/* What mfwd takes from a publisher: every codec it forwards, any H.264 profile. */
static const struct mf_sdp_cap publish_caps[] = {
	{ .kind = MF_SDP_VIDEO, .codec = MF_SDP_C_H264, .h264_mode = 1 },
	{ .kind = MF_SDP_VIDEO, .codec = MF_SDP_C_H264, .h264_mode = 0 },
	{ .kind = MF_SDP_VIDEO, .codec = MF_SDP_C_VP8 },
	{ .kind = MF_SDP_VIDEO, .codec = MF_SDP_C_VP9 },
	{ .kind = MF_SDP_VIDEO, .codec = MF_SDP_C_AV1 },
	{ .kind = MF_SDP_AUDIO, .codec = MF_SDP_C_OPUS },
	{ .kind = MF_SDP_AUDIO, .codec = MF_SDP_C_PCMU },
	{ .kind = MF_SDP_AUDIO, .codec = MF_SDP_C_PCMA },
};

/* A WebRTC publisher: its offer answered, the ingress an ICE + DTLS endpoint. */
static int
publish_webrtc(const char *sdp, json_t *in, const struct endpoint *ep, uint16_t udp_port,
	       struct cp_stream *st, struct sdp_work *w, struct cp_err *err)
{
	const struct mf_sdp *offer = &w->offer;
	const struct mf_sdp_agreed *ag = w->ag;
	char ufrag[9], pwd[25], fp[MF_DTLS_FP_STR];
	struct mf_sdp_local l = {
		.role = MF_SDP_PUBLISH, .ufrag = ufrag, .pwd = pwd, .fingerprint = ep->fingerprint,
		.addr = ep->addr, .port = udp_port,
		.nb_cap = sizeof(publish_caps) / sizeof(publish_caps[0]), .cap = publish_caps,
	};
	const struct mf_sdp_media *m = NULL;
	struct mf_sdp_err se;
	unsigned int i, fb = 0;

	if (mf_sdp_parse(sdp, strlen(sdp), &w->offer, &se) != 0) {
		sdp_error(err, "sdp", &se);
		return -EINVAL;
	}
	if (random_ice(ufrag, 8, err) != 0 || random_ice(pwd, 24, err) != 0 ||
	    random_bytes(&l.session_id, sizeof(l.session_id), err) != 0)
		return -EIO;
	l.session_id >>= 2;	/* o= wants a number that fits 63 bits */
	if (mf_sdp_answer(offer, &l, w->answer, ANSWER_MAX, w->ag, &se) < 0) {
		sdp_error(err, "sdp", &se);
		return -EINVAL;
	}
	for (i = 0; i < offer->nb_media; i++) {
		const struct mf_sdp_fmt *f;
		struct cp_media *cm;

		if (!ag[i].accepted || st->nb_media == CP_STREAM_MEDIA)
			continue;
		m = m ? m : &offer->media[i];
		f = fmt_of(&offer->media[i], ag[i].pt);
		cm = &st->media[st->nb_media++];
		*cm = (struct cp_media){ .kind = offer->media[i].kind, .codec = ag[i].codec,
					 .pt = ag[i].pt, .clock = ag[i].clock, .ssrc = ag[i].ssrc,
					 .h264_mode = f ? f->h264_mode : 0,
					 .profile = f ? f->profile : 0 };
		fb |= ag[i].fb;
		if (cm->ssrc == 0 && offer->nb_media > 1) {
			cp_err_set(err, "bad_sdp", "sdp", "line %u: no a=ssrc: mfwd needs each "
				   "sender's SSRC to tell its media apart", offer->media[i].line);
			return -EINVAL;
		}
	}
	if (m == NULL) {
		cp_err_set(err, "bad_sdp", "sdp", "nothing in the offer can be published");
		return -EINVAL;
	}
	if (media_ok(st, err) != 0) {
		cp_err_set(err, "bad_sdp", "sdp", "one audio and one video m-section at most");
		return -EINVAL;
	}
	mf_dtls_fingerprint_str(mf_sdp_fingerprint(offer, m), fp);
	json_object_set_new(in, "ice", json_pack("{s:s, s:s, s:s}", "ufrag", ufrag, "pwd", pwd,
						 "remote_ufrag", mf_sdp_ufrag(offer, m)));
	json_object_set_new(in, "dtls", json_pack("{s:s}", "fingerprint", fp));
	ingress_media(in, st, fb);
	st->webrtc = true;
	return 0;
}

/* A plain RTP camera: what it sends, said by the publisher ("media"). */
static int
publish_plain(json_t *media, json_t *in, struct cp_stream *st, struct cp_err *err)
{
	json_t *o;
	size_t i;

	if (!json_is_array(media) || json_array_size(media) == 0 ||
	    json_array_size(media) > CP_STREAM_MEDIA) {
		cp_err_set(err, "bad_args", "media", "an array of 1 to %d media", CP_STREAM_MEDIA);
		return -EINVAL;
	}
	json_array_foreach(media, i, o) {
		const char *kind = NULL, *codec = NULL;
		json_int_t pt = -1, clock = 0, ssrc = 0, mode = 1, profile = -1;
		struct cp_media *m = &st->media[st->nb_media++];
		json_error_t je;
		int c;

		if (json_unpack_ex(o, &je, JSON_STRICT, "{s:s, s:s, s:I, s?I, s?I, s?I, s?I}",
				   "kind", &kind, "codec", &codec, "pt", &pt, "clock", &clock,
				   "ssrc", &ssrc, "h264_mode", &mode, "profile", &profile) != 0) {
			cp_err_set(err, "bad_args", "media", "media[%zu]: %s", i, je.text);
			return -EINVAL;
		}
		c = cp_codec_of(codec);
		m->kind = strcmp(kind, "video") == 0 ? MF_SDP_VIDEO : MF_SDP_AUDIO;
		if (c < 0 || (strcmp(kind, "video") != 0 && strcmp(kind, "audio") != 0) ||
		    (m->kind == MF_SDP_VIDEO) != (c <= MF_SDP_C_AV1) || pt < 0 || pt > 127 ||
		    clock < 0 || clock > 10000000 || ssrc < 0 || ssrc > UINT32_MAX ||
		    (mode != 0 && mode != 1) || profile > 255 || (profile < 0 && profile != -1) ||
		    (profile < 0 && c == MF_SDP_C_H264) ||
		    (ssrc == 0 && json_array_size(media) > 1)) {
			cp_err_set(err, "bad_value", "media", "media[%zu]: kind video (h264 with its "
				   "profile, vp8, vp9, av1) or audio (opus, pcmu, pcma), pt 0-127, "
				   "clock, ssrc (needed with more than one medium)", i);
			return -EINVAL;
		}
		if (profile < 0)
			profile = 0;
		m->codec = (uint8_t)c;
		m->pt = (uint8_t)pt;
		m->clock = clock ? (uint32_t)clock : c == MF_SDP_C_OPUS ? 48000 :
			   m->kind == MF_SDP_AUDIO ? 8000 : 90000;
		m->ssrc = (uint32_t)ssrc;
		m->h264_mode = (uint8_t)mode;
		m->profile = (uint8_t)profile;
	}
	if (media_ok(st, err) != 0)
		return -EINVAL;
	json_object_set_new(in, "source", json_string("latch"));
	ingress_media(in, st, MF_SDP_FB_PLI);
	return 0;
}

/* The session the stream will be, and its result: @p st filled. */
static json_t *
publish(struct cp *cp, json_t *args, struct cp_stream *st, struct cp_sess **out,
	struct sdp_work *w, struct cp_err *err)
{
	const char *room = NULL, *name = NULL, *sdp = NULL;
	json_t *media = NULL, *srtp = NULL, *spec, *in, *res = NULL;
	struct endpoint ep;
	uint16_t caller;
	uint32_t rnd;
	int r, rc;

	if (cp_args_unpack(args, err, "{s:s, s:s, s?s, s?o, s?o}", "room", &room, "stream", &name,
		   "sdp", &sdp, "media", &media, "srtp", &srtp) != 0 ||
	    (r = room_of(cp, room, err)) < 0)
		return NULL;
	if (!cp_room_name_ok(name, true)) {
		cp_err_set(err, "bad_value", "stream", "a stream is 1-%d of A-Z a-z 0-9 - _ . / :",
			   CP_STREAM_MAX - 1);
		return NULL;
	}
	if (cp_token_allows(cp, room, name, err) != 0)
		return NULL;
	if ((sdp == NULL) == (media == NULL) || (sdp != NULL && srtp != NULL)) {
		cp_err_set(err, "bad_args", NULL, "a stream is published with \"sdp\" (WebRTC) or "
			   "\"media\" (plain RTP, optionally \"srtp\"), not both");
		return NULL;
	}
	if (cp_stream_find(cp, (uint32_t)r, name) >= 0) {
		cp_err_set(err, "exists", "stream", "stream \"%s\" is published", name);
		return NULL;
	}
	if (endpoint_of(cp, &ep, err) != 0 || random_bytes(&rnd, sizeof(rnd), err) != 0)
		return NULL;
	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", name);
	snprintf(st->session, sizeof(st->session), "%s:%08x", room, rnd);
	st->room = (uint32_t)r;
	spec = json_pack("{s:s, s:s, s:{s:i, s:s}, s:[]}", "id", st->session, "kind", "rtp-mux",
			 "ingress", "port", ep.port, "addr", ep.addr, "outputs");
	in = json_object_get(spec, "ingress");
	if (srtp != NULL)
		json_object_set(in, "srtp", srtp);
	if (cp_spec_alloc_port(cp, spec, err) != 0)
		goto out;
	rc = sdp ? publish_webrtc(sdp, in, &ep, (uint16_t)json_integer_value(
				  json_object_get(in, "udp_port")), st, w, err) :
		   publish_plain(media, in, st, err);
	/* The session is the room owner's, whoever publishes (an admin into a tenant's room):
	 * its quota, and a restart keeps a stream only in its session's owner's room. */
	caller = cp->caller;
	cp->caller = cp->rooms.rooms[r].tenant;
	if (rc == 0)
		rc = cp_create_now(cp, spec, out, err);
	cp->caller = caller;
	if (rc != 0)
		goto out;
	res = json_pack("{s:s, s:s, s:s}", "room", room, "stream", name, "session", st->session);
	if (sdp != NULL)
		json_object_set_new(res, "sdp", json_string(w->answer));
	else
		json_object_set_new(res, "ingress", json_pack("{s:i, s:s, s:O}", "port", ep.port,
					"addr", ep.addr, "udp_port", json_object_get(in, "udp_port")));
out:
	json_decref(spec);
	return res;
}

json_t *
cp_stream_publish(struct cp *cp, json_t *args, struct cp_err *err)
{
	struct sdp_work *w = malloc(sizeof(*w));
	struct cp_stream st;
	struct cp_sess *s = NULL;
	json_t *res = NULL;
	int i;

	if (w == NULL)
		cp_err_set(err, "internal", NULL, "no memory for an SDP");
	else
		res = publish(cp, args, &st, &s, w, err);
	free(w);
	if (res == NULL)
		return NULL;
	/* Its session is made: now the stream, in its record, before the reply. */
	if (cp->grant != NULL)
		snprintf(st.tag, sizeof(st.tag), "%s", cp->grant->tag);
	i = cp_stream_add(cp, &st);
	if (i < 0 || cp_store_bind(cp, s, (uint32_t)i + 1) != 0) {
		struct cp_err e2;

		if (i >= 0)
			cp_stream_gone(cp, (uint32_t)i);
		cp_delete_now(cp, st.session, &e2);
		json_decref(res);
		cp_err_set(err, "internal", NULL, "the stream could not be kept");
		return NULL;
	}
	cp_token_spend(cp, cp->grant);
	cp_edge_announce(cp, (uint32_t)i);
	return res;
}

json_t *
cp_stream_unpublish(struct cp *cp, json_t *args, struct cp_err *err)
{
	const char *room = NULL, *name = NULL;
	char id[MF_SESS_ID_MAX];
	int i;

	if (cp_args_unpack(args, err, "{s:s, s:s}", "room", &room, "stream", &name) != 0 ||
	    cp_token_allows(cp, room, name, err) != 0 || (i = stream_of(cp, room, name, err)) < 0 ||
	    cp_token_owns(cp, cp->rooms.streams[i].tag, "this stream", err) != 0)
		return NULL;
	memcpy(id, cp->rooms.streams[i].session, sizeof(id));
	if (cp_delete_now(cp, id, err) != 0)
		return NULL;
	return json_pack("{s:s, s:s}", "room", room, "stream", name);
}

/* ---- subscribe ---- */

/* The viewer's output: ICE and DTLS from its offer, the publisher's payload types mapped to
 * the viewer's, a start on a key frame, NACK repair when the viewer asked for it. */
static json_t *
viewer_output(const struct mf_sdp *offer, const struct mf_sdp_agreed *ag,
	      const struct endpoint *ep, const char *id, const char *ufrag, const char *pwd,
	      uint32_t ssrc)
{
	json_t *map = json_object(), *allow = json_array(), *o;
	const struct mf_sdp_media *m = NULL;
	char fp[MF_DTLS_FP_STR], pt[8];
	unsigned int i, fb = 0;
	bool video = false;

	for (i = 0; i < offer->nb_media; i++) {
		if (!ag[i].accepted)
			continue;
		m = m ? m : &offer->media[i];
		fb |= ag[i].fb;
		video = video || offer->media[i].kind == MF_SDP_VIDEO;
		json_array_append_new(allow, json_integer(ag[i].cap_pt));
		snprintf(pt, sizeof(pt), "%u", ag[i].cap_pt);
		if (ag[i].cap_pt != ag[i].pt)
			json_object_set_new(map, pt, json_integer(ag[i].pt));
	}
	mf_dtls_fingerprint_str(mf_sdp_fingerprint(offer, m), fp);
	o = json_pack("{s:s, s:i, s:{s:s, s:s, s:s}, s:{s:s}, s:o, s:s}", "id", id, "port",
		      ep->port, "ice", "ufrag", ufrag, "pwd", pwd, "remote_ufrag",
		      mf_sdp_ufrag(offer, m), "dtls", "fingerprint", fp, "pt_allow", allow,
		      "start", video ? "gop" : "immediate");
	if (json_object_size(map) > 0)
		json_object_set(o, "pt_map", map);
	json_decref(map);
	if (fb & MF_SDP_FB_NACK)
		json_object_set_new(o, "nack", json_object());
	if (ssrc != 0)
		json_object_set_new(o, "ssrc", json_integer(ssrc));
	return o;
}

/* Stream "<device>/<name>" nobody publishes, of a device online in @p room: published for
 * the room's owner as the device said it sends, and the device asked to push there.
 * @return the stream's index, or -1 with @p err as it was (not found) or set. */
static int
pull(struct cp *cp, const char *room, const char *name, struct cp_err *err)
{
	const struct cp_grant *grant = cp->grant;
	uint16_t caller = cp->caller;
	json_t *media, *args, *res;
	struct cp_sess *s;
	char device[33];
	int i;

	media = cp_device_media(cp, room, name, device, sizeof(device));
	if (media == NULL)
		return -1;
	args = json_pack("{s:s, s:s, s:O}", "room", room, "stream", name, "media", media);
	/* The device's stream is the room's owner's, whoever the viewer is. */
	cp->caller = cp->rooms.rooms[cp_room_find(cp, room)].tenant;
	cp->grant = NULL;
	memset(err, 0, sizeof(*err));
	res = cp_stream_publish(cp, args, err);
	cp->caller = caller;
	cp->grant = grant;
	json_decref(args);
	if (res == NULL)
		return -1;
	i = cp_stream_find(cp, (uint32_t)cp_room_find(cp, room), name);
	s = cp_reg_find(&cp->reg, cp->rooms.streams[i].session);
	snprintf(cp->rooms.streams[i].device, sizeof(cp->rooms.streams[i].device), "%s", device);
	if (cp_store_bind(cp, s, (uint32_t)i + 1) != 0)
		MF_LOG(ERR, main, "stream %s of %s: a restart would keep it after its viewers",
		       name, room);
	cp_device_command(cp, device, json_pack("{s:s, s:s, s:s, s:s, s:O}", "cmd", "push",
		"room", room, "stream", strchr(name, '/') + 1, "session",
		cp->rooms.streams[i].session, "to", json_object_get(res, "ingress")));
	json_decref(res);
	return i;
}

/* The viewer's answer to w->offer, in w->answer, from what @p st sends (@p ssrc: ours for a
 * medium whose SSRC nobody said, else 0) and the transport @p l says. @return 0, or -1 with
 * @p err set: the offer takes nothing the stream sends. */
static int
answer_for(const struct cp_stream *st, uint32_t ssrc, struct mf_sdp_local *l,
	   struct sdp_work *w, struct cp_err *err)
{
	struct mf_sdp_cap caps[CP_STREAM_MEDIA];
	struct mf_sdp_err se;
	unsigned int k;

	for (k = 0; k < st->nb_media; k++)
		caps[k] = (struct mf_sdp_cap){ .kind = st->media[k].kind,
			.codec = st->media[k].codec, .pt = st->media[k].pt,
			.h264_mode = st->media[k].h264_mode, .profile = st->media[k].profile,
			.ssrc = ssrc ? ssrc : st->media[k].ssrc };
	l->cap = caps;
	l->nb_cap = st->nb_media;
	if (mf_sdp_answer(&w->offer, l, w->answer, ANSWER_MAX, w->ag, &se) >= 0)
		return 0;
	sdp_error(err, "sdp", &se);
	return -1;
}

/* What refuses a subscribe, checked before a stream is pulled for it (a device asked to
 * push, a pipe from another node), so that a refusal changes nothing: the token's scope
 * and uses, the offer. @return 0, or -1 with @p err set. */
static int
before_pull(struct cp *cp, const char *sdp, const char *viewer, struct sdp_work *w,
	    struct cp_err *err)
{
	struct mf_sdp_err se;

	if (cp->grant != NULL && viewer != NULL) {
		cp_err_set(err, "token_scope", "viewer", "with a token, mfwd names the viewer");
		return -1;
	}
	if (cp_token_use(cp, cp->grant, err) != 0)
		return -1;
	if (mf_sdp_parse(sdp, strlen(sdp), &w->offer, &se) != 0) {
		sdp_error(err, "sdp", &se);
		return -1;
	}
	return 0;
}

/* Another node's stream: the viewer's offer is read and answered against the media that
 * node announces before a pipe is opened, so a viewer that can take none of it costs the
 * origin nothing (that trial answer is never sent: its ICE credentials and port are
 * placeholders). @return the stream's index, or -1 with @p err as it was (no node
 * announces it) or set. */
static int
edge_pull_for(struct cp *cp, const char *room, const char *name, const char *sdp,
	      const char *viewer, struct sdp_work *w, struct cp_err *err)
{
	struct mf_sdp_local l = { .role = MF_SDP_SUBSCRIBE, .ufrag = "trial", .cname = "mfwd",
				  .pwd = "trialanswernotsent000000", .port = 9 };
	char node[CP_NODE_MAX];
	struct cp_stream st;
	struct endpoint ep;
	int rc;

	rc = cp_edge_media(cp, room, name, &st, node);
	if (rc == -ENOENT)
		return -1;
	if (rc == -EEXIST)		/* refused, as cp_edge_pull() says to this caller */
		return cp_edge_pull(cp, room, name, err);
	if (rc != 0) {
		cp_err_set(err, "bad_announcement", "stream", "node %s announces stream %.64s with "
			   "media this node cannot read", node, name);
		return -1;
	}
	if (before_pull(cp, sdp, viewer, w, err) != 0 || endpoint_of(cp, &ep, err) != 0)
		return -1;
	l.fingerprint = ep.fingerprint;
	l.addr = ep.addr;
	if (answer_for(&st, 0, &l, w, err) != 0)
		return -1;
	return cp_edge_pull(cp, room, name, err);
}

/* A device's stream: the viewer's offer answered against the media the device announces
 * before it is asked to push, as edge_pull_for() does (a viewer that can take none of it
 * had the device push, and a session made, for linger_s). @return the stream's index, or
 * -1 with @p err set. */
static int
device_pull_for(struct cp *cp, const char *room, const char *name, json_t *media,
		const char *sdp, const char *viewer, struct sdp_work *w, struct cp_err *err)
{
	struct mf_sdp_local l = { .role = MF_SDP_SUBSCRIBE, .ufrag = "trial", .cname = "mfwd",
				  .pwd = "trialanswernotsent000000", .port = 9 };
	struct cp_stream st = { .nb_media = 0 };
	json_t *in = json_object();
	struct endpoint ep;
	int rc;

	rc = before_pull(cp, sdp, viewer, w, err);
	if (rc == 0)
		rc = publish_plain(media, in, &st, err);
	if (rc == 0)
		rc = endpoint_of(cp, &ep, err);
	if (rc == 0) {
		l.fingerprint = ep.fingerprint;
		l.addr = ep.addr;
		rc = answer_for(&st, 0, &l, w, err);
	}
	json_decref(in);
	return rc != 0 ? -1 : pull(cp, room, name, err);
}

static json_t *
subscribe_one(struct cp *cp, const char *room, json_t *one, struct sdp_work *w,
	      struct cp_err *err)
{
	const char *name = NULL, *sdp = NULL, *viewer = NULL;
	char ufrag[9], pwd[25], vid[VIEWER_ID_MAX], device[33];
	struct mf_sdp_local l = { .role = MF_SDP_SUBSCRIBE, .ufrag = ufrag, .pwd = pwd,
				  .cname = "mfwd" };
	json_t *args, *res = NULL, *media;
	const struct cp_stream *st;
	struct endpoint ep;
	struct cp_sess *s;
	uint32_t ssrc = 0;
	int i;

	if (cp_args_unpack(one, err, "{s:s, s:s, s?s}", "stream", &name, "sdp", &sdp, "viewer",
		   &viewer) != 0 || cp_token_allows(cp, room, name, err) != 0)
		return NULL;
	i = stream_of(cp, room, name, err);
	if (i >= 0) {
		if (before_pull(cp, sdp, viewer, w, err) != 0)
			return NULL;
	} else if (strcmp(err->path, "stream") == 0 &&
		   (media = cp_device_media(cp, room, name, device, sizeof(device))) != NULL) {
		i = device_pull_for(cp, room, name, media, sdp, viewer, w, err);
	} else if (strcmp(err->code, "not_found") == 0 &&
		   (strcmp(err->path, "stream") == 0 || strcmp(err->path, "room") == 0)) {
		/* Nobody here has it, no device of the room sends it: another node may. */
		i = edge_pull_for(cp, room, name, sdp, viewer, w, err);
	}
	if (i < 0)
		return NULL;
	st = &cp->rooms.streams[i];
	s = cp_reg_find(&cp->reg, st->session);
	if (s == NULL) {
		cp_err_set(err, "internal", NULL, "stream %.64s has no session", name);
		return NULL;
	}
	if (endpoint_of(cp, &ep, err) != 0 || random_ice(ufrag, 8, err) != 0 ||
	    random_ice(pwd, 24, err) != 0 || random_bytes(&l.session_id, 8, err) != 0 ||
	    random_bytes(&ssrc, sizeof(ssrc), err) != 0)
		return NULL;
	/* A pulled stream's session is where its pipe arrives: its viewers reach it there. */
	if (st->origin[0] != '\0') {
		ep.port = s->port;
		mf_addr_str(&s->local, ep.addr, sizeof(ep.addr));
	}
	if (viewer == NULL) {
		/* A token's viewers carry its tag: it may end them, and only them. */
		if (cp->grant != NULL)
			snprintf(vid, sizeof(vid), "%s%06x", cp->grant->tag, ssrc & 0xffffff);
		else
			snprintf(vid, sizeof(vid), "v%08x", ssrc);
		viewer = vid;
	}
	/* A stream of one medium whose SSRC nobody said: sent as one of ours. */
	ssrc = st->nb_media == 1 && st->media[0].ssrc == 0 ? ssrc | 1 : 0;
	l.session_id >>= 2;
	l.fingerprint = ep.fingerprint;
	l.addr = ep.addr;
	l.port = s->udp_port;
	if (answer_for(st, ssrc, &l, w, err) != 0)
		return NULL;
	args = json_pack("{s:s, s:[o]}", "id", st->session, "add_outputs",
			 viewer_output(&w->offer, w->ag, &ep, viewer, ufrag, pwd, ssrc));
	res = cp_session_update(cp, args, err);
	json_decref(args);
	if (res == NULL)
		return NULL;
	json_decref(res);
	cp_token_spend(cp, cp->grant);
	return json_pack("{s:s, s:s, s:s, s:s}", "stream", name, "viewer", viewer, "session",
			 st->session, "sdp", w->answer);
}

static json_t *subscribe(struct cp *cp, json_t *args, struct sdp_work *w, struct cp_err *err);

json_t *
cp_stream_subscribe(struct cp *cp, json_t *args, struct cp_err *err)
{
	struct sdp_work *w = malloc(sizeof(*w));
	json_t *res = NULL;

	if (w == NULL)
		cp_err_set(err, "internal", NULL, "no memory for an SDP");
	else
		res = subscribe(cp, args, w, err);
	free(w);
	return res;
}

static json_t *
subscribe(struct cp *cp, json_t *args, struct sdp_work *w, struct cp_err *err)
{
	const char *room = NULL;
	json_t *streams = NULL, *one, *results, *r;
	struct cp_err e1;
	size_t i;

	if (json_object_get(args, "streams") == NULL) {
		json_t *copy = json_deep_copy(args), *res;

		room = json_string_value(json_object_get(args, "room"));
		json_object_del(copy, "room");
		res = room ? subscribe_one(cp, room, copy, w, err) : NULL;
		if (room == NULL)
			cp_err_set(err, "bad_args", "room", "a room is needed");
		json_decref(copy);
		return res;
	}
	/* Several streams at once (a viewer opening a wall of cameras): each answered or
	 * refused on its own. */
	if (cp_args_unpack(args, err, "{s:s, s:o}", "room", &room, "streams", &streams) != 0)
		return NULL;
	if (!json_is_array(streams) || json_array_size(streams) == 0 ||
	    json_array_size(streams) > SUBSCRIBE_MANY) {
		cp_err_set(err, "bad_args", "streams", "an array of 1 to %d {stream, sdp}",
			   SUBSCRIBE_MANY);
		return NULL;
	}
	results = json_array();
	json_array_foreach(streams, i, one) {
		memset(&e1, 0, sizeof(e1));
		r = subscribe_one(cp, room, one, w, &e1);
		if (r == NULL) {
			snprintf(e1.path, sizeof(e1.path), "streams[%zu]", i);
			r = json_pack("{s:O?, s:o}", "stream", json_object_get(one, "stream"),
				      "error", cp_err_json(&e1));
		}
		json_array_append_new(results, r);
	}
	return json_pack("{s:s, s:o}", "room", room, "results", results);
}

json_t *
cp_stream_unsubscribe(struct cp *cp, json_t *args, struct cp_err *err)
{
	const char *room = NULL, *name = NULL, *viewer = NULL;
	json_t *up, *res;
	int i;

	if (cp_args_unpack(args, err, "{s:s, s:s, s:s}", "room", &room, "stream", &name, "viewer",
		   &viewer) != 0 || cp_token_allows(cp, room, name, err) != 0 ||
	    (i = stream_of(cp, room, name, err)) < 0)
		return NULL;
	if (cp_token_owns(cp, viewer, "this viewer", err) != 0)
		return NULL;
	up = json_pack("{s:s, s:[s]}", "id", cp->rooms.streams[i].session, "remove_outputs",
		       viewer);
	res = cp_session_update(cp, up, err);
	json_decref(up);
	if (res == NULL) {
		if (strcmp(err->code, "not_found") == 0 || strcmp(err->path, "remove_outputs[0]") == 0)
			cp_err_set(err, "not_found", "viewer", "no viewer \"%.20s\" of %s", viewer,
				   name);
		return NULL;
	}
	json_decref(res);
	return json_pack("{s:s, s:s, s:s}", "room", room, "stream", name, "viewer", viewer);
}

/* ---- streams pulled from devices ---- */

/* Stop a pulled stream: its session gone (and with it the stream: cp_stream_gone() tells
 * the device, when it can still hear). */
static void
stop(struct cp *cp, uint32_t i)
{
	struct cp_stream *st = &cp->rooms.streams[i];
	char id[MF_SESS_ID_MAX], device[33];
	struct cp_err err;

	memcpy(id, st->session, sizeof(id));
	memcpy(device, st->device, sizeof(device));
	if (cp_delete_now(cp, id, &err) != 0 && cp_reg_find(&cp->reg, id) != NULL)
		MF_LOG(ERR, main, "stream of device %s: session %s not removed: %s", device, id,
		       err.message);
}

/* A stream pulled from another node without viewers: its pipe closed, its session gone. */
static void
unpull(struct cp *cp, uint32_t i)
{
	struct cp_stream *st = &cp->rooms.streams[i];
	char id[MF_SESS_ID_MAX], origin[sizeof(st->origin)];

	memcpy(id, st->session, sizeof(id));
	memcpy(origin, st->origin, sizeof(origin));
	cp_pipe_unpull(cp, id, origin, "linger");
}

/* Viewer @p viewer of stream session @p session removed. @return 0 (removed, or nothing
 * to remove), or -EAGAIN with why in @p err (the dataplane away or slow, the journal). */
static int
viewer_remove(struct cp *cp, const char *session, const char *viewer, struct cp_err *err)
{
	const struct cp_sess *s = cp_reg_find(&cp->reg, session);
	json_t *up, *res;

	if (s == NULL || s->stream == 0)
		return 0;
	up = json_pack("{s:s, s:[s]}", "id", session, "remove_outputs", viewer);
	memset(err, 0, sizeof(*err));
	cp->grant = NULL;
	res = cp_session_update(cp, up, err);
	json_decref(up);
	json_decref(res);
	if (res != NULL)
		cp->status_dirty = true;
	if (res != NULL || strcmp(err->code, "not_found") == 0)
		return 0;
	return -EAGAIN;
}

void
cp_streams_viewer_lost(struct cp *cp, const char *session, const char *viewer)
{
	struct cp_rooms *rs = &cp->rooms;
	struct cp_err err;

	if (viewer_remove(cp, session, viewer, &err) == 0) {
		MF_LOG(INFO, main, "viewer %.20s of %s left (no ICE check for its consent "
		       "timeout)", viewer, session);
		return;
	}
	/* The dataplane says it once: kept, and tried again (cp_streams_tick). */
	if (rs->nb_lost == CP_LOST_MAX) {
		MF_LOG(ERR, main, "viewer %.20s of %s not removed (%s), and %u others wait: it "
		       "stays until unsubscribed", viewer, session, err.message, rs->nb_lost);
		return;
	}
	MF_LOG(WARNING, main, "viewer %.20s of %s not removed yet: %s", viewer, session,
	       err.message);
	snprintf(rs->lost[rs->nb_lost].session, sizeof(rs->lost[0].session), "%s", session);
	snprintf(rs->lost[rs->nb_lost].viewer, sizeof(rs->lost[0].viewer), "%s", viewer);
	rs->lost[rs->nb_lost].tries = 0;
	rs->nb_lost++;
}

/* The viewers whose removal failed, tried again once a second while the dataplane
 * answers, for a minute of tries at most (a refusal that does not pass would take a place
 * for good). */
static void
lost_again(struct cp *cp, uint64_t now_ms)
{
	struct cp_rooms *rs = &cp->rooms;
	struct cp_err err;
	uint32_t k = 0;

	if (rs->nb_lost == 0 || now_ms < rs->lost_at_ms || !cp->dp_up || cp_dp_stalled(cp))
		return;
	rs->lost_at_ms = now_ms + 1000;
	while (k < rs->nb_lost) {
		if (viewer_remove(cp, rs->lost[k].session, rs->lost[k].viewer, &err) != 0 &&
		    ++rs->lost[k].tries < 60) {
			k++;
			continue;
		}
		if (rs->lost[k].tries < 60)
			MF_LOG(INFO, main, "viewer %.20s of %s removed at last", rs->lost[k].viewer,
			       rs->lost[k].session);
		else
			MF_LOG(ERR, main, "viewer %.20s of %s not removed after a minute (%s): it "
			       "stays until unsubscribed", rs->lost[k].viewer, rs->lost[k].session,
			       err.message);
		rs->lost[k] = rs->lost[--rs->nb_lost];
	}
}

void
cp_streams_tick(struct cp *cp, uint64_t now_ms)
{
	uint32_t i;

	lost_again(cp, now_ms);
	for (i = 0; i < cp->rooms.nb_streams; i++) {
		struct cp_stream *st = &cp->rooms.streams[i];
		const struct cp_sess *s;

		if (st->resign_at_ms != 0 && now_ms >= st->resign_at_ms)
			cp_edge_resign(cp, i, now_ms);
		if (st->session[0] == '\0' || (st->device[0] == '\0' && st->origin[0] == '\0'))
			continue;
		s = cp_reg_find(&cp->reg, st->session);
		if (s == NULL || s->nb_outputs > 0) {
			st->idle_ms = 0;
			continue;
		}
		if (st->idle_ms == 0)
			st->idle_ms = now_ms;
		else if (st->origin[0] != '\0' &&
			 now_ms - st->idle_ms >= cp->cfg.pipe_linger_s * 1000ull)
			unpull(cp, i);
		else if (st->origin[0] == '\0' && now_ms - st->idle_ms >= cp->cfg.linger_s * 1000ull)
			stop(cp, i);
	}
}

void
cp_streams_device_gone(struct cp *cp, const char *device)
{
	uint32_t i;

	for (i = 0; i < cp->rooms.nb_streams; i++)
		if (cp->rooms.streams[i].session[0] != '\0' &&
		    strcmp(cp->rooms.streams[i].device, device) == 0)
			stop(cp, i);
}
