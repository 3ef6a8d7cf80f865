/*
** prefill.c: room made ahead of bulk writers in the newest segment.
**
** WHY. A bulk append (`cat FILE >> TOPIC/log`) costs the FUSE round trip,
** the CRC pass and the pwrite of each batch into the page cache, one after
** the other while the writer waits. The pwrite's part is mostly not the
** copy but the page cache it fills: allocating and charging pages,
** reserving their blocks, inserting them. Measured here (2 vCPUs, ext4):
** pwrites of 1 MiB batches into a new file ran at 2.8-3.2 GB/s, the same
** pwrites over pages already in the cache at 6.9-8.3 GB/s, and a memcpy
** into a mapping whose pages are in at the speed of memory. That work can
** be done before the batches come, on the CPU that the waiting writer
** leaves idle.
**
** HOW. One helper thread per store serves one request at a time: "make
** room in segment s of topic t". It claims the next step of the file past
** its batches (fill_from up to the step's end), and maps the file shared
** and writable the first time. Outside append_mu it writes zeros there
** (which fills the page cache as an append's pwrite would), faults the
** pages into the mapping (MADV_POPULATE_WRITE), and then publishes them
** as ready. It works under fill_mu, never append_mu, so it keeps up with
** a writer that holds append_mu most of the time. An append that fits
** wholly below `ready` is copied into the mapping under append_mu
** (topic.c), in the same pass as its CRC; an append that would reach into
** the claimed step waits for that step to end (a step is 2 MiB, under a
** millisecond; see THE HANDSHAKE below); any other append takes the
** pwrite path as before, so the helper falling behind only costs speed.
**
** The helper drops the mapping behind the writer (MADV_DONTNEED: the pages
** stay in the page cache, only the daemon's mapping of them goes), so that
** the daemon's resident size does not grow with the segment; and at most
** HELD segments hold room at once (hold()), so it does not grow with the
** number of topics being bulk-written either.
**
** ON DISK. While room is made, the newest segment's file is longer than its
** batches: zero bytes follow them (up to PREFILL_AHEAD). A roll, a failed
** append and a clean close cut the file back to its batches
** (prefill_release_locked, seg_unref), and so does a quiet second in the
** topic (prefill_give_back_locked, from compact.c's pass, after which room
** is made again for the next bulk writer); after a crash, recovery stops at
** the first zero header and cuts there, as at any torn tail (segment.c).
** Bytes written through the mapping are in the page cache once the copy
** returns, as a pwrite's are: a crash of the daemon loses none of them,
** and fdatasync makes them durable as it does written ones.
**
** Only topic.c and segment.c (under append_mu) and this file's helper
** truncate a segment, so the mapped part of the file never shrinks under a
** copy into it.
*/
#include "prefill.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "segment.h"
#include "topic.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#define STEP (2u << 20)	 /* room made and published at a time */
#define BEHIND (4u << 20) /* mapping kept behind the newest batch (> a batch) */
#define ZAP_FORCED (4 * BEHIND) /* mapping behind dropped even while room is due */
#define PAGE 4096u

/* Segments that may hold room at once: each holds up to PREFILL_AHEAD of
** zeros in the page cache and at most PREFILL_AHEAD + ZAP_FORCED of
** mapping in the daemon's resident size (see zap_behind), so writers that
** bulk-append to many topics at once get room in the latest few; the
** others write with pwrite. */
#define HELD 4

struct held {
	topic *t; /* referenced */
	seg *s;	  /* referenced */
};

struct prefill {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	int started, stop;
	int prune; /* forget the held segments with no room left; under mu */
	topic *t;  /* the request waiting, with references; protected by mu */
	seg *s;
	/* The helper's own: the segments it made room in, latest first. */
	struct held held[HELD];
	int nheld;
};

static uint64_t round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

int prefill_new(prefill **out)
{
	prefill *p = calloc(1, sizeof *p);

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	*out = p;
	return 0;
}

static void drop_request(topic *t, seg *s)
{
	if (s)
		seg_unref(s);
	if (t)
		topic_unref(t);
}

/* Forget the held segments that gave their room up (rolled, closed, their
** topic deleted), so that the references held here do not keep their
** files open: a deleted topic's disk space comes back at once. */
static void prune(prefill *p)
{
	int n = 0;

	for (int i = 0; i < p->nheld; i++) {
		struct held h = p->held[i];
		if (atomic_load(&h.s->no_room))
			drop_request(h.t, h.s);
		else
			p->held[n++] = h;
	}
	p->nheld = n;
}

