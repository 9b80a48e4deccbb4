/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the session model and its strict JSON codec. */

#include <errno.h>
#include <stdint.h>

#include <jansson.h>

#include "mf/mf_keyframe.h"
#include "mf/mf_session.h"
#include "mf_test.h"

/* 30 bytes of key || salt for the AES_CM suites, base64. */
#define KEY30 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"

static const char full_doc[] =
	"{\"id\": \"cam-42\", \"kind\": \"rtp\","
	" \"ingress\": {\"port\": 0, \"addr\": \"10.99.1.2\", \"udp_port\": 5004,"
	"   \"source\": {\"addr\": \"10.99.1.1\", \"port\": 4000},"
	"   \"clock_rates\": {\"96\": 90000, \"0\": 8000},"
	"   \"srtp\": {\"suite\": \"AES_CM_128_HMAC_SHA1_80\", \"key\": \"" KEY30 "\", \"roc\": 3}},"
	" \"outputs\": ["
	"   {\"id\": \"v1\", \"port\": 1, \"addr\": \"10.99.2.1\", \"udp_port\": 6000,"
	"    \"src_port\": 7000, \"ssrc\": 305419896, \"pt_map\": {\"96\": 97},"
	"    \"pt_allow\": [96, 0], \"paused\": true},"
	"   {\"port\": 1, \"addr\": \"fd00::1\", \"udp_port\": 6002,"
	"    \"srtp\": {\"suite\": \"AEAD_AES_256_GCM\","
	"              \"key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKis=\"}}],"
	" \"limits\": {\"idle_timeout_ms\": 5000, \"timeout_s\": 3600, \"max_kbps\": 8000},"
	" \"blocked\": true}";

static int
test_decode_full(void)
{
	struct mf_sess_spec s;
	struct mf_sess_err err;
	char buf[64];
	int rc = 0, i;

	MF_TEST_EQ(mf_sess_from_text(full_doc, sizeof(full_doc) - 1, &s, &err), 0);
	MF_TEST_ASSERT(strcmp(s.id, "cam-42") == 0, "id %s", s.id);
	MF_TEST_EQ(s.kind, MF_SESS_RTP);
	MF_TEST_EQ(s.ingress.udp_port, 5004);
	MF_TEST_EQ(s.ingress.src_mode, MF_SRC_FIXED);
	MF_TEST_EQ(s.ingress.src_port, 4000);
	MF_TEST_ASSERT(strcmp(mf_addr_str(&s.ingress.src, buf, sizeof(buf)), "10.99.1.1") == 0,
		       "source %s", buf);
	MF_TEST_EQ(s.ingress.nb_clock, 2);
	MF_TEST_EQ(s.ingress.clock[1].pt, 0);
	MF_TEST_EQ(s.ingress.clock[1].rate, 8000);
	MF_TEST_EQ(s.ingress.srtp.suite, MF_SRTP_AES_CM_128_HMAC_SHA1_80);
	MF_TEST_EQ(s.ingress.srtp.key_len, 16);
	MF_TEST_EQ(s.ingress.srtp.salt_len, 14);
	MF_TEST_EQ(s.ingress.srtp.roc, 3);
	for (i = 0; i < 16; i++)
		MF_TEST_EQ(s.ingress.srtp.key[i], i);
	for (i = 0; i < 14; i++)
		MF_TEST_EQ(s.ingress.srtp.salt[i], 16 + i);
	MF_TEST_EQ(s.nb_outputs, 2);
	MF_TEST_ASSERT(strcmp(s.outputs[0].id, "v1") == 0, "output id");
	MF_TEST_ASSERT(strcmp(s.outputs[1].id, "1") == 0, "default output id is the index");
	MF_TEST_EQ(s.outputs[0].flags, MF_OUT_F_PAUSED | MF_OUT_F_SSRC);
	MF_TEST_EQ(s.outputs[0].ssrc, 305419896);
	MF_TEST_EQ(s.outputs[0].nb_pt_map, 1);
	MF_TEST_EQ(s.outputs[0].pt_map[0].to, 97);
	MF_TEST_EQ(s.outputs[0].pt_allow[12], 1);	/* PT 96 */
	MF_TEST_EQ(s.outputs[0].pt_allow[0], 1);	/* PT 0 */
	MF_TEST_EQ(s.outputs[0].pt_allow[1], 0);
	MF_TEST_EQ(s.outputs[1].dst.family, 6);
	MF_TEST_EQ(s.outputs[1].pt_allow[5], 0xff);	/* no filter: all allowed */
	MF_TEST_EQ(s.outputs[1].srtp.key_len, 32);
	MF_TEST_EQ(s.outputs[1].srtp.salt_len, 12);
	MF_TEST_EQ(s.outputs[1].srtp.salt[11], 43);
	MF_TEST_EQ(s.limits.max_kbps, 8000);
	MF_TEST_EQ(s.flags, MF_SESS_F_BLOCKED);
	mf_sess_wipe_keys(&s);
	MF_TEST_EQ(s.ingress.srtp.key[5], 0);
	MF_TEST_EQ(s.outputs[1].srtp.salt[11], 0);
	MF_TEST_EQ(s.outputs[1].srtp.suite, MF_SRTP_AEAD_AES_256_GCM);	/* not a secret */
out:
	return rc;
}

