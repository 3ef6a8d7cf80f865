/*
** test_crash.c: the daemon killed with SIGKILL at random moments while
** writers append (SPEC.md, "Durability and recovery": the complete lines of
** a write() that returned success survive the topicfs process being killed).
**
** Each round: mount, start WRITERS writer processes (rel_util.h), sleep a
** random 0-200 ms, SIGKILL the daemon, detach the dead mount with
** `fusermount3 -uz`, mount again and check the recovered log:
**   - the log as seen after the previous round is an exact byte prefix of
**     the log now (nothing that was there is lost, altered or duplicated);
**   - every line is intact, and each writer's lines are in order without
**     duplicates;
**   - each writer's lines of the round are exactly the lines it wrote up to
**     its last acknowledged write, plus possibly the whole of the write that
**     was in flight at the kill (never a part of it: a write() is atomic);
**   - the log continues: end_offset equals the number of lines, and a new
**     line gets offset end_offset, as read back from TOPIC/<end_offset>.
** Writers go on in the next round after the last line they see in the log.
**
** The second test does the same while the background thread rolls
** 16 KiB segments, compresses them with zstd and compacts them (keys are
** unique, so compaction keeps every line but rewrites the segments), every
** 20 ms: kills land in the middle of rewrites too. The last two kill or
** stop the daemon during bulk appends (1 MiB writes), the very last with
** SIGTERM, which the daemon must answer by exiting within 10 s.
*/
#include "rel_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROUNDS 50
#define WRITERS 4
#define PACE_US 400	     /* between a writer's writes: keeps the log small */
#define WRITER_WAIT_MS 10000 /* for a writer to notice the dead mount */

TestSuite(crash, .init = h_tmp_setup, .fini = h_teardown, .timeout = 240);

struct model {
	struct h_buf log;	    /* t/log as the last check saw it */
	uint32_t next[WRITERS];	    /* the next seq of each writer */
	uint32_t probes;	    /* probe lines appended so far */
	long acked_lines;	    /* acknowledged lines found (all rounds) */
	long unacked_lines;	    /* lines of an in-flight write found */
	long lines_checked;	    /* lines verified intact (all checks) */
	long writes_in_flight;	    /* rounds' writes cut by the kill */
};

/* The round's new part of the log, writer by writer, against its acks. */
static void check_round(struct model *m, const char *fresh, size_t len, int round)
{
	struct r_view v;
	char *err = r_view_check(fresh, len, false, &v);

	cr_assert(err == NULL, "round %d: the part of the log written in the round: %s", round,
		  err);
	for (int w = 0; w < WRITERS; w++) {
		struct r_acks a;

		r_read_acks(h_work("ack%d", w), &a);
		if (a.inflight_lo >= 0)
			m->writes_in_flight++;
		if (v.count[w] == 0) {
			cr_assert(a.acked < 0,
				  "round %d: writer %d's acknowledged lines %lld..%lld are missing",
				  round, w, (long long)a.first, (long long)a.acked);
			continue;
		}
		cr_assert_eq(v.first[w], (int64_t)m->next[w],
			     "round %d: writer %d's first line is seq %lld, want %u", round, w,
			     (long long)v.first[w], m->next[w]);
		cr_assert_eq(v.last[w] - v.first[w] + 1, v.count[w],
			     "round %d: writer %d has %ld lines between seq %lld and %lld: some are "
			     "missing",
			     round, w, v.count[w], (long long)v.first[w], (long long)v.last[w]);
		cr_assert(v.last[w] == a.acked || (a.inflight_hi >= 0 && v.last[w] == a.inflight_hi),
			  "round %d: writer %d's last line is seq %lld; acknowledged up to %lld, "
			  "in flight %lld..%lld (a write is all or nothing)",
			  round, w, (long long)v.last[w], (long long)a.acked,
			  (long long)a.inflight_lo, (long long)a.inflight_hi);
		m->acked_lines += a.acked >= 0 ? a.acked - v.first[w] + 1 : 0;
		m->unacked_lines += v.last[w] - (a.acked >= 0 ? a.acked : v.first[w] - 1);
		m->next[w] = (uint32_t)v.last[w] + 1;
	}
}

