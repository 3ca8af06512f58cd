"""The soundness campaign's table, totals and exit code, from literal rows."""

from __future__ import annotations

import pytest

from tests.soundness.campaign import HEADER, exit_code, format_row, parse_args, totals


def rows(*outcomes: str) -> list[dict]:
    return [
        {"run": f"r{i:02d}", "run_id": f"2026-run-{i}", "verdict": "pass", "truth_lost": 0,
         "outcome": o, "wall_s": 70.0}
        for i, o in enumerate(outcomes, 1)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("outcomes", "code"),
    [
        (["true-fail", "true-fail"], 0),
        (["true-pass", "inconclusive"], 0),
        (["true-fail", "FALSE-PASS"], 1),
        (["true-pass", "FALSE-ALARM", "inconclusive"], 1),
        (["inconclusive", "not-judged"], 2),
        ([], 2),
    ],
)
def test_a_false_pass_or_false_alarm_fails_the_campaign(outcomes, code):
    assert exit_code(rows(*outcomes)) == code


def test_totals_count_every_outcome():
    counts = totals(rows("true-fail", "FALSE-PASS", "FALSE-PASS", "not-judged"))
    assert counts == {"true-fail": 1, "true-pass": 0, "FALSE-PASS": 2, "FALSE-ALARM": 0,
                      "inconclusive": 0, "not-judged": 1}  # fmt: skip


def test_a_row_shows_run_verdict_truth_and_outcome():
    (r,) = rows("FALSE-PASS")
    r["truth_lost"] = 8
    line = format_row(r)
    assert line.split() == ["r01", "2026-run-1", "pass", "8", "FALSE-PASS", "0", "70s"]


def test_a_record_riverbed_calls_lost_that_was_finished_fails_the_campaign():
    (r,) = rows("true-fail")
    assert exit_code([r]) == 0
    r["wrong_records"] = 1  # e.g. {"unfinished:finished": 1}
    assert exit_code([r]) == 1
    assert HEADER.split()[:4] == ["run", "run", "id", "verdict"]


def test_bad_arguments_are_refused_before_anything_starts(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(["--consumer", "no_such_consumer"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--consumer", "kp_careful", "--runs", "0"])
    assert "--runs must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--consumer", "kp_careful", "--kafka-state-dir", str(tmp_path)])
    assert "no local Kafka cluster there" in capsys.readouterr().err
    assert parse_args(["--consumer", "ck_careful"]).runs == 20
