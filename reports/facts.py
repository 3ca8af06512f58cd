"""Facts derived once from the evidence and shared by the checks.

Each is computed on first use: a check that is not reached (its evidence is
missing) costs nothing.
"""

from __future__ import annotations

import bisect
import math
from functools import cached_property
from typing import TYPE_CHECKING, Any

import polars as pl

from reports.evidence import POS_SHIFT, Evidence, offset_expr, partition_expr
from reports.model import MAX_EXAMPLES
from reports.ownership import END_ERROR, END_KILLED, END_LOST, END_STOP, Commit, Period

if TYPE_CHECKING:
    from reports.claims import Claims
    from reports.group_view import BrokerView
    from reports.outputs import OutputMatch

IDENTITY = ["producer", "key", "seq"]

#: How long before a moment a monitor snapshot must be to describe that moment.
SNAPSHOT_MARGIN_S = 0.5
#: A member a fault hit wrote nothing later than this after the fault ended.
DEATH_MARGIN_S = 1.0
#: Ownership overlaps shorter than this are clock noise between hosts, not two owners.
OVERLAP_TOLERANCE_S = 0.25


class Facts:
    def __init__(self, ev: Evidence, max_examples: int = MAX_EXAMPLES) -> None:
        self.ev = ev
        self.max_examples = max_examples

    # --- commits ----------------------------------------------------------------

    @cached_property
    def commit_timeline(self) -> dict[int, tuple[list[float], list[Commit]]]:
        """Per partition, the consumers' successful commits in time order (exact)."""
        events: dict[int, list[Commit]] = {}
        own = self.ev.ownership
        if own is not None:
            for c in own.commits:
                if c.ok:
                    events.setdefault(c.partition, []).append(c)
        out: dict[int, tuple[list[float], list[Commit]]] = {}
        for p, items in events.items():
            items.sort(key=lambda c: (c.t, c.line))
            out[p] = ([c.t for c in items], items)
        return out

    @cached_property
    def snapshot_timeline(self) -> dict[int, tuple[list[float], list[int]]]:
        out: dict[int, tuple[list[float], list[int]]] = {}
        for s in self.ev.group or ():
            for p, o in s.committed.items():
                ts, vs = out.setdefault(p, ([], []))
                ts.append(s.t)
                vs.append(o)
        return out

    def committed_at(self, partition: int, t: float, before: Period | None = None) -> int | None:
        """The group's committed offset for ``partition`` as known at time ``t``.

        Two witnesses: the consumers' successful ``committed`` lines and the
        monitor's snapshots (the broker's view). The latest of each counts, and
        the higher wins. Snapshots count only when taken ``SNAPSHOT_MARGIN_S``
        before ``t``: one stamped at the moment of a handover may already show
        the new owner's first commit. With ``before``, commits that period's own
        member recorded after its assignment line are ignored.
        """
        best: int | None = None
        ts, commits = self.commit_timeline.get(partition, ([], []))
        i = bisect.bisect_right(ts, t)
        while i:
            c = commits[i - 1]
            if before is not None and c.member == before.member and c.line > before.start_line:
                i -= 1
                continue
            best = c.offset
            break
        sts, svs = self.snapshot_timeline.get(partition, ([], []))
        j = bisect.bisect_right(sts, t - SNAPSHOT_MARGIN_S)
        if j:
            best = svs[j - 1] if best is None else max(best, svs[j - 1])
        return best

    def committed_between(self, partition: int, t0: float, t1: float) -> int | None:
        """The highest committed offset the monitor saw for ``partition`` in [t0, t1]."""
        ts, vs = self.snapshot_timeline.get(partition, ([], []))
        lo, hi = bisect.bisect_left(ts, t0), bisect.bisect_right(ts, t1)
        return max(vs[lo:hi]) if hi > lo else None

    @cached_property
    def final_committed(self) -> dict[int, int]:
        """The group's final committed offset per partition (highest of both witnesses)."""
        out: dict[int, int] = {}
        for p, (_, commits) in self.commit_timeline.items():
            out[p] = max(c.offset for c in commits)
        for p, (_, vs) in self.snapshot_timeline.items():
            if vs:
                out[p] = max(out.get(p, vs[-1]), max(vs))
        return out

    def committed_frame(self) -> pl.DataFrame:
        fc = self.final_committed
        return pl.DataFrame(
            {"partition": list(fc), "committed": list(fc.values())},
            schema={"partition": pl.Int32, "committed": pl.Int64},
        )

    # --- positions ---------------------------------------------------------------
    #
    # 10M-row frames are compared through sorted positions and binary search
    # (``search_sorted``) rather than hash joins: a join of two 10M-row frames
    # builds a hash table and a wide result, several hundred MB each.

    @cached_property
    def acknowledged(self) -> int:
        """Distinct acknowledged messages (one message acknowledged at two offsets counts once)."""
        if self.ev.acks is None or self.ev.acks.height == 0:
            return 0
        h = self.ev.acks.select(pl.struct(IDENTITY).hash().alias("h"))["h"].sort()
        return int(h.len() - (h == h.shift(1)).fill_null(False).sum())

    @cached_property
    def valid_mask(self) -> pl.Series:
        """Per log row: it decodes and its sha matches."""
        assert self.ev.log is not None
        return self.ev.log.select(pl.col("sha_ok") & pl.col("producer").is_not_null())["sha_ok"]

    @cached_property
    def bad_log(self) -> pl.DataFrame:
        """Log records that do not decode or whose sha does not match their body (few)."""
        assert self.ev.log is not None
        bad = self.ev.log.filter(~self.valid_mask).with_columns(partition_expr())
        if self.ev.log_reasons is not None and bad.height:
            bad = bad.join(self.ev.log_reasons, on="pos", how="left")
        else:
            bad = bad.with_columns(pl.lit(None, pl.String).alias("reason"))
        return bad

    @cached_property
    def unhandled_invalid(self) -> pl.DataFrame:
        """Invalid log records below the final committed offset nobody processed or refused.

        ``stepped_over`` says whether a consumer went past the record while
        handling its neighbours (the nearest valid records on either side were
        handled): then it skipped a poison record without reporting it. When a
        neighbour was not handled either, the record went missing with a whole
        stretch the group skipped — that is never-processed's finding.
        """
        assert self.ev.log is not None
        bad = (
            self.bad_log.join(self.committed_frame(), on="partition", how="left")
            .with_columns(offset_expr())
            .filter(pl.col("committed").is_not_null() & (pl.col("offset") < pl.col("committed")))
        )
        bad = bad.filter(~contains(self.handled_sorted, bad["pos"]))
        if bad.height == 0:
            return bad.with_columns(pl.lit(None, pl.Boolean).alias("stepped_over"))
        valid = self.ev.log["pos"].filter(self.valid_mask)
        n = valid.len()
        pos = bad["pos"]
        part = pos // POS_SHIFT
        if n == 0:
            return bad.with_columns(pl.lit(True).alias("stepped_over"))
        i = valid.search_sorted(pos, side="left").cast(pl.Int64)
        prev = valid.gather((i - 1).clip(0, n - 1))
        nxt = valid.gather(i.clip(0, n - 1))
        # A missing neighbour (the record is first or last of its partition) counts
        # as handled: the consumer's commit went past the record all the same.
        has_prev = (i > 0) & (prev // POS_SHIFT == part)
        has_next = (i < n) & (nxt // POS_SHIFT == part)
        stepped_over = (~has_prev | contains(self.handled_sorted, prev)) & (
            ~has_next | contains(self.handled_sorted, nxt)
        )
        return bad.with_columns(stepped_over.alias("stepped_over"))

    @cached_property
    def processed_pos_sorted(self) -> pl.Series:
        assert self.ev.processed is not None
        return self.ev.processed["pos"].sort()

    @cached_property
    def redelivered_pos(self) -> pl.Series:
        """Positions processed more than once (few)."""
        s = self.processed_pos_sorted
        return s.filter((s == s.shift(1)).fill_null(False)).unique().sort()

    @cached_property
    def first_mask(self) -> pl.Series:
        """Per processed row: it is the first processing of its position (in time)."""
        assert self.ev.processed is not None
        proc = self.ev.processed
        again = self.redelivered_pos
        if again.len() == 0:
            return pl.Series("first", [True] * proc.height, dtype=pl.Boolean)
        indexed = proc.select("pos", "trank").with_row_index("i")
        dup_rows = indexed.filter(pl.col("pos").is_in(again.implode()))
        keep = dup_rows.sort(["pos", "trank", "i"]).unique(subset="pos", keep="first")["i"]
        in_dup = proc["pos"].is_in(again.implode())
        return (~in_dup) | indexed["i"].is_in(keep.implode())

    @cached_property
    def line_t(self) -> pl.Series:
        """Time of each processed line, indexed by ``trank``."""
        assert self.ev.lines is not None
        return self.ev.lines["t"]

    def t_of(self, trank: pl.Series) -> pl.Series:
        return self.line_t.gather(trank)

    @cached_property
    def handled_sorted(self) -> pl.Series:
        """Every position processed or refused (``invalid``) by some member, sorted.

        Processing by a zombie after its partition moved on (:attr:`zombie_moves`)
        does not count: the group had handed the partition to another member, whose
        committed offset is what the group goes on from. A record only a zombie
        processed is one the group skipped (a before-process consumer paused past its
        session timeout: it had committed what it then processed as a zombie).
        """
        parts = []
        if self.ev.processed is not None:
            proc = self.ev.processed
            if self.zombie_moves:
                proc = proc.filter(~self.zombie_row_mask)
            parts.append(proc["pos"])
        if self.ev.invalid is not None:
            parts.append(self.ev.invalid["pos"])
        if not parts:
            return pl.Series("pos", [], dtype=pl.Int64)
        return pl.concat(parts).sort()

    @cached_property
    def processed_count(self) -> int:
        if self.ev.processed is None:
            return 0
        return int(self.processed_pos_sorted.len() - self.redelivered_extra)

    @cached_property
    def redelivered_extra(self) -> int:
        s = self.processed_pos_sorted
        return int((s == s.shift(1)).fill_null(False).sum())

    @cached_property
    def log_slices(self) -> dict[int, tuple[int, int, int]]:
        """Per partition: log row range [start, end) and the first row at or past the final commit."""
        assert self.ev.log is not None
        lp = self.ev.log["pos"]
        out: dict[int, tuple[int, int, int]] = {}
        parts = (lp // POS_SHIFT).unique().sort().to_list() if lp.len() else []
        for p in parts:
            lo = int(lp.search_sorted(p * POS_SHIFT, side="left"))
            hi = int(lp.search_sorted((p + 1) * POS_SHIFT, side="left"))
            committed = self.final_committed.get(int(p))
            cut = (
                lo
                if committed is None
                else int(lp.search_sorted(p * POS_SHIFT + committed, side="left"))
            )
            out[int(p)] = (lo, hi, min(max(cut, lo), hi))
        return out

    # --- partitions -------------------------------------------------------------

    @cached_property
    def partition_counts(self) -> list[int]:
        """Every partition count seen: spec, snapshots, and what the log holds."""
        counts: set[int] = set()
        if isinstance(self.ev.spec.get("partitions"), int):
            counts.add(int(self.ev.spec["partitions"]))
        for s in self.ev.group or ():
            if s.partitions:
                counts.add(s.partitions)
        if self.ev.log is not None and self.ev.log.height:
            counts.add(int(self.ev.log["pos"].max()) // POS_SHIFT + 1)  # type: ignore[arg-type]
        return sorted(counts)

    @cached_property
    def partitions_changed(self) -> bool:
        return len(self.partition_counts) > 1

    def partitions_at(self, t: float) -> int:
        """The topic's partition count at ``t`` (the monitor's view, else the spec)."""
        snaps = self.ev.group or []
        i = bisect.bisect_right([s.t for s in snaps], t)
        for s in reversed(snaps[:i]):
            if s.partitions:
                return s.partitions
        spec = self.ev.spec.get("partitions")
        if isinstance(spec, int):
            return spec
        return self.partition_counts[0] if self.partition_counts else 0

    @cached_property
    def handled_times(self) -> dict[int, list[float]]:
        """Per partition, the sorted times at which records were processed or refused."""
        frames = []
        if self.ev.lines is not None:
            frames.append(self.ev.lines.filter(pl.col("records") > 0).select("partition", "t"))
        if self.ev.invalid is not None:
            frames.append(self.ev.invalid.select("partition", "t"))
        if not frames:
            return {}
        df = pl.concat(frames).unique().sort(["partition", "t"])
        out: dict[int, list[float]] = {}
        for p, ts in df.group_by("partition", maintain_order=True).agg(pl.col("t")).iter_rows():
            out[int(p)] = list(ts)
        return out

    # --- periods ----------------------------------------------------------------

    @cached_property
    def periods(self) -> list[Period]:
        return self.ev.ownership.periods if self.ev.ownership is not None else []

    @cached_property
    def run_end(self) -> float:
        """When the run's measured part ended: the drain, else the last processing."""
        drain = self.ev.spec.get("drain")
        if isinstance(drain, dict) and isinstance(drain.get("t"), int | float):
            return float(drain["t"])
        last = [ts[-1] for ts in self.handled_times.values() if ts]
        if last:
            return max(last)
        t_end = self.ev.spec.get("t_end")
        return float(t_end) if isinstance(t_end, int | float) else math.inf

    @cached_property
    def dead_members(self) -> set[str]:
        """Members without a stop line whose end is evidenced: a landed fault hit them
        (its output names the member or its replica, and the member wrote nothing
        after it), or their replica started again as a new incarnation."""
        return set(self.death_t)

    @cached_property
    def death_t(self) -> dict[str, float]:
        """Per dead member (:attr:`dead_members`): the latest it can have been alive — the
        end of the fault that hit it, else the start of its replica's next incarnation."""
        own = self.ev.ownership
        if own is None:
            return {}
        out: dict[str, float] = {}
        silent = [m for m in own.members.values() if m.killed and m.last_t is not None]
        for f in self.ev.faults or ():
            if not (f.landed and f.is_fault and isinstance(f.output, list)):
                continue
            # Names as strings (terminate_pods, kill_consumers) or results naming
            # their pod (exec_in_pods: riverbed's SIGKILL of a pod's consumer).
            names = {str(x) for x in f.output if isinstance(x, str)} | {
                str(x["pod_name"]) for x in f.output if isinstance(x, dict) and x.get("pod_name")
            }
            for m in silent:
                hit = (
                    m.member in names
                    or m.replica in names
                    or any(m.member.startswith(f"{n}-") for n in names)
                )
                began = m.start_t if m.start_t is not None else m.first_t
                if (
                    hit
                    and (began is None or began <= f.t_end)
                    and (m.last_t or 0.0) <= f.t_end + DEATH_MARGIN_S
                    and m.member not in out
                ):
                    out[m.member] = f.t_end
        for m in silent:
            if m.member in out or not m.replica:
                continue
            later = [
                o.start_t if o.start_t is not None else o.first_t or 0.0
                for o in own.members.values()
                if o.replica == m.replica
                and o.member != m.member
                and (o.start_t if o.start_t is not None else o.first_t or 0.0) > (m.last_t or 0.0)
            ]
            if later:
                out[m.member] = min(later)
        return out

    @cached_property
    def seeks(self) -> dict[tuple[str, int], list[tuple[float, int | None]]]:
        """Per (member, partition): the application's seeks, ``(t, offset)`` in time order
        (offset None: to the beginning or the end)."""
        inst = self.ev.instrumented
        if inst is None:
            return {}
        out: dict[tuple[str, int], list[tuple[float, int | None]]] = {}
        for m, p, t, offset in (
            inst.filter(pl.col("type") == "seek")
            .select("member", "partition", "t", "offset")
            .iter_rows()
        ):
            out.setdefault((str(m), int(p)), []).append((float(t), offset))
        return out

    @cached_property
    def claims(self) -> Claims | None:
        """What an instrumented consumer claimed and held (None without such evidence)."""
        if self.ev.instrumented is None:
            return None
        from reports.claims import Claims

        owned: dict[str, set[int]] = {}
        for per in self.periods:
            if per.end in (END_KILLED, END_ERROR, END_STOP):
                owned.setdefault(per.member, set()).add(per.partition)
        return Claims(self.ev.instrumented, self.death_t, owned)

    @cached_property
    def broker(self) -> BrokerView:
        """The group snapshots, joined to the consumers' evidence."""
        from reports.group_view import BrokerView

        return BrokerView(self.ev, self.run_end)

    @cached_property
    def output_match(self) -> OutputMatch:
        """The service's outputs matched to the inputs (output-topic evidence only)."""
        from reports.outputs import OutputMatch

        return OutputMatch(self.ev, self)

    @cached_property
    def period_ends(self) -> dict[int, float]:
        """Per period id: until when its member owned the partition (``inf``: to the end).

        A period that ended with a revoke, a loss or a stop line ends there. One
        whose member's evidence simply stops (no ``stop`` line) ends at its last
        line — unless the group kept assigning the partition to that member: then
        it ends when the group's view last showed it (the consumer's silence is
        not a lost partition).
        """
        out: dict[int, float] = {}
        by_p: dict[int, list[Period]] = {}
        for per in self.periods:
            if not per.implicit:
                by_p.setdefault(per.partition, []).append(per)
        dead = self.dead_members
        for per in self.periods:
            end = per.end_t if per.end_t is not None else math.inf
            silent = per.end == END_KILLED and per.member not in dead
            if silent and per.end_t is not None and self.broker.present:
                cap = min(
                    (
                        q.start_t
                        for q in by_p.get(per.partition, ())
                        if q.member != per.member and q.start_t >= per.end_t
                    ),
                    default=math.inf,
                )
                until = self.broker.owned_until(per.member, per.partition, per.end_t, cap)
                if until is not None and until > end:
                    end = until
            out[per.id] = end
        return out

    def legal_from(self, per: Period) -> int:
        """The first offset of the period's uncommitted window (what may be redelivered)."""
        marks = [per.committed]
        end = per.end_t
        if per.id in self.zombie_moves:
            # A zombie's window closes when its partition moved on: what the group
            # committed after that is the new owner's progress, not the zombie's.
            t_move = self.zombie_moves[per.id][0]
            end = t_move if end is None else min(end, t_move)
        if end is not None:
            marks.append(self.committed_between(per.partition, per.start_t, end))
        known = [m for m in marks if m is not None]
        if known:
            return max(known)
        # Nothing committed: the window starts where the period started, which is
        # the lowest offset it processed (not its first: that may be out of order).
        low = self.period_low.get(per.id, per.first_offset)
        return low if low is not None else 0

    # --- zombies ----------------------------------------------------------------

    def fenced_after(self, per: Period, t_move: float) -> bool:
        """Whether the coordinator had fenced ``per``'s member when its partition moved on
        at ``t_move``: the period ended with ``lost`` (the client learnt it had been
        evicted) or on an error, or every commit it attempted after the move was refused."""
        if per.end in (END_LOST, END_ERROR):
            return True
        after = [c for c in per.commits if c.t >= t_move - OVERLAP_TOLERANCE_S]
        return bool(after) and not any(c.ok for c in after)

    @cached_property
    def zombie_moves(self) -> dict[int, tuple[float, str]]:
        """Per period id of a zombie: when its partition moved on, and to which member.

        A zombie is a member the coordinator evicted (its session expired while it
        was paused, or it lost the coordinator) that has not noticed yet: another
        member is assigned its partition while it still owns it by its own evidence,
        and it was fenced (:meth:`fenced_after`). What it processes after the move is
        *zombie processing*: Kafka's known hazard, counted and shown, never the
        group's processing of a record.
        """
        by_p: dict[int, list[Period]] = {}
        for per in self.periods:
            if not per.implicit:
                by_p.setdefault(per.partition, []).append(per)
        out: dict[int, tuple[float, str]] = {}
        for ps in by_p.values():
            ps.sort(key=lambda x: (x.start_t, x.start_line))
            for i, a in enumerate(ps):
                end = a.end_t if a.end_t is not None else math.inf
                for b in ps[i + 1 :]:
                    if b.start_t >= end - OVERLAP_TOLERANCE_S:
                        break
                    if b.member == a.member or b.start_t <= a.start_t:
                        continue
                    if self.fenced_after(a, b.start_t):
                        out[a.id] = (b.start_t, b.member)
                    break
        return out

    @cached_property
    def zombie_row_mask(self) -> pl.Series:
        """Per processed row: processed by a zombie after its partition moved on."""
        assert self.ev.processed is not None
        proc = self.ev.processed
        moves = self.zombie_moves
        if not moves or self.ev.lines is None:
            return pl.Series("zombie", [False] * proc.height, dtype=pl.Boolean)
        lines = self.ev.lines
        t_move = pl.DataFrame(
            {"period": list(moves), "t_move": [t for t, _ in moves.values()]},
            schema={"period": pl.Int32, "t_move": pl.Float64},
        )
        zombie_lines = (
            lines.join(t_move, on="period", how="inner")
            .filter(pl.col("t") > pl.col("t_move"))
            .select("trank")["trank"]
        )
        return proc["trank"].is_in(zombie_lines.implode()).fill_null(False).alias("zombie")

    @cached_property
    def zombie_processed(self) -> dict[str, int]:
        """Records processed by zombies after their partitions moved on (``records``), and
        how many of them no other member processed (``only-zombie``)."""
        if self.ev.processed is None or not self.zombie_moves:
            return {"records": 0, "only-zombie": 0}
        mask = self.zombie_row_mask
        zombie_pos = self.ev.processed.filter(mask)["pos"]
        others = self.ev.processed.filter(~mask)["pos"].sort()
        only = zombie_pos.unique().filter(~contains(others, zombie_pos.unique()))
        return {"records": int(mask.sum()), "only-zombie": only.len()}

    @cached_property
    def period_low(self) -> dict[int, int]:
        """Per period id, the lowest offset it processed."""
        if self.ev.processed is None or self.ev.processed.height == 0:
            return {}
        lows = self.ev.processed.group_by("period").agg((pl.col("pos") % POS_SHIFT).min())
        return {int(p): int(o) for p, o in lows.iter_rows() if p is not None}

    @cached_property
    def periods_frame(self) -> pl.DataFrame:
        ps = self.periods
        return pl.DataFrame(
            {
                "period": [p.id for p in ps],
                "member": [p.member for p in ps],
                "end": [p.end or "open" for p in ps],
                "end_t": [p.end_t for p in ps],
                "allowed": [p.redelivery_allowed for p in ps],
                "legal_from": [self.legal_from(p) for p in ps],
            },
            schema={
                "period": pl.Int32,
                "member": pl.String,
                "end": pl.String,
                "end_t": pl.Float64,
                "allowed": pl.Boolean,
                "legal_from": pl.Int64,
            },
        )

    def member_of(self, period: int | None) -> str | None:
        if period is None or period < 0 or period >= len(self.periods):
            return None
        return self.periods[period].member

    # --- examples ---------------------------------------------------------------

    def examples(self, frame: pl.DataFrame, sort: list[str], **extra: Any) -> list[dict[str, Any]]:
        """Up to ``max_examples`` rows as plain dicts, in a stable order, offsets restored."""
        if frame.height == 0:
            return []
        # Categoricals sort by their codes, which depend on what this process read
        # before: sort their text, so that a re-run lists the same examples.
        cats = [c for c in frame.columns if frame[c].dtype == pl.Categorical]
        if cats:
            frame = frame.with_columns(pl.col(c).cast(pl.String) for c in cats)
        head = frame.sort(sort, maintain_order=True).head(self.max_examples)
        if "trank" in head.columns and "t" not in head.columns:
            head = head.with_columns(self.t_of(head["trank"]).alias("t")).drop("trank")
        if "pos" in head.columns:
            if "partition" not in head.columns:
                head = head.with_columns(partition_expr())
            head = head.with_columns(offset_expr()).drop("pos")
        for name in head.columns:
            if head[name].dtype == pl.Categorical:
                head = head.with_columns(pl.col(name).cast(pl.String))
        rows = head.to_dicts()
        out = []
        for r in rows:
            if "period" in r:
                r["member"] = self.member_of(r.pop("period"))
            out.append({k: _clean(v) for k, v in {**r, **extra}.items() if v is not None})
        return out


def _clean(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6)
    return v


def lookup(sorted_pos: pl.Series, pos: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Row index in ``sorted_pos`` of each ``pos`` and whether it is really there."""
    n = sorted_pos.len()
    if n == 0:
        zeros = pl.Series("idx", [0] * pos.len(), dtype=pl.UInt32)
        return zeros, pl.Series("found", [False] * pos.len(), dtype=pl.Boolean)
    idx = sorted_pos.search_sorted(pos, side="left").clip(0, n - 1)
    found = (sorted_pos.gather(idx) == pos).fill_null(False)
    return idx, found


def contains(sorted_pos: pl.Series, pos: pl.Series, chunk: int = 2_000_000) -> pl.Series:
    """Whether each of ``pos`` occurs in ``sorted_pos`` (in chunks, to bound memory)."""
    parts = [lookup(sorted_pos, pos.slice(i, chunk))[1] for i in range(0, pos.len(), chunk)]
    if not parts:
        return pl.Series("found", [], dtype=pl.Boolean)
    return pl.concat(parts) if len(parts) > 1 else parts[0]
