"""The readiness signal behind the Kubernetes probes, against the real local cluster: a
reference consumer is ready only once it joined its group (an empty assignment included)
and while it stays in it; the monitor once it read the group and while it keeps reading.
The check is the manifests' own probe command, run here against the process's file."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from riverbed.kafka.cluster import LocalKafkaCluster
from tests.manifests.test_readiness import run_probe
from tests.workloads.support import Proc, consumed, consumer, processes, wait_for
from workloads import readiness
from workloads.evidence.reader import read_jsonl
from workloads.evidence.schema import FILE_TYPES
from workloads.monitor import GroupMonitor

pytestmark = pytest.mark.integration

#: How long a frozen process may stay "ready": the file's bound, plus a second of refresh
#: throttling and a little slack.
STALE_WITHIN_S = readiness.MAX_AGE_S + 3


def first_seen(path: Path, timeout: float, proc: Proc) -> float:
    """The file's modification time when it first appears (the process made itself ready)."""

    def appeared() -> float | None:
        assert proc.popen.poll() is None, proc.output()
        try:
            return path.stat().st_mtime
        except FileNotFoundError:
            return None

    return float(wait_for(appeared, timeout, f"{path.name} to appear", interval=0.02))


def records_of(evidence: Path, replica: str) -> list[dict[str, Any]]:
    mine = [r for m, rs in consumed(evidence).items() if m.startswith(f"{replica}-") for r in rs]
    return sorted(mine, key=lambda r: r["t"])


def pause_until_unready(proc: Proc, path: Path) -> float:
    """SIGSTOP, then the seconds until the probe fails (the process left running)."""
    proc.signal(signal.SIGSTOP)
    t0 = time.monotonic()
    wait_for(lambda: run_probe(path) != 0, STALE_WITHIN_S, "the frozen process to go unready", 0.5)
    took = time.monotonic() - t0
    print(f"{path.name}: unready {took:.1f}s after SIGSTOP")  # a figure for the docs (-s)
    return took


@pytest.mark.parametrize(
    "client",
    [
        pytest.param(("kafka-python", "classic"), id="kafka-python-classic"),
        pytest.param(("confluent-kafka", "consumer"), id="confluent-kip848"),
    ],
)
def test_a_consumer_is_ready_once_joined_and_unready_when_frozen_or_stopped(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path, client: tuple[str, str]
) -> None:
    library, protocol = client
    kafka.create_topic(topic_name, partitions=1)
    b = kafka.bootstrap_servers
    evidence = tmp_path / "evidence"
    files = {r: tmp_path / f"{r}.ready" for r in ("a", "b")}
    monitor = GroupMonitor(b, topic_name, topic_name)
    with processes() as procs:

        def start(replica: str) -> Proc:
            if protocol == "consumer":
                return _kip848_consumer(procs, tmp_path, b, topic_name, replica, files[replica])
            return consumer(procs, tmp_path, b, topic_name, topic_name, replica,
                            "--client", library, "--ready-file", str(files[replica]))  # fmt: skip

        a = start("a")
        ready_a = first_seen(files["a"], 60, a)
        if protocol == "classic":
            joined = [r for r in records_of(evidence, "a") if r["type"] == "assigned"]
            assert joined, "ready before any assignment"
            assert ready_a >= joined[0]["t"] - 0.05, "ready before the first rebalance callback"
        # Independent of the consumer's word: the coordinator lists it as a member by now.
        assert _member_ids(monitor, "a"), "ready but not a member of the group"

        # A second member of a one-partition topic owns nothing: joined all the same.
        bp = start("b")
        first_seen(files["b"], 60, bp)
        assert _member_ids(monitor, "b"), "ready but not a member of the group"
        owners = wait_for(
            lambda: _owners(evidence), 30, "one member to own the partition, the other nothing"
        )
        assert run_probe(files["a"]) == 0 and run_probe(files["b"]) == 0
        frozen = next(r for r, parts in owners.items() if not parts)  # the empty member
        proc = {"a": a, "b": bp}[frozen]

        took = pause_until_unready(proc, files[frozen])
        assert took >= readiness.MAX_AGE_S - 1.5, f"unready after {took:.1f}s only"
        proc.signal(signal.SIGCONT)
        wait_for(lambda: run_probe(files[frozen]) == 0, 60, "the continued member to be ready")

        # A stopped consumer is unready before it is gone (it leaves the group after).
        a.signal(signal.SIGTERM)
        assert a.wait(30) == 0, a.output()
        assert not files["a"].exists()
        assert "not ready" in a.output()


