"""CAREFUL (at-least-once): a kafka-python worker that commits a batch after working on it.

It polls up to 50 records, works on each, then commits. SIGTERM finishes the batch
in hand, commits it and closes the consumer. A commit refused because the group
rebalanced meanwhile is only logged: the next owner gets those records again.
"""

import logging
import signal

from app import GROUP, SESSION_TIMEOUT_MS, TOPIC, finished, kafka_python_settings, work
from kafka import KafkaConsumer
from kafka.errors import CommitFailedError

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
logging.getLogger("kafka").setLevel(logging.WARNING)
log = logging.getLogger("careful")
running = True


def stop(signum, frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)

consumer = KafkaConsumer(
    TOPIC,
    **kafka_python_settings(),
    group_id=GROUP,
    auto_offset_reset="earliest",
    enable_auto_commit=False,
    session_timeout_ms=SESSION_TIMEOUT_MS,
)
try:
    while running:
        batch = consumer.poll(timeout_ms=500, max_records=50)
        if not batch:
            continue
        for records in batch.values():
            for record in records:
                work()
                finished(record.partition, record.offset)
        try:
            consumer.commit()
        except CommitFailedError as exc:
            log.warning("commit refused, the batch will be delivered again: %s", exc)
finally:
    consumer.close()
