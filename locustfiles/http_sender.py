"""Sending through the producer service's ``POST /events``: outcome rules and bookkeeping.

The service answers (see ``workloads/producer/http_service.py``):

=============================  =========================================================
answer                         recorded as
=============================  =========================================================
202 with partition and offset  ``ok`` (if producer/key/seq echo what was sent)
4xx                            ``fail``: the service refused it, nothing was written
5xx with ``"written": false``  ``fail`` (503: Kafka unreachable, nothing was sent)
connection refused             ``fail``: the request never reached the service
other 5xx (504 ``written``:    ``unknown``: the message may or may not be in the log
null), timeout, lost
connection, anything else
=============================  =========================================================

No Locust import: the locustfile does the HTTP, this module decides and records.
"""

from __future__ import annotations

import time
from typing import Any

import gevent
from gevent.lock import Semaphore

from locustfiles.acks import FAIL, OK, UNKNOWN, AckRecorder, Report, SendFailed


def classify(
    status_code: int,
    body: Any,
    sent: tuple[str, str, int],
    transport_error: str | None = None,
    refused: bool = False,
) -> tuple[str, int | None, int | None, str | None]:
    """``(status, partition, offset, error)`` for one answer to ``POST /events``.

    ``body`` is the decoded JSON answer (or ``None``), ``sent`` the
    ``(producer, key, seq)`` the request carried, ``transport_error`` set when
    no HTTP answer arrived (status 0), ``refused`` when the connection was
    refused (the request never reached the service: ``fail``).

    >>> classify(202, {"producer": "p", "key": "k", "seq": 1, "partition": 0, "offset": 9}, ("p", "k", 1))
    ('ok', 0, 9, None)
    >>> classify(504, {"error": "no acknowledgement", "written": None}, ("p", "k", 1))[0]
    'unknown'
    """
    answer = body if isinstance(body, dict) else {}
    said = answer.get("error")
    if status_code == 0 or transport_error:
        return FAIL if refused else UNKNOWN, None, None, transport_error or "no answer"
    if status_code == 202:
        partition, offset = answer.get("partition"), answer.get("offset")
        echoed = (answer.get("producer"), answer.get("key"), answer.get("seq"))
        if not (_is_int(partition) and _is_int(offset)):
            return UNKNOWN, None, None, "202 without partition and offset"
        if echoed != sent:
            return UNKNOWN, None, None, f"202 for {echoed}, sent {sent}"
        return OK, partition, offset, None
    detail = f"HTTP {status_code}" + (f": {said}" if said else "")
    if 400 <= status_code < 500:
        return FAIL, None, None, detail
    if 500 <= status_code < 600 and answer.get("written") is False:
        return FAIL, None, None, detail
    return UNKNOWN, None, None, detail


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class SenderClosed(Exception):
    """The sender closed: no new request may start."""


class HttpSender:
    """The process's HTTP sending state: recorder, per-key order, requests in flight.

    Requests for one key are sent one at a time (a per-key lock), so the
    service receives each key's messages in seq order. At close, requests in
    flight get ``--close-timeout`` to finish; one still without an answer (or
    whose greenlet was killed) is recorded as ``unknown``.
    """

    def __init__(
        self,
        recorder: AckRecorder,
        body: str,
        close_timeout: float,
        report_interrupted: Report | None = None,
    ) -> None:
        self.recorder = recorder
        self.body = body
        self.close_timeout = close_timeout
        self._report_interrupted = report_interrupted
        self._key_locks = [Semaphore(1) for _ in recorder.keys]
        # token -> (key, seq, t_send wall clock, t0 perf counter, the user's greenlet)
        self._in_flight: dict[int, tuple[str, int, float, float, Any]] = {}
        self._next_token = 0
        self.closing = False

    def begin(self) -> tuple[int, Semaphore, str, int]:
        """Pick a key, take its lock and its next seq: ``(token, lock, key, seq)``.

        The caller holds ``lock`` (already acquired) until it called :meth:`end`.
        Raises :class:`SenderClosed` once :meth:`close` began.
        """
        if self.closing:
            raise SenderClosed()
        index = self.recorder.pick_key()
        lock = self._key_locks[index]
        lock.acquire()
        if self.closing:  # closed while this request waited for its key: send nothing
            lock.release()
            raise SenderClosed()
        key = self.recorder.keys[index]
        seq = self.recorder.next_seq(index)
        token = self._next_token
        self._next_token += 1
        self._in_flight[token] = (key, seq, time.time(), time.perf_counter(), gevent.getcurrent())
        return token, lock, key, seq

    def end(
        self,
        token: int,
        status: str,
        partition: int | None,
        offset: int | None,
        error: str | None,
    ) -> dict[str, Any] | None:
        """Record the outcome of request ``token`` (``None`` if close() already recorded it)."""
        entry = self._in_flight.pop(token, None)
        if entry is None:
            return None
        key, seq, t_send, t0, _ = entry
        return self.recorder.record(
            key,
            seq,
            status,
            partition,
            offset,
            error,
            t_send=t_send,
            response_time_ms=(time.perf_counter() - t0) * 1000.0,
            size=0,
        )

    def close(self, timeout: float | None = None) -> None:
        """Wait (bounded) for requests in flight, record the rest as unknown, close the file.

        Requests whose user was already stopped will never answer: they are not
        waited for.
        """
        if self.recorder.closed:
            return
        self.closing = True
        deadline = time.monotonic() + (self.close_timeout if timeout is None else timeout)
        while time.monotonic() < deadline and any(
            not entry[4].dead for entry in self._in_flight.values()
        ):
            gevent.sleep(0.05)
        try:
            for token in list(self._in_flight):
                t0 = self._in_flight[token][3]
                error = "request interrupted when the test stopped"
                rec = self.end(token, UNKNOWN, None, None, error)
                if rec is not None and self._report_interrupted is not None:
                    elapsed_ms = (time.perf_counter() - t0) * 1000.0
                    self._report_interrupted(rec, elapsed_ms, 0, SendFailed(f"unknown: {error}"))
        finally:
            self.recorder.close()
