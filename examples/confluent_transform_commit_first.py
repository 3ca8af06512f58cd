"""FAULTY on purpose: the enricher, committing each batch as soon as it has it.

It commits the input offsets first and produces the outputs afterwards,
leaving the producer to send them whenever its buffer fills. When the process
dies in between, the inputs are committed but their outputs were never written:
riverbed reports the acknowledged inputs that have no output.

    EXAMPLE_WORK_MS=80 riverbed run --consumer-cmd "python examples/confluent_transform_commit_first.py" \\
                 --consumer-evidence output-topic --output-topic enriched-$(date +%s) \\
                 --experiment experiments/local/kill-consumer-hard.json
"""

import json
import logging
import os
import signal
import socket
import time

from confluent_kafka import Consumer, Producer

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("enricher")

WORK_S = float(os.environ.get("EXAMPLE_WORK_MS", "0")) / 1000
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
# Big batches, sent late: "throughput".
producer = Producer({**SECURITY, "bootstrap.servers": SERVERS, "linger.ms": 2000, "acks": "all"})


def enrich(event):
    return {**event, "enriched_by": socket.gethostname(), "enriched_at": time.time()}


consumer.subscribe([os.environ.get("KAFKA_TOPIC", "events")])
try:
    while running:
        batch = [m for m in consumer.consume(num_messages=100, timeout=0.5) if not m.error()]
        if not batch:
            continue
        consumer.commit(asynchronous=False)  # the bug: committed before the outputs exist
        for msg in batch:
            time.sleep(WORK_S)
            out = enrich(json.loads(msg.value()))
            producer.produce(OUTPUT, key=msg.key(), value=json.dumps(out))
            producer.poll(0)
        log.info("enriched %d events", len(batch))
finally:
    producer.flush(10)
    consumer.close()
