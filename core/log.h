/*
** log.h: the one place where topicfs says what went wrong.
**
** Every refused request and every damaged byte found on disk produces one
** line saying why. One line: log_msg writes any control byte that reached
** it as '?'. The core writes to stderr unless the program installs
** another sink (the daemon sends lines to syslog when in the background).
*/
#ifndef TOPICFS_LOG_H
#define TOPICFS_LOG_H

#include <stddef.h>

enum { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO };

typedef void (*log_sink_fn)(int level, const char *line);

/* Install sink (NULL: back to stderr). Not thread-safe: call at start. */
void log_set_sink(log_sink_fn sink);

/* Format one line (no trailing newline needed) and hand it to the sink. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* s[0..len) as text fit for a log line: bytes outside ' '..'~' and the
** backslash written \xNN, cut with "..." to fit outlen (at least 8).
** Returns out. Names and values a request brought are logged through it,
** so that no request can start a line of its own. */
const char *log_printable(const void *s, size_t len, char *out, size_t outlen);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)

#endif
