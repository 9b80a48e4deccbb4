/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The strict JSON codec of session specs. Each JSON object is decoded by a table of its
 * keys: a handler per key, plain integer fields by one generic handler with the field's
 * offset, width and range. The decoder keeps the JSON path of the value it is on, so any
 * error names it (outputs[2].srtp.key).
 */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "mf/mf_keyframe.h"
#include "mf/mf_session.h"

struct dctx {
	struct mf_sess_err *err;
	unsigned int kind;	/* the session's kind, known before fields that depend on it */
	char path[128];
	size_t plen;
};

struct field;
typedef int (*field_fn)(const json_t *v, void *obj, const struct field *f, struct dctx *c);

struct field {
	const char *name;
	field_fn fn;
	bool required;
	size_t off;		/* int_field: where the value goes in obj */
	uint8_t width;		/* int_field: bytes, 1 2 or 4 */
	long long min, max;	/* int_field: inclusive range */
};

#define INT_FIELD(n, type, member, lo, hi, req) \
	{ .name = n, .fn = int_field, .required = req, .off = offsetof(type, member), \
	  .width = sizeof(((type *)0)->member), .min = lo, .max = hi }

static int __attribute__((format(printf, 3, 4)))
fail(struct dctx *c, int code, const char *fmt, ...)
{
	va_list ap;

	if (c->err == NULL)
		return -EINVAL;
	c->err->code = code;
	snprintf(c->err->path, sizeof(c->err->path), "%s", c->plen ? c->path : "$");
	va_start(ap, fmt);
	vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static size_t
push_key(struct dctx *c, const char *key)
{
	size_t old = c->plen;
	int n = snprintf(c->path + old, sizeof(c->path) - old, "%s%s", old ? "." : "", key);

	c->plen = n < 0 ? old : (size_t)n + old >= sizeof(c->path) ? sizeof(c->path) - 1 :
								       old + (size_t)n;
	return old;
}

static size_t
push_idx(struct dctx *c, size_t i)
{
	size_t old = c->plen;
	int n = snprintf(c->path + old, sizeof(c->path) - old, "[%zu]", i);

	c->plen = n < 0 ? old : (size_t)n + old >= sizeof(c->path) ? sizeof(c->path) - 1 :
								       old + (size_t)n;
	return old;
}

static void
pop(struct dctx *c, size_t old)
{
	c->plen = old;
	c->path[old] = '\0';
}

static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static int
decode_fields(const json_t *o, const struct field *tab, size_t n, void *obj, struct dctx *c)
{
	const char *key;
	json_t *v;
	size_t i, old;
	int rc;

	if (!json_is_object(o))
		return fail(c, MF_SESS_E_WRONG_TYPE, "expected an object, got %s", type_name(o));
	json_object_foreach((json_t *)o, key, v) {
		for (i = 0; i < n && strcmp(tab[i].name, key) != 0; i++)
			;
		old = push_key(c, key);
		if (i == n)
			return fail(c, MF_SESS_E_UNKNOWN_KEY, "unknown key \"%s\"", key);
		rc = tab[i].fn(v, obj, &tab[i], c);
		if (rc != 0)
			return rc;
		pop(c, old);
	}
	for (i = 0; i < n; i++) {
		if (tab[i].required && json_object_get(o, tab[i].name) == NULL) {
			push_key(c, tab[i].name);
			return fail(c, MF_SESS_E_MISSING, "\"%s\" is required", tab[i].name);
		}
	}
	return 0;
}

static int
get_int(const json_t *v, long long lo, long long hi, long long *out, struct dctx *c)
{
	if (!json_is_integer(v))
		return fail(c, MF_SESS_E_WRONG_TYPE, "expected an integer, got %s", type_name(v));
	*out = json_integer_value(v);
	if (*out < lo || *out > hi)
		return fail(c, MF_SESS_E_RANGE, "%lld is outside %lld..%lld", *out, lo, hi);
	return 0;
}

static int
int_field(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	uint8_t *dst = (uint8_t *)obj + f->off;
	long long x;
	int rc = get_int(v, f->min, f->max, &x, c);

	if (rc != 0)
		return rc;
	if (f->width == 1)
		*dst = (uint8_t)x;
	else if (f->width == 2)
		*(uint16_t *)dst = (uint16_t)x;
	else
		*(uint32_t *)dst = (uint32_t)x;
	return 0;
}

static int
get_bool(const json_t *v, bool *out, struct dctx *c)
{
	if (!json_is_boolean(v))
		return fail(c, MF_SESS_E_WRONG_TYPE, "expected a boolean, got %s", type_name(v));
	*out = json_is_true(v);
	return 0;
}

static int
get_str(const json_t *v, const char **out, struct dctx *c)
{
	if (!json_is_string(v))
		return fail(c, MF_SESS_E_WRONG_TYPE, "expected a string, got %s", type_name(v));
	*out = json_string_value(v);
	return 0;
}

/* @p min..cap-1 characters, each a letter, a digit or one of @p extra (named in @p what). */
static int
get_word(const json_t *v, char *dst, size_t min, size_t cap, const char *extra,
	 const char *what, struct dctx *c)
{
	const char *s = NULL;
	size_t i, n;
	int rc = get_str(v, &s, c);

	if (rc != 0)
		return rc;
	n = strlen(s);
	if (n < min || n >= cap || n != json_string_length(v))
		return fail(c, MF_SESS_E_RANGE, "length must be %zu..%zu", min, cap - 1);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && strchr(extra, s[i]) == NULL)
			return fail(c, MF_SESS_E_BAD_VALUE, "only letters, digits and %s are allowed",
				    what);
	memcpy(dst, s, n + 1);
	return 0;
}

/* Identifiers are printable and safe in topics and file names. */
static int
get_ident(const json_t *v, char *dst, size_t cap, struct dctx *c)
{
	return get_word(v, dst, 1, cap, MF_SESS_ID_PUNCT, "- _ . :", c);
}

