#!/usr/bin/env python3
"""producer.py: a Python producer that logs into a topic with logging.FileHandler.

    python3 examples/producer.py TOPIC_DIR COUNT [RATE_PER_S]

Nothing topicfs-specific: the handler opens TOPIC_DIR/log for appending, as
it would open any log file, and every logging call writes one line, which
topicfs stores as one record. The lines are

    2026-11-25 10:00:00,123 INFO seq=000042 order placed

so that a consumer can check that it saw every seq exactly once.
"""
import logging
import os
import sys
import time


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    topic_dir, count = sys.argv[1], int(sys.argv[2])
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0

    handler = logging.FileHandler(os.path.join(topic_dir, "log"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log = logging.getLogger("producer")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False

    start = time.monotonic()
    for seq in range(count):
        log.info("seq=%06d order placed", seq)
        if rate > 0:  # keep to RATE records a second, on average
            ahead = (seq + 1) / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    handler.close()


if __name__ == "__main__":
    main()
