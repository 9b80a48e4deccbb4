/* SPDX-License-Identifier: BSD-3-Clause */
/* Session model helpers: names, addresses, base64, key wiping (see mf_session.h). */

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mf/mf_session.h"

static const char *const kind_names[] = {
	[MF_SESS_RTP] = "rtp",
	[MF_SESS_RTP_MUX] = "rtp-mux",
	[MF_SESS_MPEGTS] = "mpegts",
	[MF_SESS_RTP_MPEGTS] = "rtp-mpegts",
	[MF_SESS_UDP] = "udp",
};

static const struct {
	const char *name;
	uint8_t key_len;
	uint8_t salt_len;
	uint8_t tag_len;	/* SRTP authentication tag */
} suites[MF_SRTP_SUITE_MAX] = {
	[MF_SRTP_AES_CM_128_HMAC_SHA1_80] = { "AES_CM_128_HMAC_SHA1_80", 16, 14, 10 },
	[MF_SRTP_AES_CM_128_HMAC_SHA1_32] = { "AES_CM_128_HMAC_SHA1_32", 16, 14, 4 },
	[MF_SRTP_AEAD_AES_128_GCM] = { "AEAD_AES_128_GCM", 16, 12, 16 },
	[MF_SRTP_AEAD_AES_256_GCM] = { "AEAD_AES_256_GCM", 32, 12, 16 },
};

static const char *const err_codes[] = {
	[MF_SESS_E_NONE] = "ok",
#define X(name, code, desc) [MF_SESS_E_##name] = code,
	MF_SESS_ERRORS(X)
#undef X
};

const char *
mf_sess_errcode_str(int code)
{
	if (code < 0 || (size_t)code >= sizeof(err_codes) / sizeof(err_codes[0]))
		return "internal";
	return err_codes[code];
}

const char *
mf_sess_kind_str(unsigned int kind)
{
	if (kind == 0 || kind >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "unknown";
	return kind_names[kind];
}

unsigned int
mf_sess_codec_of(const struct mf_sess_ingress *in, uint8_t pt)
{
	unsigned int i;

	for (i = 0; i < in->nb_codecs && i < MF_SESS_MAX_CODECS; i++)
		if (in->codecs[i].pt == pt)
			return in->codecs[i].codec;
	return 0;
}

bool
mf_sess_output_pt_all(const struct mf_sess_output *o)
{
	unsigned int i;

	for (i = 0; i < sizeof(o->pt_allow); i++)
		if (o->pt_allow[i] != 0xff)
			return false;
	return true;
}

const char *
mf_srtp_suite_str(unsigned int suite)
{
	if (suite == MF_SRTP_NONE || suite >= MF_SRTP_SUITE_MAX)
		return "none";
	return suites[suite].name;
}

bool
mf_srtp_suite_lens(unsigned int suite, uint8_t *key_len, uint8_t *salt_len)
{
	if (suite == MF_SRTP_NONE || suite >= MF_SRTP_SUITE_MAX)
		return false;
	*key_len = suites[suite].key_len;
	*salt_len = suites[suite].salt_len;
	return true;
}

unsigned int
mf_srtp_suite_tag_len(unsigned int suite)
{
	return suite == MF_SRTP_NONE || suite >= MF_SRTP_SUITE_MAX ? 0 : suites[suite].tag_len;
}

bool
mf_sess_kind_is_rtp(unsigned int kind)
{
	return kind == MF_SESS_RTP || kind == MF_SESS_RTP_MUX || kind == MF_SESS_RTP_MPEGTS;
}

bool
mf_sess_kind_is_ts(unsigned int kind)
{
	return kind == MF_SESS_MPEGTS || kind == MF_SESS_RTP_MPEGTS;
}

bool
mf_sess_id_ok(const char *id)
{
	size_t i, n = strnlen(id, MF_SESS_ID_MAX);

	if (n == 0 || n == MF_SESS_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && strchr(MF_SESS_ID_PUNCT, id[i]) == NULL)
			return false;
	return true;
}

const char *
mf_addr_str(const struct mf_addr *a, char *buf, size_t len)
{
	if (a->family == 4)
		inet_ntop(AF_INET, a->a, buf, (socklen_t)len);
	else if (a->family == 6)
		inet_ntop(AF_INET6, a->a, buf, (socklen_t)len);
	else
		snprintf(buf, len, "none");
	return buf;
}

int
mf_addr_parse(const char *s, struct mf_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->a) == 1) {
		a->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->a) == 1) {
		a->family = 6;
		return 0;
	}
	return -EINVAL;
}

bool
mf_addr_equal(const struct mf_addr *x, const struct mf_addr *y)
{
	return x->family == y->family &&
	       memcmp(x->a, y->a, x->family == 4 ? 4 : 16) == 0;
}

static void
wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

