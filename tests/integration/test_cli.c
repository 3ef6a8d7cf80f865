/*
** test_cli.c: the command line (SPEC.md, "Starting and stopping"). A bad
** argument prints one line saying what is wrong, exits non-zero and mounts
** nothing; --help and --version print and exit 0.
**
** These tests start the daemon themselves, so the suite makes only the
** temporary directory ($WORK with data/ and an unmounted mnt/).
*/
#include "harness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

TestSuite(cli, .init = h_tmp_setup, .fini = h_teardown, .timeout = 60);

Test(cli, no_arguments)
{
	char *argv[] = { NULL, NULL };

	h_expect_refusal(argv, NULL, 2, "topicfs with no arguments");
}

Test(cli, one_argument)
{
	char *argv[] = { NULL, H.data, NULL };

	h_expect_refusal(argv, NULL, 2, "topicfs DATADIR");
}

Test(cli, missing_mount_point)
{
	char missing[PATH_MAX];
	char *argv[] = { NULL, "-f", H.data, missing, NULL };

	snprintf(missing, sizeof missing, "%s", h_work("no-such-dir"));
	h_expect_refusal(argv, missing, 2, "a mount point that does not exist");
}

Test(cli, bad_option_value)
{
	char *argv[] = { NULL, "-f", "-o", "segment.bytes=abc", H.data, H.mnt, NULL };

	h_expect_refusal(argv, H.mnt, 2, "-o segment.bytes=abc");
}

Test(cli, unknown_setting)
{
	char *argv[] = { NULL, "-f", "-o", "no.such.setting=1", H.data, H.mnt, NULL };

	h_expect_refusal(argv, H.mnt, 2, "-o no.such.setting=1");
}

/* An empty DATADIR would be the current directory to some calls: it is a
** bad argument, and nothing may be created where the daemon was started. */
Test(cli, empty_datadir)
{
	char *argv[] = { NULL, "-f", "", H.mnt, NULL };
	char cwd[PATH_MAX];
	struct stat st;

	cr_assert(getcwd(cwd, sizeof cwd) != NULL);
	cr_assert(chdir(H.dir) == 0);
	h_expect_refusal(argv, H.mnt, 2, "an empty DATADIR");
	cr_expect(stat(h_work("topics"), &st) == -1 && stat(h_work("lock"), &st) == -1,
		  "an empty DATADIR made a data directory in the current directory");
	cr_assert(chdir(cwd) == 0);
}

/* A DATADIR that cannot be a directory is a bad argument too. */
Test(cli, datadir_that_cannot_be_one)
{
	char file[PATH_MAX], under[PATH_MAX];
	char *argv[] = { NULL, "-f", file, H.mnt, NULL };

	snprintf(file, sizeof file, "%s", h_work("a-file"));
	cr_assert(h_write_file(file, "x", 1) == 0);
	h_expect_refusal(argv, H.mnt, 2, "a DATADIR that is a regular file");
	snprintf(under, sizeof under, "%s", h_work("no-such-dir/data"));
	argv[2] = under;
	h_expect_refusal(argv, H.mnt, 2, "a DATADIR whose parent does not exist");
}

/* A missing DATADIR that the user may not create (its parent is not
** theirs) is a bad argument too, found before anything starts: exit 2, one
** line, nothing created. (It failed later, with exit 1.) */
Test(cli, datadir_the_user_cannot_create)
{
	char ro[PATH_MAX], data[PATH_MAX + 8], mnt[PATH_MAX];
	char *out, *err;
	char *argv[] = { "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
			 getenv("TOPICFS_BIN"), "-f", data, mnt, NULL };

	cr_assert(argv[5] != NULL, "TOPICFS_BIN is not set");
	cr_assert(chmod(H.dir, 0755) == 0, "chmod %s: %s", H.dir, strerror(errno));
	snprintf(ro, sizeof ro, "%s", h_work("root-only"));
	snprintf(mnt, sizeof mnt, "%s", h_work("mnt-nobody"));
	snprintf(data, sizeof data, "%s/data", ro);
	cr_assert(mkdir(ro, 0755) == 0 && mkdir(mnt, 0777) == 0);
	int status = h_run(argv, 10000, &out, &err);
	cr_expect_eq(status, 2, "topicfs as nobody with DATADIR %s exited %d, want 2:\n%s%s", data,
		     status, out, err);
	cr_expect(strstr(err, "Permission denied") != NULL && strchr(err, '\n') == err + strlen(err) - 1,
		  "want one line saying why, got: \"%s\"", err);
	cr_expect(access(data, F_OK) != 0, "DATADIR was created");
	free(out);
	free(err);
}

/* Trouble inside a data directory (here a topic directory without its
** topic.conf) is not a bad argument: exit 1, with log lines that say what,
** and nothing mounted. */
Test(cli, damage_inside_datadir_exits_1)
{
	char *argv[] = { getenv("TOPICFS_BIN"), "-f", H.data, H.mnt, NULL };
	char *out, *err;
	int status;

	cr_assert(argv[0] != NULL, "TOPICFS_BIN is not set");
	cr_assert(mkdir(H.data, 0755) == 0 || errno == EEXIST);
	cr_assert(mkdir(h_work("data/topics"), 0755) == 0 || errno == EEXIST);
	cr_assert(mkdir(h_work("data/topics/broken"), 0755) == 0);
	status = h_run(argv, 10000, &out, &err);
	cr_expect_eq(status, 1, "topicfs exited %d; stderr: %s", status, err);
	cr_expect(strstr(err, "topic.conf is missing") != NULL, "stderr: %s", err);
	cr_expect(!h_is_mounted(H.mnt));
	free(out);
	free(err);
}

/* A comma inside an -o value is written "\\," (README, "Command line"). */
Test(cli, escaped_comma_in_a_setting)
{
	char *v;

	h_mount("cleanup.policy=compact\\,delete");
	cr_assert(mkdir(h_mnt("t"), 0755) == 0, "mkdir t: %s", strerror(errno));
	v = h_getxattr(h_mnt("t"), "user.cleanup.policy");
	cr_expect(v != NULL && strcmp(v, "compact,delete") == 0,
		  "user.cleanup.policy is \"%s\", want \"compact,delete\"", v ? v : "(none)");
	free(v);
}

Test(cli, help_and_version_exit_zero)
{
	static const char *flags[] = { "--help", "--version" };

	for (size_t i = 0; i < 2; i++) {
		char *argv[] = { getenv("TOPICFS_BIN"), (char *)flags[i], NULL };
		char *out, *err;
		int status;

		cr_assert(argv[0] != NULL, "TOPICFS_BIN is not set");
		status = h_run(argv, 10000, &out, &err);
		cr_expect_eq(status, 0, "topicfs %s exited %d; stderr: %s", flags[i], status, err);
		cr_expect(strlen(out) + strlen(err) > 0, "topicfs %s printed nothing", flags[i]);
		free(out);
		free(err);
	}
	cr_expect(!h_is_mounted(H.mnt));
}
