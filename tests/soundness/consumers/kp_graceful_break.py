"""AT-MOST-ONCE ON A GRACEFUL STOP: kafka-python with auto-commit, stopping mid-batch.

Auto-commit is on (the default): every poll() commits what the previous polls
returned, after it was worked on. On SIGTERM the worker stops "promptly": it leaves
the batch before its next record and closes the consumer, and close() auto-commits
the positions of everything polled, including the records it never got to: lost.
"""

import signal

from app import GROUP, SESSION_TIMEOUT_MS, TOPIC, finished, kafka_python_settings, work
from kafka import KafkaConsumer

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
    session_timeout_ms=SESSION_TIMEOUT_MS,
)
try:
    while running:
        batch = consumer.poll(timeout_ms=500, max_records=50)
        for records in batch.values():
            for record in records:
                if not running:
                    break  # the bug: close() below commits the rest of the batch too
                work()
                finished(record.partition, record.offset)
finally:
    consumer.close()
