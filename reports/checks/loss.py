"""Loss: acknowledged messages missing from the log, and log records nobody processed.

- ``lost-from-log``: an acknowledged send whose (partition, offset) does not
  hold it in the drained log: absent, or holding a different message. Broker
  loss (an unclean leader election, ``acks=1``, …).
- ``never-processed``: a valid log record below the group's final committed
  offset that no member processed or refused: the group skipped it
  (consumer-side loss, e.g. committing before processing and being killed).
  Processing by a zombie after its partition moved on does not count: a
  record only a zombie processed is one the group skipped.
  Records at or beyond the committed offset are *backlog*: the drain did not
  finish, the run is inconclusive.
- ``indeterminate``: sends that ended ``unknown``; found in the log they are
  *recovered*, else *indeterminate*. Never a failure by itself.
"""

from __future__ import annotations

import polars as pl

from reports.allowances import COMMIT_AFTER_WORK
from reports.checks.common import gaps, log_identity, missing, plural
from reports.claims import AFTER_WORK, CANNOT_TELL, SKIPPED, UNFINISHED
from reports.evidence import POS_SHIFT, Evidence
from reports.facts import Facts, contains, lookup
from reports.model import FAIL, INCONCLUSIVE, PASS, Verdict, status_of
from reports.registry import INDETERMINATE, LOST_FROM_LOG, NEVER_PROCESSED

IDENTITY = ["producer", "key", "seq"]


