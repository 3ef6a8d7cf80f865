/*
** test_inspect.c: the offline inspector, `topicfs dump DATADIR [TOPIC]
** [--records] [--from OFFSET]` (core/inspect.h, fs/dump.c).
**
** On a good data directory it exits 0, lists every topic and segment, and
** its figures line equals what the mount's user.topicfs.* attributes said;
** it changes no file, and may run beside a busy daemon. Damage (a flipped
** bit in a sealed segment, a damaged index) makes it exit 1 naming the
** segment and the offsets; what a crash leaves (a torn tail, a missing
** index, leftovers of interrupted rewrites, whatever a SIGKILLed daemon
** wrote) is a note, with exit 0.
*/
#include "tools_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

TestSuite(inspect, .init = h_tmp_setup, .fini = h_teardown, .timeout = 180);

#define MAX_SEGS 512

/* Append "line I\n" for I in [from, to) to TOPIC, per_write lines a write. */
static void write_lines(const char *topic, int from, int to, int per_write)
{
	int fd = open(h_mnt("%s/log", topic), O_WRONLY | O_APPEND);
	struct h_buf b = { 0 };

	cr_assert(fd >= 0, "open %s/log: %s", topic, strerror(errno));
	for (int i = from; i < to; i++) {
		h_buf_printf(&b, "line %d\n", i);
		if ((i - from + 1) % per_write == 0 || i == to - 1) {
			cr_assert_eq(h_write_all(fd, b.p, b.len), 0, "write to %s/log", topic);
			b.len = 0;
		}
	}
	close(fd);
	h_buf_free(&b);
}

/* Does HAY contain the printf-formatted string? */
__attribute__((format(printf, 2, 3))) static bool hasf(const char *hay, const char *fmt, ...)
{
	char *needle;
	va_list ap;
	bool found;

	va_start(ap, fmt);
	cr_assert(vasprintf(&needle, fmt, ap) >= 0);
	va_end(ap);
	found = strstr(hay, needle) != NULL;
	free(needle);
	return found;
}

/* `topicfs dump ARGS`: exit status; *out and *err captured (malloc'd). */
#define DUMP(out, err, ...) t_topicfs(out, err, "dump", __VA_ARGS__, NULL)

static char *figures_of(const char *topic)
{
	static const char *const names[] = { "start_offset", "end_offset", "records", "segments",
					     "stored_bytes" };
	struct h_buf b = { 0 };

	h_buf_printf(&b, "  figures:");
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char attr[64];
		char *v;

		snprintf(attr, sizeof attr, "user.topicfs.%s", names[i]);
		v = h_getxattr(h_mnt("%s", topic), attr);
		cr_assert(v != NULL, "getxattr %s %s: %s", topic, attr, strerror(errno));
		h_buf_printf(&b, " %s=%s", names[i], v);
		free(v);
	}
	h_buf_printf(&b, "\n");
	return b.p;
}

/* Wait (while mounted) until TOPIC has no sealed segment left uncompressed;
** the dumps that poll are dumps beside a running daemon, which must pass. */
static void wait_compressed(const char *topic)
{
	for (int i = 0; i < 200; i++) {
		char *out, *err;
		int st = DUMP(&out, &err, H.data, (char *)topic);
		bool done = strstr(out, "sealed, plain") == NULL;

		cr_assert_eq(st, 0, "dump beside the daemon exited %d:\n%s%s", st, out, err);
		cr_assert(strstr(out, "DAMAGE") == NULL, "dump beside the daemon:\n%s", out);
		free(out);
		free(err);
		if (done)
			return;
		h_sleep_ms(50);
	}
	cr_assert_fail("the sealed segments of %s were not compressed within 10 s", topic);
}

