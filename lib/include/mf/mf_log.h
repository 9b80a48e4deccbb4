/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logging for the control plane and tools (the dataplane uses DPDK's log types).
 * One level per subsystem, changeable at run time; output to stderr or syslog.
 * Never log keys or whole command payloads.
 */
#ifndef MF_LOG_H
#define MF_LOG_H

#include <stdbool.h>

enum mf_log_subsys {
#define X(name, desc) MF_LOG_##name,
#include "mf/mf_log_subsys.inc"
#undef X
	MF_LOG_SUBSYS_MAX
};

enum mf_log_level {
	MF_LOG_ERR = 3,
	MF_LOG_WARNING = 4,
	MF_LOG_NOTICE = 5,
	MF_LOG_INFO = 6,
	MF_LOG_DEBUG = 7,
};

/** Send output to syslog (true) or stderr (false, the default). */
void mf_log_init(const char *ident, bool use_syslog);
/** Set the level of one subsystem by name ("mqtt") or of all ("all"). @return 0 or -EINVAL. */
int mf_log_set_level(const char *subsys, enum mf_log_level level);
/** Parse "debug", "info"... @return the level or -EINVAL. */
int mf_log_level_parse(const char *s);
bool mf_log_enabled(enum mf_log_subsys s, enum mf_log_level l);

void mf_log(enum mf_log_subsys s, enum mf_log_level l, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define MF_LOG(lvl, subsys, ...) \
	do { \
		if (mf_log_enabled(MF_LOG_##subsys, MF_LOG_##lvl)) \
			mf_log(MF_LOG_##subsys, MF_LOG_##lvl, __VA_ARGS__); \
	} while (0)

#endif /* MF_LOG_H */
