/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal of installed sessions, so a restarted dataplane (or control plane) can be
 * refilled: one append-only log, <dir>/sessions.log (mode 0600: specs carry keys), a line
 * per change: "+<spec as JSON>" when a session is created or updated, "-<id as a JSON
 * string>" when it is removed. Records are buffered and written with one fdatasync per batch
 * (group commit) before any reply of the batch goes out: an acknowledged session is on disk,
 * an unacknowledged one may or may not be.
 *
 * The file is written ahead in zeros to the next MiB boundary (LOG_AHEAD), and records
 * overwrite them: a sync that does not grow the file flushes the data alone, where one that
 * grows it also commits the filesystem's journal (on ext4 here, 104 against 137 us a sync;
 * a one-at-a-time create waits for one). The batch that crosses a boundary writes the
 * zeros, and is slower. Opening cuts off the zeros a kill or crash left, with a last line
 * they cut short (a torn write); a clean close cuts them off. A power cut in a sync may keep
 * a batch's later page without an earlier one: that line, zeros within, was not
 * acknowledged, and is skipped as unreadable (logged) at each start until a compaction.
 * When the log holds more than twice what is live it is rewritten (compaction) into a
 * temporary file, synced and renamed over the old one.
 *
 * <dir>/dataplane holds the start time of the dataplane the journal matches (a dataplane's
 * generation restarts at 1 after a clean exit; its start time never repeats). Journals of
 * an older version (a file per session, <id>.json) are moved into the log on open.
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
#include "mf/mf_fs.h"

#define LOG_NAME	"sessions.log"
#define LOG_TMP		".sessions.log.tmp"
#define READ_CHUNK	(1u << 20)
#define LOG_AHEAD	(1u << 20)	/* zeros written ahead of the log's end */
#define MIN_LEN(a, b)	((a) < (b) ? (size_t)(a) : (size_t)(b))

struct cp_journal {
	char dir[256];
	int dirfd;
	int fd;			/* the log, written at its end (pwrite) */
	uint64_t synced;	/* bytes of the log on disk */
	uint64_t ahead;		/* up to here the file holds the log, then zeros */
	char *buf;		/* records not yet written */
	size_t len, cap;
	bool dir_unsynced;	/* a compaction's rename not yet made durable */
};

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

static int
append(struct cp_journal *j, char tag, const char *text, size_t n, uint64_t *off)
{
	if (j->len + n + 2 > j->cap) {
		size_t cap = (j->cap ? j->cap * 2 : 65536) + n + 2;
		char *b = realloc(j->buf, cap);

		if (b == NULL)
			return -ENOMEM;
		j->buf = b;
		j->cap = cap;
	}
	j->buf[j->len] = tag;
	memcpy(j->buf + j->len + 1, text, n);
	j->buf[j->len + 1 + n] = '\n';
	if (off != NULL)
		*off = j->synced + j->len + 1;
	j->len += n + 2;
	return 0;
}

int
cp_journal_put(struct cp_journal *j, const struct mf_sess_spec *spec, json_t *meta,
	       uint64_t *off, uint32_t *len)
{
	json_t *o = mf_sess_to_json(spec, MF_SESS_JSON_KEYS);
	char *text;
	size_t n;
	int rc;

	if (o != NULL && meta != NULL && json_object_size(meta) > 0)
		json_object_set(o, "meta", meta);
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	n = text ? strlen(text) : 0;
	rc = text ? append(j, '+', text, n, off) : -ENOMEM;
	if (rc == 0)		/* else the session keeps its record, offset and length */
		*len = (uint32_t)n;
	json_decref(o);
	if (text != NULL) {
		explicit_bzero(text, n);
		free(text);
	}
	return rc;
}

/* A "+" record's spec; what the control plane keeps beside it (not part of a spec: its
 * owner, its stream) into @p meta when asked (a new reference, or NULL). */
