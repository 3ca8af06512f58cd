"""Each check on literal tiny evidence: it flags exactly its anomaly; a clean run passes."""

from __future__ import annotations

import pytest

from tests.reports.builder import P0, P1, P, baseline
from tests.reports.conftest import not_passing


def test_clean_run_passes(check_run):
    s = check_run(baseline())
    assert s.verdict == "pass", not_passing(s)
    assert s.exit_code == 0
    assert s.counts["acknowledged"] == 12
    assert s.counts["processed"] == 12
    # m1 was killed after processing 3..4 without committing: both legally redelivered.
    red = s.check("redelivered")
    assert red.counts["redelivered"] == 2 and red.counts["legal"] == 2
    assert {e["offset"] for e in red.examples} == {3, 4}
    assert all(e["previous_member"] == "consumer-1-aaa" for e in red.examples)
    (row,) = s.rebalances
    assert row["time_to_full_ownership_s"] == pytest.approx(3.6)
    assert row["time_to_stable_s"] == pytest.approx(4.0)
    assert row["max_processing_gap_s"] == pytest.approx(5.0)
    assert row["orphaned_partitions"] == [0, 1]


def test_acknowledged_message_missing_from_log(check_run):
    run = baseline()
    run.log = [r for r in run.log if not (r["partition"] == 0 and r["offset"] == 5)]
    s = check_run(run)
    assert not_passing(s) == {"lost-from-log": "fail"}
    lost = s.check("lost-from-log")
    assert lost.count == 1
    assert (lost.examples[0]["partition"], lost.examples[0]["offset"]) == (0, 5)
    assert lost.examples[0]["key"] == "a" and lost.examples[0]["seq"] == 5
    assert s.exit_code == 1


def test_offset_holding_another_message_is_lost_and_seen_by_the_consumer(check_run):
    # The broker lost b#1 at (1, 2) and wrote another message there (unclean election):
    # the ack points at a different message, and the consumer had processed b#1.
    run = baseline()
    for r in run.log:
        if r["partition"] == 1 and r["offset"] == 2:
            r["key"], r["seq"] = "z", 0
    s = check_run(run)
    assert not_passing(s) == {"lost-from-log": "fail", "corruption": "fail"}
    assert s.check("lost-from-log").counts["overwritten"] == 1
    assert s.check("corruption").counts["content-mismatch"] == 1


def test_commit_before_processing_then_kill_is_never_processed(check_run):
    # before-process: m1 commits 5 for the batch 3..4, processes 3, is killed.
    run = baseline()
    m1 = run.members["consumer-1-aaa"]
    m1.lines = [ln for ln in m1.lines if not (ln["type"] == "processed" and ln["t"] == 4.0)]
    m1.committed(3.9, {0: 5}).processed(4.0, 0, P0[3:4])
    m2 = run.members["consumer-2-bbb"]
    for ln in m2.lines:
        if ln["type"] == "processed" and ln["t"] == 9.0:
            ln["records"] = [list(P0[5])]
    s = check_run(run)
    assert not_passing(s) == {"never-processed": "fail"}
    never = s.check("never-processed")
    assert never.count == 1
    assert (never.examples[0]["partition"], never.examples[0]["offset"]) == (0, 4)
    assert never.examples[0]["committed"] == 6


def test_message_twice_in_log(check_run):
    run = baseline()
    run.record(1, 6, "c", 2)  # a producer retry without idempotence
    run.send("c", 2, 1, 6, file="http")
    run.members["consumer-1-ccc"].lines.insert(
        -2,
        {
            "v": 1,
            "type": "processed",
            "member": "consumer-1-ccc",
            "partition": 1,
            "records": [[6, P, "c", 2]],
            "t": 9.0,
        },
    )
    run.members["consumer-1-ccc"].lines.insert(
        -2,
        {
            "v": 1,
            "type": "committed",
            "member": "consumer-1-ccc",
            "offsets": {"1": 7},
            "ok": True,
            "t": 9.1,
        },
    )
    s = check_run(run)
    assert not_passing(s) == {"duplicate-in-log": "fail"}
    ex = s.check("duplicate-in-log").examples[0]
    assert (ex["key"], ex["seq"], ex["offsets"]) == ("c", 2, [5, 6])
    # One message acknowledged at two offsets is still one acknowledged message.
    assert s.counts["acknowledged"] == 12


