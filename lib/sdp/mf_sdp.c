/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SDP offers from untrusted peers, and mfwd's answers. The parser copies each line (at most
 * MF_SDP_MAX_LINE bytes) into a NUL-terminated buffer and reads it with bounded string
 * functions; every array it fills has a bound that is checked before the write. What mfwd
 * does not use is skipped, what it cannot answer is refused naming the line.
 */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mf/mf_keyframe.h"
#include "mf/mf_sdp.h"

struct pctx {
	struct mf_sdp *sdp;
	struct mf_sdp_err *err;
	struct mf_sdp_media *m;		/* the m-section being read; NULL: session level */
	unsigned int line;
	size_t line_off;		/* where c->buf's line starts in the text */
	unsigned int nb_lines;		/* lines read: v, o, s come first */
	bool seen_t;
	bool seen_group;
	char bundle[MF_SDP_MAX_MEDIA][MF_SDP_MID_MAX];	/* the group's mids, resolved at the end */
	uint8_t bundle_line;
	char buf[MF_SDP_MAX_LINE + 1];
};

static const struct {
	const char *name;
	uint8_t kind;
	uint32_t clock;
	uint8_t channels;
} codecs[MF_SDP_C_MAX] = {
	[MF_SDP_C_H264] = { "H264", MF_SDP_VIDEO, 90000, 0 },
	[MF_SDP_C_VP8] = { "VP8", MF_SDP_VIDEO, 90000, 0 },
	[MF_SDP_C_VP9] = { "VP9", MF_SDP_VIDEO, 90000, 0 },
	[MF_SDP_C_AV1] = { "AV1", MF_SDP_VIDEO, 90000, 0 },
	[MF_SDP_C_OPUS] = { "opus", MF_SDP_AUDIO, 48000, 2 },
	[MF_SDP_C_PCMU] = { "PCMU", MF_SDP_AUDIO, 8000, 1 },
	[MF_SDP_C_PCMA] = { "PCMA", MF_SDP_AUDIO, 8000, 1 },
};

static int
fail(struct pctx *c, int rc, const char *fmt, ...)
{
	char why[MF_SDP_ERR_MAX - 72];	/* the rest: "line N (the line...): " */
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	c->err->line = c->line;
	/* The line itself, cut short: the operator sees what was refused. */
	snprintf(c->err->msg, sizeof(c->err->msg), "line %u (%.48s%s): %s", c->line, c->buf,
		 strlen(c->buf) > 48 ? "..." : "", why);
	return rc;
}

const char *
mf_sdp_codec_name(unsigned int codec)
{
	return codec < MF_SDP_C_MAX && codecs[codec].name != NULL ? codecs[codec].name : "";
}

unsigned int
mf_sdp_codec_kf(unsigned int codec)
{
	switch (codec) {
	case MF_SDP_C_H264: return MF_CODEC_H264;
	case MF_SDP_C_VP8: return MF_CODEC_VP8;
	case MF_SDP_C_VP9: return MF_CODEC_VP9;
	case MF_SDP_C_AV1: return MF_CODEC_AV1;
	default: return MF_CODEC_NONE;
	}
}

/* A decimal number of at most @p max, the whole of [s, end). */
static int
num(const char *s, const char *end, unsigned long max, unsigned long *v)
{
	unsigned long n = 0;

	if (s == end || end - s > 10)
		return -EINVAL;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		n = n * 10 + (unsigned long)(*s - '0');
	}
	if (n > max)
		return -EINVAL;
	*v = n;
	return 0;
}

/* The next space-separated token of *s: [tok, *s); false when there is none. */
static bool
token(const char **s, const char **tok)
{
	const char *p = *s;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		return false;
	*tok = p;
	while (*p != ' ' && *p != '\0')
		p++;
	*s = p;
	return true;
}

/* RFC 8445 §15.4 ice-char: ALPHA / DIGIT / "+" / "/". */
static bool
ice_chars(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s), i;

	if (n < min || n > max)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
			return false;
	return true;
}

/* RFC 8866 token-char, as a=mid and group members use it. */
static bool
token_chars(const char *s, size_t n)
{
	static const char extra[] = "!#$%&'*+-.^_`{|}~";
	size_t i;

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && (s[i] == '\0' || !strchr(extra, s[i])))
			return false;
	return n > 0;
}

