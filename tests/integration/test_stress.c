/*
** test_stress.c: everything at once, for a bounded time (SPEC.md, "Records",
** "Byte positions" and "Background work").
**
** For STRESS_MS: 16 writers append to topic t; 16 readers read it (6 replay
** t/log again and again with random read sizes, 2 read random offset files,
** 2 random segment files, 2 `tail -F` t/log, 2 `tail -F` an offset file, 2
** poll st_size, the figures and the directory listings); 3 processes create,
** write, rename, read and delete other topics, two of them racing on the same
** names; one changes t's settings; and the background thread rolls 32 KiB
** segments, compresses and compacts them every 50 ms (unique keys: no record
** is removed, but compaction merges small segments, so a segment file listed
** may be gone when it is opened).
**
** What must hold:
**   - no crash: the daemon is alive throughout and exits 0 at the unmount;
**   - no deadlock: every worker reports progress at least every STUCK_MS,
**     every process ends within 20 s of the stop, and a final stat of the
**     mount returns within 5 s;
**   - every reader's view is valid: each line intact, each writer's lines
**     in order without duplicates, each replay a prefix of the next one, and
**     what each reader saw last is exactly a part of the final log (a prefix
**     of it, or of its lines from an offset or a segment's base on);
**   - st_size and end_offset never go back;
**   - the final log holds every acknowledged line of every writer, once, in
**     order, and end_offset is its number of lines.
*/
#include "rel_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define STRESS_MS 12000
#define STUCK_MS 20000	   /* longest time one operation may take */
#define WRITERS 16
#define WRITER_PACE_US 1000
#define CATS 6
#define OFFSET_READERS 2
#define SEGMENT_READERS 2
#define STATTERS 2
#define CHURNERS 3
#define WORKERS (CATS + OFFSET_READERS + SEGMENT_READERS + STATTERS + CHURNERS + 1)

static pid_t children[WRITERS + WORKERS]; /* killed by the fini if still there */
static int nchildren;

static void stress_teardown(void)
{
	for (int i = 0; i < nchildren; i++) {
		if (children[i] > 0 && kill(children[i], SIGKILL) == 0)
			waitpid(children[i], NULL, 0);
	}
	h_teardown();
}

TestSuite(stress, .init = h_tmp_setup, .fini = stress_teardown, .timeout = 180);

/* Shared with the workers (MAP_SHARED). */
struct beat {
	_Atomic int64_t progress_ms; /* when the last operation ended */
	_Atomic long ops;
	char op[64];		     /* the operation under way */
};

struct shared {
	atomic_int stop;
	struct beat beat[WORKERS];
};

static struct shared *sh;

/* ---- Workers ------------------------------------------------------------ */

static int me; /* this worker's slot */

static void doing(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void doing(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sh->beat[me].op, sizeof sh->beat[me].op, fmt, ap);
	va_end(ap);
}

static void done(void)
{
	atomic_store(&sh->beat[me].progress_ms, h_now_ms());
	atomic_fetch_add(&sh->beat[me].ops, 1);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;
	FILE *f = fopen(h_work("fail%d", me), "we");

	va_start(ap, fmt);
	if (f != NULL) {
		vfprintf(f, fmt, ap);
		fclose(f);
	}
	va_end(ap);
	_exit(1);
}

/* Read PATH to EOF with random read sizes; fails the worker on an error
 * (ENOENT allowed when ENOENT_OK: returns NULL). Stops early (returns NULL)
 * when the run ends. */
static char *read_all(const char *path, size_t *len, struct h_rng *rng, bool enoent_ok)
{
	static char chunk[65536];
	struct h_buf b = { 0 };
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		if (enoent_ok && errno == ENOENT)
			return NULL;
		fail("open %s: %s", path, strerror(errno));
	}
	h_buf_add(&b, "", 0);
	for (;;) {
		uint32_t r = h_rng_below(rng, 16);
		size_t want = r == 0 ? 1 + h_rng_below(rng, 100) : r < 4 ? 4096 : sizeof chunk;
		ssize_t n = read(fd, chunk, want);

		if (n < 0)
			fail("read %s at %zu: %s", path, b.len, strerror(errno));
		if (n == 0)
			break;
		h_buf_add(&b, chunk, (size_t)n);
		if (atomic_load(&sh->stop)) {
			close(fd);
			h_buf_free(&b);
			return NULL;
		}
	}
	close(fd);
	*len = b.len;
	return b.p;
}

