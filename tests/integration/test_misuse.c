/*
** test_misuse.c: everything a tool may try that is not a topic operation
** gets a plain errno and changes nothing (SPEC.md, "The namespace",
** "Records", "Settings"; "every misuse gets the errno that a careful POSIX
** filesystem would give"). Each case calls the system call itself, so that
** the errno is checked, not just a shell's exit status.
*/
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

TestSuite(misuse, .init = h_setup, .fini = h_teardown, .timeout = 60);

/*
** Expect CALL (a system call returning -1 on failure) to fail with WANT;
** ALT is a second acceptable errno (0: none). DESC is printf-formatted.
*/
#define EXPECT_ERRNO(call, want, alt, ...)                                         \
	do {                                                                       \
		char desc_[512];                                                   \
		int e_, r_;                                                        \
		snprintf(desc_, sizeof desc_, __VA_ARGS__);                        \
		errno = 0;                                                         \
		r_ = (int)(call);                                                  \
		e_ = errno;                                                        \
		cr_expect(r_ == -1 && (e_ == (want) || (alt && e_ == (alt))),      \
			  "%s: want %s, got %s", desc_, strerrorname_np(want),     \
			  r_ == -1 ? strerrorname_np(e_) : "success");             \
	} while (0)

/* Expect PATH (relative to the mount) not to exist. */
#define EXPECT_ABSENT(rel)                                                          \
	do {                                                                       \
		struct stat st_;                                                   \
		const char *p_ = (rel);                                            \
		cr_expect(lstat(h_mnt("%s", p_), &st_) == -1 && errno == ENOENT,   \
			  "%s exists after a refused call", p_);                   \
	} while (0)

/* mkdir TOPIC and append CONTENT to it with one write(). */
static void make_topic(const char *topic, const char *content)
{
	int fd;

	cr_assert(mkdir(h_mnt("%s", topic), 0755) == 0, "mkdir %s: %s", topic, strerror(errno));
	if (content[0] == '\0')
		return;
	fd = open(h_mnt("%s/log", topic), O_WRONLY | O_APPEND);
	cr_assert(fd >= 0, "open %s/log: %s", topic, strerror(errno));
	cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content), "write: %s",
		     strerror(errno));
	close(fd);
}

static void assert_content(const char *rel, const char *want, const char *what)
{
	size_t len;
	char *got = h_read_file(h_mnt("%s", rel), &len);

	cr_assert(got != NULL, "%s: read %s: %s", what, rel, strerror(errno));
	H_ASSERT_BYTES(got, len, want, strlen(want), "%s: %s", what, rel);
	free(got);
}

/* The number of entries in the root, "." and ".." not counted. */
static int count_root(void)
{
	return h_count_entries(H.mnt);
}

/* Topic names outside 1..249 characters of A-Za-z0-9._- fail with EINVAL. */
Test(misuse, mkdir_bad_topic_names)
{
	char long_name[251], longest[250];
	const char *bad[] = { "a b", "x*", long_name, "a\001b", "caf\303\251", "a:b", "tab\t" };

	memset(long_name, 'a', 250);
	long_name[250] = '\0';
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		EXPECT_ERRNO(mkdir(h_mnt("%s", bad[i]), 0755), EINVAL, 0, "mkdir \"%.20s\"%s",
			     bad[i], strlen(bad[i]) > 20 ? "..." : "");
		EXPECT_ABSENT(bad[i]);
	}
	cr_expect_eq(count_root(), 0, "a refused mkdir left something in the root");

	/* The edges of what is allowed. */
	memset(longest, 'b', 249);
	longest[249] = '\0';
	cr_expect(mkdir(h_mnt("%s", longest), 0755) == 0, "mkdir of a 249-character name: %s",
		  strerror(errno));
	cr_expect(mkdir(h_mnt("Az09._-"), 0755) == 0, "mkdir Az09._-: %s", strerror(errno));
	cr_expect(mkdir(h_mnt("..."), 0755) == 0, "mkdir ...: %s", strerror(errno));
}

