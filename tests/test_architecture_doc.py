"""docs/architecture.md stays true: the files it names exist, and so do the names it places."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"

#: Names the page says a module holds.
PLACED = [
    ("reports.registry", "CHECKS"),
    ("reports.registry", "CheckSpec"),
    ("reports.registry", "NotApplicable"),
    ("reports.allowances", "ALLOWANCES"),
    ("reports.allowances", "Allowance"),
    ("reports.checks.common", "missing"),
    ("riverbed.chaos.landing", "RULES"),
    ("riverbed.campaign.schedule", "TEMPLATES"),
    ("riverbed.spec", "PLATFORMS"),
    ("riverbed.runner", "RunPlatform"),
    ("riverbed.runner", "LocalRunPlatform"),
    ("riverbed.platforms.kube.run", "KubeRunPlatform"),
    ("riverbed.commands", "run_spec"),
    ("workloads.evidence.schema", "RunLayout"),
    ("workloads.evidence.schema", "REQUIRED"),
    ("workloads.evidence.schema", "FILE_TYPES"),
    ("workloads.evidence.schema", "optional"),
    ("workloads.evidence.schema", "Send"),
    ("workloads.evidence.schema", "Fault"),
    ("workloads.evidence.schema", "LogRecord"),
]


def test_every_path_the_page_names_exists() -> None:
    text = PAGE.read_text(encoding="utf-8")
    paths = {
        p
        for p in re.findall(r"`([\w./-]+)`", text)
        if "/" in p and not p.startswith("runs/") and not p.startswith("evidence/")
    }
    assert paths, "the page names no paths"
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


@pytest.mark.parametrize(("module", "name"), PLACED)
def test_the_names_the_page_places_are_where_it_says(module: str, name: str) -> None:
    assert f"`{name}" in PAGE.read_text(encoding="utf-8")
    assert hasattr(importlib.import_module(module), name)


def test_the_docs_cite_no_document_outside_the_repository() -> None:
    for page in (ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([^)#]+)", page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name} links to {target}"
        assert "DESIGN.md" not in page.read_text(encoding="utf-8"), page.name
