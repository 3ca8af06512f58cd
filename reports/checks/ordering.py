"""Ordering: per partition within an ownership period, and per key across partitions.

- ``partition-order``: within one ownership period a member processes
  contiguous, increasing offsets (offsets the log does not hold as valid
  records — refused or never written — may be stepped over); a new owner
  starts exactly at the last committed offset. After a hard end of the
  previous owner a later start is accepted (its last commit may have landed
  without being recorded); skipped records then show as never-processed.
- ``key-order``: per (producer, key), the first processing of each message
  follows seq order. A violation where the key's earlier message sat on
  another partition, in a run whose partition count changed, is Kafka's
  known hazard (keys move when partitions are added): the
  ``partition-change-hazard`` allowance (:mod:`reports.allowances`) lets it
  pass, counted. Every other violation fails.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from reports.allowances import PARTITION_CHANGE_HAZARD, partition_change_hazard
from reports.checks.common import gaps, missing, plural
from reports.evidence import POS_SHIFT, Evidence, partition_expr
from reports.facts import Facts
from reports.model import FAIL, INCONCLUSIVE, PASS, Verdict
from reports.registry import KEY_ORDER, PARTITION_ORDER

IDENTITY = ["producer", "key", "seq"]


def expected_positions(ev: Evidence, facts: Facts) -> pl.Series | None:
    """Sorted log positions an owner must process: valid records nobody refused.

    None without a log. Everything else (records that fail validation, records a
    consumer reported invalid, offsets never written) may be stepped over.
    """
    if ev.log is None:
        return None
    exp = ev.log["pos"].filter(facts.valid_mask)
    if ev.invalid is not None and ev.invalid.height:
        exp = exp.filter(~exp.is_in(ev.invalid["pos"].implode()))
    return exp


def within_period_cases(ev: Evidence, facts: Facts) -> tuple[pl.DataFrame, bool]:
    """Steps inside a period that go backwards, repeat, or skip a valid record.

    Returns the violations and whether gaps could be judged (they need the log).
    """
    assert ev.processed is not None
    steps = ev.processed.with_columns(pl.col("pos").shift(1).over("period").alias("prev"))
    odd = steps.filter(pl.col("prev").is_not_null() & (pl.col("pos") != pl.col("prev") + 1))
    back = odd.filter(pl.col("pos") <= pl.col("prev")).with_columns(
        pl.lit("went back").alias("kind")
    )
    ahead = odd.filter(pl.col("pos") > pl.col("prev") + 1)
    exp = expected_positions(ev, facts)
    if exp is None:
        judged = False
        skipped = ahead.head(0).with_columns(pl.lit("skipped").alias("kind"))
    else:
        judged = True
        lo = exp.search_sorted(ahead["prev"], side="right")
        hi = exp.search_sorted(ahead["pos"], side="left")
        skipped = ahead.with_columns((hi - lo).alias("skipped_records")).filter(
            pl.col("skipped_records") > 0
        )
        skipped = skipped.drop("skipped_records").with_columns(pl.lit("skipped").alias("kind"))
    cases = pl.concat([back, skipped], how="diagonal_relaxed")
    return cases, judged


def start_cases(ev: Evidence, facts: Facts) -> list[dict[str, Any]]:
    """Periods that did not start at the committed offset, and processing without ownership."""
    out: list[dict[str, Any]] = []
    first_log: dict[int, int] = {}
    if ev.log is not None and ev.log.height:
        for p, (lo, _, _) in facts.log_slices.items():
            first_log[p] = int(ev.log["pos"][lo]) % POS_SHIFT
    exp = expected_positions(ev, facts)

    def only_steppable_between(p: int, lo: int, hi: int) -> bool:
        # Offsets lo..hi-1 of p hold no record an owner must process (e.g. a
        # poison record the previous owner passed over before its commit).
        if exp is None:
            return False
        a = exp.search_sorted(p * POS_SHIFT + lo, side="left")
        b = exp.search_sorted(p * POS_SHIFT + hi, side="left")
        return bool(a == b)

    by_partition = ev.ownership.by_partition() if ev.ownership else {}
    for p, periods in sorted(by_partition.items()):
        prev = None
        done = None  # one past the highest offset handled on p before this period
        for per in periods:
            if per.implicit and per.handled:
                out.append(
                    {
                        "kind": "unowned",
                        "partition": p,
                        "offset": per.first_offset,
                        "member": per.member,
                        "t": per.first_t,
                        "detail": "processed without an assignment of this partition",
                    }
                )
            if per.handled and per.first_offset is not None and not per.implicit:
                committed = facts.committed_at(p, per.start_t, before=per)
                basis = "committed"
                if committed is None and p in first_log:
                    committed, basis = first_log[p], "log start"
                s = per.first_offset
                if committed is not None and s != committed:
                    if s < committed and basis == "log start":
                        # Records at the log's start may since have been lost or
                        # deleted: only a start past it is evidence of a skip.
                        kind, detail = "", ""
                    elif s < committed:
                        kind, detail = (
                            "before-commit",
                            f"started at {s}, before the {basis} offset {committed}",
                        )
                    elif (
                        (prev is not None and prev.hard)
                        or s == done
                        or only_steppable_between(p, committed, s)
                    ):
                        # A commit that landed without being recorded: after a hard end
                        # anything up to the batch in flight; otherwise exactly what had
                        # been processed (e.g. kafka-python's unrecorded commit on revoke),
                        # or past records no owner has to process.
                        kind, detail = "", ""
                    else:
                        kind = "after-commit"
                        detail = f"started at {s}, past the {basis} offset {committed}"
                    if kind:
                        out.append(
                            {
                                "kind": kind,
                                "partition": p,
                                "offset": s,
                                "member": per.member,
                                "t": per.first_t,
                                "committed": committed,
                                "previous_member": prev.member if prev else None,
                                "detail": detail,
                            }
                        )
            prev = per
            if per.handled and per.last_offset is not None:
                done = max(done or 0, per.last_offset + 1)
    return out


def check_partition_order(ev: Evidence, facts: Facts) -> Verdict:
    name = PARTITION_ORDER
    if (v := missing(name, ev, "consumed")) is not None:
        return v
    within, judged = within_period_cases(ev, facts)
    starts = start_cases(ev, facts)
    consumed_complete = ev.complete("consumed")
    by_kind: dict[str, int] = {"went back": 0, "skipped": 0}
    if within.height:
        for k, n in within.group_by("kind").len().iter_rows():
            by_kind[str(k)] = int(n)
    for s in starts:
        by_kind[s["kind"]] = by_kind.get(s["kind"], 0) + 1
    certain = within.height + sum(1 for s in starts if s["kind"] == "unowned")
    # A start that disagrees with the commits may be explained by a member file
    # that could not be read: only complete evidence proves it.
    uncertain = sum(1 for s in starts if s["kind"] != "unowned")
    total = certain + uncertain
    if certain or (uncertain and consumed_complete):
        status = FAIL
    elif uncertain or not consumed_complete or not judged:
        status = INCONCLUSIVE
    else:
        status = PASS
    examples = facts.examples(
        within.select(
            "pos",
            (pl.col("prev") % POS_SHIFT).alias("previous_offset"),
            "period",
            "trank",
            "kind",
        ),
        ["pos", "trank"],
    )
    examples = (
        sorted(
            ({k: v for k, v in s.items() if v is not None} for s in starts),
            key=lambda s: (s["partition"], s.get("offset") or 0, s.get("t") or 0),
        )
        + examples
    )[: facts.max_examples]
    periods = sum(1 for p in facts.periods if p.handled)
    if total:
        parts = [f"{n} {k}" for k, n in sorted(by_kind.items()) if n]
        explanation = f"{plural(total, 'ordering violation')} across {periods} ownership periods ({', '.join(parts)})"
    else:
        explanation = (
            f"{periods} ownership periods each processed contiguous, increasing offsets "
            f"from the committed offset"
        )
    if status == INCONCLUSIVE:
        why = gaps(ev, "consumed") or "no log to judge gaps against"
        explanation += f"; inconclusive: {why}"
    return Verdict(
        name,
        status,
        total,
        explanation,
        counts={"violations": total, "periods": periods, **by_kind},
        examples=tuple(examples),
    )


PART_BITS = 20


#: Key-order works on this many slices of the keys in turn, to bound memory.
KEY_SLICES = 8


def key_order_cases(ev: Evidence, facts: Facts) -> pl.DataFrame:
    """First processings that came after a higher seq of the same (producer, key).

    Columns: identity, partition, pos, trank, period, after_seq, after_partition,
    hazard. A late message whose key's higher seq sat on the *same* partition
    is always a real violation; one whose higher seq was on another partition
    is the partition-change hazard when the partition count changed.
    """
    assert ev.processed is not None
    firsts = ev.processed.filter(
        facts.first_mask
        & ev.processed["producer"].is_not_null()
        & ev.processed["key"].is_not_null()
    )
    slices = KEY_SLICES if firsts.height > 1_000_000 else 1
    out = []
    for k in range(slices):
        part = firsts
        if slices > 1:
            part = firsts.filter(pl.col("key").to_physical() % slices == k)
        out.append(_late(part.sort("trank", maintain_order=True), facts.partitions_changed))
    return pl.concat(out) if len(out) > 1 else out[0]


def _late(firsts: pl.DataFrame, partitions_changed: bool) -> pl.DataFrame:
    firsts = firsts.with_columns(partition_expr())
    # The highest seq seen so far per key (its partition packed alongside),
    # and the highest seen so far per key on this partition.
    packed = pl.col("seq") * (1 << PART_BITS) + pl.col("partition").cast(pl.Int64)
    firsts = firsts.with_columns(
        packed.cum_max().shift(1).over(["producer", "key"]).alias("prev_max"),
        pl.col("seq").cum_max().shift(1).over(["producer", "key", "partition"]).alias("prev_same"),
    )
    late = firsts.filter(
        pl.col("prev_max").is_not_null() & (pl.col("seq") < pl.col("prev_max") // (1 << PART_BITS))
    )
    same = (pl.col("prev_same").is_not_null() & (pl.col("seq") < pl.col("prev_same"))).fill_null(
        False
    )
    return late.with_columns(
        pl.when(same)
        .then(pl.col("prev_same"))
        .otherwise(pl.col("prev_max") // (1 << PART_BITS))
        .alias("after_seq"),
        pl.when(same)
        .then(pl.col("partition"))
        .otherwise((pl.col("prev_max") % (1 << PART_BITS)).cast(pl.Int32))
        .alias("after_partition"),
        partition_change_hazard(~same, partitions_changed).alias("hazard"),
    ).drop("prev_max", "prev_same")


def check_key_order(ev: Evidence, facts: Facts) -> Verdict:
    name = KEY_ORDER
    if (v := missing(name, ev, "consumed")) is not None:
        return v
    cases = key_order_cases(ev, facts)
    real = cases.filter(~pl.col("hazard"))
    hazard = cases.filter(pl.col("hazard"))
    complete = ev.complete("consumed")
    if real.height:
        status = FAIL
    elif not complete:
        status = INCONCLUSIVE
    else:
        status = PASS

    def shown(frame: pl.DataFrame, detail: str) -> list[dict[str, Any]]:
        return facts.examples(
            frame.with_columns(
                pl.format(detail, pl.col("after_seq"), pl.col("after_partition")).alias("detail")
            ).drop("hazard"),
            ["producer", "key", "seq"],
        )

    examples = shown(real, "processed after seq {} (partition {})")
    moved = shown(hazard, "after seq {} on partition {}: the key moved when partitions were added")
    examples += moved
    keys = cases.select("producer", "key").unique().height if cases.height else 0
    if real.height:
        explanation = f"{plural(real.height, 'message')} processed after a later seq of its key"
    else:
        explanation = "every key's messages were first processed in seq order"
    if hazard.height:
        explanation += (
            f"; {plural(hazard.height, 'reordering')} caused by the partition-count change "
            f"(a Kafka hazard, not failed)"
        )
    if status == INCONCLUSIVE:
        explanation += f"; inconclusive: {gaps(ev, 'consumed')}"
    return Verdict(
        name,
        status,
        real.height,
        explanation,
        counts={
            "violations": real.height,
            "partition-change-hazard": hazard.height,
            "keys-affected": keys,
            "partition-count-changed": facts.partitions_changed,
        },
        examples=tuple(examples[: facts.max_examples]),
        allowed=(PARTITION_CHANGE_HAZARD.applied(hazard.height, moved),),
    )
