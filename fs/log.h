/*
** log.h: the FUSE layer's one-line messages, through the core's log
** (core/log.h), so that the core's lines and ours go to one place.
**
** The FUSE layer logs the refusals it decides itself (a bad name, a write
** to a read-only file, ...). Errors that come back from the core were
** logged by the core, which knows the topic, segment and offset; the FUSE
** layer adds a line only for the ones the core does not log (-ENOENT for a
** deleted topic, -EEXIST).
*/
#ifndef TOPICFS_FS_LOG_H
#define TOPICFS_FS_LOG_H

#include <stddef.h>

/* One line (fmt has no trailing newline), at the core's warning level:
** stderr shows "topicfs: warning: <line>". Safe from any thread. */
void tfs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Names and values from requests go into lines through the core's
** log_printable (core/log.h). */

/* Send every later line, the core's included, to syslog (facility daemon)
** instead of stderr: for the daemon once it has detached. Call it before
** the request threads start. */
void tfs_log_to_syslog(void);

#endif
