/*
** test_maintenance.c: the background thread, seen through a real mount
** (SPEC.md "Settings", "Background work", "Byte positions", "Durability and
** recovery"; core/compact.c's header says what one pass does).
**
**   retention_bytes_*   retention.bytes bounds the stored size; the log is
**                       the newest records, byte for byte
**   retention_ms_*      retention.ms removes old segments while a writer
**                       writes; start_offset moves; offset files below it
**                       start at the first retained record
**   idle_topic_*        retention empties a topic nobody writes to, but its
**                       end (offset, st_size) stays, and writes go on there
**   tail_F_*            tail -F follows through rolls, retention, compaction
**                       and compression: every line once, in order
**   compaction_*        the compacted log equals a reference model exactly;
**                       small segments are merged
**   compression_*       sealed segments become zstd on disk, much smaller,
**                       and read back byte for byte, sequentially and at
**                       random positions
**   sigkill_*           SIGKILL during compaction and compression, 20 times:
**                       nothing acknowledged is lost, altered or duplicated,
**                       and no .tmp file outlives the next mount
**   settings_*          the settings as extended attributes: defaults, bad
**                       values refused with EINVAL, persistence, mount-wide
**                       defaults, removexattr
**
** Each test mounts with the options it needs (a small maintenance interval);
** every wait polls with a deadline, so a slow (sanitizer) build is slower
** but not flaky.
*/
#include "harness.h"
#include "maint_util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ---- Descriptors on the mount --------------------------------------------- */

/*
** Files the test opened on the mount. A failed assertion skips the test's
** close(); an fd left open would keep the mount busy, and the teardown
** would wait for the daemon in vain. The suite's .fini closes them first.
*/
#define MAX_OPEN 16
static int open_fds[MAX_OPEN];
static int n_open;

static int open_mnt(const char *rel, int flags)
{
	int fd = open(h_mnt("%s", rel), flags | O_CLOEXEC);

	cr_assert(fd >= 0, "open %s: %s", rel, strerror(errno));
	cr_assert(n_open < MAX_OPEN);
	open_fds[n_open++] = fd;
	return fd;
}

static void close_mnt(int fd)
{
	for (int i = 0; i < n_open; i++)
		if (open_fds[i] == fd) {
			open_fds[i] = open_fds[--n_open];
			break;
		}
	close(fd);
}

static void teardown(void)
{
	while (n_open > 0)
		close(open_fds[--n_open]);
	h_teardown();
}

TestSuite(maintenance, .init = h_tmp_setup, .fini = teardown, .timeout = 120);

/* ---- Shared helpers ------------------------------------------------------ */

static void make_topic(const char *name)
{
	cr_assert(mkdir(h_mnt("%s", name), 0755) == 0, "mkdir %s: %s", name, strerror(errno));
}

/* A topic with key.separator '=', compacted as soon as 1% of it is new. */
static void make_keyed_topic(const char *name, const char *policy)
{
	make_topic(name);
	m_set(name, "user.cleanup.policy", policy);
	m_set(name, "user.key.separator", "=");
	m_set(name, "user.min.cleanable.dirty.ratio", "0.01");
}

/* The records of a test, one line each, record I at offset I (every test
 * writes to a fresh topic, and nothing fails). */
struct lines {
	struct h_buf all; /* every line, in order */
	size_t *start;    /* start[i]: where line i begins in all */
	size_t n, cap;
};

static void lines_add(struct lines *l, const char *line, size_t len)
{
	if (l->n + 2 > l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->start = realloc(l->start, l->cap * sizeof *l->start);
		cr_assert(l->start != NULL);
	}
	l->start[l->n++] = l->all.len;
	h_buf_add(&l->all, line, len);
	l->start[l->n] = l->all.len;
}

static void lines_free(struct lines *l)
{
	h_buf_free(&l->all);
	free(l->start);
	memset(l, 0, sizeof *l);
}

/* Lines FROM..N-1 of L, as one byte string (pointer into L). */
static const char *lines_from(const struct lines *l, uint64_t from, size_t *len)
{
	if (from > l->n)
		from = l->n;
	*len = l->all.len - (l->n ? l->start[from] : 0);
	return l->all.p ? l->all.p + (l->n ? l->start[from] : 0) : "";
}

/*
** Write lines FIRST..LAST-1 of L to FD, 1 to MAXB lines per write() (RNG
** picks). Fails the test on a short or failed write.
*/
static void write_lines(int fd, const struct lines *l, size_t first, size_t last, int maxb,
			struct h_rng *rng)
{
	while (first < last) {
		size_t k = 1 + h_rng_below(rng, (uint32_t)maxb);
		size_t to = first + k < last ? first + k : last;
		size_t len = l->start[to] - l->start[first];

		cr_assert_eq(write(fd, l->all.p + l->start[first], len), (ssize_t)len,
			     "write of lines %zu..%zu: %s", first, to - 1, strerror(errno));
		first = to;
	}
}

static int open_log(const char *topic)
{
	char rel[300];

	snprintf(rel, sizeof rel, "%s/log", topic);
	return open_mnt(rel, O_WRONLY | O_APPEND);
}

/* Read MNT/REL to EOF (fails the test on error). */
static char *read_mnt(const char *rel, size_t *len)
{
	char *p = h_read_file(h_mnt("%s", rel), len);

	cr_assert(p != NULL, "read %s: %s", rel, strerror(errno));
	return p;
}

/* Assert that MNT/REL reads as exactly WANT. */
static void expect_file(const char *rel, const void *want, size_t want_len, const char *what)
{
	size_t len;
	char *got = read_mnt(rel, &len);

	H_ASSERT_BYTES(got, len, want, want_len, "%s: %s", rel, what);
	free(got);
}

/* Assert that MNT/t/OFFSET (an offset file) reads as exactly WANT. */
static void expect_from(uint64_t offset, const void *want, size_t want_len, const char *what)
{
	char rel[64];

	snprintf(rel, sizeof rel, "t/%" PRIu64, offset);
	expect_file(rel, want, want_len, what);
}

/* ---- 1. retention.bytes ------------------------------------------------- */

#define RB_SEGMENT 4096
#define RB_LIMIT 40000

/* Record I of the retention tests: its number first, varied lengths. */
static void retention_line(struct lines *l, size_t i, const char *tag)
{
	static const char pad[] = "the quick brown fox jumps over the lazy dog 0123456789 "
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	char line[160];
	int n = snprintf(line, sizeof line, "%s %07zu %.*s\n", tag, i, (int)(i * 7 % 60), pad);

	lines_add(l, line, (size_t)n);
}

struct bound {
	long long limit;
	long long disk;
	uint64_t xattr;
};

/* Has retention brought the topic within its bound, with the figure and
 * DATADIR agreeing? */
static bool within_bound(void *arg)
{
	struct bound *b = arg;
	uint64_t x1 = m_figure("t", "user.topicfs.stored_bytes");
	long long disk = m_disk_bytes("t");
	uint64_t x2 = m_figure("t", "user.topicfs.stored_bytes");

	b->disk = disk;
	b->xattr = x2;
	return x1 == x2 && (long long)x2 == disk && disk <= b->limit;
}

