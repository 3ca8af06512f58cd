"""Streaming reader for evidence JSON Lines files.

A writer killed mid-write (SIGKILL, a pod deleted with grace period 0) leaves
a truncated last line. The reader stops there and reports it as a
:class:`ReadIssue` instead of failing; a damaged line elsewhere is reported and
skipped. An unknown version or type, or a record missing a required field, is
an :class:`~workloads.evidence.schema.EvidenceError`: that evidence cannot be
interpreted, and guessing would turn into a wrong verdict.

Pure standard library, so ``reports/`` can use it without Kafka.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workloads.evidence.schema import FILE_TYPES, EvidenceError, check


@dataclass(frozen=True)
class ReadIssue:
    """A problem the reader tolerated."""

    path: str
    """The evidence file."""
    line: int
    """1-based line number."""
    kind: str
    """``truncated`` (cut last line) or ``malformed`` (an unparseable line before the end)."""
    detail: str
    """What was wrong, for the report."""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.detail}"


def read_jsonl(
    path: Path | str,
    allowed: frozenset[str] | None = None,
    issues: list[ReadIssue] | None = None,
    validate: bool = True,
) -> Iterator[dict[str, Any]]:
    """Yield the records of one evidence file, one at a time.

    ``allowed`` restricts the record types the file may hold; ``issues``
    collects tolerated problems (a truncated last line, malformed lines).
    """
    p = Path(path)
    pending: tuple[int, bytes] | None = None
    with p.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if pending is not None:
                # The damaged line was not the last one: a malformed line.
                if issues is not None:
                    issues.append(ReadIssue(str(p), pending[0], "malformed", _snippet(pending[1])))
                pending = None
            stripped = raw.strip()
            if not stripped:
                continue
            try:
                record = json.loads(stripped)
            except ValueError:
                pending = (n, raw)
                continue
            if validate:
                check(record, f"{p}:{n}", allowed)
            yield record
    if pending is not None and issues is not None:
        n, raw = pending
        kind = "truncated" if not raw.endswith(b"\n") else "malformed"
        issues.append(ReadIssue(str(p), n, kind, _snippet(raw)))


def _snippet(raw: bytes, width: int = 80) -> str:
    text = raw.decode("utf-8", errors="replace").rstrip("\n")
    return text if len(text) <= width else text[:width] + "…"


def read_files(
    paths: Iterable[Path],
    file_kind: str,
    issues: list[ReadIssue] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the records of several files of one kind (``acks``, ``consumed``, …) in turn."""
    allowed = FILE_TYPES[file_kind]
    for path in paths:
        yield from read_jsonl(path, allowed, issues)


__all__ = ["EvidenceError", "ReadIssue", "read_files", "read_jsonl"]
