"""Fixtures for running experiments for real: a local platform on the session Kafka
cluster, under a small bounded load."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from riverbed.kafka.admin import create_topic
from riverbed.kafka.cluster import LocalKafkaCluster
from riverbed.platforms.local import LocalPlatform
from workloads.message import encode, producer_id

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "chaos"


class Load:
    """A bounded background producer: ``rate`` messages/s until stopped or ``max_s`` passed."""

    def __init__(
        self, bootstrap_servers: str, topic: str, rate: float = 40.0, max_s: float = 300.0
    ):
        self.bootstrap_servers, self.topic = bootstrap_servers, topic
        self.rate, self.max_s = rate, max_s
        self.sent = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-test-load", daemon=True)

    def start(self) -> Load:
        self._thread.start()
        return self

    def _run(self) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all", linger_ms=5)
        pid = producer_id("chaos-test")
        seqs: dict[str, int] = {}
        deadline = time.monotonic() + self.max_s
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                key = f"k{self.sent % 25}"
                seq = seqs.get(key, 0)
                seqs[key] = seq + 1
                try:
                    producer.send(
                        self.topic, key=key.encode(), value=encode(pid, key, seq, "x" * 64)
                    )
                    self.sent += 1
                except Exception as exc:  # a broker fault is part of some experiments
                    self.errors.append(repr(exc))
                self._stop.wait(1.0 / self.rate)
            producer.flush(timeout=30)
        finally:
            producer.close(timeout=5)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


@dataclass
class Platform:
    """A running local platform for one test."""

    platform: LocalPlatform
    state_dir: Path
    run_dir: Path
    topic: str
    group: str
    bootstrap_servers: str
    load: Load | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """What ``chaos run`` needs to find this platform."""
        env = {
            "RIVERBED_LOCAL_STATE_DIR": str(self.state_dir),
            "RIVERBED_RECOVERY_TIMEOUT_S": "90",
        }
        if network := self.platform.network():
            env["RIVERBED_TOXIPROXY_URL"] = str(network["toxiproxy_url"])
        return env

    def faults(self) -> list[dict[str, Any]]:
        path = self.run_dir / "evidence" / "faults.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]

    def supervisor_events(self) -> list[dict[str, Any]]:
        path = self.state_dir / "events.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]


def wait_monitor_stable(run_dir: Path, members: int, timeout: float = 60.0) -> None:
    path = run_dir / "evidence" / "group.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_text().splitlines()[-5:]:
                try:
                    snap = json.loads(line)
                except ValueError:
                    continue
                if snap["state"] == "Stable" and len(snap["members"]) == members:
                    return
        time.sleep(0.2)
    raise AssertionError(f"the group monitor never saw {members} members in a Stable group")


@pytest.fixture
def local_platform(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Platform]]:
    """Start a local platform (3 consumer replicas and the group monitor on a new
    3-partition topic) under load; stops everything afterwards and keeps the run
    directory in test-artifacts/chaos/ when the test failed."""
    started: list[Platform] = []

    def start(
        consumers: int = 3,
        partitions: int = 3,
        load: bool = True,
        network: bool = False,
        processing_ms: str = "2",
        commit_mode: str = "after-process",
    ) -> Platform:
        topic = f"{topic_name}-{len(started)}"
        create_topic(kafka.bootstrap_servers, topic, partitions, 3, min_insync_replicas=2)
        state = tmp_path / f"local-state-{len(started)}"
        run_dir = tmp_path / f"run-{len(started)}"
        plat = LocalPlatform(state, kafka_state_dir=kafka.state_dir)
        plat.start_workloads(
            run_dir,
            kafka.bootstrap_servers,
            topic,
            topic,
            consumers=consumers,
            processing_ms=processing_ms,
            commit_mode=commit_mode,
            network_faults=network,
        )
        p = Platform(plat, state, run_dir, topic, topic, kafka.bootstrap_servers)
        started.append(p)
        plat.wait_replicas(consumers, timeout=60)
        if consumers:
            # Faults are judged against the monitor's view of the group before
            # them: wait until it has seen the whole group stable.
            wait_monitor_stable(run_dir, consumers)
        if load:
            p.load = Load(kafka.bootstrap_servers, topic).start()
        return p

    yield start
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for p in started:
        if p.load:
            p.load.stop()
        p.platform.stop_workloads()
        if failed:
            dest = ARTIFACTS / request.node.name
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(p.run_dir, dest / p.run_dir.name, dirs_exist_ok=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
