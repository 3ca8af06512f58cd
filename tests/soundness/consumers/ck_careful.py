"""CAREFUL (at-least-once): a confluent-kafka worker that commits a batch after working on it.

consume() up to 50 messages, work on each, then commit(asynchronous=False).
SIGTERM finishes the batch in hand, commits it and closes the consumer. A commit
that fails (the group rebalanced meanwhile) is only logged: the next owner gets
those messages again.
"""

import logging
import signal

from app import GROUP, SESSION_TIMEOUT_MS, TOPIC, confluent_settings, finished, work
from confluent_kafka import Consumer, KafkaException

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("careful")
running = True


def stop(signum, frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)

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
        if not batch:
            continue
        for msg in batch:
            work()
            finished(msg.partition(), msg.offset())
        try:
            consumer.commit(asynchronous=False)
        except KafkaException as exc:
            log.warning("commit failed, the batch will be delivered again: %s", exc)
finally:
    consumer.close()
