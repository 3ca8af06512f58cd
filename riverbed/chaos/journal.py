"""Read a Chaos Toolkit journal the way riverbed needs: which faults landed, and why a run proves nothing.

``chaos run`` exits 0 when an action raised (the action is merely marked
``failed``) or when ``terminate_pods`` matched no pod. These pure functions
read the journal instead of trusting the exit code; they are unit-tested on
literal journals.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from riverbed.chaos.control import epoch, error_message, jsonable
from riverbed.chaos.landing import landed, provider_target


@dataclass(frozen=True)
class ActivityOutcome:
    """One activity as it ran."""

    name: str
    """The activity's name in the experiment."""
    kind: str
    """``action`` or ``probe``."""
    phase: str
    """``steady-state-before``, ``method``, ``steady-state-after`` or ``rollback``."""
    status: str
    """``succeeded`` or ``failed`` (Chaos Toolkit's word: it raised or not)."""
    landed: bool | None
    """Actions: whether the fault had an effect; ``None`` for probes."""
    output: Any
    """The provider's return value (JSON, truncated when huge)."""
    error: str | None
    """The failure's message when ``status`` is ``failed``."""
    func: str
    """The provider: ``module.func`` for Python, else its URL or path."""
    t_start: float | None
    """When the provider started, Unix epoch seconds."""
    t_end: float | None
    """When it finished, Unix epoch seconds."""
    tolerance_met: bool | None = None
    """Steady-state probes: whether the output was within tolerance."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _runs(journal: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    states = journal.get("steady_states") or {}
    for key, phase in (("before", "steady-state-before"),):
        for run in (states.get(key) or {}).get("probes") or []:
            yield phase, run
    for run in journal.get("run") or []:
        yield "method", run
    for run in (states.get("after") or {}).get("probes") or []:
        yield "steady-state-after", run
    for run in journal.get("rollbacks") or []:
        yield "rollback", run


def activities(journal: Mapping[str, Any]) -> list[ActivityOutcome]:
    """Every activity of the journal, in the order the phases ran."""
    out = []
    for phase, run in _runs(journal):
        if not isinstance(run, Mapping):
            continue  # a background activity that never finished leaves a placeholder
        activity = run.get("activity") or {}
        status = "succeeded" if run.get("status") == "succeeded" else "failed"
        out.append(
            ActivityOutcome(
                name=str(activity.get("name")),
                kind="action" if activity.get("type") == "action" else "probe",
                phase=phase,
                status=status,
                landed=landed(activity, status, run.get("output")),
                output=jsonable(run.get("output")),
                error=error_message(dict(run)) if status == "failed" else None,
                func=provider_target(activity),
                t_start=epoch(run.get("start")),
                t_end=epoch(run.get("end")),
                tolerance_met=run.get("tolerance_met"),
            )
        )
    return out


def _brief(value: Any, limit: int = 200) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def inconclusive_reasons(journal: Mapping[str, Any] | None) -> list[str]:
    """Why this experiment run proves nothing about the system (empty: its faults landed).

    - the run did not finish (interrupted, aborted) or wrote no journal;
    - the steady state was not met before the method, so no fault was injected;
    - a method action failed, or succeeded without effect (a kill that hit
      nothing, partitions not added);
    - the method injected no fault at all;
    - a rollback failed, so what follows runs on a damaged platform.

    A steady state not met *after* the method is not here: that is a finding
    (the journal's ``deviated``), not a lack of one.
    """
    if not journal:
        return ["chaos wrote no journal"]
    reasons = []
    status = journal.get("status")
    if status in ("interrupted", "aborted"):
        reasons.append(f"the experiment was {status} before it finished")
    before = (journal.get("steady_states") or {}).get("before")
    if before is not None and before.get("steady_state_met") is False:
        failing = [p for p in before.get("probes") or [] if not p.get("tolerance_met", True)] or (
            before.get("probes") or []
        )[-1:]
        names = ", ".join(f"'{(p.get('activity') or {}).get('name')}'" for p in failing)
        reasons.append(
            f"the steady state was not met before the method (probe {names}), "
            "so no fault was injected"
        )
        return reasons
    acts = activities(journal)
    method_actions = [a for a in acts if a.phase == "method" and a.kind == "action"]
    for a in method_actions:
        if a.status == "failed":
            reasons.append(f"action '{a.name}' failed: {a.error or 'no message'}")
        elif not a.landed:
            reasons.append(
                f"action '{a.name}' had no effect ({a.func} returned {_brief(a.output)})"
            )
    if not method_actions and status not in ("interrupted", "aborted"):
        reasons.append("the method has no action: no fault was injected")
    for a in acts:
        if a.phase == "rollback" and a.status == "failed":
            reasons.append(f"rollback '{a.name}' failed: {a.error or 'no message'}")
    return reasons


def any_landed(journal: Mapping[str, Any] | None) -> bool:
    """Whether at least one method action had an effect."""
    return any(
        a.landed for a in activities(journal or {}) if a.phase == "method" and a.kind == "action"
    )