/* Encode, decode, compare: every field survives; keys only when asked for. */
static int
test_round_trip(void)
{
	struct mf_sess_spec a, b;
	struct mf_sess_err err;
	json_t *j = NULL;
	char *text = NULL;
	int rc = 0;

	MF_TEST_EQ(mf_sess_from_text(full_doc, sizeof(full_doc) - 1, &a, &err), 0);
	j = mf_sess_to_json(&a, MF_SESS_JSON_KEYS);
	MF_TEST_ASSERT(j != NULL, "encode");
	MF_TEST_EQ(mf_sess_from_json(j, &b, &err), 0);
	MF_TEST_ASSERT(memcmp(&a, &b, sizeof(a)) == 0, "decode(encode(x)) == x");
	json_decref(j);
	/* Without the flag no key leaves: the suite stays, the material does not. */
	j = mf_sess_to_json(&a, 0);
	text = json_dumps(j, JSON_COMPACT);
	MF_TEST_ASSERT(strstr(text, "AES_CM_128_HMAC_SHA1_80") != NULL, "suite shown");
	MF_TEST_ASSERT(strstr(text, KEY30) == NULL && strstr(text, "\"key\"") == NULL,
		       "key hidden: %s", text);
	MF_TEST_EQ(mf_sess_from_json(j, &b, &err), -EINVAL);
	MF_TEST_ASSERT(strcmp(err.path, "ingress.srtp.key") == 0, "path %s", err.path);
	MF_TEST_EQ(err.code, MF_SESS_E_MISSING);
out:
	free(text);
	json_decref(j);
	return rc;
}

static int
test_minimal_kinds(void)
{
	static const char *const docs[] = {
		"{\"id\":\"a\",\"kind\":\"udp\",\"ingress\":{\"port\":0,\"addr\":\"::1\","
		"\"udp_port\":9}}",
		"{\"id\":\"b\",\"kind\":\"mpegts\",\"ingress\":{\"port\":2,\"addr\":\"10.0.0.1\","
		"\"udp_port\":1234,\"source\":\"latch\"},\"outputs\":[{\"port\":0,"
		"\"addr\":\"10.0.0.2\",\"udp_port\":1234,\"pids\":[0,256,257],"
		"\"drop_null\":true}]}",
		"{\"id\":\"c\",\"kind\":\"rtp-mux\",\"ingress\":{\"port\":0,\"addr\":\"10.0.0.1\","
		"\"udp_port\":65535}}",
	};
	struct mf_sess_spec s, t;
	struct mf_sess_err err;
	json_t *j = NULL;
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		MF_TEST_ASSERT(mf_sess_from_text(docs[i], strlen(docs[i]), &s, &err) == 0,
			       "doc %zu: %s at %s", i, err.msg, err.path);
		j = mf_sess_to_json(&s, MF_SESS_JSON_KEYS);
		MF_TEST_EQ(mf_sess_from_json(j, &t, &err), 0);
		MF_TEST_ASSERT(memcmp(&s, &t, sizeof(s)) == 0, "round trip of doc %zu", i);
		json_decref(j);
		j = NULL;
	}
	MF_TEST_EQ(s.ingress.udp_port, 65535);
	MF_TEST_ASSERT(mf_sess_from_text(docs[1], strlen(docs[1]), &s, &err) == 0, "doc 1");
	MF_TEST_EQ(s.ingress.src_mode, MF_SRC_LATCH);
	MF_TEST_EQ(s.outputs[0].nb_pids, 3);
	MF_TEST_EQ(s.outputs[0].pids[2], 257);
	MF_TEST_EQ(s.outputs[0].flags, MF_OUT_F_DROP_NULL);
out:
	json_decref(j);
	return rc;
}

#define PWD22 "abcdefghij0123456789+/"
#define ICE "{\"ufrag\":\"abcd\",\"pwd\":\"" PWD22 "\",\"remote_ufrag\":\"peer\"}"
#define FP_HEX "0A:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:" \
	"1A:1B:1C:1D:1E:FF"
#define FP_HEX_LOWER "0a:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13:14:15:16:" \
	"17:18:19:1a:1b:1c:1d:1e:ff"
#define FP "sha-256 " FP_HEX
#define SRTP_AES80 "{\"suite\":\"AES_CM_128_HMAC_SHA1_80\",\"key\":\"" KEY30 "\"}"
#define BASE_IN "\"ingress\":{\"port\":0,\"addr\":\"10.0.0.1\",\"udp_port\":5000"
#define DOC(kind, ingress_extra, rest) \
	"{\"id\":\"s\",\"kind\":\"" kind "\"," BASE_IN ingress_extra "}" rest "}"
#define OUT1(extra) \
	",\"outputs\":[{\"port\":1,\"addr\":\"10.0.0.2\",\"udp_port\":6000" extra "}]"

