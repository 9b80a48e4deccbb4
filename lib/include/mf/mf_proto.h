/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The protocol over the shared-memory channel between the control plane (or mfwd-ctl) and
 * the dataplane: command types and payloads, replies, events. Fixed-size binary structures,
 * versioned by MF_PROTO_VERSION in every message header.
 *
 * Every command gets exactly one reply with the command's seq. A command the dataplane
 * refuses changes nothing.
 */
#ifndef MF_PROTO_H
#define MF_PROTO_H

#include <stdint.h>

#include "mf/mf_session.h"
#include "mf/mf_shm.h"

/* 2: ICE in the session spec, output ids in events; 3: DTLS; 4: capture; 5: 128 outputs,
 * a spec sent up to its last output; 6: an output's fields in a new order */
#define MF_PROTO_VERSION	6
#define MF_CHAN_SLOT_SIZE	65536	/* command and reply slots: a whole spec fits */
#define MF_CHAN_CMD_SLOTS	64
#define MF_CHAN_REPLY_SLOTS	64
#define MF_CHAN_EVENT_SLOT_SIZE	256
#define MF_CHAN_EVENT_SLOTS	4096

enum mf_msg_type {
	/* A spec's payload is its mf_sess_spec_size() bytes: the outputs past nb_outputs are
	 * not sent, and the dataplane takes them as zero. */
	MF_MSG_SESSION_ADD = 1,		/* struct mf_sess_spec -> reply only */
	MF_MSG_SESSION_REPLACE,		/* struct mf_sess_spec, same id -> reply only */
	MF_MSG_SESSION_DEL,		/* struct mf_msg_sess_ref -> reply only */
	MF_MSG_SESSION_GET,		/* struct mf_msg_sess_ref -> struct mf_msg_sess_info */
	MF_MSG_SESSION_LIST,		/* struct mf_msg_list_req -> struct mf_msg_list */
	MF_MSG_NODE_INFO,		/* nothing -> struct mf_msg_node_info */
	MF_MSG_CLOCK_ADVANCE,		/* struct mf_msg_clock -> reply only; --test-clock only */
	MF_MSG_SESSION_CAPTURE,		/* struct mf_msg_capture -> struct mf_msg_capture_info */
	MF_MSG_REPLY = 0x100,		/* struct mf_msg_reply, then the command's result */
	MF_MSG_EVENT = 0x200,		/* struct mf_msg_event */
};

struct mf_msg_sess_ref {
	char id[MF_SESS_ID_MAX];
};

/* Tests drive the session timers: they run as if this much more time had passed. */
struct mf_msg_clock {
	uint64_t advance_ms;
};

#define MF_CAPTURE_FILE_MAX	96	/* a capture's file name, with its NUL */
#define MF_CAPTURE_SECONDS	10	/* defaults of session.capture */
#define MF_CAPTURE_PACKETS	100000
#define MF_CAPTURE_PATH_MAX	384	/* --capture-dir (255), "/", the file name */

/* Capture a session's packets to a pcapng file in the dataplane's --capture-dir: the
 * ingress's as they arrive, each output's as it sends them, receivers' RTCP. Ends after
 * seconds or max_packets, whichever comes first (event capture.done). */
struct mf_msg_capture {
	char id[MF_SESS_ID_MAX];
	uint32_t seconds;		/* 1..3600 */
	uint32_t max_packets;		/* 1..10,000,000 */
	uint32_t snaplen;		/* bytes kept of each frame; 0: all */
	char file[MF_CAPTURE_FILE_MAX];	/* a name ending in .pcapng; "": one is made */
};

struct mf_msg_capture_info {
	char path[MF_CAPTURE_PATH_MAX];
};

/* Replies start with this; status is 0 or a negative errno, detail a sentence on error. */
struct mf_msg_reply {
	int32_t status;
	uint16_t cmd_type;
	uint16_t reserved;
	char detail[120];
};

/* What the dataplane knows live of a session, besides its spec. */
struct mf_msg_sess_live {
	uint32_t worker;		/* lcore index serving it */
	uint8_t src_latched;
	uint8_t reserved[3];
	struct mf_addr latched_src;
	uint16_t latched_port;
	uint16_t reserved2;
	uint32_t last_ssrc;
	uint64_t created_ns;		/* CLOCK_REALTIME */
	uint64_t idle_ms;		/* since the last ingress packet (or since creation) */
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t tx_pkts;
	uint64_t dropped;
};

