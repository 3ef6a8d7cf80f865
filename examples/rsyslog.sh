#!/usr/bin/env bash
# rsyslog.sh: rsyslog writes through omfile into a topic.
#
#   examples/rsyslog.sh                  mounts topicfs itself in a temp dir
#   MNT=/srv/topicfs examples/rsyslog.sh    uses that mount (topic syslog-<pid>)
#   MESSAGES=5000 examples/rsyslog.sh
#
# Installs rsyslog and logger (bsdutils) from Debian when missing. A private
# rsyslogd runs in the foreground with its own config, pid file and work
# directory in a temp dir. It listens on a private socket only (imuxsock with
# the system socket /dev/log turned off), so the system's syslog is left
# alone, and writes what arrives there for program "example" with:
#
#     action(type="omfile" file="$MNT/syslog/log" template="line")
#
# `logger -u SOCKET` sends MESSAGES numbered messages. Checked: the topic holds
# exactly those messages, one record each, in order; after rsyslogd is
# restarted, more messages append after them.
. "$(dirname "$0")/lib.sh"

messages=${MESSAGES:-2000}

ex_need rsyslogd=rsyslog logger=bsdutils
ex_mount
topic=$(ex_topic syslog)
mkdir "$mnt/$topic" || ex_fail "mkdir $mnt/$topic"
log=$mnt/$topic/log
sock=$work/rsyslog/log.sock
mkdir -p "$work/rsyslog/spool"

cat >"$work/rsyslog/rsyslog.conf" <<EOF
global(workDirectory="$work/rsyslog/spool")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$sock" RateLimit.Interval="0" UseSysTimeStamp="on")
template(name="line" type="string"
         string="%TIMESTAMP:::date-rfc3339% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\n")
if \$programname == "example" then {
    action(type="omfile" file="$log" template="line")
    stop
}
EOF

rsyslog_pid=
start_rsyslog() {
	rm -f "$sock"
	rsyslogd -n -f "$work/rsyslog/rsyslog.conf" -i "$work/rsyslog/rsyslogd.pid" \
		>>"$work/rsyslog/out" 2>&1 &
	rsyslog_pid=$!
	ex_wait 10 test -S "$sock" || { cat "$work/rsyslog/out" >&2; ex_fail "rsyslogd did not create $sock"; }
}
stop_rsyslog() {
	kill "$rsyslog_pid" 2>/dev/null
	wait "$rsyslog_pid" 2>/dev/null
	rsyslog_pid=
}
ex_cleanup_add '[ -n "$rsyslog_pid" ] && stop_rsyslog'

rsyslogd -N1 -f "$work/rsyslog/rsyslog.conf" >"$work/rsyslog/check" 2>&1 ||
	{ cat "$work/rsyslog/check" >&2; ex_fail "rsyslogd rejects its config"; }
start_rsyslog
say "rsyslogd (pid $rsyslog_pid) listens on $sock and writes to $log"

send() { # send FROM TO: messages number FROM..TO, one logger call each
	local i
	for ((i = $1; i <= $2; i++)); do
		printf 'message %06d of the rsyslog example\n' "$i"
	done | logger -u "$sock" --socket-errors=on -t example ||
		ex_fail "logger could not send to $sock"
}

count() { grep -c "example: message " "$log" 2>/dev/null || true; }
arrived() { [ "$(count)" -ge "$1" ]; }

half=$((messages / 2))
send 1 "$half"
ex_wait 20 arrived "$half" || ex_fail "only $(count) of $half messages reached the topic"
stop_rsyslog
say "restarting rsyslogd: its omfile reopens the topic and appends"
start_rsyslog
send $((half + 1)) "$messages"
ex_wait 20 arrived "$messages" || ex_fail "only $(count) of $messages messages reached the topic"
stop_rsyslog

# Exactly the messages sent, in order, one record each.
sed -n 's/.* example: //p' "$log" >"$work/got"
for ((i = 1; i <= messages; i++)); do printf 'message %06d of the rsyslog example\n' "$i"; done >"$work/want"
cmp -s "$work/got" "$work/want" || {
	diff "$work/want" "$work/got" | head -5 >&2
	ex_fail "the topic does not hold exactly the $messages messages, in order"
}
records=$(ex_attr "$mnt/$topic" topicfs.records)
[ "$records" = "$messages" ] || ex_fail "user.topicfs.records is $records, not $messages"
say "first record: $(head -n 1 "$log")"
say "OK: $messages messages through omfile, one record each, in order"
