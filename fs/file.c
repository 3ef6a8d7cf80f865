/*
** file.c: see file.h.
**
** READING. File offset p of TOPIC/log is byte position p of the rendered
** log; of a segment file, the segment's base_bytepos + p; of TOPIC/N, the
** bytepos of record N + p (see inode.h, tfs_inode_base). A cursor reads
** forward in O(1), so a read at the offset where the previous one ended
** (f->expect) continues the cursor and any other offset seeks it. The
** cursor may skip bytes that retention or compaction removed (its real
** position jumps ahead); the reader's file offset then trails the real
** position, which is why sequential reads are recognised by f->expect and
** not by cur_pos(). A reader never sees a gap or a torn record.
** A read of the file's last bytes, up to its end, may start a scan back
** from the end (tail -n, tac): a read that then ends exactly where the
** previous one began is the scan's next step. It gets the retained bytes
** right before the ones the previous read returned (cur_read_before), and
** the cursor stays right after them, where the reader's next read, at the
** offset that follows, goes on. A step back past the first retained byte
** reads zeros there: tail needs its windows whole.
** Only the kernel's reads that fill a private mapping's pages need the
** bytes where they lie: tfs_file_read_in_place answers them with a cursor
** of its own, removed bytes as zeros.
** After two full reads in a row at the expected offset, a readahead window
** (readahead.h) takes over the cursor: a worker thread reads on ahead while
** the reader's replies travel, and reads at the window's offset are
** answered from it without a copy. A read anywhere else stops the window
** (the cursor is then where the window had filled to, f->expect) and
** seeks; a window that ran dry (the end for now, or an error) hands the
** cursor back, and the reader's own read meets the end or the error.
**
** WRITING. The complete lines of one write, after whatever partial line
** the file had pending, go to the topic in ONE topic_append call, so they
** are appended atomically and never interleave with another writer's. The
** bytes after the last "\n" stay pending in the file until a later write
** completes them, or a flush (a close() by the process that wrote them,
** see tfs_file_flush) or fsync appends them as a record of their own. The offset the kernel sends is ignored: with
** O_APPEND it is computed from a possibly stale cached size.
*/
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "../core/config.h"
#include "../core/consumer.h"
#include "../core/crc32c.h"
#include "../core/cursor.h"
#include "../core/topic.h"
#include "log.h"
#include "readahead.h"

struct tfs_file {
	tfs_inode *in; /* a reference of the file's own */

	pthread_mutex_t lock; /* protects everything below */
	cursor *cur;	      /* NULL until needed; the window's while it fills */
	consumer *con;	      /* CONSUMER files: the shared position */
	uint64_t expect;      /* file offset right after the previous read */
	unsigned full_reads;  /* full reads in a row, each at expect */
	int back;	      /* a scan back from the end is under way; its */
	uint64_t back_off;    /* last window's file offset, and */
	uint64_t back_end;    /* the log position that window's bytes start at (or after) */
	ra_window *ra;	      /* reads ahead once reads are sequential */
	char *pending;	      /* the partial line the writes left */
	size_t pending_len;   /* <= max.message.bytes when it was checked */
	uint64_t pending_owner; /* the lock owner whose write left it */
	size_t pending_cap;
	int discarding;	      /* dropping a too-long line up to its "\n" */
	size_t max_write;     /* the kernel's largest WRITE request; 0: unknown */
	size_t retry_len;     /* the refused end of a too-long line, "\n" */
	uint32_t retry_crc;   /* included, that a retry will send again */

	/* protected by the set's mutex */
	struct tfs_file *prev, *next;
};

struct tfs_files {
	pthread_mutex_t mutex;
	tfs_file *head; /* protected by mutex */
	ra_pool *pool;	/* the readahead threads */
	atomic_size_t max_write; /* 0 until INIT */
};

/* Threads reading ahead for the mount's sequential readers. */
#define READAHEAD_THREADS 2

static ssize_t fill_from_cursor(void *src, void *buf, size_t len);


