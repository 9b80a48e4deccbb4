/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of lib/sdp: offers recorded from Chromium and Firefox (tests/unit/sdp, made by
 * record-offers) parsed and answered for a publisher and a viewer, every answer parsed back;
 * refusals, each naming its line.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf/mf_sdp.h"
#include "mf_test.h"

#define FP_OURS "sha-256 11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:" \
		"11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00"

static struct mf_sdp offer, back;
static char text[MF_SDP_MAX_LEN + 2], answer[16384];

static size_t
load(const char *name)
{
	char path[512];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", MF_SDP_DIR, name);
	f = fopen(path, "rb");
	if (f == NULL)
		return 0;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	return n;
}

/* Publisher: what mfwd accepts. Viewer: a stream sending H.264 (mode 1, constrained baseline)
 * as payload type 96 and Opus as 111. */
static const struct mf_sdp_cap pub_caps[] = {
	{ .kind = MF_SDP_VIDEO, .codec = MF_SDP_C_H264, .h264_mode = 1 },
	{ .kind = MF_SDP_VIDEO, .codec = MF_SDP_C_VP8 },
	{ .kind = MF_SDP_AUDIO, .codec = MF_SDP_C_OPUS },
};
static const struct mf_sdp_cap view_caps[] = {
	{ .kind = MF_SDP_VIDEO, .codec = MF_SDP_C_H264, .pt = 96, .h264_mode = 1,
	  .profile = 0x42, .ssrc = 0x11111111 },
	{ .kind = MF_SDP_AUDIO, .codec = MF_SDP_C_OPUS, .pt = 111, .ssrc = 0x22222222 },
};

static struct mf_sdp_local
local(unsigned int role)
{
	return (struct mf_sdp_local){
		.role = role, .ufrag = "mfwdUfrag", .pwd = "mfwdPassword0123456789ab",
		.fingerprint = FP_OURS, .addr = "10.99.1.2", .port = 5004, .session_id = 42,
		.cname = "mfwd",
		.nb_cap = role == MF_SDP_PUBLISH ? 3 : 2,
		.cap = role == MF_SDP_PUBLISH ? pub_caps : view_caps,
	};
}

/* Answer @p name's offer as @p role; the answer must parse back with what it promised. */
static int
answer_file(const char *name, unsigned int role, struct mf_sdp_agreed *ag, unsigned int bundled)
{
	struct mf_sdp_local l = local(role);
	struct mf_sdp_err err;
	size_t n = load(name);
	int rc = 0, len;

	MF_TEST_ASSERT(n > 0, "%s/%s not read", MF_SDP_DIR, name);
	MF_TEST_ASSERT(mf_sdp_parse(text, n, &offer, &err) == 0, "%s: %s", name, err.msg);
	len = mf_sdp_answer(&offer, &l, answer, sizeof(answer), ag, &err);
	MF_TEST_ASSERT(len > 0, "%s: %s", name, err.msg);
	MF_TEST_ASSERT(mf_sdp_parse(answer, (size_t)len, &back, &err) == 0, "answer: %s\n%s",
		       err.msg, answer);
	MF_TEST_ASSERT(back.ice_lite && back.nb_media == offer.nb_media, "answer\n%s", answer);
	MF_TEST_EQ(back.nb_bundle, bundled);
	MF_TEST_ASSERT(strcmp(answer + len - 2, "\r\n") == 0, "CRLF at the end");
out:
	return rc;
}

static int
check_transport(const struct mf_sdp_media *m, unsigned int dir)
{
	int rc = 0;

	MF_TEST_EQ(m->port, 5004);
	MF_TEST_EQ(m->dir, dir);
	MF_TEST_ASSERT(m->rtcp_mux && m->fingerprint_set && m->pwd_set, "transport");
	MF_TEST_EQ(m->setup, MF_SDP_SETUP_PASSIVE);
	MF_TEST_ASSERT(strcmp(m->ufrag, "mfwdUfrag") == 0, "ufrag %s", m->ufrag);
	MF_TEST_EQ(m->nb_fmt, 1);
out:
	return rc;
}

