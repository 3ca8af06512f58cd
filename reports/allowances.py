"""Allowed anomalies: what the checks find but let pass, under which condition, and why.

Jepsen's checkers separate *finding* anomalies from *allowing* some of them: a
check locates every anomaly of its kind and counts it; an allowance lets pass
those that meet a condition under which Kafka's own guarantees permit them. Each
allowance is declared once, in :data:`ALLOWANCES`: its name, the check whose
anomaly it allows, the anomaly, the condition, and the reason ("allowed
because …"). Its condition is the function of the same name below, which the
check calls; anything outside the condition fails the check.

A check reports what an allowance let pass as a
:class:`~reports.model.Allowed` on its verdict (count and examples); the report
lists every allowance that was applied (report.html "Allowed anomalies",
``summary.json`` ``allowances``, docs/report.md).

Adding an allowance: one :class:`Allowance` in :data:`ALLOWANCES`, its condition
as a function here, and the check's call to it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from reports.model import Allowed, Verdict
from reports.ownership import END_LOST, Period
from reports.registry import KEY_ORDER, NEVER_PROCESSED, REBALANCE, REDELIVERED

if TYPE_CHECKING:
    from reports.outputs import Window


@dataclass(frozen=True)
class Allowance:
    """One kind of anomaly a check finds and lets pass."""

    name: str
    """Its name (``summary.json`` ``allowances`` key)."""
    check: str
    """The check whose anomaly it allows (:mod:`reports.registry`)."""
    anomaly: str
    """The anomaly, as the check finds it."""
    condition: str
    """When it is allowed (the function of the same name implements it)."""
    reason: str
    """Why that is allowed: "allowed because …"."""

    def applied(self, count: int, examples: Sequence[dict[str, Any]] = ()) -> Allowed:
        """What this allowance let pass in one run, for the check's verdict."""
        return Allowed(self.name, count, tuple(examples))

    def to_json(self) -> dict[str, str]:
        return {
            "check": self.check,
            "anomaly": self.anomaly,
            "condition": self.condition,
            "reason": self.reason,
        }


#: Every allowance, by check in the report's order.
ALLOWANCES: tuple[Allowance, ...] = (
    Allowance(
        "uncommitted-window",
        REDELIVERED,
        "an offset processed more than once",
        "by a later ownership period of the partition, at or past the last commit that "
        "landed of the previous period, which ended hard (killed without a stop line, "
        "lost partitions, stopped on an error) or whose final commit was refused",
        "allowed because a consumer group delivers at least once: what an owner processed "
        "but never committed is delivered again to the next owner",
    ),
    Allowance(
        "at-least-once",
        REDELIVERED,
        "an offset processed again by the next owner after a graceful revocation or stop",
        "at or past the last commit that landed of the previous period, which ended "
        "gracefully without committing it, in a run that allows at-least-once delivery (the "
        "default; `--delivery strict` forbids it)",
        "allowed because at-least-once delivery lets a consumer give a partition up with "
        "processed records uncommitted: the next owner processes them again",
    ),
    Allowance(
        "sought-back",
        REDELIVERED,
        "an offset processed twice by the same owner",
        "between the two, the application sought the partition back to that offset or "
        "below (instrumented evidence: a retry by seeking back)",
        "allowed because the application asked for the record again itself: the consumer "
        "delivered what it was told to",
    ),
    Allowance(
        "zombie-processing",
        REDELIVERED,
        "an offset processed again by a member after its partition had moved on to another",
        "the member had been fenced (its ownership ended with a lost line or on an error, "
        "or every commit it tried after the move was refused) and the offset is at or past "
        "its own last commit that landed before the move",
        "allowed because an evicted member learns it was fenced only at its next contact "
        "with the coordinator and may finish the batch it held; Kafka refuses its commits, "
        "and the group goes on from the new owner's",
    ),
    Allowance(
        "commit-after-work",
        NEVER_PROCESSED,
        "a record its holder committed while it was still in hand, then stopped before "
        "coming back for more (instrumented evidence)",
        "the holder's commits follow its work: over at least 3 completed batches it came "
        "back for more right after each commit returned (90% within 20 ms or a tenth of "
        "the batch's time), and at its pace it could have finished the record before it "
        "stopped",
        "allowed because a consumer that commits when its work is done vouches for the "
        "batch with the commit: the stop fell between its commit and its next poll",
    ),
    Allowance(
        "output-rebalance-window",
        REDELIVERED,
        "an input answered by more than one output (output-topic evidence)",
        "a change of owner of the input's partition is possible between the two outputs (a "
        "rebalance in the group's view, or a stretch it does not cover, give or take the "
        "clock tolerance) and the group had not committed the input before it",
        "allowed because a new owner legally processes again what was not committed, and "
        "from outputs alone a graceful handover cannot be told from a hard stop",
    ),
    Allowance(
        "partition-change-hazard",
        KEY_ORDER,
        "a message first processed (or answered) after a later seq of its key",
        "the later message sat on another partition, and the data topic's partition count "
        "changed during the run",
        "allowed because Kafka maps a key to hash(key) modulo the partition count: adding "
        "partitions moves keys, and Kafka orders records only within one partition",
    ),
    Allowance(
        "zombie-window",
        REBALANCE,
        "two members owning one partition at the same time",
        "the older owner had been fenced: its ownership ended with a lost line (its session "
        "expired, it was fenced or exceeded the poll interval) and the newer owner was "
        "assigned the partition before that line, or the older owner ended on an error or "
        "had every commit it tried after the move refused",
        "allowed because a member learns that it lost its partitions only at its next "
        "contact with the coordinator; until then it is a zombie, and Kafka fences its "
        "commits rather than its fetches",
    ),
)