static const struct {
	const char *doc;
	int code;
	const char *path;
} bad[] = {
	{ "{", MF_SESS_E_BAD_JSON, "$" },
	{ "[]", MF_SESS_E_WRONG_TYPE, "$" },
	{ "{\"id\":\"s\",\"id\":\"t\"}", MF_SESS_E_BAD_JSON, "$" },
	{ DOC("rtp", "", ",\"colour\":1"), MF_SESS_E_UNKNOWN_KEY, "colour" },
	{ "{\"kind\":\"rtp\"," BASE_IN "}}", MF_SESS_E_MISSING, "id" },
	{ "{\"id\":\"s\"," BASE_IN "}}", MF_SESS_E_MISSING, "kind" },
	{ "{\"id\":\"s\",\"kind\":\"rtp\"}", MF_SESS_E_MISSING, "ingress" },
	{ DOC("rtsp", "", ""), MF_SESS_E_BAD_VALUE, "kind" },
	{ "{\"id\":7,\"kind\":\"rtp\"," BASE_IN "}}", MF_SESS_E_WRONG_TYPE, "id" },
	{ "{\"id\":\"a b\",\"kind\":\"rtp\"," BASE_IN "}}", MF_SESS_E_BAD_VALUE, "id" },
	{ "{\"id\":\"\",\"kind\":\"rtp\"," BASE_IN "}}", MF_SESS_E_RANGE, "id" },
	{ "{\"id\":\"0123456789012345678901234567890123456789012345678\",\"kind\":\"rtp\","
	  BASE_IN "}}", MF_SESS_E_RANGE, "id" },
	{ "{\"id\":\"s\",\"kind\":\"rtp\",\"ingress\":{\"port\":0,\"udp_port\":5000}}",
	  MF_SESS_E_MISSING, "ingress.addr" },
	{ "{\"id\":\"s\",\"kind\":\"rtp\",\"ingress\":{\"port\":32,\"addr\":\"10.0.0.1\","
	  "\"udp_port\":5000}}", MF_SESS_E_RANGE, "ingress.port" },
	{ "{\"id\":\"s\",\"kind\":\"rtp\",\"ingress\":{\"port\":0,\"addr\":\"10.0.0.1\","
	  "\"udp_port\":0}}", MF_SESS_E_RANGE, "ingress.udp_port" },
	{ "{\"id\":\"s\",\"kind\":\"rtp\",\"ingress\":{\"port\":0,\"addr\":\"10.0.0.1\","
	  "\"udp_port\":65536}}", MF_SESS_E_RANGE, "ingress.udp_port" },
	{ "{\"id\":\"s\",\"kind\":\"rtp\",\"ingress\":{\"port\":0,\"addr\":\"10.0.0.1\","
	  "\"udp_port\":65535}}", MF_SESS_E_RANGE, "ingress.udp_port" },
	{ "{\"id\":\"s\",\"kind\":\"rtp\",\"ingress\":{\"port\":0,\"addr\":\"10.0.0.1\","
	  "\"udp_port\":\"5000\"}}", MF_SESS_E_WRONG_TYPE, "ingress.udp_port" },
	{ "{\"id\":\"s\",\"kind\":\"rtp\",\"ingress\":{\"port\":0,\"addr\":\"10.0.0.1\","
	  "\"udp_port\":5000.5}}", MF_SESS_E_WRONG_TYPE, "ingress.udp_port" },
	{ "{\"id\":\"s\",\"kind\":\"rtp\",\"ingress\":{\"port\":0,\"addr\":\"10.0.0.256\","
	  "\"udp_port\":5000}}", MF_SESS_E_BAD_VALUE, "ingress.addr" },
	{ DOC("rtp", ",\"source\":\"anyone\"", ""), MF_SESS_E_BAD_VALUE, "ingress.source" },
	{ DOC("rtp", ",\"source\":{\"port\":5}", ""), MF_SESS_E_MISSING, "ingress.source.addr" },
	{ DOC("rtp", ",\"source\":{\"addr\":\"1.2.3.4\",\"port\":-1}", ""), MF_SESS_E_RANGE,
	  "ingress.source.port" },
	{ DOC("rtp", ",\"clock_rates\":{\"128\":90000}", ""), MF_SESS_E_BAD_VALUE,
	  "ingress.clock_rates.128" },
	{ DOC("rtp", ",\"clock_rates\":{\"096\":90000}", ""), MF_SESS_E_BAD_VALUE,
	  "ingress.clock_rates.096" },
	{ DOC("rtp", ",\"clock_rates\":{\"96\":0}", ""), MF_SESS_E_RANGE,
	  "ingress.clock_rates.96" },
	{ DOC("rtp", ",\"srtp\":{\"suite\":\"NULL_CIPHER\",\"key\":\"" KEY30 "\"}", ""),
	  MF_SESS_E_BAD_VALUE, "ingress.srtp.suite" },
	{ DOC("rtp", ",\"srtp\":{\"suite\":\"AEAD_AES_128_GCM\",\"key\":\"" KEY30 "\"}", ""),
	  MF_SESS_E_BAD_VALUE, "ingress.srtp.key" },
	{ DOC("rtp", ",\"srtp\":{\"suite\":\"AES_CM_128_HMAC_SHA1_80\",\"key\":\"!!!!\"}", ""),
	  MF_SESS_E_BAD_VALUE, "ingress.srtp.key" },
	{ DOC("rtp", ",\"srtp\":{\"key\":\"" KEY30 "\"}", ""), MF_SESS_E_MISSING,
	  "ingress.srtp.suite" },
	{ DOC("rtp", ",\"srtp\":{\"suite\":\"AES_CM_128_HMAC_SHA1_80\",\"key\":\"" KEY30
	  "\",\"mki\":1}", ""), MF_SESS_E_UNKNOWN_KEY, "ingress.srtp.mki" },
	{ DOC("mpegts", ",\"srtp\":{\"suite\":\"AES_CM_128_HMAC_SHA1_80\",\"key\":\"" KEY30
	  "\"}", ""), MF_SESS_E_BAD_VALUE, "ingress.srtp" },
	{ DOC("rtp", "", ",\"outputs\":{}"), MF_SESS_E_WRONG_TYPE, "outputs" },
	{ DOC("rtp", "", OUT1(",\"colour\":1")), MF_SESS_E_UNKNOWN_KEY, "outputs[0].colour" },
	{ DOC("rtp", "", ",\"outputs\":[{\"port\":1,\"addr\":\"10.0.0.2\"}]"), MF_SESS_E_MISSING,
	  "outputs[0].udp_port" },
	{ DOC("rtp", "", OUT1(",\"ssrc\":4294967296")), MF_SESS_E_RANGE, "outputs[0].ssrc" },
	{ DOC("rtp", "", OUT1(",\"ssrc\":-1")), MF_SESS_E_RANGE, "outputs[0].ssrc" },
	{ DOC("udp", "", OUT1(",\"ssrc\":1")), MF_SESS_E_BAD_VALUE, "outputs[0].ssrc" },
	{ DOC("rtp", "", OUT1(",\"pt_map\":{\"96\":128}")), MF_SESS_E_RANGE,
	  "outputs[0].pt_map.96" },
	{ DOC("rtp", "", OUT1(",\"pt_map\":{\"96\":97,\"+96\":98}")), MF_SESS_E_BAD_VALUE,
	  "outputs[0].pt_map.+96" },
	{ DOC("rtp", "", OUT1(",\"pt_map\":{\" 96\":97}")), MF_SESS_E_BAD_VALUE,
	  "outputs[0].pt_map. 96" },
	{ DOC("rtp", "", OUT1(",\"pt_map\":{\"-0\":97}")), MF_SESS_E_BAD_VALUE,
	  "outputs[0].pt_map.-0" },
	{ DOC("rtp", "", OUT1(",\"pt_map\":{\"1000\":97}")), MF_SESS_E_BAD_VALUE,
	  "outputs[0].pt_map.1000" },
	{ DOC("rtp", "", OUT1(",\"pt_allow\":[]")), MF_SESS_E_RANGE, "outputs[0].pt_allow" },
	{ DOC("rtp", "", OUT1(",\"pt_allow\":[1,\"2\"]")), MF_SESS_E_WRONG_TYPE,
	  "outputs[0].pt_allow[1]" },
	{ DOC("rtp", "", OUT1(",\"pids\":[256]")), MF_SESS_E_BAD_VALUE, "outputs[0].pids" },
	{ DOC("mpegts", "", OUT1(",\"pids\":[256,8192]")), MF_SESS_E_RANGE,
	  "outputs[0].pids[1]" },
	{ DOC("mpegts", "", OUT1(",\"pids\":[256,256]")), MF_SESS_E_DUPLICATE,
	  "outputs[0].pids[1]" },
	{ DOC("mpegts", "", OUT1(",\"drop_null\":1")), MF_SESS_E_WRONG_TYPE,
	  "outputs[0].drop_null" },
	{ DOC("rtp", "", OUT1(",\"paused\":\"yes\"")), MF_SESS_E_WRONG_TYPE,
	  "outputs[0].paused" },
	{ DOC("rtp", "", ",\"outputs\":[{\"id\":\"x\",\"port\":1,\"addr\":\"10.0.0.2\","
	  "\"udp_port\":6000},{\"id\":\"x\",\"port\":1,\"addr\":\"10.0.0.3\",\"udp_port\":6000}]"),
	  MF_SESS_E_DUPLICATE, "outputs[1].id" },
	{ DOC("rtp", "", ",\"limits\":{\"idle_timeout_ms\":86400001}"), MF_SESS_E_RANGE,
	  "limits.idle_timeout_ms" },
	{ DOC("rtp", "", ",\"limits\":{\"burst\":1}"), MF_SESS_E_UNKNOWN_KEY, "limits.burst" },
	{ DOC("rtp", "", ",\"limits\":[]"), MF_SESS_E_WRONG_TYPE, "limits" },
	{ DOC("rtp", ",\"codecs\":{\"96\":\"H264\"}", ""), MF_SESS_E_BAD_VALUE,
	  "ingress.codecs.96" },
	{ DOC("rtp", ",\"codecs\":{\"200\":\"vp8\"}", ""), MF_SESS_E_BAD_VALUE,
	  "ingress.codecs.200" },
	{ DOC("rtp", ",\"codecs\":[\"vp8\"]", ""), MF_SESS_E_WRONG_TYPE, "ingress.codecs" },
	{ DOC("mpegts", ",\"codecs\":{\"96\":\"vp8\"}", ""), MF_SESS_E_BAD_VALUE,
	  "ingress.codecs" },
	{ DOC("rtp", ",\"keyframe_request\":\"nack\"", ""), MF_SESS_E_BAD_VALUE,
	  "ingress.keyframe_request" },
	{ DOC("rtp", "", OUT1(",\"start\":\"keyframe\"")), MF_SESS_E_BAD_VALUE,
	  "outputs[0].start" },
	{ DOC("rtp", ",\"codecs\":{\"96\":\"vp8\"}", OUT1(",\"start\":\"gop\"")),
	  MF_SESS_E_BAD_VALUE, "outputs[0].start" },
	{ DOC("rtp", ",\"gop_cache\":{}", ""), MF_SESS_E_BAD_VALUE, "ingress.gop_cache" },
	{ DOC("rtp", ",\"codecs\":{\"96\":\"vp8\"},\"gop_cache\":{\"max_ms\":50}", ""),
	  MF_SESS_E_RANGE, "ingress.gop_cache.max_ms" },
	{ DOC("rtp", ",\"codecs\":{\"96\":\"vp8\"}", OUT1(",\"nack\":{\"packets\":8}")),
	  MF_SESS_E_RANGE, "outputs[0].nack.packets" },
	{ DOC("udp", "", OUT1(",\"nack\":{}")), MF_SESS_E_BAD_VALUE, "outputs[0].nack" },
	{ DOC("rtp", ",\"codecs\":{\"96\":\"vp8\"}", OUT1(",\"start\":\"now\"")),
	  MF_SESS_E_BAD_VALUE, "outputs[0].start" },
	{ DOC("udp", "", OUT1(",\"start\":\"keyframe\"")), MF_SESS_E_BAD_VALUE,
	  "outputs[0].start" },
	{ DOC("mpegts", "", OUT1(",\"start\":\"gop\"")), MF_SESS_E_BAD_VALUE,
	  "outputs[0].start" },
	{ DOC("rtp", "", ",\"limits\":{\"keyframe_interval_ms\":99}"), MF_SESS_E_RANGE,
	  "limits.keyframe_interval_ms" },
	{ DOC("rtp", ",\"ice\":" ICE, ""), MF_SESS_E_BAD_VALUE, "ingress.ice" },
	{ DOC("rtp-mux", ",\"ice\":{\"ufrag\":\"abc\",\"pwd\":\"" PWD22 "\","
	  "\"remote_ufrag\":\"peer\"}", ""), MF_SESS_E_RANGE, "ingress.ice.ufrag" },
	{ DOC("rtp-mux", ",\"ice\":{\"ufrag\":\"abcd\",\"pwd\":\"short\","
	  "\"remote_ufrag\":\"peer\"}", ""), MF_SESS_E_RANGE, "ingress.ice.pwd" },
	{ DOC("rtp-mux", ",\"ice\":{\"ufrag\":\"ab:d\",\"pwd\":\"" PWD22 "\","
	  "\"remote_ufrag\":\"peer\"}", ""), MF_SESS_E_BAD_VALUE, "ingress.ice.ufrag" },
	{ DOC("rtp-mux", ",\"ice\":{\"ufrag\":\"abcd\",\"pwd\":\"" PWD22 "\"}", ""),
	  MF_SESS_E_MISSING, "ingress.ice.remote_ufrag" },
	{ DOC("rtp-mux", ",\"ice\":" ICE ",\"source\":\"latch\"", ""), MF_SESS_E_BAD_VALUE,
	  "ingress.source" },
	{ DOC("rtp-mux", "", ",\"outputs\":[{\"port\":1,\"ice\":{\"ufrag\":\"abcd\","
	  "\"pwd\":\"" PWD22 "\",\"remote_ufrag\":\"peer\",\"consent_timeout_ms\":999}}]"),
	  MF_SESS_E_RANGE, "outputs[0].ice.consent_timeout_ms" },
	{ DOC("rtp-mux", "", ",\"outputs\":[{\"port\":1,\"udp_port\":6000}]"),
	  MF_SESS_E_MISSING, "outputs[0].addr" },
	{ DOC("rtp-mux", ",\"dtls\":{\"fingerprint\":\"" FP "\"}", ""), MF_SESS_E_MISSING,
	  "ingress.dtls" },
	{ DOC("rtp-mux", ",\"ice\":" ICE ",\"srtp\":" SRTP_AES80 ",\"dtls\":{\"fingerprint\":\""
	  FP "\"}", ""), MF_SESS_E_BAD_VALUE, "ingress.dtls" },
	{ DOC("rtp-mux", ",\"ice\":" ICE ",\"dtls\":{\"fingerprint\":\"sha-1 AB:CD\"}", ""),
	  MF_SESS_E_BAD_VALUE, "ingress.dtls.fingerprint" },
	{ DOC("rtp-mux", ",\"ice\":" ICE ",\"dtls\":{\"fingerprint\":\"" FP ":00\"}", ""),
	  MF_SESS_E_BAD_VALUE, "ingress.dtls.fingerprint" },
	{ DOC("rtp-mux", ",\"ice\":" ICE ",\"dtls\":{}", ""), MF_SESS_E_MISSING,
	  "ingress.dtls.fingerprint" },
	{ DOC("rtp-mux", "", ",\"outputs\":[{\"port\":1,\"addr\":\"10.0.0.9\",\"udp_port\":9,"
	  "\"dtls\":{\"fingerprint\":\"" FP "\"}}]"), MF_SESS_E_MISSING, "outputs[0].dtls" },
};

