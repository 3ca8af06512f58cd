"""Helpers for the Locust tests: run real Locust headless, drain the topic, read evidence."""

from __future__ import annotations

import csv
import importlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from workloads.evidence.reader import ReadIssue, read_jsonl
from workloads.evidence.schema import FILE_TYPES, RunLayout
from workloads.message import decode

ROOT = Path(__file__).resolve().parents[2]
KAFKA_LOCUSTFILE = "locustfiles/kafka_producer.py"
HTTP_LOCUSTFILE = "locustfiles/http_producer.py"


def import_without_monkey_patch(name: str) -> ModuleType:
    """Import a module that imports ``locust`` without gevent-patching the test process.

    ``locust`` patches the standard library on import unless
    LOCUST_SKIP_MONKEY_PATCH is set; the variable is restored at once so the
    Locust subprocesses of other tests are patched as usual.
    """
    previous = os.environ.get("LOCUST_SKIP_MONKEY_PATCH")
    os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
    try:
        return importlib.import_module(name)
    finally:
        if previous is None:
            del os.environ["LOCUST_SKIP_MONKEY_PATCH"]
        else:
            os.environ["LOCUST_SKIP_MONKEY_PATCH"] = previous


def clean_env(**extra: str) -> dict[str, str]:
    """The test environment without riverbed/Kafka/Locust settings that would leak in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RIVERBED_", "LOCUST_")) and k not in ("KAFKA_BROKER", "KAFKA_TOPIC")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def locust_cmd(locustfile: str, run_dir: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        locustfile,
        "--headless",
        "--only-summary",
        "--run-dir",
        str(run_dir),
        *args,
    ]


def run_locust(
    locustfile: str,
    run_dir: Path,
    *args: str,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run Locust to completion; its output is kept in ``<run-dir>/logs/locust.log``."""
    proc = subprocess.run(
        locust_cmd(locustfile, run_dir, *args),
        cwd=ROOT,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    log = RunLayout(run_dir).logs_dir / "locust.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(proc.stdout + proc.stderr)
    return proc


@contextmanager
def locust_process(
    locustfile: str, run_dir: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    """A running Locust; killed (SIGKILL) on exit if the test did not end it."""
    log = RunLayout(run_dir).logs_dir / "locust.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(
            locust_cmd(locustfile, run_dir, *args),
            cwd=ROOT,
            env=env or clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def output_of(run_dir: Path) -> str:
    return (RunLayout(run_dir).logs_dir / "locust.log").read_text()


def read_acks(run_dir: Path) -> tuple[list[dict[str, Any]], list[ReadIssue]]:
    """Every send record of the run and the reader's issues (expected: none)."""
    issues: list[ReadIssue] = []
    records: list[dict[str, Any]] = []
    for path in RunLayout(run_dir).acks_files():
        records.extend(read_jsonl(path, FILE_TYPES["acks"], issues))
    return records, issues


def locust_stats(run_dir: Path, name: str) -> dict[str, str]:
    """The row of Locust's CSV stats for request ``name``."""
    with (RunLayout(run_dir).locust_dir / "locust_stats.csv").open() as fh:
        for row in csv.DictReader(fh):
            if row["Name"] == name:
                return row
    raise AssertionError(f"no row named {name!r} in Locust's stats")


def drain(
    bootstrap: str, topic: str, timeout: float = 60.0
) -> dict[tuple[str, str, int], tuple[int, int]]:
    """Every record of ``topic`` up to the high watermarks: (producer, key, seq) -> (partition, offset).

    A message found at two offsets fails the test (a duplicate is not expected here).
    """
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        end = consumer.end_offsets(parts)
        consumer.seek_to_beginning(*parts)
        found: dict[tuple[str, str, int], tuple[int, int]] = {}
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in parts):
            assert time.monotonic() < deadline, "the drain did not reach the high watermarks"
            for tp, batch in consumer.poll(timeout_ms=500).items():
                for r in batch:
                    m = decode(r.value)
                    ident = (m.producer, m.key, m.seq)
                    assert ident not in found, f"{ident} at two offsets"
                    found[ident] = (tp.partition, r.offset)
        return found
    finally:
        consumer.close()