BY_NAME: dict[str, Allowance] = {a.name: a for a in ALLOWANCES}

UNCOMMITTED_WINDOW = BY_NAME["uncommitted-window"]
AT_LEAST_ONCE = BY_NAME["at-least-once"]
SOUGHT_BACK = BY_NAME["sought-back"]
COMMIT_AFTER_WORK = BY_NAME["commit-after-work"]
ZOMBIE_PROCESSING = BY_NAME["zombie-processing"]
OUTPUT_REBALANCE_WINDOW = BY_NAME["output-rebalance-window"]
PARTITION_CHANGE_HAZARD = BY_NAME["partition-change-hazard"]
ZOMBIE_WINDOW = BY_NAME["zombie-window"]


# ---- the conditions ---------------------------------------------------------------------------
#: The delivery semantics a run allows (spec.json ``delivery``).
DELIVERY = ("at-least-once", "strict")


def delivery_of(spec: dict[str, Any]) -> str:
    """``at-least-once`` (the default, and older runs) or ``strict``."""
    value = spec.get("delivery")
    return value if value in DELIVERY else "at-least-once"


def at_least_once(allowed: bool) -> tuple[pl.Expr, pl.Expr]:
    """Per repeated processing: whether :data:`AT_LEAST_ONCE` allows it, and why not when
    it comes close (same columns as :func:`uncommitted_window`). ``allowed``: the run
    allows at-least-once delivery."""
    graceful = (pl.col("period") != pl.col("prev_period")) & ~pl.col("prev_allowed").fill_null(
        False
    )
    in_window = pl.col("offset") >= pl.col("prev_legal_from")
    ok = graceful & in_window & pl.lit(allowed)
    why = (
        pl.when(ok)
        .then(pl.format("uncommitted when the previous owner's {} ended it", pl.col("prev_end")))
        .when(graceful & in_window)
        .then(
            pl.format(
                "after a graceful {} that did not commit it (--delivery strict)", pl.col("prev_end")
            )
        )
        .otherwise(pl.lit(None, pl.String))
    )
    return ok, why


def uncommitted_window() -> tuple[pl.Expr, pl.Expr]:
    """Per repeated processing: whether :data:`UNCOMMITTED_WINDOW` allows it, and why
    (or why not), as two expressions over the repetition's columns.

    Columns: ``period`` and ``prev_period`` (the ownership periods of this and the
    previous processing), ``offset``, ``prev_end`` (how the previous period ended),
    ``prev_allowed`` (it left its uncommitted window open to redelivery: a hard end or
    a refused final commit, :attr:`~reports.ownership.Period.redelivery_allowed`) and
    ``prev_legal_from`` (the window's first offset, :meth:`~reports.facts.Facts.legal_from`).
    """
    same = pl.col("period") == pl.col("prev_period")
    hard = pl.col("prev_allowed").fill_null(False)
    in_window = pl.col("offset") >= pl.col("prev_legal_from")
    why = (
        pl.when(same)
        .then(pl.lit("processed twice by the same owner"))
        .when(~hard)
        .then(pl.format("after a graceful {} with its offsets committed", pl.col("prev_end")))
        .when(~in_window)
        .then(
            pl.format(
                "below the last commit ({}) before the {}",
                pl.col("prev_legal_from"),
                pl.col("prev_end"),
            )
        )
        .otherwise(
            pl.format("uncommitted window after the previous owner was {}", pl.col("prev_end"))
        )
    )
    return ~same & hard & in_window, why


