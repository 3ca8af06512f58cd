"""AT-MOST-ONCE: a kafka-python worker that commits each batch right after polling it.

It polls up to 50 records, commits them at once ("so that a restart never handles
them twice"), then works on them one by one. A SIGKILL in the middle of the work
leaves the rest of the batch committed and never done: lost. SIGTERM finishes the
batch and closes the consumer.
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
    enable_auto_commit=False,
    session_timeout_ms=SESSION_TIMEOUT_MS,
)
try:
    while running:
        batch = consumer.poll(timeout_ms=500, max_records=50)
        if not batch:
            continue
        consumer.commit()  # the bug: the batch is claimed done before any of it is
        for records in batch.values():
            for record in records:
                work()
                finished(record.partition, record.offset)
finally:
    consumer.close()
