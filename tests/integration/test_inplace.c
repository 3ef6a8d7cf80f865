/*
** test_inplace.c: reads that need the bytes where they lie (README, "Reads
** in place") on topics that retention or compaction thinned out.
**
** `tail -n N` scans a file from its end in windows it places by position,
** and a private mapping's pages are filled by the kernel at their
** positions: both must get removed bytes as zeros, not the next retained
** ones, or tail miscounts and the mapping ends early (SIGBUS). Readers
** that go forward, from 0, after a rewind or from a seek, still never see
** a zero. Each test compares with `cat TOPIC/log`, the sequential reader,
** which the other suites check against what was written.
*/
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

TestSuite(inplace, .init = h_tmp_setup, .fini = h_teardown, .timeout = 120);

static void set(const char *topic, const char *name, const char *value)
{
	cr_assert(setxattr(h_mnt("%s", topic), name, value, strlen(value), 0) == 0,
		  "setxattr %s %s=%s: %s", topic, name, value, strerror(errno));
}

/* TOPIC/log read front to back (the sequential reader); malloc'd. */
static char *cat_log(const char *topic, size_t *len)
{
	char *b = h_read_file(h_mnt("%s/log", topic), len);

	cr_assert(b != NULL, "read %s/log: %s", topic, strerror(errno));
	return b;
}

/* Wait until `cat TOPIC/log` reads the same three times in a row, 300 ms
** apart (the background thread is done), and return that; malloc'd. */
static char *settled_log(const char *topic, size_t *len)
{
	char *prev = cat_log(topic, len);
	int same = 0;

	for (int i = 0; i < 100 && same < 2; i++) {
		size_t n;
		char *now;

		h_sleep_ms(300);
		now = cat_log(topic, &n);
		same = n == *len && memcmp(now, prev, n) == 0 ? same + 1 : 0;
		free(prev);
		prev = now;
		*len = n;
	}
	cr_assert_eq(same, 2, "%s/log never settled", topic);
	return prev;
}

/* The last n lines of buf (len bytes, ending with "\n"). */
static const char *last_lines(const char *buf, size_t len, int n)
{
	const char *p = buf + len;

	while (p > buf) {
		if (p[-1] == '\n' && p != buf + len && --n == 0)
			break;
		p--;
	}
	return p;
}

/* `tail -n N TOPIC/log` prints the last N lines that cat prints. */
static void expect_tail_matches(const char *topic, const char *all, size_t len, int n)
{
	const char *want = last_lines(all, len, n);
	char *out = NULL, *err = NULL;
	char *argv[] = { "tail", "-n", h_strdupf("%d", n), (char *)h_mnt("%s/log", topic), NULL };
	int st = h_run(argv, 10000, &out, &err);

	cr_assert_eq(st, 0, "tail -n %d exited %d: %s", n, st, err ? err : "");
	H_ASSERT_BYTES(out, strlen(out), want, len - (size_t)(want - all),
		       "tail -n %d %s/log against the last %d lines of cat", n, topic, n);
	free(argv[2]);
	free(out);
	free(err);
}

/* A keyed topic in 4 KiB segments, compacted as it goes: 8 keys updated
** 160 times, 300-byte values, so that compaction leaves gaps all over. */
static void write_compacted(const char *topic)
{
	int fd;

	cr_assert(mkdir(h_mnt("%s", topic), 0755) == 0);
	set(topic, "user.segment.bytes", "4096");
	set(topic, "user.cleanup.policy", "compact");
	set(topic, "user.key.separator", "=");
	set(topic, "user.min.cleanable.dirty.ratio", "0.01");
	set(topic, "user.compression.type", "none");
	fd = open(h_mnt("%s/log", topic), O_WRONLY | O_APPEND);
	cr_assert(fd >= 0);
	for (int i = 1; i <= 160; i++) {
		char line[400];
		int n = snprintf(line, sizeof line, "key%d=update %04d %0300d\n", i % 8, i, 0);
		cr_assert_eq(write(fd, line, (size_t)n), n);
		if (i % 20 == 0)
			h_sleep_ms(120); /* let passes compact in between */
	}
	close(fd);
}

