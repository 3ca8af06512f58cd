"""Each allowance lets pass exactly what its condition covers: inject the anomaly just inside
the condition (allowed, counted, listed) and just outside it (the check fails)."""

from __future__ import annotations

import json
from pathlib import Path

from reports import Summary, build
from reports.allowances import ALLOWANCES, BY_NAME, markdown_table, render_docs
from reports.registry import BY_NAME as CHECKS
from tests.reports.builder import P0, P, Run, baseline
from tests.reports.conftest import not_passing
from tests.reports.test_strengths import output_run
from tests.reports.test_zombies import M1 as ZOMBIE
from tests.reports.test_zombies import M2 as NEW_OWNER
from tests.reports.test_zombies import zombie_run

ROOT = Path(__file__).resolve().parents[2]


def allowed(s: Summary, name: str) -> int:
    """How many anomalies the allowance ``name`` let pass, by its check's verdict."""
    check = s.check(BY_NAME[name].check)
    (a,) = [a for a in check.allowed if a.allowance == name]
    assert (name in s.allowances) == (a.count > 0)
    if a.count:
        listed = s.allowances[name]
        assert (listed["count"], listed["check"]) == (a.count, check.name)
        assert listed["reason"].startswith("allowed because")
        assert len(listed["examples"]) == min(a.count, 20)
    return a.count


# ---- uncommitted-window (redelivered, consumer events) --------------------------------------------
def _line(member: str, kind: str, t: float, **fields) -> dict:
    return {"v": 1, "type": kind, "member": member, **fields, "t": t}


def test_redelivery_from_the_last_landed_commit_after_a_hard_end_is_allowed(check_run):
    # The baseline: consumer-1-aaa committed 3 and was killed after processing 3..4;
    # consumer-2-bbb processes 3..5: offsets 3 and 4 again, at the window's first offset.
    s = check_run(baseline())
    assert s.verdict == "pass"
    assert allowed(s, "uncommitted-window") == 2
    ex = s.allowances["uncommitted-window"]["examples"][0]
    assert (ex["partition"], ex["offset"], ex["member"]) == (0, 3, "consumer-2-bbb")
    assert "uncommitted window after the previous owner was killed" in ex["detail"]


def test_redelivery_one_below_the_last_landed_commit_fails(check_run):
    # The new owner starts at offset 2: one below the killed owner's last commit (3).
    run = baseline()
    m2 = run.members["consumer-2-bbb"]
    for ln in m2.lines:
        if ln["type"] == "processed" and ln["t"] == 9.0:
            ln["records"] = [list(r) for r in P0[2:6]]
    s = check_run(run)
    red = s.check("redelivered")
    assert red.status == "fail" and red.counts["illegal"] == 1
    assert allowed(s, "uncommitted-window") == 2  # 3 and 4 stay inside the window
    bad = red.examples[0]
    assert bad["offset"] == 2 and "below the last commit (3)" in bad["detail"]


def test_the_same_redelivery_after_a_graceful_stop_is_at_least_once(check_run):
    # consumer-1-aaa stops gracefully (a stop line) instead of being killed, without
    # committing 3 and 4: at-least-once delivery (the default) lets them be processed again.
    run = baseline()
    m1 = run.members["consumer-1-aaa"]
    m1.lines.append(_line(m1.name, "revoked", 4.4, generation=1, partitions=[0]))
    m1.stop(4.5, "sigterm")
    s = check_run(run)
    red = s.check("redelivered")
    assert red.status == "pass" and red.counts["illegal"] == 0
    assert allowed(s, "at-least-once") == 2 and allowed(s, "uncommitted-window") == 0
    ex = s.allowances["at-least-once"]["examples"][0]
    assert ex["offset"] == 3 and "revoked" in ex["detail"]


def test_the_same_redelivery_after_a_graceful_stop_fails_under_strict_delivery(check_run):
    # --delivery strict: what it processed it had to commit before giving the partition up.
    run = baseline()
    run.spec["delivery"] = "strict"
    m1 = run.members["consumer-1-aaa"]
    m1.lines.append(_line(m1.name, "revoked", 4.4, generation=1, partitions=[0]))
    m1.stop(4.5, "sigterm")
    s = check_run(run)
    red = s.check("redelivered")
    assert red.status == "fail" and red.counts["illegal"] == 2
    assert allowed(s, "uncommitted-window") == 0 and allowed(s, "at-least-once") == 0
    assert "graceful" in red.examples[0]["detail"] and "strict" in red.examples[0]["detail"]


def test_below_the_last_commit_a_graceful_redelivery_fails_even_at_least_once(check_run):
    # consumer-1-aaa committed 4 before its graceful stop: 3 processed again lies below it.
    run = baseline()
    m1 = run.members["consumer-1-aaa"]
    m1.committed(4.3, {0: 5})
    m1.lines.append(_line(m1.name, "revoked", 4.4, generation=1, partitions=[0]))
    m1.stop(4.5, "sigterm")
    s = check_run(run)
    red = s.check("redelivered")
    assert red.status == "fail"
    assert allowed(s, "at-least-once") == 0