static int
record_spec(json_t *o, struct mf_sess_spec *spec, json_t **meta)
{
	json_t *m = json_object_get(o, "meta");
	struct mf_sess_err se;

	if (meta != NULL)
		*meta = json_is_object(m) ? json_incref(m) : NULL;
	if (m != NULL)
		json_object_del(o, "meta");
	if (mf_sess_from_json(o, spec, &se) == 0)
		return 0;
	if (meta != NULL) {
		json_decref(*meta);
		*meta = NULL;
	}
	return -EBADMSG;
}

int
cp_journal_del(struct cp_journal *j, const char *id)
{
	json_t *s = json_string(id);
	char *text = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	int rc = text ? append(j, '-', text, strlen(text), NULL) : -ENOMEM;

	free(text);
	json_decref(s);
	return rc;
}

/* @p len bytes of @p data at @p off, all of them. @return 0 or -EIO, logged. */
static int
write_at(struct cp_journal *j, const char *data, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t w;

	while (done < len) {
		w = pwrite(j->fd, data + done, len - done, (off_t)(off + done));
		if (w <= 0) {
			MF_LOG(ERR, main, "journal %s/%s: %s", j->dir, LOG_NAME,
			       w < 0 ? strerror(errno) : "short write");
			return -EIO;
		}
		done += (size_t)w;
	}
	return 0;
}

/* Zeros from @p end to the next LOG_AHEAD boundary past it, synced with the records. Only
 * a saving: when they cannot be written (the disk full), the log grows as it goes, and they
 * are tried again past that boundary. */
static void
write_ahead(struct cp_journal *j, uint64_t end)
{
	static const char zeros[65536];
	uint64_t to = (end / LOG_AHEAD + 1) * LOG_AHEAD, off;
	ssize_t w;
	size_t n;

	for (off = end; off < to; off += n) {
		n = MIN_LEN(sizeof(zeros), to - off);
		w = pwrite(j->fd, zeros, n, (off_t)off);
		if (w != (ssize_t)n) {
			MF_LOG(WARNING, main, "journal %s/%s: zeros ahead of the log to %llu "
			       "not written (%s): syncs up to there grow the file", j->dir,
			       LOG_NAME, (unsigned long long)to, w < 0 ? strerror(errno) :
			       "short write");
			break;
		}
	}
	j->ahead = to;
}

int
cp_journal_sync(struct cp_journal *j)
{
	uint64_t end = j->synced + j->len;

	if (write_at(j, j->buf, j->len, j->synced) != 0)
		return -EIO;
	if (end > j->ahead)
		write_ahead(j, end);
	if (j->len > 0 && fdatasync(j->fd) != 0) {
		MF_LOG(ERR, main, "journal %s/%s: %s", j->dir, LOG_NAME, strerror(errno));
		return -EIO;
	}
	/* Records in a compacted log are only as durable as the name that leads to it. */
	if (j->dir_unsynced && j->len > 0) {
		if (fsync(j->dirfd) != 0) {
			MF_LOG(ERR, main, "journal %s: %s", j->dir, strerror(errno));
			return -EIO;
		}
		j->dir_unsynced = false;
	}
	if (j->len > 0)
		explicit_bzero(j->buf, j->len);
	j->synced += j->len;
	j->len = 0;
	return 0;
}

uint64_t
cp_journal_size(const struct cp_journal *j)
{
	return j->synced + j->len;
}

/* The spec whose record starts at @p off (what cp_journal_put returned). */
int
cp_journal_read(struct cp_journal *j, uint64_t off, uint32_t len, struct mf_sess_spec *spec)
{
	char *text = malloc((size_t)len + 1);
	json_error_t je;
	json_t *o = NULL;
	int rc = -EIO;

	if (text == NULL)
		return -ENOMEM;
	if (off >= j->synced && off + len <= j->synced + j->len)
		memcpy(text, j->buf + (off - j->synced), len);
	else if (pread(j->fd, text, len, (off_t)off) != (ssize_t)len)
		goto out;
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (o != NULL && record_spec(o, spec, NULL) == 0)
		rc = 0;
out:
	if (rc != 0)
		MF_LOG(ERR, main, "journal %s/%s: record at %llu unreadable", j->dir, LOG_NAME,
		       (unsigned long long)off);
	json_decref(o);
	explicit_bzero(text, len);
	free(text);
	return rc;
}

