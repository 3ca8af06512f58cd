"""Duplicates: one message at two offsets, and one offset processed twice.

- ``duplicate-in-log``: the same (producer, key, seq) at more than one
  offset, e.g. a producer retry without idempotence.
- ``redelivered``: an offset processed more than once. Legal only inside the
  uncommitted window that an ownership period left behind when it ended
  hard (killed, lost partitions, stopped on an error) or when its final
  commit was refused: offsets at or past the last commit that landed (the
  ``uncommitted-window`` allowance, :mod:`reports.allowances`); and for a
  zombie finishing what it held after its partition moved on, at or past its
  own last commit (the ``zombie-processing`` allowance). Every
  other redelivery fails — after a graceful revoke or stop the consumer must
  have committed what it processed. All of them are counted and located.
"""

from __future__ import annotations

import polars as pl

from reports.allowances import (
    AT_LEAST_ONCE,
    SOUGHT_BACK,
    UNCOMMITTED_WINDOW,
    ZOMBIE_PROCESSING,
    at_least_once,
    delivery_of,
    uncommitted_window,
    zombie_processing,
)
from reports.checks.common import gaps, missing, plural
from reports.evidence import POS_SHIFT, Evidence, offset_expr
from reports.facts import Facts
from reports.model import INCONCLUSIVE, Verdict, status_of
from reports.registry import DUPLICATE_IN_LOG, REDELIVERED

IDENTITY = ["producer", "key", "seq"]