/* The media fields decode, default and come back in JSON as given. */
static int
test_media_fields(void)
{
	static const char doc[] = DOC("rtp", ",\"codecs\":{\"96\":\"h264\",\"98\":\"av1\"},"
				      "\"keyframe_request\":\"fir\",\"gop_cache\":{\"max_ms\":2000}",
				      OUT1(",\"start\":\"keyframe\",\"nack\":{\"rtt_ms\":50}"));
	struct mf_sess_spec s, s2;
	struct mf_sess_err err;
	json_t *j = NULL;
	int rc = 0;

	MF_TEST_EQ(mf_sess_from_text(doc, strlen(doc), &s, &err), 0);
	MF_TEST_EQ(s.ingress.nb_codecs, 2);
	MF_TEST_EQ(mf_sess_codec_of(&s.ingress, 98), MF_CODEC_AV1);
	MF_TEST_EQ(mf_sess_codec_of(&s.ingress, 97), MF_CODEC_NONE);
	MF_TEST_EQ(s.ingress.kf_request, MF_KF_REQ_FIR);
	MF_TEST_EQ(s.outputs[0].start, MF_OUT_START_KEYFRAME);
	MF_TEST_EQ(s.limits.keyframe_interval_ms, MF_SESS_KF_INTERVAL_MS);
	MF_TEST_EQ(s.ingress.gop_max_ms, 2000);
	MF_TEST_EQ(s.ingress.gop_max_frames, MF_GOP_MAX_FRAMES);
	MF_TEST_EQ(s.outputs[0].nack_pkts, MF_NACK_PKTS);
	MF_TEST_EQ(s.outputs[0].nack_rtt_ms, 50);
	j = mf_sess_to_json(&s, 0);
	MF_TEST_ASSERT(j != NULL && mf_sess_from_json(j, &s2, &err) == 0, "round trip: %s",
		       err.msg);
	MF_TEST_ASSERT(memcmp(&s, &s2, sizeof(s)) == 0, "round trip identical");
out:
	json_decref(j);
	return rc;
}

