/* SPDX-License-Identifier: BSD-3-Clause */
/* The stats area: writer (directory changes, value blocks) and reader (see mf_stats.h). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mf/mf_stats.h"

#define READ_RETRIES	1000

/*
 * Value blocks come in few sizes (one per schema and type), so freed blocks wait in a list
 * of their exact size and are reused as they are: O(1), no fragmentation to manage.
 */
struct size_class {
	uint64_t size;
	uint64_t *offs;
	uint32_t nb, cap;
};

struct mf_stats_writer {
	struct mf_stats_hdr *h;
	struct mf_stats_entry *dir;
	uint8_t *base;
	uint32_t *free_idx;	/* stack of free directory slots */
	uint32_t nb_free_idx;
	uint64_t bump;		/* next never-used byte of the data area (offset from base) */
	struct size_class *classes;
	uint32_t nb_classes;
};

static inline uint64_t
round_unit(uint64_t n)
{
	return (n + MF_STATS_UNIT - 1) & ~(uint64_t)(MF_STATS_UNIT - 1);
}

size_t
mf_stats_area_size(uint32_t nb_lcores, uint32_t max_entries, size_t data_size)
{
	(void)nb_lcores;
	return sizeof(struct mf_stats_hdr) + (size_t)max_entries * sizeof(struct mf_stats_entry) +
	       round_unit(data_size);
}

struct mf_stats_writer *
mf_stats_writer_create(void *mem, size_t mem_size, uint32_t nb_lcores, uint32_t max_entries)
{
	struct mf_stats_writer *w = NULL;
	struct mf_stats_hdr *h = mem;
	size_t fixed = sizeof(*h) + (size_t)max_entries * sizeof(struct mf_stats_entry);
	uint32_t i;

	if (mem == NULL || nb_lcores == 0 || nb_lcores > 1024 || max_entries == 0 ||
	    max_entries > (1u << 26) || mem_size <= fixed + MF_STATS_UNIT) {
		errno = EINVAL;
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		goto err;
	w->free_idx = malloc(sizeof(*w->free_idx) * max_entries);
	if (w->free_idx == NULL)
		goto err;
	memset(mem, 0, fixed);
	h->nb_lcores = nb_lcores;
	h->max_entries = max_entries;
	h->dir_off = sizeof(*h);
	h->data_off = round_unit(fixed);
	h->data_size = (mem_size - h->data_off) & ~(uint64_t)(MF_STATS_UNIT - 1);
	h->area_size = mem_size;
	h->version = MF_STATS_VERSION;
	atomic_thread_fence(memory_order_release);
	h->magic = MF_STATS_MAGIC;

	w->h = h;
	w->base = mem;
	w->dir = (struct mf_stats_entry *)(w->base + h->dir_off);
	for (i = 0; i < max_entries; i++)
		w->free_idx[i] = max_entries - 1 - i;
	w->nb_free_idx = max_entries;
	w->bump = h->data_off;
	return w;
err:
	mf_stats_writer_destroy(w);
	errno = ENOMEM;
	return NULL;
}

void
mf_stats_writer_destroy(struct mf_stats_writer *w)
{
	uint32_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->nb_classes; i++)
		free(w->classes[i].offs);
	free(w->classes);
	free(w->free_idx);
	free(w);
}

static struct size_class *
class_of(struct mf_stats_writer *w, uint64_t size)
{
	struct size_class *c;
	uint32_t i;

	for (i = 0; i < w->nb_classes; i++)
		if (w->classes[i].size == size)
			return &w->classes[i];
	c = realloc(w->classes, sizeof(*c) * (w->nb_classes + 1));
	if (c == NULL)
		return NULL;
	w->classes = c;
	c = &w->classes[w->nb_classes++];
	memset(c, 0, sizeof(*c));
	c->size = size;
	return c;
}

static int
data_alloc(struct mf_stats_writer *w, uint64_t size, uint64_t *off)
{
	struct size_class *c;

	size = round_unit(size);
	c = class_of(w, size);
	if (c == NULL)
		return -ENOMEM;
	if (c->nb > 0) {
		*off = c->offs[--c->nb];
	} else {
		if (w->bump + size > w->h->data_off + w->h->data_size)
			return -ENOSPC;
		*off = w->bump;
		w->bump += size;
	}
	memset(w->base + *off, 0, size);
	return 0;
}

