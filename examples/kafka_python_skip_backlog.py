"""FAULTY on purpose: the tutorial's event logger, made to "catch up" after a rebalance.

When it is assigned partitions it seeks to their end, skipping the events that
piled up while nobody owned them ("old news"). After a consumer dies, the events
the dead member had not finished are never handled by anyone, and auto-commit
moves the group past them: riverbed reports them as never-processed.

    riverbed run --consumer-cmd "python examples/kafka_python_skip_backlog.py" \\
                 --experiment experiments/local/kill-consumer-hard.json
"""

import json
import logging
import os
import time

from kafka import ConsumerRebalanceListener, KafkaConsumer

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
    bootstrap_servers=[os.environ.get("KAFKA_BROKER", "localhost:9092")],
    **SECURITY,
    group_id=os.environ.get("KAFKA_GROUP", "event-loggers"),
    auto_offset_reset="earliest",
    enable_auto_commit=True,
    value_deserializer=lambda v: json.loads(v.decode("utf-8")),
)


class CatchUp(ConsumerRebalanceListener):
    def on_partitions_revoked(self, revoked):
        log.info("revoked %s", sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned):
        log.info("assigned %s: skipping to the end", sorted(tp.partition for tp in assigned))
        if assigned:
            consumer.seek_to_end(*assigned)  # the bug: whatever waited there is skipped


consumer.subscribe([os.environ.get("KAFKA_TOPIC", "events")], listener=CatchUp())

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
