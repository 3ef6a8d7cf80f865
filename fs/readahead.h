/*
** readahead.h: reading ahead of a reader that reads a file front to back.
**
** With direct_io every read() of a topic file is one FUSE round trip, and
** the reader waits while topicfs finds the bytes (pread, CRC checks, zstd
** decoding). A window lets a worker thread find the next bytes while the
** current reply travels to the reader: it is a ring of the bytes that
** follow the reader's file offset, filled in the background by calling the
** file's fill function, and emptied by the reader's reads.
**
** The fill function reads the file sequentially (it is the file's cursor);
** while a window is active only the window's worker calls it. The owner of
** the window calls it itself only after ra_take() answered RA_EMPTY or
** after ra_stop(), and resumes the window with ra_start().
*/
#ifndef TOPICFS_FS_READAHEAD_H
#define TOPICFS_FS_READAHEAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct ra_pool ra_pool;	    /* the worker threads of a mount */
typedef struct ra_window ra_window; /* the window of one open file */

/* Read up to len bytes of the file, continuing where the previous call
** stopped: a byte count (0 at the end for now) or a negative errno. */
typedef ssize_t (*ra_fill_fn)(void *src, void *buf, size_t len);

/* A pool of nthreads threads, started when the first window is (so that
** they are those of the process that serves the mount, after a fork). */
int ra_pool_new(unsigned nthreads, ra_pool **out /* OUT */);

/* Stops the threads. Every window must have been freed. */
void ra_pool_free(ra_pool *p);

int ra_window_new(ra_pool *p, ra_fill_fn fill, void *src, ra_window **out /* OUT */);

/* Stops the window (waiting for a fill in progress) and frees it. */
void ra_window_free(ra_window *w);

/*
** Start filling at file offset start, where fill() continues. The window
** keeps going while it has room and fill() returns all it was asked for;
** a short count (the end of the file for now) or an error stops it: the
** reader meets the end or the error itself, through RA_EMPTY.
*/
void ra_start(ra_window *w, uint64_t start);

#define RA_MISS (-1)  /* the window does not hold file offset off */
#define RA_EMPTY (-2) /* it does, but holds no byte and will get none: the
		      ** caller reads itself, from the window's offset */

/*
** The window's bytes at file offset off, up to size: waits until the window
** holds size bytes or no fill is under way, then points iov[0..*niov) (at
** most two parts) at up to size bytes in the window and returns their
** count. Fewer than size means the window is idle (run dry, or full): the
** caller may read the rest from the source itself, and must then ra_stop()
** the window. The bytes stay in the window, valid, until ra_consume()
** drops them (or ra_stop()); the caller serialises its reads. Returns
** RA_MISS or RA_EMPTY otherwise.
*/
ssize_t ra_take(ra_window *w, uint64_t off, size_t size, struct iovec iov[2], int *niov);

/* The n bytes of the last ra_take() were delivered: drop them and let the
** worker refill. */
void ra_consume(ra_window *w, size_t n);

/*
** Stop filling and drop what the window holds; returns once no fill is in
** progress, so the caller can use the source itself. Returns 1 and the
** file offset where fill() continues (*end) when the window was started;
** 0 (and *end unset) when it was not, or had run dry.
*/
int ra_stop(ra_window *w, uint64_t *end /* OUT */);

#endif
