"""``build``: read a run directory, run every check, write the outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports.allowances import applied
from reports.checks import run_checks
from reports.evidence import Evidence, load
from reports.facts import Facts
from reports.metrics import Metrics, compute_metrics
from reports.model import INCONCLUSIVE, MAX_EXAMPLES, Summary, Verdict, combine
from reports.registry import NEVER_PROCESSED, summary_counts
from reports.rundir import ReportError as ReportError
from reports.rundir import check_run_dir
from reports.strength import OFFSETS


def analyse(
    run_dir: Path | str, max_examples: int = MAX_EXAMPLES
) -> tuple[Summary, Evidence, Metrics]:
    """Run every check on ``run_dir`` without writing anything.

    Returns the summary, the evidence read, and the figures the report charts.
    """
    run_dir = Path(run_dir)
    check_run_dir(run_dir)
    ev = load(run_dir)
    facts = Facts(ev, max_examples=max_examples)
    verdicts, rebalance = run_checks(ev, facts)
    metrics = compute_metrics(ev, facts, rebalance)
    verdict = combine([v.status for v in verdicts])
    reasons = (
        [f"{v.name}: {v.explanation}" for v in verdicts if v.status == INCONCLUSIVE]
        if verdict == INCONCLUSIVE
        else []
    )
    by_name = {v.name: v for v in verdicts}
    never = by_name.get(NEVER_PROCESSED)
    processed = never.counts.get("processed") if never is not None else None
    counts: dict[str, int | None] = {
        "acknowledged": facts.acknowledged,
        # Processing is invisible at offsets strength: unknown, not zero.
        "processed": None
        if ev.strength.name == OFFSETS
        else processed
        if isinstance(processed, int)
        else facts.processed_count,
    }
    for key, check, source in summary_counts(ev.strength.name):
        counts[key] = _count(by_name, check, source)
    summary = Summary(
        run_dir=run_dir,
        out_dir=run_dir,
        run_id=ev.run_id,
        verdict=verdict,
        checks=verdicts,
        counts=counts,
        rebalances=rebalance.rows,
        issues=list(ev.issues),
        latency=metrics.latency,
        reasons=reasons,
        evidence_strength=ev.strength.to_json(),
        allowances=applied(verdicts),
        harness_error=_harness_error(ev.spec),
    )
    return summary, ev, metrics


def _harness_error(spec: dict[str, Any]) -> dict[str, Any] | None:
    """spec.json ``error``: what stopped the run early, when riverbed or its environment
    failed (a message, and the fix when known)."""
    error = spec.get("error")
    if isinstance(error, dict) and error.get("message"):
        return {"message": str(error["message"]), "fix": error.get("fix")}
    return None


def _count(by_name: dict[str, Verdict], check: str, key: str) -> int:
    v = by_name.get(check)
    value = v.counts.get(key, 0) if v is not None else 0
    return int(value) if isinstance(value, int | float) else 0


def build(
    run_dir: Path | str,
    out_dir: Path | str | None = None,
    *,
    max_examples: int = MAX_EXAMPLES,
    html: bool = True,
) -> Summary:
    """Check ``run_dir`` and write report.html, summary.json and junit.xml.

    Outputs go to ``out_dir`` (default: the run directory). Returns the
    :class:`~reports.model.Summary`: ``.verdict``, ``.exit_code``, ``.paths``.
    Raises :class:`ReportError` when ``run_dir`` is not a run directory.
    """
    from reports.render import write_outputs

    run_dir = Path(run_dir)
    check_run_dir(run_dir)
    summary, ev, metrics = analyse(run_dir, max_examples=max_examples)
    out = Path(out_dir) if out_dir is not None else run_dir
    out.mkdir(parents=True, exist_ok=True)
    summary.out_dir = out
    summary.paths = write_outputs(summary, ev, metrics, out, html=html)
    return summary
