"""Rendering of a checked run: summary.json, junit.xml and report.html."""

from __future__ import annotations

import json
from pathlib import Path

from reports.evidence import Evidence
from reports.metrics import Metrics
from reports.model import Summary


def write_outputs(
    summary: Summary, ev: Evidence, metrics: Metrics, out: Path, *, html: bool = True
) -> dict[str, Path]:
    from reports.render.junit import junit_xml

    paths = {"summary_json": out / "summary.json", "junit_xml": out / "junit.xml"}
    _write(paths["summary_json"], json.dumps(summary.to_json(), indent=2, default=str) + "\n")
    _write(paths["junit_xml"], junit_xml(summary))
    if html:
        from reports.render.html import report_html

        paths["report_html"] = out / "report.html"
        _write(paths["report_html"], report_html(summary, ev, metrics))
    return paths


def _write(path: Path, text: str) -> None:
    # Write then rename: a reader never sees half a report.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
