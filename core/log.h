/*
** log.h: the one place where topicfs says what went wrong.
**
** Every refused request and every damaged byte found on disk produces one
** line saying why. The core writes to stderr unless the program installs
** another sink (the daemon sends lines to syslog when in the background).
*/
#ifndef TOPICFS_LOG_H
#define TOPICFS_LOG_H

enum { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO };

typedef void (*log_sink_fn)(int level, const char *line);

/* Install sink (NULL: back to stderr). Not thread-safe: call at start. */
void log_set_sink(log_sink_fn sink);

/* Format one line (no trailing newline needed) and hand it to the sink. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)

#endif