static int
copy_token(struct pctx *c, char *dst, size_t cap, const char *s, size_t n, const char *what)
{
	if (n == 0 || n >= cap)
		return fail(c, -EINVAL, "%s of %zu characters (at most %zu)", what, n, cap - 1);
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

static struct mf_sdp_fmt *
fmt_of(struct mf_sdp_media *m, unsigned long pt)
{
	unsigned int i;

	for (i = 0; i < m->nb_fmt; i++)
		if (m->fmt[i].pt == pt)
			return &m->fmt[i];
	return NULL;
}

/* "<pt> <rest>" of rtpmap, fmtp and rtcp-fb: the format it names ('*': NULL, all). */
static int
attr_fmt(struct pctx *c, const char **v, struct mf_sdp_fmt **f, bool star)
{
	const char *sp = strchr(*v, ' ');
	unsigned long pt;

	if (c->m == NULL || c->m->kind == MF_SDP_APPLICATION)
		return fail(c, -EINVAL, "a payload type's attribute outside an RTP m-section");
	if (sp == NULL)
		return fail(c, -EINVAL, "a payload type and a value expected");
	if (star && sp - *v == 1 && **v == '*') {
		*f = NULL;
	} else {
		if (num(*v, sp, 127, &pt) != 0)
			return fail(c, -EINVAL, "payload type not a number 0..127");
		*f = fmt_of(c->m, pt);
		if (*f == NULL)
			return fail(c, -EINVAL, "payload type %lu is not on the m= line", pt);
	}
	*v = sp + 1;
	return 0;
}

static int
a_rtpmap(struct pctx *c, const char *v)
{
	struct mf_sdp_fmt *f;
	const char *slash, *slash2;
	unsigned long clock, ch = 1;
	unsigned int i;
	int rc = attr_fmt(c, &v, &f, false);

	if (rc != 0)
		return rc;
	if (f->has_rtpmap)
		return fail(c, -EINVAL, "a second rtpmap for payload type %u", f->pt);
	slash = strchr(v, '/');
	if (slash == NULL || slash == v)
		return fail(c, -EINVAL, "encoding/clock rate expected");
	slash2 = strchr(slash + 1, '/');
	if (num(slash + 1, slash2 != NULL ? slash2 : slash + 1 + strlen(slash + 1), 4000000000ul,
		&clock) != 0 || clock == 0 ||
	    (slash2 != NULL && (num(slash2 + 1, slash2 + 1 + strlen(slash2 + 1), 8, &ch) != 0 ||
				ch == 0)))
		return fail(c, -EINVAL, "clock rate or channels not a number");
	f->has_rtpmap = true;
	f->clock = (uint32_t)clock;
	f->channels = (uint8_t)ch;
	f->codec = MF_SDP_C_OTHER;
	for (i = 1; i < MF_SDP_C_MAX; i++)
		if ((size_t)(slash - v) == strlen(codecs[i].name) &&
		    strncasecmp(v, codecs[i].name, (size_t)(slash - v)) == 0 &&
		    codecs[i].kind == c->m->kind && codecs[i].clock == clock &&
		    (codecs[i].channels == 0 || codecs[i].channels == ch))
			f->codec = (uint8_t)i;
	return 0;
}

/* The fmtp parameters mfwd matches on; the rest is echoed in the answer as offered. */
static void
fmtp_param(struct mf_sdp_fmt *f, const char *k, size_t kn, const char *val, size_t vn)
{
	char hex[3] = { 0 };

	if (kn == 18 && strncasecmp(k, "packetization-mode", kn) == 0 && vn == 1 &&
	    (val[0] == '0' || val[0] == '1'))
		f->h264_mode = (uint8_t)(val[0] - '0');
	else if (kn == 16 && strncasecmp(k, "profile-level-id", kn) == 0 && vn == 6 &&
		 isxdigit((unsigned char)val[0]) && isxdigit((unsigned char)val[1])) {
		memcpy(hex, val, 2);
		f->profile = (uint8_t)strtoul(hex, NULL, 16);
	} else if (((kn == 10 && strncasecmp(k, "profile-id", kn) == 0) ||
		    (kn == 7 && strncasecmp(k, "profile", kn) == 0)) && vn == 1 &&
		   val[0] >= '0' && val[0] <= '9')
		f->profile = (uint8_t)(val[0] - '0');
}

static int
a_fmtp(struct pctx *c, const char *v)
{
	struct mf_sdp_fmt *f;
	const char *p, *eq, *end;
	int rc = attr_fmt(c, &v, &f, false);

	if (rc != 0)
		return rc;
	if (f->fmtp_len != 0)
		return fail(c, -EINVAL, "a second fmtp for payload type %u", f->pt);
	if (*v == '\0')
		return fail(c, -EINVAL, "empty format parameters");
	f->fmtp_off = (uint32_t)(c->line_off + (size_t)(v - c->buf));	/* v is in c->buf */
	f->fmtp_len = (uint16_t)strlen(v);
	for (p = v; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		while (*p == ' ')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL)
			fmtp_param(f, p, (size_t)(eq - p), eq + 1, (size_t)(end - eq - 1));
	}
	return 0;
}

