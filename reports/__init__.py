"""riverbed's checker: pure checks over a run's evidence, and the report they produce.

The orchestrator's entry point is :func:`build`::

    from reports import build

    summary = build("runs/20261124-214500-kill-hard")  # writes report.html, summary.json, junit.xml
    summary.verdict      # "pass" | "fail" | "inconclusive"
    summary.exit_code    # 0 | 1 | 2
    summary.paths        # {"report_html": …, "summary_json": …, "junit_xml": …}

It reads evidence files only (see docs/evidence.md) and never imports Kafka,
Locust or Kubernetes code, so any run directory can be re-checked offline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reports.model import (
    CHECK_NAMES,
    EXIT_CODES,
    FAIL,
    INCONCLUSIVE,
    NOT_APPLICABLE,
    PASS,
    Summary,
    Verdict,
)

if TYPE_CHECKING:
    from reports.pipeline import ReportError, analyse, build

__all__ = [
    "CHECK_NAMES",
    "EXIT_CODES",
    "FAIL",
    "INCONCLUSIVE",
    "NOT_APPLICABLE",
    "PASS",
    "ReportError",
    "Summary",
    "Verdict",
    "analyse",
    "build",
]


def __getattr__(name: str) -> Any:
    # The checks load the columnar engine (polars); `riverbed --help` should not.
    if name in ("build", "analyse", "ReportError"):
        from reports import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'reports' has no attribute {name!r}")