Test(inspect, lists_what_was_written_and_changes_nothing)
{
	char *out, *err, *fig_web, *fig_kv, *before, *after, *line;
	char lnk[PATH_MAX];
	int st, fd;
	char buf[64];
	struct tm tm = { 0 };
	time_t t0 = time(NULL), t;

	h_mount("segment.bytes=4096,maintenance.interval.ms=50");
	cr_assert(mkdir(h_mnt("web"), 0755) == 0);
	cr_assert(mkdir(h_mnt("kv"), 0755) == 0);
	cr_assert(setxattr(h_mnt("kv"), "user.key.separator", "=", 1, 0) == 0);
	write_lines("web", 0, 2000, 50);
	fd = open(h_mnt("kv/log"), O_WRONLY | O_APPEND);
	cr_assert(fd >= 0);
	cr_assert_eq(h_write_all(fd, "k1=v1\nk2=two words\nk1=\n", strlen("k1=v1\nk2=two words\nk1=\n")), 0);
	close(fd);
	fd = open(h_mnt("web/consumers/reader"), O_RDONLY);
	cr_assert(fd >= 0, "open consumers/reader: %s", strerror(errno));
	cr_assert(read(fd, buf, 14) == 14); /* "line 0\nline 1\n" */
	close(fd);

	wait_compressed("web");
	st = DUMP(&out, &err, H.data);
	cr_assert_eq(st, 0, "dump of a mounted DATADIR exited %d:\n%s%s", st, out, err);
	cr_expect(hasf(out, "in use by process %d", (int)H.pid),
		  "dump does not say the DATADIR is mounted:\n%.300s", out);
	free(out);
	free(err);
	fig_web = figures_of("web");
	fig_kv = figures_of("kv");
	h_umount();

	before = t_tree_snapshot(H.data);
	st = DUMP(&out, &err, H.data);
	after = t_tree_snapshot(H.data);
	cr_assert_str_eq(after, before, "topicfs dump changed DATADIR");
	cr_assert_eq(st, 0, "dump exited %d:\n%s%s", st, out, err);
	cr_expect(strstr(out, "not in use") != NULL);
	cr_expect(strstr(out, "topic web\n") && strstr(out, "topic kv\n"), "%s", out);
	cr_expect(strstr(out, fig_web) != NULL, "web's figures, as the mount said:\n%sdump:\n%s",
		  fig_web, out);
	cr_expect(strstr(out, fig_kv) != NULL, "kv's figures, as the mount said:\n%sdump:\n%s",
		  fig_kv, out);
	cr_expect(strstr(out, "segment 00000000000000000000.log: sealed, zstd, ") != NULL, "%s", out);
	cr_expect(strstr(out, ": newest, plain, ") != NULL, "%s", out);
	cr_expect(strstr(out, "  settings: key.separator==\n") != NULL, "%s", out);
	cr_expect(strstr(out, "  consumer reader: offset 2\n") != NULL, "%s", out);
	cr_expect(strstr(out, ", 2003 records: no damage\n") != NULL, "%s", out);
	cr_expect(strstr(out, "DAMAGE") == NULL && strstr(out, "note:") == NULL, "%s", out);
	free(out);
	free(err);

	/* Records: offset, time, key. */
	st = DUMP(&out, &err, "--records", H.data, "kv");
	cr_assert_eq(st, 0, "%s%s", out, err);
	cr_expect(strstr(out, "    offset: 0 time: ") != NULL, "%s", out);
	cr_expect(strstr(out, " key: k1 value: v1\n") != NULL, "%s", out);
	cr_expect(strstr(out, " key: k2 value: two words\n") != NULL, "%s", out);
	cr_expect(strstr(out, "    offset: 2 time: ") != NULL && strstr(out, " key: k1 tombstone\n"),
		  "%s", out);
	cr_expect(strstr(out, "topic web") == NULL, "dump of kv lists web:\n%s", out);
	line = strstr(out, "    offset: 0 time: ");
	cr_assert(line != NULL);
	cr_assert(strptime(line + 20, "%Y-%m-%dT%H:%M:%S", &tm) != NULL, "time in: %.80s", line);
	t = timegm(&tm);
	cr_expect(t >= t0 - 1 && t <= time(NULL) + 1, "record time %.30s is not when it was written",
		  line + 20);
	cr_expect(line[39] == '.' && line[43] == 'Z', "time not in milliseconds: %.40s", line + 20);
	free(out);
	free(err);

	st = DUMP(&out, &err, "--from", "1995", H.data, "web");
	cr_assert_eq(st, 0, "%s%s", out, err);
	cr_expect_eq(t_count(out, "    offset: "), 5, "--from 1995 of 2000 records:\n%s", out);
	cr_expect(strstr(out, "    offset: 1995 time: ") && strstr(out, " payload: line 1995\n") &&
			  strstr(out, " payload: line 1999\n"),
		  "%s", out);
	free(out);
	free(err);

	/* The same as topicfs-dump, the name `make install` links. */
	snprintf(lnk, sizeof lnk, "%s", h_work("topicfs-dump"));
	cr_assert(symlink(getenv("TOPICFS_BIN"), lnk) == 0);
	{
		char *argv[] = { lnk, H.data, "web", NULL };

		st = h_run(argv, 60000, &out, &err);
	}
	cr_assert_eq(st, 0, "topicfs-dump exited %d:\n%s%s", st, out, err);
	cr_expect(strstr(out, fig_web) != NULL, "%s", out);
	free(out);
	free(err);
	free(fig_web);
	free(fig_kv);
	free(before);
	free(after);
}