/* Creating files inside a topic: EPERM, and nothing appears. */
Test(misuse, create_file_in_topic)
{
	make_topic("t", "x\n");
	EXPECT_ERRNO(open(h_mnt("t/newfile"), O_CREAT | O_WRONLY, 0644), EPERM, 0,
		     "open(O_CREAT) of t/newfile");
	EXPECT_ABSENT("t/newfile");
	EXPECT_ERRNO(mknod(h_mnt("t/fifo"), S_IFIFO | 0644, 0), EPERM, 0, "mkfifo t/fifo");
	EXPECT_ABSENT("t/fifo");
	EXPECT_ERRNO(open(h_mnt("t/log"), O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST, 0,
		     "open(O_CREAT|O_EXCL) of t/log");
	assert_content("t/log", "x\n", "after refused creations");
}

/*
** A regular file at the root: SPEC.md only says a topic is a directory;
** read as "fails with some errno and creates nothing".
*/
Test(misuse, create_file_at_root)
{
	int fd = open(h_mnt("file"), O_CREAT | O_WRONLY, 0644);

	cr_expect(fd < 0, "creating a regular file at the root succeeded");
	if (fd >= 0)
		close(fd);
	cr_expect_eq(count_root(), 0, "a refused creation left something in the root");
}

Test(misuse, mkdir_in_topic)
{
	make_topic("t", "x\n");
	EXPECT_ERRNO(mkdir(h_mnt("t/sub"), 0755), EPERM, 0, "mkdir t/sub");
	EXPECT_ABSENT("t/sub");
}

/* Segment and offset files refuse to open for writing (EACCES or EBADF). */
Test(misuse, segment_and_offset_files_are_read_only)
{
	static const char *files[] = { "t/00000000000000000000.log", "t/0", "t/1", "t/5000" };
	static const int modes[] = { O_WRONLY, O_RDWR, O_WRONLY | O_APPEND, O_WRONLY | O_TRUNC };

	make_topic("t", "r0\nr1\nr2\n");
	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
			int fd;

			errno = 0;
			fd = open(h_mnt("%s", files[f]), modes[m]);
			cr_expect(fd < 0 && (errno == EACCES || errno == EBADF),
				  "open(%s, flags 0%o): want EACCES or EBADF, got %s", files[f],
				  (unsigned)modes[m], fd < 0 ? strerrorname_np(errno) : "success");
			if (fd >= 0) {
				if (write(fd, "zz\n", 3) < 0) {
					/* refused at write: still wrong, reported above */
				}
				close(fd);
			}
		}
	}
	assert_content("t/log", "r0\nr1\nr2\n", "after refused opens");
	assert_content("t/00000000000000000000.log", "r0\nr1\nr2\n", "after refused opens");
}

Test(misuse, links_and_symlinks)
{
	make_topic("t", "x\n");
	EXPECT_ERRNO(link(h_mnt("t/log"), h_mnt("t/log2")), EPERM, 0, "link t/log t/log2");
	EXPECT_ABSENT("t/log2");
	EXPECT_ERRNO(link(h_mnt("t/log"), h_mnt("hard")), EPERM, 0, "link t/log to the root");
	EXPECT_ABSENT("hard");
	EXPECT_ERRNO(link(h_mnt("t/00000000000000000000.log"), h_mnt("t/seg")), EPERM, 0,
		     "link of a segment");
	EXPECT_ABSENT("t/seg");
	EXPECT_ERRNO(symlink("log", h_mnt("t/sym")), EPERM, 0, "symlink in a topic");
	EXPECT_ABSENT("t/sym");
	EXPECT_ERRNO(symlink("t", h_mnt("sym")), EPERM, 0, "symlink at the root");
	EXPECT_ABSENT("sym");
	assert_content("t/log", "x\n", "after refused links");
}

