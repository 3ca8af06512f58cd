"""Evidence to a Kafka topic, for processes whose files vanish with them (pods).

Each evidence record becomes one Kafka record on the evidence topic: the key is
the writer's identity (a consumer's ``member``, a producer's id, ``group:<id>``
for the monitor), so one writer's records stay in order on one partition; the
value is the JSON object a :class:`~workloads.evidence.sinks.FileSink` would
write as a line. The producer uses ``acks=all`` and idempotence, and
:meth:`KafkaSink.write_many` returns only once the batch is acknowledged: a
consumer calls it *before* committing offsets, so the evidence of a batch is
durable before the group moves past it. ``python -m workloads.collect`` turns
the topic back into run-directory files.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from workloads.evidence.schema import VERSION

#: Producer settings for evidence (and dead letters): every write acknowledged
#: by all in-sync replicas, no duplicates from retries, bounded waits.
EVIDENCE_PRODUCER_CONFIG: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "request_timeout_ms": 10_000,
    "delivery_timeout_ms": 30_000,
    "max_block_ms": 10_000,
}


class EvidenceSinkError(RuntimeError):
    """Evidence could not be made durable; the caller must not commit past it."""


def record_value(record: dict[str, Any]) -> bytes:
    """The Kafka value of one evidence record (a JSON object with ``"v"``)."""
    if "v" not in record:
        record = {"v": VERSION, **record}
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()


def evidence_producer(
    bootstrap_servers: str,
    client_id: str,
    kafka_config: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Any:
    """A KafkaProducer configured for evidence; raises KafkaTimeoutError if no broker answers.

    ``kafka_config``: connection settings (librdkafka spelling); default: those of
    ``RIVERBED_KAFKA_CONFIG`` (:mod:`workloads.client_config`).
    """
    from kafka import KafkaProducer

    from workloads import client_config

    security = client_config.kafka_python(
        client_config.from_environ() if kafka_config is None else kafka_config
    )
    config = {**EVIDENCE_PRODUCER_CONFIG, **security, **overrides}
    return KafkaProducer(bootstrap_servers=bootstrap_servers, client_id=client_id, **config)


def check_topic(producer: Any, topic: str) -> int:
    """Partition count of ``topic``; EvidenceSinkError if it does not exist."""
    from kafka.errors import KafkaTimeoutError

    try:
        partitions = producer.partitions_for(topic)
    except KafkaTimeoutError:
        partitions = None
    if not partitions:
        raise EvidenceSinkError(
            f"topic {topic!r} does not exist or has no leader; create it before starting"
        )
    return len(partitions)


class KafkaSink:
    """Write evidence records to ``topic`` with key ``key`` (thread-safe)."""

    def __init__(
        self,
        producer: Any,
        topic: str,
        key: str,
        flush_timeout_s: float = 30.0,
        owns_producer: bool = False,
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.key = key.encode()
        self.flush_timeout_s = flush_timeout_s
        self._owns_producer = owns_producer
        self._pending: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def connect(
        cls,
        bootstrap_servers: str,
        topic: str,
        key: str,
        kafka_config: Mapping[str, str] | None = None,
        **producer_overrides: Any,
    ) -> KafkaSink:
        """A sink with its own producer; checks that the evidence topic exists."""
        producer = evidence_producer(
            bootstrap_servers, f"evidence-{key}", kafka_config, **producer_overrides
        )
        try:
            check_topic(producer, topic)
        except EvidenceSinkError:
            producer.close(timeout=1)
            raise
        return cls(producer, topic, key, owns_producer=True)

    def write(self, record: dict[str, Any]) -> None:
        """Send one record without waiting; :meth:`flush` makes it durable."""
        future = self._send(record)
        with self._lock:
            self._pending.append(future)

    def write_many(self, records: list[dict[str, Any]]) -> None:
        """Send a batch and wait until every record of it is acknowledged."""
        futures = [self._send(r) for r in records]
        with self._lock:
            self._pending.extend(futures)
        self.flush()

    def _send(self, record: dict[str, Any]) -> Any:
        from kafka.errors import KafkaError

        try:
            return self.producer.send(self.topic, key=self.key, value=record_value(record))
        except KafkaError as exc:  # metadata unavailable, producer closed, record too large
            raise EvidenceSinkError(f"evidence topic {self.topic!r}: send failed: {exc!r}") from exc

    def flush(self) -> None:
        """Wait for every record sent so far; EvidenceSinkError if any failed."""
        from kafka.errors import KafkaTimeoutError

        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            self.producer.flush(timeout=self.flush_timeout_s)
        except KafkaTimeoutError as exc:
            raise EvidenceSinkError(
                f"evidence topic {self.topic!r}: {len(pending)} record(s) not acknowledged "
                f"within {self.flush_timeout_s:.0f}s"
            ) from exc
        failed = [f for f in pending if not f.succeeded()]
        if failed:
            first = failed[0].exception
            raise EvidenceSinkError(
                f"evidence topic {self.topic!r}: {len(failed)} record(s) failed: {first!r}"
            )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
        finally:
            if self._owns_producer:
                self.producer.close(timeout=5)
