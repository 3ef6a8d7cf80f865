/*
** test_fullspace.c: DATADIR on a full file system (SPEC.md: "A full disk
** fails the write with ENOSPC and damages nothing already stored; writes
** succeed again once space is freed").
**
** Each test runs in a mount namespace of its own (unshare), where DATADIR is
** an 8 MiB tmpfs: the tmpfs disappears with the test process, whatever
** happens to it. A writer appends until write() fails, and then single
** lines until they fail too, so the file system is really full; every
** failure must be ENOSPC. Then: the log holds exactly the acknowledged
** lines (a failed write stored nothing), readers (cat, offset and segment
** files, and a `tail -F` started before) read them, creating a topic or
** changing a setting fails with ENOSPC and changes nothing; space is freed
** (rmdir of another topic, or retention deleting another topic's segments)
** and writes succeed again on the same open file; a remount finds it all.
*/
#include "rel_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define FS_SIZE "8m"

static char small[PATH_MAX]; /* the tmpfs: H.dir/small */

static void full_setup(void)
{
	h_tmp_setup();
	cr_assert(unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS): %s", strerror(errno));
	cr_assert(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0,
		  "make / private in the test's mount namespace: %s", strerror(errno));
	snprintf(small, sizeof small, "%.2000s/small", H.dir);
	cr_assert(mkdir(small, 0755) == 0);
	cr_assert(mount("tmpfs", small, "tmpfs", 0, "size=" FS_SIZE) == 0,
		  "mount a tmpfs on %s: %s", small, strerror(errno));
	snprintf(H.data, sizeof H.data, "%.2000s/data", small);
	cr_assert(mkdir(H.data, 0755) == 0);
}

static void full_teardown(void)
{
	/* Detached first: h_teardown() then stops the daemon (which still
	 * has the tmpfs) and removes the directory. */
	if (small[0] != '\0')
		umount2(small, MNT_DETACH);
	h_teardown();
}

TestSuite(fullspace, .init = full_setup, .fini = full_teardown, .timeout = 120);

struct writer {
	int fd;
	uint32_t seq;
	struct h_buf acked;
	long enospc; /* writes that failed with ENOSPC */
};

/* Write N lines of writer 0 in one write(). Returns 0 or the errno. */
static int write_batch(struct writer *w, int n)
{
	static char buf[512 * R_LINE_MAX];
	size_t len = 0;
	ssize_t r;

	cr_assert(n <= 512);
	for (int k = 0; k < n; k++)
		len += r_line(buf + len, 0, w->seq + (uint32_t)k);
	r = write(w->fd, buf, len);
	if (r < 0)
		return errno;
	cr_assert_eq(r, (ssize_t)len, "short write: %zd of %zu", r, len);
	w->seq += (uint32_t)n;
	h_buf_add(&w->acked, buf, len);
	return 0;
}

/* Fill the file system: batches, then single lines, until they fail. */
static void fill_up(struct writer *w)
{
	int err;

	for (int i = 0; i < 100000; i++) {
		if ((err = write_batch(w, 400)) != 0)
			break;
	}
	cr_assert_eq(err, ENOSPC, "a write to a full file system failed with %s, want ENOSPC",
		     strerror(err));
	w->enospc++;
	for (int i = 0; i < 100000; i++) {
		if ((err = write_batch(w, 1)) != 0)
			break;
	}
	cr_assert_eq(err, ENOSPC, "a one-line write to a full file system failed with %s",
		     strerror(err));
	w->enospc++;
	for (int i = 0; i < 20; i++) {
		err = write_batch(w, 1 + i % 5);
		cr_assert_eq(err, ENOSPC, "write %d to the full file system: %s", i,
			     err ? strerror(err) : "succeeded");
		w->enospc++;
	}
}

static void assert_log(const char *rel, const struct h_buf *want, const char *what)
{
	size_t len;
	char *got = h_read_file(h_mnt("%s", rel), &len);

	cr_assert(got != NULL, "%s: read %s: %s", what, rel, strerror(errno));
	H_ASSERT_BYTES(got, len, want->p, want->len, "%s: %s", what, rel);
	free(got);
}