static int
test_chromium_publish(void)
{
	struct mf_sdp_agreed ag[MF_SDP_MAX_MEDIA];
	int rc = answer_file("chromium-publish.sdp", MF_SDP_PUBLISH, ag, 2);

	if (rc != 0)
		return rc;
	MF_TEST_EQ(offer.nb_media, 2);
	MF_TEST_EQ(offer.media[0].kind, MF_SDP_AUDIO);
	MF_TEST_EQ(offer.media[1].kind, MF_SDP_VIDEO);
	MF_TEST_EQ(offer.media[1].dir, MF_SDP_SENDONLY);
	MF_TEST_EQ(mf_sdp_setup(&offer, &offer.media[0]), MF_SDP_SETUP_ACTPASS);
	MF_TEST_ASSERT(strcmp(mf_sdp_ufrag(&offer, &offer.media[1]), "C1C7") == 0, "ufrag");
	MF_TEST_ASSERT(mf_sdp_fingerprint(&offer, &offer.media[1])[0] == 0x02, "fingerprint");
	/* Chromium lists VP8 (96) first: its preference wins among what mfwd accepts. */
	MF_TEST_ASSERT(ag[0].accepted && ag[1].accepted, "%s / %s", ag[0].why, ag[1].why);
	MF_TEST_EQ(ag[0].codec, MF_SDP_C_OPUS);
	MF_TEST_EQ(ag[0].pt, 111);
	MF_TEST_EQ(ag[0].clock, 48000);
	MF_TEST_EQ(ag[1].codec, MF_SDP_C_VP8);
	MF_TEST_EQ(ag[1].pt, 96);
	MF_TEST_EQ(ag[1].fb, MF_SDP_FB_NACK | MF_SDP_FB_PLI | MF_SDP_FB_FIR);
	MF_TEST_EQ(ag[0].fb, 0);	/* Opus: only transport-cc, which mfwd does not do */
	MF_TEST_EQ(ag[0].ssrc, 2590158292u);
	MF_TEST_ASSERT(ag[1].ssrc == offer.media[1].ssrc[0] && offer.media[1].nb_ssrc == 2,
		       "video SSRCs (media and rtx)");
	rc = check_transport(&back.media[1], MF_SDP_RECVONLY);
	if (rc != 0)
		return rc;
	MF_TEST_ASSERT(strstr(answer, "a=group:BUNDLE 0 1\r\n") != NULL, "bundle");
	MF_TEST_ASSERT(strstr(answer, "a=rtpmap:111 opus/48000/2\r\n"
				      "a=fmtp:111 minptime=10;useinbandfec=1\r\n") != NULL, "opus");
	MF_TEST_ASSERT(strstr(answer, "a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n"
				      "a=rtcp-fb:96 ccm fir\r\n") != NULL, "feedback");
	MF_TEST_ASSERT(strstr(answer, "a=candidate:1 1 udp 2130706431 10.99.1.2 5004 typ host")
		       != NULL, "candidate");
	MF_TEST_ASSERT(strstr(answer, "a=extmap") == NULL && strstr(answer, "a=ssrc") == NULL,
		       "no extensions, no SSRC of ours when receiving");
out:
	return rc;
}

static int
test_chromium_view(void)
{
	struct mf_sdp_agreed ag[MF_SDP_MAX_MEDIA];
	const struct mf_sdp_fmt *f = NULL;
	int rc = answer_file("chromium-view.sdp", MF_SDP_SUBSCRIBE, ag, 2);
	char want[128];
	unsigned int i;

	if (rc != 0)
		return rc;
	MF_TEST_ASSERT(ag[0].accepted && ag[1].accepted, "%s / %s", ag[0].why, ag[1].why);
	/* The viewer's first H.264 with packetization-mode 1 and profile 42: its number, ours
	 * mapped to it (pt_map 96 -> it). */
	for (i = 0; i < offer.media[1].nb_fmt && f == NULL; i++)
		if (offer.media[1].fmt[i].codec == MF_SDP_C_H264 &&
		    offer.media[1].fmt[i].h264_mode == 1 && offer.media[1].fmt[i].profile == 0x42)
			f = &offer.media[1].fmt[i];
	MF_TEST_ASSERT(f != NULL, "Chromium offers constrained baseline H.264");
	MF_TEST_EQ(ag[1].pt, f->pt);
	MF_TEST_EQ(ag[1].cap_pt, 96);
	MF_TEST_EQ(ag[1].ssrc, 0x11111111);
	MF_TEST_EQ(ag[0].cap_pt, 111);
	rc = check_transport(&back.media[1], MF_SDP_SENDONLY);
	if (rc != 0)
		return rc;
	snprintf(want, sizeof(want), "a=fmtp:%u %.*s\r\n", f->pt, (int)f->fmtp_len,
		 text + f->fmtp_off);
	MF_TEST_ASSERT(strstr(answer, want) != NULL, "the viewer's fmtp echoed: %s", want);
	MF_TEST_ASSERT(strstr(answer, "a=ssrc:286331153 cname:mfwd\r\n") != NULL, "our SSRC");
	MF_TEST_EQ(back.media[1].ssrc[0], 0x11111111);
out:
	return rc;
}

