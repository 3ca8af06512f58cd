"""How the group behaved after each fault.

Per landed fault (an action of the experiment's method that had an effect):

- ``time_to_stable_s``: from the fault to the first *Stable* group snapshot
  after the group changed (generation, members, state or partition count);
  0 when the group never changed.
- ``time_to_full_ownership_s``: from the fault until every partition again
  has exactly one owner, by the consumers' own assignment events (a killed
  member stops owning at its last line); 0 when ownership was never disturbed.
- ``max_processing_gap_s``: on each partition left without an owner, the time
  between the last processing before and the first after (``resume_s``: from
  the fault to that first processing).
- ``overlaps``: two members owning one partition at the same time. When the
  older owner had been fenced (it ended with ``lost`` or on an error, or the
  commits it tried after the move were refused) this is Kafka's zombie window
  (the ``zombie-window`` allowance, :mod:`reports.allowances`: counted, with
  what the zombie processed after the move); otherwise it is a split brain
  (fails).
- ``balance``: partitions per member once ownership is complete again.
- ``spurious_rebalances``: rebalance rounds nothing explains — no fault, no
  member joining or leaving, no partition change shortly before.
- ``first_consumption_s``: for partitions the fault added, the time to their
  first processing (never consumed while holding records fails).
- ``paused_partitions``, ``moved_partitions``, ``member_impact`` (summed up as
  ``unaffected_members``, ``members_kept_all``, ``members_kept_consuming``,
  ``unaffected_max_gap_s``) and ``fencing``: what the fault did beyond its
  target — whether members it did not hit kept their partitions and kept
  consuming (incremental rebalancing) or stopped too (eager), and which members
  the coordinator fenced (:mod:`reports.checks.incremental`).
  ``max_gap_moved_s``: the longest processing gap across a partition's move.

Rebalance rounds are told apart by generation (classic) or member epoch
(consumer protocol, KIP-848: the ``generation`` of the consumers' lines); an
incremental protocol may take two rounds per cause (a revocation, then an
assignment), so cooperative-sticky and the consumer protocol get two.

- ``max_lag``: the highest lag (records not committed yet) a group snapshot saw
  from the fault until the next one.

Budgets in spec.json (``"limits": {"time_to_full_ownership_s": 15, "max_lag": 5000, …}``,
set by ``--max-recovery`` and ``--max-lag``; :mod:`reports.checks.budgets`) turn these
figures into pass/fail; without them only lasting damage fails: ownership never
restored, split brains, new partitions never consumed.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

from reports.allowances import ZOMBIE_WINDOW, zombie_window
from reports.checks import budgets
from reports.checks.common import missing, plural
from reports.checks.incremental import (
    Interval,
    fencing_in_window,
    handover_gap,
    member_impact,
    moved_partitions,
    summarize_impact,
)
from reports.evidence import Evidence, Fault, GroupSnapshot
from reports.facts import OVERLAP_TOLERANCE_S, Facts
from reports.model import FAIL, INCONCLUSIVE, PASS, Verdict
from reports.ownership import END_KILLED, END_LOST, Period
from reports.registry import REBALANCE

#: How long after a cause a rebalance round still counts as explained by it.
CAUSE_WINDOW_S = {"fault": 60.0, "join": 30.0, "leave": 60.0, "partitions": 330.0}
#: Limits a spec may set, and the per-fault figure each one bounds (:mod:`.budgets`).
LIMITS = tuple(budgets.LIMITS)


@dataclass
class RebalanceReport:
    verdict: Verdict
    rows: list[dict[str, Any]] = field(default_factory=list)
    """One row per landed fault (summary.json ``rebalances``)."""
    rounds: list[float] = field(default_factory=list)
    """Times of every rebalance round (for the timeline)."""
    spurious: list[float] = field(default_factory=list)


def landed_faults(ev: Evidence) -> list[Fault]:
    return [f for f in ev.faults or () if f.landed and f.is_fault]


def run_end(ev: Evidence, facts: Facts) -> float:
    """When the run's measured part ended: the drain, else the last processing."""
    return facts.run_end


