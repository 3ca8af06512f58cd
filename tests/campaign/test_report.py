"""The campaign's matrix and exit code, from literal run summaries."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from riverbed.campaign.report import write_campaign
from riverbed.campaign.runner import RunRecord, exit_code, summarize
from riverbed.campaign.schedule import generate

SETTINGS = {"seed": 1, "faults": ["kill-hard", "pause"], "max_faults": 2,
            "commit_mode": "after-process"}  # fmt: skip


def record(tmp_path: Path, index: int, verdict: str, never: int = 0) -> RunRecord:
    schedule = generate(1, index, ["kill-hard", "pause"])[index - 1]
    run_dir = tmp_path / "runs" / schedule.name
    run_dir.mkdir(parents=True)
    status = {"pass": "pass", "fail": "fail", "inconclusive": "inconclusive"}[verdict]
    checks = {
        "lost-from-log": {"status": "pass"},
        "never-processed": {"status": "fail" if never else status},
        "rebalance": {"status": "pass", "counts": {"zombie_overlaps": 1}},
    }
    summary = {"verdict": verdict, "exit_code": {"pass": 0, "fail": 1}.get(verdict, 2),
               "checks": checks, "counts": {"acknowledged": 100, "never-processed": never},
               "reasons": ["drain did not finish"] if verdict == "inconclusive" else []}  # fmt: skip
    (run_dir / "summary.json").write_text(json.dumps(summary))
    (run_dir / "report.html").write_text("<html></html>")
    r = RunRecord(schedule, run_dir, wall_s=80.0)
    summarize(r)
    return r


@pytest.mark.parametrize(
    ("verdicts", "interrupted", "code"),
    [
        (["pass", "pass"], False, 0),
        (["pass", "fail", "inconclusive"], False, 1),
        (["pass", "inconclusive"], False, 2),
        (["pass", "error"], False, 3),
        (["fail", "error"], False, 1),
        (["pass", "pass"], True, 2),
    ],
)
def test_exit_code(tmp_path, verdicts, interrupted, code):
    records = [RunRecord(s, tmp_path) for s in generate(1, len(verdicts))]
    for r, v in zip(records, verdicts, strict=True):
        r.verdict = v
    assert exit_code(records, interrupted) == code


def test_the_matrix_holds_every_run_its_schedule_checks_and_report(tmp_path):
    records = [record(tmp_path, 1, "pass"), record(tmp_path, 2, "fail", never=7)]
    records.append(RunRecord(generate(1, 3, ["kill-hard", "pause"])[2], tmp_path / "runs/r03"))
    data = write_campaign(tmp_path, records, SETTINGS, 0.0, interrupted=False)
    assert data["verdict"] == "fail" and data["exit_code"] == 1
    assert data["tally"] == {"pass": 1, "fail": 1, "not-run": 1}
    assert data["checks"] == ["lost-from-log", "never-processed", "rebalance"]
    r1, r2, r3 = data["matrix"]
    assert r1["report"] == "runs/r01/report.html" and r1["run_dir"] == "runs/r01"
    assert r2["checks"]["never-processed"] == "fail" and r2["counts"]["never-processed"] == 7
    assert r2["counts"]["zombie_overlaps"] == 1
    assert r2["schedule"]["steps"] and r2["schedule"]["describe"]
    assert r3["verdict"] == "not-run" and r3["report"] is None
    assert json.loads((tmp_path / "campaign.json").read_text()) == data

    html = (tmp_path / "campaign.html").read_text()
    assert 'href="runs/r02/report.html"' in html and r2["schedule"]["describe"] in html
    assert "FAIL" in html

    suites = ET.parse(tmp_path / "junit.xml").getroot()
    assert [s.get("name").split(":")[0] for s in suites] == ["r01", "r02", "r03"]
    failed = suites[1].findall("testcase/failure")
    assert len(failed) == 1 and suites[1].get("failures") == "1"
    assert suites[2].find("testcase/skipped") is not None


def test_an_interrupted_campaign_says_so(tmp_path):
    records = [record(tmp_path, 1, "pass")]
    data = write_campaign(tmp_path, records, SETTINGS, 0.0, interrupted=True)
    assert data["verdict"] == "interrupted" and data["exit_code"] == 2
    assert "INTERRUPTED" in (tmp_path / "campaign.html").read_text()


def user_settings() -> dict:
    from riverbed.campaign.cli import campaign_settings
    from riverbed.spec import RunSpec

    base = RunSpec(
        "campaign-1",
        consumer_cmd="python examples/confluent_auto_commit.py",
        consumer_cwd="/srv/app",
        consumer_evidence="output-topic",
        output_topic="enriched",
        commit_mode=None,
        assignor=None,
        processing_ms=None,
    )
    return campaign_settings(
        seed=1, runs=3, kinds=("kill-hard", "pause"), max_faults=2, base=base, user_rate=10
    )


def test_the_page_answers_first_and_names_the_consumer_and_its_evidence(tmp_path):
    records = [record(tmp_path, 1, "pass"), record(tmp_path, 2, "fail", never=7)]
    records.append(record(tmp_path, 3, "inconclusive"))
    data = write_campaign(tmp_path, records, user_settings(), 0.0, interrupted=False)
    assert data["consumer"]["kind"] == "command"
    assert data["consumer"]["cmd"] == "python examples/confluent_auto_commit.py"
    assert data["evidence_strength"]["name"] == "output-topic"
    assert data["summary"]["headline"] == (
        "3 schedules: 1 found a problem, 1 passed, 1 cannot tell."
    )
    assert data["summary"]["shortest_failing"]["run"] == "r02"
    html = (tmp_path / "campaign.html").read_text()
    # The answer comes before the matrix, the consumer and what its verdicts rest on with it.
    answer, consumer = html.index('id="answer"'), html.index('id="consumer-under-test"')
    assert answer < consumer < html.index('id="shortest-failing"') < html.index('id="matrix-table"')
    assert "3 schedules: 1 found a problem, 1 passed, 1 cannot tell." in html
    assert "python examples/confluent_auto_commit.py" in html
    assert "Evidence strength: output-topic" in html and "Cannot prove:" in html
    assert 'data-fault="kill-hard"' in html


def test_a_check_the_evidence_cannot_see_shows_cannot_tell_never_a_pass(tmp_path):
    r = record(tmp_path, 1, "pass")
    r.checks["partition-order"] = "n/a"
    r.checks["rebalance"] = "inconclusive"
    write_campaign(tmp_path, [r], user_settings(), 0.0, interrupted=False)
    html = (tmp_path / "campaign.html").read_text()
    cell = html[html.index('data-check="partition-order"') :].split("</td>", 1)[0]
    assert 'data-status="n/a"' in cell and "cannot tell at this evidence strength" in cell
    assert "✓" not in cell
    cell = html[html.index('data-check="rebalance"') :].split("</td>", 1)[0]
    assert "cannot tell: the evidence was incomplete" in cell and "✓" not in cell
    suite = ET.parse(tmp_path / "junit.xml").getroot()[0]
    skipped = {c.get("name") for c in suite.findall("testcase") if c.find("skipped") is not None}
    assert skipped == {"partition-order", "rebalance"}


def test_a_harness_error_shows_its_fix_on_the_page_and_in_junit(tmp_path):
    r = RunRecord(generate(1, 1, ["kill-hard"])[0], tmp_path / "runs/r01", wall_s=3.0)
    r.verdict, r.exit_code = "error", 3
    r.error = {"message": "Kafka lacks the listeners.", "fix": "run `riverbed down` first."}
    r.reasons = [r.error["message"]]
    data = write_campaign(tmp_path, [r], SETTINGS, 0.0, interrupted=False, stopped="it stopped")
    assert data["matrix"][0]["error"]["fix"] == "run `riverbed down` first."
    assert data["stopped"] == "it stopped" and data["exit_code"] == 3  # a harness error
    html = (tmp_path / "campaign.html").read_text()
    assert "Kafka lacks the listeners." in html and "run `riverbed down` first." in html
    assert "Stopped early: it stopped." in html
    error = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite/testcase/error")
    assert error is not None and "fix: run `riverbed down` first." in error.get("message", "")