/* A second topicfs on a DATADIR that is mounted: one line, non-zero, no mount. */
Test(misuse, second_mount_of_datadir_is_refused)
{
	char mnt2[PATH_MAX];
	char *argv[] = { NULL, "-f", H.data, mnt2, NULL };

	snprintf(mnt2, sizeof mnt2, "%s", h_work("mnt2"));
	cr_assert(mkdir(mnt2, 0755) == 0);
	make_topic("t", "before\n");
	h_expect_refusal(argv, mnt2, 1, "topicfs on a DATADIR already mounted");
	H_SH_OK("echo after >> $MNT/t/log");
	assert_content("t/log", "before\nafter\n", "the first mount after the refusal");
}

/*
** A line longer than max.message.bytes fails its write() with EMSGSIZE and
** stores nothing of that write, not even its complete short lines.
** (Read: a line of exactly max.message.bytes payload bytes is allowed.)
*/
Test(misuse, line_longer_than_max_message_bytes)
{
	char big[128], edge[128];
	int fd;

	make_topic("t", "");
	cr_assert(setxattr(h_mnt("t"), "user.max.message.bytes", "100", 3, 0) == 0,
		  "setxattr user.max.message.bytes=100: %s", strerror(errno));
	fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
	cr_assert(fd >= 0, "open t/log: %s", strerror(errno));
	cr_assert_eq(write(fd, "short\n", 6), 6, "write of a short line: %s", strerror(errno));

	memcpy(big, "ok-line\n", 8);
	memset(big + 8, 'x', 101);
	big[109] = '\n';
	EXPECT_ERRNO(write(fd, big, 110), EMSGSIZE, 0, "write of a 101-byte line");
	assert_content("t/log", "short\n", "after the refused write");

	cr_expect_eq(write(fd, "next\n", 5), 5, "a write after the refused one: %s",
		     strerror(errno));
	memset(edge, 'y', 100);
	edge[100] = '\n';
	cr_expect_eq(write(fd, edge, 101), 101,
		     "write of a line of exactly max.message.bytes (100) bytes: %s",
		     strerror(errno));
	close(fd);
	assert_content("t/log",
		       "short\nnext\n"
		       "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
		       "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\n",
		       "after close");
}

/*
** A line assembled from two writes that ends up too long fails the write
** that completes it; no record longer than the limit is ever stored.
*/
Test(misuse, long_line_across_writes)
{
	char part[61];
	size_t len;
	char *log;
	int fd;

	make_topic("t", "");
	cr_assert(setxattr(h_mnt("t"), "user.max.message.bytes", "100", 3, 0) == 0,
		  "setxattr: %s", strerror(errno));
	memset(part, 'x', 60);
	part[60] = '\n';
	fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
	cr_assert(fd >= 0, "open t/log: %s", strerror(errno));
	cr_expect_eq(write(fd, part, 60), 60, "write of 60 bytes of a line: %s", strerror(errno));
	EXPECT_ERRNO(write(fd, part, 61), EMSGSIZE, 0,
		     "the write that completes a 120-byte line");
	close(fd);
	log = h_read_file(h_mnt("t/log"), &len);
	cr_assert(log != NULL);
	for (char *line = log, *nl; (nl = memchr(line, '\n', len - (size_t)(line - log))) != NULL;
	     line = nl + 1)
		cr_expect(nl - line <= 100, "a %zd-byte record was stored", nl - line);
	free(log);
}

