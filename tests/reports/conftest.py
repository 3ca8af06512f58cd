"""Helpers for the checker's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports import Summary, analyse
from tests.reports.builder import Run


def not_passing(summary: Summary) -> dict[str, str]:
    return {v.name: v.status for v in summary.checks if v.status != "pass"}


@pytest.fixture
def check_run(tmp_path: Path):
    """Write a literal run and check it: returns the Summary."""

    def run(r: Run) -> Summary:
        root = r.write(tmp_path / "run")
        summary, _, _ = analyse(root)
        return summary

    return run
