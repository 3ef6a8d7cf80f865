/*
** test_produce.c: producing records with real tools and reading them back
** with real tools (SPEC.md, "Records" and "The namespace").
**
** Every test keeps the bytes it expects (in memory, or in a plain file under
** $WORK when shell tools compare) and compares them byte for byte with what
** the mount serves.
*/
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(produce, .init = h_setup, .fini = h_teardown, .timeout = 90);

static void make_topic(const char *name)
{
	cr_assert(mkdir(h_mnt("%s", name), 0755) == 0, "mkdir %s: %s", name, strerror(errno));
}

static int open_log(const char *topic)
{
	int fd = open(h_mnt("%s/log", topic), O_WRONLY | O_APPEND);

	cr_assert(fd >= 0, "open %s/log for appending: %s", topic, strerror(errno));
	return fd;
}

/* One write() call that must write all of S. */
static void write_str(int fd, const char *s)
{
	ssize_t n = write(fd, s, strlen(s));

	cr_assert_eq(n, (ssize_t)strlen(s), "write(\"%s\") returned %zd: %s", s, n,
		     n < 0 ? strerror(errno) : "short write");
}

/* TOPIC/log must read back exactly WANT (LEN bytes), and stat must agree. */
static void assert_log_is(const char *topic, const void *want, size_t len, const char *what)
{
	size_t got_len;
	char *got = h_read_file(h_mnt("%s/log", topic), &got_len);

	cr_assert(got != NULL, "%s: read %s/log: %s", what, topic, strerror(errno));
	H_ASSERT_BYTES(got, got_len, want, len, "%s: content of %s/log", what, topic);
	cr_assert_eq(h_file_size(h_mnt("%s/log", topic)), (long long)len,
		     "%s: st_size of %s/log is not the length of its content", what, topic);
	free(got);
}

/* `echo >>`, one open and one line per command, read back with cmp. */
Test(produce, shell_echo_appends_lines)
{
	H_SH_OK("mkdir $MNT/t && for i in $(seq 1 200); do"
		"  echo \"line $i from the shell\" >> $MNT/t/log;"
		"  echo \"line $i from the shell\" >> $WORK/want;"
		"done && cmp $MNT/t/log $WORK/want");
}

/*
** cat, head -n, tail -n, grep and wc read exactly the expected bytes, and so
** do reads of odd sizes at arbitrary byte positions.
*/
Test(produce, readers_get_exact_bytes)
{
	static const char *levels[] = { "INFO", "WARN", "ERROR", "DEBUG" };
	struct h_buf want = { 0 };
	struct h_rng rng;
	size_t len, pos;
	char *got;
	int fd;

	make_topic("t");
	h_rng_seed(&rng, 1);
	fd = open_log("t");
	for (int i = 0; i < 3000;) {
		struct h_buf batch = { 0 };
		int n = 1 + (int)h_rng_below(&rng, 10); /* 1..10 lines per write() */

		for (int k = 0; k < n && i < 3000; k++, i++)
			h_buf_printf(&batch, "%05d %s request /item/%u took %u ms\n", i,
				     levels[h_rng_below(&rng, 4)], h_rng_below(&rng, 100000),
				     h_rng_below(&rng, 5000));
		cr_assert_eq(write(fd, batch.p, batch.len), (ssize_t)batch.len, "write: %s",
			     strerror(errno));
		h_buf_add(&want, batch.p, batch.len);
		h_buf_free(&batch);
	}
	close(fd);
	cr_assert_eq(h_write_file(h_work("want"), want.p, want.len), 0);

	H_SH_OK("cat $MNT/t/log | cmp - $WORK/want");
	H_SH_OK("cmp <(head -n 17 $MNT/t/log) <(head -n 17 $WORK/want)");
	H_SH_OK("cmp <(tail -n 25 $MNT/t/log) <(tail -n 25 $WORK/want)");
	H_SH_OK("cmp <(grep -n ERROR $MNT/t/log) <(grep -n ERROR $WORK/want)");
	H_SH_OK("test \"$(wc -l < $MNT/t/log)\" = 3000 && test \"$(wc -c < $MNT/t/log)\" = %zu",
		want.len);

	/* read() in 7-byte steps from the start */
	fd = open(h_mnt("t/log"), O_RDONLY);
	cr_assert(fd >= 0, "open: %s", strerror(errno));
	got = malloc(want.len + 7);
	for (pos = 0;;) {
		ssize_t n = read(fd, got + pos, 7);

		cr_assert(n >= 0, "read at %zu: %s", pos, strerror(errno));
		if (n == 0)
			break;
		pos += (size_t)n;
		cr_assert(pos <= want.len, "reads returned more bytes than were written");
	}
	H_ASSERT_BYTES(got, pos, want.p, want.len, "7-byte reads of t/log");

	/* pread() at random positions */
	for (int i = 0; i < 200; i++) {
		size_t off = h_rng_below(&rng, (uint32_t)want.len);
		size_t n = 1 + h_rng_below(&rng, 5000);

		if (n > want.len - off)
			n = want.len - off;
		len = (size_t)pread(fd, got, n, (off_t)off);
		cr_assert_eq(len, n, "pread(%zu bytes at %zu) returned %zd", n, off, (ssize_t)len);
		H_ASSERT_BYTES(got, len, want.p + off, n, "pread(%zu bytes at %zu)", n, off);
	}
	cr_assert_eq(pread(fd, got, 10, (off_t)want.len), 0, "pread at the end must return 0");
	close(fd);
	free(got);
	h_buf_free(&want);
}

