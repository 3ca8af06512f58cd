"""The producer's pure parts: request validation, outcome classification, the ack log, bodies."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError, NotEnoughReplicasError
from kafka.future import Future
from kafka.producer.future import RecordMetadata

from tests.workloads.support import ROOT
from workloads.evidence.schema import check
from workloads.message import body_sha
from workloads.producer.http_service import BadRequest, EventRequest, parse_event
from workloads.producer.loop import make_body
from workloads.producer.sending import AckLog, SequenceNumbers, failure_status


class ListSink:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.flushes = 0

    def write(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    def write_many(self, records: list[dict[str, Any]]) -> None:
        self.records.extend(records)

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        pass


def test_a_valid_event_request_is_parsed() -> None:
    assert parse_event(b'{"key":"k1","body":{"a":[1]}}', 1000) == EventRequest(
        "k1", {"a": [1]}, None, None
    )
    assert parse_event(b'{"key":"k","body":null,"producer":"lw","seq":0}', 1000) == EventRequest(
        "k", None, "lw", 0
    )


@pytest.mark.parametrize(
    ("raw", "status", "message"),
    [
        (b"x" * 101, 413, "limit is 100"),
        (b"{oops", 400, "not JSON"),
        (b"\xff\xfe", 400, "not JSON"),
        (b'"text"', 400, "must be a JSON object"),
        (b'{"body":1}', 400, "'key' is required"),
        (b'{"key":7,"body":1}', 400, "'key' is required"),
        (b'{"key":"k"}', 400, "'body' is required"),
        (b'{"key":"k","body":1,"seq":2}', 400, "go together"),
        (b'{"key":"k","body":1,"producer":"","seq":2}', 400, "'producer' must be"),
        (b'{"key":"k","body":1,"producer":"p","seq":true}', 400, "'seq' must be"),
        (b'{"key":"k","body":1,"producer":"p","seq":1.5}', 400, "'seq' must be"),
        (b'{"key":"k","body":1,"prio":1}', 400, "unknown field(s): prio"),
    ],
)
def test_bad_event_requests_get_their_4xx(raw: bytes, status: int, message: str) -> None:
    with pytest.raises(BadRequest) as exc:
        parse_event(raw, 100)
    assert exc.value.status == status and message in str(exc.value)


def test_only_rejections_count_as_definitely_not_written() -> None:
    assert failure_status(MessageSizeTooLargeError("big")) == "fail"
    assert failure_status(KafkaTimeoutError("expired")) == "unknown"
    assert failure_status(NotEnoughReplicasError("isr")) == "unknown"
    assert failure_status(ConnectionError("reset")) == "unknown"


def test_the_ack_log_records_each_outcome_once_and_unknown_for_sends_cut_off() -> None:
    sink = ListSink()
    acks = AckLog(sink, "p-1")
    seqs = SequenceNumbers()
    futures = [Future() for _ in range(4)]
    for i, f in enumerate(futures):
        acks.track(f, "k", seqs.next("k"), 100.0 + i)
    assert acks.pending == 4
    futures[0].success(RecordMetadata("t", 2, None, 17, 0, None, 0, 0, 0))
    futures[1].failure(KafkaTimeoutError("batch expired"))
    futures[2].failure(MessageSizeTooLargeError("too big"))
    assert acks.close() == 1  # futures[3] never completed
    futures[3].success(RecordMetadata("t", 2, None, 18, 0, None, 0, 0, 0))  # too late: ignored
    by_seq = {r["seq"]: r for r in sink.records}
    assert [by_seq[s]["status"] for s in range(4)] == ["ok", "unknown", "fail", "unknown"]
    assert (by_seq[0]["partition"], by_seq[0]["offset"], by_seq[0]["t_send"]) == (2, 17, 100.0)
    assert by_seq[1]["error"].startswith("KafkaTimeoutError")
    assert "before the acknowledgement" in by_seq[3]["error"]
    assert len(sink.records) == 4 and acks.counts == {"ok": 1, "fail": 1, "unknown": 2}
    for r in sink.records:
        check({"v": 1, **r}, allowed=frozenset({"send"}))


def test_sequence_numbers_count_per_key_from_zero() -> None:
    seqs = SequenceNumbers()
    assert [seqs.next(k) for k in ("a", "b", "a", "a", "b")] == [0, 0, 1, 2, 1]


def test_the_tutorial_body_is_kept_and_padded_on_request() -> None:
    assert make_body(7, 0) == {"number": 7}
    padded = make_body(7, 200)
    assert padded["number"] == 7
    assert len(json.dumps(padded, separators=(",", ":"))) == 200
    assert body_sha(padded) == body_sha(json.loads(json.dumps(padded)))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["loop"], "--topic is required (or set KAFKA_TOPIC)"),
        (["loop", "--topic", "t", "--interval", "-1"], "must be zero or more"),
        (["loop", "--topic", "t", "--keys", "0"], "must be a positive integer"),
        (["http", "--topic", "t", "--port", "x"], "argument --port"),
        (["burst", "--topic", "t"], "invalid choice: 'burst'"),
    ],
)
def test_producer_bad_flags_exit_2(args: list[str], message: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "workloads.producer", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
