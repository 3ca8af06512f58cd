"""Claims: what an instrumented consumer said was done, judged against what it did.

A commit is a claim, not proof (DESIGN.md). The instrumentation around a user's
consumer records what the consumer API shows (``handed``, ``finished``,
``committing``, ``seek`` lines, workloads/instrument/.../tracker.py): a record is
*finished* only when the application came back for more after it, or marked it.
A record the group committed past that nobody finished is the group's loss — unless
its holder claimed it (committed it) while it was still in hand and then stopped
before coming back for more. Whether such a record was finished is judged here from
the consumer's own commit pattern and pace, all in the evidence:

- **provably unfinished** (never-processed, fails): at the fastest pace the consumer
  ever showed over a completed batch, taken :data:`SAFETY` times faster still, it could
  not have reached the record between its hand-out and the consumer's end; or the
  consumer's commits run ahead of its work (it comes back for more long after each
  commit, not right after) and it was stopped hard before coming back: the record it
  held last was not finished (the came-back rule);
- **after its work** (the ``commit-after-work`` allowance): its commits follow its work —
  in every completed batch it came back for more right after the commit returned — so
  the commit marks the end of the work;
- **cannot tell** (inconclusive): anything else.

Per member it also shows the *commit pattern* (``after``, ``ahead``, ``mixed``, or
``unknown`` for too few batches): a consumer whose commits run ahead of its work
loses the batch in hand on a hard stop, even in a run where no stop landed mid-batch.
"""

from __future__ import annotations

import bisect
import json
import statistics
from dataclasses import dataclass, field
from typing import Any

import polars as pl

#: The consumer is taken to work at most 1 / SAFETY times faster than the fastest
#: completed batch it showed (timings on a busy machine vary).
SAFETY = 0.5
#: Completed batches a pattern or a pace needs.
MIN_SAMPLES = 3
#: Coming back this soon after a commit returned is "right after it" whatever the work.
AFTER_SLACK_S = 0.020

#: Judgements of a record committed past that nobody finished.
UNFINISHED = "unfinished"
AFTER_WORK = "after-work"
CANNOT_TELL = "cannot-tell"
SKIPPED = "skipped"

AHEAD = "ahead"
AFTER = "after"
MIXED = "mixed"
UNKNOWN = "unknown"

HARD_ENDS = frozenset({"killed", "error"})


@dataclass
class Claim:
    """One commit (or offset store, or transactional offset commit) a member asked for."""

    t: float
    how: str
    t_return: float
    """When the application had the answer (a synchronous commit: its outcome)."""


@dataclass
class Held:
    """Records a member had in hand when it ended: handed, never finished nor sought back."""

    member: str
    partition: int
    first: int
    last: int
    batch_first: int
    """The first offset of the hand-out they belong to."""
    t_handed: float
    claim: Claim | None
    """The first claim that covered them while in hand (None: never claimed)."""
    progress: tuple[tuple[float, int], ...] = ()
    """``(t, offset)`` of the claims made on their batch while it was in hand: at ``t``
    the consumer said it was done below ``offset`` (it had got that far, at least)."""


@dataclass
class Sample:
    """One stretch of records the member finished: how many, and when."""

    n: int
    t_handed: float
    t_finished: float
    claim: Claim | None

    @property
    def work_s(self) -> float:
        return self.t_finished - self.t_handed


@dataclass
class Pattern:
    """Whether a member's commits follow its work or run ahead of it, with the figures."""

    kind: str
    """``after``, ``ahead``, ``mixed`` or ``unknown`` (fewer than MIN_SAMPLES batches)."""
    batches: int
    """Completed batches that a claim covered while in hand."""
    before_s: float | None = None
    """Median time from hand-out to the commit."""
    after_s: float | None = None
    """Median time from the commit's return to coming back for more."""
    after_p90_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"pattern": self.kind, "batches": self.batches}
        for name in ("before_s", "after_s", "after_p90_s"):
            value = getattr(self, name)
            if value is not None:
                out[name] = round(value, 4)
        return out


@dataclass
class MemberClaims:
    member: str
    replica: str | None = None
    flush_s: float = 0.0
    background: bool = False
    auto_store: bool = False
    end: str = "killed"
    """``stop`` (graceful), ``error``, or ``killed`` (no stop line)."""
    t_end: float | None = None
    t_last: float = 0.0
    held: list[Held] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    max_handed: dict[int, int] = field(default_factory=dict)
    pattern: Pattern = field(default_factory=lambda: Pattern(UNKNOWN, 0))
    pace_s: float | None = None
    """Fastest time per record over its completed batches (None: too few)."""


