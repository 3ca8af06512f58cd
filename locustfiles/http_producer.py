"""Locust users that send events through the producer service and record every outcome.

    python -m workloads.producer http --host 127.0.0.1 --port 8080 \\
        --bootstrap-servers 127.0.0.1:19092 --topic riverbed-events &
    locust -f locustfiles/http_producer.py --headless -H http://127.0.0.1:8080 \\
        -u 10 -r 10 -t 1m --run-dir runs/demo-http

Each request is ``POST /events`` with ``{"key", "body", "producer", "seq"}``: the
user's process owns the producer id and the per-key seq, so its evidence file
``<run-dir>/evidence/acks/<producer-id>.jsonl`` identifies every message. The
answer decides the record (see :mod:`locustfiles.http_sender`): 202 with
partition/offset is ``ok``, 4xx or a refused connection ``fail``, 5xx
``unknown`` unless the service says ``"written": false``, a timeout or lost
connection ``unknown``. Locust's
own request event (``POST /events``) is marked failed for anything but ``ok``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import gevent
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.exception import StopUser

from locustfiles import lifecycle, settings, shapes
from locustfiles.acks import OK, AckRecorder, make_body
from locustfiles.http_sender import HttpSender, SenderClosed, classify
from locustfiles.pacing import Pacer

PATH = "/events"

# Locust uses the first shape class in this module: only the selected one is here.
LoadShape = shapes.selected(sys.argv[1:], os.environ)


@events.init_command_line_parser.add_listener
def _add_options(parser: Any, **_: Any) -> None:
    lifecycle.register_options(parser, ("riverbed HTTP producer", settings.HTTP_OPTIONS))


def _start_sender(environment: Environment) -> HttpSender:
    common = settings.CommonSettings.from_options(environment.parsed_options)
    request = environment.events.request

    def report_interrupted(
        record: dict[str, Any], response_time: float, size: int, exc: Any
    ) -> None:
        # A user stopped mid-request never got its own request event: count it here.
        request.fire(
            request_type="POST",
            name=PATH,
            response_time=response_time,
            response_length=size,
            exception=exc,
            context={},
        )

    recorder = AckRecorder(common.run_dir, common.producer_prefix or "lh", common.key_space)
    return HttpSender(
        recorder, make_body(common.body_bytes), common.close_timeout, report_interrupted
    )


LIFECYCLE = lifecycle.Lifecycle(_start_sender)


class HttpProducerUser(FastHttpUser):
    """``POST /events`` at ``--user-rate``/s per user; ``-H`` is the service's base URL."""

    host = "http://127.0.0.1:8080"

    def __init__(self, environment: Environment) -> None:
        options = environment.parsed_options
        timeout = float(getattr(options, "http_timeout", 30.0) or 30.0)
        self.network_timeout = timeout
        self.connection_timeout = timeout
        super().__init__(environment)
        self._pacer = Pacer(float(getattr(options, "user_rate", 0.0) or 0.0))

    def wait_time(self) -> float:
        return self._pacer.wait_time()

    @task
    def post_event(self) -> None:
        sender = LIFECYCLE.sender
        if sender is None or sender.closing:
            raise StopUser()
        # The request runs in a greenlet of its own: when Locust kills this user at the
        # end of the run, a request in flight still gets its answer and its record.
        gevent.spawn(self._post_one, sender).get()

    def _post_one(self, sender: HttpSender) -> None:
        producer = sender.recorder.producer
        try:
            token, lock, key, seq = sender.begin()
        except SenderClosed:
            return
        try:
            payload = {"key": key, "body": sender.body, "producer": producer, "seq": seq}
            with self.client.post(PATH, json=payload, name=PATH, catch_response=True) as resp:
                try:
                    body = resp.json() if resp.text else None
                except Exception:  # not JSON: classify by status alone
                    body = None
                # Only a response that did not arrive carries an ``error``.
                failure = getattr(resp, "error", None) if not resp.status_code else None
                transport_error = None
                if not resp.status_code:
                    transport_error = f"{type(failure).__name__}: {failure}"
                status, partition, offset, error = classify(
                    resp.status_code,
                    body,
                    (producer, key, seq),
                    transport_error,
                    refused=isinstance(failure, ConnectionRefusedError),
                )
                if status == OK:
                    resp.success()
                else:
                    resp.failure(f"{status}: {error}")
            sender.end(token, status, partition, offset, error)
        finally:
            lock.release()