class _Coverage:
    """Owners per partition over time: the consumers' ownership periods, joined to the group's view.

    A period whose member fell silent lasts as long as the group kept assigning
    the partition to it (``Facts.period_ends``). A partition no evidence member
    owns counts as owned when the group's fresh Stable view assigns it to a
    member that wrote no evidence (the broker's view of a live member).
    """

    def __init__(self, periods: list[Period], facts: Facts) -> None:
        self.facts = facts
        self.broker = facts.broker
        ends = facts.period_ends
        self.by_p: dict[int, list[tuple[float, float, Period]]] = {}
        for per in periods:
            if per.implicit:
                continue
            end = ends.get(per.id, math.inf)
            self.by_p.setdefault(per.partition, []).append((per.start_t, end, per))
        self.changes = sorted(
            {t for ivs in self.by_p.values() for s, e, _ in ivs for t in (s, e) if t != math.inf}
        )

    def owners(self, p: int, t: float) -> list[Period]:
        return [per for s, e, per in self.by_p.get(p, ()) if s <= t < e]

    def count(self, p: int, t: float) -> int:
        k = len(self.owners(p, t))
        if k == 0:
            k = len(self.broker.unmapped_owners(p, t) or ())
        return k

    def orphans_and_exact(self, t: float) -> tuple[list[int], bool]:
        n = self.facts.partitions_at(t)
        orphans, exact = [], True
        for p in range(n):
            k = self.count(p, t)
            if k == 0:
                orphans.append(p)
            if k != 1:
                exact = False
        return orphans, exact

    def orphan_proven(self, p: int, t: float) -> bool:
        """Whether ``p`` being without an owner at ``t`` is proven, not inferred from silence.

        Proven when the group's fresh Stable view assigns it to nobody, or when the
        member that owned it last said it gave it up (revoke, loss, stop line) or
        is known dead (a fault hit it, its replica restarted). Only a member that
        fell silent, with no group view after, proves nothing.
        """
        if self.broker.unowned_confirmed(p, t):
            return True
        before = [(e, per) for s, e, per in self.by_p.get(p, ()) if e <= t]
        if not before:
            return True
        _, last = max(before, key=lambda x: x[0])
        return last.end != END_KILLED or last.member in self.facts.dead_members

    def times(self, t0: float, t1: float, snaps: list[GroupSnapshot]) -> list[float]:
        ts = {t0}
        lo, hi = bisect.bisect_left(self.changes, t0), bisect.bisect_right(self.changes, t1)
        ts.update(self.changes[lo:hi])
        ts.update(s.t for s in snaps if t0 <= s.t <= t1)
        return sorted(ts)


def _time_to_stable(snaps: list[GroupSnapshot], t0: float, t1: float) -> float | None:
    if not snaps:
        return None
    i = bisect.bisect_right([s.t for s in snaps], t0)
    pre = snaps[i - 1] if i else None
    changed = False
    for s in snaps[i:]:
        if s.t > t1:
            break
        if pre is None or (
            s.generation != pre.generation
            or set(s.members) != set(pre.members)
            or s.state != "Stable"
            or s.partitions != pre.partitions
        ):
            changed = True
        if changed and s.state == "Stable":
            return round(s.t - t0, 3)
    return 0.0 if not changed else None


def _rounds(periods: list[Period]) -> list[float]:
    """Start times of rebalance rounds: one per generation, else clusters of assignments."""
    by_gen: dict[int, float] = {}
    loose: list[float] = []
    for per in periods:
        if per.implicit:
            continue
        if per.generation is not None:
            by_gen[per.generation] = min(by_gen.get(per.generation, per.start_t), per.start_t)
        else:
            loose.append(per.start_t)
    rounds = sorted(by_gen.values())
    last = -math.inf
    for t in sorted(loose):
        if t - last > 1.0:
            rounds.append(t)
        last = t
    return sorted(rounds)


