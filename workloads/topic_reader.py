"""Read a whole topic, from the log start to the high watermarks seen at the start.

Shared by the log drain (data topic → log.jsonl) and the evidence collector
(evidence topic → run-directory files). It uses no consumer group and commits
nothing; records written after the read began are not part of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

#: One polled batch: (partition, offset, value) of each record, in offset order per partition.
Batch = list[tuple[int, int, bytes | None]]


class TopicRecord(NamedTuple):
    """One record as the reader hands it over with ``read_topic_records``."""

    partition: int
    """The record's partition."""
    offset: int
    """Its offset in the partition."""
    value: bytes | None
    """The raw value."""
    headers: Sequence[tuple[str, bytes | None]]
    """Its headers, ``(name, value)`` in the order the producer wrote them."""
    timestamp_ms: int
    """The record's timestamp (producer create time or log append time), -1 if none."""
    timestamp_type: int = 0
    """Which: 0 the producer's create time, 1 the broker's log append time."""


def read_topic(
    bootstrap_servers: str,
    topic: str,
    on_batch: Callable[[Batch], None],
    timeout_s: float = 60.0,
    client_id: str = "riverbed-topic-reader",
    what: str = "topic",
    kafka_config: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Hand every record of ``topic`` up to the current high watermarks to ``on_batch``.

    ``kafka_config``: connection settings (librdkafka spelling, see
    :mod:`workloads.client_config`); default: those of ``RIVERBED_KAFKA_CONFIG``.

    Returns ``{"finished", "end_offsets": {"<p>": o}, "t", "detail"}``;
    ``finished`` is False when ``timeout_s`` ran out first, the topic does not
    exist, or Kafka could not be reached (``detail`` says which).
    """

    def values(records: list[TopicRecord]) -> None:
        on_batch([(r.partition, r.offset, r.value) for r in records])

    return read_topic_records(
        bootstrap_servers,
        topic,
        values,
        timeout_s,
        client_id=client_id,
        what=what,
        kafka_config=kafka_config,
    )


def read_topic_records(
    bootstrap_servers: str,
    topic: str,
    on_records: Callable[[list[TopicRecord]], None],
    timeout_s: float = 60.0,
    *,
    client_id: str = "riverbed-topic-reader",
    what: str = "topic",
    client_config: Mapping[str, Any] | None = None,
    kafka_config: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Like :func:`read_topic`, with each record's headers and timestamp.

    ``kafka_config`` are the connection settings (as for :func:`read_topic`);
    ``client_config`` adds KafkaConsumer settings (``isolation_level``…);
    neither can change the group (none) or the commits (none).
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    from workloads import client_config as connection

    security = connection.kafka_python(
        connection.from_environ() if kafka_config is None else kafka_config
    )

    deadline = time.monotonic() + timeout_s
    result: dict[str, Any] = {"finished": False, "end_offsets": {}}
    consumer = None
    try:
        consumer = KafkaConsumer(
            **{
                "bootstrap_servers": bootstrap_servers,
                "client_id": client_id,
                "bootstrap_timeout_ms": int(max(1.0, min(timeout_s, 30.0)) * 1000),
                **security,
                **(client_config or {}),
                # Never a group member, never a commit: reading must not change the group.
                "group_id": None,
                "enable_auto_commit": False,
            }
        )
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            result["detail"] = f"{what} {topic!r} does not exist"
            return result
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        end = consumer.end_offsets(tps)
        result["end_offsets"] = {str(tp.partition): o for tp, o in sorted(end.items())}
        consumer.seek_to_beginning(*tps)
        remaining = {tp for tp in tps if consumer.position(tp) < end[tp]}
        while remaining and time.monotonic() < deadline:
            batch = [
                TopicRecord(
                    tp.partition,
                    r.offset,
                    r.value,
                    r.headers or [],
                    r.timestamp,
                    r.timestamp_type,
                )
                for tp, records in consumer.poll(timeout_ms=500, max_records=5000).items()
                for r in records
                # Written after the read began: not part of it.
                if r.offset < end[tp]
            ]
            if batch:
                on_records(batch)
            remaining = {tp for tp in remaining if consumer.position(tp) < end[tp]}
        result["finished"] = not remaining
        result["detail"] = (
            f"read every partition of the {what} to its high watermark"
            if not remaining
            else f"timed out after {timeout_s:.0f}s with partitions "
            f"{sorted(tp.partition for tp in remaining)} unread to the end"
        )
    except KafkaError as exc:
        result["detail"] = f"Kafka error: {exc!r}"
    finally:
        if consumer is not None:
            consumer.close(autocommit=False)
        result["t"] = time.time()
    return result