/* Everything a reader can see of t while the disk is full. */
static void readers_work(const struct writer *w)
{
	struct r_view v;
	size_t len;
	char *got, *err;

	assert_log("t/log", &w->acked, "full disk");
	err = r_view_check(w->acked.p, w->acked.len, false, &v);
	cr_assert(err == NULL, "%s", err);
	got = h_read_file(h_mnt("t/%ld", v.lines / 2), &len);
	cr_assert(got != NULL, "read t/%ld: %s", v.lines / 2, strerror(errno));
	cr_assert(len < w->acked.len &&
		  memcmp(got, w->acked.p + w->acked.len - len, len) == 0 && (len == 0 || got[len - 1] == '\n'),
		  "t/%ld on a full disk is not the log's second half", v.lines / 2);
	free(got);
	H_SH_OK("cat $MNT/t/0*.log | cmp - $MNT/t/log");
	cr_assert_eq(r_xattr_u64(h_mnt("t"), "user.topicfs.end_offset"), (uint64_t)v.lines);
}

/* A topic named NAME with KB KiB of lines (writer 1), written in big writes. */
static void make_topic(const char *name, int kb, struct h_buf *want)
{
	struct writer w = { .seq = 0 };

	cr_assert(mkdir(h_mnt("%s", name), 0755) == 0, "mkdir %s: %s", name, strerror(errno));
	w.fd = open(h_mnt("%s/log", name), O_WRONLY | O_APPEND);
	cr_assert(w.fd >= 0);
	while (w.acked.len < (size_t)kb * 1024)
		cr_assert_eq(write_batch(&w, 400), 0, "filling %s", name);
	close(w.fd);
	if (want != NULL)
		h_buf_add(want, w.acked.p, w.acked.len);
	h_buf_free(&w.acked);
}

/* Refusals on the full disk: mkdir and setfattr fail with ENOSPC and
 * change nothing. */
static void refusals(void)
{
	char *before = r_list_dir(H.mnt, 0), *after, *set0, *set1;

	cr_assert(mkdir(h_mnt("newtopic"), 0755) != 0, "mkdir on a full disk succeeded");
	cr_expect_eq(errno, ENOSPC, "mkdir on a full disk: %s, want ENOSPC", strerror(errno));
	after = r_list_dir(H.mnt, 0);
	cr_expect_str_eq(after, before, "a failed mkdir changed the topics");
	set0 = h_getxattr(h_mnt("t"), "user.retention.ms");
	cr_assert(setxattr(h_mnt("t"), "user.retention.ms", "123456", 6, 0) != 0,
		  "setfattr on a full disk succeeded");
	cr_expect_eq(errno, ENOSPC, "setfattr on a full disk: %s, want ENOSPC", strerror(errno));
	set1 = h_getxattr(h_mnt("t"), "user.retention.ms");
	cr_expect_str_eq(set1, set0, "a failed setfattr changed the setting");
	free(before);
	free(after);
	free(set0);
	free(set1);
}

/* A consumer's position that cannot be stored (ENOSPC) does not move, and
 * the log says why; so does a setting's refusal (refusals()). */