# ---- zombie-processing (redelivered, consumer events) ---------------------------------------------
def test_a_fenced_member_finishing_its_batch_after_the_move_is_allowed(check_run):
    # consumer-1 is paused holding 3..5, evicted, and finishes them after consumer-2
    # processed them: from its own last commit (3), inside the allowance.
    s = check_run(zombie_run())
    assert s.check("redelivered").status == "pass"
    assert allowed(s, "zombie-processing") == 3
    assert allowed(s, "uncommitted-window") == 0
    ex = s.allowances["zombie-processing"]["examples"][0]
    assert (ex["offset"], ex["member"], ex["previous_member"]) == (3, ZOMBIE, NEW_OWNER)
    assert "finishing what it held" in ex["detail"]


def test_a_fenced_member_going_below_its_own_last_commit_fails(check_run):
    # It processes 2..5 after the move: 2 is below its own last commit (3).
    run = zombie_run()
    for ln in run.members[ZOMBIE].lines:
        if ln["type"] == "processed" and ln["t"] == 10.2:
            ln["records"] = [list(r) for r in P0[2:6]]
    s = check_run(run)
    red = s.check("redelivered")
    assert red.status == "fail" and red.counts["illegal"] == 1
    assert allowed(s, "zombie-processing") == 3  # 3..5 stay inside
    # Offset 2: its own, already committed, processed again after the move.
    assert red.examples[0]["offset"] == 2
    assert "finishing what it held" not in red.examples[0]["detail"]


# ---- output-rebalance-window (redelivered, output-topic) ------------------------------------------
def _answer_again(run: Run, seq: int, t: float) -> None:
    """Input (0, seq) of key a answered once more, on an output partition of its own."""
    run.output(2, 0, "a", seq, t=t)


def test_an_input_answered_again_across_a_rebalance_before_its_commit_is_allowed(check_run):
    # The group was stable from 1.5 to 8.0 and rebalanced at 8.05; the first output of
    # input (0, 3) was at 4.0. Within the clock tolerance (1 s) of the rebalance: inside.
    run = output_run()
    _answer_again(run, 3, t=7.05)
    s = check_run(run)
    assert s.check("redelivered").status == "pass"
    assert allowed(s, "output-rebalance-window") == 3  # the output_run's 2, and this one


def test_an_input_answered_again_just_before_the_rebalance_window_fails(check_run):
    run = output_run()
    _answer_again(run, 3, t=6.95)
    s = check_run(run)
    red = s.check("redelivered")
    assert red.status == "fail" and red.counts["illegal"] == 1
    assert allowed(s, "output-rebalance-window") == 2
    assert "no rebalance" in red.examples[0]["detail"]


def test_an_input_committed_before_the_rebalance_answered_again_fails(check_run):
    # The group had committed 3 on partition 0 before the rebalance: input (0, 2) is one
    # below it (outside), input (0, 3) is at it (inside: the output_run's own duplicates).
    run = output_run()
    _answer_again(run, 2, t=9.1)
    s = check_run(run)
    red = s.check("redelivered")
    assert red.status == "fail" and red.counts["illegal"] == 1
    assert allowed(s, "output-rebalance-window") == 2
    assert "committed (offset 3)" in red.examples[0]["detail"]


# ---- partition-change-hazard (key-order) ----------------------------------------------------------
def _key_a_moves_to_partition_2(run: Run, partitions_changed: bool) -> Run:
    """Key a's seq 6 lands on partition 2 and is processed before seq 5 on partition 0."""
    run.spec["log_drain"]["end_offsets"] = {"0": 6, "1": 6, "2": 1}
    if not partitions_changed:
        run.spec["partitions"] = 3  # three partitions from the start
    run.send("a", 6, 2, 0)
    run.record(2, 0, "a", 6)
    m3 = run.members["consumer-1-ccc"]
    start, assigned, revoked, stop = m3.lines
    assigned["partitions"] = revoked["partitions"] = [1, 2]
    m3.lines = [
        start,
        assigned,
        _line(m3.name, "processed", 8.5, partition=2, records=[[0, P, "a", 6]]),
        _line(m3.name, "committed", 8.6, offsets={"2": 1}, ok=True),
        revoked,
        stop,
    ]
    for g in run.group:
        g["partitions"] = 3 if (g["t"] >= 8.5 or not partitions_changed) else 2
        g["end_offsets"]["2"] = 1
        if g["t"] >= 8.5:
            g["committed"]["2"] = 1
            g["members"] = {"consumer-2-bbb": [0], "consumer-1-ccc": [1, 2]}
    return run