/*
** Lines split across several writes of ONE open file are reassembled: bytes
** after the last '\n' of a write stay invisible until the line is complete.
*/
Test(produce, lines_split_across_writes)
{
	int fd;

	/* The shell: three printf builtins through one `>>` redirection. */
	H_SH_OK("mkdir $MNT/s && { printf 'ab'; printf 'c\\nde'; printf 'f\\n'; } >> $MNT/s/log"
		" && printf 'abc\\ndef\\n' | cmp - $MNT/s/log");

	/* The same with explicit write() calls, looking after each one. */
	make_topic("t");
	fd = open_log("t");
	write_str(fd, "ab");
	assert_log_is("t", "", 0, "after write(\"ab\")");
	write_str(fd, "c\nde");
	assert_log_is("t", "abc\n", 4, "after write(\"c\\nde\")");
	write_str(fd, "f\n");
	assert_log_is("t", "abc\ndef\n", 8, "after write(\"f\\n\")");
	close(fd);
	assert_log_is("t", "abc\ndef\n", 8, "after close");
}

/* A pending partial line becomes a record of its own at close and at fsync. */
Test(produce, partial_line_becomes_record_at_close_and_fsync)
{
	int fd;

	make_topic("t");
	fd = open_log("t");
	write_str(fd, "one\ntwo");
	assert_log_is("t", "one\n", 4, "before close");
	close(fd);
	assert_log_is("t", "one\ntwo\n", 8, "after close");

	H_SH_OK("printf 'three' >> $MNT/t/log");
	assert_log_is("t", "one\ntwo\nthree\n", 14, "after printf without newline");

	fd = open_log("t");
	write_str(fd, "p");
	cr_assert_eq(fsync(fd), 0, "fsync: %s", strerror(errno));
	assert_log_is("t", "one\ntwo\nthree\np\n", 16, "after fsync of a partial line");
	write_str(fd, "q\n");
	close(fd);
	assert_log_is("t", "one\ntwo\nthree\np\nq\n", 18, "a line after fsync is a new record");
}

