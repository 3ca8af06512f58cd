"""``riverbed compare``: runs side by side — settings, verdicts, and rebalance figures per fault.

Reads run directories only (spec.json and the evidence, checked afresh with the
same pure checks as ``riverbed report``), never Kafka. Runs are compared fault by
fault: their *fault schedules* (the landed faults' names, in order) must be the
same, or the comparison is refused — two runs whose faults differ say nothing
about each other. ``align_by_name`` aligns faults by name instead (the n-th
fault of a name with the n-th of that name in every other run); a fault missing
from a run shows as missing there. Timelines are drawn on one time axis: seconds
since each run's first fault.

The pure core works on :class:`RunData` (plain values): :func:`load_run` builds
one from a run directory, :func:`compare` builds the comparison (JSON-able).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COMPARE_VERSION = 1

#: Settings shown side by side (spec.json keys; dotted for nested ones), in this order.
SETTINGS: tuple[tuple[str, str], ...] = (
    ("client", "client"),
    ("group_protocol", "group protocol"),
    ("assignor", "assignor"),
    ("commit_mode", "commit mode"),
    ("session_timeout_ms", "session timeout (ms)"),
    ("group_configs", "group configs (broker-side)"),
    ("consumers", "consumers"),
    ("partitions", "partitions"),
    ("brokers", "brokers"),
    ("processing_ms", "processing (ms per record)"),
    ("consumer_evidence", "evidence strength"),
    ("platform", "platform"),
    ("experiments", "experiments"),
    ("load.users", "load: users"),
    ("load.user_rate", "load: sends/s per user"),
    ("load.duration_s", "load: duration (s)"),
    ("limits", "recovery budgets (--max-recovery, --max-lag)"),
)
#: Defaults of settings older runs did not record.
SETTING_DEFAULTS = {
    "client": "kafka-python",
    "group_protocol": "classic",
    "consumer_evidence": "reference",
}
#: Per-fault figures: (key, label). Keys name fields of the
#: summary's ``rebalances`` rows, or derived ones (see :func:`figure_value`).
FIGURES: tuple[tuple[str, str], ...] = (
    ("time_to_stable_s", "time to a stable group (s)"),
    ("time_to_full_ownership_s", "time to full ownership (s)"),
    ("max_processing_gap_s", "longest processing gap, orphaned partitions (s)"),
    ("max_gap_moved_s", "longest processing gap, moved partitions (s)"),
    ("max_lag", "highest lag (records)"),
    ("paused", "partitions paused (left without an owner)"),
    ("moved", "partitions moved to another member"),
    ("kept_consuming", "members the fault did not hit that kept all partitions and consumed"),
    ("unaffected_max_gap_s", "longest processing gap of a member the fault did not hit (s)"),
    ("first_consumption_s", "added partitions: time to first consumption, slowest (s)"),
    ("rebalances", "rebalance rounds"),
    ("spurious_rebalances", "spurious rebalance rounds"),
    ("overlaps", "overlapping owners"),
    ("fenced", "members fenced (fenced lines)"),
    ("commits_rejected", "commits rejected"),
    ("lost", "partitions lost (lost lines)"),
)


class CompareError(Exception):
    """Runs that cannot be compared (bad input, or fault schedules that differ)."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


@dataclass
class RunData:
    """One run, as the comparison needs it."""

    run_id: str
    spec: dict[str, Any]
    verdict: str
    checks: dict[str, str]
    """check name → status."""
    rebalances: list[dict[str, Any]]
    """The summary's per-fault rows (landed faults, in time order)."""
    t_start: float = 0.0
    """The time the timelines are relative to (epoch s)."""
    rates: dict[str, list[float]] = field(default_factory=dict)
    """``t`` (s since ``t_start``), ``processed`` and ``acknowledged`` per second."""
    lag: dict[str, list[float]] = field(default_factory=dict)
    """``t`` (s since ``t_start``) and ``lag``."""
    faults: list[dict[str, Any]] = field(default_factory=list)
    """Landed faults: ``name``, ``start``, ``end`` (s since ``t_start``)."""
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def schedule(self) -> list[str]:
        """The landed faults' names, in order."""
        return [str(r["fault"]) for r in self.rebalances]

    @property
    def t_ref(self) -> float:
        """Time zero of the shared axis: the first fault (else the run's start), epoch s."""
        if self.rebalances:
            return float(self.rebalances[0]["t_fault"])
        return self.t_start