static int
test_malformed(void)
{
	struct mf_sess_spec s;
	struct mf_sess_err err;
	size_t i;
	int rc = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = mf_sess_from_text(bad[i].doc, strlen(bad[i].doc), &s, &err);

		MF_TEST_ASSERT(r == -EINVAL, "bad[%zu] accepted: %s", i, bad[i].doc);
		MF_TEST_ASSERT(err.code == bad[i].code && strcmp(err.path, bad[i].path) == 0,
			       "bad[%zu]: got %s at %s (%s), expected %s at %s", i,
			       mf_sess_errcode_str(err.code), err.path, err.msg,
			       mf_sess_errcode_str(bad[i].code), bad[i].path);
		MF_TEST_ASSERT(strlen(err.msg) > 0, "bad[%zu] has a message", i);
		MF_TEST_ASSERT(strstr(err.msg, KEY30) == NULL, "no key in messages");
	}
out:
	return rc;
}

/* MF_SESS_MAX_OUTPUTS (128) outputs are fine, one more is too many; the whole spec is
 * what crosses the channel then. */
static int
test_output_limit(void)
{
	struct mf_sess_spec s;
	struct mf_sess_err err;
	json_t *root = NULL, *outs;
	int i, rc = 0;

	root = json_pack("{s:s, s:s, s:{s:i, s:s, s:i}}", "id", "fan", "kind", "rtp", "ingress",
			 "port", 0, "addr", "10.0.0.1", "udp_port", 5000);
	outs = json_array();
	json_object_set_new(root, "outputs", outs);
	for (i = 0; i < MF_SESS_MAX_OUTPUTS; i++)
		json_array_append_new(outs, json_pack("{s:i, s:s, s:i}", "port", 1, "addr",
						      "10.0.0.2", "udp_port", 6000 + 2 * i));
	MF_TEST_EQ(mf_sess_from_json(root, &s, &err), 0);
	MF_TEST_EQ(s.nb_outputs, MF_SESS_MAX_OUTPUTS);
	MF_TEST_EQ(s.outputs[63].dst_port, 6126);
	MF_TEST_EQ(s.outputs[MF_SESS_MAX_OUTPUTS - 1].dst_port, 6000 + 2 * (MF_SESS_MAX_OUTPUTS - 1));
	MF_TEST_EQ(mf_sess_spec_size(&s), sizeof(s));
	json_array_append_new(outs, json_pack("{s:i, s:s, s:i}", "port", 1, "addr", "10.0.0.2",
					      "udp_port", 7000));
	MF_TEST_EQ(mf_sess_from_json(root, &s, &err), -EINVAL);
	MF_TEST_EQ(err.code, MF_SESS_E_TOO_MANY);
	MF_TEST_ASSERT(strcmp(err.path, "outputs") == 0, "path %s", err.path);
out:
	json_decref(root);
	return rc;
}