static void position_refusal(void)
{
	char *pos, *log;
	/* open, so that the consumer's position in memory is what counts */
	int fd = open(h_mnt("t/consumers/c"), O_RDONLY);

	cr_assert(fd >= 0, "open t/consumers/c: %s", strerror(errno));
	pos = h_getxattr(h_mnt("t/consumers/c"), "user.topicfs.offset");
	cr_assert_str_eq(pos, "0");
	free(pos);
	cr_assert(setxattr(h_mnt("t/consumers/c"), "user.topicfs.offset", "5", 1, 0) != 0,
		  "a consumer's position was stored on a full disk");
	cr_expect_eq(errno, ENOSPC, "setting a position on a full disk: %s, want ENOSPC",
		     strerror(errno));
	pos = h_getxattr(h_mnt("t/consumers/c"), "user.topicfs.offset");
	cr_expect_str_eq(pos, "0", "a position that could not be stored was taken");
	free(pos);
	/* A read moves the position; the background thread cannot store it,
	 * and says so once, not at every pass. */
	char buf[4096];
	cr_assert_gt(read(fd, buf, sizeof buf), 0, "read the consumer: %s", strerror(errno));
	h_sleep_ms(3500);
	log = h_daemon_log();
	int lines = 0;
	for (const char *p = log; (p = strstr(p, "consumer c: cannot store its position")); p++)
		lines++;
	cr_expect_eq(lines, 1, "%d lines for a position the background thread cannot store:\n%s",
		     lines, log);
	free(log);
	close(fd);
	log = h_daemon_log();
	cr_expect(strstr(log, "topic t: consumer c: cannot store position 5 (No space left on "
			      "device); it stays at 0") != NULL,
		  "%s", log);
	cr_expect(strstr(log, "topic t: cannot store topic.conf (No space left on device)") != NULL,
		  "%s", log);
	free(log);
}

/* Writes succeed again: within TIMEOUT_MS, then 1000 more lines. */
static void writes_resume(struct writer *w, int timeout_ms)
{
	int64_t deadline = h_now_ms() + timeout_ms;
	int err;

	while ((err = write_batch(w, 100)) == ENOSPC && h_now_ms() < deadline)
		h_sleep_ms(50);
	cr_assert_eq(err, 0, "writes still fail (%s) %d ms after space was freed", strerror(err),
		     timeout_ms);
	for (int i = 0; i < 10; i++) {
		err = write_batch(w, 100);
		cr_assert_eq(err, 0, "write %d after space was freed: %s", i, strerror(err));
	}
}

/* Wait for a `tail -F` output file OUT to hold WANT, and compare. */
static void tail_saw(const char *out, const struct h_buf *want)
{
	int64_t deadline = h_now_ms() + 15000;
	size_t len = 0;
	char *got = NULL;

	do {
		free(got);
		h_sleep_ms(100);
		got = h_read_file(out, &len);
		cr_assert(got != NULL);
	} while (len < want->len && h_now_ms() < deadline);
	H_ASSERT_BYTES(got, len, want->p, want->len, "tail -F through the full disk");
	free(got);
}

Test(fullspace, enospc_then_rmdir_frees_space)
{
	struct writer w = { .seq = 0 };
	char tail_path[PATH_MAX];
	char *tail_argv[] = { "tail", "-F", "-n", "+1", "-s", "0.2", tail_path, NULL };
	struct r_view v;
	pid_t tail;
	char *err;

	h_mount("compression.type=none,segment.bytes=1048576");
	make_topic("big", 3072, NULL);
	cr_assert(mkdir(h_mnt("t"), 0755) == 0);
	int cfd = open(h_mnt("t/consumers/c"), O_RDONLY | O_CREAT, 0644);
	cr_assert(cfd >= 0, "create consumer c: %s", strerror(errno));
	close(cfd);
	snprintf(tail_path, sizeof tail_path, "%s", h_mnt("t/log"));
	tail = h_spawn(tail_argv, h_work("tail.out"), NULL);
	w.fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
	cr_assert(w.fd >= 0);

	fill_up(&w);
	readers_work(&w);
	refusals();
	position_refusal();

	/* A remount while the disk is still full: recovery needs no space. */
	cr_assert(close(w.fd) == 0 || errno == ENOSPC);
	h_stop(tail);
	h_remount();
	readers_work(&w);
	w.fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
	cr_assert(w.fd >= 0);
	cr_assert_eq(write_batch(&w, 1), ENOSPC, "a write after a remount on the full disk");
	snprintf(tail_path, sizeof tail_path, "%s", h_mnt("t/log"));
	tail = h_spawn(tail_argv, h_work("tail2.out"), NULL);

	H_SH_OK("rmdir $MNT/big");
	writes_resume(&w, 5000);
	cr_assert(close(w.fd) == 0, "close t/log: %s", strerror(errno));
	assert_log("t/log", &w.acked, "after space was freed");
	tail_saw(h_work("tail2.out"), &w.acked);
	h_stop(tail);

	h_remount();
	assert_log("t/log", &w.acked, "after a remount");
	err = r_view_check(w.acked.p, w.acked.len, false, &v);
	cr_assert(err == NULL, "%s", err);
	cr_assert_eq(r_xattr_u64(h_mnt("t"), "user.topicfs.end_offset"), (uint64_t)v.lines);
	cr_log_info("fullspace (rmdir): %ld writes refused with ENOSPC; %ld acknowledged lines "
		    "(%zu bytes) intact",
		    w.enospc, v.lines, w.acked.len);
	h_buf_free(&w.acked);
}

