"""Evidence by topic (for pods), the group monitor, the collector and the log drain, end to end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from riverbed.kafka.cluster import LocalKafkaCluster
from tests.workloads.support import (
    ROOT,
    Proc,
    acked,
    caught_up,
    consumed,
    consumer,
    owned,
    processed_ids,
    processes,
    produce,
    wait_for,
)
from workloads.collect import collect
from workloads.drain import drain_log
from workloads.evidence.reader import read_jsonl
from workloads.evidence.schema import FILE_TYPES, RunLayout

pytestmark = pytest.mark.integration


def test_evidence_topic_monitor_collector_and_drain_rebuild_the_run_directory(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    b = kafka.bootstrap_servers
    kafka.create_topic(topic_name, partitions=4)
    evidence_topic = f"{topic_name}-evidence"
    kafka.create_topic(evidence_topic, partitions=3)
    pod_dir = tmp_path / "pods"  # what the "pods" wrote locally: only acks and the monitor file
    run = RunLayout(tmp_path / "run").make()
    monitor_file = pod_dir / "group.jsonl"
    with processes() as procs:
        monitor = Proc(
            ["-m", "workloads.monitor", "--bootstrap-servers", b, "--group", topic_name]
            + [
                "--topic",
                topic_name,
                "--out",
                str(monitor_file),
                "--evidence-topic",
                evidence_topic,
            ],
            tmp_path / "logs" / "monitor.log",
        )
        procs.append(monitor)
        topic_only = ["--evidence-topic", evidence_topic]
        c1 = consumer(
            procs, tmp_path, b, topic_name, topic_name, "c1", *topic_only, file_evidence=False
        )
        c2 = consumer(
            procs, tmp_path, b, topic_name, topic_name, "c2", *topic_only, file_evidence=False
        )

        def stable_with_two() -> bool:
            if not monitor_file.exists():
                return False
            groups = list(read_jsonl(monitor_file, FILE_TYPES["group"]))
            return any(g["state"] == "Stable" and len(g["members"]) == 2 for g in groups)

        wait_for(stable_with_two, 45, "the monitor to see a stable group of two")
        produce(b, topic_name, 400, pod_dir)
        wait_for(lambda: caught_up(b, topic_name, topic_name), 45, "the group to catch up")
        for c in (c1, c2):
            c.signal(signal.SIGTERM)
        assert c1.wait(20) == 0 and c2.wait(20) == 0
        wait_for(
            lambda: '"members":{}' in monitor_file.read_text(),
            10,
            "the monitor to see the group empty",
        )
        monitor.signal(signal.SIGTERM)
        assert monitor.wait(15) == 0, monitor.output()[-2000:]

    result = collect(b, evidence_topic, run.root, timeout_s=30)
    assert result["finished"], result
    assert result["skipped"] == 0
    ev = consumed(run.evidence)
    assert sorted(m.rsplit("-", 1)[0] for m in ev) == ["c1", "c2"]
    for records in ev.values():
        assert [r["type"] for r in records][0] == "start"
        assert records[-1]["type"] == "stop" and records[-1]["reason"] == "sigterm"
    ok = {(a["producer"], a["key"], a["seq"]) for a in acked(pod_dir) if a["status"] == "ok"}
    assert len(ok) == 400 and ok <= processed_ids(ev)

    # The collected group.jsonl is the monitor's own file, record for record. Its
    # members are keyed by member id; their client ids are the consumers' evidence
    # identities, and each consumer's assigned lines name its member id.
    collected = list(read_jsonl(run.group, FILE_TYPES["group"]))
    assert collected == list(read_jsonl(monitor_file, FILE_TYPES["group"]))
    stable = [g for g in collected if g["state"] == "Stable" and len(g["members"]) == 2]
    assert stable
    info = stable[-1]["member_info"]
    assert {i["client_id"] for i in info.values()} == set(ev)
    for member_id, i in info.items():
        assigned = [r for r in ev[i["client_id"]] if r["type"] == "assigned"]
        assert assigned and assigned[-1]["member_id"] == member_id
        assert assigned[-1]["client_id"] == i["client_id"]
    assert {p for parts in stable[-1]["members"].values() for p in parts} == {0, 1, 2, 3}
    last_owned = {m: owned(records) for m, records in ev.items()}
    assert all(last_owned[m] == set() for m in ev)  # every member revoked everything on close
    final = collected[-1]
    assert final["partitions"] == 4 and final["committed"] == final["end_offsets"]
    assert sum(final["end_offsets"].values()) == 400

    drained = drain_log(b, topic_name, run.log, timeout_s=30)
    assert drained["finished"] and drained["records"] == 400, drained
    assert drained["end_offsets"] == final["end_offsets"]
    log = list(read_jsonl(run.log, FILE_TYPES["log"]))
    assert {(r["producer"], r["key"], r["seq"]) for r in log} == ok
    assert all(r["sha_ok"] for r in log)


def test_drain_and_collect_commands_exit_2_when_they_cannot_finish(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    b = kafka.bootstrap_servers
    for args in (
        [
            "-m",
            "workloads.drain",
            "--topic",
            f"{topic_name}-missing",
            "--out",
            str(tmp_path / "log.jsonl"),
        ],
        [
            "-m",
            "workloads.collect",
            "--evidence-topic",
            f"{topic_name}-missing",
            "--run-dir",
            str(tmp_path),
        ],
    ):
        proc = subprocess.run(
            [sys.executable, *args, "--bootstrap-servers", b, "--timeout", "10"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        result = json.loads(proc.stdout)
        assert result["finished"] is False and "does not exist" in result["detail"]
