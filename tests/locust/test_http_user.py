"""The HTTP user against the real producer service (``python -m workloads.producer http``)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from riverbed.kafka.cluster import LocalKafkaCluster
from tests.locust.conftest import (
    HTTP_LOCUSTFILE,
    ROOT,
    clean_env,
    drain,
    locust_stats,
    output_of,
    read_acks,
    run_locust,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, url: str, topic: str, log: Path) -> None:
        self.url, self.topic, self.log = url, topic, log


def start_service(
    kafka: LocalKafkaCluster, topic: str, tmp_path: Path, *extra: str
) -> Iterator[Service]:
    port = free_port()
    log = tmp_path / "service.log"
    cmd = [
        sys.executable, "-m", "workloads.producer", "http",
        "--host", "127.0.0.1", "--port", str(port),
        "--bootstrap-servers", kafka.bootstrap_servers, "--topic", topic,
        *extra,
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=clean_env(), stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the producer service did not become ready"
            time.sleep(0.3)
        yield Service(url, topic, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def service(kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path) -> Iterator[Service]:
    kafka.create_topic(topic_name, partitions=3, replication_factor=3, min_insync_replicas=2)
    yield from start_service(kafka, topic_name, tmp_path)


@pytest.mark.integration
def test_http_user_records_acks_that_are_in_the_topic(
    kafka: LocalKafkaCluster, service: Service, tmp_path: Path
):
    run_dir = tmp_path / "run"
    proc = run_locust(
        HTTP_LOCUSTFILE, run_dir,
        "-H", service.url, "-u", "4", "-r", "4", "-t", "4s", "--user-rate", "20", "--key-space", "5",
    )  # fmt: skip
    assert proc.returncode == 0, output_of(run_dir)[-3000:]

    records, issues = read_acks(run_dir)
    assert issues == [] and records
    # Requests in flight when Locust killed their users at the end still completed.
    assert {r["status"] for r in records} == {"ok"}
    producers = {r["producer"] for r in records}
    assert len(producers) == 1
    producer = producers.pop()
    assert producer.startswith("lh-")
    log = drain(kafka.bootstrap_servers, service.topic)
    for r in records:
        assert log[(r["producer"], r["key"], r["seq"])] == (r["partition"], r["offset"])
    assert set(log) == {(r["producer"], r["key"], r["seq"]) for r in records}
    # Sends for a key are serialised: seqs are contiguous and the log holds them in seq order.
    for key in {r["key"] for r in records}:
        seqs = sorted(r["seq"] for r in records if r["key"] == key)
        assert seqs == list(range(len(seqs)))
        offsets = [log[(producer, key, s)] for s in seqs]
        assert offsets == sorted(offsets)
    stats = locust_stats(run_dir, "/events")
    assert (stats["Type"], int(stats["Request Count"]), int(stats["Failure Count"])) == (
        "POST",
        len(records),
        0,
    )


@pytest.mark.integration
def test_http_user_records_refused_requests_as_fail(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
):
    kafka.create_topic(topic_name, partitions=1, replication_factor=3, min_insync_replicas=2)
    # The service refuses (413) every message larger than 200 bytes: nothing is written.
    for svc in start_service(kafka, topic_name, tmp_path, "--max-message-bytes", "200"):
        run_dir = tmp_path / "run"
        proc = run_locust(
            HTTP_LOCUSTFILE, run_dir,
            "-H", svc.url, "-u", "2", "-r", "2", "-t", "2s", "--user-rate", "10",
            "--body-bytes", "300",
        )  # fmt: skip
        assert proc.returncode == 1, output_of(run_dir)[-3000:]  # Locust: some requests failed
        records, issues = read_acks(run_dir)
        assert issues == [] and records
        assert {r["status"] for r in records} == {"fail"}
        assert all(r["error"].startswith("HTTP 413") for r in records)
        assert drain(kafka.bootstrap_servers, topic_name) == {}
        stats = locust_stats(run_dir, "/events")
        assert int(stats["Failure Count"]) == int(stats["Request Count"]) == len(records)


def test_http_user_records_a_refused_connection_as_fail(tmp_path: Path):
    run_dir = tmp_path / "run"
    port = free_port()  # nothing listens there
    proc = run_locust(
        HTTP_LOCUSTFILE, run_dir,
        "-H", f"http://127.0.0.1:{port}", "-u", "1", "-r", "1", "-t", "2s", "--user-rate", "5",
    )  # fmt: skip
    out = output_of(run_dir)
    assert proc.returncode == 1, out[-3000:]
    assert "Traceback" not in out
    records, issues = read_acks(run_dir)
    assert issues == [] and records
    assert all(r["status"] == "fail" and "ConnectionRefusedError" in r["error"] for r in records)
    assert int(locust_stats(run_dir, "/events")["Failure Count"]) == len(records)
