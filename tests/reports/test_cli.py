"""`riverbed report` and `python -m reports`: outputs, exit codes, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

from click.testing import CliRunner

from reports import build
from reports.cli import report
from riverbed.cli import main
from tests.reports.builder import baseline

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, mutate=None) -> Path:
    run = baseline()
    if mutate:
        mutate(run)
    return run.write(tmp_path / "run")


def test_pass_writes_three_files_into_the_run_dir(tmp_path):
    root = _run(tmp_path)
    result = CliRunner().invoke(main, ["report", str(root)])
    assert result.exit_code == 0, result.output
    assert "verdict: PASS" in result.output
    assert f"report: {root / 'report.html'}" in result.output
    assert "lost-from-log" in result.output  # the verdict table
    for name in ("report.html", "summary.json", "junit.xml"):
        assert (root / name).is_file()
    summary = json.loads((root / "summary.json").read_text())
    assert summary["v"] == 1 and summary["verdict"] == "pass"
    assert set(summary["checks"]) >= {
        "lost-from-log",
        "never-processed",
        "duplicate-in-log",
        "redelivered",
        "partition-order",
        "key-order",
        "corruption",
        "invalid-handling",
        "rebalance",
        "vacuity",
    }
    for c in summary["checks"].values():
        assert set(c) >= {"status", "count", "examples", "explanation"}
    assert summary["counts"]["acknowledged"] == 12
    assert summary["rebalances"][0]["time_to_full_ownership_s"] == 3.6


def test_fail_exits_1_and_junit_has_one_case_per_check(tmp_path):
    def lose(run):
        run.log.pop(0)

    root = _run(tmp_path, lose)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["report", str(root), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "verdict: FAIL" in result.output
    assert not (root / "summary.json").exists()
    suite = ET.parse(out / "junit.xml").getroot()
    cases = suite.findall("testcase")
    assert len(cases) == 11
    assert suite.get("failures") == "1"
    (failed,) = [c for c in cases if c.find("failure") is not None]
    assert failed.get("name") == "lost-from-log"
    assert "not in the drained log" in failed.find("failure").get("message")


def test_inconclusive_exits_2_and_is_skipped_in_junit(tmp_path):
    root = _run(tmp_path, lambda r: r.faults.clear())
    result = CliRunner().invoke(report, [str(root), "-q"])
    assert result.exit_code == 2
    assert "verdict: INCONCLUSIVE" in result.output
    suite = ET.parse(root / "junit.xml").getroot()
    skipped = [c.get("name") for c in suite.findall("testcase") if c.find("skipped") is not None]
    assert "vacuity" in skipped


def test_not_a_run_directory(tmp_path):
    result = CliRunner().invoke(main, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 4
    assert "does not exist" in result.output
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["report", str(tmp_path / "empty")])
    assert result.exit_code == 4
    assert "is not a riverbed run directory" in result.output
    assert "fix:" in result.output


def test_help_explains_checks_outputs_and_exit_codes():
    result = CliRunner().invoke(main, ["report", "--help"])
    assert result.exit_code == 0
    for word in (
        "RUN_DIR",
        "--out",
        "--open",
        "summary.json",
        "junit.xml",
        "Exit codes",
        "vacuity",
    ):
        assert word in result.output


def test_python_dash_m_reports(tmp_path):
    root = _run(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "reports", str(root), "--no-html", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "verdict: PASS" in proc.stdout
    assert (root / "summary.json").exists() and not (root / "report.html").exists()


def test_rerunning_gives_the_same_result(tmp_path):
    root = _run(tmp_path)
    first = build(root)
    texts = {k: p.read_bytes() for k, p in first.paths.items()}
    second = build(root)  # the outputs of the first run now sit in the run dir
    assert second.verdict == first.verdict == "pass"
    for k, p in second.paths.items():
        assert p.read_bytes() == texts[k], k


def test_build_api(tmp_path):
    root = _run(tmp_path)
    summary = build(root, tmp_path / "elsewhere", max_examples=1)
    assert summary.verdict == "pass" and summary.exit_code == 0
    assert summary.out_dir == tmp_path / "elsewhere"
    assert set(summary.paths) == {"report_html", "summary_json", "junit_xml"}
    assert len(summary.check("redelivered").examples) == 1


def test_reports_imports_no_kafka_locust_kubernetes_chaos_or_riverbed(tmp_path):
    root = _run(tmp_path)
    code = (
        "import sys, reports, reports.cli, tests.support.synthetic; from reports import build; "
        f"build({str(root)!r}); "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('kafka', 'locust', 'kubernetes', 'chaoslib', 'chaostoolkit', 'riverbed')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