def test_a_member_evicted_while_frozen_is_unready_until_it_is_assigned_again(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    """Frozen past its session timeout (6 s), the owner of the partition is evicted; when it
    continues, its partitions are lost: unready (the file removed), until its next assignment."""
    kafka.create_topic(topic_name, partitions=1)
    b = kafka.bootstrap_servers
    evidence = tmp_path / "evidence"
    files = {r: tmp_path / f"{r}.ready" for r in ("a", "b")}
    with processes() as procs:
        started = {
            r: consumer(procs, tmp_path, b, topic_name, topic_name, r, "--ready-file", str(f))
            for r, f in files.items()
        }
        for r, f in files.items():
            first_seen(f, 60, started[r])
        owners = wait_for(lambda: _owners(evidence), 30, "one owner of the partition")
        owner = next(r for r, parts in owners.items() if parts)
        took = pause_until_unready(started[owner], files[owner])
        started[owner].signal(signal.SIGCONT)
        mine = wait_for(
            lambda: _after_lost(records_of(evidence, owner)), 60, "lost, then assigned again"
        )
        wait_for(lambda: run_probe(files[owner]) == 0, 30, "ready again after the assignment")
        log = started[owner].output()
        # ready (start) … not ready (lost) … ready (assigned again), in this order.
        i = log.index("not ready")
        assert "ready (" in log[:i] and "ready (" in log[i + len("not ready") :], log
        assert mine, took


def test_the_monitor_is_ready_once_it_read_the_group_and_while_it_keeps_reading(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    kafka.create_topic(topic_name, partitions=2)
    out = tmp_path / "group.jsonl"
    ready = tmp_path / "monitor.ready"
    with processes() as procs:
        monitor = Proc(
            [
                "-m", "workloads.monitor",
                "--bootstrap-servers", kafka.bootstrap_servers,
                "--group", topic_name,
                "--topic", topic_name,
                "--out", str(out),
                "--ready-file", str(ready),
            ],
            tmp_path / "logs" / "monitor.log",
        )  # fmt: skip
        procs.append(monitor)
        t_ready = first_seen(ready, 60, monitor)
        snapshots = list(read_jsonl(out, FILE_TYPES["group"]))
        assert snapshots and t_ready >= snapshots[0]["t"] - 0.05
        assert run_probe(ready) == 0
        pause_until_unready(monitor, ready)
        monitor.signal(signal.SIGCONT)
        wait_for(lambda: run_probe(ready) == 0, 30, "the continued monitor to be ready")
        monitor.signal(signal.SIGTERM)
        assert monitor.wait(30) == 0, monitor.output()
        assert not ready.exists()


# ---- helpers -----------------------------------------------------------------------------------
def _kip848_consumer(
    procs: list[Proc], tmp: Path, b: str, topic: str, replica: str, f: Path
) -> Proc:
    from tests.workloads.test_rdkafka_consumer import rdkafka_consumer

    return rdkafka_consumer(
        procs, tmp, b, topic, topic, replica, "consumer", "--assignor", "uniform",
        "--ready-file", str(f),
    )  # fmt: skip


def _member_ids(monitor: GroupMonitor, replica: str) -> list[str]:
    """The coordinator's member ids of ``replica``'s incarnations, as the group lists them."""
    try:
        info = monitor.snapshot().get("member_info") or {}
    finally:
        monitor.reset()
    return [m for m, i in info.items() if (i.get("client_id") or "").startswith(f"{replica}-")]


def _owners(evidence: Path) -> dict[str, set[int]] | None:
    """``{replica: partitions}`` once both members own what they will: one the partition."""
    from tests.workloads.support import owned

    now = {r: owned(records_of(evidence, r)) for r in ("a", "b")}
    return now if sorted(len(p) for p in now.values()) == [0, 1] else None


def _after_lost(records: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    kinds = [r["type"] for r in records]
    if "lost" not in kinds:
        return None
    i = kinds.index("lost")
    return records[i:] if "assigned" in kinds[i:] else None
