"""A schedule as experiment files: parameterized copies of riverbed's local experiments.

Each step of a schedule becomes one Chaos Toolkit experiment in the run
directory's ``experiments/``: the experiment it names (a local one, or on kind and
Kubernetes one of ``experiments/``), with the step's
target, duration and parameters written into its configuration as literal
values (so nothing in the environment can change them), the step's delay as a
pause before its first action, and its own id (``r03-1-pause``) — which is the
``experiment`` of its lines in ``faults.jsonl``. The run is then an ordinary
``riverbed run`` of those files, and each file can be run again by hand.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from riverbed.campaign.schedule import KUBE_PLATFORMS, FaultStep, Schedule, templates_for
from riverbed.chaos.runner import experiments_dir


def configuration_values(step: FaultStep, platform: str = "local") -> dict[str, Any]:
    """The template's configuration keys this step sets, and their values."""
    p = dict(step.params)
    k = step.kind
    if platform in KUBE_PLATFORMS:
        return _kube_values(step)
    if k in ("kill", "kill-hard"):
        return {"kill_names": step.target, "kill_count": 1}
    if k == "pause":
        return {"pause_names": step.target, "pause_count": 1, "pause_s": step.duration_s}
    if k in ("partition", "latency", "bandwidth", "reset"):
        values: dict[str, Any] = {
            "net_names": step.target,
            "net_count": 1,
            "net_s": step.duration_s,
            "net_brokers": p.get("brokers", "all"),
        }
        if k == "latency":
            values.update(latency_ms=p["latency_ms"], jitter_ms=p["jitter_ms"])
        if k == "bandwidth":
            values["bandwidth_kbps"] = p["rate_kbps"]
        if k == "reset":
            values["reset_after_ms"] = p["after_ms"]
        return values
    if k == "resize":
        return {"partitions_after": p["partitions"]}
    if k == "scale":
        return {"scale_to": p["replicas"]}
    if k == "broker-kill":
        return {"broker_id": int(step.target or 0), "broker_down_s": step.duration_s}
    if k == "broker-pause":
        return {"broker_id": int(step.target or 0), "broker_pause_s": step.duration_s}
    if k == "poison":
        return {"poison_count": p["count"]}
    raise ValueError(f"unknown fault {k!r}")


def _kube_values(step: FaultStep) -> dict[str, Any]:
    """Kubernetes experiments pick their pods: only durations and counts are set."""
    p = dict(step.params)
    k = step.kind
    if k == "pause":
        return {"pause_s": int(step.duration_s or 0)}
    if k in ("partition", "reset"):
        return {"net_count": 1, "net_s": step.duration_s, "net_brokers": p.get("brokers", "all")}
    if k == "resize":
        return {"partitions_after": p["partitions"]}
    if k == "scale":
        return {"scale_to": p["replicas"]}
    if k == "poison":
        return {"poison_count": p["count"]}
    if k in ("kill", "kill-hard", "broker-kill"):
        return {}
    raise ValueError(f"fault {k!r} has no Kubernetes experiment")


def experiment_for(
    step: FaultStep, schedule: Schedule, position: int, platform: str = "local"
) -> dict[str, Any]:
    """The experiment of one step on ``platform`` (pure: the template file is its only
    input)."""
    # External Kafka runs the local experiments: its consumers run on this machine.
    folder = experiments_dir("kind" if platform in KUBE_PLATFORMS else "local")
    template = folder / f"{templates_for(platform)[step.kind]}.json"
    exp = copy.deepcopy(json.loads(template.read_text()))
    ident = f"{schedule.name}-{position}-{step.kind}"
    exp["title"] = f"{schedule.name} step {position}: {step.describe()} — {exp['title']}"
    for ext in exp.get("extensions", []):
        if ext.get("name") == "riverbed":
            ext["id"] = ident
            ext["campaign"] = {"seed": schedule.seed, "run": schedule.name, "step": position}
    config = exp.setdefault("configuration", {})
    for key, value in configuration_values(step, platform).items():
        if key not in config:
            raise ValueError(f"{template.name} has no configuration {key!r}")
        config[key] = value
    first = next(a for a in exp["method"] if a.get("type") == "action")
    if step.delay_s > 0:
        pauses = dict(first.get("pauses") or {})
        pauses["before"] = float(pauses.get("before", 0)) + step.delay_s
        first["pauses"] = pauses
    return exp


def write_experiments(schedule: Schedule, folder: Path, platform: str = "local") -> list[Path]:
    """Write the schedule's experiments for ``platform`` into ``folder``; their paths, in
    order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for position, step in enumerate(schedule.steps, start=1):
        exp = experiment_for(step, schedule, position, platform)
        path = folder / f"{position}-{step.kind}.json"
        path.write_text(json.dumps(exp, indent=2) + "\n")
        paths.append(path)
    (folder / "schedule.json").write_text(json.dumps(schedule.to_dict(), indent=2) + "\n")
    return paths