/*
** A line that a later write continues after it was refused as too long:
** each refusal has a log line saying why (the first says that the rest of
** the line is refused too, the one that reaches its newline says so), and
** nothing of the line is stored.
*/
Test(misuse, refused_rest_of_a_long_line_is_logged)
{
	char *log;
	int fd;

	make_topic("t", "");
	cr_assert(setxattr(h_mnt("t"), "user.max.message.bytes", "10", 2, 0) == 0);
	fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
	cr_assert(fd >= 0, "open t/log: %s", strerror(errno));
	EXPECT_ERRNO(write(fd, "0123456789AB", 12), EMSGSIZE, 0, "12 bytes of a line");
	EXPECT_ERRNO(write(fd, "CDEF", 4), EMSGSIZE, 0, "more of the same line");
	EXPECT_ERRNO(write(fd, "GH\n", 3), EMSGSIZE, 0, "the same line's end");
	cr_expect_eq(write(fd, "ok\n", 3), 3, "the next line: %s", strerror(errno));
	close(fd);
	assert_content("t/log", "ok\n", "after the refused line");
	log = h_daemon_log();
	cr_expect(strstr(log, "write to 't/log': refused a line longer than max.message.bytes "
			      "(10); dropped it, and later writes up to its newline are refused "
			      "too") != NULL,
		  "%s", log);
	cr_expect(strstr(log, "write to 't/log': refused a line longer than max.message.bytes "
			      "(10); dropped the rest of it, up to its newline") != NULL,
		  "%s", log);
	free(log);
}

/*
** A partial line that writes left under a higher max.message.bytes becomes
** a record at close (SPEC.md, "Records"), even after the setting was
** lowered: its bytes were accepted.
*/
Test(misuse, partial_line_survives_a_lowered_limit)
{
	int fd;

	make_topic("t", "");
	fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
	cr_assert(fd >= 0, "open t/log: %s", strerror(errno));
	cr_assert_eq(write(fd, "partial-line-of-20ch", 20), 20, "write: %s", strerror(errno));
	cr_assert(setxattr(h_mnt("t"), "user.max.message.bytes", "5", 1, 0) == 0);
	cr_expect_eq(close(fd), 0, "close with the partial line: %s", strerror(errno));
	assert_content("t/log", "partial-line-of-20ch\n", "after the close");
	fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
	cr_assert(fd >= 0, "open t/log: %s", strerror(errno));
	EXPECT_ERRNO(write(fd, "longer-than-5\n", 14), EMSGSIZE, 0,
		     "a new line over the lowered limit");
	close(fd);
}

/*
** Refusals around consumers, attributes and names: each gets the errno a
** careful file system gives and a log line that names the file and says
** why.
*/
Test(misuse, refusals_name_the_file_and_say_why)
{
	static const struct {
		const char *text;
	} want[] = {
		{ "create 't/consumers/a b': invalid consumer name" },
		{ "open 't/consumers/c' for writing or truncation: a consumer file is read-only "
		  "(move a consumer with setfattr -n user.topicfs.offset)" },
		{ "setattr 't/consumers/c': a consumer file is read-only" },
		{ "setattr 't/consumers': the consumers directory holds consumer files only" },
		{ "symlink 't/consumers/a b': the consumers directory holds consumer files only" },
		{ "setxattr 't/consumers/c' user.topicfs.offset: exists (every consumer has a "
		  "position)" },
		{ "setxattr 't/log' user.retention.ms: only topic directories and consumer files "
		  "have attributes" },
		{ "removexattr 't' user.nope: no such attribute (not a setting)" },
		{ "removexattr 't/log' user.retention.ms: no such attribute" },
		{ "lookup 't/99999999999999999999': an offset past the largest" },
	};
	struct stat st;
	char *log, *pos;
	int fd;

	make_topic("t", "r0\nr1\nr2\n");
	fd = open(h_mnt("t/consumers/c"), O_RDONLY | O_CREAT, 0644);
	cr_assert(fd >= 0, "open t/consumers/c: %s", strerror(errno));
	close(fd);
	cr_assert(setxattr(h_mnt("t/consumers/c"), "user.topicfs.offset", "1", 1, 0) == 0);

	EXPECT_ERRNO(open(h_mnt("t/consumers/a b"), O_RDONLY | O_CREAT, 0644), EINVAL, 0,
		     "create a consumer with a bad name");
	EXPECT_ERRNO(open(h_mnt("t/consumers/c"), O_RDWR), EACCES, 0, "open a consumer to write");
	EXPECT_ERRNO(chmod(h_mnt("t/consumers/c"), 0600), EPERM, 0, "chmod a consumer");
	EXPECT_ERRNO(chmod(h_mnt("t/consumers"), 0700), EPERM, 0, "chmod consumers/");
	cr_expect(utimes(h_mnt("t/consumers"), NULL) == 0, "touch consumers/, as its topic: %s",
		  strerror(errno));
	EXPECT_ERRNO(symlink("x", h_mnt("t/consumers/a b")), EPERM, 0, "symlink in consumers/");
	EXPECT_ERRNO(setxattr(h_mnt("t/consumers/c"), "user.topicfs.offset", "2", 1, XATTR_CREATE),
		     EEXIST, 0, "XATTR_CREATE of a consumer's position");
	EXPECT_ERRNO(setxattr(h_mnt("t/log"), "user.retention.ms", "5", 1, 0), ENOTSUP, 0,
		     "a setting on log");
	EXPECT_ERRNO(removexattr(h_mnt("t"), "user.nope"), ENODATA, 0, "remove an unknown setting");
	EXPECT_ERRNO(removexattr(h_mnt("t/log"), "user.retention.ms"), ENODATA, 0,
		     "remove a setting from log");
	EXPECT_ERRNO(stat(h_mnt("t/99999999999999999999"), &st), EOVERFLOW, 0,
		     "an offset past 2^64-1");
	EXPECT_ABSENT("t/consumers/a b");

	pos = h_getxattr(h_mnt("t/consumers/c"), "user.topicfs.offset");
	cr_expect_str_eq(pos, "1", "a refused XATTR_CREATE moved the position");
	free(pos);
	assert_content("t/consumers/c", "r1\nr2\n", "the consumer after the refusals");
	log = h_daemon_log();
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		cr_expect(strstr(log, want[i].text) != NULL, "no log line with \"%s\":\n%s",
			  want[i].text, log);
	free(log);
}