/*
** FUSE sends a flush at every close() of a descriptor, including one that
** a forked child inherited: at the child's exit, and at its exec for a
** descriptor marked close-on-exec (Python's are). Such a close must not
** cut the writer's pending line in two; the writer's own close ends it,
** from whichever of its threads. (Found by a black-box audit: a writer
** that ran a subprocess between two parts of a line stored two records.)
*/
Test(produce, a_childs_close_leaves_the_partial_line_pending)
{
	make_topic("t");
	H_SH_OK("python3 -c '\n"
		"import os, subprocess, sys, threading\n"
		"fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)\n"
		"os.write(fd, b\"abc\")\n"
		"subprocess.run([\"true\"])\n"
		"subprocess.run([\"true\"], pass_fds=(fd,))\n"
		"pid = os.fork()\n"
		"if pid == 0:\n"
		"    os._exit(0)\n"
		"os.waitpid(pid, 0)\n"
		"os.write(fd, b\"def\\n\")\n"
		"os.write(fd, b\"ghi\")\n"
		"t = threading.Thread(target=os.close, args=(fd,))\n"
		"t.start(); t.join()\n"
		"' $MNT/t/log");
	assert_log_is("t", "abcdef\nghi\n", 11, "after a writer's children closed its descriptor");
}

/* Each open file has its own partial-line buffer. */
Test(produce, partial_lines_are_per_open_file)
{
	int a, b;

	make_topic("t");
	a = open_log("t");
	b = open_log("t");
	write_str(a, "a1");
	write_str(b, "b1\n");
	write_str(a, "a2\n");
	write_str(b, "b2");
	write_str(a, "a3\n");
	close(b);
	close(a);
	assert_log_is("t", "b1\na1a2\na3\nb2\n", 14, "two writers with partial lines");
}

/* An empty line is a record with an empty payload. */
Test(produce, empty_lines_are_records)
{
	H_SH_OK("mkdir $MNT/t && echo >> $MNT/t/log && printf 'x\\n\\n\\ny\\n' >> $MNT/t/log"
		" && printf '\\nx\\n\\n\\ny\\n' | cmp - $MNT/t/log");
	H_SH_OK("test \"$(cat $MNT/t/4)\" = y");
}

/*
** Python's buffered text files (8 KiB writes that cut lines anywhere) and
** logging.FileHandler (one flush per record).
*/
Test(produce, python_file_and_logging_handler)
{
	static const char script[] =
		"import logging, sys\n"
		"log_path, want_path = sys.argv[1], sys.argv[2]\n"
		"with open(log_path, 'a', encoding='utf-8') as f, \\\n"
		"     open(want_path, 'a', encoding='utf-8') as w:\n"
		"    for i in range(4000):\n"
		"        line = 'py %d %s\\n' % (i, 'x' * (i % 301))\n"
		"        f.write(line)\n"
		"        w.write(line)\n"
		"fmt = logging.Formatter('%(levelname)s %(name)s %(message)s')\n"
		"logger = logging.getLogger('it')\n"
		"logger.setLevel(logging.INFO)\n"
		"logger.propagate = False\n"
		"for path in (log_path, want_path):\n"
		"    h = logging.FileHandler(path, encoding='utf-8')\n"
		"    h.setFormatter(fmt)\n"
		"    logger.addHandler(h)\n"
		"for i in range(500):\n"
		"    logger.info('event %d', i)\n"
		"    logger.warning('caf\\u00e9 \\u2603 %d', i)\n"
		"logging.shutdown()\n";

	make_topic("t");
	cr_assert_eq(h_write_file(h_work("producer.py"), script, sizeof script - 1), 0);
	H_SH_OK("python3 $WORK/producer.py $MNT/t/log $WORK/want");
	H_SH_OK("test \"$(wc -l < $WORK/want)\" = 5000 && cmp $MNT/t/log $WORK/want");
}