/* After a (re)mount: check t/log against the model, then append a probe. */
static void check_recovered(struct model *m, int round)
{
	size_t len;
	char *got = h_read_file(h_mnt("t/log"), &len);
	struct r_view all;
	char probe[R_LINE_MAX], *err, *at;
	uint64_t end;

	cr_assert(got != NULL, "round %d: read t/log after the remount: %s", round,
		  strerror(errno));
	cr_assert(len >= m->log.len,
		  "round %d: t/log has %zu bytes after the remount, %zu before the crash", round,
		  len, m->log.len);
	H_ASSERT_BYTES(got, m->log.len, m->log.p ? m->log.p : "", m->log.len,
		       "round %d: the log before the crash is no longer a prefix of the log", round);
	err = r_view_check(got, len, false, &all);
	cr_assert(err == NULL, "round %d: t/log after the remount: %s", round, err);
	m->lines_checked += all.lines;
	check_round(m, got + m->log.len, len - m->log.len, round);

	/* The log continues, with no gap in its offsets. */
	end = r_xattr_u64(h_mnt("t"), "user.topicfs.end_offset");
	cr_assert_eq(end, (uint64_t)all.lines,
		     "round %d: end_offset is %llu but the log has %ld lines", round,
		     (unsigned long long)end, all.lines);
	probe[r_line(probe, R_PROBE_W, m->probes++)] = '\0';
	r_append("t", probe);
	at = h_read_file(h_mnt("t/%llu", (unsigned long long)end), &len);
	cr_assert(at != NULL, "round %d: read t/%llu: %s", round, (unsigned long long)end,
		  strerror(errno));
	H_ASSERT_BYTES(at, len, probe, strlen(probe),
		       "round %d: the line appended after the remount, read from t/%llu", round,
		       (unsigned long long)end);
	free(at);

	h_buf_free(&m->log);
	h_buf_add(&m->log, got, all.complete_len);
	h_buf_add(&m->log, probe, strlen(probe));
	free(got);
}

/* Start the round's WRITERS writers into t/log, each from where the model
** says it stopped, PACE_US apart (0: none). */
static void start_writers(const struct model *m, pid_t pids[WRITERS], int round, int pace_us,
			  uint64_t seed)
{
	int64_t stop = h_now_ms() + 30000;

	for (int w = 0; w < WRITERS; w++) {
		unlink(h_work("ack%d", w));
		pids[w] = r_fork_writer(h_mnt("t/log"), h_work("ack%d", w), w, m->next[w], stop, 0,
					pace_us, seed * 1000 + (uint64_t)(round * WRITERS + w));
	}
}

/* Each writer must end by itself once the daemon is gone (how: WHAT). */
static void wait_writers(const pid_t pids[WRITERS], int round, const char *what)
{
	for (int w = 0; w < WRITERS; w++) {
		int st = r_wait(pids[w], WRITER_WAIT_MS);

		cr_assert(st == 0, "round %d: writer %d %s after the daemon %s", round, w,
			  st == -1 ? "hung on the dead mount (killed)" : "failed", what);
	}
}

static void crash_rounds(const char *opts, int rounds, uint64_t seed, const char *what)
{
	struct model m = { 0 };
	struct h_rng rng;
	long kills = 0;

	h_rng_seed(&rng, seed);
	h_mount(opts);
	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	for (int round = 1; round <= rounds; round++) {
		pid_t pids[WRITERS];

		start_writers(&m, pids, round, PACE_US, seed);
		h_sleep_ms((long)h_rng_below(&rng, 201));
		r_kill9();
		kills++;
		wait_writers(pids, round, "was killed");
		h_mount(H.opts);
		check_recovered(&m, round);
	}
	cr_log_info("crash (%s): %ld SIGKILLs survived; %ld acknowledged lines all found, %ld "
		    "lines of in-flight writes found whole (of %ld writes in flight); %ld "
		    "line checks; final log %zu bytes",
		    what, kills, m.acked_lines, m.unacked_lines, m.writes_in_flight,
		    m.lines_checked, m.log.len);
	h_buf_free(&m.log);
}

