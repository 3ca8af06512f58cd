"""Evidence contract, version 1: record types, their required fields, and the run layout.

Every evidence file is JSON Lines; every line is an object with ``"v": 1`` and a
``"type"``. Times are Unix epoch seconds (float, wall clock). See
docs/evidence.md for examples of each record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

VERSION = 1

#: Required fields per record type (beyond ``v`` and ``type``).
REQUIRED: dict[str, tuple[str, ...]] = {
    # evidence/acks/*.jsonl
    "send": ("producer", "key", "seq", "status", "partition", "offset", "t_send", "t_ack", "error"),
    # evidence/consumed/*.jsonl
    "start": ("member", "replica", "pid", "host", "t"),
    "stop": ("member", "reason", "t"),
    "assigned": ("member", "generation", "partitions", "t"),
    "revoked": ("member", "generation", "partitions", "t"),
    "lost": ("member", "generation", "partitions", "t"),
    "processed": ("member", "partition", "records", "t"),
    "committed": ("member", "offsets", "ok", "t"),
    "invalid": ("member", "partition", "offset", "reason", "t"),
    "fenced": ("member", "error", "t"),
    # evidence/group.jsonl
    "group": (
        "t",
        "state",
        "generation",
        "members",
        "committed",
        "end_offsets",
        "partitions",
    ),
    # evidence/faults.jsonl
    "fault": ("experiment", "activity", "kind", "t_start", "t_end", "status", "output"),
    # evidence/log.jsonl
    "record": ("partition", "offset", "producer", "key", "seq", "sha_ok"),
    # evidence/output.jsonl (the service's output topic, drained)
    "output": ("partition", "offset", "producer", "key", "seq", "sha_ok", "identity", "t"),
}

SEND_STATUSES = ("ok", "fail", "unknown")
STOP_REASONS = ("sigterm", "close", "error")
INVALID_REASONS = ("corrupt", "schema", "undecodable")
CONSUMER_TYPES = frozenset(
    {"start", "stop", "assigned", "revoked", "lost", "processed", "committed", "invalid", "fenced"}
)

#: Which record types may appear in which evidence file.
FILE_TYPES: dict[str, frozenset[str]] = {
    "acks": frozenset({"send"}),
    "consumed": CONSUMER_TYPES,
    "group": frozenset({"group"}),
    "faults": frozenset({"fault"}),
    "log": frozenset({"record"}),
    "output": frozenset({"output"}),
}

#: How a service's output names its input (``output.identity``).
OUTPUT_IDENTITIES = ("value", "header")


class EvidenceError(ValueError):
    """Evidence this riverbed cannot read: unknown version or type, missing fields."""


def check(record: Any, where: str = "", allowed: frozenset[str] | None = None) -> dict[str, Any]:
    """Validate one decoded evidence line; returns it or raises :class:`EvidenceError`."""
    if not isinstance(record, dict):
        raise EvidenceError(f"{where}: an evidence line must be a JSON object")
    v = record.get("v")
    if v != VERSION:
        raise EvidenceError(
            f"{where}: evidence version {v!r} is not supported (this riverbed reads v{VERSION})"
        )
    kind = record.get("type")
    if kind not in REQUIRED:
        raise EvidenceError(f"{where}: unknown evidence type {kind!r}")
    if allowed is not None and kind not in allowed:
        raise EvidenceError(f"{where}: a {kind!r} record does not belong in this file")
    missing = [f for f in REQUIRED[kind] if f not in record]
    if missing:
        raise EvidenceError(f"{where}: {kind} record lacks {', '.join(missing)}")
    return record


class RunLayout:
    """Paths of one run directory (``runs/<run-id>/``)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @property
    def spec(self) -> Path:
        return self.root / "spec.json"

    @property
    def evidence(self) -> Path:
        return self.root / "evidence"

    @property
    def acks_dir(self) -> Path:
        return self.evidence / "acks"

    @property
    def consumed_dir(self) -> Path:
        return self.evidence / "consumed"

    @property
    def group(self) -> Path:
        return self.evidence / "group.jsonl"

    @property
    def faults(self) -> Path:
        return self.evidence / "faults.jsonl"

    @property
    def log(self) -> Path:
        return self.evidence / "log.jsonl"

    @property
    def output(self) -> Path:
        """The drained output topic of the service under test (output-topic evidence)."""
        return self.evidence / "output.jsonl"

    @property
    def chaos_dir(self) -> Path:
        return self.root / "chaos"

    @property
    def locust_dir(self) -> Path:
        return self.root / "locust"

    @property
    def logs_dir(self) -> Path:
        """Per-process stdout/stderr of every service of the run."""
        return self.root / "logs"

    def acks_files(self) -> list[Path]:
        return sorted(self.acks_dir.glob("*.jsonl"))

    def consumed_files(self) -> list[Path]:
        return sorted(self.consumed_dir.glob("*.jsonl"))

    def make(self) -> RunLayout:
        for d in (self.acks_dir, self.consumed_dir, self.chaos_dir, self.locust_dir, self.logs_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self
