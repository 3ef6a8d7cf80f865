# examples/lib.sh: what the example scripts share. Sourced, not run.
#
#   ex_need CMD=PACKAGE ...  install the Debian packages whose command is missing
#   ex_mount [OPTS]          mount a fresh topicfs (-o OPTS) on $mnt, data in $data;
#                            or, when $MNT is set, use that mount as it is
#   ex_umount                unmount our own mount now (no-op on $MNT)
#   ex_topic NAME            a topic name for this run: NAME on our own mount,
#                            NAME-<pid> on a mount given by $MNT
#   ex_wait SECONDS CMD...   run CMD every 0.1 s until it succeeds; 1 on time-out
#   ex_fail MESSAGE          print "FAIL: MESSAGE" and exit 1 (cleaning up)
#   ex_cleanup_add CMD       run CMD at exit (last added, first run)
#   ex_attr DIR NAME         the value of extended attribute user.NAME of DIR
#   ex_python                Debian's python3 (/usr/bin/python3 when there)
#
# The daemon: $TOPICFS_BIN, else `topicfs` on PATH, else build/topicfs beside
# examples/. Scratch files go in a fresh directory under ${TMPDIR:-/tmp}, which
# is removed at exit, as is our own mount (the daemon must then exit 0).
#
# Packages come from Debian's archive through apt-get (as root, or through
# sudo). Installs are serialised between examples run at once, and, when the
# machine has no /usr/sbin/policy-rc.d, one that refuses to start services is
# put there for the install only: installing nginx or rsyslog must not start
# the system's own nginx or syslog daemon. The examples run their own copies,
# on loopback addresses and private sockets only.

set -u

ex_name=$(basename "$0" .sh)
ex_dir=$(cd "$(dirname "$0")" && pwd)
ex_cleanups=()
ex_own_mount=0
ex_daemon_pid=

say() { printf '%s: %s\n' "$ex_name" "$*"; }

ex_fail() {
	printf 'FAIL: %s: %s\n' "$ex_name" "$*" >&2
	exit 1
}

ex_cleanup_add() { ex_cleanups+=("$1"); }