def _unexplained(ev: Evidence, facts: Facts, rounds: list[float]) -> list[float]:
    causes: list[tuple[float, str]] = [(f.t_start, "fault") for f in ev.faults or () if f.landed]
    if ev.ownership is not None:
        for m in ev.ownership.members.values():
            if m.first_t is not None:
                causes.append((m.start_t if m.start_t is not None else m.first_t, "join"))
            if m.last_t is not None:
                causes.append((m.last_t, "leave"))
        for per in ev.ownership.periods:
            if per.end == END_LOST and per.end_t is not None:
                causes.append((per.end_t, "leave"))
    prev = None
    for s in ev.group or ():
        if prev is not None and s.partitions and s.partitions != prev:
            causes.append((s.t, "partitions"))
        prev = s.partitions or prev
    per_cause = 2 if incremental_protocol(ev.spec) else 1
    explained = [False] * len(rounds)
    for t, kind in sorted(causes):
        budget = per_cause
        i = bisect.bisect_left(rounds, t - 0.5)
        while i < len(rounds) and rounds[i] <= t + CAUSE_WINDOW_S[kind] and budget:
            if not explained[i]:
                explained[i] = True
                budget -= 1
            i += 1
    return [r for r, ok in zip(rounds, explained, strict=True) if not ok]


def incremental_protocol(spec: dict[str, Any]) -> bool:
    """Whether the run's group rebalances incrementally (cooperative-sticky, or KIP-848)."""
    return spec.get("group_protocol") == "consumer" or "cooperative" in str(
        spec.get("assignor", "")
    )


def processing_times_by_member(ev: Evidence, facts: Facts) -> dict[str, list[float]]:
    """Per evidence member, the sorted times of its processed lines (with records)."""
    out: dict[str, list[float]] = {}
    if ev.lines is None:
        return out
    periods = facts.periods
    for t, period, n in ev.lines.select("t", "period", "records").iter_rows():
        if n and period is not None and 0 <= period < len(periods):
            out.setdefault(periods[period].member, []).append(float(t))
    for ts in out.values():
        ts.sort()
    return out


def _overlaps(cov: _Coverage, facts: Facts) -> list[dict[str, Any]]:
    """Two members owning one partition at once. A *zombie* overlap is Kafka's known
    hazard: the older owner had been fenced (evicted: its ``lost``, or the commits it
    tried after the move were rejected) and had not noticed yet; it is counted, with
    what the zombie processed after the move. Any other overlap is a split brain."""
    zombie_records = _zombie_records_by_period(facts)
    out = []
    for p, ivs in sorted(cov.by_p.items()):
        ivs = sorted(ivs, key=lambda x: x[0])
        for i, (_, e1, a) in enumerate(ivs):
            for s2, e2, b in ivs[i + 1 :]:
                if s2 >= e1:
                    break
                if a.member == b.member:
                    continue
                overlap = min(e1, e2) - s2
                if overlap <= OVERLAP_TOLERANCE_S:
                    continue
                zombie = zombie_window(a, facts.zombie_moves)
                after = zombie_records.get(a.id, 0)
                out.append(
                    {
                        "partition": p,
                        "member": a.member,
                        "other_member": b.member,
                        "t": round(s2, 6),
                        "overlap_s": round(overlap, 3) if overlap != math.inf else None,
                        "kind": "zombie" if zombie else "split",
                        "zombie_processed": after if zombie else None,
                        "detail": (
                            f"{b.member} was assigned partition {p} while {a.member} "
                            + (
                                "had not yet learnt it lost it"
                                + (
                                    f" (it processed {after} records after the move)"
                                    if after
                                    else ""
                                )
                                if zombie
                                else "still owned it"
                            )
                        ),
                    }
                )
    return out


def _zombie_records_by_period(facts: Facts) -> dict[int, int]:
    """Per zombie period: records it processed after its partition moved on."""
    ev = facts.ev
    if not facts.zombie_moves or ev.processed is None:
        return {}
    rows = ev.processed.filter(facts.zombie_row_mask).group_by("period").len()
    return {int(p): int(n) for p, n in rows.iter_rows() if p is not None}


