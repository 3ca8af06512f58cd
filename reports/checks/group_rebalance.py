"""The rebalance check when there are no consumer events: the group's view alone.

At output-topic and offsets strength the consumers record nothing, so
ownership comes from the group snapshots (a Stable snapshot's assignments).
Per landed fault: time to a stable group, time until a Stable snapshot shows
every partition with exactly one owner, the partitions left without one,
balance, and the group's double owners. Processing gaps and first consumption
of added partitions need processing evidence: not applicable at this strength
(the row says ``null``). It fails on a partition the group's view assigns to
two members at once, and on ownership never restored while the monitor kept
watching; without snapshots it is inconclusive.
"""

from __future__ import annotations

import math
from typing import Any

from reports.checks import budgets
from reports.checks.common import plural
from reports.checks.rebalance import (
    RebalanceReport,
    _time_to_stable,
    baseline_explanation,
    is_baseline,
    landed_faults,
)
from reports.evidence import Evidence
from reports.facts import Facts
from reports.model import FAIL, INCONCLUSIVE, PASS, Verdict
from reports.registry import REBALANCE


def _rounds(ev: Evidence) -> list[float]:
    """When the group left Stable (a rebalance round as the monitor saw it)."""
    out = []
    was_stable = True
    for s in ev.group or ():
        if not s.stable and was_stable:
            out.append(s.t)
        was_stable = s.stable
    return out


def check_group_rebalance(ev: Evidence, facts: Facts) -> RebalanceReport:
    name = REBALANCE
    faults = landed_faults(ev)
    broker = facts.broker
    snaps = broker.snaps
    na = f"processing gaps: not applicable at {ev.strength.name} strength"
    if not snaps:
        return RebalanceReport(
            Verdict(
                name,
                INCONCLUSIVE,
                0,
                f"cannot check: no group snapshots (evidence/group.jsonl), and at "
                f"{ev.strength.name} strength they are the only view of ownership",
            )
        )
    rounds = _rounds(ev)
    doubles = broker.double_owners()
    failures: list[dict[str, Any]] = list(doubles)
    uncertain: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    end = facts.run_end
    for i, f in enumerate(faults):
        t0 = f.t_start
        t_next = faults[i + 1].t_start if i + 1 < len(faults) else math.inf
        row = _fault_row(ev, facts, f.name, t0, t_next, end, rounds, doubles)
        rows.append(row)
        if row["time_to_full_ownership_s"] is None and row["watched_to_end"]:
            failures.append(
                {
                    "fault": row["fault"],
                    "t": t0,
                    "detail": f"partitions {row['unowned_partitions']} never again had exactly "
                    f"one owner in the group's view",
                }
            )
        elif row["time_to_full_ownership_s"] is None:
            uncertain.append(
                {
                    "fault": row["fault"],
                    "t": t0,
                    "detail": "the group snapshots end before ownership was restored",
                }
            )
    over_budget, lag_before = budgets.judge(ev, rows, end)
    failures += over_budget
    n = len(failures)
    baseline = is_baseline(ev.spec) and not faults
    if n:
        status = FAIL
    elif (not faults and not baseline) or uncertain or not ev.complete("group"):
        status = INCONCLUSIVE
    else:
        status = PASS
    worst = {
        k: max((r[k] for r in rows if isinstance(r.get(k), int | float)), default=None)
        for k in ("time_to_stable_s", "time_to_full_ownership_s")
    }
    if baseline:
        explanation = baseline_explanation(ev, len(rounds), lag_before)
    elif not faults:
        explanation = "no fault landed: there is no rebalance to judge"
    else:
        explanation = (
            f"{plural(len(faults), 'fault')}, by the group's view: full ownership again within "
            f"{_fmt(worst['time_to_full_ownership_s'])}, stable within "
            f"{_fmt(worst['time_to_stable_s'])}; {na}"
        )
        if limits := budgets.limits_of(ev.spec):
            explanation += "; " + budgets.explain(limits)
    if n:
        explanation = (
            f"{plural(n, 'failure')}: "
            + "; ".join(str(x["detail"]) for x in failures[:3])
            + ("; …" if n > 3 else "")
            + f" ({explanation})"
        )
    if uncertain and not n:
        explanation += "; inconclusive: " + str(uncertain[0]["detail"])
    elif status == INCONCLUSIVE and faults and not ev.complete("group"):
        explanation += "; inconclusive: the group snapshots are incomplete (see issues)"
    examples = sorted(failures, key=lambda x: (x.get("t") or 0, str(x.get("partition", ""))))
    examples += uncertain
    verdict = Verdict(
        name,
        status,
        n,
        explanation,
        counts={
            "faults": len(faults),
            "rounds": len(rounds),
            "group_double_owners": len(doubles),
            "over_budget": len(over_budget),
            "failures": n,
            "max_time_to_stable_s": worst["time_to_stable_s"],
            "max_time_to_full_ownership_s": worst["time_to_full_ownership_s"],
        },
        examples=tuple(examples[: facts.max_examples]),
    )
    return RebalanceReport(verdict, rows, rounds, [])


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f} s"


