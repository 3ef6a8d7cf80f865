/*
** readahead.c: see readahead.h.
**
** A window is a ring of RING bytes: [head, head + len) holds the bytes at
** file offsets [start, start + len). The reader takes bytes at the head
** (they stay in the ring, lent, until ra_consume), a worker appends at the
** tail. The worker calls fill() without holding the window's mutex, on the
** free part of the ring only, so the reader's lent bytes are never touched;
** `filling` says a call is in progress and nobody else may use the source.
**
** The pool is a queue of windows that want filling and a few threads that
** serve it, one STEP at a time per turn, so that many readers share the
** threads fairly. A window is on the queue at most once (`queued`); it is
** freed only when neither queued nor filling. Lock order: a window's mutex,
** then the pool's.
*/
#include "readahead.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A ring holds several zstd frames (1 MiB of text each, segment.c), so
** that the worker decodes the next frame while the reader is still taking
** the previous ones: with a one-frame ring the two took turns (replay of
** compressed segments measured 740 MB/s with 1 MiB, 850-900 with 4 MiB,
** no better with 8 MiB). */
#define RING (4u << 20) /* bytes a window holds ahead of its reader */
/* Most bytes one fill() call is asked for: what a window takes from the
** workers per turn. 1 MiB, a whole batch of a bulk append and a whole
** zstd frame, so that a fill is one batch or frame copied once: replay of
** uncompressed segments measured 12% faster than with 256 KiB (daemon CPU
** per replay 15% lower), compressed replay the same. */
#define STEP (1024u << 10)
/* Bytes go through the ring even where they could be lent: replying
** straight from a read-only mapping of an uncompressed segment (CRC checked
** in the mapping, no copy in the daemon) measured slower on the machines
** topicfs is built on. The check then reads cold page cache where it used
** to read the batch just copied into a warm buffer, and every unmapping
** interrupts the other CPUs to flush their TLBs: with 8 MiB mappings, 156
** against 135 ticks of daemon CPU over 11 replays of 256 MiB, and with a
** mapping per batch the flushes alone took 17% of the daemon's time.
** Nor does a batch's text go from the page cache straight into the ring
** (pread there, checked there, no copy from the cursor's buffer, for the
** batches that fit the fill): the kernel's copy into the ring, whose lines
** are cold, grew by more than the memcpy shrank, and the reads of the next
** header added lookups: 120 against 111 ticks of daemon CPU over 8 replays
** of 256 MiB, alternated four times, with a third of the batches fitting. */
#define ROOM (128u << 10) /* free room that makes a window worth filling */
#define RINGS_MAX 16	/* rings a mount holds at once (64 MiB); a reader
			** beyond them reads without a window */

struct ra_window {
	ra_pool *pool;
	ra_fill_fn fill;
	void *src;

	pthread_mutex_t mu; /* protects everything below */
	pthread_cond_t cv;  /* a fill ended, or the window left the queue */
	unsigned char *ring; /* RING bytes while started, else NULL */
	size_t head, len;
	uint64_t start; /* file offset of ring[head] */
	int active;	/* the worker may fill */
	int filling;	/* fill() is running on the worker */
	int queued;	/* on the pool's queue */
	ra_window *qnext;
};

struct ra_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv; /* work queued, or stop */
	ra_window *qhead, *qtail;
	int stop;
	unsigned want, nthreads; /* threads wanted, and started */
	pthread_t *threads;
	unsigned rings; /* windows holding a ring */
};

/* ---- the pool ---- */

static void *worker(void *arg);

/* Start the threads at the first use: a mount that forks into the
** background after creating the pool keeps no thread across fork().
** Returns how many run; called with p->mu held. */
static unsigned start_threads(ra_pool *p)
{
	while (p->nthreads < p->want) {
		int rc = pthread_create(&p->threads[p->nthreads], NULL, worker, p);
		if (rc != 0) {
			tfs_log("readahead: cannot start a thread: %s", strerror(rc));
			p->want = p->nthreads; /* and read without readahead */
			break;
		}
		p->nthreads++;
	}
	return p->nthreads;
}

