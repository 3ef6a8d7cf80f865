/*
** test_readahead.c: reads of a file that a readahead window serves (see
** fs/readahead.h: after two full reads in a row, a worker reads on ahead).
** Whatever the reader does (sequential reads of any size, jumps back and
** forth, a reader that catches up with a writer, closing with the worker
** busy, many readers at once), every read returns exactly the bytes at its
** offset, as a plain file would.
*/
#include "harness.h"
#include "maint_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

TestSuite(readahead, .init = h_tmp_setup, .fini = h_teardown, .timeout = 120);

/* About MB MiB of lines of varied length, deterministic from SEED. */
static void make_lines(struct h_buf *b, struct h_rng *rng, size_t mb)
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789 /-_";

	while (b->len < mb << 20) {
		size_t n = h_rng_below(rng, 10) == 0 ? h_rng_below(rng, 4000) : h_rng_below(rng, 300);
		char line[4096];

		for (size_t i = 0; i < n; i++)
			line[i] = alpha[h_rng_below(rng, sizeof alpha - 1)];
		line[n] = '\n';
		h_buf_add(b, line, n + 1);
	}
}

static void append(const char *topic, const char *p, size_t len)
{
	int fd = open(h_mnt("%s/log", topic), O_WRONLY | O_APPEND);

	cr_assert(fd >= 0, "open %s/log: %s", topic, strerror(errno));
	cr_assert_eq(h_write_all(fd, p, len), 0, "write %s/log", topic);
	close(fd);
}

/* Mount with OPTS and make topic t holding about MB MiB of lines from SEED
** (the same lines every time), which go to WANT. */
static void make_t(const char *opts, uint64_t seed, size_t mb, struct h_rng *rng,
		   struct h_buf *want)
{
	h_rng_seed(rng, seed);
	h_mount(opts);
	cr_assert(mkdir(h_mnt("t"), 0755) == 0);
	make_lines(want, rng, mb);
	append("t", want->p, want->len);
}

/* Read exactly what a plain file would give: len bytes at off (fewer at
** the end), checked against want. */
static size_t check_read(int fd, size_t size, uint64_t off, const struct h_buf *want,
			 const char *what)
{
	static char buf[1 << 20];
	size_t expect = off >= want->len ? 0 : want->len - off;
	ssize_t n;

	if (expect > size)
		expect = size;
	n = pread(fd, buf, size, (off_t)off);
	cr_assert(n >= 0, "%s: pread of %zu at %llu: %s", what, size, (unsigned long long)off,
		  strerror(errno));
	/* direct_io: a read may come back short only at the end */
	H_ASSERT_BYTES(buf, (size_t)n, want->p + (off < want->len ? off : want->len), expect,
		       "%s: %zu bytes at %llu", what, size, (unsigned long long)off);
	return (size_t)n;
}

/* Whether t has rolled several segments and all of them are compressed
** (the newest segment never is). */
static bool compressed(void *arg)
{
	static struct m_seg segs[M_MAX_SEGS];
	size_t n = m_disk_segments("t", segs);

	(void)arg;
	for (size_t i = 0; i + 1 < n; i++)
		if (!(segs[i].flags & M_SEG_FLAG_ZSTD))
			return false;
	return n > 3;
}

/*
** Sequential reads of random sizes, with a jump now and then (back, ahead,
** past the end), over segments plain or compressed.
*/
static void random_walk(const char *compression, uint64_t seed)
{
	struct h_buf want = { 0 };
	struct h_rng rng;
	uint64_t off = 0;
	char opts[128];
	int fd;

	snprintf(opts, sizeof opts, "segment.bytes=1048576,maintenance.interval.ms=20,compression.type=%s",
		 compression);
	make_t(opts, seed, 6, &rng, &want);
	/* Seal the newest segment so that all of them get compressed. */
	cr_assert(setxattr(h_mnt("t"), "user.segment.ms", "1", 1, 0) == 0);
	if (strcmp(compression, "zstd") == 0)
		cr_assert(h_wait_for(compressed, NULL, 30000), "t was not compressed in 30 s");

	fd = open(h_mnt("t/log"), O_RDONLY);
	cr_assert(fd >= 0, "open t/log: %s", strerror(errno));
	for (int step = 0; step < 2000; step++) {
		size_t size;
		uint32_t r = h_rng_below(&rng, 100);

		if (r < 3)
			off = h_rng_below(&rng, (uint32_t)want.len); /* anywhere */
		else if (r < 5)
			off = off > 5000 ? off - h_rng_below(&rng, 5000) : 0; /* a little back */
		else if (r < 6)
			off += h_rng_below(&rng, 100000); /* ahead, maybe past the end */
		if (off >= want.len && h_rng_below(&rng, 2))
			off = 0; /* start over */
		size = h_rng_below(&rng, 4) == 0 ? 1 + h_rng_below(&rng, 300000) : 131072;
		off += check_read(fd, size, off, &want, compression);
	}
	close(fd);
	h_buf_free(&want);
}

Test(readahead, random_walk_plain)
{
	random_walk("none", 1);
}

Test(readahead, random_walk_zstd)
{
	random_walk("zstd", 2);
}

