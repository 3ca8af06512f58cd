"""FAULTY on purpose: a confluent-kafka batch worker that leaves committing to librdkafka.

With enable.auto.commit (librdkafka's default) the client commits, in the
background every auto.commit.interval.ms, the offset of every message
consume() has *returned* — done or not. A batch that is still being worked on
when the process dies is committed and never finished: riverbed reports those
events as never-processed. (The fix: enable.auto.offset.store=false and
store_offsets() after each message, or commit after the work.)

    EXAMPLE_WORK_MS=80 riverbed run --consumer-cmd "python examples/confluent_auto_commit.py" \\
                 --experiment experiments/local/kill-consumer-hard.json
"""

import json
import logging
import os
import signal
import time

from confluent_kafka import Consumer

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("worker")

WORK_S = float(os.environ.get("EXAMPLE_WORK_MS", "0")) / 1000
running = True


def stop(signum, frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)

# A cluster with TLS and SASL (riverbed run --platform external) comes with its client
# settings as one JSON object in librdkafka's names: {} on a plain one.
SECURITY = json.loads(os.environ.get("KAFKA_CLIENT_CONFIG") or "{}")

consumer = Consumer(
    {
        **SECURITY,
        "bootstrap.servers": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        "group.id": os.environ.get("KAFKA_GROUP", "workers"),
        "auto.offset.reset": "earliest",
        # "Commit often, so that a restart delivers little twice."
        "auto.commit.interval.ms": 100,
    }
)
consumer.subscribe([os.environ.get("KAFKA_TOPIC", "events")])
try:
    while running:
        for msg in consumer.consume(num_messages=200, timeout=2.0):
            if msg.error():
                continue
            event = json.loads(msg.value())
            time.sleep(WORK_S)
            log.debug("handled %s/%s #%s", event["producer"], event["key"], event["seq"])
finally:
    consumer.close()
