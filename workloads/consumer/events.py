"""The consumer's evidence records (contract v1, ``evidence/consumed``), built by pure functions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workloads.message import InvalidRecord, Message, decode


@dataclass(frozen=True)
class Refused:
    """A record the consumer refused."""

    offset: int
    """Its offset in the partition."""
    reason: str
    """``corrupt``, ``schema`` or ``undecodable``."""
    detail: str
    """What exactly was wrong (for the consumer's log and the dead-letter headers)."""
    key: bytes | None = None
    """The raw Kafka key, forwarded to the dead-letter topic."""
    value: bytes | None = None
    """The raw Kafka value, forwarded to the dead-letter topic."""


@dataclass
class Examined:
    """One partition's slice of a batch, validated."""

    partition: int
    """The partition."""
    valid: list[tuple[int, Message]] = field(default_factory=list)
    """``(offset, message)`` of records that passed validation, in offset order."""
    refused: list[Refused] = field(default_factory=list)
    """Records that failed validation."""
    next_offset: int = 0
    """The offset after the last record of the slice: what to commit."""


def examine(partition: int, records: Iterable[Any]) -> Examined:
    """Validate each record (value decodes, contract fields present, sha matches body).

    ``records`` are kafka-python ``ConsumerRecord``s (anything with ``offset``,
    ``key`` and ``value``). A bad record never raises: it is returned as
    :class:`Refused`, so a poison record cannot stop the partition.
    """
    out = Examined(partition)
    for record in records:
        try:
            out.valid.append((record.offset, decode(record.value)))
        except InvalidRecord as exc:
            out.refused.append(
                Refused(record.offset, exc.reason, exc.detail, record.key, record.value)
            )
        out.next_offset = record.offset + 1
    return out


def start_event(
    member: str, replica: str, pid: int, host: str, t: float, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "start",
        "member": member,
        "replica": replica,
        "pid": pid,
        "host": host,
        "t": t,
        **extra,
    }


def stop_event(member: str, reason: str, t: float) -> dict[str, Any]:
    return {"type": "stop", "member": member, "reason": reason, "t": t}


def ownership_event(
    kind: str,
    member: str,
    generation: int | None,
    partitions: Iterable[int],
    t: float,
    **extra: Any,
) -> dict[str, Any]:
    """``assigned`` / ``revoked`` / ``lost`` with the group generation.

    ``extra`` adds optional fields: ``assigned`` carries ``member_id`` (the
    coordinator's id for this member) and ``client_id``, which tie the
    group monitor's view (keyed by member id) to this evidence ``member``.
    """
    return {
        "type": kind,
        "member": member,
        "generation": generation,
        "partitions": sorted(partitions),
        "t": t,
        **extra,
    }


def processed_event(member: str, examined: Examined, t: float) -> dict[str, Any] | None:
    """One ``processed`` line for the valid records of a partition's slice (None if none)."""
    if not examined.valid:
        return None
    return {
        "type": "processed",
        "member": member,
        "partition": examined.partition,
        "records": [[offset, m.producer, m.key, m.seq] for offset, m in examined.valid],
        "t": t,
    }


def invalid_events(member: str, examined: Examined, t: float) -> list[dict[str, Any]]:
    return [
        {
            "type": "invalid",
            "member": member,
            "partition": examined.partition,
            "offset": r.offset,
            "reason": r.reason,
            "t": t,
        }
        for r in examined.refused
    ]


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


def fenced_event(member: str, error: str, fatal: bool, t: float, **extra: Any) -> dict[str, Any]:
    """``fenced``: the group coordinator fenced this member.

    ``error`` is the client's error (``FENCED_MEMBER_EPOCH``, ``UNKNOWN_MEMBER_ID``,
    ``FENCED_INSTANCE_ID``, ``UNRELEASED_INSTANCE_ID``…); ``fatal`` says whether
    the member gave up (a static member whose instance id another member holds)
    rather than rejoining with a new epoch. ``extra``: ``member_id`` and
    ``generation`` (generation or member epoch) the member had when fenced.
    """
    return {"type": "fenced", "member": member, "error": error, "fatal": fatal, "t": t, **extra}
