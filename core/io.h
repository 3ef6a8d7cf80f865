/*
** io.h: the file I/O every core module goes through: whole reads and
** writes that loop on EINTR and short counts, durable file replacement,
** little-endian field encoding, and a fault hook for the tests.
**
** Functions return 0 (or a byte count) on success and a negative errno.
*/
#ifndef TOPICFS_IO_H
#define TOPICFS_IO_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Write all len bytes at off. On failure nothing is promised about how
** much was written; the caller undoes it (see topic_append). */
int io_pwrite_all(int fd, const void *buf, size_t len, off_t off);

/* pwritev until all iovcnt pieces of iov are written at off; 0 or -errno.
** The array is not changed. */
int io_pwritev_all(int fd, const struct iovec *iov, int iovcnt, off_t off);

/* Read up to len bytes at off; returns the count (short only at end of
** file) or -errno. */
ssize_t io_pread_all(int fd, void *buf, size_t len, off_t off);

/* fdatasync / fsync, as -errno. */
int io_datasync(int fd);

/* The directory sub of dirfd ("." when sub is NULL) open for readdir, on
** a descriptor of its own (closedir closes it); NULL with errno set. */
DIR *io_opendir_at(int dirfd, const char *sub);
int io_fsync(int fd);

/*
** Replace dirfd/name with buf, durably: write "name.tmp", fsync it, rename
** it over name, fsync the directory. A crash leaves either the old or the
** new file (and maybe a stale "*.tmp", which the owner removes at open).
** When "name.tmp" would pass NAME_MAX (a consumer of a 249-character name
** is "NAME.pos"), the temporary file is a prefix of name, a hash of the
** whole name and ".tmp". io_replace_file_lazily() does the same with no
** fsync: after a crash, name may be the old file, the new one, or empty,
** which suits derived data that a reader checks and rebuilds.
*/
int io_replace_file(int dirfd, const char *name, const void *buf, size_t len);
int io_replace_file_lazily(int dirfd, const char *name, const void *buf, size_t len);

/* Read a whole (small) file into a malloc'd buffer (*len bytes, plus a
** NUL after them). */
int io_read_file(int dirfd, const char *name, char **buf, size_t *len);

/* Remove dirfd/name and everything below it. Missing is not an error. */
int io_remove_tree(int dirfd, const char *name);

/* Wall-clock time in milliseconds since the epoch. */
int64_t io_now_ms(void);

/*
** Fault injection for tests: after io_fault_arm(IO_FAULT_WRITE, n, err),
** the n-th following write (1 = the next one) through io_pwrite_all or
** io_pwritev_all fails with -err, having written nothing; with
** IO_FAULT_SYNC, the n-th following io_datasync or io_fsync fails with
** -err, having synced nothing (and the next one succeeds, as Linux's do
** once a failed writeback has been reported). n = 0 disarms.
*/
enum { IO_FAULT_WRITE, IO_FAULT_SYNC, IO_FAULT_KINDS };
void io_fault_arm(int kind, int n, int err);

static inline void io_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static inline void io_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t io_get32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}
static inline uint64_t io_get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#endif
