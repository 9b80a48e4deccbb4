/* SPDX-License-Identifier: BSD-3-Clause */
/* The client end of the channel (see mf_client.h). */

#include <errno.h>
#include <string.h>

#include "mf/mf_client.h"
#include "mf/mf_time.h"

static int
attach_ring(struct mf_client *c, enum mf_shm_region_id id, struct mf_chan *ch)
{
	uint64_t sz;
	void *mem = mf_shm_region(&c->shm, id, &sz);

	return mem == NULL ? -EBADMSG : mf_chan_attach(ch, mem, sz);
}

int
mf_client_open(struct mf_client *c, const char *instance)
{
	int rc;

	memset(c, 0, sizeof(*c));
	rc = mf_shm_open(&c->shm, instance, true);
	if (rc != 0)
		return rc;
	/* The rings have one producer and one consumer each: a second client would interleave
	 * its commands with ours and take our replies for its own (each side reads a reply
	 * with another seq as lost). */
	if ((rc = mf_shm_claim(&c->shm)) != 0 ||
	    (rc = attach_ring(c, MF_SHM_REGION_CMD, &c->cmd)) != 0 ||
	    (rc = attach_ring(c, MF_SHM_REGION_REPLY, &c->reply)) != 0 ||
	    (rc = attach_ring(c, MF_SHM_REGION_EVENT, &c->event)) != 0) {
		mf_shm_close(&c->shm);
		return rc;
	}
	/* Wall-clock nanoseconds: a restarted client's seqs are above its predecessor's. */
	c->next_seq = mf_time_ns(CLOCK_REALTIME);
	c->generation = c->shm.hdr->generation;
	return 0;
}

void
mf_client_close(struct mf_client *c)
{
	mf_shm_close(&c->shm);
	memset(c, 0, sizeof(*c));
}

int
mf_client_send(struct mf_client *c, uint16_t type, const void *payload, uint32_t len,
	       uint64_t *seq)
{
	int rc = mf_chan_send(&c->cmd, type, MF_PROTO_VERSION, c->next_seq, payload, len);

	if (rc == 0)
		*seq = c->next_seq++;
	return rc;
}

static void
take(struct mf_client *c)
{
	mf_chan_consume(&c->reply);
	c->answered++;
}

void
mf_client_pass(struct mf_client *c, uint64_t seq)
{
	const struct mf_chan_msg_hdr *h;
	uint32_t rlen;

	while ((h = mf_chan_peek(&c->reply, &rlen)) != NULL && h->seq < seq)
		take(c);
}

int
mf_client_reply(struct mf_client *c, uint64_t seq, struct mf_msg_reply *reply, void *buf,
		uint32_t cap, unsigned int timeout_ms)
{
	uint64_t deadline = mf_time_ns(CLOCK_MONOTONIC) + (uint64_t)timeout_ms * 1000000u, now;
	const struct mf_chan_msg_hdr *h;
	uint64_t alive_by = 0;
	uint32_t rlen;

	for (;;) {
		mf_client_pass(c, seq);		/* replies to older commands */
		h = mf_chan_peek(&c->reply, &rlen);
		/* Above every seq we sent: a predecessor's (its seqs from a wall clock since
		 * stepped back), not a sign that ours was lost; left, it would block the ring. */
		if (h != NULL && h->seq >= c->next_seq) {
			take(c);
			continue;
		}
		if (h != NULL)
			break;
		now = mf_time_ns(CLOCK_MONOTONIC);
		if (now > deadline)
			return mf_shm_creator_alive(&c->shm) ? -ETIMEDOUT : -EOWNERDEAD;
		/* Its liveness read from /proc: once per 100 ms of waiting, not per wake. */
		if (now >= alive_by) {
			if (alive_by != 0 && !mf_shm_creator_alive(&c->shm))
				return -EOWNERDEAD;
			alive_by = now + 100000000u;
		}
		/* Asleep until the dataplane commits a reply; awake every 100 ms to notice a
		 * dataplane that died. */
		mf_chan_wait(&c->reply, (deadline - now) / 1000 < 100000 ?
				       (unsigned int)((deadline - now) / 1000) + 1 : 100000);
	}
	if (h->seq != seq)
		return -EBADMSG;	/* ours was lost: the dataplane answers every command */
	if (rlen < sizeof(*reply) || h->type != MF_MSG_REPLY) {
		take(c);
		return -EBADMSG;
	}
	memcpy(reply, h + 1, sizeof(*reply));
	reply->detail[sizeof(reply->detail) - 1] = '\0';
	rlen -= (uint32_t)sizeof(*reply);
	if (rlen > cap) {
		take(c);
		return -EMSGSIZE;
	}
	if (rlen > 0)
		memcpy(buf, (const uint8_t *)(h + 1) + sizeof(*reply), rlen);
	take(c);
	return (int)rlen;
}

int
mf_client_call(struct mf_client *c, uint16_t type, const void *payload, uint32_t len,
	       struct mf_msg_reply *reply, void *buf, uint32_t cap, unsigned int timeout_ms)
{
	uint64_t seq;
	int rc = mf_client_send(c, type, payload, len, &seq);

	return rc != 0 ? rc : mf_client_reply(c, seq, reply, buf, cap, timeout_ms);
}

int
mf_client_event(struct mf_client *c, struct mf_msg_event *ev)
{
	struct mf_chan_msg_hdr h;
	int n;

	/* What is not an event of our size (a newer dataplane's, larger) is passed over: left
	 * at the head, it would hold every event after it back. */
	do {
		n = mf_chan_recv(&c->event, &h, ev, sizeof(*ev));
		if (n == -EMSGSIZE)
			mf_chan_consume(&c->event);
	} while (n == -EMSGSIZE ||
		 (n >= 0 && (h.type != MF_MSG_EVENT || n != (int)sizeof(*ev))));
	return n < 0 ? n : 0;
}
