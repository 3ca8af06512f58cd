"""A batch's records validated, and the ``processed`` / ``invalid`` evidence of it.

The records themselves (``start``, ``assigned``, ``committed``, …) are defined
once, in :mod:`workloads.evidence.schema`; this module turns one partition's
slice of a poll into them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from workloads.evidence.schema import Invalid, Processed
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


def processed_event(member: str, examined: Examined, t: float) -> dict[str, Any] | None:
    """The ``processed`` line of the valid records of a partition's slice (None if none)."""
    if not examined.valid:
        return None
    records = [[offset, m.producer, m.key, m.seq] for offset, m in examined.valid]
    return Processed(member, examined.partition, records, t).to_dict()


def invalid_events(member: str, examined: Examined, t: float) -> list[dict[str, Any]]:
    """One ``invalid`` line per refused record of a partition's slice."""
    return [
        Invalid(member, examined.partition, r.offset, r.reason, t).to_dict()
        for r in examined.refused
    ]