/*
** A reader reading 128 KiB at a time while a writer appends in bursts: it
** keeps meeting the end (the window runs dry) and going on (the window
** starts again); in the end it has read exactly what was written.
*/
Test(readahead, reader_catches_up_with_a_writer)
{
	struct h_buf want = { 0 }, got = { 0 };
	struct h_rng rng;
	size_t written = 0;
	int64_t deadline;
	int fd;

	h_rng_seed(&rng, 3);
	h_mount("segment.bytes=2097152");
	cr_assert(mkdir(h_mnt("t"), 0755) == 0);
	make_lines(&want, &rng, 8);
	fd = open(h_mnt("t/log"), O_RDONLY);
	cr_assert(fd >= 0);
	deadline = h_now_ms() + 60000;
	while (got.len < want.len) {
		char buf[131072];
		ssize_t n;

		cr_assert(h_now_ms() < deadline, "read %zu of %zu bytes in 60 s", got.len, want.len);
		if (written < want.len && h_rng_below(&rng, 3) == 0) {
			/* a burst of whole lines, up to about 1 MiB */
			size_t end = written + h_rng_below(&rng, 1 << 20);
			const char *nl;

			if (end >= want.len)
				end = want.len;
			else if ((nl = memchr(want.p + end, '\n', want.len - end)) != NULL)
				end = (size_t)(nl - want.p) + 1;
			append("t", want.p + written, end - written);
			written = end;
		}
		n = read(fd, buf, sizeof buf);
		cr_assert(n >= 0, "read: %s", strerror(errno));
		h_buf_add(&got, buf, (size_t)n);
		cr_assert(got.len <= written, "read %zu bytes, but only %zu were written", got.len,
			  written);
	}
	H_ASSERT_BYTES(got.p, got.len, want.p, want.len, "what the reader read");
	close(fd);
	h_buf_free(&want);
	h_buf_free(&got);
}

/* Closing a file whose window is being filled, over and over, and with
** other descriptors of the file open: no hang, no crash, clean unmount. */
Test(readahead, close_while_reading_ahead)
{
	struct h_buf want = { 0 };
	struct h_rng rng;

	make_t("compression.type=none", 4, 4, &rng, &want);
	int keep = open(h_mnt("t/log"), O_RDONLY);
	cr_assert(keep >= 0);
	for (int i = 0; i < 300; i++) {
		int fd = open(h_mnt("t/log"), O_RDONLY);
		uint64_t off = h_rng_below(&rng, (uint32_t)want.len);

		cr_assert(fd >= 0);
		for (int k = 0; k < 3; k++)
			off += check_read(fd, 65536, off, &want, "before close");
		close(fd);
		check_read(keep, 4096, off % want.len, &want, "another descriptor");
	}
	close(keep);
	h_buf_free(&want);
	h_umount(); /* asserts that the daemon exits 0 */
}

struct reader_arg {
	const struct h_buf *want;
	uint64_t seed;
	char err[256];
};

static void *reader(void *p)
{
	struct reader_arg *a = p;
	static __thread char buf[262144];
	struct h_rng rng;
	int fd = open(h_mnt("t/log"), O_RDONLY);
	uint64_t off;

	if (fd < 0) {
		snprintf(a->err, sizeof a->err, "open: %s", strerror(errno));
		return NULL;
	}
	h_rng_seed(&rng, a->seed);
	off = h_rng_below(&rng, (uint32_t)a->want->len);
	for (int round = 0; round < 4 && !a->err[0]; round++) {
		for (;;) {
			size_t size = 1 + h_rng_below(&rng, sizeof buf);
			ssize_t n = pread(fd, buf, size, (off_t)off);
			size_t expect = a->want->len - off < size ? a->want->len - off : size;

			if (n < 0 || (size_t)n != expect || memcmp(buf, a->want->p + off, expect) != 0) {
				snprintf(a->err, sizeof a->err,
					 "reader %llu: %zu bytes at %llu gave %zd (%s), wanted %zu",
					 (unsigned long long)a->seed, size, (unsigned long long)off, n,
					 n < 0 ? strerror(errno) : "bytes differ", expect);
				break;
			}
			if (n == 0)
				break;
			off += (uint64_t)n;
		}
		off = 0;
	}
	close(fd);
	return NULL;
}

/* More readers at once than the worker threads, and more than the windows
** a mount holds (16, fs/readahead.c): each gets its own bytes, whole and in
** order, with a window or without one. */
#define NREADERS 24
Test(readahead, many_readers_at_once)
{
	struct h_buf want = { 0 };
	struct reader_arg args[NREADERS];
	pthread_t th[NREADERS];
	struct h_rng rng;

	make_t("segment.bytes=1048576,maintenance.interval.ms=20", 5, 6, &rng, &want);
	for (int i = 0; i < NREADERS; i++) {
		args[i] = (struct reader_arg){ .want = &want, .seed = 100 + (uint64_t)i };
		cr_assert(pthread_create(&th[i], NULL, reader, &args[i]) == 0);
	}
	for (int i = 0; i < NREADERS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < NREADERS; i++)
		cr_assert(args[i].err[0] == 0, "%s", args[i].err);
	h_buf_free(&want);
}
