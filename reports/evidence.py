"""Load a run directory into frames and records the checks can work on.

Everything here is about reading, not judging: which files exist, what could
be read, what was damaged. Problems become :class:`~reports.model.Issue`
records; a source that could not be read completely is marked incomplete so
that no check passes on it, and checks that do not need it still run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from reports.columnar import frame_schema, iter_blocks
from reports.model import Issue
from reports.ownership import Ownership, build_ownership
from reports.strength import CONSUMER_EVENTS, OUTPUT_TOPIC, Strength, strength_of
from workloads.evidence.reader import ReadIssue, read_jsonl
from workloads.evidence.schema import (
    SEND_STATUSES,
    EvidenceError,
    LogRecord,
    Output,
    RunLayout,
    Send,
    records_of,
)

T = TypeVar("T")

#: A record's position on the log as one integer: partition << 40 | offset.
POS_SHIFT = 1 << 40

#: The columns each reader keeps, typed from the records' fields (workloads/evidence/schema.py).
ACKS_SCHEMA = frame_schema(
    Send, "producer", "key", "seq", "status", "partition", "offset", "t_send", "t_ack"
)
LOG_SCHEMA = frame_schema(LogRecord)
OUTPUT_SCHEMA = frame_schema(Output)
CONSUMED_SCHEMA = frame_schema(
    records_of("consumed"),
    "member",
    "t",
    "partition",
    "records",
    "offsets",
    "ok",
    "partitions",
    "generation",
    "reason",
    "offset",
    "replica",
    "host",
    "commit_mode",
    "member_id",
    "client_id",
    "error",
    "fatal",
    "first",
    "last",
    "how",
    "t_handed",
    "whence",
    "flush_ms",
    "background_commits",
    "auto_offset_store",
)

#: Consumer lines written only by the instrumentation (a user's consumer): what it was
#: handed, finished, claimed and sought, in each member's order (reports/claims.py).
INSTRUMENTED_TYPES = ("handed", "finished", "committing", "seek", "paused", "resumed")


def pos_expr(partition: str = "partition", offset: str = "offset") -> pl.Expr:
    return (pl.col(partition).cast(pl.Int64) * POS_SHIFT + pl.col(offset)).alias("pos")


def partition_expr(pos: str = "pos") -> pl.Expr:
    return (pl.col(pos) // POS_SHIFT).cast(pl.Int32).alias("partition")


def offset_expr(pos: str = "pos") -> pl.Expr:
    return (pl.col(pos) % POS_SHIFT).alias("offset")


@dataclass
class Source:
    """What was found of one kind of evidence."""

    name: str
    files: int = 0
    records: int = 0
    present: bool = False
    complete: bool = True
    """False when a file was skipped or a damaged line dropped: nothing may pass on it."""

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "records": self.records,
            "present": self.present,
            "complete": self.complete,
        }


@dataclass
class GroupSnapshot:
    t: float
    state: str
    generation: int | None
    members: dict[str, list[int]]
    """Member id (client id in older runs) → partitions. Only a Stable snapshot's are known."""
    committed: dict[int, int]
    end_offsets: dict[int, int]
    partitions: int | None
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Member id → ``{"client_id", "host", "instance_id"}`` (``member_info``; empty in older runs)."""
    group_type: str = "classic"
    """``classic`` or ``consumer`` (KIP-848); older runs are classic."""
    target: dict[str, list[int]] = field(default_factory=dict)
    """Consumer protocol: member id → the partitions of the broker's target assignment."""

    @property
    def stable(self) -> bool:
        """The group is Stable (every member has its target assignment)."""
        return self.state == "Stable"

    @property
    def assignments_known(self) -> bool:
        """Whether ``members`` says who owns what: a classic group's answer carries
        assignments only when Stable; a consumer-protocol group's carries every
        member's current assignment in every state but Empty/Dead (members release
        a partition before another is given it, so current assignments never overlap)."""
        if self.group_type == "consumer":
            return self.state not in ("Empty", "Dead", "Unknown")
        return self.stable


