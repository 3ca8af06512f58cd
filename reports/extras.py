"""Summaries of what other tools left in the run directory: Chaos Toolkit and Locust.

Both are optional: a missing file is noted, never fatal, and a damaged one is
summarised as far as it can be read.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from workloads.evidence.schema import RunLayout

LOCUST_COLUMNS = (
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "95%",
    "99%",
    "Max Response Time",
    "Requests/s",
)


def chaos_journals(run_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """One summary per ``chaos/*.journal.json``; and notes on what could not be read."""
    layout = RunLayout(run_dir)
    out: list[dict[str, Any]] = []
    notes: list[str] = []
    paths = sorted(layout.chaos_dir.glob("*.journal.json")) if layout.chaos_dir.is_dir() else []
    if not paths:
        notes.append("no Chaos Toolkit journal (chaos/*.journal.json)")
    for path in paths:
        try:
            j = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            notes.append(f"{path.name}: could not be read ({exc})")
            continue
        if not isinstance(j, dict):
            notes.append(f"{path.name}: not a journal object")
            continue
        exp = _dict(j.get("experiment"))
        states = _dict(j.get("steady_states"))
        out.append(
            {
                "file": path.name,
                "title": exp.get("title") or path.stem,
                "status": j.get("status"),
                "deviated": j.get("deviated"),
                "start": j.get("start"),
                "end": j.get("end"),
                "duration": _num(j.get("duration")),
                "before_met": _met(states.get("before")),
                "after_met": _met(states.get("after")),
                "activities": [_activity(a) for a in j.get("run") or [] if isinstance(a, dict)],
                "rollbacks": [
                    _activity(a) for a in j.get("rollbacks") or [] if isinstance(a, dict)
                ],
            }
        )
    return out, notes


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _met(state: Any) -> Any:
    if isinstance(state, dict):
        return state.get("steady_state_met")
    return None


def _num(v: Any) -> float | None:
    return round(float(v), 3) if isinstance(v, int | float) else None


def _activity(a: dict[str, Any]) -> dict[str, Any]:
    act = _dict(a.get("activity"))
    output = a.get("output")
    text = json.dumps(output, default=str) if output is not None else ""
    exc = a.get("exception")
    if isinstance(exc, list):
        exc = "".join(str(x) for x in exc).strip().splitlines()[-1:] or [""]
        exc = exc[0]
    return {
        "name": act.get("name"),
        "type": act.get("type"),
        "status": a.get("status"),
        "start": a.get("start"),
        "duration": _num(a.get("duration")),
        "output": text if len(text) <= 160 else text[:160] + "…",
        "exception": exc,
    }


def locust_summary(run_dir: Path, out_dir: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """The Locust stats (``*_stats.csv``), failures and history, and its HTML report."""
    layout = RunLayout(run_dir)
    notes: list[str] = []
    d = layout.locust_dir
    stats_files = sorted(d.glob("*_stats.csv")) if d.is_dir() else []
    html = sorted(d.glob("*.html")) if d.is_dir() else []
    if not stats_files and not html:
        notes.append("no Locust results (locust/*_stats.csv)")
        return None, notes
    out: dict[str, Any] = {"stats": [], "failures": [], "history": {}, "html": []}
    for path in stats_files:
        rows = _csv(path, notes)
        for r in rows:
            out["stats"].append({c: r.get(c, "") for c in LOCUST_COLUMNS})
        prefix = path.name[: -len("_stats.csv")]
        for r in _csv(d / f"{prefix}_failures.csv", notes, optional=True):
            out["failures"].append(r)
        hist = _csv(d / f"{prefix}_stats_history.csv", notes, optional=True)
        agg = [r for r in hist if r.get("Name") == "Aggregated"] or hist
        if agg:
            out["history"] = {
                "points": len(agg),
                "peak_users": max((_int(r.get("User Count")) for r in agg), default=0),
                "peak_rps": max((_float(r.get("Requests/s")) for r in agg), default=0.0),
                "t": [_float(r.get("Timestamp")) for r in agg],
                "users": [_int(r.get("User Count")) for r in agg],
                "rps": [_float(r.get("Requests/s")) for r in agg],
            }
    for path in html:
        try:
            rel = Path(_relpath(path, out_dir))
        except ValueError:
            rel = path
        out["html"].append(str(rel))
    return out, notes


def _relpath(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(path.resolve(), start.resolve())


def _csv(path: Path, notes: list[str], optional: bool = False) -> list[dict[str, str]]:
    if not path.exists():
        if not optional:
            notes.append(f"{path.name} is missing")
        return []
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return [dict(r) for r in csv.DictReader(fh)]
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        notes.append(f"{path.name}: could not be read ({exc})")
        return []


def _int(v: Any) -> int:
    try:
        return int(float(v))
    except (TypeError, ValueError):
        return 0


def _float(v: Any) -> float:
    try:
        return round(float(v), 3)
    except (TypeError, ValueError):
        return 0.0