/* A binary spec (as a channel writer could make it) the decoder would never make: each
 * count past its array, an output id without its NUL or named twice, is refused. */
static int
test_spec_bounds(void)
{
	static struct mf_sess_spec s, odd;
	struct mf_sess_err err;
	char why[128];
	int rc = 0;

	MF_TEST_EQ(mf_sess_from_text(full_doc, sizeof(full_doc) - 1, &s, &err), 0);
	MF_TEST_EQ(mf_sess_spec_bounds(&s, why, sizeof(why)), 0);
#define BAD(change, what) do { \
		odd = s; \
		change; \
		MF_TEST_EQ(mf_sess_spec_bounds(&odd, why, sizeof(why)), -EINVAL); \
		MF_TEST_ASSERT(strstr(why, what) != NULL, "%s: %s", #change, why); \
	} while (0)
	BAD(odd.nb_outputs = MF_SESS_MAX_OUTPUTS + 1, "too many");
	BAD(odd.ingress.nb_clock = MF_SESS_MAX_CLOCKS + 1, "too many");
	BAD(odd.ingress.nb_codecs = MF_SESS_MAX_CODECS + 1, "too many");
	BAD(odd.outputs[1].nb_pt_map = MF_SESS_MAX_PT_MAP + 1, "outputs[1]");
	BAD(odd.outputs[0].nb_pids = MF_SESS_MAX_PIDS + 1, "outputs[0]");
	BAD(memset(odd.outputs[1].id, 'x', sizeof(odd.outputs[1].id)), "outputs[1]: no id");
	BAD(odd.outputs[0].id[0] = '\0', "outputs[0]: no id");
	BAD(memcpy(odd.outputs[1].id, "v1", 3), "outputs[1].id: \"v1\" used twice");
	BAD(memset(odd.id, 'a', sizeof(odd.id)), "id: missing");
#undef BAD
	/* At the limits: taken. */
	odd = s;
	odd.ingress.nb_clock = MF_SESS_MAX_CLOCKS;
	odd.outputs[0].nb_pt_map = MF_SESS_MAX_PT_MAP;
	odd.outputs[0].nb_pids = MF_SESS_MAX_PIDS;
	MF_TEST_EQ(mf_sess_spec_bounds(&odd, why, sizeof(why)), 0);
out:
	mf_sess_wipe_keys(&s);
	mf_sess_wipe_keys(&odd);
	return rc;
}

