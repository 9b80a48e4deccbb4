/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small test harness: a table of cases and a runner. MF_TEST_ASSERT logs file, line and
 * message, marks the case failed and jumps to the case's "out:" label, so cleanup runs.
 * The runner ends with the line "N passed, N failed" and exits 1 on any failure, 77 when
 * every case skipped.
 */
#ifndef MF_TEST_H
#define MF_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MF_TEST_SKIP 77

#define MF_TEST_ASSERT(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: assertion failed: %s: ", __FILE__, __LINE__, \
				#cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			rc = -1; \
			goto out; \
		} \
	} while (0)

#define MF_TEST_EQ(a, b) \
	MF_TEST_ASSERT((long long)(a) == (long long)(b), "%s = %lld, expected %lld", #a, \
		       (long long)(a), (long long)(b))

struct mf_test_case {
	const char *name;
	int (*fn)(void);	/* 0 pass, -1 fail, MF_TEST_SKIP skip */
};

static inline int
mf_test_run(const char *suite, const struct mf_test_case *cases, size_t n, int argc,
	    char **argv)
{
	unsigned int pass = 0, fail = 0, skip = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int r;

		if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
			continue;
		r = cases[i].fn();
		printf("%-6s %s.%s\n", r == 0 ? "ok" : r == MF_TEST_SKIP ? "skip" : "FAIL", suite,
		       cases[i].name);
		fflush(stdout);
		if (r == 0)
			pass++;
		else if (r == MF_TEST_SKIP)
			skip++;
		else
			fail++;
	}
	printf("%u passed, %u failed, %u skipped\n", pass, fail, skip);
	if (fail > 0)
		return 1;
	return pass == 0 && skip > 0 ? MF_TEST_SKIP : 0;
}

#define MF_TEST_MAIN(suite, cases) \
	int main(int argc, char **argv) \
	{ \
		return mf_test_run(suite, cases, sizeof(cases) / sizeof(cases[0]), argc, argv); \
	}

/* A heap copy of exactly n bytes, so the sanitizer sees any read past the end. */
static inline unsigned char *
mf_test_dup(const void *p, size_t n)
{
	unsigned char *d = malloc(n ? n : 1);

	if (d != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

#endif /* MF_TEST_H */