def _split(spans: list[list[Any]], at: int) -> None:
    """Split the in-hand span holding ``at`` so that one starts exactly at ``at``."""
    for i, s in enumerate(spans):
        if s[0] < at <= s[1]:
            spans[i : i + 1] = [[s[0], at - 1, *s[2:]], [at, s[1], *s[2:]]]
            return


def _offsets(value: Any) -> dict[int, int]:
    if value is None:
        return {}
    try:
        raw = json.loads(value) if isinstance(value, str) else value
        return {int(k): int(v) for k, v in raw.items() if v is not None}
    except (TypeError, ValueError, AttributeError):
        return {}


def replay(rows: list[dict[str, Any]]) -> MemberClaims:
    """One member's instrumented lines, in its file's order, into what it held and did."""
    mc = MemberClaims(str(rows[0]["member"]))
    # Per partition: in-hand spans [first, last, batch_first, t_handed, claim].
    hand: dict[int, list[list[Any]]] = {}
    progress: dict[tuple[int, int], list[tuple[float, int]]] = {}
    sync: tuple[Claim, dict[int, int]] | None = None
    for r in rows:
        kind, t = r["type"], float(r["t"])
        mc.t_last = max(mc.t_last, t)
        if kind == "start":
            mc.replica = r.get("replica")
            mc.flush_s = float(r.get("flush_ms") or 0.0) / 1000
            mc.background = bool(r.get("background_commits"))
            mc.auto_store = bool(r.get("auto_offset_store"))
        elif kind == "handed":
            p, first, last = int(r["partition"]), int(r["first"]), int(r["last"])
            claim = Claim(t, "auto-store", t) if mc.auto_store else None
            hand.setdefault(p, []).append([first, last, first, t, claim])
            mc.max_handed[p] = max(mc.max_handed.get(p, last), last)
        elif kind == "finished":
            p, first, last = int(r["partition"]), int(r["first"]), int(r["last"])
            mc.max_handed[p] = max(mc.max_handed.get(p, last), last)
            spans: list[list[Any]] = hand.get(p) or []
            _split(spans, first)
            _split(spans, last + 1)
            claim = None
            kept = []
            for s in spans:
                if first <= s[0] and s[1] <= last:
                    claim = claim or s[4]
                else:
                    kept.append(s)
            if spans:
                hand[p] = kept
            t_handed = r.get("t_handed")
            mc.samples.append(
                Sample(last - first + 1, float(t_handed) if t_handed is not None else t, t, claim)
            )
        elif kind == "committing":
            claim = Claim(t, str(r.get("how") or "commit"), t)
            offsets = _offsets(r.get("offsets"))
            for p, o in offsets.items():
                covered = hand.get(p)
                if not covered:
                    continue
                _split(covered, o)
                for s in covered:
                    if s[0] < o:
                        progress.setdefault((p, s[2]), []).append((t, o))
                    if s[1] < o and s[4] is None:
                        s[4] = claim
            sync = (claim, offsets) if claim.how == "commit" else None
        elif kind == "committed":
            if sync is not None and _offsets(r.get("offsets")) == sync[1]:
                sync[0].t_return = t
                sync = None
        elif kind == "seek":
            p = int(r["partition"])
            offset = r.get("offset")
            sought = hand.get(p)
            if sought:
                spans = sought
                if offset is None:
                    del hand[p]
                else:
                    _split(spans, int(offset))
                    hand[p] = [s for s in spans if s[1] < int(offset)]
        elif kind == "stop":
            mc.end = "error" if r.get("reason") == "error" else "stop"
            mc.t_end = t
    for p, spans in sorted(hand.items()):
        for first, last, batch_first, t_h, claim in spans:
            refs = tuple(sorted(set(progress.get((p, batch_first), ()))))
            mc.held.append(Held(mc.member, p, first, last, batch_first, t_h, claim, refs))
    mc.pattern = pattern_of(mc.samples)
    mc.pace_s = pace_of(mc.samples)
    return mc