Test(crash, sigkill_while_writing)
{
	crash_rounds("compression.type=none", ROUNDS, 1, "plain");
}

/* Segment files in DATADIR/topics/t whose header says zstd. */
static int compressed_segments(int *total)
{
	char *names = r_list_dir(h_work("data/topics/t"), 0);
	int n = 0;

	*total = 0;
	for (char *p = strtok(names, "\n"); p != NULL; p = strtok(NULL, "\n")) {
		unsigned char h[16];
		size_t len = strlen(p);
		int fd;

		if (len != 24 || strcmp(p + 20, ".log") != 0)
			continue;
		(*total)++;
		fd = open(h_work("data/topics/t/%s", p), O_RDONLY);
		if (fd >= 0 && pread(fd, h, sizeof h, 0) == (ssize_t)sizeof h && (h[12] & 1))
			n++;
		if (fd >= 0)
			close(fd);
	}
	free(names);
	return n;
}

Test(crash, sigkill_while_maintenance_rewrites)
{
	int total, zstd;

	crash_rounds("segment.bytes=16384,maintenance.interval.ms=20,compression.type=zstd,"
		     "cleanup.policy=compact,key.separator=|,min.cleanable.dirty.ratio=0.2,"
		     "flush.ms=50",
		     ROUNDS, 2, "maintenance");
	/* The background thread did run between the kills. */
	h_sleep_ms(300);
	zstd = compressed_segments(&total);
	cr_log_info("crash (maintenance): %d of %d segment files compressed at the end", zstd,
		    total);
	cr_expect(total > 2 && zstd > 0,
		  "no segment was compressed (%d of %d): maintenance did not run", zstd, total);
}

/*
** Bulk appends: one writer writes 1 MiB of whole lines per write(), as cat
** does, so the daemon makes room (zeros) ahead of it in the newest segment
** and copies the batches into a mapping of that room (core/prefill.c). The
** kills land while room follows the batches. After each remount the log is
** exactly the stream's first N bytes, whole lines, with N at least what was
** acknowledged and at most that plus the write in flight; the next round's
** writer goes on from there.
*/
#define BULK_ROUNDS 5
#define BULK_LINE 100				       /* bytes, '\n' included */
#define BULK_WRITE ((1 << 20) / BULK_LINE * BULK_LINE) /* one request */
#define BULK_MAX (24 << 20)			       /* per round */

/* Bytes [pos, pos + n) of the stream: line k is "bulk <k> <filler>\n". */
static void bulk_stream(char *out, uint64_t pos, size_t n)
{
	char line[BULK_LINE + 1];

	while (n > 0) {
		uint64_t k = pos / BULK_LINE;
		size_t in = (size_t)(pos % BULK_LINE), take = BULK_LINE - in;

		int w = snprintf(line, sizeof line, "bulk %012llu ", (unsigned long long)k);
		for (int i = w; i < BULK_LINE - 1; i++)
			line[i] = (char)('a' + (k + (uint64_t)i) % 26);
		line[BULK_LINE - 1] = '\n';
		if (take > n)
			take = n;
		memcpy(out, line + in, take);
		out += take;
		pos += take;
		n -= take;
	}
}