/* The helper is about to make room in s: put s first among the held
** segments and, when HELD are left, take the room of the one served
** longest ago. */
static void hold(prefill *p, topic *t, seg *s)
{
	int n = 0;

	prune(p);
	for (int i = 0; i < p->nheld; i++) {
		struct held h = p->held[i];
		if (h.s == s)
			drop_request(h.t, h.s); /* re-added first, below */
		else
			p->held[n++] = h;
	}
	while (n > HELD - 1) {
		struct held h = p->held[--n];
		pthread_mutex_lock(&h.t->append_mu);
		prefill_release_locked(h.t, h.s);
		pthread_mutex_unlock(&h.t->append_mu);
		drop_request(h.t, h.s);
	}
	memmove(p->held + 1, p->held, (size_t)n * sizeof *p->held);
	topic_ref(t);
	seg_ref(s);
	p->held[0] = (struct held){t, s};
	p->nheld = n + 1;
}

static void *run(void *arg)
{
	prefill *p = arg;

	pthread_setname_np(pthread_self(), "tfs-prefill");
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && !p->s && !p->prune)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		topic *t = p->t;
		seg *s = p->s;
		p->t = NULL;
		p->s = NULL;
		p->prune = 0;
		pthread_mutex_unlock(&p->mu);
		if (s) {
			hold(p, t, s);
			prefill_segment(t, s);
			drop_request(t, s);
		}
		prune(p); /* s too, if its room went meanwhile */
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

void prefill_kick(prefill *p, topic *t, seg *s)
{
	topic *old_t = NULL;
	seg *old_s = NULL;

	pthread_mutex_lock(&p->mu);
	if (p->stop) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	/* Started here rather than at store_open: a daemon that detaches
	** (fork) after opening its store would lose the thread. */
	if (!p->started) {
		int rc = pthread_create(&p->thread, NULL, run, p);
		if (rc != 0) {
			log_warn("cannot start the prefill thread: %s", strerror(rc));
			p->stop = 1; /* appends take the pwrite path */
			pthread_mutex_unlock(&p->mu);
			return;
		}
		p->started = 1;
	}
	if (p->s != s) {
		old_t = p->t;
		old_s = p->s;
		topic_ref(t);
		seg_ref(s);
		p->t = t;
		p->s = s;
	}
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	drop_request(old_t, old_s);
}