static int
test_firefox(void)
{
	struct mf_sdp_agreed ag[MF_SDP_MAX_MEDIA];
	int rc = answer_file("firefox-publish.sdp", MF_SDP_PUBLISH, ag, 2);

	if (rc != 0)
		return rc;
	/* Firefox: the fingerprint at session level, ICE in each m-section. */
	MF_TEST_ASSERT(offer.fingerprint_set && !offer.media[0].fingerprint_set, "fp level");
	MF_TEST_ASSERT(offer.media[0].ufrag[0] != '\0', "ufrag in the m-section");
	MF_TEST_ASSERT(ag[0].accepted && ag[1].accepted, "%s / %s", ag[0].why, ag[1].why);
	MF_TEST_EQ(ag[0].codec, MF_SDP_C_OPUS);
	MF_TEST_ASSERT(ag[1].codec == MF_SDP_C_VP8 || ag[1].codec == MF_SDP_C_H264, "video");
	MF_TEST_ASSERT(ag[1].ssrc != 0, "Firefox's video SSRC");
	/* Debian's Firefox has no OpenH264 (it downloads it): VP8 and VP9 only. Viewing an
	 * H.264 stream, its video is refused naming what it offered; its audio plays. */
	rc = answer_file("firefox-view.sdp", MF_SDP_SUBSCRIBE, ag, 1);
	if (rc != 0)
		return rc;
	MF_TEST_ASSERT(ag[0].accepted && !ag[1].accepted, "audio only");
	MF_TEST_ASSERT(strstr(ag[1].why, "no common codec: offered VP8/120, VP9/121") != NULL,
		       "%s", ag[1].why);
	MF_TEST_EQ(ag[0].cap_pt, 111);
	MF_TEST_EQ(back.media[1].port, 0);
	rc = check_transport(&back.media[0], MF_SDP_SENDONLY);
out:
	return rc;
}

/* A small offer: one video m-section, with @p extra lines added before its end. */
static size_t
small(const char *session_extra, const char *media_extra)
{
	return (size_t)snprintf(text, sizeof(text),
		"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n%s"
		"a=group:BUNDLE v\r\n"
		"m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\n"
		"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
		"a=fingerprint:" FP_OURS "\r\na=setup:actpass\r\na=mid:v\r\na=sendonly\r\n"
		"a=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n"
		"a=fmtp:97 apt=96\r\n%s", session_extra, media_extra);
}

static int
refused(const char *what, size_t len, unsigned int line, const char *msg, int want)
{
	struct mf_sdp_err err;
	int rc = 0, r = mf_sdp_parse(text, len, &offer, &err);

	MF_TEST_ASSERT(r == want, "%s: rc %d, want %d (%s)", what, r, want, err.msg);
	MF_TEST_ASSERT(err.line == line, "%s: line %u, want %u (%s)", what, err.line, line,
		       err.msg);
	MF_TEST_ASSERT(strstr(err.msg, msg) != NULL, "%s: '%s' lacks '%s'", what, err.msg, msg);
out:
	return rc;
}

