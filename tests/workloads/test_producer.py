"""The producer: the HTTP service against the real cluster (and against no cluster), and the loop."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from riverbed.kafka.cluster import LocalKafkaCluster
from tests.workloads.support import Proc, acked, free_port, processes, wait_for
from workloads.message import decode


def call(port: int, method: str, path: str, data: bytes | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def post(port: int, payload: Any) -> tuple[int, Any]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return call(port, "POST", "/events", data)


def service(procs: list[Proc], tmp: Path, bootstrap: str, topic: str, *extra: str) -> int:
    port = free_port()
    args = ["-m", "workloads.producer", "http", "--bootstrap-servers", bootstrap, "--topic", topic]
    args += ["--port", str(port), "--evidence-dir", str(tmp / "evidence"), *extra]
    procs.append(Proc(args, tmp / "logs" / f"http-{port}.log"))

    def answers() -> bool:
        try:
            return call(port, "GET", "/healthz")[0] == 200
        except OSError:
            return False

    wait_for(answers, 20, "the HTTP service to answer /healthz")
    return port


def _one_record(reader: Any, tp: Any) -> Any:
    return reader.poll(500, max_records=1).get(tp)


@pytest.mark.integration
def test_http_producer_acknowledges_events_and_refuses_bad_requests(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    from kafka import KafkaConsumer, TopicPartition

    b = kafka.bootstrap_servers
    kafka.create_topic(topic_name, partitions=3)
    with processes() as procs:
        port = service(procs, tmp_path, b, topic_name, "--max-message-bytes", "2000")
        wait_for(lambda: call(port, "GET", "/readyz")[0] == 200, 20, "/readyz to turn 200")

        status, own = post(port, {"key": "k1", "body": {"order": 1}})
        assert status == 202, own
        assert own["key"] == "k1" and own["seq"] == 0 and own["producer"].startswith("http-")
        status, again = post(port, {"key": "k1", "body": {"order": 2}})
        assert (status, again["seq"], again["partition"]) == (202, 1, own["partition"])
        status, theirs = post(port, {"key": "k2", "body": "x", "producer": "lw-1", "seq": 41})
        assert status == 202 and (theirs["producer"], theirs["seq"]) == ("lw-1", 41)

        assert post(port, {"body": 1})[0] == 400  # no key
        assert post(port, {"key": "", "body": 1})[0] == 400
        assert post(port, {"key": "k"})[0] == 400  # no body
        assert post(port, b"{not json")[0] == 400
        assert post(port, [1, 2])[0] == 400
        assert post(port, {"key": "k", "body": 1, "seq": 3})[0] == 400  # seq without producer
        assert post(port, {"key": "k", "body": 1, "producer": "p", "seq": -1})[0] == 400
        assert post(port, {"key": "k", "body": 1, "colour": "red"})[0] == 400
        status, too_large = post(port, {"key": "k", "body": "x" * 5000})
        assert status == 413 and "limit" in too_large["error"]

    # The 202s name where Kafka put each message, and the message is the contract's.
    reader = KafkaConsumer(bootstrap_servers=b, enable_auto_commit=False)
    for answer, body in ((own, {"order": 1}), (theirs, "x")):
        tp = TopicPartition(topic_name, answer["partition"])
        reader.assign([tp])
        reader.seek(tp, answer["offset"])
        (record,) = wait_for(partial(_one_record, reader, tp), 10, "the record")
        message = decode(record.value)
        assert (message.producer, message.key, message.seq, message.body) == (
            answer["producer"],
            answer["key"],
            answer["seq"],
            body,
        )
    reader.close()
    # The service records only the sends whose identity it assigned.
    sends = acked(tmp_path / "evidence")
    assert [(s["key"], s["seq"], s["status"], s["offset"]) for s in sends] == [
        ("k1", 0, "ok", own["offset"]),
        ("k1", 1, "ok", again["offset"]),
    ]


def test_http_producer_answers_503_at_once_while_kafka_is_unreachable(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    with processes() as procs:
        port = service(procs, tmp_path, dead, "events")
        started = time.monotonic()
        status, answer = post(port, {"key": "k1", "body": {"a": 1}})
        elapsed = time.monotonic() - started
        assert status == 503 and answer["written"] is False, answer
        assert elapsed < 2.0, f"a 503 must not hang: took {elapsed:.1f}s"
        status, ready = call(port, "GET", "/readyz")
        assert status == 503 and ready["ready"] is False
        assert call(port, "GET", "/healthz")[0] == 200
        assert post(port, {"body": 1})[0] == 400  # bad input is still a 4xx
    assert acked(tmp_path / "evidence") == []  # nothing was sent, nothing recorded


@pytest.mark.integration
def test_loop_producer_sends_contract_messages_and_stops_cleanly_on_sigterm(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    b = kafka.bootstrap_servers
    kafka.create_topic(topic_name, partitions=3)
    evidence = tmp_path / "evidence"
    with processes() as procs:
        loop = Proc(
            ["-m", "workloads.producer", "loop", "--interval", "0.01", "--keys", "4"]
            + ["--body-bytes", "64", "--evidence-dir", str(evidence)],
            tmp_path / "logs" / "loop.log",
            env={"KAFKA_BROKER": b, "KAFKA_TOPIC": topic_name},  # the tutorial's variables
        )
        procs.append(loop)
        wait_for(lambda: len(acked(evidence)) >= 40, 30, "40 acknowledged sends")
        loop.signal(signal.SIGTERM)
        assert loop.wait(30) == 0, loop.output()[-2000:]
    sends = acked(evidence)
    assert sends and all(s["status"] == "ok" for s in sends)
    per_key: dict[str, list[int]] = {}
    for s in sorted(sends, key=lambda s: s["offset"]):
        per_key.setdefault(s["key"], []).append(s["seq"])
    assert sorted(per_key) == ["k0", "k1", "k2", "k3"]
    for seqs in per_key.values():  # one key, one partition: seq order is log order
        assert seqs == list(range(len(seqs)))
    assert len({s["producer"] for s in sends}) == 1