static int
get_addr(const json_t *v, struct mf_addr *a, struct dctx *c)
{
	const char *s = NULL;
	int rc = get_str(v, &s, c);

	if (rc != 0)
		return rc;
	if (mf_addr_parse(s, a) != 0)
		return fail(c, MF_SESS_E_BAD_VALUE, "not an IPv4 or IPv6 address");
	return 0;
}

/* A JSON object key that must be a payload type number, "0".."127": digits alone, no
 * leading zero, sign or space (strtol's " 96", "+96" and "-0" would name a type twice). */
static int
pt_key(const char *key, struct dctx *c)
{
	size_t n = strspn(key, "0123456789");
	int pt = 128;

	if (n > 0 && n <= 3 && key[n] == '\0' && (key[0] != '0' || n == 1))
		pt = (int)strtol(key, NULL, 10);	/* 1..3 digits alone by now */
	if (pt > 127)
		return fail(c, MF_SESS_E_BAD_VALUE, "key must be a payload type 0..127");
	return pt;
}

static int need_rtp(struct dctx *c);

/* ---- SRTP parameters, shared by the ingress and outputs ---- */

/* The key arrives as the SDP a=crypto inline form, base64 of key || salt; the suite, which
 * says how to split it, may come before or after it in the object. */
struct srtp_in {
	struct mf_srtp_params p;
	uint8_t raw[MF_SRTP_MAX_KEY + MF_SRTP_MAX_SALT + 3];
	int raw_len;
};

static int
srtp_suite(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	struct mf_srtp_params *p = &((struct srtp_in *)obj)->p;
	const char *s = NULL;
	unsigned int i;
	int rc = get_str(v, &s, c);

	(void)f;
	if (rc != 0)
		return rc;
	for (i = 1; i < MF_SRTP_SUITE_MAX; i++) {
		if (strcmp(s, mf_srtp_suite_str(i)) == 0) {
			p->suite = (uint8_t)i;
			mf_srtp_suite_lens(i, &p->key_len, &p->salt_len);
			return 0;
		}
	}
	return fail(c, MF_SESS_E_BAD_VALUE, "unknown suite \"%s\"", s);
}

static int
srtp_key(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	struct srtp_in *in = obj;
	const char *s = NULL;
	int rc = get_str(v, &s, c);

	(void)f;
	if (rc != 0)
		return rc;
	in->raw_len = mf_base64_decode(s, json_string_length(v), in->raw, sizeof(in->raw));
	if (in->raw_len < 0)	/* the value itself is never echoed */
		return fail(c, MF_SESS_E_BAD_VALUE, "not base64 key material");
	return 0;
}

static const struct field srtp_fields[] = {
	{ .name = "suite", .fn = srtp_suite, .required = true },
	{ .name = "key", .fn = srtp_key, .required = true },
	INT_FIELD("roc", struct srtp_in, p.roc, 0, UINT32_MAX, false),
};

static int
srtp_params(const json_t *v, struct mf_srtp_params *out, struct dctx *c)
{
	struct srtp_in in;
	size_t old;
	int rc;

	if (!mf_sess_kind_is_rtp(c->kind))
		return fail(c, MF_SESS_E_BAD_VALUE, "SRTP needs an RTP kind, not \"%s\"",
			    mf_sess_kind_str(c->kind));
	memset(&in, 0, sizeof(in));
	rc = decode_fields(v, srtp_fields, sizeof(srtp_fields) / sizeof(srtp_fields[0]), &in, c);
	if (rc == 0 && (size_t)in.raw_len != (size_t)in.p.key_len + in.p.salt_len) {
		old = push_key(c, "key");
		rc = fail(c, MF_SESS_E_BAD_VALUE, "%s needs %u bytes of key and salt, got %d",
			  mf_srtp_suite_str(in.p.suite), in.p.key_len + in.p.salt_len,
			  in.raw_len);
		pop(c, old);
	}
	if (rc == 0) {
		memcpy(in.p.key, in.raw, in.p.key_len);
		memcpy(in.p.salt, in.raw + in.p.key_len, in.p.salt_len);
		*out = in.p;
	}
	explicit_bzero(&in, sizeof(in));
	return rc;
}

/* ---- ICE credentials, shared by the ingress and outputs ---- */

/* RFC 8445 §5.3: ice-chars are ALPHA / DIGIT / "+" / "/". */
static int
get_ice_chars(const json_t *v, char *dst, size_t min, size_t cap, struct dctx *c)
{
	return get_word(v, dst, min, cap, "+/", "+ / (ice-chars)", c);
}

static int
ice_ufrag(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return get_ice_chars(v, ((struct mf_ice_cred *)obj)->ufrag, 4, MF_ICE_UFRAG_MAX, c);
}

static int
ice_remote_ufrag(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return get_ice_chars(v, ((struct mf_ice_cred *)obj)->remote_ufrag, 4, MF_ICE_UFRAG_MAX, c);
}

static int
ice_pwd(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return get_ice_chars(v, ((struct mf_ice_cred *)obj)->pwd, 22, MF_ICE_PWD_MAX, c);
}

static const struct field ice_fields[] = {
	{ .name = "ufrag", .fn = ice_ufrag, .required = true },
	{ .name = "pwd", .fn = ice_pwd, .required = true },
	{ .name = "remote_ufrag", .fn = ice_remote_ufrag, .required = true },
	INT_FIELD("consent_timeout_ms", struct mf_ice_cred, consent_timeout_ms, 1000, 300000,
		  false),
};

/* WebRTC multiplexes RTP, RTCP, STUN and DTLS on one port: ICE needs kind "rtp-mux". */
static int
ice_cred(const json_t *v, struct mf_ice_cred *out, struct dctx *c)
{
	int rc;

	if (c->kind != MF_SESS_RTP_MUX)
		return fail(c, MF_SESS_E_BAD_VALUE, "ICE needs kind \"rtp-mux\", not \"%s\"",
			    mf_sess_kind_str(c->kind));
	memset(out, 0, sizeof(*out));
	out->consent_timeout_ms = MF_ICE_CONSENT_MS;
	rc = decode_fields(v, ice_fields, sizeof(ice_fields) / sizeof(ice_fields[0]), out, c);
	if (rc != 0)
		explicit_bzero(out, sizeof(*out));
	return rc;
}