static int
test_base64(void)
{
	uint8_t out[16];
	char enc[32];
	int rc = 0;

	MF_TEST_EQ(mf_base64_decode("TWFu", 4, out, sizeof(out)), 3);
	MF_TEST_EQ(out[0], 'M');
	MF_TEST_EQ(mf_base64_decode("TWE=", 4, out, sizeof(out)), 2);
	MF_TEST_EQ(mf_base64_decode("TQ==", 4, out, sizeof(out)), 1);
	MF_TEST_EQ(mf_base64_decode("", 0, out, sizeof(out)), 0);
	MF_TEST_EQ(mf_base64_decode("TQ=", 3, out, sizeof(out)), -EINVAL);
	MF_TEST_EQ(mf_base64_decode("T=Q=", 4, out, sizeof(out)), -EINVAL);
	MF_TEST_EQ(mf_base64_decode("TQ==TWFu", 8, out, sizeof(out)), -EINVAL);
	MF_TEST_EQ(mf_base64_decode("TW-u", 4, out, sizeof(out)), -EINVAL);
	MF_TEST_EQ(mf_base64_decode("TWFuTWFu", 8, out, 5), -EINVAL);
	MF_TEST_EQ(mf_base64_encode((const uint8_t *)"Ma", 2, enc, sizeof(enc)), 4);
	MF_TEST_ASSERT(strcmp(enc, "TWE=") == 0, "encode %s", enc);
	MF_TEST_EQ(mf_base64_encode((const uint8_t *)"Man", 3, enc, 4), -ENOSPC);
out:
	return rc;
}

static int
test_output_decode(void)
{
	struct mf_sess_output o;
	struct mf_sess_err err;
	json_t *j = NULL;
	int rc = 0;

	j = json_pack("{s:s, s:i, s:s, s:i, s:[i]}", "id", "edge", "port", 3, "addr", "10.1.1.1",
		      "udp_port", 6000, "pids", 256);
	MF_TEST_EQ(mf_sess_output_from_json(j, MF_SESS_RTP_MPEGTS, &o, &err), 0);
	MF_TEST_EQ(o.pids[0], 256);
	MF_TEST_EQ(mf_sess_output_from_json(j, MF_SESS_RTP, &o, &err), -EINVAL);
	MF_TEST_ASSERT(strcmp(err.path, "pids") == 0, "path %s", err.path);
out:
	json_decref(j);
	return rc;
}

/* ICE credentials: decoded with their default, the source ICE's, an output without a
 * destination; encoded without the password unless keys are asked for; wiped with keys. */