/*
** A writer fills a topic with retention.bytes=40000 and 4 KiB segments,
** stopping every ~70 KB: once the thread has looked, the stored size (sum
** of the segment files in DATADIR, and user.topicfs.stored_bytes) is within
** the limit plus one segment, and no less than the limit (retention deletes
** whole segments only while what is left still holds retention.bytes).
** The log is then exactly the newest records, from user.topicfs.start_offset.
*/
Test(maintenance, retention_bytes_bounds_stored_size)
{
	struct lines l = { 0 };
	struct h_rng rng;
	struct bound b = { .limit = RB_LIMIT + RB_SEGMENT + M_SEG_HEADER };
	uint64_t start = 0, prev_start = 0;
	struct m_seg *segs = calloc(M_MAX_SEGS, sizeof *segs);
	size_t nsegs, len;
	int fd;

	h_mount("segment.bytes=4096,maintenance.interval.ms=50");
	make_topic("t");
	m_set("t", "user.retention.bytes", "40000");
	/* Stored sizes are then the record bytes: the lower bound is exact. */
	m_set("t", "user.compression.type", "none");
	h_rng_seed(&rng, 1);
	for (size_t i = 0; i < 10000; i++)
		retention_line(&l, i, "rb");
	fd = open_log("t");
	for (size_t chunk = 0; chunk < 10; chunk++) {
		write_lines(fd, &l, chunk * 1000, (chunk + 1) * 1000, 8, &rng);
		cr_assert(h_wait_for(within_bound, &b, 10000),
			  "after %zu records: stored %lld bytes in DATADIR, user.topicfs."
			  "stored_bytes %" PRIu64 "; want at most %lld (retention.bytes %d plus "
			  "one segment) for 10 s",
			  (chunk + 1) * 1000, b.disk, b.xattr, b.limit, RB_LIMIT);
		if (l.start[(chunk + 1) * 1000] > RB_LIMIT + 2 * RB_SEGMENT)
			cr_assert(b.disk >= RB_LIMIT,
				  "after %zu records (%zu bytes) retention left only %lld bytes, "
				  "under retention.bytes %d",
				  (chunk + 1) * 1000, l.start[(chunk + 1) * 1000], b.disk, RB_LIMIT);
		start = m_figure("t", "user.topicfs.start_offset");
		cr_assert(start >= prev_start, "start_offset went back from %" PRIu64 " to %" PRIu64,
			  prev_start, start);
		prev_start = start;
	}
	close_mnt(fd);

	cr_assert(start > 5000, "start_offset is %" PRIu64 " after 10000 records of which "
		  "retention keeps ~40 KB", start);
	nsegs = m_disk_segments("t", segs);
	cr_assert(nsegs > 0 && segs[0].base == start,
		  "the oldest segment file in DATADIR starts at %" PRIu64 ", start_offset is %" PRIu64,
		  nsegs ? segs[0].base : 0, start);
	cr_assert_eq(m_figure("t", "user.topicfs.end_offset"), 10000);
	cr_assert_eq(m_figure("t", "user.topicfs.records"), 10000 - start);
	cr_assert_eq(h_file_size(h_mnt("t/log")), (long long)l.all.len,
		     "st_size of log is not every byte ever appended");

	const char *want = lines_from(&l, start, &len);
	expect_file("t/log", want, len, "the records from start_offset on");
	expect_file("t/0", want, len, "offset 0 is below start_offset");
	expect_from(start / 2, want, len, "below start_offset");
	expect_from(start, want, len, "start_offset");
	want = lines_from(&l, start + 17, &len);
	expect_from(start + 17, want, len, "start_offset + 17");
	H_SH_OK("cat $MNT/t/*.log | cmp - $MNT/t/log");
	free(segs);
	lines_free(&l);
}

/* ---- 2. retention.ms while a writer writes ------------------------------- */

/*
** retention.ms=500, a writer appending for ~3.5 s: old segments go, while
** the writer writes. start_offset only moves forward. Then retention is set
** to -1 (keep forever) to freeze the topic and the log is compared: it is
** exactly the records from start_offset on; records written more than 2 s
** before were deleted, records younger than 300 ms were not.
*/
Test(maintenance, retention_ms_removes_old_segments)
{
	struct lines l = { 0 };
	struct h_rng rng;
	int64_t *acked = NULL, t0, stop, freeze, next_sample;
	uint64_t start, prev_start = 0, samples = 0;
	size_t i, len, cap = 0, old, young;
	int fd;

	h_mount("segment.bytes=4096,maintenance.interval.ms=50");
	make_topic("t");
	m_set("t", "user.retention.ms", "500");
	h_rng_seed(&rng, 2);
	fd = open_log("t");
	t0 = h_now_ms();
	next_sample = t0 + 250;
	for (i = 0; h_now_ms() - t0 < 3500;) {
		size_t k = 1 + h_rng_below(&rng, 3), first = i;

		for (; i < first + k; i++)
			retention_line(&l, i, "rm");
		if (i > cap) {
			cap = 2 * i + 1024;
			acked = realloc(acked, cap * sizeof *acked);
			cr_assert(acked != NULL);
		}
		write_lines(fd, &l, first, i, 3, &rng); /* all k in one or more writes */
		for (size_t j = first; j < i; j++)
			acked[j] = h_now_ms();
		if (h_now_ms() >= next_sample) {
			start = m_figure("t", "user.topicfs.start_offset");
			cr_assert(start >= prev_start,
				  "start_offset went back from %" PRIu64 " to %" PRIu64, prev_start,
				  start);
			prev_start = start;
			samples++;
			next_sample += 250;
		}
		h_sleep_ms(4);
	}
	close_mnt(fd);
	stop = h_now_ms();
	m_set("t", "user.retention.ms", "-1");
	freeze = h_now_ms();
	h_sleep_ms(300); /* a pass that started before the freeze ends */

	start = m_figure("t", "user.topicfs.start_offset");
	cr_assert(start >= prev_start);
	for (old = 0; old < i && acked[old] < stop - 2000; old++)
		;
	for (young = i; young > 0 && acked[young - 1] >= freeze - 300; young--)
		;
	cr_assert(old > 100, "the test wrote too slowly: %zu records in the first 1.5 s", old);
	cr_assert(start >= old,
		  "start_offset is %" PRIu64 ", but records 0..%zu were written more than 2 s "
		  "before with retention.ms=500 (%zu records in all)",
		  start, old - 1, i);
	cr_assert(start <= young,
		  "start_offset is %" PRIu64 ", but record %zu was written less than 300 ms "
		  "before, with retention.ms=500",
		  start, young);
	cr_assert(access(h_work("data/topics/t/00000000000000000000.log"), F_OK) != 0,
		  "the first segment file is still in DATADIR");

	const char *want = lines_from(&l, start, &len);
	expect_file("t/log", want, len, "the records from start_offset on");
	expect_file("t/0", want, len, "offset 0 is below start_offset");
	expect_from(start - 1, want, len, "start_offset - 1");
	expect_from(start, want, len, "start_offset");
	want = lines_from(&l, start + 3, &len);
	expect_from(start + 3, want, len, "start_offset + 3");
	cr_assert_eq(h_file_size(h_mnt("t/log")), (long long)l.all.len);
	cr_assert_eq(m_figure("t", "user.topicfs.end_offset"), i);
	free(acked);
	lines_free(&l);
}

/* ---- 3. retention of an idle topic ---------------------------------------- */

static bool topic_empty(void *arg)
{
	(void)arg;
	return m_figure("t", "user.topicfs.records") == 0;
}

