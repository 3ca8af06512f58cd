"""Pure judgements about a consumer group, shared by the probes.

Kept free of any Kafka client so that they are unit-tested on literal
snapshots, the same shapes the group monitor writes to ``group.jsonl``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workloads.group_members import decode_members, group_type, member_label


@dataclass(frozen=True)
class GroupView:
    """What the group coordinator says about one consumer group, for one topic."""

    state: str
    """Classic: ``Stable``, ``PreparingRebalance``, ``CompletingRebalance``, ``Empty`` or
    ``Dead``; consumer protocol: ``Stable``, ``Assigning``, ``Reconciling``, ``Empty``, ``Dead``."""
    members: dict[str, list[int]] = field(default_factory=dict)
    """member id → partitions of the topic assigned to that member."""
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    """member id → ``{"client_id", "host", "instance_id"}`` (group.jsonl ``member_info``)."""
    group_type: str = "classic"
    """``classic`` or ``consumer`` (KIP-848)."""

    def client_id(self, member: str) -> str:
        """The member's client id (its key when the view does not say)."""
        return str((self.info.get(member) or {}).get("client_id") or member)

    def label(self, member: str) -> str:
        """A readable name: client id, host and a short member id."""
        return member_label(member, self.info.get(member))


def group_view(description: Mapping[str, Any], topic: str) -> GroupView:
    """A :class:`GroupView` from one group's description (kafka-python's ``describe_groups``
    entry, or a consumer-protocol group's, see :mod:`workloads.group_describe`).

    Members are keyed by member id (see :mod:`workloads.group_members`): replicas
    sharing a client id stay apart, so a partition assigned to two shows.
    """
    members = decode_members(description, topic)
    return GroupView(
        str(description.get("group_state") or "Unknown"),
        {m: list(g.partitions) for m, g in members.items()},
        {m: g.info() for m, g in members.items()},
        group_type(description),
    )


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
        names = sorted(view.label(m) for m in who)
        problems.append(f"partition {p} is assigned to {len(who)} members: {names}")
    return problems


def membership_problems(view: GroupView, live_members: Iterable[str]) -> list[str]:
    """Why the group's members are not exactly the live consumer incarnations.

    ``live_members`` are the incarnations' client ids (their evidence ``member``).
    """
    live = set(live_members)
    present = {view.client_id(m) for m in view.members}
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