ex_cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	for ((i = ${#ex_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${ex_cleanups[$i]}" || true
	done
	if [ "$ex_own_mount" = 1 ]; then
		fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null
		if [ -n "$ex_daemon_pid" ]; then
			local st=0
			wait "$ex_daemon_pid" || st=$?
			if [ "$st" != 0 ]; then
				printf 'FAIL: %s: topicfs exited %s; its log:\n' "$ex_name" "$st" >&2
				cat "$work/daemon.log" >&2
				[ "$rc" = 0 ] && rc=1
			fi
		fi
	fi
	if [ -n "${work:-}" ] && [ -z "${EX_KEEP:-}" ]; then
		rm -rf "$work"
	elif [ -n "${work:-}" ]; then
		printf '%s: kept %s\n' "$ex_name" "$work" >&2
	fi
	exit "$rc"
}
trap ex_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

work=$(mktemp -d "${TMPDIR:-/tmp}/topicfs-ex-$ex_name.XXXXXX") || exit 1

ex_wait() {
	local deadline=$(($(date +%s%N) / 1000000 + ${1%.*} * 1000))
	shift
	until "$@"; do
		[ $(($(date +%s%N) / 1000000)) -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

ex_need() {
	local want="" pair sudo="" made_policy=0
	for pair in "$@"; do
		command -v "${pair%%=*}" >/dev/null 2>&1 || want="$want ${pair#*=}"
	done
	[ -z "$want" ] && return 0
	[ "$(id -u)" = 0 ] || sudo=sudo
	say "installing$want (apt-get)"
	(
		# One install at a time, whichever example asks.
		flock 9
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			printf '#!/bin/sh\n# topicfs examples: start no service while installing\nexit 101\n' |
				$sudo tee /usr/sbin/policy-rc.d >/dev/null &&
				$sudo chmod 755 /usr/sbin/policy-rc.d && made_policy=1
		fi
		export DEBIAN_FRONTEND=noninteractive
		# shellcheck disable=SC2086
		$sudo apt-get install -y -qq -o DPkg::Lock::Timeout=300 $want >"$work/apt.log" 2>&1 ||
			{ $sudo apt-get update -qq >>"$work/apt.log" 2>&1 &&
				$sudo apt-get install -y -qq -o DPkg::Lock::Timeout=300 $want >>"$work/apt.log" 2>&1; }
		rc=$?
		[ "$made_policy" = 1 ] && $sudo rm -f /usr/sbin/policy-rc.d
		exit $rc
	) 9>/tmp/topicfs-examples-apt.lock || {
		cat "$work/apt.log" >&2
		ex_fail "could not install$want"
	}
	for pair in "$@"; do
		command -v "${pair%%=*}" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
		command -v "${pair%%=*}" >/dev/null 2>&1 || ex_fail "${pair%%=*} is still missing after installing ${pair#*=}"
	done
}

ex_topicfs_bin() {
	if [ -n "${TOPICFS_BIN:-}" ]; then
		printf '%s\n' "$TOPICFS_BIN"
	elif command -v topicfs >/dev/null 2>&1; then
		command -v topicfs
	elif [ -x "$ex_dir/../build/topicfs" ]; then
		printf '%s\n' "$ex_dir/../build/topicfs"
	else
		ex_fail "no topicfs: set TOPICFS_BIN, install it, or run make first"
	fi
}

ex_is_mounted() {
	awk -v m="$1" '$5 == m && / - fuse\.topicfs / { found = 1 } END { exit !found }' /proc/self/mountinfo
}

ex_mount() {
	topicfs=$(ex_topicfs_bin)
	if [ -n "${MNT:-}" ]; then
		mnt=$MNT
		data=
		ex_is_mounted "$mnt" || ex_fail "MNT=$mnt is not a topicfs mount"
		say "using the topicfs mounted on $mnt"
		return 0
	fi
	ex_need fusermount3=fuse3 setfattr=attr getfattr=attr
	mnt=$work/mnt
	data=$work/data
	mkdir -p "$mnt" "$data"
	"$topicfs" -f ${1:+-o "$1"} "$data" "$mnt" 2>"$work/daemon.log" &
	ex_daemon_pid=$!
	ex_own_mount=1
	if ! ex_wait 10 ex_is_mounted "$mnt"; then
		cat "$work/daemon.log" >&2
		ex_fail "topicfs did not mount $mnt within 10 s"
	fi
	say "mounted topicfs on $mnt (data in $data)"
}

# Unmount our own mount now (the daemon must exit 0); a no-op on $MNT.
ex_umount() {
	[ "$ex_own_mount" = 1 ] || return 0
	local st=0
	fusermount3 -u "$mnt" || ex_fail "fusermount3 -u $mnt failed"
	wait "$ex_daemon_pid" || st=$?
	ex_own_mount=0
	[ "$st" = 0 ] || { cat "$work/daemon.log" >&2; ex_fail "topicfs exited $st"; }
}

ex_topic() {
	if [ -z "${MNT:-}" ]; then
		printf '%s\n' "$1"
	else
		printf '%s-%s\n' "$1" "$$"
	fi
}

# A figure or setting of a topic directory: ex_attr DIR topicfs.records
ex_attr() { getfattr --only-values -n "user.$2" "$1" 2>/dev/null; }

# Debian's python3 (the one its package installs), not a wrapper that PATH
# may find first (pyenv's shims take a second to start).
ex_python() {
	if [ -x /usr/bin/python3 ]; then
		printf '%s\n' /usr/bin/python3
	else
		command -v python3 || ex_fail "no python3"
	fi
}

# A free TCP port on 127.0.0.1.
ex_free_port() {
	"$(ex_python)" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
