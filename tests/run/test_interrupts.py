"""Ctrl-C at every stage of `riverbed run`: everything the run started stops, the evidence
is kept, the run is marked interrupted, and the exit code is 2 (never 1, never a traceback)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from riverbed.kafka.cluster import free_base_port
from tests.run.test_run_local import KILL_HARD, ROOT, riverbed_env

pytestmark = pytest.mark.integration


def interrupt_at(
    args: list[str],
    env: dict[str, str],
    trigger: str,
    delay_s: float = 0.5,
    timeout: float = 240,
    ready: Callable[[], bool] | None = None,
) -> tuple[int, str]:
    """Run `riverbed run ARGS`, send SIGINT (what Ctrl-C sends) once a line containing
    ``trigger`` appears (and ``ready()`` holds), and return the exit code and the output."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "riverbed.cli", "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if trigger in line:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(timeout), f"never reached {trigger!r}:\n{''.join(lines)}"
        deadline = time.monotonic() + 60
        while ready is not None and not ready() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(delay_s)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    return proc.returncode, "".join(lines)


def leftovers(*needles: Path) -> list[str]:
    """Processes whose command line names one of ``needles`` (a run's or a state directory)."""
    found = []
    for needle in needles:
        r = subprocess.run(["pgrep", "-af", str(needle)], capture_output=True, text=True)
        found += [line for line in r.stdout.splitlines() if "pgrep" not in line]
    return found


def assert_interrupted_cleanly(code: int, output: str, tmp_path: Path) -> Path:
    assert code == 2, output
    assert "interrupted" in output, output
    assert "Traceback" not in output, output
    (run_dir,) = list((tmp_path / "runs").iterdir())
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["interrupted"] is True
    assert spec["t_end"] is not None
    time.sleep(1)
    assert leftovers(run_dir, tmp_path) == []
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "inconclusive"
    return run_dir


def test_interrupt_while_kafka_starts_stops_the_brokers_it_started(tmp_path):
    env = riverbed_env_fresh(tmp_path)
    code, output = interrupt_at(
        ["--no-faults", "--duration", "30s"], env, "waiting for brokers to answer", delay_s=0.2
    )
    assert_interrupted_cleanly(code, output, tmp_path)
    # The half-started cluster is gone: no broker of its state directory is left.
    assert leftovers(tmp_path / "kafka") == []


def riverbed_env_fresh(tmp_path: Path) -> dict[str, str]:
    """A run that must start its own Kafka cluster (fresh state directory and ports)."""
    import os

    return {
        **os.environ,
        "RIVERBED_KAFKA_STATE_DIR": str(tmp_path / "kafka"),
        "RIVERBED_KAFKA_BASE_PORT": str(free_base_port(3)),
        "RIVERBED_LOCAL_STATE_DIR": str(tmp_path / "local"),
        "RIVERBED_RUNS_DIR": str(tmp_path / "runs"),
    }


def test_interrupt_while_the_group_forms_stops_the_consumers(kafka, tmp_path):
    env = riverbed_env(kafka, tmp_path)
    code, output = interrupt_at(
        ["--no-faults", "--duration", "30s"],
        env,
        "to form a stable group",
        ready=lambda: bool(list((tmp_path / "runs").glob("*/logs/consumer-*.log"))),
    )
    run_dir = assert_interrupted_cleanly(code, output, tmp_path)
    assert list((run_dir / "logs").glob("consumer-*.log"))


@pytest.mark.slow
def test_interrupt_during_warm_up_stops_locust_and_keeps_its_evidence(kafka, tmp_path):
    env = riverbed_env(kafka, tmp_path)
    code, output = interrupt_at(
        ["--no-faults", "--duration", "40s", "--warmup", "15s"], env, "warm-up:", delay_s=4
    )
    run_dir = assert_interrupted_cleanly(code, output, tmp_path)
    acks = list((run_dir / "evidence" / "acks").glob("*.jsonl"))
    assert sum(len(a.read_text().splitlines()) for a in acks) > 0


@pytest.mark.slow
def test_interrupt_during_chaos_plays_the_rollbacks_and_stops_everything(kafka, tmp_path):
    env = riverbed_env(kafka, tmp_path)
    code, output = interrupt_at(
        ["--duration", "60s", "--warmup", "5s", "--experiment", KILL_HARD],
        env,
        "chaos run",
        delay_s=1.5,
    )
    run_dir = assert_interrupted_cleanly(code, output, tmp_path)
    assert list((run_dir / "chaos").glob("*.log"))


def test_interrupt_during_the_drain_stops_everything(kafka, tmp_path):
    env = riverbed_env(kafka, tmp_path)
    # Consumers slower than the load, so a backlog is left to drain after it.
    code, output = interrupt_at(
        [
            "--no-faults",
            "--duration",
            "16s",
            "--warmup",
            "3s",
            "--cooldown",
            "3s",
            "--users",
            "5",
            "--processing-ms",
            "100",
            "--drain-deadline",
            "120s",
        ],  # fmt: skip
        env,
        "draining: lag",
        delay_s=1,
    )
    run_dir = assert_interrupted_cleanly(code, output, tmp_path)
    assert (run_dir / "locust" / "report.html").exists()
