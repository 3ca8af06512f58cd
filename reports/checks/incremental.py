"""What a fault did beyond its target: partitions paused or moved, members that kept consuming.

An eager rebalance (the classic protocol's range, roundrobin, sticky) takes every
partition from every member and hands them out again: members the fault never
touched stop consuming too. An incremental one (cooperative-sticky, and the
consumer protocol of KIP-848, where the broker assigns) moves only the
partitions that must move: the others keep consuming. These figures show which
happened, per fault, from the consumers' own ownership periods and processing
times (pure functions over plain values):

- ``paused_partitions``: partitions left without an owner at some moment between
  the fault and full ownership (whoever owned them after);
- ``moved_partitions``: partitions whose owner after full ownership is not the one
  before the fault (added partitions are not counted: they had no owner before);
- ``member_impact``: the members alive before the fault and after full ownership
  that the fault did not hit; for each, the partitions it ``kept`` (owned without
  interruption through the window), those ``revoked`` from it, whether it
  ``consumed`` during the window and its longest processing gap in it
  (``max_gap_s``); summarized as ``unaffected_members``, ``members_kept_all`` (kept
  every partition), ``members_kept_consuming`` (kept every partition and consumed
  during the window) and ``unaffected_max_gap_s``;
- ``fencing``: the members the coordinator fenced in the fault's window — ``fenced``
  lines, commits it rejected (a stale epoch, an unknown member) and ``lost``
  partitions, with the errors named.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Errors of a rejected commit that say the member was fenced (not merely rebalancing).
FENCING_ERRORS = (
    "STALE_MEMBER_EPOCH",
    "FENCED_MEMBER_EPOCH",
    "UNKNOWN_MEMBER_ID",
    "ILLEGAL_GENERATION",
    "FENCED_INSTANCE_ID",
    "UNRELEASED_INSTANCE_ID",
    "UnknownMemberId",
    "IllegalGeneration",
    "FencedInstanceId",
    "CommitFailed",
)


@dataclass(frozen=True)
class Interval:
    """One member's uninterrupted ownership of one partition: [start, end)."""

    member: str
    start: float
    end: float


def owner_at(intervals: Sequence[Interval], t: float) -> set[str]:
    """Members owning a partition at ``t``."""
    return {iv.member for iv in intervals if iv.start <= t < iv.end}


def owner_before(intervals: Sequence[Interval], t: float) -> set[str]:
    """Who owned a partition just before ``t``: its owners at ``t``, else the owner of
    the ownership that ended last before it (a killed member's evidence ends at its last
    line, which may be a batch before the kill)."""
    now = owner_at(intervals, t)
    if now:
        return now
    ended = [iv for iv in intervals if iv.end <= t]
    if not ended:
        return set()
    last = max(iv.end for iv in ended)
    return {iv.member for iv in ended if iv.end == last}


def moved_partitions(
    by_partition: Mapping[int, Sequence[Interval]], t_before: float, t_after: float
) -> list[int]:
    """Partitions owned before ``t_before`` whose owners at ``t_after`` differ."""
    moved = []
    for p, ivs in sorted(by_partition.items()):
        before = owner_before(ivs, t_before)
        if before and owner_at(ivs, t_after) != before:
            moved.append(p)
    return moved


def handover_gap(
    intervals: Sequence[Interval], times: Sequence[float], t_before: float, t_after: float
) -> float | None:
    """The processing gap of a partition across its move: from the last processing before
    its owner at ``t_after`` took it over to that owner's first processing of it.

    ``times``: the partition's processing times (sorted). None when the new owner never
    processed it, or nothing was processed before.
    """
    before = owner_before(intervals, t_before)
    new = [iv for iv in intervals if iv.start <= t_after < iv.end and iv.member not in before]
    if not new:
        return None
    start = min(iv.start for iv in new)
    j = bisect.bisect_left(times, start)
    if j == 0 or j >= len(times):
        return None
    return round(times[j] - times[j - 1], 3)


def longest_gap(times: Sequence[float], t0: float, t1: float) -> float:
    """The longest stretch of [t0, t1] without a time of ``times`` (sorted)."""
    lo, hi = bisect.bisect_left(times, t0), bisect.bisect_right(times, t1)
    points = [t0, *times[lo:hi], t1]
    return max((b - a for a, b in zip(points, points[1:], strict=False)), default=0.0)


def member_impact(
    by_partition: Mapping[int, Sequence[Interval]],
    processed_times: Mapping[str, Sequence[float]],
    members: Iterable[str],
    t0: float,
    t1: float,
) -> dict[str, dict[str, Any]]:
    """For each of ``members`` (alive through [t0, t1], not hit by the fault): what it kept,
    what was revoked from it, whether it consumed in the window, its longest gap there."""
    out: dict[str, dict[str, Any]] = {}
    for m in sorted(members):
        kept, revoked = [], []
        for p, ivs in sorted(by_partition.items()):
            mine = [iv for iv in ivs if iv.member == m]
            if not any(iv.start <= t0 < iv.end for iv in mine):
                continue
            if any(iv.start <= t0 and iv.end >= t1 for iv in mine):
                kept.append(p)
            else:
                revoked.append(p)
        times = processed_times.get(m, ())
        lo, hi = bisect.bisect_left(times, t0), bisect.bisect_right(times, t1)
        out[m] = {
            "kept": kept,
            "revoked": revoked,
            "consumed": hi > lo,
            "max_gap_s": round(longest_gap(times, t0, t1), 3),
        }
    return out


def summarize_impact(impact: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The per-fault headline: how many unaffected members kept all their partitions and
    kept consuming, and the longest gap any of them had."""
    n = len(impact)
    undisturbed = [m for m, i in impact.items() if i["kept"] and not i["revoked"]]
    consuming = [m for m in undisturbed if impact[m]["consumed"]]
    gaps = [float(i["max_gap_s"]) for i in impact.values()]
    return {
        "unaffected_members": n,
        "members_kept_all": len(undisturbed),
        "members_kept_consuming": len(consuming),
        "unaffected_max_gap_s": round(max(gaps), 3) if gaps else None,
    }


def fencing_in_window(events: Iterable[Any], t0: float, t1: float) -> dict[str, Any]:
    """Counts of fencing signs with ``t0 <= t < t1``: ``fenced`` lines, rejected commits
    (and how many name a fencing error), ``lost`` partitions; the error names seen."""
    fenced = rejected = rejected_fencing = lost = 0
    errors: list[str] = []
    for e in events:
        if not t0 <= e.t < t1:
            continue
        if e.kind == "fenced":
            fenced += 1
        elif e.kind == "commit-rejected":
            rejected += 1
            if any(word in (e.error or "") for word in FENCING_ERRORS):
                rejected_fencing += 1
        elif e.kind == "lost":
            lost += 1
        if e.error:
            name = e.error.split(":", 1)[0].split("(", 1)[0].strip()
            if name and name not in errors:
                errors.append(name)
    return {
        "fenced": fenced,
        "commits_rejected": rejected,
        "commits_rejected_fencing": rejected_fencing,
        "lost": lost,
        "errors": errors[:5],
    }
