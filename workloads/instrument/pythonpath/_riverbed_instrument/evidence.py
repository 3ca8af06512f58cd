"""Evidence contract v1 records for ``evidence/consumed``, and the file they go to.

The constructors mirror ``workloads/consumer/events.py`` field for field (a
test checks that both agree); they are repeated here because this package runs
in the user's interpreter, where riverbed's ``workloads`` is not installed.

Extensions of contract v1 written by the instrumentation (optional fields,
ignored by readers that do not know them): ``assigned.member_id`` and
``assigned.client_id`` (the Kafka group member id and the client's
``client.id``), ``start.client`` / ``start.client_version`` / ``start.client_id``
/ ``start.pgid`` / ``start.incarnation`` / ``start.instrumented``, and on
``stop``: ``detail`` and ``held`` — records handed to the application that it
never came back from (so they are not known to be processed).
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Iterable, Mapping

VERSION = 1


def start_event(
    member: str, replica: str, pid: int, host: str, t: float, **extra: Any
) -> dict[str, Any]:
    record = {"type": "start", "member": member, "replica": replica, "pid": pid, "host": host}
    record["t"] = t
    record.update(extra)
    return record


def stop_event(member: str, reason: str, t: float, **extra: Any) -> dict[str, Any]:
    record = {"type": "stop", "member": member, "reason": reason, "t": t}
    record.update(extra)
    return record


def ownership_event(
    kind: str,
    member: str,
    generation: int | None,
    partitions: Iterable[int],
    t: float,
    **extra: Any,
) -> dict[str, Any]:
    """``assigned`` / ``revoked`` / ``lost`` with the group generation (None if unknown)."""
    record = {
        "type": kind,
        "member": member,
        "generation": generation,
        "partitions": sorted(partitions),
        "t": t,
    }
    record.update(extra)
    return record


def processed_event(
    member: str, partition: int, records: list[list[Any]], t: float
) -> dict[str, Any]:
    """One ``processed`` line: ``records`` are ``[offset, producer, key, seq]``."""
    return {
        "type": "processed",
        "member": member,
        "partition": partition,
        "records": records,
        "t": t,
    }


def processed_line(member_json: str, partition: int, records: list[list[Any]], t: float) -> str:
    """:func:`processed_event` encoded, the same bytes, built without a dict (the hot path).

    ``member_json`` is the member name already JSON-encoded.
    """
    text = ",".join(
        f"[{offset},{_string(producer)},{_string(key)},{seq}]"
        for offset, producer, key, seq in records
    )
    return (
        f'{{"v":{VERSION},"type":"processed","member":{member_json},"partition":{partition},'
        f'"records":[{text}],"t":{float.__repr__(t)}}}\n'
    )


def invalid_event(
    member: str, partition: int, offset: int, reason: str, t: float
) -> dict[str, Any]:
    return {
        "type": "invalid",
        "member": member,
        "partition": partition,
        "offset": offset,
        "reason": reason,
        "t": t,
    }


def committed_event(
    member: str, offsets: Mapping[int, int], ok: bool, t: float, error: str | None = None
) -> dict[str, Any]:
    """``committed``: partition (as a string) to the next offset to read."""
    record: dict[str, Any] = {
        "type": "committed",
        "member": member,
        "offsets": {str(p): o for p, o in sorted(offsets.items())},
        "ok": ok,
        "t": t,
    }
    if error is not None:
        record["error"] = error
    return record


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

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
