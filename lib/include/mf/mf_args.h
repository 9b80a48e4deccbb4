/* SPDX-License-Identifier: BSD-3-Clause */
/* Command-line numbers, checked: the whole string is a number within [min, max]. */
#ifndef MF_ARGS_H
#define MF_ARGS_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/** @return 0 with *out set, or -EINVAL (not a number, trailing bytes) or -ERANGE. */
static inline int
mf_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s == NULL || *s == '\0' || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static inline int
mf_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;
	int rc = mf_parse_u64(s, min, max, &v);

	if (rc == 0)
		*out = (uint32_t)v;
	return rc;
}

#endif /* MF_ARGS_H */
