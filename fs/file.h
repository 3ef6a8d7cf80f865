/*
** file.h: the open regular files of a mount (TOPIC/log, segment files and
** offset files) and what reading and writing them means.
**
** Each open() gets a tfs_file: a cursor for its reads (opened at the first
** read, or at open for a segment file), the file offset its next
** sequential read is expected at, a readahead window once it reads
** sequentially, and the partial line its writes left pending. A tfs_file
** holds a reference on its inode. Calls on one file are serialised by the
** file's own mutex; files are independent of each other.
**
** Functions return 0 (or a byte count) or a negative errno.
*/
#ifndef TOPICFS_FS_FILE_H
#define TOPICFS_FS_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "inode.h"

typedef struct tfs_files tfs_files; /* the set of open files of a mount */
typedef struct tfs_file tfs_file;

int tfs_files_new(tfs_files **out /* OUT */);

/* The largest WRITE request the kernel sends (FUSE's max_write, known at
** INIT): a write() longer than that arrives as several requests. */
void tfs_files_set_max_write(tfs_files *fs, size_t max_write);

/*
** At unmount: close every file still open (as tfs_file_close does, so
** pending partial lines are appended) and free the set. No other call on
** the set or its files may run.
*/
void tfs_files_free(tfs_files *fs, tfs_itable *tb);

/*
** Open in (a LOG, SEGMENT or OFFSET inode) with open(2)'s flags. Takes a
** reference on in. Returns 0 and *out; -EACCES when a segment or offset
** file is opened for writing or with O_TRUNC; -ENOENT when a segment no
** longer exists.
*/
int tfs_file_open(tfs_files *fs, tfs_itable *tb, tfs_inode *in, int flags,
		  tfs_file **out /* OUT */);

/* The file's inode (valid while the file is open). */
tfs_inode *tfs_file_inode(const tfs_file *f);

/* Delivers the bytes of a read; they are valid only during the call. */
typedef int (*tfs_reply_fn)(void *req, const struct iovec *iov, int count);

/*
** Read up to size bytes at file offset off and hand them to reply(req, ...)
** (0 bytes: nothing more for now). Returns 0 once reply was called, or,
** without calling it, -EIO when a stored record fails its check or another
** negative errno. A file read front to back is read ahead in the
** background (see readahead.h), so most reads find their bytes ready.
*/
int tfs_file_read(tfs_file *f, size_t size, uint64_t off, tfs_reply_fn reply, void *req);

/*
** For the kernel's reads that fill a private mapping's pages (they come
** without a lock owner; every read() has one): the file's bytes [off, off
** + size) where they lie, up to eof (the file's st_size), with bytes that
** retention or compaction removed read as zeros instead of skipped. A
** page must be whole: a short or shifted one would end the file for the
** kernel, and the reader would die of SIGBUS. Leaves the file's own
** reading as it was. Returns as tfs_file_read (consumer files: read as by
** tfs_file_read).
*/
int tfs_file_read_in_place(tfs_file *f, size_t size, uint64_t off, uint64_t eof,
			   tfs_reply_fn reply, void *req);

/*
** Append the complete lines of buf, after the pending partial line, as one
** batch of records, and keep the bytes after the last "\n" pending. The
** file offset of the write is ignored (appends go to the end). Returns
** size, or -EMSGSIZE (a line longer than max.message.bytes), -ENOSPC, -EIO,
** -ENOENT (topic deleted), -ENOMEM. On error nothing of buf is stored and
** the pending partial line is as before, except after -EMSGSIZE for the
** line the pending bytes start: that line is dropped whole (see file.c).
** owner is the writer's lock owner as FUSE reports it: one value per
** descriptor table, so per process (0 when unknown).
*/
ssize_t tfs_file_write(tfs_file *f, const char *buf, size_t size, uint64_t owner);

/*
** On a close() of a descriptor of the file, from the descriptor table
** owner: append the pending partial line, if any, as a record of its own,
** when owner is the one that wrote it (or either is 0). A close from
** another process that shares the open file (a forked child, at its exit
** or exec) leaves the line pending: the writer may go on with it, and the
** last close appends it in any case. On error the line stays pending.
*/
int tfs_file_flush(tfs_file *f, uint64_t owner);

/* tfs_file_flush, then make everything appended to the topic durable. */
int tfs_file_fsync(tfs_file *f);

/* Flush (logging what cannot be appended), close and free the file, and
** drop its inode reference. */
void tfs_file_close(tfs_files *fs, tfs_itable *tb, tfs_file *f);

#endif