def check_rebalance(ev: Evidence, facts: Facts) -> RebalanceReport:
    name = REBALANCE
    if (v := missing(name, ev, "consumed")) is not None:
        return RebalanceReport(v)
    faults = landed_faults(ev)
    periods = facts.periods
    cov = _Coverage(periods, facts)
    snaps = ev.group or []
    end = run_end(ev, facts)
    rounds = _rounds(periods)
    spurious = _unexplained(ev, facts, rounds)
    overlaps = _overlaps(cov, facts)
    failures: list[dict[str, Any]] = [o for o in overlaps if o["kind"] == "split"]
    group_splits = facts.broker.double_owners()
    failures += group_splits
    uncertain: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    resizes_reported = any(reported_resize(f, ev.spec.get("topic")) for f in faults)
    member_times = processing_times_by_member(ev, facts) if faults else {}
    for i, f in enumerate(faults):
        t0 = f.t_start
        t_next = min(faults[i + 1].t_start if i + 1 < len(faults) else math.inf, end)
        row = _fault_row(
            ev, facts, cov, snaps, f, t0, t_next, end, rounds, spurious, overlaps, resizes_reported
        )
        row.update(_beyond_target(ev, facts, cov, f, row, t_next, end, member_times))
        rows.append(row)
        if row["time_to_full_ownership_s"] is None and row["orphaned_partitions"]:
            proven = [p for p in row["unowned_partitions"] if p not in row["unproven_partitions"]]
            if cut_short(ev.spec, t0, end) and i == len(faults) - 1:
                # Stopped (Ctrl-C, a harness error) before the group could recover from its
                # last fault: incomplete evidence, not a group that failed to recover.
                uncertain.append(
                    {
                        "fault": row["fault"],
                        "t": t0,
                        "detail": f"partitions {row['unowned_partitions'] or row['orphaned_partitions']} "
                        "had no owner again when the run was interrupted",
                    }
                )
            elif proven or not row["unowned_partitions"]:
                failures.append(
                    {
                        "fault": row["fault"],
                        "t": t0,
                        "detail": f"partitions {proven or row['orphaned_partitions']} never "
                        f"regained exactly one owner",
                    }
                )
            else:
                uncertain.append(
                    {
                        "fault": row["fault"],
                        "t": t0,
                        "detail": f"partitions {row['unproven_partitions']} have no owner by "
                        f"the consumers' evidence only because their last owner fell silent "
                        f"(no stop line), and no group snapshot shows who owned them after",
                    }
                )
        for p in row["never_consumed_partitions"]:
            failures.append(
                {
                    "fault": row["fault"],
                    "partition": p,
                    "t": t0,
                    "detail": "added partition holds records but was never consumed",
                }
            )
    over_budget, lag_before = budgets.judge(ev, rows, end)
    failures += over_budget
    n = len(failures)
    zombies = sum(1 for o in overlaps if o["kind"] == "zombie")
    counts: dict[str, Any] = {
        "faults": len(faults),
        "rounds": len(rounds),
        "spurious_rebalances": len(spurious),
        "split_overlaps": len(overlaps) - zombies,
        "zombie_overlaps": zombies,
        "zombie_processed": facts.zombie_processed["records"],
        "group_double_owners": len(group_splits),
        "unproven_orphans": len(uncertain),
        "over_budget": len(over_budget),
        "failures": n,
    }
    if lag_before is not None:
        counts["max_lag_before_faults"] = lag_before["max_lag"]
    worst = {
        k: max((r[k] for r in rows if isinstance(r.get(k), int | float)), default=None)
        for k in ("time_to_stable_s", "time_to_full_ownership_s", "max_processing_gap_s")
    }
    counts.update({f"max_{k}": v for k, v in worst.items()})
    lags = [r["max_lag"] for r in rows if isinstance(r.get("max_lag"), int)]
    counts["max_lag"] = max(lags, default=None)
    baseline = is_baseline(ev.spec) and not faults
    if n:
        status = FAIL
    elif (not faults and not baseline) or not ev.complete("consumed") or uncertain:
        status = INCONCLUSIVE
    else:
        status = PASS
    if baseline:
        explanation = baseline_explanation(ev, len(spurious), lag_before)
        if n:
            explanation = f"{plural(n, 'failure')}: " + "; ".join(
                str(x["detail"]) for x in failures[:3]
            )
    elif not faults:
        explanation = "no fault landed: there is no rebalance to judge"
    else:
        bits = [
            f"{plural(len(faults), 'fault')}",
            f"full ownership again within {_fmt(worst['time_to_full_ownership_s'])}",
            f"longest processing gap {_fmt(worst['max_processing_gap_s'])}",
        ]
        if worst["time_to_stable_s"] is not None:
            bits.append(f"stable within {_fmt(worst['time_to_stable_s'])}")
        if spurious:
            bits.append(plural(len(spurious), "spurious rebalance"))
        if zombies:
            bits.append(plural(zombies, "zombie overlap"))
        if limits := budgets.limits_of(ev.spec):
            bits.append(budgets.explain(limits))
        explanation = ", ".join(bits)
        if n:
            explanation = (
                f"{plural(n, 'failure')}: "
                + "; ".join(str(x["detail"]) for x in failures[:3])
                + ("; …" if n > 3 else "")
                + f" ({explanation})"
            )
    if status == INCONCLUSIVE and faults:
        if uncertain:
            explanation += "; inconclusive: " + "; ".join(str(u["detail"]) for u in uncertain[:2])
        if not ev.complete("consumed"):
            explanation += "; inconclusive: consumer events are incomplete (see issues)"
    examples = sorted(failures, key=lambda x: (x.get("t") or 0, str(x.get("partition", ""))))
    examples += uncertain
    zombie_overlaps = [o for o in overlaps if o["kind"] == "zombie"]
    examples += zombie_overlaps
    verdict = Verdict(
        name,
        status,
        n,
        explanation,
        counts=counts,
        examples=tuple(_clean(e) for e in examples[: facts.max_examples]),
        allowed=(
            ZOMBIE_WINDOW.applied(
                zombies, [_clean(o) for o in zombie_overlaps[: facts.max_examples]]
            ),
        ),
    )
    return RebalanceReport(verdict, rows, rounds, spurious)