static void
data_free(struct mf_stats_writer *w, uint64_t off, uint64_t size)
{
	struct size_class *c = class_of(w, round_unit(size));
	uint64_t *n;

	if (c == NULL)
		return;		/* leaks the block, but the area stays consistent */
	if (c->nb == c->cap) {
		n = realloc(c->offs, sizeof(*n) * (c->cap ? c->cap * 2 : 64));
		if (n == NULL)
			return;
		c->offs = n;
		c->cap = c->cap ? c->cap * 2 : 64;
	}
	c->offs[c->nb++] = off;
}

static uint64_t
values_size(const struct mf_stats_writer *w, uint32_t type, uint32_t nb_fields)
{
	switch (type) {
	case MF_STATS_COUNTERS:
		return (uint64_t)w->h->nb_lcores * round_unit((uint64_t)nb_fields * 8);
	case MF_STATS_GAUGES:
		return (uint64_t)nb_fields * 8;
	case MF_STATS_SCHEMA:
		return (uint64_t)nb_fields * (MF_STATS_FIELD_MAX + MF_STATS_DESC_MAX);
	default:
		return 0;
	}
}

/* The writer side of the consistency protocol around one entry change. */
static void
change_begin(struct mf_stats_writer *w, struct mf_stats_entry *e)
{
	atomic_store_explicit(&w->h->in_progress, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&e->gen, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void
change_end(struct mf_stats_writer *w, struct mf_stats_entry *e)
{
	atomic_fetch_add_explicit(&e->gen, 1, memory_order_release);
	atomic_fetch_add_explicit(&w->h->epoch, 1, memory_order_release);
	atomic_store_explicit(&w->h->in_progress, 0, memory_order_release);
}

static int
entry_add(struct mf_stats_writer *w, const char *name, uint32_t type, uint32_t nb_fields,
	  uint64_t fields_off, const void *init, size_t init_len)
{
	struct mf_stats_entry *e;
	uint64_t off;
	uint32_t idx;
	int rc;

	if (name == NULL || strlen(name) >= MF_STATS_NAME_MAX || nb_fields == 0)
		return -EINVAL;
	if (w->nb_free_idx == 0)
		return -ENOSPC;
	rc = data_alloc(w, values_size(w, type, nb_fields), &off);
	if (rc != 0)
		return rc;
	if (init != NULL)
		memcpy(w->base + off, init, init_len);
	idx = w->free_idx[--w->nb_free_idx];
	e = &w->dir[idx];
	change_begin(w, e);
	e->type = type;
	e->nb_fields = nb_fields;
	e->lcore_stride = (uint32_t)round_unit((uint64_t)nb_fields * 8);
	e->values_off = off;
	e->fields_off = type == MF_STATS_SCHEMA ? off : fields_off;
	memset(e->name, 0, sizeof(e->name));
	strcpy(e->name, name);
	change_end(w, e);
	atomic_fetch_add_explicit(&w->h->nb_entries, 1, memory_order_relaxed);
	return (int)idx;
}

int
mf_stats_schema_add(struct mf_stats_writer *w, const char *name, const char *const *fields,
		    const uint8_t *kinds, const char *const *descs, uint32_t nb_fields)
{
	size_t names_len = (size_t)nb_fields * MF_STATS_FIELD_MAX;
	char *names;
	uint32_t i;
	int idx;

	if (nb_fields == 0 || nb_fields > 4096)
		return -EINVAL;
	for (i = 0; i < nb_fields; i++)
		if (fields[i] == NULL || strlen(fields[i]) > MF_STATS_FIELD_NAME_MAX)
			return -EINVAL;
	names = calloc(nb_fields, MF_STATS_FIELD_MAX + MF_STATS_DESC_MAX);
	if (names == NULL)
		return -ENOMEM;
	for (i = 0; i < nb_fields; i++) {
		strcpy(names + (size_t)i * MF_STATS_FIELD_MAX, fields[i]);
		names[(size_t)i * MF_STATS_FIELD_MAX + MF_STATS_FIELD_MAX - 1] =
			(char)(kinds != NULL ? kinds[i] : MF_STATS_FIELD_COUNTER);
		if (descs != NULL && descs[i] != NULL)
			snprintf(names + names_len + (size_t)i * MF_STATS_DESC_MAX,
				 MF_STATS_DESC_MAX, "%s", descs[i]);
	}
	idx = entry_add(w, name, MF_STATS_SCHEMA, nb_fields, 0, names,
			names_len + (size_t)nb_fields * MF_STATS_DESC_MAX);
	free(names);
	return idx;
}

int
mf_stats_add(struct mf_stats_writer *w, const char *name, enum mf_stats_type type, int schema,
	     const uint64_t *init)
{
	const struct mf_stats_entry *s;

	if (type != MF_STATS_COUNTERS && type != MF_STATS_GAUGES)
		return -EINVAL;
	if (schema < 0 || (uint32_t)schema >= w->h->max_entries)
		return -EINVAL;
	s = &w->dir[schema];
	if (s->type != MF_STATS_SCHEMA)
		return -EINVAL;
	return entry_add(w, name, type, s->nb_fields, s->values_off, init,
			 (size_t)s->nb_fields * sizeof(*init));
}

void
mf_stats_remove(struct mf_stats_writer *w, int idx)
{
	struct mf_stats_entry *e;

	if (idx < 0 || (uint32_t)idx >= w->h->max_entries)
		return;
	e = &w->dir[idx];
	if (e->type == MF_STATS_FREE)
		return;
	data_free(w, e->values_off, values_size(w, e->type, e->nb_fields));
	change_begin(w, e);
	e->type = MF_STATS_FREE;
	e->nb_fields = 0;
	e->name[0] = '\0';
	change_end(w, e);
	w->free_idx[w->nb_free_idx++] = (uint32_t)idx;
	atomic_fetch_sub_explicit(&w->h->nb_entries, 1, memory_order_relaxed);
}

uint64_t *
mf_stats_values(struct mf_stats_writer *w, int idx, uint32_t lcore)
{
	const struct mf_stats_entry *e = &w->dir[idx];

	if (e->type == MF_STATS_GAUGES)
		return (uint64_t *)(w->base + e->values_off);
	return (uint64_t *)(w->base + e->values_off + (uint64_t)lcore * e->lcore_stride);
}

uint32_t
mf_stats_count(const struct mf_stats_writer *w)
{
	return atomic_load_explicit(&w->h->nb_entries, memory_order_relaxed);
}

/* ---- reader ---- */

int
mf_stats_reader_attach(struct mf_stats_reader *r, const void *mem, size_t size)
{
	const struct mf_stats_hdr *h = mem;

	memset(r, 0, sizeof(*r));
	if (mem == NULL || size < sizeof(*h) || h->magic != MF_STATS_MAGIC)
		return -EBADMSG;
	if (h->version != MF_STATS_VERSION)
		return -EPROTO;
	if (h->area_size > size || h->dir_off != sizeof(*h) || h->nb_lcores == 0 ||
	    h->max_entries == 0 ||
	    h->dir_off + (uint64_t)h->max_entries * sizeof(struct mf_stats_entry) > h->data_off ||
	    h->data_off > h->area_size || h->data_size > h->area_size - h->data_off)
		return -EBADMSG;
	r->hdr = h;
	r->base = mem;
	r->size = h->area_size;
	return 0;
}

uint64_t
mf_stats_epoch(const struct mf_stats_reader *r)
{
	return atomic_load_explicit(&r->hdr->epoch, memory_order_acquire);
}

static inline const struct mf_stats_entry *
dir_entry(const struct mf_stats_reader *r, uint32_t idx)
{
	return (const struct mf_stats_entry *)(r->base + r->hdr->dir_off) + idx;
}

/* Bounds of a copied entry against the data area; garbage must not send us astray. */
static bool
entry_in_bounds(const struct mf_stats_reader *r, const struct mf_stats_entry *e)
{
	const struct mf_stats_hdr *h = r->hdr;
	uint64_t lo = h->data_off, hi = h->data_off + h->data_size;
	uint64_t vsize, stride = round_unit((uint64_t)e->nb_fields * 8);

	if (e->nb_fields == 0 || e->nb_fields > (1u << 20) || e->lcore_stride != stride)
		return false;
	vsize = e->type == MF_STATS_COUNTERS ? stride * h->nb_lcores : (uint64_t)e->nb_fields * 8;
	if (e->values_off < lo || e->values_off > hi || vsize > hi - e->values_off)
		return false;
	if (e->fields_off < lo || e->fields_off > hi ||
	    (uint64_t)e->nb_fields * (MF_STATS_FIELD_MAX + MF_STATS_DESC_MAX) > hi - e->fields_off)
		return false;
	return true;
}

static void
sum_values(const struct mf_stats_reader *r, const struct mf_stats_entry *e, uint32_t lcore,
	   uint64_t *vals)
{
	const uint8_t *v = r->base + e->values_off;
	uint32_t l = 0, f, nl = e->type == MF_STATS_COUNTERS ? r->hdr->nb_lcores : 1;

	memset(vals, 0, sizeof(*vals) * e->nb_fields);
	if (lcore != MF_STATS_ALL_LCORES && e->type == MF_STATS_COUNTERS) {
		l = lcore;
		nl = lcore + 1;
	}
	for (; l < nl; l++) {
		const uint64_t *blk = (const uint64_t *)(v + (uint64_t)l * e->lcore_stride);

		/* Each word is written by one lcore as a plain store; a relaxed atomic load
		 * reads it whole, and the epoch around this read orders the rest. */
		for (f = 0; f < e->nb_fields; f++)
			vals[f] += __atomic_load_n(&blk[f], __ATOMIC_RELAXED);
	}
}

static void
short_pause(void)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 1000 };

	nanosleep(&ts, NULL);
}

