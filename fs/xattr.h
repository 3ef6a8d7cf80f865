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

#include "inode.h"

/*
** Topic directories have the settings (user.<name>) and the read-only
** figures (user.topicfs.*); a consumer file has its position,
** user.topicfs.offset; other inodes have none.
*/

/* The value of name into buf (size 0: only its length). Returns its
** length, -ENODATA (no such attribute) or -ERANGE. */
ssize_t tfs_xattr_get(const tfs_inode *in, const char *name,
		      char *buf /* OUT */, size_t size);

/* Every name, each followed by a NUL, into buf (size 0: only the length).
** Returns the total length or -ERANGE. */
ssize_t tfs_xattr_list(const tfs_inode *in, char *buf /* OUT */, size_t size);

/*
** Set a setting (flags as setxattr(2): XATTR_CREATE fails with -EEXIST,
** since every setting exists). Returns 0; -EINVAL (bad value, or an
** unknown user.* name); -EPERM (a read-only figure); -ENOTSUP (a name
** outside user.*). Logs one line for each failure.
*/
int tfs_xattr_set(const tfs_inode *in, const char *name, const char *value,
		  size_t size, int flags);

/* removexattr: a setting goes back to the mount's default; -EPERM for a
** figure or a position, -ENODATA for anything else. */
int tfs_xattr_remove(const tfs_inode *in, const char *name);

#endif
