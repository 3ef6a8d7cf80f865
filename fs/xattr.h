/*
** xattr.h: a topic's settings and figures as extended attributes of its
** directory.
**
**   user.<setting>            every setting of config.h under its Kafka
**                             name, defaults included; read-write
**   user.topicfs.start_offset, end_offset, records, segments, stored_bytes
**                             figures from topic_info, decimal; read-only
**
** Values are the bare text, without a trailing NUL or newline. Functions
** that fill a buffer follow getxattr(2): with size 0 they return the length
** needed and copy nothing; with a smaller buffer they return -ERANGE.
*/
#ifndef TOPICFS_FS_XATTR_H
#define TOPICFS_FS_XATTR_H

#include <stddef.h>
#include <sys/types.h>

#include "../core/store.h"

/* The value of name into buf. Returns its length, -ENODATA (no such
** attribute) or -ERANGE. */
ssize_t tfs_xattr_get(topic *t, const char *name, char *buf /* OUT */,
		      size_t size);

/* Every name, each followed by a NUL, into buf. Returns the total length or
** -ERANGE. */
ssize_t tfs_xattr_list(topic *t, char *buf /* OUT */, size_t size);

/*
** Set a setting (flags as setxattr(2): XATTR_CREATE fails with -EEXIST,
** since every setting exists). Returns 0; -EINVAL (bad value, or an
** unknown user.* name); -EPERM (a read-only figure); -ENOTSUP (a name
** outside user.*). Logs one line for each failure.
*/
int tfs_xattr_set(topic *t, const char *name, const char *value, size_t size,
		  int flags);

/* removexattr: -ENOTSUP for a setting (resetting to the default is not
** supported yet), -EPERM for a figure, -ENODATA for anything else. */
int tfs_xattr_remove(topic *t, const char *name);

#endif
