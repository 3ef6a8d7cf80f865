/*
** test_inplace.c: the kernel's reads for a private mapping get the bytes
** where they lie (README, "Mappings"), on topics that retention or
** compaction thinned out; every other read skips what was removed.
**
** A mapping's pages are filled by reads at their positions: a page that
** came back shifted or short ended the file for the kernel, and the reader
** died of SIGBUS. Now removed bytes read as zeros, a damaged record fails
** its page, and a segment file keeps mapping the segment it opened.
** Readers that read(), from 0, after seeking back or from a seek into the
** removed prefix, still never see a zero. Each test compares with `cat
** TOPIC/log`, the sequential reader, which the other suites check against
** what was written.
*/
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* A new keyed topic in 4 KiB segments, compacted as it goes, with
** compression.type COMPRESSION; its log opened for appending. */
static int new_compacted(const char *topic, const char *compression)
{
	int fd;

	cr_assert(mkdir(h_mnt("%s", topic), 0755) == 0);
	set(topic, "user.segment.bytes", "4096");
	set(topic, "user.cleanup.policy", "compact");
	set(topic, "user.key.separator", "=");
	set(topic, "user.min.cleanable.dirty.ratio", "0.01");
	set(topic, "user.compression.type", compression);
	fd = open(h_mnt("%s/log", topic), O_WRONLY | O_APPEND);
	cr_assert(fd >= 0);
	return fd;
}

/* 8 keys updated 160 times, 300-byte values, and a key written once every
** 20 lines, so that compaction leaves gaps between records it keeps. */
static void write_compacted(const char *topic)
{
	int fd = new_compacted(topic, "none");

	for (int i = 1; i <= 160; i++) {
		char line[400];
		int n = i % 20 == 0 ? snprintf(line, sizeof line, "once%d=kept %04d\n", i, i)
				    : snprintf(line, sizeof line, "key%d=update %04d %0300d\n", i % 8,
					       i, 0);
		cr_assert_eq(write(fd, line, (size_t)n), n);
		if (i % 20 == 0)
			h_sleep_ms(120); /* let passes compact in between */
	}
	close(fd);
}

