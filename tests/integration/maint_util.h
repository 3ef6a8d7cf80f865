/*
** maint_util.h: helpers for the background-maintenance integration tests
** (prefix m_), on top of harness.h.
**
** They look at a topic from both sides: through the mount (extended
** attributes, the files of TOPIC/) and in DATADIR (the segment files, their
** header flags and sizes), and they can kill the daemon with SIGKILL and
** clear its dead mount so that the same DATADIR can be mounted again.
*/
#ifndef TOPICFS_IT_MAINT_UTIL_H
#define TOPICFS_IT_MAINT_UTIL_H

#include "harness.h"
#include "../../core/io.h" /* io_pread_all: pread all of LEN bytes, fewer at EOF */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define M_SEG_HEADER 64       /* bytes of a segment file's header */
#define M_SEG_FLAG_ZSTD 1u    /* bit0 of the u32 at byte 12 */
#define M_MAX_SEGS 4096

/* One segment file of DATADIR/topics/TOPIC, as found on disk. */
struct m_seg {
	uint64_t base;       /* from its name */
	long long size;      /* st_size of the file */
	uint32_t flags;      /* the u32 at byte 12 */
	unsigned char magic[4]; /* bytes 64..67 (zeros when the file is shorter) */
};

/*
** The segment files (*.log) of TOPIC in DATADIR, sorted by base, into SEGS
** (M_MAX_SEGS entries). Files that vanish while listed (retention) are
** skipped. Returns the count.
*/
size_t m_disk_segments(const char *topic, struct m_seg *segs);

/* Sum of the sizes of TOPIC's *.log files in DATADIR. */
long long m_disk_bytes(const char *topic);

/* The bases of the segment files listed by `ls MNT/TOPIC`, sorted (BASES
 * has M_MAX_SEGS entries). Returns the count. */
size_t m_mnt_segments(const char *topic, uint64_t *bases);

/* An xattr of MNT/TOPIC read as an unsigned number; fails the test when
 * it can't be read or is not a number. */
uint64_t m_figure(const char *topic, const char *name);

/* Set the xattr NAME (full name, "user.retention.ms") of MNT/TOPIC to
 * VALUE; fails the test when setxattr(2) fails. */
void m_set(const char *topic, const char *name, const char *value);

/* The value of xattr NAME of MNT/TOPIC (malloc'd); fails the test when it
 * can't be read. */
char *m_get(const char *topic, const char *name);

/* How many files whose names end in ".tmp" are under DIR (recursively);
 * their paths are added to LIST (may be NULL), one per line. */
int m_count_tmp(const char *dir, struct h_buf *list);

/* A file as it was when listed: a later m_same_file() tells whether the
 * same file (not a new one of the same name) is still there. */
struct m_file {
	char path[PATH_MAX];
	unsigned long long ino, size;
	long long mtime_ns;
};

/* The "*.tmp" files under DIR (recursively), at most MAX of them, into
 * OUT. Returns the count. */
size_t m_list_tmp(const char *dir, struct m_file *out, size_t max);

/* Is F's path still the very file listed (inode, size and mtime)? */
bool m_same_file(const struct m_file *f);

/*
** SIGKILL the daemon, reap it, and detach its dead mount with
** `fusermount3 -uz`, leaving H ready for h_mount(H.opts) on the same
** DATADIR. Fails the test if the daemon had already exited.
*/
void m_kill9(void);


#endif /* TOPICFS_IT_MAINT_UTIL_H */
