"""Small helpers shared by the checks."""

from __future__ import annotations

import polars as pl

from reports.evidence import Evidence
from reports.model import INCONCLUSIVE, Verdict


def missing(name: str, ev: Evidence, *sources: str) -> Verdict | None:
    """An inconclusive verdict when a source the check needs could not be read at all."""
    absent = [s for s in sources if not ev.sources[s].present]
    if not absent:
        return None
    what = ", ".join(_WHAT[s] for s in absent)
    return Verdict(name, INCONCLUSIVE, 0, f"cannot check: no readable {what}")


def gaps(ev: Evidence, *sources: str) -> str:
    """Why evidence is incomplete, for an explanation ('' when it is complete)."""
    reasons = []
    for s in sources:
        src = ev.sources[s]
        if not src.present:
            reasons.append(f"{_WHAT[s]} {'is' if s != 'acks' else 'are'} missing")
        elif s == "log" and not ev.log_drained:
            reasons.append("the log drain did not finish (spec.json log_drain)")
        elif s == "output" and not ev.output_drained:
            reasons.append("the output drain did not finish (spec.json output_drain)")
        elif src.present and not src.complete:
            reasons.append(f"{_WHAT[s]} {'is' if s != 'acks' else 'are'} incomplete (see issues)")
    return "; ".join(reasons)


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


_WHAT = {
    "spec": "run spec",
    "acks": "send outcomes (evidence/acks)",
    "consumed": "consumer events (evidence/consumed)",
    "group": "group snapshots (evidence/group.jsonl)",
    "faults": "fault timeline (evidence/faults.jsonl)",
    "log": "log drain (evidence/log.jsonl)",
    "output": "output drain (evidence/output.jsonl)",
}


def log_identity(template: str = "{}/{} seq {}") -> pl.Expr:
    """The message a log record holds, as ``producer/key seq N``, from its log_* columns."""
    return pl.format(
        template,
        pl.col("log_producer").cast(pl.String),
        pl.col("log_key").cast(pl.String),
        pl.col("log_seq"),
    )