int tfs_files_new(tfs_files **out)
{
	tfs_files *fs = calloc(1, sizeof(*fs));

	if (fs == NULL)
		return -ENOMEM;
	if (pthread_mutex_init(&fs->mutex, NULL) != 0) {
		free(fs);
		return -ENOMEM;
	}
	int rc = ra_pool_new(READAHEAD_THREADS, &fs->pool);
	if (rc < 0) {
		pthread_mutex_destroy(&fs->mutex);
		free(fs);
		return rc;
	}
	*out = fs;
	return 0;
}

void tfs_files_set_max_write(tfs_files *fs, size_t max_write)
{
	atomic_store(&fs->max_write, max_write);
}

void tfs_files_free(tfs_files *fs, tfs_itable *tb)
{
	while (fs->head != NULL)
		tfs_file_close(fs, tb, fs->head);
	ra_pool_free(fs->pool);
	pthread_mutex_destroy(&fs->mutex);
	free(fs);
}

int tfs_file_open(tfs_files *fs, tfs_itable *tb, tfs_inode *in, int flags,
		  tfs_file **out)
{
	tfs_file *f;
	int rc;

	/* O_TRUNC reaches open() itself (libfuse asks for atomic O_TRUNC):
	** ignored on log, refused with the read-only files. */
	if (in->kind != TFS_LOG &&
	    ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)))
		return -EACCES;
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	if (pthread_mutex_init(&f->lock, NULL) != 0) {
		free(f);
		return -ENOMEM;
	}
	if (in->kind == TFS_SEGMENT) {
		/* Open the segment now: a segment that retention removed fails
		** here rather than at the first read, and once open the cursor
		** keeps the segment readable to its end. */
		rc = cur_open_segment(in->t, in->param, &f->cur);
	} else if (in->kind == TFS_CONSUMER) {
		rc = consumer_open(in->t, in->name, 1, &f->con); /* created here */
	} else {
		rc = 0;
	}
	/* Not for consumers: each of their reads has an effect. */
	if (rc == 0 && f->con == NULL)
		rc = ra_window_new(fs->pool, fill_from_cursor, f, &f->ra);
	if (rc < 0) {
		cur_close(f->cur);
		if (f->con != NULL)
			consumer_close(f->con);
		pthread_mutex_destroy(&f->lock);
		free(f);
		return rc;
	}
	tfs_inode_hold(tb, in);
	f->in = in;
	f->max_write = atomic_load(&fs->max_write);
	topic_file_opened(in->t);

	pthread_mutex_lock(&fs->mutex);
	f->next = fs->head;
	if (fs->head != NULL)
		fs->head->prev = f;
	fs->head = f;
	pthread_mutex_unlock(&fs->mutex);
	*out = f;
	return 0;
}

tfs_inode *tfs_file_inode(const tfs_file *f)
{
	return f->in;
}

/* ---- reading ---- */

static pthread_key_t rbuf_key;
static pthread_once_t rbuf_once = PTHREAD_ONCE_INIT;

struct rbuf {
	size_t cap;
	char data[];
};

static void rbuf_key_init(void)
{
	pthread_key_create(&rbuf_key, free);
}

/* The calling thread's reply buffer, of at least size bytes; NULL when
** there is no memory. Freed when the thread exits. */
static char *read_buffer(size_t size)
{
	struct rbuf *b;

	pthread_once(&rbuf_once, rbuf_key_init);
	b = pthread_getspecific(rbuf_key);
	if (b == NULL || b->cap < size) {
		struct rbuf *nb = malloc(sizeof(*nb) + (size ? size : 1));

		if (nb == NULL)
			return NULL;
		nb->cap = size;
		free(b);
		pthread_setspecific(rbuf_key, nb);
		b = nb;
	}
	return b->data;
}

/* Read len bytes (fewer at the end for now, or before an error) from the
** cursor: the source of the file's readahead window. */
static ssize_t fill_from_cursor(void *src, void *buf, size_t len)
{
	tfs_file *f = src;
	size_t done = 0;
	ssize_t n = 0;

	while (done < len) {
		n = cur_read(f->cur, (char *)buf + done, len - done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return done > 0 ? (ssize_t)done : n;
}

static int reply_bytes(tfs_reply_fn reply, void *req, const void *buf, size_t n)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = n };

	return reply(req, &iov, 1);
}