def lost_cases(
    ev: Evidence, facts: Facts, chunk: int = 2_000_000
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Acknowledged positions the log does not hold (absent; holding another message)."""
    assert ev.log is not None and ev.acks is not None
    log = ev.log
    absent: list[pl.DataFrame] = []
    other: list[pl.DataFrame] = []
    for start in range(0, ev.acks.height, chunk):
        acks = ev.acks.slice(start, chunk)
        idx, found = lookup(log["pos"], acks["pos"])
        absent.append(acks.filter(~found))
        held = log.select(
            pl.col("producer").alias("log_producer"),
            pl.col("key").alias("log_key"),
            pl.col("seq").alias("log_seq"),
        )[idx]
        same = (
            (held["log_producer"] == acks["producer"])
            & (held["log_key"] == acks["key"])
            & (held["log_seq"] == acks["seq"])
        ).fill_null(False)
        # A record that does not decode is corruption's business, not loss.
        differs = found & ~same & held["log_producer"].is_not_null()
        if differs.any():
            other.append(pl.concat([acks, held], how="horizontal").filter(differs))
    empty_other = ev.acks.head(0).with_columns(
        pl.lit(None, pl.Categorical).alias("log_producer"),
        pl.lit(None, pl.Categorical).alias("log_key"),
        pl.lit(None, pl.Int64).alias("log_seq"),
    )
    return (
        pl.concat(absent) if absent else ev.acks.head(0),
        pl.concat(other) if other else empty_other,
    )


def check_lost_from_log(ev: Evidence, facts: Facts) -> Verdict:
    name = LOST_FROM_LOG
    if (v := missing(name, ev, "acks", "log")) is not None:
        return v
    absent, other = lost_cases(ev, facts)
    acked = facts.acknowledged
    lost = pl.concat([absent.select(IDENTITY), other.select(IDENTITY)]).unique().height
    log_complete = ev.complete("log")
    # An absence proves loss only in a complete drain; another message at the
    # acknowledged offset proves it whatever else is missing.
    if other.height or (absent.height and log_complete):
        status = FAIL
    elif absent.height or not log_complete or not ev.complete("acks"):
        status = INCONCLUSIVE
    else:
        status = PASS
    examples = facts.examples(
        other.with_columns(log_identity("offset holds {}/{} seq {}").alias("detail")).drop(
            "log_producer", "log_key", "log_seq"
        ),
        ["pos"],
    ) + facts.examples(absent, ["pos"], detail="not in the drained log")
    if lost:
        explanation = (
            f"{plural(lost, 'acknowledged message')} of {acked} not in the drained log at "
            f"the acknowledged offset ({absent.height} absent, {other.height} overwritten)"
        )
    else:
        explanation = f"all {plural(acked, 'acknowledged message')} are in the drained log"
    if status == INCONCLUSIVE:
        explanation += f"; inconclusive: {gaps(ev, 'acks', 'log')}"
    return Verdict(
        name,
        status,
        lost,
        explanation,
        counts={
            "acknowledged": acked,
            "lost-from-log": lost,
            "absent": absent.height,
            "overwritten": other.height,
        },
        examples=tuple(examples[: facts.max_examples]),
    )


def never_processed_cases(ev: Evidence, facts: Facts) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Valid records below the final committed offset nobody handled; and the backlog.

    The log is sorted by position, so each partition's records below its final
    committed offset are one slice of it.
    """
    assert ev.log is not None
    cols = [*IDENTITY, "pos", "committed"]
    below: list[pl.DataFrame] = []
    backlog: list[pl.DataFrame] = []
    for p, (lo, hi, cut) in sorted(facts.log_slices.items()):
        committed = pl.lit(facts.final_committed.get(p), pl.Int64).alias("committed")
        if cut > lo:
            part = ev.log.slice(lo, cut - lo)
            part = part.filter(pl.col("sha_ok") & pl.col("producer").is_not_null())
            missing = ~contains(facts.handled_sorted, part["pos"])
            below.append(part.filter(missing).with_columns(committed).select(cols))
        if hi > cut:
            backlog.append(ev.log.slice(cut, hi - cut).with_columns(committed).select(cols))
    # Invalid records that went missing with the valid ones around them.
    skipped_invalid = facts.unhandled_invalid.filter(~pl.col("stepped_over"))
    if skipped_invalid.height:
        below.append(skipped_invalid.select(cols))
    empty = ev.log.head(0).with_columns(pl.lit(None, pl.Int64).alias("committed")).select(cols)
    return (
        pl.concat(below).sort("pos") if below else empty,
        pl.concat(backlog) if backlog else empty,
    )


def claim_cases(never: pl.DataFrame, facts: Facts) -> pl.DataFrame:
    """The never-processed candidates of an instrumented consumer, each judged from what
    its holder claimed (:mod:`reports.claims`): columns ``judgement``, ``detail``, ``holder``."""
    claims = facts.claims
    assert claims is not None
    kinds, details, holders = [], [], []
    for pos in never["pos"].to_list():
        j = claims.judge(int(pos // POS_SHIFT), int(pos % POS_SHIFT))
        kinds.append(j.kind)
        details.append(j.detail)
        holders.append(j.member)
    return never.with_columns(
        pl.Series("judgement", kinds, dtype=pl.String),
        pl.Series("detail", details, dtype=pl.String),
        pl.Series("holder", holders, dtype=pl.String),
    )


def check_never_processed(ev: Evidence, facts: Facts) -> Verdict:
    name = NEVER_PROCESSED
    if (v := missing(name, ev, "log", "consumed")) is not None:
        return v
    never, backlog = never_processed_cases(ev, facts)
    claims = facts.claims
    judged = claim_cases(never, facts) if claims is not None and never.height else None
    allowed: tuple = ()
    unknown = after_work = 0
    if judged is not None:
        # Records their holder claimed and was stopped holding: failed only when provably
        # unfinished; finished by the commit-after-work pattern; else cannot tell.
        aw = judged.filter(pl.col("judgement") == AFTER_WORK)
        unk = judged.filter(pl.col("judgement") == CANNOT_TELL)
        after_work, unknown = aw.height, unk.height
        allowed = (
            COMMIT_AFTER_WORK.applied(
                aw.height, facts.examples(aw.drop("judgement", "holder"), ["pos"])
            ),
        )
        never = judged.filter(pl.col("judgement").is_in([UNFINISHED, SKIPPED]))
    n, b = never.height, backlog.height
    consumed_complete = ev.complete("consumed")
    if n and consumed_complete:
        status = FAIL
    elif n or b or unknown or not ev.complete("log") or not consumed_complete:
        status = INCONCLUSIVE
    else:
        status = PASS
    zombie_only = 0
    if judged is not None:
        if n and facts.zombie_moves and ev.processed is not None:
            zombie_pos = ev.processed.filter(facts.zombie_row_mask)["pos"].unique().sort()
            by_zombie = contains(zombie_pos, never["pos"]) & (never["judgement"] == SKIPPED)
            zombie_only = int(by_zombie.sum())
            never = never.with_columns(
                pl.when(by_zombie)
                .then(
                    pl.lit(
                        "committed past; processed only by a zombie after its partition moved on"
                    )
                )
                .otherwise(pl.col("detail"))
                .alias("detail")
            )
        examples = facts.examples(never.drop("judgement", "holder"), ["pos"])
        if unknown and len(examples) < facts.max_examples:
            examples += facts.examples(
                judged.filter(pl.col("judgement") == CANNOT_TELL).drop("judgement", "holder"),
                ["pos"],
            )[: facts.max_examples - len(examples)]
    elif n and facts.zombie_moves and ev.processed is not None:
        zombie_pos = ev.processed.filter(facts.zombie_row_mask)["pos"].unique().sort()
        by_zombie = contains(zombie_pos, never["pos"])
        zombie_only = int(by_zombie.sum())
        never = never.with_columns(
            pl.when(by_zombie)
            .then(pl.lit("committed past; processed only by a zombie after its partition moved on"))
            .otherwise(pl.lit("committed past, never processed"))
            .alias("detail")
        )
        examples = facts.examples(never, ["pos"])
    else:
        examples = facts.examples(never, ["pos"], detail="committed past, never processed")
    if not examples:
        examples = facts.examples(backlog, ["pos"], detail="backlog")
    if n:
        explanation = (
            f"{plural(n, 'log record')} below the group's committed offset were never "
            f"processed nor refused: the group skipped them"
        )
        if zombie_only:
            explanation += (
                f" ({zombie_only} processed only by a zombie after its partition moved on)"
            )
    elif unknown:
        explanation = "no log record below the committed offsets is known to be skipped"
    else:
        explanation = "every log record below the committed offsets was processed or refused"
    if judged is not None:
        unfinished = judged.filter(pl.col("judgement") == UNFINISHED).height
        if unfinished:
            explanation += (
                f" ({unfinished} committed by their holder while in hand, ahead of the work "
                "that would finish them)"
            )
        if after_work:
            explanation += (
                f"; {plural(after_work, 'record')} committed while in hand just before the "
                "consumer stopped count as finished: its commits follow its work"
            )
        if unknown:
            explanation += (
                f"; cannot tell for {plural(unknown, 'record')} committed while in hand "
                "before the consumer stopped (see examples)"
            )
    if claims is not None and (ahead := claims.ahead()):
        lead = ahead[0].pattern
        explanation += (
            f"; hazard: commits run ahead of the work ({', '.join(m.member for m in ahead)}: "
            f"committed a median {lead.before_s or 0:.3f} s after the hand-out, came back "
            f"{lead.after_s or 0:.3f} s after the commit, over {lead.batches} batches) — a "
            "hard stop between a commit and the end of its batch loses records"
        )
    if b:
        explanation += (
            f"; {plural(b, 'record')} at or beyond the final committed offset (backlog): "
            f"the drain did not finish"
        )
    if status == INCONCLUSIVE and (why := gaps(ev, "log", "consumed")):
        explanation += f"; inconclusive: {why}"
    return Verdict(
        name,
        status,
        n,
        explanation,
        counts={
            "never-processed": n,
            "zombie-only": zombie_only,
            "backlog": b,
            "processed": facts.processed_count,
            "log-records": ev.log.height if ev.log is not None else 0,
            **(
                {
                    "committed-in-hand-unfinished": judged.filter(
                        pl.col("judgement") == UNFINISHED
                    ).height
                    if judged is not None
                    else 0,
                    "committed-in-hand-after-work": after_work,
                    "cannot-tell": unknown,
                    "commit-patterns": claims.patterns(),
                }
                if claims is not None
                else {}
            ),
        },
        examples=tuple(examples),
        allowed=allowed,
    )


def indeterminate_cases(ev: Evidence, facts: Facts) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Sends never acknowledged (best outcome per message), and those found in the log."""
    schema = {
        "producer": pl.Categorical,
        "key": pl.Categorical,
        "seq": pl.Int64,
        "status": pl.String,
        "t_send": pl.Float64,
    }
    if ev.unsent is None or ev.unsent.height == 0:
        empty = pl.DataFrame(schema=schema)
        return empty, empty.with_columns(pl.lit(None, pl.Int64).alias("pos"))
    not_ok = ev.unsent.filter(pl.col("status") != "ok")
    ids = not_ok.select(IDENTITY).unique()
    acked_ids = (
        ev.acks.join(ids, on=IDENTITY, how="semi").select(IDENTITY).unique()
        if ev.acks is not None
        else ids.head(0)
    )
    best = (
        not_ok.join(acked_ids, on=IDENTITY, how="anti")
        .group_by(IDENTITY)
        .agg((pl.col("status") == "unknown").any().alias("any_unknown"), pl.col("t_send").min())
        .select(
            *IDENTITY,
            pl.when("any_unknown")
            .then(pl.lit("unknown"))
            .otherwise(pl.lit("fail"))
            .alias("status"),
            "t_send",
        )
    )
    if ev.log is None:
        return best, best.head(0).with_columns(pl.lit(None, pl.Int64).alias("pos"))
    in_log = ev.log.join(best.select(IDENTITY), on=IDENTITY, how="semi").select(*IDENTITY, "pos")
    found = best.join(in_log, on=IDENTITY, how="inner")
    return best, found


def check_indeterminate(ev: Evidence, facts: Facts) -> Verdict:
    name = INDETERMINATE
    if (v := missing(name, ev, "acks")) is not None:
        return v
    best, found = indeterminate_cases(ev, facts)
    unknown = best.filter(pl.col("status") == "unknown")
    failed = best.filter(pl.col("status") == "fail")
    found_unknown = found.filter(pl.col("status") == "unknown").select(IDENTITY).unique().height
    found_failed = found.filter(pl.col("status") == "fail").select(IDENTITY).unique().height
    indeterminate = unknown.height - found_unknown
    complete = ev.complete("log") and ev.complete("acks")
    status = status_of(0, complete)
    not_found = unknown.join(found.select(IDENTITY), on=IDENTITY, how="anti")
    examples = facts.examples(
        not_found.with_columns(pl.lit("unknown send, not in the log").alias("detail")),
        ["t_send", *IDENTITY],
    )
    explanation = (
        f"{plural(unknown.height, 'send')} ended unknown: {found_unknown} recovered "
        f"(in the log), {indeterminate} indeterminate (not in the log)"
    )
    if failed.height:
        explanation += (
            f"; {plural(failed.height, 'failed send')}, {found_failed} of them in the log"
        )
    if status == INCONCLUSIVE:
        explanation += f"; inconclusive: {gaps(ev, 'acks', 'log')}"
    return Verdict(
        name,
        status,
        indeterminate,
        explanation,
        counts={
            "unknown": unknown.height,
            "recovered": found_unknown,
            "indeterminate": indeterminate,
            "failed": failed.height,
            "failed-but-in-log": found_failed,
        },
        examples=tuple(examples),
    )
