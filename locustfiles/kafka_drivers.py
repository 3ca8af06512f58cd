"""Kafka clients behind one small interface, safe to use from gevent greenlets.

A driver hands values to a Kafka producer and reports each one's outcome to an
``on_outcome(token, partition, offset, error)`` callback exactly once. Which
failures mean *definitely not written* is the driver's call (:class:`NotSent`);
every other error is *unknown*: an earlier attempt may have reached the log.

- :class:`KafkaPythonDriver` (``kafka-python``, the default). Under Locust the
  ``threading`` module is gevent-patched, so the producer's I/O thread is a
  greenlet and its callbacks run in the hub, never in parallel with users.
- :class:`ConfluentDriver` (``confluent``, librdkafka). librdkafka's threads
  are native; delivery reports are served only by ``poll(0)`` (never a blocking
  poll) from a poller greenlet, and the C callback just appends to a list, so
  nothing yields inside librdkafka's call stack. Blocking calls (metadata) run
  in gevent's thread pool.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from locustfiles.settings import KafkaSettings
from workloads import client_config
from workloads.evidence.schema import error_text

log = logging.getLogger("riverbed.load")

#: ``on_outcome(token, partition, offset, error)``; ``error`` is ``None`` when acknowledged.
OnOutcome = Callable[[int, int | None, int | None, BaseException | None], None]


class StartError(Exception):
    """The producer could not start (unreachable cluster, missing topic, bad config)."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(f"{message}\n  fix: {fix}")
        self.message = message
        self.fix = fix


class NotSent(Exception):
    """A send that definitely did not reach Kafka (rejected before it left the client)."""

    def __init__(self, cause: BaseException | str) -> None:
        super().__init__(str(cause))
        self.cause = cause


def coerce(value: str) -> Any:
    """A config value as kafka-python wants it: bool, int, float or the string.

    >>> [coerce(v) for v in ("true", "5", "0.5", "SASL_SSL")]
    [True, 5, 0.5, 'SASL_SSL']
    """
    word = value.strip()
    if word.lower() in ("true", "false"):
        return word.lower() == "true"
    if re.fullmatch(r"-?\d+", word):
        return int(word)
    if re.fullmatch(r"-?\d+\.\d*", word):
        return float(word)
    return word


def connection_and_other(settings: KafkaSettings) -> tuple[dict[str, str], dict[str, str]]:
    """``--kafka-config`` split into connection settings (checked, librdkafka spelling;
    see :mod:`workloads.client_config`) and the other producer settings as given.
    Raises :class:`StartError` for a connection setting no client knows."""
    try:
        connection, other = client_config.split(settings.client_config)
        return client_config.check(connection, complete=False), other
    except client_config.ClientConfigError as exc:
        raise StartError(f"--kafka-config: {exc.message}", exc.fix or "fix the setting") from None


def kafka_python_config(settings: KafkaSettings, client_id: str) -> dict[str, Any]:
    """KafkaProducer keyword arguments: riverbed's defaults, then ``--kafka-config`` items
    (connection settings translated to kafka-python's names: ``sasl.username`` is
    ``sasl_plain_username``, ``ssl.ca.location`` is ``ssl_cafile`` …)."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap.split(","),
        "client_id": client_id,
        "acks": "all" if settings.acks == "all" else int(settings.acks),
        "linger_ms": settings.linger_ms,
        "compression_type": None if settings.compression == "none" else settings.compression,
        # The harness creates its topics with the partitions and replication it
        # checks against; a typo must not create a one-partition topic.
        "allow_auto_create_topics": False,
        "bootstrap_timeout_ms": 15000,
    }
    connection, other = connection_and_other(settings)
    for key, value in other.items():
        config[key.replace(".", "_").replace("-", "_")] = coerce(value)
    config.update(client_config.kafka_python(connection))
    return config


def confluent_config(settings: KafkaSettings, client_id: str) -> dict[str, Any]:
    """librdkafka properties: riverbed's defaults, then ``--kafka-config`` items
    (connection settings in any accepted spelling become librdkafka's: kafka-python's
    ``sasl_plain_username`` is ``sasl.username``)."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap,
        "client.id": client_id,
        "acks": settings.acks,
        "linger.ms": settings.linger_ms,
        "compression.type": settings.compression,
        # Idempotence keeps per-partition order and avoids duplicates across
        # retries, as the Java and kafka-python producers do by default.
        "enable.idempotence": settings.acks == "all",
        "allow.auto.create.topics": False,
    }
    connection, other = connection_and_other(settings)
    for key, value in other.items():
        config[key.replace("_", ".")] = value
    config.update(client_config.librdkafka(connection))
    return config


