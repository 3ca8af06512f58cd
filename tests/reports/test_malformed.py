"""Damaged or missing evidence: clear messages, and whatever can be checked is checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reports import analyse, build
from tests.reports.builder import baseline
from tests.reports.conftest import not_passing


def _write(tmp_path: Path) -> Path:
    return baseline().write(tmp_path / "run")


def test_truncated_last_line_of_a_killed_consumer_is_tolerated(tmp_path):
    root = _write(tmp_path)
    f = root / "evidence" / "consumed" / "consumer-1-aaa.jsonl"
    with f.open("a") as fh:
        fh.write('{"v":1,"type":"processed","member":"consumer-1-aaa","partition":0,"rec')
    s, _, _ = analyse(root)
    assert s.verdict == "pass", not_passing(s)
    (issue,) = [i for i in s.issues if i.source == "consumed"]
    assert issue.level == "warning"
    assert "consumer-1-aaa.jsonl:6: last line truncated" in issue.message


def test_truncated_last_line_of_acks(tmp_path):
    root = _write(tmp_path)
    f = root / "evidence" / "acks" / "p1.jsonl"
    text = f.read_text()
    f.write_text(
        text[: text.rstrip("\n").rfind("\n") + 1] + text.rstrip("\n").rsplit("\n", 1)[1][:30]
    )
    s, _, _ = analyse(root)
    # The last send outcome is gone: its message is simply not counted as acknowledged.
    assert s.counts["acknowledged"] == 11
    assert s.verdict == "pass", not_passing(s)
    assert any("last line truncated" in i.message for i in s.issues)


def test_malformed_line_in_the_middle_is_skipped_and_makes_the_source_incomplete(tmp_path):
    root = _write(tmp_path)
    f = root / "evidence" / "consumed" / "consumer-2-bbb.jsonl"
    lines = f.read_text().splitlines()
    lines.insert(2, "{this is not json")
    f.write_text("\n".join(lines) + "\n")
    s, ev, _ = analyse(root)
    assert any("consumer-2-bbb.jsonl:3: malformed line skipped" in i.message for i in s.issues)
    assert not ev.sources["consumed"].complete
    # Nothing was lost, but checks relying on complete consumer evidence cannot pass.
    assert s.check("redelivered").status == "inconclusive"
    assert s.verdict == "inconclusive"
    assert s.check("lost-from-log").status == "pass"


def test_unknown_version_skips_the_file_with_a_clear_error(tmp_path):
    root = _write(tmp_path)
    f = root / "evidence" / "faults.jsonl"
    rec = json.loads(f.read_text().splitlines()[0])
    f.write_text(json.dumps({**rec, "v": 2}) + "\n")
    s, _, _ = analyse(root)
    (err,) = [i for i in s.issues if i.level == "error"]
    assert err.source == "faults"
    assert (
        "faults.jsonl:1: evidence version 2 is not supported (this riverbed reads v1)"
        in err.message
    )
    assert "was skipped" in err.message
    # Everything else is still checked.
    assert s.check("lost-from-log").status == "pass"
    assert s.check("redelivered").status == "pass"
    assert s.check("vacuity").status == "inconclusive"
    assert s.verdict == "inconclusive"


def test_unknown_version_in_one_acks_file_still_finds_loss_in_the_others(tmp_path):
    run = baseline()
    run.send("a", 9, 0, 9, file="other")
    run.log = [r for r in run.log if not (r["partition"] == 1 and r["offset"] == 0)]
    root = run.write(tmp_path / "run")
    other = root / "evidence" / "acks" / "other.jsonl"
    other.write_text(other.read_text().replace('"v": 1', '"v": 7'))
    s, _, _ = analyse(root)
    assert any(i.level == "error" and "other.jsonl" in i.message for i in s.issues)
    # b#0 is acknowledged in the readable file and missing from a complete drain: proven loss.
    assert s.check("lost-from-log").status == "fail"
    assert s.exit_code == 1


def test_unknown_record_type_is_an_error(tmp_path):
    root = _write(tmp_path)
    f = root / "evidence" / "log.jsonl"
    f.write_text(f.read_text() + '{"v":1,"type":"mystery","partition":0}\n')
    s, ev, _ = analyse(root)
    assert any("unknown evidence type 'mystery'" in i.message for i in s.issues)
    assert ev.log is None
    assert s.check("lost-from-log").status == "inconclusive"
    assert "no readable log drain" in s.check("lost-from-log").explanation


def test_missing_log_leaves_consumer_checks_running(tmp_path):
    run = baseline()
    m2 = run.members["consumer-2-bbb"]
    for ln in m2.lines:
        if ln["type"] == "processed" and ln["t"] == 4.0:
            ln["records"] = [ln["records"][0], ln["records"][2], ln["records"][1]]
    root = run.write(tmp_path / "run")
    (root / "evidence" / "log.jsonl").unlink()
    s, _, _ = analyse(root)
    assert any(i.source == "log" and "log.jsonl is missing" in i.message for i in s.issues)
    for name in ("lost-from-log", "never-processed", "duplicate-in-log", "corruption"):
        assert s.check(name).status == "inconclusive", name
    assert s.check("partition-order").status == "fail"
    assert s.verdict == "fail"


def test_missing_spec_makes_the_run_inconclusive_but_checks_run(tmp_path):
    root = _write(tmp_path)
    (root / "spec.json").unlink()
    s, _, _ = analyse(root)
    assert any(i.source == "spec" and "spec.json is missing" in i.message for i in s.issues)
    assert s.verdict == "inconclusive"
    assert "does not say whether the consumer group finished" in s.check("vacuity").explanation
    assert s.check("partition-order").status == "pass"


def test_missing_consumer_evidence(tmp_path):
    root = _write(tmp_path)
    for f in (root / "evidence" / "consumed").iterdir():
        f.unlink()
    s, _, _ = analyse(root)
    for name in ("never-processed", "redelivered", "partition-order", "key-order", "rebalance"):
        assert s.check(name).status == "inconclusive", name
    assert s.check("lost-from-log").status == "pass"


def test_missing_optional_files_are_noted(tmp_path):
    root = _write(tmp_path)
    (root / "evidence" / "group.jsonl").unlink()
    summary = build(root, tmp_path / "out")
    assert summary.verdict == "pass"
    assert any(i.level == "note" and "group.jsonl is missing" in i.message for i in summary.issues)
    html = summary.paths["report_html"].read_text()
    assert "no Chaos Toolkit journal" in html
    assert "no Locust results" in html


def test_wrong_field_type_names_the_line(tmp_path):
    root = _write(tmp_path)
    f = root / "evidence" / "acks" / "p1.jsonl"
    lines = f.read_text().splitlines()
    rec = json.loads(lines[3])
    lines[3] = json.dumps({**rec, "seq": "three"})
    f.write_text("\n".join(lines) + "\n")
    s, _, _ = analyse(root)
    assert any("p1.jsonl:4: field 'seq' has 'three'" in i.message for i in s.issues)


@pytest.mark.parametrize(
    "remove",
    [
        ["evidence/consumed"],
        ["evidence/acks"],
        ["evidence/log.jsonl"],
        ["evidence/group.jsonl", "evidence/faults.jsonl"],
        ["spec.json"],
        ["evidence"],
    ],
)
def test_report_is_written_whatever_is_missing(tmp_path, remove):
    root = _write(tmp_path)
    for rel in remove:
        target = root / rel
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    summary = build(root, tmp_path / "out")
    assert summary.verdict in ("inconclusive", "fail")
    assert summary.exit_code in (1, 2)
    for path in summary.paths.values():
        assert path.stat().st_size > 0
    assert json.loads(summary.paths["summary_json"].read_text())["verdict"] == summary.verdict


def test_an_empty_topic_is_checked_not_crashed_on(tmp_path):
    """A session with consumers but no load: empty log, no acks. Nothing to lose,
    but nothing proven either."""
    root = _write(tmp_path)
    (root / "evidence" / "log.jsonl").write_text("")
    shutil.rmtree(root / "evidence" / "acks")
    for f in (root / "evidence" / "consumed").glob("*.jsonl"):
        lines = [json.loads(x) for x in f.read_text().splitlines()]
        keep = [x for x in lines if x["type"] in ("start", "assigned", "revoked", "stop")]
        f.write_text("".join(json.dumps(x) + "\n" for x in keep))
    s = build(root)
    assert s.check("never-processed").status == "pass"
    assert s.check("duplicate-in-log").status == "pass"
    assert s.check("vacuity").status == "inconclusive"
    assert "no send outcomes" in s.check("vacuity").explanation
    assert s.verdict == "inconclusive" and s.exit_code == 2
