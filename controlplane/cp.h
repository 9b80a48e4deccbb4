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
#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "mf/mf_client.h"
#include "mf/mf_cluster.h"
#include "mf/mf_log.h"
#include "mf/mf_sdp.h"
#include "mf/mf_session.h"

#define CP_TOPIC_MAX	256
#define CP_MANY_MAX	1000	/* specs or ids in one create_many / delete_many */
#define CP_LIST_MAX	1000	/* ids in one session.list page */
#define CP_ROOM_MAX	33	/* a room's name: 1-32 of A-Z a-z 0-9 - _ . */
#define CP_STREAM_MAX	65	/* a stream's: 1-64 of those and / : */
#define CP_LOST_MAX	64	/* viewers left whose removal is tried again */

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

struct cp_auth_cfg {
	char keys_file[256];		/* empty: commands are not signed */
	bool required;			/* refuse unsigned commands */
	uint32_t window_s;		/* accepted timestamp skew, each way */
	uint32_t max_nonces;		/* nonces remembered at once */
	char node_tenant[64];		/* signs this node's requests to others; "": unsigned */
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
	bool placement;			/* pool requests go to the registry's best node */
	bool failover;			/* pool sessions kept cluster-wide (cp_failover.c) */
	bool edge_pull;			/* streams announced, and pulled from other nodes */
	uint32_t pipe_linger_s;		/* a pulled pipe without viewers this long closes */
	uint32_t failover_forget_s;	/* a dead node's records unread after this long quiet */
	char journal_dir[256];
	uint32_t status_interval_s;
	uint32_t stats_interval_ms;	/* <prefix>/<node>/stats every this often; 0: none */
	uint32_t stats_max_sessions;	/* the busiest sessions a stats message carries */
	uint16_t port_min, port_max;	/* allocation range for session.create */
	struct cp_limits limits;
	struct cp_auth_cfg auth;
	char devices_prefix[64];	/* devices' <prefix>/<device>/status; "": none */
	uint32_t linger_s;		/* a pulled stream without viewers this long stops */
	uint16_t stream_port;		/* where WebRTC peers and cameras reach streams */
	char stream_addr[64];		/* "": that port's first IPv4 address, else its first */
	uint32_t reply_timeout_ms;
	uint32_t max_payload;
	char log_level[16];
};

int cp_config_load(struct cp_config *cfg, const char *file);
void cp_config_defaults(struct cp_config *cfg);

/* ---- MQTT transport (cp_mqtt.c) ---- */

#define CP_TENANT_MAX	64	/* a tenant's name, NUL included */
#define CP_NONCE_MAX	65
#define CP_SIG_HEX	64	/* HMAC-SHA256 in hex */

/* A signature as MQTT 5 user properties carried it (mfwd-tenant, mfwd-ts, mfwd-nonce,
 * mfwd-sig), copied bounded; a value too long is kept empty, so the check refuses it. */
struct cp_sig {
	bool present;
	uint8_t seen;			/* user properties read (one bit each) */
	char tenant[CP_TENANT_MAX];
	char ts[24];
	char nonce[CP_NONCE_MAX];
	char sig[CP_SIG_HEX + 1];
};

/* A request as it arrived, queued for the main thread. */
struct cp_msg {
	struct cp_msg *next;
	char topic[CP_TOPIC_MAX];
	char *payload;			/* NUL-terminated copy */
	size_t len;
	char response_topic[CP_TOPIC_MAX];	/* MQTT 5 property; empty if none */
	uint8_t *corr;			/* MQTT 5 correlation data */
	size_t corr_len;
	struct cp_sig sig;
	uint64_t arrived_ms;		/* monotonic: when the MQTT thread queued it */
	uint8_t qos;			/* as delivered (0 or 1): its reply's */
	bool device;			/* a device's status, not a request */
	bool pipe_reply;		/* another node's answer to our pipe.open (cp_pipes.c) */
	bool pool;			/* came on the pool topic */
	bool record;			/* a session's record, <prefix>/+/sess/#, or another node's
					 * session.move_failed (cp_failover.c) */
	bool registry;			/* a node's status, <prefix>/+/status (cp_place.c) */
	bool stream_dir;		/* a stream's announcement, <prefix>/+/stream/# */
	bool place_reply;		/* a node's answer to a request we placed on it */
	bool placed;			/* placed here by a node of the pool: signed for the
					 * pool topic and placed_response */
	uint8_t placed_n, placer_n;	/* mfwd-placed, mfwd-placer read (up to 2) */
	char placed_response[CP_TOPIC_MAX];
	char placer_mac[CP_SIG_HEX + 1];	/* mfwd-placer: the placing node's MAC */
};

struct cp_mqtt;

struct cp_mqtt *cp_mqtt_start(const struct cp_config *cfg);
void cp_mqtt_stop(struct cp_mqtt *m);
/** Up to @p max queued requests into @p out, waiting up to @p timeout_ms for the first.
 *  *@p as_of_ms (monotonic): the arrival of the last one taken, or now if none is left
 *  behind: every message that came before it is taken. The caller frees each with
 *  cp_msg_free(). @return how many. */
unsigned int cp_mqtt_take(struct cp_mqtt *m, struct cp_msg **out, unsigned int max,
			  unsigned int timeout_ms, uint64_t *as_of_ms);
/** Leave the pool (its connection closed): what it gives now goes to other nodes. */
void cp_mqtt_leave_pool(struct cp_mqtt *m);
/** Messages queued, not taken yet. */
unsigned int cp_mqtt_queued(struct cp_mqtt *m);
void cp_msg_free(struct cp_msg *msg);
/** Publish; @p corr is echoed as MQTT 5 correlation data. @return 0 or -EIO. */
int cp_mqtt_publish(struct cp_mqtt *m, const char *topic, const char *payload, int qos,
		    bool retain,
		    const uint8_t *corr, size_t corr_len);
/** Publish retained at QoS 1 (gone after @p expiry_s when not 0, MQTT 5) with @p sig, when
 *  not NULL, in the user property mfwd-sig (MQTT 5). @return 0 or -EIO. */
int cp_mqtt_publish_signed(struct cp_mqtt *m, const char *topic, const char *payload,
			   uint32_t expiry_s, const char *sig);
/** true once after every (re)connection: status must be published again. */
bool cp_mqtt_take_reconnected(struct cp_mqtt *m);
bool cp_mqtt_connected(struct cp_mqtt *m);
/** Subscribe to @p topic (QoS 1: retained messages come) or, @p on false, unsubscribe; on
 *  the node's own connection. @return 0 or -EIO. */
int cp_mqtt_follow(struct cp_mqtt *m, const char *topic, bool on);
/** cp_mqtt_follow() for @p n topics (1 to CP_FOLLOW_MAX) in one SUBSCRIBE or UNSUBSCRIBE.
 *  The strings live until the call returns (paho copies them). */
#define CP_FOLLOW_MAX	256
int cp_mqtt_follow_many(struct cp_mqtt *m, char *const *topics, int n, bool on);
/** Subscribe to @p topic for what is published from now on (MQTT 5 Retain Handling 2: no
 *  retained messages), in place of a subscription of the same filter. @return 0, -ENOTSUP
 *  (MQTT 3.1.1) or -EIO. */
