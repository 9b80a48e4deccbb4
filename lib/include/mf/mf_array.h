/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef MF_ARRAY_H
#define MF_ARRAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/**
 * Room for one more element in a growable array of @p nb elements of @p elem bytes and
 * capacity @p *cap: when it is full, doubled (@p first the first time), at most @p max
 * elements (0: no bound).
 * @return the array (moved, perhaps: use this pointer), or NULL when it cannot grow (no
 * memory, or @p max reached): then the array and @p *cap are as they were.
 */
static inline void *
mf_array_grow(void *arr, uint32_t *cap, uint32_t nb, size_t elem, uint32_t first,
	      uint32_t max)
{
	uint32_t n;
	void *grown;

	if (nb < *cap)
		return arr;
	n = *cap ? *cap * 2 : first;
	if (n <= *cap || (max != 0 && n > max) || n > SIZE_MAX / elem)
		return NULL;
	grown = realloc(arr, elem * n);
	if (grown != NULL)
		*cap = n;
	return grown;
}

#endif /* MF_ARRAY_H */
