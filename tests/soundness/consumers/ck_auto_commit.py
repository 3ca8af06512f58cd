"""AT-MOST-ONCE: confluent-kafka with the library's defaults, working through batches.

enable.auto.commit and enable.auto.offset.store are on (librdkafka's defaults):
consume() stores the offsets of every message it returns, and the background commit
(every 100 ms here, "so that a restart delivers little twice") commits them whether
the batch is done or not. A SIGKILL while a committed batch is still being worked on
loses its rest. SIGTERM finishes the batch and closes the consumer.
"""

import logging
import signal

from app import GROUP, SESSION_TIMEOUT_MS, TOPIC, confluent_settings, finished, work
from confluent_kafka import Consumer

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("auto-commit")
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
        "auto.commit.interval.ms": 100,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
    }
)
consumer.subscribe([TOPIC])
try:
    while running:
        for msg in consumer.consume(num_messages=100, timeout=0.5):
            if msg.error():
                continue
            work()
            finished(msg.partition(), msg.offset())
finally:
    consumer.close()