def zombie_processing() -> tuple[pl.Expr, pl.Expr]:
    """Per repeated processing: whether :data:`ZOMBIE_PROCESSING` allows it, and why (or
    why not; null when the processing is not a zombie's), as two expressions.

    Columns: ``period`` and ``prev_period`` (as for :func:`uncommitted_window`),
    ``offset``, ``zombie`` (processed by a zombie after its partition moved on,
    :attr:`~reports.facts.Facts.zombie_row_mask`) and ``zombie_legal_from`` (the first
    offset of the zombie's own uncommitted window, which closes at the move).
    """
    zombie = (pl.col("period") != pl.col("prev_period")) & pl.col("zombie").fill_null(False)
    ok = zombie & (pl.col("offset") >= pl.col("zombie_legal_from"))
    why = (
        pl.when(ok)
        .then(pl.lit("a zombie (fenced, its partition moved on) finishing what it held"))
        .when(zombie)
        .then(
            pl.format(
                "a zombie processed it below its own last commit ({})",
                pl.col("zombie_legal_from"),
            )
        )
        .otherwise(pl.lit(None, pl.String))
    )
    return ok, why


def output_rebalance_window(
    windows: Sequence[Window], offset: int, first_t: float, t: float, skew_s: float
) -> tuple[bool, str]:
    """Whether :data:`OUTPUT_REBALANCE_WINDOW` allows an output at ``t`` of the input at
    ``offset`` whose first output was at ``first_t``, and why (or why not).

    ``windows`` are the stretches in which the input's partition may have changed owner
    (:attr:`~reports.outputs.OutputMatch.windows`), in time order; ``skew_s`` the clock
    difference tolerated between the service's hosts and the monitor's.
    """
    starts = [w.t0 for w in windows]
    hi = bisect.bisect_left(starts, t + skew_s)
    below = None
    for w in windows[:hi]:
        if w.t1 <= first_t - skew_s:
            continue
        if w.committed is None or offset >= w.committed:
            return True, "across a rebalance of its partition, before the input was committed"
        below = w.committed if below is None else below
    if below is not None:
        return False, f"the input was committed (offset {below}) before the rebalance"
    return False, "no rebalance of the input's partition between the two outputs"


def partition_change_hazard(other_partition: pl.Expr, partitions_changed: bool) -> pl.Expr:
    """Per late message: whether :data:`PARTITION_CHANGE_HAZARD` allows it.

    ``other_partition`` says that the later seq it came after sat on another partition.
    """
    return other_partition & pl.lit(partitions_changed)


def zombie_window(older: Period, fenced: Container[int] = ()) -> bool:
    """Whether :data:`ZOMBIE_WINDOW` allows another member to own ``older``'s partition
    while ``older`` still did (the newer period starts before ``older`` ends).

    ``fenced`` holds the ids of the periods the coordinator had fenced when their
    partition moved on (:attr:`~reports.facts.Facts.zombie_moves`)."""
    return older.end == END_LOST or older.id in fenced


def applied(verdicts: Sequence[Verdict]) -> dict[str, dict[str, Any]]:
    """Every allowance the verdicts applied (count > 0), with its declaration, count and
    examples: ``summary.json`` ``allowances``, in the order of :data:`ALLOWANCES`."""
    found: dict[str, tuple[str, Allowed]] = {}
    for v in verdicts:
        for a in v.allowed:
            if a.allowance not in BY_NAME:
                raise KeyError(f"{v.name} applied an allowance nobody declared: {a.allowance}")
            if a.count:
                found[a.allowance] = (v.name, a)
    out: dict[str, dict[str, Any]] = {}
    for allowance in ALLOWANCES:
        if allowance.name in found:
            check, a = found[allowance.name]
            out[allowance.name] = {
                **allowance.to_json(),
                "check": check,
                "count": a.count,
                "examples": list(a.examples),
            }
    return out


def markdown_table() -> str:
    """:data:`ALLOWANCES` as docs/report.md shows them (a test keeps the page in step)."""
    rows = [
        "| allowance | check | anomaly | allowed when | allowed because |",
        "|---|---|---|---|---|",
    ]
    for a in ALLOWANCES:
        reason = a.reason.removeprefix("allowed because ")
        rows.append(f"| `{a.name}` | {a.check} | {a.anomaly} | {a.condition} | {reason} |")
    return "\n".join(rows)


_DOCS_MARKER = re.compile(r"<!-- allowances -->\n.*?<!-- /allowances -->", re.DOTALL)


def render_docs(text: str) -> str:
    """``text`` (docs/report.md) with its marked allowances table generated afresh."""
    return _DOCS_MARKER.sub(
        lambda _m: f"<!-- allowances -->\n{markdown_table()}\n<!-- /allowances -->", text
    )


if __name__ == "__main__":  # python -m reports.allowances docs/report.md
    import sys
    from pathlib import Path

    page = Path(sys.argv[1])
    page.write_text(render_docs(page.read_text(encoding="utf-8")), encoding="utf-8")