int
mf_stats_read(const struct mf_stats_reader *r, uint32_t idx, struct mf_stats_view *v,
	      uint64_t *vals, uint32_t cap)
{
	return mf_stats_read_lcore(r, idx, MF_STATS_ALL_LCORES, v, vals, cap);
}

int
mf_stats_read_lcore(const struct mf_stats_reader *r, uint32_t idx, uint32_t lcore,
		    struct mf_stats_view *v, uint64_t *vals, uint32_t cap)
{
	const struct mf_stats_entry *e;
	struct mf_stats_entry copy;
	uint32_t g1, g2, tries;

	if (idx >= r->hdr->max_entries)
		return -ENOENT;
	if (lcore != MF_STATS_ALL_LCORES && lcore >= r->hdr->nb_lcores)
		return -ERANGE;
	e = dir_entry(r, idx);
	for (tries = 0; tries < READ_RETRIES; tries++) {
		g1 = atomic_load_explicit(&e->gen, memory_order_acquire);
		if (g1 & 1) {
			short_pause();
			continue;
		}
		memcpy(&copy, (const void *)e, sizeof(copy));
		if (copy.type != MF_STATS_COUNTERS && copy.type != MF_STATS_GAUGES)
			copy.nb_fields = 0;
		else if (!entry_in_bounds(r, &copy))
			copy.type = MF_STATS_SCHEMA + 1;	/* judged after the gen check */
		else if (copy.nb_fields <= cap)
			sum_values(r, &copy, lcore, vals);
		atomic_thread_fence(memory_order_acquire);
		g2 = atomic_load_explicit(&e->gen, memory_order_relaxed);
		if (g1 == g2)
			break;
	}
	if (tries == READ_RETRIES)
		return -EAGAIN;
	if (copy.type == MF_STATS_SCHEMA + 1)
		return -EBADMSG;
	if (copy.nb_fields == 0)
		return -ENOENT;
	if (copy.nb_fields > cap)
		return -ENOSPC;
	v->index = idx;
	v->type = copy.type;
	v->nb_fields = copy.nb_fields;
	memcpy(v->name, copy.name, sizeof(v->name));
	v->name[sizeof(v->name) - 1] = '\0';
	v->fields = (const char (*)[MF_STATS_FIELD_MAX])(r->base + copy.fields_off);
	v->descs = (const char (*)[MF_STATS_DESC_MAX])(r->base + copy.fields_off +
		(uint64_t)copy.nb_fields * MF_STATS_FIELD_MAX);
	v->values = vals;
	return 0;
}

