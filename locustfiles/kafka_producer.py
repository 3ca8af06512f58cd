"""Locust users that produce straight to Kafka and record every send's outcome.

    locust -f locustfiles/kafka_producer.py --headless -u 50 -r 10 -t 2m \\
        --kafka-bootstrap 127.0.0.1:19092 --kafka-topic riverbed-events --run-dir runs/demo

Each process that runs users (the local runner, or each ``--processes`` /
``--worker`` worker) has one producer, created after the fork and shared by its
users. Every send fires Locust's request event (type ``PRODUCE``, name = topic,
response time = send to acknowledgement) and writes one ``send`` record to
``<run-dir>/evidence/acks/<producer-id>.jsonl``: ``ok`` with partition and
offset, ``fail`` (refused before sending) or ``unknown`` (an error after it left
the client, or no outcome when the producer closed). ``python -m locustfiles``
lists riverbed's options and their environment variables (Locust's ``--help``
cannot: it prints before the locustfile is imported); docs/load.md has the rest.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from locust import User, events, task
from locust.env import Environment
from locust.exception import StopUser

from locustfiles import lifecycle, settings, shapes
from locustfiles.acks import AckRecorder, make_body
from locustfiles.kafka_session import KafkaSendSession
from locustfiles.pacing import Pacer

REQUEST_TYPE = "PRODUCE"
#: An unthrottled user sends this many messages per task: Locust's scheduling of a
#: task costs about as much CPU as a send (benchmarks/load_capacity.py: ~15 % more
#: messages per second than one send per task).
UNTHROTTLED_SENDS_PER_TASK = 8

# Locust uses the first shape class in this module: only the selected one is here.
LoadShape = shapes.selected(sys.argv[1:], os.environ)


@events.init_command_line_parser.add_listener
def _add_options(parser: Any, **_: Any) -> None:
    lifecycle.register_options(parser, ("riverbed Kafka producer", settings.KAFKA_OPTIONS))


def _start_session(environment: Environment) -> KafkaSendSession:
    options = environment.parsed_options
    common = settings.CommonSettings.from_options(options)
    kafka = settings.KafkaSettings.from_options(options)
    request = environment.events.request

    def report(record: dict[str, Any], response_time: float, size: int, exc: Any) -> None:
        request.fire(
            request_type=REQUEST_TYPE,
            name=kafka.topic,
            response_time=response_time,
            response_length=size,
            exception=exc,
            context={},
        )

    recorder = AckRecorder(
        common.run_dir, common.producer_prefix or "lw", common.key_space, report=report
    )
    session = KafkaSendSession(kafka, recorder, make_body(common.body_bytes))
    session.start()
    return session


LIFECYCLE = lifecycle.Lifecycle(_start_session)


class KafkaProducerUser(User):
    """Sends through this process's producer at ``--user-rate`` messages per second
    (one per task), or as fast as backpressure allows with ``--user-rate 0``."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        rate = getattr(environment.parsed_options, "user_rate", 0.0) or 0.0
        self._pacer = Pacer(float(rate))
        self._per_task = 1 if rate else UNTHROTTLED_SENDS_PER_TASK

    def wait_time(self) -> float:
        return self._pacer.wait_time()

    @task
    def produce(self) -> None:
        session = LIFECYCLE.sender
        if session is None:
            raise StopUser()  # the producer did not start: the run is quitting
        for _ in range(self._per_task):
            if not session.send():
                raise StopUser()  # the producer is closing: this user is done
