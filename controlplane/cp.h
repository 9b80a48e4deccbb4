/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mfwd-controlplane internals. One main thread does all the work: it takes MQTT messages
 * from a queue that paho's callback thread fills, runs one action function per command
 * against the dataplane's channel, publishes replies, events and status. Nothing here links
 * DPDK; the dataplane is reached only through lib/'s channel client.
 */
#ifndef CP_H
#define CP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "mf/mf_client.h"
#include "mf/mf_log.h"
#include "mf/mf_session.h"

#define CP_TOPIC_MAX	256

struct cp_tls {
	char ca_file[256];
	char cert_file[256];
	char key_file[256];
	bool verify;
};

struct cp_limits {
	uint32_t max_sessions;		/* 0: the dataplane's capacity */
	uint32_t max_outputs;		/* total over all sessions; 0: no limit */
	uint64_t max_kbps;		/* total declared bitrate; 0: no limit */
	uint32_t default_session_kbps;	/* what a session without max_kbps counts for */
};

struct cp_config {
	char node[64];
	char instance[MF_SHM_NAME_MAX];
	char prefix[64];
	char broker[256];
	int mqtt_version;		/* 5, or 4 for 3.1.1 */
	char client_id[128];
	char username[128];
	char password[128];
	bool has_tls;
	struct cp_tls tls;
	uint32_t session_expiry_s;
	uint32_t keepalive_s;
	char pool_group[64];		/* empty: no pool subscription */
	char journal_dir[256];
	uint32_t status_interval_s;
	uint16_t port_min, port_max;	/* allocation range for session.create */
	struct cp_limits limits;
	uint32_t reply_timeout_ms;
	uint32_t max_payload;
	char log_level[16];
};

int cp_config_load(struct cp_config *cfg, const char *file);
void cp_config_defaults(struct cp_config *cfg);

/* ---- MQTT transport (cp_mqtt.c) ---- */

/* A request as it arrived, queued for the main thread. */
struct cp_msg {
	struct cp_msg *next;
	char topic[CP_TOPIC_MAX];
	char *payload;			/* NUL-terminated copy */
	size_t len;
	char response_topic[CP_TOPIC_MAX];	/* MQTT 5 property; empty if none */
	uint8_t *corr;			/* MQTT 5 correlation data */
	size_t corr_len;
};

struct cp_mqtt;

struct cp_mqtt *cp_mqtt_start(const struct cp_config *cfg);
void cp_mqtt_stop(struct cp_mqtt *m);
/** Next queued request, waiting up to @p timeout_ms. The caller frees it with cp_msg_free(). */
struct cp_msg *cp_mqtt_next(struct cp_mqtt *m, unsigned int timeout_ms);
void cp_msg_free(struct cp_msg *msg);
/** Publish; @p corr is echoed as MQTT 5 correlation data. @return 0 or -EIO. */
int cp_mqtt_publish(struct cp_mqtt *m, const char *topic, const char *payload, bool retain,
		    const uint8_t *corr, size_t corr_len);
/** true once after every (re)connection: status must be published again. */
bool cp_mqtt_take_reconnected(struct cp_mqtt *m);
bool cp_mqtt_connected(struct cp_mqtt *m);

/* ---- state and actions ---- */

struct cp_journal;

struct cp_sess {
	struct cp_sess *next;
	struct mf_sess_spec spec;	/* with keys: what the journal holds */
};

struct cp {
	struct cp_config cfg;
	struct cp_mqtt *mqtt;
	struct mf_client dp;
	bool dp_up;
	uint64_t dp_generation;
	uint64_t dp_start_ns;		/* identifies a dataplane: generations restart at 1 */
	struct cp_journal *journal;
	bool draining;
	bool status_dirty;		/* sessions changed: publish status soon */
	/* the installed sessions, as this control plane knows them */
	struct cp_sess *sessions;
	uint32_t nb_sessions;
	uint32_t nb_outputs;
	uint64_t kbps;
	uint32_t dp_max_sessions;
	char t_status[CP_TOPIC_MAX];
};

/* An error for a reply: a stable code, a sentence, and the JSON path when there is one. */
struct cp_err {
	char code[32];
	char message[200];
	char path[128];
};

void cp_err_set(struct cp_err *e, const char *code, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* One action function per command (cp_actions.c): MQTT and the tests call the same ones.
 * Each returns a result object (new reference) or NULL with @p err set. */
typedef json_t *(*cp_action_fn)(struct cp *cp, json_t *args, struct cp_err *err);

json_t *cp_session_create(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_session_update(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_session_delete(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_session_get(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_session_list(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_node_info(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_node_stats(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_node_drain(struct cp *cp, json_t *args, struct cp_err *err);

struct cp_sess *cp_sess_find(struct cp *cp, const char *id);
void cp_sess_forget(struct cp *cp, const char *id);

/* ---- the dataplane (cp_dataplane.c) ---- */

/** Connect when possible; on a new generation replay the journal. Called periodically. */
void cp_dp_poll(struct cp *cp);
/** Events from the dataplane to MQTT. */
void cp_dp_events(struct cp *cp);
/** Call the dataplane; on failure fill @p err and return a negative code. */
int cp_dp_call(struct cp *cp, uint16_t type, const void *payload, uint32_t len, void *res,
	       uint32_t cap, struct cp_err *err);

/* ---- requests (cp_cmd.c) ---- */

void cp_cmd_handle(struct cp *cp, struct cp_msg *msg);
json_t *cp_status_json(struct cp *cp);
void cp_status_publish(struct cp *cp, bool online);
void cp_event_publish(struct cp *cp, json_t *event);

/* ---- the journal (cp_journal.c) ---- */

struct cp_journal *cp_journal_open(const char *dir);
void cp_journal_close(struct cp_journal *j);
/** Write a session's spec (keys included) durably before the reply goes out. */
int cp_journal_put(struct cp_journal *j, const struct mf_sess_spec *spec);
int cp_journal_del(struct cp_journal *j, const char *id);
/** Call @p fn for each journaled spec. @return the count or a negative errno. */
int cp_journal_each(struct cp_journal *j, void (*fn)(void *ctx, struct mf_sess_spec *spec),
		    void *ctx);
/** The dataplane (its start time, unique per run) the journal was last synchronised with;
 *  0 when none. */
uint64_t cp_journal_dataplane(struct cp_journal *j);
int cp_journal_set_dataplane(struct cp_journal *j, uint64_t start_ns);

#endif /* CP_H */
