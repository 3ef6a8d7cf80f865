/*
** test_offsets.c: offset files TOPIC/N (SPEC.md, "The namespace"): any
** decimal N, padded or not, reads the records from offset N on, is never
** listed, and grows as records arrive so that `tail -f TOPIC/N` follows.
** (N below the first retained offset belongs to the retention tests.)
*/
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

TestSuite(offsets, .init = h_setup, .fini = h_teardown, .timeout = 90);

/* Record I's line: its offset is I when records are appended from 0. */
static void add_record(struct h_buf *b, int i)
{
	h_buf_printf(b, "rec-%03d %.*s\n", i, i % 17, "................");
}

/* Append records FIRST..LAST (inclusive) to t, one write() for all. */
static void append_records(int first, int last)
{
	struct h_buf b = { 0 };
	int fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);

	cr_assert(fd >= 0, "open t/log: %s", strerror(errno));
	for (int i = first; i <= last; i++)
		add_record(&b, i);
	cr_assert_eq(write(fd, b.p, b.len), (ssize_t)b.len, "write: %s", strerror(errno));
	close(fd);
	h_buf_free(&b);
}

/* The topic t with records 0..99. */
static void make_t(void)
{
	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	append_records(0, 99);
}

/* t/NAME must read exactly the records FIRST..99, and stat must agree. */
static void assert_offset_file(const char *name, int first)
{
	struct h_buf want = { 0 };
	size_t len;
	char *got;

	for (int i = first; i <= 99; i++)
		add_record(&want, i);
	got = h_read_file(h_mnt("t/%s", name), &len);
	cr_assert(got != NULL, "read t/%s: %s", name, strerror(errno));
	H_ASSERT_BYTES(got, len, want.p ? want.p : "", want.len, "content of t/%s", name);
	cr_assert_eq(h_file_size(h_mnt("t/%s", name)), (long long)want.len,
		     "st_size of t/%s is not the length of its records", name);
	free(got);
	h_buf_free(&want);
}

Test(offsets, read_from_offset)
{
	make_t();
	assert_offset_file("0", 0);
	assert_offset_file("50", 50);
	assert_offset_file("00050", 50);
	assert_offset_file("99", 99);
	assert_offset_file("100", 100); /* the end: empty */
	assert_offset_file("5000", 5000); /* beyond it: empty */
	H_SH_OK("cmp $MNT/t/0 $MNT/t/log && cat $MNT/t/98 | cmp - <(tail -n 2 $MNT/t/log)");
}

/* Offset files are never listed: t holds log and 20-digit segment names. */
Test(offsets, offset_files_are_not_listed)
{
	struct dirent *e;
	DIR *d;

	make_t();
	h_file_size(h_mnt("t/50")); /* looked up once, in case that lists it */
	d = opendir(h_mnt("t"));
	cr_assert(d != NULL, "opendir t: %s", strerror(errno));
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		bool segment = n == 24 && strcmp(e->d_name + 20, ".log") == 0 &&
			       strspn(e->d_name, "0123456789") == 20;

		cr_expect(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
				  strcmp(e->d_name, "log") == 0 ||
				  strcmp(e->d_name, "consumers") == 0 || segment,
			  "readdir of a topic lists \"%s\"", e->d_name);
	}
	closedir(d);
}

/* Names that are not decimal offsets do not exist. */
Test(offsets, other_names_do_not_exist)
{
	static const char *names[] = { "abc", "-1", "+5", "12x", "1.5", "0x10", "log2" };

	make_t();
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		int fd = open(h_mnt("t/%s", names[i]), O_RDONLY);

		cr_expect(fd < 0 && errno == ENOENT, "open t/%s: want ENOENT, got %s", names[i],
			  fd < 0 ? strerror(errno) : "success");
		if (fd >= 0)
			close(fd);
	}
}

/* An open offset file grows: the next read returns just the new records. */
Test(offsets, open_offset_file_grows)
{
	struct h_buf want = { 0 };
	char buf[4096];
	ssize_t n;
	int fd;

	make_t();
	fd = open(h_mnt("t/95"), O_RDONLY);
	cr_assert(fd >= 0, "open t/95: %s", strerror(errno));
	for (int i = 95; i <= 99; i++)
		add_record(&want, i);
	n = read(fd, buf, sizeof buf);
	H_ASSERT_BYTES(buf, n < 0 ? 0 : (size_t)n, want.p, want.len, "first read of t/95");
	cr_assert_eq(read(fd, buf, sizeof buf), 0, "t/95 must be at EOF");

	append_records(100, 104);
	h_buf_free(&want);
	for (int i = 100; i <= 104; i++)
		add_record(&want, i);
	n = read(fd, buf, sizeof buf);
	H_ASSERT_BYTES(buf, n < 0 ? 0 : (size_t)n, want.p, want.len, "read of t/95 after appends");
	close(fd);
	h_buf_free(&want);
}

