#!/usr/bin/env bash
# python.sh: a Python producer (logging.FileHandler) and a Python consumer
# that is killed with SIGKILL again and again and resumes from its saved
# offset each time, missing and repeating nothing.
#
#   examples/python.sh                  mounts topicfs itself in a temp dir
#   MNT=/srv/topicfs examples/python.sh    uses that mount (topic orders-<pid>)
#   RECORDS=10000 RATE=2000 KILLS=10 examples/python.sh
#
# producer.py logs RECORDS lines at RATE a second into $MNT/orders/log.
# Meanwhile consumer.py (see its header) reads $MNT/orders/<saved offset>,
# writes each record's seq to an output file and commits offset and output
# length to a state file after each batch; this script kills it with SIGKILL
# KILLS times at random moments and starts it again. Checked: the output
# holds every seq from 0 to RECORDS-1 exactly once, in order.
. "$(dirname "$0")/lib.sh"

records=${RECORDS:-4000}
rate=${RATE:-800}
kills=${KILLS:-8}

ex_need /usr/bin/python3=python3
py=$(ex_python)
ex_mount segment.bytes=65536
topic=$(ex_topic orders)
mkdir "$mnt/$topic" || ex_fail "mkdir $mnt/$topic"

"$py" "$ex_dir/producer.py" "$mnt/$topic" "$records" "$rate" &
producer_pid=$!
ex_cleanup_add "kill $producer_pid 2>/dev/null; wait $producer_pid 2>/dev/null"
say "producer.py: $records records at $rate a second into $mnt/$topic/log"

consumer_pid=
start_consumer() {
	CONSUMER_WORK_MS=${CONSUMER_WORK_MS:-0.5} "$py" "$ex_dir/consumer.py" "$mnt/$topic" "$work/state.json" "$work/output" ${1:-} \
		2>>"$work/consumer.log" &
	consumer_pid=$!
}
ex_cleanup_add '[ -n "$consumer_pid" ] && kill -9 $consumer_pid 2>/dev/null'

committed() { sed -n 's/.*"output_bytes": *\([0-9]*\).*/\1/p' "$work/state.json" 2>/dev/null; }
midbatch=0
for ((k = 1; k <= kills; k++)); do
	start_consumer
	sleep "0.$((RANDOM % 6 + 3))$((RANDOM % 10))"
	kill -9 "$consumer_pid" 2>/dev/null
	wait "$consumer_pid" 2>/dev/null
	# Records processed but not committed: the next start redoes them.
	extra=$((($(stat -c %s "$work/output" 2>/dev/null || echo 0) - $(committed || echo 0)) / 7))
	[ "$extra" -gt 0 ] && midbatch=$((midbatch + 1))
	say "SIGKILL $k: committed $(cat "$work/state.json" 2>/dev/null || echo nothing), $extra records processed but not committed"
done
consumer_pid=

wait "$producer_pid" || ex_fail "producer.py failed"
say "producer done: user.topicfs.end_offset=$(ex_attr "$mnt/$topic" topicfs.end_offset)"

start_consumer "$records"
done_consumer() { ! kill -0 "$consumer_pid" 2>/dev/null; }
ex_wait 60 done_consumer || ex_fail "the consumer did not reach offset $records within 60 s"
wait "$consumer_pid" || ex_fail "consumer.py failed: $(tail -n 3 "$work/consumer.log")"
consumer_pid=

say "the consumer resumed at offsets: $(grep -o 'resuming at offset [0-9]*' "$work/consumer.log" | awk '{print $4}' | tr '\n' ' ')"
for ((i = 0; i < records; i++)); do printf '%06d\n' "$i"; done >"$work/want"
if ! cmp -s "$work/output" "$work/want"; then
	dups=$(sort "$work/output" | uniq -d | wc -l)
	say "output: $(wc -l <"$work/output") lines, $dups repeated" >&2
	diff "$work/want" "$work/output" | head -5 >&2
	ex_fail "the consumer did not see every record exactly once, in order"
fi
say "OK: $records records consumed exactly once across $kills SIGKILLs ($midbatch in the middle of a batch)"