/*
** Write 600 records, stop, set retention.ms=1000: the topic empties (the
** thread rolls the idle newest segment so that it can go), but end_offset
** and st_size stay, and the next write continues at the old end.
*/
Test(maintenance, idle_topic_empties_but_keeps_its_end)
{
	struct lines l = { 0 };
	struct h_rng rng;
	struct m_seg *segs = calloc(M_MAX_SEGS, sizeof *segs);
	const char more[] = "after idle 1\nafter idle 2\nafter idle 3\n";
	size_t nsegs, len;
	uint64_t end;
	long long size;
	char buf[256];
	int fd;

	h_mount("segment.bytes=4096,maintenance.interval.ms=50");
	make_topic("t");
	h_rng_seed(&rng, 3);
	for (size_t i = 0; i < 600; i++)
		retention_line(&l, i, "idle");
	fd = open_log("t");
	write_lines(fd, &l, 0, 600, 5, &rng);
	close_mnt(fd);
	end = m_figure("t", "user.topicfs.end_offset");
	size = h_file_size(h_mnt("t/log"));
	cr_assert_eq(end, 600);
	cr_assert_eq(size, (long long)l.all.len);
	cr_assert(m_disk_segments("t", segs) >= 3, "600 records should fill several segments");

	m_set("t", "user.retention.ms", "1000");
	cr_assert(h_wait_for(topic_empty, NULL, 10000),
		  "user.topicfs.records is still %" PRIu64 " 10 s after retention.ms=1000 on "
		  "an idle topic",
		  m_figure("t", "user.topicfs.records"));
	cr_assert_eq(m_figure("t", "user.topicfs.end_offset"), end, "end_offset went back");
	cr_assert_eq(h_file_size(h_mnt("t/log")), size, "st_size of log went back");
	cr_assert_eq(m_figure("t", "user.topicfs.start_offset"), end,
		     "start_offset of an empty topic is not its end");
	nsegs = m_disk_segments("t", segs);
	for (size_t k = 0; k < nsegs; k++)
		cr_assert(segs[k].base >= end,
			  "segment %020" PRIu64 ".log (%lld bytes) is still in DATADIR",
			  segs[k].base, segs[k].size);
	expect_file("t/log", "", 0, "an emptied topic");
	expect_file("t/0", "", 0, "an emptied topic, from 0");
	expect_file("t/600", "", 0, "an emptied topic, from its end");

	/* Keep what comes next long enough to look at it. */
	m_set("t", "user.retention.ms", "3600000");
	fd = open_log("t");
	cr_assert_eq(write(fd, more, strlen(more)), (ssize_t)strlen(more));
	close_mnt(fd);
	cr_assert_eq(m_figure("t", "user.topicfs.end_offset"), end + 3);
	expect_file("t/600", more, strlen(more), "the records written after the topic emptied");
	expect_file("t/602", "after idle 3\n", 13, "the last record");
	expect_file("t/log", more, strlen(more), "the log after the topic emptied");
	cr_assert_eq(h_file_size(h_mnt("t/log")), size + (long long)strlen(more),
		     "st_size did not continue from the old end");

	/* Byte positions are absolute: byte SIZE is the first new byte, and a
	 * reader from 0 gets the first retained record. */
	fd = open_mnt("t/log", O_RDONLY);
	len = (size_t)io_pread_all(fd, buf, sizeof buf, (off_t)size);
	H_ASSERT_BYTES(buf, len, more, strlen(more), "pread of log at the old st_size %lld", size);
	len = (size_t)io_pread_all(fd, buf, sizeof buf, (off_t)size + 13);
	H_ASSERT_BYTES(buf, len, more + 13, strlen(more) - 13, "pread of log at old st_size + 13");
	len = (size_t)io_pread_all(fd, buf, sizeof buf, 0);
	H_ASSERT_BYTES(buf, len, more, strlen(more), "pread of log at 0, before the first retained byte");
	close_mnt(fd);
	free(segs);
	lines_free(&l);
}

/* ---- 4. tail -F through everything the thread does ----------------------- */

struct tailer {
	pid_t pid;
	char out[PATH_MAX], err[PATH_MAX];
	size_t want;
};

static bool tail_has_log_open(void *arg)
{
	return h_has_open(((struct tailer *)arg)->pid, h_mnt("t/log"));
}

static bool tail_caught_up(void *arg)
{
	struct tailer *t = arg;

	return h_file_size(t->out) >= (long long)t->want;
}

/*
** `tail -F t/log` on an empty topic while a writer appends 8,000 numbered
** lines (one write() each) over ~10 s, with 8 KiB segments, retention.bytes
** of 100 KB, cleanup.policy=compact,delete with key.separator '=' and zstd:
** the thread rolls, compacts (every line has its own key, so compaction
** keeps everything and only rewrites), compresses and deletes old segments
** while tail follows. tail prints every line exactly once, in order, and
** never says "file truncated".
**
** tail keeps its default poll of 1 s: what users run. It can't fall behind
** retention: retention keeps at least 100 KB of stored (compressed) bytes,
** which is more than 100 KB of lines, and the writer appends ~60 KB a second.
*/
Test(maintenance, tail_F_follows_through_maintenance)
{
	static const char hex[] = "0123456789abcdef";
	struct lines l = { 0 };
	struct tailer t = { 0 };
	struct h_rng rng;
	int64_t t0;
	size_t out_len, err_len;
	char *out, *err;
	int fd;

	h_mount("segment.bytes=8192,maintenance.interval.ms=100");
	make_keyed_topic("t", "compact,delete");
	m_set("t", "user.retention.bytes", "100000");
	h_rng_seed(&rng, 4);
	for (size_t i = 0; i < 8000; i++) {
		char line[128], rnd[49];
		int n;

		for (int k = 0; k < 48; k++)
			rnd[k] = hex[h_rng_below(&rng, 16)];
		rnd[48] = '\0';
		n = snprintf(line, sizeof line, "k%06zu=line %06zu %s\n", i, i, rnd);
		lines_add(&l, line, (size_t)n);
	}

	snprintf(t.out, sizeof t.out, "%s", h_work("tail.out"));
	snprintf(t.err, sizeof t.err, "%s", h_work("tail.err"));
	{
		char *argv[] = { "tail", "-F", (char *)h_mnt("t/log"), NULL };

		t.pid = h_spawn(argv, t.out, t.err);
	}
	cr_assert(h_wait_for(tail_has_log_open, &t, 10000), "tail -F never opened t/log");
	h_sleep_ms(700); /* tail reaches its polling loop before lines arrive */

	fd = open_log("t");
	t0 = h_now_ms();
	for (size_t i = 0; i < l.n; i++) {
		int64_t due = t0 + (int64_t)(i * 10000 / l.n);
		size_t n = l.start[i + 1] - l.start[i];

		if (h_now_ms() < due)
			h_sleep_ms((long)(due - h_now_ms()));
		cr_assert_eq(write(fd, l.all.p + l.start[i], n), (ssize_t)n, "write of line %zu: %s",
			     i, strerror(errno));
	}
	close_mnt(fd);

	t.want = l.all.len;
	h_wait_for(tail_caught_up, &t, 20000);
	h_sleep_ms(2500); /* a repeated line would show by now */
	h_stop(t.pid);
	out = h_read_file(t.out, &out_len);
	err = h_read_file(t.err, &err_len);
	cr_assert(out != NULL && err != NULL);
	cr_assert(strstr(err, "truncated") == NULL, "tail -F said: %s", err);
	H_ASSERT_BYTES(out, out_len, l.all.p, l.all.len, "what tail -F printed (its stderr: \"%s\")",
		       err);
	cr_expect(err_len == 0, "tail -F wrote to stderr: %s", err);

	/* The test only means something if the thread did its work meanwhile. */
	uint64_t start = m_figure("t", "user.topicfs.start_offset");
	struct m_seg *segs = calloc(M_MAX_SEGS, sizeof *segs);
	size_t nsegs = m_disk_segments("t", segs), zstd = 0;

	for (size_t k = 0; k + 1 < nsegs; k++)
		zstd += (segs[k].flags & M_SEG_FLAG_ZSTD) != 0;
	cr_assert(start > 0, "retention deleted nothing: the test did not exercise it");
	cr_assert(zstd > 0, "no sealed segment is compressed: the test did not exercise it");
	size_t len;
	const char *want = lines_from(&l, start, &len);
	expect_file("t/log", want, len, "the log after tail -F ran");
	free(segs);
	free(out);
	free(err);
	lines_free(&l);
}

