/* Logging: one line per event to stderr, logfmt style:
 *   ts=2026-11-23T16:35:02.123Z level=info msg="..." key=value */
#ifndef EMBER_UTIL_LOG_H
#define EMBER_UTIL_LOG_H

#include "util/common.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/** Sets the minimum level printed (default LOG_INFO). */
void log_set_level(enum log_level level);
/** Parses "debug|info|warn|error"; returns 0 or EMBER_EINVAL. */
int log_parse_level(const char *s, enum log_level *out) EMBER_WUR;
/** Prints one line; fmt is the rest of the line after level (e.g. "msg=\"x\" n=%d"). Thread-safe. */
void log_write(enum log_level level, const char *fmt, ...) EMBER_PRINTF(2, 3);

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
