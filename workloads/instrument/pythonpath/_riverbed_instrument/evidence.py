"""Evidence contract v1 records for ``evidence/consumed``, and the file they go to.

The records are riverbed's own: this module loads ``workloads/evidence/schema.py``
(standard library only, importable by Python 3.8) from where it sits beside this
directory in riverbed's installation, under a private module name, so that the
user's program never sees a ``workloads`` package. Writers build a record
(``schema.Start(...)``, ``schema.Committed(...)``, …) and hand ``to_dict()`` to
:meth:`EvidenceFile.write_many`; only the ``processed`` line of the hot path is
encoded by the tracker without a dict (the same bytes as ``to_dict()``).

Extensions of contract v1 the instrumentation writes: the record types ``handed``,
``finished`` (processing by offset: the report reads identities from the drained
log), ``committing`` (a claim, written before the commit request leaves), ``seek``,
``paused`` and ``resumed``; and optional fields ``assigned.member_id`` /
``assigned.client_id``, ``start.client`` / ``client_version`` / ``client_id`` /
``pgid`` / ``incarnation`` / ``instrumented`` / ``flush_ms`` / ``background_commits``
/ ``auto_offset_store`` and ``stop.detail``. docs/evidence.md lists them all.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import threading
from typing import Any, Iterable, Mapping

#: Where the evidence schema is, relative to this file: ``workloads/evidence/schema.py``
#: beside ``workloads/instrument/pythonpath/_riverbed_instrument/``.
SCHEMA_PATH = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    os.pardir,
    os.pardir,
    os.pardir,
    "evidence",
    "schema.py",
)
_SCHEMA_MODULE = "_riverbed_evidence_schema"


def _load_schema() -> Any:
    """riverbed's evidence schema module, loaded from its file (once per process)."""
    loaded = sys.modules.get(_SCHEMA_MODULE)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(_SCHEMA_MODULE, os.path.normpath(SCHEMA_PATH))
    if spec is None or spec.loader is None:
        raise ImportError(f"riverbed's evidence schema is missing: {SCHEMA_PATH}")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses look their module up while it is defined.
    sys.modules[_SCHEMA_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_SCHEMA_MODULE]
        raise
    return module


schema = _load_schema()
VERSION: int = schema.VERSION


#: One encoder for every line: ``json.dumps`` with options builds a new one per call.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
#: A JSON string as that encoder writes it (``ensure_ascii=False``).
_string = json.encoder.encode_basestring


def json_text(value: Any) -> str:
    """``value`` as compact JSON (as the lines write it)."""
    return _encode(value)


def line(record: Mapping[str, Any]) -> str:
    """One JSON Lines line, ``"v"`` first (as ``workloads.evidence.sinks`` writes it)."""
    if "v" not in record:
        record = dict({"v": VERSION}, **record)
    return _encode(record) + "\n"


class EvidenceFile:
    """``<dir>/consumed/<member>.jsonl``, claimed exclusively by one consumer.

    The first consumer of a process incarnation gets the member name riverbed
    assigned; another consumer (a second ``KafkaConsumer`` in the same program,
    or a child process) gets ``<member>.c2``, ``<member>.c3``, …: each group
    member has its own file. ``write_many`` hands the lines to the operating
    system before it returns, so a SIGKILL loses nothing already written.
    """

    def __init__(self, directory: str, member: str) -> None:
        consumed = os.path.join(directory, "consumed")
        os.makedirs(consumed, exist_ok=True)
        n = 1
        while True:
            name = member if n == 1 else f"{member}.c{n}"
            path = os.path.join(consumed, name + ".jsonl")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            except FileExistsError:
                n += 1
                continue
            break
        self.member = name
        self.path = path
        self._fd: int | None = fd
        self._lock = threading.Lock()

    def write_many(self, records: Iterable[Mapping[str, Any] | str]) -> None:
        """Write records (or lines already encoded by :func:`processed_line`) at once."""
        data = "".join(r if isinstance(r, str) else line(r) for r in records).encode("utf-8")
        if not data:
            return
        with self._lock:
            if self._fd is None:
                return
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]

    def disown(self) -> None:
        """In a forked child: close this process's copy of the file, writing nothing."""
        fd, self._fd = self._fd, None
        self._lock = threading.Lock()
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