/* 900 updates of 300 keys in random order, so that the records kept
** (each key's last) lie all over the log with gaps between them; sealed
** segments zstd-compressed. */
static void write_keyed_random(const char *topic)
{
	struct h_rng rng;
	int fd = new_compacted(topic, "zstd");

	h_rng_seed(&rng, 5);
	for (int i = 0; i < 900; i++) {
		char line[300];
		int n = snprintf(line, sizeof line, "key%03u=update %03d %0190d\n",
				 h_rng_below(&rng, 300), i, 0);
		cr_assert_eq(write(fd, line, (size_t)n), n);
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

/* A private mapping of FILE (of size bytes): every page there (no
** SIGBUS), and without its zero bytes, what cat reads. Returns the number
** of zero runs between non-zero bytes (gaps between kept records). */
static int expect_mapping_matches(const char *file, const char *all, size_t len)
{
	struct stat st;
	struct h_buf kept = { 0 };
	int fd = open(file, O_RDONLY), inner = 0;
	unsigned char *m;

	cr_assert(fd >= 0, "open %s: %s", file, strerror(errno));
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
		inner += kept.len > 0 && j > i && j < st.st_size && m[j - 1] == 0;
		i = j;
	}
	H_ASSERT_BYTES(kept.p, kept.len, all, len, "the mapping of %s without its zeros", file);
	/* The newest bytes are where st_size says. */
	cr_assert(len > 0 && m[st.st_size - 1] == (unsigned char)all[len - 1]);
	munmap(m, (size_t)st.st_size);
	close(fd);
	h_buf_free(&kept);
	return inner;
}

Test(inplace, mmap_of_a_thinned_log)
{
	size_t len;
	char *all;

	h_mount("maintenance.interval.ms=50");
	write_trimmed("t");
	all = settled_log("t", &len);
	cr_assert_lt(len, 10000, "retention removed nothing: %zu bytes", len);
	expect_mapping_matches(h_mnt("t/log"), all, len);
	free(all);
	write_compacted("kv");
	all = settled_log("kv", &len);
	cr_assert_gt(expect_mapping_matches(h_mnt("kv/log"), all, len), 0,
		     "compaction left no gap between kept records: the test proves little");
	free(all);
}

/* A segment file mapped before retention removed its segment still maps
** the segment's records, as its read() still reads them. */
Test(inplace, mmap_of_a_segment_file_after_retention)
{
	size_t len;
	char *seg;
	int fd;
	unsigned char *m;
	struct stat st;

	h_mount("maintenance.interval.ms=50");
	cr_assert(mkdir(h_mnt("t"), 0755) == 0);
	set("t", "user.segment.bytes", "4096");
	H_SH_OK("for i in $(seq 200); do echo \"line $i of the first segments\"; done >> $MNT/t/log");
	seg = h_read_file(h_mnt("t/00000000000000000000.log"), &len);
	cr_assert(seg != NULL && len > 1000);
	fd = open(h_mnt("t/00000000000000000000.log"), O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert(fstat(fd, &st) == 0 && (size_t)st.st_size == len);
	m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0); /* no page read yet */
	cr_assert(m != MAP_FAILED, "mmap: %s", strerror(errno));
	set("t", "user.retention.bytes", "1");
	for (int i = 0; i < 100 && access(h_work("data/topics/t/00000000000000000000.log"), F_OK) == 0;
	     i++)
		h_sleep_ms(50);
	cr_assert(access(h_work("data/topics/t/00000000000000000000.log"), F_OK) != 0,
		  "retention kept the first segment");
	H_ASSERT_BYTES(m, len, seg, len, "the mapped segment after retention removed it");
	munmap(m, len);
	close(fd);
	free(seg);
}

/* A record that fails its check fails the mapping's page (SIGBUS in the
** reader, as an I/O error would), instead of reading as zeros. */
Test(inplace, mmap_of_a_damaged_record_fails_its_page)
{
	int st, fd;
	pid_t pid;

	h_mount("compression.type=none");
	cr_assert(mkdir(h_mnt("t"), 0755) == 0);
	H_SH_OK("for i in $(seq 100); do echo \"record $i\"; done >> $MNT/t/log");
	h_umount();
	/* A byte of record 50's text, in the only segment, flipped. */
	H_SH_OK("f=$WORK/data/topics/t/00000000000000000000.log;"
		" p=$(grep -boa 'record 50' $f | head -1 | cut -d: -f1);"
		" printf 'X' | dd of=$f bs=1 seek=$((p + 1)) conv=notrunc status=none");
	h_mount("compression.type=none");
	fd = open(h_mnt("t/log"), O_RDONLY);
	cr_assert(fd >= 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct stat s;
		volatile unsigned char sum = 0;
		unsigned char *m;
		if (fstat(fd, &s) != 0)
			_exit(2);
		m = mmap(NULL, (size_t)s.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED)
			_exit(3);
		for (off_t i = 0; i < s.st_size; i++)
			sum += m[i];
		_exit(0); /* every byte read: the damage went unseen */
	}
	close(fd);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
#ifdef __SANITIZE_ADDRESS__
	/* AddressSanitizer catches the SIGBUS, reports it and exits 1. */
	if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
		return;
#endif
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS,
		  "a mapping over a damaged record: the reader %s %d, not killed by SIGBUS",
		  WIFSIGNALED(st) ? "died of signal" : "exited", WIFSIGNALED(st) ? WTERMSIG(st)
										: WEXITSTATUS(st));
}

