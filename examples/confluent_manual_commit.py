"""A confluent-kafka worker that commits after processing each batch (at-least-once).

Auto-commit is off; each batch is handled, then its offsets are committed
synchronously. SIGTERM finishes the batch in hand, commits it and closes the
consumer (which leaves the group at once). EXAMPLE_WORK_MS simulates the time
handling one event takes (default 0).

    riverbed run --consumer-cmd "python examples/confluent_manual_commit.py" \\
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
        "enable.auto.commit": False,
    }
)


def on_assign(c, partitions):
    log.info("assigned %s", [p.partition for p in partitions])


def on_revoke(c, partitions):
    log.info("revoked %s", [p.partition for p in partitions])


consumer.subscribe(
    [os.environ.get("KAFKA_TOPIC", "events")], on_assign=on_assign, on_revoke=on_revoke
)
try:
    while running:
        batch = consumer.consume(num_messages=100, timeout=0.5)
        handled = 0
        for msg in batch:
            if msg.error():
                log.warning("consumer error: %s", msg.error())
                continue
            event = json.loads(msg.value())
            time.sleep(WORK_S)
            handled += 1
            log.debug("handled %s/%s #%s", event["producer"], event["key"], event["seq"])
        if handled:
            consumer.commit(asynchronous=False)
            log.info("handled and committed %d events", handled)
finally:
    consumer.close()