def duplicate_cases(ev: Evidence) -> pl.DataFrame:
    """Messages found at more than one offset: identity, copies, partitions, offsets."""
    assert ev.log is not None
    # A 64-bit hash per identity, sorted, narrows 10M records to candidates
    # without a hash table or a copy of the log; grouping the few confirms them.
    known = (
        pl.col("producer").is_not_null() & pl.col("key").is_not_null() & pl.col("seq").is_not_null()
    )
    h = ev.log.select(pl.when(known).then(pl.struct(IDENTITY).hash()).alias("h"))["h"]
    hs = h.drop_nulls().sort()
    twice = hs.filter((hs == hs.shift(1)).fill_null(False)).unique()
    del hs
    candidates = ev.log.filter(h.is_in(twice.implode()).fill_null(False))
    return (
        candidates.group_by(IDENTITY)
        .agg(
            pl.len().alias("copies"),
            (pl.col("pos") // POS_SHIFT).alias("partitions"),
            (pl.col("pos") % POS_SHIFT).alias("offsets"),
        )
        .filter(pl.col("copies") > 1)
    )


def check_duplicate_in_log(ev: Evidence, facts: Facts) -> Verdict:
    name = DUPLICATE_IN_LOG
    if (v := missing(name, ev, "log")) is not None:
        return v
    dups = duplicate_cases(ev)
    n = dups.height
    status = status_of(n, ev.complete("log"))
    examples = facts.examples(
        dups.with_columns(
            pl.col("partitions").list.eval(pl.element().cast(pl.Int64)),
            pl.col("offsets").list.eval(pl.element().cast(pl.Int64)),
        ),
        IDENTITY,
    )
    if n:
        extra = int(dups["copies"].sum()) - n
        explanation = (
            f"{plural(n, 'message')} appear at more than one offset ({extra} extra copies)"
        )
    else:
        explanation = "every message is in the log once"
    if status == INCONCLUSIVE:
        explanation += f"; inconclusive: {gaps(ev, 'log')}"
    return Verdict(
        name,
        status,
        n,
        explanation,
        counts={"duplicate-in-log": n, "extra-copies": int(dups["copies"].sum()) - n if n else 0},
        examples=tuple(examples),
    )


def redelivery_cases(ev: Evidence, facts: Facts) -> pl.DataFrame:
    """Every repeated processing of an offset, with the period that processed it before.

    Columns: pos, producer, key, seq, trank, period, zombie, prev_period, prev_t,
    prev_end, legal, why, allowance (the one that let it pass, :mod:`reports.allowances`).
    """
    assert ev.processed is not None
    again = ev.processed.filter(pl.col("pos").is_in(facts.redelivered_pos.implode()))
    if again.height == 0:
        return again.with_columns(
            pl.lit(None, pl.Float64).alias("t"),
            pl.lit(None, pl.Int32).alias("prev_period"),
            pl.lit(None, pl.Float64).alias("prev_t"),
            pl.lit(None, pl.String).alias("prev_end"),
            pl.lit(None, pl.Boolean).alias("legal"),
            pl.lit(None, pl.String).alias("why"),
            pl.lit(None, pl.String).alias("allowance"),
        )
    # Which processings a zombie made after its partition moved on (see Facts.zombie_moves).
    again = ev.processed.with_columns(facts.zombie_row_mask).filter(
        pl.col("pos").is_in(facts.redelivered_pos.implode())
    )
    again = again.sort(["pos", "trank"], maintain_order=True)
    again = again.with_columns(facts.t_of(again["trank"]).alias("t")).with_columns(
        pl.col("period").shift(1).over("pos").alias("prev_period"),
        pl.col("t").shift(1).over("pos").alias("prev_t"),
    )
    rows = again.filter(pl.col("prev_period").is_not_null())
    prev = facts.periods_frame.select(
        pl.col("period").alias("prev_period"),
        pl.col("end").alias("prev_end"),
        pl.col("allowed").alias("prev_allowed"),
        pl.col("legal_from").alias("prev_legal_from"),
    )
    own = facts.periods_frame.select("period", pl.col("legal_from").alias("zombie_legal_from"))
    rows = (
        rows.join(prev, on="prev_period", how="left")
        .join(own, on="period", how="left")
        .with_columns(offset_expr())
    )
    rows = rows.with_columns(sought_back_mask(rows, facts))
    window_ok, window_why = uncommitted_window()
    zombie_ok, zombie_why = zombie_processing()
    alo_ok, alo_why = at_least_once(delivery_of(ev.spec) == "at-least-once")
    seek_ok = pl.col("sought_back")
    # A zombie's processing is judged by its own window first; the reason shown is
    # that of the allowance that let it pass, or of the one that came closest.
    why = (
        pl.when(window_ok & ~zombie_ok)
        .then(window_why)
        .when(alo_ok & ~zombie_ok)
        .then(alo_why)
        .when(seek_ok)
        .then(pl.lit("processed again after the application sought back to it"))
        .otherwise(pl.coalesce(zombie_why, alo_why, window_why))
    )
    allowance = (
        pl.when(zombie_ok)
        .then(pl.lit(ZOMBIE_PROCESSING.name))
        .when(window_ok)
        .then(pl.lit(UNCOMMITTED_WINDOW.name))
        .when(alo_ok)
        .then(pl.lit(AT_LEAST_ONCE.name))
        .when(seek_ok)
        .then(pl.lit(SOUGHT_BACK.name))
        .otherwise(pl.lit(None, pl.String))
    )
    return rows.with_columns(
        (window_ok | zombie_ok | alo_ok | seek_ok).alias("legal"),
        why.alias("why"),
        allowance.alias("allowance"),
    ).drop("offset", "zombie_legal_from", "sought_back")


def sought_back_mask(rows: pl.DataFrame, facts: Facts) -> pl.Series:
    """Per repeated processing by the same owner: whether its member sought the partition
    back to the offset or below between the two processings (instrumented ``seek`` lines)."""
    seeks = facts.seeks
    if not seeks or rows.height == 0:
        return pl.Series("sought_back", [False] * rows.height, dtype=pl.Boolean)
    out = []
    for period, prev_period, pos, t, prev_t in rows.select(
        "period", "prev_period", "pos", "t", "prev_t"
    ).iter_rows():
        hit = False
        if period == prev_period and period is not None:
            member = facts.member_of(period)
            p, offset = int(pos // POS_SHIFT), int(pos % POS_SHIFT)
            for ts, to in seeks.get((member or "", p), ()):
                if (prev_t or 0.0) <= ts <= (t or 0.0) and (to is None or to <= offset):
                    hit = True
                    break
        out.append(hit)
    return pl.Series("sought_back", out, dtype=pl.Boolean)


def check_redelivered(ev: Evidence, facts: Facts) -> Verdict:
    name = REDELIVERED
    if (v := missing(name, ev, "consumed")) is not None:
        return v
    rows = redelivery_cases(ev, facts)
    illegal = rows.filter(~pl.col("legal"))
    legal = rows.filter(pl.col("legal"))
    n_illegal = illegal.height
    status = status_of(n_illegal, ev.complete("consumed"))

    def shown(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(
            "pos",
            "producer",
            "key",
            "seq",
            "period",
            "t",
            pl.col("prev_period")
            .map_elements(facts.member_of, return_dtype=pl.String)
            .alias("previous_member")
            if frame.height
            else pl.lit(None, pl.String).alias("previous_member"),
            "prev_t",
            pl.col("why").alias("detail"),
        )

    examples = facts.examples(shown(illegal), ["pos", "t"])
    allowed = facts.examples(shown(legal), ["pos", "t"])
    if len(examples) < facts.max_examples:
        examples += allowed[: facts.max_examples - len(examples)]
    applied = tuple(
        a.applied(part.height, facts.examples(shown(part), ["pos", "t"]))
        for a in (UNCOMMITTED_WINDOW, AT_LEAST_ONCE, SOUGHT_BACK, ZOMBIE_PROCESSING)
        for part in [legal.filter(pl.col("allowance") == a.name)]
    )
    offsets = rows["pos"].n_unique() if rows.height else 0
    if rows.height:
        explanation = (
            f"{plural(rows.height, 'redelivery', 'redeliveries')} of {plural(offsets, 'offset')}: "
            f"{legal.height} allowed (an uncommitted window after a stop, a revocation or lost "
            "partitions, or a seek back)"
        )
        if n_zombie := legal.filter(pl.col("zombie").fill_null(False)).height:
            explanation += f" ({n_zombie} by a zombie finishing what it held)"
        if n_illegal:
            explanation += f", {n_illegal} not allowed"
    else:
        explanation = "no offset was processed twice"
    if status == INCONCLUSIVE:
        explanation += f"; inconclusive: {gaps(ev, 'consumed')}"
    by_end = (
        {str(k): int(v) for k, v in rows.group_by("prev_end").len().sort("prev_end").iter_rows()}
        if rows.height
        else {}
    )
    return Verdict(
        name,
        status,
        n_illegal,
        explanation,
        counts={
            "redelivered": rows.height,
            "offsets": offsets,
            "legal": legal.height,
            "illegal": n_illegal,
            "zombie": legal.filter(pl.col("zombie").fill_null(False)).height if rows.height else 0,
            "after": by_end,
        },
        examples=tuple(examples),
        allowed=applied,
    )
