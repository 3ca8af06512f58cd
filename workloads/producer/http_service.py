"""``http`` mode: an event-ingesting microservice in front of Kafka (Starlette on uvicorn).

API:

- ``POST /events`` with a JSON object ``{"key": "k1", "body": <any JSON>,
  "producer": <optional str>, "seq": <optional int>}`` produces one contract
  message with acks=all and idempotence, and answers

  - ``202 {"producer","key","seq","partition","offset"}`` once Kafka acknowledged it;
  - ``400 {"error"}`` for a request that is not a JSON object, lacks ``key`` or
    ``body``, has fields of the wrong type or fields it does not know;
  - ``413 {"error"}`` for a request or message larger than the limit;
  - ``503 {"error", "written": false}`` while Kafka is unreachable (nothing was sent);
  - ``504 {"error", "written": null}`` when the send timed out after it may have
    reached Kafka (the message may or may not be in the log).

  When ``producer`` and ``seq`` are given (a load generator that keeps its own
  evidence), the message carries them and the caller owns its evidence.
  Otherwise the service assigns its own producer id and a per-key ``seq``, and
  records each send's outcome in ``acks/<producer-id>.jsonl``.
- ``GET /healthz``: 200 while the process serves requests.
- ``GET /readyz``: 200 when Kafka answered a metadata request for the topic
  within the last few seconds, else 503 with the reason.

Sends for one key are handed to the producer in ``seq`` order (the event loop
does it without awaiting in between), so key order on the log follows seq.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from workloads import client_config
from workloads.evidence.sinks import Sink
from workloads.message import encode
from workloads.producer.sending import (
    DATA_PRODUCER_CONFIG,
    AckLog,
    SequenceNumbers,
    describe,
    failure_status,
)

log = logging.getLogger("workloads.producer")

REQUEST_FIELDS = frozenset({"key", "body", "producer", "seq"})


@dataclass(frozen=True)
class HttpSettings:
    """The service's configuration."""

    bootstrap_servers: str
    """Kafka bootstrap servers."""
    topic: str
    """The data topic."""
    producer_id: str
    """The producer id of messages whose identity the service assigns."""
    max_message_bytes: int = 1_000_000
    """Largest request body and encoded message accepted (Kafka's default limit is ~1 MB)."""
    probe_interval_s: float = 1.0
    """How often Kafka's reachability is checked."""
    probe_timeout_ms: int = 3000
    """How long one reachability check may take."""
    delivery_timeout_ms: int = 15_000
    """How long a send may take before its outcome is unknown (504)."""
    kafka_config: Mapping[str, str] = field(default_factory=dict)
    """Connection settings (TLS, SASL) in librdkafka spelling (:mod:`workloads.client_config`)."""


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class EventRequest:
    """A validated ``POST /events`` body."""

    key: str
    body: Any
    producer: str | None
    seq: int | None


def parse_event(raw: bytes, max_bytes: int) -> EventRequest:
    """Validate a request body; raises :class:`BadRequest` with the status to answer."""
    if len(raw) > max_bytes:
        raise BadRequest(413, f"request body is {len(raw)} bytes; the limit is {max_bytes}")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(400, f"request body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest(400, f"request body must be a JSON object, got a {type(data).__name__}")
    unknown = sorted(set(data) - REQUEST_FIELDS)
    if unknown:
        raise BadRequest(
            400, f"unknown field(s): {', '.join(unknown)}; allowed: key, body, producer, seq"
        )
    key = data.get("key")
    if not isinstance(key, str) or not key:
        raise BadRequest(400, "'key' is required and must be a non-empty string")
    if "body" not in data:
        raise BadRequest(400, "'body' is required (any JSON value)")
    producer, seq = data.get("producer"), data.get("seq")
    if (producer is None) != (seq is None):
        raise BadRequest(400, "'producer' and 'seq' go together: give both or neither")
    if producer is not None and (not isinstance(producer, str) or not producer):
        raise BadRequest(400, "'producer' must be a non-empty string")
    if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool) or seq < 0):
        raise BadRequest(400, "'seq' must be a non-negative integer")
    return EventRequest(key, data["body"], producer, seq)


