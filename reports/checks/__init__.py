"""The checks: pure functions from evidence to a :class:`~reports.model.Verdict` each.

Every check follows the same shape: ``check_<name>(ev, facts) -> Verdict``;
the functions that locate anomalies are named ``*_cases``. A check never
raises on odd evidence: missing sources make it inconclusive with the reason.
"""

from __future__ import annotations

from collections.abc import Callable

from reports.checks.duplicates import check_duplicate_in_log, check_redelivered
from reports.checks.integrity import check_corruption, check_invalid_handling
from reports.checks.loss import check_indeterminate, check_lost_from_log, check_never_processed
from reports.checks.ordering import check_key_order, check_partition_order
from reports.checks.rebalance import RebalanceReport, check_rebalance
from reports.checks.vacuity import check_vacuity
from reports.evidence import Evidence
from reports.facts import Facts
from reports.model import Verdict

CHECKS: tuple[Callable[[Evidence, Facts], Verdict], ...] = (
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


def run_checks(ev: Evidence, facts: Facts) -> tuple[list[Verdict], RebalanceReport]:
    """Run every check in the report's order; the rebalance check also returns per-fault rows."""
    verdicts = [check(ev, facts) for check in CHECKS]
    rebalance = check_rebalance(ev, facts)
    verdicts.append(rebalance.verdict)
    verdicts.append(check_vacuity(ev, facts))
    return verdicts, rebalance


__all__ = ["CHECKS", "RebalanceReport", "run_checks"]
