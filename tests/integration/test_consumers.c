/*
** test_consumers.c: named consumers TOPIC/consumers/NAME and time files
** TOPIC/@TIME (SPEC.md, "Consumers and time"; core/consumer.h).
**
**   sigkill_*          a reader killed with SIGKILL at random points 20 times
**                      while a writer appends, restarted each time, gets every
**                      record exactly once, in order
**   four_cats_*        four `cat` of one consumer share 100,000 records: each
**                      record goes to exactly one of them, as whole lines
**   whole_records_*    every read returns whole records; a record longer than
**                      the read comes in pieces
**   xattr_*            user.topicfs.offset: getfattr shows it, setfattr rewinds
**                      and skips ahead (also under an open reader)
**   retention_*        a position below the first retained offset reads from
**                      the first retained record; so does a forgotten one
**   position_survives_* the position outlives unmount and remount, and a
**                      SIGKILL of the daemon once flush.ms has passed
**   rm_and_ls_*        `ls consumers` lists what exists; `rm` forgets
**   time_*             TOPIC/@TIME before, inside and after the log, in epoch
**                      ms and ISO 8601; malformed times fail with EINVAL
**   tail_f_*           `tail -n +1 -f` on a consumer follows new records,
**                      also after a rewind, with no "file truncated"
*/
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define POS "user.topicfs.offset"

TestSuite(consumers, .init = h_setup, .fini = h_teardown, .timeout = 60);

/* ---- Records --------------------------------------------------------- */

/* Record I: "rec-NNNNNN " and a padding of varied length, then "\n". */
static void add_rec(struct h_buf *b, int i)
{
	h_buf_printf(b, "rec-%06d %.*s\n", i, (i * 7) % 41,
		     "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH");
}

/* Records FIRST..LAST (inclusive; empty when LAST < FIRST). */
static void add_recs(struct h_buf *b, int first, int last)
{
	h_buf_add(b, "", 0);
	for (int i = first; i <= last; i++)
		add_rec(b, i);
}

/* Append BUF to TOPIC/log, in writes of whole lines of at most ~64 KiB. */
static void append_buf(const char *topic, const char *p, size_t len)
{
	int fd = open(h_mnt("%s/log", topic), O_WRONLY | O_APPEND);

	cr_assert(fd >= 0, "open %s/log: %s", topic, strerror(errno));
	while (len > 0) {
		size_t n = len < 65536 ? len : 65536;
		int rc;

		while (n < len && p[n - 1] != '\n')
			n++;
		rc = h_write_all(fd, p, n);
		cr_assert(rc == 0, "write to %s/log: %s", topic, strerror(-rc));
		p += n;
		len -= n;
	}
	cr_assert(close(fd) == 0, "close %s/log: %s", topic, strerror(errno));
}

/* Append records FIRST..LAST to TOPIC, PER_WRITE records a write(). (The
 * records of one write go to one segment: small writes let segments roll.) */
static void append_recs_by(const char *topic, int first, int last, int per_write)
{
	int fd = open(h_mnt("%s/log", topic), O_WRONLY | O_APPEND);

	cr_assert(fd >= 0, "open %s/log: %s", topic, strerror(errno));
	for (int i = first; i <= last; i += per_write) {
		struct h_buf b = { 0 };
		int rc;

		add_recs(&b, i, i + per_write - 1 < last ? i + per_write - 1 : last);
		rc = h_write_all(fd, b.p, b.len);
		cr_assert(rc == 0, "write to %s/log: %s", topic, strerror(-rc));
		h_buf_free(&b);
	}
	cr_assert(close(fd) == 0, "close %s/log: %s", topic, strerror(errno));
}

/* Append records FIRST..LAST to TOPIC. */
static void append_recs(const char *topic, int first, int last)
{
	struct h_buf b = { 0 };

	add_recs(&b, first, last);
	append_buf(topic, b.p, b.len);
	h_buf_free(&b);
}

static void make_topic(const char *topic)
{
	cr_assert(mkdir(h_mnt("%s", topic), 0755) == 0, "mkdir %s: %s", topic, strerror(errno));
}

/* Reading REL (from the mount) to EOF gives exactly records FIRST..LAST. */
static void expect_recs(const char *rel, int first, int last, const char *what)
{
	struct h_buf want = { 0 };
	size_t len;
	char *got;

	add_recs(&want, first, last);
	got = h_read_file(h_mnt("%s", rel), &len);
	cr_assert(got != NULL, "%s: read %s: %s", what, rel, strerror(errno));
	H_ASSERT_BYTES(got, len, want.p, want.len, "%s: what %s read (want records %d..%d)", what,
		       rel, first, last);
	free(got);
	h_buf_free(&want);
}

/* ---- Positions and figures -------------------------------------------- */

static uint64_t parse_number(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	cr_assert(s != NULL, "%s: %s", what, strerror(errno));
	errno = 0;
	v = strtoull(s, &end, 10);
	cr_assert(errno == 0 && end != s && (*end == '\0' || *end == '\n'),
		  "%s: \"%s\" is not a number", what, s);
	return v;
}

/* The position of consumer REL, as getfattr shows it. */
static uint64_t getfattr_pos(const char *rel)
{
	H_SH_OK("getfattr --absolute-names --only-values -n " POS " \"$MNT/%s\"", rel);
	return parse_number(h_sh_output(), h_sh_cmd());
}

/* The position of consumer REL, through getxattr(2). */
static uint64_t xattr_pos(const char *rel)
{
	char *v = h_getxattr(h_mnt("%s", rel), POS);
	uint64_t n = parse_number(v, rel);

	free(v);
	return n;
}

static uint64_t topic_figure(const char *topic, const char *name)
{
	char *v = h_getxattr(h_mnt("%s", topic), name);
	uint64_t n = parse_number(v, name);

	free(v);
	return n;
}

/* `ls TOPIC/consumers`, one name a line. */
static void expect_ls_consumers(const char *topic, const char *want)
{
	H_SH_OK("ls -1 \"$MNT/%s/consumers\"", topic);
	cr_assert_str_eq(h_sh_output(), want, "ls %s/consumers: got \"%s\", want \"%s\"", topic,
			 h_sh_output(), want);
}

