/*
** test_examples.c: every script of examples/ runs, against a real mount,
** with the real programs (nginx and ab, rsyslogd and logger, Debian's
** python3), and passes its own checks.
**
** Each example mounts topicfs itself (with $TOPICFS_BIN) in a directory of
** its own under this test's $WORK (TMPDIR), installs its programs with
** apt-get when they are missing, checks its result, unmounts, and exits 0
** or 1. `timeout` stops an example that hangs with SIGTERM, on which it
** cleans up (its programs, its mount); a test killed outright leaves its
** mount under $WORK, where the harness's sweep removes it.
*/
#include "tools_util.h"

#include <stdio.h>
#include <string.h>

/* Installing nginx or rsyslog on a clean machine takes a while. */
#define EXAMPLE_TIMEOUT_S 480

TestSuite(examples, .init = h_tmp_setup, .fini = h_teardown, .timeout = EXAMPLE_TIMEOUT_S + 60);

/*
** Run examples/SCRIPT with no $MNT (so that it mounts its own), scratch
** files under $WORK; assert exit 0 and that its output holds each of the
** NULL-terminated WANT strings.
*/
static void run_example(const char *script, const char *const *want)
{
	char path[PATH_MAX], tmpdir[PATH_MAX + 8], secs[16];
	char *argv[] = { "env", "-u", "MNT", "-u", "DATA", tmpdir, "timeout", "-k", "10", secs,
			 "bash", path, NULL };
	char *out, *err;
	int st;

	snprintf(path, sizeof path, "%s/examples/%s", t_src_dir(), script);
	snprintf(tmpdir, sizeof tmpdir, "TMPDIR=%s", H.dir);
	snprintf(secs, sizeof secs, "%d", EXAMPLE_TIMEOUT_S);
	st = h_run(argv, (EXAMPLE_TIMEOUT_S + 30) * 1000, &out, &err);
	cr_assert_eq(st, 0, "examples/%s exited %d\n--- stdout:\n%s\n--- stderr:\n%s", script, st,
		     out, err);
	for (; *want; want++)
		cr_expect(strstr(out, *want) != NULL, "examples/%s did not say '%s':\n%s", script,
			  *want, out);
	cr_expect(strstr(err, "FAIL") == NULL, "examples/%s:\n%s", script, err);
	free(out);
	free(err);
}

Test(examples, nginx_access_log_under_load)
{
	static const char *const want[] = {
		"nginx: ab: Complete requests:      10000",
		"consumer saw 10000 lines, 10000 distinct request ids, 0 not 200; topic has 10000 "
		"records",
		"nginx: OK: every request logged exactly once", NULL
	};

	run_example("nginx.sh", want);
}

Test(examples, rsyslog_omfile)
{
	static const char *const want[] = {
		"rsyslog: restarting rsyslogd",
		"rsyslog: OK: 2000 messages through omfile, one record each, in order", NULL
	};

	run_example("rsyslog.sh", want);
}

Test(examples, python_producer_and_killed_consumer)
{
	static const char *const want[] = {
		"python: SIGKILL 8: committed",
		"python: OK: 4000 records consumed exactly once across 8 SIGKILLs", NULL
	};

	run_example("python.sh", want);
}

Test(examples, compacted_topic_as_a_table)
{
	static const char *const want[] = {
		"kv: wrote 1010 records for 40 live keys; the table reads back right",
		"kv: compacted: 40 records (of 1010 written)",
		"kv: topicfs dump --records: offset: ", "no damage",
		"kv: OK: the compacted topic works as a key-value table", NULL
	};

	run_example("kv.sh", want);
}