/* Readers that read() keep skipping, never a zero: from 0, after a rewind
** to 0, after seeking back (within what they read, or to 0 with a read
** that ends where the one before began), and from a first read inside the
** removed prefix. */
Test(inplace, forward_readers_never_see_zeros)
{
	size_t len, got = 0;
	char *all, *buf;
	int fd;
	ssize_t n;

	h_mount("maintenance.interval.ms=50");
	write_trimmed("t");
	all = settled_log("t", &len);
	buf = malloc(len + 8192);
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
	cr_assert(lseek(fd, 1000, SEEK_SET) == 1000); /* back, into the prefix */
	n = read(fd, buf, 4096);
	cr_assert(n > 0 && memchr(buf, 0, (size_t)n) == NULL && memcmp(buf, all, (size_t)n) == 0,
		  "a read at 1000 after reading it all did not get the first records");
	n = pread(fd, buf, 4096, 4096); /* in the removed prefix */
	cr_assert(n > 0);
	n = pread(fd, buf, 4096, 0); /* ends where the previous read began */
	cr_assert(n > 0 && memchr(buf, 0, (size_t)n) == NULL && memcmp(buf, all, (size_t)n) == 0,
		  "a read at 0 right before a read at 4096 did not get the first records");
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

/* The last n lines of text[0, len) (all of it when it has fewer). */
static const char *last_lines(const char *text, size_t len, int n)
{
	size_t at = len;

	while (at > 0 && n > 0) {
		at--; /* onto the "\n" that ends the line before */
		while (at > 0 && text[at - 1] != '\n')
			at--;
		n--;
	}
	return text + at;
}

/* `tail -n N` of TOPIC/log, once it has settled and removed enough for
** tail's windows to fall in a gap, prints the last N lines of what cat
** reads. */
static void expect_tail_matches(const char *topic)
{
	static const int ns[] = { 1, 2, 3, 10, 40, 100, 150, 240, 1000, 100000 };
	size_t len;
	char *all = settled_log(topic, &len);

	cr_assert_lt((long long)len + 16384, h_file_size(h_mnt("%s/log", topic)),
		     "%s: too little removed for tail's windows to fall in a gap", topic);

	for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
		char count[16], *out = NULL, *err = NULL;
		char *argv[] = { "tail", "-n", count, (char *)h_mnt("%s/log", topic), NULL };
		const char *want = last_lines(all, len, ns[i]);

		snprintf(count, sizeof count, "%d", ns[i]);
		cr_assert_eq(h_run(argv, 10000, &out, &err), 0, "tail -n %d %s/log: %s", ns[i],
			     topic, err);
		H_ASSERT_BYTES(out, strlen(out), want, (size_t)(all + len - want),
			       "tail -n %d %s/log", ns[i], topic);
		free(out);
		free(err);
	}
	free(all);
}

/*
** tail finds the last lines by reading back from the end in 8 KiB windows
** it places by offset. A window in the removed prefix, or between records
** compaction kept, used to get the next retained bytes, lines tail had
** counted already, and tail printed too few. A window right before the one
** read last now gets the retained bytes before it.
*/
Test(inplace, tail_n_of_a_thinned_log)
{
	h_mount("maintenance.interval.ms=50");
	write_trimmed("t"); /* a removed prefix */
	expect_tail_matches("t");
	write_compacted("kv"); /* gaps between the records kept */
	expect_tail_matches("kv");
	write_keyed_random("many"); /* gaps all over: tail finds its lines in windows read back */
	expect_tail_matches("many");
}

/* tac reads back from the end too: every line once, newest first; the
** zeros its scan read before the first retained record come out with the
** oldest line, as they would from a file whose removed prefix is a hole. */
Test(inplace, tac_of_a_thinned_log)
{
	size_t len;
	char *all, *out;
	struct h_buf want = { 0 };

	h_mount("maintenance.interval.ms=50");
	write_compacted("kv");
	/* A size that is a multiple of 8 KiB: tac then reads again at the end
	** after its first window, which must not end the scan. */
	long long size = h_file_size(h_mnt("kv/log"));
	char pad[8200];
	size_t pad_len = (size_t)(8192 - size % 8192);
	memset(pad, 'p', pad_len - 1);
	pad[pad_len - 1] = '\n';
	int fd = open(h_mnt("kv/log"), O_WRONLY | O_APPEND);
	cr_assert(fd >= 0);
	cr_assert_eq(h_write_all(fd, pad, pad_len), 0);
	close(fd);
	all = settled_log("kv", &len);
	cr_assert_eq(h_file_size(h_mnt("kv/log")) % 8192, 0);
	for (size_t end = len; end > 0;) { /* the lines, last first */
		size_t at = end - 1;
		while (at > 0 && all[at - 1] != '\n')
			at--;
		h_buf_add(&want, all + at, end - at);
		end = at;
	}
	size_t got_len = 0, zeros = 0;
	H_SH_OK("tac $MNT/kv/log > %s", h_work("tac.out"));
	out = h_read_file(h_work("tac.out"), &got_len);
	cr_assert(out != NULL);
	const char *last = want.len > 0 ? want.p + want.len - 1 : want.p;
	while (last > want.p && last[-1] != '\n')
		last--; /* the oldest line, tac's last */
	size_t head = (size_t)(last - want.p);
	cr_assert_geq(got_len, want.len);
	H_ASSERT_BYTES(out, head, want.p, head, "tac kv/log, all but the oldest line");
	while (head + zeros < got_len && out[head + zeros] == 0)
		zeros++;
	cr_assert_eq(zeros, got_len - want.len, "tac kv/log: zeros not only before the oldest line");
	H_ASSERT_BYTES(out + head + zeros, got_len - head - zeros, last, want.len - head,
		       "tac kv/log, its oldest line");
	free(out);
	free(all);
	h_buf_free(&want);
}
