/*
** test_persist.c: what a mount stores survives `fusermount3 -u` and a new
** mount of the same DATADIR: records (bytes and offsets), topic names,
** directory modes, settings (SPEC.md, "The namespace" and "Settings"),
** renames and deletions.
*/
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

TestSuite(persist, .init = h_setup, .fini = h_teardown, .timeout = 90);

/* The root's entries, sorted and joined with spaces (malloc'd). */
static char *list_root(void)
{
	struct dirent **names;
	struct h_buf b = { 0 };
	int n = scandir(H.mnt, &names, NULL, alphasort);

	cr_assert(n >= 0, "scandir %s: %s", H.mnt, strerror(errno));
	h_buf_add(&b, "", 0);
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0)
			h_buf_printf(&b, "%s%s", b.len ? " " : "", names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return b.p;
}

static void assert_mode(const char *topic, mode_t want)
{
	struct stat st;

	cr_assert(stat(h_mnt("%s", topic), &st) == 0, "stat %s: %s", topic, strerror(errno));
	cr_expect(S_ISDIR(st.st_mode), "%s is not a directory", topic);
	cr_expect_eq(st.st_mode & 07777, want, "mode of %s is %04o, want %04o", topic,
		     (unsigned)(st.st_mode & 07777), (unsigned)want);
}

static void assert_xattr(const char *topic, const char *name, const char *want)
{
	char *got = h_getxattr(h_mnt("%s", topic), name);

	cr_assert(got != NULL, "getxattr %s %s: %s", topic, name, strerror(errno));
	cr_expect_str_eq(got, want, "%s of %s", name, topic);
	free(got);
}

static void assert_file_is(const char *rel, const struct h_buf *want, const char *what)
{
	size_t len;
	char *got = h_read_file(h_mnt("%s", rel), &len);

	cr_assert(got != NULL, "%s: read %s: %s", what, rel, strerror(errno));
	H_ASSERT_BYTES(got, len, want->p ? want->p : "", want->len, "%s: %s", what, rel);
	free(got);
}

/* Append LINES random binary lines (no '\n' inside) to TOPIC and to WANT. */
static void append_binary(const char *topic, int lines, uint64_t seed, struct h_buf *want)
{
	int fd = open(h_mnt("%s/log", topic), O_WRONLY | O_APPEND);
	struct h_buf b = { 0 };
	struct h_rng rng;

	cr_assert(fd >= 0, "open %s/log: %s", topic, strerror(errno));
	h_rng_seed(&rng, seed);
	for (int i = 0; i < lines; i++) {
		for (uint32_t k = 1 + h_rng_below(&rng, 200); k > 0; k--) {
			char c = (char)h_rng_below(&rng, 256);

			h_buf_add(&b, c == '\n' ? "\\" : &c, 1);
		}
		h_buf_add(&b, "\n", 1);
	}
	cr_assert_eq(h_write_all(fd, b.p, b.len), 0, "write %s/log", topic);
	cr_assert_eq(close(fd), 0, "close %s/log: %s", topic, strerror(errno));
	h_buf_add(want, b.p, b.len);
	h_buf_free(&b);
}

Test(persist, data_names_modes_and_settings_survive_remount)
{
	struct h_buf want = { 0 }, one = { 0 };
	long long size;
	char *names;

	umask(022);
	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	H_SH_OK("mkdir -m 0700 $MNT/private && mkdir $MNT/shared.v2");
	append_binary("t", 500, 7, &want);
	append_binary("private", 20, 8, &one);
	H_SH_OK("chmod 0750 $MNT/shared.v2"); /* a mode changed later */
	H_SH_OK("setfattr -n user.retention.ms -v 12345 $MNT/t");
	H_SH_OK("test \"$(getfattr --only-values -n user.retention.ms $MNT/t)\" = 12345");
	cr_assert(setxattr(h_mnt("private"), "user.max.message.bytes", "5000", 4, 0) == 0,
		  "setxattr user.max.message.bytes: %s", strerror(errno));
	assert_mode("private", 0700);
	assert_mode("shared.v2", 0750);
	size = h_file_size(h_mnt("t/log"));

	h_remount();

	names = list_root();
	cr_expect_str_eq(names, "private shared.v2 t", "topics after remount");
	free(names);
	assert_mode("t", 0755);
	assert_mode("private", 0700);
	assert_mode("shared.v2", 0750);
	assert_file_is("t/log", &want, "after remount");
	assert_file_is("private/log", &one, "after remount");
	cr_expect_eq(h_file_size(h_mnt("t/log")), size, "st_size of t/log changed");
	assert_xattr("t", "user.retention.ms", "12345");
	assert_xattr("private", "user.max.message.bytes", "5000");
	H_SH_OK("getfattr -d $MNT/t | grep -qx 'user.retention.ms=\"12345\"'");

	/* Offsets go on where they stopped: the next record is offset 500. */
	H_SH_OK("echo 'after remount' >> $MNT/t/log && test \"$(cat $MNT/t/500)\" = 'after remount'");
	h_buf_add(&want, "after remount\n", 14);
	assert_file_is("t/log", &want, "after appending past the remount");
	h_buf_free(&want);
	h_buf_free(&one);
}

Test(persist, renames_and_removals_survive_remount)
{
	struct h_buf a = { 0 }, c = { 0 }, empty = { 0 };
	char *names;

	cr_assert(mkdir(h_mnt("a"), 0755) == 0);
	cr_assert(mkdir(h_mnt("b"), 0755) == 0);
	cr_assert(mkdir(h_mnt("c"), 0755) == 0);
	append_binary("a", 100, 1, &a);
	append_binary("b", 100, 2, &empty);
	append_binary("c", 100, 3, &c);
	h_buf_free(&empty);
	cr_assert(rename(h_mnt("a"), h_mnt("x")) == 0, "rename a x: %s", strerror(errno));
	cr_assert(rmdir(h_mnt("b")) == 0, "rmdir b: %s", strerror(errno));

	h_remount();

	names = list_root();
	cr_expect_str_eq(names, "c x", "topics after remount");
	free(names);
	assert_file_is("x/log", &a, "renamed topic");
	assert_file_is("c/log", &c, "untouched topic");
	cr_assert(mkdir(h_mnt("b"), 0755) == 0, "mkdir b again: %s", strerror(errno));
	assert_file_is("b/log", &empty, "a new topic under a removed one's name");
	assert_file_is("b/0", &empty, "a new topic under a removed one's name");
	h_buf_free(&a);
	h_buf_free(&c);
}