/* ---- 5. compaction against a reference model ---------------------------- */

#define CM_KEYS 1000
#define CM_LINES 20000

struct cm_rec {
	int key; /* -1: no key */
};

struct records_reached {
	uint64_t want, last;
};

static bool records_reached(void *arg)
{
	struct records_reached *r = arg;

	r->last = m_figure("t", "user.topicfs.records");
	return r->last == r->want;
}

/* Whether topic t's segment count was the same at the last call and 1 s
** before it (ten passes at maintenance.interval.ms=100). */
static bool segments_settled(void *arg)
{
	static uint64_t last = UINT64_MAX;
	static int64_t since;
	uint64_t now = m_figure("t", "user.topicfs.segments");

	(void)arg;
	if (now != last) {
		last = now;
		since = h_now_ms();
		return false;
	}
	return h_now_ms() - since >= 1000;
}

/*
** 20,000 lines over 1,000 keys (updates, some tombstones "kN=", some lines
** without a key), key.separator '=', cleanup.policy=compact,
** min.cleanable.dirty.ratio=0.01, 8 KiB segments, tombstones kept
** (delete.retention.ms of a day). Once the thread has compacted, the log is
** exactly: every record without a key, the newest record of each key among
** the sealed segments, and everything in the newest segment (never
** compacted), in offset order. The same after a remount.
*/
Test(maintenance, compaction_matches_reference_model)
{
	struct lines l = { 0 };
	struct cm_rec *recs = calloc(CM_LINES, sizeof *recs);
	int64_t *newest = malloc(CM_KEYS * sizeof *newest);
	uint64_t bases[M_MAX_SEGS], newest_base, survivors = 0;
	struct h_buf want = { 0 };
	struct records_reached rr;
	struct h_rng rng;
	size_t nb, tombstones = 0, keyless = 0;
	int fd;

	h_mount("segment.bytes=8192,maintenance.interval.ms=100");
	make_keyed_topic("t", "compact");
	m_set("t", "user.delete.retention.ms", "86400000");
	h_rng_seed(&rng, 5);
	for (size_t i = 0; i < CM_LINES; i++) {
		uint32_t kind = h_rng_below(&rng, 100);
		int key = (int)h_rng_below(&rng, CM_KEYS);
		char line[128];
		int n;

		if (kind < 4) {
			recs[i].key = -1;
			keyless++;
			n = snprintf(line, sizeof line, "no key in line %06zu: %.*s\n", i,
				     (int)h_rng_below(&rng, 30), "-----------------------------");
		} else if (kind < 9) {
			recs[i].key = key;
			tombstones++;
			n = snprintf(line, sizeof line, "k%03d=\n", key);
		} else {
			recs[i].key = key;
			n = snprintf(line, sizeof line, "k%03d=v%06zu%.*s\n", key, i,
				     (int)h_rng_below(&rng, 30), ".............................");
		}
		lines_add(&l, line, (size_t)n);
	}
	fd = open_log("t");
	write_lines(fd, &l, 0, l.n, 20, &rng);
	close_mnt(fd);

	/* The newest segment, which compaction leaves alone. */
	nb = m_mnt_segments("t", bases);
	newest_base = bases[nb - 1];
	cr_assert(newest_base > CM_LINES / 2, "the newest segment starts at %" PRIu64,
		  newest_base);

	/* The model. */
	for (int k = 0; k < CM_KEYS; k++)
		newest[k] = -1;
	for (size_t i = 0; i < newest_base; i++)
		if (recs[i].key >= 0)
			newest[recs[i].key] = (int64_t)i;
	for (size_t i = 0; i < l.n; i++) {
		if (i >= newest_base || recs[i].key < 0 || newest[recs[i].key] == (int64_t)i) {
			h_buf_add(&want, l.all.p + l.start[i], l.start[i + 1] - l.start[i]);
			survivors++;
		}
	}
	cr_assert(survivors < CM_LINES / 2, "the model keeps %" PRIu64 " records: a weak test",
		  survivors);

	rr.want = survivors;
	cr_assert(h_wait_for(records_reached, &rr, 30000),
		  "user.topicfs.records is %" PRIu64 " after 30 s, the model keeps %" PRIu64
		  " of %d (newest segment from %" PRIu64 "; %zu tombstones, %zu keyless)",
		  rr.last, survivors, CM_LINES, newest_base, tombstones, keyless);
	nb = m_mnt_segments("t", bases);
	cr_assert_eq(bases[nb - 1], newest_base, "the newest segment changed from %" PRIu64
		     " to %" PRIu64 " with no writes", newest_base, bases[nb - 1]);

	expect_file("t/log", want.p, want.len, "the compacted log against the model");
	expect_file("t/0", want.p, want.len, "the compacted log from offset 0");
	cr_assert_eq(h_file_size(h_mnt("t/log")), (long long)l.all.len,
		     "st_size is not every byte ever appended");
	cr_assert_eq(m_figure("t", "user.topicfs.end_offset"), CM_LINES);
	cr_assert_eq(h_write_file(h_work("want"), want.p, want.len), 0);
	/* A pass after the compaction merges the segments it shrank; a glob
	** expanded before a merge misses the merged-away files (README,
	** "Compaction merges small segments"): compare once the segment list
	** has held for ten passes. */
	cr_assert(h_wait_for(segments_settled, NULL, 15000), "the segments keep changing");
	H_SH_OK("cat $MNT/t/*.log | cmp - $WORK/want");

	h_remount();
	expect_file("t/log", want.p, want.len, "the compacted log after a remount");
	cr_assert_eq(m_figure("t", "user.topicfs.records"), survivors);
	/* A pass or two after the remount change nothing either. */
	h_sleep_ms(500);
	expect_file("t/log", want.p, want.len, "the compacted log 500 ms after a remount");

	h_buf_free(&want);
	free(recs);
	free(newest);
	lines_free(&l);
}

struct few_segments {
	size_t want, last;
};

static bool few_segments(void *arg)
{
	struct few_segments *f = arg;
	uint64_t bases[M_MAX_SEGS];

	f->last = m_mnt_segments("t", bases);
	return f->last <= f->want;
}