/*
** log, segment and offset files report a 1 MiB st_blksize (fs/ops.c,
** IO_BLKSIZE), so cat and cp move 1 MiB per request, lines crossing
** requests both ways; consumer files keep the default.
*/
Test(produce, bulk_tools_move_1mib_per_request)
{
	struct stat st;

	make_topic("t");
	H_SH_OK("head -c 6000000 /dev/urandom | base64 -w 197 > $WORK/want &&"
		" cat $WORK/want >> $MNT/t/log && cmp $MNT/t/log $WORK/want &&"
		" cp $MNT/t/log $WORK/copy && cmp $WORK/copy $WORK/want &&"
		" cat $MNT/t/0 | cmp - $WORK/want");
	cr_assert(stat(h_mnt("t/log"), &st) == 0, "stat t/log: %s", strerror(errno));
	cr_assert_eq(st.st_blksize, 1 << 20, "st_blksize of t/log: %ld", (long)st.st_blksize);
	cr_assert(stat(h_mnt("t/0"), &st) == 0, "stat t/0: %s", strerror(errno));
	cr_assert_eq(st.st_blksize, 1 << 20, "st_blksize of t/0: %ld", (long)st.st_blksize);
	cr_assert(stat(h_mnt("t/00000000000000000000.log"), &st) == 0, "stat the segment: %s",
		  strerror(errno));
	cr_assert_eq(st.st_blksize, 1 << 20, "st_blksize of the segment: %ld", (long)st.st_blksize);
	cr_assert(stat(h_mnt("t/consumers/c"), &st) == 0, "stat t/consumers/c: %s", strerror(errno));
	cr_assert_neq(st.st_blksize, 1 << 20, "a consumer file's st_blksize");
}

/* dd with 4096- and 1000-byte blocks: lines cross write() calls. */
Test(produce, dd_appends_blocks)
{
	struct h_buf src = { 0 };
	struct h_rng rng;

	h_rng_seed(&rng, 2);
	for (int i = 0; i < 3000; i++) {
		h_buf_printf(&src, "dd line %d ", i);
		for (uint32_t k = h_rng_below(&rng, 120); k > 0; k--)
			h_buf_add(&src, &"abcdefghijklmnopqrstuvwxyz"[h_rng_below(&rng, 26)], 1);
		h_buf_add(&src, "\n", 1);
	}
	cr_assert_eq(h_write_file(h_work("src"), src.p, src.len), 0);
	h_buf_free(&src);

	make_topic("t");
	H_SH_OK("dd if=$WORK/src of=$MNT/t/log bs=4096 oflag=append conv=notrunc status=none"
		" && cmp $MNT/t/log $WORK/src");
	H_SH_OK("dd if=$WORK/src of=$MNT/t/log bs=1000 oflag=append conv=notrunc status=none"
		" && cmp $MNT/t/log <(cat $WORK/src $WORK/src)");
}

/*
** Payloads are bytes: every value but '\n', NUL included, round-trips,
** whatever the write sizes.
*/
Test(produce, binary_lines_round_trip)
{
	struct h_buf want = { 0 };
	struct h_rng rng;
	size_t got_len, pos;
	char *got;
	int fd;

	/* One line with every byte value but '\n' in order, then random lines. */
	for (int c = 0; c < 256; c++)
		if (c != '\n')
			h_buf_add(&want, &(char){ (char)c }, 1);
	h_buf_add(&want, "\n", 1);
	h_rng_seed(&rng, 3);
	for (int i = 0; i < 400; i++) {
		for (uint32_t k = 1 + h_rng_below(&rng, 600); k > 0; k--) {
			char c = (char)h_rng_below(&rng, 255);

			c = c == '\n' ? (char)255 : c;
			h_buf_add(&want, &c, 1);
		}
		h_buf_add(&want, "\n", 1);
	}

	make_topic("t");
	fd = open_log("t");
	for (pos = 0; pos < want.len;) {
		size_t n = 1 + h_rng_below(&rng, 8192);

		if (n > want.len - pos)
			n = want.len - pos;
		cr_assert_eq(write(fd, want.p + pos, n), (ssize_t)n, "write: %s", strerror(errno));
		pos += n;
	}
	close(fd);

	got = h_read_file(h_mnt("t/log"), &got_len);
	cr_assert(got != NULL, "read t/log: %s", strerror(errno));
	H_ASSERT_BYTES(got, got_len, want.p, want.len, "binary lines read back");
	free(got);
	cr_assert_eq(h_write_file(h_work("want"), want.p, want.len), 0);
	H_SH_OK("cat $MNT/t/log | cmp - $WORK/want");
	h_buf_free(&want);
}

