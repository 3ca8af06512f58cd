"""Integrity: corrupt records, and how consumers handled the records they refused.

- ``corruption``: a record whose sha does not match its body (or that does
  not decode). Fails when it is an *acknowledged* message (the write was
  damaged), when a consumer processed it as if it were valid (the corruption
  went unnoticed), or when what a consumer processed at an offset is not what
  the log holds there. Corrupt records nobody acknowledged — poison records
  an experiment injected on purpose — are counted, not failed: handling them
  is ``invalid-handling``'s business.
- ``invalid-handling``: every refused record must be reported as ``invalid``,
  must really be invalid, and must not stall its partition (the group's
  committed offset must move past it).
"""

from __future__ import annotations

import polars as pl

from reports.checks.common import gaps, log_identity, missing, plural
from reports.evidence import Evidence, offset_expr
from reports.facts import Facts, lookup
from reports.model import FAIL, INCONCLUSIVE, Verdict, status_of
from reports.registry import CORRUPTION, INVALID_HANDLING

IDENTITY = ["producer", "key", "seq"]


def corruption_cases(ev: Evidence, facts: Facts, chunk: int = 2_000_000) -> dict[str, pl.DataFrame]:
    assert ev.log is not None
    bad = facts.bad_log.select("pos", "producer", "key", "seq", "reason")
    bad_pos = bad["pos"].implode()
    out: dict[str, pl.DataFrame] = {}
    if ev.acks is not None:
        out["acknowledged"] = bad.filter(
            pl.col("pos").is_in(ev.acks.filter(pl.col("pos").is_in(bad_pos))["pos"].implode())
        )
    if ev.processed is not None:
        proc = ev.processed
        first = proc.filter(facts.first_mask)
        hit = first.filter(pl.col("pos").is_in(bad_pos)).select("pos", "period", "trank")
        out["processed"] = bad.join(hit, on="pos", how="inner")
        mismatches = []
        log = ev.log
        for start in range(0, first.height, chunk):
            part = first.slice(start, chunk)
            idx, found = lookup(log["pos"], part["pos"])
            held = log.select(
                pl.col("producer").alias("log_producer"),
                pl.col("key").alias("log_key"),
                pl.col("seq").alias("log_seq"),
                pl.col("sha_ok").alias("log_ok"),
            )[idx]
            same = (
                (held["log_producer"] == part["producer"])
                & (held["log_key"] == part["key"])
                & (held["log_seq"] == part["seq"])
            ).fill_null(False)
            differs = found & ~same & held["log_ok"] & held["log_producer"].is_not_null()
            if differs.any():
                mismatches.append(
                    pl.concat([part, held.drop("log_ok")], how="horizontal").filter(differs)
                )
        out["mismatch"] = (
            pl.concat(mismatches)
            if mismatches
            else first.head(0).with_columns(
                pl.lit(None, pl.Categorical).alias("log_producer"),
                pl.lit(None, pl.Categorical).alias("log_key"),
                pl.lit(None, pl.Int64).alias("log_seq"),
            )
        )
    return out


def check_instrumented_corruption(ev: Evidence, facts: Facts) -> Verdict:
    """``corruption`` at the instrumented strength: the instrumentation sees which records
    the application was handed and finished, not whether it refused a corrupt one (it
    may have routed it aside), and it names records by offset (their content is the
    log's). What it can judge: no acknowledged message is corrupt in the log."""
    return check_corruption(ev, facts, handled_visible=False)