/* The writer: from stream position pos, BULK_WRITE bytes a write(), until
** BULK_MAX bytes or an error; *acked is where the acknowledged bytes end.
** Returns once the writer has its file open (or is dead), so that a kill
** that follows lands while it writes: under load, a kill 20 ms after the
** fork once came before the open, which then failed. */
static pid_t fork_bulk_writer(const char *path, uint64_t pos, _Atomic uint64_t *acked)
{
	int opened[2];
	char c;

	cr_assert(pipe2(opened, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	pid_t pid = fork();

	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid != 0) {
		struct pollfd wait = { .fd = opened[0], .events = POLLIN };
		int ready;

		close(opened[1]);
		while ((ready = poll(&wait, 1, 10000)) < 0 && errno == EINTR)
			;
		cr_assert(ready == 1, "the bulk writer did not open %s within 10 s", path);
		while (read(opened[0], &c, 1) < 0 && errno == EINTR)
			; /* end of file: the writer's end is closed */
		close(opened[0]);
		return pid;
	}
	close(opened[0]);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	char *buf;
	if (posix_memalign((void **)&buf, 4096, BULK_WRITE) != 0)
		_exit(2);
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		_exit(3);
	close(opened[1]);
	for (uint64_t end = pos + BULK_MAX; pos < end; pos += BULK_WRITE) {
		bulk_stream(buf, pos, BULK_WRITE);
		if (write(fd, buf, BULK_WRITE) != BULK_WRITE)
			_exit(0); /* the daemon was killed */
		atomic_store(acked, pos + BULK_WRITE);
	}
	_exit(0);
}

/* After the remount: the bulk writer's log (PATH under the mount) is the
** stream up to its acknowledged end ACK, or up to the end of the write in
** flight, whole lines only. Returns its length. */
static uint64_t check_bulk(const char *path, uint64_t ack, int round)
{
	size_t len;
	char *got = h_read_file(h_mnt("%s", path), &len);

	cr_assert(got != NULL, "round %d: read %s: %s", round, path, strerror(errno));
	cr_assert(len >= ack && len <= ack + BULK_WRITE && len % BULK_LINE == 0,
		  "round %d: %s has %zu bytes; acknowledged %llu, one write %d", round, path,
		  len, (unsigned long long)ack, BULK_WRITE);
	char *want = malloc(len ? len : 1);
	cr_assert(want != NULL);
	bulk_stream(want, 0, len);
	H_ASSERT_BYTES(got, len, want, len, "round %d: %s after the remount", round, path);
	free(want);
	free(got);
	return len;
}

/* Whether the newest segment file of topic t ends in a page of zeros:
** room made ahead of the batches (a batch never ends in zero bytes). */
static int newest_has_room(void)
{
	char *names = r_list_dir(h_work("data/topics/t"), 0), *last = NULL;
	int room = 0;

	for (char *p = strtok(names, "\n"); p != NULL; p = strtok(NULL, "\n"))
		if (strlen(p) == 24 && strcmp(p + 20, ".log") == 0 && (!last || strcmp(p, last) > 0))
			last = p;
	if (last) {
		int fd = open(h_work("data/topics/t/%s", last), O_RDONLY | O_CLOEXEC);
		struct stat st;
		unsigned char page[4096];

		if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= 64 + (off_t)sizeof page &&
		    pread(fd, page, sizeof page, st.st_size - (off_t)sizeof page) == (ssize_t)sizeof page) {
			room = 1;
			for (size_t i = 0; i < sizeof page; i++)
				room &= page[i] == 0;
		}
		if (fd >= 0)
			close(fd);
	}
	free(names);
	return room;
}

