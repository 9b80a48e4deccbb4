/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stats area: a directory of named blocks of counters and gauges in shared memory.
 *
 * Writer (the dataplane): one thread changes the directory (adds and removes entries);
 * counter values are written by their owning lcore only, without atomics, each lcore in its
 * own cache-line-aligned block. Gauges have one writer each and one value.
 * Readers (tools, control plane): map read-only, sum counters over lcores, never write.
 *
 * Consistency: a directory change sets in_progress, bumps the changed entry's gen to odd,
 * writes, bumps gen to even, bumps epoch and clears in_progress, each with release order.
 * A reader copies one entry between two acquire reads of its gen and retries when gen
 * moved, so a torn entry is never used; it reads epoch to learn that the listing changed.
 * Checking per entry rather than for the whole directory keeps readers from starving while
 * thousands of sessions come and go each second.
 */
#ifndef MF_STATS_H
#define MF_STATS_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MF_STATS_MAGIC		0x4d465354u	/* "MFST" */
#define MF_STATS_VERSION	2u	/* 2: schemas carry descriptions */
#define MF_STATS_NAME_MAX	96	/* entry name with its NUL */
#define MF_STATS_FIELD_MAX	32	/* field name with its NUL, and a kind byte */
#define MF_STATS_FIELD_NAME_MAX	30	/* characters of a field name */
#define MF_STATS_DESC_MAX	128	/* a field's description with its NUL */
/* The last byte of a field's slot in a schema: what the field is. */
#define MF_STATS_FIELD_COUNTER	0
#define MF_STATS_FIELD_GAUGE	1
/* A flag beside the kind: the field counts packets (or events) lost. Readers list every
 * such field that is not zero, so no loss hides behind a name they do not know. */
#define MF_STATS_FIELD_LOSS	0x80
#define MF_STATS_UNIT		64u	/* allocation unit and alignment of value blocks */

enum mf_stats_type {
	MF_STATS_FREE = 0,
	MF_STATS_COUNTERS = 1,	/* per lcore, readers sum them */
	MF_STATS_GAUGES = 2,	/* one value each, one writer */
	MF_STATS_SCHEMA = 3,	/* a table of field names that other entries point to */
};

struct mf_stats_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t nb_lcores;	/* counter blocks in each COUNTERS entry */
	uint32_t max_entries;
	uint64_t dir_off;	/* offsets are from the start of this header */
	uint64_t data_off;
	uint64_t data_size;
	uint64_t area_size;
	uint8_t reserved0[16];
	alignas(64) _Atomic uint64_t epoch;
	_Atomic uint32_t in_progress;
	_Atomic uint32_t nb_entries;	/* live entries, schemas included */
	uint8_t reserved1[48];
};
_Static_assert(sizeof(struct mf_stats_hdr) == 128, "stats header is ABI");
_Static_assert(offsetof(struct mf_stats_hdr, epoch) == 64, "stats header is ABI");

struct mf_stats_entry {
	_Atomic uint32_t gen;	/* odd while the writer changes this entry */
	uint32_t type;		/* enum mf_stats_type */
	uint32_t nb_fields;
	uint32_t lcore_stride;	/* bytes between lcore blocks (COUNTERS) */
	uint64_t values_off;	/* SCHEMA: the name table; others: the values */
	/* The schema's name table (nb_fields * MF_STATS_FIELD_MAX), followed by its
	 * descriptions (nb_fields * MF_STATS_DESC_MAX, "" where none was given). */
	uint64_t fields_off;
	char name[MF_STATS_NAME_MAX];
};
_Static_assert(sizeof(struct mf_stats_entry) == 128, "stats entry is ABI");

/** Bytes of shared memory for a stats area of these dimensions. */
size_t mf_stats_area_size(uint32_t nb_lcores, uint32_t max_entries, size_t data_size);

/* ---- writer ---- Context: one thread of the creating process (directory changes). */

struct mf_stats_writer;