/*
** Compaction merges small sealed segments (as Kafka's cleaner does): 30
** bursts of updates to 10 keys in 4 KiB segments leave a few hundred
** segments of which compaction keeps a handful of records. Once a later
** compaction sees them small, it merges them: a few segment files in
** the mount and in DATADIR, the log still exactly the newest record of
** each key (the keyless lines all kept) plus the newest segment, the
** segment files together still the log, and all of it the same after a
** remount.
*/
Test(maintenance, compaction_merges_small_segments)
{
	struct lines l = { 0 };
	struct h_buf want = { 0 };
	struct m_seg segs[64];
	struct few_segments fs = { .want = 6 };
	uint64_t bases[M_MAX_SEGS], newest_base;
	int newest[10];
	size_t nb;
	int fd;

	h_mount("segment.bytes=4096,maintenance.interval.ms=50");
	make_keyed_topic("t", "compact");
	fd = open_log("t");
	for (int round = 0; round < 31; round++) {
		size_t from = l.n;
		for (int i = 0; i < 200; i++) {
			char line[64];
			int n = i % 50 == 0 ? snprintf(line, sizeof line, "round %d, no key\n", round)
					    : snprintf(line, sizeof line, "k%d=round %d line %d\n", i % 10,
						       round, i);
			lines_add(&l, line, (size_t)n);
		}
		cr_assert_eq(write(fd, l.all.p + l.start[from], l.all.len - l.start[from]),
			     (ssize_t)(l.all.len - l.start[from]));
		if (round == 29) {
			/* Let the thread compact everything so far (small then):
			** the passes after it merge it, and so does the last
			** burst's compaction. */
			uint64_t prev = 0, now;
			for (int k = 0; k < 100; k++, prev = now) {
				now = m_figure("t", "user.topicfs.records");
				if (now == prev && k > 5)
					break;
				h_sleep_ms(100);
			}
		}
	}
	close_mnt(fd);

	nb = m_mnt_segments("t", bases);
	newest_base = bases[nb - 1];
	for (int k = 0; k < 10; k++)
		newest[k] = -1;
	for (size_t i = 0; i < newest_base; i++) {
		const char *p = l.all.p + l.start[i];
		if (p[0] == 'k')
			newest[p[1] - '0'] = (int)i;
	}
	struct records_reached rr = { .want = 0 };
	for (size_t i = 0; i < l.n; i++) {
		const char *p = l.all.p + l.start[i];
		if (i >= newest_base || p[0] != 'k' || newest[p[1] - '0'] == (int)i) {
			h_buf_add(&want, p, l.start[i + 1] - l.start[i]);
			rr.want++;
		}
	}
	cr_assert(h_wait_for(records_reached, &rr, 30000),
		  "user.topicfs.records is %" PRIu64 " after 30 s, the model keeps %" PRIu64,
		  rr.last, rr.want);
	cr_assert(h_wait_for(few_segments, &fs, 30000),
		  "%zu segments after 30 s (%zu bytes appended, 4 KiB segments)", fs.last,
		  l.all.len);
	expect_file("t/log", want.p, want.len, "the compacted, merged log against the model");
	cr_assert_eq(h_write_file(h_work("want"), want.p, want.len), 0);
	H_SH_OK("cat $MNT/t/*.log | cmp - $WORK/want");
	cr_assert_leq(m_disk_segments("t", segs), fs.want, "segment files left in DATADIR");
	cr_assert_eq(h_file_size(h_mnt("t/log")), (long long)l.all.len);

	h_remount();
	expect_file("t/log", want.p, want.len, "the merged log after a remount");
	cr_assert_leq(m_mnt_segments("t", bases), fs.want);
	h_buf_free(&want);
	lines_free(&l);
}

/* ---- 6. compression --------------------------------------------------------- */

/* Realistic access-log lines, from a fixed seed. */
static void access_log_lines(struct lines *l, size_t count, uint64_t seed)
{
	static const char *const methods[] = { "GET", "GET", "GET", "GET", "POST", "HEAD", "PUT" };
	static const char *const paths[] = {
		"/", "/index.html", "/api/v1/users/%u", "/api/v1/orders/%u/items",
		"/static/js/app.%x.js", "/static/css/site.%x.css", "/images/products/%u.jpg",
		"/search?q=item%u&page=2", "/login", "/cart/add?sku=%u", "/favicon.ico",
		"/blog/2025/11/post-%u.html",
	};
	static const int statuses[] = { 200, 200, 200, 200, 200, 200, 304, 301, 404, 500, 201 };
	static const char *const referers[] = {
		"-", "https://www.example.com/", "https://www.google.com/search?q=shoes",
		"https://shop.example.com/cart", "https://news.example.org/article/123",
	};
	static const char *const agents[] = {
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
		"Chrome/119.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
		"Gecko) Version/17.1 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
		"like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
		"curl/7.88.1", "Googlebot/2.1 (+http://www.google.com/bot.html)",
	};
	uint32_t ips[300];
	struct h_rng rng;
	unsigned sec = 0;

	h_rng_seed(&rng, seed);
	for (int k = 0; k < 300; k++)
		ips[k] = (uint32_t)h_rng_next(&rng);
	for (size_t i = 0; i < count; i++) {
		uint32_t ip = ips[h_rng_below(&rng, 300)];
		char path[128], line[512];
		int n;

		sec += h_rng_below(&rng, 3);
		snprintf(path, sizeof path, paths[h_rng_below(&rng, 12)], h_rng_below(&rng, 5000));
		n = snprintf(line, sizeof line,
			     "%u.%u.%u.%u - - [25/Nov/2025:%02u:%02u:%02u +0000] \"%s %s HTTP/1.1\" "
			     "%d %u \"%s\" \"%s\"\n",
			     ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, 10 + sec / 3600 % 12,
			     sec / 60 % 60, sec % 60, methods[h_rng_below(&rng, 7)], path,
			     statuses[h_rng_below(&rng, 11)], 200 + h_rng_below(&rng, 60000),
			     referers[h_rng_below(&rng, 5)], agents[h_rng_below(&rng, 6)]);
		lines_add(l, line, (size_t)n);
	}
}

struct all_sealed {
	struct m_seg *segs;
	size_t n, compressed;
};

/* Are all the sealed segments (all but the newest) stored compressed? */
static bool all_sealed_compressed(void *arg)
{
	struct all_sealed *a = arg;

	a->n = m_disk_segments("t", a->segs);
	a->compressed = 0;
	for (size_t k = 0; k + 1 < a->n; k++)
		a->compressed += (a->segs[k].flags & M_SEG_FLAG_ZSTD) != 0;
	return a->n > 1 && a->compressed == a->n - 1;
}

/* Compare 300 random ranges of MNT/t/log (pread) with WANT. */
static void random_reads(const struct lines *l, uint64_t seed)
{
	int fd = open_mnt("t/log", O_RDONLY);
	char buf[8192];
	struct h_rng rng;

	h_rng_seed(&rng, seed);
	for (int k = 0; k < 300; k++) {
		size_t pos = h_rng_below(&rng, (uint32_t)l->all.len + 100);
		size_t len = 1 + h_rng_below(&rng, k % 3 ? 300 : (uint32_t)sizeof buf);
		size_t want = pos >= l->all.len ? 0
			      : pos + len > l->all.len ? l->all.len - pos : len;
		ssize_t got = io_pread_all(fd, buf, len, (off_t)pos);

		cr_assert(got >= 0, "pread %zu bytes of log at %zu: %s", len, pos, strerror((int)-got));
		H_ASSERT_BYTES(buf, (size_t)got, l->all.p + pos, want, "pread %zu bytes of log at %zu",
			       len, pos);
	}
	close_mnt(fd);
	/* And with dd, as a user would. */
	for (int k = 0; k < 3; k++) {
		size_t pos = h_rng_below(&rng, (uint32_t)l->all.len - 100);

		H_SH_OK("dd if=$MNT/t/log bs=1 skip=%zu count=100 status=none | "
			"cmp - <(dd if=$WORK/want bs=1 skip=%zu count=100 status=none)", pos, pos);
	}
}

