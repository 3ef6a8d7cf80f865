#!/usr/bin/env python3
"""consumer.py: a Python consumer that resumes from its saved offset.

    python3 examples/consumer.py TOPIC_DIR STATE_FILE OUTPUT_FILE [UNTIL_OFFSET]

It reads TOPIC_DIR/<offset>, the topic's records from <offset> on (a file
that grows as records arrive), "processes" each record by appending its
seq=... number to OUTPUT_FILE, and after each batch commits its progress to
STATE_FILE: the offset of the next record, and how long OUTPUT_FILE was
then. The state file is replaced atomically (write, fsync, rename, fsync the
directory), and the output is synced before it.

Killed at any moment (SIGKILL included) and started again, it cuts
OUTPUT_FILE back to the committed length, which undoes a batch processed but
not committed, and opens TOPIC_DIR/<committed offset>: no record is missed
and none is processed twice. It stops once it has committed UNTIL_OFFSET
(without it, it runs until killed).

Offsets are counted as records are read: one line, one record, offsets one
apart, which holds for a topic that compaction does not touch (retention
only removes records before the ones a consumer still has to read, as long
as it keeps up).
"""
import json
import os
import sys
import time

READ_BYTES = 4096  # one batch: what one read returns
# Simulated work per record, in milliseconds (the example sets it so that
# kills land in the middle of batches too, not only between them).
WORK_S = float(os.environ.get("CONSUMER_WORK_MS", "0")) / 1000


def load_state(path):
    try:
        with open(path) as f:
            state = json.load(f)
        return int(state["offset"]), int(state["output_bytes"])
    except FileNotFoundError:
        return 0, 0


def commit(path, offset, output_bytes):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"offset": offset, "output_bytes": output_bytes}, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)
    dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: consumer.py TOPIC_DIR STATE_FILE OUTPUT_FILE [UNTIL_OFFSET]")
    topic_dir, state_path, out_path = sys.argv[1:4]
    until = int(sys.argv[4]) if len(sys.argv) > 4 else None

    offset, output_bytes = load_state(state_path)
    out = open(out_path, "ab", buffering=0)  # a partial batch reaches the file
    out.truncate(output_bytes)  # undo what was processed but not committed
    out.seek(output_bytes)
    print(f"consumer: resuming at offset {offset}", file=sys.stderr, flush=True)

    fd = os.open(os.path.join(topic_dir, str(offset)), os.O_RDONLY)
    pending = b""
    while until is None or offset < until:
        chunk = os.read(fd, READ_BYTES)
        if not chunk:
            time.sleep(0.02)  # the end for now: records are still to come
            continue
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()  # an incomplete last line waits for its end
        for line in lines:
            seq = line.split(b"seq=", 1)[1].split(b" ", 1)[0]
            out.write(seq + b"\n")
            offset += 1
            if WORK_S:
                time.sleep(WORK_S)
        if lines:
            out.flush()
            os.fsync(out.fileno())
            output_bytes = out.tell()
            commit(state_path, offset, output_bytes)
    os.close(fd)
    out.close()
    print(f"consumer: committed offset {offset}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
