/* SPDX-License-Identifier: BSD-3-Clause */
/* Single-producer single-consumer ring in shared memory (see mf_chan.h). */

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mf/mf_chan.h"

static inline struct mf_chan_msg_hdr *
slot_at(const struct mf_chan *ch, uint64_t pos)
{
	return (struct mf_chan_msg_hdr *)(ch->ring->slots + (size_t)(pos & ch->mask) * ch->slot_size);
}

size_t
mf_chan_mem_size(uint32_t nb_slots, uint32_t slot_size)
{
	return sizeof(struct mf_chan_ring) + (size_t)nb_slots * slot_size;
}

static bool
geometry_ok(uint32_t nb_slots, uint32_t slot_size, size_t mem_size)
{
	if (nb_slots == 0 || (nb_slots & (nb_slots - 1)) != 0)
		return false;
	if (slot_size < 128 || slot_size % MF_CHAN_CACHE_LINE != 0)
		return false;
	return mem_size >= mf_chan_mem_size(nb_slots, slot_size);
}

int
mf_chan_init(void *mem, size_t mem_size, uint32_t nb_slots, uint32_t slot_size)
{
	struct mf_chan_ring *r = mem;

	if (mem == NULL || !geometry_ok(nb_slots, slot_size, mem_size))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->slot_size = slot_size;
	r->nb_slots = nb_slots;
	atomic_store_explicit(&r->head, 0, memory_order_relaxed);
	atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	r->magic = MF_CHAN_MAGIC;
	return 0;
}

int
mf_chan_attach(struct mf_chan *ch, void *mem, size_t mem_size)
{
	struct mf_chan_ring *r = mem;

	memset(ch, 0, sizeof(*ch));
	if (mem == NULL || mem_size < sizeof(*r) || r->magic != MF_CHAN_MAGIC)
		return -EBADMSG;
	if (!geometry_ok(r->nb_slots, r->slot_size, mem_size))
		return -EBADMSG;
	ch->ring = r;
	ch->mask = r->nb_slots - 1;
	ch->slot_size = r->slot_size;
	ch->max_payload = r->slot_size - (uint32_t)sizeof(struct mf_chan_msg_hdr);
	return 0;
}

void *
mf_chan_reserve(struct mf_chan *ch)
{
	uint64_t head = atomic_load_explicit(&ch->ring->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&ch->ring->tail, memory_order_acquire);

	if (head - tail >= (uint64_t)ch->mask + 1)
		return NULL;
	return slot_at(ch, head) + 1;
}

void
mf_chan_commit(struct mf_chan *ch, uint16_t type, uint16_t version, uint64_t seq, uint32_t len)
{
	uint64_t head = atomic_load_explicit(&ch->ring->head, memory_order_relaxed);
	struct mf_chan_msg_hdr *h = slot_at(ch, head);

	h->type = type;
	h->version = version;
	h->len = len;
	h->seq = seq;
	/* Release: the slot's contents are visible before the consumer sees the new head. */
	atomic_store_explicit(&ch->ring->head, head + 1, memory_order_release);
	/* The bell after the head, the sleepers after the bell (sequentially consistent): a
	 * consumer that registered before our bump is woken; one that registers after it sees
	 * the new head before it sleeps. A shared futex: the ring lives in shared memory. */
	atomic_fetch_add(&ch->ring->bell, 1);
	if (atomic_load(&ch->ring->sleepers) != 0)
		syscall(SYS_futex, &ch->ring->bell, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

bool
mf_chan_wait(struct mf_chan *ch, unsigned int timeout_us)
{
	struct timespec ts = { .tv_sec = timeout_us / 1000000u,
			       .tv_nsec = (long)(timeout_us % 1000000u) * 1000 };
	uint32_t bell = atomic_load(&ch->ring->bell);
	uint32_t len;

	atomic_fetch_add(&ch->ring->sleepers, 1);
	if (mf_chan_peek(ch, &len) == NULL)
		syscall(SYS_futex, &ch->ring->bell, FUTEX_WAIT, bell, &ts, NULL, 0);
	atomic_fetch_sub(&ch->ring->sleepers, 1);
	return mf_chan_peek(ch, &len) != NULL;
}

int
mf_chan_send(struct mf_chan *ch, uint16_t type, uint16_t version, uint64_t seq,
	     const void *payload, uint32_t len)
{
	void *dst;

	if (len > ch->max_payload)
		return -EMSGSIZE;
	dst = mf_chan_reserve(ch);
	if (dst == NULL)
		return -ENOSPC;
	if (len > 0)
		memcpy(dst, payload, len);
	mf_chan_commit(ch, type, version, seq, len);
	return 0;
}

const struct mf_chan_msg_hdr *
mf_chan_peek(struct mf_chan *ch, uint32_t *len)
{
	uint64_t tail = atomic_load_explicit(&ch->ring->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&ch->ring->head, memory_order_acquire);
	struct mf_chan_msg_hdr *h;

	if (tail == head)
		return NULL;
	h = slot_at(ch, tail);
	*len = h->len > ch->max_payload ? ch->max_payload : h->len;
	return h;
}

void
mf_chan_consume(struct mf_chan *ch)
{
	uint64_t tail = atomic_load_explicit(&ch->ring->tail, memory_order_relaxed);

	/* Release: our reads of the slot are done before the producer may reuse it. */
	atomic_store_explicit(&ch->ring->tail, tail + 1, memory_order_release);
}

int
mf_chan_recv(struct mf_chan *ch, struct mf_chan_msg_hdr *hdr, void *buf, uint32_t cap)
{
	uint32_t len;
	const struct mf_chan_msg_hdr *h = mf_chan_peek(ch, &len);

	if (h == NULL)
		return -EAGAIN;
	if (len > cap)
		return -EMSGSIZE;
	*hdr = *h;
	hdr->len = len;
	if (len > 0)
		memcpy(buf, h + 1, len);
	mf_chan_consume(ch);
	return (int)len;
}

uint64_t
mf_chan_count(const struct mf_chan *ch)
{
	uint64_t tail = atomic_load_explicit(&ch->ring->tail, memory_order_acquire);
	uint64_t head = atomic_load_explicit(&ch->ring->head, memory_order_acquire);

	return head - tail;
}
