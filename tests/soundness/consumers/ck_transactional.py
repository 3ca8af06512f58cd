"""EXACTLY-ONCE: a confluent-kafka consume-transform-produce loop with transactions.

Auto-commit is off. Per batch: begin a transaction, produce one output per input
(to KAFKA_OUTPUT_TOPIC, or to ``<topic>-out``, which it creates), add the consumer's
positions to the transaction (send_offsets_to_transaction with the consumer's group
metadata), commit the transaction. The outputs and the group's offsets become
visible together or not at all. A failed transaction is aborted and the batch's
partitions are rewound to its first messages, so they are consumed again. SIGTERM
finishes the batch, commits its transaction and closes.

Its record of finished work is written when a message's output is produced inside
the transaction, before the commit: a transaction that then aborts (or a SIGKILL
before it commits) leaves the offsets uncommitted, so the message is done again
(finished twice, never lost), while a line written only after the commit could miss
a message whose transaction committed just before a SIGKILL.
"""

import logging
import os
import signal
import socket

from app import GROUP, SESSION_TIMEOUT_MS, TOPIC, confluent_settings, finished, work
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("transactional")
OUTPUT = os.environ.get("KAFKA_OUTPUT_TOPIC") or f"{TOPIC}-out"
running = True


def stop(signum, frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)


def ensure_output_topic():
    admin = AdminClient(confluent_settings())
    (future,) = admin.create_topics([NewTopic(OUTPUT, num_partitions=3)]).values()
    try:
        future.result()
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise


if not os.environ.get("KAFKA_OUTPUT_TOPIC"):
    ensure_output_topic()

consumer = Consumer(
    {
        **confluent_settings(),
        "group.id": GROUP,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
    }
)
producer = Producer(
    {
        **confluent_settings(),
        "transactional.id": f"{GROUP}-{socket.gethostname()}-{os.getpid()}",
    }
)
producer.init_transactions()
consumer.subscribe([TOPIC])
try:
    while running:
        batch = [m for m in consumer.consume(num_messages=50, timeout=0.5) if not m.error()]
        if not batch:
            continue
        producer.begin_transaction()
        try:
            for msg in batch:
                work()
                producer.produce(OUTPUT, key=msg.key(), value=msg.value())
                producer.poll(0)
                finished(msg.partition(), msg.offset())
            positions = consumer.position(consumer.assignment())
            producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata())
            producer.commit_transaction()
        except KafkaException as exc:
            if not exc.args[0].txn_requires_abort():
                raise
            log.warning("transaction failed, the batch is done again: %s", exc)
            producer.abort_transaction()
            first = {}
            for msg in batch:
                first.setdefault(msg.partition(), msg.offset())
            owned = {tp.partition for tp in consumer.assignment()}
            for partition, offset in first.items():
                if partition in owned:
                    consumer.seek(TopicPartition(TOPIC, partition, offset))
finally:
    consumer.close()
