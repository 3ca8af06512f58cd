"""A Locust worker is ready (the file its Kubernetes probe reads is fresh) only while it
is connected to a master: not before one answers, and not after the master is gone."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from riverbed.kafka.cluster import LocalKafkaCluster
from tests.locust.conftest import KAFKA_LOCUSTFILE, ROOT, clean_env
from tests.manifests.test_readiness import run_probe
from tests.workloads.support import free_port, wait_for
from workloads import readiness

pytestmark = pytest.mark.integration


def start(args: list[str], log: Path, **env: str) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", KAFKA_LOCUSTFILE, *args],
            cwd=ROOT,
            env=clean_env(**env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_a_worker_is_ready_while_connected_to_its_master(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    kafka.create_topic(topic_name, partitions=1)
    port = free_port()
    ready = tmp_path / "worker.ready"
    run_dir = tmp_path / "run"
    worker = start(
        ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port),
         "--run-dir", str(run_dir)],
        tmp_path / "worker.log",
        RIVERBED_READY_FILE=str(ready),
    )  # fmt: skip
    master = None
    try:
        time.sleep(4)  # started and trying to connect, with no master to answer
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()
        assert not ready.exists(), "ready with no master"

        master = start(
            ["--master", "--headless", "--master-bind-host", "127.0.0.1",
             "--master-bind-port", str(port), "--expect-workers", "1", "-u", "1", "-r", "1",
             "-t", "120s", "--user-rate", "1", "--kafka-bootstrap", kafka.bootstrap_servers,
             "--kafka-topic", topic_name, "--run-dir", str(run_dir)],
            tmp_path / "master.log",
        )  # fmt: skip
        wait_for(lambda: run_probe(ready) == 0, 60, "the worker to be ready", 0.2)

        master.kill()  # gone without a word: the worker hears no more heartbeats
        master.wait(timeout=10)
        t0 = time.monotonic()
        wait_for(lambda: run_probe(ready) != 0, readiness.MAX_AGE_S + 3, "unready", 0.5)
        took = time.monotonic() - t0
        assert took >= readiness.MAX_AGE_S - 2, f"unready {took:.1f}s after the master died"
        assert worker.poll() is None  # still running: unready, not dead
    finally:
        if master is not None:
            stop(master)
        stop(worker)
