/* SPDX-License-Identifier: BSD-3-Clause */
/* Small file-system helpers both planes use. */
#ifndef MF_FS_H
#define MF_FS_H

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

/** Make directory @p path and its missing parents with @p mode (0700 for ours: journals
 *  and captures hold keys and media). @return 0, -ENAMETOOLONG, or a negative errno. */
static inline int
mf_mkdirs(const char *path, mode_t mode)
{
	char buf[512], *p;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, mode) != 0 && errno != EEXIST ? -errno : 0;
}

#endif /* MF_FS_H */