static int
test_parse_refusals(void)
{
	struct mf_sdp_err err;
	size_t n;
	int rc = 0, i;

	n = small("", "");
	MF_TEST_ASSERT(mf_sdp_parse(text, n, &offer, &err) == 0, "the base offer: %s", err.msg);
	text[2] = '1';
	rc |= refused("v=1", n, 1, "only v=0", -EINVAL);
	n = (size_t)snprintf(text, sizeof(text), "v=0\r\ns=-\r\n");
	rc |= refused("no o=", n, 2, "starts with v=, o=, s=", -EINVAL);
	n = small("", "a=rtpmap:98 H264/90000\r\n");
	rc |= refused("rtpmap off the m= line", n, 18, "98 is not on the m= line", -EINVAL);
	n = small("", "a=rtpmap:96 VP8/90000\r\n");
	rc |= refused("second rtpmap", n, 18, "a second rtpmap", -EINVAL);
	n = small("", "a=rtcp-fb:300 nack\r\n");
	rc |= refused("pt > 127", n, 18, "0..127", -EINVAL);
	n = small("", "a=mid:w\r\n");
	rc |= refused("second mid", n, 18, "a second a=mid", -EINVAL);
	n = small("", "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:v\r\n");
	rc |= refused("mid twice", n, 19, "mid v is used twice", -EINVAL);
	n = small("a=group:BUNDLE v x\r\n", "");
	rc |= refused("second group", n, 6, "a second BUNDLE group", -EINVAL);
	n = (size_t)snprintf(text, sizeof(text), "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
			     "a=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n");
	rc |= refused("BUNDLE of a missing mid", n, 5, "mid 1, which no m-section has",
		      -EINVAL);
	n = small("a=fingerprint:sha-256 12:34\r\n", "");
	rc |= refused("short fingerprint", n, 5, "32 hex pairs", -EINVAL);
	n = small("", "a=ice-ufrag:abcdefghijklmnopqrstuvwxyz0123456\r\n");
	rc |= refused("long ufrag", n, 18, "ice-ufrag is 4..32", -EINVAL);
	n = small("", "a=ice-pwd:short\r\n");
	rc |= refused("short pwd", n, 18, "ice-pwd is 22..256", -EINVAL);
	n = small("", "a=setup:later\r\n");
	rc |= refused("bad setup", n, 18, "actpass, active, passive", -EINVAL);
	n = small("", "m=video 9 UDP/TLS/RTP/SAVPF 100\r\n");
	rc |= refused("dynamic pt unnamed", n, 18, "payload type 100 has no a=rtpmap", -EINVAL);
	n = small("", "x=unknown\r\n");
	rc |= refused("unknown type", n, 18, "of an SDP type", -EINVAL);
	n = small("", "t=0 0\r\n");
	rc |= refused("t= in media", n, 18, "not a media-level line", -EINVAL);
	n = small("", "a=ssrc:4294967296 cname:x\r\n");
	rc |= refused("ssrc range", n, 18, "SSRC not a number", -EINVAL);
	n = small("", "m=video 9 UDP/TLS/RTP/SAVPF 96 96\r\n");
	rc |= refused("pt twice", n, 18, "listed twice", -EINVAL);
	n = small("", "m=video 70000 UDP/TLS/RTP/SAVPF 96\r\n");
	rc |= refused("port", n, 18, "port not a number", -EINVAL);
	n = small("", "a=ok\x01\r\n");
	rc |= refused("control byte", n, 18, "a control character", -EINVAL);
	n = small("", "a=ok\r\n");
	text[n - 3] = '\0';
	rc |= refused("NUL byte", n, 18, "a NUL byte", -EINVAL);
	n = (size_t)snprintf(text, sizeof(text), "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\n"
			     "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n");
	rc |= refused("m before t", n, 4, "m= before t=", -EINVAL);
	n = (size_t)snprintf(text, sizeof(text), "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n");
	for (i = 0; i < MF_SDP_MAX_MEDIA + 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "m=audio 9 RTP/AVP 0\r\n");
	rc |= refused("too many m-sections", n, 5 + MF_SDP_MAX_MEDIA, "more than 8 m-sections",
		      -E2BIG);
	n = small("", "a=x:");
	memset(text + n, 'y', MF_SDP_MAX_LINE);
	n += MF_SDP_MAX_LINE;
	rc |= refused("long line", n, 18, "a line of 4100 bytes", -E2BIG);
	memset(text, 'a', MF_SDP_MAX_LEN + 1);
	rc |= refused("too long", MF_SDP_MAX_LEN + 1, 0, "at most 65536", -E2BIG);
	/* LF alone, no final newline, attributes out of order: all fine. */
	n = (size_t)snprintf(text, sizeof(text), "v=0\no=- 1 2 IN IP4 0.0.0.0\ns=-\nt=0 0\n"
			     "m=audio 9 UDP/TLS/RTP/SAVPF 8\na=fmtp:8 x=1\na=rtpmap:8 PCMA/8000");
	MF_TEST_ASSERT(mf_sdp_parse(text, n, &offer, &err) == 0, "LF: %s", err.msg);
	MF_TEST_EQ(offer.media[0].fmt[0].codec, MF_SDP_C_PCMA);
	MF_TEST_EQ(offer.media[0].fmt[0].fmtp_len, 3);
	MF_TEST_ASSERT(memcmp(text + offer.media[0].fmt[0].fmtp_off, "x=1", 3) == 0, "fmtp");
out:
	return rc;
}