int cp_mqtt_watch(struct cp_mqtt *m, const char *topic);
/** Pass @p msg on to @p topic as it came (bytes, signature), asking for the answer on
 *  @p response with @p corr, and saying where its sender wanted it (mfwd-placed) and, when
 *  not NULL, this node's MAC of that (mfwd-placer): a request placed on another node of the
 *  pool, gone from the broker after @p expiry_s. @return 0 or -EIO. */
int cp_mqtt_forward(struct cp_mqtt *m, const char *topic, const struct cp_msg *msg,
		    const char *response, const uint8_t *corr, size_t corr_len,
		    const char *mac, uint32_t expiry_s);

/* ---- the registry of sessions (cp_sessions.c) ---- */

/* A session this control plane installed: no spec (the journal has it at joff). */
struct cp_sess {
	struct cp_sess *hnext;		/* hash chain */
	uint64_t seq;			/* creation order: session.list's cursor */
	uint64_t inc;			/* a pooled session's incarnation: random, journaled,
					 * in its record and in an heir's mark; 0: none */
	uint64_t joff;			/* its latest record in the journal */
	uint32_t jlen;
	uint32_t oidx;			/* its place in the creation order */
	uint32_t max_kbps;		/* as declared; 0: the node's default counts */
	uint16_t tenant;		/* its owner (cp_auth.c); 0: the operator */
	uint32_t stream;		/* the stream it is (cp_rooms.c), + 1; 0: none */
	uint16_t port, udp_port;
	struct mf_addr local;
	uint8_t nb_outputs;
	bool pair;			/* kind rtp: RTCP takes udp_port + 1 */
	bool pending;			/* sent to the dataplane, not yet answered */
	bool deleting;			/* a delete is in flight */
	bool never;			/* its create was refused; the delete behind it ends it */
	bool unanswered;		/* ...or not answered: the dataplane may make it yet */
	bool seen;			/* reconciliation's mark */
	bool unreplayed;		/* not yet given to a new dataplane (cp_store_tick()) */
	bool pooled;			/* created through the pool: kept cluster-wide (failover) */
	bool kept;			/* failover's own lookup: its record is still ours */
	bool taken;			/* ...or an heir's mark says another node took it */
	char id[MF_SESS_ID_MAX];
};

struct cp_space;

struct cp_reg {
	struct cp_sess **buckets;
	uint32_t mask;
	uint32_t count;
	struct cp_sess **order;		/* by seq; NULL where removed */
	uint64_t *oseq;
	uint32_t order_len, order_cap;
	uint64_t next_seq;
	struct cp_space **spaces;
	uint32_t nb_spaces;
};

/** FNV-1a of a NUL-terminated id. */
uint32_t cp_id_hash(const char *id);
struct cp_sess *cp_reg_find(const struct cp_reg *r, const char *id);
/** Free the port spaces no session uses (after a batch of commands). */
void cp_reg_trim(struct cp_reg *r);
struct cp_sess *cp_reg_add(struct cp_reg *r, const struct mf_sess_spec *spec);
void cp_reg_set(struct cp_reg *r, struct cp_sess *s, const struct mf_sess_spec *spec);
void cp_reg_del(struct cp_reg *r, struct cp_sess *s);
void cp_reg_clear(struct cp_reg *r);
int cp_reg_alloc_port(struct cp_reg *r, uint16_t port, const struct mf_addr *local,
		      uint32_t min, uint32_t max, bool pair);
/** Whether UDP port @p udp (and the next one for a @p pair) of dataplane port @p port and
 *  address @p local is a session's here. */
bool cp_reg_port_used(struct cp_reg *r, uint16_t port, const struct mf_addr *local,
		      uint32_t udp, bool pair);
/** Up to @p limit sessions created after @p after, of @p tenant only unless it is -1. */
uint32_t cp_reg_page(const struct cp_reg *r, uint64_t after, uint32_t limit, int tenant,
		     struct cp_sess **out, bool *more);
void cp_reg_each(struct cp_reg *r, void (*fn)(void *ctx, struct cp_sess *s), void *ctx);

/* ---- the journal (cp_journal.c) ---- */

struct cp_journal;

/* A "+" record (spec set, its meta or NULL, where its JSON is) or a "-" record (spec
 * NULL). */
typedef void (*cp_journal_fn)(void *ctx, const char *id, const struct mf_sess_spec *spec,
			      json_t *meta, uint64_t off, uint32_t len);

struct cp_journal *cp_journal_open(const char *dir);
void cp_journal_close(struct cp_journal *j);
/** Buffer a session's spec (keys included) and what the control plane keeps beside it
 *  (@p meta: its owner, its stream; NULL for none); @p off and @p len say where it will be. */
int cp_journal_put(struct cp_journal *j, const struct mf_sess_spec *spec, json_t *meta,
		   uint64_t *off, uint32_t *len);
/** Replace the small file @p name of the journal's directory durably with @p o's JSON
 *  (consumed); a failure is logged. */
int cp_journal_save_json(struct cp_journal *j, const char *name, json_t *o);
/** The small file @p name of the journal's directory, parsed, into *@p out (NULL when
 *  there is none). @return 0, or a negative errno (-EBADMSG: not JSON, logged). */
int cp_journal_load_json(struct cp_journal *j, const char *name, json_t **out);
/** Buffer a session's removal. */
int cp_journal_del(struct cp_journal *j, const char *id);
/** Write what is buffered and sync it: once per batch, before its replies. */
int cp_journal_sync(struct cp_journal *j);
int cp_journal_read(struct cp_journal *j, uint64_t off, uint32_t len,
		    struct mf_sess_spec *spec);
int cp_journal_load(struct cp_journal *j, cp_journal_fn fn, void *ctx);
uint64_t cp_journal_size(const struct cp_journal *j);
int cp_journal_compact(struct cp_journal *j, uint64_t *offs, const uint32_t *lens,
		       uint32_t n);
/** The dataplane (its start time, unique per run) the journal was last synchronised with;
 *  0 when none. */
uint64_t cp_journal_dataplane(struct cp_journal *j);
int cp_journal_set_dataplane(struct cp_journal *j, uint64_t start_ns);

/* ---- state ---- */

/* An error for a reply: a stable code, a sentence, and the JSON path when there is one. */
struct cp_err {
	char code[32];
	char message[200];
	char path[128];
};