/* A consumer file closed after its topic was deleted closes cleanly: its
** position has nowhere to go, and nothing is left to keep. */
Test(misuse, consumer_closed_after_its_topic_went)
{
	char buf[16];
	char *log;
	int fd;

	make_topic("t", "r0\nr1\n");
	fd = open(h_mnt("t/consumers/c"), O_RDONLY | O_CREAT, 0644);
	cr_assert(fd >= 0, "open t/consumers/c: %s", strerror(errno));
	cr_assert_eq(read(fd, buf, 3), 3, "read: %s", strerror(errno));
	cr_assert(rmdir(h_mnt("t")) == 0, "rmdir t: %s", strerror(errno));
	cr_expect_eq(close(fd), 0, "close of the consumer: %s", strerror(errno));
	EXPECT_ABSENT("t");
	log = h_daemon_log();
	cr_expect(strstr(log, "cannot store its position") == NULL, "%s", log);
	free(log);
}

/* A bad setting value fails with EINVAL and changes nothing. */
Test(misuse, bad_setting_value)
{
	static const struct {
		const char *name, *value;
	} bad[] = {
		{ "user.retention.ms", "abc" },
		{ "user.segment.bytes", "-5" },
		{ "user.cleanup.policy", "sometimes" },
		{ "user.compression.type", "lz4" },
		{ "user.max.message.bytes", "12x" },
	};

	make_topic("t", "");
	cr_assert(setxattr(h_mnt("t"), "user.retention.ms", "12345", 5, 0) == 0, "setxattr: %s",
		  strerror(errno));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *before = h_getxattr(h_mnt("t"), bad[i].name), *after;

		cr_assert(before != NULL, "getxattr %s: %s", bad[i].name, strerror(errno));
		EXPECT_ERRNO(setxattr(h_mnt("t"), bad[i].name, bad[i].value, strlen(bad[i].value), 0),
			     EINVAL, 0, "setxattr %s=%s", bad[i].name, bad[i].value);
		after = h_getxattr(h_mnt("t"), bad[i].name);
		cr_expect(after != NULL && strcmp(before, after) == 0,
			  "%s changed from \"%s\" to \"%s\" by a refused value", bad[i].name,
			  before, after ? after : "(error)");
		free(before);
		free(after);
	}
}