@dataclass
class Fault:
    experiment: str
    activity: str
    kind: str
    t_start: float
    t_end: float
    status: str
    output: Any
    landed: bool
    phase: str | None

    @property
    def name(self) -> str:
        return f"{self.experiment}/{self.activity}" if self.experiment else str(self.activity)

    @property
    def is_fault(self) -> bool:
        """An action of the experiment's method (not a probe, steady-state or rollback)."""
        return self.kind == "action" and self.phase in (None, "method")


@dataclass(frozen=True)
class FenceEvent:
    """One sign that the coordinator fenced a member, from the consumer's own evidence."""

    t: float
    member: str
    kind: str
    """``fenced`` (the client said so), ``commit-rejected`` or ``lost`` (partitions taken
    without a revocation: session expired, fenced, poll interval exceeded)."""
    error: str | None = None
    """The client's error text (``STALE_MEMBER_EPOCH: …``, ``UNKNOWN_MEMBER_ID: …``)."""
    fatal: bool | None = None
    """``fenced`` only: the member gave up (a static member's instance id is taken)."""


@dataclass
class Evidence:
    """Everything read from one run directory."""

    run_dir: Path
    spec: dict[str, Any]
    sources: dict[str, Source]
    issues: list[Issue] = field(default_factory=list)
    acks: pl.DataFrame | None = None
    """Acknowledged sends (status ``ok`` with a position), sorted by pos:
    producer, key (categorical), seq, pos, t_ack, t_send. Exact duplicate lines are dropped."""
    unsent: pl.DataFrame | None = None
    """Every other send line (``unknown``, ``fail``): producer, key, seq, status, t_send."""
    log: pl.DataFrame | None = None
    """One row per drained record, sorted by pos: pos, producer, key, seq, sha_ok, and
    ``t_append`` when the topic stamps records with their append time."""
    log_reasons: pl.DataFrame | None = None
    """pos and ``reason`` of the log records that do not decode or whose sha fails."""
    processed: pl.DataFrame | None = None
    """One row per processed record, in consumer-file order: period, trank, pos,
    producer, key, seq. ``trank`` is the processed line's rank in time across
    members (see ``lines``)."""
    lines: pl.DataFrame | None = None
    """One row per processed line, by ``trank``: trank, t, partition, period, records."""
    invalid: pl.DataFrame | None = None
    """One row per ``invalid`` line: member, period, partition, pos, reason, t."""
    ownership: Ownership | None = None
    fencing: list[FenceEvent] = field(default_factory=list)
    """Fencing and refusals the consumers recorded, in time order: ``fenced`` lines, commits
    the coordinator rejected (``committed`` with ``ok: false``) and ``lost`` partitions."""
    instrumented: pl.DataFrame | None = None
    """The instrumentation's lines (``handed``, ``finished``, ``committing``, ``seek``,
    ``paused``, ``resumed``) with the ``start``, ``stop`` and ``committed`` lines around them,
    in line order; None when the consumers wrote none (reports/claims.py)."""
    member_ids: dict[str, str] = field(default_factory=dict)
    """Coordinator member id → evidence ``member``, from the ``assigned`` lines' ``member_id``."""
    client_ids: dict[str, str] = field(default_factory=dict)
    """Evidence ``member`` → the client id its ``assigned`` lines name."""
    group: list[GroupSnapshot] | None = None
    faults: list[Fault] | None = None
    outputs: pl.DataFrame | None = None
    """The service's outputs (output-topic evidence), sorted by output position:
    opos (output partition << 40 | offset), producer, key, seq (the input they
    name; null when unidentified), sha_ok (null: nothing to check), identity, t, reason,
    timestamp_type (who set t: ``LogAppendTime`` or ``CreateTime``; null: unknown)."""
    strength: Strength = field(default_factory=lambda: strength_of({})[0])
    """What the verdicts rest on (spec.json ``consumer_evidence``)."""
    strength_problem: str | None = None
    """Why the named strength could not be used, when it could not."""

    @property
    def output_drained(self) -> bool:
        """spec.json says the output drain reached every partition's high watermark."""
        drain = self.spec.get("output_drain")
        return isinstance(drain, dict) and drain.get("finished") is True

    @property
    def log_drained(self) -> bool:
        """spec.json says the final drain reached every partition's high watermark."""
        drain = self.spec.get("log_drain")
        return isinstance(drain, dict) and drain.get("finished") is True

    @property
    def group_drained(self) -> bool:
        """spec.json says the consumer group caught up before the deadline."""
        drain = self.spec.get("drain")
        return isinstance(drain, dict) and drain.get("finished") is True

    @property
    def run_id(self) -> str:
        return str(self.spec.get("run_id") or self.run_dir.name)

    def complete(self, *names: str) -> bool:
        return all(self.sources[n].present and self.sources[n].complete for n in names)

    def note(self, source: str, level: str, message: str, *, incomplete: bool = False) -> None:
        """Record an issue; an error, or ``incomplete``, means the source has a gap."""
        self.issues.append(Issue(source, level, message))
        if (level == "error" or incomplete) and source in self.sources:
            self.sources[source].complete = False


