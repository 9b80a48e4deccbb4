/* SPDX-License-Identifier: BSD-3-Clause */
/* Small file-system helpers both planes use. */
#ifndef MF_FS_H
#define MF_FS_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/** The entry of @p path (at most 511 bytes) made durable: its parent directory synced.
 *  @return 0 or a negative errno. */
static inline int
mf_sync_parent(const char *path)
{
	char buf[512], *slash;
	int fd, rc;

	snprintf(buf, sizeof(buf), "%s", path);
	slash = strrchr(buf, '/');
	if (slash == NULL)
		snprintf(buf, sizeof(buf), ".");
	else
		slash[slash == buf] = '\0';	/* "/x": "/" */
	fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)	/* a parent we may not read (0711) cannot be synced: not an error */
		return errno == EACCES || errno == EPERM ? 0 : -errno;
	rc = fsync(fd) != 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* One directory of mf_mkdirs(): made, and its entry synced (a journal in a directory a
 * power cut forgets is lost with it), or there already. */
static inline int
mf_mkdir_durable(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == 0)
		return mf_sync_parent(path);
	return errno == EEXIST ? 0 : -errno;
}

/** Make directory @p path and its missing parents with @p mode (0700 for ours: journals
 *  and captures hold keys and media), each one made synced into its parent. @return 0,
 *  -ENAMETOOLONG, or a negative errno. */
static inline int
mf_mkdirs(const char *path, mode_t mode)
{
	char buf[512], *p;
	int rc;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		rc = mf_mkdir_durable(buf, mode);
		if (rc != 0)
			return rc;
		*p = '/';
	}
	return mf_mkdir_durable(buf, mode);
}

#endif /* MF_FS_H */
