/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The registry of the sessions this control plane installed: a hash by id, the creation
 * order (the stable cursor of session.list) and a bitmap of used UDP ports per (dataplane
 * port, local address), so that finding, adding, removing and allocating a port cost the
 * same with a million sessions as with one. An entry is small (no spec: the journal has it,
 * at the offset the entry keeps).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cp.h"

#define SPACE_WORDS	(65536 / 64)
#define MIN_BUCKETS	1024u

/* Ports in use on one (dataplane port, local address). */
struct cp_space {
	uint16_t port;
	struct mf_addr local;
	uint32_t hint;		/* where the last allocation ended: the next search starts there */
	uint32_t used;		/* ports set: an empty space is freed (cp_reg_trim()) */
	uint64_t bits[SPACE_WORDS];
};

uint32_t
cp_id_hash(const char *id)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	while (*id != '\0')
		h = (h ^ (uint8_t)*id++) * 16777619u;
	return h;
}

static int
grow_buckets(struct cp_reg *r)
{
	uint32_t n = r->mask ? (r->mask + 1) * 2 : MIN_BUCKETS, i;
	struct cp_sess **b = calloc(n, sizeof(*b)), *s, *next;

	if (b == NULL)
		return -ENOMEM;
	for (i = 0; r->buckets != NULL && i <= r->mask; i++) {
		for (s = r->buckets[i]; s != NULL; s = next) {
			next = s->hnext;
			s->hnext = b[cp_id_hash(s->id) & (n - 1)];
			b[cp_id_hash(s->id) & (n - 1)] = s;
		}
	}
	free(r->buckets);
	r->buckets = b;
	r->mask = n - 1;
	return 0;
}

