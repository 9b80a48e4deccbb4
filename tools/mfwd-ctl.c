/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mfwd-ctl: drive a dataplane directly through its shared-memory channel, without the
 * control plane (tests, debugging, and set-ups with no broker). It is a channel client like
 * the control plane: run one or the other against a dataplane, not both at once.
 *
 *   mfwd-ctl [-i INSTANCE] [-t MS] add FILE|-       a session spec, or an array of them
 *   mfwd-ctl [-i INSTANCE] [-t MS] replace FILE|-
 *   mfwd-ctl [-i INSTANCE] [-t MS] del ID [ID...]
 *   mfwd-ctl [-i INSTANCE] [-t MS] get ID
 *   mfwd-ctl [-i INSTANCE] [-t MS] list [OFFSET [LIMIT]]
 *   mfwd-ctl [-i INSTANCE] [-t MS] info
 *   mfwd-ctl [-i INSTANCE] [-t MS] capture ID [SECONDS [MAX_PACKETS [SNAPLEN [FILE]]]]
 *   mfwd-ctl [-i INSTANCE] events [SECONDS]         print events as JSON lines
 *
 * Prints one JSON reply per command: {"ok":true,...} or {"ok":false,"error":{...}}.
 * Exit status: 0 ok, 1 refused by the dataplane or by validation, 2 usage or no dataplane.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "mf/mf_args.h"
#include "mf/mf_client.h"
#include "mf/mf_proto_json.h"
#include "mf/mf_session.h"

static struct mf_client cl;
static uint32_t timeout_ms = 5000;
static uint8_t result[MF_CHAN_SLOT_SIZE];

static int
print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	if (s != NULL)
		printf("%s\n", s);
	free(s);
	json_decref(j);
	return 0;
}

static int
fail(const char *code, const char *path, const char *msg)
{
	json_t *e = json_pack("{s:s, s:s}", "code", code, "message", msg);

	if (path != NULL && path[0] != '\0')
		json_object_set_new(e, "path", json_string(path));
	print_json(json_pack("{s:b, s:o}", "ok", 0, "error", e));
	return 1;
}

/* One call; @return result bytes (>= 0) with the reply ok, or the exit status to use. */
static int
call(uint16_t type, const void *payload, uint32_t len, int *exit_code)
{
	struct mf_msg_reply r;
	int n = mf_client_call(&cl, type, payload, len, &r, result, sizeof(result), timeout_ms);

	if (n < 0) {
		*exit_code = fail(mf_status_code(n), NULL, strerror(-n)) + 1;
		return -1;
	}
	if (r.status != 0) {
		*exit_code = fail(mf_status_code(r.status), NULL, r.detail[0] ? r.detail :
				  strerror(-r.status));
		return -1;
	}
	*exit_code = 0;
	return n;
}