/* ---- DTLS-SRTP, shared by the ingress and outputs ---- */

static int
hex_nibble(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)(ch | 0x20);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* RFC 8122 §5: "sha-256" then the digest as upper-case hex pairs joined by colons (any case
 * is taken). */
int
mf_dtls_fingerprint_parse(const char *str, uint8_t fp[MF_DTLS_FP_LEN])
{
	static const char alg[] = "sha-256 ";
	size_t i;

	if (strncasecmp(str, alg, sizeof(alg) - 1) != 0)
		return -EINVAL;
	str += sizeof(alg) - 1;
	for (i = 0; i < MF_DTLS_FP_LEN; i++, str += 3) {
		int hi = hex_nibble(str[0]), lo = hi < 0 ? -1 : hex_nibble(str[1]);

		if (lo < 0 || str[2] != (i + 1 < MF_DTLS_FP_LEN ? ':' : '\0'))
			return -EINVAL;
		fp[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void
mf_dtls_fingerprint_str(const uint8_t fp[MF_DTLS_FP_LEN], char out[MF_DTLS_FP_STR])
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, n = strlen("sha-256 ");

	memcpy(out, "sha-256 ", n);
	for (i = 0; i < MF_DTLS_FP_LEN; i++) {
		out[n++] = hex[fp[i] >> 4];
		out[n++] = hex[fp[i] & 15];
		out[n++] = i + 1 < MF_DTLS_FP_LEN ? ':' : '\0';
	}
}

static int
dtls_fingerprint(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	struct mf_dtls_cfg *d = obj;

	(void)f;
	if (!json_is_string(v) ||
	    mf_dtls_fingerprint_parse(json_string_value(v), d->fingerprint) != 0)
		return fail(c, MF_SESS_E_BAD_VALUE, "want \"sha-256 \" and 32 hex bytes joined "
			    "by colons (SDP a=fingerprint)");
	return 0;
}

static const struct field dtls_fields[] = {
	{ .name = "fingerprint", .fn = dtls_fingerprint, .required = true },
};

static int
dtls_cfg(const json_t *v, struct mf_dtls_cfg *out, struct dctx *c)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = decode_fields(v, dtls_fields, sizeof(dtls_fields) / sizeof(dtls_fields[0]), out, c);
	out->on = rc == 0;
	return rc;
}

/* DTLS needs ICE (the handshake runs with the nominated peer) and brings its own keys. */
static int
dtls_check(const json_t *v, const struct mf_dtls_cfg *d, const struct mf_ice_cred *ice,
	   bool has_srtp, struct dctx *c)
{
	const char *clash = has_srtp ? (json_object_get(v, "srtp") != NULL ? "srtp" :
					"receiver_srtp") : NULL;

	size_t old;

	if (!d->on)
		return 0;
	old = push_key(c, "dtls");
	if (ice->ufrag[0] == '\0')
		return fail(c, MF_SESS_E_MISSING, "DTLS runs with the ICE peer: \"ice\" is needed");
	if (clash != NULL)
		return fail(c, MF_SESS_E_BAD_VALUE, "with DTLS the keys come from the handshake, "
			    "not \"%s\"", clash);
	pop(c, old);
	return 0;
}

/* ---- ingress ---- */

static int
in_addr(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return get_addr(v, &((struct mf_sess_ingress *)obj)->local, c);
}

static int
source_addr(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return get_addr(v, &((struct mf_sess_ingress *)obj)->src, c);
}

static const struct field source_fields[] = {
	{ .name = "addr", .fn = source_addr, .required = true },
	INT_FIELD("port", struct mf_sess_ingress, src_port, 0, 65535, false),
};

static int
in_source(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	struct mf_sess_ingress *in = obj;

	(void)f;
	if (json_is_string(v)) {
		if (strcmp(json_string_value(v), "any") == 0)
			in->src_mode = MF_SRC_ANY;
		else if (strcmp(json_string_value(v), "latch") == 0)
			in->src_mode = MF_SRC_LATCH;
		else
			return fail(c, MF_SESS_E_BAD_VALUE,
				    "expected \"any\", \"latch\" or {\"addr\", \"port\"}");
		return 0;
	}
	in->src_mode = MF_SRC_FIXED;
	return decode_fields(v, source_fields, sizeof(source_fields) / sizeof(source_fields[0]),
			     in, c);
}

/* An object keyed by payload type, "0".."127": each entry to @p fn, its path pushed. */
typedef int (*pt_entry_fn)(const json_t *val, int pt, void *obj, struct dctx *c);

static int
pt_object(const json_t *v, size_t max, const char *what, pt_entry_fn fn, void *obj,
	  struct dctx *c)
{
	const char *key;
	json_t *val;
	size_t old;
	int pt, rc;

	if (!json_is_object(v))
		return fail(c, MF_SESS_E_WRONG_TYPE, "expected an object of payload type: %s", what);
	if (json_object_size(v) > max)
		return fail(c, MF_SESS_E_TOO_MANY, "at most %zu entries", max);
	json_object_foreach((json_t *)v, key, val) {
		old = push_key(c, key);
		pt = pt_key(key, c);
		if (pt < 0)
			return pt;
		rc = fn(val, pt, obj, c);
		if (rc != 0)
			return rc;
		pop(c, old);
	}
	return 0;
}

static int
clock_entry(const json_t *val, int pt, void *obj, struct dctx *c)
{
	struct mf_sess_ingress *in = obj;
	long long x;
	int rc = get_int(val, 1, 10000000, &x, c);

	if (rc != 0)
		return rc;
	in->clock[in->nb_clock].pt = (uint8_t)pt;
	in->clock[in->nb_clock].rate = (uint32_t)x;
	in->nb_clock++;
	return 0;
}

static int
in_clock_rates(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return pt_object(v, MF_SESS_MAX_CLOCKS, "Hz", clock_entry, obj, c);
}

static int
codec_entry(const json_t *val, int pt, void *obj, struct dctx *c)
{
	struct mf_sess_ingress *in = obj;
	const char *name = NULL;
	unsigned int codec;
	int rc = get_str(val, &name, c);

	if (rc != 0)
		return rc;
	codec = mf_codec_parse(name);
	if (codec == MF_CODEC_NONE)
		return fail(c, MF_SESS_E_BAD_VALUE, "expected h264, h265, h265-donl, vp8, vp9 or av1");
	in->codecs[in->nb_codecs].pt = (uint8_t)pt;
	in->codecs[in->nb_codecs].codec = (uint8_t)codec;
	in->nb_codecs++;
	return 0;
}

static int
in_codecs(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	int rc = need_rtp(c);

	(void)f;
	return rc != 0 ? rc : pt_object(v, MF_SESS_MAX_CODECS, "codec", codec_entry, obj, c);
}

static const char *const kf_request_names[] = {
	[MF_KF_REQ_PLI] = "pli", [MF_KF_REQ_FIR] = "fir", [MF_KF_REQ_NONE] = "none",
};

static int
in_kf_request(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	const char *name = NULL;
	unsigned int i;
	int rc = need_rtp(c);

	(void)f;
	if (rc == 0)
		rc = get_str(v, &name, c);
	if (rc != 0)
		return rc;
	for (i = 0; i < sizeof(kf_request_names) / sizeof(kf_request_names[0]); i++) {
		if (strcmp(name, kf_request_names[i]) == 0) {
			((struct mf_sess_ingress *)obj)->kf_request = (uint8_t)i;
			return 0;
		}
	}
	return fail(c, MF_SESS_E_BAD_VALUE, "expected pli, fir or none");
}

static const struct field gop_fields[] = {
	INT_FIELD("max_frames", struct mf_sess_ingress, gop_max_frames, 1, 3000, false),
	INT_FIELD("max_bytes", struct mf_sess_ingress, gop_max_bytes, 1500, 64 << 20, false),
	INT_FIELD("max_ms", struct mf_sess_ingress, gop_max_ms, 100, 60000, false),
};

/* Key frames are found in RTP by the codec, in MPEG-TS by the PMT: not in plain UDP. */
static int
need_media(struct dctx *c)
{
	if (mf_sess_kind_is_rtp(c->kind) || mf_sess_kind_is_ts(c->kind))
		return 0;
	return fail(c, MF_SESS_E_BAD_VALUE, "only for RTP and MPEG-TS kinds, not \"%s\"",
		    mf_sess_kind_str(c->kind));
}

/* {"max_frames", "max_bytes", "max_ms"}, each with its default; null: no cache. */
static int
in_gop_cache(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	struct mf_sess_ingress *in = obj;
	int rc = need_media(c);

	(void)f;
	in->gop_max_frames = 0;
	if (rc != 0 || json_is_null(v))
		return rc;
	in->gop_max_frames = MF_GOP_MAX_FRAMES;
	in->gop_max_bytes = MF_GOP_MAX_BYTES;
	in->gop_max_ms = MF_GOP_MAX_MS;
	return decode_fields(v, gop_fields, sizeof(gop_fields) / sizeof(gop_fields[0]), in, c);
}

static int
in_srtp(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return srtp_params(v, &((struct mf_sess_ingress *)obj)->srtp, c);
}

static int
in_ice(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return ice_cred(v, &((struct mf_sess_ingress *)obj)->ice, c);
}

static int
in_dtls(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return dtls_cfg(v, &((struct mf_sess_ingress *)obj)->dtls, c);
}

static const struct field ingress_fields[] = {
	INT_FIELD("port", struct mf_sess_ingress, port, 0, MF_MAX_PORTS - 1, true),
	{ .name = "addr", .fn = in_addr, .required = true },
	INT_FIELD("udp_port", struct mf_sess_ingress, udp_port, 1, 65535, true),
	{ .name = "source", .fn = in_source },
	{ .name = "clock_rates", .fn = in_clock_rates },
	{ .name = "srtp", .fn = in_srtp },
	{ .name = "codecs", .fn = in_codecs },
	{ .name = "keyframe_request", .fn = in_kf_request },
	{ .name = "gop_cache", .fn = in_gop_cache },
	{ .name = "ice", .fn = in_ice },
	{ .name = "dtls", .fn = in_dtls },
};

/* ---- outputs ---- */

static int
out_id(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return get_ident(v, ((struct mf_sess_output *)obj)->id, MF_OUT_ID_MAX, c);
}

static int
out_addr(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return get_addr(v, &((struct mf_sess_output *)obj)->dst, c);
}

static int
need_rtp(struct dctx *c)
{
	if (mf_sess_kind_is_rtp(c->kind))
		return 0;
	return fail(c, MF_SESS_E_BAD_VALUE, "only for RTP kinds, not \"%s\"",
		    mf_sess_kind_str(c->kind));
}

static int
need_ts(struct dctx *c)
{
	if (mf_sess_kind_is_ts(c->kind))
		return 0;
	return fail(c, MF_SESS_E_BAD_VALUE, "only for MPEG-TS kinds, not \"%s\"",
		    mf_sess_kind_str(c->kind));
}

static int
out_ssrc(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	struct mf_sess_output *o = obj;
	long long x;
	int rc = need_rtp(c);

	(void)f;
	if (rc == 0)
		rc = get_int(v, 0, UINT32_MAX, &x, c);
	if (rc != 0)
		return rc;
	o->ssrc = (uint32_t)x;
	o->flags |= MF_OUT_F_SSRC;
	return 0;
}

static int
pt_map_entry(const json_t *val, int pt, void *obj, struct dctx *c)
{
	struct mf_sess_output *o = obj;
	long long x;
	int rc = get_int(val, 0, 127, &x, c);

	if (rc != 0)
		return rc;
	o->pt_map[o->nb_pt_map].from = (uint8_t)pt;
	o->pt_map[o->nb_pt_map].to = (uint8_t)x;
	o->nb_pt_map++;
	return 0;
}

static int
out_pt_map(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	int rc = need_rtp(c);

	(void)f;
	return rc != 0 ? rc : pt_object(v, MF_SESS_MAX_PT_MAP, "type", pt_map_entry, obj, c);
}

static int
out_pt_allow(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	struct mf_sess_output *o = obj;
	size_t i, old;
	long long x;
	int rc = need_rtp(c);

	(void)f;
	if (rc != 0)
		return rc;
	if (!json_is_array(v))
		return fail(c, MF_SESS_E_WRONG_TYPE, "expected an array of payload types");
	if (json_array_size(v) == 0)
		return fail(c, MF_SESS_E_RANGE, "an empty list would forward nothing");
	memset(o->pt_allow, 0, sizeof(o->pt_allow));
	for (i = 0; i < json_array_size(v); i++) {
		old = push_idx(c, i);
		rc = get_int(json_array_get(v, i), 0, 127, &x, c);
		if (rc != 0)
			return rc;
		o->pt_allow[x >> 3] |= (uint8_t)(1u << (x & 7));
		pop(c, old);
	}
	return 0;
}

static int
out_pids(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	struct mf_sess_output *o = obj;
	size_t i, j, old;
	long long x;
	int rc = need_ts(c);

	(void)f;
	if (rc != 0)
		return rc;
	if (!json_is_array(v))
		return fail(c, MF_SESS_E_WRONG_TYPE, "expected an array of PIDs");
	if (json_array_size(v) == 0 || json_array_size(v) > MF_SESS_MAX_PIDS)
		return fail(c, MF_SESS_E_RANGE, "1..%d PIDs", MF_SESS_MAX_PIDS);
	for (i = 0; i < json_array_size(v); i++) {
		old = push_idx(c, i);
		rc = get_int(json_array_get(v, i), 0, 8191, &x, c);
		if (rc != 0)
			return rc;
		for (j = 0; j < o->nb_pids; j++)
			if (o->pids[j] == x)
				return fail(c, MF_SESS_E_DUPLICATE, "PID %lld listed twice", x);
		o->pids[o->nb_pids++] = (uint16_t)x;
		pop(c, old);
	}
	return 0;
}

static int
out_flag(const json_t *v, struct mf_sess_output *o, uint8_t flag, struct dctx *c)
{
	bool b = false;
	int rc = get_bool(v, &b, c);

	if (rc != 0)
		return rc;
	if (b)
		o->flags |= flag;
	else
		o->flags &= (uint8_t)~flag;
	return 0;
}

static int
out_drop_null(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	int rc = need_ts(c);

	(void)f;
	return rc != 0 ? rc : out_flag(v, obj, MF_OUT_F_DROP_NULL, c);
}

static int
out_paused(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return out_flag(v, obj, MF_OUT_F_PAUSED, c);
}

static int
out_srtp(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return srtp_params(v, &((struct mf_sess_output *)obj)->srtp, c);
}

static int
out_start(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	struct mf_sess_output *o = obj;
	const char *name = NULL;
	int rc = get_str(v, &name, c);

	(void)f;
	if (rc != 0)
		return rc;
	if (strcmp(name, "immediate") == 0) {
		o->start = MF_OUT_START_IMMEDIATE;
		return 0;
	}
	if (strcmp(name, "keyframe") != 0 && strcmp(name, "gop") != 0)
		return fail(c, MF_SESS_E_BAD_VALUE, "expected immediate, keyframe or gop");
	rc = need_media(c);
	if (rc == 0)
		o->start = name[0] == 'k' ? MF_OUT_START_KEYFRAME : MF_OUT_START_GOP;
	return rc;
}

static const struct field nack_fields[] = {
	INT_FIELD("packets", struct mf_sess_output, nack_pkts, 16, 4096, false),
	INT_FIELD("buffer_ms", struct mf_sess_output, nack_buffer_ms, 10, 10000, false),
	INT_FIELD("rtt_ms", struct mf_sess_output, nack_rtt_ms, 1, 10000, false),
};

/* {"packets", "buffer_ms", "rtt_ms"}, each with its default; null turns NACK off. */
static int
out_nack(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	struct mf_sess_output *o = obj;
	int rc = need_rtp(c);

	(void)f;
	o->nack_pkts = 0;
	if (rc != 0 || json_is_null(v))
		return rc;
	o->nack_pkts = MF_NACK_PKTS;
	o->nack_buffer_ms = MF_NACK_BUFFER_MS;
	o->nack_rtt_ms = MF_NACK_RTT_MS;
	return decode_fields(v, nack_fields, sizeof(nack_fields) / sizeof(nack_fields[0]), o, c);
}

static int
out_receiver_srtp(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return srtp_params(v, &((struct mf_sess_output *)obj)->receiver_srtp, c);
}

static int
out_ice(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return ice_cred(v, &((struct mf_sess_output *)obj)->ice, c);
}

static int
out_dtls(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return dtls_cfg(v, &((struct mf_sess_output *)obj)->dtls, c);
}

/* "addr" and "udp_port" are required unless ICE nominates them. */
static const struct field output_fields[] = {
	{ .name = "id", .fn = out_id },
	INT_FIELD("port", struct mf_sess_output, port, 0, MF_MAX_PORTS - 1, true),
	{ .name = "addr", .fn = out_addr },
	INT_FIELD("udp_port", struct mf_sess_output, dst_port, 1, 65535, false),
	INT_FIELD("src_port", struct mf_sess_output, src_port, 0, 65535, false),
	{ .name = "ssrc", .fn = out_ssrc },
	{ .name = "pt_map", .fn = out_pt_map },
	{ .name = "pt_allow", .fn = out_pt_allow },
	{ .name = "pids", .fn = out_pids },
	{ .name = "drop_null", .fn = out_drop_null },
	{ .name = "srtp", .fn = out_srtp },
	{ .name = "paused", .fn = out_paused },
	{ .name = "start", .fn = out_start },
	{ .name = "nack", .fn = out_nack },
	{ .name = "receiver_srtp", .fn = out_receiver_srtp },
	{ .name = "ice", .fn = out_ice },
	{ .name = "dtls", .fn = out_dtls },
};

static int
decode_output(const json_t *v, struct mf_sess_output *o, struct dctx *c)
{
	const char *missing = NULL;
	int rc;

	memset(o, 0, sizeof(*o));
	memset(o->pt_allow, 0xff, sizeof(o->pt_allow));
	rc = decode_fields(v, output_fields, sizeof(output_fields) / sizeof(output_fields[0]),
			   o, c);
	if (rc == 0)
		rc = dtls_check(v, &o->dtls, &o->ice, o->srtp.suite != MF_SRTP_NONE ||
				o->receiver_srtp.suite != MF_SRTP_NONE, c);
	if (rc != 0 || o->ice.ufrag[0] != '\0')
		return rc;
	if (o->dst.family == 0)
		missing = "addr";
	else if (o->dst_port == 0)
		missing = "udp_port";
	if (missing == NULL)
		return 0;
	push_key(c, missing);
	return fail(c, MF_SESS_E_MISSING, "\"%s\" is required (unless \"ice\" nominates it)",
		    missing);
}

static int
outputs(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	struct mf_sess_spec *s = obj;
	size_t i, j, old;
	int rc;

	(void)f;
	if (!json_is_array(v))
		return fail(c, MF_SESS_E_WRONG_TYPE, "expected an array, got %s", type_name(v));
	if (json_array_size(v) > MF_SESS_MAX_OUTPUTS)
		return fail(c, MF_SESS_E_TOO_MANY, "at most %d outputs", MF_SESS_MAX_OUTPUTS);
	for (i = 0; i < json_array_size(v); i++) {
		struct mf_sess_output *o = &s->outputs[i];

		old = push_idx(c, i);
		rc = decode_output(json_array_get(v, i), o, c);
		if (rc != 0)
			return rc;
		if (o->id[0] == '\0')
			snprintf(o->id, sizeof(o->id), "%u", (unsigned int)i);
		for (j = 0; j < i; j++) {
			if (strcmp(s->outputs[j].id, o->id) == 0) {
				push_key(c, "id");
				return fail(c, MF_SESS_E_DUPLICATE, "output id \"%s\" used twice",
					    o->id);
			}
		}
		s->nb_outputs = (uint8_t)(i + 1);
		pop(c, old);
	}
	return 0;
}

/* ---- limits and the root ---- */

static const struct field limits_fields[] = {
	INT_FIELD("idle_timeout_ms", struct mf_sess_limits, idle_timeout_ms, 0, 86400000, false),
	INT_FIELD("timeout_s", struct mf_sess_limits, timeout_s, 0, 31536000, false),
	INT_FIELD("max_kbps", struct mf_sess_limits, max_kbps, 0, MF_SESS_MAX_KBPS, false),
	INT_FIELD("keyframe_interval_ms", struct mf_sess_limits, keyframe_interval_ms, 100,
		  60000, false),
};

static int
limits(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return decode_fields(v, limits_fields, sizeof(limits_fields) / sizeof(limits_fields[0]),
			     &((struct mf_sess_spec *)obj)->limits, c);
}

static int
ingress(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	struct mf_sess_spec *s = obj;
	int rc;

	(void)f;
	rc = decode_fields(v, ingress_fields, sizeof(ingress_fields) / sizeof(ingress_fields[0]),
			   &s->ingress, c);
	if (rc == 0)
		rc = dtls_check(v, &s->ingress.dtls, &s->ingress.ice,
				s->ingress.srtp.suite != MF_SRTP_NONE, c);
	if (rc != 0)
		return rc;
	if (s->ingress.ice.ufrag[0] != '\0') {
		if (json_object_get(v, "source") != NULL) {
			push_key(c, "source");
			return fail(c, MF_SESS_E_BAD_VALUE,
				    "with \"ice\" the source is the pair the peer nominates");
		}
		s->ingress.src_mode = MF_SRC_ICE;
	}
	/* RTCP takes the next port up, so the RTP port must leave room for it. */
	if (s->kind == MF_SESS_RTP && s->ingress.udp_port == 65535) {
		push_key(c, "udp_port");
		return fail(c, MF_SESS_E_RANGE, "kind \"rtp\" needs udp_port + 1 for RTCP");
	}
	return 0;
}

static int
sess_id(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	(void)f;
	return get_ident(v, ((struct mf_sess_spec *)obj)->id, MF_SESS_ID_MAX, c);
}

static int
kind_of(const json_t *v, unsigned int *kind)
{
	unsigned int k;

	if (!json_is_string(v))
		return -EINVAL;
	for (k = MF_SESS_RTP; k <= MF_SESS_UDP; k++) {
		if (strcmp(json_string_value(v), mf_sess_kind_str(k)) == 0) {
			*kind = k;
			return 0;
		}
	}
	return -EINVAL;
}

static int
sess_kind(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	unsigned int k;
	const char *s = NULL;
	int rc = get_str(v, &s, c);

	(void)f;
	if (rc != 0)
		return rc;
	if (kind_of(v, &k) != 0)
		return fail(c, MF_SESS_E_BAD_VALUE,
			    "expected rtp, rtp-mux, mpegts, rtp-mpegts or udp");
	((struct mf_sess_spec *)obj)->kind = (uint8_t)k;
	return 0;
}

static int
sess_blocked(const json_t *v, void *obj, const struct field *f, struct dctx *c)
{
	struct mf_sess_spec *s = obj;
	bool b = false;
	int rc = get_bool(v, &b, c);

	(void)f;
	if (rc == 0)
		s->flags = b ? (uint8_t)(s->flags | MF_SESS_F_BLOCKED) :
			       (uint8_t)(s->flags & ~MF_SESS_F_BLOCKED);
	return rc;
}

static const struct field root_fields[] = {
	{ .name = "id", .fn = sess_id, .required = true },
	{ .name = "blocked", .fn = sess_blocked },
	{ .name = "kind", .fn = sess_kind, .required = true },
	{ .name = "ingress", .fn = ingress, .required = true },
	{ .name = "outputs", .fn = outputs },
	{ .name = "limits", .fn = limits },
};

/* An output that starts on a key frame needs to know the codec of what it waits for; one
 * that starts with the GOP cache, the cache (whose key frames need the codec too). */
static int
check_keyframe_outputs(const struct mf_sess_spec *spec, struct dctx *c)
{
	const struct mf_sess_ingress *in = &spec->ingress;
	/* MPEG-TS finds its video in the PMT; RTP needs the codec of each payload type. */
	bool codec_known = in->nb_codecs > 0 || mf_sess_kind_is_ts(spec->kind);
	unsigned int i;

	if (in->gop_max_frames != 0 && !codec_known) {
		push_key(c, "ingress");
		push_key(c, "gop_cache");
		return fail(c, MF_SESS_E_BAD_VALUE, "needs ingress.codecs (the video's codec)");
	}
	for (i = 0; i < spec->nb_outputs; i++) {
		uint8_t st = spec->outputs[i].start;

		if ((st == MF_OUT_START_KEYFRAME && !codec_known) ||
		    (st == MF_OUT_START_GOP && in->gop_max_frames == 0)) {
			push_key(c, "outputs");
			push_idx(c, i);
			push_key(c, "start");
			return fail(c, MF_SESS_E_BAD_VALUE, st == MF_OUT_START_GOP ?
				    "\"gop\" needs ingress.gop_cache" :
				    "\"keyframe\" needs ingress.codecs (the video's codec)");
		}
	}
	return 0;
}

int
mf_sess_from_json(const json_t *root, struct mf_sess_spec *spec, struct mf_sess_err *err)
{
	struct dctx c = { .err = err };
	int rc;

	memset(spec, 0, sizeof(*spec));
	spec->limits.keyframe_interval_ms = MF_SESS_KF_INTERVAL_MS;
	if (err != NULL)
		memset(err, 0, sizeof(*err));
	/* Fields such as srtp depend on the kind wherever it stands in the object. */
	if (json_is_object(root) && kind_of(json_object_get(root, "kind"), &c.kind) == 0)
		spec->kind = (uint8_t)c.kind;
	rc = decode_fields(root, root_fields, sizeof(root_fields) / sizeof(root_fields[0]), spec,
			   &c);
	if (rc == 0)
		rc = check_keyframe_outputs(spec, &c);
	if (rc != 0)	/* the output being read when it failed is past nb_outputs */
		mf_sess_wipe_keys_n(spec, MF_SESS_MAX_OUTPUTS);
	return rc;
}

int
mf_sess_from_text(const char *text, size_t len, struct mf_sess_spec *spec,
		  struct mf_sess_err *err)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		memset(spec, 0, sizeof(*spec));
		if (err != NULL) {
			err->code = MF_SESS_E_BAD_JSON;
			snprintf(err->path, sizeof(err->path), "$");
			snprintf(err->msg, sizeof(err->msg), "line %d column %d: %s", jerr.line,
				 jerr.column, jerr.text);
		}
		return -EINVAL;
	}
	rc = mf_sess_from_json(root, spec, err);
	json_decref(root);
	return rc;
}

