"""The evidence shipper (a consumer pod's sidecar) against a real Kafka cluster: every line
written to the evidence files lands in the evidence topic, and ``workloads.collect``
rebuilds the same files — across a writer killed mid-line and the shipper itself killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from riverbed.kafka.cluster import LocalKafkaCluster
from riverbed.platforms.kube.instrument import collected_gaps
from workloads.collect import collect

ROOT = Path(__file__).resolve().parents[2]

# A writer as the instrumentation layers write: one file per process, one os.write per
# line, each line handed to the OS before the next. It writes each line in two halves
# with a pause between, so a SIGKILL can land mid-line, as in a real crash.
WRITER = r"""
import json, os, sys, time
path, member, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(os.path.dirname(path), exist_ok=True)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
for i in range(n):
    rec = {"v": 1, "type": "processed", "member": member, "partition": i % 3,
           "records": [[i, "w0", "k%d" % i, i]], "t": time.time()}
    data = (json.dumps(rec, separators=(",", ":")) + "\n").encode()
    os.write(fd, data[:10])
    time.sleep(0.002)
    os.write(fd, data[10:])
    print(i, flush=True)
"""


def _shipper(
    kafka: LocalKafkaCluster, topic: str, evidence: Path, state: Path
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workloads.evidence.shipper",
            "--bootstrap-servers",
            kafka.bootstrap_servers,
            "--evidence-topic",
            topic,
            "--evidence-dir",
            str(evidence),
            "--state-dir",
            str(state),
        ],  # fmt: skip
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=subprocess.PIPE,
    )


def _writer(evidence: Path, member: str, n: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            WRITER,
            str(evidence / "consumed" / f"{member}.jsonl"),
            member,
            str(n),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def _complete_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].splitlines()


def test_every_line_lands_across_a_writer_killed_mid_line_and_collect_rebuilds_the_files(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    topic = f"{topic_name}-evidence"
    kafka.create_topic(topic, partitions=3)
    evidence, state, run = (
        tmp_path / "pod" / "evidence",
        tmp_path / "pod" / "state",
        tmp_path / "run",
    )
    shipper = _shipper(kafka, topic, evidence, state)
    try:
        # Incarnation 1 of the pod's consumer, SIGKILLed after ~200 lines, mid-stream.
        first = _writer(evidence, "consumer-abc-101", 100_000)
        assert first.stdout is not None
        for _ in range(200):
            first.stdout.readline()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        # Its successor in the same pod: a new process, a new file.
        second = _writer(evidence, "consumer-abc-202", 300)
        assert second.wait(60) == 0
        time.sleep(0.5)
        # A graceful pod deletion: the shipper is stopped after the consumer, and ships
        # everything left before it exits.
        shipper.send_signal(signal.SIGTERM)
        _, err = shipper.communicate(timeout=60)
    finally:
        if shipper.poll() is None:
            shipper.kill()
    killed = evidence / "consumed" / "consumer-abc-101.jsonl"
    # Half a line left by the killed writer is no reader's line: not shipped, no failure.
    assert shipper.returncode == 0, err.decode()

    result = collect(kafka.bootstrap_servers, topic, run, timeout_s=60)
    assert result["finished"], result
    for member in ("consumer-abc-101", "consumer-abc-202"):
        written = _complete_lines(evidence / "consumed" / f"{member}.jsonl")
        rebuilt = (run / "evidence" / "consumed" / f"{member}.jsonl").read_bytes().splitlines()
        assert rebuilt == written, member
    assert len(_complete_lines(killed)) >= 200
    assert result["records"] == len(_complete_lines(killed)) + 300
    # The sidecar's receipt (skipped by the collector) confirms every line: no gap.
    assert result["skipped"] == 1
    assert collected_gaps(kafka.bootstrap_servers, topic, result) == []


def test_a_restarted_shipper_resumes_where_the_brokers_acknowledged(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    """The shipper SIGKILLed (and restarted, as Kubernetes restarts a sidecar) loses no line;
    a batch acknowledged just before the kill may come twice, never one left out."""
    topic = f"{topic_name}-evidence"
    kafka.create_topic(topic, partitions=3)
    evidence, state, run = (
        tmp_path / "pod" / "evidence",
        tmp_path / "pod" / "state",
        tmp_path / "run",
    )
    writer = _writer(evidence, "consumer-xyz-7", 3000)
    shipper = _shipper(kafka, topic, evidence, state)
    try:
        # Killed once it has shipped something, while the writer still writes.
        deadline = time.monotonic() + 60
        while not (state / "shipped.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        shipper.send_signal(signal.SIGKILL)
        shipper.wait(10)
        assert (state / "shipped.json").exists()
        assert writer.wait(120) == 0
        shipper = _shipper(kafka, topic, evidence, state)
        time.sleep(1.0)
        shipper.send_signal(signal.SIGTERM)
        _, err = shipper.communicate(timeout=60)
        assert shipper.returncode == 0, err.decode()
    finally:
        for proc in (shipper, writer):
            if proc.poll() is None:
                proc.kill()
    result = collect(kafka.bootstrap_servers, topic, run, timeout_s=60)
    assert collected_gaps(kafka.bootstrap_servers, topic, result) == []
    written = _complete_lines(evidence / "consumed" / "consumer-xyz-7.jsonl")
    rebuilt = (run / "evidence" / "consumed" / "consumer-xyz-7.jsonl").read_bytes().splitlines()
    assert len(written) == 3000
    # Every line, in order, first occurrences; any repeat is a re-shipped batch.
    seen = list(dict.fromkeys(rebuilt))
    assert seen == written
    assert [json.loads(x)["records"][0][0] for x in seen] == list(range(3000))


def test_nothing_written_ships_nothing_and_exits_0(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    topic = f"{topic_name}-evidence"
    kafka.create_topic(topic, partitions=1)
    shipper = _shipper(kafka, topic, tmp_path / "evidence", tmp_path / "state")
    time.sleep(1.0)
    shipper.send_signal(signal.SIGTERM)
    _, err = shipper.communicate(timeout=60)
    assert shipper.returncode == 0, err.decode()
    assert collect(kafka.bootstrap_servers, topic, tmp_path / "run", timeout_s=30)["records"] == 0


def test_a_shipper_killed_before_it_finished_leaves_a_gap_riverbed_sees(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    """A sidecar SIGKILLed for good (a pod force-deleted) sends no receipt: whatever it had
    shipped, riverbed cannot know it is everything, and says so."""
    topic = f"{topic_name}-evidence"
    kafka.create_topic(topic, partitions=3)
    evidence, state = tmp_path / "pod" / "evidence", tmp_path / "pod" / "state"
    writer = _writer(evidence, "consumer-q-9", 300)
    assert writer.wait(60) == 0
    shipper = _shipper(kafka, topic, evidence, state)
    try:
        deadline = time.monotonic() + 60
        while not (state / "shipped.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        shipper.send_signal(signal.SIGKILL)
        shipper.wait(10)
    finally:
        if shipper.poll() is None:
            shipper.kill()
    result = collect(kafka.bootstrap_servers, topic, tmp_path / "run", timeout_s=60)
    (gap,) = collected_gaps(kafka.bootstrap_servers, topic, result)
    assert gap.startswith("consumer-q-9: its pod's evidence sidecar never confirmed"), gap