/* ---- Clocks and processes -------------------------------------------- */

/* Wall-clock milliseconds: the clock the daemon stamps records with. */
static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_until_wall(int64_t ms)
{
	int64_t now;

	while ((now = wall_ms()) < ms)
		h_sleep_ms((long)(ms - now));
}

/* "@YYYY-MM-DDTHH:MM:SSZ" for whole seconds SEC since the epoch (static). */
static const char *iso_name(int64_t sec)
{
	static char buf[64];
	time_t t = (time_t)sec;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "@%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* SIGKILL the daemon and detach its dead mount, so that h_mount(H.opts)
 * can mount the same DATADIR again. */
static void kill_daemon(void)
{
	int status;

	cr_assert(H.pid > 0, "no daemon to kill");
	cr_assert(kill(H.pid, SIGKILL) == 0, "kill: %s", strerror(errno));
	while (waitpid(H.pid, &status, 0) < 0 && errno == EINTR)
		;
	H.pid = 0;
	H_SH_OK("fusermount3 -uz \"$MNT\"");
}

/* Wait (up to TIMEOUT_MS) for the h_spawn()ed PID to exit by itself; then
 * reap it through h_stop(). Returns its exit code, or -1 if it had to be
 * stopped. */
static int wait_exit(pid_t pid, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			h_stop(pid); /* forgets it; the group is gone */
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		if (h_now_ms() > deadline) {
			h_stop(pid);
			return -1;
		}
		h_sleep_ms(10);
	}
}

/* The path of the real python3 (not a pyenv shim: a shim's start-up is
 * slow and it would be what SIGKILL hits). */
static char *python_path(void)
{
	char *p;

	H_SH_OK("python3 -c 'import sys; print(sys.executable)'");
	p = strdup(h_sh_output());
	p[strcspn(p, "\n")] = '\0';
	cr_assert(p[0] == '/', "python3 says its executable is \"%s\"", p);
	return p;
}

/* ---- 1. SIGKILL a reader at random points: exactly once ----------------- */

/*
** The reader. It maps RESULTS (a sparse file outside the mount) and reads
** the consumer with os.readv() straight into the mapping, 4 KiB at a time,
** from the first NUL byte on (records hold no NUL). The kernel copies the
** daemon's reply into the mapped pages before read() returns, so whatever
** the daemon handed out is in RESULTS even when SIGKILL lands between the
** reply and any line of Python. After each read it appends where the read
** ended to ENDS (best effort: a kill can lose the last one). With "drain"
** it exits once it has read the "end" record, else it polls until killed.
*/
static const char consumer_py[] =
	"import mmap, os, sys, time\n"
	"path, results, ends, mode = sys.argv[1:5]\n"
	"rfd = os.open(results, os.O_RDWR)\n"
	"mm = mmap.mmap(rfd, 0)\n"
	"mv = memoryview(mm)\n"
	"pos = mm.find(b'\\0')\n"
	"assert pos >= 0, 'results file full'\n"
	"efd = os.open(ends, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)\n"
	"fd = os.open(path, os.O_RDONLY)\n"
	"while True:\n"
	"    n = os.readv(fd, [mv[pos:pos + 4096]])\n"
	"    if n > 0:\n"
	"        pos += n\n"
	"        os.write(efd, b'%d\\n' % pos)\n"
	"        continue\n"
	"    if mode == 'drain' and mm[max(0, pos - 4):pos] == b'end\\n':\n"
	"        break\n"
	"    time.sleep(0.005)\n";

#define KILL_RUNS 20
#define KILL_RECORDS 8000
#define RESULTS_BYTES (16 << 20)