def test_redelivery_after_graceful_revoke_fails_under_strict_delivery(check_run):
    # m2 commits only up to 5 although it processed 5, revokes gracefully; m3 redelivers 5.
    # At-least-once (the default) allows it (tests/reports/test_allowances.py); strict not.
    run = baseline()
    run.spec["delivery"] = "strict"
    m2 = run.members["consumer-2-bbb"]
    for ln in m2.lines:
        if ln["type"] == "committed" and ln["t"] == 4.1:
            ln["offsets"] = {"1": 5}
    m3 = run.members["consumer-1-ccc"]
    m3.lines.insert(
        -2,
        {
            "v": 1,
            "type": "processed",
            "member": "consumer-1-ccc",
            "partition": 1,
            "records": [list(P1[5])],
            "t": 9.0,
        },
    )
    m3.lines.insert(
        -2,
        {
            "v": 1,
            "type": "committed",
            "member": "consumer-1-ccc",
            "offsets": {"1": 6},
            "ok": True,
            "t": 9.1,
        },
    )
    for g in run.group:
        if g["committed"].get("1") == 6 and g["t"] < 9:
            g["committed"]["1"] = 5
    s = check_run(run)
    assert not_passing(s) == {"redelivered": "fail"}
    red = s.check("redelivered")
    assert red.counts == {**red.counts, "redelivered": 3, "legal": 2, "illegal": 1}
    bad = red.examples[0]
    assert (bad["partition"], bad["offset"], bad["member"]) == (1, 5, "consumer-1-ccc")
    assert "graceful revoked" in bad["detail"]


def test_redelivery_after_a_failed_final_commit_is_allowed(check_run):
    run = baseline()
    m2 = run.members["consumer-2-bbb"]
    for ln in m2.lines:
        if ln["type"] == "committed" and ln["t"] == 4.1:
            ln["offsets"], ln["ok"] = {"1": 6}, False  # the broker refused it
    m3 = run.members["consumer-1-ccc"]
    m3.lines.insert(
        -2,
        {
            "v": 1,
            "type": "processed",
            "member": "consumer-1-ccc",
            "partition": 1,
            "records": [list(r) for r in P1[3:6]],
            "t": 9.0,
        },
    )
    m3.lines.insert(
        -2,
        {
            "v": 1,
            "type": "committed",
            "member": "consumer-1-ccc",
            "offsets": {"1": 6},
            "ok": True,
            "t": 9.1,
        },
    )
    for g in run.group:
        if g["t"] < 9:
            g["committed"]["1"] = min(g["committed"].get("1", 3), 3)
    s = check_run(run)
    assert s.check("redelivered").status == "pass", s.check("redelivered").examples
    assert s.check("redelivered").counts["legal"] == 5


def test_out_of_order_within_an_ownership_period(check_run):
    run = baseline()
    m2 = run.members["consumer-2-bbb"]
    for ln in m2.lines:
        if ln["type"] == "processed" and ln["t"] == 4.0:
            # c#1, c#2, b#2: offsets out of order, each key still in seq order.
            ln["records"] = [list(P1[3]), list(P1[5]), list(P1[4])]
    s = check_run(run)
    assert not_passing(s) == {"partition-order": "fail"}
    po = s.check("partition-order")
    assert po.counts["went back"] == 1
    assert any(e["offset"] == 4 and e["previous_offset"] == 5 for e in po.examples)