static int
test_ice_fields(void)
{
	static const char doc[] = DOC("rtp-mux", ",\"ice\":" ICE,
		",\"outputs\":[{\"id\":\"v\",\"port\":1,\"src_port\":5006,\"ice\":"
		"{\"ufrag\":\"wxyz\",\"pwd\":\"" PWD22 "\",\"remote_ufrag\":\"brws\","
		"\"consent_timeout_ms\":5000}}]");
	struct mf_sess_spec s;
	struct mf_sess_err err;
	json_t *j = NULL;
	char *text = NULL;
	int rc = 0;

	MF_TEST_ASSERT(mf_sess_from_text(doc, sizeof(doc) - 1, &s, &err) == 0, "%s: %s",
		       err.path, err.msg);
	MF_TEST_EQ(s.ingress.src_mode, MF_SRC_ICE);
	MF_TEST_ASSERT(strcmp(s.ingress.ice.ufrag, "abcd") == 0, "ufrag");
	MF_TEST_ASSERT(strcmp(s.ingress.ice.remote_ufrag, "peer") == 0, "remote_ufrag");
	MF_TEST_ASSERT(strcmp(s.ingress.ice.pwd, PWD22) == 0, "pwd");
	MF_TEST_EQ(s.ingress.ice.consent_timeout_ms, MF_ICE_CONSENT_MS);
	MF_TEST_EQ(s.outputs[0].dst.family, 0);
	MF_TEST_EQ(s.outputs[0].ice.consent_timeout_ms, 5000);
	j = mf_sess_to_json(&s, 0);
	text = json_dumps(j, JSON_COMPACT);
	MF_TEST_ASSERT(strstr(text, "\"pwd\"") == NULL, "no password without keys: %s", text);
	MF_TEST_ASSERT(strstr(text, "\"source\"") == NULL, "no source with ICE: %s", text);
	MF_TEST_ASSERT(strstr(text, "\"addr\":\"10.0.0.2\"") == NULL, "no destination: %s",
		       text);
	free(text);
	json_decref(j);
	j = mf_sess_to_json(&s, MF_SESS_JSON_KEYS);
	text = json_dumps(j, JSON_COMPACT);
	MF_TEST_ASSERT(strstr(text, PWD22) != NULL, "the password with keys: %s", text);
	mf_sess_wipe_keys(&s);
	MF_TEST_EQ(s.ingress.ice.pwd[0], 0);
	MF_TEST_EQ(s.outputs[0].ice.pwd[0], 0);
	MF_TEST_EQ(s.outputs[0].ice.ufrag[0], 'w');	/* not a secret */
out:
	free(text);
	json_decref(j);
	return rc;
}

/* DTLS: the fingerprint decodes from SDP's form in any case and comes back upper-case. */
static int
test_dtls_fields(void)
{
	static const char doc[] = DOC("rtp-mux", ",\"ice\":" ICE
		",\"dtls\":{\"fingerprint\":\"SHA-256 " FP_HEX_LOWER "\"}", "");
	struct mf_sess_spec s;
	struct mf_sess_err err;
	json_t *j = NULL;
	char *text = NULL;
	int rc = 0;

	MF_TEST_ASSERT(mf_sess_from_text(doc, sizeof(doc) - 1, &s, &err) == 0, "%s: %s",
		       err.path, err.msg);
	MF_TEST_EQ(s.ingress.dtls.on, 1);
	MF_TEST_EQ(s.ingress.dtls.fingerprint[0], 0x0a);
	MF_TEST_EQ(s.ingress.dtls.fingerprint[31], 0xff);
	j = mf_sess_to_json(&s, 0);
	text = json_dumps(j, JSON_COMPACT);
	MF_TEST_ASSERT(strstr(text, "\"dtls\":{\"fingerprint\":\"sha-256 0A:") != NULL &&
		       strstr(text, ":FF\"}") != NULL, "fingerprint back: %s", text);
out:
	free(text);
	json_decref(j);
	return rc;
}

static bool
zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0 && b[n - 1] == 0)
		n--;
	return n == 0;
}

/* A spec's wipe covers its nb_outputs outputs: a decoder that fails leaves no key in the
 * output it was reading (past nb_outputs), and a spec of one output crosses in 936 bytes. */
static int
test_wipe_past_outputs(void)
{
	static const char text[] =
		"{\"id\":\"w\",\"kind\":\"rtp\",\"ingress\":{\"port\":0,\"addr\":\"10.0.0.1\","
		"\"udp_port\":5000},\"outputs\":[{\"port\":1,\"addr\":\"10.0.0.2\",\"udp_port\":"
		"6000},{\"port\":1,\"addr\":\"10.0.0.2\",\"udp_port\":6002,\"srtp\":{\"suite\":"
		"\"AES_CM_128_HMAC_SHA1_80\",\"key\":\"" KEY30 "\"},\"colour\":1}]}";
	static struct mf_sess_spec s;
	struct mf_sess_err err;
	int rc = 0;

	MF_TEST_EQ(mf_sess_from_text(text, sizeof(text) - 1, &s, &err), -EINVAL);
	MF_TEST_ASSERT(strcmp(err.path, "outputs[1].colour") == 0, "path %s", err.path);
	/* Its key was read (the suite, not a secret, stays) and is gone. */
	MF_TEST_EQ(s.outputs[1].srtp.suite, MF_SRTP_AES_CM_128_HMAC_SHA1_80);
	MF_TEST_ASSERT(zero(s.outputs[1].srtp.key, sizeof(s.outputs[1].srtp.key)) &&
		       zero(s.outputs[1].srtp.salt, sizeof(s.outputs[1].srtp.salt)),
		       "no key left past the outputs");
	MF_TEST_EQ(mf_sess_from_text(text, sizeof(text) - 16, &s, &err), -EINVAL);
	s.nb_outputs = 1;
	MF_TEST_EQ(mf_sess_spec_size(&s), 936);
out:
	return rc;
}

static const struct mf_test_case cases[] = {
	{ "wipe_past_outputs", test_wipe_past_outputs },
	{ "ice_fields", test_ice_fields },
	{ "dtls_fields", test_dtls_fields },
	{ "decode_full", test_decode_full },
	{ "round_trip", test_round_trip },
	{ "minimal_kinds", test_minimal_kinds },
	{ "malformed", test_malformed },
	{ "output_limit", test_output_limit },
	{ "spec_bounds", test_spec_bounds },
	{ "base64", test_base64 },
	{ "output_decode", test_output_decode },
	{ "media_fields", test_media_fields },
};

MF_TEST_MAIN("session", cases)
