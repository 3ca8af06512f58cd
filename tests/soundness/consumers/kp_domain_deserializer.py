"""CAREFUL (at-least-once): a kafka-python worker whose value_deserializer builds domain objects.

The deserializer (kafka-python's ``Deserializer`` interface) turns each value into an ``Event`` dataclass that keeps only what
the service cares about (no timestamp, no checksum). The worker polls, works on each
event, then commits. SIGTERM finishes the batch, commits and closes.
"""

import json
import logging
import signal
from dataclasses import dataclass

from app import GROUP, SESSION_TIMEOUT_MS, TOPIC, finished, kafka_python_settings, work
from kafka import KafkaConsumer
from kafka.errors import CommitFailedError
from kafka.serializer import Deserializer

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
logging.getLogger("kafka").setLevel(logging.WARNING)
log = logging.getLogger("domain")
running = True


@dataclass(frozen=True)
class Event:
    producer: str
    key: str
    seq: int
    body: str


class EventDeserializer(Deserializer):
    def deserialize(self, topic, headers, data):
        value = json.loads(data)
        return Event(value["producer"], value["key"], value["seq"], value["body"])


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
    value_deserializer=EventDeserializer(),
)
try:
    while running:
        batch = consumer.poll(timeout_ms=500, max_records=50)
        if not batch:
            continue
        for records in batch.values():
            for record in records:
                event = record.value
                work()
                log.debug("handled %s/%s #%d", event.producer, event.key, event.seq)
                finished(record.partition, record.offset)
        try:
            consumer.commit()
        except CommitFailedError as exc:
            log.warning("commit refused, the batch will be delivered again: %s", exc)
finally:
    consumer.close()