struct mf_msg_sess_info {
	struct mf_msg_sess_live live;
	struct mf_sess_spec spec;	/* SRTP key material zeroed */
};

struct mf_msg_list_req {
	uint32_t offset;
	uint32_t limit;
};

#define MF_LIST_MAX 256

struct mf_msg_list {
	uint32_t total;
	uint32_t count;
	char ids[MF_LIST_MAX][MF_SESS_ID_MAX];
};

#define MF_NODE_MAX_ADDRS 4

#define MF_PORT_GW4	0x1
#define MF_PORT_GW6	0x2

struct mf_msg_port_info {
	uint16_t port;
	uint8_t nb_addrs;
	uint8_t up;
	uint8_t mac[6];
	uint8_t prefix[MF_NODE_MAX_ADDRS];
	uint8_t gw;		/* MF_PORT_GW4 | MF_PORT_GW6: has a gateway of that family */
	uint8_t reserved;
	struct mf_addr addrs[MF_NODE_MAX_ADDRS];
	char name[64];		/* the ethdev's name (RTE_DEV_NAME_MAX_LEN) */
};

struct mf_msg_node_info {
	char version[16];
	uint32_t nb_ports;
	uint32_t nb_workers;
	uint32_t sessions;
	uint32_t max_sessions;
	uint64_t start_time_ns;
	uint64_t generation;
	char dtls_fingerprint[MF_DTLS_FP_STR];	/* of our certificate, SDP a=fingerprint */
	struct mf_msg_port_info ports[MF_MAX_PORTS];
};

enum mf_event_kind {
	MF_EV_SESSION_IDLE = 1,		/* no ingress for idle_timeout_ms */
	MF_EV_SESSION_ACTIVE,		/* ingress again after idle */
	MF_EV_SESSION_TIMEOUT,		/* lifetime over: removed */
	MF_EV_SESSION_REMOVED,		/* deleted by command */
	MF_EV_SOURCE_LATCHED,		/* latch: the first sender was taken */
	MF_EV_SSRC_CHANGED,		/* the ingress SSRC changed */
	MF_EV_DATAPLANE_UP,
	MF_EV_DATAPLANE_DOWN,
	MF_EV_ICE_CONNECTED,		/* an ICE peer nominated a pair (source: its address) */
	MF_EV_ICE_CONSENT_LOST,		/* no valid check for consent_timeout_ms: pair ended */
	MF_EV_DTLS_CONNECTED,		/* DTLS-SRTP handshake done: the endpoint has keys */
	MF_EV_DTLS_FAILED,		/* handshake failed or the certificate did not match */
	MF_EV_CAPTURE_DONE,		/* a capture ended (count: packets written) */
	MF_EV_ICE_TIMEOUT,		/* an output with no pair got none for
					 * consent_timeout_ms since it was made (or given new
					 * credentials): its peer never came, or went before */
};

struct mf_msg_event {
	uint16_t kind;			/* enum mf_event_kind */
	uint16_t src_port;
	uint32_t ssrc;
	uint64_t time_ns;		/* CLOCK_REALTIME */
	char id[MF_SESS_ID_MAX];
	struct mf_addr src;
	char output[MF_OUT_ID_MAX];	/* the output an ICE/DTLS event is about; "" ingress */
	uint64_t count;			/* capture.done: packets written */
};

_Static_assert(sizeof(struct mf_msg_event) + 16 <= MF_CHAN_EVENT_SLOT_SIZE, "event slot");
_Static_assert(sizeof(struct mf_msg_reply) + sizeof(struct mf_msg_sess_info) + 16 <=
	       MF_CHAN_SLOT_SIZE, "reply slot");
_Static_assert(sizeof(struct mf_msg_reply) + sizeof(struct mf_msg_list) + 16 <=
	       MF_CHAN_SLOT_SIZE, "reply slot");
_Static_assert(sizeof(struct mf_msg_reply) + sizeof(struct mf_msg_node_info) + 16 <=
	       MF_CHAN_SLOT_SIZE, "reply slot");
_Static_assert(sizeof(struct mf_sess_spec) + 16 <= MF_CHAN_SLOT_SIZE, "command slot");

const char *mf_event_kind_str(unsigned int kind);
const char *mf_msg_type_str(unsigned int type);

#endif /* MF_PROTO_H */
