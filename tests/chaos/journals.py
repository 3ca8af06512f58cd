"""Literal Chaos Toolkit journals (the shape chaostoolkit-lib 1.44 writes), for pure tests."""

from __future__ import annotations

from typing import Any

HARNESS_FAILURE = [
    "Traceback (most recent call last):\n",
    '  File "chaoslib/provider/python.py", line 56, in run_python_activity\n    return func(**arguments)\n',
    "riverbed.errors.HarnessError: No running consumer replica named consumer-9; running: "
    "consumer-1, consumer-2, consumer-3.\n  fix: use a name from the running replicas.\n",
    "\nDuring handling of the above exception, another exception occurred:\n\n",
    "chaoslib.exceptions.ActivityFailed: riverbed.errors.HarnessError: No running consumer "
    "replica named consumer-9; running: consumer-1, consumer-2, consumer-3.\n"
    "  fix: use a name from the running replicas.\n",
]


def run(
    name: str,
    kind: str,
    module: str,
    func: str,
    output: Any = None,
    status: str = "succeeded",
    start: str = "2026-11-24T21:00:00.000000+00:00",
    end: str = "2026-11-24T21:00:01.500000+00:00",
    exception: list[str] | None = None,
    tolerance_met: bool | None = None,
) -> dict[str, Any]:
    r: dict[str, Any] = {
        "activity": {
            "type": kind,
            "name": name,
            "provider": {"type": "python", "module": module, "func": func, "arguments": {}},
        },
        "output": output,
        "start": start,
        "status": status,
        "end": end,
        "duration": 1.5,
    }
    if exception:
        r["exception"] = exception
    if tolerance_met is not None:
        r["tolerance_met"] = tolerance_met
    return r


def stable_probe(met: bool = True) -> dict[str, Any]:
    return run(
        "consumer-group-converged", "probe", "riverbed.chaos.local.probes",
        "consumer_group_converged", output=met, tolerance_met=met,
    )  # fmt: skip


def kill(
    output: Any = ("consumer-2",), status: str = "succeeded", exception: Any = None
) -> dict[str, Any]:
    return run(
        "kill-one-consumer", "action", "riverbed.chaos.local.actions", "kill_consumers",
        output=list(output) if output is not None else None, status=status, exception=exception,
        start="2026-11-24T21:00:02.000000+00:00", end="2026-11-24T21:00:02.250000+00:00",
    )  # fmt: skip


def terminate(output: list[str]) -> dict[str, Any]:
    return run(
        "terminate-one-consumer-pod", "action", "chaosk8s.pod.actions", "terminate_pods", output
    )


def restore(status: str = "succeeded", exception: Any = None) -> dict[str, Any]:
    return run(
        "restore-consumer-replicas", "action", "riverbed.chaos.local.actions", "restore_consumers",
        output={"before": 3, "after": 3} if status == "succeeded" else None,
        status=status, exception=exception,
    )  # fmt: skip


def journal(
    method: list[dict[str, Any]],
    before_met: bool | None = True,
    after_met: bool | None = True,
    status: str = "completed",
    deviated: bool = False,
    rollbacks: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    before = (
        None
        if before_met is None
        else {"steady_state_met": before_met, "probes": [stable_probe(before_met)]}
    )
    after = (
        None
        if after_met is None
        else {"steady_state_met": after_met, "probes": [stable_probe(after_met)]}
    )
    return {
        "chaoslib-version": "1.44.0",
        "experiment": {"title": "t", "description": "d", "method": []},
        "start": "2026-11-24T21:00:00.000000+00:00",
        "status": status,
        "deviated": deviated,
        "steady_states": {"before": before, "after": after, "during": []},
        "run": method,
        "rollbacks": rollbacks if rollbacks is not None else [restore()],
        "end": "2026-11-24T21:00:10.000000+00:00",
        "duration": 10.0,
    }
