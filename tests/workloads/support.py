"""Helpers for the workload tests: real processes, real evidence files."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from workloads.cli_support import StopSignal
from workloads.evidence.reader import ReadIssue, read_jsonl
from workloads.evidence.schema import FILE_TYPES
from workloads.evidence.sinks import FileSink
from workloads.producer.loop import LoopSettings, run_loop

ROOT = Path(__file__).resolve().parents[2]


def wait_for(
    predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A workload process started with ``python -m``; its output goes to a log file."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            )

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit: never leave a process behind."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def processes() -> Iterator[list[Proc]]:
    """A list to put started processes in; every one is stopped at the end."""
    procs: list[Proc] = []
    try:
        yield procs
    finally:
        for p in procs:
            p.stop()


def consumer(
    procs: list[Proc],
    tmp: Path,
    bootstrap: str,
    topic: str,
    group: str,
    replica: str,
    *extra: str,
    evidence_dir: Path | None = None,
    file_evidence: bool = True,
) -> Proc:
    """Start ``python -m workloads.consumer``, with file evidence under ``tmp/evidence`` by default."""
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
        "--session-timeout-ms",
        "6000",
        *extra,
    ]
    if file_evidence:
        args += ["--evidence-dir", str(evidence_dir or tmp / "evidence")]
    p = Proc(args, tmp / "logs" / f"{replica}.{len(procs)}.log")
    procs.append(p)
    return p


def consumed(evidence_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every consumer's evidence, by member (tolerating a cut last line)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((evidence_dir / "consumed").glob("*.jsonl")):
        issues: list[ReadIssue] = []
        out[path.stem] = list(read_jsonl(path, FILE_TYPES["consumed"], issues))
    return out


def member_of(evidence_dir: Path, replica: str) -> str | None:
    """The member id of ``replica``'s (single) incarnation, once its file exists."""
    files = sorted((evidence_dir / "consumed").glob(f"{replica}-*.jsonl"))
    return files[-1].stem if files else None


def owned(records: list[dict[str, Any]]) -> set[int]:
    """The partitions a member owns according to its own evidence."""
    now: set[int] = set()
    for r in records:
        if r["type"] == "assigned":
            now |= set(r["partitions"])
        elif r["type"] in ("revoked", "lost"):
            now -= set(r["partitions"])
    return now


def processed_ids(evidence: dict[str, list[dict[str, Any]]]) -> set[tuple[str, str, int]]:
    """``(producer, key, seq)`` of every processed record, over all members."""
    return {
        (producer, key, seq)
        for records in evidence.values()
        for r in records
        if r["type"] == "processed"
        for _offset, producer, key, seq in r["records"]
    }


def acked(evidence_dir: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((evidence_dir / "acks").glob("*.jsonl")):
        out.extend(read_jsonl(path, FILE_TYPES["acks"]))
    return out


def produce(
    bootstrap: str,
    topic: str,
    count: int,
    evidence_dir: Path,
    interval_s: float = 0.0,
    keys: int = 20,
    producer_id: str | None = None,
) -> dict[str, int]:
    """Send ``count`` contract messages with the loop producer, in this process."""
    from workloads.message import producer_id as new_id

    pid = producer_id or new_id("test")
    sink = FileSink(evidence_dir / "acks" / f"{pid}.jsonl")
    try:
        return run_loop(
            LoopSettings(bootstrap, topic, pid, interval_s=interval_s, keys=keys, count=count),
            sink,
            StopSignal(),
        )
    finally:
        sink.close()


class Background:
    """Run ``produce`` in a thread (load while the test kills consumers)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.result: dict[str, int] | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=args, kwargs=kwargs, daemon=True)
        self.thread.start()

    def _run(self, *args: Any, **kwargs: Any) -> None:
        try:
            self.result = produce(*args, **kwargs)
        except BaseException as exc:  # reported by join()
            self.error = exc

    def join(self, timeout: float = 60) -> dict[str, int]:
        self.thread.join(timeout)
        if self.error is not None:
            raise self.error
        assert self.result is not None, "the background producer did not finish"
        return self.result


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offsets ({} while its coordinator is not available yet)."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    except KafkaError as exc:
        if not exc.retriable:  # coordinator moving or loading: ask again later
            raise
        return {}
    finally:
        admin.close()
    return {tp.partition: om.offset for tp, om in offsets.items() if tp.topic == topic}


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic))]
        return {tp.partition: o for tp, o in c.end_offsets(tps).items()}
    finally:
        c.close()


def caught_up(bootstrap: str, group: str, topic: str) -> bool:
    """The group's committed offset equals the end offset on every partition."""
    end = end_offsets(bootstrap, topic)
    committed = committed_offsets(bootstrap, group, topic)
    return all(committed.get(p, 0) >= o for p, o in end.items())
