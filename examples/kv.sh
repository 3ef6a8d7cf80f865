#!/usr/bin/env bash
# kv.sh: a compacted topic used as a key-value table.
#
#   examples/kv.sh                  mounts topicfs itself in a temp dir
#   MNT=/srv/topicfs examples/kv.sh    uses that mount (topic users-<pid>)
#   KEYS=100 ROUNDS=50 examples/kv.sh
#
# The topic is made a table with extended attributes, as with Kafka's
# kafka-configs:
#
#     setfattr -n user.key.separator -v '=' users      # "KEY=VALUE" lines
#     setfattr -n user.cleanup.policy -v compact users
#
# Setting a key appends "KEY=VALUE"; deleting one appends the tombstone
# "KEY=". Reading the table replays the log, the last value of each key
# winning. Compaction (the background thread) keeps only the newest record
# of each key and drops old tombstones, so the replay stays short. Small
# segments (segment.bytes) and a short segment.ms let it reach every record
# within seconds. Checked: the table read back equals the one written, before
# and after compaction; compaction left one record per live key; on our own
# mount, `topicfs dump --records` lists the table from DATADIR, unmounted.
. "$(dirname "$0")/lib.sh"

keys=${KEYS:-50}
rounds=${ROUNDS:-20}

ex_mount maintenance.interval.ms=100
topic=$(ex_topic users)
dir=$mnt/$topic
mkdir "$dir" || ex_fail "mkdir $dir"
setfattr -n user.key.separator -v '=' "$dir" &&
	setfattr -n user.cleanup.policy -v compact "$dir" &&
	setfattr -n user.segment.bytes -v 2048 "$dir" &&
	setfattr -n user.segment.ms -v 1000 "$dir" &&
	setfattr -n user.min.cleanable.dirty.ratio -v 0.01 "$dir" &&
	setfattr -n user.delete.retention.ms -v 0 "$dir" ||
	ex_fail "cannot set the topic's settings"
say "table $dir: $(getfattr --absolute-names -d -m 'user\.(key|cleanup|segment)' "$dir" | grep = | tr '\n' ' ')"

kv_set() { printf '%s=%s\n' "$1" "$2" >>"$dir/log"; }
kv_del() { printf '%s=\n' "$1" >>"$dir/log"; }
# The table: replay the log, the last record of each key wins; a tombstone
# (an empty value) deletes. Prints "KEY=VALUE" lines sorted by key.
kv_table() {
	awk '{ i = index($0, "="); if (i == 0) next
	       k = substr($0, 1, i - 1); v = substr($0, i + 1)
	       if (v == "") delete t[k]; else t[k] = v }
	     END { for (k in t) print k "=" t[k] }' "$dir/log" | LC_ALL=C sort
}

# Every key gets ROUNDS updates; then every fifth key is deleted.
declare -A want
for ((r = 1; r <= rounds; r++)); do
	for ((k = 1; k <= keys; k++)); do
		kv_set "user$k" "balance $((r * 10 + k)) at round $r"
		want[user$k]="balance $((r * 10 + k)) at round $r"
	done
done
for ((k = 5; k <= keys; k += 5)); do
	kv_del "user$k"
	unset "want[user$k]"
done
for k in "${!want[@]}"; do printf '%s=%s\n' "$k" "${want[$k]}"; done | LC_ALL=C sort >"$work/want"
live=${#want[@]}
written=$((keys * rounds + keys / 5))

kv_table >"$work/before"
cmp -s "$work/before" "$work/want" || ex_fail "the table read back differs from the one written"
say "wrote $written records for $live live keys; the table reads back right"
say "user7 is: $(kv_table | grep '^user7=' | cut -d= -f2-)"

compacted() { [ "$(ex_attr "$dir" topicfs.records)" = "$live" ]; }
ex_wait 30 compacted ||
	ex_fail "compaction did not get down to $live records in 30 s (records: $(ex_attr "$dir" topicfs.records))"
say "compacted: $(ex_attr "$dir" topicfs.records) records (of $written written), offsets $(ex_attr "$dir" topicfs.start_offset)..$(ex_attr "$dir" topicfs.end_offset), $(ex_attr "$dir" topicfs.stored_bytes) bytes stored"

kv_table >"$work/after"
cmp -s "$work/after" "$work/want" || ex_fail "after compaction, the table differs"
[ "$(wc -l <"$dir/log")" = "$live" ] || ex_fail "the compacted log has $(wc -l <"$dir/log") lines, not $live"
grep -q '^user5=' "$dir/log" && ex_fail "a deleted key is still in the compacted log"

kv_set user1 "one more update"
[ "$(kv_table | grep '^user1=')" = "user1=one more update" ] || ex_fail "an update after compaction is lost"
say "user1 is now: $(kv_table | grep '^user1=' | cut -d= -f2-)"

if [ -n "$data" ]; then
	ex_umount
	"$topicfs" dump --records "$data" "$topic" >"$work/dump" ||
		{ cat "$work/dump" >&2; ex_fail "topicfs dump found damage"; }
	grep -c ' key: ' "$work/dump" | grep -qx "$((live + 1))" ||
		ex_fail "topicfs dump --records does not list $((live + 1)) keyed records"
	say "topicfs dump --records: $(grep -m 1 ' key: user1 ' "$work/dump" | sed 's/^ *//')"
	say "topicfs dump: $(tail -n 1 "$work/dump")"
fi
say "OK: the compacted topic works as a key-value table"
