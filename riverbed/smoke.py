"""``riverbed demo``: the main job on the embedded default (the local platform).

Until the full scenario is wired in, the demo brings up the local 3-broker
cluster and runs a real produce/consume round trip, printing what it did.
"""

from __future__ import annotations

import time
import uuid

import click

from riverbed.console import err, harness_errors, progress
from riverbed.kafka.cluster import LocalKafkaCluster


@click.command()
@click.option("--messages", type=click.IntRange(1, 1_000_000), default=1000, show_default=True)
@harness_errors
def demo(messages: int) -> None:
    """Run the default scenario on the local platform (a real Kafka cluster on 127.0.0.1)."""
    from kafka import KafkaConsumer, KafkaProducer

    cluster = LocalKafkaCluster(brokers=3)
    with progress("starting the local Kafka cluster") as update:
        outcome = cluster.up(progress=update)
    err.print(f"cluster {outcome}: {cluster.bootstrap_servers}")
    topic = f"riverbed-smoke-{uuid.uuid4().hex[:8]}"
    cluster.create_topic(topic, partitions=6)
    err.print(f"created topic {topic}: 6 partitions, replication 3, min.insync.replicas 2")
    producer = KafkaProducer(
        bootstrap_servers=cluster.bootstrap_servers, acks="all", enable_idempotence=True
    )
    t0 = time.monotonic()
    futures = [
        producer.send(topic, key=f"k{i % 17}".encode(), value=str(i).encode())
        for i in range(messages)
    ]
    producer.flush()
    acked = {(m.partition, m.offset) for m in (f.get(timeout=30) for f in futures)}
    producer.close()
    err.print(
        f"produced {messages} messages with acks=all: {len(acked)} acknowledged "
        f"in {time.monotonic() - t0:.2f}s"
    )
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=cluster.bootstrap_servers,
        group_id=f"{topic}-group",
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    seen = set()
    for record in consumer:
        seen.add((record.partition, record.offset))
        if len(seen) >= len(acked):
            break
    consumer.close()
    missing = acked - seen
    err.print(f"consumed {len(seen)} messages back; missing acknowledged: {len(missing)}")
    if missing:
        raise SystemExit(1)
    err.print("smoke check passed. Stop the cluster with `riverbed kafka down`.")