/*
** Access-log lines with 32 KiB segments and the default compression.type
** (zstd): once the thread ran, every sealed segment file is zstd (flag bit,
** frame magic after the header) and all of them together take under 40% of
** their records' bytes, while the log, the segment files and random ranges
** read back exactly what was written; also after a remount.
*/
Test(maintenance, compression_stores_sealed_segments_as_zstd)
{
	struct lines l = { 0 };
	struct all_sealed a = { .segs = calloc(M_MAX_SEGS, sizeof(struct m_seg)) };
	long long stored = 0, raw = 0;
	struct h_rng rng;
	int fd;

	h_mount("segment.bytes=32768,maintenance.interval.ms=100");
	make_topic("t");
	{
		char *v = m_get("t", "user.compression.type");

		cr_assert_str_eq(v, "zstd", "the default compression.type");
		free(v);
	}
	access_log_lines(&l, 8000, 6);
	cr_assert_eq(h_write_file(h_work("want"), l.all.p, l.all.len), 0);
	h_rng_seed(&rng, 6);
	fd = open_log("t");
	write_lines(fd, &l, 0, l.n, 20, &rng);
	close_mnt(fd);

	cr_assert(h_wait_for(all_sealed_compressed, &a, 30000),
		  "after 30 s %zu of %zu sealed segments are compressed", a.compressed,
		  a.n ? a.n - 1 : 0);
	cr_assert(a.n >= 10, "only %zu segments for %zu bytes", a.n, l.all.len);
	for (size_t k = 0; k + 1 < a.n; k++) {
		static const unsigned char zmagic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
		long long seg_raw = h_file_size(h_mnt("t/%020" PRIu64 ".log", a.segs[k].base));

		cr_assert(memcmp(a.segs[k].magic, zmagic, 4) == 0,
			  "segment %020" PRIu64 ".log has the zstd flag but its bytes after the "
			  "header start %02x %02x %02x %02x, not a zstd frame",
			  a.segs[k].base, a.segs[k].magic[0], a.segs[k].magic[1], a.segs[k].magic[2],
			  a.segs[k].magic[3]);
		cr_assert(seg_raw > 0);
		stored += a.segs[k].size;
		raw += seg_raw;
	}
	cr_assert(stored * 100 < raw * 40,
		  "the sealed segments take %lld bytes on disk for %lld bytes of lines (%.1f%%)",
		  stored, raw, 100.0 * (double)stored / (double)raw);
	cr_log_info("compression: %lld bytes on disk for %lld bytes of lines (%.1f%%)", stored, raw,
		    100.0 * (double)stored / (double)raw);
	/* A compression's new file is renamed into place (and the directory
	** synced) just before the topic's list takes it, so the figure may
	** lag the files for that moment. */
	{
		struct bound b = { .limit = LLONG_MAX };

		cr_assert(h_wait_for(within_bound, &b, 5000),
			  "user.topicfs.stored_bytes (%" PRIu64 ") is not the size of the "
			  "segment files (%lld)", b.xattr, b.disk);
	}

	expect_file("t/log", l.all.p, l.all.len, "the log of compressed segments");
	H_SH_OK("cat $MNT/t/*.log | cmp - $WORK/want");
	H_SH_OK("cmp $MNT/t/0 $WORK/want");
	random_reads(&l, 66);

	h_remount();
	expect_file("t/log", l.all.p, l.all.len, "the log of compressed segments after a remount");
	H_SH_OK("cat $MNT/t/*.log | cmp - $WORK/want");
	random_reads(&l, 67);
	free(a.segs);
	lines_free(&l);
}

/* ---- 7. SIGKILL during compaction and compression ------------------------ */

#define SK_ROUNDS 20
#define SK_BATCH 1500
#define SK_KEYS 150
#define SK_MAX_TMP 64

static bool no_tmp_files(void *arg)
{
	(void)arg;
	return m_count_tmp(H.data, NULL) == 0;
}

/* A checksum of record SEQ's content, so that an altered payload shows. */
static uint32_t sk_sum(uint64_t seq, int key)
{
	uint64_t x = seq * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(key + 7) * 0xbf58476d1ce4e5b9ULL;

	x ^= x >> 31;
	x *= 0x94d049bb133111ebULL;
	return (uint32_t)(x >> 32);
}

static size_t sk_line(char *buf, size_t cap, uint64_t seq, int key)
{
	if (key < 0)
		return (size_t)snprintf(buf, cap, "free %07" PRIu64 ":%08x\n", seq, sk_sum(seq, key));
	return (size_t)snprintf(buf, cap, "k%03d=%07" PRIu64 ":%08x\n", key, seq, sk_sum(seq, key));
}

/*
** Parse one line read back (LEN bytes, no '\n'): its sequence number, and
** whether it is exactly the line that sequence number was written as.
*/
static bool sk_parse(const char *p, size_t len, const int *keys, uint64_t nkeys, uint64_t *seq)
{
	char want[64], tmp[64];
	const char *q;

	if (len == 0 || len >= sizeof tmp)
		return false;
	memcpy(tmp, p, len);
	tmp[len] = '\0';
	q = tmp[0] == 'k' ? strchr(tmp, '=') : strchr(tmp, ' ');
	if (q == NULL || sscanf(q + 1, "%7" SCNu64, seq) != 1 || *seq >= nkeys)
		return false;
	sk_line(want, sizeof want, *seq, keys[*seq]);
	return strlen(want) == len + 1 && memcmp(want, tmp, len) == 0;
}

/* Has user.topicfs.records of t stayed the same for 1 s? */
static bool records_settled(void *arg)
{
	static uint64_t last = UINT64_MAX;
	static int64_t since;
	uint64_t now = m_figure("t", "user.topicfs.records");

	(void)arg;
	if (now != last) {
		last = now;
		since = h_now_ms();
	}
	return h_now_ms() - since >= 1000;
}

/* Do t's segment files, in order, hold the bytes of its log? A merge or
** a compression still running may replace a file between the shell's
** listing and cat's open of it: asked again until it settles. */
static bool segments_are_the_log(void *arg)
{
	(void)arg;
	return h_sh("cat $MNT/t/*.log | cmp -s - $MNT/t/log") == 0;
}

static int count_occurrences(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}