struct deleted {
	struct h_buf list; /* one a line */
	int n;
};

/* A file under DATADIR that was unlinked: added to the struct deleted. */
static bool add_deleted(const char *target, void *arg)
{
	struct deleted *d = arg;

	if (strncmp(target, H.data, strlen(H.data)) == 0 && strstr(target, " (deleted)")) {
		h_buf_printf(&d->list, "%s\n", target);
		d->n++;
	}
	return false;
}

/* The files under DATADIR that the daemon still holds, open or mapped,
** though they were unlinked. Free d->list after. */
static void held_deleted(struct deleted *d)
{
	*d = (struct deleted){0};
	h_buf_printf(&d->list, "%s", "");
	h_proc_links(H.pid, "fd", add_deleted, d);
	h_proc_links(H.pid, "map_files", add_deleted, d);
}

static bool in_topic_dir(const char *target, void *topic)
{
	char *dir = h_strdupf("%s/topics/%s/", H.data, (const char *)topic);
	bool in = strncmp(target, dir, strlen(dir)) == 0;

	free(dir);
	return in;
}

/* The bulk appends went into room made ahead: the daemon maps a segment
** of TOPIC (else the tests below would prove nothing). */
static void expect_room_mapped(const char *topic)
{
	cr_assert(h_proc_links(H.pid, "map_files", in_topic_dir, (void *)topic),
		  "no segment of %s is mapped after cat's appends: no room was made", topic);
}

static bool nothing_deleted_held(void *arg)
{
	struct deleted d;

	held_deleted(&d);
	h_buf_free(&d.list);
	(void)arg;
	return d.n == 0;
}

/* Fail, listing them, when the daemon holds unlinked files after 5 s. */
static void expect_none_held(const char *after)
{
	struct deleted d;

	if (h_wait_for(nothing_deleted_held, NULL, 5000))
		return;
	held_deleted(&d);
	cr_assert_fail("5 s after %s, the daemon still holds files it removed:\n%s", after,
		       d.list.p);
}

/*
** rm -r of a topic that cat filled (bulk appends, copied into room made
** ahead in a mapping of the newest segment) gives its disk space back: the
** daemon keeps none of its files open or mapped.
*/
Test(produce, rm_r_of_bulk_written_topic_closes_its_files)
{
	char *segs;

	h_umount();
	h_mount("segment.bytes=8388608");
	make_topic("t");
	make_topic("u");
	H_SH_OK("head -c 20000000 /dev/urandom | base64 -w 150 > $WORK/want &&"
		" cat $WORK/want >> $MNT/t/log && cat $WORK/want >> $MNT/u/log &&"
		" cmp $MNT/t/log $WORK/want");
	segs = h_getxattr(h_mnt("t"), "user.topicfs.segments");
	cr_assert(segs != NULL && atoi(segs) > 1, "t rolled: %s segments", segs ? segs : "?");
	free(segs);
	expect_room_mapped("t");
	H_SH_OK("rm -r $MNT/t");
	expect_none_held("rm -r t");
	/* The other topic keeps its data, and takes bulk appends as before. */
	H_SH_OK("cmp $MNT/u/log $WORK/want && cat $WORK/want >> $MNT/u/log &&"
		" cmp $MNT/u/log <(cat $WORK/want $WORK/want)");
	H_SH_OK("rm -r $MNT/u");
	expect_none_held("rm -r u");
}

