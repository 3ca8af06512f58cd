"""The checks are declared once (reports/registry.py); the runner, the summary's counts, the
CLI's help and the docs follow from the declarations."""

from __future__ import annotations

import ast
from pathlib import Path

from click.testing import CliRunner

from reports import analyse
from reports.checks.rebalance import RebalanceReport
from reports.model import CHECK_NAMES, Verdict
from reports.registry import CHECKS, NotApplicable, resolve, summary_counts
from reports.strength import STRENGTHS
from riverbed.cli import main
from tests.reports.builder import baseline

ROOT = Path(__file__).resolve().parents[2]


def test_every_check_is_judged_or_not_applicable_at_every_strength() -> None:
    for spec in CHECKS:
        assert set(spec.judges) == set(STRENGTHS), spec.name
        for strength, judge in spec.judges.items():
            if isinstance(judge, NotApplicable):
                assert judge.why, (spec.name, strength)
            else:
                assert callable(resolve(judge)), judge
    # The reference consumer's events judge everything; the weaker strengths say what they
    # cannot see (an instrumented consumer's refusals are invisible in its API).
    assert all(spec.applies_at("reference") for spec in CHECKS)
    assert [s.name for s in CHECKS if not s.applies_at("instrumented")] == ["invalid-handling"]
    assert [s.name for s in CHECKS if not s.applies_at("output-topic")] == [
        "partition-order",
        "invalid-handling",
    ]
    assert [s.name for s in CHECKS if not s.applies_at("offsets")] == [
        "partition-order",
        "key-order",
        "invalid-handling",
    ]


def test_the_runner_returns_one_verdict_per_check_in_the_registrys_order(tmp_path: Path) -> None:
    summary, _, _ = analyse(baseline().write(tmp_path / "run"))
    assert tuple(v.name for v in summary.checks) == CHECK_NAMES
    assert all(isinstance(v, Verdict) for v in summary.checks)


def test_summary_counts_come_from_the_checks_in_the_contracts_order() -> None:
    keys = [key for key, _, _ in summary_counts("reference")]
    assert keys == [
        "lost-from-log",
        "never-processed",
        "backlog",
        "indeterminate",
        "recovered",
        "duplicate-in-log",
        "redelivered",
        "invalid",
    ]
    assert summary_counts("output-topic")[-2:] == [
        ("outputs", "never-processed", "outputs"),
        ("unidentified-outputs", "never-processed", "unidentified-outputs"),
    ]
    assert [k for k, _, _ in summary_counts("offsets")] == keys


def test_the_help_lists_every_check_with_what_it_proves() -> None:
    result = CliRunner().invoke(main, ["report", "--help"])
    assert result.exit_code == 0
    for spec in CHECKS:
        assert spec.name in result.output and spec.proves in result.output


def test_docs_describe_every_check() -> None:
    page = (ROOT / "docs" / "report.md").read_text()
    for name in CHECK_NAMES:
        assert f"**{name}**" in page, name


def test_no_check_spells_its_name_out() -> None:
    # A check names itself through the registry's constants, never a string of its own.
    spelled = []
    for path in sorted((ROOT / "reports").rglob("*.py")):
        if path.name == "registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            target = None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
                if not (isinstance(target, ast.Name) and target.id == "name"):
                    continue
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Verdict":
                value = node.args[0] if node.args else None
            else:
                continue
            if isinstance(value, ast.Constant) and value.value in CHECK_NAMES:
                spelled.append(f"{path.relative_to(ROOT)}:{node.lineno} {value.value}")
    assert not spelled, spelled


def test_the_rebalance_check_returns_its_per_fault_rows_at_every_strength() -> None:
    for strength in STRENGTHS:
        judge = next(s for s in CHECKS if s.name == "rebalance").judge(strength)
        assert isinstance(judge, str)
        assert resolve(judge).__annotations__["return"] in ("RebalanceReport", RebalanceReport)
