"""How long a consumer group took to recover from each consumer kill, from a run's evidence.

A measurement helper over ``evidence/faults.jsonl`` and ``evidence/group.jsonl``
(pure functions; the report module computes its own rebalance verdicts). For
each kill that landed (``kill_consumers``, ``terminate_pods``):

- ``t_fault``: when the action started (the signal is sent at its start);
- ``killed_members``: the group members (member ids) of the killed replicas or
  pods just before the fault (their client ids are ``<replica>-<hex>``);
- ``time_to_change_s``: until the coordinator's view first changed (a state
  other than Stable, or other members);
- ``time_to_evicted_s``: until no killed member is in the group any more (a
  graceful stop leaves at once; a hard kill waits for the session timeout);
- ``time_to_recovered_s``: until the first snapshot that is Stable, has every
  partition owned by exactly one member, none of the killed members, and as
  many members as before.

Times are bounded by the monitor's snapshot interval (~0.5 s).

Run ``python -m riverbed.chaos.recovery RUN_DIR`` to print them as JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from riverbed.chaos.groups import GroupView, assignment_problems

KILL_FUNCS = (
    "riverbed.chaos.local.actions.kill_consumers",
    "chaosk8s.pod.actions.terminate_pods",
)


def _view(snapshot: Mapping[str, Any]) -> GroupView:
    members = {str(m): [int(p) for p in parts] for m, parts in snapshot["members"].items()}
    info = snapshot.get("member_info")
    return GroupView(str(snapshot["state"]), members, dict(info) if isinstance(info, dict) else {})


def kill_recoveries(
    faults: Iterable[Mapping[str, Any]], snapshots: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One measurement per landed consumer kill (see the module docstring)."""
    snaps = sorted(snapshots, key=lambda s: s["t"])
    out = []
    for fault in faults:
        if fault.get("kind") != "action" or fault.get("func") not in KILL_FUNCS:
            continue
        if fault.get("status") != "succeeded" or not fault.get("output"):
            continue
        t_fault = float(fault["t_start"])
        killed = [str(n) for n in fault["output"]]
        before = [s for s in snaps if s["t"] <= t_fault]
        after = [s for s in snaps if s["t"] > t_fault]
        result: dict[str, Any] = {
            "experiment": fault.get("experiment"),
            "activity": fault.get("activity"),
            "t_fault": t_fault,
            "killed": killed,
            "killed_members": [],
            "time_to_change_s": None,
            "time_to_evicted_s": None,
            "time_to_recovered_s": None,
        }
        out.append(result)
        if not before:
            continue
        last = _view(before[-1])
        # Killed replicas by client id (``<replica>-<hex>``); old snapshots are keyed by it.
        dead = sorted(
            m for m in last.members if any(last.client_id(m).startswith(f"{k}-") for k in killed)
        )
        result["killed_members"] = dead
        for snap in after:
            view = _view(snap)
            if result["time_to_change_s"] is None and (
                view.state != "Stable" or set(view.members) != set(last.members)
            ):
                result["time_to_change_s"] = round(snap["t"] - t_fault, 3)
            if result["time_to_evicted_s"] is None and not set(dead) & set(view.members):
                result["time_to_evicted_s"] = round(snap["t"] - t_fault, 3)
            recovered = (
                not assignment_problems(view, int(snap["partitions"]))
                and not set(dead) & set(view.members)
                and len(view.members) == len(last.members)
            )
            if recovered:
                result["time_to_recovered_s"] = round(snap["t"] - t_fault, 3)
                break
    return out


def _read(path: Path) -> list[dict[str, Any]]:
    records = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # a truncated last line
    return records


def run_dir_recoveries(run_dir: Path | str) -> list[dict[str, Any]]:
    """:func:`kill_recoveries` over a run directory's evidence."""
    evidence = Path(run_dir) / "evidence"
    return kill_recoveries(_read(evidence / "faults.jsonl"), _read(evidence / "group.jsonl"))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m riverbed.chaos.recovery RUN_DIR", file=sys.stderr)
        return 2
    print(json.dumps(run_dir_recoveries(args[0]), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