int
mf_sess_output_from_json(const json_t *obj, unsigned int kind, struct mf_sess_output *out,
			 struct mf_sess_err *err)
{
	struct dctx c = { .err = err, .kind = kind };
	int rc;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	rc = decode_output(obj, out, &c);
	if (rc != 0)	/* nothing of it stays: its keys and passwords included */
		explicit_bzero(out, sizeof(*out));
	return rc;
}

int
mf_srtp_params_from_json(const json_t *v, unsigned int kind, struct mf_srtp_params *out,
			 struct mf_sess_err *err)
{
	struct dctx c = { .err = err, .kind = kind };

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	memset(out, 0, sizeof(*out));
	if (json_is_null(v))
		return 0;
	return srtp_params(v, out, &c);
}

/* ---- encoder ---- */

static json_t *
addr_json(const struct mf_addr *a)
{
	char buf[64];

	return json_string(mf_addr_str(a, buf, sizeof(buf)));
}

static json_t *
srtp_json(const struct mf_srtp_params *p, unsigned int flags)
{
	uint8_t raw[MF_SRTP_MAX_KEY + MF_SRTP_MAX_SALT];
	char b64[80];
	json_t *o;

	o = json_pack("{s:s}", "suite", mf_srtp_suite_str(p->suite));
	if (o == NULL)
		return NULL;
	if (p->roc != 0)
		json_object_set_new(o, "roc", json_integer(p->roc));
	if (flags & MF_SESS_JSON_KEYS) {
		memcpy(raw, p->key, p->key_len);
		memcpy(raw + p->key_len, p->salt, p->salt_len);
		mf_base64_encode(raw, (size_t)p->key_len + p->salt_len, b64, sizeof(b64));
		json_object_set_new(o, "key", json_string(b64));
		explicit_bzero(raw, sizeof(raw));
		explicit_bzero(b64, sizeof(b64));
	}
	return o;
}