def test_new_owner_starting_past_the_committed_offset(check_run):
    # m3 takes partition 1 at committed 3 (graceful handover) but starts at 5.
    run = baseline()
    m2 = run.members["consumer-2-bbb"]
    m2.lines = [ln for ln in m2.lines if ln["t"] not in (4.0, 4.1)]
    m3 = run.members["consumer-1-ccc"]
    m3.lines.insert(
        -2,
        {
            "v": 1,
            "type": "processed",
            "member": "consumer-1-ccc",
            "partition": 1,
            "records": [list(P1[5])],
            "t": 9.0,
        },
    )
    m3.lines.insert(
        -2,
        {
            "v": 1,
            "type": "committed",
            "member": "consumer-1-ccc",
            "offsets": {"1": 6},
            "ok": True,
            "t": 9.1,
        },
    )
    for g in run.group:
        if g["t"] < 9:
            g["committed"]["1"] = 3 if g["committed"] else None
            g["committed"] = {k: v for k, v in g["committed"].items() if v is not None}
    s = check_run(run)
    # Skipping 3..4 is a partition-order violation and, committed past, never-processed.
    assert not_passing(s) == {"partition-order": "fail", "never-processed": "fail"}
    (start,) = [e for e in s.check("partition-order").examples if e["kind"] == "after-commit"]
    assert (start["partition"], start["offset"], start["committed"]) == (1, 5, 3)


def test_key_reordered_by_the_producer(check_run):
    # seq 2 of key a landed before seq 1 (same partition): a real violation.
    run = baseline()
    swap = {1: 2, 2: 1}

    def fix(key: str, off: int, seq: int) -> int:
        return swap[seq] if key == "a" and off in (1, 2) else seq

    for r in run.log:
        if r["partition"] == 0:
            r["seq"] = fix(r["key"], r["offset"], r["seq"])
    for snd in run.sends:
        if snd["partition"] == 0:
            snd["seq"] = fix(snd["key"], snd["offset"], snd["seq"])
    for m in run.members.values():
        for ln in m.lines:
            if ln["type"] == "processed" and ln["partition"] == 0:
                ln["records"] = [[o, p, k, fix(k, o, s)] for o, p, k, s in ln["records"]]
    s = check_run(run)
    assert not_passing(s) == {"key-order": "fail"}
    ko = s.check("key-order")
    assert ko.count == 1
    ex = ko.examples[0]
    assert (ex["key"], ex["seq"], ex["after_seq"], ex["offset"]) == ("a", 1, 2, 2)


def test_key_moved_by_partition_change_is_a_hazard_not_a_failure(check_run):
    # Partitions 2 -> 3: key a moves to partition 2; its seq 6 there is processed
    # before seq 5 on partition 0 (still in m2's backlog).
    run = baseline()
    run.spec["log_drain"]["end_offsets"] = {"0": 6, "1": 6, "2": 1}
    run.send("a", 6, 2, 0)
    run.record(2, 0, "a", 6)
    m3 = run.members["consumer-1-ccc"]
    start, assigned, revoked, stop = m3.lines
    assigned["partitions"] = revoked["partitions"] = [1, 2]
    m3.lines = [
        start,
        assigned,
        {
            "v": 1,
            "type": "processed",
            "member": "consumer-1-ccc",
            "partition": 2,
            "records": [[0, P, "a", 6]],
            "t": 8.5,
        },
        {
            "v": 1,
            "type": "committed",
            "member": "consumer-1-ccc",
            "offsets": {"2": 1},
            "ok": True,
            "t": 8.6,
        },
        revoked,
        stop,
    ]
    for g in run.group:
        g["partitions"] = 3
        g["end_offsets"]["2"] = 1
        if g["t"] >= 8.5:
            g["committed"]["2"] = 1
            g["members"] = {"consumer-2-bbb": [0], "consumer-1-ccc": [1, 2]}
    s = check_run(run)
    ko = s.check("key-order")
    assert ko.status == "pass", ko.explanation
    # seq 3 and 4 were first processed by m1 before the change; seq 5 came after seq 6.
    assert ko.counts["partition-change-hazard"] == 1
    assert ko.counts["violations"] == 0
    ex = ko.examples[0]
    assert (ex["seq"], ex["partition"], ex["after_seq"], ex["after_partition"]) == (5, 0, 6, 2)
    assert "partition-count change" in ko.explanation