static int
a_rtcp_fb(struct pctx *c, const char *v)
{
	struct mf_sdp_fmt *f;
	uint8_t bit = 0;
	unsigned int i;
	int rc = attr_fmt(c, &v, &f, true);

	if (rc != 0)
		return rc;
	if (strcmp(v, "nack") == 0)
		bit = MF_SDP_FB_NACK;
	else if (strcmp(v, "nack pli") == 0)
		bit = MF_SDP_FB_PLI;
	else if (strcmp(v, "ccm fir") == 0)
		bit = MF_SDP_FB_FIR;
	if (f != NULL)
		f->fb |= bit;
	else
		for (i = 0; i < c->m->nb_fmt; i++)
			c->m->fmt[i].fb |= bit;
	return 0;
}

static int
a_ssrc(struct pctx *c, const char *v)
{
	const char *sp = strchr(v, ' ');
	unsigned long ssrc;
	unsigned int i;

	if (c->m == NULL)
		return fail(c, -EINVAL, "a=ssrc outside an m-section");
	if (num(v, sp != NULL ? sp : v + strlen(v), 0xfffffffful, &ssrc) != 0)
		return fail(c, -EINVAL, "SSRC not a number 0..4294967295");
	for (i = 0; i < c->m->nb_ssrc; i++)
		if (c->m->ssrc[i] == ssrc)
			return 0;
	if (c->m->nb_ssrc == MF_SDP_MAX_SSRC)
		return fail(c, -E2BIG, "more than %d SSRCs in one m-section", MF_SDP_MAX_SSRC);
	c->m->ssrc[c->m->nb_ssrc++] = (uint32_t)ssrc;
	return 0;
}

static int
a_group(struct pctx *c, const char *v)
{
	const char *tok;
	unsigned int n = 0;

	if (c->m != NULL)
		return fail(c, -EINVAL, "a=group in an m-section");
	if (strncmp(v, "BUNDLE", 6) != 0 || (v[6] != ' ' && v[6] != '\0'))
		return 0;	/* LS, FID...: nothing mfwd answers */
	if (c->seen_group)
		return fail(c, -EINVAL, "a second BUNDLE group (mfwd answers one transport)");
	c->seen_group = true;
	c->bundle_line = (uint8_t)(c->line < 255 ? c->line : 255);
	v += 6;
	while (token(&v, &tok)) {
		if (n == MF_SDP_MAX_MEDIA)
			return fail(c, -E2BIG, "more than %d mids", MF_SDP_MAX_MEDIA);
		if (!token_chars(tok, (size_t)(v - tok)) ||
		    copy_token(c, c->bundle[n], MF_SDP_MID_MAX, tok, (size_t)(v - tok), "mid") != 0)
			return fail(c, -EINVAL, "a mid of 1..32 token characters expected");
		n++;
	}
	c->sdp->nb_bundle = (uint8_t)n;
	return 0;
}

static int
a_fingerprint(struct pctx *c, const char *v)
{
	uint8_t *fp = c->m != NULL ? c->m->fingerprint : c->sdp->fingerprint;
	bool *set = c->m != NULL ? &c->m->fingerprint_set : &c->sdp->fingerprint_set;

	/* RFC 8122 allows several; mfwd checks the SHA-256 one and skips other hashes. */
	if (strncasecmp(v, "sha-256 ", 8) != 0)
		return 0;
	if (*set)
		return fail(c, -EINVAL, "a second sha-256 fingerprint");
	if (mf_dtls_fingerprint_parse(v, fp) != 0)
		return fail(c, -EINVAL, "a SHA-256 fingerprint is 32 hex pairs separated by colons");
	*set = true;
	return 0;
}

static int
a_setup(struct pctx *c, const char *v)
{
	static const char *const names[] = { [MF_SDP_SETUP_ACTPASS] = "actpass",
		[MF_SDP_SETUP_ACTIVE] = "active", [MF_SDP_SETUP_PASSIVE] = "passive",
		[MF_SDP_SETUP_HOLDCONN] = "holdconn" };
	unsigned int i;

	for (i = MF_SDP_SETUP_ACTPASS; i <= MF_SDP_SETUP_HOLDCONN; i++)
		if (strcmp(v, names[i]) == 0) {
			*(c->m != NULL ? &c->m->setup : &c->sdp->setup) = (uint8_t)i;
			return 0;
		}
	return fail(c, -EINVAL, "setup is actpass, active, passive or holdconn");
}

static int
a_ice(struct pctx *c, const char *name, const char *v)
{
	if (strcmp(name, "ice-ufrag") == 0) {
		if (!ice_chars(v, 4, MF_ICE_UFRAG_MAX - 1))
			return fail(c, -EINVAL, "ice-ufrag is 4..%d ice-chars here",
				    MF_ICE_UFRAG_MAX - 1);
		snprintf(c->m != NULL ? c->m->ufrag : c->sdp->ufrag, MF_ICE_UFRAG_MAX, "%s", v);
		return 0;
	}
	if (!ice_chars(v, 22, 256))
		return fail(c, -EINVAL, "ice-pwd is 22..256 ice-chars");
	*(c->m != NULL ? &c->m->pwd_set : &c->sdp->pwd_set) = true;
	return 0;
}

