/* SPDX-License-Identifier: BSD-3-Clause */
/* Per-subsystem logging to stderr or syslog (see mf_log.h). */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "mf/mf_log.h"

static const char *const subsys_names[MF_LOG_SUBSYS_MAX] = {
#define X(name, desc) #name,
#include "mf/mf_log_subsys.inc"
#undef X
};

static const char *const level_names[] = {
	[MF_LOG_ERR] = "error", [MF_LOG_WARNING] = "warning", [MF_LOG_NOTICE] = "notice",
	[MF_LOG_INFO] = "info", [MF_LOG_DEBUG] = "debug",
};

static _Atomic int levels[MF_LOG_SUBSYS_MAX] = {
#define X(name, desc) [MF_LOG_##name] = MF_LOG_INFO,
#include "mf/mf_log_subsys.inc"
#undef X
};
static bool to_syslog;
static const char *log_ident = "mfwd";

void
mf_log_init(const char *ident, bool use_syslog)
{
	log_ident = ident;
	to_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID, LOG_DAEMON);
}

int
mf_log_level_parse(const char *s)
{
	int l;

	for (l = MF_LOG_ERR; l <= MF_LOG_DEBUG; l++)
		if (strcmp(s, level_names[l]) == 0)
			return l;
	return -EINVAL;
}

int
mf_log_set_level(const char *subsys, enum mf_log_level level)
{
	int i, found = -EINVAL;

	for (i = 0; i < MF_LOG_SUBSYS_MAX; i++) {
		if (strcmp(subsys, "all") == 0 || strcmp(subsys, subsys_names[i]) == 0) {
			levels[i] = (int)level;
			found = 0;
		}
	}
	return found;
}

bool
mf_log_enabled(enum mf_log_subsys s, enum mf_log_level l)
{
	return (int)l <= levels[s];
}

void
mf_log(enum mf_log_subsys s, enum mf_log_level l, const char *fmt, ...)
{
	char msg[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (to_syslog) {
		syslog((int)l, "%s: %s", subsys_names[s], msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld %s %s %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, log_ident, level_names[l], subsys_names[s], msg);
}