/* A topic of plain (uncompressed) segments, unmounted; returns its segments. */
static size_t plain_topic(char (*segs)[T_SEG_NAME_LEN + 1])
{
	size_t n;

	h_mount("segment.bytes=4096,compression.type=none");
	cr_assert(mkdir(h_mnt("web"), 0755) == 0);
	write_lines("web", 0, 1000, 10);
	h_umount();
	n = t_segments("web", segs, MAX_SEGS);
	cr_assert(n >= 3, "only %zu segments", n);
	return n;
}

Test(inspect, flipped_bit_in_a_sealed_segment_is_damage)
{
	char segs[MAX_SEGS][T_SEG_NAME_LEN + 1];
	char *out, *err, *want, *line, *end;
	int st;

	plain_topic(segs);
	/* Byte 300 of the second segment: inside one of its batches. */
	t_flip(h_work("data/topics/web/%s", segs[1]), 300, 0x10);
	st = DUMP(&out, &err, H.data);
	cr_assert_eq(st, 1, "dump of a damaged segment exited %d:\n%s%s", st, out, err);
	want = h_strdupf("  DAMAGE: topic web, segment %s, byte ", segs[1]);
	line = strstr(out, want);
	cr_assert(line != NULL, "no DAMAGE line naming %s:\n%s", segs[1], out);
	end = strchr(line, '\n');
	cr_assert(end != NULL);
	*end = '\0';
	cr_expect(strstr(line, " offset") != NULL, "the DAMAGE line names no offset: %s", line);
	cr_expect(strstr(end + 1, "1 DAMAGED place") != NULL, "%s", end + 1);
	cr_expect(strstr(err, "damage found") != NULL, "stderr: %s", err);
	free(want);
	free(out);
	free(err);
}

Test(inspect, flipped_bit_in_a_compressed_segment_is_damage)
{
	char segs[MAX_SEGS][T_SEG_NAME_LEN + 1];
	char *out, *err, *want;
	int st;
	size_t n;

	h_mount("segment.bytes=4096,maintenance.interval.ms=50");
	cr_assert(mkdir(h_mnt("web"), 0755) == 0);
	write_lines("web", 0, 1000, 10);
	wait_compressed("web");
	h_umount();
	n = t_segments("web", segs, MAX_SEGS);
	cr_assert(n >= 3, "only %zu segments", n);
	t_flip(h_work("data/topics/web/%s", segs[0]), 100, 0x01);
	st = DUMP(&out, &err, H.data, "web");
	cr_assert_eq(st, 1, "dump of a damaged zstd segment exited %d:\n%s%s", st, out, err);
	want = h_strdupf("  DAMAGE: topic web, segment %s, byte ", segs[0]);
	cr_expect(strstr(out, want) != NULL, "no DAMAGE line naming %s:\n%s", segs[0], out);
	cr_expect(strstr(out, "zstd frame") != NULL && strstr(out, "where offset 0 or later was due"),
		  "%s", out);
	free(want);
	free(out);
	free(err);
}

Test(inspect, damaged_header_and_index_are_damage)
{
	char segs[MAX_SEGS][T_SEG_NAME_LEN + 1];
	char idx[T_SEG_NAME_LEN + 4];
	char *out, *err;
	int st;

	plain_topic(segs);
	/* An index entry (bytes 80..127 of the first sealed index). */
	snprintf(idx, sizeof idx, "%.20s.index", segs[0]);
	t_flip(h_work("data/topics/web/%s", idx), 90, 0x04);
	st = DUMP(&out, &err, H.data);
	cr_assert_eq(st, 1, "dump of a damaged index exited %d:\n%s%s", st, out, err);
	cr_expect(hasf(out, "  DAMAGE: topic web, segment %s: its index %s: entry 0",
					segs[0], idx),
		  "%s", out);
	free(out);
	free(err);
	/* And a segment header. */
	t_flip(h_work("data/topics/web/%s", segs[1]), 20, 0x01);
	st = DUMP(&out, &err, H.data);
	cr_assert_eq(st, 1, "%s%s", out, err);
	cr_expect(hasf(out, "  DAMAGE: topic web, segment %s, byte 0: damaged segment "
					"header",
					segs[1]),
		  "%s", out);
	free(out);
	free(err);
}

