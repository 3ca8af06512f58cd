"""The Kafka producer user under real Locust against the real cluster.

Every Locust run here is short (a few seconds) and bounded by -t, a shape or a
signal; each test drains its topic and compares it with the acks evidence.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from riverbed.kafka.cluster import LocalKafkaCluster
from tests.locust.conftest import (
    KAFKA_LOCUSTFILE,
    drain,
    locust_process,
    locust_stats,
    output_of,
    read_acks,
    run_locust,
)

pytestmark = pytest.mark.integration


def kafka_args(kafka: LocalKafkaCluster, topic: str, *extra: str) -> list[str]:
    return ["--kafka-bootstrap", kafka.bootstrap_servers, "--kafka-topic", topic, *extra]


def assert_acked_sends_are_in_the_log(records: list[dict], log: dict) -> None:
    """Every ok send is in the drained log at the partition/offset it was acknowledged with."""
    ok = [r for r in records if r["status"] == "ok"]
    assert ok, "no acknowledged send: the run proves nothing"
    missing = [r for r in ok if (r["producer"], r["key"], r["seq"]) not in log]
    assert missing == [], (
        f"{len(missing)} acknowledged sends are not in the topic, e.g. {missing[:3]}"
    )
    moved = [
        r for r in ok if log[(r["producer"], r["key"], r["seq"])] != (r["partition"], r["offset"])
    ]
    assert moved == [], f"acknowledged at another partition/offset than in the log: {moved[:3]}"


def assert_seqs_are_contiguous(records: list[dict]) -> None:
    """Per (producer, key) the seqs are 0..n-1: every send attempt has exactly one record."""
    by_key: dict[tuple[str, str], list[int]] = {}
    for r in records:
        by_key.setdefault((r["producer"], r["key"]), []).append(r["seq"])
    for ident, seqs in by_key.items():
        assert sorted(seqs) == list(range(len(seqs))), f"{ident}: seqs {sorted(seqs)[:20]}…"


@pytest.mark.parametrize("driver", ["kafka-python", "confluent"])
def test_bounded_run_every_ack_is_in_the_topic_and_counts_match_locust(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path, driver: str
):
    kafka.create_topic(topic_name, partitions=3, replication_factor=3, min_insync_replicas=2)
    run_dir = tmp_path / "run"
    proc = run_locust(
        KAFKA_LOCUSTFILE,
        run_dir,
        *kafka_args(kafka, topic_name, "--kafka-driver", driver, "--key-space", "20"),
        "-u",
        "4",
        "-r",
        "4",
        "-t",
        "4s",
        "--user-rate",
        "25",
    )
    assert proc.returncode == 0, output_of(run_dir)[-3000:]

    records, issues = read_acks(run_dir)
    assert issues == []
    assert {r["status"] for r in records} == {"ok"}
    assert len({r["producer"] for r in records}) == 1
    assert {r["key"] for r in records} <= {f"k{i}" for i in range(20)}
    assert_seqs_are_contiguous(records)
    assert_acked_sends_are_in_the_log(records, drain(kafka.bootstrap_servers, topic_name))

    stats = locust_stats(run_dir, topic_name)
    assert stats["Type"] == "PRODUCE"
    assert int(stats["Request Count"]) == len(records)
    assert int(stats["Failure Count"]) == sum(r["status"] != "ok" for r in records)
    # 4 users x 25/s x ~4 s: the pacing holds (loose bounds: a shared, noisy machine)
    assert 50 <= len(records) <= 500
    assert (run_dir / "locust" / "report.html").stat().st_size > 0


def test_two_processes_write_two_files_with_distinct_producer_ids(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
):
    kafka.create_topic(topic_name, partitions=3, replication_factor=3, min_insync_replicas=2)
    run_dir = tmp_path / "run"
    proc = run_locust(
        KAFKA_LOCUSTFILE,
        run_dir,
        *kafka_args(kafka, topic_name),
        "--processes",
        "2",
        "-u",
        "4",
        "-r",
        "4",
        # Long enough for both worker processes to start sending on a busy machine
        # (their start-up can take several seconds there).
        "-t",
        "12s",
        "--user-rate",
        "20",
    )
    assert proc.returncode == 0, output_of(run_dir)[-3000:]

    files = sorted((run_dir / "evidence" / "acks").glob("*.jsonl"))
    assert len(files) == 2
    records, issues = read_acks(run_dir)
    assert issues == []
    per_file = {
        f.stem: {json.loads(line)["producer"] for line in f.read_text().splitlines()} for f in files
    }
    assert all(producers == {stem} for stem, producers in per_file.items())  # file = producer id
    assert len(per_file) == 2 and all(Counter(r["producer"] for r in records).values())
    assert_seqs_are_contiguous(records)
    assert_acked_sends_are_in_the_log(records, drain(kafka.bootstrap_servers, topic_name))
    # The master waited for both workers' final outcomes before writing its stats.
    assert int(locust_stats(run_dir, topic_name)["Request Count"]) == len(records)


def test_sigterm_mid_run_loses_nothing_that_was_acknowledged(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
):
    kafka.create_topic(topic_name, partitions=3, replication_factor=3, min_insync_replicas=2)
    run_dir = tmp_path / "run"
    acks_dir = run_dir / "evidence" / "acks"
    # Unthrottled users keep hundreds of sends in flight when the signal lands.
    args = [*kafka_args(kafka, topic_name), "-u", "4", "-r", "4", "-t", "60s", "--user-rate", "0"]
    with locust_process(KAFKA_LOCUSTFILE, run_dir, *args) as proc:
        # Generous: Locust's start-up alone can take many seconds on a busy machine.
        deadline = time.monotonic() + 90
        while sum(f.stat().st_size for f in acks_dir.glob("*.jsonl")) < 50_000:
            assert proc.poll() is None, output_of(run_dir)[-3000:]
            assert time.monotonic() < deadline, "no acknowledged sends within 90 s"
            time.sleep(0.2)
        t_signal = time.time()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0, output_of(run_dir)[-3000:]
    assert "Got SIGTERM signal" in output_of(run_dir)

    records, issues = read_acks(run_dir)
    assert issues == []  # closed cleanly: no cut line
    assert_seqs_are_contiguous(records)
    log = drain(kafka.bootstrap_servers, topic_name)
    assert_acked_sends_are_in_the_log(records, log)
    before = [r for r in records if r["t_ack"] < t_signal]
    assert before and all(r["status"] == "ok" for r in before)
    # Everything the broker holds from this producer is in the evidence: no send,
    # acknowledged before or after the signal, went unrecorded.
    recorded = {(r["producer"], r["key"], r["seq"]) for r in records}
    assert set(log) <= recorded
    assert int(locust_stats(run_dir, topic_name)["Request Count"]) == len(records)
    assert (
        run_dir / "locust" / "report.html"
    ).exists()  # written although Locust skips it on SIGTERM


def test_chaos_window_shape_stops_by_itself_and_describes_its_phases(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
):
    kafka.create_topic(topic_name, partitions=2, replication_factor=3, min_insync_replicas=2)
    run_dir = tmp_path / "run"
    t0 = time.time()
    proc = run_locust(
        KAFKA_LOCUSTFILE,
        run_dir,
        *kafka_args(kafka, topic_name),
        "--shape",
        "chaos-window",
        "--warmup-s",
        "1",
        "--duration-s",
        "2",
        "--cooldown-s",
        "1",
        "-u",
        "2",
        "-r",
        "2",
        "--user-rate",
        "10",
        timeout=45,
    )
    assert proc.returncode == 0, output_of(run_dir)[-3000:]
    assert "Shape test completed" in proc.stderr + proc.stdout
    shape = json.loads((run_dir / "locust" / "shape.json").read_text())
    assert shape["shape"] == "chaos-window"
    assert [p["name"] for p in shape["phases"]] == ["warm-up", "steady", "cool-down"]
    assert t0 <= shape["t_start"] <= shape["phases"][1]["t_start"] == shape["t_start"] + 1
    records, _ = read_acks(run_dir)
    assert records and max(r["t_send"] for r in records) <= shape["phases"][2]["t_end"] + 1.5
    assert_acked_sends_are_in_the_log(records, drain(kafka.bootstrap_servers, topic_name))


def test_missing_topic_exits_2_with_a_fix(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
):
    run_dir = tmp_path / "run"
    proc = run_locust(
        KAFKA_LOCUSTFILE,
        run_dir,
        *kafka_args(kafka, topic_name, "--kafka-driver", "confluent"),
        "-u",
        "1",
        "-t",
        "20s",
        timeout=40,
    )
    out = output_of(run_dir)
    assert proc.returncode == 2, out[-3000:]
    assert f"Topic {topic_name!r} does not exist" in out and "fix: create it first" in out


def test_unreachable_cluster_exits_2_naming_the_servers(tmp_path: Path):
    run_dir = tmp_path / "run"
    proc = run_locust(
        KAFKA_LOCUSTFILE,
        run_dir,
        "--kafka-bootstrap",
        "127.0.0.1:1",
        # A pass-through client setting: fail fast instead of kafka-python's default wait.
        "--kafka-config",
        "bootstrap_timeout_ms=2000",
        "-u",
        "1",
        "-t",
        "20s",
        timeout=40,
    )
    out = output_of(run_dir)
    assert proc.returncode == 2, out[-3000:]
    assert "Kafka at 127.0.0.1:1 did not answer" in out and "fix:" in out
    assert not list(run_dir.glob("evidence/acks/*")), "a producer that never sent leaves no file"


def test_bad_option_from_environment_exits_2(tmp_path: Path):
    from tests.locust.conftest import clean_env

    run_dir = tmp_path / "run"
    proc = run_locust(
        KAFKA_LOCUSTFILE, run_dir, "-u", "1", "-t", "1s", env=clean_env(RIVERBED_KEY_SPACE="0")
    )
    assert proc.returncode == 2
    assert "$RIVERBED_KEY_SPACE" in proc.stderr
    assert not (run_dir / "evidence").exists()
    assert os.environ.get("RIVERBED_KEY_SPACE") is None