def load(run_dir: Path | str) -> Evidence:
    """Read every evidence source of ``run_dir``; problems become issues, not exceptions."""
    layout = RunLayout(run_dir)
    names = ("spec", "acks", "consumed", "group", "faults", "log", "output")
    ev = Evidence(Path(run_dir), {}, {n: Source(n) for n in names})
    ev.spec = _load_spec(layout, ev)
    ev.strength, ev.strength_problem = strength_of(ev.spec)
    if ev.strength_problem:
        ev.note("spec", "error", ev.strength_problem)
    ev.acks = _load_acks(layout, ev)
    ev.log = _load_log(layout, ev)
    _load_consumed(layout, ev)
    ev.group = _load_group(layout, ev)
    ev.faults = _load_faults(layout, ev)
    ev.outputs = _load_outputs(layout, ev)
    _note_platform_gaps(ev)
    return ev


def _note_platform_gaps(ev: Evidence) -> None:
    """spec.json ``evidence_gaps``: evidence the platform knows did not all arrive (an
    instrumented image's pod whose evidence sidecar never confirmed it shipped everything).
    The source is incomplete: what the gap could hide is "cannot tell", never a verdict."""
    gaps = ev.spec.get("evidence_gaps")
    for gap in gaps if isinstance(gaps, list) else ():
        if isinstance(gap, dict) and gap.get("source") in ev.sources:
            ev.note(
                str(gap["source"]),
                "warning",
                f"incomplete: {gap.get('detail') or 'the platform says so'}",
                incomplete=True,
            )


# --- spec -------------------------------------------------------------------