static void save(const char *name, const char *head, const char *p, size_t len)
{
	FILE *f = fopen(h_work("%s", name), "we");

	if (f == NULL || fprintf(f, "%s\n", head) < 0 || fwrite(p, 1, len, f) != len ||
	    fclose(f) != 0)
		fail("save %s", name);
}

/* Replays t/log again and again: each replay valid and a prefix of the next. */
static void cat_reader(int id, struct h_rng *rng)
{
	struct h_buf prev = { 0 };
	long passes = 0;
	char name[32];

	while (!atomic_load(&sh->stop)) {
		size_t len;
		struct r_view v;
		char *got, *err;

		doing("replay %ld of t/log", passes);
		got = read_all(h_mnt("t/log"), &len, rng, false);
		if (got == NULL)
			break;
		if ((err = r_view_check(got, len, false, &v)) != NULL)
			fail("replay %ld of t/log: %s", passes, err);
		if (len < prev.len || (prev.len > 0 && memcmp(got, prev.p, prev.len) != 0))
			fail("replay %ld of t/log (%zu bytes) does not start with replay %ld (%zu "
			     "bytes)",
			     passes, len, passes - 1, prev.len);
		h_buf_free(&prev);
		prev.p = got;
		prev.len = prev.cap = len;
		passes++;
		done();
	}
	snprintf(name, sizeof name, "cat%d.out", id);
	save(name, "0", prev.p ? prev.p : "", prev.len);
}

/* Reads t/N for random N (offset files) or random segment files. */
static void part_reader(int id, bool segments, struct h_rng *rng)
{
	char head[64] = "0", out[32];
	char *last = NULL;
	size_t last_len = 0;

	while (!atomic_load(&sh->stop)) {
		char name[64], *got, *err;
		unsigned long long n = 0;
		struct r_view v;
		size_t len;

		if (segments) {
			DIR *d;
			struct dirent *e;
			int seen = 0;

			doing("list t");
			d = opendir(h_mnt("t"));
			if (d == NULL)
				fail("opendir t: %s", strerror(errno));
			name[0] = '\0';
			while ((e = readdir(d)) != NULL) /* a random segment: reservoir */
				if (strlen(e->d_name) == 24 && h_rng_below(rng, (uint32_t)++seen) == 0)
					snprintf(name, sizeof name, "%s", e->d_name);
			closedir(d);
			if (name[0] == '\0' || sscanf(name, "%20llu", &n) != 1)
				fail("no segment file in t/");
		} else {
			char *end = h_getxattr(h_mnt("t"), "user.topicfs.end_offset");

			if (end == NULL)
				fail("getxattr end_offset: %s", strerror(errno));
			n = h_rng_below(rng, (uint32_t)strtoull(end, NULL, 10) + 10);
			free(end);
			snprintf(name, sizeof name, "%llu", n);
		}
		doing("read t/%s", name);
		got = read_all(h_mnt("t/%s", name), &len, rng, segments);
		if (got == NULL && segments && !atomic_load(&sh->stop)) {
			done(); /* merged into the segment before it since the listing */
			continue;
		}
		if (got == NULL)
			break;
		if ((err = r_view_check(got, len, false, &v)) != NULL)
			fail("t/%s: %s", name, err);
		free(last);
		last = got;
		last_len = len;
		snprintf(head, sizeof head, "%llu", n);
		done();
	}
	snprintf(out, sizeof out, "part%d.out", id);
	save(out, head, last ? last : "", last_len);
}

/* st_size of t/log and end_offset never go back; listings work. */
static void statter(void)
{
	long long size = 0;
	unsigned long long end = 0;

	while (!atomic_load(&sh->stop)) {
		struct stat st;
		char *v, *l;

		doing("stat t/log");
		if (stat(h_mnt("t/log"), &st) != 0)
			fail("stat t/log: %s", strerror(errno));
		if (st.st_size < size)
			fail("st_size of t/log went back from %lld to %lld", size, (long long)st.st_size);
		size = st.st_size;
		doing("getxattr t end_offset");
		v = h_getxattr(h_mnt("t"), "user.topicfs.end_offset");
		if (v == NULL)
			fail("getxattr end_offset: %s", strerror(errno));
		if (strtoull(v, NULL, 10) < end)
			fail("end_offset went back from %llu to %s", end, v);
		end = strtoull(v, NULL, 10);
		free(v);
		doing("list the mount and t");
		l = r_list_dir(H.mnt, 1);
		if (strcmp(l, "(error)") == 0)
			fail("listing the mount failed");
		free(l);
		done();
		usleep(2000);
	}
}