def _wait_in_threadpool(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking call in gevent's native thread pool, so the hub keeps running."""
    import gevent

    return gevent.get_hub().threadpool.apply(func, args, kwargs)


class KafkaPythonDriver:
    """kafka-python's ``KafkaProducer``."""

    name = "kafka-python"

    def __init__(self, settings: KafkaSettings, client_id: str, on_outcome: OnOutcome) -> None:
        self.topic = settings.topic
        self._on_outcome = on_outcome
        self._config = kafka_python_config(settings, client_id)
        self._connection = connection_and_other(settings)[0]
        self._producer: Any = None

    def start(self, timeout: float = 15.0) -> int:
        """Connect and read the topic's metadata; returns its partition count."""
        import gevent
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        servers = ",".join(self._config["bootstrap_servers"])
        try:
            self._producer = KafkaProducer(**self._config)
        except (ValueError, TypeError, AssertionError) as exc:
            raise StartError(
                "kafka-python rejected the producer config: "
                + client_config.redact(str(exc), self._connection),
                "check --kafka-config / $RIVERBED_KAFKA_CONFIG (e.g. security.protocol, "
                "sasl.username, ssl.ca.location)",
            ) from None
        except KafkaError as exc:
            raise StartError(
                f"Kafka at {servers} did not answer: {error_text(exc)}",
                "start the cluster (riverbed kafka up) or set --kafka-bootstrap / $KAFKA_BROKER",
            ) from None
        try:
            with gevent.Timeout(timeout):
                partitions = self._producer.partitions_for(self.topic)
        except gevent.Timeout:
            partitions = None
        except KafkaError as exc:
            raise StartError(
                f"Could not read metadata of topic {self.topic!r}: {error_text(exc)}",
                "check the topic name and the client's authorisation",
            ) from None
        if not partitions:
            self.close(0)
            raise StartError(
                f"Topic {self.topic!r} does not exist on {servers} (no metadata within {timeout:.0f} s).",
                "create it first (riverbed creates it for `riverbed run`), or set --kafka-topic / "
                "$KAFKA_TOPIC",
            )
        return len(partitions)

    def send(self, key: bytes, value: bytes, token: int) -> None:
        """Hand one record to the producer; raises :class:`NotSent` when it was refused."""
        if self._producer is None:
            raise NotSent("the producer is closed")
        try:
            future = self._producer.send(self.topic, value=value, key=key)
        except Exception as exc:  # buffer/metadata timeout, oversize, closed: nothing sent
            raise NotSent(exc) from exc
        if future.is_done and future.failed():  # failed before reaching the accumulator
            raise NotSent(future.exception)
        future.add_callback(self._acked, token)
        future.add_errback(self._failed, token)

    def _acked(self, token: int, metadata: Any) -> None:
        self._on_outcome(token, metadata.partition, metadata.offset, None)

    def _failed(self, token: int, error: BaseException) -> None:
        # After the record reached the accumulator any error is "unknown": a
        # timed-out attempt may have been appended before a retry failed.
        self._on_outcome(token, None, None, error)

    def poll(self) -> None:
        """Nothing to do: the producer's I/O greenlet runs the callbacks."""

    def flush(self, timeout: float) -> bool:
        from kafka.errors import KafkaTimeoutError

        if self._producer is None:
            return True
        try:
            self._producer.flush(timeout=timeout)
            return True
        except KafkaTimeoutError:
            return False

    def close(self, timeout: float) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                producer.close(timeout=timeout)
            except Exception as exc:  # closing must not hide the evidence already written
                log.warning("closing the kafka-python producer: %s", exc)


#: librdkafka errors that mean the message never left the client.
_CONFLUENT_NOT_SENT = ("_PURGE_QUEUE", "_UNKNOWN_TOPIC", "_UNKNOWN_PARTITION", "_INVALID_ARG")


class ConfluentError(Exception):
    """A librdkafka delivery error, named by its code (e.g. ``_MSG_TIMED_OUT``)."""


class ConfluentDriver:
    """confluent-kafka's ``Producer`` (librdkafka), polled from a greenlet."""

    name = "confluent"

    def __init__(self, settings: KafkaSettings, client_id: str, on_outcome: OnOutcome) -> None:
        self.topic = settings.topic
        self._on_outcome = on_outcome
        self._config = confluent_config(settings, client_id)
        self._connection = connection_and_other(settings)[0]
        self._producer: Any = None
        self._done: list[tuple[int, Any, int, int]] = []
        self._poller: Any = None
        self._not_sent: set[int] = set()

    def start(self, timeout: float = 15.0) -> int:
        import gevent

        try:
            from confluent_kafka import KafkaException, Producer
        except ImportError:
            raise StartError(
                "--kafka-driver confluent needs the confluent-kafka package.",
                "pip install confluent-kafka (it is in riverbed's harness extra)",
            ) from None
        self._not_sent = {getattr(_kafka_error(), code) for code in _CONFLUENT_NOT_SENT}
        servers = self._config["bootstrap.servers"]
        try:
            self._producer = Producer(self._config)
        except (KafkaException, ValueError, TypeError) as exc:
            raise StartError(
                "librdkafka rejected the producer config: "
                + client_config.redact(str(exc), self._connection),
                "check --kafka-config / $RIVERBED_KAFKA_CONFIG (librdkafka names, e.g. "
                "security.protocol, sasl.username)",
            ) from None
        try:
            metadata = _wait_in_threadpool(self._producer.list_topics, self.topic, timeout=timeout)
        except KafkaException as exc:
            self.close(0)
            raise StartError(
                f"Kafka at {servers} did not answer: {exc}",
                "start the cluster (riverbed kafka up) or set --kafka-bootstrap / $KAFKA_BROKER",
            ) from None
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            self.close(0)
            raise StartError(
                f"Topic {self.topic!r} does not exist on {servers}"
                + (f" ({topic.error})" if topic is not None and topic.error else "")
                + ".",
                "create it first (riverbed creates it for `riverbed run`), or set --kafka-topic / "
                "$KAFKA_TOPIC",
            )
        self._poller = gevent.spawn(self._poll_loop)
        return len(topic.partitions)

    def send(self, key: bytes, value: bytes, token: int) -> None:
        import gevent

        def delivered(err: Any, msg: Any) -> None:
            # Called inside librdkafka's poll(): only record, never yield here.
            self._done.append((token, err, msg.partition(), msg.offset()))

        while True:
            if self._producer is None:
                raise NotSent("the producer is closed")
            try:
                self._producer.produce(self.topic, value, key, on_delivery=delivered)
                break
            except BufferError:  # local queue full: serve reports, yield, try again
                self.poll()
                gevent.sleep(0.001)
            except Exception as exc:  # rejected by the client: never queued
                raise NotSent(exc) from exc
        self._producer.poll(0)
        if self._done:
            self._dispatch()

    def _dispatch(self) -> None:
        done, self._done = self._done, []
        for token, err, partition, offset in done:
            if err is None:
                self._on_outcome(token, partition, offset, None)
            else:
                error = ConfluentError(f"{err.name()}: {err.str()}")
                self._on_outcome(
                    token, None, None, NotSent(error) if err.code() in self._not_sent else error
                )

    def poll(self) -> int:
        """Serve delivery reports without blocking; returns how many were served."""
        if self._producer is None:
            return 0
        served = self._producer.poll(0)
        if self._done:
            self._dispatch()
        return served

    def _poll_loop(self) -> None:
        import gevent

        while self._producer is not None:
            served = self.poll()
            gevent.sleep(0 if served else 0.001)

    def flush(self, timeout: float) -> bool:
        import gevent

        if self._producer is None:
            return True
        deadline = time.monotonic() + timeout
        while len(self._producer) > 0 and time.monotonic() < deadline:
            self.poll()
            gevent.sleep(0.002)
        self.poll()
        return len(self._producer) == 0

    def close(self, timeout: float) -> None:
        import gevent

        if self._producer is None:
            return
        if not self.flush(timeout):
            # Queued messages are reported _PURGE_QUEUE (never sent: fail), in-flight
            # ones _PURGE_INFLIGHT (unknown).
            self._producer.purge(in_queue=True, in_flight=True, blocking=True)
            deadline = time.monotonic() + 2.0
            while len(self._producer) > 0 and time.monotonic() < deadline:
                self.poll()
                gevent.sleep(0.002)
            self.poll()
        producer, self._producer = self._producer, None
        if self._poller is not None:
            self._poller.kill(block=False)
        if len(producer) == 0:
            producer.close()  # nothing left to flush: returns at once


def _kafka_error() -> Any:
    from confluent_kafka import KafkaError

    return KafkaError


DRIVERS: dict[str, type[KafkaPythonDriver] | type[ConfluentDriver]] = {
    KafkaPythonDriver.name: KafkaPythonDriver,
    ConfluentDriver.name: ConfluentDriver,
}
