"""AT-MOST-ONCE: confluent-kafka storing each message's offset before working on it.

Auto-commit is on, every 100 ms; automatic offset storing is off, and the worker
stores each message's offset itself, first thing ("taken"), then works on it. The
background commit thus covers the message in hand: a SIGKILL before it is done
loses it. SIGTERM finishes the batch and closes the consumer (which commits).
"""

import logging
import signal

from app import GROUP, SESSION_TIMEOUT_MS, TOPIC, confluent_settings, finished, work
from confluent_kafka import Consumer

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("store-first")
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
        "enable.auto.offset.store": False,
        "auto.commit.interval.ms": 100,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
    }
)
consumer.subscribe([TOPIC])
try:
    while running:
        for msg in consumer.consume(num_messages=50, timeout=0.5):
            if msg.error():
                continue
            consumer.store_offsets(msg)  # the bug: stored (and soon committed) before the work
            work()
            finished(msg.partition(), msg.offset())
finally:
    consumer.close()