/* Private topics: every step must succeed. */
static void churn_private(int id)
{
	char lines[256];

	for (int k = 0; !atomic_load(&sh->stop); k++) {
		char a[32], b[32];
		size_t len;
		char *got;
		int n = snprintf(lines, sizeof lines, "churn %d round %d\nsecond line\n", id, k);

		snprintf(a, sizeof a, "c%d-%d", id, k);
		snprintf(b, sizeof b, "d%d-%d", id, k);
		doing("mkdir %s", a);
		if (mkdir(h_mnt("%s", a), 0755) != 0)
			fail("mkdir %s: %s", a, strerror(errno));
		doing("write %s/log", a);
		if (h_write_file(h_mnt("%s/log", a), lines, (size_t)n) != 0)
			fail("write %s/log: %s", a, strerror(errno));
		doing("rename %s %s", a, b);
		if (rename(h_mnt("%s", a), h_mnt("%s", b)) != 0)
			fail("rename %s %s: %s", a, b, strerror(errno));
		doing("read %s/log", b);
		got = h_read_file(h_mnt("%s/log", b), &len);
		if (got == NULL || len != (size_t)n || memcmp(got, lines, len) != 0)
			fail("%s/log (renamed from %s) does not hold what was written", b, a);
		free(got);
		doing("rmdir %s", b);
		if (rmdir(h_mnt("%s", b)) != 0)
			fail("rmdir %s: %s", b, strerror(errno));
		done();
	}
}

/* Shared names, raced by two processes: only "it exists"/"it's gone"
 * failures are allowed. */
static void churn_shared(struct h_rng *rng)
{
	static const char *names[] = { "sh0", "sh1", "sh2" };

	while (!atomic_load(&sh->stop)) {
		const char *a = names[h_rng_below(rng, 3)], *b = names[h_rng_below(rng, 3)];
		uint32_t op = h_rng_below(rng, 6);
		int rc = 0, fd;

		switch (op) {
		case 0:
			doing("mkdir %s", a);
			rc = mkdir(h_mnt("%s", a), 0755);
			break;
		case 1:
			doing("rmdir %s", a);
			rc = rmdir(h_mnt("%s", a));
			break;
		case 2:
			doing("rename %s %s", a, b);
			rc = rename(h_mnt("%s", a), h_mnt("%s", b));
			break;
		case 3:
			doing("append to %s/log", a);
			fd = open(h_mnt("%s/log", a), O_WRONLY | O_APPEND);
			rc = fd < 0 ? -1 : 0;
			for (int i = 0; rc == 0 && i < 5; i++)
				rc = write(fd, "racing line\n", 12) == 12 ? 0 : -1;
			if (fd >= 0 && close(fd) != 0 && rc == 0)
				rc = -1;
			break;
		case 4: {
			size_t len;
			char *got;

			doing("read %s/log", a);
			got = h_read_file(h_mnt("%s/log", a), &len);
			rc = got == NULL ? -1 : 0;
			free(got);
			break;
		}
		default:
			doing("setxattr %s", a);
			rc = setxattr(h_mnt("%s", a), "user.retention.ms", "60000", 5, 0);
			break;
		}
		if (rc != 0 && errno != ENOENT && errno != EEXIST && errno != ENOTEMPTY)
			fail("%s: %s", sh->beat[me].op, strerror(errno));
		done();
	}
}

/* Changes t's settings while everything runs: every change must succeed. */
static void configurer(struct h_rng *rng)
{
	static const char *const sets[][2] = {
		{ "user.compression.type", "none" },	   { "user.compression.type", "zstd" },
		{ "user.compression.level", "1" },	   { "user.compression.level", "9" },
		{ "user.segment.bytes", "16384" },	   { "user.segment.bytes", "65536" },
		{ "user.min.cleanable.dirty.ratio", "0.1" }, { "user.min.cleanable.dirty.ratio", "0.5" },
	};

	while (!atomic_load(&sh->stop)) {
		uint32_t i = h_rng_below(rng, 8);

		doing("setxattr t %s=%s", sets[i][0], sets[i][1]);
		if (setxattr(h_mnt("t"), sets[i][0], sets[i][1], strlen(sets[i][1]), 0) != 0)
			fail("setxattr t %s=%s: %s", sets[i][0], sets[i][1], strerror(errno));
		done();
		usleep(50000);
	}
}