/*
** A topic deleted while files of it are open: once the last of them closes,
** the daemon lets go of its segments, although the kernel keeps the inodes
** (each of which holds the topic) until memory runs short. It held three
** descriptors of removed files per such topic before (211 MB in 200 rmdirs
** of 1 MiB topics followed by `tail -f`). Both ways of deleting: rmdir with
** log, a segment, an offset file and tail -f open; rm -r with an offset
** file open (rm unlinks log, and the kernel drops that name at once).
*/
Test(produce, deleted_topic_lets_go_of_its_files_at_the_last_close)
{
	char *tail_argv[] = {"tail", "-f", NULL, NULL};
	int fds[3];
	pid_t tail;

	h_umount();
	h_mount("segment.bytes=1048576,maintenance.interval.ms=100");
	make_topic("t");
	H_SH_OK("head -c 3000000 /dev/urandom | base64 -w 150 > $WORK/want &&"
		" cat $WORK/want >> $MNT/t/log && cmp $MNT/t/log $WORK/want");
	fds[0] = open(h_mnt("t/log"), O_RDONLY);
	fds[1] = open(h_mnt("t/00000000000000000000.log"), O_RDONLY);
	fds[2] = open(h_mnt("t/5"), O_RDONLY);
	for (int i = 0; i < 3; i++)
		cr_assert(fds[i] >= 0, "open %d: %s", i, strerror(errno));
	tail_argv[2] = (char *)h_mnt("t/log");
	tail = h_spawn(tail_argv, NULL, NULL);
	/* A process whose working directory is in the topic keeps reaching it. */
	int tdir = open(h_mnt("t"), O_RDONLY | O_DIRECTORY);
	int cdir = open(h_mnt("t/consumers"), O_RDONLY | O_DIRECTORY);
	cr_assert(tdir >= 0 && cdir >= 0, "open t, t/consumers: %s", strerror(errno));
	h_sleep_ms(200);
	cr_assert(rmdir(h_mnt("t")) == 0, "rmdir t: %s", strerror(errno));
	char buf[100];
	cr_expect_eq(read(fds[0], buf, sizeof buf), (ssize_t)sizeof buf,
		     "an open log of a deleted topic still reads");
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	h_stop(tail);
	expect_none_held("the last close of deleted topic t's files (rmdir)");
	/* After the release: a file opened again there syncs (it failed with
	** EBADF, and stopped the topic's appends), and consumers/ is an empty
	** directory (it was ENOTDIR). */
	int fd = openat(tdir, "log", O_WRONLY);
	if (fd >= 0) {
		cr_expect_eq(fsync(fd), 0, "fsync of a deleted topic's log: %s", strerror(errno));
		close(fd);
	}
	errno = 0;
	cr_expect(openat(cdir, "c1", O_RDONLY) < 0 && errno == ENOENT,
		  "open of a consumer of a deleted topic: %s (want ENOENT)", strerror(errno));
	DIR *d = fdopendir(cdir);
	cr_assert(d != NULL);
	errno = 0;
	while (readdir(d) != NULL)
		;
	cr_expect_eq(errno, 0, "listing consumers/ of a deleted topic: %s", strerror(errno));
	closedir(d);
	close(tdir);
	char *dlog = h_daemon_log();
	cr_expect(dlog == NULL || strstr(dlog, "sync failed") == NULL, "daemon log:\n%s", dlog);
	free(dlog);

	make_topic("u");
	H_SH_OK("cat $WORK/want >> $MNT/u/log");
	fds[0] = open(h_mnt("u/7"), O_RDONLY);
	cr_assert(fds[0] >= 0, "open u/7: %s", strerror(errno));
	H_SH_OK("rm -r $MNT/u");
	close(fds[0]);
	expect_none_held("the last close of deleted topic u's files (rm -r)");

	/* No file open at all, but the kernel keeps the topic's directory (a
	** working directory; here an O_PATH descriptor): let go of at once,
	** not when the kernel forgets the inode. */
	make_topic("v");
	H_SH_OK("cat $WORK/want >> $MNT/v/log");
	int pin = open(h_mnt("v"), O_PATH | O_DIRECTORY);
	cr_assert(pin >= 0, "open v with O_PATH: %s", strerror(errno));
	H_SH_OK("rm -r $MNT/v");
	expect_none_held("rm -r of topic v, its directory held by an O_PATH descriptor");
	close(pin);
	/* The mount goes on: a new topic of the same name starts empty. */
	make_topic("t");
	H_SH_OK("printf 'x\\n' >> $MNT/t/log && test \"$(cat $MNT/t/log)\" = x");
}