/*
** Compression waits for a pause in a topic's appends, but not forever: a
** writer that never pauses (a line every 5 ms here) has its sealed
** segments compressed once their newest records are 10 s old, while it
** goes on writing; and the log reads back whole.
*/
Test(maintenance, compression_during_endless_appends)
{
	struct m_seg *segs = calloc(M_MAX_SEGS, sizeof *segs);
	struct h_buf want = { 0 };
	int64_t start, deadline;
	bool compressed = false;
	size_t len;
	char *got;
	int fd, i = 0;

	h_mount("segment.bytes=16384,maintenance.interval.ms=100");
	make_topic("t");
	fd = open_log("t");
	start = h_now_ms();
	deadline = start + 30000;
	while (!compressed && h_now_ms() < deadline) {
		char line[128];
		int n = snprintf(line, sizeof line, "%06d GET /endless/%d HTTP/1.1 200 %d\n", i, i % 97,
				 i * 7 % 5000);

		cr_assert_eq(write(fd, line, (size_t)n), n, "write: %s", strerror(errno));
		h_buf_add(&want, line, (size_t)n);
		i++;
		h_sleep_ms(5);
		if (i % 100 == 0) {
			size_t k = m_disk_segments("t", segs);

			for (size_t j = 0; j + 1 < k; j++)
				compressed |= (segs[j].flags & M_SEG_FLAG_ZSTD) != 0;
		}
	}
	close_mnt(fd);
	cr_assert(compressed, "no sealed segment was compressed in 30 s of appends");
	cr_assert(h_now_ms() - start >= 9000,
		  "compressed after %lld ms of appends without a pause, before the 10 s lag",
		  (long long)(h_now_ms() - start));
	got = h_read_file(h_mnt("t/log"), &len);
	cr_assert(got != NULL);
	H_ASSERT_BYTES(got, len, want.p, want.len, "t/log after compression under appends");
	free(got);
	h_buf_free(&want);
	free(segs);
}

/*
** 20 rounds of: append 1,500 keyed records (and some without a key) in
** writes of 1-10 lines, let the thread (every 5 ms, 2 KiB segments, compact
** with dirty ratio 0.01, zstd) work for a random 0-300 ms, SIGKILL the
** daemon, detach the dead mount, mount again. After each mount, whatever
** the kill interrupted:
**   (a) the log is a subsequence of the records written, in order, with no
**       duplicate and every line exactly as written;
**   (b) every record without a key, and the newest record of every key, is
**       there; end_offset is the number of records written;
**   (c) no "*.tmp" file is left in DATADIR.
*/
Test(maintenance, sigkill_during_compaction_and_compression, .timeout = 180)
{
	int *keys = malloc(SK_ROUNDS * SK_BATCH * sizeof *keys);
	int64_t newest[SK_KEYS];
	struct h_rng rng;
	uint64_t total = 0;
	struct m_file *left = calloc(SK_MAX_TMP, sizeof *left);
	int compactions, rounds_with_tmp = 0;
	char *dlog;

	for (int k = 0; k < SK_KEYS; k++)
		newest[k] = -1;
	h_rng_seed(&rng, 7);
	h_mount("segment.bytes=2048,maintenance.interval.ms=5");
	make_topic("t");
	m_set("t", "user.key.separator", "=");
	m_set("t", "user.cleanup.policy", "compact");
	m_set("t", "user.min.cleanable.dirty.ratio", "0.01");

	for (int round = 0; round < SK_ROUNDS; round++) {
		int fd = open_log("t");
		uint64_t first = total;
		bool *seen;
		size_t len, present = 0, nleft;
		char *got, *p, *end;
		uint64_t prev = 0;
		bool any = false;

		/* Append a batch, one to ten lines per write(). */
		while (total < first + SK_BATCH) {
			struct h_buf w = { 0 };
			uint32_t k = 1 + h_rng_below(&rng, 10);

			for (; k > 0 && total < first + SK_BATCH; k--, total++) {
				char line[64];
				int key = h_rng_below(&rng, 20) == 0 ? -1 : (int)h_rng_below(&rng, SK_KEYS);

				keys[total] = key;
				h_buf_add(&w, line, sk_line(line, sizeof line, total, key));
			}
			cr_assert_eq(write(fd, w.p, w.len), (ssize_t)w.len, "round %d: write: %s", round,
				     strerror(errno));
			h_buf_free(&w);
		}
		close_mnt(fd);
		for (uint64_t i = first; i < total; i++)
			if (keys[i] >= 0)
				newest[keys[i]] = (int64_t)i;

		h_sleep_ms((long)h_rng_below(&rng, 301));
		m_kill9();
		/* What the killed daemon's rewrites left behind. */
		nleft = m_list_tmp(H.data, left, SK_MAX_TMP);
		rounds_with_tmp += nleft > 0;
		h_mount(H.opts);

		/* (a) a subsequence of what was written, each line intact. */
		got = read_mnt("t/log", &len);
		seen = calloc(total, sizeof *seen);
		for (p = got; p < got + len; p = end + 1) {
			uint64_t seq;

			end = memchr(p, '\n', (size_t)(got + len - p));
			cr_assert(end != NULL, "round %d: the log ends in a partial line", round);
			cr_assert(sk_parse(p, (size_t)(end - p), keys, total, &seq),
				  "round %d: line at byte %zu is not a record that was written: "
				  "\"%.*s\"", round, (size_t)(p - got), (int)(end - p), p);
			cr_assert(!any || seq > prev,
				  "round %d: record %" PRIu64 " follows record %" PRIu64
				  " (a duplicate or out of order)", round, seq, prev);
			seen[seq] = true;
			prev = seq;
			any = true;
			present++;
		}
		/* (b) what compaction may never remove. */
		for (uint64_t i = 0; i < total; i++) {
			int key = keys[i];

			if (key < 0)
				cr_assert(seen[i], "round %d: record %" PRIu64 " (no key) is missing",
					  round, i);
			else if (newest[key] == (int64_t)i)
				cr_assert(seen[i], "round %d: record %" PRIu64 ", the newest of key "
					  "k%03d, is missing", round, i, key);
		}
		cr_assert_eq(m_figure("t", "user.topicfs.end_offset"), total,
			     "round %d: end_offset after the kill", round);
		/* The thread goes on compacting after the mount: it may have
		 * removed more since the read, never added. */
		cr_assert(m_figure("t", "user.topicfs.records") <= present,
			  "round %d: user.topicfs.records is more than the log held", round);
		/* (c) recovery removed what interrupted rewrites left: none of
		 * those files is still there (the new daemon's own rewrites make
		 * .tmp files too, new ones), and once its work is done no .tmp
		 * file at all remains. */
		for (size_t k = 0; k < nleft; k++)
			cr_assert(!m_same_file(&left[k]),
				  "round %d: %s, left by the killed daemon, is still there after "
				  "the mount", round, left[k].path);
		if (!h_wait_for(no_tmp_files, NULL, 10000)) {
			struct h_buf tmps = { 0 };

			m_count_tmp(H.data, &tmps);
			cr_assert_fail("round %d: .tmp files stay in DATADIR after the mount:\n%s",
				       round, tmps.p);
		}
		free(seen);
		free(got);
	}
	/* Once the thread has nothing left to do, the segment files hold the
	 * same records as the log (while it works they may differ in between
	 * two reads). */
	cr_assert(h_wait_for(records_settled, NULL, 20000),
		  "user.topicfs.records still changes 20 s after the last mount");
	if (!h_wait_for(segments_are_the_log, NULL, 20000))
		H_SH_OK("cat $MNT/t/*.log | cmp - $MNT/t/log"); /* for its message */
	dlog = h_daemon_log();
	compactions = count_occurrences(dlog, "compacted");
	cr_log_info("sigkill: %d compaction passes logged over %d rounds; %d kills left .tmp files",
		    compactions, SK_ROUNDS, rounds_with_tmp);
	cr_assert(compactions > 0, "the daemon never logged a compaction: the kills hit no work");
	free(dlog);
	free(left);
	free(keys);
}

