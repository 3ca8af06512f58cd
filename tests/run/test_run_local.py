"""`riverbed run` on the local platform, end to end: real Kafka, Locust, chaos and report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from riverbed.kafka.cluster import LocalKafkaCluster
from riverbed.processes import alive as _alive

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KILL_HARD = str(ROOT / "experiments/local/kill-consumer-hard.json")

# Busy consumers (each a third over capacity), so that a kill always lands
# mid-batch: the one moment the unsafe commit mode loses records.
SCENARIO = [
    "--duration", "30s", "--warmup", "8s", "--cooldown", "5s",
    "--users", "5", "--spawn-rate", "5", "--key-space", "1000",
    "--processing-ms", "80", "--drain-deadline", "90s",
]  # fmt: skip


def riverbed_env(kafka: LocalKafkaCluster, tmp_path: Path) -> dict[str, str]:
    """Point `riverbed run` at the session's cluster and keep its state in tmp_path."""
    return {
        **os.environ,
        "RIVERBED_KAFKA_STATE_DIR": str(kafka.state_dir),
        "RIVERBED_KAFKA_BASE_PORT": str(kafka.base_port),
        "RIVERBED_LOCAL_STATE_DIR": str(tmp_path / "local"),
        "RIVERBED_RUNS_DIR": str(tmp_path / "runs"),
    }