def test_acknowledged_record_corrupt_in_log_and_processed_as_valid(check_run):
    run = baseline()
    run.log[0]["sha_ok"] = False
    s = check_run(run)
    assert not_passing(s) == {"corruption": "fail"}
    c = s.check("corruption")
    assert c.counts["corrupt-acknowledged"] == 1 and c.counts["corrupt-processed"] == 1


def _poison(run, report: bool, commit_past: bool = True) -> None:
    run.record(1, 6, None, None, sha_ok=False)
    run.spec["log_drain"]["end_offsets"]["1"] = 7
    m3 = run.members["consumer-1-ccc"]
    if report:
        m3.lines.insert(
            -2,
            {
                "v": 1,
                "type": "invalid",
                "member": "consumer-1-ccc",
                "partition": 1,
                "offset": 6,
                "reason": "undecodable",
                "t": 9.0,
            },
        )
    if commit_past:
        m3.lines.insert(
            -2,
            {
                "v": 1,
                "type": "committed",
                "member": "consumer-1-ccc",
                "offsets": {"1": 7},
                "ok": True,
                "t": 9.1,
            },
        )
    for g in run.group:
        g["end_offsets"]["1"] = 7


def test_refused_record_reported_and_passed(check_run):
    run = baseline()
    _poison(run, report=True)
    s = check_run(run)
    assert s.verdict == "pass", not_passing(s)
    ih = s.check("invalid-handling")
    assert ih.counts["invalid"] == 1 and ih.counts["by-reason"] == {"undecodable": 1}
    assert s.check("corruption").counts["invalid-in-log"] == 1


def test_invalid_record_skipped_without_report(check_run):
    run = baseline()
    _poison(run, report=False)
    s = check_run(run)
    assert not_passing(s) == {"invalid-handling": "fail"}
    assert s.check("invalid-handling").counts["unreported"] == 1


def test_refusal_that_stalls_its_partition(check_run):
    run = baseline()
    _poison(run, report=True, commit_past=False)
    s = check_run(run)
    assert s.check("invalid-handling").status == "fail"
    assert s.check("invalid-handling").counts["stalled"] == 1
    # The record stays at the committed offset: backlog, so never-processed cannot pass.
    assert s.check("never-processed").status == "inconclusive"
    assert s.verdict == "fail"


def test_valid_record_refused(check_run):
    run = baseline()
    m2 = run.members["consumer-2-bbb"]
    for ln in m2.lines:
        if ln["type"] == "processed" and ln["t"] == 4.0:
            ln["records"] = [list(P1[3]), list(P1[5])]
    m2.lines.insert(
        6,
        {
            "v": 1,
            "type": "invalid",
            "member": "consumer-2-bbb",
            "partition": 1,
            "offset": 4,
            "reason": "schema",
            "t": 4.0,
        },
    )
    s = check_run(run)
    assert not_passing(s) == {"invalid-handling": "fail"}
    assert s.check("invalid-handling").counts["refused-valid"] == 1


def test_two_owners_at_once_fail_rebalance(check_run):
    # m2 says it revoked partition 1 only at 9.5, but m3 was assigned it at 8.1.
    run = baseline()
    m2 = run.members["consumer-2-bbb"]
    for ln in m2.lines:
        if ln["type"] == "revoked" and ln["t"] == 8.0:
            ln["partitions"] = []
    m2.lines.insert(
        -2,
        {
            "v": 1,
            "type": "revoked",
            "member": "consumer-2-bbb",
            "generation": 1,
            "partitions": [1],
            "t": 9.5,
        },
    )
    s = check_run(run)
    assert not_passing(s) == {"rebalance": "fail"}
    rb = s.check("rebalance")
    assert rb.counts["split_overlaps"] == 1
    ex = rb.examples[0]
    assert (ex["partition"], ex["member"], ex["other_member"]) == (
        1,
        "consumer-2-bbb",
        "consumer-1-ccc",
    )