class KafkaGateway:
    """The service's link to Kafka: a producer plus a background reachability probe.

    Neither needs Kafka at start: the probe thread creates the producer (and an
    admin client for metadata checks) once a broker answers, and keeps checking.
    """

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
        self.producer: Any = None
        self._admin: Any = None
        self._ready = False
        self._reason = f"connecting to Kafka at {settings.bootstrap_servers}"
        self._last_ok = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._probe_loop, name="kafka-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def ready(self) -> tuple[bool, str]:
        """Whether a send can be attempted now, and why not."""
        with self._lock:
            fresh = time.monotonic() - self._last_ok < self._staleness_s
            if self._ready and fresh and self.producer is not None:
                return True, "ok"
            if self._ready and not fresh:
                return False, "Kafka did not answer the last metadata check"
            return False, self._reason

    @property
    def _staleness_s(self) -> float:
        return 2 * self.settings.probe_interval_s + self.settings.probe_timeout_ms / 1000

    def _probe_loop(self) -> None:
        while not self._stop.is_set():
            ok, reason = self._probe()
            with self._lock:
                self._ready, self._reason = ok, reason
                if ok:
                    self._last_ok = time.monotonic()
            self._stop.wait(self.settings.probe_interval_s)

    def _probe(self) -> tuple[bool, str]:
        from kafka import KafkaProducer
        from kafka.admin import KafkaAdminClient

        s = self.settings
        try:
            if self._admin is None:
                self._admin = KafkaAdminClient(
                    bootstrap_servers=s.bootstrap_servers,
                    client_id=f"{s.producer_id}-probe",
                    bootstrap_timeout_ms=s.probe_timeout_ms,
                    request_timeout_ms=s.probe_timeout_ms,
                    **client_config.kafka_python(s.kafka_config),
                )
            topics = self._admin.describe_topics([s.topic])
            if not topics or topics[0].get("error_code") or not topics[0].get("partitions"):
                return False, f"topic {s.topic!r} does not exist"
            if self.producer is None:
                config = {
                    **DATA_PRODUCER_CONFIG,
                    "delivery_timeout_ms": s.delivery_timeout_ms,
                    "max_request_size": max(s.max_message_bytes + 10_000, 1_048_576),
                    "bootstrap_timeout_ms": s.probe_timeout_ms,
                    **client_config.kafka_python(s.kafka_config),
                }
                self.producer = KafkaProducer(
                    bootstrap_servers=s.bootstrap_servers, client_id=s.producer_id, **config
                )
            return True, "ok"
        except Exception as exc:
            if self._admin is not None and "bootstrap" in str(exc).lower():
                self._close_admin()
            return False, f"Kafka unreachable at {s.bootstrap_servers}: {describe(exc)}"

    def _close_admin(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                admin.close()

    def close(self, flush_timeout_s: float = 10.0) -> None:
        self._stop.set()
        # A probe stuck bootstrapping an unreachable cluster is not worth waiting for:
        # the thread is a daemon and nothing it holds needs flushing.
        self._thread.join(timeout=1.0)
        if self.producer is not None:
            with contextlib.suppress(Exception):
                self.producer.flush(timeout=flush_timeout_s)
            with contextlib.suppress(Exception):
                self.producer.close(timeout=5)
        self._close_admin()


def create_app(settings: HttpSettings, sink: Sink) -> Starlette:
    """The Starlette application: routes, Kafka gateway, evidence."""
    gateway = KafkaGateway(settings)
    acks = AckLog(sink, settings.producer_id)
    seqs = SequenceNumbers()
    wait_s = settings.delivery_timeout_ms / 1000 + 5

    async def post_event(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_message_bytes:
            return _error(
                413, f"request body is {declared} bytes; the limit is {settings.max_message_bytes}"
            )
        try:
            event = parse_event(await request.body(), settings.max_message_bytes)
        except BadRequest as exc:
            return _error(exc.status, str(exc))
        ready, reason = gateway.ready
        if not ready:
            return JSONResponse({"error": reason, "written": False}, status_code=503)
        own = event.producer is None
        producer_id = settings.producer_id if own else event.producer
        seq = seqs.next(event.key) if own else event.seq
        assert producer_id is not None and seq is not None
        value = encode(producer_id, event.key, seq, event.body)
        if len(value) > settings.max_message_bytes:
            if own:
                acks.record(event.key, seq, "fail", time.time(), error="message too large")
            return _error(
                413, f"message is {len(value)} bytes; the limit is {settings.max_message_bytes}"
            )

        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[tuple[str, Any]] = loop.create_future()

        def settle(status: str, result: Any) -> None:
            loop.call_soon_threadsafe(_settle, outcome, (status, result))

        t_send = time.time()
        try:
            # Non-blocking with cached metadata (the probe fetched it), so sends for a
            # key reach the producer in seq order; max_block_ms bounds the rare wait.
            future = gateway.producer.send(settings.topic, key=event.key.encode(), value=value)
        except Exception as exc:
            if own:
                acks.record(event.key, seq, "fail", t_send, error=describe(exc))
            return JSONResponse({"error": describe(exc), "written": False}, status_code=503)
        if own:
            acks.track(future, event.key, seq, t_send, then=settle)
        else:
            future.add_callback(lambda md: settle("ok", md))
            future.add_errback(lambda exc: settle(failure_status(exc), exc))
        try:
            status, result = await asyncio.wait_for(asyncio.shield(outcome), wait_s)
        except TimeoutError:
            return JSONResponse(
                {"error": f"no acknowledgement within {wait_s:.0f}s", "written": None},
                status_code=504,
            )
        if status == "ok":
            return JSONResponse(
                {
                    "producer": producer_id,
                    "key": event.key,
                    "seq": seq,
                    "partition": result.partition,
                    "offset": result.offset,
                },
                status_code=202,
            )
        if status == "fail":
            code = 413 if "TooLarge" in type(result).__name__ else 503
            return JSONResponse({"error": describe(result), "written": False}, status_code=code)
        return JSONResponse({"error": describe(result), "written": None}, status_code=504)

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        ready, reason = gateway.ready
        return JSONResponse(
            {"ready": ready, "reason": reason, "topic": settings.topic},
            status_code=200 if ready else 503,
        )

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        gateway.start()
        flusher = asyncio.create_task(_flush_periodically(sink))
        log.info("producer %s serving events for %s", settings.producer_id, settings.topic)
        try:
            yield
        finally:
            flusher.cancel()
            await asyncio.to_thread(gateway.close)
            cut = acks.close()
            if cut:
                log.warning("%d send(s) unacknowledged at stop: recorded as unknown", cut)
            sink.close()
            log.info("producer %s stopped: %s", settings.producer_id, acks.counts)

    app = Starlette(
        routes=[
            Route("/events", post_event, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    app.state.acks = acks
    return app


async def _flush_periodically(sink: Sink, every_s: float = 0.5) -> None:
    """Push buffered evidence out even while no request arrives (a killed pod loses less)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(sink.flush)
        except Exception as exc:
            log.warning("evidence flush failed: %r", exc)


def _settle(future: asyncio.Future[tuple[str, Any]], value: tuple[str, Any]) -> None:
    if not future.done():
        future.set_result(value)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def serve(settings: HttpSettings, sink: Sink, host: str, port: int) -> int:
    """Run the service until SIGTERM/SIGINT (uvicorn's graceful shutdown); returns 0."""
    import uvicorn

    config = uvicorn.Config(
        create_app(settings, sink),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1