/**
 * Lay out an empty stats area in @p mem and return its writer handle.
 * @return the handle, or NULL with errno EINVAL (dimensions do not fit @p mem_size)
 *   or ENOMEM.
 */
struct mf_stats_writer *mf_stats_writer_create(void *mem, size_t mem_size,
					       uint32_t nb_lcores, uint32_t max_entries);
void mf_stats_writer_destroy(struct mf_stats_writer *w);

/**
 * Publish a schema: the names of the fields of a block, optionally their kinds
 * (MF_STATS_FIELD_COUNTER or _GAUGE, either with MF_STATS_FIELD_LOSS; NULL: all counters)
 * and a one-line description of each (NULL: none; longer ones are cut to
 * MF_STATS_DESC_MAX - 1). A gauge in a COUNTERS entry is a field only one lcore writes, so
 * the readers' sum is its value.
 * @return the schema's entry index (>= 0), or -EINVAL, -ENOSPC (no entry or data left).
 */
int mf_stats_schema_add(struct mf_stats_writer *w, const char *name,
			const char *const *fields, const uint8_t *kinds,
			const char *const *descs, uint32_t nb_fields);

/**
 * Add a block of counters (per lcore) or gauges with the fields of @p schema. The values
 * start at @p init (nb_fields values, into lcore 0's block for counters) or at zero when
 * @p init is NULL, and are in place before any reader can see the entry.
 * Names are the caller's to keep unique; mf_stats_find() returns the first match.
 * @return the entry index (>= 0), or -EINVAL, -ENOSPC (no entry or data left).
 */
int mf_stats_add(struct mf_stats_writer *w, const char *name, enum mf_stats_type type,
		 int schema, const uint64_t *init);

/** Remove an entry and free its values. The caller ensures no lcore writes them still. */
void mf_stats_remove(struct mf_stats_writer *w, int idx);

/** Values of lcore @p lcore of a COUNTERS entry (nb_fields uint64_t), or of a GAUGES one. */
uint64_t *mf_stats_values(struct mf_stats_writer *w, int idx, uint32_t lcore);

/** Live entry count, schemas included. */
uint32_t mf_stats_count(const struct mf_stats_writer *w);

/* ---- reader ---- Context: any process, read-only mapping. */

struct mf_stats_reader {
	const struct mf_stats_hdr *hdr;
	const uint8_t *base;
	size_t size;
};

/** One entry as a reader sees it: counters already summed over lcores. */
struct mf_stats_view {
	uint32_t index;
	uint32_t type;
	uint32_t nb_fields;
	char name[MF_STATS_NAME_MAX];
	const char (*fields)[MF_STATS_FIELD_MAX];	/* points into the mapping */
	const char (*descs)[MF_STATS_DESC_MAX];		/* likewise; not always terminated */
	uint64_t *values;				/* nb_fields, in the caller's buffer */
};

/**
 * Check the area's magic, version and geometry.
 * @return 0, -EBADMSG (not a stats area, or its geometry exceeds @p size), -EPROTO (version).
 */
int mf_stats_reader_attach(struct mf_stats_reader *r, const void *mem, size_t size);

/**
 * Read entry @p idx consistently, summing counters, into @p v with @p vals (@p cap values).
 * @return 0, -ENOENT (free slot or schema), -EAGAIN (kept changing; try later),
 *   -EBADMSG (the entry points outside the area), -ENOSPC (@p cap too small).
 */
int mf_stats_read(const struct mf_stats_reader *r, uint32_t idx, struct mf_stats_view *v,
		  uint64_t *vals, uint32_t cap);

#define MF_STATS_ALL_LCORES UINT32_MAX

/** Same as mf_stats_read(), but only lcore @p lcore's block of a COUNTERS entry
 *  (MF_STATS_ALL_LCORES sums them all). @return also -ERANGE for an lcore out of range. */
int mf_stats_read_lcore(const struct mf_stats_reader *r, uint32_t idx, uint32_t lcore,
			struct mf_stats_view *v, uint64_t *vals, uint32_t cap);

