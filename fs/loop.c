/*
** loop.c: the session loop, LOOP_THREADS threads that read FUSE requests
** from /dev/fuse and serve them.
**
** WHY NOT libfuse's loop. In fuse_session_loop_mt every thread waits in
** read() on /dev/fuse, and the kernel hands each request to the one that
** has waited longest; the pool also grows a thread whenever none is free.
** So a bulk writer (`cat FILE >> TOPIC/log`, 1 MiB writes, one at a time)
** has its writes served by threads in turn. Measured here (256 MiB
** appends, 8 rounds alternated): with that loop the FUSE threads took
** 361-419 us of CPU a MiB and the appends ran at a median 1624 MB/s; with
** one thread that reads, serves and reads again, 279-329 and 2058. The
** null filesystem gained 2% from the same change. But one thread alone
** serves concurrent writers one after the other (four cats: 1,304-1,386
** MB/s in all, against 2,085-2,109), and a slow request (an fsync) would
** hold every other one back.
**
** HOW. One thread at a time holds the lead and reads the next request.
** A WRITE of at least KEEP_MIN bytes from the same open file as the
** request read just before is served by the reader itself, which keeps
** the lead and then reads again: a stream of bulk writes from one writer
** stays on one thread. Any other request makes the reader give the lead
** up first, so that another thread reads while it serves: writers to
** different files, readers and slow requests are served side by side, as
** in libfuse's loop.
**
** WHY ONLY BULK WRITES. Small writes are the other way round: a writer
** that sends one line per write() waits for each reply, so what counts is
** the round trip, not CPU time. Kept on the reader, 150-byte writes ran at
** half the rate (topicfs: median 9,228 lines/s against 18,817 handed on;
** the null filesystem, kept: 9,040 against 18,308; 6 rounds alternated).
** Handing on was also faster for writes of 4 KiB to 256 KiB (at 256 KiB:
** 877 against 777 MB/s), and keeping was faster from 512 KiB (2050
** against 1859) and at 1 MiB, cat's size here (2172 against 1817; 8
** rounds each). What differs is idling: counted in the cpuidle
** statistics (one-line writes, 4 rounds of 20,000), with every write kept
** the two vCPUs went idle 1.60-1.70 times a line, 88-111 us a line in
** all, and handed on 0.48-0.64 times, 43-56 us. On this VM an idle vCPU
** halts at once (cpuidle haltpoll, guest_halt_poll_ns 0), and a wakeup
** of a halted vCPU goes through the host; the thread that takes the lead
** keeps a vCPU busy across the round trip.
**
** EXIT. Unmounting ends the reads with ENODEV. A signal is taken by the
** main thread alone (the workers block them); libfuse's handlers mark
** the session exited, and the main thread then cancels the workers. A
** worker can be cancelled only while it waits for a request (as in
** libfuse's loop), never while it serves one; the reader's cleanup
** handler gives the lead up, so that the others see the session exited.
*/
#define FUSE_USE_VERSION 34
#include "loop.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define LOOP_THREADS 10 /* libfuse's loop grows to at most as many */
#define KEEP_MIN (512u << 10) /* smallest WRITE the reader keeps; see HOW */

struct loop {
	struct fuse_session *se;
	pthread_mutex_t lead;	/* held by the thread that reads */
	uint64_t last_write_fh; /* under lead: bulk_write_fh of the last request read */
	sem_t ended;		/* posted by a worker that saw the session end */
};

/* The open file a request writes to when it is a WRITE of at least
** KEEP_MIN bytes, else 0. */
static uint64_t bulk_write_fh(const struct fuse_buf *buf, size_t len)
{
	const struct fuse_in_header *in = buf->mem;
	const struct fuse_write_in *w = (const void *)(in + 1);

	if (len < sizeof *in + sizeof *w || in->opcode != FUSE_WRITE ||
	    w->size < KEEP_MIN)
		return 0;
	return w->fh;
}

/* What a worker cancelled in its read leaves behind. */
struct reader {
	struct loop *l;
	struct fuse_buf buf;
};

static void reader_cancelled(void *arg)
{
	struct reader *r = arg;

	pthread_mutex_unlock(&r->l->lead);
	free(r->buf.mem);
}

/* The next request into r->buf, with the lead held: its size, or a
** negative errno. The one place where a worker can be cancelled. */
static int receive(struct reader *r)
{
	int res;

	pthread_cleanup_push(reader_cancelled, r);
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	res = fuse_session_receive_buf(r->l->se, &r->buf);
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_cleanup_pop(0);
	return res;
}

static void *worker(void *arg)
{
	struct reader r = {.l = arg};
	struct loop *l = r.l;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_mutex_lock(&l->lead);
	while (!fuse_session_exited(l->se)) {
		int res = receive(&r);
		if (res == -EINTR || res == -EAGAIN)
			continue;
		if (res <= 0) { /* 0 or -ENODEV: unmounted */
			if (res < 0 && res != -ENODEV)
				tfs_log("session loop: reading a request: %s", strerror(-res));
			fuse_session_exit(l->se);
			sem_post(&l->ended);
			break;
		}
		uint64_t fh = bulk_write_fh(&r.buf, (size_t)res);
		int keep = fh != 0 && fh == l->last_write_fh;
		l->last_write_fh = fh;
		struct fuse_buf req = r.buf;
		req.size = (size_t)res;
		if (keep) {
			fuse_session_process_buf(l->se, &req);
		} else {
			pthread_mutex_unlock(&l->lead);
			fuse_session_process_buf(l->se, &req);
			pthread_mutex_lock(&l->lead);
		}
	}
	pthread_mutex_unlock(&l->lead);
	free(r.buf.mem);
	return NULL;
}

int tfs_loop_run(struct fuse_session *se)
{
	struct loop l = {.se = se};
	pthread_t threads[LOOP_THREADS];
	sigset_t all, old;
	int n = 0, rc = 0;

	pthread_mutex_init(&l.lead, NULL);
	sem_init(&l.ended, 0, 0);

	/* The workers block every signal (they inherit this mask), so that
	** libfuse's handlers run on this thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (; n < LOOP_THREADS; n++) {
		int err = pthread_create(&threads[n], NULL, worker, &l);
		if (err != 0) {
			tfs_log("session loop: cannot start a thread: %s", strerror(err));
			rc = -err;
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	if (n > 0) {
		/* A signal interrupts the wait; the timeout covers one that
		** comes between the test and the wait. */
		while (!fuse_session_exited(se)) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			sem_timedwait(&l.ended, &ts);
		}
		rc = 0;
	}
	for (int i = 0; i < n; i++)
		pthread_cancel(threads[i]);
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	sem_destroy(&l.ended);
	pthread_mutex_destroy(&l.lead);
	return rc;
}
