"""Checks at offsets strength: only the group's committed offsets and its view of the group.

Processing is invisible here. What the committed offsets do show:

- a **rewind** (``redelivered``): the group's committed offset for a partition
  moving backwards between two snapshots. Records between the two offsets had
  been committed and will be read again — a redelivery of committed records.
- a **visible skip** (``never-processed``): the group's committed offset, as a
  snapshot saw it, already past a record whose send began only later (its
  ``t_send`` more than the clock tolerance after the snapshot). Nobody can
  have processed a record before it was sent: the group committed past it.

What they cannot show, and why: whether any record below the committed offset
was processed at all. A new owner's first commit far ahead of the previous
one may be fast processing or a skip — the offsets alone cannot tell, since
nothing bounds how much a consumer processes between two snapshots. So a run
without an anomaly at this strength is inconclusive, never a pass.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from reports.checks.common import gaps, missing, plural
from reports.checks.integrity import check_corruption
from reports.evidence import POS_SHIFT, Evidence
from reports.facts import Facts
from reports.model import FAIL, INCONCLUSIVE, Verdict
from reports.registry import NEVER_PROCESSED, REDELIVERED

#: Clock difference tolerated between the producers' hosts and the monitor's.
SKEW_S = 1.0


def rewind_cases(ev: Evidence) -> list[dict[str, Any]]:
    """Each time a partition's committed offset went backwards between two snapshots."""
    out: list[dict[str, Any]] = []
    last: dict[int, tuple[float, int]] = {}
    for s in ev.group or ():
        for p, o in sorted(s.committed.items()):
            prev = last.get(p)
            if prev is not None and o < prev[1]:
                out.append(
                    {
                        "partition": p,
                        "offset": o,
                        "committed": prev[1],
                        "t": round(s.t, 6),
                        "prev_t": round(prev[0], 6),
                        "kind": "rewind",
                        "detail": f"the committed offset went back from {prev[1]} to {o}: "
                        f"{prev[1] - o} committed records are read again",
                    }
                )
            last[p] = (s.t, o)
    return out


def skip_cases(ev: Evidence, facts: Facts) -> pl.DataFrame:
    """Acknowledged records a snapshot's committed offset had passed before they were sent.

    For each record, the first snapshot whose committed offset for its partition
    is past it; a record whose send began more than ``SKEW_S`` after that
    snapshot was not in the log when the group committed past it.
    Columns: pos, producer, key, seq, t_send, t (the snapshot), committed.
    """
    schema = {
        "pos": pl.Int64,
        "producer": pl.String,
        "key": pl.String,
        "seq": pl.Int64,
        "t_send": pl.Float64,
        "t": pl.Float64,
        "committed": pl.Int64,
    }
    out: list[pl.DataFrame] = []
    if ev.acks is None or not ev.group:
        return pl.DataFrame(schema=schema)
    series: dict[int, tuple[list[float], list[int]]] = {}
    for snap in ev.group:
        for p, o in snap.committed.items():
            ts, os_ = series.setdefault(p, ([], []))
            ts.append(snap.t)
            os_.append(o)
    acks = ev.acks
    parts = acks["pos"] // POS_SHIFT
    for p, (ts, offsets) in sorted(series.items()):
        mine = acks.filter(parts == p)
        if mine.height == 0:
            continue
        # The highest committed offset seen by each snapshot (rewinds do not undo a pass).
        high = pl.Series(offsets, dtype=pl.Int64).cum_max()
        first = high.search_sorted(mine["pos"] % POS_SHIFT, side="right")
        found = first < len(ts)
        at = first.clip(0, len(ts) - 1)
        t_snap = pl.Series(ts, dtype=pl.Float64).gather(at)
        committed = pl.Series(offsets, dtype=pl.Int64).gather(at)
        hit = found & (mine["t_send"] > t_snap + SKEW_S)
        if hit.any():
            out.append(
                mine.with_columns(t_snap.alias("t"), committed.alias("committed"))
                .filter(hit)
                .select(
                    "pos",
                    pl.col("producer").cast(pl.String),
                    pl.col("key").cast(pl.String),
                    "seq",
                    "t_send",
                    "t",
                    "committed",
                )
            )
    return pl.concat(out).sort("pos") if out else pl.DataFrame(schema=schema)


def check_offsets_never_processed(ev: Evidence, facts: Facts) -> Verdict:
    name = NEVER_PROCESSED
    if (v := missing(name, ev, "log", "group")) is not None:
        return Verdict(
            name,
            INCONCLUSIVE,
            0,
            v.explanation + "; at offsets strength the group's snapshots are all there is",
        )
    skipped = skip_cases(ev, facts)
    n = skipped.height
    below = sum(lo_cut[2] - lo_cut[0] for lo_cut in facts.log_slices.values())
    backlog = sum(lo_cut[1] - lo_cut[2] for lo_cut in facts.log_slices.values())
    examples = facts.examples(
        skipped,
        ["pos"],
        detail="the group had committed past it before it was sent",
    )
    if n:
        status = FAIL
        explanation = (
            f"{plural(n, 'record')} skipped: the group's committed offset was already past "
            f"them before they were sent, so nobody can have processed them"
        )
    else:
        status = INCONCLUSIVE
        explanation = (
            f"no visible skip; the group committed past {plural(below, 'log record')}, but "
            f"processing is invisible at offsets strength: whether they were processed "
            f"cannot be proven, so this run cannot pass"
        )
    if backlog:
        explanation += (
            f"; {plural(backlog, 'record')} at or beyond the final committed offset (backlog)"
        )
    if status == INCONCLUSIVE and (why := gaps(ev, "log", "group", "acks")):
        explanation += f"; also: {why}"
    return Verdict(
        name,
        status,
        n,
        explanation,
        counts={
            "never-processed": n,
            "backlog": backlog,
            "committed-past": below,
            "log-records": ev.log.height if ev.log is not None else 0,
        },
        examples=tuple(examples),
    )


def check_offsets_redelivered(ev: Evidence, facts: Facts) -> Verdict:
    name = REDELIVERED
    if (v := missing(name, ev, "group")) is not None:
        return v
    rewinds = rewind_cases(ev)
    n = len(rewinds)
    snapshots = len(ev.group or ())
    if n:
        status = FAIL
        records = sum(int(r["committed"]) - int(r["offset"]) for r in rewinds)
        explanation = (
            f"{plural(n, 'rewind')} of a committed offset: {plural(records, 'committed record')} "
            f"read again (a redelivery of committed records)"
        )
    else:
        status = INCONCLUSIVE
        explanation = (
            f"no committed offset went backwards ({plural(snapshots, 'snapshot')}); redelivery "
            f"inside the service is invisible at offsets strength"
        )
    return Verdict(
        name,
        status,
        n,
        explanation,
        counts={"rewinds": n, "snapshots": snapshots},
        examples=tuple(
            sorted(rewinds, key=lambda r: (r["t"], r["partition"]))[: facts.max_examples]
        ),
    )


def check_offsets_corruption(ev: Evidence, facts: Facts) -> Verdict:
    """Corruption as far as the log shows it: what the group processed is invisible."""
    v = check_corruption(ev, facts)
    return Verdict(
        v.name,
        v.status,
        v.count,
        v.explanation + " (acknowledged records only: what the group processed is invisible)",
        counts=v.counts,
        examples=v.examples,
    )
