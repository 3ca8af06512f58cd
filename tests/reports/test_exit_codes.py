"""Exit codes a CI can act on: summary.json says which outcome its exit code is, and a run
a harness error stopped exits 3 whatever its verdict."""

from __future__ import annotations

import json

from click.testing import CliRunner

from reports import build
from reports.exit_codes import OUTCOMES
from riverbed.cli import main
from tests.reports.builder import baseline


def test_every_code_has_one_outcome():
    assert OUTCOMES == {
        0: "pass",
        1: "fail",
        2: "inconclusive",
        3: "harness-error",
        4: "bad-input",
    }


def test_summary_json_names_the_outcome_of_its_exit_code(tmp_path):
    passing = build(baseline().write(tmp_path / "pass"))
    data = json.loads(passing.paths["summary_json"].read_text())
    assert (data["exit_code"], data["outcome"]) == (0, "pass")
    assert "harness_error" not in data
    failing = baseline()
    failing.log.pop()  # an acknowledged message missing from the log
    data = json.loads(build(failing.write(tmp_path / "fail")).paths["summary_json"].read_text())
    assert (data["exit_code"], data["outcome"]) == (1, "fail")


def test_a_run_a_harness_error_stopped_exits_3_and_says_why(tmp_path):
    run = baseline()
    run.spec["error"] = {"message": "Kafka did not start", "fix": "see the broker logs"}
    root = run.write(tmp_path / "run")
    summary = build(root)
    data = json.loads(summary.paths["summary_json"].read_text())
    assert (data["exit_code"], data["outcome"]) == (3, "harness-error")
    assert data["harness_error"] == {"message": "Kafka did not start", "fix": "see the broker logs"}
    r = CliRunner().invoke(main, ["report", str(root)])
    assert r.exit_code == 3
    assert "harness error: Kafka did not start" in r.output


def test_report_quiet_prints_the_verdict_line_only(tmp_path):
    root = baseline().write(tmp_path / "run")
    r = CliRunner().invoke(main, ["report", "-q", str(root)])
    assert r.exit_code == 0
    assert r.stdout.strip().splitlines() == ["verdict: PASS  (exit 0)"]