struct follower {
	pid_t pid;
	char out[PATH_MAX];
	size_t want_len;
};

static bool has_open(void *arg)
{
	struct follower *f = arg;

	return h_has_open(f->pid, h_mnt("t/150"));
}

static bool printed_all(void *arg)
{
	struct follower *f = arg;

	return h_file_size(f->out) >= (long long)f->want_len;
}

/*
** `tail -f t/150` started while t ends at 100 prints nothing until record
** 150 arrives, then exactly records 150..199.
*/
Test(offsets, tail_f_follows_from_offset)
{
	struct h_buf want = { 0 };
	struct follower f = { 0 };
	char *argv[] = { "tail", "-f", NULL, NULL };
	size_t len, err_len;
	char *got, *err;

	make_t();
	for (int i = 150; i <= 199; i++)
		add_record(&want, i);
	snprintf(f.out, sizeof f.out, "%s", h_work("tail.out"));
	f.want_len = want.len;
	argv[2] = (char *)h_mnt("t/150");
	f.pid = h_spawn(argv, f.out, h_work("tail.err"));
	cr_assert(h_wait_for(has_open, &f, 10000), "tail never opened t/150");
	h_sleep_ms(700);

	for (int i = 100; i <= 199; i++) {
		append_records(i, i);
		h_sleep_ms(20);
	}
	h_wait_for(printed_all, &f, 15000);
	h_sleep_ms(2500); /* tail polls once a second: a repeat would show */
	h_stop(f.pid);

	got = h_read_file(f.out, &len);
	err = h_read_file(h_work("tail.err"), &err_len);
	cr_assert(got != NULL && err != NULL);
	cr_expect(strstr(err, "truncated") == NULL, "tail said: %s", err);
	H_ASSERT_BYTES(got, len, want.p, want.len, "what tail -f t/150 printed (stderr: \"%s\")",
		       err);
	free(got);
	free(err);
	h_buf_free(&want);
}

static long long start_offset(void)
{
	char *v = h_getxattr(h_mnt("t"), "user.topicfs.start_offset");
	long long n = v ? atoll(v) : -1;

	free(v);
	return n;
}

/* Wait until retention has moved t's first retained offset past FROM. */
static long long wait_start_past(long long from)
{
	for (int i = 0; i < 200 && start_offset() <= from; i++)
		h_sleep_ms(50);
	cr_assert_gt(start_offset(), from, "retention did not move t's start past %lld", from);
	return start_offset();
}

/*
** An offset (or time) file whose first record is the first retained one
** is the log itself, so retention removing more and the kernel forgetting
** the inode (drop_caches: a later lookup resolves the file anew) cannot
** move its start on: its size never shrinks, and it reads as the log.
** (Found by an audit: TOPIC/0 went from 31800 to 4240 bytes.)
*/
Test(offsets, start_survives_retention_and_a_forgotten_inode)
{
	const char *names[] = { "0", "@0" };
	long long before[2], start;
	size_t len, loglen;
	char *got, *log;

	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	cr_assert(setxattr(h_mnt("t"), "user.segment.bytes", "2048", 4, 0) == 0);
	for (int i = 0; i < 400; i += 20) /* batches of 20: segments roll */
		append_records(i, i + 19);
	cr_assert(setxattr(h_mnt("t"), "user.retention.bytes", "2048", 4, 0) == 0);
	start = wait_start_past(0);
	for (int i = 0; i < 2; i++)
		before[i] = h_file_size(h_mnt("t/%s", names[i]));
	/* More removed, nothing appended: a start that moved on would shrink
	** the file. */
	cr_assert(setxattr(h_mnt("t"), "user.retention.bytes", "1", 1, 0) == 0);
	wait_start_past(start);
	H_SH_OK("sync; echo 2 > /proc/sys/vm/drop_caches");
	log = h_read_file(h_mnt("t/log"), &loglen);
	cr_assert(log != NULL);
	for (int i = 0; i < 2; i++) {
		long long after = h_file_size(h_mnt("t/%s", names[i]));
		cr_expect_geq(after, before[i], "st_size of t/%s shrank from %lld to %lld", names[i],
			      before[i], after);
		got = h_read_file(h_mnt("t/%s", names[i]), &len);
		cr_assert(got != NULL);
		H_ASSERT_BYTES(got, len, log, loglen, "t/%s against t/log", names[i]);
		free(got);
	}
	free(log);
}
