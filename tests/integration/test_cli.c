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

TestSuite(cli, .init = h_tmp_setup, .fini = h_teardown, .timeout = 60);

Test(cli, no_arguments)
{
	char *argv[] = { NULL, NULL };

	h_expect_refusal(argv, NULL, "topicfs with no arguments");
}

Test(cli, one_argument)
{
	char *argv[] = { NULL, H.data, NULL };

	h_expect_refusal(argv, NULL, "topicfs DATADIR");
}

Test(cli, missing_mount_point)
{
	char missing[PATH_MAX];
	char *argv[] = { NULL, "-f", H.data, missing, NULL };

	snprintf(missing, sizeof missing, "%s", h_work("no-such-dir"));
	h_expect_refusal(argv, missing, "a mount point that does not exist");
}

Test(cli, bad_option_value)
{
	char *argv[] = { NULL, "-f", "-o", "segment.bytes=abc", H.data, H.mnt, NULL };

	h_expect_refusal(argv, H.mnt, "-o segment.bytes=abc");
}

Test(cli, unknown_setting)
{
	char *argv[] = { NULL, "-f", "-o", "no.such.setting=1", H.data, H.mnt, NULL };

	h_expect_refusal(argv, H.mnt, "-o no.such.setting=1");
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