@dataclass(frozen=True)
class AlignedFault:
    """One fault, as it occurred in each run (None where it did not)."""

    name: str
    occurrence: int
    """1 for the first fault of this name in a run, 2 for the second…"""
    rows: tuple[dict[str, Any] | None, ...]


def align_faults(runs: Sequence[RunData], by_name: bool = False) -> list[AlignedFault]:
    """The runs' faults side by side.

    By position (the default): every run must have the same fault schedule, else
    :class:`CompareError`. By name: the n-th fault of a name in each run, in the
    order faults first appear; missing occurrences are None.
    """
    if not runs:
        return []
    if not by_name:
        schedules = [r.schedule for r in runs]
        if any(s != schedules[0] for s in schedules[1:]):
            listing = "; ".join(f"{r.run_id}: {', '.join(r.schedule) or 'no fault'}" for r in runs)
            raise CompareError(
                f"The runs' fault schedules differ ({listing}): their faults cannot be "
                "compared one to one.",
                fix="compare runs of the same experiments, or pass --align-by-name to match "
                "faults by name.",
            )
        return [
            AlignedFault(name, _occurrence(schedules[0], i), tuple(r.rebalances[i] for r in runs))
            for i, name in enumerate(schedules[0])
        ]
    keys: list[tuple[str, int]] = []
    per_run: list[dict[tuple[str, int], dict[str, Any]]] = []
    for r in runs:
        seen: dict[str, int] = {}
        mine: dict[tuple[str, int], dict[str, Any]] = {}
        for row in r.rebalances:
            name = str(row["fault"])
            seen[name] = seen.get(name, 0) + 1
            key = (name, seen[name])
            mine[key] = row
            if key not in keys:
                keys.append(key)
        per_run.append(mine)
    return [AlignedFault(n, k, tuple(m.get((n, k)) for m in per_run)) for n, k in keys]


def _occurrence(schedule: Sequence[str], i: int) -> int:
    return sum(1 for name in schedule[: i + 1] if name == schedule[i])


def setting_value(spec: dict[str, Any], key: str) -> Any:
    """A spec setting by (dotted) key; the recorded default for older runs."""
    value: Any = spec
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        value = SETTING_DEFAULTS.get(key)
    return value


def settings_rows(runs: Sequence[RunData]) -> list[dict[str, Any]]:
    """Each setting with its value per run and whether the runs differ on it."""
    rows = []
    for key, label in SETTINGS:
        values = [setting_value(r.spec, key) for r in runs]
        shown = [json.dumps(v, sort_keys=True) for v in values]
        rows.append(
            {"setting": key, "label": label, "values": values, "differs": len(set(shown)) > 1}
        )
    return rows


def verdict_rows(runs: Sequence[RunData]) -> list[dict[str, Any]]:
    """Each check with its status per run (None where a run lacks it)."""
    names: list[str] = []
    for r in runs:
        names += [n for n in r.checks if n not in names]
    return [
        {
            "check": n,
            "statuses": [r.checks.get(n) for r in runs],
            "differs": len({r.checks.get(n) for r in runs}) > 1,
        }
        for n in names
    ]


def figure_value(row: dict[str, Any] | None, key: str) -> Any:
    """One per-fault figure from a summary row (None when the row or the figure is absent)."""
    if row is None:
        return None
    if key == "paused":
        v = row.get("paused_partitions", row.get("orphaned_partitions"))
        return len(v) if isinstance(v, list) else None
    if key == "moved":
        v = row.get("moved_partitions")
        return len(v) if isinstance(v, list) else None
    if key == "kept_consuming":
        n = row.get("unaffected_members")
        if not isinstance(n, int) or n == 0:
            return None
        return f"{row.get('members_kept_consuming', 0)} of {n}"
    if key == "first_consumption_s":
        v = row.get("first_consumption_s")
        return max(v.values()) if isinstance(v, dict) and v else None
    if key in ("fenced", "commits_rejected", "lost"):
        fencing = row.get("fencing")
        return fencing.get(key) if isinstance(fencing, dict) else None
    return row.get(key)


