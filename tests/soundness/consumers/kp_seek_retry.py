"""CAREFUL (at-least-once): a kafka-python worker that retries a failed record by seeking back.

Some records fail the first time they are handled (a transient error, simulated:
every 7th offset, once per process). The worker then seeks the partition back to
the failed record, drops the rest of that partition's batch and polls again, so the
record comes back. It commits only what it finished: per partition, the offset after
the last finished record. SIGTERM finishes the batch, commits and closes.
"""

import logging
import signal

from app import GROUP, SESSION_TIMEOUT_MS, TOPIC, finished, kafka_python_settings, work
from kafka import KafkaConsumer, OffsetAndMetadata
from kafka.errors import CommitFailedError

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
logging.getLogger("kafka").setLevel(logging.WARNING)
log = logging.getLogger("seek-retry")
running = True
failed_once = set()


def stop(signum, frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)


def handle(record):
    """Work on one record; the first attempt at every 7th offset fails."""
    key = (record.partition, record.offset)
    if record.offset % 7 == 3 and key not in failed_once:
        failed_once.add(key)
        raise TimeoutError(f"downstream timed out on {key}")
    work()


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
        done = {}
        for tp, records in batch.items():
            for record in records:
                try:
                    handle(record)
                except TimeoutError as exc:
                    log.info("%s: retrying from offset %d", exc, record.offset)
                    consumer.seek(tp, record.offset)
                    break
                finished(record.partition, record.offset)
                done[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
        if done:
            try:
                consumer.commit(done)
            except CommitFailedError as exc:
                log.warning("commit refused, the batch will be delivered again: %s", exc)
finally:
    consumer.close()
