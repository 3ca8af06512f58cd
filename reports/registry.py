"""Every check of the report, declared once: name, what it proves, where it applies, its counts.

The report's order of checks, their names in the verdict vocabulary, the
function that judges each at each evidence strength (or why it cannot), the
figures a check lends to ``summary.json`` ``counts``, and the list the
``riverbed report --help`` text shows all come from :data:`CHECKS`. What a
check finds but lets pass is declared in :mod:`reports.allowances`.

Judges are named ``"module:function"`` and imported when the checks run: this
module loads no columnar engine, so the CLI's help can read it.

Adding a check: a name constant, one :class:`CheckSpec` in :data:`CHECKS`, and
its judge functions (``check(ev, facts) -> Verdict``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reports.strength import INSTRUMENTED, OFFSETS, OUTPUT_TOPIC, REFERENCE, STRENGTHS

LOST_FROM_LOG = "lost-from-log"
NEVER_PROCESSED = "never-processed"
INDETERMINATE = "indeterminate"
DUPLICATE_IN_LOG = "duplicate-in-log"
REDELIVERED = "redelivered"
PARTITION_ORDER = "partition-order"
KEY_ORDER = "key-order"
CORRUPTION = "corruption"
INVALID_HANDLING = "invalid-handling"
REBALANCE = "rebalance"
VACUITY = "vacuity"


@dataclass(frozen=True)
class NotApplicable:
    """A check the evidence of a strength cannot see: ``n/a``, never a pass or a failure."""

    why: str
    """What the evidence lacks, for the report."""


@dataclass(frozen=True)
class SummaryCount:
    """One figure of ``summary.json`` ``counts``, read from a check's own counts."""

    key: str
    """The key in ``summary.json`` ``counts``."""
    source: str = ""
    """The key in the check's counts (default: the same)."""
    strengths: frozenset[str] = frozenset(STRENGTHS)
    """Where it is reported (a figure only some evidence has comes after the others)."""

    @property
    def read_from(self) -> str:
        return self.source or self.key


Judge = str | NotApplicable
"""``"module:function"`` judging a check, or why the strength cannot."""


@dataclass(frozen=True)
class CheckSpec:
    """One check: what it is called, what a pass proves, and how it is judged."""

    name: str
    """The check's name in the verdict vocabulary (docs/report.md, "The checks")."""
    proves: str
    """What a pass proves, in one line (``riverbed report --help``, the report's table)."""
    judges: Mapping[str, Judge]
    """Per evidence strength, the function that judges it, or why it cannot be judged."""
    counts: tuple[SummaryCount, ...] = field(default_factory=tuple)
    """Its figures in ``summary.json`` ``counts``."""

    def judge(self, strength: str) -> Judge:
        return self.judges[strength]

    def applies_at(self, strength: str) -> bool:
        return not isinstance(self.judges[strength], NotApplicable)


def judged(
    events: str, output_topic: Judge | None = None, offsets: Judge | None = None
) -> dict[str, Judge]:
    """Judges per strength: ``events`` for consumer events (reference, instrumented), and
    the same function at the weaker strengths unless they are given."""
    return {
        REFERENCE: events,
        INSTRUMENTED: events,
        OUTPUT_TOPIC: events if output_topic is None else output_topic,
        OFFSETS: events if offsets is None else offsets,
    }


_COMMITS_ONLY = "processing is invisible; only commits are seen"