def fault_figures(
    aligned: Sequence[AlignedFault], t_refs: Sequence[float] | None = None
) -> list[dict[str, Any]]:
    """Per aligned fault, each figure's value per run (figures no run has are left out),
    and when it struck, in seconds since its run's ``t_refs`` (its first fault)."""
    out = []
    for a in aligned:
        figures = []
        for key, label in FIGURES:
            values = [figure_value(row, key) for row in a.rows]
            if all(v is None for v in values):
                continue
            figure: dict[str, Any] = {"figure": key, "label": label, "values": values}
            budgets = [(row or {}).get("budgets", {}).get(key) for row in a.rows]
            if any(b is not None for b in budgets):
                # Each run's budget for this figure, and whether the figure broke it.
                figure["budgets"] = budgets
                figure["over_budget"] = [
                    key in ((row or {}).get("over_budget") or []) for row in a.rows
                ]
            figures.append(figure)
        t_rel = [
            None if row is None or t_refs is None else round(float(row["t_fault"]) - t_refs[i], 3)
            for i, row in enumerate(a.rows)
        ]
        out.append(
            {
                "fault": a.name,
                "occurrence": a.occurrence,
                "present": [row is not None for row in a.rows],
                "t_since_first_fault_s": t_rel,
                "figures": figures,
            }
        )
    return out


def timelines(runs: Sequence[RunData]) -> list[dict[str, Any]]:
    """Each run's throughput, lag and fault windows on the shared axis (s since its first fault)."""
    out = []
    for r in runs:
        shift = r.t_start - r.t_ref
        out.append(
            {
                "run_id": r.run_id,
                "rates": {
                    "t": [round(t + shift, 3) for t in r.rates.get("t", [])],
                    "processed": list(r.rates.get("processed", [])),
                    "acknowledged": list(r.rates.get("acknowledged", [])),
                },
                "lag": {
                    "t": [round(t + shift, 3) for t in r.lag.get("t", [])],
                    "lag": list(r.lag.get("lag", [])),
                },
                "faults": [
                    {
                        "name": f["name"],
                        "start": round(f["start"] + shift, 3),
                        "end": round(f["end"] + shift, 3),
                    }
                    for f in r.faults
                ],
            }
        )
    return out


def compare(runs: Sequence[RunData], align_by_name: bool = False) -> dict[str, Any]:
    """The comparison of ``runs`` (at least two), JSON-able; raises :class:`CompareError`."""
    if len(runs) < 2:
        raise CompareError(
            "Give at least two run directories to compare.",
            fix="riverbed compare RUN_DIR RUN_DIR [...]",
        )
    ids = [r.run_id for r in runs]
    if len(set(ids)) < len(ids):
        raise CompareError(
            f"A run is given twice ({', '.join(ids)}).", fix="give each run directory once."
        )
    aligned = align_faults(runs, by_name=align_by_name)
    figures = fault_figures(aligned, [r.t_ref for r in runs])
    return {
        "v": COMPARE_VERSION,
        "aligned_by": "name" if align_by_name else "position",
        "runs": [
            {
                "run_id": r.run_id,
                "verdict": r.verdict,
                "schedule": r.schedule,
                "counts": r.counts,
                "label": run_label(r),
            }
            for r in runs
        ],
        "settings": settings_rows(runs),
        "verdicts": verdict_rows(runs),
        "faults": figures,
        "timelines": timelines(runs),
    }


def run_label(r: RunData) -> str:
    """A short name for a run in legends: its id, then client/protocol/assignor/commit mode."""
    bits = [
        str(setting_value(r.spec, k))
        for k in ("client", "group_protocol", "assignor", "commit_mode")
        if setting_value(r.spec, k) is not None
    ]
    return f"{r.run_id} ({', '.join(bits)})" if bits else r.run_id


def load_run(run_dir: Path | str) -> RunData:
    """Check one run directory afresh (the report's pure checks) and keep what compare needs."""
    from reports.pipeline import ReportError, analyse, check_run_dir

    path = Path(run_dir)
    try:
        # What is no run directory at all is bad input, not a run to call inconclusive.
        check_run_dir(path)
        summary, ev, metrics = analyse(path)
    except ReportError as exc:
        raise CompareError(f"{path}: {exc.message}", fix=exc.fix) from exc
    return RunData(
        run_id=summary.run_id,
        spec=dict(ev.spec),
        verdict=summary.verdict,
        checks={v.name: v.status for v in summary.checks},
        rebalances=[dict(r) for r in summary.rebalances],
        t_start=metrics.t0,
        rates=dict(metrics.rates),
        lag=dict(metrics.lag),
        faults=[f for f in metrics.faults if f.get("landed")],
        counts=dict(summary.counts),
    )


def default_out_dir(run_dirs: Sequence[Path]) -> Path:
    """``compare-<run>-vs-<run>…`` beside the first run directory."""
    names = "-vs-".join(Path(p).resolve().name for p in run_dirs)
    return Path(run_dirs[0]).resolve().parent / f"compare-{names}"[:150]