void prefill_forget(prefill *p)
{
	if (!p) /* the store is closing: the helper is gone */
		return;
	pthread_mutex_lock(&p->mu);
	if (p->started && !p->stop) {
		p->prune = 1;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
}

void prefill_free(prefill *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (p->started)
		pthread_join(p->thread, NULL);
	drop_request(p->t, p->s);
	for (int i = 0; i < p->nheld; i++)
		drop_request(p->held[i].t, p->held[i].s);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

/*
** THE HANDSHAKE. The writer (under append_mu) stores `reserved`, the end
** of the batch it is about to write, and then loads `filling`; the helper
** (under fill_mu) stores `fill_from` and `filling`, and then loads
** `reserved`. All four are sequentially consistent, so at least one of
** them sees the other: the writer then waits for the step to end if its
** batch reaches fill_from, and the helper gives the step up if `reserved`
** has passed fill_from. So zeros never land where a batch goes, and
** neither waits for the other in the common case.
**
** The writer sleeps on `filling` itself (a futex), until the step is over
** or has moved past its batch; the helper publishes `ready` before it
** clears `filling`. It once waited for fill_mu instead, which the helper
** takes again at once for its next step: a writer that caught up with the
** helper at a segment's start then waited through every step up to
** PREFILL_AHEAD, 2.5-3.5 ms, 50-85 us a MiB of a bulk append. The count
** of sleepers spares the helper a wake-up call when there is none (the
** same store-then-load pairing as above: either the sleeper sees the
** step over, or the helper sees the sleeper).
*/
static void wait_for_step(seg *s, uint64_t end)
{
	atomic_fetch_add(&s->step_waiters, 1);
	while (atomic_load(&s->filling) && end > atomic_load(&s->fill_from))
		syscall(SYS_futex, &s->filling, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0);
	atomic_fetch_sub(&s->step_waiters, 1);
}

static void step_over(seg *s)
{
	atomic_store(&s->filling, 0);
	if (atomic_load(&s->step_waiters))
		syscall(SYS_futex, &s->filling, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

int prefill_begin_locked(seg *s, uint64_t end)
{
	atomic_store(&s->reserved, end);
	if (atomic_load(&s->filling) && end > atomic_load(&s->fill_from))
		wait_for_step(s, end);
	/* `ready` first: the helper sets map before it publishes any. */
	return end <= atomic_load_explicit(&s->ready, memory_order_acquire) && s->map;
}

void prefill_end_locked(topic *t, seg *s, size_t batch_text)
{
	uint64_t size = atomic_load(&s->reserved);

	/* A bulk writer: have room made ahead of it before it runs out. (The
	** helper also drops the mapping behind it: see zap_behind.) */
	if (batch_text >= PREFILL_MIN && !atomic_load(&s->no_room) &&
	    atomic_load(&s->ready) < size + PREFILL_AHEAD / 2)
		prefill_kick(store_prefill(t->st), t, s);
}

/* s's room goes: cut the file back to its batches, unmap it. With
** append_mu and fill_mu held (or no helper possible), so no batch and no
** step writes or maps meanwhile. Whether s may get room again is the
** caller's (no_room). */
static void release(seg *s)
{
	atomic_store(&s->ready, 0);
	atomic_store(&s->reserved, s->size);
	if (s->room_end > s->size) {
		if (ftruncate(s->fd, (off_t)s->size) < 0)
			log_warn("segment %020" PRIu64 ": cannot cut the room made ahead of its "
				 "batches (%s); recovery cuts it at the next mount",
				 s->base_offset, strerror(errno));
		s->room_end = 0;
	}
	if (s->map) {
		munmap(s->map, s->map_len);
		s->map = NULL;
		s->zapped = 0;
	}
}

void prefill_release_locked(topic *t, seg *s)
{
	atomic_store(&s->no_room, 1); /* for good */
	if (!t) {
		release(s);
		return;
	}
	pthread_mutex_lock(&t->fill_mu);
	release(s);
	pthread_mutex_unlock(&t->fill_mu);
	/* The helper's reference would keep the file open after a roll or a
	** deletion, which retention or rm -r means to free. */
	prefill_forget(store_prefill(t->st));
}

int prefill_give_back_locked(topic *t, seg *s)
{
	int had;

	/* No step can run meanwhile (fill_mu) nor any batch come
	** (append_mu); no_room stays clear, so s starts over as a segment
	** never given room. (One released for good has neither left.) */
	pthread_mutex_lock(&t->fill_mu);
	had = s->room_end > s->size || s->map != NULL;
	if (had)
		release(s);
	pthread_mutex_unlock(&t->fill_mu);
	return had;
}

/* Under fill_mu: the newest segment of t is still s, open for appends;
** *limit is how far it may grow. */
static int still_newest(topic *t, seg *s, uint64_t *limit)
{
	int ok;

	pthread_mutex_lock(&t->mu);
	ok = !t->deleted && !t->failed && t->nsegs > 0 && t->segs[t->nsegs - 1] == s;
	*limit = (uint64_t)t->eff.segment_bytes + SEG_HEADER_SIZE;
	pthread_mutex_unlock(&t->mu);
	return ok && !atomic_load(&s->no_room);
}

/* Give up on s for good, and say why (once a process when the file
** system cannot do it at all). Takes the locks itself. */
static int fail(topic *t, seg *s, const char *what, int err)
{
	static atomic_int said_unsupported;

	if (!((err == EOPNOTSUPP || err == ENOSYS || err == EINVAL) &&
	      atomic_exchange(&said_unsupported, 1)))
		log_warn("segment %020" PRIu64 ": no room made ahead of bulk appends (%s: %s); "
			 "they are written with pwrite",
			 s->base_offset, what, strerror(err));
	pthread_mutex_lock(&t->append_mu);
	prefill_release_locked(t, s);
	pthread_mutex_unlock(&t->append_mu);
	return -err;
}

/* Zeros from `from` to `to`, in writes that end on ZCHUNK boundaries: the
** page cache then takes folios of at most ZCHUNK. Bulk appends of 256 MiB
** (one segment), daemons with 64 KiB, 256 KiB and 1 MiB pieces
** alternated, medians: with free page reporting held back (8 rounds)
** 1145, 1351 and 1403 MB/s, 265, 220 and 210 ms of daemon CPU; with it
** on (10 rounds, 64 against 256 KiB) 1210 and 1438 MB/s, 256 KiB faster
** in 7. 1 MiB pieces were once slow where the others were not (326 MB/s
** against 1658 and 1922), as 1 MiB writes at 1 MiB boundaries were when
** first measured: such large folios come more often from memory the host
** took back. fallocate instead, with the pages then populated, was
** faster on its own (286-401 us a MiB against 438-533, six rounds) but
** made bulk appends 0.4-0.75x as fast (8 rounds against this daemon),
** likely from the unwritten extents' conversion at writeback. */
#define ZCHUNK (256u << 10)
static unsigned char zeros[ZCHUNK];

static int write_zeros(int fd, uint64_t from, uint64_t to)
{
	while (from < to) {
		uint64_t n = ZCHUNK - from % ZCHUNK;
		if (n > to - from)
			n = to - from;
		int rc = io_pwrite_all(fd, zeros, (size_t)n, (off_t)from);
		if (rc < 0)
			return rc;
		from += n;
	}
	return 0;
}

/*
** Under fill_mu: drop the mapping more than BEHIND below `reserved`, so
** that the daemon's resident size stays below PREFILL_AHEAD + ZAP_FORCED
** a segment, not the segment's size (the pages stay in the page cache).
** step() does it when the room is made far enough ahead, before the
** helper sleeps, or when the writer is ZAP_FORCED past the last drop
** because the helper never got that far. Peak RSS of the daemon (VmHWM)
** during 256 MiB appends: one at a time 29-30 MiB, four at once into four
** topics 50-71 (with the writer's drops, below: 20-21 and 36-54).
**
** Where it is done matters. Bulk appends of 256 MiB (8 rounds alternated
** with the null filesystem; per MiB appended, from counters in the
** daemon):
** - by the writer after its batch, every 2 MiB: 58-70 us of the writer's
**   append, whose whole cost was 236-248 (mostly the TLB shootdown, which
**   waits for the helper's vCPU while the helper runs);
** - by the helper before every step: the writer then waited for the room
**   126-198 us;
** - as here: the writer's append cost 188, its waits 64; medians 1127
**   against 967 MB/s for the writer's way (the null filesystem 1301).
** Racing a batch is harmless: a page dropped under a copy is faulted
** back in, from the page cache, with what was stored in it.
*/
static void zap_behind(seg *s, uint64_t reserved)
{
	if (reserved < s->zapped + 2 * BEHIND)
		return;
	uint64_t to = (reserved - BEHIND) / STEP * STEP;
	if (to > s->map_len) /* a batch larger than the segment: not all mapped */
		to = s->map_len;
	if (to > s->zapped) {
		madvise(s->map + s->zapped, (size_t)(to - s->zapped), MADV_DONTNEED);
		s->zapped = to;
	}
}

/* One step: 1 when room was made, 0 when there is nothing (more) to do,
** or a negative errno. */
static int step(topic *t, seg *s)
{
	uint64_t limit;
	int rc = 0;
	const char *what = NULL;

	pthread_mutex_lock(&t->fill_mu);
	if (!still_newest(t, s, &limit))
		goto out;
	if (!s->map) {
		/* Mapped once for the whole segment (and a batch past
		** segment.bytes): remapping as it grows would cost TLB
		** shootdowns at every step. Published with `ready`. */
		uint64_t len = round_up(limit + PREFILL_AHEAD, STEP);
		void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
		if (m == MAP_FAILED) {
			rc = -errno;
			what = "mmap";
			goto out;
		}
		s->map = m;
		s->map_len = len;
	}
	uint64_t reserved = atomic_load(&s->reserved);
	uint64_t end = s->room_end > reserved ? s->room_end : reserved;
	uint64_t goal = reserved + PREFILL_AHEAD;
	if (goal > limit)
		goal = limit;
	if (goal > s->map_len)
		goal = s->map_len;
	if (end >= goal || reserved >= s->zapped + ZAP_FORCED)
		zap_behind(s, reserved);
	if (end >= goal)
		goto out;
	/* Steps end on STEP boundaries; each is usable once done. */
	uint64_t to = round_up(end + 1, STEP);
	if (to > goal)
		to = goal;
	atomic_store(&s->fill_from, end);
	atomic_store(&s->filling, 1);
	if (atomic_load(&s->reserved) > end) { /* a batch got there first */
		step_over(s);
		rc = 1;
		goto out;
	}
	s->room_end = to; /* what a release must cut, even after a failure */
	rc = write_zeros(s->fd, end, to);
	if (rc < 0)
		what = "write";
	else if (madvise(s->map + end / PAGE * PAGE, (size_t)(round_up(to, PAGE) - end / PAGE * PAGE),
			 MADV_POPULATE_WRITE) < 0) {
		rc = -errno;
		what = "MADV_POPULATE_WRITE";
	}
	if (rc == 0)
		atomic_store_explicit(&s->ready, to, memory_order_release);
	step_over(s);
	if (rc == 0)
		rc = 1;
out:
	pthread_mutex_unlock(&t->fill_mu);
	if (rc < 0)
		return fail(t, s, what, -rc);
	return rc;
}

int prefill_segment(topic *t, seg *s)
{
	int rc;

	while ((rc = step(t, s)) > 0)
		;
	return rc;
}
