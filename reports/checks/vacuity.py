"""Vacuity: a run that proves nothing is never a pass.

Inconclusive when no fault landed (a pod kill that matched nothing, a fault
timeline that is missing) — unless the run is a baseline without faults on
purpose (spec.json ``no_faults``, ``riverbed run --no-faults``), whose verdict
rests on the load alone — when nothing was acknowledged, or when either
drain did not finish (spec.json ``drain`` / ``log_drain`` missing or false).
At output-topic strength the output drain must have finished too
(``output_drain``); at output-topic and offsets strength the group snapshots
must exist (they are the only view of the group). A ``consumer_evidence``
this riverbed does not know proves nothing either.

An experiment of the run that did not do what it planned (spec.json ``chaos``
entries with ``inconclusive_reasons``: its steady state was not met before the
method so no fault was injected, an action failed or hit nothing, a rollback
failed, the run was interrupted) makes the run inconclusive too: a pass would
claim survival of a fault that never happened, and a group that was not steady
before a fault is itself something to look at.
"""

from __future__ import annotations

from typing import Any

from reports.checks.common import plural
from reports.evidence import Evidence
from reports.facts import Facts
from reports.model import INCONCLUSIVE, PASS, Verdict
from reports.registry import VACUITY
from reports.strength import OFFSETS, OUTPUT_TOPIC


def vacuity_reasons(ev: Evidence, facts: Facts) -> list[str]:
    reasons: list[str] = []
    baseline = ev.spec.get("no_faults") is True
    if baseline:
        # A baseline on purpose (`riverbed run --no-faults`): its verdict rests on the load
        # alone, so no fault is not a reason; a fault that did land is reported as usual.
        pass
    elif ev.faults is None:
        reasons.append("no fault timeline (evidence/faults.jsonl is missing or unreadable)")
    else:
        actions = [f for f in ev.faults if f.is_fault]
        if not any(f.landed for f in actions):
            reasons.append(
                f"no fault landed ({plural(len(actions), 'action')} recorded, none had an effect)"
            )
    if ev.acks is None:
        reasons.append("no send outcomes were recorded")
    elif facts.acknowledged == 0:
        reasons.append("no load was acknowledged")
    if ev.strength_problem:
        reasons.append(ev.strength_problem)
    drains = [("drain", "the consumer group"), ("log_drain", "the log drain")]
    if ev.strength.name == OUTPUT_TOPIC:
        drains.append(("output_drain", "the output drain"))
        if ev.outputs is None:
            reasons.append("the service's outputs were not drained (evidence/output.jsonl)")
    if ev.strength.name in (OUTPUT_TOPIC, OFFSETS) and not ev.group:
        reasons.append(
            f"no group snapshots (evidence/group.jsonl): at {ev.strength.name} strength "
            f"they are the only view of the group"
        )
    for name, why in experiments_not_as_planned(ev.spec):
        reasons.append(f"experiment {name}: {why}")
    for key, what in drains:
        drain = ev.spec.get(key)
        if not isinstance(drain, dict) or "finished" not in drain:
            reasons.append(f"spec.json does not say whether {what} finished ({key})")
        elif drain.get("finished") is not True:
            detail = drain.get("detail")
            reasons.append(
                f"{what} did not finish before its deadline" + (f" ({detail})" if detail else "")
            )
    return reasons


def experiments_not_as_planned(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(experiment name, reason) for each reason spec.json's ``chaos`` entries give."""
    out = []
    for entry in spec.get("chaos") or ():
        if not isinstance(entry, dict):
            continue
        name = str(entry.get("name") or entry.get("experiment") or "?")
        out += [(name, str(r)) for r in entry.get("inconclusive_reasons") or ()]
    return out


def check_vacuity(ev: Evidence, facts: Facts) -> Verdict:
    reasons = vacuity_reasons(ev, facts)
    landed = sum(1 for f in ev.faults or () if f.is_fault and f.landed)
    counts = {"faults-landed": landed, "acknowledged": facts.acknowledged, "reasons": len(reasons)}
    if reasons:
        return Verdict(
            VACUITY,
            INCONCLUSIVE,
            len(reasons),
            "the run proves nothing: " + "; ".join(reasons),
            counts=counts,
            examples=tuple({"detail": r} for r in reasons),
        )
    what = (
        "a baseline without faults (--no-faults)"
        if ev.spec.get("no_faults") is True and not landed
        else f"{plural(landed, 'fault')} landed"
    )
    return Verdict(
        VACUITY,
        PASS,
        0,
        f"{what}, {facts.acknowledged} messages acknowledged, "
        f"{'every drain' if ev.strength.name == OUTPUT_TOPIC else 'both drains'} finished",
        counts=counts,
    )
