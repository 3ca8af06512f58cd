"""Kafka faults: grow the data topic's partition count, write poison records into it.

Each action takes its targets as keyword arguments; empty values are resolved
from the environment, the running local platform, or the defaults (see
:mod:`riverbed.chaos.targets`). Every action returns a JSON-able value that
says what it did, so the fault timeline shows whether it landed.
"""

# No ``from __future__ import annotations`` here: Chaos Toolkit's discovery
# reads the annotations as real types to show argument types to users.

import json
import logging
import time
import uuid

from riverbed.chaos import targets
from riverbed.errors import HarnessError
from riverbed.kafka import admin

__all__ = ["add_partitions", "inject_poison_records"]

logger = logging.getLogger("chaostoolkit")

POISON_KINDS = ("corrupt", "schema", "undecodable")


def add_partitions(
    total: int = 6,
    topic: str = "",
    bootstrap_servers: str = "",
    timeout: float = 30.0,
    secrets: dict | None = None,
) -> dict:
    """
    Increase the topic to `total` partitions and wait until each new partition
    has a leader and every broker knows it.

    Kafka can only add partitions: asking for fewer than exist is an error
    (the activity fails, with the current count in the message); asking for
    exactly as many does nothing (the fault did not land). Adding partitions
    moves keys to other partitions, which breaks per-key order across the
    change: riverbed's report attributes such reorderings to this fault.

    Returns `{"topic", "before", "after", "added"}`. Targets and `secrets`
    (Kafka client security settings) as for the Kafka probes.
    """
    topic = targets.topic(topic)
    if total < 1:
        raise HarnessError(f"total must be at least 1, got {total}.")
    with targets.kafka_admin(bootstrap_servers, secrets) as client:
        before, after = admin.grow_partitions(client, topic, total, timeout)
    logger.info(f"topic {topic!r}: {before} → {after} partitions")
    return {"topic": topic, "before": before, "after": after, "added": after - before}


def poison_value(kind: str, producer: str, key: str, seq: int) -> bytes:
    """The value bytes of one poison record of ``kind`` (see :data:`POISON_KINDS`)."""
    from workloads.message import body_sha

    body = f"poison {kind} record {seq} written by riverbed's chaos extension"
    if kind == "corrupt":
        # A well-formed message whose body no longer matches its sha: what a
        # bit flip or a buggy re-serialisation on the way would look like.
        value = {
            "producer": producer,
            "key": key,
            "seq": seq,
            "ts": time.time(),
            "body": body,
            "sha": body_sha(body + " (before corruption)"),
        }
        return json.dumps(value, separators=(",", ":")).encode()
    if kind == "schema":
        # Valid JSON that breaks the message contract: no seq, no sha, ts as text.
        value = {"producer": producer, "key": key, "ts": "yesterday", "body": body}
        return json.dumps(value, separators=(",", ":")).encode()
    if kind == "undecodable":
        # Not UTF-8, not JSON.
        return b"\xff\xfe\x00poison\x80" + str(seq).encode()
    raise HarnessError(
        f"Unknown poison record kind {kind!r}.", fix=f"use one of {', '.join(POISON_KINDS)}."
    )


def inject_poison_records(
    count: int = 6,
    kinds: str | list | None = None,
    topic: str = "",
    bootstrap_servers: str = "",
    partition: int = -1,
    timeout: float = 30.0,
    secrets: dict | None = None,
) -> dict:
    """
    Write `count` poison records into the data topic: values a correct
    consumer must refuse (report as `invalid`) without stalling its partition.

    `kinds` (a list, or a comma-separated string; default all three) cycles
    through: `corrupt` (well-formed, but the body does not match its sha),
    `schema` (valid JSON missing the contract's fields) and `undecodable`
    (not UTF-8, not JSON). Records are keyed `poison-<n>` so they spread over
    partitions like real traffic; `partition` >= 0 writes them all to that
    partition. Every record is acknowledged by all in-sync replicas.

    Returns `{"topic", "injected", "kinds": {kind: count}, "producer",
    "records": [[partition, offset, kind], …]}`. Targets and `secrets` as for
    the Kafka probes.
    """
    from kafka import KafkaProducer

    chosen = targets.split_names(kinds) or list(POISON_KINDS)
    for kind in chosen:
        if kind not in POISON_KINDS:
            raise HarnessError(
                f"Unknown poison record kind {kind!r}.",
                fix=f"use one of {', '.join(POISON_KINDS)}.",
            )
    if count < 1:
        raise HarnessError(f"count must be at least 1, got {count}.")
    topic = targets.topic(topic)
    servers = targets.bootstrap_servers(bootstrap_servers)
    with targets.kafka_admin(servers, secrets) as client:
        partitions = len(admin.topic_partitions(client, topic))
    if partition >= partitions:
        raise HarnessError(
            f"Topic {topic!r} has partitions 0..{partitions - 1}; there is no partition {partition}.",
            fix="pass a partition that exists, or -1 to spread the records by key.",
        )
    producer_id = f"chaos-poison-{uuid.uuid4().hex[:6]}"
    producer = KafkaProducer(
        bootstrap_servers=servers,
        acks="all",
        client_id=producer_id,
        **targets.kafka_client_configs(secrets),
    )
    records: list[list] = []
    by_kind: dict[str, int] = {}
    try:
        futures = []
        for seq in range(count):
            kind = chosen[seq % len(chosen)]
            key = f"poison-{seq}"
            futures.append(
                (
                    kind,
                    producer.send(
                        topic,
                        key=key.encode(),
                        value=poison_value(kind, producer_id, key, seq),
                        partition=partition if partition >= 0 else None,
                    ),
                )
            )
        producer.flush(timeout=timeout)
        for kind, future in futures:
            meta = future.get(timeout=timeout)
            records.append([meta.partition, meta.offset, kind])
            by_kind[kind] = by_kind.get(kind, 0) + 1
    finally:
        producer.close(timeout=5)
    logger.info(f"wrote {len(records)} poison records to {topic!r}: {by_kind}")
    return {
        "topic": topic,
        "injected": len(records),
        "kinds": by_kind,
        "producer": producer_id,
        "records": records,
    }