def test_a_key_reordered_across_partitions_when_partitions_were_added_is_allowed(check_run):
    s = check_run(_key_a_moves_to_partition_2(baseline(), partitions_changed=True))
    assert s.check("key-order").status == "pass"
    assert allowed(s, "partition-change-hazard") == 1
    ex = s.allowances["partition-change-hazard"]["examples"][0]
    assert (ex["seq"], ex["after_seq"], ex["after_partition"]) == (5, 6, 2)


def test_the_same_reordering_without_a_partition_change_fails(check_run):
    s = check_run(_key_a_moves_to_partition_2(baseline(), partitions_changed=False))
    ko = s.check("key-order")
    assert ko.status == "fail" and ko.counts["violations"] == 1
    assert allowed(s, "partition-change-hazard") == 0


def test_outputs_of_a_key_moved_by_added_partitions_are_allowed_at_output_strength(check_run):
    # Output-topic: key a's seq 6 sits on a partition 2 added at 8.05 and is answered
    # (appended at 8.6, on output partition 3) more than the clock tolerance before the
    # answer of seq 5 on output partition 0 (at 9.7).
    run = output_run()
    assert run.outputs is not None
    for out in run.outputs:
        out["timestamp_type"] = "LogAppendTime"
        if (out["key"], out["seq"]) == ("a", 5):
            out["t"] = 9.7
    run.spec["log_drain"]["end_offsets"] = {"0": 6, "1": 6, "2": 1}
    run.send("a", 6, 2, 0)
    run.record(2, 0, "a", 6)
    run.output(3, 0, "a", 6, t=8.6, timestamp_type="LogAppendTime")
    for g in run.group:
        g["partitions"] = 3 if g["t"] >= 8.05 else 2
    s = check_run(run)
    assert s.check("key-order").status == "pass", s.check("key-order").explanation
    assert allowed(s, "partition-change-hazard") == 1
    run.spec["partitions"] = 3
    for g in run.group:
        g["partitions"] = 3
    s = check_run(run)
    assert s.check("key-order").status == "fail"
    assert allowed(s, "partition-change-hazard") == 0


# ---- zombie-window (rebalance) --------------------------------------------------------------------
def _partition_1_overlaps(run: Run, older_end: str) -> Run:
    """consumer-2-bbb gives partition 1 up only at 9.5 (``older_end``), while
    consumer-1-ccc was assigned it at 8.1."""
    m2 = run.members["consumer-2-bbb"]
    for ln in m2.lines:
        if ln["type"] == "revoked" and ln["t"] == 8.0:
            ln["partitions"] = []
    m2.lines.insert(-2, _line(m2.name, older_end, 9.5, generation=1, partitions=[1]))
    return run


def test_an_overlap_until_the_older_owner_learns_it_lost_the_partition_is_allowed(check_run):
    s = check_run(_partition_1_overlaps(baseline(), "lost"))
    assert s.check("rebalance").status == "pass"
    assert allowed(s, "zombie-window") == 1
    ex = s.allowances["zombie-window"]["examples"][0]
    assert (ex["partition"], ex["member"], ex["kind"]) == (1, "consumer-2-bbb", "zombie")


def test_the_same_overlap_ending_in_a_revocation_fails(check_run):
    s = check_run(_partition_1_overlaps(baseline(), "revoked"))
    assert not_passing(s) == {"rebalance": "fail"}
    assert allowed(s, "zombie-window") == 0


# ---- the table, the report and summary.json -------------------------------------------------------
def test_every_allowance_names_a_registered_check_and_says_why() -> None:
    assert len(BY_NAME) == len(ALLOWANCES)
    for a in ALLOWANCES:
        assert a.check in CHECKS
        assert a.anomaly and a.condition and a.reason.startswith("allowed because ")


def test_docs_list_the_allowances_as_declared() -> None:
    page = (ROOT / "docs" / "report.md").read_text()
    assert markdown_table() in page
    assert render_docs(page) == page


def test_the_report_and_summary_json_list_the_allowances_applied(tmp_path: Path) -> None:
    root = _partition_1_overlaps(baseline(), "lost").write(tmp_path / "run")
    summary = build(root)
    data = json.loads((root / "summary.json").read_text())
    assert list(data["allowances"]) == ["uncommitted-window", "zombie-window"]
    zombie = data["allowances"]["zombie-window"]
    assert zombie["check"] == "rebalance" and zombie["count"] == 1
    assert zombie["condition"] == BY_NAME["zombie-window"].condition
    html = summary.paths["report_html"].read_text()
    for name in ("uncommitted-window", "zombie-window"):
        assert f'data-allowance="{name}"' in html
    assert 'data-allowance="partition-change-hazard"' not in html  # not applied in this run
    assert BY_NAME["zombie-window"].reason in html