static json_t *
ice_json(const struct mf_ice_cred *ice, unsigned int flags)
{
	json_t *o = json_pack("{s:s, s:s, s:i}", "ufrag", ice->ufrag, "remote_ufrag",
			      ice->remote_ufrag, "consent_timeout_ms",
			      (json_int_t)ice->consent_timeout_ms);

	if (o != NULL && (flags & MF_SESS_JSON_KEYS))
		json_object_set_new(o, "pwd", json_string(ice->pwd));
	return o;
}

static json_t *
dtls_json(const struct mf_dtls_cfg *d)
{
	char fp[MF_DTLS_FP_STR];

	mf_dtls_fingerprint_str(d->fingerprint, fp);
	return json_pack("{s:s}", "fingerprint", fp);
}

static json_t *
ingress_json(const struct mf_sess_spec *s, unsigned int flags)
{
	const struct mf_sess_ingress *in = &s->ingress;
	json_t *o, *rates;
	unsigned int i;
	char pt[8];

	o = json_pack("{s:i, s:o, s:i}", "port", in->port, "addr", addr_json(&in->local),
		      "udp_port", in->udp_port);
	if (o == NULL)
		return NULL;
	if (in->dtls.on)
		json_object_set_new(o, "dtls", dtls_json(&in->dtls));
	if (in->ice.ufrag[0] != '\0') {
		json_object_set_new(o, "ice", ice_json(&in->ice, flags));
	} else if (in->src_mode == MF_SRC_FIXED) {
		json_t *src = json_pack("{s:o}", "addr", addr_json(&in->src));

		if (in->src_port != 0)
			json_object_set_new(src, "port", json_integer(in->src_port));
		json_object_set_new(o, "source", src);
	} else {
		json_object_set_new(o, "source",
				    json_string(in->src_mode == MF_SRC_LATCH ? "latch" : "any"));
	}
	if (in->nb_clock > 0) {
		rates = json_object();
		for (i = 0; i < in->nb_clock; i++) {
			snprintf(pt, sizeof(pt), "%u", in->clock[i].pt);
			json_object_set_new(rates, pt, json_integer(in->clock[i].rate));
		}
		json_object_set_new(o, "clock_rates", rates);
	}
	if (in->srtp.suite != MF_SRTP_NONE)
		json_object_set_new(o, "srtp", srtp_json(&in->srtp, flags));
	if (in->nb_codecs > 0) {
		rates = json_object();
		for (i = 0; i < in->nb_codecs && i < MF_SESS_MAX_CODECS; i++) {
			snprintf(pt, sizeof(pt), "%u", in->codecs[i].pt);
			json_object_set_new(rates, pt, json_string(mf_codec_str(in->codecs[i].codec)));
		}
		json_object_set_new(o, "codecs", rates);
	}
	if (in->gop_max_frames != 0)
		json_object_set_new(o, "gop_cache", json_pack("{s:i, s:i, s:i}", "max_frames",
							      in->gop_max_frames, "max_bytes",
							      (json_int_t)in->gop_max_bytes,
							      "max_ms", (json_int_t)in->gop_max_ms));
	if (in->kf_request != MF_KF_REQ_PLI && in->kf_request < 3)
		json_object_set_new(o, "keyframe_request",
				    json_string(kf_request_names[in->kf_request]));
	return o;
}