Test(inspect, what_a_crash_leaves_is_a_note)
{
	char segs[MAX_SEGS][T_SEG_NAME_LEN + 1];
	char idx[T_SEG_NAME_LEN + 4];
	const char *newest;
	char *out, *err, *fig;
	size_t n;
	int st, fd;

	n = plain_topic(segs);
	newest = segs[n - 1];
	/* A write torn halfway: half a batch header at the end of the newest
	** segment. */
	fd = open(h_work("data/topics/web/%s", newest), O_WRONLY | O_APPEND);
	cr_assert(fd >= 0);
	cr_assert(write(fd, "\x11\x22\x33\x44\x60\x00\x00\x00\x01\x00\x00\x00\x05", 13) == 13);
	close(fd);
	/* An index that is gone, and leftovers of interrupted work. */
	snprintf(idx, sizeof idx, "%.20s.index", segs[0]);
	cr_assert(unlink(h_work("data/topics/web/%s", idx)) == 0);
	cr_assert(h_write_file(h_work("data/topics/web/%s.tmp", segs[1]), "x", 1) == 0);
	cr_assert(mkdir(h_work("data/trash/web.1"), 0755) == 0);

	st = DUMP(&out, &err, H.data);
	cr_assert_eq(st, 0, "dump of a crashed DATADIR exited %d:\n%s%s", st, out, err);
	cr_expect(hasf(out, "  note: topic web, segment %s, byte ", newest) &&
			  strstr(out, "torn tail of 13 bytes"),
		  "%s", out);
	cr_expect(hasf(out, "its index %s is missing", idx), "%s", out);
	cr_expect(strstr(out, "was left by an interrupted rewrite") != NULL, "%s", out);
	cr_expect(strstr(out, "note: trash/web.1 is left by an interrupted topic deletion") != NULL,
		  "%s", out);
	cr_expect(strstr(out, "no damage, 4 notes\n") != NULL, "%s", out);
	free(out);
	free(err);

	/* The next mount repairs all of it; then nothing is left to note. */
	h_mount("segment.bytes=4096,compression.type=none");
	fig = figures_of("web");
	h_umount();
	st = DUMP(&out, &err, H.data);
	cr_assert_eq(st, 0, "%s%s", out, err);
	cr_expect(strstr(out, "note") == NULL, "notes after a mount repaired DATADIR:\n%s", out);
	cr_expect(strstr(out, fig) != NULL, "%sdump:\n%s", fig, out);
	cr_expect(strstr(out, "records=1000 ") != NULL, "%s", out);
	free(fig);
	free(out);
	free(err);
}

/* 8192 zero bytes after segment SEG of topic web: room that a bulk writer
** had made ahead when its daemon died. */
static void append_room(const char *seg)
{
	static const char zeros[8192];
	int fd = open(h_work("data/topics/web/%s", seg), O_WRONLY | O_APPEND);

	cr_assert(fd >= 0);
	cr_assert(write(fd, zeros, sizeof zeros) == (ssize_t)sizeof zeros);
	close(fd);
}

/* Zeros after the newest segment's batches are the room that a bulk writer
** had made ahead (core/prefill.c) when the daemon died: a note that names
** them as such, not damage; the next mount cuts them. */
Test(inspect, room_left_by_a_crash_is_a_note)
{
	char segs[MAX_SEGS][T_SEG_NAME_LEN + 1];
	char *out, *err;
	int st;

	size_t n = plain_topic(segs);
	append_room(segs[n - 1]);

	st = DUMP(&out, &err, H.data);
	cr_assert_eq(st, 0, "dump exited %d:\n%s%s", st, out, err);
	cr_expect(hasf(out, "  note: topic web, segment %s, byte ", segs[n - 1]) &&
			  strstr(out, "8192 zero bytes after the batches (room made ahead"),
		  "%s", out);
	cr_expect(strstr(out, "torn tail") == NULL, "%s", out);
	cr_expect(strstr(out, "no damage, 1 note\n") != NULL, "%s", out);
	free(out);
	free(err);

	h_mount("segment.bytes=4096,compression.type=none");
	h_umount();
	st = DUMP(&out, &err, H.data);
	cr_assert_eq(st, 0, "%s%s", out, err);
	cr_expect(strstr(out, "note") == NULL, "notes after a mount cut the zeros:\n%s", out);
	free(out);
	free(err);
}