def test_zombie_after_lost_partitions_is_counted_not_failed(check_run):
    run = baseline()
    m2 = run.members["consumer-2-bbb"]
    for ln in m2.lines:
        if ln["type"] == "revoked" and ln["t"] == 8.0:
            ln["partitions"] = []
    m2.lines.insert(
        -2,
        {
            "v": 1,
            "type": "lost",
            "member": "consumer-2-bbb",
            "generation": 1,
            "partitions": [1],
            "t": 9.5,
        },
    )
    s = check_run(run)
    assert s.check("rebalance").status == "pass"
    assert s.check("rebalance").counts["zombie_overlaps"] == 1


def test_rebalance_limits_from_the_spec(check_run):
    run = baseline()
    run.spec["limits"] = {"time_to_full_ownership_s": 1.0}
    s = check_run(run)
    assert not_passing(s) == {"rebalance": "fail"}
    assert (
        "time_to_full_ownership_s 3.6 s exceeds the budget 1 s" in s.check("rebalance").explanation
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r.faults.clear(), "no fault landed"),
        (lambda r: r.faults.__setitem__(0, {**r.faults[0], "landed": False}), "no fault landed"),
        (
            lambda r: r.spec.__setitem__("drain", {"finished": False, "detail": "lag 40"}),
            "did not finish",
        ),
        (lambda r: r.spec.pop("log_drain"), "log drain"),
        (lambda r: r.sends.clear(), "no send outcomes"),
        (
            lambda r: r.spec.__setitem__(
                "chaos",
                [
                    {"name": "kill-consumer", "inconclusive_reasons": []},
                    {
                        "name": "kill-broker",
                        "inconclusive_reasons": [
                            "the steady state was not met before the method "
                            "(probe 'consumer-group-stable'), so no fault was injected"
                        ],
                    },
                ],
            ),
            "experiment kill-broker: the steady state was not met before the method",
        ),
    ],
)
def test_a_run_that_proves_nothing_is_inconclusive(check_run, change, reason):
    run = baseline()
    change(run)
    s = check_run(run)
    assert s.verdict == "inconclusive", not_passing(s)
    assert s.exit_code == 2
    v = s.check("vacuity")
    assert v.status == "inconclusive" and reason in v.explanation
    assert "fail" not in not_passing(s).values()


def test_unknown_sends_recovered_or_indeterminate_never_fail(check_run):
    run = baseline()
    run.send("a", 6, None, None, status="unknown")  # not in the log: indeterminate
    run.send("b", 9, None, None, status="unknown")
    run.record(1, 6, "b", 9)  # written after all: recovered
    run.spec["log_drain"]["end_offsets"]["1"] = 7
    m3 = run.members["consumer-1-ccc"]
    m3.lines.insert(
        -2,
        {
            "v": 1,
            "type": "processed",
            "member": "consumer-1-ccc",
            "partition": 1,
            "records": [[6, P, "b", 9]],
            "t": 9.0,
        },
    )
    m3.lines.insert(
        -2,
        {
            "v": 1,
            "type": "committed",
            "member": "consumer-1-ccc",
            "offsets": {"1": 7},
            "ok": True,
            "t": 9.1,
        },
    )
    s = check_run(run)
    assert s.verdict == "pass", not_passing(s)
    ind = s.check("indeterminate")
    assert ind.counts["unknown"] == 2
    assert ind.counts["recovered"] == 1 and ind.counts["indeterminate"] == 1
    assert s.counts["recovered"] == 1