/** Current epoch; it moves whenever an entry is added or removed. */
uint64_t mf_stats_epoch(const struct mf_stats_reader *r);

/** Index of the entry named @p name, or -ENOENT. */
int mf_stats_find(const struct mf_stats_reader *r, const char *name);

/* A field's kind is the last byte of its name slot, read unsigned: LOSS is its top bit. */
static inline bool
mf_stats_field_is_gauge(const char field[MF_STATS_FIELD_MAX])
{
	return ((uint8_t)field[MF_STATS_FIELD_MAX - 1] & ~MF_STATS_FIELD_LOSS) ==
	       MF_STATS_FIELD_GAUGE;
}

static inline bool
mf_stats_field_is_loss(const char field[MF_STATS_FIELD_MAX])
{
	return ((uint8_t)field[MF_STATS_FIELD_MAX - 1] & MF_STATS_FIELD_LOSS) != 0;
}

/** Is field @p i of a view a gauge? */
static inline bool
mf_stats_view_is_gauge(const struct mf_stats_view *v, uint32_t i)
{
	return mf_stats_field_is_gauge(v->fields[i]);
}

/** Does field @p i of a view count losses? */
static inline bool
mf_stats_view_is_loss(const struct mf_stats_view *v, uint32_t i)
{
	return mf_stats_field_is_loss(v->fields[i]);
}

/** Value of field @p field of a view, or false when the view has no such field. */
bool mf_stats_view_get(const struct mf_stats_view *v, const char *field, uint64_t *out);

/** A session's place among the busiest: its entry and its ingress bytes. */
struct mf_stats_rank {
	uint32_t idx;
	uint64_t rx_bytes;
};

/** qsort() order of mf_stats_rank: most ingress bytes first, ties by entry index (which a
 *  session keeps while it lives, so the choice is stable from one reading to the next). */
int mf_stats_rank_cmp(const void *a, const void *b);

struct json_t;

/**
 * Everything in the area as JSON: {"node", "lcores", "ports", "sessions": {id: {fields...,
 * "outputs": {id: {...}}}}}; with @p session, only {"sessions": {that one}}.
 * @return a new reference (NULL on allocation failure).
 */
struct json_t *mf_stats_to_json(const struct mf_stats_reader *r, const char *session);

/**
 * mf_stats_to_json()'s document of the whole area bounded for publishing at a steady rate:
 * only the @p max_sessions sessions with the most ingress bytes (ties by entry), each
 * one's "outputs" their count, and "sessions_total" (every session). Every entry is read
 * (twice: to rank, then to build); only the chosen sessions become JSON. A new reference,
 * NULL without memory.
 */
struct json_t *mf_stats_to_json_top(const struct mf_stats_reader *r, uint32_t max_sessions);

/**
 * The loss fields (the reasons packets were dropped) of the node and each port, zeros
 * included: {"node": {field: n}, "ports": {port: {field: n}}}. A new reference.
 */
struct json_t *mf_stats_losses_json(const struct mf_stats_reader *r);

/**
 * Everything in the area as a Prometheus text exposition (format 0.0.4), every sample
 * labelled mfwd_instance=@p instance: families mfwd_node_* (per lcore: labels lcore, role),
 * mfwd_port_* (port), mfwd_session_* (session) and mfwd_output_* (session, output), with
 * HELP and TYPE lines, counters ending in _total; only the @p max_sessions sessions with the
 * most ingress bytes and their outputs; gauges mfwd_sessions and mfwd_sessions_exported.
 * @return 0, -ENOMEM, -EIO (writing to @p out failed).
 */
int mf_stats_to_prometheus(const struct mf_stats_reader *r, const char *instance,
			   uint32_t max_sessions, FILE *out);

/** @p s escaped as a Prometheus label value into @p dst (cut to fit @p cap).
 *  @return its length. */
size_t mf_stats_prom_label(char *dst, size_t cap, const char *s);

#endif /* MF_STATS_H */