def pattern_of(samples: list[Sample]) -> Pattern:
    """Whether commits made while records were in hand follow the work or run ahead of it.

    Per completed batch a claim covered while in hand: the time from hand-out to the
    commit (``before``) and from the commit's return to coming back for more (``after``;
    the commit call itself is neither). A batch's commit *follows* its work when
    ``after`` is at most AFTER_SLACK_S or a tenth of both; it *runs ahead* when ``after``
    is at least AFTER_SLACK_S and longer than ``before``. A pattern needs MIN_SAMPLES
    batches and 90% of them one way; anything else is ``mixed``.
    """
    claimed = [(s, s.claim) for s in samples if s.claim is not None]
    if not claimed:
        return Pattern(UNKNOWN, 0)
    before = [max(0.0, c.t - s.t_handed) for s, c in claimed]
    after = [max(0.0, s.t_finished - c.t_return) for s, c in claimed]
    p90 = sorted(after)[min(len(after) - 1, int(0.9 * len(after)))]
    pat = Pattern(
        UNKNOWN,
        len(claimed),
        statistics.median(before),
        statistics.median(after),
        p90,
    )
    if len(claimed) < MIN_SAMPLES:
        return pat
    follows = sum(
        1 for b, a in zip(before, after, strict=True) if a <= max(AFTER_SLACK_S, 0.1 * (a + b))
    )
    ahead = sum(1 for b, a in zip(before, after, strict=True) if a >= AFTER_SLACK_S and a > b)
    if follows >= 0.9 * len(claimed):
        pat.kind = AFTER
    elif ahead >= 0.9 * len(claimed):
        pat.kind = AHEAD
    else:
        pat.kind = MIXED
    return pat


def pace_of(samples: list[Sample]) -> float | None:
    """The fastest time per record over completed batches (None: fewer than MIN_SAMPLES)."""
    paces = [s.work_s / s.n for s in samples if s.n > 0 and s.work_s >= 0]
    if len(paces) < MIN_SAMPLES:
        return None
    return min(paces)


@dataclass
class Judgement:
    """What is known of one record the group committed past that nobody finished."""

    kind: str
    """UNFINISHED, AFTER_WORK, CANNOT_TELL or SKIPPED."""
    detail: str
    member: str | None = None