/* A refused value is logged on one line, with what would be accepted: a
** value cannot start a log line of its own, and a NUL in it shows. */
Test(misuse, refused_setting_logs_one_line_with_the_rule)
{
	static const char forged[] = "5\ntopicfs: error: forged";
	char *log;

	make_topic("t", "");
	EXPECT_ERRNO(setxattr(h_mnt("t"), "user.segment.bytes", forged, strlen(forged), 0), EINVAL,
		     0, "setxattr segment.bytes with a newline");
	EXPECT_ERRNO(setxattr(h_mnt("t"), "user.compression.type", "zstd\0x", 6, 0), EINVAL, 0,
		     "setxattr compression.type with a NUL");
	EXPECT_ERRNO(setxattr(h_mnt("t"), "user.max.message.bytes", "67108865", 8, 0), EINVAL, 0,
		     "setxattr max.message.bytes above its range");
	EXPECT_ERRNO(removexattr(h_mnt("t/consumers/c"), "user.topicfs.offset"), EPERM, 0,
		     "removexattr of a consumer's position");
	log = h_daemon_log();
	cr_expect(strstr(log, "\ntopicfs: error: forged") == NULL,
		  "a refused value started a log line:\n%s", log);
	cr_expect(strstr(log, "refused segment.bytes='5\\x0atopicfs: error: forged': not a "
			      "decimal integer from 1 to 2147483647") != NULL,
		  "%s", log);
	cr_expect(strstr(log, "refused compression.type='zstd\\x00x': not zstd or none") != NULL,
		  "%s", log);
	cr_expect(strstr(log, "refused max.message.bytes='67108865': not a decimal integer from "
			      "1 to 67108864") != NULL,
		  "%s", log);
	cr_expect(strstr(log, "removexattr 't/consumers/c' user.topicfs.offset") != NULL, "%s", log);
	free(log);
}

/* truncate -s 0 succeeds and keeps the content; other sizes keep it too. */
Test(misuse, truncate_keeps_content)
{
	int fd;

	make_topic("t", "one\ntwo\n");
	H_SH_OK("truncate -s 0 $MNT/t/log");
	assert_content("t/log", "one\ntwo\n", "after truncate -s 0");
	cr_expect_eq(h_file_size(h_mnt("t/log")), 8, "st_size after truncate -s 0");

	fd = open(h_mnt("t/log"), O_WRONLY);
	cr_assert(fd >= 0, "open: %s", strerror(errno));
	cr_expect_eq(ftruncate(fd, 0), 0, "ftruncate(0): %s", strerror(errno));
	if (ftruncate(fd, 3) == 0) {
		/* accepted and ignored is fine too; the content must stay */
	}
	close(fd);
	assert_content("t/log", "one\ntwo\n", "after ftruncate");
}

/*
** fallocate on a log fails with EPERM and stores nothing: through the
** system call, through posix_fallocate (which glibc would emulate with
** one-byte writes on EOPNOTSUPP, appending NULs), and through util-linux.
*/
Test(misuse, fallocate_is_refused_and_stores_nothing)
{
	int fd, rc;
	char *end;

	make_topic("t", "one\n");
	fd = open(h_mnt("t/log"), O_WRONLY | O_APPEND);
	cr_assert(fd >= 0, "open: %s", strerror(errno));
	EXPECT_ERRNO(fallocate(fd, 0, 0, 10000), EPERM, 0, "fallocate(0, 10000)");
	EXPECT_ERRNO(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096), EPERM, 0,
		     "fallocate(KEEP_SIZE)");
	rc = posix_fallocate(fd, 0, 10000);
	cr_expect_eq(rc, EPERM, "posix_fallocate: want EPERM, got %s",
		     rc ? strerrorname_np(rc) : "success");
	close(fd);
	cr_expect_neq(h_sh("fallocate -l 10000 $MNT/t/log"), 0, "fallocate(1) succeeded");
	h_sh("fallocate -x -l 10000 $MNT/t/log"); /* util-linux 2.38 exits 0 */
	assert_content("t/log", "one\n", "after fallocate");
	end = h_getxattr(h_mnt("t"), "user.topicfs.end_offset");
	cr_expect_str_eq(end, "1", "end offset after fallocate");
	free(end);
	end = h_daemon_log();
	cr_expect(strstr(end, "fallocate 't/log'") != NULL,
		  "no log line says why fallocate was refused");
	free(end);
}