#: After a fault, how long a group may take to recover before an interrupted run's missing
#: owner counts as proven: the session timeout (a dead member's eviction) plus a minute.
RECOVERY_GRACE_S = 60.0


def cut_short(spec: dict[str, Any], t_fault: float, end: float) -> bool:
    """Whether the run was interrupted before a group could have recovered from a fault at
    ``t_fault`` (the evidence ends at ``end``)."""
    if spec.get("interrupted") is not True:
        return False
    session = spec.get("session_timeout_ms")
    session_s = session / 1000 if isinstance(session, int | float) else 45.0
    return end - t_fault < session_s + RECOVERY_GRACE_S


def is_baseline(spec: dict[str, Any]) -> bool:
    """A run without faults on purpose (``riverbed run --no-faults``): its verdict rests on
    the load alone, and no fault is not a reason to say inconclusive."""
    return spec.get("no_faults") is True


def baseline_explanation(ev: Evidence, spurious: int, lag_before: dict[str, Any] | None) -> str:
    bits = ["baseline without faults (--no-faults): no rebalance expected"]
    bits.append(f"{plural(spurious, 'spurious rebalance')}")
    if lag_before is not None:
        bits.append(f"highest lag after the warm-up {lag_before['max_lag']} records")
    if limits := budgets.limits_of(ev.spec):
        bits.append(budgets.explain(limits))
    return ", ".join(bits)


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f} s"


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items() if v is not None}