int
mf_stats_find(const struct mf_stats_reader *r, const char *name)
{
	struct mf_stats_entry copy;
	uint32_t i, g;

	for (i = 0; i < r->hdr->max_entries; i++) {
		const struct mf_stats_entry *e = dir_entry(r, i);

		g = atomic_load_explicit(&e->gen, memory_order_acquire);
		memcpy(&copy, (const void *)e, sizeof(copy));
		atomic_thread_fence(memory_order_acquire);
		if ((g & 1) || g != atomic_load_explicit(&e->gen, memory_order_relaxed))
			continue;
		if ((copy.type == MF_STATS_COUNTERS || copy.type == MF_STATS_GAUGES) &&
		    strncmp(copy.name, name, sizeof(copy.name)) == 0)
			return (int)i;
	}
	return -ENOENT;
}

bool
mf_stats_view_get(const struct mf_stats_view *v, const char *field, uint64_t *out)
{
	uint32_t i;

	for (i = 0; i < v->nb_fields; i++) {
		if (strncmp(v->fields[i], field, MF_STATS_FIELD_NAME_MAX + 1) == 0) {
			*out = v->values[i];
			return true;
		}
	}
	return false;
}

int
mf_stats_rank_cmp(const void *a, const void *b)
{
	const struct mf_stats_rank *x = a, *y = b;

	if (x->rx_bytes != y->rx_bytes)
		return x->rx_bytes < y->rx_bytes ? 1 : -1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}
