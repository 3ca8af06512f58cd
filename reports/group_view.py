"""The broker's view of the group (``group.jsonl``), joined to the consumers' evidence.

The group monitor keys members by the coordinator's member id; consumer
evidence names each incarnation by its ``member``. They are joined through the
``member_id`` the consumers' ``assigned`` lines carry, else through the client
id (the reference consumer's client id *is* its ``member``; older runs key the
snapshots by client id). A group member that matches no evidence member, or
matches ambiguously (replicas sharing a client id without recording their
member id), keeps a readable label: client id, host and a short member id.

Only a *Stable* snapshot carries assignments (DescribeGroups returns them for
no other state): any other snapshot says nothing about who owns what.

Two uses:

- ownership when consumer evidence falls silent: a member whose file ends
  without a ``stop`` line (killed at teardown, its pod deleted before its last
  lines were written, or simply idle) still owns its partitions for as long as
  the group keeps assigning them to it (:meth:`BrokerView.owned_until`);
- what the broker alone shows: a partition assigned to two members at once
  (:meth:`BrokerView.double_owners`), or to a member that wrote no evidence.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from reports.evidence import Evidence, GroupSnapshot
from workloads.group_members import member_label

#: A Stable snapshot describes ownership for at most this long after it was taken
#: (the monitor snapshots every ~0.5 s; it skips snapshots while a broker is down).
FRESH_S = 2.0
#: The broker's last word counts until the run's end when the monitor was still
#: taking snapshots this close to it.
END_MARGIN_S = 1.0


@dataclass(frozen=True)
class ViewOwner:
    """One member of a snapshot as the report names it."""

    key: str
    """Its key in ``group.jsonl`` (member id; client id in older runs)."""
    name: str
    """The evidence ``member`` it is, else a readable label."""
    mapped: bool
    """Whether ``name`` is an evidence member."""


class BrokerView:
    """Group snapshots, with each member named as the consumers' evidence names it."""

    def __init__(self, ev: Evidence, end: float = math.inf) -> None:
        self.ev = ev
        self.snaps: list[GroupSnapshot] = list(ev.group or [])
        self.times = [s.t for s in self.snaps]
        self.end = end
        self._owners: dict[int, dict[int, list[ViewOwner]]] = {}

    @property
    def present(self) -> bool:
        return bool(self.snaps)

    @cached_property
    def evidence_members(self) -> set[str]:
        return set(self.ev.ownership.members) if self.ev.ownership is not None else set()

    def name(self, key: str, snap: GroupSnapshot) -> ViewOwner:
        """How the report names the group member ``key`` of ``snap``."""
        member = self.ev.member_ids.get(key)
        if member is not None:
            return ViewOwner(key, member, True)
        info = snap.info.get(key)
        client = (info or {}).get("client_id") if snap.info else key
        if client:
            candidates = (
                [client]
                if client in self.evidence_members
                else [m for m, c in self.ev.client_ids.items() if c == client]
            )
            same_client = [
                k for k in snap.members if (snap.info.get(k) or {}).get("client_id", k) == client
            ]
            # A client id shared by several members (a library's default) names nobody.
            if len(candidates) == 1 and len(same_client) == 1:
                return ViewOwner(key, candidates[0], True)
        return ViewOwner(key, member_label(key, info), False)

    def owners(self, i: int) -> dict[int, list[ViewOwner]]:
        """Partition → owners in snapshot ``i`` (empty unless the snapshot is Stable)."""
        cached = self._owners.get(i)
        if cached is not None:
            return cached
        snap = self.snaps[i]
        out: dict[int, list[ViewOwner]] = {}
        if snap.assignments_known:
            for key, parts in sorted(snap.members.items()):
                owner = self.name(key, snap)
                for p in parts:
                    out.setdefault(p, []).append(owner)
        self._owners[i] = out
        return out

    def fresh(self, t: float) -> int | None:
        """The snapshot describing time ``t``: the latest before it, if Stable and recent."""
        i = bisect.bisect_right(self.times, t) - 1
        if i < 0 or not self.snaps[i].assignments_known or t - self.snaps[i].t > FRESH_S:
            return None
        return i

    def unmapped_owners(self, p: int, t: float) -> list[ViewOwner] | None:
        """Owners of ``p`` at ``t`` the consumers' evidence does not know (None: no fresh view)."""
        i = self.fresh(t)
        if i is None:
            return None
        return [o for o in self.owners(i).get(p, []) if not o.mapped]

    def owned_until(self, member: str, p: int, after: float, cap: float) -> float | None:
        """How long after ``after`` the group kept assigning ``p`` to ``member``.

        Walks the snapshots after ``after``: Stable ones showing ``member`` owning
        ``p`` extend the ownership; the first Stable one that does not ends it (at
        the last that did). Other states say nothing and are passed over. When the
        snapshots end while it still owns ``p`` and the monitor watched until the
        run's end, it owns ``p`` to the end. Never past ``cap`` (another member's
        own assignment of ``p``). None when no snapshot after ``after`` shows it.
        """
        last: float | None = None
        for i in range(bisect.bisect_right(self.times, after), len(self.snaps)):
            snap = self.snaps[i]
            if snap.t >= cap:
                return last
            if not snap.assignments_known:
                continue
            if any(o.name == member for o in self.owners(i).get(p, [])):
                last = snap.t
            else:
                return last
        if last is not None and self.times[-1] >= self.end - END_MARGIN_S:
            return cap
        return last

    def unowned_confirmed(self, p: int, t: float) -> bool:
        """The group's fresh, Stable view at ``t`` assigns ``p`` to nobody."""
        i = self.fresh(t)
        return i is not None and not self.owners(i).get(p)

    def double_owners(self) -> list[dict[str, Any]]:
        """Partitions a Stable snapshot assigns to more than one member: one row per episode."""
        out: list[dict[str, Any]] = []
        open_: dict[tuple[int, tuple[str, ...]], dict[str, Any]] = {}
        for i, snap in enumerate(self.snaps):
            if not snap.assignments_known:
                continue
            seen = set()
            for p, owners in sorted(self.owners(i).items()):
                if len(owners) < 2:
                    continue
                key = (p, tuple(sorted(o.key for o in owners)))
                seen.add(key)
                row = open_.get(key)
                if row is None:
                    names = sorted(o.name for o in owners)
                    row = open_[key] = {
                        "partition": p,
                        "member": names[0],
                        "other_member": ", ".join(names[1:]),
                        "t": round(snap.t, 6),
                        "snapshots": 0,
                        "kind": "group-split",
                        "detail": f"the group assigned partition {p} to "
                        f"{len(owners)} members at once: {', '.join(names)}",
                    }
                    out.append(row)
                row["snapshots"] += 1
                row["last_t"] = round(snap.t, 6)
            for key in [k for k in open_ if k not in seen]:
                del open_[key]
        return out