static pid_t start_worker(int slot, uint64_t seed)
{
	pid_t parent = getpid(), pid = fork();

	cr_assert(pid >= 0);
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	me = slot;
	struct h_rng rng;

	h_rng_seed(&rng, seed);
	done();
	if (slot < CATS)
		cat_reader(slot, &rng);
	else if (slot < CATS + OFFSET_READERS + SEGMENT_READERS)
		part_reader(slot, slot >= CATS + OFFSET_READERS, &rng);
	else if (slot < CATS + OFFSET_READERS + SEGMENT_READERS + STATTERS)
		statter();
	else if (slot == WORKERS - 4)
		churn_private(slot);
	else if (slot < WORKERS - 1)
		churn_shared(&rng);
	else
		configurer(&rng);
	_exit(0);
}

/* ---- The test ------------------------------------------------------------- */

/* The final log from line K on (pointer into LOG). */
static const char *from_line(const char *log, size_t len, unsigned long long k, size_t *rest)
{
	size_t at = 0;

	while (k > 0 && at < len) {
		const char *nl = memchr(log + at, '\n', len - at);

		if (nl == NULL)
			break;
		at = (size_t)(nl - log) + 1;
		k--;
	}
	*rest = len - at;
	return log + at;
}

/* What a reader saved must be a prefix of the final log from its line on. */
static void check_saved(const char *file, const char *log, size_t log_len, bool offset_lines)
{
	size_t len, rest;
	char *got = h_read_file(h_work("%s", file), &len);
	char *nl = got ? memchr(got, '\n', len) : NULL;
	unsigned long long k;
	const char *want;

	cr_assert(nl != NULL, "%s: nothing saved", file);
	k = strtoull(got, NULL, 10);
	want = offset_lines ? from_line(log, log_len, k, &rest) : log;
	if (!offset_lines)
		rest = log_len;
	len -= (size_t)(nl + 1 - got);
	cr_assert(len <= rest && memcmp(nl + 1, want, len) == 0,
		  "%s: what the reader saw last (%zu bytes from %llu) is not part of the final log",
		  file, len, k);
	free(got);
}

static void tail_check(const char *out, const char *want, size_t want_len)
{
	int64_t deadline = h_now_ms() + 15000;
	size_t len = 0;
	char *got = NULL;

	for (;;) {
		free(got);
		got = h_read_file(h_work("%s", out), &len);
		cr_assert(got != NULL);
		if (len >= want_len || h_now_ms() > deadline)
			break;
		h_sleep_ms(100);
	}
	H_ASSERT_BYTES(got, len, want, want_len, "%s: tail -F output", out);
	free(got);
}