def _fault_row(
    ev: Evidence,
    facts: Facts,
    fault: str,
    t0: float,
    t_next: float,
    end: float,
    rounds: list[float],
    doubles: list[dict[str, Any]],
) -> dict[str, Any]:
    broker = facts.broker
    snaps = broker.snaps

    def exact(i: int) -> tuple[bool, list[int]]:
        s = snaps[i]
        owners = broker.owners(i)
        n = s.partitions or facts.partitions_at(s.t)
        unowned = [p for p in range(n) if not owners.get(p)]
        ok = s.stable and all(len(owners.get(p, [])) == 1 for p in range(n))
        return ok, unowned

    after = [i for i, s in enumerate(snaps) if s.t >= t0]
    disturbed = None
    for i in after:
        if snaps[i].t > t_next:
            break
        ok, _ = exact(i)
        if not ok:
            disturbed = i
            break
    t_full: float | None = None
    orphaned: set[int] = set()
    unowned: list[int] = []
    balance = None
    if disturbed is None:
        t_full = t0
    else:
        for i in after:
            if i < disturbed:
                continue
            ok, missing = exact(i)
            if snaps[i].stable:
                orphaned.update(missing)
                unowned = missing
            if ok and i > disturbed:
                t_full = snaps[i].t
                break
    if t_full is not None:
        i = max([j for j, s in enumerate(snaps) if s.t <= t_full and s.stable] or [-1])
        if i >= 0:
            counts = {o.name: 0 for o in _members(broker, i)}
            for owners in broker.owners(i).values():
                for o in owners:
                    counts[o.name] = counts.get(o.name, 0) + 1
            if counts:
                lo, hi = min(counts.values()), max(counts.values())
                balance = {"members": len(counts), "min": lo, "max": hi, "balanced": hi - lo <= 1}
    in_window = [r for r in rounds if t0 <= r < t_next]
    ovl = [d for d in doubles if t0 <= d["t"] < t_next]
    return {
        "fault": fault,
        "t_fault": round(t0, 6),
        "time_to_stable_s": _time_to_stable(snaps, t0, math.inf),
        "time_to_full_ownership_s": None if t_full is None else round(t_full - t0, 3),
        "max_processing_gap_s": None,
        "overlaps": len(ovl),
        "spurious_rebalances": None,
        "rebalances": len(in_window),
        "orphaned_partitions": sorted(orphaned),
        "unowned_partitions": unowned if t_full is None else [],
        "unproven_partitions": [],
        "resume_s": {},
        "balance": balance,
        "new_partitions": [],
        "first_consumption_s": {},
        "never_consumed_partitions": [],
        "watched_to_end": bool(snaps) and snaps[-1].t >= end - 1.0,
    }


def _members(broker: Any, i: int) -> list[Any]:
    snap = broker.snaps[i]
    return [broker.name(k, snap) for k in snap.members]
