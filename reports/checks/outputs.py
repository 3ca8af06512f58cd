"""Checks at output-topic strength: the service judged by the outputs it wrote.

Each output names its input by (producer, key, seq) (see docs/evidence.md,
``evidence/output.jsonl``). There are no consumer events at this strength, so
"processed" means "has an output":

- ``never-processed``: a valid input below the group's final committed offset
  with no output — the group moved past it and the service never answered it
  (consumer-side loss). Inputs at or beyond the committed offset are backlog.
- ``redelivered``: an input with several outputs. The ``output-rebalance-window``
  allowance (:mod:`reports.allowances`) lets it pass only across a possible
  change of owner of the input's partition (a rebalance the group's view shows,
  or a stretch it does not cover) and only for an input the group had not
  committed before it. A graceful handover cannot be told from a hard stop
  here, so this window is wider than the consumer-event check's. The outputs'
  times must say when each was written: append times do; producer timestamps
  within the clock tolerance of each other may both be the input's own, and
  such a duplicate is "cannot tell", never a fail.
- ``key-order``: per (producer, key), the first output of each message follows
  seq order. Kafka orders records only within a partition: offsets order one
  output partition; across output partitions only append times further apart
  than the clock tolerance order outputs, and the other pairs are "cannot
  tell" (counted; the check is inconclusive). Reorderings where the key's
  inputs sat on different partitions of a topic whose partition count changed
  are the known Kafka hazard (the ``partition-change-hazard`` allowance).
- ``corruption``: acknowledged inputs corrupt in the log, outputs whose body
  does not match their sha, and outputs naming an input the log does not hold.

Outputs naming no input are counted and shown; a run cannot pass on them
(they may be the missing answers, or duplicates nobody can attribute).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from reports.allowances import (
    OUTPUT_REBALANCE_WINDOW,
    PARTITION_CHANGE_HAZARD,
    partition_change_hazard,
)
from reports.checks.common import gaps, missing, plural
from reports.checks.integrity import corruption_cases
from reports.evidence import POS_SHIFT, Evidence
from reports.facts import Facts
from reports.model import FAIL, INCONCLUSIVE, PASS, Verdict
from reports.outputs import SKEW_S, times_separate
from reports.registry import CORRUPTION, KEY_ORDER, NEVER_PROCESSED, REDELIVERED

IDENTITY = ["producer", "key", "seq"]

#: Why a duplicate, or a pair of outputs on different output partitions, cannot be told.
PRODUCER_TIMES = (
    f"its outputs carry producer timestamps (CreateTime) within {SKEW_S:g} s of each "
    f"other, which may be the input's own: when each was written cannot be told (an "
    f"output topic with message.timestamp.type=LogAppendTime, as riverbed creates, "
    f"tells)"
)


def _unidentified_examples(facts: Facts) -> list[dict[str, Any]]:
    rows = facts.output_match.unidentified
    return [
        {
            "output_partition": int(r["opos"]) // POS_SHIFT,
            "output_offset": int(r["opos"]) % POS_SHIFT,
            **({"t": round(r["t"], 6)} if r["t"] is not None else {}),
            "kind": "unidentified",
            "detail": f"output names no input: {r['reason'] or 'no identity'}",
        }
        for r in rows.head(facts.max_examples).iter_rows(named=True)
    ]


def _unidentified_note(n: int) -> str:
    return (
        f"{plural(n, 'output')} name no input (neither their value nor a riverbed-id "
        f"header carries producer, key and seq): they cannot be matched, so no check "
        f"that counts outputs can pass"
    )


def _output_columns(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        (pl.col("opos") // POS_SHIFT).alias("output_partition"),
        (pl.col("opos") % POS_SHIFT).alias("output_offset"),
    ).drop("opos")


def check_output_never_processed(ev: Evidence, facts: Facts) -> Verdict:
    name = NEVER_PROCESSED
    if (v := missing(name, ev, "log", "output")) is not None:
        return v
    match = facts.output_match
    inputs = match.inputs
    committed = facts.committed_frame()
    unanswered = (
        inputs.filter(pl.col("outputs") == 0)
        .with_columns((pl.col("pos") // POS_SHIFT).cast(pl.Int32).alias("partition"))
        .join(committed, on="partition", how="left")
        .with_columns((pl.col("pos") % POS_SHIFT).alias("offset"))
    )
    below = unanswered.filter(
        pl.col("committed").is_not_null() & (pl.col("offset") < pl.col("committed"))
    )
    backlog = unanswered.filter(
        pl.col("committed").is_null() | (pl.col("offset") >= pl.col("committed"))
    )
    n, b = below.height, backlog.height
    unidentified = match.unidentified.height
    complete = ev.complete("log", "output")
    answered = int((inputs["outputs"] > 0).sum()) if inputs.height else 0
    # An input without output is an absence: it proves loss only when every output
    # was drained and none of them could be the missing answer.
    if n and complete and not unidentified:
        status = FAIL
    elif n or b or not complete or (unidentified and unanswered.height):
        status = INCONCLUSIVE
    else:
        status = PASS
    keep = ["pos", *IDENTITY, "committed"]
    examples = facts.examples(
        below.select(keep), ["pos"], detail="committed past, no output for it"
    ) or facts.examples(backlog.select(keep), ["pos"], detail="backlog: no output yet")
    if n:
        explanation = (
            f"{plural(n, 'input')} below the group's committed offset have no output: the "
            f"group moved past them and the service never answered them"
        )
    else:
        explanation = (
            f"every input below the committed offsets has an output ({answered} of "
            f"{inputs.height} inputs answered)"
        )
    if b:
        explanation += (
            f"; {plural(b, 'input')} at or beyond the final committed offset (backlog) "
            f"have no output"
        )
    if unidentified and unanswered.height:
        explanation += "; " + _unidentified_note(unidentified)
    if status == INCONCLUSIVE and (why := gaps(ev, "log", "output", "group")):
        explanation += f"; inconclusive: {why}"
    return Verdict(
        name,
        status,
        n,
        explanation,
        counts={
            "never-processed": n,
            "backlog": b,
            "processed": answered,
            "log-records": ev.log.height if ev.log is not None else 0,
            "outputs": match.outputs.height,
            "unidentified-outputs": unidentified,
        },
        examples=tuple(examples[: facts.max_examples]),
    )


def output_duplicate_cases(ev: Evidence, facts: Facts) -> pl.DataFrame:
    """Every output after the first of its input, judged: legal, why (null legal: unjudged)."""
    match = facts.output_match
    dups = match.duplicates
    legal: list[bool | None] = []
    why: list[str] = []
    have_view = facts.broker.present
    cols = dups.select("ipos", "first_t", "t", "first_appended", "appended")
    for ipos, first_t, t, first_appended, appended in cols.iter_rows():
        if ipos is None:
            legal.append(None)
            why.append("the log holds no such input")
        elif not have_view:
            legal.append(None)
            why.append("no group snapshots to place it against a rebalance")
        elif first_t is None or t is None:
            legal.append(None)
            why.append("an output without a timestamp")
        elif not times_separate(first_t, t, bool(first_appended and appended)):
            # Kafka Streams and services like it stamp an output with its input's
            # timestamp: both outputs then carry the input's time, not their own.
            legal.append(None)
            why.append(PRODUCER_TIMES)
        else:
            ok, reason = match.duplicate_allowed(int(ipos), float(first_t), float(t))
            legal.append(ok)
            why.append(reason)
    return dups.with_columns(
        pl.Series("legal", legal, dtype=pl.Boolean), pl.Series("why", why, dtype=pl.String)
    )


def check_output_redelivered(ev: Evidence, facts: Facts) -> Verdict:
    name = REDELIVERED
    if (v := missing(name, ev, "output")) is not None:
        return v
    rows = output_duplicate_cases(ev, facts)
    illegal = rows.filter(pl.col("legal") == False)  # noqa: E712 - null is unjudged
    legal = rows.filter(pl.col("legal") == True)  # noqa: E712
    unjudged = rows.filter(pl.col("legal").is_null())
    unidentified = facts.output_match.unidentified.height
    if illegal.height:
        status = FAIL
    elif unjudged.height or unidentified or not ev.complete("output"):
        status = INCONCLUSIVE
    else:
        status = PASS

    def shown(frame: pl.DataFrame) -> list[dict[str, Any]]:
        return facts.examples(
            _output_columns(
                frame.select(
                    pl.col("ipos").alias("pos"),
                    *IDENTITY,
                    "opos",
                    "t",
                    pl.col("first_t").alias("prev_t"),
                    pl.col("why").alias("detail"),
                )
            ),
            ["pos", "t"],
        )

    allowed = shown(legal)
    examples = shown(illegal) + shown(unjudged) + allowed
    examples = examples[: facts.max_examples]
    if len(examples) < facts.max_examples and unidentified:
        examples += _unidentified_examples(facts)[: facts.max_examples - len(examples)]
    inputs = rows.select(IDENTITY).unique().height if rows.height else 0
    if rows.height:
        explanation = (
            f"{plural(rows.height, 'extra output')} for {plural(inputs, 'input')}: "
            f"{legal.height} across a rebalance before the input was committed"
        )
        if illegal.height:
            explanation += f", {illegal.height} not allowed"
        if unjudged.height:
            reasons = unjudged.group_by("why", maintain_order=True).len()
            explanation += f", {unjudged.height} that cannot be judged (cannot tell: " + (
                "; ".join(f"{n}: {why}" for why, n in reasons.iter_rows()) + ")"
            )
    else:
        explanation = "no input has more than one output"
    explanation += " (judged per input from its outputs; redelivery of an offset is not visible)"
    if unidentified:
        explanation += "; " + _unidentified_note(unidentified)
    if status == INCONCLUSIVE and (why := gaps(ev, "output")):
        explanation += f"; inconclusive: {why}"
    return Verdict(
        name,
        status,
        illegal.height,
        explanation,
        counts={
            "redelivered": rows.height,
            "inputs": inputs,
            "legal": legal.height,
            "illegal": illegal.height,
            "unjudged": unjudged.height,
            "producer-timestamps": int((unjudged["why"] == PRODUCER_TIMES).sum()),
            "unidentified-outputs": unidentified,
        },
        examples=tuple(examples),
        allowed=(OUTPUT_REBALANCE_WINDOW.applied(legal.height, allowed),),
    )


KEY = ["producer", "key"]
_INF = float("inf")
#: Output partitions whose later outputs are tracked in one pass (a column each).
_PARTS_AT_ONCE = 8


def _first_outputs(facts: Facts) -> pl.DataFrame:
    """The first output of each input the log holds: producer, key, seq, pos (the input's),
    opos, t, appended (t is an append time), opart (output partition), partition (input
    partition)."""
    return (
        facts.output_match.identified.filter(pl.col("ipos").is_not_null())
        .sort("order")
        .unique(subset=IDENTITY, keep="first", maintain_order=True)
        .select(*IDENTITY, pl.col("ipos").alias("pos"), "opos", "t", "appended")
        .with_columns(
            (pl.col("opos") // POS_SHIFT).cast(pl.Int32).alias("opart"),
            (pl.col("pos") // POS_SHIFT).cast(pl.Int32).alias("partition"),
        )
    )


def _later_elsewhere(
    frame: pl.DataFrame, parts: list[int], group: list[str], name: str
) -> pl.DataFrame:
    """Per message of ``frame`` (sorted by key, seq descending), over the later seqs of
    its ``group`` answered on another output partition: the earliest time (column
    ``name``; inf: none). A few output partitions at a time, so that memory stays
    bounded however many there are."""
    frame = frame.with_columns(pl.lit(_INF).alias(name))
    for i in range(0, len(parts), _PARTS_AT_ONCE):
        some = parts[i : i + _PARTS_AT_ONCE]
        on = {p: pl.col("opart") == p for p in some}
        frame = frame.with_columns(
            pl.when(on[p] & pl.col("t").is_not_null())
            .then(pl.col("t"))
            .otherwise(_INF)
            .cum_min()
            .shift(1, fill_value=_INF)
            .over(group)
            .alias(f"_on_{p}")
            for p in some
        )
        others = [pl.when(on[p]).then(_INF).otherwise(pl.col(f"_on_{p}")) for p in some]
        frame = frame.with_columns(pl.min_horizontal(name, *others).alias(name))
        frame = frame.drop([f"_on_{p}" for p in some])
    return frame


def _later_count(flag: pl.Expr, group: list[str]) -> pl.Expr:
    """Per message (sorted by key, seq descending): how many later seqs of its ``group``
    have ``flag``."""
    return flag.cast(pl.Int64).cum_sum().shift(1, fill_value=0).over(group)


def output_key_order_cases(ev: Evidence, facts: Facts) -> pl.DataFrame:
    """Every message whose first output is not shown to follow the seq order of its key
    (:func:`first_output_order`)."""
    return first_output_order(_first_outputs(facts), facts.partitions_changed)


def first_output_order(firsts: pl.DataFrame, changed: bool) -> pl.DataFrame:
    """Every message whose first output is not shown to follow the seq order of its key.

    Kafka orders records only within a partition. On one output partition the offsets
    order the outputs; across output partitions (a service that writes without a key,
    or re-keys) only times further apart than :data:`~reports.outputs.SKEW_S` do, and
    only append times (a producer timestamp may be the input's own, which says nothing
    about when the output was written).

    ``firsts``: the first output of each message (:func:`_first_outputs`' columns);
    ``changed``: the data topic's partition count changed during the run.
    Returns those of its rows, with ``late`` (a later seq of its key was answered first:
    at a lower offset of the same output partition, or on another one more than SKEW_S
    earlier), ``hazard`` (late, and allowed as the partition-change hazard: every such
    later seq sat on another input partition), ``tie`` (not late, but a later seq's
    output on another output partition cannot be ordered against it: cannot tell).
    """
    # One integer per key: cheaper to sort and group by than two strings.
    keys = firsts.select(KEY).unique().with_row_index("gid")
    firsts = firsts.join(keys, on=KEY, nulls_equal=True)
    # One output partition: a later seq at a lower offset came first.
    firsts = firsts.sort("opos").with_columns(
        pl.col("seq").cum_max().shift(1).over(["gid", "opart"]).alias("prev"),
        pl.col("seq").cum_max().shift(1).over(["gid", "opart", "partition"]).alias("prev_in"),
    )
    firsts = firsts.with_columns(
        (pl.col("seq") < pl.col("prev")).fill_null(False).alias("late"),
        (pl.col("seq") < pl.col("prev_in")).fill_null(False).alias("late_in"),
        pl.lit(False).alias("tie"),
    ).drop("prev", "prev_in")
    # Across output partitions: only for keys answered on more than one.
    spread = firsts.group_by("gid").agg(pl.col("opart").n_unique().alias("n"))
    spread = spread.filter(pl.col("n") > 1).select("gid")
    if spread.height:
        cross = firsts.join(spread, on="gid", how="semi")
        rest = firsts.join(spread, on="gid", how="anti")
        parts = sorted(cross["opart"].unique().to_list())
        cross = cross.sort(["gid", "seq"], descending=[False, True])
        cross = _later_elsewhere(cross, parts, ["gid"], "earliest")
        if changed:
            cross = _later_elsewhere(cross, parts, ["gid", "partition"], "earliest_in")
        t = pl.col("t")
        elsewhere = ["gid", "opart"]
        # Counts over every output partition minus those over its own: the others'.
        unsure_flag = ~pl.col("appended") | t.is_null()
        unsure = _later_count(unsure_flag, ["gid"]) > _later_count(unsure_flag, elsewhere)
        every = pl.col("seq").is_not_null()
        exists = _later_count(every, ["gid"]) > _later_count(every, elsewhere)
        earliest = pl.col("earliest")
        before = (t.is_not_null() & (earliest < t - SKEW_S)).fill_null(False)
        if changed:
            before_in = (t.is_not_null() & (pl.col("earliest_in") < t - SKEW_S)).fill_null(False)
        else:
            before_in = before
        # Not shown to come after: no time, a producer timestamp (its or a later seq's),
        # or a later seq's output within the clock tolerance.
        unknown = t.is_null() | ~pl.col("appended") | unsure | (earliest <= t + SKEW_S)
        cross = cross.with_columns(
            (pl.col("late") | before).alias("late"),
            (pl.col("late_in") | before_in).alias("late_in"),
            (exists & unknown & ~before).fill_null(False).alias("tie"),
        ).select(firsts.columns)
        firsts = pl.concat([rest, cross])
    firsts = firsts.with_columns(
        (pl.col("late") & partition_change_hazard(~pl.col("late_in"), changed)).alias("hazard"),
        (pl.col("tie") & ~pl.col("late")).alias("tie"),
    )
    return firsts.filter(pl.col("late") | pl.col("tie")).drop("late_in", "appended", "gid")


def _partners(cases: pl.DataFrame, facts: Facts, late: bool) -> pl.DataFrame:
    """``cases`` (a few rows to show) with the later seq each one is judged against:
    after_seq, after_partition (its input partition), after_opart, after_t — for a late
    message the highest later seq answered first, for a tie the lowest it cannot be
    ordered against."""
    firsts = _first_outputs(facts)
    later = firsts.select(
        *KEY,
        pl.col("seq").alias("after_seq"),
        pl.col("partition").alias("after_partition"),
        pl.col("opos").alias("after_opos"),
        pl.col("opart").alias("after_opart"),
        pl.col("t").alias("after_t"),
        pl.col("appended").alias("after_appended"),
    )
    both = cases.join(firsts.select(*IDENTITY, "appended"), on=IDENTITY)
    pairs = both.join(later, on=KEY).filter(pl.col("after_seq") > pl.col("seq"))
    same = pl.col("after_opart") == pl.col("opart")
    if late:
        pairs = pairs.filter(
            (same & (pl.col("after_opos") < pl.col("opos")))
            | (~same & (pl.col("after_t") < pl.col("t") - SKEW_S)).fill_null(False)
        )
        pick = pl.col("after_seq").max()
    else:
        close = (pl.col("after_t") - pl.col("t")).abs() <= SKEW_S
        sure = pl.col("appended") & pl.col("after_appended")
        pairs = pairs.filter(~same & (~sure | close).fill_null(True))
        pick = pl.col("after_seq").min()
    chosen = pairs.filter(pl.col("after_seq") == pick.over(IDENTITY)).unique(
        subset=IDENTITY, keep="first", maintain_order=True
    )
    keep = ["after_seq", "after_partition", "after_opart", "after_t", "after_appended"]
    return cases.join(chosen.select(*IDENTITY, *keep), on=IDENTITY, how="left")


def check_output_key_order(ev: Evidence, facts: Facts) -> Verdict:
    name = KEY_ORDER
    if (v := missing(name, ev, "output", "log")) is not None:
        return v
    match = facts.output_match
    cases = output_key_order_cases(ev, facts)
    real = cases.filter(pl.col("late") & ~pl.col("hazard"))
    hazard = cases.filter(pl.col("hazard"))
    ties = cases.filter(pl.col("tie"))
    unidentified = match.unidentified.height
    if real.height:
        status = FAIL
    elif ties.height or unidentified or not ev.complete("output"):
        status = INCONCLUSIVE
    else:
        status = PASS

    def shown(frame: pl.DataFrame, late: bool) -> list[dict[str, Any]]:
        if frame.height == 0:
            return []
        head = frame.sort(IDENTITY).head(facts.max_examples)
        head = _partners(head, facts, late)
        same = pl.col("after_opart") == pl.col("opart")
        if late:
            detail = (
                pl.when(pl.col("hazard"))
                .then(
                    pl.format(
                        "after seq {} on input partition {}: the key moved when partitions "
                        "were added",
                        "after_seq",
                        "after_partition",
                    )
                )
                .when(same)
                .then(
                    pl.format(
                        "first output after the output of seq {} (input partition {})",
                        "after_seq",
                        "after_partition",
                    )
                )
                .otherwise(
                    pl.format(
                        "first output more than {} s after the output of seq {} on output "
                        "partition {} (input partition {})",
                        pl.lit(f"{SKEW_S:g}"),
                        "after_seq",
                        "after_opart",
                        "after_partition",
                    )
                )
            )
        else:
            detail = pl.format(
                "cannot tell: seq {} was answered on output partition {}, and the two "
                "outputs' times do not order them (within {} s, or producer timestamps)",
                "after_seq",
                "after_opart",
                pl.lit(f"{SKEW_S:g}"),
            )
        head = head.with_columns(detail.alias("detail"))
        return facts.examples(
            _output_columns(
                head.select(*IDENTITY, "pos", "opos", "t", "after_seq", "after_partition", "detail")
            ),
            IDENTITY,
        )

    examples = shown(real, True)
    moved = shown(hazard, True)
    examples += moved + shown(ties, False)
    if real.height:
        explanation = (
            f"{plural(real.height, 'message')} first answered after a later seq of its key"
        )
    else:
        explanation = "no message was first answered after a later seq of its key"
    if hazard.height:
        explanation += (
            f"; {plural(hazard.height, 'reordering')} caused by the partition-count change "
            f"(a Kafka hazard, not failed)"
        )
    if ties.height:
        explanation += (
            f"; cannot tell for {plural(ties.height, 'message')}: a later seq of the key "
            f"was answered on another output partition, and Kafka orders records only "
            f"within a partition — their times are within {SKEW_S:g} s of each other or "
            f"are producer timestamps (CreateTime), which do not say when each was written"
        )
    if unidentified:
        explanation += "; " + _unidentified_note(unidentified)
    if status == INCONCLUSIVE and (why := gaps(ev, "output")):
        explanation += f"; inconclusive: {why}"
    return Verdict(
        name,
        status,
        real.height,
        explanation,
        counts={
            "violations": real.height,
            "partition-change-hazard": hazard.height,
            "cannot-tell": ties.height,
            "keys-affected": cases.select(KEY).unique().height if cases.height else 0,
            "partition-count-changed": facts.partitions_changed,
        },
        examples=tuple(examples[: facts.max_examples]),
        allowed=(PARTITION_CHANGE_HAZARD.applied(hazard.height, moved[: facts.max_examples]),),
    )


def check_output_corruption(ev: Evidence, facts: Facts) -> Verdict:
    name = CORRUPTION
    if (v := missing(name, ev, "log", "output")) is not None:
        return v
    acked = corruption_cases(ev, facts).get("acknowledged")
    match = facts.output_match
    corrupt = match.outputs.filter(pl.col("sha_ok") == False)  # noqa: E712 - null: nothing to check
    phantom = match.identified.filter(pl.col("ipos").is_null())
    n_acked = acked.height if acked is not None else 0
    certain = n_acked + corrupt.height
    n = certain + phantom.height
    if certain or (phantom.height and ev.complete("log")):
        status = FAIL
    elif not ev.complete("log", "acks", "output"):
        status = INCONCLUSIVE
    else:
        status = PASS
    examples: list[dict[str, Any]] = []
    if acked is not None:
        examples += facts.examples(
            acked, ["pos"], detail="acknowledged message is corrupt in the log"
        )
    examples += facts.examples(
        _output_columns(corrupt.select("opos", *IDENTITY, "t")),
        ["output_partition", "output_offset"],
        detail="output body does not match its sha",
    )
    examples += facts.examples(
        _output_columns(phantom.select("opos", *IDENTITY, "t")),
        ["output_partition", "output_offset"],
        detail="output names an input the log does not hold",
    )
    if n:
        explanation = (
            f"{plural(n, 'corruption')}: {n_acked} acknowledged messages corrupt in the log, "
            f"{corrupt.height} outputs whose body does not match their sha, "
            f"{phantom.height} outputs naming an input the log does not hold"
        )
    else:
        explanation = (
            f"no acknowledged input and no output is corrupt "
            f"({facts.bad_log.height} unacknowledged invalid records in the log)"
        )
    if status == INCONCLUSIVE:
        explanation += f"; inconclusive: {gaps(ev, 'log', 'acks', 'output')}"
    return Verdict(
        name,
        status,
        n,
        explanation,
        counts={
            "corrupt-acknowledged": n_acked,
            "corrupt-output": corrupt.height,
            "output-without-input": phantom.height,
            "invalid-in-log": facts.bad_log.height,
        },
        examples=tuple(examples[: facts.max_examples]),
    )