def test_acks_merge_by_identity_ok_wins(check_run):
    run = baseline()
    # The HTTP client saw a timeout, the service recorded the ack: one acknowledged message.
    run.send("a", 0, None, None, status="unknown", file="http-client")
    run.send("a", 1, 0, 1, file="http-service")  # the same outcome recorded twice
    s = check_run(run)
    assert s.verdict == "pass", not_passing(s)
    assert s.counts["acknowledged"] == 12
    assert s.check("indeterminate").counts["unknown"] == 0


def test_poison_record_skipped_with_its_neighbours_is_never_processed(check_run):
    # before-process: m1 commits 5 for the batch 3..4 (3 is a poison record) and is
    # killed before processing any of it: the group skipped both, not just the poison.
    run = baseline()
    run.log[3] = {**run.log[3], "producer": None, "key": None, "seq": None, "sha_ok": False}
    run.sends = [x for x in run.sends if not (x["partition"] == 0 and x["offset"] == 3)]
    m1 = run.members["consumer-1-aaa"]
    m1.lines = [ln for ln in m1.lines if not (ln["type"] == "processed" and ln["t"] == 4.0)]
    m1.committed(3.9, {0: 5})
    m2 = run.members["consumer-2-bbb"]
    for ln in m2.lines:
        if ln["type"] == "processed" and ln["t"] == 9.0:
            ln["records"] = [list(P0[5])]
    s = check_run(run)
    assert not_passing(s) == {"never-processed": "fail"}
    never = s.check("never-processed")
    assert [e["offset"] for e in never.examples] == [3, 4]
    assert s.check("invalid-handling").counts["unreported"] == 0


def test_unrecorded_commit_on_revoke_is_not_a_skip(check_run):
    # auto mode: kafka-python commits on revoke without the callback that records
    # commits. m3 starts right after what m2 processed: nothing was skipped.
    run = baseline()
    run.spec["commit_mode"] = "auto"
    m2 = run.members["consumer-2-bbb"]
    m2.lines = [ln for ln in m2.lines if not (ln["type"] == "committed" and ln["t"] == 4.1)]
    for g in run.group:
        if g["t"] < 9 and g["committed"]:
            g["committed"]["1"] = 3
    run.send("b", 3, 1, 6)
    run.record(1, 6, "b", 3)
    run.spec["log_drain"]["end_offsets"]["1"] = 7
    m3 = run.members["consumer-1-ccc"]
    m3.lines.insert(
        -2,
        {
            "v": 1,
            "type": "processed",
            "member": "consumer-1-ccc",
            "partition": 1,
            "records": [[6, P, "b", 3]],
            "t": 9.0,
        },
    )
    m3.lines.insert(
        -2,
        {
            "v": 1,
            "type": "committed",
            "member": "consumer-1-ccc",
            "offsets": {"1": 7},
            "ok": True,
            "t": 9.1,
        },
    )
    s = check_run(run)
    assert s.verdict == "pass", not_passing(s)
    # Starting two past the recorded commit would have been a skip.
    m3.lines[-4]["records"] = [[6, P, "b", 3]]
    run.members["consumer-2-bbb"].lines = [
        ln
        if not (ln["type"] == "processed" and ln["t"] == 4.0)
        else {**ln, "records": ln["records"][:1]}
        for ln in m2.lines
    ]
    s = check_run(run)
    assert s.check("partition-order").status == "fail"