void cp_err_set(struct cp_err *e, const char *code, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

struct cp_item;
struct cp_replay;

/* A reply an action sends later (a pipe waits for another node): where it goes. An action
 * that returns NULL with cp->later set answers with cp_cmd_answer() instead. */
struct cp_later {
	char topic[CP_TOPIC_MAX];
	uint8_t *corr;
	size_t corr_len;
	char *id;
	char cmd[32];
	json_t *seqid;
	uint16_t tenant;
	uint8_t qos;		/* the request's: its reply's */
};

/* ---- tenants and signed commands (cp_auth.c) ---- */

/* Why a request was refused for who sent it: each an error code of its own, counted. */
#define CP_AUTH_REASONS(X) \
	X(UNSIGNED,	"unsigned") \
	X(BAD_AUTH,	"bad_auth") \
	X(UNKNOWN,	"unknown_tenant") \
	X(BAD_SIG,	"bad_signature") \
	X(STALE,	"stale") \
	X(REPLAYED,	"replayed") \
	X(NONCES_FULL,	"replay_cache_full") \
	X(FORBIDDEN,	"forbidden") \
	X(OVER_QUOTA,	"over_quota") \
	X(BAD_TOKEN,	"bad_token") \
	X(TOKEN_EXPIRED, "token_expired") \
	X(TOKEN_USED,	"token_used_up") \
	X(TOKEN_SCOPE,	"token_scope")

enum cp_auth_reason {
#define X(name, code) CP_AUTH_##name,
	CP_AUTH_REASONS(X)
#undef X
	CP_AUTH_NB
};

#define CP_OPERATOR	0	/* tenant 0: unsigned requests (when allowed), owner-less sessions */

struct cp_tenant {
	char name[CP_TENANT_MAX];
	uint8_t key[64];
	uint32_t key_len;		/* 0: known from the journal only, cannot sign */
	bool admin;			/* sees and changes every session, node commands */
	uint32_t max_sessions, max_outputs;	/* quotas; 0: none */
	uint64_t max_kbps;
	uint32_t sessions, outputs;	/* in use */
	uint64_t kbps;
	uint64_t refused;		/* its verified requests refused */
	uint32_t nonces;		/* its nonces remembered */
};

struct cp_nonces;

/* ---- tokens (cp_tokens.c) ---- */

#define CP_TOKEN_ID_MAX	65

enum cp_role { CP_ROLE_PUBLISHER = 1, CP_ROLE_VIEWER };

/* What a token lets the request being handled do. */
struct cp_grant {
	bool on;
	bool spends;			/* a publish or subscribe: a use when it succeeds */
	uint8_t role;			/* enum cp_role */
	uint16_t tenant;
	int64_t exp;
	char id[CP_TOKEN_ID_MAX];
	char room[CP_ROOM_MAX];
	char stream[CP_STREAM_MAX];	/* "": any stream of the room (a viewer's) */
	uint32_t uses;
	char tag[10];			/* "k" and 8 hex digits: what it makes is named so */
};

struct cp_token_use {
	uint16_t tenant;
	uint32_t used;
	int64_t exp;
	char id[CP_TOKEN_ID_MAX];
};

struct cp_tokens {
	struct cp_token_use *u;
	uint32_t nb, cap;
};

/* ---- rooms and streams (cp_rooms.c) ---- */

#define CP_STREAM_MEDIA	4

/* What a stream's publisher sends in one m-section: viewers' answers offer it. */
struct cp_media {
	uint8_t kind;		/* enum mf_sdp_kind */
	uint8_t codec;		/* enum mf_sdp_codec */
	uint8_t pt;
	uint8_t h264_mode;
	uint8_t profile;
	uint32_t clock;
	uint32_t ssrc;		/* 0: not announced */
};

struct cp_room {
	char name[CP_ROOM_MAX];	/* "": a free slot */
	uint16_t tenant;
	uint32_t nb_streams;
};

struct cp_stream {
	char name[CP_STREAM_MAX];
	char session[MF_SESS_ID_MAX];	/* "": a free slot */
	uint32_t room;
	bool webrtc;		/* published with an SDP offer (else plain RTP) */
	uint8_t nb_media;
	struct cp_media media[CP_STREAM_MEDIA];
	char device[33];	/* pulled from this device on demand; "": published */
	char tag[10];		/* published with a token: its tag ("" otherwise) */
	uint64_t idle_ms;	/* pulled, without viewers since (0: it has some) */
	char origin[64];	/* pulled through a pipe from this node (cp_edge.c); "": not */
	uint64_t resigned_ms;	/* its announcement last published again over an unsigned one */
	uint64_t resign_at_ms;	/* and to be again then (0: not) */
};

/* A device that pushes on demand, as its retained status says (cp_devices.c). */
struct cp_device {
	char name[33];
	bool online;
	char room[CP_ROOM_MAX];
	json_t *streams;	/* {"<stream>": <media array>} */
};

struct cp_devices {
	struct cp_device *d;
	uint32_t nb, cap;
	json_t *index;		/* {name: its place in d}: a fleet's 50,000 statuses at a
				 * reconnection, each found without a scan */
};

struct cp_rooms {
	struct cp_room *rooms;
	uint32_t nb_rooms, cap_rooms;
	struct cp_stream *streams;
	uint32_t nb_streams, cap_streams;
	bool dirty;		/* rooms.json is behind (a room brought back on load) */
	/* viewers the dataplane said left (ICE) whose removal failed (the dataplane away or
	 * slow, the journal): tried again at each tick; the dataplane says it once */
	struct {
		char session[MF_SESS_ID_MAX];
		char viewer[MF_OUT_ID_MAX];
		uint32_t tries;
	} lost[CP_LOST_MAX];
	uint32_t nb_lost;
	uint64_t lost_at_ms;	/* tried again then */
};

struct cp_auth {
	struct cp_tenant *tenants;	/* [CP_OPERATOR] is the operator */
	uint32_t nb, cap;
	struct cp_nonces *nonces;
	uint32_t signers;		/* tenants holding a key */
	uint64_t refused[CP_AUTH_NB];
};

/* ---- pipes between nodes (cp_pipes.c) ---- */

#define CP_NODE_MAX	64	/* a node's name, NUL included */

enum cp_pipe_state { CP_PIPE_OPENING = 1, CP_PIPE_OPEN };

/* A session's media sent to another node (this node the origin: an output of the session
 * toward the edge's session of the same id) or received from one (this node the edge). */
struct cp_pipe {
	char session[MF_SESS_ID_MAX];
	/* out: the session's incarnation (cp_sess.seq) it was made for: one created since
	 * under the name (another tenant's, perhaps) is not piped */
	uint64_t sess_seq;
	char node[CP_NODE_MAX];		/* the other node */
	bool in;			/* received: this node is the edge */
	uint8_t state;			/* enum cp_pipe_state */
	uint8_t srtp;			/* enum mf_srtp_suite of the pipe; 0: plain */
	uint8_t kind;			/* out: the session's */
	bool rekeyed;			/* a new key to tell the other node (cp_pipes_attached) */
	uint32_t epoch;			/* keys minted for it since it opened */
	uint16_t port;			/* out: the origin's dataplane port toward the edge */
	uint16_t udp_port;		/* out: the edge's ingress */
	char addr[48];			/* out: its address */
	char out_id[MF_OUT_ID_MAX];	/* out: the origin's output toward it */
	/* Our last pipe.key until the other node answers it: its id, when to send it again,
	 * the wait before that (doubling; 0: nothing awaited). */
	char key_token[17];
	uint64_t key_due_ms;
	uint32_t key_wait_ms;
	/* out, while opening: our pipe.open's id, when to give up, the key for the output
	 * and the session.pipe request to answer */
	char token[17];
	uint64_t deadline_ms;
	uint8_t key[MF_SRTP_MAX_KEY + MF_SRTP_MAX_SALT];
	struct cp_later *later;
};

struct cp_pipes {
	struct cp_pipe *p;
	uint32_t nb, cap;
};

/* ---- placing pool requests on the cluster's nodes (cp_place.c) ---- */

#define CP_PLACE_TRIES	3	/* nodes a request is placed on before this one takes it */
#define CP_PLACE_RECENT	1024	/* requests whose node is remembered for their repeats */
#define CP_PLACE_WAITING_MAX 4096	/* requests awaiting a node's answer; more are kept here */

/* A pool request placed on another node, until that node answers. */
struct cp_placing {
	struct cp_msg *msg;		/* as it came: bytes, signature, the client's routing */
	uint64_t token;			/* our correlation data, in hex */
	uint64_t hash;			/* of its bytes: its entry in the recent ring */
	uint64_t deadline_ms;		/* monotonic */
	uint32_t count;			/* sessions it would create */
	bool late;			/* answered "timeout": kept for a late answer */
	char node[CP_NODE_MAX];		/* where it is */
	char tried[CP_PLACE_TRIES][CP_NODE_MAX];
	uint8_t nb_tried;
};

struct cp_place {
	bool on;			/* a pool, MQTT 5 and "placement" */
	struct mf_cluster reg;		/* every node's status */
	struct cp_placing *p;
	uint32_t nb, cap;
	uint64_t next_token;
	/* the last requests placed, by a hash of their bytes: where each is now (the node
	 * that holds it or awaits it, this one when taken here), for a repeat to go there */
	struct {
		uint64_t hash;
		bool timed_out;		/* answered "timeout" there: a repeat is placed anew */
		char node[CP_NODE_MAX];
	} recent[CP_PLACE_RECENT];
	uint32_t recent_next;
	/* pool creates taken here, sent to another node, their answers passed on, placed
	 * again after a refusal for room, answered "timeout" (node.info); a late answer is
	 * counted as passed on too */
	uint64_t here, forwarded, relayed, again, timeouts;
};

#define CP_FAILOVER_DEAD_MAX	64	/* dead nodes whose records are read at once */
#define CP_FAILOVER_REFUSED_MAX	1024	/* sessions of dead nodes an heir could not take */
#define CP_FAILOVER_FORGOT_MAX	256	/* dead nodes no longer read, not read again */
#define CP_FAILOVER_REFUSERS	4	/* heirs that refused one: then it is left */

/* Edge pull (cp_edge.c): the streams other nodes announce, as they said them. */
struct cp_dir_entry {
	char node[CP_NODE_MAX];
	char room[CP_ROOM_MAX];
	char stream[CP_STREAM_MAX];
	json_t *rec;			/* the announcement, checked */
};

struct cp_edge {
	struct cp_dir_entry *e;
	uint32_t nb, cap;
	uint64_t refused;		/* announcements not kept (bad, or the table full) */
};

/* Failover (cp_failover.c): the dead nodes whose records this node reads, and its own
 * records looked up after each connection. */
struct cp_failover {
	bool on;			/* "failover", a pool, MQTT 5 */
	char dead[CP_FAILOVER_DEAD_MAX][CP_NODE_MAX];
	/* the buckets of its records subscribed to (<prefix>/<dead>/sess/<bb>/+): those this
	 * node is the heir of */
	uint64_t followed[CP_FAILOVER_DEAD_MAX][MF_CLUSTER_BUCKETS / 64];
	uint64_t dead_ms[CP_FAILOVER_DEAD_MAX];	/* its last record or refusal (monotonic) */
	/* it has records no node could take when read, more than refused[] could hold */
	bool orphans[CP_FAILOVER_DEAD_MAX];
	/* mf_cluster_heirs_sig() when the heirs were last worked out (0: again at the next
	 * status) */
	uint64_t heirs_sig;
	uint32_t nb_dead;
	uint64_t forgotten;		/* dead nodes no longer read, failover_forget_s quiet */
	/* their names (the newest CP_FAILOVER_FORGOT_MAX, a ring): their wills again, when
	 * the registry is read again on a reconnection, are no new deaths */
	char forgot[CP_FAILOVER_FORGOT_MAX][CP_NODE_MAX];
	uint32_t nb_forgot, forgot_next;
	char t_failed[CP_TOPIC_MAX];	/* <prefix>/+/event/session.move_failed */
	uint64_t read_at;		/* the dead nodes' records read then (monotonic), once the
					 * deaths settled; 0: none due */
	uint64_t refollow_at;		/* connected again: followed again then, once the
					 * statuses came again (the quiet times kept); 0: no */
	/* a dead node's session that heirs refused: the next in rank takes it */
	struct {
		char dead[CP_NODE_MAX];
		char id[MF_SESS_ID_MAX];
		char by[CP_FAILOVER_REFUSERS][CP_NODE_MAX];
		uint8_t n;
		bool followed;		/* its record's own topic subscribed to */
		bool orphan;		/* no node could take it when last read */
	} refused[CP_FAILOVER_REFUSED_MAX];
	uint32_t nb_refused;
	/* the dead nodes' sessions taken over here, by a hash of node and id (open addressing,
	 * 0 empty): a record read again (another death, a refusal) is not taken twice */
	uint64_t *taken;
	uint32_t taken_n, taken_cap;
	char t_own[CP_TOPIC_MAX];	/* <prefix>/<node>/sess/# */
	char t_mark[CP_TOPIC_MAX];	/* <prefix>/<node>/sess/!sync: the lookup's end */
	char nonce[33];
	uint64_t sync_at_ms;		/* a lookup due then (monotonic); 0: none */
	uint64_t sync_until_ms;		/* a lookup under way until then; 0: none */
	uint64_t sync_seq;		/* sessions made before it began are judged by it */
	uint32_t sync_retry_ms;		/* a failed delete's lookup again after this; 0: none */
	/* sessions taken over here, refused here, deleted here as taken over elsewhere */
	uint64_t moved, failed, gone;
	uint64_t republished;		/* own records the broker had lost, published again */
	uint64_t unsigned_records;	/* records and marks not signed as a node: not believed */
	uint64_t oversized;		/* records and refusals over max_payload: not read */
	uint64_t stale;			/* own records and marks of another incarnation: replaced */
	uint64_t others;		/* dead nodes' records read that another node was the heir
					 * of (read again after a death, or a bucket no longer ours) */
};

#define CP_LOAD_LCORES	128	/* lcores whose busy share the status reports */

/* The dataplane's figures at the last status, for the rates of the next (cp_status.c). */
struct cp_load {
	uint64_t t_ns;			/* 0: none yet */
	uint64_t generation;		/* a new dataplane starts its counters again */
	uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes;
	uint64_t busy[CP_LOAD_LCORES], total[CP_LOAD_LCORES];
	json_t *last;			/* the figures published last, kept when too close */
};

/* A session by its id and creation number (not a later one of the same id). */
struct cp_orphan {
	char id[MF_SESS_ID_MAX];
	uint64_t seq;
};

/* A list of them, grown as needed (cp_store.c). */
struct cp_ids {
	struct cp_orphan *v;
	uint32_t n, cap;
};

struct cp {
	struct cp_config cfg;
	struct cp_mqtt *mqtt;
	struct mf_client dp;
	bool dp_up;
	uint64_t dp_generation;
	uint64_t dp_start_ns;		/* identifies a dataplane: generations restart at 1 */
	uint32_t dp_max_sessions;
	struct cp_journal *journal;
	bool draining;
	bool status_dirty;		/* sessions changed: publish status soon */
	/* the installed sessions, as this control plane knows them, and their totals */
	struct cp_reg reg;
	uint32_t nb_outputs;
	uint64_t kbps;
	uint64_t journal_live;		/* bytes of the journal's live records */
	bool load_lost;			/* a record read at load found no memory */
	/* channel commands in flight, oldest first (at most MF_CHAN_CMD_SLOTS) */
	struct cp_item *inflight[MF_CHAN_CMD_SLOTS];
	uint32_t nb_inflight;
	/* a wait for the dataplane ran out: until it answers again, none is repeated */
	bool dp_quiet;
	uint64_t dp_quiet_at;		/* its replies taken then (mf_client.answered) */
	bool replay_due;		/* sessions are not yet given to this dataplane */
	uint32_t replay_left;		/* ...how many, as last logged */
	/* creates the dataplane did not answer in time, which it may still make, and creates
	 * undone whose delete it did not take: each held in the registry (its id and port
	 * taken) until a delete is in the channel */
	struct cp_ids orphans;
	/* sessions whose timeout the dataplane did not confirm (stalled): asked again */
	struct cp_ids unconfirmed;
	/* scratch */
	struct mf_sess_spec spec;
	alignas(64) uint8_t res[MF_CHAN_SLOT_SIZE];	/* replies are structs */
	int last_dp_rc;
	struct cp_replay *replay;	/* the last replies, by request id (cp_cmd.c) */
	/* A batch's requests (cp_cmd.c), kept from batch to batch: a thousand are most of a
	 * megabyte, which malloc would take, zero and give back (consolidating) each time. */
	struct cp_req *batch_rqs;
	char **batch_again;		/* a repeat's reply text, per request */
	unsigned int batch_cap;
	struct cp_load load;
	char t_status[CP_TOPIC_MAX];
	char t_stats[CP_TOPIC_MAX];
	char t_pool[CP_TOPIC_MAX];	/* <prefix>/pool/cmd: what pool requests are signed for */
	char t_place[CP_TOPIC_MAX];	/* <prefix>/<node>/place/reply */
	struct cp_auth auth;
	uint16_t caller;		/* the tenant of the request being handled */
	struct cp_rooms rooms;
	struct cp_tokens tokens;
	struct cp_devices devices;
	const struct cp_grant *grant;	/* the token of the request being handled, or NULL */
	struct cp_later *later;		/* set by an action that answers later */
	struct cp_pipes pipes;
	struct cp_place place;
	struct cp_failover failover;
	struct cp_edge edge;
	bool pooled;			/* the request being handled came through the pool */
};

/* ---- the dataplane (cp_dataplane.c) ---- */

enum cp_dp_change { CP_DP_SAME, CP_DP_UP, CP_DP_DOWN };

/** Connect when possible. Called periodically; says whether the dataplane came or went. */
enum cp_dp_change cp_dp_poll(struct cp *cp);
/** The next event from the dataplane, or -EAGAIN. */
int cp_dp_event(struct cp *cp, struct mf_msg_event *ev);
/** Refused "dataplane_down", saying why it is not attached. @return -ENOTCONN */
int cp_dp_down(const struct cp *cp, struct cp_err *err);
/** Pipelined: send a command (@p seq says which), collect its reply later with cp_dp_reply()
 *  in the order of sending; the result goes to @p res. On failure fill @p err and return a
 *  negative code. */
int cp_dp_send(struct cp *cp, uint16_t type, const void *payload, uint32_t len, uint64_t *seq,
	       struct cp_err *err);
int cp_dp_reply(struct cp *cp, uint64_t seq, void *res, uint32_t cap, struct cp_err *err);
/**
 * Whether a wait for the dataplane ran out (a reply, or room in its channel: see
 * cp_dp_stall()) and it has answered nothing since. A stalled dataplane would otherwise
 * hold the control plane a timeout for each command in flight, each session replayed, each
 * send into its full channel; cp_dp_reply() does not wait for it.
 */
bool cp_dp_stalled(struct cp *cp);
/** No room in the channel within reply_timeout_ms: the dataplane is taken as stalled. */
void cp_dp_stall(struct cp *cp);
/** Send and wait: only with nothing in flight. */
int cp_dp_call(struct cp *cp, uint16_t type, const void *payload, uint32_t len, void *res,
	       uint32_t cap, struct cp_err *err);

/* ---- sessions: the registry's totals, the journal, the pipeline (cp_store.c) ---- */

/* One session of a request: a channel command in flight, then its outcome. */
enum cp_item_op { CP_OP_CREATE, CP_OP_DELETE, CP_OP_REPLAY };

struct cp_item {
	uint8_t op;
	bool sent;			/* a command is (or was) in the channel */
	bool ok;
	uint64_t seq;
	struct cp_sess *s;		/* a create's: may be gone by the end of the batch */
	uint64_t made;			/* a create's session: its creation number and id, */
	char id[MF_SESS_ID_MAX];	/* to find it again (undo) */
	struct cp_err err;
};

/** Load the registry from the journal (at start). @return sessions or a negative errno. */
int cp_store_load(struct cp *cp);
/** A dataplane came: a new one gets every session (replay), the one we had before our
 *  restart is the truth the registry and journal follow (reconcile). */
void cp_store_attach(struct cp *cp);
/** Start creating @p spec (validated, port allocated): registry entry, journal record,
 *  channel command. @return 0 or a negative code with it->err set. */
int cp_store_create(struct cp *cp, struct cp_item *it, const struct mf_sess_spec *spec);
int cp_store_delete(struct cp *cp, struct cp_item *it, const char *id);
/** Undo a create of this request (@p made its creation number): cp_store_delete(), or, the
 *  channel not taking the delete (a stalled dataplane), out of the journal now and deleted
 *  in the dataplane once it takes it. @return whether anything was done. */
bool cp_store_undo(struct cp *cp, struct cp_item *it, const char *id, uint64_t made);
/** Every command in flight answered (the items they write may go). */
void cp_store_collect(struct cp *cp);
/** Every command in flight answered, the journal synced: then replies may go out. */
int cp_store_flush(struct cp *cp);
/** Between batches: unanswered creates that could not be undone yet (a full channel), and
 *  the rest of a replay into a dataplane that stalled (once it answers again). */
void cp_store_tick(struct cp *cp);
/** Refuse "busy" (-EAGAIN) a request to the dataplane about session @p id while the new
 *  dataplane has not been given it (the rest of a replay is held); 0 otherwise. */
int cp_store_given(struct cp *cp, const char *id, struct cp_err *err);
/** Replace a session's spec (nothing in flight): channel, registry, journal, sync. */
int cp_store_update(struct cp *cp, struct cp_sess *s, const struct mf_sess_spec *spec,
		    struct cp_err *err);
/** Make @p s stream @p stream (an index of cp_rooms.c, + 1): its record again, with the
 *  stream, synced. On failure @p s streams what it did before, its record too. */
int cp_store_bind(struct cp *cp, struct cp_sess *s, uint32_t stream);
/** Replace a session's record with @p spec (same ports, outputs and totals), for a
 *  dataplane that has not got it yet: journal only, synced. */
int cp_store_rewrite(struct cp *cp, struct cp_sess *s, const struct mf_sess_spec *spec);
/** <prefix>/<node>/sess/<bb>/<id>, <bb> the id's bucket (mf_cluster_bucket, "%02x"): where
 *  a pooled session's record is kept (failover). */
void cp_store_record_topic(const struct cp *cp, const char *node, const char *id,
			   char topic[CP_TOPIC_MAX]);
/** Publish a pooled session's record (retained; its spec with keys and its owner), once
 *  its journal record is synced. Nothing for a session not pooled. */
void cp_store_record(struct cp *cp, struct cp_sess *s);
/** A session's incarnation as records, marks and the journal carry it (16 hex digits). */
json_t *cp_store_inc_json(uint64_t inc);
/** The incarnation @p hex says (cp_store_inc_json's form), or 0 if NULL or not one. */
uint64_t cp_store_inc_parse(const char *hex);
/** Publish @p text retained on a record topic (a record, or an heir's mark gone after
 *  @p expiry_s), signed as auth.node_tenant when this node has one. @return 0 or -EIO. */
int cp_store_record_publish(struct cp *cp, const char *topic, const char *text,
			    uint32_t expiry_s);
/** Is the dataplane that came a new one (cp_store_attach will replay into it)? */
bool cp_store_fresh(const struct cp *cp);
/** A session the dataplane ended: out of the registry and the journal. */
void cp_store_forget(struct cp *cp, const char *id);
/** The spec of a registered session, from the journal, into @p spec. */
int cp_store_spec(struct cp *cp, const struct cp_sess *s, struct mf_sess_spec *spec);
/** Declared kbit/s of a spec, the node's default when it declares none. */
uint64_t cp_store_kbps(const struct cp *cp, uint32_t max_kbps);

/* ---- actions (cp_actions.c) ---- */

/* A request: its envelope, and the items of a pipelined command. */
struct cp_req {
	const char *id;
	const char *cmd;
	const char *reply_to;
	json_t *seqid;
	json_t *args;
	json_t *root;
	json_t *outer;			/* a signed envelope around root, or NULL */
	struct cp_sig env;		/* the envelope's signature */
	struct cp_grant grant;		/* or the token it came with */
	const struct cp_sig *sig;	/* the signature it came with (env or the message's) */
	uint16_t tenant;		/* who sent it (verified), CP_OPERATOR unsigned */
	bool verified;			/* the signature (or its absence) was accepted */
	bool pooled;			/* came through the pool (here or placed here) */
	bool pipelined;
	bool atomic;
	bool many;
	uint32_t nb_items;
	struct cp_item *items;
	json_t **results;		/* per item, what its reply says on success */
	json_t *result;			/* the reply's result, or NULL with err set */
	struct cp_err err;
	struct cp_later *later;		/* the action answers later, here */
	/* The same request twice in one batch (a quick retry): the second waits for the
	 * first's reply (twin: the first's index + 1), which keeps its text (kept). */
	uint32_t twin;
	bool keep;
	char *kept;
};

/* Synchronous actions: each returns a result object (new reference) or NULL with @p err. */
typedef json_t *(*cp_action_fn)(struct cp *cp, json_t *args, struct cp_err *err);

json_t *cp_session_update(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_session_get(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_session_list(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_node_info(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_node_stats(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_node_drain(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_session_capture(struct cp *cp, json_t *args, struct cp_err *err);

/* Pipelined actions: start sends the request's channel commands; finish (after
 * cp_store_flush) sets its result or error. */
void cp_create_start(struct cp *cp, struct cp_req *rq);
void cp_delete_start(struct cp *cp, struct cp_req *rq);
void cp_pipelined_finish(struct cp *cp, struct cp_req *rq, bool journal_ok);
json_t *cp_err_json(const struct cp_err *e);
/** A command's arguments: an object of exactly the keys it takes (none for NULL), unpacked
 *  strictly as jansson's @p fmt says. @return 0, or -EINVAL with @p err set (bad_args). */
int cp_args_unpack(json_t *args, struct cp_err *err, const char *fmt, ...);
/** Give the spec (a JSON object) an ingress udp_port from the range when it has none. */
int cp_spec_alloc_port(struct cp *cp, json_t *spec, struct cp_err *err);
/** Create one session now (validated, admitted, installed, journaled): for commands that
 *  run alone. @return 0 with *@p out, or a negative code with @p err set. */
int cp_create_now(struct cp *cp, json_t *spec, struct cp_sess **out, struct cp_err *err);
/** Start creating one session, pipelined (validated, admitted, sent; the caller flushes with
 *  cp_store_flush() and reads @p it). @return 0, or a negative code with it->err set. */
int cp_create_pipelined(struct cp *cp, json_t *spec, struct cp_item *it);
int cp_delete_now(struct cp *cp, const char *id, struct cp_err *err);
struct mf_stats_reader;
/** The dataplane's stats area, read-only; -ENOENT while there is none. */
int cp_stats_attach(struct cp *cp, struct mf_stats_reader *r);
/** The stats area's figures (of one session, or of the node when NULL). */
json_t *cp_stats_json(struct cp *cp, const char *session);
/** May the request being handled (cp->caller) see session @p id? An admin sees any; a
 *  tenant only its own (another's is "not found": its existence is not told). */
bool cp_sees(const struct cp *cp, const char *id);

/* ---- requests (cp_cmd.c) ---- */

/** Handle a batch of requests: pipelined commands share channel round trips and one journal
 *  sync; each request gets exactly one reply, in the order of the requests. */
void cp_cmd_batch(struct cp *cp, struct cp_msg **msgs, unsigned int n);
/** The reply to a request whose action set cp->later: @p result (consumed) or @p err. The
 *  routing in @p l is freed, not @p l. Not kept for a repeat of the request. */
void cp_cmd_answer(struct cp *cp, struct cp_later *l, json_t *result, const struct cp_err *err);
/** Forget the routing in @p l (the request goes unanswered). */
void cp_cmd_answer_free(struct cp_later *l);
/** Send @p text (another node's reply) where @p msg's sender asked for its reply. */
void cp_cmd_relay(struct cp *cp, struct cp_msg *msg, const char *text);
/** Refuse @p msg with @p err, answered where it asked (not kept for a repeat). */
void cp_cmd_refuse(struct cp *cp, struct cp_msg *msg, const struct cp_err *err);

/* ---- placement (cp_place.c) ---- */

int cp_place_init(struct cp *cp);
void cp_place_fini(struct cp *cp);
/** Take the registry's statuses, the answers of nodes we placed requests on, and the pool
 *  creates another node should take out of @p batch. @return the requests left to run
 *  here (an answer may give one back). */
unsigned int cp_place_route(struct cp *cp, struct cp_msg **batch, unsigned int n);
/** Answer "timeout" for placed requests whose node did not answer. */
void cp_place_tick(struct cp *cp, uint64_t now_ms);
/** Answer the placed requests still awaited: this node stops. */
void cp_place_stop(struct cp *cp);
/** Placed requests awaiting their node's answer (not those answered "timeout"). */
uint32_t cp_place_awaited(const struct cp *cp);

/* ---- failover (cp_failover.c) ---- */

int cp_failover_init(struct cp *cp);
void cp_failover_fini(struct cp *cp);
/** Stopping: every records topic it follows unsubscribed (before the DISCONNECT, so that
 *  nothing comes on them as the connection closes; cp_mqtt_stop). */
void cp_failover_stop(struct cp *cp);
/** A node's status was taken into the registry: its will starts reading its records, its
 *  coming back stops that. */
void cp_failover_status(struct cp *cp, const char *node);
/** Take the session records out of @p batch (and act on them). @return what is left. */
unsigned int cp_failover_route(struct cp *cp, struct cp_msg **batch, unsigned int n);
/** Connected again (@p again) or time passed: this node's own records looked up. */
void cp_failover_tick(struct cp *cp, bool again, uint64_t now_ms);

/* ---- tenants and signed commands (cp_auth.c) ---- */

/** Tenant 0 (the operator) and, when auth.keys_file is set, the tenants and keys from it
 *  (a file only its owner may read). @return 0 or a negative errno, said on stderr. */
int cp_auth_init(struct cp *cp);
void cp_auth_fini(struct cp *cp);
/** A tenant's index by name ("" is the operator); one the keys file does not name (a
 *  journal's) is added without a key. @return it, or CP_OPERATOR when none can be added. */
uint16_t cp_auth_tenant(struct cp *cp, const char *name);
/** The envelope form {"auth": {...}, "body": "<request>"}: its signature into @p sig and the
 *  body's bytes. @return 1 when @p root is one, 0 when not, or -EINVAL with @p err set. */
int cp_auth_unwrap(json_t *root, struct cp_sig *sig, const char **body, size_t *len,
		   struct cp_err *err);
/** Who sent @p body on @p topic (asking for replies on @p response, "" for none): its
 *  verified tenant into @p tenant. @return 0, or a negative code with @p err set and the
 *  refusal counted. */
int cp_auth_check(struct cp *cp, const struct cp_sig *sig, const char *topic,
		  const char *response, const char *body, size_t len, uint16_t *tenant,
		  struct cp_err *err);
/** A verified request that is not a repeat of one answered: its nonce spent (refused if it
 *  was, within the window). @return 0 or a negative code with @p err set. */
int cp_auth_spend(struct cp *cp, const struct cp_sig *sig, uint16_t tenant, struct cp_err *err);
/** A verified repeat answered with the first's reply: its nonce kept too (if new, and if
 *  there is room), so its bytes cannot run once the first's reply is forgotten. */
void cp_auth_note(struct cp *cp, const struct cp_sig *sig, uint16_t tenant);
bool cp_auth_admin(const struct cp *cp, uint16_t tenant);
/** The index of a tenant holding a key, or -1. */
int cp_auth_find(const struct cp *cp, const char *name);
/** @p body (a request for @p topic) in a signed envelope as auth.node_tenant, into *@p out
 *  (freed by the caller). @return 0, -ENOENT (no node tenant: send it unsigned), -EIO. */
int cp_auth_sign(struct cp *cp, const char *topic, const char *body, char **out);
/** A session record's or mark's MAC as auth.node_tenant, in hex (docs/cluster.md).
 *  @return 0, -ENOENT (no node tenant) or -EIO. */
int cp_auth_record_mac(struct cp *cp, const char *topic, const void *payload, size_t len,
		       char hex[CP_SIG_HEX + 1]);
/** Whether a record or mark read on @p topic may be believed: with auth.node_tenant, only
 *  one it signed (@p sig: its mfwd-sig); without, any. */
bool cp_auth_record_ok(struct cp *cp, const char *topic, const void *payload, size_t len,
		       const char *sig);
/** The MAC, under auth.node_tenant's key, with which a placing node vouches that it sent
 *  @p body to @p topic for a sender who wanted the answer on @p placed, answered on
 *  @p response. @return 0, -ENOENT (no node tenant), -EIO. */
int cp_auth_place_mac(struct cp *cp, const char *topic, const char *placed, const char *response,
		      const char *body, size_t len, char hex[CP_SIG_HEX + 1]);
/** HMAC-SHA256 under @p t's key of @p head then @p body. @return 0 or -EIO. */
int cp_auth_hmac(const struct cp_tenant *t, const void *head, size_t hlen, const void *body,
		 size_t blen, uint8_t out[32]);
/** @p s is @p min to @p max printable ASCII characters, no space (nonces, token ids). */
bool cp_printable(const char *s, size_t min, size_t max);
/** @p n bytes from 2n lowercase hex digits. @return 0 or -EINVAL. */
int cp_unhex(const char *s, uint8_t *out, size_t n);
/** Count a refusal (for tenant @p t once verified, else -1); @p err keeps the code set.
 *  @return -EACCES (-EPERM for forbidden). */
int cp_auth_refuse(struct cp *cp, int t, enum cp_auth_reason why, struct cp_err *err);
/** Would @p tenant stay within its quotas with these changes? @return 0 or -EDQUOT. */
int cp_auth_admit(struct cp *cp, uint16_t tenant, int sessions, int64_t outputs,
		  int64_t kbps, struct cp_err *err);
void cp_auth_count(struct cp *cp, uint16_t tenant, int sessions, int64_t outputs,
		   int64_t kbps);
/** What node.info tells @p caller: its own use and quotas; to an admin every tenant's and
 *  the refusals. */
json_t *cp_auth_json(const struct cp *cp, uint16_t caller);
/** Who to name in a log line: the tenant, else the one a refused signature claimed (said
 *  in @p buf). */
const char *cp_auth_who(const struct cp *cp, uint16_t tenant, const struct cp_sig *sig,
			char *buf, size_t cap);

/* ---- rooms and streams (cp_rooms.c) ---- */

bool cp_room_name_ok(const char *name, bool stream);
/** enum mf_sdp_codec of "h264", "vp8", "vp9", "av1", "opus", "pcmu", "pcma"; -1 else. */
int cp_codec_of(const char *name);
const char *cp_codec_name(unsigned int codec);
int cp_room_find(const struct cp *cp, const char *name);
/** @return the new room's index, or -ENOMEM. */
int cp_room_add(struct cp *cp, const char *name, uint16_t tenant);
void cp_room_del(struct cp *cp, uint32_t room);
/** rooms.json from the rooms (durably). */
int cp_rooms_save(struct cp *cp);
/** The rooms of rooms.json: before the journal, whose streams name them. */
int cp_rooms_load(struct cp *cp);
void cp_rooms_fini(struct cp *cp);
int cp_stream_find(const struct cp *cp, uint32_t room, const char *name);
/** @return the new stream's index, or -ENOMEM. */
int cp_stream_add(struct cp *cp, const struct cp_stream *st);
/** Its session is gone: so is the stream. */
void cp_stream_gone(struct cp *cp, uint32_t idx);
/** <prefix>/<node>/stream/<room>/<stream>: where @p node announces stream @p idx. */
void cp_stream_dir_topic(const struct cp *cp, const char *node, uint32_t idx,
			 char topic[CP_TOPIC_MAX]);
/** The stream as its session's journal record keeps it. */
json_t *cp_stream_meta(const struct cp *cp, uint32_t idx);
/** An event of a stream's session says its room and stream (and an output's, its viewer). */
void cp_stream_label(struct cp *cp, json_t *ev);
/** A stream from its session's record (@p meta may be NULL). @return its index + 1, or 0. */
uint32_t cp_stream_restore(struct cp *cp, json_t *meta, const struct cp_sess *s);
/** A later record of stream @p idx's session (@p meta its "stream"): what a bind after the
 *  first changed (the device a pull names, the origin, the tag). */
void cp_stream_refresh(struct cp *cp, uint32_t idx, const json_t *meta);
/** A record's "media" array into @p st's media. @return 0, or -EBADMSG. */
int cp_stream_media(json_t *media, struct cp_stream *st);

/* ---- tokens (cp_tokens.c) ---- */

/** The uses of tokens spent, from tokens.json. */
int cp_tokens_load(struct cp *cp);
void cp_tokens_fini(struct cp *cp);
/** A request of @p cmd carrying "token" in @p args: verified, its scope into @p g, "token"
 *  taken out of @p args. @return 0 or a negative code with @p err set, counted. */
int cp_token_check(struct cp *cp, const char *cmd, json_t *args, struct cp_grant *g,
		   struct cp_err *err);
/** Is a use of @p g left (when its command spends one)? @return 0 or refused, counted. */
int cp_token_use(struct cp *cp, const struct cp_grant *g, struct cp_err *err);
/** A publish or subscribe of @p g succeeded: a use spent, durably (a failure is logged). */
int cp_token_spend(struct cp *cp, const struct cp_grant *g);
/** May the request (its token, if any) reach @p stream of @p room? Refusals counted. */
int cp_token_allows(struct cp *cp, const char *room, const char *stream, struct cp_err *err);
/** Did the request's token (if any) make @p name (a viewer, a stream's publisher tag)? */
int cp_token_owns(struct cp *cp, const char *name, const char *what, struct cp_err *err);
json_t *cp_token_create(struct cp *cp, json_t *args, struct cp_err *err);

/* ---- devices that push on demand (cp_devices.c) ---- */

/** A device's status message. @return 1 when it went offline, 2 when its status was
 *  cleared (its streams end, then cp_device_forget()), its name in @p gone; else 0. */
int cp_device_status(struct cp *cp, const struct cp_msg *msg, char *gone, size_t cap);
/** Device @p name no longer known (its status cleared). */
void cp_device_forget(struct cp *cp, const char *name);
/** The media of stream "<device>/<name>" of @p room if its device is online and has it
 *  (borrowed), the device's name into @p device; else NULL. */
json_t *cp_device_media(struct cp *cp, const char *room, const char *stream, char *device,
			size_t cap);
/** Whether @p device's last status said online. */
bool cp_device_online(struct cp *cp, const char *device);
/** Send @p cmd (consumed) to the device's command topic. */
void cp_device_command(struct cp *cp, const char *device, json_t *cmd);
void cp_devices_fini(struct cp *cp);
/** device.list: the devices whose room the caller sees (an admin: all), online or not. */
json_t *cp_device_list(struct cp *cp, json_t *args, struct cp_err *err);

/* ---- room and stream commands (cp_streams.c) ---- */

json_t *cp_room_create(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_room_delete(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_room_list(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_room_get(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_stream_publish(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_stream_subscribe(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_stream_unsubscribe(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_stream_unpublish(struct cp *cp, json_t *args, struct cp_err *err);
/** Streams pulled from devices: stopped once without viewers for linger_s. */
void cp_streams_tick(struct cp *cp, uint64_t now_ms);
/** A device went offline: the streams pulled from it end. */
void cp_streams_device_gone(struct cp *cp, const char *device);
/** A stream's viewer whose ICE consent was lost has left: its output goes. */
void cp_streams_viewer_lost(struct cp *cp, const char *session, const char *viewer);

/* ---- pipes between nodes (cp_pipes.c) ---- */

/** session.pipe: send a session's media to another node (answered once it has agreed). */
json_t *cp_session_pipe(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_session_unpipe(struct cp *cp, json_t *args, struct cp_err *err);
/** pipe.open and pipe.close: what one node asks of another for a pipe. */
json_t *cp_pipe_open(struct cp *cp, json_t *args, struct cp_err *err);
json_t *cp_pipe_close(struct cp *cp, json_t *args, struct cp_err *err);
/** Another node's answer (a message on <prefix>/<node>/pipe/reply). */
void cp_pipes_reply(struct cp *cp, const struct cp_msg *msg);
/** A new dataplane (cp_store_fresh), before the replay: every SRTP pipe of this node gets
 *  a new key in the journal, so no (key, index) pair is used again. */
void cp_pipes_rekey(struct cp *cp);
/** After the replay: the other nodes are told the new keys (pipe.key). */
void cp_pipes_attached(struct cp *cp);
json_t *cp_pipe_key(struct cp *cp, json_t *args, struct cp_err *err);
/** Unanswered pipe.open past the reply timeout refused; pipes of sessions gone closed. */
void cp_pipes_tick(struct cp *cp, uint64_t now_ms);
/** The pipes of @p session for session.get, or NULL when it has none. */
json_t *cp_pipes_of(const struct cp *cp, const char *session);
/** pipes.json (at start, after the journal). */
int cp_pipes_load(struct cp *cp);
void cp_pipes_fini(struct cp *cp);
/** What an edge needs to pull session @p s from this node: its kind, how to read it
 *  ("ingress"), this node's addresses ("from") and its port ("src_port"). Uses cp->spec
 *  and cp->res. @return the object, or NULL with @p err set. */
json_t *cp_pipes_offer(struct cp *cp, const struct cp_sess *s, struct cp_err *err);
/** Edge pull: session @p id of node @p origin, as its @p offer says, made here (its
 *  ingress under a key minted here) and the origin asked to pipe it (session.pipe with the
 *  "edge" it can send to). The pipe is "opening" until the origin answers; a refusal or
 *  silence ends the session. @return 0 with *@p out the session, or a code with @p err. */
int cp_pipe_pull(struct cp *cp, const char *origin, const char *id, json_t *offer,
		 struct cp_sess **out, struct cp_err *err);
/** A pulled session ends (@p reason in the pipe.closed event): the origin told to
 *  unpipe it, the session deleted here, the pipe forgotten. */
void cp_pipe_unpull(struct cp *cp, const char *id, const char *origin, const char *reason);

/* ---- edge pull: the stream directory (cp_edge.c) ---- */

/** An announcement (msg->stream_dir): kept, replaced or (empty) forgotten. */
void cp_edge_dir(struct cp *cp, const struct cp_msg *msg);
/** Stream @p idx of this node announced to the others (edge_pull on, not itself pulled).
 *  @return 0 when published, or a negative errno (logged, or nothing to announce). */
int cp_edge_announce(struct cp *cp, uint32_t idx);
/** Stream @p idx's announcement, found overwritten unsigned, published again (now, or once
 *  a second has passed since the last time: its resign_at_ms, for cp_streams_tick). */
void cp_edge_resign(struct cp *cp, uint32_t idx, uint64_t now_ms);
/** Every stream of this node announced again (a new connection: the broker may have
 *  lost what it kept). */
void cp_edge_reannounce(struct cp *cp);
/** Stream @p name of @p room, which this node does not have, pulled from the node that
 *  announces it, if the caller may see it there. @return its index, or -1 with @p err as
 *  it was (no node announces it) or set. */
int cp_edge_pull(struct cp *cp, const char *room, const char *name, struct cp_err *err);
/** What the node cp_edge_pull() would pull @p room / @p name from announces it sends, into
 *  @p st's media (@p node: that node). @return 0, -ENOENT (none that the caller may
 *  see), -EEXIST (a room of that name here is another tenant's: cp_edge_pull() refuses)
 *  or -EBADMSG. */
int cp_edge_media(struct cp *cp, const char *room, const char *name, struct cp_stream *st,
		  char node[CP_NODE_MAX]);
void cp_edge_fini(struct cp *cp);

/* ---- status and events (cp_status.c) ---- */

json_t *cp_status_json(struct cp *cp);
void cp_status_publish(struct cp *cp, bool online);
void cp_stats_publish(struct cp *cp);
void cp_event_publish(struct cp *cp, json_t *event);

#endif /* CP_H */
