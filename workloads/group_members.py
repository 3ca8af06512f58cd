"""The members of a consumer group, decoded once from a group description.

The description is kafka-python's DescribeGroups answer (classic protocol),
or a consumer-protocol group's ConsumerGroupDescribe answer converted to the
same shape by :mod:`workloads.group_describe` (with ``group_type``, and per
member a ``target_assignment``).

Members are keyed by their **member id**, the one identity the group
coordinator guarantees unique. The client id, the host and the group instance
id (static membership) are attributes: user consumers often keep their client
library's default client id, so several replicas share one, and keying by it
would merge them — hiding a partition assigned to two of them.

Pure standard library: the group monitor (``workloads.monitor``) and the chaos
probes (``riverbed.chaos.groups``) both decode with it, on the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GroupMember:
    """One member of a consumer group, as the coordinator describes it."""

    member_id: str
    """The coordinator's id for this member (unique in the group)."""
    client_id: str | None
    """The Kafka ``client.id`` it connected with (not unique: many replicas keep the default)."""
    host: str | None
    """The host the coordinator saw it connect from (``/127.0.0.1``)."""
    instance_id: str | None
    """Its ``group.instance.id`` when it is a static member."""
    partitions: tuple[int, ...]
    """Partitions of the topic assigned to it (empty when none, or not known)."""
    assignment_known: bool
    """Whether the answer carried a decodable assignment (a classic group's only when
    Stable; a consumer-protocol group's always: its members' current assignments)."""
    target: tuple[int, ...] | None = None
    """Consumer protocol: the partitions the broker's target assignment gives it
    (differs from ``partitions`` while the member reconciles); None under classic."""

    def info(self) -> dict[str, str | None]:
        """The attributes written beside the assignment (``group.jsonl`` ``member_info``)."""
        return {"client_id": self.client_id, "host": self.host, "instance_id": self.instance_id}


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _topic_partitions(assignment: Any, topic: str) -> set[int]:
    parts: set[int] = set()
    if isinstance(assignment, Mapping):
        for entry in assignment.get("assigned_partitions") or []:
            if entry.get("topic") == topic:
                parts.update(int(p) for p in entry.get("partitions") or [])
    return parts


def group_type(description: Mapping[str, Any]) -> str:
    """``classic`` or ``consumer`` (a description without the field is kafka-python's: classic)."""
    return "consumer" if description.get("group_type") == "consumer" else "classic"


def decode_members(description: Mapping[str, Any], topic: str) -> dict[str, GroupMember]:
    """``{member_id: GroupMember}`` from one group's description (see the module doc).

    Only ``topic``'s partitions are kept. A member without a member id (never
    seen from a coordinator, kept for robustness) is keyed by its client id.
    """
    out: dict[str, GroupMember] = {}
    for member in description.get("members") or []:
        member_id = _text(member.get("member_id"))
        client_id = _text(member.get("client_id"))
        key = base = member_id or client_id or "?"
        n = 1
        while key in out:  # never two entries under one key: that would hide an owner
            n += 1
            key = f"{base}#{n}"
        assignment = member.get("member_assignment")
        known = isinstance(assignment, Mapping)
        parts = _topic_partitions(assignment, topic)
        target = member.get("target_assignment")
        out[key] = GroupMember(
            member_id=key,
            client_id=client_id,
            host=_text(member.get("client_host")),
            instance_id=_text(member.get("group_instance_id")),
            partitions=tuple(sorted(parts)),
            assignment_known=known,
            target=(
                tuple(sorted(_topic_partitions(target, topic)))
                if isinstance(target, Mapping)
                else None
            ),
        )
    return out


def member_label(member_id: str, info: Mapping[str, Any] | None) -> str:
    """A readable name for a group member: client id, host and a short member id."""
    info = info or {}
    client = info.get("client_id")
    if not client:
        return member_id
    short = member_id
    if member_id.startswith(f"{client}-"):
        short = member_id[len(client) + 1 :]
    short = short[:8]
    host = str(info.get("host") or "").lstrip("/")
    return f"{client}@{host}/{short}" if host else f"{client}/{short}"
