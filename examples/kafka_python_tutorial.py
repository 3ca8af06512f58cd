"""An event logger as kafka-python tutorials write it: iterate, auto-commit, log each event.

Nothing here knows about riverbed: it reads the tutorial's environment
(KAFKA_BROKER, KAFKA_TOPIC, KAFKA_GROUP). EXAMPLE_WORK_MS simulates the time
handling one event takes (default 0).

    riverbed run --consumer-cmd "python examples/kafka_python_tutorial.py" \\
                 --experiment experiments/local/kill-consumer-hard.json
"""

import json
import logging
import os
import time

from kafka import KafkaConsumer

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
logging.getLogger("kafka").setLevel(logging.WARNING)
log = logging.getLogger("event-logger")

WORK_S = float(os.environ.get("EXAMPLE_WORK_MS", "0")) / 1000

# A cluster with TLS and SASL (riverbed run --platform external) comes with its client
# settings in KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_*; none on a plain one.
SECURITY = {
    name: os.environ[variable]
    for name, variable in (
        ("security_protocol", "KAFKA_SECURITY_PROTOCOL"),
        ("sasl_mechanism", "KAFKA_SASL_MECHANISM"),
        ("sasl_plain_username", "KAFKA_SASL_USERNAME"),
        ("sasl_plain_password", "KAFKA_SASL_PASSWORD"),
        ("ssl_cafile", "KAFKA_SSL_CA_LOCATION"),
    )
    if os.environ.get(variable)
}

consumer = KafkaConsumer(
    os.environ.get("KAFKA_TOPIC", "events"),
    bootstrap_servers=[os.environ.get("KAFKA_BROKER", "localhost:9092")],
    **SECURITY,
    group_id=os.environ.get("KAFKA_GROUP", "event-loggers"),
    auto_offset_reset="earliest",
    enable_auto_commit=True,
    value_deserializer=lambda v: json.loads(v.decode("utf-8")),
)

for message in consumer:
    event = message.value
    time.sleep(WORK_S)
    log.info(
        "partition %d offset %d: event %s/%s #%s",
        message.partition,
        message.offset,
        event.get("producer"),
        event.get("key"),
        event.get("seq"),
    )