static int
a_mid(struct pctx *c, const char *v)
{
	unsigned int i;

	if (c->m == NULL)
		return fail(c, -EINVAL, "a=mid outside an m-section");
	if (c->m->mid[0] != '\0')
		return fail(c, -EINVAL, "a second a=mid");
	if (!token_chars(v, strlen(v)) ||
	    copy_token(c, c->m->mid, MF_SDP_MID_MAX, v, strlen(v), "mid") != 0)
		return fail(c, -EINVAL, "a mid of 1..32 token characters expected");
	for (i = 0; i + 1 < c->sdp->nb_media; i++)
		if (strcmp(c->sdp->media[i].mid, v) == 0)
			return fail(c, -EINVAL, "mid %s is used twice", v);
	return 0;
}

static bool
flag(struct pctx *c, const char *name)
{
	static const char *const dirs[] = { "sendrecv", "sendonly", "recvonly", "inactive" };
	unsigned int i;

	if (c->m == NULL)
		return strcmp(name, "ice-lite") == 0 && (c->sdp->ice_lite = true);
	for (i = 0; i < 4; i++)
		if (strcmp(name, dirs[i]) == 0) {
			c->m->dir = (uint8_t)i;
			return true;
		}
	if (strcmp(name, "rtcp-mux") == 0)
		return (c->m->rtcp_mux = true);
	if (strcmp(name, "rtcp-rsize") == 0)
		return (c->m->rtcp_rsize = true);
	if (strcmp(name, "bundle-only") == 0)
		return (c->m->bundle_only = true);
	return false;
}

/* a=<name>[:<value>] */
static int
attribute(struct pctx *c, char *a)
{
	char *colon = strchr(a, ':');
	const char *v = colon != NULL ? colon + 1 : NULL;

	if (colon != NULL)
		*colon = '\0';
	if (!token_chars(a, strlen(a)))
		return fail(c, -EINVAL, "an attribute name of token characters expected");
	if (v == NULL) {
		/* Session-level direction attributes and other flags mfwd does not need. */
		flag(c, a);
		return 0;
	}
	if (strcmp(a, "rtpmap") == 0)
		return a_rtpmap(c, v);
	if (strcmp(a, "fmtp") == 0)
		return a_fmtp(c, v);
	if (strcmp(a, "rtcp-fb") == 0)
		return a_rtcp_fb(c, v);
	if (strcmp(a, "ssrc") == 0)
		return a_ssrc(c, v);
	if (strcmp(a, "group") == 0)
		return a_group(c, v);
	if (strcmp(a, "fingerprint") == 0)
		return a_fingerprint(c, v);
	if (strcmp(a, "setup") == 0)
		return a_setup(c, v);
	if (strcmp(a, "ice-ufrag") == 0 || strcmp(a, "ice-pwd") == 0)
		return a_ice(c, a, v);
	if (strcmp(a, "mid") == 0)
		return a_mid(c, v);
	if (strcmp(a, "crypto") == 0 && c->m != NULL)
		c->m->crypto = true;
	return 0;	/* candidates, extmap, msid, ssrc-group...: not used by mfwd */
}

static int
mline_fmts(struct pctx *c, struct mf_sdp_media *m, const char *s)
{
	const char *tok;
	unsigned long pt;

	if (m->kind == MF_SDP_APPLICATION || strstr(m->proto, "RTP/") == NULL)
		return 0;	/* not RTP: rejected in the answer, formats not read */
	while (token(&s, &tok)) {
		if (num(tok, s, 127, &pt) != 0)
			return fail(c, -EINVAL, "RTP payload types are numbers 0..127");
		if (fmt_of(m, pt) != NULL)
			return fail(c, -EINVAL, "payload type %lu listed twice", pt);
		if (m->nb_fmt == MF_SDP_MAX_FMT)
			return fail(c, -E2BIG, "more than %d payload types", MF_SDP_MAX_FMT);
		m->fmt[m->nb_fmt++] = (struct mf_sdp_fmt){ .pt = (uint8_t)pt };
	}
	return 0;
}

