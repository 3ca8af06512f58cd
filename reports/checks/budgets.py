"""Recovery budgets: the per-fault figures a team bounds, judged in the rebalance check.

A run states its budgets in spec.json ``limits`` (``riverbed run --max-recovery 15s
--max-lag 5000`` writes them): each key names a per-fault figure of the rebalance
rows, each value the most it may be. ``--max-recovery`` bounds both the time to
full ownership and the longest processing gap of an orphaned partition after
each fault; ``--max-lag`` bounds the group's lag (records the group had not
committed, all partitions) at any time after the warm-up, per fault window
(from the fault to the next one) and before the first fault. A figure over its
budget fails the check, naming the fault, the figure and the budget; a figure the
evidence cannot give (no group snapshots for the lag, no processing at offsets
strength) is never judged over budget.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any

from reports.evidence import Evidence

#: Every figure a budget can bound, with its unit and the flag that sets it (if any).
LIMITS: dict[str, tuple[str, str | None]] = {
    "time_to_stable_s": ("s", None),
    "time_to_full_ownership_s": ("s", "--max-recovery"),
    "max_processing_gap_s": ("s", "--max-recovery"),
    "spurious_rebalances": ("", None),
    "first_consumption_s": ("s", None),
    "max_lag": ("records", "--max-lag"),
}
#: The figures ``--max-recovery`` bounds.
RECOVERY = ("time_to_full_ownership_s", "max_processing_gap_s")
LAG = "max_lag"
#: The pseudo-fault a lag before the first fault is charged to.
BEFORE_FAULTS = "(steady load before the first fault)"


def limits_of(spec: Mapping[str, Any]) -> dict[str, float]:
    """The budgets spec.json states (``limits``), numbers only."""
    limits = spec.get("limits")
    if not isinstance(limits, dict):
        return {}
    return {
        k: float(v)
        for k, v in limits.items()
        if k in LIMITS and isinstance(v, int | float) and not isinstance(v, bool)
    }


def lag_points(ev: Evidence) -> list[tuple[float, int]]:
    """(time, lag) from every group snapshot that knows the end offsets: records the
    group had not committed yet, summed over the partitions."""
    out = []
    for s in ev.group or ():
        if not s.end_offsets:
            continue
        behind = sum(max(0, end - s.committed.get(p, 0)) for p, end in s.end_offsets.items())
        out.append((s.t, behind))
    return out


def warmup_end(spec: Mapping[str, Any], first_fault: float | None) -> float | None:
    """When the warm-up ended: the load's start (spec.json ``t_load``) plus the warm-up,
    else the first fault (experiments start after the warm-up), else unknown."""
    load = spec.get("load") if isinstance(spec.get("load"), dict) else {}
    t_load, warmup = spec.get("t_load"), load.get("warmup_s") if load else None
    if isinstance(t_load, int | float) and isinstance(warmup, int | float):
        return float(t_load) + float(warmup)
    return first_fault


def max_lag(points: Sequence[tuple[float, int]], t0: float, t1: float) -> int | None:
    """The highest lag a snapshot in [t0, t1) saw; None without one."""
    ts = [t for t, _ in points]
    lo, hi = bisect.bisect_left(ts, t0), bisect.bisect_left(ts, t1)
    window = [lag for _, lag in points[lo:hi]]
    return max(window) if window else None


def _value(row: Mapping[str, Any], figure: str) -> float | None:
    value = row.get(figure)
    if isinstance(value, dict):  # first_consumption_s: per partition
        value = max(value.values()) if value else None
    return float(value) if isinstance(value, int | float) else None


def fmt(figure: str, value: float) -> str:
    unit = LIMITS[figure][0]
    text = f"{value:g}"
    return f"{text} {unit}".strip() if unit != "records" else f"{int(value)} records"


def judge(
    ev: Evidence, rows: list[dict[str, Any]], end: float
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Add each row's ``max_lag`` (and, with budgets, ``budgets`` and ``over_budget``);
    return the failures (one per figure over its budget) and the lag before the first
    fault (a row-like dict, or None).

    ``end``: when the run's measured part ended (the last fault window ends there).
    """
    limits = limits_of(ev.spec)
    points = lag_points(ev)
    failures: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        t0 = float(row["t_fault"])
        t1 = float(rows[i + 1]["t_fault"]) if i + 1 < len(rows) else max(end, t0) + 1e-6
        row["max_lag"] = max_lag(points, t0, t1) if points else None
    before: dict[str, Any] | None = None
    first = float(rows[0]["t_fault"]) if rows else None
    t_warm = warmup_end(ev.spec, first)
    if points and t_warm is not None:
        t_stop = first if first is not None else max(end, t_warm) + 1e-6
        if t_stop > t_warm:
            lag = max_lag(points, t_warm, t_stop)
            if lag is not None:
                before = {"fault": BEFORE_FAULTS, "t_fault": t_warm, "max_lag": lag}
    if not limits:
        return failures, before
    judged = [*rows, *([before] if before is not None else [])]
    for row in judged:
        figures = [f for f in LIMITS if f in limits and (row is not before or f == LAG)]
        row["budgets"] = {f: limits[f] for f in figures}
        row["over_budget"] = []
        for figure in figures:
            value = _value(row, figure)
            if value is None or value <= limits[figure]:
                continue
            row["over_budget"].append(figure)
            flag = LIMITS[figure][1]
            failures.append(
                {
                    "fault": row["fault"],
                    "t": row["t_fault"],
                    "figure": figure,
                    "value": value,
                    "budget": limits[figure],
                    "detail": f"{row['fault']}: {figure} {fmt(figure, value)} exceeds the "
                    f"budget {fmt(figure, limits[figure])}" + (f" ({flag})" if flag else ""),
                }
            )
    return failures, before


def explain(limits: Mapping[str, float]) -> str:
    """The budgets in one phrase for the check's explanation (empty without any)."""
    if not limits:
        return ""
    bits = [f"{f} ≤ {fmt(f, v)}" for f, v in limits.items()]
    return "budgets " + ", ".join(bits)