/* Record I of the SIGKILL test: varied lengths. */
static size_t kill_rec(char *buf, size_t cap, int i)
{
	return (size_t)snprintf(buf, cap, "k%06d %.*s\n", i, (i * 7) % 61,
				"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

/* The writer (a forked child): KILL_RECORDS records in writes of 1-8
 * records, ~2 ms apart, then "end". */
static void kill_writer(uint64_t seed)
{
	struct h_rng rng;
	char buf[8 * 128];
	int fd, i = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	h_rng_seed(&rng, seed);
	fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
	if (fd < 0)
		_exit(2);
	while (i < KILL_RECORDS) {
		int k = 1 + (int)h_rng_below(&rng, 8);
		size_t len = 0;

		for (; k > 0 && i < KILL_RECORDS; k--, i++)
			len += kill_rec(buf + len, sizeof buf - len, i);
		if (h_write_all(fd, buf, len) != 0)
			_exit(3);
		h_sleep_ms(2);
	}
	if (h_write_all(fd, "end\n", 4) != 0 || close(fd) != 0)
		_exit(4);
	_exit(0);
}

Test(consumers, sigkill_reader_20_times_gets_every_record_once, .timeout = 120)
{
	/* Copies: h_mnt() and h_work() reuse 16 static buffers. */
	char *py = python_path();
	char *script = strdup(h_work("consumer.py"));
	char *consumer = strdup(h_mnt("t/consumers/a"));
	char *results = strdup(h_work("results"));
	char *ends = strdup(h_work("ends"));
	char *argv[] = { py, script, consumer, results, ends, "run", NULL };
	uint64_t seed = (uint64_t)wall_ms();
	struct h_buf want = { 0 }, lives = { 0 };
	struct h_rng rng;
	pid_t writer;
	size_t len, elen;
	char *got, *end_list, *nul;
	int fd, status, rc;

	cr_log_info("sigkill test: seed %" PRIu64, seed);
	cr_assert(h_write_file(script, consumer_py, strlen(consumer_py)) == 0);
	fd = open(results, O_RDWR | O_CREAT | O_TRUNC, 0644);
	cr_assert(fd >= 0 && ftruncate(fd, RESULTS_BYTES) == 0, "results: %s", strerror(errno));
	close(fd);
	make_topic("t");
	h_rng_seed(&rng, seed);

	writer = fork();
	cr_assert(writer >= 0, "fork: %s", strerror(errno));
	if (writer == 0)
		kill_writer(seed ^ 0x5eed);

	for (int run = 0; run < KILL_RUNS; run++) {
		/* Mostly while it reads; now and then before it even opened. */
		int life = run % 5 == 0 ? (int)h_rng_below(&rng, 40) : 40 + (int)h_rng_below(&rng, 360);
		const char *err = h_work("consumer-%d.err", run);
		pid_t pid = h_spawn(argv, NULL, err);

		h_sleep_ms(life);
		kill(-pid, SIGKILL);
		h_stop(pid);
		h_buf_printf(&lives, " %d", life);
	}
	cr_log_info("sigkill test: the reader lived%s ms", lives.p);

	/* The writer finishes; one last reader drains what is left. */
	while ((rc = waitpid(writer, &status, 0)) < 0 && errno == EINTR)
		;
	cr_assert(rc == writer && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "the writer failed (status 0x%x)", status);
	argv[5] = "drain";
	rc = wait_exit(h_spawn(argv, NULL, h_work("consumer-drain.err")), 20000);
	{
		size_t elen2;
		char *e = h_read_file(h_work("consumer-drain.err"), &elen2);

		cr_assert(rc == 0, "the last reader %s; its stderr: %s",
			  rc < 0 ? "never saw the end record in 20 s" : "failed", e ? e : "?");
		free(e);
	}
	for (int run = 0; run < KILL_RUNS; run++) {
		size_t elen2;
		char *e = h_read_file(h_work("consumer-%d.err", run), &elen2);

		cr_assert(e != NULL && elen2 == 0, "reader run %d wrote to stderr: %s", run,
			  e ? e : strerror(errno));
		free(e);
	}

	/* What the daemon handed out, over all the runs. */
	got = h_read_file(results, &len);
	cr_assert(got != NULL, "read results: %s", strerror(errno));
	nul = memchr(got, '\0', len);
	len = nul ? (size_t)(nul - got) : len;
	for (int i = 0; i < KILL_RECORDS; i++) {
		char line[128];

		h_buf_add(&want, line, kill_rec(line, sizeof line, i));
	}
	h_buf_add(&want, "end\n", 4);
	H_ASSERT_BYTES(got, len, want.p, want.len,
		       "every record exactly once, in order, over %d killed readers and one more",
		       KILL_RUNS);

	/* Each read the reader recorded ended at the end of a record. */
	end_list = h_read_file(ends, &elen);
	cr_assert(end_list != NULL, "read %s: %s", ends, strerror(errno));
	{
		size_t prev = 0, reads = 0;

		for (char *s = end_list; *s; s = strchr(s, '\n') + 1) {
			size_t e = (size_t)strtoull(s, NULL, 10);

			cr_assert(e > prev && e <= len, "read end %zu after %zu (of %zu bytes)", e,
				  prev, len);
			cr_assert(got[e - 1] == '\n', "a read ended inside a record, at byte %zu", e);
			prev = e;
			reads++;
		}
		cr_log_info("sigkill test: %zu reads recorded", reads);
	}
	free(end_list);
	free(got);
	free(py);
	free(script);
	free(consumer);
	free(results);
	free(ends);
	h_buf_free(&want);
	h_buf_free(&lives);
}

/* ---- 2. Four cats share one consumer --------------------------------- */

#define JOBS 100000
#define CATS 4

Test(consumers, four_cats_share_100000_records_each_once)
{
	struct h_buf all = { 0 };
	unsigned char *seen = calloc(JOBS, 1);
	char counts[128] = "";

	make_topic("t");
	for (int i = 0; i < JOBS; i++)
		h_buf_printf(&all, "job-%06d\n", i);
	append_buf("t", all.p, all.len);
	cr_assert_eq(topic_figure("t", "user.topicfs.end_offset"), JOBS);

	H_SH_OK("pids=(); for i in 1 2 3 4; do cat \"$MNT/t/consumers/jobs\" > \"$WORK/cat$i.out\" & "
		"pids+=($!); done; rc=0; for p in \"${pids[@]}\"; do wait $p || rc=1; done; exit $rc");

	for (int c = 1; c <= CATS; c++) {
		size_t len, n = 0;
		char *out = h_read_file(h_work("cat%d.out", c), &len);
		long prev = -1;

		cr_assert(out != NULL, "read cat%d.out: %s", c, strerror(errno));
		cr_assert(len == 0 || out[len - 1] == '\n', "cat %d's output ends in a partial line", c);
		for (char *s = out; s < out + len; s += 11, n++) {
			char *endp;
			long v;

			cr_assert(s + 11 <= out + len && memcmp(s, "job-", 4) == 0 && s[10] == '\n',
				  "cat %d printed a torn line at byte %zu: \"%.20s\"", c,
				  (size_t)(s - out), s);
			v = strtol(s + 4, &endp, 10);
			cr_assert(endp == s + 10 && v >= 0 && v < JOBS, "cat %d: bad line \"%.11s\"", c,
				  s);
			cr_assert(seen[v] == 0, "record %ld was printed twice (again by cat %d)", v, c);
			cr_assert(v > prev, "cat %d got record %ld after %ld", c, v, prev);
			seen[v] = (unsigned char)c;
			prev = v;
		}
		snprintf(counts + strlen(counts), sizeof counts - strlen(counts), " %zu", n);
		free(out);
	}
	for (int i = 0; i < JOBS; i++)
		cr_assert(seen[i] != 0, "no cat printed record %d", i);
	cr_log_info("four cats: records per cat:%s", counts);
	cr_assert_eq(xattr_pos("t/consumers/jobs"), JOBS, "the position after all was read");
	free(seen);
	h_buf_free(&all);
}

/* ---- Whole records per read; long records in pieces ------------------ */

/* Every valid name in consumers/ exists as far as the kernel can tell
** (opening one creates it), so making anything else there fails with
** EEXIST (README, "Consumers"), and creates nothing. */
Test(consumers, making_other_things_in_consumers_is_eexist)
{
	make_topic("t");
	cr_expect(mkdir(h_mnt("t/consumers/sub"), 0755) == -1 && errno == EEXIST,
		  "mkdir in consumers/: %s", strerror(errno));
	cr_expect(mkfifo(h_mnt("t/consumers/ff"), 0644) == -1 && errno == EEXIST,
		  "mkfifo in consumers/: %s", strerror(errno));
	cr_expect(symlink("/tmp", h_mnt("t/consumers/sl")) == -1 && errno == EEXIST,
		  "symlink in consumers/: %s", strerror(errno));
	int entries = h_count_entries(h_mnt("t/consumers"));

	cr_expect_eq(entries, 0, "consumers/ lists %d entries after the refusals", entries);
}

/*
** rmdir of consumers/ succeeds (so that `rm -r TOPIC` goes on), and the
** kernel then marks that directory's inode dead. While an open consumer
** file pins it, a lookup of consumers must not hand the dead inode back:
** every open in it would fail with ENOENT. (Found in a review.)
*/
Test(consumers, consumers_dir_usable_after_rmdir_while_a_file_is_open)
{
	char buf[64];
	int pin, fd;
	ssize_t n;

	make_topic("t");
	append_recs("t", 0, 4);
	pin = open(h_mnt("t/consumers/b"), O_RDONLY);
	cr_assert(pin >= 0, "open consumers/b: %s", strerror(errno));
	cr_assert(rmdir(h_mnt("t/consumers")) == 0, "rmdir consumers: %s", strerror(errno));
	fd = open(h_mnt("t/consumers/c"), O_RDONLY);
	cr_assert(fd >= 0, "open consumers/c after rmdir of consumers/, with consumers/b open: %s",
		  strerror(errno));
	n = read(fd, buf, sizeof buf);
	cr_expect(n > 0, "read consumers/c: %zd (%s)", n, n < 0 ? strerror(errno) : "");
	close(fd);
	close(pin);
}

/* Topic t's consumer "app" reads all 10 records of t and keeps its file
** open: its stored position must say offset=10 within 3 s, long before
** the mount's maintenance interval (30 s) would come round. */
static void expect_position_stored_soon(const char *what)
{
	char buf[4096], *pos = NULL;
	size_t len;
	int fd;
	int64_t t0;

	append_recs("t", 0, 9);
	fd = open(h_mnt("t/consumers/app"), O_RDONLY);
	cr_assert(fd >= 0, "open: %s", strerror(errno));
	cr_assert(read(fd, buf, sizeof buf) > 0);
	t0 = h_now_ms();
	while (h_now_ms() - t0 < 3000) {
		free(pos);
		pos = h_read_file(h_work("data/topics/t/consumers/app.pos"), &len);
		if (pos != NULL && strcmp(pos, "offset=10\n") == 0)
			break;
		h_sleep_ms(20);
	}
	cr_expect(pos != NULL && strcmp(pos, "offset=10\n") == 0,
		  "after 3 s the stored position is \"%s\", want offset=10 (%s)",
		  pos ? pos : "(no file)", what);
	free(pos);
	close(fd);
}

/* The position of an open consumer is durable within the topic's flush.ms,
** also when flush.ms is shorter than the mount's maintenance interval
** (here 200 ms against 30 s): the background thread wakes up for it. */
Test(consumers, position_stored_within_flush_ms_below_the_interval)
{
	h_umount();
	h_mount("maintenance.interval.ms=30000");
	make_topic("t");
	cr_assert(setxattr(h_mnt("t"), "user.flush.ms", "200", 3, 0) == 0);
	expect_position_stored_soon("the topic's flush.ms=200");
}

/* The same with the mount-wide default (-o flush.ms=200) and a topic made
** after the mount: the thread's first pass saw no topic, and must not wait
** the whole interval before it looks at the new one. */
Test(consumers, position_stored_within_a_mount_wide_flush_ms)
{
	h_umount();
	h_mount("maintenance.interval.ms=30000,flush.ms=200");
	make_topic("t");
	expect_position_stored_soon("-o flush.ms=200");
}

Test(consumers, whole_records_per_read_long_record_in_pieces)
{
	struct h_buf b = { 0 }, got = { 0 };
	char buf[4096];
	size_t bounds[64], nb = 0, long_at, long_end;
	ssize_t n;
	int fd;

	/* 3 short records, one of 10,000 bytes, 200 short ones. */
	make_topic("t");
	add_recs(&b, 0, 2);
	long_at = b.len;
	for (int i = 0; i < 10000; i++)
		h_buf_add(&b, &"0123456789"[i % 10], 1);
	h_buf_add(&b, "\n", 1);
	long_end = b.len;
	add_recs(&b, 3, 202);
	append_buf("t", b.p, b.len);

	fd = open(h_mnt("t/consumers/w"), O_RDONLY);
	cr_assert(fd >= 0, "open t/consumers/w: %s", strerror(errno));
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		h_buf_add(&got, buf, (size_t)n);
		cr_assert(nb < 64, "too many reads");
		bounds[nb++] = got.len;
	}
	cr_assert(n == 0, "read: %s", strerror(errno));
	close(fd);
	H_ASSERT_BYTES(got.p, got.len, b.p, b.len, "all the reads together");
	for (size_t i = 0; i < nb; i++) {
		size_t e = bounds[i];

		/* A read ends after a record, or inside the long record (that
		 * one is longer than the read). */
		cr_assert(b.p[e - 1] == '\n' || (e > long_at && e < long_end),
			  "read %zu ended inside a short record, at byte %zu", i, e);
	}
	cr_assert_eq(xattr_pos("t/consumers/w"), 204);
	h_buf_free(&b);
	h_buf_free(&got);
}

/*
** Records longer than dd's 8-byte reads, appended in one write(): each
** comes out whole, in pieces, once. The second one's rest came from the
** record after it, and it went out twice (found by a soak). cat makes the
** one write() (the shell's printf may write line by line).
*/
Test(consumers, long_records_of_one_write_in_pieces)
{
	make_topic("t");
	H_SH_OK("printf 'aaaaaaaaaa\\nbbbbbbbbbb\\ncccc\\n' > $WORK/in && cat $WORK/in >> $MNT/t/log");
	H_SH_OK("dd if=$MNT/t/consumers/c bs=8 status=none > $WORK/got &&"
		" printf 'aaaaaaaaaa\\nbbbbbbbbbb\\ncccc\\n' | cmp - $WORK/got");
	cr_assert_eq(xattr_pos("t/consumers/c"), 3);
}

/*
** A read() of 1 MiB into a buffer 4 bytes past a page boundary: the kernel
** asks for it in two requests, the second (4 bytes) only when the first
** came back full. With records of 12 bytes the first filled exactly, and
** the second got a piece of the next record: the read() ended inside it
** (and with several readers, the rest went to another one).
*/
Test(consumers, unaligned_reads_end_after_a_record)
{
	size_t size = 1 << 20, total = 0, nreads = 0;
	char *mem = aligned_alloc(4096, size + 4096), *buf = mem + 4;
	ssize_t n;

	cr_assert(mem != NULL);
	make_topic("t");
	H_SH_OK("seq -f 'rec-%%07g' 0 199999 >> $MNT/t/log"); /* 12 bytes each */
	int fd = open(h_mnt("t/consumers/w"), O_RDONLY);
	cr_assert(fd >= 0, "open t/consumers/w: %s", strerror(errno));
	while ((n = read(fd, buf, size)) > 0) {
		cr_assert(buf[n - 1] == '\n' && n % 12 == 0,
			  "read %zu (%zd bytes, after %zu) ended inside a record", nreads, n, total);
		total += (size_t)n;
		nreads++;
	}
	cr_assert(n == 0, "read: %s", strerror(errno));
	close(fd);
	cr_assert_eq(total, (size_t)200000 * 12, "%zu bytes in %zu reads", total, nreads);
	cr_assert_eq(xattr_pos("t/consumers/w"), 200000);
	free(mem);
}

/* ---- 3. The position as an extended attribute ------------------------ */

Test(consumers, xattr_shows_rewinds_and_skips_ahead)
{
	struct h_buf want = { 0 };
	char buf[65536];
	ssize_t n;
	int fd;

	make_topic("t");
	append_recs("t", 0, 99);

	expect_recs("t/consumers/a", 0, 99, "a new consumer");
	cr_assert_eq(getfattr_pos("t/consumers/a"), 100, "getfattr after reading everything");
	expect_recs("t/consumers/a", 100, 99, "read again");

	H_SH_OK("setfattr -n " POS " -v 0 \"$MNT/t/consumers/a\"");
	cr_assert_eq(getfattr_pos("t/consumers/a"), 0, "getfattr after the rewind");
	expect_recs("t/consumers/a", 0, 99, "after setfattr -v 0");

	H_SH_OK("setfattr -n " POS " -v 60 \"$MNT/t/consumers/a\"");
	cr_assert_eq(getfattr_pos("t/consumers/a"), 60, "getfattr after setfattr -v 60");
	expect_recs("t/consumers/a", 60, 99, "after setfattr -v 60");
	cr_assert_eq(getfattr_pos("t/consumers/a"), 100);

	/* Ahead of the end: empty until those records exist, then from there. */
	H_SH_OK("setfattr -n " POS " -v 150 \"$MNT/t/consumers/a\"");
	expect_recs("t/consumers/a", 150, 149, "position 150 of 100 records");
	append_recs("t", 100, 199);
	expect_recs("t/consumers/a", 150, 199, "position 150 once 200 records exist");

	/* Under an open reader: its next read starts at the new position. */
	fd = open(h_mnt("t/consumers/a"), O_RDONLY);
	cr_assert(fd >= 0, "open: %s", strerror(errno));
	cr_assert_eq(read(fd, buf, sizeof buf), 0, "nothing left to read");
	H_SH_OK("setfattr -n " POS " -v 10 \"$MNT/t/consumers/a\"");
	add_recs(&want, 10, 199);
	n = read(fd, buf, sizeof buf);
	cr_assert(n > 0, "read after the rewind under an open file: %zd (%s)", n, strerror(errno));
	cr_assert(n <= (ssize_t)want.len && memcmp(buf, want.p, (size_t)n) == 0,
		  "after a rewind to 10 under an open file, read gave \"%.40s\"", buf);
	close(fd);

	/* A bad value changes nothing. */
	cr_assert(setxattr(h_mnt("t/consumers/a"), POS, "abc", 3, 0) == -1 && errno == EINVAL,
		  "setxattr abc: want EINVAL, got %s", strerror(errno));
	cr_assert(setxattr(h_mnt("t/consumers/a"), POS, "-1", 2, 0) == -1 && errno == EINVAL,
		  "setxattr -1: want EINVAL, got %s", strerror(errno));
	cr_assert(xattr_pos("t/consumers/a") > 10, "a bad value moved the position");
	h_buf_free(&want);
}

/* ---- 3. Retention passed the position -------------------------------- */

struct settled {
	uint64_t start;
	int64_t since;
};

/* Retention has removed the head, and start_offset stood still for 500 ms. */
static bool head_removed(void *arg)
{
	struct settled *s = arg;
	uint64_t start = topic_figure("t", "user.topicfs.start_offset");

	if (start != s->start) {
		s->start = start;
		s->since = h_now_ms();
	}
	return start > 100 && h_now_ms() - s->since >= 500;
}

Test(consumers, retention_position_below_start_reads_first_retained)
{
	char buf[4096];
	struct settled s = { 0, 0 };
	size_t len;
	char *log;
	int fd, n3;

	h_umount();
	/* Plain segments: retention.bytes counts stored bytes, and how well
	** these records compress must not decide whether retention runs. */
	h_mount("segment.bytes=4096,maintenance.interval.ms=100,compression.type=none");
	make_topic("t");
	append_recs("t", 0, 9);

	/* a stands at 3, b at 0; c is never opened before retention. */
	{
		struct h_buf three = { 0 };

		add_recs(&three, 0, 2);
		n3 = (int)three.len;
		h_buf_free(&three);
	}
	fd = open(h_mnt("t/consumers/a"), O_RDONLY);
	cr_assert(fd >= 0, "open a: %s", strerror(errno));
	cr_assert_eq(read(fd, buf, (size_t)n3), n3, "read of 3 records");
	close(fd);
	cr_assert_eq(xattr_pos("t/consumers/a"), 3);
	fd = open(h_mnt("t/consumers/b"), O_RDONLY);
	cr_assert(fd >= 0, "open b: %s", strerror(errno));
	close(fd);

	append_recs_by("t", 10, 2999, 20);
	cr_assert(setxattr(h_mnt("t"), "user.retention.bytes", "20000", 5, 0) == 0,
		  "setxattr retention.bytes: %s", strerror(errno));
	cr_assert(h_wait_for(head_removed, &s, 15000),
		  "retention did not move start_offset past 100 (it is %" PRIu64 ")", s.start);
	cr_log_info("retention: start_offset %" PRIu64, s.start);

	/* Every one of them reads exactly what the log holds: from start_offset. */
	log = h_read_file(h_mnt("t/log"), &len);
	cr_assert(log != NULL, "read t/log: %s", strerror(errno));
	cr_assert(len > 0 && strncmp(log, "rec-", 4) == 0 &&
		  strtoull(log + 4, NULL, 10) == s.start,
		  "t/log starts with \"%.11s\", start_offset is %" PRIu64, log, s.start);
	expect_recs("t/consumers/a", (int)s.start, 2999, "a, at 3, below start_offset");
	expect_recs("t/consumers/b", (int)s.start, 2999, "b, at 0, below start_offset");
	expect_recs("t/consumers/c", (int)s.start, 2999, "c, new");
	cr_assert_eq(xattr_pos("t/consumers/a"), 3000);

	/* Rewound below the start, or forgotten: from the first retained record. */
	H_SH_OK("setfattr -n " POS " -v 0 \"$MNT/t/consumers/a\"");
	expect_recs("t/consumers/a", (int)s.start, 2999, "a rewound to 0");
	H_SH_OK("rm \"$MNT/t/consumers/b\"");
	expect_ls_consumers("t", "a\nc\n");
	expect_recs("t/consumers/b", (int)s.start, 2999, "b forgotten, then reopened");
	expect_ls_consumers("t", "a\nb\nc\n");
	free(log);
}

/* ---- 3. The position survives remounts and daemon crashes ------------- */

Test(consumers, position_survives_remount)
{
	char buf[4096];
	struct h_buf first = { 0 };
	int fd;

	make_topic("t");
	append_recs("t", 0, 99);
	add_recs(&first, 0, 24);

	fd = open(h_mnt("t/consumers/a"), O_RDONLY);
	cr_assert(fd >= 0, "open a: %s", strerror(errno));
	cr_assert_eq(read(fd, buf, first.len), (ssize_t)first.len, "read of 25 records");
	cr_assert(memcmp(buf, first.p, first.len) == 0, "the first 25 records");
	close(fd);
	H_SH_OK("setfattr -n " POS " -v 70 \"$MNT/t/consumers/b\"");
	cr_assert_eq(xattr_pos("t/consumers/a"), 25);
	cr_assert_eq(xattr_pos("t/consumers/b"), 70);

	h_remount();
	expect_ls_consumers("t", "a\nb\n");
	cr_assert_eq(getfattr_pos("t/consumers/a"), 25, "a after the remount");
	cr_assert_eq(getfattr_pos("t/consumers/b"), 70, "b after the remount");
	expect_recs("t/consumers/a", 25, 99, "a after the remount");
	expect_recs("t/consumers/b", 70, 99, "b after the remount");

	h_remount();
	cr_assert_eq(xattr_pos("t/consumers/a"), 100, "a after a second remount");
	expect_recs("t/consumers/a", 100, 99, "a after a second remount");
	h_buf_free(&first);
}

/*
** A reader keeps its file open; once flush.ms (default 1000) and a pass of
** the background thread have gone by, its position is stored: a SIGKILL of
** the daemon then loses none of it. A position stored at close survives too.
*/
Test(consumers, position_survives_daemon_sigkill_after_flush_ms)
{
	struct h_buf ten = { 0 };
	char buf[4096];
	int fd;

	make_topic("t");
	append_recs("t", 0, 99);
	expect_recs("t/consumers/closed", 0, 99, "closed");
	add_recs(&ten, 0, 9);
	fd = open(h_mnt("t/consumers/open"), O_RDONLY);
	cr_assert(fd >= 0, "open: %s", strerror(errno));
	cr_assert_eq(read(fd, buf, ten.len), (ssize_t)ten.len, "read of 10 records");
	h_sleep_ms(2500);
	kill_daemon();
	close(fd);

	h_mount(H.opts);
	cr_assert_eq(xattr_pos("t/consumers/open"), 10, "the open reader's position");
	cr_assert_eq(xattr_pos("t/consumers/closed"), 100, "the closed reader's position");
	expect_recs("t/consumers/open", 10, 99, "the open reader after the crash");
	h_buf_free(&ten);
}

/* ---- 3. ls lists the consumers; rm forgets one ------------------------ */

Test(consumers, rm_and_ls_list_and_forget)
{
	struct stat st;

	make_topic("t");
	append_recs("t", 0, 49);
	expect_ls_consumers("t", "");

	expect_recs("t/consumers/b", 0, 49, "b");
	expect_recs("t/consumers/a", 0, 49, "a");
	/* A lookup is not an open: it creates nothing. */
	cr_assert(stat(h_mnt("t/consumers/c"), &st) == 0 || errno == ENOENT, "stat c: %s",
		  strerror(errno));
	expect_ls_consumers("t", "a\nb\n");
	cr_assert_eq(xattr_pos("t/consumers/a"), 50);

	H_SH_OK("rm \"$MNT/t/consumers/a\"");
	expect_ls_consumers("t", "b\n");
	expect_recs("t/consumers/a", 0, 49, "a, forgotten and reopened");
	expect_ls_consumers("t", "a\nb\n");
	cr_assert_eq(xattr_pos("t/consumers/b"), 50, "b is untouched by rm a");

	/* Forgotten positions stay forgotten across a remount. */
	H_SH_OK("rm \"$MNT/t/consumers/b\"");
	h_remount();
	expect_ls_consumers("t", "a\n");
	expect_recs("t/consumers/b", 0, 49, "b, forgotten before the remount");

	/* There is nothing to forget under a name that does not exist. */
	cr_assert(unlink(h_mnt("t/consumers/zz")) == -1 && errno == ENOENT,
		  "unlink of a consumer that does not exist: want ENOENT, got %s",
		  strerror(errno));

	/* None left: an empty listing (the daemon built with UBSan died at
	** it, sorting no names). */
	H_SH_OK("rm \"$MNT/t/consumers/a\" \"$MNT/t/consumers/b\"");
	expect_ls_consumers("t", "");
	expect_ls_consumers("t", "");
}

/* ---- 4. Time files ---------------------------------------------------- */

/* st_size of t/NAME and what it reads: exactly records FIRST..LAST. */
static void expect_time_file(const char *name, int first, int last, const char *what)
{
	struct h_buf want = { 0 };
	char rel[128];

	snprintf(rel, sizeof rel, "t/%s", name);
	add_recs(&want, first, last);
	expect_recs(rel, first, last, what);
	cr_assert_eq(h_file_size(h_mnt("t/%s", name)), (long long)want.len,
		     "%s: st_size of t/%s is not the size of its records", what, name);
	h_buf_free(&want);
}

/*
** Two bursts of 300 records, each a few 4 KiB segments (sealed ones get
** compressed), T between them: the time files find T's record through the
** time index of whichever segment holds it.
*/
Test(consumers, time_before_and_inside_the_log)
{
	int64_t before = wall_ms() - 5000, t_ms, t_sec;
	char name[64];

	h_umount();
	h_mount("segment.bytes=4096,maintenance.interval.ms=100");
	make_topic("t");
	append_recs_by("t", 0, 299, 10);

	/* T between the two bursts: T_ms to the millisecond, T_sec a whole
	 * second; both after the first burst and before the second. */
	h_sleep_ms(20);
	t_ms = wall_ms();
	t_sec = (t_ms + 999) / 1000;
	sleep_until_wall(t_sec * 1000 + 20); /* t_sec * 1000 >= t_ms */
	append_recs_by("t", 300, 599, 10);
	cr_assert(topic_figure("t", "user.topicfs.segments") >= 4, "want several segments, got %"
		  PRIu64, topic_figure("t", "user.topicfs.segments"));
	h_sleep_ms(300); /* for the background thread to compress sealed ones */

	/* Before the log: everything. */
	snprintf(name, sizeof name, "@%" PRId64, before);
	expect_time_file(name, 0, 599, "epoch ms before the log");
	expect_time_file("@0", 0, 599, "@0");
	expect_time_file(iso_name(before / 1000), 0, 599, "ISO 8601 before the log");
	H_SH_OK("cmp \"$MNT/t/@$(date -u -d @%" PRId64 " +%%Y-%%m-%%dT%%H:%%M:%%SZ)\" \"$MNT/t/log\"",
		before / 1000);

	/* Inside: the records appended at or after T. */
	snprintf(name, sizeof name, "@%" PRId64, t_ms);
	expect_time_file(name, 300, 599, "epoch ms between the bursts");
	expect_time_file(iso_name(t_sec), 300, 599, "ISO 8601 (whole second) between the bursts");
	H_SH_OK("cmp \"$MNT/t/@$(date -u -d @%" PRId64 " +%%Y-%%m-%%dT%%H:%%M:%%SZ)\" \"$MNT/t/300\"",
		t_sec);
	{
		time_t tt = (time_t)(t_ms / 1000);
		struct tm tm;
		char iso[40];

		gmtime_r(&tt, &tm);
		strftime(iso, sizeof iso, "@%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(name, sizeof name, "%s.%03dZ", iso, (int)(t_ms % 1000));
		expect_time_file(name, 300, 599, "ISO 8601 with milliseconds between the bursts");
	}

	/* Never listed. */
	H_SH_OK("! ls -a \"$MNT/t\" | grep -q @");
}

Test(consumers, time_after_the_end_gets_later_records_only)
{
	int64_t now = wall_ms(), t_ms = now + 1200, t_sec = now / 1000 + 3;
	char ms_name[64], iso[64], buf[65536];
	struct h_buf want = { 0 };
	int fd_ms, fd_iso;
	ssize_t n;

	make_topic("t");
	append_recs("t", 0, 49);
	snprintf(ms_name, sizeof ms_name, "@%" PRId64, t_ms);
	snprintf(iso, sizeof iso, "%s", iso_name(t_sec));

	/* After the end: empty now. */
	fd_ms = open(h_mnt("t/%s", ms_name), O_RDONLY);
	cr_assert(fd_ms >= 0, "open t/%s: %s", ms_name, strerror(errno));
	fd_iso = open(h_mnt("t/%s", iso), O_RDONLY);
	cr_assert(fd_iso >= 0, "open t/%s: %s", iso, strerror(errno));
	cr_assert_eq(read(fd_ms, buf, sizeof buf), 0, "t/%s before its time", ms_name);
	cr_assert_eq(read(fd_iso, buf, sizeof buf), 0, "t/%s before its time", iso);
	cr_assert_eq(h_file_size(h_mnt("t/%s", ms_name)), 0);

	/* Records appended before T never appear. */
	append_recs("t", 50, 99);
	cr_assert(wall_ms() < t_ms - 100, "the machine is too slow for this test");
	cr_assert_eq(read(fd_ms, buf, sizeof buf), 0, "t/%s got records appended before T",
		     ms_name);
	expect_time_file(ms_name, 0, -1, "epoch ms in the future, records before it appended");

	/* After T: exactly those. */
	sleep_until_wall(t_ms + 20);
	append_recs("t", 100, 149);
	add_recs(&want, 100, 149);
	n = read(fd_ms, buf, sizeof buf);
	H_ASSERT_BYTES(buf, n < 0 ? 0 : (size_t)n, want.p, want.len,
		       "the open t/%s once records at or after T arrived", ms_name);
	expect_time_file(ms_name, 100, 149, "epoch ms, a fresh open after T");
	if (wall_ms() < t_sec * 1000 - 50) {
		cr_assert_eq(read(fd_iso, buf, sizeof buf), 0, "t/%s got records before T", iso);
		expect_time_file(iso, 0, -1, "ISO 8601 in the future");
	}

	sleep_until_wall(t_sec * 1000 + 20);
	append_recs("t", 150, 199);
	h_buf_free(&want);
	add_recs(&want, 150, 199);
	n = read(fd_iso, buf, sizeof buf);
	H_ASSERT_BYTES(buf, n < 0 ? 0 : (size_t)n, want.p, want.len,
		       "the open t/%s once records at or after T arrived", iso);
	expect_time_file(iso, 150, 199, "ISO 8601, a fresh open after T");
	n = read(fd_ms, buf, sizeof buf);
	H_ASSERT_BYTES(buf, n < 0 ? 0 : (size_t)n, want.p, want.len,
		       "the open t/%s goes on following", ms_name);
	expect_time_file(ms_name, 100, 199, "epoch ms, a fresh open at the end");
	close(fd_ms);
	close(fd_iso);
	h_buf_free(&want);
}

Test(consumers, time_malformed_is_einval)
{
	static const char *const bad[] = {
		"@yesterday",
		"@2026-13-01T00:00:00Z",
		"@2026-11-24T10:00:00",
		"@2026-02-30T00:00:00Z",
		"@2026-11-24 10:00:00Z",
		"@2026-11-24T10:00:00.Z",
		"@2026-11-24T10:00:00+01:00",
		"@2026-01-01T01:-1:00Z",
		"@2026-01-01T+1:00:00Z",
		"@2026-01-01T01:00:-5Z",
		"@2026-1-01T01:00:00Z",
		"@12abc",
		"@-5",
		"@",
	};
	struct stat st;

	make_topic("t");
	append_recs("t", 0, 9);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int fd = open(h_mnt("t/%s", bad[i]), O_RDONLY);
		int err = errno;

		if (fd >= 0)
			close(fd);
		cr_expect(fd < 0 && err == EINVAL, "open t/%s: want EINVAL, got %s", bad[i],
			  fd >= 0 ? "success" : strerror(err));
		cr_expect(stat(h_mnt("t/%s", bad[i]), &st) == -1 && errno == EINVAL,
			  "stat t/%s: want EINVAL, got %s", bad[i], strerror(errno));
	}
	/* Well-formed ones open (the daemon's clock is past 2026-01-01). */
	expect_recs("t/@2000-01-01T00:00:00.5Z", 0, 9, "one fraction digit");
	expect_recs("t/@2000-01-01T00:00:00.123Z", 0, 9, "three fraction digits");
	H_SH_OK("ls -a \"$MNT/t\" | LC_ALL=C sort | tr '\\n' ' ' | grep -qx '. .. 00000000000000000000.log "
		"consumers log '");
}

/* ---- 5. tail -f on a consumer ----------------------------------------- */

struct follow {
	pid_t pid;
	char path[PATH_MAX];
	char out[PATH_MAX];
	size_t len;
};

static bool follower_open(void *arg)
{
	struct follow *f = arg;

	return h_has_open(f->pid, f->path);
}

static bool follower_reached(void *arg)
{
	struct follow *f = arg;

	return h_file_size(f->out) >= (long long)f->len;
}

/*
** Start `tail -n +1 -f t/consumers/NAME`, see it print records HAVE_FIRST..
** HAVE_LAST (there already), append NEW_FIRST..NEW_LAST one write() each,
** 12 ms apart, and check that it printed all of them exactly once, in
** order, and never said "file truncated".
*/
static void follow_consumer(const char *name, int have_first, int have_last, int new_first,
			    int new_last)
{
	struct h_buf want = { 0 };
	struct follow f;
	char *argv[] = { "tail", "-n", "+1", "-f", NULL, NULL };
	char err_path[PATH_MAX];
	size_t out_len, err_len;
	char *out, *err;
	int fd;

	snprintf(f.path, sizeof f.path, "%s", h_mnt("t/consumers/%s", name));
	snprintf(f.out, sizeof f.out, "%s", h_work("tail-%s.out", name));
	snprintf(err_path, sizeof err_path, "%s", h_work("tail-%s.err", name));
	argv[4] = f.path;
	f.pid = h_spawn(argv, f.out, err_path);
	cr_assert(h_wait_for(follower_open, &f, 10000), "tail never opened t/consumers/%s", name);
	add_recs(&want, have_first, have_last);
	f.len = want.len;
	cr_assert(h_wait_for(follower_reached, &f, 10000),
		  "tail did not print the records that were there");
	h_sleep_ms(700); /* into its polling loop */

	fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
	cr_assert(fd >= 0, "open t/log: %s", strerror(errno));
	for (int i = new_first; i <= new_last; i++) {
		struct h_buf one = { 0 };

		add_rec(&one, i);
		cr_assert_eq(write(fd, one.p, one.len), (ssize_t)one.len, "write: %s",
			     strerror(errno));
		h_buf_add(&want, one.p, one.len);
		h_buf_free(&one);
		h_sleep_ms(12);
	}
	close(fd);

	f.len = want.len;
	h_wait_for(follower_reached, &f, 15000);
	h_sleep_ms(2500); /* a repeated record would show by now */
	h_stop(f.pid);
	out = h_read_file(f.out, &out_len);
	err = h_read_file(err_path, &err_len);
	cr_assert(out != NULL && err != NULL, "read tail's output: %s", strerror(errno));
	cr_expect(strstr(err, "truncated") == NULL, "tail said: %s", err);
	H_ASSERT_BYTES(out, out_len, want.p, want.len, "what tail -n +1 -f printed (stderr: \"%s\")",
		       err);
	snprintf(err_path, sizeof err_path, "t/consumers/%s", name);
	cr_assert_eq(xattr_pos(err_path), (uint64_t)new_last + 1, "the position after tail");
	free(out);
	free(err);
	h_buf_free(&want);
}

Test(consumers, tail_f_follows_a_consumer)
{
	make_topic("t");
	append_recs("t", 0, 49);
	follow_consumer("f", 0, 49, 50, 299);
}

/*
** The same after a rewind: the consumer read to its end, the mount
** restarted (so the daemon makes the file's inode afresh, at the end), then
** setfattr -v 0. st_size must not fall below what tail has read.
*/
Test(consumers, tail_f_after_a_rewind_follows_without_truncation)
{
	make_topic("t");
	append_recs("t", 0, 49);
	expect_recs("t/consumers/g", 0, 49, "g, read to its end");
	h_remount();
	H_SH_OK("setfattr -n " POS " -v 0 \"$MNT/t/consumers/g\"");
	follow_consumer("g", 0, 49, 50, 149);
}