/* m=<media> <port>[/<n>] <proto> <fmt> ... */
static int
mline(struct pctx *c, const char *s)
{
	const char *media, *port, *proto, *fmt0, *rest, *slash;
	struct mf_sdp_media *m;
	unsigned long p;

	if (!c->seen_t)
		return fail(c, -EINVAL, "m= before t=");
	if (c->sdp->nb_media == MF_SDP_MAX_MEDIA)
		return fail(c, -E2BIG, "more than %d m-sections", MF_SDP_MAX_MEDIA);
	m = &c->sdp->media[c->sdp->nb_media++];
	*m = (struct mf_sdp_media){ .line = (uint16_t)(c->line < 65535 ? c->line : 65535) };
	c->m = m;
	if (!token(&s, &media) || copy_token(c, m->name, sizeof(m->name), media,
					     (size_t)(s - media), "media") != 0 ||
	    !token(&s, &port) || !token(&s, &proto) ||
	    copy_token(c, m->proto, sizeof(m->proto), proto, (size_t)(s - proto), "proto") != 0)
		return fail(c, -EINVAL, "m=<media> <port> <proto> <fmt> expected");
	rest = s;
	if (!token(&s, &fmt0) ||
	    copy_token(c, m->fmt0, sizeof(m->fmt0), fmt0, (size_t)(s - fmt0), "format") != 0)
		return fail(c, -EINVAL, "m=<media> <port> <proto> <fmt> expected");
	slash = memchr(port, '/', (size_t)(proto - port));
	if (num(port, slash != NULL ? slash : proto - 1, 65535, &p) != 0)
		return fail(c, -EINVAL, "port not a number 0..65535");
	m->port = (uint16_t)p;
	if (strcmp(m->name, "audio") == 0)
		m->kind = MF_SDP_AUDIO;
	else if (strcmp(m->name, "video") == 0)
		m->kind = MF_SDP_VIDEO;
	else if (strcmp(m->name, "application") == 0)
		m->kind = MF_SDP_APPLICATION;
	m->srtp = strcmp(m->proto, "UDP/TLS/RTP/SAVPF") == 0 ||
		  strcmp(m->proto, "UDP/TLS/RTP/SAVP") == 0;
	return mline_fmts(c, m, rest);
}

static int
session_line(struct pctx *c, char type, const char *v)
{
	const char *tok;
	unsigned int n = 0;

	switch (type) {
	case 'v':
		return strcmp(v, "0") == 0 ? 0 : fail(c, -EINVAL, "only v=0 is SDP");
	case 'o':
		while (token(&v, &tok))
			n++;
		return n == 6 ? 0 : fail(c, -EINVAL, "o= has 6 fields");
	case 't':
		c->seen_t = true;
		return 0;
	default:
		return 0;	/* s, i, u, e, p, c, b, r, z, k: nothing mfwd uses */
	}
}

/* One line, already copied into c->buf without its CR LF. */
static int
line(struct pctx *c)
{
	static const char order[] = "vos";
	char *s = c->buf, type;
	size_t i, n = strlen(s);

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return fail(c, -EINVAL, "a control character");
	if (n < 2 || s[1] != '=' || !strchr("vosiuepcbtrzkam", s[0]))
		return fail(c, -EINVAL, "<type>=<value> of an SDP type expected");
	type = s[0];
	if (c->nb_lines < 3 && type != order[c->nb_lines])
		return fail(c, -EINVAL, "an SDP starts with v=, o=, s=");
	if (c->nb_lines >= 3 && strchr(order, type))
		return fail(c, -EINVAL, "%c= only once, at the start", type);
	c->nb_lines++;
	if (type == 'm')
		return mline(c, s + 2);
	if (type == 'a')
		return attribute(c, s + 2);
	if (c->m != NULL && !strchr("icbk", type))
		return fail(c, -EINVAL, "%c= is not a media-level line", type);
	return session_line(c, type, s + 2);
}

/* After the last line: every dynamic payload type named, statics completed, BUNDLE resolved. */
static int
finish(struct pctx *c)
{
	struct mf_sdp *sdp = c->sdp;
	unsigned int i, j, k;

	c->line = 0;
	c->buf[0] = '\0';
	if (c->nb_lines < 3 || !c->seen_t)
		return fail(c, -EINVAL, "v=, o=, s= and t= are required");
	for (i = 0; i < sdp->nb_media; i++) {
		struct mf_sdp_media *m = &sdp->media[i];

		for (j = 0; j < m->nb_fmt; j++) {
			struct mf_sdp_fmt *f = &m->fmt[j];

			/* A disabled m-section's formats are only syntax (RFC 8843 §7.3.3). */
			if (f->has_rtpmap || (m->port == 0 && !m->bundle_only))
				continue;
			if ((f->pt == 0 || f->pt == 8) && m->kind == MF_SDP_AUDIO) {
				f->codec = f->pt == 0 ? MF_SDP_C_PCMU : MF_SDP_C_PCMA;
				f->clock = 8000;
				f->channels = 1;
			} else if (f->pt >= 96) {
				c->line = m->line;
				return fail(c, -EINVAL, "payload type %u has no a=rtpmap", f->pt);
			}
		}
	}
	for (k = 0; k < sdp->nb_bundle; k++) {
		for (i = 0; i < sdp->nb_media; i++)
			if (strcmp(sdp->media[i].mid, c->bundle[k]) == 0)
				break;
		if (i == sdp->nb_media) {
			c->line = c->bundle_line;
			return fail(c, -EINVAL, "BUNDLE names mid %s, which no m-section has",
				    c->bundle[k]);
		}
		sdp->bundle[k] = (uint8_t)i;
	}
	return 0;
}