/* 1963 lines of 53 bytes in 4 KiB segments, of which retention keeps only
** the newest segment: a removed prefix of about 100 KB. */
static void write_trimmed(const char *topic)
{
	struct h_buf b = { 0 };
	int fd;

	cr_assert(mkdir(h_mnt("%s", topic), 0755) == 0);
	set(topic, "user.segment.bytes", "4096");
	set(topic, "user.retention.bytes", "1");
	fd = open(h_mnt("%s/log", topic), O_WRONLY | O_APPEND);
	cr_assert(fd >= 0);
	for (int i = 0; i < 1963; i++) {
		h_buf_printf(&b, "line %06d %s\n", i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		if (i % 3 == 0 || i == 1962) { /* a line or three a write */
			cr_assert_eq(h_write_all(fd, b.p, b.len), 0);
			b.len = 0;
		}
	}
	close(fd);
	h_buf_free(&b);
}

Test(inplace, tail_n_of_a_compacted_topic)
{
	size_t len;
	char *all;

	h_mount("maintenance.interval.ms=50");
	write_compacted("kv");
	all = settled_log("kv", &len);
	cr_assert_lt(len, 160 * 318, "nothing was compacted away");
	for (int n = 1; n <= 30; n++)
		expect_tail_matches("kv", all, len, n);
	free(all);
}

Test(inplace, tail_n_after_retention)
{
	size_t len;
	char *all;

	h_mount("maintenance.interval.ms=50");
	write_trimmed("t");
	all = settled_log("t", &len);
	cr_assert_lt(len, 10000, "retention removed nothing: %zu bytes", len);
	for (int n = 1; n <= 40; n += 3)
		expect_tail_matches("t", all, len, n);
	free(all);
}

/* A private mapping of TOPIC/log: every page there (no SIGBUS), removed
** bytes as zeros, and the rest, in order, what cat reads. */
static void expect_mapping_matches(const char *topic, const char *all, size_t len)
{
	struct stat st;
	struct h_buf kept = { 0 };
	int fd = open(h_mnt("%s/log", topic), O_RDONLY);
	unsigned char *m;

	cr_assert(fd >= 0);
	cr_assert(fstat(fd, &st) == 0);
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	cr_assert(m != MAP_FAILED, "mmap: %s", strerror(errno));
	for (off_t i = 0; i < st.st_size;) { /* the runs of non-zero bytes */
		off_t j = i;
		while (j < st.st_size && m[j] != 0)
			j++;
		h_buf_add(&kept, m + i, (size_t)(j - i));
		while (j < st.st_size && m[j] == 0)
			j++;
		i = j;
	}
	H_ASSERT_BYTES(kept.p, kept.len, all, len, "the mapping of %s/log without its zeros", topic);
	/* The newest bytes are where st_size says. */
	cr_assert(len > 0 && memcmp(m + st.st_size - 1, all + len - 1, 1) == 0);
	munmap(m, (size_t)st.st_size);
	close(fd);
	h_buf_free(&kept);
}

Test(inplace, mmap_of_a_thinned_log)
{
	size_t len;
	char *all;

	h_mount("maintenance.interval.ms=50");
	write_trimmed("t");
	all = settled_log("t", &len);
	expect_mapping_matches("t", all, len);
	free(all);
	write_compacted("kv");
	all = settled_log("kv", &len);
	expect_mapping_matches("kv", all, len);
	free(all);
}

/* Forward readers keep skipping: a read from 0, a rewind to 0 after a
** whole read, and a first read inside the removed prefix all get the
** retained records, never a zero. */
Test(inplace, forward_readers_never_see_zeros)
{
	size_t len, got = 0;
	char *all, *buf;
	int fd;
	ssize_t n;

	h_mount("maintenance.interval.ms=50");
	write_trimmed("t");
	all = settled_log("t", &len);
	buf = malloc(len + 4096);
	cr_assert(buf != NULL);
	fd = open(h_mnt("t/log"), O_RDONLY);
	cr_assert(fd >= 0);
	for (int pass = 0; pass < 2; pass++) {
		got = 0;
		while ((n = read(fd, buf + got, 4096)) > 0)
			got += (size_t)n;
		H_ASSERT_BYTES(buf, got, all, len, "pass %d of a read from 0", pass);
		cr_assert(lseek(fd, 0, SEEK_SET) == 0);
	}
	close(fd);
	fd = open(h_mnt("t/log"), O_RDONLY);
	cr_assert(fd >= 0);
	n = pread(fd, buf, 4096, 1000); /* inside the removed prefix */
	cr_assert(n > 0 && (size_t)n <= len && memcmp(buf, all, (size_t)n) == 0,
		  "a first read at 1000, in the removed prefix, did not get the first records");
	close(fd);
	free(buf);
	free(all);
}