/* Queue w for a worker; called with w->mu held. Without a thread to serve
** it, the window stops instead. */
static void enqueue(ra_window *w)
{
	ra_pool *p = w->pool;

	if (w->queued || w->filling)
		return; /* a fill in progress requeues the window itself */
	pthread_mutex_lock(&p->mu);
	if (start_threads(p) == 0) {
		pthread_mutex_unlock(&p->mu);
		w->active = 0;
		return;
	}
	w->queued = 1;
	w->qnext = NULL;
	if (p->qtail)
		p->qtail->qnext = w;
	else
		p->qhead = w;
	p->qtail = w;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static size_t room(const ra_window *w)
{
	return w->ring ? RING - w->len : 0;
}

/* One fill of w, by a worker. */
static void serve(ra_window *w)
{
	pthread_mutex_lock(&w->mu);
	w->queued = 0;
	if (!w->active || room(w) < ROOM) {
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		return;
	}
	size_t tail = (w->head + w->len) % RING;
	size_t want = RING - tail < room(w) ? RING - tail : room(w);
	if (want > STEP)
		want = STEP;
	unsigned char *dst = w->ring + tail;
	w->filling = 1;
	pthread_mutex_unlock(&w->mu);

	ssize_t n = w->fill(w->src, dst, want);

	pthread_mutex_lock(&w->mu);
	w->filling = 0;
	if (n > 0)
		w->len += (size_t)n;
	if (n < (ssize_t)want)
		w->active = 0; /* the end for now, or an error: the reader meets it */
	else if (w->active && room(w) >= ROOM)
		enqueue(w);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void *worker(void *arg)
{
	ra_pool *p = arg;

	pthread_setname_np(pthread_self(), "tfs-readahead");
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->qhead && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->qhead)
			break; /* stop, and nothing left */
		ra_window *w = p->qhead;
		p->qhead = w->qnext;
		if (!p->qhead)
			p->qtail = NULL;
		pthread_mutex_unlock(&p->mu);
		serve(w);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int ra_pool_new(unsigned nthreads, ra_pool **out)
{
	ra_pool *p = calloc(1, sizeof *p);

	if (!p || !(p->threads = calloc(nthreads, sizeof *p->threads))) {
		free(p);
		return -ENOMEM;
	}
	p->want = nthreads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	*out = p;
	return 0;
}

void ra_pool_free(ra_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p);
}

/* ---- windows ---- */

/* Give w a ring, within the mount's RINGS_MAX; 0, or -1 without one. */
static int ring_get(ra_window *w)
{
	ra_pool *p = w->pool;
	int ok;

	if (w->ring)
		return 0;
	pthread_mutex_lock(&p->mu);
	ok = p->rings < RINGS_MAX;
	p->rings += ok;
	pthread_mutex_unlock(&p->mu);
	if (ok && !(w->ring = malloc(RING))) {
		pthread_mutex_lock(&p->mu);
		p->rings--;
		pthread_mutex_unlock(&p->mu);
	}
	return w->ring ? 0 : -1;
}

static void ring_put(ra_window *w)
{
	ra_pool *p = w->pool;

	if (!w->ring)
		return;
	free(w->ring);
	w->ring = NULL;
	pthread_mutex_lock(&p->mu);
	p->rings--;
	pthread_mutex_unlock(&p->mu);
}

int ra_window_new(ra_pool *p, ra_fill_fn fill, void *src, ra_window **out)
{
	ra_window *w = calloc(1, sizeof *w);

	if (!w)
		return -ENOMEM;
	w->pool = p;
	w->fill = fill;
	w->src = src;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	*out = w;
	return 0;
}

/* Wait until no worker has w queued or is filling it; w->mu held. */
static void quiesce(ra_window *w)
{
	w->active = 0;
	while (w->queued || w->filling)
		pthread_cond_wait(&w->cv, &w->mu);
}

void ra_window_free(ra_window *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	quiesce(w);
	ring_put(w);
	pthread_mutex_unlock(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

void ra_start(ra_window *w, uint64_t start)
{
	pthread_mutex_lock(&w->mu);
	quiesce(w);
	if (ring_get(w) < 0) {
		pthread_mutex_unlock(&w->mu); /* read without a window */
		return;
	}
	w->head = w->len = 0;
	w->start = start;
	w->active = 1;
	enqueue(w);
	pthread_mutex_unlock(&w->mu);
}

ssize_t ra_take(ra_window *w, uint64_t off, size_t size, struct iovec iov[2], int *niov)
{
	ssize_t rc;

	pthread_mutex_lock(&w->mu);
	if (!w->ring || off != w->start) {
		rc = RA_MISS;
		goto out;
	}
	while (w->len < size && (w->filling || w->queued))
		pthread_cond_wait(&w->cv, &w->mu);
	if (w->len == 0) {
		/* Run dry: the source is the caller's; the ring goes until the
		** next start. */
		ring_put(w);
		w->active = 0;
		rc = RA_EMPTY;
		goto out;
	}
	size_t n = size < w->len ? size : w->len;
	size_t first = RING - w->head < n ? RING - w->head : n;
	iov[0].iov_base = w->ring + w->head;
	iov[0].iov_len = first;
	*niov = 1;
	if (first < n) {
		iov[1].iov_base = w->ring;
		iov[1].iov_len = n - first;
		*niov = 2;
	}
	rc = (ssize_t)n;
out:
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void ra_consume(ra_window *w, size_t n)
{
	pthread_mutex_lock(&w->mu);
	w->head = (w->head + n) % RING;
	w->len -= n;
	w->start += n;
	if (w->active && room(w) >= ROOM)
		enqueue(w);
	pthread_mutex_unlock(&w->mu);
}

int ra_stop(ra_window *w, uint64_t *end)
{
	int had;

	pthread_mutex_lock(&w->mu);
	quiesce(w);
	had = w->ring != NULL;
	if (had)
		*end = w->start + w->len;
	ring_put(w);
	w->head = w->len = 0;
	pthread_mutex_unlock(&w->mu);
	return had;
}
