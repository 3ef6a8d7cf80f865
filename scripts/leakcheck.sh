#!/bin/bash
# leakcheck.sh CMD [ARGS...]: run a test binary built with the sanitizers
# (make test SANITIZE=1) and fail when LeakSanitizer reported a leak.
#
# LeakSanitizer checks a process as it exits. A Criterion test runs in a
# worker process that has already reported the test as passed by then, so
# a leak in a test, or in the code it calls, is printed but fails nothing.
# This wrapper makes the report fail the run.
set -o pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" 2>&1 | tee "$log"
rc=$?
if grep -q "ERROR: LeakSanitizer" "$log"; then
	echo "leakcheck: LeakSanitizer reported a leak while running $1 (see above)" >&2
	exit 1
fi
exit "$rc"