def _fault_row(
    ev: Evidence,
    facts: Facts,
    cov: _Coverage,
    snaps: list[GroupSnapshot],
    f: Fault,
    t0: float,
    t_next: float,
    end: float,
    rounds: list[float],
    spurious: list[float],
    overlaps: list[dict[str, Any]],
    resizes_reported: bool,
) -> dict[str, Any]:
    times = cov.times(t0, max(end, t_next), snaps)
    t_disturb = None
    for t in times:
        if t > t_next:
            break
        _, exact = cov.orphans_and_exact(t)
        if not exact:
            t_disturb = t
            break
    orphaned: dict[int, float] = {}
    t_full: float | None
    unowned: list[int] = []
    unproven: list[int] = []
    if t_disturb is None:
        t_full = t0
    else:
        t_full = None
        orphans: list[int] = []
        t_last = t_disturb
        for t in times:
            if t < t_disturb:
                continue
            orphans, exact = cov.orphans_and_exact(t)
            t_last = t
            for p in orphans:
                orphaned.setdefault(p, t)
            if exact and t > t_disturb:
                t_full = t
                break
        if t_full is None:
            # What is still wrong when the evidence ends, and whether that is proven.
            unowned = sorted(orphans)
            unproven = [p for p in unowned if not cov.orphan_proven(p, t_last)]
    # Processing gaps on the partitions left without an owner.
    gaps: dict[int, float] = {}
    resume: dict[int, float] = {}
    for p, t_orphan in sorted(orphaned.items()):
        ts = facts.handled_times.get(p, [])
        j = bisect.bisect_right(ts, t_orphan)
        if j < len(ts):
            resume[p] = round(ts[j] - t0, 3)
            if j:
                gaps[p] = round(ts[j] - ts[j - 1], 3)
    # Balance once ownership is complete again.
    balance: dict[str, Any] | None = None
    if t_full is not None and ev.ownership is not None:
        n = facts.partitions_at(t_full)
        per_member: dict[str, int] = {}
        for m in ev.ownership.members.values():
            alive = (m.first_t or 0) <= t_full and (m.last_t or 0) >= t_full
            if alive and not (m.stop_reason and (m.last_t or 0) <= t_full):
                per_member[m.member] = 0
        for p in range(n):
            for per in cov.owners(p, t_full):
                per_member[per.member] = per_member.get(per.member, 0) + 1
        if per_member:
            lo, hi = min(per_member.values()), max(per_member.values())
            balance = {"members": len(per_member), "min": lo, "max": hi, "balanced": hi - lo <= 1}
    # Partitions this fault added, and the earliest time they can have existed.
    t_created = t0
    reported = reported_resize(f, ev.spec.get("topic"))
    if reported is not None:
        new = list(range(*reported))
    elif resizes_reported:
        # The resizing faults say what they added: the others added nothing.
        new = []
    else:
        # The monitor's view: counts seen from the fault until the next one.
        # The next snapshot may come after the next fault has started, so the
        # partitions may have existed since the last snapshot before this fault.
        before = facts.partitions_at(t0 - 1e-6)
        after = max([facts.partitions_at(s.t) for s in snaps if t0 <= s.t <= t_next] or [before])
        new = list(range(before, after))
        if not snaps and ev.spec.get("partitions") and f is _last_fault_before_new(ev, facts):
            new = _new_without_snapshots(ev, facts)
        t_created = max([s.t for s in snaps if s.t < t0] or [t0])
    first_consumption: dict[int, float] = {}
    never: list[int] = []
    log_parts = set()
    if ev.log is not None and new:
        log_parts = {p for p in new if p in facts.log_slices}
    for p in new:
        ts = facts.handled_times.get(p, [])
        j = bisect.bisect_left(ts, t_created)
        if j < len(ts):
            first_consumption[p] = round(max(0.0, ts[j] - t0), 3)
        elif p in log_parts:
            never.append(p)
    in_window = [r for r in rounds if t0 <= r < t_next]
    spur = [r for r in spurious if t0 <= r < t_next]
    ovl = [o for o in overlaps if t0 <= o["t"] < t_next]
    return {
        "fault": f.name,
        "t_fault": round(t0, 6),
        "t_end": round(f.t_end, 6),
        "time_to_stable_s": _time_to_stable(snaps, t0, math.inf),
        "time_to_full_ownership_s": None if t_full is None else round(t_full - t0, 3),
        "max_processing_gap_s": max(gaps.values()) if gaps else None,
        "overlaps": len(ovl),
        "spurious_rebalances": len(spur),
        "rebalances": len(in_window),
        "orphaned_partitions": sorted(orphaned),
        "unowned_partitions": unowned,
        "unproven_partitions": unproven,
        "resume_s": {str(p): v for p, v in resume.items()},
        "balance": balance,
        "new_partitions": new,
        "first_consumption_s": {str(p): v for p, v in first_consumption.items()},
        "never_consumed_partitions": never,
    }


