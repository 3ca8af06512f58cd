"""What both producer modes share: the Kafka producer settings and the send evidence.

Every send ends in exactly one ``send`` record (``evidence/acks``):
``ok`` with partition and offset, ``fail`` when the message definitely did not
reach the log (refused before it was handed to the network, or a broker error
that rejects it outright), ``unknown`` when it may or may not be there (a
timeout, a lost connection, a shutdown before the acknowledgement).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from workloads.evidence.schema import Send, error_text
from workloads.evidence.sinks import Sink

log = logging.getLogger("workloads.producer")

#: acks=all + idempotence: an acknowledged message is on every in-sync replica, and
#: the producer's own retries never duplicate it. Bounded waits keep a send's
#: outcome known within ``delivery_timeout_ms``.
DATA_PRODUCER_CONFIG: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "request_timeout_ms": 5_000,
    "delivery_timeout_ms": 15_000,
    "max_block_ms": 5_000,
}

#: Errors that mean the message was rejected, not possibly written.
_DEFINITE_FAILURES = (
    "MessageSizeTooLargeError",
    "RecordTooLargeError",
    "InvalidTopicError",
    "TopicAuthorizationFailedError",
    "ClusterAuthorizationFailedError",
    "SerializationError",
    "IllegalStateError",
    "UnsupportedForMessageFormatError",
    "InvalidRecordError",
)


FLUSH_EVERY_S = 0.2


def failure_status(exc: BaseException) -> str:
    """``fail`` for an error that rejects a message outright, else ``unknown``."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return "fail" if names.intersection(_DEFINITE_FAILURES) else "unknown"


def describe(exc: BaseException) -> str:
    """``"<ExceptionType>: <message>"``: the ``error`` of a send record (:func:`error_text`)."""
    return error_text(exc) or type(exc).__name__


class SequenceNumbers:
    """Per-key message sequence numbers, from 0 (thread-safe)."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}
        self._lock = threading.Lock()

    def next(self, key: str) -> int:
        with self._lock:
            seq = self._next.get(key, 0)
            self._next[key] = seq + 1
            return seq


class AckLog:
    """Records the outcome of every send exactly once, including sends cut off by shutdown."""

    def __init__(self, sink: Sink, producer_id: str) -> None:
        self.sink = sink
        self.producer_id = producer_id
        self._pending: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._last_flush = time.monotonic()
        self.counts = {"ok": 0, "fail": 0, "unknown": 0}

    def record(
        self,
        key: str,
        seq: int,
        status: str,
        t_send: float,
        partition: int | None = None,
        offset: int | None = None,
        error: str | None = None,
    ) -> None:
        with self._lock:
            if self._pending.pop((key, seq), None) is None and self._closed:
                return  # already recorded as unknown at shutdown
            self.counts[status] += 1
            self.sink.write(
                Send(
                    self.producer_id,
                    key,
                    seq,
                    status,
                    partition,
                    offset,
                    t_send,
                    time.time(),
                    error,
                ).to_dict()
            )
            # Flush a few times a second: a killed producer loses at most that much evidence.
            if time.monotonic() - self._last_flush > FLUSH_EVERY_S:
                self._last_flush = time.monotonic()
                self.sink.flush()

    def track(
        self,
        future: Any,
        key: str,
        seq: int,
        t_send: float,
        then: Callable[[str, Any], None] | None = None,
    ) -> None:
        """Record the outcome of ``future`` (a kafka-python send future) when it completes."""
        with self._lock:
            self._pending[(key, seq)] = t_send

        def ok(metadata: Any) -> None:
            self.record(key, seq, "ok", t_send, metadata.partition, metadata.offset)
            if then is not None:
                then("ok", metadata)

        def failed(exc: BaseException) -> None:
            status = failure_status(exc)
            self.record(key, seq, status, t_send, error=describe(exc))
            if then is not None:
                then(status, exc)

        future.add_callback(ok)
        future.add_errback(failed)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def close(self, reason: str = "producer stopped before the acknowledgement") -> int:
        """Record every still-pending send as ``unknown``; returns how many there were."""
        with self._lock:
            self._closed = True
            pending, self._pending = self._pending, {}
            now = time.time()
            for (key, seq), t_send in pending.items():
                self.counts["unknown"] += 1
                self.sink.write(
                    Send(
                        self.producer_id, key, seq, "unknown", None, None, t_send, now, reason
                    ).to_dict()
                )
        self.sink.flush()
        return len(pending)
