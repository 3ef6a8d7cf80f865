/*
** test_follow.c: GNU `tail -f` and `tail -F` follow a topic (SPEC.md, "Byte
** positions: why tail -f keeps working").
**
** tail polls st_size about once a second on FUSE; it must see every line
** exactly once, in order, across segment rolls (the mount uses small
** segments), and never print "file truncated".
*/
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEGMENT_BYTES 16384

static void setup(void)
{
	h_mount("segment.bytes=16384");
}

TestSuite(follow, .init = setup, .fini = h_teardown, .timeout = 120);

/* Line I of a follow test: varied lengths, its number first. */
static size_t format_line(char *buf, size_t cap, int i)
{
	static const char pad[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP";

	return (size_t)snprintf(buf, cap, "follow %05d %.*s\n", i, i % 53, pad);
}

/*
** Append lines FIRST..FIRST+COUNT-1 to TOPIC/log, one write() per line, line
** k at k*PACE_MS after the start. Adds each line to WANT.
*/
static void append_paced(const char *topic, int first, int count, int pace_ms, struct h_buf *want)
{
	int fd = open(h_mnt("%s/log", topic), O_WRONLY | O_APPEND);
	int64_t start = h_now_ms();

	cr_assert(fd >= 0, "open %s/log: %s", topic, strerror(errno));
	for (int k = 0; k < count; k++) {
		char line[128];
		size_t len = format_line(line, sizeof line, first + k);
		int64_t due = start + (int64_t)k * pace_ms;

		if (h_now_ms() < due)
			h_sleep_ms((long)(due - h_now_ms()));
		cr_assert_eq(write(fd, line, len), (ssize_t)len, "write of line %d: %s", first + k,
			     strerror(errno));
		h_buf_add(want, line, len);
	}
	close(fd);
}

struct follower {
	const char *flag; /* "-f" or "-F" */
	pid_t pid;
	char out[PATH_MAX];
	char err[PATH_MAX];
};

static bool has_log_open(void *arg)
{
	struct follower *f = arg;

	return h_has_open(f->pid, h_mnt("t/log"));
}

/* Start `tail FLAG $MNT/t/log` and wait until it has the file open. */
static void start_follower(struct follower *f, const char *flag)
{
	char *argv[] = { "tail", (char *)flag, (char *)h_mnt("t/log"), NULL };

	f->flag = flag;
	snprintf(f->out, sizeof f->out, "%s", h_work("tail%s.out", flag));
	snprintf(f->err, sizeof f->err, "%s", h_work("tail%s.err", flag));
	f->pid = h_spawn(argv, f->out, f->err);
	cr_assert(h_wait_for(has_log_open, f, 10000), "tail %s never opened t/log", flag);
	/* tail reads what is there right after opening; let it reach its
	 * polling loop before lines arrive, or the first ones would count as
	 * existing content (of which it prints only the last 10). */
	h_sleep_ms(700);
}

struct reach {
	const struct follower *f;
	size_t len;
};

static bool output_reached(void *arg)
{
	struct reach *r = arg;

	return h_file_size(r->f->out) >= (long long)r->len;
}

/*
** Wait until the follower has printed WANT's length (up to 15 s), then 2.5 s
** more so that a repeated line would show, stop it and compare.
*/
static void check_follower(struct follower *f, const struct h_buf *want)
{
	struct reach r = { f, want->len };
	size_t out_len, err_len;
	char *out, *err;

	h_wait_for(output_reached, &r, 15000);
	h_sleep_ms(2500);
	h_stop(f->pid);
	out = h_read_file(f->out, &out_len);
	err = h_read_file(f->err, &err_len);
	cr_assert(out != NULL && err != NULL, "read tail's output: %s", strerror(errno));
	cr_expect(strstr(err, "truncated") == NULL, "tail %s said: %s", f->flag, err);
	H_ASSERT_BYTES(out, out_len, want->p, want->len,
		       "what tail %s printed (its stderr: \"%s\")", f->flag, err);
	free(out);
	free(err);
}

/*
** 2,000 lines over ~10 s into an empty topic, followed by tail -f and
** tail -F at once: each prints every line exactly once, in order.
*/
Test(follow, tail_f_and_F_see_every_line_once)
{
	struct follower f, F;
	struct h_buf want = { 0 };

	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	start_follower(&f, "-f");
	start_follower(&F, "-F");
	append_paced("t", 0, 2000, 5, &want);
	cr_assert(want.len > 3 * SEGMENT_BYTES, "the test must cross segment rolls");
	check_follower(&f, &want);
	check_follower(&F, &want);
	h_buf_free(&want);
}

/*
** On a topic with content, tail -f starts with its last 10 lines (it reads
** backwards from st_size) and then follows.
*/
Test(follow, tail_f_starts_with_last_ten_lines)
{
	struct h_buf all = { 0 }, want = { 0 };
	struct follower f;
	const char *p;
	int nl = 0;

	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	append_paced("t", 0, 1000, 0, &all);

	/* The last 10 lines of what is there. */
	for (p = all.p + all.len - 1; p > all.p; p--)
		if (*(p - 1) == '\n' && ++nl == 10)
			break;
	h_buf_add(&want, p, all.len - (size_t)(p - all.p));

	start_follower(&f, "-f");
	append_paced("t", 1000, 300, 10, &want);
	check_follower(&f, &want);
	h_buf_free(&all);
	h_buf_free(&want);
}