Test(crash, sigkill_during_bulk_appends)
{
	_Atomic uint64_t *acked = mmap(NULL, sizeof *acked, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct h_rng rng;
	uint64_t have = 0;
	int with_room = 0;

	cr_assert(acked != MAP_FAILED);
	h_rng_seed(&rng, 3);
	h_mount("segment.bytes=8388608,compression.type=none");
	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	for (int round = 1; round <= BULK_ROUNDS; round++) {
		atomic_store(acked, have);
		pid_t pid = fork_bulk_writer(h_mnt("t/log"), have, acked);
		h_sleep_ms(5 + (long)h_rng_below(&rng, 60));
		r_kill9();
		int st = r_wait(pid, WRITER_WAIT_MS);
		cr_assert(st == 0, "round %d: the bulk writer %s", round,
			  st == -1 ? "hung on the dead mount" : "failed");
		uint64_t ack = atomic_load(acked);
		with_room += newest_has_room();

		h_mount(H.opts);
		have = check_bulk("t/log", ack, round);
	}
	cr_log_info("crash (bulk): %llu bytes appended in %d rounds; %d crash images held room",
		    (unsigned long long)have, BULK_ROUNDS, with_room);
	cr_expect(with_room > 0, "no kill landed while room followed the batches");
	munmap(acked, sizeof *acked);
}

/*
** The daemon stopped with SIGTERM (the way systemd and the tests' teardown
** stop it) while it serves: four one-line writers into t, whose writes
** the session loop hands from thread to thread, and a bulk writer into b,
** whose 1 MiB writes it keeps on the reading thread (fs/loop.c). The
** daemon must leave its loop and exit, status 0, within 10 s: the worker
** waiting in its read is cancelled there, the others finish what they
** serve. Then every acknowledged write must be found after the remount,
** as after a SIGKILL.
*/
#define TERM_ROUNDS 4

static void terminate_daemon(int round)
{
	char *argv[] = { "fusermount3", "-uz", H.mnt, NULL };

	cr_assert(H.pid > 0, "round %d: no daemon", round);
	kill(H.pid, SIGTERM);
	int st = r_wait(H.pid, 10000);
	H.pid = 0;
	if (h_is_mounted(H.mnt))
		h_run(argv, 10000, NULL, NULL);
	cr_assert(st != -1, "round %d: topicfs did not exit within 10 s of SIGTERM under load "
		  "(killed)", round);
	cr_assert(st == 0, "round %d: topicfs exited with status %d after SIGTERM", round, st);
	cr_assert(!h_is_mounted(H.mnt), "round %d: %s still mounted", round, H.mnt);
}

Test(crash, sigterm_while_writing_exits_and_keeps_acknowledged_writes)
{
	_Atomic uint64_t *acked = mmap(NULL, sizeof *acked, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct model m = { 0 };
	struct h_rng rng;
	uint64_t have = 0;

	cr_assert(acked != MAP_FAILED);
	h_rng_seed(&rng, 7);
	h_mount("segment.bytes=8388608,compression.type=none");
	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	cr_assert(mkdir(h_mnt("b"), 0755) == 0, "mkdir b: %s", strerror(errno));
	for (int round = 1; round <= TERM_ROUNDS; round++) {
		pid_t pids[WRITERS];

		start_writers(&m, pids, round, 0, 7);
		atomic_store(acked, have);
		pid_t bulk = fork_bulk_writer(h_mnt("b/log"), have, acked);
		h_sleep_ms(20 + (long)h_rng_below(&rng, 150));
		terminate_daemon(round);
		wait_writers(pids, round, "exited on SIGTERM");
		int st = r_wait(bulk, WRITER_WAIT_MS);
		cr_assert(st == 0, "round %d: the bulk writer %s", round,
			  st == -1 ? "hung after the daemon exited (killed)" : "failed");
		uint64_t ack = atomic_load(acked);

		h_mount(H.opts);
		check_recovered(&m, round);
		have = check_bulk("b/log", ack, round);
	}
	cr_log_info("crash (SIGTERM): %d rounds; %ld acknowledged one-line writes' lines all "
		    "found; %llu bulk bytes",
		    TERM_ROUNDS, m.acked_lines, (unsigned long long)have);
	/* The SIGTERMs came under load, not before the writers started. */
	cr_expect(m.acked_lines > 0 && have > 0,
		  "the writers got nothing acknowledged before the SIGTERMs (lines %ld, bulk "
		  "bytes %llu)", m.acked_lines, (unsigned long long)have);
	munmap(acked, sizeof *acked);
}
