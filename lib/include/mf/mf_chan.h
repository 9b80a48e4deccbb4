/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The channel: a lock-free single-producer single-consumer ring of fixed-size slots in
 * shared memory, one per direction (commands; replies; events).
 *
 * Concurrency contract: exactly one process produces and exactly one consumes at a time.
 * head is written only by the producer, tail only by the consumer, each with release
 * stores read by the other side with acquire loads; they sit on separate cache lines.
 * head and tail are 64-bit counts that never wrap in practice (2^64 messages).
 *
 * Delivery: the consumer copies a message out (mf_chan_recv()) or reads it in place
 * (mf_chan_peek() then mf_chan_consume()); tail moves only on consume, so a consumer that
 * dies before consuming gets the message again after its restart, and nothing is lost.
 * A full ring returns -ENOSPC; the producer never blocks and never overwrites.
 */
#ifndef MF_CHAN_H
#define MF_CHAN_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MF_CHAN_MAGIC		0x4d464348u	/* "MFCH" */
#define MF_CHAN_CACHE_LINE	64

/** Header of every message in a slot. */
struct mf_chan_msg_hdr {
	uint16_t type;		/* what the payload is; owned by the protocol (mf_proto.h) */
	uint16_t version;	/* version of that payload's layout */
	uint32_t len;		/* payload bytes after this header */
	uint64_t seq;		/* set by the sender; replies echo the command's seq */
};
_Static_assert(sizeof(struct mf_chan_msg_hdr) == 16, "message header is ABI");

/** The ring as laid out in shared memory; slots follow at offset sizeof(mf_chan_ring). */
struct mf_chan_ring {
	uint32_t magic;
	uint32_t slot_size;	/* bytes per slot, header included; multiple of 64 */
	uint32_t nb_slots;	/* power of two */
	_Atomic uint32_t bell;		/* bumped on every commit: the futex a waiter sleeps on */
	_Atomic uint32_t sleepers;	/* consumers in mf_chan_wait(): only then is a wake due */
	uint32_t reserved[11];
	alignas(MF_CHAN_CACHE_LINE) _Atomic uint64_t head;	/* producer's */
	alignas(MF_CHAN_CACHE_LINE) _Atomic uint64_t tail;	/* consumer's */
	alignas(MF_CHAN_CACHE_LINE) uint8_t slots[];
};
_Static_assert(offsetof(struct mf_chan_ring, head) == 64, "ring layout is ABI");
_Static_assert(offsetof(struct mf_chan_ring, tail) == 128, "ring layout is ABI");
_Static_assert(sizeof(struct mf_chan_ring) == 192, "ring layout is ABI");

/** Per-process handle. */
struct mf_chan {
	struct mf_chan_ring *ring;
	uint32_t mask;
	uint32_t slot_size;
	uint32_t max_payload;
};

/** Bytes a ring of @p nb_slots slots of @p slot_size bytes needs in shared memory. */
size_t mf_chan_mem_size(uint32_t nb_slots, uint32_t slot_size);

/**
 * Lay out an empty ring in @p mem (the creator, once).
 * @return 0, or -EINVAL when nb_slots is not a power of two, slot_size is not a multiple of
 *   64 or is smaller than 128, or @p mem_size is too small.
 */
int mf_chan_init(void *mem, size_t mem_size, uint32_t nb_slots, uint32_t slot_size);

/**
 * Attach a handle to a ring laid out by mf_chan_init(), possibly by another process.
 * @return 0, or -EBADMSG when the memory holds no valid ring or one larger than @p mem_size.
 */
int mf_chan_attach(struct mf_chan *ch, void *mem, size_t mem_size);

/**
 * Copy one message into the ring. Context: the producer.
 * @return 0, -ENOSPC when the ring is full, -EMSGSIZE when @p len exceeds the slot.
 */
int mf_chan_send(struct mf_chan *ch, uint16_t type, uint16_t version, uint64_t seq,
		 const void *payload, uint32_t len);

/**
 * Reserve the next free slot to build a message in place; publish it with mf_chan_commit().
 * Context: the producer. @return the payload area (max_payload bytes), or NULL when full.
 */
void *mf_chan_reserve(struct mf_chan *ch);
void mf_chan_commit(struct mf_chan *ch, uint16_t type, uint16_t version, uint64_t seq,
		    uint32_t len);

/**
 * The oldest message, read in place; it stays in the ring until mf_chan_consume().
 * Context: the consumer.
 * @param len set to the payload length, clamped to max_payload: the slot bounds are trusted,
 *   the producer's len field is not.
 * @return the header (the payload follows it), or NULL when the ring is empty.
 */
const struct mf_chan_msg_hdr *mf_chan_peek(struct mf_chan *ch, uint32_t *len);
void mf_chan_consume(struct mf_chan *ch);

/**
 * Copy the oldest message out and consume it.
 * @return payload length, -EAGAIN when empty, -EMSGSIZE when @p cap is too small
 *   (the message is left in the ring).
 */
int mf_chan_recv(struct mf_chan *ch, struct mf_chan_msg_hdr *hdr, void *buf, uint32_t cap);

/** Messages waiting. Either side may call it; the answer may be stale at once. */
uint64_t mf_chan_count(const struct mf_chan *ch);

/**
 * Consumer: sleep until the ring has a message or @p timeout_us passed, without spinning
 * (a futex on the shared ring, woken by the producer's commit only while someone sleeps).
 * @return true when a message is there.
 */
bool mf_chan_wait(struct mf_chan *ch, unsigned int timeout_us);

#endif /* MF_CHAN_H */