def _resize_to_three(run, consumed: bool) -> None:
    """Partitions 2 -> 3 at 6.5 by riverbed's add_partitions; a second fault lands at 8.6.

    The monitor first reports three partitions at 9.5, after the second fault:
    only the resize's own output ties partition 2 to it.
    """
    run.faults.append(
        {
            "v": 1,
            "type": "fault",
            "experiment": "resize-partitions",
            "activity": "add-partitions",
            "kind": "action",
            "t_start": 6.5,
            "t_end": 6.6,
            "status": "succeeded",
            "output": {"topic": "riverbed-events", "before": 2, "after": 3, "added": 1},
            "landed": True,
        }
    )
    run.fault(8.6, activity="kill-consumer-again")
    run.spec["log_drain"]["end_offsets"] = {"0": 6, "1": 6, "2": 1}
    run.send("d", 0, 2, 0)
    run.record(2, 0, "d", 0)
    m3 = run.members["consumer-1-ccc"]
    start, assigned, revoked, stop = m3.lines
    assigned["partitions"] = revoked["partitions"] = [1, 2]
    handled = [
        {
            "v": 1,
            "type": "processed",
            "member": "consumer-1-ccc",
            "partition": 2,
            "records": [[0, P, "d", 0]],
            "t": 8.5,
        },
        {
            "v": 1,
            "type": "committed",
            "member": "consumer-1-ccc",
            "offsets": {"2": 1},
            "ok": True,
            "t": 8.55,
        },
    ]
    m3.lines = [start, assigned, *(handled if consumed else []), revoked, stop]
    for g in run.group:
        g["end_offsets"]["2"] = 1
        if g["t"] >= 9.5:
            g["partitions"] = 3
            g["committed"]["2"] = 1 if consumed else 0
            g["members"] = {"consumer-2-bbb": [0], "consumer-1-ccc": [1, 2]}


def test_added_partition_belongs_to_the_fault_that_reported_it(check_run):
    run = baseline()
    _resize_to_three(run, consumed=True)
    s = check_run(run)
    assert s.verdict == "pass", not_passing(s)
    rows = {r["fault"]: r for r in s.rebalances}
    resize = rows["resize-partitions/add-partitions"]
    assert resize["new_partitions"] == [2]
    assert resize["first_consumption_s"] == {"2": 2.0}
    assert rows["kill-consumer-hard/kill-consumer-again"]["new_partitions"] == []


def test_added_partition_never_consumed_fails_rebalance(check_run):
    run = baseline()
    _resize_to_three(run, consumed=False)
    s = check_run(run)
    assert not_passing(s)["rebalance"] == "fail"
    (ex,) = [e for e in s.check("rebalance").examples if e.get("partition") == 2]
    assert ex["fault"] == "resize-partitions/add-partitions"
    assert "never consumed" in ex["detail"]


def test_new_owner_starting_past_only_poison_records_is_not_an_ordering_violation(check_run):
    # Partition 1's offsets 3 and 4 are poison; m2 is revoked before reaching them
    # and m3 starts at 5 without reporting them. Skipping them silently is an
    # invalid-handling failure; no valid record was skipped, so the order holds.
    run = baseline()
    for o in (3, 4):
        i = next(i for i, r in enumerate(run.log) if r["partition"] == 1 and r["offset"] == o)
        run.log[i] = {**run.log[i], "producer": None, "key": None, "seq": None, "sha_ok": False}
    run.sends = [x for x in run.sends if not (x["partition"] == 1 and x["offset"] in (3, 4))]
    m2 = run.members["consumer-2-bbb"]
    m2.lines = [ln for ln in m2.lines if ln["t"] not in (4.0, 4.1)]
    m3 = run.members["consumer-1-ccc"]
    m3.lines[-2:-2] = [
        {"v": 1, "type": "processed", "member": m3.name, "partition": 1,
         "records": [list(P1[5])], "t": 9.0},
        {"v": 1, "type": "committed", "member": m3.name, "offsets": {"1": 6}, "ok": True,
         "t": 9.1},
    ]  # fmt: skip
    for g in run.group:
        if g["t"] < 9 and g["committed"]:
            g["committed"]["1"] = 3
    s = check_run(run)
    assert not_passing(s) == {"invalid-handling": "fail"}
    assert s.check("invalid-handling").counts["unreported"] == 2
    # The same start past two *valid* records is a skip.
    for o in (3, 4):
        i = next(i for i, r in enumerate(run.log) if r["partition"] == 1 and r["offset"] == o)
        run.log[i] = {**run.log[i], "sha_ok": True, "producer": P, "key": "bc"[o % 2],
                      "seq": o // 2}  # fmt: skip
    s = check_run(run)
    assert not_passing(s)["partition-order"] == "fail"
