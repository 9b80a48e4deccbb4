/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal of installed sessions, so a restarted dataplane can be refilled: one file per
 * session (<dir>/<id>.json, the spec with its keys, mode 0600), written to a temporary file,
 * flushed, renamed into place and the directory flushed, before the command's reply goes
 * out. <dir>/dataplane holds the start time of the dataplane the journal matches (a
 * dataplane's generation restarts at 1 after a clean exit; its start time never repeats).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cp.h"

struct cp_journal {
	char dir[256];
	int dirfd;
};

static int
mkdirs(const char *path)
{
	char buf[256], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(buf, 0700) != 0 && errno != EEXIST ? -errno : 0;
}

struct cp_journal *
cp_journal_open(const char *dir)
{
	struct cp_journal *j = calloc(1, sizeof(*j));
	int rc;

	if (j == NULL)
		return NULL;
	snprintf(j->dir, sizeof(j->dir), "%s", dir);
	rc = mkdirs(dir);
	j->dirfd = rc == 0 ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (j->dirfd < 0) {
		MF_LOG(ERR, main, "journal %s: %s", dir, strerror(rc ? -rc : errno));
		free(j);
		return NULL;
	}
	return j;
}

void
cp_journal_close(struct cp_journal *j)
{
	if (j == NULL)
		return;
	close(j->dirfd);
	free(j);
}

/* Replace @p name with @p data durably. */
static int
write_file(struct cp_journal *j, const char *name, const char *data, size_t len)
{
	char tmp[320];
	ssize_t w;
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	fd = openat(j->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	w = write(fd, data, len);
	if (w != (ssize_t)len || fsync(fd) != 0)
		rc = w < 0 || w == (ssize_t)len ? -errno : -EIO;
	close(fd);
	if (rc == 0 && renameat(j->dirfd, tmp, j->dirfd, name) != 0)
		rc = -errno;
	if (rc == 0 && fsync(j->dirfd) != 0)
		rc = -errno;
	if (rc != 0) {
		unlinkat(j->dirfd, tmp, 0);
		MF_LOG(ERR, main, "journal %s/%s: %s", j->dir, name, strerror(-rc));
	}
	return rc;
}

int
cp_journal_put(struct cp_journal *j, const struct mf_sess_spec *spec)
{
	json_t *o = mf_sess_to_json(spec, MF_SESS_JSON_KEYS);
	char name[MF_SESS_ID_MAX + 8], *text;
	int rc;

	if (o == NULL)
		return -ENOMEM;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL)
		return -ENOMEM;
	snprintf(name, sizeof(name), "%s.json", spec->id);
	rc = write_file(j, name, text, strlen(text));
	explicit_bzero(text, strlen(text));
	free(text);
	return rc;
}

int
cp_journal_del(struct cp_journal *j, const char *id)
{
	char name[MF_SESS_ID_MAX + 8];

	snprintf(name, sizeof(name), "%s.json", id);
	if (unlinkat(j->dirfd, name, 0) != 0 && errno != ENOENT)
		return -errno;
	return fsync(j->dirfd) == 0 ? 0 : -errno;
}

int
cp_journal_each(struct cp_journal *j, void (*fn)(void *ctx, struct mf_sess_spec *spec),
		void *ctx)
{
	struct mf_sess_spec *spec = malloc(sizeof(*spec));
	struct mf_sess_err err;
	struct dirent *de;
	json_error_t je;
	json_t *o;
	DIR *d;
	int n = 0, fd;

	fd = dup(j->dirfd);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL || spec == NULL) {
		free(spec);
		if (fd >= 0 && d == NULL)
			close(fd);
		return -ENOMEM;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char path[600];

		if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", j->dir, de->d_name);
		o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
		if (o == NULL || mf_sess_from_json(o, spec, &err) != 0) {
			MF_LOG(ERR, main, "journal %s: unreadable, skipped (%s)", path,
			       o == NULL ? je.text : err.msg);
			json_decref(o);
			continue;
		}
		json_decref(o);
		fn(ctx, spec);
		mf_sess_wipe_keys(spec);
		n++;
	}
	closedir(d);
	free(spec);
	return n;
}

uint64_t
cp_journal_dataplane(struct cp_journal *j)
{
	char buf[32] = { 0 };
	int fd = openat(j->dirfd, "dataplane", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtoull(buf, NULL, 10) : 0;
}

int
cp_journal_set_dataplane(struct cp_journal *j, uint64_t start_ns)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)start_ns);

	return write_file(j, "dataplane", buf, (size_t)n);
}