static bool topic_emptied(void *arg)
{
	char *start = h_getxattr(h_mnt("%s", (const char *)arg), "user.topicfs.start_offset");
	char *end = h_getxattr(h_mnt("%s", (const char *)arg), "user.topicfs.end_offset");
	bool done = start && end && strcmp(start, end) == 0;

	free(start);
	free(end);
	return done;
}

/*
** rm -r of a topic while its segments roll: nothing of it stays behind in
** DATADIR/trash. The background thread sealed (wrote indexes) and
** rewrote segments into the directory that the deletion was removing, so
** its last rmdir failed and files stayed until the next mount (9 of 15
** such deletions in a review's run). The deletion now waits for the seal
** or rewrite under way, and later ones leave a deleted topic alone.
*/
Test(produce, rm_r_while_segments_roll_leaves_nothing_behind)
{
	char *yes_argv[] = {"sh", "-c", "yes 'a line of fifty bytes, to roll 512-byte segments' "
				       ">> \"$MNT/t/log\"", NULL};

	h_umount();
	h_mount("segment.bytes=512,maintenance.interval.ms=10");
	for (int i = 0; i < 10; i++) {
		make_topic("t");
		pid_t yes = h_spawn(yes_argv, NULL, NULL);
		h_sleep_ms(200 + 50 * i);
		H_SH_OK("rm -r $MNT/t");
		h_stop(yes);
		H_SH_OK("test -z \"$(ls -A $DATA/trash)\" || { ls -R $DATA/trash; exit 1; }");
	}
	char *dlog = h_daemon_log();
	cr_expect(dlog == NULL || strstr(dlog, "could not be removed") == NULL, "daemon log:\n%s",
		  dlog);
	free(dlog);
}

/*
** The same when retention removes the segments of a bulk-written topic
** that then sat idle: the background thread rolls the idle newest segment
** (its room goes) and deletes every expired one; none stays open.
*/
Test(produce, retention_of_idle_bulk_written_topic_closes_its_files)
{
	h_umount();
	h_mount("segment.bytes=8388608,maintenance.interval.ms=100");
	make_topic("t");
	H_SH_OK("head -c 20000000 /dev/urandom | base64 -w 150 > $WORK/want &&"
		" cat $WORK/want >> $MNT/t/log && cmp $MNT/t/log $WORK/want");
	expect_room_mapped("t");
	H_SH_OK("setfattr -n user.retention.ms -v 1000 $MNT/t");
	cr_assert(h_wait_for(topic_emptied, "t", 20000), "retention emptied t");
	expect_none_held("retention emptied t");
}