void
mf_sess_wipe_keys_n(struct mf_sess_spec *spec, unsigned int nb_outputs)
{
	unsigned int i;

	wipe(spec->ingress.srtp.key, sizeof(spec->ingress.srtp.key));
	wipe(spec->ingress.srtp.salt, sizeof(spec->ingress.srtp.salt));
	wipe(spec->ingress.ice.pwd, sizeof(spec->ingress.ice.pwd));
	for (i = 0; i < nb_outputs && i < MF_SESS_MAX_OUTPUTS; i++) {
		wipe(spec->outputs[i].ice.pwd, sizeof(spec->outputs[i].ice.pwd));
		wipe(spec->outputs[i].srtp.key, sizeof(spec->outputs[i].srtp.key));
		wipe(spec->outputs[i].srtp.salt, sizeof(spec->outputs[i].srtp.salt));
		wipe(spec->outputs[i].receiver_srtp.key, sizeof(spec->outputs[i].receiver_srtp.key));
		wipe(spec->outputs[i].receiver_srtp.salt,
		     sizeof(spec->outputs[i].receiver_srtp.salt));
	}
}

static int __attribute__((format(printf, 3, 4)))
refuse(char *detail, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A field of @p n chars holding a string of 1..n-1 and its NUL. */
static bool
field_str(const char *f, size_t n)
{
	return f[0] != '\0' && memchr(f, '\0', n) != NULL;
}

int
mf_sess_spec_bounds(const struct mf_sess_spec *spec, char *detail, size_t len)
{
	const struct mf_sess_output *o;
	unsigned int i, j;

	if (!field_str(spec->id, sizeof(spec->id)))
		return refuse(detail, len, "id: missing");
	if (spec->nb_outputs > MF_SESS_MAX_OUTPUTS || spec->ingress.nb_clock > MF_SESS_MAX_CLOCKS ||
	    spec->ingress.nb_codecs > MF_SESS_MAX_CODECS)
		return refuse(detail, len, "outputs, clock_rates or codecs: too many");
	for (i = 0; i < spec->nb_outputs; i++) {
		o = &spec->outputs[i];
		if (!field_str(o->id, sizeof(o->id)) || o->nb_pt_map > MF_SESS_MAX_PT_MAP ||
		    o->nb_pids > MF_SESS_MAX_PIDS)
			return refuse(detail, len, "outputs[%u]: no id, or too many pt_map or pids",
				      i);
		for (j = 0; j < i; j++)
			if (strcmp(spec->outputs[j].id, o->id) == 0)
				return refuse(detail, len, "outputs[%u].id: \"%s\" used twice", i,
					      o->id);
	}
	return 0;
}

bool
mf_sess_has_keys(const struct mf_sess_spec *spec)
{
	unsigned int i;

	if (spec->ingress.srtp.suite != MF_SRTP_NONE || spec->ingress.ice.ufrag[0] != '\0')
		return true;
	for (i = 0; i < spec->nb_outputs && i < MF_SESS_MAX_OUTPUTS; i++)
		if (spec->outputs[i].srtp.suite != MF_SRTP_NONE ||
		    spec->outputs[i].receiver_srtp.suite != MF_SRTP_NONE ||
		    spec->outputs[i].ice.ufrag[0] != '\0')
			return true;
	return false;
}

/* Outputs past nb_outputs hold nothing (the codec, the channel and the control plane keep
 * them zero), so a spec's wipe is its own outputs', not the whole 55 KiB. */
void
mf_sess_wipe_keys(struct mf_sess_spec *spec)
{
	mf_sess_wipe_keys_n(spec, spec->nb_outputs);
}

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
mf_base64_decode(const char *in, size_t in_len, uint8_t *out, size_t cap)
{
	size_t i, o = 0;

	if (in_len % 4 != 0)
		return -EINVAL;
	for (i = 0; i < in_len; i += 4) {
		int v[4], k, pad = 0;
		uint32_t w;

		for (k = 0; k < 4; k++) {
			bool last = i + 4 == in_len;

			if (in[i + k] == '=' && last && k >= 2 && (k == 3 || in[i + 3] == '=')) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return -EINVAL;
			v[k] = b64_value(in[i + k]);
			if (v[k] < 0)
				return -EINVAL;
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		if (o + 3 - (size_t)pad > cap)
			return -EINVAL;
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
	}
	return (int)o;
}

int
mf_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
	size_t i, o = 0;

	if (((len + 2) / 3) * 4 + 1 > cap)
		return -ENOSPC;
	for (i = 0; i < len; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			w |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			w |= in[i + 2];
		out[o++] = b64_alphabet[(w >> 18) & 63];
		out[o++] = b64_alphabet[(w >> 12) & 63];
		out[o++] = i + 1 < len ? b64_alphabet[(w >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_alphabet[w & 63] : '=';
	}
	out[o] = '\0';
	return (int)o;
}