int
mf_sdp_parse(const char *text, size_t len, struct mf_sdp *sdp, struct mf_sdp_err *err)
{
	struct pctx ctx, *c = &ctx;	/* 4 KiB on the stack: the line buffer */
	size_t pos = 0;
	int rc;

	memset(sdp, 0, sizeof(*sdp));
	*c = (struct pctx){ .sdp = sdp, .err = err };
	*err = (struct mf_sdp_err){ 0 };
	sdp->text = text;
	sdp->len = len;
	if (len > MF_SDP_MAX_LEN)
		return fail(c, -E2BIG, "an SDP of %zu bytes (at most %d)", len, MF_SDP_MAX_LEN);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - text) : len, n = end - pos;

		c->line++;
		if (n > 0 && text[end - 1] == '\r')
			n--;
		if (n > MF_SDP_MAX_LINE)
			return fail(c, -E2BIG, "a line of %zu bytes (at most %d)", n,
				    MF_SDP_MAX_LINE);
		if (memchr(text + pos, '\0', n) != NULL)
			return fail(c, -EINVAL, "a NUL byte");
		c->line_off = pos;
		memcpy(c->buf, text + pos, n);
		c->buf[n] = '\0';
		rc = line(c);
		if (rc != 0)
			return rc;
		pos = end + 1;
	}
	return finish(c);
}

const char *
mf_sdp_ufrag(const struct mf_sdp *sdp, const struct mf_sdp_media *m)
{
	return m->ufrag[0] != '\0' ? m->ufrag : sdp->ufrag;
}

const uint8_t *
mf_sdp_fingerprint(const struct mf_sdp *sdp, const struct mf_sdp_media *m)
{
	if (m->fingerprint_set)
		return m->fingerprint;
	return sdp->fingerprint_set ? sdp->fingerprint : NULL;
}

unsigned int
mf_sdp_setup(const struct mf_sdp *sdp, const struct mf_sdp_media *m)
{
	return m->setup != MF_SDP_SETUP_NONE ? m->setup : sdp->setup;
}

/* Why m-section @p m cannot be answered at all, or NULL. */
static const char *
unusable(const struct mf_sdp *o, const struct mf_sdp_media *m, unsigned int role)
{
	unsigned int setup = mf_sdp_setup(o, m);

	if (m->kind != MF_SDP_AUDIO && m->kind != MF_SDP_VIDEO)
		return "mfwd answers audio and video m-sections only";
	if (m->port == 0 && !m->bundle_only)	/* bundle-only: port 0, yet on (RFC 8843) */
		return "the offer disabled it (port 0)";
	if (!m->srtp)
		return "proto is not UDP/TLS/RTP/SAVPF: mfwd answers DTLS-SRTP only";
	if (!m->rtcp_mux)
		return "no a=rtcp-mux: mfwd carries RTCP on the RTP port";
	if (mf_sdp_ufrag(o, m)[0] == '\0' || !(m->pwd_set || o->pwd_set))
		return "no a=ice-ufrag and a=ice-pwd";
	if (mf_sdp_fingerprint(o, m) == NULL)
		return "no a=fingerprint:sha-256";
	if (setup != MF_SDP_SETUP_ACTPASS && setup != MF_SDP_SETUP_ACTIVE)
		return "a=setup must be actpass or active: mfwd is the DTLS server";
	if (role == MF_SDP_PUBLISH && (m->dir == MF_SDP_RECVONLY || m->dir == MF_SDP_INACTIVE))
		return "a publisher's m-section must send (sendonly or sendrecv)";
	if (role == MF_SDP_SUBSCRIBE && (m->dir == MF_SDP_SENDONLY || m->dir == MF_SDP_INACTIVE))
		return "a viewer's m-section must receive (recvonly or sendrecv)";
	return NULL;
}

static bool
cap_matches(const struct mf_sdp_cap *cap, unsigned int kind, const struct mf_sdp_fmt *f)
{
	if (f->codec == MF_SDP_C_OTHER || cap->kind != kind || cap->codec != f->codec)
		return false;
	switch (f->codec) {
	case MF_SDP_C_H264:
		return f->h264_mode == cap->h264_mode &&
		       (cap->profile == 0 || f->profile == cap->profile);
	case MF_SDP_C_VP9:
	case MF_SDP_C_AV1:
		return f->profile == cap->profile;
	default:
		return true;
	}
}

