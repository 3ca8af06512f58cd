"""CAREFUL (at-least-once): a confluent-kafka worker that retries a failed message by seeking back.

Some messages fail the first time they are handled (a transient error, simulated:
every 7th offset, once per process). The worker then seeks the partition back to
the failed message, drops the rest of that partition's batch and consumes again, so
the message comes back. It commits only what it finished: per partition, the offset
after the last finished message. SIGTERM finishes the batch, commits and closes.
"""

import logging
import signal

from app import GROUP, SESSION_TIMEOUT_MS, TOPIC, confluent_settings, finished, work
from confluent_kafka import Consumer, KafkaException, TopicPartition

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("seek-retry")
running = True
failed_once = set()


def stop(signum, frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)


def handle(msg):
    """Work on one message; the first attempt at every 7th offset fails."""
    key = (msg.partition(), msg.offset())
    if msg.offset() % 7 == 3 and key not in failed_once:
        failed_once.add(key)
        raise TimeoutError(f"downstream timed out on {key}")
    work()


consumer = Consumer(
    {
        **confluent_settings(),
        "group.id": GROUP,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
    }
)
consumer.subscribe([TOPIC])
try:
    while running:
        batch = [m for m in consumer.consume(num_messages=50, timeout=0.5) if not m.error()]
        retrying = set()
        done = {}
        for msg in batch:
            if msg.partition() in retrying:
                continue  # comes again after the seek
            try:
                handle(msg)
            except TimeoutError as exc:
                log.info("%s: retrying from offset %d", exc, msg.offset())
                consumer.seek(TopicPartition(msg.topic(), msg.partition(), msg.offset()))
                retrying.add(msg.partition())
                continue
            finished(msg.partition(), msg.offset())
            done[msg.partition()] = msg.offset() + 1
        if done:
            try:
                consumer.commit(
                    offsets=[TopicPartition(TOPIC, p, o) for p, o in done.items()],
                    asynchronous=False,
                )
            except KafkaException as exc:
                log.warning("commit failed, the batch will be delivered again: %s", exc)
finally:
    consumer.close()
