"""Slow measurements: group recovery after SIGTERM vs SIGKILL, and the HTTP producer losing Kafka.

Run with ``-m slow -s`` to see the figures.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from riverbed.kafka.cluster import LocalKafkaCluster
from tests.workloads.support import (
    Background,
    acked,
    consumed,
    consumer,
    member_of,
    owned,
    processes,
    wait_for,
)
from tests.workloads.test_producer import call, post, service

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SESSION_TIMEOUT_MS = 10_000


def _recovery(
    evidence: Path, survivors: list[str], orphaned: set[int], t0: float
) -> tuple[float, float]:
    """Seconds from ``t0`` until the survivors own ``orphaned`` and have processed on each."""

    def done() -> tuple[float, float] | None:
        ev = consumed(evidence)
        assigned_at: dict[int, float] = {}
        resumed_at: dict[int, float] = {}
        for m in survivors:
            for r in ev[m]:
                if r["t"] <= t0:
                    continue
                if r["type"] == "assigned":
                    for p in orphaned.intersection(r["partitions"]):
                        assigned_at.setdefault(p, r["t"])
                elif r["type"] == "processed" and r["partition"] in orphaned:
                    resumed_at.setdefault(r["partition"], r["t"])
        if len(assigned_at) == len(orphaned) == len(resumed_at):
            return max(assigned_at.values()) - t0, max(resumed_at.values()) - t0
        return None

    return wait_for(done, 60, "the orphaned partitions to be reassigned and consumed")


def test_group_recovery_after_sigterm_is_much_faster_than_after_sigkill(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    b = kafka.bootstrap_servers
    kafka.create_topic(topic_name, partitions=6)
    evidence = tmp_path / "evidence"
    session = ["--session-timeout-ms", str(SESSION_TIMEOUT_MS), "--processing-ms", "1"]
    figures = {}
    with processes() as procs:
        started = {}
        members = {}

        def start(replica: str) -> None:
            started[replica] = consumer(
                procs, tmp_path, b, topic_name, topic_name, replica, *session
            )
            members[replica] = wait_for(lambda: member_of(evidence, replica), 30, replica)

        def balanced(replicas: list[str]) -> bool:
            ev = consumed(evidence)
            return all(len(owned(ev[members[r]])) == 2 for r in replicas)

        for r in ("c1", "c2", "c3"):
            start(r)
        wait_for(lambda: balanced(["c1", "c2", "c3"]), 60, "a balanced group of three")
        load = Background(b, topic_name, 8_000, evidence, interval_s=0.004)

        for how, victim, survivors, replacement in (
            ("sigterm", "c3", ["c1", "c2"], "c4"),
            ("sigkill", "c1", ["c2", "c4"], None),
        ):
            time.sleep(2.0)
            orphaned = owned(consumed(evidence)[members[victim]])
            started[victim].signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
            t0 = time.time()
            figures[how] = _recovery(evidence, [members[s] for s in survivors], orphaned, t0)
            if replacement:
                start(replacement)
                wait_for(
                    lambda: balanced(["c1", "c2", "c4"]), 60, "the replacement to be balanced in"
                )
        load.join(120)

    term_assign, term_resume = figures["sigterm"]
    kill_assign, kill_resume = figures["sigkill"]
    print(
        f"\nsession.timeout.ms={SESSION_TIMEOUT_MS}, heartbeat 3000 ms, 3 consumers, 6 partitions, ~250 msg/s:\n"
        f"  SIGTERM: orphaned partitions reassigned after {term_assign:.2f}s, consumed after {term_resume:.2f}s\n"
        f"  SIGKILL: orphaned partitions reassigned after {kill_assign:.2f}s, consumed after {kill_resume:.2f}s"
    )
    assert term_assign < 6.0
    assert kill_assign > SESSION_TIMEOUT_MS / 1000 * 0.6  # waited for the session to expire
    assert term_assign < kill_assign / 2


def test_http_producer_answers_503_not_a_hang_when_kafka_goes_down(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    b = kafka.bootstrap_servers
    kafka.create_topic(topic_name, partitions=3)
    with processes() as procs:
        port = service(procs, tmp_path, b, topic_name, "--delivery-timeout-ms", "8000")
        wait_for(lambda: call(port, "GET", "/readyz")[0] == 200, 20, "/readyz 200")
        assert post(port, {"key": "k", "body": 1})[0] == 202
        try:
            for i in kafka.broker_ids:
                kafka.kill_broker(i)
            t_down = time.monotonic()
            # Until the probe notices (about a second), a send may be attempted and end
            # in 504 (outcome unknown); after that every request is refused at once.
            answers = []
            while time.monotonic() - t_down < 20:
                started = time.monotonic()
                status, body = post(port, {"key": "k", "body": 2})
                answers.append((status, time.monotonic() - started))
                if status == 503:
                    assert body["written"] is False
                    break
                assert status == 504 and body["written"] is None, body
            assert answers[-1][0] == 503, answers
            assert answers[-1][1] < 2.0, f"the 503 took {answers[-1][1]:.1f}s"
            assert call(port, "GET", "/readyz")[0] == 503
        finally:
            for i in kafka.broker_ids:
                kafka.start_broker(i, wait=False)
            kafka.wait_ready(timeout=180)
        wait_for(lambda: call(port, "GET", "/readyz")[0] == 200, 60, "/readyz 200 again")
        assert post(port, {"key": "k", "body": 3})[0] == 202
    statuses = [s["status"] for s in acked(tmp_path / "evidence")]
    assert statuses[0] == "ok" and statuses[-1] == "ok"
    assert set(statuses) <= {"ok", "unknown"}
    print(f"\nrequests after all brokers died: {[(s, round(t, 2)) for s, t in answers]}")