static void
output_rtp_json(json_t *o, const struct mf_sess_output *out)
{
	unsigned int i;
	json_t *a;
	char pt[8];

	if (out->flags & MF_OUT_F_SSRC)
		json_object_set_new(o, "ssrc", json_integer(out->ssrc));
	if (out->nb_pt_map > 0) {
		a = json_object();
		for (i = 0; i < out->nb_pt_map; i++) {
			snprintf(pt, sizeof(pt), "%u", out->pt_map[i].from);
			json_object_set_new(a, pt, json_integer(out->pt_map[i].to));
		}
		json_object_set_new(o, "pt_map", a);
	}
	if (!mf_sess_output_pt_all(out)) {
		a = json_array();
		for (i = 0; i < 128; i++)
			if (out->pt_allow[i >> 3] & (1u << (i & 7)))
				json_array_append_new(a, json_integer(i));
		json_object_set_new(o, "pt_allow", a);
	}
}

json_t *
mf_sess_output_to_json(const struct mf_sess_output *out, unsigned int kind, unsigned int flags)
{
	unsigned int i;
	json_t *o, *a;

	o = json_pack("{s:s, s:i}", "id", out->id, "port", out->port);
	if (o == NULL)
		return NULL;
	if (out->dst.family != 0) {	/* an ICE output has none until its peer nominates */
		json_object_set_new(o, "addr", addr_json(&out->dst));
		json_object_set_new(o, "udp_port", json_integer(out->dst_port));
	}
	json_object_set_new(o, "paused", json_boolean(out->flags & MF_OUT_F_PAUSED));
	if (out->ice.ufrag[0] != '\0')
		json_object_set_new(o, "ice", ice_json(&out->ice, flags));
	if (out->dtls.on)
		json_object_set_new(o, "dtls", dtls_json(&out->dtls));
	if (out->src_port != 0)
		json_object_set_new(o, "src_port", json_integer(out->src_port));
	if (mf_sess_kind_is_rtp(kind))
		output_rtp_json(o, out);
	if (out->start != MF_OUT_START_IMMEDIATE)
		json_object_set_new(o, "start", json_string(out->start == MF_OUT_START_GOP ? "gop" :
							     "keyframe"));
	if (out->nack_pkts != 0)
		json_object_set_new(o, "nack", json_pack("{s:i, s:i, s:i}", "packets",
							 out->nack_pkts, "buffer_ms",
							 out->nack_buffer_ms, "rtt_ms",
							 out->nack_rtt_ms));
	if (mf_sess_kind_is_ts(kind)) {
		if (out->nb_pids > 0) {
			a = json_array();
			for (i = 0; i < out->nb_pids; i++)
				json_array_append_new(a, json_integer(out->pids[i]));
			json_object_set_new(o, "pids", a);
		}
		if (out->flags & MF_OUT_F_DROP_NULL)
			json_object_set_new(o, "drop_null", json_true());
	}
	if (out->srtp.suite != MF_SRTP_NONE)
		json_object_set_new(o, "srtp", srtp_json(&out->srtp, flags));
	if (out->receiver_srtp.suite != MF_SRTP_NONE)
		json_object_set_new(o, "receiver_srtp", srtp_json(&out->receiver_srtp, flags));
	return o;
}

json_t *
mf_sess_to_json(const struct mf_sess_spec *s, unsigned int flags)
{
	json_t *root, *outs;
	unsigned int i;

	outs = json_array();
	for (i = 0; i < s->nb_outputs && i < MF_SESS_MAX_OUTPUTS; i++)
		json_array_append_new(outs, mf_sess_output_to_json(&s->outputs[i], s->kind, flags));
	root = json_pack("{s:s, s:s, s:o, s:o, s:{s:i, s:i, s:i, s:i}}", "id", s->id, "kind",
			 mf_sess_kind_str(s->kind), "ingress", ingress_json(s, flags), "outputs",
			 outs, "limits", "idle_timeout_ms", s->limits.idle_timeout_ms,
			 "timeout_s", s->limits.timeout_s, "max_kbps", s->limits.max_kbps,
			 "keyframe_interval_ms", s->limits.keyframe_interval_ms);
	if (root != NULL && (s->flags & MF_SESS_F_BLOCKED))
		json_object_set_new(root, "blocked", json_true());
	return root;
}