/* The offerer's first format a capability matches; else why not, naming what was offered. */
static bool
choose(const struct mf_sdp_local *l, const struct mf_sdp_media *m, struct mf_sdp_agreed *a)
{
	const char *sep = "";
	size_t n = 0;
	unsigned int j, k;

	for (j = 0; j < m->nb_fmt; j++)
		for (k = 0; k < l->nb_cap; k++) {
			const struct mf_sdp_fmt *f = &m->fmt[j];

			if (!cap_matches(&l->cap[k], m->kind, f))
				continue;
			a->accepted = true;
			a->codec = f->codec;
			a->pt = f->pt;
			a->cap_pt = l->cap[k].pt;
			a->fb = f->fb;
			a->clock = f->clock;
			a->ssrc = l->role == MF_SDP_SUBSCRIBE ? l->cap[k].ssrc :
				  m->nb_ssrc > 0 ? m->ssrc[0] : 0;
			return true;
		}
	n = (size_t)snprintf(a->why, sizeof(a->why), "no common codec: offered");
	for (j = 0; j < m->nb_fmt && n < sizeof(a->why); j++) {
		if (m->fmt[j].codec == MF_SDP_C_OTHER)
			continue;
		n += (size_t)snprintf(a->why + n, sizeof(a->why) - n, "%s %s/%u", sep,
				      mf_sdp_codec_name(m->fmt[j].codec), m->fmt[j].pt);
		sep = ",";
	}
	if (*sep == '\0' && n < sizeof(a->why))
		snprintf(a->why + n, sizeof(a->why) - n, " nothing mfwd forwards");
	return false;
}

static bool
in_bundle(const struct mf_sdp *o, unsigned int i)
{
	unsigned int k;

	for (k = 0; k < o->nb_bundle; k++)
		if (o->bundle[k] == i)
			return true;
	return false;
}

/* Decide every m-section: one per kind, all on the first accepted one's transport. */
static int
agree(const struct mf_sdp *o, const struct mf_sdp_local *l, struct mf_sdp_agreed *agreed)
{
	const struct mf_sdp_media *first = NULL;
	bool used[MF_SDP_APPLICATION + 1] = { false };
	unsigned int i, nb = 0;
	const char *why;

	for (i = 0; i < o->nb_media; i++) {
		const struct mf_sdp_media *m = &o->media[i];
		struct mf_sdp_agreed *a = &agreed[i];

		*a = (struct mf_sdp_agreed){ 0 };
		why = unusable(o, m, l->role);
		if (why == NULL && used[m->kind])
			why = "a second m-section of its kind: mfwd answers one audio, one video";
		if (why == NULL && first != NULL && o->nb_bundle == 0)
			why = "no BUNDLE group: mfwd answers one transport";
		if (why == NULL && o->nb_bundle > 0 && !in_bundle(o, i))
			why = "not in the BUNDLE group: mfwd answers one transport";
		if (why == NULL && first != NULL &&
		    (strcmp(mf_sdp_ufrag(o, m), mf_sdp_ufrag(o, first)) != 0 ||
		     memcmp(mf_sdp_fingerprint(o, m), mf_sdp_fingerprint(o, first),
			    MF_DTLS_FP_LEN) != 0))
			why = "its ICE or DTLS differs from the BUNDLE's transport";
		if (why != NULL) {
			snprintf(a->why, sizeof(a->why), "%s", why);
			continue;
		}
		if (!choose(l, m, a))
			continue;
		used[m->kind] = true;
		if (first == NULL)
			first = m;
		nb++;
	}
	return (int)nb;
}

/* The answer's text, appended with a bound: an overflow is remembered. */
struct wbuf {
	char *p;
	size_t cap;
	size_t len;
	bool full;
};

static void __attribute__((format(printf, 2, 3)))
wr(struct wbuf *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->p + w->len, w->cap - w->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->cap - w->len) {
		w->full = true;
		return;
	}
	w->len += (size_t)n;
}