def check_corruption(ev: Evidence, facts: Facts, handled_visible: bool = True) -> Verdict:
    name = CORRUPTION
    if (v := missing(name, ev, "log")) is not None:
        return v
    cases = corruption_cases(ev, facts)
    acked = cases.get("acknowledged")
    processed = cases.get("processed")
    mismatch = cases.get("mismatch")
    handed_corrupt = 0
    if not handled_visible:
        handed_corrupt = processed.height if processed is not None else 0
        processed = mismatch = None
    n_acked = acked.height if acked is not None else 0
    n_proc = processed.height if processed is not None else 0
    n_mis = mismatch.height if mismatch is not None else 0
    n = n_acked + n_proc + n_mis
    complete = ev.complete("log") and ev.complete("acks") and ev.complete("consumed")
    status = status_of(n, complete)
    examples = []
    if acked is not None:
        examples += facts.examples(
            acked, ["pos"], detail="acknowledged message is corrupt in the log"
        )
    if processed is not None:
        examples += facts.examples(
            processed, ["pos"], detail="a consumer processed this corrupt record as valid"
        )
    if mismatch is not None:
        examples += facts.examples(
            mismatch.with_columns(
                pl.concat_str(
                    pl.format(
                        "processed {}/{} seq {}, the log holds ",
                        pl.col("producer").cast(pl.String),
                        pl.col("key").cast(pl.String),
                        pl.col("seq"),
                    ),
                    log_identity(),
                ).alias("detail")
            ).drop("log_producer", "log_key", "log_seq"),
            ["pos"],
        )
    in_log = facts.bad_log.height
    if n:
        explanation = (
            f"{plural(n, 'corruption')}: {n_acked} acknowledged messages corrupt in the log, "
            f"{n_proc} corrupt records processed as valid, {n_mis} offsets processed with other content"
        )
    else:
        explanation = f"no acknowledged or processed record is corrupt ({in_log} unacknowledged invalid records in the log)"
    if not handled_visible and in_log:
        explanation += (
            f"; what the application did with the {plural(handed_corrupt, 'corrupt record')} it "
            "was handed cannot be told from its consumer API (instrumented evidence)"
        )
    if status == INCONCLUSIVE:
        explanation += f"; inconclusive: {gaps(ev, 'log', 'acks', 'consumed')}"
    return Verdict(
        name,
        status,
        n,
        explanation,
        counts={
            "corrupt-acknowledged": n_acked,
            "corrupt-processed": n_proc,
            "content-mismatch": n_mis,
            "invalid-in-log": in_log,
            **({"corrupt-handed": handed_corrupt} if not handled_visible else {}),
        },
        examples=tuple(examples[: facts.max_examples]),
    )


def invalid_handling_cases(ev: Evidence, facts: Facts) -> dict[str, pl.DataFrame]:
    assert ev.log is not None and ev.invalid is not None
    committed = facts.committed_frame()
    inv = ev.invalid
    out: dict[str, pl.DataFrame] = {}
    # Invalid records skipped with a whole stretch are never-processed's finding.
    out["unreported"] = facts.unhandled_invalid.filter(pl.col("stepped_over")).select(
        "pos", "reason", "committed"
    )
    idx, found = lookup(ev.log["pos"], inv["pos"])
    held = ev.log.select("producer", "key", "seq", "sha_ok")[idx]
    valid = found & held["sha_ok"] & held["producer"].is_not_null()
    out["refused-valid"] = pl.concat([inv, held.drop("sha_ok")], how="horizontal").filter(valid)
    with_committed = inv.join(committed, on="partition", how="left").with_columns(offset_expr())
    out["stalled"] = with_committed.filter(
        pl.col("committed").is_null() | (pl.col("committed") <= pl.col("offset"))
    ).drop("offset")
    return out


def check_invalid_handling(ev: Evidence, facts: Facts) -> Verdict:
    name = INVALID_HANDLING
    if (v := missing(name, ev, "log", "consumed")) is not None:
        return v
    assert ev.invalid is not None
    cases = invalid_handling_cases(ev, facts)
    unreported, refused_valid, stalled = (
        cases["unreported"],
        cases["refused-valid"],
        cases["stalled"],
    )
    n = unreported.height + refused_valid.height + stalled.height
    complete = ev.complete("log") and ev.complete("consumed")
    # An unreported record is inferred from an absence: it needs complete consumer evidence.
    certain = refused_valid.height + stalled.height
    status = FAIL if certain or (unreported.height and complete) else status_of(0, complete)
    examples = (
        facts.examples(
            unreported, ["pos"], detail="invalid record skipped without an invalid report"
        )
        + facts.examples(refused_valid.drop("period"), ["pos"], detail="refused a valid record")
        + facts.examples(
            stalled.drop("period"), ["pos"], detail="the committed offset never moved past it"
        )
    )
    refused = ev.invalid["pos"].n_unique() if ev.invalid.height else 0
    by_reason = (
        {str(k): int(v) for k, v in ev.invalid.group_by("reason").len().sort("reason").iter_rows()}
        if ev.invalid.height
        else {}
    )
    if n:
        explanation = (
            f"{plural(n, 'mishandled record')}: {unreported.height} invalid records skipped "
            f"silently, {refused_valid.height} valid records refused, "
            f"{stalled.height} refusals that stalled their partition"
        )
    else:
        explanation = (
            f"{plural(refused, 'refused record')} reported as invalid, each really invalid, "
            f"none stalled its partition"
        )
    if status == INCONCLUSIVE:
        explanation += f"; inconclusive: {gaps(ev, 'log', 'consumed')}"
    return Verdict(
        name,
        status,
        n,
        explanation,
        counts={
            "invalid": refused,
            "reports": ev.invalid.height,
            "by-reason": by_reason,
            "unreported": unreported.height,
            "refused-valid": refused_valid.height,
            "stalled": stalled.height,
            "invalid-in-log": facts.bad_log.height,
        },
        examples=tuple(examples[: facts.max_examples]),
    )