def _beyond_target(
    ev: Evidence,
    facts: Facts,
    cov: _Coverage,
    f: Fault,
    row: dict[str, Any],
    t_next: float,
    end: float,
    member_times: dict[str, list[float]],
) -> dict[str, Any]:
    """Paused and moved partitions, the members the fault did not hit, fencing (one fault)."""
    t0 = f.t_start
    full = row["time_to_full_ownership_s"]
    t1 = t0 + full if full is not None else min(t_next, end)
    # The row's figure is rounded to the millisecond: owners are looked up just past it,
    # so that the owner who completed the ownership counts as the owner after the fault.
    t_owner = t1 + 0.002 if full else t1
    by_p = {p: [Interval(per.member, s, e) for s, e, per in ivs] for p, ivs in cov.by_p.items()}
    window = t0 < t1 < math.inf
    moved = moved_partitions(by_p, t0 - 1e-6, t_owner) if window else []
    hit = {str(x) for x in f.output} if isinstance(f.output, list) else set()
    impact: dict[str, dict[str, Any]] = {}
    if window and ev.ownership is not None:
        alive = []
        for m in ev.ownership.members.values():
            began = m.start_t if m.start_t is not None else m.first_t
            if began is None or began > t0 or (m.last_t or 0.0) < t1:
                continue
            if m.member in facts.dead_members or m.member in hit or m.replica in hit:
                continue
            alive.append(m.member)
        impact = member_impact(by_p, member_times, alive, t0, t1)
    gaps = [
        v
        for p in moved
        if (v := handover_gap(by_p[p], facts.handled_times.get(p, []), t0 - 1e-6, t_owner))
        is not None
    ]
    return {
        "paused_partitions": list(row["orphaned_partitions"]),
        "moved_partitions": moved,
        "max_gap_moved_s": max(gaps) if gaps else None,
        "member_impact": impact,
        **summarize_impact(impact),
        "fencing": fencing_in_window(ev.fencing, t0, t_next),
    }


def reported_resize(f: Fault, topic: Any) -> tuple[int, int] | None:
    """(before, after) partition counts of the data topic, when the fault's output says so.

    riverbed's add_partitions returns {"topic", "before", "after", "added"}.
    """
    out = f.output
    if not isinstance(out, dict) or not {"topic", "before", "after", "added"} <= out.keys():
        return None
    if topic is not None and out["topic"] != topic:
        return None
    before, after = out["before"], out["after"]
    if isinstance(before, int) and isinstance(after, int) and after > before:
        return before, after
    return None


def _new_without_snapshots(ev: Evidence, facts: Facts) -> list[int]:
    spec_n = int(ev.spec["partitions"])
    top = facts.partition_counts[-1] if facts.partition_counts else spec_n
    return list(range(spec_n, top))


def _last_fault_before_new(ev: Evidence, facts: Facts) -> Fault | None:
    """Without snapshots, added partitions belong to the last fault before their first use."""
    new = _new_without_snapshots(ev, facts) if ev.spec.get("partitions") else []
    if not new:
        return None
    firsts = [facts.handled_times[p][0] for p in new if facts.handled_times.get(p)]
    faults = landed_faults(ev)
    if not faults:
        return None
    if not firsts:
        return faults[-1]
    t = min(firsts)
    before = [f for f in faults if f.t_start <= t]
    return before[-1] if before else faults[0]
