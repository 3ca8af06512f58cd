"""The checks: pure functions from evidence to a :class:`~reports.model.Verdict` each.

Every check follows the same shape: ``check_<name>(ev, facts) -> Verdict``;
the functions that locate anomalies are named ``*_cases``. A check never
raises on odd evidence: missing sources make it inconclusive with the reason.

Which function judges a check depends on the run's evidence strength
(:mod:`reports.strength`): consumer events (reference, instrumented), the
service's outputs (output-topic), or committed offsets alone (offsets). A
check the strength cannot see is ``n/a``, with the reason. Both are declared
in :mod:`reports.registry`; what a check finds but lets pass, in
:mod:`reports.allowances`.
"""

from __future__ import annotations

from reports.checks.rebalance import RebalanceReport
from reports.evidence import Evidence
from reports.facts import Facts
from reports.model import NOT_APPLICABLE, Verdict
from reports.registry import CHECKS, NotApplicable, resolve
from reports.strength import REFERENCE


def run_checks(ev: Evidence, facts: Facts) -> tuple[list[Verdict], RebalanceReport]:
    """Run every check in the report's order; the rebalance check also returns per-fault rows."""
    strength = ev.strength.name
    verdicts: list[Verdict] = []
    rebalance: RebalanceReport | None = None
    for spec in CHECKS:
        judge = spec.judges.get(strength, spec.judges[REFERENCE])
        if isinstance(judge, NotApplicable):
            verdicts.append(
                Verdict(
                    spec.name,
                    NOT_APPLICABLE,
                    0,
                    f"not applicable at {strength} strength: {judge.why}",
                )
            )
            continue
        result = resolve(judge)(ev, facts)
        if isinstance(result, RebalanceReport):
            rebalance, result = result, result.verdict
        verdicts.append(result)
    assert rebalance is not None, "the rebalance check returns a RebalanceReport"
    return verdicts, rebalance


__all__ = ["RebalanceReport", "run_checks"]