/* ---- load ---- */

static int
load_line(char *line, size_t n, uint64_t off, struct mf_sess_spec *spec, cp_journal_fn fn,
	  void *ctx)
{
	json_t *o, *meta = NULL;
	json_error_t je;
	int rc = -EBADMSG;

	if (n < 2 || (line[0] != '+' && line[0] != '-'))
		return rc;
	o = json_loadb(line + 1, n - 1, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (line[0] == '-' && json_is_string(o)) {
		fn(ctx, json_string_value(o), NULL, NULL, 0, 0);
		rc = 0;
	} else if (line[0] == '+' && o != NULL && record_spec(o, spec, &meta) == 0) {
		fn(ctx, spec->id, spec, meta, off + 1, (uint32_t)(n - 1));
		json_decref(meta);
		mf_sess_wipe_keys(spec);
		rc = 0;
	}
	json_decref(o);
	return rc;
}

/* Every record in order: @p fn gets each "+" with its spec and where it is, each "-" with
 * spec NULL. Only the log is read, not the zeros after it (open found where it ends, and
 * cut a torn last line off); a line that is still without its newline is cut off too. */
int
cp_journal_load(struct cp_journal *j, cp_journal_fn fn, void *ctx)
{
	struct mf_sess_spec *spec = malloc(sizeof(*spec));
	size_t have = 0, cap = READ_CHUNK, start;
	char *buf = malloc(cap), *nl;
	uint64_t base = 0;
	ssize_t r;
	int n = 0;

	if (spec == NULL || buf == NULL) {
		free(spec);
		free(buf);
		return -ENOMEM;
	}
	while (base + have < j->synced) {
		r = pread(j->fd, buf + have, MIN_LEN(cap - have, j->synced - base - have),
			  (off_t)(base + have));
		if (r < 0) {
			n = -errno;
			goto out;
		}
		if (r == 0)
			break;
		have += (size_t)r;
		for (start = 0; (nl = memchr(buf + start, '\n', have - start)) != NULL;
		     start = (size_t)(nl - buf) + 1) {
			if (load_line(buf + start, (size_t)(nl - buf) - start, base + start, spec,
				      fn, ctx) == 0)
				n++;
			else
				MF_LOG(ERR, main, "journal %s/%s: record at %llu unreadable, skipped",
				       j->dir, LOG_NAME, (unsigned long long)(base + start));
		}
		memmove(buf, buf + start, have - start);
		base += start;
		have -= start;
		if (have == cap) {	/* a line longer than the buffer */
			char *b = realloc(buf, cap * 2);

			if (b == NULL) {
				n = -ENOMEM;
				goto out;
			}
			buf = b;
			cap *= 2;
		}
	}
	if (have > 0) {
		MF_LOG(WARNING, main, "journal %s/%s: %zu bytes of a torn last record cut off",
		       j->dir, LOG_NAME, have);
		j->synced = base;
		j->ahead = base;
		if (ftruncate(j->fd, (off_t)base) != 0)
			MF_LOG(ERR, main, "journal %s/%s: not cut at %llu: %s", j->dir, LOG_NAME,
			       (unsigned long long)base, strerror(errno));
	}
out:
	/* Unread, the rest stays: a control plane that cannot read its journal does not
	 * start, and cuts nothing off it. */
	if (n < 0)
		MF_LOG(ERR, main, "journal %s/%s: not loaded past %llu: %s", j->dir, LOG_NAME,
		       (unsigned long long)base, strerror(-n));
	explicit_bzero(buf, cap);
	free(buf);
	free(spec);
	return n;
}

/* ---- compaction ---- */

/* Rewrite the log with only the records at @p offs (their lengths in @p lens), in that
 * order; on success @p offs holds where each now is. */
int
cp_journal_compact(struct cp_journal *j, uint64_t *offs, const uint32_t *lens, uint32_t n)
{
	uint64_t pos = 0;
	char *text = NULL;
	size_t cap = 0;
	int fd, rc = 0;
	uint32_t i;

	if ((rc = cp_journal_sync(j)) != 0)
		return rc;
	fd = openat(j->dirfd, LOG_TMP, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (i = 0; i < n && rc == 0; i++) {
		if (lens[i] + 2u > cap) {
			char *t = realloc(text, lens[i] + 2u);

			if (t == NULL) {
				rc = -ENOMEM;
				break;
			}
			text = t;
			cap = lens[i] + 2u;
		}
		text[0] = '+';
		text[lens[i] + 1] = '\n';
		if (pread(j->fd, text + 1, lens[i], (off_t)offs[i]) != (ssize_t)lens[i] ||
		    write(fd, text, lens[i] + 2u) != (ssize_t)(lens[i] + 2u))
			rc = -EIO;
		offs[i] = pos + 1;
		pos += lens[i] + 2u;
	}
	if (text != NULL)
		explicit_bzero(text, cap);
	free(text);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (rc == 0 && renameat(j->dirfd, LOG_TMP, j->dirfd, LOG_NAME) != 0)
		rc = -errno;
	/* Renamed, the new file is the log whatever comes next: records go on there, and the
	 * next sync makes the name durable first if this cannot. */
	if (rc == 0 && fsync(j->dirfd) != 0) {
		MF_LOG(ERR, main, "journal %s: the compacted log's name not synced (%s): the next "
		       "sync tries again", j->dir, strerror(errno));
		j->dir_unsynced = true;
	}
	if (rc != 0) {
		MF_LOG(ERR, main, "journal %s: compaction failed (%s); the log stays as it was",
		       j->dir, strerror(-rc));
		close(fd);
		unlinkat(j->dirfd, LOG_TMP, 0);
		return rc;
	}
	close(j->fd);
	j->fd = fd;
	j->synced = pos;
	j->ahead = pos;
	return 0;
}

/* ---- open ---- */

/* Where the log in a file of @p size ends: before the zeros written ahead, and before a last
 * line without its newline (a torn write), whose length goes to @p torn. */
static int
log_end(int fd, uint64_t size, uint64_t *end, uint64_t *torn)
{
	char buf[65536];
	uint64_t pos = size, last = 0;	/* last: just after the last byte not zero */
	size_t n, i;

	for (; pos > 0; pos -= n) {
		n = pos < sizeof(buf) ? (size_t)pos : sizeof(buf);
		if (pread(fd, buf, n, (off_t)(pos - n)) != (ssize_t)n)
			return -EIO;
		for (i = n; i > 0; i--) {
			if (last == 0 && buf[i - 1] == '\0')
				continue;
			if (last == 0)
				last = pos - n + i;
			if (buf[i - 1] == '\n')
				break;
		}
		if (i > 0) {
			pos = pos - n + i;
			break;
		}
	}
	*end = pos;
	*torn = last > pos ? last - pos : 0;
	return 0;
}

/* The log as a kill or crash may have left it: the zeros written ahead and a torn last line
 * cut off, so what is added (migrate) follows the last record. */
static int
cut_tail(struct cp_journal *j, uint64_t size)
{
	uint64_t end, torn;
	int rc = log_end(j->fd, size, &end, &torn);

	if (rc == 0 && end < size && ftruncate(j->fd, (off_t)end) != 0)
		rc = -errno;
	if (rc != 0)
		return rc;
	if (torn > 0)
		MF_LOG(WARNING, main, "journal %s/%s: %llu bytes of a torn last record cut off",
		       j->dir, LOG_NAME, (unsigned long long)torn);
	j->synced = end;
	j->ahead = end;
	return 0;
}

/* A journal of the earlier layout (a file per session): into the log, then removed. */
static void
migrate(struct cp_journal *j)
{
	struct mf_sess_spec *spec = malloc(sizeof(*spec));
	int fd = dup(j->dirfd), n = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct mf_sess_err se;
	struct dirent *de;
	uint64_t off;
	uint32_t len;

	if (d == NULL || spec == NULL) {
		if (d == NULL && fd >= 0)
			close(fd);
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char path[600];
		json_t *o;

		if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", j->dir, de->d_name);
		o = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
		if (o != NULL && mf_sess_from_json(o, spec, &se) == 0 &&
		    cp_journal_put(j, spec, NULL, &off, &len) == 0 && cp_journal_sync(j) == 0) {
			unlinkat(j->dirfd, de->d_name, 0);
			n++;
		}
		json_decref(o);
		mf_sess_wipe_keys(spec);
	}
	closedir(d);
	if (n > 0)
		MF_LOG(NOTICE, main, "journal %s: %d sessions moved into %s", j->dir, n, LOG_NAME);
out:
	free(spec);
}

struct cp_journal *
cp_journal_open(const char *dir)
{
	struct cp_journal *j = calloc(1, sizeof(*j));
	struct stat st;
	int rc;

	if (j == NULL)
		return NULL;
	snprintf(j->dir, sizeof(j->dir), "%s", dir);
	rc = mf_mkdirs(dir, 0700);
	j->dirfd = rc == 0 ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	j->fd = j->dirfd >= 0 ? openat(j->dirfd, LOG_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0600) :
				-1;
	if (j->fd < 0 || fstat(j->fd, &st) != 0 || fsync(j->dirfd) != 0 ||
	    (rc = cut_tail(j, (uint64_t)st.st_size)) != 0) {
		MF_LOG(ERR, main, "journal %s: %s", dir, strerror(rc ? -rc : errno));
		if (j->fd >= 0)
			close(j->fd);
		if (j->dirfd >= 0)
			close(j->dirfd);
		free(j);
		return NULL;
	}
	migrate(j);
	return j;
}

void
cp_journal_close(struct cp_journal *j)
{
	if (j == NULL)
		return;
	/* What a stopped node leaves is the log alone, for whoever reads it. */
	if (cp_journal_sync(j) == 0 && j->ahead > j->synced &&
	    (ftruncate(j->fd, (off_t)j->synced) != 0 || fdatasync(j->fd) != 0))
		MF_LOG(WARNING, main, "journal %s/%s: zeros after the log left: %s", j->dir,
		       LOG_NAME, strerror(errno));
	close(j->fd);
	close(j->dirfd);
	free(j->buf);
	free(j);
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

int
cp_journal_save_json(struct cp_journal *j, const char *name, json_t *o)
{
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int rc = text ? write_file(j, name, text, strlen(text)) : -ENOMEM;

	if (rc != 0)
		MF_LOG(ERR, main, "journal %s/%s could not be written: %s", j->dir, name,
		       strerror(-rc));
	free(text);
	json_decref(o);
	return rc;
}

static char *
slurp(struct cp_journal *j, const char *name)
{
	int fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *text = NULL;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && st.st_size < (64 << 20) &&
	    (text = malloc((size_t)st.st_size + 1)) != NULL) {
		if (read(fd, text, (size_t)st.st_size) == st.st_size) {
			text[st.st_size] = '\0';
		} else {
			free(text);
			text = NULL;
			errno = EIO;
		}
	}
	close(fd);
	return text;
}

int
cp_journal_load_json(struct cp_journal *j, const char *name, json_t **out)
{
	char *text = slurp(j, name);
	json_error_t je;

	*out = NULL;
	if (text == NULL)
		return errno == ENOENT ? 0 : -errno;
	*out = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	free(text);
	if (*out != NULL)
		return 0;
	MF_LOG(ERR, main, "journal: %s unreadable (line %d: %s)", name, je.line, je.text);
	return -EBADMSG;
}