/* `>` works like `>>`, and writes append whatever offset they name. */
Test(misuse, truncating_redirect_appends)
{
	int fd;

	H_SH_OK("mkdir $MNT/t && echo a > $MNT/t/log && echo b > $MNT/t/log");
	assert_content("t/log", "a\nb\n", "after two `>` redirections");

	fd = open(h_mnt("t/log"), O_WRONLY | O_TRUNC);
	cr_assert(fd >= 0, "open(O_TRUNC): %s", strerror(errno));
	cr_expect_eq(pwrite(fd, "c\n", 2, 0), 2, "pwrite at 0: %s", strerror(errno));
	cr_expect_eq(pwrite(fd, "d\n", 2, 1), 2, "pwrite at 1: %s", strerror(errno));
	close(fd);
	assert_content("t/log", "a\nb\nc\nd\n", "after pwrite at offsets 0 and 1");
}

/* rmdir deletes a topic with its data: a new topic of that name is empty. */
Test(misuse, rmdir_removes_topic_and_data)
{
	make_topic("t", "old data\n");
	cr_assert(rmdir(h_mnt("t")) == 0, "rmdir t: %s", strerror(errno));
	EXPECT_ABSENT("t");
	cr_expect_eq(count_root(), 0);
	make_topic("t", "");
	assert_content("t/log", "", "a new topic named like a removed one");
	assert_content("t/0", "", "a new topic named like a removed one");
	cr_expect_eq(h_file_size(h_mnt("t/log")), 0);
}

Test(misuse, rm_r_removes_topic)
{
	make_topic("t", "data\nmore\n");
	make_topic("u", "data\n");
	H_SH_OK("rm -r $MNT/t && test ! -e $MNT/t && rm -rf $MNT/u && test ! -e $MNT/u");
	cr_expect_eq(count_root(), 0);
}

/*
** Unlinking log is accepted and removes nothing (for rm -r), so a tool that
** unlinks a file it could not create with O_EXCL and tries again met
** EEXIST forever: `tar x` of a topic's log into a topic spun (193,885
** unlink and open pairs a minute). The same process's next lookup of the
** name is ENOENT once; its create() opens the log, and what it writes is
** appended. A segment name is refused at that create: tar goes on with an
** error. A chmod or chown to what log or consumers/ has already is
** accepted (tar sets both).
*/
static void *unlink_log_of_t(void *arg)
{
	(void)arg;
	cr_expect(unlink(h_mnt("t/log")) == 0, "unlink t/log: %s", strerror(errno));
	return NULL;
}