#: The checks, in the order the report shows them.
CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(
        LOST_FROM_LOG,
        "every acknowledged message is in the drained log, where it was acknowledged",
        judged("reports.checks.loss:check_lost_from_log"),
        (SummaryCount("lost-from-log"),),
    ),
    CheckSpec(
        NEVER_PROCESSED,
        "each log record below the final committed offset was processed or refused",
        judged(
            "reports.checks.loss:check_never_processed",
            output_topic="reports.checks.outputs:check_output_never_processed",
            offsets="reports.checks.offsets:check_offsets_never_processed",
        ),
        (
            SummaryCount("never-processed"),
            SummaryCount("backlog"),
            SummaryCount("outputs", strengths=frozenset({OUTPUT_TOPIC})),
            SummaryCount("unidentified-outputs", strengths=frozenset({OUTPUT_TOPIC})),
        ),
    ),
    CheckSpec(
        INDETERMINATE,
        "sends of unknown outcome are accounted for: in the log (recovered) or not",
        judged("reports.checks.loss:check_indeterminate"),
        (SummaryCount("indeterminate"), SummaryCount("recovered")),
    ),
    CheckSpec(
        DUPLICATE_IN_LOG,
        "no message is in the log at two offsets",
        judged("reports.checks.duplicates:check_duplicate_in_log"),
        (SummaryCount("duplicate-in-log"),),
    ),
    CheckSpec(
        REDELIVERED,
        "no offset was processed twice, except where an allowance permits it",
        judged(
            "reports.checks.duplicates:check_redelivered",
            output_topic="reports.checks.outputs:check_output_redelivered",
            offsets="reports.checks.offsets:check_offsets_redelivered",
        ),
        (SummaryCount("redelivered"),),
    ),
    CheckSpec(
        PARTITION_ORDER,
        "each owner processed contiguous offsets upwards from the committed offset",
        judged(
            "reports.checks.ordering:check_partition_order",
            output_topic=NotApplicable(
                "outputs show which inputs were answered, not the order the service read them in"
            ),
            offsets=NotApplicable(_COMMITS_ONLY),
        ),
    ),
    CheckSpec(
        KEY_ORDER,
        "every key's messages were first processed in seq order",
        judged(
            "reports.checks.ordering:check_key_order",
            output_topic="reports.checks.outputs:check_output_key_order",
            offsets=NotApplicable(_COMMITS_ONLY),
        ),
    ),
    CheckSpec(
        CORRUPTION,
        "no acknowledged, processed or answered record is corrupt",
        {
            **judged(
                "reports.checks.integrity:check_corruption",
                output_topic="reports.checks.outputs:check_output_corruption",
                offsets="reports.checks.offsets:check_offsets_corruption",
            ),
            INSTRUMENTED: "reports.checks.integrity:check_instrumented_corruption",
        },
    ),
    CheckSpec(
        INVALID_HANDLING,
        "refused records were reported invalid and did not stall their partition",
        {
            **judged(
                "reports.checks.integrity:check_invalid_handling",
                output_topic=NotApplicable(
                    "the service's refusals are not recorded; an unanswered valid input shows "
                    "as never-processed, a stalled partition as backlog"
                ),
                offsets=NotApplicable("refusals are invisible; only commits are seen"),
            ),
            INSTRUMENTED: NotApplicable(
                "the consumer API does not show whether the application refused a record; "
                "a skipped record shows as never-processed, a stalled partition as backlog"
            ),
        },
        (SummaryCount("invalid"),),
    ),
    CheckSpec(
        REBALANCE,
        "after each fault every partition regained one owner, without lasting damage",
        judged(
            "reports.checks.rebalance:check_rebalance",
            output_topic="reports.checks.group_rebalance:check_group_rebalance",
            offsets="reports.checks.group_rebalance:check_group_rebalance",
        ),
    ),
    CheckSpec(
        VACUITY,
        "the run proves something: a fault landed, load was acked, every drain finished",
        judged("reports.checks.vacuity:check_vacuity"),
    ),
)

#: The checks' names, in the report's order.
CHECK_NAMES: tuple[str, ...] = tuple(c.name for c in CHECKS)

BY_NAME: dict[str, CheckSpec] = {c.name: c for c in CHECKS}


def summary_counts(strength: str) -> list[tuple[str, str, str]]:
    """``(summary key, check, the check's counts key)`` for ``summary.json`` ``counts``
    at ``strength``: the figures every strength has first, then the others."""
    everywhere = frozenset(STRENGTHS)
    rows = [(c, n) for c in CHECKS for n in c.counts if strength in n.strengths]
    return [(n.key, c.name, n.read_from) for c, n in rows if n.strengths == everywhere] + [
        (n.key, c.name, n.read_from) for c, n in rows if n.strengths != everywhere
    ]


def resolve(judge: str) -> Callable[..., Any]:
    """The function a ``"module:function"`` judge names."""
    module, _, name = judge.partition(":")
    return getattr(importlib.import_module(module), name)
