"""Figures beyond the verdict: latency, throughput and lag over time, ownership."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from reports.evidence import Evidence
from reports.facts import Facts, lookup
from reports.strength import OUTPUT_TOPIC

QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99), ("p99.9", 0.999))


@dataclass
class Metrics:
    t0: float
    """Reference time of the charts (run start), epoch seconds."""
    latency: dict[str, Any] = field(default_factory=dict)
    rates: dict[str, list[float]] = field(default_factory=dict)
    """``t`` (bin start, s since t0), ``acknowledged`` and ``processed`` per second."""
    lag: dict[str, list[float]] = field(default_factory=dict)
    """``t`` and ``lag`` (records behind, all partitions) from the group snapshots."""
    ownership: list[dict[str, Any]] = field(default_factory=list)
    """One bar per ownership period: partition, member, start, end (s since t0), end kind."""
    faults: list[dict[str, Any]] = field(default_factory=list)
    rounds: list[float] = field(default_factory=list)
    spurious: list[float] = field(default_factory=list)


def compute_metrics(ev: Evidence, facts: Facts, rebalance: Any) -> Metrics:
    t0 = _t0(ev)
    m = Metrics(t0=t0)
    m.latency = latency(ev, facts)
    m.rates = rates(ev, facts, t0)
    m.lag = lag(ev, t0)
    end = max([t for ts in facts.handled_times.values() for t in ts[-1:]] or [t0])
    # A silent member owns for as long as the group kept assigning it the partition.
    ends = facts.period_ends
    for per in facts.periods:
        until = ends.get(per.id, per.end_t)
        if until is None or until == math.inf:
            until = max(end, per.end_t or end)
        m.ownership.append(
            {
                "partition": per.partition,
                "member": per.member,
                "start": round(per.start_t - t0, 3),
                "end": round(until - t0, 3),
                "end_kind": per.end or "open",
                "handled": per.handled,
            }
        )
    for f in ev.faults or ():
        if f.is_fault:
            m.faults.append(
                {
                    "name": f.name,
                    "start": round(f.t_start - t0, 3),
                    "end": round(f.t_end - t0, 3),
                    "landed": f.landed,
                }
            )
    m.rounds = [round(r - t0, 3) for r in rebalance.rounds]
    m.spurious = [round(r - t0, 3) for r in rebalance.spurious]
    return m


def _t0(ev: Evidence) -> float:
    t = ev.spec.get("t_start")
    if isinstance(t, int | float):
        return float(t)
    candidates = []
    if ev.acks is not None and ev.acks.height:
        candidates.append(ev.acks["t_ack"].min())
    if ev.lines is not None and ev.lines.height:
        candidates.append(ev.lines["t"].min())
    for s in (ev.group or [])[:1]:
        candidates.append(s.t)
    vals = [float(c) for c in candidates if isinstance(c, int | float)]
    return min(vals) if vals else 0.0


def first_outputs(ev: Evidence, facts: Facts) -> pl.DataFrame | None:
    """Output-topic evidence: the first output of each input (producer, key, seq, t)."""
    if ev.strength.name != OUTPUT_TOPIC or ev.outputs is None or ev.log is None:
        return None
    firsts = (
        facts.output_match.identified.sort("order")
        .unique(subset=["producer", "key", "seq"], keep="first", maintain_order=True)
        .select("producer", "key", "seq", "t")
        .filter(pl.col("t").is_not_null())
    )
    return firsts


#: What latency is measured from: the broker's append time of the record, when its topic
#: stamps records with it (riverbed's own cluster), else the producer's acknowledgement.
APPEND = "append"
ACKNOWLEDGEMENT = "acknowledgement"


def _append_times(ev: Evidence) -> pl.DataFrame | None:
    """pos, identity and append time of every log record stamped with one (None: none is)."""
    if ev.log is None or "t_append" not in ev.log.columns:
        return None
    stamped = ev.log.filter(pl.col("t_append").is_not_null())
    return stamped if stamped.height else None


def _output_latency(ev: Evidence, facts: Facts) -> tuple[pl.Series, str] | None:
    firsts = first_outputs(ev, facts)
    if firsts is None:
        return None
    stamped = _append_times(ev)
    if stamped is not None:
        starts = stamped.select(
            pl.col("producer").cast(pl.String),
            pl.col("key").cast(pl.String),
            "seq",
            pl.col("t_append").alias("t_start"),
        )
        basis = APPEND
    elif ev.acks is not None:
        starts = ev.acks.select(
            pl.col("producer").cast(pl.String),
            pl.col("key").cast(pl.String),
            "seq",
            pl.col("t_ack").alias("t_start"),
        )
        basis = ACKNOWLEDGEMENT
    else:
        return None
    starts = starts.unique(subset=["producer", "key", "seq"], keep="first")
    joined = firsts.join(starts, on=["producer", "key", "seq"], how="inner")
    return ((joined["t"] - joined["t_start"]) * 1000.0).alias("ms"), basis


def latency(ev: Evidence, facts: Facts, chunk: int = 2_000_000) -> dict[str, Any]:
    """End-to-end latency to first processing (or first output), in ms.

    Measured from the broker's append time where the log has it (``basis``
    ``append``): on one clock nothing is processed before it. Otherwise from the
    producer's acknowledgement (``basis`` ``acknowledgement``), which reaches the
    producer only after the record became readable: a busy consumer may process a
    record before its acknowledgement is recorded, and that latency is negative
    (``negative`` counts them; two processes' order of events, not an error).
    """
    if ev.strength.name == OUTPUT_TOPIC:
        answered = _output_latency(ev, facts)
        return _quantiles(*answered, to="first output") if answered is not None else {}
    if ev.processed is None or ev.processed.height == 0:
        return {}
    stamped = _append_times(ev)
    if stamped is not None:
        pos, t_start, basis = stamped["pos"], stamped["t_append"], APPEND
    elif ev.acks is not None:
        pos, t_start, basis = ev.acks["pos"], ev.acks["t_ack"], ACKNOWLEDGEMENT
    else:
        return {}
    first = ev.processed.filter(facts.first_mask).select("pos", "trank")
    parts = []
    for start in range(0, first.height, chunk):
        part = first.slice(start, chunk)
        idx, found = lookup(pos, part["pos"])
        t = facts.t_of(part["trank"])
        parts.append(((t - t_start.gather(idx)) * 1000.0).filter(found))
    ms = pl.concat(parts) if parts else pl.Series("ms", [], dtype=pl.Float64)
    return _quantiles(ms, basis)


def _quantiles(
    ms: pl.Series, basis: str = ACKNOWLEDGEMENT, to: str = "first processing"
) -> dict[str, Any]:
    if ms.len() == 0:
        return {}
    out: dict[str, Any] = {"count": ms.len(), "unit": "ms", "basis": basis, "to": to}
    for name, q in QUANTILES:
        out[name] = round(float(ms.quantile(q, interpolation="nearest") or 0.0), 3)
    out["max"] = round(float(ms.max() or 0.0), 3)  # type: ignore[arg-type]
    out["min"] = round(float(ms.min() or 0.0), 3)  # type: ignore[arg-type]
    out["mean"] = round(float(ms.mean() or 0.0), 3)  # type: ignore[arg-type]
    out["negative"] = int((ms < 0).sum())
    return out


def _bin_width(span: float) -> float:
    """A readable bin: about 300 bins over the run, never below one second."""
    for w in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if span / w <= 400:
            return float(w)
    return 3600.0


def rates(ev: Evidence, facts: Facts, t0: float) -> dict[str, list[float]]:
    """Acknowledged and (first) processed messages per second, binned over the run."""
    # (time, weight) pairs: acks one by one, processing per line with its count.
    series: dict[str, tuple[pl.Series, pl.Series | None]] = {}
    if ev.acks is not None and ev.acks.height:
        series["acknowledged"] = (ev.acks["t_ack"].drop_nulls(), None)
    if ev.processed is not None and ev.processed.height:
        per_line = (
            ev.processed.filter(facts.first_mask)["trank"].value_counts(name="n").sort("trank")
        )
        series["processed"] = (facts.t_of(per_line["trank"]), per_line["n"])
    firsts = first_outputs(ev, facts)
    if firsts is not None and firsts.height:
        series["processed"] = (firsts["t"], None)  # answered: first output per input
    if not series:
        return {}
    lo = min(float(s.min()) for s, _ in series.values() if s.len())  # type: ignore[arg-type]
    hi = max(float(s.max()) for s, _ in series.values() if s.len())  # type: ignore[arg-type]
    w = _bin_width(hi - lo)
    start = t0 + ((lo - t0) // w) * w
    nbins = int((hi - start) // w) + 1
    out: dict[str, list[float]] = {"t": [round(start - t0 + i * w, 3) for i in range(nbins)]}
    for name, (s, weight) in series.items():
        frame = pl.DataFrame({"bin": ((s - start) // w).cast(pl.Int64)})
        frame = frame.with_columns(
            (weight if weight is not None else pl.lit(1, pl.Int64)).alias("n")
        )
        counts = frame.group_by("bin").agg(pl.col("n").sum()).sort("bin")
        arr = [0.0] * nbins
        for i, c in counts.iter_rows():
            if 0 <= i < nbins:
                arr[i] = round(c / w, 3)
        out[name] = arr
    out["bin_s"] = [w]
    return out


def lag(ev: Evidence, t0: float) -> dict[str, list[float]]:
    snaps = ev.group or []
    ts, lags = [], []
    for s in snaps:
        if not s.end_offsets:
            continue
        behind = 0
        for p, end in s.end_offsets.items():
            behind += max(0, end - s.committed.get(p, 0))
        ts.append(round(s.t - t0, 3))
        lags.append(float(behind))
    return {"t": ts, "lag": lags} if ts else {}