Test(misuse, tar_x_into_a_topic_appends_and_ends)
{
	char *seg;

	make_topic("src", "a\nb\n");
	make_topic("t", "x\n");
	H_SH_OK("tar cf $WORK/log.tar -C $MNT src/log");
	H_SH_OK("cd $MNT/t && timeout 20 tar xf $WORK/log.tar --strip-components=1");
	assert_content("t/log", "x\na\nb\n", "after tar x of src/log into t");

	/* Only the process that unlinked it is told so, and only once. */
	H_SH_OK("rm $MNT/t/log && test -e $MNT/t/log && test -e $MNT/t/log");
	H_SH_OK("printf 'z\\n' >$WORK/z && cp --remove-destination $WORK/z $MNT/t/log");
	assert_content("t/log", "x\na\nb\nz\n", "after cp --remove-destination");

	/* A segment file of the same name: refused, tar ends. */
	H_SH_OK("ls $MNT/src | grep -x '[0-9]*\\.log' | head -1 >$WORK/seg");
	size_t seg_len;
	seg = h_read_file(h_work("seg"), &seg_len);
	cr_assert(seg != NULL && strlen(seg) > 4);
	seg[strcspn(seg, "\n")] = '\0';
	H_SH_OK("tar cf $WORK/seg.tar -C $MNT src/%s", seg);
	int st = h_sh("cd $MNT/t && timeout 20 tar xf $WORK/seg.tar --strip-components=1");
	cr_expect(st != 0 && st != 124, "tar x of a segment file: exit %d (124: it spun)\n%s", st,
		  h_sh_output());
	cr_expect(strstr(h_sh_output(), "Cannot open: Operation not permitted") != NULL, "%s",
		  h_sh_output());
	assert_content("t/log", "x\na\nb\nz\n", "after the refused segment");
	free(seg);

	/* One thread unlinks, another creates: the same process. */
	pthread_t th;
	cr_assert(pthread_create(&th, NULL, unlink_log_of_t, NULL) == 0);
	pthread_join(th, NULL);
	int fd = open(h_mnt("t/log"), O_WRONLY | O_CREAT | O_EXCL, 0644);
	cr_assert(fd >= 0, "create of t/log after another thread unlinked it: %s", strerror(errno));
	cr_expect_eq(write(fd, "w\n", 2), 2);
	close(fd);
	assert_content("t/log", "x\na\nb\nz\nw\n", "after a create by another thread");

	/* Another process's unlink in between (of another topic's log) does
	** not take this one's: each process has its own (it got EEXIST). */
	make_topic("u", "");
	cr_assert(unlink(h_mnt("t/log")) == 0, "unlink t/log: %s", strerror(errno));
	H_SH_OK("rm $MNT/u/log");
	fd = open(h_mnt("t/log"), O_WRONLY | O_CREAT | O_EXCL, 0644);
	cr_assert(fd >= 0, "create of t/log after another process unlinked u/log: %s",
		  strerror(errno));
	cr_expect_eq(write(fd, "v\n", 2), 2);
	close(fd);
	assert_content("t/log", "x\na\nb\nz\nw\nv\n", "after a create between other unlinks");

	cr_expect(chmod(h_mnt("t/log"), 0644) == 0, "chmod log to its mode: %s", strerror(errno));
	EXPECT_ERRNO(chmod(h_mnt("t/log"), 0600), EPERM, 0, "chmod log to another mode");
	cr_expect(chown(h_mnt("t/log"), getuid(), getgid()) == 0, "chown log to its owner: %s",
		  strerror(errno));
	cr_expect(chown(h_mnt("t/consumers"), getuid(), getgid()) == 0,
		  "chown consumers/ to its owner: %s", strerror(errno));
	H_SH_OK("rm -r $MNT/t $MNT/u && test ! -e $MNT/t");
}

/* mv renames a topic, data and offsets following; bad targets are refused. */
Test(misuse, mv_renames_topic)
{
	make_topic("t", "r0\nr1\n");
	H_SH_OK("mv $MNT/t $MNT/u");
	EXPECT_ABSENT("t");
	assert_content("u/log", "r0\nr1\n", "after mv t u");
	H_SH_OK("echo r2 >> $MNT/u/log");
	assert_content("u/1", "r1\nr2\n", "offsets after mv");

	EXPECT_ERRNO(rename(h_mnt("u"), h_mnt("a b")), EINVAL, 0, "rename to a bad name");
	EXPECT_ABSENT("a b");
	make_topic("v", "v0\n");
	EXPECT_ERRNO(rename(h_mnt("u"), h_mnt("v")), ENOTEMPTY, EEXIST,
		     "rename onto an existing topic");
	assert_content("u/log", "r0\nr1\nr2\n", "after a refused rename");
	assert_content("v/log", "v0\n", "after a refused rename");
}