class Claims:
    """Every member's claims, what they held at their end, and how to judge them."""

    def __init__(
        self,
        frame: pl.DataFrame,
        death_t: dict[str, float],
        owned_at_end: dict[str, set[int]],
    ) -> None:
        self.members: dict[str, MemberClaims] = {}
        by_member: dict[str, list[dict[str, Any]]] = {}
        for r in frame.sort("line").iter_rows(named=True):
            by_member.setdefault(str(r["member"]), []).append(r)
        for m, rows in by_member.items():
            self.members[m] = replay(rows)
        self.death_t = death_t
        self.owned_at_end = owned_at_end
        all_samples = [s for mc in self.members.values() for s in mc.samples]
        self.run_pace = pace_of(all_samples)
        # Every replica runs the same program: an incarnation with too few batches of its
        # own is judged by the run's.
        self.run_pattern = pattern_of(all_samples)
        # Held spans per partition, sorted by first offset, for lookups.
        self._held: dict[int, list[Held]] = {}
        for mc in self.members.values():
            for h in mc.held:
                self._held.setdefault(h.partition, []).append(h)
        for spans in self._held.values():
            spans.sort(key=lambda h: (h.first, h.last))
        self._starts = {p: [h.first for h in hs] for p, hs in self._held.items()}

    # ---- figures -----------------------------------------------------------------------------
    def patterns(self) -> dict[str, dict[str, Any]]:
        return {m: mc.pattern.to_json() for m, mc in sorted(self.members.items())}

    def ahead(self) -> list[MemberClaims]:
        return [mc for _, mc in sorted(self.members.items()) if mc.pattern.kind == AHEAD]

    def held_at(self, partition: int, offset: int) -> list[Held]:
        starts = self._starts.get(partition)
        if not starts:
            return []
        i = bisect.bisect_right(starts, offset)
        return [h for h in self._held[partition][:i] if h.first <= offset <= h.last]

    # ---- judgement ---------------------------------------------------------------------------
    def end_of(self, mc: MemberClaims) -> float | None:
        """The latest the member may have worked: its stop line, else when it died."""
        if mc.end != "killed":
            return mc.t_end
        return self.death_t.get(mc.member)

    def judge(self, partition: int, offset: int) -> Judgement:
        """A record below the group's committed offset that nobody finished."""
        holders = self.held_at(partition, offset)
        claimed = [h for h in holders if h.claim is not None]
        if not claimed:
            beyond = self._beyond(partition, offset)
            if beyond is not None:
                return Judgement(
                    CANNOT_TELL,
                    f"beyond what {beyond.member} recorded handing out before it was "
                    f"killed; its client commits in the background, and the instrumentation "
                    f"may not have written its last {beyond.flush_s * 1000:.0f} ms",
                    beyond.member,
                )
            if holders:
                h = holders[-1]
                return Judgement(
                    SKIPPED,
                    f"in hand of {h.member}, which never committed it, and never finished: "
                    "the group committed past it",
                    h.member,
                )
            return Judgement(SKIPPED, "committed past, never processed")
        judgements = [self._judge_held(h, offset) for h in claimed]
        for kind in (UNFINISHED, CANNOT_TELL, AFTER_WORK):
            for j in judgements:
                if j.kind == kind:
                    return j
        return judgements[0]  # pragma: no cover - every judgement has one of the kinds

    def _beyond(self, partition: int, offset: int) -> MemberClaims | None:
        for mc in self.members.values():
            if (
                mc.background
                and mc.end in HARD_ENDS
                and partition in self.owned_at_end.get(mc.member, ())
                and offset > mc.max_handed.get(partition, -1)
            ):
                return mc
        return None

    def earliest_finish(self, h: Held, offset: int, pace: float) -> float:
        """The earliest the member can have finished the record at ``offset`` of ``h``'s
        batch, working in offset order at ``SAFETY`` times its fastest pace: from the
        batch's hand-out, or from a claim on the batch (done below its offset by then)."""
        step = SAFETY * pace
        best = h.t_handed + (offset - h.batch_first + 1) * step
        for t, o in h.progress:
            if o <= offset:
                best = max(best, t + (offset - o + 1) * step)
        return best

    def _judge_held(self, h: Held, offset: int) -> Judgement:
        mc = self.members[h.member]
        assert h.claim is not None
        claim = h.claim
        pace = mc.pace_s if mc.pace_s is not None else self.run_pace
        end = self.end_of(mc)
        hard = mc.end in HARD_ENDS
        index = offset - h.batch_first
        how = "was killed" if mc.end == "killed" else "stopped"
        if mc.end == "error":
            how = "stopped on an error"
        claimed = (
            "its offset was stored when it was handed out and committed in the background"
            if claim.how == "auto-store"
            else f"committed ({claim.how}) {max(0.0, claim.t - h.t_handed):.3f} s after it "
            "was handed, while still in hand"
        )
        # The instrumentation may not have written a background-committing member's last
        # flush window: coming back for more in it (which needs every record it held
        # finished) would be missing.
        uncertain = hard and mc.background and mc.flush_s > 0
        if pace is not None and pace > 0:
            if uncertain:
                held_last = max(x.last for x in mc.held if x.batch_first == h.batch_first)
                if self.earliest_finish(h, held_last, pace) <= mc.t_last + mc.flush_s:
                    return Judgement(
                        CANNOT_TELL,
                        f"{claimed}; {mc.member} {how} before coming back for more, but its "
                        "last calls may not have been written (its client commits in the "
                        "background)",
                        mc.member,
                    )
            if end is not None:
                done_by = self.earliest_finish(h, offset, pace)
                if done_by > end:
                    return Judgement(
                        UNFINISHED,
                        f"{claimed}; {mc.member} {how} {max(0.0, end - h.t_handed):.3f} s "
                        f"after the hand-out without coming back for more: working in order at "
                        f"{SAFETY:g}× its fastest pace ({pace * 1000:.3g} ms a record) it could "
                        f"not have finished this one, number {index + 1} of its batch, until "
                        f"{done_by - end:.3f} s after that",
                        mc.member,
                    )
        elif uncertain:
            return Judgement(
                CANNOT_TELL,
                f"{claimed}; {mc.member} {how} before coming back for more; its pace is "
                "unknown and its last calls may not have been written",
                mc.member,
            )
        pat = mc.pattern
        whose = ""
        if pat.kind == UNKNOWN and self.run_pattern.kind != UNKNOWN:
            pat, whose = self.run_pattern, " (the run's replicas: they run the same program)"
        # Under commits that run ahead of the work, the record the latest claim on the
        # batch ran ahead for is the one being worked on when the member died.
        reached = max((o for _, o in h.progress), default=h.last + 1) - 1
        if hard and pat.kind == AHEAD and offset == reached:
            return Judgement(
                UNFINISHED,
                f"{claimed}; {mc.member} {how} without coming back for more, and its commits "
                f"run ahead of its work{whose} (it came back a median {pat.after_s or 0:.3f} s "
                f"after each commit, over {pat.batches} batches): the last record it held "
                "was not finished",
                mc.member,
            )
        if pat.kind == AFTER:
            return Judgement(
                AFTER_WORK,
                f"{claimed}; {mc.member} {how} before coming back for more, and its commits "
                f"follow its work{whose} (in 90% of {pat.batches} batches it came back for more "
                f"right after the commit returned; 90th percentile "
                f"{(pat.after_p90_s or 0) * 1000:.1f} ms)",
                mc.member,
            )
        return Judgement(
            CANNOT_TELL,
            f"{claimed}; {mc.member} {how} before coming back for more, and its commit "
            f"pattern{whose} ({pat.kind}, {pat.batches} batches) does not tell whether it was "
            "finished",
            mc.member,
        )
