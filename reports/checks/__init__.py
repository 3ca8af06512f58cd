"""The checks: pure functions from evidence to a :class:`~reports.model.Verdict` each.

Every check follows the same shape: ``check_<name>(ev, facts) -> Verdict``;
the functions that locate anomalies are named ``*_cases``. A check never
raises on odd evidence: missing sources make it inconclusive with the reason.

Which function judges a check depends on the run's evidence strength
(:mod:`reports.strength`): consumer events (reference, instrumented), the
service's outputs (output-topic), or committed offsets alone (offsets). A
check the strength cannot see is ``n/a``, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable

from reports.checks.duplicates import check_duplicate_in_log, check_redelivered
from reports.checks.group_rebalance import check_group_rebalance
from reports.checks.integrity import check_corruption, check_invalid_handling
from reports.checks.loss import check_indeterminate, check_lost_from_log, check_never_processed
from reports.checks.offsets import check_offsets_never_processed, check_offsets_redelivered
from reports.checks.ordering import check_key_order, check_partition_order
from reports.checks.outputs import (
    check_output_corruption,
    check_output_key_order,
    check_output_never_processed,
    check_output_redelivered,
)
from reports.checks.rebalance import RebalanceReport, check_rebalance
from reports.checks.vacuity import check_vacuity
from reports.evidence import Evidence
from reports.facts import Facts
from reports.model import NOT_APPLICABLE, Verdict
from reports.strength import OFFSETS, OUTPUT_TOPIC

Check = Callable[[Evidence, Facts], Verdict]

CHECKS: tuple[Check, ...] = (
    check_lost_from_log,
    check_never_processed,
    check_indeterminate,
    check_duplicate_in_log,
    check_redelivered,
    check_partition_order,
    check_key_order,
    check_corruption,
    check_invalid_handling,
)


def not_applicable(name: str, why: str) -> Check:
    """A check the run's evidence strength cannot see: ``n/a``, never a pass or a failure."""

    def check(ev: Evidence, facts: Facts) -> Verdict:
        return Verdict(
            name, NOT_APPLICABLE, 0, f"not applicable at {ev.strength.name} strength: {why}"
        )

    return check


def _offsets_corruption(ev: Evidence, facts: Facts) -> Verdict:
    v = check_corruption(ev, facts)
    return Verdict(
        v.name,
        v.status,
        v.count,
        v.explanation + " (acknowledged records only: what the group processed is invisible)",
        counts=v.counts,
        examples=v.examples,
    )


#: Per strength without consumer events: the check functions, in the report's order.
BY_STRENGTH: dict[str, tuple[Check, ...]] = {
    OUTPUT_TOPIC: (
        check_lost_from_log,
        check_output_never_processed,
        check_indeterminate,
        check_duplicate_in_log,
        check_output_redelivered,
        not_applicable(
            "partition-order",
            "outputs show which inputs were answered, not the order the service read them in",
        ),
        check_output_key_order,
        check_output_corruption,
        not_applicable(
            "invalid-handling",
            "the service's refusals are not recorded; an unanswered valid input shows as "
            "never-processed, a stalled partition as backlog",
        ),
    ),
    OFFSETS: (
        check_lost_from_log,
        check_offsets_never_processed,
        check_indeterminate,
        check_duplicate_in_log,
        check_offsets_redelivered,
        not_applicable("partition-order", "processing is invisible; only commits are seen"),
        not_applicable("key-order", "processing is invisible; only commits are seen"),
        _offsets_corruption,
        not_applicable("invalid-handling", "refusals are invisible; only commits are seen"),
    ),
}


def run_checks(ev: Evidence, facts: Facts) -> tuple[list[Verdict], RebalanceReport]:
    """Run every check in the report's order; the rebalance check also returns per-fault rows."""
    checks = BY_STRENGTH.get(ev.strength.name, CHECKS)
    verdicts = [check(ev, facts) for check in checks]
    if ev.strength.name in BY_STRENGTH:
        rebalance = check_group_rebalance(ev, facts)
    else:
        rebalance = check_rebalance(ev, facts)
    verdicts.append(rebalance.verdict)
    verdicts.append(check_vacuity(ev, facts))
    return verdicts, rebalance


__all__ = ["BY_STRENGTH", "CHECKS", "RebalanceReport", "run_checks"]
