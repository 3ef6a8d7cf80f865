#!/bin/bash
# testrun.sh CMD [ARGS...]: run a Criterion test binary and also fail on
# what Criterion counts as passed:
# - a failed teardown: Criterion ignores a failed assertion in a suite's
#   .fini, so the integration harness (h_teardown) also prints a line with
#   "TEARDOWN FAILED" when the daemon died, exited badly (a sanitizer's
#   report at exit) or left its mount busy;
# - a leak: LeakSanitizer checks a process as it exits, and a Criterion
#   test runs in a worker process that has already reported the test as
#   passed by then (builds with SANITIZE=1).
set -o pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" 2>&1 | tee "$log"
rc=$?
if grep -q "TEARDOWN FAILED" "$log"; then
	echo "testrun: a test's teardown failed while running $1 (see above)" >&2
	exit 1
fi
if grep -q "ERROR: LeakSanitizer" "$log"; then
	echo "testrun: LeakSanitizer reported a leak while running $1 (see above)" >&2
	exit 1
fi
exit "$rc"