struct cp_sess *
cp_reg_find(const struct cp_reg *r, const char *id)
{
	struct cp_sess *s;

	if (r->buckets == NULL)
		return NULL;
	for (s = r->buckets[cp_id_hash(id) & r->mask]; s != NULL; s = s->hnext)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

/* ---- ports ---- */

static struct cp_space *
space_of(struct cp_reg *r, uint16_t port, const struct mf_addr *local, bool create)
{
	struct cp_space **grown, *sp;
	uint32_t i;

	for (i = 0; i < r->nb_spaces; i++)
		if (r->spaces[i]->port == port && mf_addr_equal(&r->spaces[i]->local, local))
			return r->spaces[i];
	if (!create)
		return NULL;
	grown = realloc(r->spaces, sizeof(*grown) * (r->nb_spaces + 1));
	if (grown == NULL)
		return NULL;
	r->spaces = grown;
	sp = calloc(1, sizeof(*sp));
	if (sp == NULL)
		return NULL;
	sp->port = port;
	sp->local = *local;
	r->spaces[r->nb_spaces++] = sp;
	return sp;
}

static bool
bit(const struct cp_space *sp, uint32_t p)
{
	return p < 65536 && (sp->bits[p / 64] >> (p % 64) & 1) != 0;
}

static void
set_bits(struct cp_space *sp, uint32_t p, bool pair, bool on)
{
	uint32_t k;

	for (k = p; k <= p + pair && k < 65536; k++) {
		if (bit(sp, k) == on)
			continue;
		if (on) {
			sp->bits[k / 64] |= 1ull << (k % 64);
			sp->used++;
		} else {
			sp->bits[k / 64] &= ~(1ull << (k % 64));
			sp->used--;
		}
	}
}

/* Spaces with no port in use freed: an allocation makes one before its create is judged,
 * and a refused create (any address a client names) would leave it for good. Between
 * batches, so that the allocations of one batch keep their hints. */
void
cp_reg_trim(struct cp_reg *r)
{
	uint32_t i = 0;

	while (i < r->nb_spaces) {
		if (r->spaces[i]->used != 0) {
			i++;
			continue;
		}
		free(r->spaces[i]);
		r->spaces[i] = r->spaces[--r->nb_spaces];
	}
}

bool
cp_reg_port_used(struct cp_reg *r, uint16_t port, const struct mf_addr *local, uint32_t udp,
		 bool pair)
{
	struct cp_space *sp = space_of(r, port, local, false);

	return sp != NULL && (bit(sp, udp) || (pair && bit(sp, udp + 1)));
}

/* A free UDP port (and the next one for a pair) in [min, max], searched from where the last
 * search ended, whole words of used ports skipped. @return the port or -ENOSPC. */
int
cp_reg_alloc_port(struct cp_reg *r, uint16_t port, const struct mf_addr *local, uint32_t min,
		  uint32_t max, bool pair)
{
	struct cp_space *sp = space_of(r, port, local, true);
	uint32_t step = pair ? 2 : 1, first = min + (pair && (min & 1)), span, p, n;

	if (sp == NULL)
		return -ENOMEM;
	if (first > max)
		return -ENOSPC;
	span = (max - first) / step + 1;
	p = sp->hint >= first && sp->hint <= max ? first + (sp->hint - first) / step * step : first;
	for (n = 0; n < span;) {
		if (p % 64 == 0 && p + 63 <= max && sp->bits[p / 64] == UINT64_MAX) {
			n += 64 / step;		/* a whole word in use */
			p += 64;
		} else if (!bit(sp, p) && (!pair || (p + 1 <= max && !bit(sp, p + 1)))) {
			sp->hint = p + step;
			return (int)p;
		} else {
			n++;
			p += step;
		}
		if (p > max)
			p = first;
	}
	return -ENOSPC;
}

/* ---- entries ---- */

static int
order_append(struct cp_reg *r, struct cp_sess *s)
{
	uint32_t i, k = 0;

	if (r->order_len == r->order_cap) {
		/* Squeeze the removed entries out first; grow only if that is not enough. */
		for (i = 0; i < r->order_len; i++) {
			if (r->order[i] == NULL)
				continue;
			r->order[k] = r->order[i];
			r->order[k]->oidx = k;
			r->oseq[k++] = r->oseq[i];
		}
		r->order_len = k;
		if (k * 2 > r->order_cap || r->order_cap == 0) {
			uint32_t cap = r->order_cap ? r->order_cap * 2 : MIN_BUCKETS;
			struct cp_sess **o = realloc(r->order, sizeof(*o) * cap);
			uint64_t *q = o ? realloc(r->oseq, sizeof(*q) * cap) : NULL;

			if (o != NULL)
				r->order = o;
			if (q == NULL)
				return -ENOMEM;
			r->oseq = q;
			r->order_cap = cap;
		}
	}
	s->oidx = r->order_len;
	r->order[r->order_len] = s;
	r->oseq[r->order_len++] = s->seq;
	return 0;
}

struct cp_sess *
cp_reg_add(struct cp_reg *r, const struct mf_sess_spec *spec)
{
	struct cp_sess *s = calloc(1, sizeof(*s));
	uint32_t b;

	if (s == NULL || ((r->count + 1) > r->mask && grow_buckets(r) != 0))
		goto fail;
	memcpy(s->id, spec->id, sizeof(s->id));
	s->id[sizeof(s->id) - 1] = '\0';
	s->seq = ++r->next_seq;
	if (order_append(r, s) != 0)
		goto fail;
	cp_reg_set(r, s, spec);
	b = cp_id_hash(s->id) & r->mask;
	s->hnext = r->buckets[b];
	r->buckets[b] = s;
	r->count++;
	return s;
fail:
	free(s);
	return NULL;
}

void
cp_reg_set(struct cp_reg *r, struct cp_sess *s, const struct mf_sess_spec *spec)
{
	struct cp_space *sp = space_of(r, s->port, &s->local, false);

	/* An update keeps the ingress, but a session adopted again may move it. */
	if (sp != NULL && s->udp_port != 0)
		set_bits(sp, s->udp_port, s->pair, false);
	s->port = spec->ingress.port;
	s->local = spec->ingress.local;
	s->udp_port = spec->ingress.udp_port;
	s->pair = spec->kind == MF_SESS_RTP;
	s->nb_outputs = spec->nb_outputs;
	s->max_kbps = spec->limits.max_kbps;
	sp = space_of(r, s->port, &s->local, true);
	if (sp != NULL)
		set_bits(sp, s->udp_port, s->pair, true);
}

void
cp_reg_del(struct cp_reg *r, struct cp_sess *s)
{
	struct cp_sess **pp = &r->buckets[cp_id_hash(s->id) & r->mask];
	struct cp_space *sp = space_of(r, s->port, &s->local, false);

	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	if (sp != NULL)
		set_bits(sp, s->udp_port, s->pair, false);
	r->order[s->oidx] = NULL;
	r->count--;
	free(s);
}

void
cp_reg_clear(struct cp_reg *r)
{
	uint32_t i;

	for (i = 0; i < r->order_len; i++)
		free(r->order[i]);
	for (i = 0; i < r->nb_spaces; i++)
		free(r->spaces[i]);
	free(r->buckets);
	free(r->order);
	free(r->oseq);
	free(r->spaces);
	memset(r, 0, sizeof(*r));
}

/* Sessions created after @p after (a seq; 0 from the first) in creation order, up to
 * @p limit, into @p out. @return how many; *more says whether any follow. */
uint32_t
cp_reg_page(const struct cp_reg *r, uint64_t after, uint32_t limit, int tenant,
	    struct cp_sess **out, bool *more)
{
	uint32_t lo = 0, hi = r->order_len, n = 0;

	while (lo < hi) {		/* the first seq above @p after */
		uint32_t mid = lo + (hi - lo) / 2;

		if (r->oseq[mid] <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	*more = false;
	for (; lo < r->order_len; lo++) {
		if (r->order[lo] == NULL || (tenant >= 0 && r->order[lo]->tenant != tenant))
			continue;
		if (n == limit) {
			*more = true;
			break;
		}
		out[n++] = r->order[lo];
	}
	return n;
}

/* Every entry in creation order; @p fn may delete the entry it is given. */
void
cp_reg_each(struct cp_reg *r, void (*fn)(void *ctx, struct cp_sess *s), void *ctx)
{
	uint32_t i;

	for (i = 0; i < r->order_len; i++)
		if (r->order[i] != NULL)
			fn(ctx, r->order[i]);
}