def _load_spec(layout: RunLayout, ev: Evidence) -> dict[str, Any]:
    src = ev.sources["spec"]
    if not layout.spec.exists():
        ev.note(
            "spec", "error", "spec.json is missing: the drain state and run settings are unknown"
        )
        return {}
    try:
        spec = json.loads(layout.spec.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        ev.note("spec", "error", f"spec.json could not be read: {exc}")
        return {}
    if not isinstance(spec, dict):
        ev.note("spec", "error", "spec.json is not a JSON object")
        return {}
    if spec.get("v", 1) != 1:
        ev.note(
            "spec",
            "error",
            f"spec.json has version {spec.get('v')!r}; this riverbed reads v1",
        )
        return {}
    src.present, src.files, src.records = True, 1, 1
    return spec


# --- acks -------------------------------------------------------------------


def _read_kind(
    ev: Evidence,
    source: str,
    paths: list[Path],
    kind: str,
    schema: dict[str, pl.DataType],
    not_null: tuple[str, ...],
    transform: Callable[[pl.DataFrame], T],
) -> list[list[T]]:
    """Read files block by block, turning each block into compact frames.

    Returns, per file that could be read, the transformed blocks. A file with
    an evidence error is skipped whole (its blocks are dropped), and noted.
    """
    src = ev.sources[source]
    out: list[list[T]] = []
    for path in paths:
        issues: list[ReadIssue] = []
        blocks: list[T] = []
        rows = 0
        try:
            for block in iter_blocks(path, kind, schema, issues, not_null=not_null):
                rows += block.height
                blocks.append(transform(block))
        except EvidenceError as exc:
            ev.note(source, "error", f"{exc} — {_rel(ev, path)} was skipped")
            continue
        except OSError as exc:
            ev.note(source, "error", f"{_rel(ev, path)} could not be read: {exc}")
            continue
        _note_read_issues(ev, source, issues)
        src.files += 1
        src.present = True
        src.records += rows
        out.append(blocks)
    return out


def _note_read_issues(ev: Evidence, source: str, issues: list[ReadIssue]) -> None:
    for issue in issues:
        where = f"{_rel(ev, Path(issue.path))}:{issue.line}"
        if issue.kind == "truncated":
            ev.note(
                source,
                "warning",
                f"{where}: last line truncated (a writer stopped mid-write); it was ignored",
            )
        else:
            ev.note(
                source,
                "warning",
                f"{where}: malformed line skipped: {issue.detail}",
                incomplete=True,
            )


def _rel(ev: Evidence, path: Path) -> str:
    try:
        return str(path.relative_to(ev.run_dir))
    except ValueError:
        return str(path)


def _load_acks(layout: RunLayout, ev: Evidence) -> pl.DataFrame | None:
    paths = layout.acks_files()
    if not paths:
        ev.note("acks", "error", "no send outcomes: evidence/acks/*.jsonl is missing")
        return None
    others: list[pl.DataFrame] = []

    def compact(block: pl.DataFrame) -> pl.DataFrame:
        bad = block.filter(~pl.col("status").is_in(list(SEND_STATUSES)))
        if bad.height:
            row = bad.row(0, named=True)
            raise EvidenceError(
                f"send record {row['row'] + 1} has status {row['status']!r}; "
                f"expected one of {', '.join(SEND_STATUSES)}"
            )
        block = block.with_columns(pos_expr())
        acked = (pl.col("status") == "ok") & pl.col("pos").is_not_null()
        others.append(
            block.filter(~acked).select(
                pl.col("producer").cast(pl.Categorical),
                pl.col("key").cast(pl.Categorical),
                "seq",
                "status",
                "t_send",
            )
        )
        return block.filter(acked).select(
            pl.col("producer").cast(pl.Categorical),
            pl.col("key").cast(pl.Categorical),
            "seq",
            "pos",
            "t_ack",
            "t_send",
        )

    files = _read_kind(
        ev, "acks", paths, "acks", ACKS_SCHEMA, ("producer", "key", "seq", "status"), compact
    )
    frames = [b for blocks in files for b in blocks]
    if not frames:
        return None
    acks = pl.concat(frames) if len(frames) > 1 else frames[0]
    del frames, files
    acks = acks.sort("pos", maintain_order=True)
    # The same outcome recorded twice (an HTTP client and the service): keep one.
    same = pl.all_horizontal(
        (pl.col(c) == pl.col(c).shift(1)).fill_null(False)
        for c in ("pos", "producer", "key", "seq")
    )
    acks = acks.filter(~same)
    ev.unsent = pl.concat(others) if others else None
    return acks


# --- log --------------------------------------------------------------------


def _load_log(layout: RunLayout, ev: Evidence) -> pl.DataFrame | None:
    if not layout.log.exists():
        ev.note("log", "error", "evidence/log.jsonl is missing: loss cannot be judged")
        return None
    reasons: list[pl.DataFrame] = []

    def compact(block: pl.DataFrame) -> pl.DataFrame:
        block = block.with_columns(pos_expr(), pl.col("sha_ok").fill_null(False))
        bad = ~pl.col("sha_ok") | pl.col("producer").is_null()
        reasons.append(block.filter(bad).select("pos", "reason"))
        # The append time only where the topic stamps it: most logs have none to keep.
        stamped = block["t_append"].null_count() < block.height
        return block.select(
            "pos",
            pl.col("producer").cast(pl.Categorical),
            pl.col("key").cast(pl.Categorical),
            "seq",
            "sha_ok",
            *(["t_append"] if stamped else []),
        )

    files = _read_kind(ev, "log", [layout.log], "log", LOG_SCHEMA, ("partition", "offset"), compact)
    frames = [b for blocks in files for b in blocks]
    if not frames:
        if not ev.sources["log"].complete:
            return None
        # A log file read cleanly but without records is an empty topic
        # (nothing was produced), not missing evidence: checks run on zero records.
        frames = [compact(pl.DataFrame(schema=LOG_SCHEMA))]
    log = pl.concat(frames, how="diagonal") if len(frames) > 1 else frames[0]
    del frames, files
    log = log.sort("pos", maintain_order=True)
    dup = (log["pos"] == log["pos"].shift(1)).fill_null(False)
    if dup.any():
        ev.note(
            "log",
            "warning",
            f"log.jsonl lists {int(dup.sum())} offsets more than once; the first is used",
        )
        log = log.filter(~dup)
    ev.log_reasons = pl.concat(reasons).unique(subset="pos", keep="first", maintain_order=True)
    if not ev.log_drained:
        ev.sources["log"].complete = False
    return log


# --- consumed ---------------------------------------------------------------


def _load_consumed(layout: RunLayout, ev: Evidence) -> None:
    paths = layout.consumed_files()
    if not paths:
        if ev.strength.name in CONSUMER_EVENTS:
            ev.note("consumed", "error", "no consumer events: evidence/consumed/*.jsonl is missing")
        return
    base = 0
    heads: list[pl.DataFrame] = []
    recs: list[pl.DataFrame] = []

    def split(block: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        # Global line ids: consumed files in name order, lines in file order.
        block = block.with_columns((pl.col("row") + base).alias("line"))
        processed = pl.col("type") == "processed"
        spans = pl.col("type").is_in(["finished", "handed"])
        head = block.select(
            "line",
            "type",
            *[c for c in CONSUMED_SCHEMA if c not in ("records", "first", "last")],
            pl.when(pl.col("type") == "finished")
            .then(pl.col("last") - pl.col("first") + 1)
            .otherwise(pl.col("records").list.len())
            .alias("n"),
            pl.when(spans)
            .then(pl.col("first"))
            .otherwise(_field(pl.col("records").list.first(), 0, pl.Int64))
            .alias("first"),
            pl.when(spans)
            .then(pl.col("last"))
            .otherwise(_field(pl.col("records").list.last(), 0, pl.Int64))
            .alias("last"),
        )
        rec = (
            block.filter(processed)
            .select("line", "partition", "records")
            .explode("records")
            .filter(pl.col("records").is_not_null())
            .select(
                pl.col("line").cast(pl.Int32),
                (
                    pl.col("partition").cast(pl.Int64) * POS_SHIFT
                    + _field(pl.col("records"), 0, pl.Int64)
                ).alias("pos"),
                _field(pl.col("records"), 1, pl.Categorical).alias("producer"),
                _field(pl.col("records"), 2, pl.Categorical).alias("key"),
                _field(pl.col("records"), 3, pl.Int64).alias("seq"),
            )
        )
        # Instrumented ``finished`` spans name offsets only: one row per offset, its
        # identity read from the drained log below.
        fin = block.filter(
            (pl.col("type") == "finished")
            & pl.col("first").is_not_null()
            & pl.col("last").is_not_null()
            & (pl.col("last") >= pl.col("first"))
        )
        if fin.height:
            fin_rec = (
                fin.select(
                    pl.col("line").cast(pl.Int32),
                    pl.col("partition").cast(pl.Int64),
                    pl.int_ranges("first", pl.col("last") + 1).alias("offset"),
                )
                .explode("offset")
                .select(
                    "line",
                    (pl.col("partition") * POS_SHIFT + pl.col("offset")).alias("pos"),
                    pl.lit(None, pl.Categorical).alias("producer"),
                    pl.lit(None, pl.Categorical).alias("key"),
                    pl.lit(None, pl.Int64).alias("seq"),
                )
            )
            rec = pl.concat([rec, fin_rec]) if rec.height else fin_rec
        return head, rec

    for path in paths:
        for blocks in _read_kind(
            ev, "consumed", [path], "consumed", CONSUMED_SCHEMA, ("member", "t"), split
        ):
            for head_block, rec_block in blocks:
                heads.append(head_block)
                recs.append(rec_block)
                if head_block.height:
                    base = int(head_block["line"].max()) + 1  # type: ignore[arg-type]
    if not heads:
        return
    head = pl.concat(heads)
    head = head.with_columns(
        pl.when(pl.col("type") == "invalid")
        .then(pl.col("offset"))
        .otherwise(pl.col("first"))
        .alias("first"),
        pl.when(pl.col("type") == "invalid")
        .then(pl.col("offset"))
        .otherwise(pl.col("last"))
        .alias("last"),
        pl.when(pl.col("type") == "invalid")
        .then(1)
        .when(pl.col("type").is_in(["processed", "finished"]))
        .then(pl.col("n"))
        .otherwise(0)
        .alias("n"),
    )
    ev.sources["consumed"].records = head.height
    # Lines of one member in file order; members merged from several files stay in order.
    head = head.sort("line")
    fences = head.filter(
        pl.col("type").is_in(["fenced", "lost"])
        | ((pl.col("type") == "committed") & (pl.col("ok") == False))  # noqa: E712
    ).sort("t")
    for t, m, kind, error, fatal in fences.select(
        "t", "member", "type", "error", "fatal"
    ).iter_rows():
        ev.fencing.append(
            FenceEvent(
                float(t),
                str(m),
                "commit-rejected" if kind == "committed" else str(kind),
                error,
                fatal if kind == "fenced" else None,
            )
        )
    ids = head.filter((pl.col("type") == "assigned") & pl.col("member_id").is_not_null())
    for m, member_id, client_id in ids.select("member", "member_id", "client_id").iter_rows():
        ev.member_ids.setdefault(str(member_id), str(m))
        if client_id is not None:
            ev.client_ids.setdefault(str(m), str(client_id))
    if head.filter(pl.col("type").is_in(list(INSTRUMENTED_TYPES))).height:
        ev.instrumented = head.filter(
            pl.col("type").is_in([*INSTRUMENTED_TYPES, "start", "stop", "committed"])
        ).select(
            "line",
            "member",
            "type",
            "t",
            "partition",
            "first",
            "last",
            "offsets",
            "ok",
            "how",
            "t_handed",
            "offset",
            "whence",
            "reason",
            "replica",
            "flush_ms",
            "background_commits",
            "auto_offset_store",
        )
    starts = head.filter(pl.col("type") == "start")
    extra_by_line = {
        r["line"]: r for r in starts.select("line", "replica", "host", "commit_mode").to_dicts()
    }
    cols = head.select(
        "line",
        "member",
        "type",
        "t",
        "partition",
        "partitions",
        "offsets",
        "ok",
        "generation",
        "reason",
        "first",
        "last",
        "n",
    ).to_dict(as_series=False)
    total = int(head["line"].max() or 0) + 1  # type: ignore[arg-type]
    own = build_ownership(
        cols["line"],
        cols["member"],
        cols["type"],
        cols["t"],
        cols["partition"],
        cols["partitions"],
        cols["offsets"],
        cols["ok"],
        cols["generation"],
        cols["reason"],
        cols["first"],
        cols["last"],
        cols["n"],
        [extra_by_line.get(ln) for ln in cols["line"]],
        total,
    )
    counted: dict[str, int] = {}
    for note in own.notes:
        counted[note] = counted.get(note, 0) + 1
    for note, n in list(counted.items())[:20]:
        ev.note("consumed", "note", note + (f" ({n} times)" if n > 1 else ""))
    if len(counted) > 20:
        ev.note("consumed", "note", f"… and {len(counted) - 20} more such notes")
    ev.ownership = own
    period_of_line = pl.Series("period_of_line", own.period_of_line, dtype=pl.Int32)

    # Time order of processed lines across members: (t, member, line), where a
    # member's clock never runs backwards: its file order is the truth for it.
    lines = (
        head.with_columns(pl.col("t").cum_max().over("member").alias("t_order"))
        .filter(pl.col("type").is_in(["processed", "finished"]))
        .select(
            "line",
            "t",
            "t_order",
            "member",
            pl.col("partition").cast(pl.Int32),
            pl.col("n").alias("records"),
        )
        .sort(["t_order", "member", "line"])
        .with_row_index("trank")
        .with_columns(pl.col("trank").cast(pl.Int32))
    )
    lines = lines.with_columns(period_of_line.gather(lines["line"]).alias("period"))
    ev.lines = lines.select("trank", "t", "partition", "period", "records", "line")
    trank_of_line = pl.Series("trank", [None] * total, dtype=pl.Int32).scatter(
        lines["line"], lines["trank"]
    )
    frames = [r for r in recs if r.height]
    del recs
    schema = {
        "period": pl.Int32,
        "trank": pl.Int32,
        "pos": pl.Int64,
        "producer": pl.Categorical,
        "key": pl.Categorical,
        "seq": pl.Int64,
    }
    if frames:
        rec = pl.concat(frames)
        del frames
        bad = rec.filter(pl.col("pos").is_null()).height
        if bad:
            ev.note(
                "consumed",
                "warning",
                f"{bad} processed records without a readable offset were ignored",
                incomplete=True,
            )
            rec = rec.filter(pl.col("pos").is_not_null())
        rec = _identify(ev, rec)
        line_idx = rec["line"]
        ev.processed = rec.select(
            period_of_line.gather(line_idx).alias("period"),
            trank_of_line.gather(line_idx).alias("trank"),
            "pos",
            "producer",
            "key",
            "seq",
        )
    else:
        ev.processed = pl.DataFrame(schema=schema)
    inv = head.filter(pl.col("type") == "invalid")
    ev.invalid = inv.select(
        pl.col("member"),
        period_of_line.gather(inv["line"]).alias("period"),
        pl.col("partition").cast(pl.Int32),
        pos_expr(),
        pl.col("reason"),
        pl.col("t"),
    )


def _identify(ev: Evidence, rec: pl.DataFrame) -> pl.DataFrame:
    """Fill the identity of records processed by offset only (instrumented ``finished``
    spans) from the drained log; null where the log does not hold the offset."""
    unknown = rec["producer"].is_null() & rec["seq"].is_null()
    if not unknown.any() or ev.log is None or ev.log.height == 0:
        return rec
    log = ev.log
    n = log.height
    idx = log["pos"].search_sorted(rec["pos"], side="left").clip(0, n - 1)
    found = (log["pos"].gather(idx) == rec["pos"]).fill_null(False) & unknown
    held = log.select("producer", "key", "seq")[idx]
    return rec.with_columns(
        pl.when(found).then(held["producer"]).otherwise(pl.col("producer")).alias("producer"),
        pl.when(found).then(held["key"]).otherwise(pl.col("key")).alias("key"),
        pl.when(found).then(held["seq"]).otherwise(pl.col("seq")).alias("seq"),
    )


def _field(records: pl.Expr, index: int, dtype: Any) -> pl.Expr:
    """Element ``index`` of a ``[offset, producer, key, seq]`` record, cast (null if unreadable)."""
    item = records.list.get(index, null_on_oob=True)
    if dtype == pl.Categorical:
        return item.cast(pl.Categorical)
    return item.cast(dtype, strict=False)


# --- outputs ----------------------------------------------------------------


def _load_outputs(layout: RunLayout, ev: Evidence) -> pl.DataFrame | None:
    """The drained output topic; read only when the verdicts rest on it."""
    if ev.strength.name != OUTPUT_TOPIC:
        if layout.output.exists():
            ev.note(
                "output",
                "note",
                f"evidence/output.jsonl is not read: the verdicts rest on "
                f"{ev.strength.name} evidence (spec.json consumer_evidence)",
            )
        return None
    if not layout.output.exists():
        ev.note(
            "output",
            "error",
            "evidence/output.jsonl is missing: the service's outputs were not drained",
        )
        return None

    def compact(block: pl.DataFrame) -> pl.DataFrame:
        return block.select(
            pos_expr().alias("opos"),
            "producer",
            "key",
            "seq",
            "sha_ok",
            "identity",
            "t",
            "reason",
            "timestamp_type",
        )

    files = _read_kind(
        ev, "output", [layout.output], "output", OUTPUT_SCHEMA, ("partition", "offset"), compact
    )
    frames = [b for blocks in files for b in blocks]
    if not frames:
        if not ev.sources["output"].complete:
            return None
        frames = [compact(pl.DataFrame(schema=OUTPUT_SCHEMA))]
    out = pl.concat(frames) if len(frames) > 1 else frames[0]
    out = out.sort("opos", maintain_order=True).unique(
        subset="opos", keep="first", maintain_order=True
    )
    # An output that names only part of an identity names none.
    known = pl.col("producer").is_not_null() & pl.col("key").is_not_null()
    out = out.with_columns(
        pl.when(known & pl.col("seq").is_not_null()).then(pl.col("identity")).alias("identity")
    )
    if not ev.output_drained:
        ev.sources["output"].complete = False
    return out


# --- group, faults ----------------------------------------------------------


def _load_small(ev: Evidence, source: str, path: Path, kind: str) -> list[dict[str, Any]] | None:
    if not path.exists():
        return None
    issues: list[ReadIssue] = []
    try:
        records = list(read_jsonl(path, frozenset({kind}), issues))
    except EvidenceError as exc:
        ev.note(source, "error", f"{exc} — {_rel(ev, path)} was skipped")
        return None
    except OSError as exc:
        ev.note(source, "error", f"{_rel(ev, path)} could not be read: {exc}")
        return None
    _note_read_issues(ev, source, issues)
    src = ev.sources[source]
    src.present, src.files, src.records = True, 1, len(records)
    return records


def _int_map(value: Any) -> dict[int, int]:
    if not isinstance(value, dict):
        return {}
    out: dict[int, int] = {}
    for k, v in value.items():
        try:
            if v is not None:
                out[int(k)] = int(v)
        except (TypeError, ValueError):
            continue
    return out


def _load_group(layout: RunLayout, ev: Evidence) -> list[GroupSnapshot] | None:
    records = _load_small(ev, "group", layout.group, "group")
    if records is None:
        if not layout.group.exists():
            ev.note("group", "note", "evidence/group.jsonl is missing: no broker-side group view")
        return None
    snaps = []
    for r in records:
        members = r.get("members") if isinstance(r.get("members"), dict) else {}
        info = r.get("member_info") if isinstance(r.get("member_info"), dict) else {}
        snaps.append(
            GroupSnapshot(
                t=float(r["t"]),
                state=str(r.get("state")),
                generation=r.get("generation") if isinstance(r.get("generation"), int) else None,
                members={
                    str(m): sorted(int(p) for p in (ps or [])) for m, ps in (members or {}).items()
                },
                committed=_int_map(r.get("committed")),
                end_offsets=_int_map(r.get("end_offsets")),
                partitions=r.get("partitions") if isinstance(r.get("partitions"), int) else None,
                info={str(m): i for m, i in (info or {}).items() if isinstance(i, dict)},
                group_type="consumer" if r.get("group_type") == "consumer" else "classic",
                target={
                    str(m): sorted(int(p) for p in (ps or []))
                    for m, ps in (r.get("target") or {}).items()
                }
                if isinstance(r.get("target"), dict)
                else {},
            )
        )
    snaps.sort(key=lambda s: s.t)
    return snaps


def _landed(r: dict[str, Any]) -> bool:
    if r.get("status") != "succeeded":
        return False
    if "landed" in r and r["landed"] is not None:
        return bool(r["landed"])
    return bool(r.get("output"))


def _load_faults(layout: RunLayout, ev: Evidence) -> list[Fault] | None:
    records = _load_small(ev, "faults", layout.faults, "fault")
    if records is None:
        if not layout.faults.exists():
            ev.note("faults", "note", "evidence/faults.jsonl is missing: no fault timeline")
        return None
    faults = [
        Fault(
            experiment=str(r.get("experiment") or ""),
            activity=str(r.get("activity") or ""),
            kind=str(r.get("kind")),
            t_start=float(r["t_start"]),
            t_end=float(r["t_end"] if r.get("t_end") is not None else r["t_start"]),
            status=str(r.get("status")),
            output=r.get("output"),
            landed=_landed(r),
            phase=r.get("phase"),
        )
        for r in records
    ]
    faults.sort(key=lambda f: (f.t_start, f.name))
    return faults