/* dump beside a daemon whose bulk writer has room made ahead: its figures
** count the batches, as the mount's do (the room's zeros are a note). */
Test(inspect, figures_beside_room_made_ahead_are_the_mounts)
{
	char *out, *err, *fig, *stored;
	int st;

	/* No background pass during the test: it would give the room back. */
	h_mount("maintenance.interval.ms=600000,flush.ms=600000");
	cr_assert(mkdir(h_mnt("b"), 0755) == 0);
	H_SH_OK("head -c 6000000 /dev/urandom | base64 -w 150 > $WORK/want &&"
		" cat $WORK/want >> $MNT/b/log");
	fig = figures_of("b");
	stored = h_getxattr(h_mnt("b"), "user.topicfs.stored_bytes");
	cr_assert(stored != NULL);
	/* The helper makes the room a moment after the batch that asks. */
	for (int i = 0; i < 100 && h_file_size(h_work("data/topics/b/00000000000000000000.log")) <=
					   atoll(stored);
	     i++)
		h_sleep_ms(20);
	cr_assert_gt(h_file_size(h_work("data/topics/b/00000000000000000000.log")), atoll(stored),
		     "no room was made after the bulk append (%s bytes stored)", stored);
	free(stored);
	st = DUMP(&out, &err, H.data, "b");
	cr_assert_eq(st, 0, "dump exited %d:\n%s%s", st, out, err);
	cr_expect(strstr(out, fig) != NULL, "b's figures, as the mount said:\n%sdump:\n%s", fig,
		  out);
	cr_expect(strstr(out, "zero bytes after the batches (room made ahead") != NULL, "%s", out);
	free(fig);
	free(out);
	free(err);
}

/* A daemon killed during a roll, between creating the next segment and
** writing its header: an empty newest segment, and the room zeros of the
** one before, which recovery treats as the newest (it removes the empty
** one). Both are notes, not damage; the mount logs no error. (Found by a
** crash torture: dump reported DAMAGE, the mount an error line.) */
Test(inspect, roll_cut_short_by_a_crash_is_a_note)
{
	char segs[MAX_SEGS][T_SEG_NAME_LEN + 1];
	char *out, *err, *log;
	int st;

	size_t n = plain_topic(segs);
	append_room(segs[n - 1]);
	cr_assert(h_write_file(h_work("data/topics/web/00000000000000001000.log"), "", 0) == 0);

	st = DUMP(&out, &err, H.data);
	cr_assert_eq(st, 0, "dump exited %d:\n%s%s", st, out, err);
	cr_expect(strstr(out, "00000000000000001000.log") != NULL &&
			  strstr(out, "created but never written") != NULL,
		  "%s", out);
	cr_expect(hasf(out, "  note: topic web, segment %s, byte ", segs[n - 1]) &&
			  strstr(out, "8192 zero bytes after the batches (room made ahead"),
		  "%s", out);
	cr_expect(strstr(out, "no damage, 2 notes\n") != NULL, "%s", out);
	free(out);
	free(err);

	h_mount("segment.bytes=4096,compression.type=none");
	h_umount();
	log = h_daemon_log();
	cr_expect(log != NULL && strstr(log, "error") == NULL, "the mount logged an error:\n%s", log);
	free(log);
	st = DUMP(&out, &err, H.data);
	cr_assert_eq(st, 0, "%s%s", out, err);
	cr_expect(strstr(out, "note") == NULL, "notes after the mount:\n%s", out);
	cr_expect(strstr(out, "records=1000 ") != NULL, "%s", out);
	free(out);
	free(err);
}