def riverbed(args: list[str], env: dict[str, str], timeout: float = 300):
    return subprocess.run(
        [sys.executable, "-m", "riverbed.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=ROOT,
    )


def run_dir_of(tmp_path: Path) -> Path:
    (run,) = list((tmp_path / "runs").iterdir())
    return run


def workload_pids(local_state: Path) -> list[int]:
    replicas = json.loads((local_state / "replicas.json").read_text())
    pids = [int(r["pid"]) for r in replicas["replicas"].values()]
    if replicas.get("monitor"):
        pids.append(int(replicas["monitor"]["pid"]))
    return pids


def started_pids(local_state: Path) -> list[int]:
    """Every workload process the supervisor ever started (from its event log)."""
    events = [json.loads(line) for line in (local_state / "events.jsonl").read_text().splitlines()]
    return [e["pid"] for e in events if e["event"] in ("start", "supervisor-start")]


def test_after_process_under_a_hard_kill_passes(kafka, tmp_path):
    env = riverbed_env(kafka, tmp_path)
    r = riverbed(["run", "--experiment", KILL_HARD, *SCENARIO], env)
    run_dir = run_dir_of(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "pass"
    assert summary["counts"]["acknowledged"] > 500
    assert summary["counts"]["never-processed"] == 0
    assert summary["checks"]["vacuity"]["status"] == "pass"
    assert "verdict: PASS" in r.stdout and str(run_dir / "report.html") in r.stdout

    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["drain"]["finished"] and spec["log_drain"]["finished"]
    (chaos,) = spec["chaos"]
    assert chaos["landed"] and not chaos["inconclusive_reasons"]
    assert (run_dir / "chaos" / "kill-consumer-hard.journal.json").exists()
    faults = [json.loads(x) for x in (run_dir / "evidence/faults.jsonl").read_text().splitlines()]
    (kill,) = [f for f in faults if f["activity"] == "kill-one-consumer"]
    (killed,) = kill["output"]
    # The killed replica came back as a new incarnation, with its own log.
    assert (run_dir / "logs" / f"{killed}.2.log").exists()
    assert len(list((run_dir / "evidence/consumed").glob(f"{killed}-*.jsonl"))) == 2
    # Teardown left no workload process behind.
    assert not any(_alive(p) for p in started_pids(tmp_path / "local"))
    assert (run_dir / "locust" / "report.html").exists()


def test_before_process_under_the_same_kill_fails_with_never_processed(kafka, tmp_path):
    env = riverbed_env(kafka, tmp_path)
    r = riverbed(
        ["run", "--experiment", KILL_HARD, "--commit-mode", "before-process", *SCENARIO], env
    )
    run_dir = run_dir_of(tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "fail"
    never = summary["checks"]["never-processed"]
    assert never["status"] == "fail" and never["examples"]
    assert summary["counts"]["never-processed"] > 0
    # The skipped records sit on the partitions the killed member owned: it had
    # committed them before processing and died mid-batch.
    faults = [json.loads(x) for x in (run_dir / "evidence/faults.jsonl").read_text().splitlines()]
    (killed,) = next(f for f in faults if f["activity"] == "kill-one-consumer")["output"]
    first = min(
        (run_dir / "evidence/consumed").glob(f"{killed}-*.jsonl"),
        key=lambda p: json.loads(p.read_text().splitlines()[0])["t"],
    )
    events = [json.loads(x) for x in first.read_text().splitlines() if x.strip()]
    owned = {p for e in events if e["type"] == "assigned" for p in e["partitions"]}
    assert not any(e["type"] == "stop" for e in events)  # it died hard
    assert {e["partition"] for e in never["examples"]} <= owned
    assert summary["checks"]["lost-from-log"]["status"] == "pass"


def test_ctrl_c_stops_everything_keeps_evidence_and_reports_inconclusive(kafka, tmp_path):
    env = riverbed_env(kafka, tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "riverbed.cli", "run", "--no-faults", "--duration", "120s"]
        + ["--users", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 90
        acks: list[Path] = []
        while time.monotonic() < deadline and not acks:
            runs = list((tmp_path / "runs").glob("*/evidence/acks/*.jsonl"))
            acks = [a for a in runs if a.stat().st_size > 0]
            time.sleep(0.5)
        assert acks, "the load never started"
        time.sleep(2)
        pids = workload_pids(tmp_path / "local")
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    run_dir = run_dir_of(tmp_path)
    assert proc.returncode == 2, output
    assert "interrupted" in output
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["interrupted"] is True
    # Evidence so far is kept.
    assert sum(len(a.read_text().splitlines()) for a in acks) > 0
    assert list((run_dir / "evidence/consumed").glob("*.jsonl"))
    # No process of the run is left: consumers, monitor, supervisor, Locust.
    time.sleep(1)
    assert not any(_alive(p) for p in pids + started_pids(tmp_path / "local"))
    leftovers = subprocess.run(["pgrep", "-f", str(run_dir)], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
    # The report, rendered on demand, says inconclusive.
    r = riverbed(["report", str(run_dir)], env)
    assert r.returncode == 2, r.stdout + r.stderr
    assert json.loads((run_dir / "summary.json").read_text())["verdict"] == "inconclusive"


def test_up_status_down_session_leaves_a_reportable_run_directory(kafka, tmp_path):
    env = riverbed_env(kafka, tmp_path)
    r = riverbed(["up", "--consumers", "2", "--partitions", "2"], env, timeout=180)
    assert r.returncode == 0, r.stderr
    run_dir = run_dir_of(tmp_path)
    assert f"evidence in {run_dir}" in r.stderr
    status = riverbed(["status"], env)
    assert status.returncode == 0
    assert "consumer-1" in status.stdout and "consumer-2" in status.stdout
    assert "riverbed-events-" in status.stdout  # a fresh topic per session
    pids = started_pids(tmp_path / "local")

    # --keep-kafka: the session cluster is shared with other tests.
    r = riverbed(["down", "--keep-kafka"], env, timeout=180)
    assert r.returncode == 0, r.stderr
    assert not any(_alive(p) for p in pids)
    assert kafka.running() == kafka.broker_ids
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["drain"]["finished"] and spec["log_drain"]["finished"]
    assert (run_dir / "evidence" / "group.jsonl").stat().st_size > 0
    # No load and no fault: the report refuses to call it a pass.
    r = riverbed(["report", str(run_dir)], env)
    assert r.returncode == 2
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "inconclusive"
    assert summary["checks"]["vacuity"]["status"] == "inconclusive"