/* ---- 8. settings as extended attributes --------------------------------- */

struct setting {
	const char *name, *value;
};

/* Every setting and its default, as mounted by settings_as_xattrs (the
 * mount sets retention.ms, segment.bytes and compression.level). */
static const struct setting mount_defaults[] = {
	{ "segment.bytes", "1048576" },
	{ "segment.ms", "604800000" },
	{ "retention.ms", "3600000" },
	{ "retention.bytes", "-1" },
	{ "cleanup.policy", "delete" },
	{ "key.separator", "" },
	{ "min.cleanable.dirty.ratio", "0.5" },
	{ "delete.retention.ms", "86400000" },
	{ "compression.type", "zstd" },
	{ "compression.level", "3" },
	{ "max.message.bytes", "1048576" },
	{ "flush.ms", "1000" },
};
#define NSETTINGS (sizeof mount_defaults / sizeof mount_defaults[0])

static void expect_setting(const char *topic, const char *name, const char *want)
{
	char full[128], *v;

	snprintf(full, sizeof full, "user.%s", name);
	v = h_getxattr(h_mnt("%s", topic), full);
	cr_assert(v != NULL, "getxattr %s %s: %s", topic, full, strerror(errno));
	cr_assert_str_eq(v, want, "%s of %s", full, topic);
	free(v);
}

/* setxattr(2) of NAME=VALUE on MNT/t must fail with EINVAL and change
 * nothing. */
static void expect_refused(const char *name, const char *value)
{
	char full[128], *before, *after;
	int rc, err;

	snprintf(full, sizeof full, "user.%s", name);
	before = m_get("t", full);
	rc = setxattr(h_mnt("t"), full, value, strlen(value), 0);
	err = errno;
	after = m_get("t", full);
	cr_assert(rc == -1 && err == EINVAL, "setxattr %s=\"%s\": %s, want EINVAL", full, value,
		  rc == 0 ? "succeeded" : strerror(err));
	cr_assert_str_eq(after, before, "the refused %s=\"%s\" changed the value", full, value);
	free(before);
	free(after);
}

/*
** `getfattr -d` lists every setting with its (mount-wide) default; bad
** values fail with EINVAL and change nothing; good values persist across a
** remount; new mount-wide defaults show through for what a topic did not
** set; removexattr goes back to the mount-wide default, persistently.
*/
Test(maintenance, settings_as_xattrs)
{
	static const struct setting good[] = {
		{ "segment.bytes", "4096" },
		{ "segment.ms", "100000" },
		{ "retention.ms", "-1" },
		{ "retention.bytes", "123456" },
		{ "cleanup.policy", "compact,delete" },
		{ "key.separator", "=" },
		{ "min.cleanable.dirty.ratio", "0.25" },
		{ "delete.retention.ms", "1000" },
		{ "compression.type", "none" },
		{ "compression.level", "9" },
		{ "max.message.bytes", "2000" },
		{ "flush.ms", "50" },
	};
	static const struct setting bad[] = {
		{ "segment.bytes", "abc" },
		{ "segment.bytes", "-5" },
		{ "segment.bytes", "" },
		{ "segment.bytes", "12x" },
		{ "segment.bytes", "0" },
		{ "retention.ms", "-2" },
		{ "retention.bytes", "1.5" },
		{ "min.cleanable.dirty.ratio", "1.5" },
		{ "min.cleanable.dirty.ratio", "-0.1" },
		{ "min.cleanable.dirty.ratio", "abc" },
		{ "compression.type", "gzip" },
		{ "compression.level", "0" },
		{ "compression.level", "23" },
		{ "cleanup.policy", "purge" },
		{ "max.message.bytes", "abc" },
		{ "flush.ms", "-1" },
	};
	char big[3000];

	h_mount("retention.ms=3600000,segment.bytes=1048576,compression.level=3");
	make_topic("t");
	make_topic("u");

	/* getfattr -d: every setting, with its default. */
	H_SH_OK("getfattr -d --absolute-names $MNT/t");
	for (size_t k = 0; k < NSETTINGS; k++) {
		char *line = h_strdupf("\nuser.%s=\"%s\"\n", mount_defaults[k].name,
				       mount_defaults[k].value);

		cr_assert(strstr(h_sh_output(), line) != NULL, "getfattr -d does not show%s in:\n%s",
			  line, h_sh_output());
		free(line);
		expect_setting("t", mount_defaults[k].name, mount_defaults[k].value);
	}

	/* Bad values: EINVAL, nothing changes (at the default, then at a value
	 * set explicitly). */
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
		expect_refused(bad[k].name, bad[k].value);
	for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
		char full[128];

		snprintf(full, sizeof full, "user.%s", good[k].name);
		m_set("t", full, good[k].value);
	}
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
		expect_refused(bad[k].name, bad[k].value);
	H_SH_OK("! setfattr -n user.segment.bytes -v abc $MNT/t 2>$WORK/err; grep -q 'Invalid argument' $WORK/err");
	for (size_t k = 0; k < sizeof good / sizeof good[0]; k++)
		expect_setting("t", good[k].name, good[k].value);

	/* The settings take effect: a 2,500-byte line is over max.message.bytes. */
	{
		int fd = open_log("t");

		memset(big, 'x', sizeof big);
		big[2500] = '\n';
		errno = 0;
		cr_assert(write(fd, big, 2501) == -1 && errno == EMSGSIZE,
			  "a 2500-byte line with max.message.bytes=2000: %s", strerror(errno));
		cr_assert_eq(write(fd, big + 1000, 1501), 1501, "a 1500-byte line: %s", strerror(errno));
		close_mnt(fd);
	}

	/* They persist; u, which set nothing, shows the mount's defaults. */
	h_remount();
	for (size_t k = 0; k < sizeof good / sizeof good[0]; k++)
		expect_setting("t", good[k].name, good[k].value);
	for (size_t k = 0; k < NSETTINGS; k++)
		expect_setting("u", mount_defaults[k].name, mount_defaults[k].value);

	/* New mount-wide defaults reach what a topic did not set. */
	h_umount();
	h_mount("retention.ms=7200000,segment.bytes=2097152,flush.ms=250");
	expect_setting("u", "retention.ms", "7200000");
	expect_setting("u", "segment.bytes", "2097152");
	expect_setting("u", "flush.ms", "250");
	expect_setting("u", "compression.level", "6");
	expect_setting("t", "retention.ms", "-1");
	expect_setting("t", "segment.bytes", "4096");

	/* removexattr (and setfattr -x): back to the mount-wide default. */
	cr_assert(removexattr(h_mnt("t"), "user.retention.ms") == 0, "removexattr: %s",
		  strerror(errno));
	H_SH_OK("setfattr -x user.segment.bytes $MNT/t && setfattr -x user.key.separator $MNT/t");
	expect_setting("t", "retention.ms", "7200000");
	expect_setting("t", "segment.bytes", "2097152");
	expect_setting("t", "key.separator", "");
	expect_setting("t", "cleanup.policy", "compact,delete");
	h_remount();
	expect_setting("t", "retention.ms", "7200000");
	expect_setting("t", "segment.bytes", "2097152");
	expect_setting("t", "key.separator", "");
	expect_setting("t", "max.message.bytes", "2000");
}
