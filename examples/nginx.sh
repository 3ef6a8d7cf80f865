#!/usr/bin/env bash
# nginx.sh: nginx writes its access log into a topic, under load, while a
# `tail -F` consumer follows it; every request must be logged exactly once.
#
#   examples/nginx.sh                 mounts topicfs itself in a temp dir
#   MNT=/srv/topicfs examples/nginx.sh   uses that mount (topic web-<pid>)
#   REQUESTS=20000 CONCURRENCY=64 examples/nginx.sh
#
# Installs nginx and ab (apache2-utils) from Debian when missing. nginx runs
# with a private prefix and config in a temp dir, listens on 127.0.0.1 only
# (a free port), logs each request as one line:
#
#     access_log $MNT/web/log topic;   # log_format topic '$msec $request_id $status "$request"'
#
# ab sends REQUESTS requests, CONCURRENCY at a time. The consumer is plain
# `tail -n +1 -F $MNT/web/log`. Checked: the consumer saw exactly REQUESTS
# lines, each request id once, every status 200; a replay (`cat`) equals
# what the consumer saw; the topic's figure user.topicfs.records agrees.
. "$(dirname "$0")/lib.sh"

requests=${REQUESTS:-10000}
concurrency=${CONCURRENCY:-32}

ex_need nginx=nginx ab=apache2-utils /usr/bin/python3=python3
py=$(ex_python)
# Small segments, so that the log rolls (and sealed segments get compressed)
# while tail -F follows it.
ex_mount segment.bytes=262144
topic=$(ex_topic web)
mkdir "$mnt/$topic" || ex_fail "mkdir $mnt/$topic"
log=$mnt/$topic/log

port=$(ex_free_port)
mkdir -p "$work/nginx/tmp"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    log_format topic '\$msec \$request_id \$status "\$request"';
    server {
        listen 127.0.0.1:$port;
        access_log $log topic;
        location / { return 200 "hello from nginx\n"; }
    }
}
EOF

# The consumer first, from the start of the (empty) log.
tail -n +1 -F "$log" >"$work/tailed" 2>"$work/tail.err" &
tail_pid=$!
ex_cleanup_add "kill $tail_pid 2>/dev/null; wait $tail_pid 2>/dev/null"

nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
ex_cleanup_add "kill $nginx_pid 2>/dev/null; wait $nginx_pid 2>/dev/null"
up() { "$py" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" 2>/dev/null; }
ex_wait 10 up || { cat "$work/nginx/error.log" >&2; ex_fail "nginx did not listen on 127.0.0.1:$port"; }
say "nginx on 127.0.0.1:$port logs into $log"

say "ab: $requests requests, $concurrency at a time"
ab -q -k -n "$requests" -c "$concurrency" "http://127.0.0.1:$port/" >"$work/ab.out" 2>&1 ||
	{ cat "$work/ab.out" >&2; ex_fail "ab failed"; }
grep -E "^(Complete|Failed) requests|^Requests per second" "$work/ab.out" | sed "s/^/$ex_name: ab: /"
grep -q "^Failed requests: *0$" "$work/ab.out" || ex_fail "ab saw failed requests"

# Stopping nginx closes the log; then every request is in the topic.
kill -QUIT "$nginx_pid"
wait "$nginx_pid" 2>/dev/null

# tail -F polls about once a second on FUSE: give it time to catch up.
seen() { [ "$(wc -l <"$work/tailed")" -ge "$requests" ]; }
ex_wait 30 seen || true
sleep 1.5 # and a little more, to see that nothing extra comes
kill "$tail_pid" 2>/dev/null
wait "$tail_pid" 2>/dev/null

lines=$(wc -l <"$work/tailed")
ids=$(awk '{print $2}' "$work/tailed" | sort -u | wc -l)
not200=$(awk '$3 != 200' "$work/tailed" | wc -l)
records=$(ex_attr "$mnt/$topic" topicfs.records)
segments=$(ex_attr "$mnt/$topic" topicfs.segments)
say "consumer saw $lines lines, $ids distinct request ids, $not200 not 200; topic has $records records in $segments segments"
[ "$lines" = "$requests" ] || ex_fail "tail -F saw $lines lines for $requests requests"
[ "$ids" = "$requests" ] || ex_fail "$ids distinct request ids for $requests requests"
[ "$not200" = 0 ] || ex_fail "$not200 requests did not get 200"
[ "$records" = "$requests" ] || ex_fail "user.topicfs.records is $records, not $requests"
cmp -s "$work/tailed" "$log" || ex_fail "a replay (cat $log) differs from what tail -F saw"
grep -q "file truncated" "$work/tail.err" && ex_fail "tail said: $(cat "$work/tail.err")"
say "OK: every request logged exactly once"
