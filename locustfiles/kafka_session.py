"""One Kafka producer per Locust process, shared by that process's users.

:class:`KafkaSendSession` is created after the fork (at test start, in each
worker), sends on behalf of every user of its process and records every send's
outcome through an :class:`~locustfiles.acks.AckRecorder`:

- ``ok`` with partition/offset when acknowledged, ``fail`` when the client
  refused the record before sending, ``unknown`` on any later error and for
  sends still without an outcome when the session closes;
- at most ``max_in_flight`` sends wait for an outcome; a user beyond that waits
  on a gevent semaphore (backpressure, bounded memory) without blocking the hub;
- seq assignment and hand-over to the client happen under one lock, so for
  every key the client receives messages in seq order;
- :meth:`close` flushes with a deadline, records what is left as ``unknown``
  and closes the evidence file: idempotent, called at test stop, on quitting
  and at exit.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
from gevent.event import Event
from gevent.lock import BoundedSemaphore, Semaphore

from locustfiles.acks import FAIL, OK, UNKNOWN, AckRecorder
from locustfiles.kafka_drivers import DRIVERS, NotSent
from locustfiles.settings import KafkaSettings
from workloads.evidence.schema import error_text
from workloads.message import encode

log = logging.getLogger("riverbed.load")

#: How often buffered evidence is pushed to the OS while the test runs (seconds).
FLUSH_INTERVAL = 0.5


class ProducerClosed(Exception):
    """The session closed before the send had an outcome."""


class KafkaSendSession:
    """The process's producer: sends for all users, records every outcome."""

    def __init__(self, settings: KafkaSettings, recorder: AckRecorder, body: str) -> None:
        self.settings = settings
        self.recorder = recorder
        self.body = body
        self.topic = settings.topic
        self.partitions = 0
        self._key_bytes = [k.encode() for k in recorder.keys]
        self._slots = BoundedSemaphore(settings.max_in_flight)
        self._send_lock = Semaphore(1)
        # token -> (key, seq, t_send wall clock, t0 perf counter, value size)
        self._in_flight: dict[int, tuple[str, int, float, float, int]] = {}
        self._next_token = 0
        self._closing = False
        self._closed = Event()
        self._flusher: Any = None
        driver_class = DRIVERS[settings.driver]
        self.driver = driver_class(settings, recorder.producer, self._on_outcome)

    @property
    def producer(self) -> str:
        return self.recorder.producer

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def closing(self) -> bool:
        return self._closing

    def start(self, timeout: float = 15.0) -> None:
        """Connect and check the topic; raises :class:`~locustfiles.kafka_drivers.StartError`."""
        try:
            self.partitions = self.driver.start(timeout)
        except Exception:
            self.recorder.close()
            self._closing = True
            self._closed.set()
            raise
        self._flusher = gevent.spawn(self._flush_loop)
        log.info(
            "producer %s (%s) sends to %s (%d partitions); acks evidence in %s",
            self.producer,
            self.driver.name,
            self.topic,
            self.partitions,
            self.recorder.path,
        )

    def _flush_loop(self) -> None:
        # Bounds what a SIGKILL can lose from the evidence file to ~FLUSH_INTERVAL.
        while not self._closing:
            gevent.sleep(FLUSH_INTERVAL)
            self.recorder.flush()

    def send(self) -> bool:
        """Send one message with a random key. Returns ``False`` once the session closes.

        Waits (yielding to other greenlets) while ``max_in_flight`` sends have
        no outcome yet.
        """
        while not self._slots.acquire(timeout=0.5):
            if self._closing:
                return False
        acquired = True
        try:
            with self._send_lock:
                if self._closing:
                    return False
                rec = self.recorder
                index = rec.pick_key()
                key = rec.keys[index]
                seq = rec.next_seq(index)
                t_send = time.time()
                value = encode(rec.producer, key, seq, self.body, ts=t_send)
                token = self._next_token
                self._next_token = token + 1
                # In flight before the hand-over: a user killed inside send()
                # still leaves a trace that close() records as unknown.
                self._in_flight[token] = (key, seq, t_send, time.perf_counter(), len(value))
                acquired = False  # the slot now belongs to the in-flight send
                try:
                    self.driver.send(self._key_bytes[index], value, token)
                except NotSent as exc:
                    self._on_outcome(token, None, None, exc)
            return True
        finally:
            if acquired:
                self._slots.release()

    def _on_outcome(
        self, token: int, partition: int | None, offset: int | None, error: BaseException | None
    ) -> None:
        inflight = self._in_flight.pop(token, None)
        if inflight is None:  # already recorded as unknown by close()
            return
        self._slots.release()
        key, seq, t_send, t0, size = inflight
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        if error is None:
            self.recorder.record(
                key,
                seq,
                OK,
                partition,
                offset,
                t_send=t_send,
                response_time_ms=elapsed_ms,
                size=size,
            )
        else:
            status = FAIL if isinstance(error, NotSent) else UNKNOWN
            cause = error.cause if isinstance(error, NotSent) else error
            self.recorder.record(
                key,
                seq,
                status,
                error=error_text(cause),
                t_send=t_send,
                response_time_ms=elapsed_ms,
                size=size,
            )

    def close(self, timeout: float | None = None) -> None:
        """Flush (at most ``timeout`` s, default ``--close-timeout``), record what has no
        outcome as unknown, close the producer and the evidence file. Idempotent; a
        second caller waits for the first to finish."""
        if self._closing:
            self._closed.wait(timeout=(timeout or self.settings.close_timeout) + 5)
            return
        self._closing = True
        timeout = self.settings.close_timeout if timeout is None else timeout
        try:
            if self._in_flight:
                log.info(
                    "producer %s: waiting up to %.0f s for %d sends in flight",
                    self.producer,
                    timeout,
                    len(self._in_flight),
                )
            if not self.driver.flush(timeout):
                log.warning(
                    "producer %s: %d sends without an outcome after %.0f s; recording them as unknown",
                    self.producer,
                    len(self._in_flight),
                    timeout,
                )
            self.driver.close(timeout=1.0)
            for token in list(self._in_flight):
                self._on_outcome(
                    token,
                    None,
                    None,
                    ProducerClosed(f"no outcome before the producer closed ({timeout:.0f} s)"),
                )
        finally:
            self.recorder.close()
            if self._flusher is not None:
                self._flusher.kill(block=False)
            self._closed.set()
            c = self.recorder.counts
            log.info(
                "producer %s closed: %d ok, %d fail, %d unknown",
                self.producer,
                c[OK],
                c[FAIL],
                c[UNKNOWN],
            )