static void
write_media(struct wbuf *w, const struct mf_sdp *o, const struct mf_sdp_local *l,
	    const struct mf_sdp_media *m, const struct mf_sdp_agreed *a)
{
	const char *ip = strchr(l->addr, ':') != NULL ? "IP6" : "IP4";
	const struct mf_sdp_fmt *f = fmt_of((struct mf_sdp_media *)m, a->pt);

	if (!a->accepted) {
		wr(w, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\n", m->name, m->proto, m->fmt0);
		if (m->mid[0] != '\0')
			wr(w, "a=mid:%s\r\n", m->mid);
		return;
	}
	wr(w, "m=%s %u %s %u\r\nc=IN %s %s\r\n", m->name, l->port, m->proto, a->pt, ip, l->addr);
	if (m->mid[0] != '\0')
		wr(w, "a=mid:%s\r\n", m->mid);
	wr(w, "a=%s\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:%s\r\na=setup:passive\r\n"
	   "a=rtcp-mux\r\n%s", l->role == MF_SDP_PUBLISH ? "recvonly" : "sendonly", l->ufrag,
	   l->pwd, l->fingerprint, m->rtcp_rsize ? "a=rtcp-rsize\r\n" : "");
	wr(w, "a=rtpmap:%u %s/%u%s\r\n", a->pt, mf_sdp_codec_name(a->codec), a->clock,
	   f->channels == 2 ? "/2" : "");
	/* The offerer's own parameters for the format it listed (profile, packetization). */
	if (f->fmtp_len != 0)
		wr(w, "a=fmtp:%u %.*s\r\n", a->pt, (int)f->fmtp_len, o->text + f->fmtp_off);
	if (a->fb & MF_SDP_FB_NACK)
		wr(w, "a=rtcp-fb:%u nack\r\n", a->pt);
	if (a->fb & MF_SDP_FB_PLI)
		wr(w, "a=rtcp-fb:%u nack pli\r\n", a->pt);
	if (a->fb & MF_SDP_FB_FIR)
		wr(w, "a=rtcp-fb:%u ccm fir\r\n", a->pt);
	if (l->role == MF_SDP_SUBSCRIBE)
		wr(w, "a=msid:mfwd %s-%s\r\na=ssrc:%u cname:%s\r\n", l->cname,
		   m->kind == MF_SDP_AUDIO ? "audio" : "video", a->ssrc, l->cname);
	wr(w, "a=candidate:1 1 udp 2130706431 %s %u typ host\r\na=end-of-candidates\r\n",
	   l->addr, l->port);
}

static bool
local_ok(const struct mf_sdp_local *l)
{
	uint8_t fp[MF_DTLS_FP_LEN];
	size_t n = l->addr != NULL ? strlen(l->addr) : 0, i;

	if ((l->role != MF_SDP_PUBLISH && l->role != MF_SDP_SUBSCRIBE) || l->ufrag == NULL ||
	    !ice_chars(l->ufrag, 4, MF_ICE_UFRAG_MAX - 1) || l->pwd == NULL ||
	    !ice_chars(l->pwd, 22, MF_ICE_PWD_MAX - 1) || l->fingerprint == NULL ||
	    mf_dtls_fingerprint_parse(l->fingerprint, fp) != 0 || n == 0 || n > 45 ||
	    l->port == 0 || (l->nb_cap > 0 && l->cap == NULL) ||
	    (l->role == MF_SDP_SUBSCRIBE &&
	     (l->cname == NULL || !token_chars(l->cname, strlen(l->cname)))))
		return false;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)l->addr[i]) && l->addr[i] != '.' && l->addr[i] != ':')
			return false;
	return true;
}

int
mf_sdp_answer(const struct mf_sdp *offer, const struct mf_sdp_local *l, char *out, size_t cap,
	      struct mf_sdp_agreed agreed[MF_SDP_MAX_MEDIA], struct mf_sdp_err *err)
{
	struct wbuf w = { .p = out, .cap = cap };
	unsigned int i;

	*err = (struct mf_sdp_err){ 0 };
	if (!local_ok(l)) {
		snprintf(err->msg, sizeof(err->msg), "mfwd's own ICE, DTLS or address is invalid");
		return -EINVAL;
	}
	if (agree(offer, l, agreed) == 0) {
		/* The first m-section's reason: the one a user fixes first. */
		for (i = 0; i < offer->nb_media && offer->media[i].kind == MF_SDP_APPLICATION; i++)
			;
		if (i == offer->nb_media) {
			snprintf(err->msg, sizeof(err->msg), "no audio or video m-section");
			return -EINVAL;
		}
		err->line = offer->media[i].line;
		snprintf(err->msg, sizeof(err->msg), "line %u (m=%s): %s", err->line,
			 offer->media[i].name, agreed[i].why);
		return -EINVAL;
	}
	wr(&w, "v=0\r\no=mfwd %llu 1 IN %s %s\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n",
	   (unsigned long long)l->session_id, strchr(l->addr, ':') != NULL ? "IP6" : "IP4",
	   l->addr);
	if (offer->nb_bundle > 0) {
		wr(&w, "a=group:BUNDLE");
		for (i = 0; i < offer->nb_media; i++)
			if (agreed[i].accepted && offer->media[i].mid[0] != '\0')
				wr(&w, " %s", offer->media[i].mid);
		wr(&w, "\r\n");
	}
	for (i = 0; i < offer->nb_media; i++)
		write_media(&w, offer, l, &offer->media[i], &agreed[i]);
	if (w.full) {
		snprintf(err->msg, sizeof(err->msg), "the answer needs more than %zu bytes", cap);
		return -ENOSPC;
	}
	return (int)w.len;
}