static int
cmd_spec(uint16_t type, const char *file)
{
	static struct mf_sess_spec spec;
	struct mf_sess_err err;
	json_error_t jerr;
	json_t *root, *one;
	size_t i, n;
	int rc = 0;

	root = strcmp(file, "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr) :
					 json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return fail("bad_json", "$", jerr.text);
	n = json_is_array(root) ? json_array_size(root) : 1;
	for (i = 0; i < n && rc == 0; i++) {
		one = json_is_array(root) ? json_array_get(root, i) : root;
		if (mf_sess_from_json(one, &spec, &err) != 0) {
			rc = fail(mf_sess_errcode_str(err.code), err.path, err.msg);
			break;
		}
		if (call(type, &spec, (uint32_t)mf_sess_spec_size(&spec), &rc) >= 0)
			print_json(json_pack("{s:b, s:s}", "ok", 1, "session", spec.id));
		mf_sess_wipe_keys(&spec);
	}
	json_decref(root);
	return rc;
}

static int
cmd_ref(uint16_t type, const char *id)
{
	struct mf_msg_sess_ref ref;
	int rc;

	memset(&ref, 0, sizeof(ref));
	if (strlen(id) >= sizeof(ref.id))
		return fail("invalid", "id", "session id too long");
	strcpy(ref.id, id);
	if (call(type, &ref, sizeof(ref), &rc) < 0)
		return rc;
	if (type == MF_MSG_SESSION_GET)
		return print_json(json_pack("{s:b, s:o}", "ok", 1, "session",
					    mf_sess_info_to_json((void *)result)));
	return print_json(json_pack("{s:b, s:s}", "ok", 1, "session", id));
}

static int
cmd_list(int argc, char **argv)
{
	struct mf_msg_list_req req = { .offset = 0, .limit = MF_LIST_MAX };
	json_t *j;
	int rc;

	if (argc > 0 && mf_parse_u32(argv[0], 0, UINT32_MAX, &req.offset) != 0)
		return fail("invalid", "offset", "not a number");
	if (argc > 1 && mf_parse_u32(argv[1], 1, MF_LIST_MAX, &req.limit) != 0)
		return fail("invalid", "limit", "not a number from 1 to the list maximum");
	if (call(MF_MSG_SESSION_LIST, &req, sizeof(req), &rc) < 0)
		return rc;
	j = mf_list_to_json((void *)result, req.offset);
	json_object_set_new(j, "ok", json_true());
	return print_json(j);
}

static int
cmd_info(void)
{
	json_t *j;
	int rc;

	if (call(MF_MSG_NODE_INFO, NULL, 0, &rc) < 0)
		return rc;
	j = mf_node_info_to_json((void *)result);
	json_object_set_new(j, "ok", json_true());
	return print_json(j);
}

/* Tests: run the dataplane's session timers as if @p ms more had passed (--test-clock). */
static int
cmd_clock(const char *ms)
{
	struct mf_msg_clock c = { 0 };
	int rc;

	if (mf_parse_u64(ms, 0, UINT64_C(86400000) * 365, &c.advance_ms) != 0)
		return fail("invalid", "advance_ms", "milliseconds from 0 to a year");
	if (call(MF_MSG_CLOCK_ADVANCE, &c, sizeof(c), &rc) < 0)
		return rc;
	return print_json(json_pack("{s:b, s:I}", "ok", 1, "advanced_ms", (json_int_t)c.advance_ms));
}

/* A capture of session @p argv[0] to a pcapng file in the dataplane's --capture-dir. */
static int
cmd_capture(int argc, char **argv)
{
	struct mf_msg_capture c = { .seconds = MF_CAPTURE_SECONDS,
				    .max_packets = MF_CAPTURE_PACKETS };
	int rc;

	if (strlen(argv[0]) >= sizeof(c.id))
		return fail("invalid", "id", "session id too long");
	strcpy(c.id, argv[0]);
	if (argc > 1 && mf_parse_u32(argv[1], 0, UINT32_MAX, &c.seconds) != 0)
		return fail("invalid", "seconds", "not a number");
	if (argc > 2 && mf_parse_u32(argv[2], 0, UINT32_MAX, &c.max_packets) != 0)
		return fail("invalid", "max_packets", "not a number");
	if (argc > 3 && mf_parse_u32(argv[3], 0, UINT32_MAX, &c.snaplen) != 0)
		return fail("invalid", "snaplen", "not a number");
	if (argc > 4 && strlen(argv[4]) >= sizeof(c.file))
		return fail("invalid", "file", "too long");
	if (argc > 4)
		strcpy(c.file, argv[4]);
	if (call(MF_MSG_SESSION_CAPTURE, &c, sizeof(c), &rc) < 0)
		return rc;
	return print_json(json_pack("{s:b, s:s, s:s}", "ok", 1, "session", c.id, "file",
				    ((struct mf_msg_capture_info *)result)->path));
}

static int
cmd_events(int argc, char **argv)
{
	double secs = argc > 0 ? strtod(argv[0], NULL) : 0;
	struct timespec t0, t;
	struct mf_msg_event ev;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		while (mf_client_event(&cl, &ev) == 0) {
			print_json(mf_event_to_json(&ev));
			fflush(stdout);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (secs > 0 && (double)(t.tv_sec - t0.tv_sec) +
				(double)(t.tv_nsec - t0.tv_nsec) * 1e-9 >= secs)
			return 0;
		if (secs == 0)
			return 0;
		usleep(10000);
	}
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: mfwd-ctl [-i INSTANCE] [-t TIMEOUT_MS] COMMAND [ARGS]\n"
		"  add FILE|-  replace FILE|-  del ID...  get ID  list [OFFSET [LIMIT]]  info\n"
		"  events [SECONDS]   (0: print what is queued and exit)\n"
		"  capture ID [SECONDS [MAX_PACKETS [SNAPLEN [FILE]]]]   a pcapng capture\n"
		"  clock MS           tests: session timers run MS later (dataplane --test-clock)\n");
}

int
main(int argc, char **argv)
{
	const char *instance = "mfwd", *cmd;
	int c, rc;

	while ((c = getopt(argc, argv, "i:t:h")) != -1) {
		if (c == 'i')
			instance = optarg;
		else if (c == 't') {
			if (mf_parse_u32(optarg, 1, 3600000, &timeout_ms) != 0) {
				fprintf(stderr, "mfwd-ctl: -t: milliseconds from 1 to 3600000\n");
				return 2;
			}
		} else {
			usage();
			return 2;
		}
	}
	if (optind >= argc) {
		usage();
		return 2;
	}
	cmd = argv[optind++];
	rc = mf_client_open(&cl, instance);
	if (rc != 0) {
		fprintf(stderr, "mfwd-ctl: instance \"%s\": %s\n", instance, mf_shm_strerror(rc));
		return 2;
	}
	if (strcmp(cmd, "add") == 0 && optind < argc)
		rc = cmd_spec(MF_MSG_SESSION_ADD, argv[optind]);
	else if (strcmp(cmd, "replace") == 0 && optind < argc)
		rc = cmd_spec(MF_MSG_SESSION_REPLACE, argv[optind]);
	else if (strcmp(cmd, "del") == 0 && optind < argc)
		for (rc = 0; optind < argc && rc == 0; optind++)
			rc = cmd_ref(MF_MSG_SESSION_DEL, argv[optind]);
	else if (strcmp(cmd, "get") == 0 && optind < argc)
		rc = cmd_ref(MF_MSG_SESSION_GET, argv[optind]);
	else if (strcmp(cmd, "list") == 0)
		rc = cmd_list(argc - optind, argv + optind);
	else if (strcmp(cmd, "info") == 0)
		rc = cmd_info();
	else if (strcmp(cmd, "capture") == 0 && optind < argc)
		rc = cmd_capture(argc - optind, argv + optind);
	else if (strcmp(cmd, "clock") == 0 && optind < argc)
		rc = cmd_clock(argv[optind]);
	else if (strcmp(cmd, "events") == 0)
		rc = cmd_events(argc - optind, argv + optind);
	else {
		usage();
		rc = 2;
	}
	mf_client_close(&cl);
	return rc;
}
