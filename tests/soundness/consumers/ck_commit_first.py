"""AT-MOST-ONCE: a confluent-kafka worker that commits each batch before working on it.

consume() up to 50 messages, commit(asynchronous=False) at once, then work on each.
A SIGKILL in the middle of the work leaves the rest of the batch committed and never
done: lost. SIGTERM finishes the batch and closes the consumer.
"""

import logging
import signal

from app import GROUP, SESSION_TIMEOUT_MS, TOPIC, confluent_settings, finished, work
from confluent_kafka import Consumer

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("commit-first")
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
        consumer.commit(asynchronous=False)  # the bug: claimed done before any of it is
        for msg in batch:
            work()
            finished(msg.partition(), msg.offset())
finally:
    consumer.close()
