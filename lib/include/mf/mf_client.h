/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client end of the channel, for the control plane and mfwd-ctl: open a dataplane's
 * segment, send a command, wait (bounded) for its reply, read events.
 *
 * Context: one thread per client handle; the rings have one producer and one consumer, so
 * only one client may run against a dataplane at a time (the control plane, or mfwd-ctl when
 * no control plane runs): mf_client_open() claims the segment, and a second open is refused
 * -EBUSY until the first closes or its process ends.
 */
#ifndef MF_CLIENT_H
#define MF_CLIENT_H

#include <stdint.h>

#include "mf/mf_chan.h"
#include "mf/mf_proto.h"
#include "mf/mf_shm.h"

struct mf_client {
	struct mf_shm shm;
	struct mf_chan cmd;
	struct mf_chan reply;
	struct mf_chan event;
	uint64_t next_seq;
	uint64_t generation;	/* of the segment we hold */
	uint64_t answered;	/* replies taken: a caller sees the dataplane move on */
};

/**
 * Open the segment of @p instance read-write and attach its three rings.
 * @return 0 or a negative code of mf_shm_open() (see mf_shm_strerror()), -EBUSY (another
 *   client holds the segment), or -EBADMSG when a ring is missing.
 */
int mf_client_open(struct mf_client *c, const char *instance);
void mf_client_close(struct mf_client *c);

/**
 * Send one command and wait up to @p timeout_ms for its reply. Replies to older commands
 * (a previous client's) are discarded on the way.
 * @param reply set to the reply header; the command's result follows it in @p buf.
 * @return bytes of result after the reply header (>= 0; the command's own status is in
 *   reply->status), -ENOSPC (command ring full), -ETIMEDOUT, -EOWNERDEAD (the dataplane
 *   went away), -EMSGSIZE (@p cap too small).
 */
int mf_client_call(struct mf_client *c, uint16_t type, const void *payload, uint32_t len,
		   struct mf_msg_reply *reply, void *buf, uint32_t cap, unsigned int timeout_ms);

/**
 * Pipelining: send a command without waiting (@p seq says which it is), then collect the
 * replies in the order the commands were sent with mf_client_reply(). The command ring has
 * MF_CHAN_CMD_SLOTS slots: a client keeps at most that many in flight.
 * @return 0, -ENOSPC (ring full), -EMSGSIZE.
 */
int mf_client_send(struct mf_client *c, uint16_t type, const void *payload, uint32_t len,
		   uint64_t *seq);
/**
 * Discard the replies to commands sent before @p seq (ones nobody waits for: timed out, or
 * sent without waiting). The dataplane takes a command only once its reply has room.
 */
void mf_client_pass(struct mf_client *c, uint64_t seq);
/**
 * The reply to the command sent as @p seq, waiting up to @p timeout_ms (asleep, woken by the
 * dataplane). Replies to older commands are discarded on the way. Returns as
 * mf_client_call().
 */
int mf_client_reply(struct mf_client *c, uint64_t seq, struct mf_msg_reply *reply, void *buf,
		    uint32_t cap, unsigned int timeout_ms);

/** Next event, or -EAGAIN. */
int mf_client_event(struct mf_client *c, struct mf_msg_event *ev);

#endif /* MF_CLIENT_H */
