"""The independent truth and the comparison with a verdict, on literal tiny evidence."""

from __future__ import annotations

import json

import pytest

from tests.support.truth import (
    FALSE_ALARM,
    FALSE_PASS,
    INCONCLUSIVE,
    TRUE_FAIL,
    TRUE_PASS,
    Finish,
    TruthUnavailable,
    judge,
    outcome,
    read_finishes,
    topic_and_group,
)


def done(*records: tuple[int, int]) -> list[Finish]:
    return [Finish(p, o, 100.0 + i) for i, (p, o) in enumerate(records)]


def test_a_record_below_the_committed_offset_that_nobody_finished_is_lost():
    truth = judge(done((0, 0), (0, 1), (0, 3)), {0: [0, 1, 2, 3, 4]}, {0: 4})
    (p,) = truth.partitions
    assert p.lost == (2,) and truth.lost == 1
    assert truth.lost_cases() == [(0, 2)]
    # Offset 4 is at the committed offset: the group never claimed it, backlog.
    assert p.backlog == 1 and p.finished == 3 and p.log == 5


def test_a_consumer_that_finished_everything_it_committed_lost_nothing():
    truth = judge(done((0, 0), (0, 1), (1, 0)), {0: [0, 1], 1: [0]}, {0: 2, 1: 1})
    assert truth.lost == 0 and truth.backlog == 0 and truth.finished == 3 and truth.log == 3
    assert truth.lost_cases() == []


def test_records_finished_twice_are_counted_not_lost():
    truth = judge(done((0, 0), (0, 1), (0, 1), (0, 1)), {0: [0, 1]}, {0: 2})
    (p,) = truth.partitions
    assert p.finished_twice == (1,) and truth.finished_twice == 1
    assert truth.lost == 0 and p.finished == 2


def test_unfinished_records_of_a_partition_without_a_commit_are_backlog():
    truth = judge(done((1, 0)), {0: [0, 1], 1: [0]}, {1: 1})
    p0, p1 = truth.partitions
    assert (p0.partition, p0.committed, p0.lost, p0.backlog) == (0, None, (), 2)
    assert (p1.partition, p1.lost, p1.backlog) == (1, (), 0)


def test_offsets_missing_from_the_log_are_neither_lost_nor_backlog():
    # Kafka offsets need not be contiguous (transaction markers, compaction).
    truth = judge(done((0, 0), (0, 3)), {0: [0, 3, 4]}, {0: 5})
    (p,) = truth.partitions
    assert p.lost == (4,) and p.log == 3 and p.backlog == 0


def test_finished_records_the_log_does_not_hold_are_reported_as_unknown():
    truth = judge(done((0, 0), (0, 7), (2, 0)), {0: [0]}, {0: 1})
    assert truth.unknown == ((0, 7), (2, 0))
    assert "finished but not in the log" in truth.describe()


def test_the_description_names_the_lost_offsets_and_caps_the_examples():
    truth = judge([], {0: list(range(30))}, {0: 30})
    text = truth.describe()
    assert "30 lost" in text and "[0, 1, 2" in text and "(20 more)" in text
    assert truth.to_dict()["partitions"][0]["lost"] == list(range(30))


def summary(verdict: str, never: str = "pass", **others: str) -> dict:
    checks = {"never-processed": {"status": never, "explanation": f"never-processed {never}"}}
    checks |= {
        name.replace("_", "-"): {"status": s, "explanation": "x"} for name, s in others.items()
    }
    return {"verdict": verdict, "checks": checks, "reasons": ["drain did not finish"]}


LOSS = judge(done((0, 0)), {0: [0, 1]}, {0: 2})
NO_LOSS = judge(done((0, 0), (0, 1)), {0: [0, 1]}, {0: 2})


@pytest.mark.parametrize(
    ("truth", "report", "expected"),
    [
        (LOSS, summary("fail", "fail"), TRUE_FAIL),
        (LOSS, summary("pass"), FALSE_PASS),
        # Failing for something else while passing never-processed still misses the loss.
        (LOSS, summary("fail", "pass", key_order="fail"), FALSE_PASS),
        (LOSS, summary("inconclusive", "inconclusive"), INCONCLUSIVE),
        (LOSS, {}, INCONCLUSIVE),
        (NO_LOSS, summary("pass"), TRUE_PASS),
        (NO_LOSS, summary("fail", "fail"), FALSE_ALARM),
        (NO_LOSS, summary("fail", "pass", redelivered="fail"), FALSE_ALARM),
        # Incomplete evidence is no alarm.
        (NO_LOSS, summary("inconclusive", "inconclusive"), INCONCLUSIVE),
        (NO_LOSS, {}, INCONCLUSIVE),
    ],
)
def test_the_outcome_compares_the_verdict_with_the_truth(truth, report, expected):
    result = outcome(truth, report)
    assert result.name == expected, result.describe()
    assert result.false == (expected in (FALSE_PASS, FALSE_ALARM))


def test_a_false_alarm_names_the_failed_checks_and_carries_the_explanations():
    result = outcome(NO_LOSS, summary("fail", "fail", redelivered="fail"))
    assert "['never-processed', 'redelivered']" in result.reason
    assert result.explanations["never-processed"] == "fail: never-processed fail"
    assert "never-processed: fail: never-processed fail" in result.describe()


def test_a_truth_that_does_not_describe_the_run_decides_nothing():
    stray = judge(done((0, 0), (0, 1), (0, 9)), {0: [0, 1]}, {0: 2})
    assert outcome(stray, summary("pass")).name == INCONCLUSIVE


def test_truth_lines_of_every_process_are_read_and_a_torn_line_is_counted(tmp_path):
    (tmp_path / "100.jsonl").write_text(
        json.dumps({"partition": 0, "offset": 5, "t": 1.5}) + "\n" + '{"partition": 0, "off'
    )
    (tmp_path / "200.jsonl").write_text(json.dumps({"partition": 1, "offset": 0, "t": 2}) + "\n")
    (tmp_path / "notes.txt").write_text("not a truth file")
    finishes, bad = read_finishes(tmp_path)
    assert finishes == [Finish(0, 5, 1.5, "100.jsonl"), Finish(1, 0, 2.0, "200.jsonl")]
    assert bad == 1
    assert judge(finishes, {0: [5]}, {0: 6}, truncated=bad).truncated == 1


def test_no_truth_lines_at_all_is_an_empty_truth(tmp_path):
    assert read_finishes(tmp_path / "never-created") == ([], 0)


def test_only_the_topic_and_group_are_read_from_the_spec(tmp_path):
    (tmp_path / "spec.json").write_text(json.dumps({"topic": "t1", "group": "g1", "x": 1}))
    assert topic_and_group(tmp_path) == ("t1", "g1")
    with pytest.raises(TruthUnavailable, match="spec.json"):
        topic_and_group(tmp_path / "missing")
