"""The service's outputs matched to its inputs (output-topic evidence).

An output names the input it answers by (producer, key, seq); the drained
log holds the inputs. Everything here is matching, not judging: which inputs
got how many outputs, which outputs name no input, in which order the outputs
of one key were written. The checks in :mod:`reports.checks.outputs` judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import polars as pl

from reports.allowances import output_rebalance_window
from reports.evidence import Evidence
from reports.facts import Facts
from reports.group_view import FRESH_S
from workloads.evidence.schema import LOG_APPEND_TIME

IDENTITY = ["producer", "key", "seq"]

#: Clock difference tolerated between the clocks that stamp the outputs (the brokers',
#: or the service's hosts') and the monitor's (snapshot times) when placing a duplicate
#: against a rebalance, and between two outputs' times when they are compared at all.
SKEW_S = 1.0


@dataclass(frozen=True)
class Window:
    """A stretch of time in which a partition may have changed owner."""

    t0: float
    t1: float
    committed: int | None
    """The group's committed offset for the partition just before it (None: unknown)."""


class OutputMatch:
    """Outputs and inputs, matched by identity."""

    def __init__(self, ev: Evidence, facts: Facts) -> None:
        assert ev.outputs is not None
        self.ev = ev
        self.facts = facts
        self.outputs = ev.outputs

    @cached_property
    def identified(self) -> pl.DataFrame:
        """Outputs naming an input, in output order, with the input's log position.

        Columns: opos, producer, key, seq, sha_ok, t, timestamp_type, appended (``t`` is
        the broker's append time, not a time the service's producer chose), order (rank
        in output order), ipos (first log position holding that identity; null when the
        log holds none). Output order: offset order within an output partition (a
        partition's order is the truth), time across partitions (its clock never runs
        backwards) — a rank, not a judgement: the checks compare outputs on different
        output partitions only by times that are further apart than :data:`SKEW_S`.
        """
        out = self.outputs.filter(pl.col("identity").is_not_null())
        out = out.with_columns(
            (pl.col("timestamp_type") == LOG_APPEND_TIME).fill_null(False).alias("appended")
        )
        out = out.with_columns((pl.col("opos") // (1 << 40)).alias("opart"))
        out = out.with_columns(pl.col("t").forward_fill().over("opart").alias("tt"))
        out = out.with_columns(pl.col("tt").fill_null(0.0).cum_max().over("opart"))
        out = out.sort(["tt", "opos"]).with_row_index("order").drop("tt", "opart")
        return out.join(self.first_positions, on=IDENTITY, how="left")

    @cached_property
    def unidentified(self) -> pl.DataFrame:
        return self.outputs.filter(pl.col("identity").is_null()).select("opos", "t", "reason")

    @cached_property
    def first_positions(self) -> pl.DataFrame:
        """Per identity in the log (valid or not), its first position."""
        assert self.ev.log is not None
        log = self.ev.log.filter(pl.col("producer").is_not_null()).select(
            pl.col("producer").cast(pl.String),
            pl.col("key").cast(pl.String),
            "seq",
            "pos",
        )
        return log.group_by(IDENTITY).agg(pl.col("pos").min().alias("ipos"))

    @cached_property
    def inputs(self) -> pl.DataFrame:
        """Valid log records with their number of outputs: pos, producer, key, seq, outputs."""
        assert self.ev.log is not None
        log = self.ev.log.filter(self.facts.valid_mask).select(
            "pos",
            pl.col("producer").cast(pl.String),
            pl.col("key").cast(pl.String),
            "seq",
        )
        counts = self.identified.group_by(IDENTITY).agg(pl.len().alias("outputs"))
        return log.join(counts, on=IDENTITY, how="left").with_columns(
            pl.col("outputs").fill_null(0)
        )

    @cached_property
    def duplicates(self) -> pl.DataFrame:
        """Every output after the first of its input, with the first's time and input position.

        Columns: opos, producer, key, seq, t, appended, ipos, first_t, first_opos,
        first_appended.
        """
        ids = self.identified
        many = ids.group_by(IDENTITY).agg(pl.len().alias("n")).filter(pl.col("n") > 1)
        if many.height == 0:
            return ids.head(0).with_columns(
                pl.lit(None, pl.Float64).alias("first_t"),
                pl.lit(None, pl.Int64).alias("first_opos"),
                pl.lit(None, pl.Boolean).alias("first_appended"),
            )
        rows = ids.join(many.select(IDENTITY), on=IDENTITY, how="semi").sort("order")
        rows = rows.with_columns(
            pl.col("t").first().over(IDENTITY).alias("first_t"),
            pl.col("opos").first().over(IDENTITY).alias("first_opos"),
            pl.col("appended").first().over(IDENTITY).alias("first_appended"),
            pl.col("order").rank("ordinal").over(IDENTITY).alias("nth"),
        )
        return rows.filter(pl.col("nth") > 1).drop("nth")

    @cached_property
    def windows(self) -> dict[int, list[Window]]:
        """Per input partition: when it may have changed owner, by the group's view.

        A snapshot in any state but Stable (a rebalance in progress), a change of
        the partition's owners between Stable snapshots, a gap in the snapshots
        longer than they stay fresh, and the time before the first and after the
        last snapshot all count; the committed offset is the one seen just before.
        """
        snaps = self.facts.broker.snaps
        n = max(self.facts.partition_counts or [0])
        out: dict[int, list[Window]] = {p: [] for p in range(n)}
        if not snaps:
            return out
        broker = self.facts.broker
        for p in range(n):
            ws = out[p]
            ws.append(Window(-math.inf, snaps[0].t, None))
            prev_owners: tuple[str, ...] | None = None
            for i, s in enumerate(snaps):
                before = snaps[i - 1] if i else None
                committed = before.committed.get(p) if before is not None else None
                if before is not None and s.t - before.t > FRESH_S:
                    ws.append(Window(before.t, s.t, committed))
                if not s.stable:
                    ws.append(Window(before.t if before else -math.inf, s.t, committed))
                    continue
                owners = tuple(sorted(o.key for o in broker.owners(i).get(p, [])))
                generation_changed = (
                    before is not None
                    and s.generation is not None
                    and before.generation is not None
                    and s.generation != before.generation
                )
                if (prev_owners is not None and owners != prev_owners) or generation_changed:
                    ws.append(Window(before.t if before else -math.inf, s.t, committed))
                prev_owners = owners
            ws.append(Window(snaps[-1].t, math.inf, snaps[-1].committed.get(p)))
        return out

    def duplicate_allowed(self, ipos: int, first_t: float, t: float) -> tuple[bool, str]:
        """Whether a second output of the input at ``ipos`` may follow one at ``first_t``,
        and why: the ``output-rebalance-window`` allowance (:mod:`reports.allowances`).

        The two times are taken as when the outputs were written: the caller judges
        only outputs whose times say so (:func:`times_separate`)."""
        p, o = divmod(ipos, 1 << 40)
        lo, hi = min(first_t, t), max(first_t, t)
        return output_rebalance_window(self.windows.get(p, []), o, lo, hi, SKEW_S)


def times_separate(t0: float, t1: float, appended: bool) -> bool:
    """Whether two outputs' times say when each was written.

    Append times (``LogAppendTime``) always do: the broker stamped them as it wrote
    them. Producer timestamps (``CreateTime``, or unknown) do only when they differ by
    more than :data:`SKEW_S`: a service may stamp an output with its input's timestamp
    (Kafka Streams' default), and two outputs of one input then carry the same time
    however far apart they were written.
    """
    return appended or abs(t1 - t0) > SKEW_S
