"""A consume-transform-produce service: each input event, enriched, to an output topic.

Every output carries the input's JSON fields (so riverbed can match it to its
input by producer, key and seq) plus what the service adds. A batch's offsets
are committed only after every output of the batch is acknowledged by Kafka
(acks=all, idempotent producer: no duplicates or reordering on retries).
With EXAMPLE_KEEP_TIMESTAMP=1 each output carries its input's timestamp, as
Kafka Streams' outputs do by default.

    riverbed run --consumer-cmd "python examples/confluent_transform.py" \\
                 --consumer-evidence output-topic --output-topic enriched-$(date +%s) \\
                 --experiment experiments/local/kill-consumer-hard.json
"""

import json
import logging
import os
import signal
import socket
import time

from confluent_kafka import Consumer, KafkaException, Producer

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("enricher")

WORK_S = float(os.environ.get("EXAMPLE_WORK_MS", "0")) / 1000
KEEP_TIMESTAMP = os.environ.get("EXAMPLE_KEEP_TIMESTAMP", "") == "1"
SERVERS = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
OUTPUT = os.environ.get("KAFKA_OUTPUT_TOPIC", "events-enriched")
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
        "bootstrap.servers": SERVERS,
        "group.id": os.environ.get("KAFKA_GROUP", "enrichers"),
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }
)
producer = Producer(
    {**SECURITY, "bootstrap.servers": SERVERS, "acks": "all", "enable.idempotence": True}
)
failed = []


def delivered(err, msg):
    if err is not None:
        failed.append(err)


def enrich(event):
    return {**event, "enriched_by": socket.gethostname(), "enriched_at": time.time()}


consumer.subscribe([os.environ.get("KAFKA_TOPIC", "events")])
if KEEP_TIMESTAMP:
    log.info("outputs keep their inputs' timestamps")
try:
    while running:
        batch = [m for m in consumer.consume(num_messages=100, timeout=0.5) if not m.error()]
        if not batch:
            continue
        for msg in batch:
            time.sleep(WORK_S)
            out = enrich(json.loads(msg.value()))
            # Without a timestamp, librdkafka stamps the time of produce().
            stamp = {"timestamp": msg.timestamp()[1]} if KEEP_TIMESTAMP else {}
            producer.produce(
                OUTPUT, key=msg.key(), value=json.dumps(out), on_delivery=delivered, **stamp
            )
            producer.poll(0)
        # Commit only what Kafka has acknowledged: flush waits for every delivery report.
        producer.flush(30)
        if failed:
            raise KafkaException(failed[0])
        consumer.commit(asynchronous=False)
        log.info("enriched and committed %d events", len(batch))
finally:
    producer.flush(10)
    consumer.close()