/* Whether a request of size bytes may be a piece of a longer write() or
** read(): the kernel cuts one into requests of max_write bytes (the page
** count it allows reads too), the first one up to a page shorter when the
** caller's buffer is not page-aligned. It sends the next piece of a read()
** only when this one came back full, and no more of a write() once a
** request failed. */
static int may_continue(const tfs_file *f, size_t size)
{
	return f->max_write > 0 && size + 4096 > f->max_write;
}

static int consumer_file_read(tfs_file *f, size_t size, tfs_reply_fn reply, void *req)
{
	char *buf = read_buffer(size);
	ssize_t n;

	if (buf == NULL)
		return -ENOMEM;
	n = consumer_read(f->con, buf, size, may_continue(f, size));
	if (n < 0)
		return (int)n;
	if (n > 0) {
		pthread_mutex_lock(&f->in->lock);
		f->in->delivered += (uint64_t)n; /* counts in its size */
		pthread_mutex_unlock(&f->in->lock);
	}
	reply_bytes(reply, req, buf, (size_t)n);
	return 0;
}

int tfs_file_read(tfs_file *f, size_t size, uint64_t off, tfs_reply_fn reply, void *req)
{
	struct iovec iov[2];
	uint64_t base, end, pos;
	size_t done = 0;
	ssize_t n = 0;
	char *buf;
	int rc, niov;

	if (f->con != NULL) /* its own position: the file offset means nothing */
		return consumer_file_read(f, size, reply, req);
	rc = tfs_inode_base(f->in, &base);
	if (rc == -EAGAIN) { /* TOPIC/N before record N exists: empty for now */
		reply_bytes(reply, req, "", 0);
		return 0;
	}
	if (rc < 0)
		return rc;

	pthread_mutex_lock(&f->lock);
	n = ra_take(f->ra, off, size, iov, &niov);
	if (n == (ssize_t)size) {
		reply(req, iov, niov);
		ra_consume(f->ra, (size_t)n);
		f->expect = off + (uint64_t)n;
		f->back = 0;
		pthread_mutex_unlock(&f->lock);
		return 0;
	}
	if ((buf = read_buffer(size)) == NULL) {
		rc = -ENOMEM; /* the window, if any, stays as it was */
		goto out;
	}
	if (n > 0) {
		/* The window's last bytes, and the rest from the cursor. */
		memcpy(buf, iov[0].iov_base, iov[0].iov_len);
		if (niov == 2)
			memcpy(buf + iov[0].iov_len, iov[1].iov_base, iov[1].iov_len);
		ra_consume(f->ra, (size_t)n);
		done = (size_t)n;
	}
	if (n == RA_EMPTY)
		f->expect = off; /* where the window ran dry */
	else if (ra_stop(f->ra, &end))
		f->expect = end; /* where the cursor is: off + done after a partial */
	pos = off + done;

	if (done == 0 && f->back && off < f->back_off && off + size == f->back_off) {
		/* The window right before the previous one: a scan back from
		** the end (tail -n, tac). It gets the bytes before the ones
		** the reader has, even where the window's offset lies in a
		** gap, so no line reaches it twice. */
		n = cur_read_before(f->cur, base, f->back_end, buf, size, &f->back_end);
		if (n < 0) {
			rc = (int)n;
			f->back = 0;
			f->expect = UINT64_MAX; /* the cursor moved: the next read seeks */
			f->full_reads = 0;
			goto out;
		}
		/* Short at the log's start (or when a removal raced the
		** count): zeros before it, as in a file whose removed bytes are
		** a hole. tail needs the window whole: on a short or empty read
		** it stops, printing nothing. */
		memmove(buf + (size - (size_t)n), buf, (size_t)n);
		memset(buf, 0, size - (size_t)n);
		f->back_off = off;
		f->expect = off + size; /* and the cursor is right after them */
		f->full_reads = 0;
		reply_bytes(reply, req, buf, size);
		rc = 0;
		goto out;
	}
	if (f->cur == NULL) {
		rc = cur_open(f->in->t, base + pos, &f->cur);
		if (rc < 0)
			goto out;
		f->expect = pos;
	} else if (pos != f->expect) {
		cur_seek(f->cur, base + pos);
		f->full_reads = 0;
	}
	uint64_t at_off = pos, at_pos = cur_pos(f->cur);
	n = 0;
	while (done < size) {
		n = cur_read(f->cur, buf + done, size - done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (n < 0 && done == 0) {
		/* Report the error; bytes read before it are returned first,
		** and the next read meets the error again. */
		rc = (int)n;
		f->expect = pos;
		f->full_reads = 0;
		f->back = 0;
		goto out;
	}
	/* A scan back starts with a read of the file's last bytes, up to its
	** end: tail's and tac's do. Only such a read lets the next one be a
	** step back, so a forward reader that reads at 0 after a read further
	** on is never taken for one (it would read zeros before the records).
	** A read that finds nothing (tac reads again at the end after its
	** first window) leaves a scan where it was. */
	if (done > 0 || !f->back) {
		f->back = pos == off && base + off + size >= cur_end(f->cur);
		f->back_off = at_off;
		f->back_end = at_pos;
	}
	f->expect = off + done;
	f->full_reads = done == size && size > 0 ? f->full_reads + 1 : 0;
	if (f->full_reads >= 2)
		ra_start(f->ra, f->expect); /* the cursor is the window's now */
	reply_bytes(reply, req, buf, done);
	rc = 0;
out:
	pthread_mutex_unlock(&f->lock);
	return rc;
}

int tfs_file_read_in_place(tfs_file *f, size_t size, uint64_t off, uint64_t eof,
			   tfs_reply_fn reply, void *req)
{
	uint64_t base;
	ssize_t got;
	cursor *c;
	char *buf;
	int rc;

	if (f->con != NULL) /* a consumer's reads take records, wherever */
		return tfs_file_read(f, size, off, reply, req);
	if (off >= eof)
		size = 0;
	else if (size > eof - off)
		size = (size_t)(eof - off);
	rc = tfs_inode_base(f->in, &base);
	if (rc == -EAGAIN) /* TOPIC/N before record N: empty */
		size = 0;
	else if (rc < 0)
		return rc;
	if (size == 0) {
		reply_bytes(reply, req, "", 0);
		return 0;
	}
	if ((buf = read_buffer(size)) == NULL)
		return -ENOMEM;
	/* A cursor of its own, so that the file's (and its readahead
	** window's) stays where the reader left it; for a segment file, on
	** the segment the file opened, even if retention removed it since. */
	pthread_mutex_lock(&f->lock);
	rc = f->cur != NULL ? cur_open_like(f->cur, base + off, &c)
			    : cur_open(f->in->t, base + off, &c);
	pthread_mutex_unlock(&f->lock);
	if (rc < 0)
		return rc;
	got = cur_read_at(c, base + off, buf, size);
	cur_close(c);
	if (got < 0)
		return (int)got; /* -EIO: the kernel fails the page, not zeros */
	memset(buf + got, 0, size - (size_t)got); /* removed bytes at the end */
	reply_bytes(reply, req, buf, size);
	return 0;
}

/* Make room for len pending bytes. 0 or -ENOMEM (pending unchanged). */
static int pending_reserve(tfs_file *f, size_t len)
{
	size_t cap = f->pending_cap ? f->pending_cap : 256;
	char *p;

	if (len <= f->pending_cap)
		return 0;
	while (cap < len)
		cap *= 2;
	p = realloc(f->pending, cap);
	if (p == NULL)
		return -ENOMEM;
	f->pending = p;
	f->pending_cap = cap;
	return 0;
}

static int64_t max_message_bytes(topic *t)
{
	cfg c;

	topic_config(t, &c);
	return c.max_message_bytes;
}

/* Log an append error that the core did not log itself (see log.h). */
static void log_append_error(const tfs_file *f, const char *what, int rc)
{
	char label[TFS_LABEL_MAX];

	if (rc != -ENOENT)
		return;
	tfs_inode_label(f->in, label, sizeof(label));
	tfs_log("%s '%s': the topic was deleted", what, label);
}

/* Log the refusal of a line longer than max.message.bytes. */
static void log_too_long(const tfs_file *f, int64_t max, const char *what)
{
	char label[TFS_LABEL_MAX];

	tfs_inode_label(f->in, label, sizeof(label));
	tfs_log("write to '%s': refused a line longer than max.message.bytes "
		"(%lld)%s",
		label, (long long)max, what);
}

/*
** A line too long for a record may show up only after part of it was
** accepted: it was written with several write() calls, or one write()
** larger than max_write reached us as several requests. The part already
** pending can then never become a record, so it is dropped, and so is the
** rest of the line up to its "\n": nothing of the line is ever stored. Each
** write that carries part of it fails with EMSGSIZE and stores nothing, as
** a write holding a too-long line must.
**
** When the request that shows the line too long also holds its "\n", the
** writer's write() returns a short count (the kernel counts the requests
** that succeeded) and the writer sends the refused bytes again. Those bytes,
** up to the "\n", are remembered by length and CRC (retry_len, retry_crc):
** a next write that starts with them is that retry and is refused too; any
** other write is new and is taken as usual.
**
** When it holds no "\n", the line goes on after it: in a later write()
** when the request is shorter than max_write (then "discarding" drops the
** rest up to its "\n"), but perhaps in the same write() when the request
** is a full piece of a longer one. The kernel sends no more of a write()
** once a request failed, so that rest, and its "\n", never come: then
** only a retry of the refused bytes is refused, and the next other write
** is new (else it would be refused too, as a review found).
*/
ssize_t tfs_file_write(tfs_file *f, const char *buf, size_t size, uint64_t owner)
{
	const char *nl, *first_nl;
	struct iovec iov[2];
	size_t head, tail;
	int64_t max;
	int iovcnt = 0;
	int rc = 0;

	if (size == 0)
		return 0;
	pthread_mutex_lock(&f->lock);
	first_nl = memchr(buf, '\n', size);
	if (f->retry_len > 0) {
		size_t n = f->retry_len;

		f->retry_len = 0;
		if (n <= size && crc32c(0, buf, n) == f->retry_crc) {
			/* the refused end of the line, again */
			log_too_long(f, max_message_bytes(f->in->t),
				     "; refused the same bytes again");
			rc = -EMSGSIZE;
			goto out;
		}
	}
	if (f->discarding) {
		if (first_nl != NULL || may_continue(f, size))
			f->discarding = 0; /* the too-long line ends here, or
					    ** perhaps in the part of this write()
					    ** the kernel will not send */
		if (first_nl != NULL)
			log_too_long(f, max_message_bytes(f->in->t),
				     "; dropped the rest of it, up to its "
				     "newline");
		rc = -EMSGSIZE;
		goto out;
	}
	max = max_message_bytes(f->in->t);
	nl = first_nl == NULL ? NULL : memrchr(buf, '\n', size);
	head = nl == NULL ? 0 : (size_t)(nl - buf) + 1;
	tail = size - head;

	/* The line the pending bytes (or this write) start: does it fit? */
	if (f->pending_len + (first_nl ? (size_t)(first_nl - buf) : size) >
	    (uint64_t)max) {
		f->pending_len = 0;
		if (first_nl != NULL) {
			f->retry_len = (size_t)(first_nl - buf) + 1;
			f->retry_crc = crc32c(0, buf, f->retry_len);
			log_too_long(f, max, "; dropped it");
		} else if (may_continue(f, size)) {
			/* Perhaps the first piece of a longer write(), whose
			** rest (and "\n") the kernel will not send now: the
			** write fails whole. Only its retry is refused too. */
			f->retry_len = size;
			f->retry_crc = crc32c(0, buf, size);
			log_too_long(f, max, "; dropped it");
		} else {
			f->discarding = 1; /* the line goes on in a later write() */
			log_too_long(f, max, "; dropped it, and later writes "
					     "up to its newline are refused too");
		}
		rc = -EMSGSIZE;
		goto out;
	}
	/* The partial line this write leaves must fit in a record. */
	if (head > 0 && tail > (uint64_t)max) {
		log_too_long(f, max, "");
		rc = -EMSGSIZE;
		goto out;
	}
	/* Reserve first, so that nothing can fail once records are stored. */
	rc = pending_reserve(f, (head == 0 ? f->pending_len : 0) + tail);
	if (rc < 0)
		goto out;
	if (head == 0) {
		memcpy(f->pending + f->pending_len, buf, size);
		f->pending_len += size;
		f->pending_owner = owner;
		goto out;
	}

	if (f->pending_len > 0) {
		iov[iovcnt].iov_base = f->pending;
		iov[iovcnt].iov_len = f->pending_len;
		iovcnt++;
	}
	iov[iovcnt].iov_base = (void *)buf;
	iov[iovcnt].iov_len = head;
	iovcnt++;
	/* -EMSGSIZE here: a complete line was too long; the core logs it. */
	rc = topic_append(f->in->t, iov, iovcnt, NULL);
	if (rc < 0)
		goto out;
	if (tail > 0) /* pending may still be NULL: nothing was ever kept */
		memcpy(f->pending, buf + head, tail);
	f->pending_len = tail;
	f->pending_owner = owner;
out:
	pthread_mutex_unlock(&f->lock);
	if (rc < 0) {
		log_append_error(f, "write to", rc);
		return rc;
	}
	return (ssize_t)size;
}

/* Append the pending partial line; called with f->lock held. Its writes
** were accepted, each checked against max.message.bytes: it becomes a
** record even if the setting was lowered since. */
static int flush_locked(tfs_file *f)
{
	struct iovec iov[2];
	int rc;

	if (f->pending_len == 0)
		return 0;
	iov[0].iov_base = f->pending;
	iov[0].iov_len = f->pending_len;
	iov[1].iov_base = (void *)"\n";
	iov[1].iov_len = 1;
	rc = topic_append_limit(f->in->t, iov, 2, NULL, f->pending_len);
	if (rc == 0)
		f->pending_len = 0;
	return rc;
}

int tfs_file_flush(tfs_file *f, uint64_t owner)
{
	int rc = 0;

	if (f->con != NULL)
		return consumer_persist(f->con); /* durable at close */
	pthread_mutex_lock(&f->lock);
	/* FUSE sends a flush at every close() of a descriptor, also of one
	** that a forked child inherited and closes at its exit or exec: such
	** a close must not cut the writer's line in two. The lock owner names
	** the closing descriptor table, shared by a process's threads. */
	if (f->pending_owner == 0 || owner == 0 || owner == f->pending_owner)
		rc = flush_locked(f);
	pthread_mutex_unlock(&f->lock);
	if (rc < 0)
		log_append_error(f, "close of", rc);
	return rc;
}

int tfs_file_fsync(tfs_file *f)
{
	int rc;

	pthread_mutex_lock(&f->lock);
	rc = flush_locked(f);
	pthread_mutex_unlock(&f->lock);
	if (rc < 0) {
		log_append_error(f, "fsync of", rc);
		return rc;
	}
	if (f->con != NULL)
		return consumer_persist(f->con);
	if (f->in->kind != TFS_LOG)
		return 0; /* read-only: nothing of ours to sync */
	return topic_sync(f->in->t);
}

void tfs_file_close(tfs_files *fs, tfs_itable *tb, tfs_file *f)
{
	int rc;

	pthread_mutex_lock(&fs->mutex);
	if (f->prev != NULL)
		f->prev->next = f->next;
	else
		fs->head = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&fs->mutex);

	pthread_mutex_lock(&f->lock);
	if (f->pending_len > 0) {
		rc = flush_locked(f);
		if (rc < 0) {
			char label[TFS_LABEL_MAX];

			tfs_inode_label(f->in, label, sizeof(label));
			tfs_log("release of '%s': dropped a partial line of "
				"%zu bytes: %s",
				label, f->pending_len, strerror(-rc));
		}
	}
	ra_window_free(f->ra); /* first: its worker may be using the cursor */
	if (f->cur != NULL)
		cur_close(f->cur);
	if (f->con != NULL)
		consumer_close(f->con);
	pthread_mutex_unlock(&f->lock);

	topic_file_closed(f->in->t); /* after the cursor let go of its segments */
	tfs_inode_put(tb, f->in);
	free(f->pending);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