/* The records of OLD from its start_offset on are its written lines from
 * that line on. */
static void assert_suffix(const char *topic, const struct h_buf *written)
{
	uint64_t start = r_xattr_u64(h_mnt("%s", topic), "user.topicfs.start_offset");
	size_t at = 0, len;
	char *got;

	for (uint64_t k = 0; k < start; k++) {
		const char *nl = memchr(written->p + at, '\n', written->len - at);

		cr_assert(nl != NULL);
		at = (size_t)(nl - written->p) + 1;
	}
	got = h_read_file(h_mnt("%s/log", topic), &len);
	cr_assert(got != NULL);
	H_ASSERT_BYTES(got, len, written->p + at, written->len - at,
		       "%s/log after retention (start_offset %llu)", topic,
		       (unsigned long long)start);
	free(got);
}

static bool old_retained(void *arg)
{
	(void)arg;
	return r_xattr_u64(h_mnt("old"), "user.topicfs.segments") <= 1;
}

Test(fullspace, enospc_then_retention_frees_space)
{
	struct writer w = { .seq = 0 };
	struct h_buf old = { 0 };
	static char ballast[16 * 1024];
	char ballast_path[PATH_MAX + 16];
	char *val;

	h_mount("compression.type=none,segment.bytes=262144,maintenance.interval.ms=50");
	/* 16 KiB outside DATADIR, so that a setting can be written later. */
	snprintf(ballast_path, sizeof ballast_path, "%s/ballast", small);
	cr_assert_eq(h_write_file(ballast_path, ballast, sizeof ballast), 0);
	make_topic("old", 2560, &old);
	cr_assert(mkdir(h_mnt("t"), 0755) == 0);
	w.fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
	cr_assert(w.fd >= 0);

	fill_up(&w);
	readers_work(&w);
	cr_assert(setxattr(h_mnt("old"), "user.retention.bytes", "0", 1, 0) != 0);
	cr_expect_eq(errno, ENOSPC, "setfattr on a full disk: %s", strerror(errno));
	val = h_getxattr(h_mnt("old"), "user.retention.bytes");
	cr_expect_str_eq(val, "-1", "a failed setfattr changed retention.bytes");
	free(val);

	/* Room for the setting, then retention frees the rest. */
	cr_assert(unlink(ballast_path) == 0);
	H_SH_OK("setfattr -n user.retention.bytes -v 0 $MNT/old");
	cr_assert(h_wait_for(old_retained, NULL, 10000),
		  "retention left %llu segments of old after 10 s",
		  (unsigned long long)r_xattr_u64(h_mnt("old"), "user.topicfs.segments"));
	writes_resume(&w, 5000);
	cr_assert(close(w.fd) == 0, "close t/log: %s", strerror(errno));
	assert_log("t/log", &w.acked, "after retention freed space");
	assert_suffix("old", &old);

	h_remount();
	assert_log("t/log", &w.acked, "after a remount");
	assert_suffix("old", &old);
	cr_log_info("fullspace (retention): %ld writes refused with ENOSPC; %zu acknowledged "
		    "bytes intact",
		    w.enospc, w.acked.len);
	h_buf_free(&w.acked);
	h_buf_free(&old);
}
