"""Who owned which partition when, from the consumers' own events.

A consumer incarnation (a ``member``) owns a partition from the ``assigned``
line that lists it until a ``revoked`` or ``lost`` line that lists it, its
``stop`` line, or — when it has no ``stop`` line because it was SIGKILLed —
its last line. One such stretch is an *ownership period*; the checks judge
processing per period (partition-order) and redelivery across periods.

``assigned`` is additive: the eager protocol revokes everything before
assigning, the cooperative protocol assigns only what is added, and both
read correctly that way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: How an ownership period ended.
END_REVOKED = "revoked"
END_LOST = "lost"
END_STOP = "stop"  # a graceful stop (sigterm, close)
END_ERROR = "error"  # the consumer stopped on an error
END_KILLED = "killed"  # no stop line: the incarnation was killed hard

#: Ends after which the uncommitted window may legally be processed again.
HARD_ENDS = frozenset({END_LOST, END_ERROR, END_KILLED})


@dataclass
class Commit:
    """One commit attempt for one partition, as the consumer recorded it."""

    t: float
    member: str
    partition: int
    offset: int
    """The next offset to read (Kafka's committed offset)."""
    ok: bool
    line: int = -1
    """The consumed line that recorded it (global line id)."""


@dataclass
class Period:
    """One member's ownership of one partition, from assignment to its end."""

    id: int
    member: str
    partition: int
    start_t: float
    start_line: int
    generation: int | None
    implicit: bool = False
    """Opened by processing the partition without an assignment (an anomaly)."""
    end: str | None = None
    """``revoked``, ``lost``, ``stop``, ``error`` or ``killed``; None while open."""
    end_t: float | None = None
    end_line: int | None = None
    commits: list[Commit] = field(default_factory=list)
    """Commit attempts for this partition by this member during the period."""
    handled: int = 0
    """Records processed or refused during the period."""
    first_offset: int | None = None
    first_t: float | None = None
    last_offset: int | None = None
    last_t: float | None = None

    @property
    def hard(self) -> bool:
        return self.end in HARD_ENDS

    @property
    def committed(self) -> int | None:
        """The highest offset this period committed successfully."""
        oks = [c.offset for c in self.commits if c.ok]
        return max(oks) if oks else None

    @property
    def last_commit_failed(self) -> bool:
        return bool(self.commits) and not self.commits[-1].ok

    @property
    def redelivery_allowed(self) -> bool:
        """Whether what this period left uncommitted may be processed again.

        After a hard end (killed, lost partitions, stopped on an error) or a
        final commit the broker refused, the commit never landed: the next
        owner legally starts from the last commit that did.
        """
        return self.hard or self.last_commit_failed

    def ended_by(self, t: float) -> bool:
        return self.end_t is not None and self.end_t <= t


@dataclass
class Member:
    """One consumer incarnation."""

    member: str
    replica: str | None = None
    host: str | None = None
    commit_mode: str | None = None
    start_t: float | None = None
    first_t: float | None = None
    last_t: float | None = None
    stop_reason: str | None = None
    """None when the file has no ``stop`` line: killed hard."""
    lines: int = 0

    @property
    def killed(self) -> bool:
        return self.stop_reason is None


@dataclass
class Ownership:
    """Every member, ownership period and commit of a run."""

    members: dict[str, Member]
    periods: list[Period]
    commits: list[Commit]
    period_of_line: list[int]
    """For each consumed line (global line index): its period id, or -1."""
    notes: list[str] = field(default_factory=list)
    """Oddities worth showing (revoking a partition not owned, …)."""

    def by_partition(self) -> dict[int, list[Period]]:
        out: dict[int, list[Period]] = {}
        for p in self.periods:
            out.setdefault(p.partition, []).append(p)
        for ps in out.values():
            ps.sort(key=lambda x: (x.start_t, x.start_line))
        return out


def build_ownership(
    line: Sequence[int],
    member: Sequence[str],
    kind: Sequence[str],
    t: Sequence[float],
    partition: Sequence[int | None],
    partitions: Sequence[list[int] | None],
    offsets: Sequence[str | None],
    ok: Sequence[bool | None],
    generation: Sequence[int | None],
    reason: Sequence[str | None],
    first_offset: Sequence[int | None],
    last_offset: Sequence[int | None],
    handled: Sequence[int | None],
    extra: Sequence[dict[str, Any] | None],
    total_lines: int,
) -> Ownership:
    """Replay every consumer line (in file order per member) into periods and commits.

    The sequences are columns of the consumed lines sorted by ``line``;
    ``first_offset``/``last_offset``/``handled`` describe processed and
    invalid lines, ``extra`` carries ``start`` fields.
    """
    members: dict[str, Member] = {}
    periods: list[Period] = []
    commits: list[Commit] = []
    notes: list[str] = []
    period_of_line = [-1] * total_lines
    open_: dict[str, dict[int, Period]] = {}
    latest: dict[tuple[str, int], Period] = {}
    claimed: dict[tuple[str, int], float] = {}

    def close(per: Period, how: str, when: float, ln: int) -> None:
        per.end, per.end_t, per.end_line = how, when, ln

    def open_period(
        m: str, p: int, when: float, ln: int, gen: int | None, implicit: bool
    ) -> Period:
        per = Period(len(periods), m, p, when, ln, gen, implicit=implicit)
        periods.append(per)
        open_.setdefault(m, {})[p] = per
        latest[(m, p)] = per
        return per

    for i in range(len(line)):
        ln, m, k, when = line[i], member[i], kind[i], t[i]
        mem = members.get(m)
        if mem is None:
            mem = members[m] = Member(m, first_t=when)
        mem.lines += 1
        mem.last_t = when if mem.last_t is None else max(mem.last_t, when)
        owned = open_.setdefault(m, {})
        if k == "processed" or k == "invalid" or k == "finished":
            p = int(partition[i] or 0)
            per = owned.get(p)
            if per is None and k == "finished" and (m, p) in latest:
                # Records an instrumented consumer was handed while it owned the partition
                # and finished after it lost it (work in a paused partition's worker):
                # that ownership's processing, done late.
                per = latest[(m, p)]
                notes.append(
                    f"{m} finished records of partition {p} after its ownership of it ended"
                )
            if per is None:
                per = open_period(m, p, when, ln, None, implicit=True)
            period_of_line[ln] = per.id
            n = int(handled[i] or 0)
            if n:
                if per.first_offset is None:
                    per.first_offset, per.first_t = first_offset[i], when
                per.last_offset, per.last_t = last_offset[i], when
                per.handled += n
        elif k == "committed":
            try:
                mapping = json.loads(offsets[i] or "{}")
            except ValueError:
                notes.append(f"{m}: a committed line with unreadable offsets was ignored")
                continue
            for key, value in mapping.items():
                if value is None:
                    continue
                c = Commit(when, m, int(key), int(value), bool(ok[i]), ln)
                commits.append(c)
                target = owned.get(c.partition) or latest.get((m, c.partition))
                if target is None:
                    notes.append(f"{m} committed partition {c.partition} without ever owning it")
                elif (
                    c.partition not in owned
                    and target.end_t is not None
                    and claimed.get((m, c.partition), -math.inf) > target.end_t
                ):
                    # Asked for after the partition was taken from it (instrumented claims
                    # say when): the group's offset moved, but not the ended ownership's.
                    notes.append(
                        f"{m} committed partition {c.partition} after its ownership of it "
                        "ended: a commit for a partition another member owns can move the "
                        "group past records that member has not processed"
                    )
                else:
                    target.commits.append(c)
        elif k == "committing":
            try:
                mapping = json.loads(offsets[i] or "{}")
            except ValueError:
                continue
            for key in mapping:
                claimed[(m, int(key))] = when
        elif k == "assigned":
            for p in partitions[i] or ():
                if p not in owned:
                    open_period(m, int(p), when, ln, generation[i], implicit=False)
        elif k in ("revoked", "lost"):
            for p in partitions[i] or ():
                per = owned.pop(int(p), None)
                if per is None:
                    continue
                close(per, END_REVOKED if k == "revoked" else END_LOST, when, ln)
        elif k == "stop":
            how = END_ERROR if reason[i] == "error" else END_STOP
            mem.stop_reason = reason[i] or "close"
            for p in sorted(owned):
                close(owned[p], how, when, ln)
            owned.clear()
        elif k == "start":
            info = extra[i] or {}
            mem.start_t = when
            mem.replica = info.get("replica")
            mem.host = info.get("host")
            mem.commit_mode = info.get("commit_mode")

    # Whatever is still open belongs to an incarnation without a stop line:
    # it was killed hard at (about) its last line.
    for m, owned in open_.items():
        mem = members[m]
        for p in sorted(owned):
            per = owned[p]
            close(per, END_KILLED if mem.killed else END_STOP, mem.last_t or per.start_t, -1)
    commits.sort(key=lambda c: (c.t, c.partition))
    return Ownership(members, periods, commits, period_of_line, notes)