/* kB of TOPIC's segment files that the daemon has mapped and resident
** (the Rss lines of /proc/PID/smaps), or -1 when smaps cannot be read. */
static long mapped_rss_kb(const char *topic)
{
	char *dir = h_strdupf("%s/topics/%s/", H.data, topic);
	char *path = h_strdupf("/proc/%d/smaps", (int)H.pid);
	size_t len;
	char *smaps = h_read_file(path, &len), *save = NULL;
	long total = 0;
	bool in = false;

	free(path);
	if (!smaps) {
		free(dir);
		return -1;
	}
	for (char *line = strtok_r(smaps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		long kb;
		if (strchr(line, '-') && strchr(line, ' ') && strchr(line, '-') < strchr(line, ' '))
			in = strstr(line, dir) != NULL; /* a mapping's first line */
		else if (in && sscanf(line, "Rss: %ld kB", &kb) == 1)
			total += kb;
	}
	free(smaps);
	free(dir);
	return total;
}

static bool room_mapping_small(void *topic)
{
	long kb = mapped_rss_kb(topic);

	return kb >= 0 && kb <= 24 << 10;
}

/*
** A bulk append into one big segment leaves the daemon mapping only the
** room around its end (at most PREFILL_AHEAD + ZAP_FORCED, 24 MiB), not the
** 96 MB it wrote: the mapping behind the writer is dropped.
*/
Test(produce, bulk_append_keeps_only_the_room_mapped)
{
	h_umount();
	/* No background pass for the test's length: a quiet second would
	** drop the whole mapping (below), which is not what is tested here. */
	h_mount("segment.bytes=1073741824,maintenance.interval.ms=600000,flush.ms=600000");
	make_topic("t");
	H_SH_OK("head -c 72000000 /dev/urandom | base64 -w 150 > $WORK/want &&"
		" cat $WORK/want >> $MNT/t/log && cmp $MNT/t/log $WORK/want");
	expect_room_mapped("t");
	cr_assert(h_wait_for(room_mapping_small, "t", 5000),
		  "5 s after a 96 MB bulk append, the daemon still has %ld kB of t's segment "
		  "resident in its mappings (at most 24 MiB expected)",
		  mapped_rss_kb("t"));
}

/* Bytes of TOPIC's only segment file in DATADIR, and the mount's figure
** for them. */
static long long segment_file_size(const char *topic)
{
	return h_file_size(h_work("data/topics/%s/00000000000000000000.log", topic));
}

static long long stored_bytes(const char *topic)
{
	char *v = h_getxattr(h_mnt("%s", topic), "user.topicfs.stored_bytes");
	long long n = v ? atoll(v) : -1;

	free(v);
	return n;
}

static bool room_given_back(void *topic)
{
	return segment_file_size(topic) == stored_bytes(topic) &&
	       !h_proc_links(H.pid, "map_files", in_topic_dir, topic);
}

/* cat FILE >> TOPIC/log, then: room was made past the batches. The
** helper makes it a moment after the batch that asks for it, so look for
** it for 800 ms, well within the quiet second after which it goes. */
static void cat_into_room(const char *topic, const char *file)
{
	long long size = 0, stored = 0;
	int64_t t0;

	H_SH_OK("cat $WORK/%s >> $MNT/%s/log", file, topic);
	t0 = h_now_ms();
	while (h_now_ms() - t0 < 800) {
		size = segment_file_size(topic);
		stored = stored_bytes(topic);
		if (size > stored)
			return;
		h_sleep_ms(20);
	}
	cr_assert_fail("no room within 800 ms of cat's bulk append: %lld bytes on disk, %lld "
		       "stored", size, stored);
}

/*
** Room made ahead of a bulk writer is zeros on disk past the newest
** segment's batches. Once the topic has been quiet for a second, the
** background thread cuts them and drops the mapping, so DATADIR holds what
** user.topicfs.stored_bytes says; the next bulk writer gets room again,
** and the bytes stay exact.
*/
Test(produce, quiet_topic_gives_back_the_room)
{
	h_umount();
	h_mount("maintenance.interval.ms=100");
	make_topic("t");
	H_SH_OK("head -c 6000000 /dev/urandom | base64 -w 150 > $WORK/want");
	cat_into_room("t", "want");
	cr_assert(h_wait_for(room_given_back, "t", 5000),
		  "5 s after a bulk append, t's segment file has %lld bytes for %lld stored",
		  segment_file_size("t"), stored_bytes("t"));
	cat_into_room("t", "want");
	H_SH_OK("cmp $MNT/t/log <(cat $WORK/want $WORK/want)");
	cr_assert(h_wait_for(room_given_back, "t", 5000),
		  "5 s after a second bulk append, t's segment file has %lld bytes for %lld "
		  "stored", segment_file_size("t"), stored_bytes("t"));
	H_SH_OK("cmp $MNT/t/log <(cat $WORK/want $WORK/want)");
}