Test(stress, everything_at_once)
{
	pid_t writers[WRITERS], workers[WORKERS], tails[4];
	const char *tail_files[4] = { "t/log", "t/log", "t/0", "t/100" };
	long reads = 0, total_ops = 0;
	int64_t stop_at;
	struct r_view v;
	size_t len;
	char *log, *err, name[32], path[PATH_MAX];

	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(sh != MAP_FAILED);
	h_mount("segment.bytes=32768,maintenance.interval.ms=50,cleanup.policy=compact,"
		"key.separator=|,min.cleanable.dirty.ratio=0.3,flush.ms=100");
	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	for (int i = 0; i < 4; i++) {
		char *argv[] = { "tail", "-F", "-n", "+1", "-s", "0.2", path, NULL };

		snprintf(path, sizeof path, "%s", h_mnt("%s", tail_files[i]));

		tails[i] = h_spawn(argv, h_work("tail%d.out", i), h_work("tail%d.err", i));
	}
	stop_at = h_now_ms() + STRESS_MS;
	for (int i = 0; i < WORKERS; i++)
		atomic_store(&sh->beat[i].progress_ms, h_now_ms());
	for (int w = 0; w < WRITERS; w++) {
		writers[w] = r_fork_writer(h_mnt("t/log"), h_work("ack%d", w), w, 0, stop_at, 0,
					   WRITER_PACE_US, 500 + (uint64_t)w);
		children[nchildren++] = writers[w];
	}
	for (int i = 0; i < WORKERS; i++) {
		workers[i] = start_worker(i, 900 + (uint64_t)i);
		children[nchildren++] = workers[i];
	}

	/* The watchdog. */
	while (h_now_ms() < stop_at) {
		int status;

		cr_assert(waitpid(H.pid, &status, WNOHANG) == 0, "the daemon died during the run");
		for (int i = 0; i < WORKERS; i++) {
			int64_t age = h_now_ms() - atomic_load(&sh->beat[i].progress_ms);
			size_t fl;
			char *f = h_read_file(h_work("fail%d", i), &fl);

			cr_assert(f == NULL, "worker %d failed: %s", i, f);
			cr_assert(age < STUCK_MS, "worker %d made no progress for %lld ms, in: %s", i,
				  (long long)age, sh->beat[i].op);
		}
		h_sleep_ms(100);
	}
	atomic_store(&sh->stop, 1);
	for (int i = 0; i < WORKERS; i++) {
		int st = r_wait(workers[i], STUCK_MS);
		size_t fl;

		children[WRITERS + i] = 0;
		char *f = h_read_file(h_work("fail%d", i), &fl);

		cr_assert(f == NULL, "worker %d failed: %s", i, f);
		cr_assert(st == 0, "worker %d %s, in: %s", i,
			  st == -1 ? "did not stop within 20 s (deadlock?)" : "failed",
			  sh->beat[i].op);
		total_ops += atomic_load(&sh->beat[i].ops);
		if (i < CATS + OFFSET_READERS + SEGMENT_READERS)
			reads += atomic_load(&sh->beat[i].ops);
	}
	for (int w = 0; w < WRITERS; w++) {
		int st = r_wait(writers[w], STUCK_MS);

		children[w] = 0;
		cr_assert(st == 0, "writer %d %s", w,
			  st == -1 ? "did not stop within 20 s (deadlock?)" : "failed");
	}
	{
		char *argv[] = { "stat", H.mnt, NULL };

		cr_assert_eq(h_run(argv, 5000, NULL, NULL), 0,
			     "stat of the mount did not return within 5 s after the run");
	}

	/* The final log. */
	log = h_read_file(h_mnt("t/log"), &len);
	cr_assert(log != NULL, "read t/log: %s", strerror(errno));
	err = r_view_check(log, len, false, &v);
	cr_assert(err == NULL, "the final log: %s", err);
	for (int w = 0; w < WRITERS; w++) {
		struct r_acks a;

		r_read_acks(h_work("ack%d", w), &a);
		cr_assert(a.last_errno == 0 && a.inflight_lo < 0, "writer %d: a write failed: %s", w,
			  strerror(a.last_errno));
		cr_assert(a.acked >= 0, "writer %d wrote nothing", w);
		cr_assert(v.count[w] == a.acked + 1 && v.first[w] == 0 && v.last[w] == a.acked,
			  "writer %d: acknowledged lines 0..%lld, the log has %ld of its lines "
			  "(%lld..%lld)",
			  w, (long long)a.acked, v.count[w], (long long)v.first[w],
			  (long long)v.last[w]);
	}
	cr_assert_eq(r_xattr_u64(h_mnt("t"), "user.topicfs.end_offset"), (uint64_t)v.lines,
		     "end_offset of t against its lines");
	for (int i = 0; i < CATS + OFFSET_READERS + SEGMENT_READERS; i++) {
		snprintf(name, sizeof name, i < CATS ? "cat%d.out" : "part%d.out", i);
		check_saved(name, log, len, i >= CATS);
	}
	for (int i = 0; i < 4; i++) {
		size_t rest;
		const char *want = from_line(log, len, i < 3 ? 0 : 100, &rest);

		snprintf(name, sizeof name, "tail%d.out", i);
		tail_check(name, want, rest);
		h_stop(tails[i]);
	}
	cr_log_info("stress: %d s with %d writers, %d readers, %d topic churners: %ld lines "
		    "(%zu bytes) checked in the final log, %ld reads checked, %ld operations "
		    "in all",
		    STRESS_MS / 1000, WRITERS, CATS + OFFSET_READERS + SEGMENT_READERS + STATTERS + 4,
		    CHURNERS, v.lines, len, reads, total_ops);
	free(log);
	munmap(sh, sizeof *sh);
}
