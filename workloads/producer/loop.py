"""``loop`` mode: the tutorial's producer loop, sending contract messages and recording outcomes.

The tutorial sends ``{"number": i}`` every interval. Here the body is still
``{"number": i}`` (padded to ``--body-bytes`` when asked), wrapped in the
contract's value (producer, key, seq, ts, body, sha); keys cycle through
``k0 … k{N-1}`` and every send's outcome lands in ``acks/<producer-id>.jsonl``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workloads import client_config
from workloads.cli_support import StopSignal
from workloads.evidence.sinks import Sink
from workloads.message import encode
from workloads.producer.sending import (
    DATA_PRODUCER_CONFIG,
    AckLog,
    SequenceNumbers,
    describe,
)

log = logging.getLogger("workloads.producer")


@dataclass(frozen=True)
class LoopSettings:
    """What the loop sends, and how fast."""

    bootstrap_servers: str
    """Kafka bootstrap servers."""
    topic: str
    """The data topic."""
    producer_id: str
    """This process's producer id (the ``producer`` of its messages)."""
    interval_s: float = 1.0
    """Pause between two sends (0: as fast as the producer takes them)."""
    keys: int = 10
    """Number of distinct keys, ``k0`` … ``k{keys-1}``, used in turn."""
    count: int = 0
    """Messages to send before stopping by itself (0: until stopped)."""
    body_bytes: int = 0
    """Pad each body to about this many bytes (0: just ``{"number": i}``)."""
    flush_timeout_s: float = 30.0
    """How long to wait for outstanding acknowledgements when stopping."""
    kafka_config: Mapping[str, str] = field(default_factory=dict)
    """Connection settings (TLS, SASL) in librdkafka spelling (:mod:`workloads.client_config`)."""


def make_body(i: int, body_bytes: int) -> dict[str, Any]:
    """The tutorial's body ``{"number": i}``, padded to about ``body_bytes`` bytes."""
    body: dict[str, Any] = {"number": i}
    base = len(f'{{"number":{i}}}')
    if body_bytes > base:
        # ',"pad":""' adds 9 bytes around the padding itself.
        body["pad"] = "x" * max(0, body_bytes - base - 9)
    return body


def run_loop(settings: LoopSettings, sink: Sink, stop: StopSignal) -> dict[str, int]:
    """Send until ``count`` messages were sent or a stop is requested; returns outcome counts."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=settings.producer_id,
        **DATA_PRODUCER_CONFIG,
        **client_config.kafka_python(settings.kafka_config),
    )
    acks = AckLog(sink, settings.producer_id)
    seqs = SequenceNumbers()
    sent = 0
    log.info("producer %s sending to %s", settings.producer_id, settings.topic)
    try:
        while not stop.requested and (settings.count == 0 or sent < settings.count):
            key = f"k{sent % settings.keys}"
            seq = seqs.next(key)
            value = encode(settings.producer_id, key, seq, make_body(sent, settings.body_bytes))
            t_send = time.time()
            try:
                future = producer.send(settings.topic, key=key.encode(), value=value)
            except Exception as exc:
                # send() raised before the record reached the accumulator: never written.
                acks.record(key, seq, "fail", t_send, error=describe(exc))
                log.warning("send %s/%d refused: %s", key, seq, describe(exc))
            else:
                acks.track(future, key, seq, t_send)
            sent += 1
            if settings.interval_s > 0:
                stop.wait(settings.interval_s)
    finally:
        try:
            producer.flush(timeout=settings.flush_timeout_s)
        except Exception as exc:
            log.warning("flush on stop: %s", describe(exc))
        producer.close(timeout=5)
        cut = acks.close()
        if cut:
            log.warning("%d send(s) unacknowledged at stop: recorded as unknown", cut)
    log.info("producer %s stopped after %d send(s): %s", settings.producer_id, sent, acks.counts)
    return dict(acks.counts)
