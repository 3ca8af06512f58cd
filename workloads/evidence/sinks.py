"""Evidence sinks: where workloads write their evidence records.

:class:`FileSink` appends JSON Lines to one file per process incarnation and
flushes per batch, so a SIGKILL loses at most the batch being written (and the
reader tolerates the cut line). Every record gets ``"v": 1``.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Protocol

from workloads.evidence.schema import VERSION


class Sink(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...

    def write_many(self, records: list[dict[str, Any]]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def _line(record: dict[str, Any]) -> str:
    if "v" not in record:
        record = {"v": VERSION, **record}
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"


class FileSink:
    """Append evidence records to a JSON Lines file (thread-safe).

    ``write`` buffers; ``flush`` pushes the buffer to the operating system
    (and, with ``fsync``, to disk). ``write_many`` writes and flushes a batch
    in one go: the unit of durability for a consumer's processed batch.
    """

    def __init__(self, path: Path | str, fsync: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", encoding="utf-8", buffering=1 << 16)
        self._fsync = fsync
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._fh.write(_line(record))

    def write_many(self, records: list[dict[str, Any]]) -> None:
        with self._lock:
            self._fh.write("".join(_line(r) for r in records))
            self._flush_locked()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._fh.closed:
            return
        self._fh.flush()
        if self._fsync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._flush_locked()
                self._fh.close()


class TeeSink:
    """Write every record to several sinks in turn (e.g. a file and the evidence topic).

    ``write_many`` returns once every sink has made the batch durable; the
    first sink error propagates, so a caller that commits afterwards never
    commits past evidence that one of its sinks lost.
    """

    def __init__(self, sinks: list[Sink]) -> None:
        self.sinks = list(sinks)

    def write(self, record: dict[str, Any]) -> None:
        for sink in self.sinks:
            sink.write(record)

    def write_many(self, records: list[dict[str, Any]]) -> None:
        for sink in self.sinks:
            sink.write_many(records)

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()

    def close(self) -> None:
        errors: list[Exception] = []
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # close every sink even if one fails
                errors.append(exc)
        if errors:
            raise errors[0]


class NullSink:
    """Evidence off: accepts records and keeps none (for overhead measurements)."""

    def write(self, record: dict[str, Any]) -> None:
        pass

    def write_many(self, records: list[dict[str, Any]]) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