/* Keep appending to TOPIC until killed (a shell loop, h_spawn'ed). */
static pid_t spawn_writer(const char *topic)
{
	char *cmd = h_strdupf("i=0; while :; do i=$((i+1)); seq -f \"w$i %%g\" 1 50 || exit 0; "
			      "done >> '%s' 2>/dev/null",
			      h_mnt("%s/log", topic));
	char *argv[] = { "bash", "-c", cmd, NULL };
	pid_t pid = h_spawn(argv, NULL, NULL);

	free(cmd);
	return pid;
}

Test(inspect, runs_beside_a_busy_daemon)
{
	pid_t writer;

	h_mount("segment.bytes=2048,retention.bytes=20000,maintenance.interval.ms=10");
	cr_assert(mkdir(h_mnt("busy"), 0755) == 0);
	writer = spawn_writer("busy");
	for (int i = 0; i < 8; i++) {
		char *out, *err;
		int st;

		h_sleep_ms(150);
		st = DUMP(&out, &err, H.data);
		cr_assert_eq(st, 0, "dump #%d beside a busy daemon exited %d:\n%s%s", i, st, out, err);
		cr_assert(strstr(out, "DAMAGE") == NULL, "%s", out);
		free(out);
		free(err);
	}
	h_stop(writer);
}

Test(inspect, accepts_whatever_a_killed_daemon_wrote)
{
	for (int round = 0; round < 4; round++) {
		pid_t writer;
		char *out, *err;
		int st, status;

		h_mount("segment.bytes=2048,maintenance.interval.ms=10");
		if (round == 0)
			cr_assert(mkdir(h_mnt("crash"), 0755) == 0);
		writer = spawn_writer("crash");
		h_sleep_ms(100 + 100 * round);
		/* SIGKILL in the middle of appends, rolls and rewrites. */
		cr_assert(kill(H.pid, SIGKILL) == 0);
		waitpid(H.pid, &status, 0);
		H.pid = 0;
		h_stop(writer);
		{
			char *argv[] = { "fusermount3", "-uz", H.mnt, NULL };

			h_run(argv, 10000, NULL, NULL);
		}
		st = DUMP(&out, &err, H.data);
		cr_assert_eq(st, 0, "dump after SIGKILL #%d exited %d:\n%s%s", round, st, out, err);
		cr_assert(strstr(out, "DAMAGE") == NULL, "%s", out);
		free(out);
		free(err);
	}
	h_mount(NULL);
	h_umount();
	{
		char *out, *err;
		int st = DUMP(&out, &err, H.data);

		cr_assert_eq(st, 0, "%s%s", out, err);
		cr_expect(strstr(out, "note") == NULL, "notes after a clean remount:\n%s", out);
		free(out);
		free(err);
	}
}

/* `topicfs dump A1 [A2 [A3]]` must exit WANT with NEEDLE in its output. */
static void expect_dump(int want, const char *needle, const char *a1, const char *a2,
			const char *a3)
{
	char *argv[] = { getenv("TOPICFS_BIN"), "dump", (char *)a1, (char *)a2, (char *)a3, NULL };
	char *out, *err;
	int st = h_run(argv, 60000, &out, &err);

	cr_expect_eq(st, want, "topicfs dump %s %s %s: exit %d, want %d:\n%s%s", a1 ? a1 : "",
		     a2 ? a2 : "", a3 ? a3 : "", st, want, out, err);
	cr_expect(strstr(out, needle) != NULL || strstr(err, needle) != NULL,
		  "topicfs dump %s %s %s does not say '%s':\n%s%s", a1 ? a1 : "", a2 ? a2 : "",
		  a3 ? a3 : "", needle, out, err);
	free(out);
	free(err);
}

Test(inspect, bad_arguments_exit_2)
{
	cr_assert(mkdir(h_work("data/topics"), 0755) == 0);
	expect_dump(2, "missing DATADIR", NULL, NULL, NULL);
	expect_dump(2, "No such file or directory", h_work("no-such-dir"), NULL, NULL);
	expect_dump(2, "not a topicfs data directory", H.mnt, NULL, NULL);
	expect_dump(2, "no topic called 'nosuchtopic'", H.data, "nosuchtopic", NULL);
	expect_dump(2, "unknown option '--bogus'", "--bogus", H.data, NULL);
	expect_dump(2, "bad offset 'x1'", "--from", "x1", H.data);
	expect_dump(0, "usage: topicfs dump", "--help", NULL, NULL);
	expect_dump(0, "0 topics, 0 segments, 0 records: no damage", H.data, NULL, NULL);
}