/* An offer that parses but cannot be answered: refused naming the m= line and why. */
static int
unanswered(const char *what, const char *sess, const char *media, unsigned int role,
	   const char *msg)
{
	struct mf_sdp_agreed ag[MF_SDP_MAX_MEDIA];
	struct mf_sdp_local l = local(role);
	struct mf_sdp_err err;
	size_t n = small(sess, media);
	int rc = 0, r;

	MF_TEST_ASSERT(mf_sdp_parse(text, n, &offer, &err) == 0, "%s: %s", what, err.msg);
	r = mf_sdp_answer(&offer, &l, answer, sizeof(answer), ag, &err);
	MF_TEST_ASSERT(r == -EINVAL, "%s: answered (%d)", what, r);
	MF_TEST_EQ(err.line, 6);
	MF_TEST_ASSERT(strstr(err.msg, "line 6 (m=video)") != NULL && strstr(err.msg, msg),
		       "%s: '%s' lacks '%s'", what, err.msg, msg);
out:
	return rc;
}

static int
test_answer_refusals(void)
{
	struct mf_sdp_agreed ag[MF_SDP_MAX_MEDIA];
	struct mf_sdp_local l = local(MF_SDP_PUBLISH);
	struct mf_sdp_err err;
	size_t n;
	int rc = 0, len;

	rc |= unanswered("codec", "", "a=recvonly\r\n", MF_SDP_SUBSCRIBE,
			 "no common codec: offered VP8/96");
	rc |= unanswered("setup", "", "a=setup:passive\r\n", MF_SDP_PUBLISH, "actpass or active");
	rc |= unanswered("direction", "", "a=recvonly\r\n", MF_SDP_PUBLISH, "must send");
	rc |= unanswered("viewer direction", "", "", MF_SDP_SUBSCRIBE, "must receive");
	n = (size_t)snprintf(text, sizeof(text), "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
			     "m=video 9 RTP/SAVPF 96\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 "
			     "inline:x\r\na=rtpmap:96 VP8/90000\r\na=rtcp-mux\r\n");
	MF_TEST_ASSERT(mf_sdp_parse(text, n, &offer, &err) == 0, "%s", err.msg);
	MF_TEST_ASSERT(offer.media[0].crypto && offer.media[0].fmt[0].codec == MF_SDP_C_VP8, "SDES");
	MF_TEST_EQ(mf_sdp_answer(&offer, &l, answer, sizeof(answer), ag, &err), -EINVAL);
	MF_TEST_ASSERT(strstr(err.msg, "line 5 (m=video): proto") != NULL &&
		       strstr(err.msg, "DTLS-SRTP only") != NULL, "%s", err.msg);
	/* The first m-section is the one reported; here the video one has no rtcp-mux. */
	n = (size_t)snprintf(text, sizeof(text), "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
			     "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n"
			     "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
			     "a=fingerprint:" FP_OURS "\r\na=setup:active\r\n");
	MF_TEST_ASSERT(mf_sdp_parse(text, n, &offer, &err) == 0, "%s", err.msg);
	MF_TEST_EQ(mf_sdp_answer(&offer, &l, answer, sizeof(answer), ag, &err), -EINVAL);
	MF_TEST_ASSERT(strstr(err.msg, "line 5 (m=video): no a=rtcp-mux") != NULL, "%s", err.msg);
	/* A data channel beside the video: rejected with port 0, the video answered. */
	n = small("", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:d\r\n");
	MF_TEST_ASSERT(mf_sdp_parse(text, n, &offer, &err) == 0, "%s", err.msg);
	len = mf_sdp_answer(&offer, &l, answer, sizeof(answer), ag, &err);
	MF_TEST_ASSERT(len > 0, "%s", err.msg);
	MF_TEST_ASSERT(ag[0].accepted && !ag[1].accepted, "video only");
	MF_TEST_ASSERT(strstr(answer, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"
				      "c=IN IP4 0.0.0.0\r\na=mid:d\r\n") != NULL, "%s", answer);
	MF_TEST_ASSERT(strstr(ag[1].why, "audio and video") != NULL, "%s", ag[1].why);
	MF_TEST_EQ(mf_sdp_answer(&offer, &l, answer, 200, ag, &err), -ENOSPC);
	l.ufrag = "no";
	MF_TEST_EQ(mf_sdp_answer(&offer, &l, answer, sizeof(answer), ag, &err), -EINVAL);
out:
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct mf_test_case cases[] = {
		{ "chromium_publish", test_chromium_publish },
		{ "chromium_view", test_chromium_view },
		{ "firefox", test_firefox },
		{ "parse_refusals", test_parse_refusals },
		{ "answer_refusals", test_answer_refusals },
	};

	return mf_test_run("sdp", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
