"""Pure judgements about a consumer group, shared by the probes.

Kept free of any Kafka client so that they are unit-tested on literal
snapshots, the same shapes the group monitor writes to ``group.jsonl``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GroupView:
    """What the group coordinator says about one consumer group, for one topic."""

    state: str
    """``Stable``, ``PreparingRebalance``, ``CompletingRebalance``, ``Empty`` or ``Dead``."""
    members: dict[str, list[int]] = field(default_factory=dict)
    """client_id → partitions of the topic assigned to that member."""
    member_ids: dict[str, str] = field(default_factory=dict)
    """client_id (the keys of ``members``) → the member's Kafka group member id."""


def group_view(description: Mapping[str, Any], topic: str) -> GroupView:
    """A :class:`GroupView` from one entry of kafka-python's ``describe_groups`` result."""
    members: dict[str, list[int]] = {}
    member_ids: dict[str, str] = {}
    for member in description.get("members") or []:
        client_id = str(member.get("client_id") or member.get("member_id"))
        # Two members with one client_id would hide a double owner: keep both.
        key, n = client_id, 1
        while key in members:
            n += 1
            key = f"{client_id}#{n}"
        parts: list[int] = []
        assignment = member.get("member_assignment") or {}
        if isinstance(assignment, Mapping):
            for entry in assignment.get("assigned_partitions") or []:
                if entry.get("topic") == topic:
                    parts.extend(int(p) for p in entry.get("partitions") or [])
        members[key] = sorted(parts)
        if member.get("member_id"):
            member_ids[key] = str(member["member_id"])
    return GroupView(str(description.get("group_state") or "Unknown"), members, member_ids)


def assignment_problems(view: GroupView, partitions: int, expected_members: int = 0) -> list[str]:
    """Why the group is not stable with every partition owned exactly once (empty: it is).

    ``expected_members`` > 0 also requires exactly that many members.
    """
    problems: list[str] = []
    if view.state != "Stable":
        problems.append(f"group state is {view.state}, not Stable")
    if not view.members:
        problems.append("the group has no members")
    if expected_members > 0 and len(view.members) != expected_members:
        problems.append(f"{len(view.members)} members, expected {expected_members}")
    owners: dict[int, list[str]] = {p: [] for p in range(partitions)}
    for member, parts in view.members.items():
        for p in parts:
            owners.setdefault(p, []).append(member)
    unassigned = sorted(p for p, who in owners.items() if not who)
    shared = {p: who for p, who in sorted(owners.items()) if len(who) > 1}
    if unassigned:
        problems.append(f"partitions without an owner: {unassigned}")
    for p, who in shared.items():
        problems.append(f"partition {p} is assigned to {len(who)} members: {sorted(who)}")
    return problems


def membership_problems(view: GroupView, live_members: Iterable[str]) -> list[str]:
    """Why the group's members are not exactly the live consumer incarnations."""
    live = set(live_members)
    present = set(view.members)
    problems = []
    if stale := sorted(present - live):
        problems.append(f"members of incarnations that no longer run: {stale}")
    if missing := sorted(live - present):
        problems.append(f"running incarnations not in the group yet: {missing}")
    return problems


def partition_lag(
    committed: Mapping[int, int], end_offsets: Mapping[int, int], start_offsets: Mapping[int, int]
) -> dict[int, int]:
    """Records each partition still has to process.

    A partition without a committed offset is counted from its log start
    (what a consumer with ``auto.offset.reset=earliest`` reads first).
    """
    lag = {}
    for p, end in end_offsets.items():
        position = committed.get(p, start_offsets.get(p, 0))
        lag[p] = max(0, end - position)
    return lag
