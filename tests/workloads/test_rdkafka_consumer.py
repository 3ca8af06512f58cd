"""The librdkafka reference consumer against the real local cluster: the consumer protocol
(KIP-848) as the monitor and the probes see it, static membership and fencing."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from riverbed.chaos.kafka.probes import consumer_group_stable
from riverbed.kafka.cluster import LocalKafkaCluster
from riverbed.kafka.group_config import consumer_group_timings, set_group_configs
from tests.workloads.support import (
    Proc,
    caught_up,
    consumed,
    owned,
    processed_ids,
    processes,
    produce,
    wait_for,
)
from workloads.monitor import GroupMonitor

pytestmark = pytest.mark.integration


def rdkafka_consumer(
    procs: list[Proc],
    tmp: Path,
    bootstrap: str,
    topic: str,
    group: str,
    replica: str,
    protocol: str,
    *extra: str,
) -> Proc:
    args = [
        "-m",
        "workloads.consumer",
        "--bootstrap-servers",
        bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--replica",
        replica,
        "--client",
        "confluent-kafka",
        "--group-protocol",
        protocol,
        "--evidence-dir",
        str(tmp / "evidence"),
        *extra,
    ]
    if protocol == "classic":
        args += ["--session-timeout-ms", "6000"]
    p = Proc(args, tmp / "logs" / f"{replica}.{len(procs)}.log")
    procs.append(p)
    return p


def files_of(evidence: Path, replica: str) -> list[str]:
    return sorted(p.stem for p in (evidence / "consumed").glob(f"{replica}-*.jsonl"))


def first(records: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((r for r in records if r["type"] == kind), None)


@pytest.mark.parametrize(
    "protocol",
    ["consumer", pytest.param("classic", marks=pytest.mark.slow)],
)
def test_a_duplicate_static_instance_id_is_fenced_new_under_kip848_old_under_classic(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path, protocol: str
) -> None:
    """Two members with one ``group.instance.id``: the consumer protocol refuses the newcomer
    (UNRELEASED_INSTANCE_ID); the classic protocol lets it in and fences the incumbent
    (FENCED_INSTANCE_ID). The fenced one records ``fenced`` (fatal) and stops with ``error``."""
    b = kafka.bootstrap_servers
    kafka.create_topic(topic_name, partitions=2)
    evidence = tmp_path / "evidence"
    if protocol == "consumer":
        set_group_configs(b, topic_name, consumer_group_timings(6000))
    with processes() as procs:
        old = rdkafka_consumer(
            procs, tmp_path, b, topic_name, topic_name, "r1", protocol, "--static-member"
        )
        wait_for(lambda: files_of(evidence, "r1"), 30, "the first member's evidence")
        (old_member,) = files_of(evidence, "r1")
        wait_for(
            lambda: owned(consumed(evidence)[old_member]) == {0, 1},
            60,
            "the first member to own both partitions",
        )
        produce(b, topic_name, 40, evidence)
        wait_for(lambda: len(processed_ids(consumed(evidence))) == 40, 30, "40 processed")

        if protocol == "consumer":
            # The monitor and the probes see a consumer-protocol group as it is (kafka-python's
            # DescribeGroups alone would call it Dead, with no members).
            assert consumer_group_stable(
                group=topic_name, topic=topic_name, bootstrap_servers=b, members=1, timeout=30
            )
            monitor = GroupMonitor(b, topic_name, topic_name)
            try:
                snap = monitor.snapshot()
            finally:
                monitor.reset()
            assigned = first(consumed(evidence)[old_member], "assigned")
            assert assigned is not None and assigned["generation"] is not None
            assert snap["group_type"] == "consumer" and snap["state"] == "Stable"
            assert snap["members"] == {assigned["member_id"]: [0, 1]}
            assert snap["target"] == {assigned["member_id"]: [0, 1]}
            assert snap["member_info"][assigned["member_id"]]["instance_id"] == "r1"
            assert snap["assignor"] == "uniform"

        new = rdkafka_consumer(
            procs, tmp_path, b, topic_name, topic_name, "r1", protocol, "--static-member"
        )
        fenced, survivor = (new, old) if protocol == "consumer" else (old, new)
        assert fenced.wait(60) == 1, fenced.output()[-2000:]
        (new_member,) = [m for m in files_of(evidence, "r1") if m != old_member]
        fenced_member = new_member if fenced is new else old_member
        records = consumed(evidence)[fenced_member]
        line = first(records, "fenced")
        assert line is not None, records
        assert line["fatal"] is True
        reason = "still used by another member" if protocol == "consumer" else "fenced by other"
        assert reason in line["error"]
        assert records[-1]["type"] == "stop" and records[-1]["reason"] == "error"
        assert survivor.popen.poll() is None
        if protocol == "consumer":
            # The incumbent never noticed: no revocation, still owns both partitions.
            assert owned(consumed(evidence)[old_member]) == {0, 1}
            assert first(records, "assigned") is None
        else:
            # The newcomer took the instance's partitions over without a rebalance.
            wait_for(lambda: owned(consumed(evidence)[new_member]) == {0, 1}, 30, "the takeover")
        produce(b, topic_name, 20, evidence)
        wait_for(lambda: len(processed_ids(consumed(evidence))) == 60, 30, "60 processed")
        survivor.signal(signal.SIGTERM)
        assert survivor.wait(30) == 0


@pytest.mark.slow
def test_a_member_paused_past_its_session_is_fenced_and_its_commit_rejected(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    """SIGSTOP a consumer-protocol member mid-batch for longer than the group's session
    timeout: the coordinator fences it. When it resumes, its commit is rejected
    (``committed`` ok: false, the error named), its partitions are ``lost``, and it
    rejoins with a new member epoch; the records of the rejected commit are processed again."""
    b = kafka.bootstrap_servers
    kafka.create_topic(topic_name, partitions=2)
    set_group_configs(b, topic_name, consumer_group_timings(6000))
    evidence = tmp_path / "evidence"
    produce(b, topic_name, 200, evidence)
    with processes() as procs:
        member = rdkafka_consumer(
            procs,
            tmp_path,
            b,
            topic_name,
            topic_name,
            "r1",
            "consumer",
            "--processing-ms",
            "100",
            "--max-poll-records",
            "20",
        )
        wait_for(lambda: processed_ids(consumed(evidence)), 60, "first processed records")
        member.signal(signal.SIGSTOP)
        time.sleep(12)  # twice the session timeout
        member.signal(signal.SIGCONT)
        wait_for(lambda: caught_up(b, topic_name, topic_name), 90, "the group to catch up")
        member.signal(signal.SIGTERM)
        assert member.wait(30) == 0
    (records,) = consumed(evidence).values()
    rejected = [r for r in records if r["type"] == "committed" and not r["ok"]]
    assert rejected, [r["type"] for r in records]
    assert any(
        word in rejected[0]["error"]
        for word in ("UNKNOWN_MEMBER_ID", "STALE_MEMBER_EPOCH", "FENCED_MEMBER_EPOCH")
    )
    lost = [r for r in records if r["type"] == "lost"]
    assert lost and lost[0]["t"] >= rejected[0]["t"] - 1
    epochs = [r["generation"] for r in records if r["type"] == "assigned" and r["partitions"]]
    assert len(epochs) >= 2 and epochs[-1] > epochs[0]
    assert len(processed_ids(consumed(evidence))) == 200
