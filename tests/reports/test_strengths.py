"""Evidence strength: what each strength's checks catch, pass and leave inconclusive.

Literal tiny runs of a service riverbed did not write, judged by its outputs
(output-topic) or by its committed offsets alone (offsets).
"""

from __future__ import annotations

import json
from pathlib import Path

from reports import analyse, build
from tests.reports.builder import P0, P1, Run, baseline, spec
from tests.reports.conftest import not_passing

END = {0: 6, 1: 6}
CLIENT = "svc"
INFO = {
    m: {"client_id": CLIENT, "host": "/10.1.0.9", "instance_id": None}
    for m in ("svc-aaaa", "svc-bbbb", "svc-cccc")
}


def _inputs(run: Run) -> None:
    for o, _, key, seq in P0:
        run.send(key, seq, 0, o)
        run.record(0, o, key, seq)
    for o, _, key, seq in P1:
        run.send(key, seq, 1, o)
        run.record(1, o, key, seq)


def _group(run: Run, final: dict[int, int] | None = None) -> None:
    """Snapshots every 0.5 s. svc-aaaa is killed at 4.5 with partition 0 committed up to 3;
    the group notices at 8.05 and svc-cccc replaces it."""
    before = {"svc-aaaa": [0], "svc-bbbb": [1]}
    after = {"svc-bbbb": [0], "svc-cccc": [1]}
    for i in range(14):
        t = 1.5 + 0.5 * i
        committed = {} if t < 3.5 else {0: 3, 1: 3} if t < 4.5 else {0: 3, 1: 6}
        run.snapshot(t, 1, before, committed, END, info=INFO)
    rebalancing = {**before, "svc-cccc": []}
    run.snapshot(8.05, 1, rebalancing, {0: 3, 1: 6}, END, "PreparingRebalance", info=INFO)
    run.snapshot(8.5, 1, after, {0: 3, 1: 6}, END, info=INFO)
    run.snapshot(9.0, 1, after, {0: 3, 1: 6}, END, info=INFO)
    run.snapshot(9.5, 1, after, final or {0: 6, 1: 6}, END, info=INFO)


def output_run() -> Run:
    """A clean output-topic run. Key a's outputs go to output partition 0, b and c's to 1.

    svc-aaaa answers inputs 0..4 of partition 0 and is killed before committing 3..4;
    svc-bbbb takes partition 0 over from 3 and answers 3..5 again (legal duplicates).
    """
    run = Run(spec(consumer_evidence="output-topic", output_topic="out",
                   output_drain={"finished": True, "t": 11.5, "end_offsets": {"0": 8, "1": 6}}))  # fmt: skip
    _inputs(run)
    run.fault(4.5, output=["svc-aaaa"])
    out0 = 0
    for o, _, key, seq in P0[:5]:
        run.output(0, out0, key, seq, t=3.0 if o < 3 else 4.0)
        out0 += 1
    for _o, _, key, seq in P0[3:]:
        run.output(0, out0, key, seq, t=9.0)
        out0 += 1
    for o, _, key, seq in P1:
        run.output(1, o, key, seq, t=3.0 if o < 3 else 4.0)
    _group(run)
    return run


def _drop_output(run: Run, key: str, seq: int) -> None:
    assert run.outputs is not None
    run.outputs = [x for x in run.outputs if not (x["key"] == key and x["seq"] == seq)]


# --- output-topic ---------------------------------------------------------------------


def test_a_clean_output_topic_run_passes_on_what_it_can_see(check_run):
    s = check_run(output_run())
    assert s.verdict == "pass", (not_passing(s), [v.explanation for v in s.checks])
    assert s.evidence_strength["name"] == "output-topic"
    assert s.counts["processed"] == 12 and s.counts["outputs"] == 14
    # Latency runs from the acknowledgement to the input's first output.
    assert s.latency["count"] == 12 and s.latency["min"] == 1490.0
    red = s.check("redelivered")
    assert (red.counts["redelivered"], red.counts["legal"], red.counts["illegal"]) == (2, 2, 0)
    for name in ("partition-order", "invalid-handling"):
        v = s.check(name)
        assert v.status == "n/a" and "not applicable at output-topic strength" in v.explanation
    (row,) = s.rebalances
    assert row["time_to_full_ownership_s"] == 4.0  # the first Stable snapshot with one owner each
    assert row["max_processing_gap_s"] is None
    assert "processing gaps: not applicable" in s.check("rebalance").explanation


def test_an_input_below_the_committed_offset_without_output_is_consumer_loss(check_run):
    run = output_run()
    _drop_output(run, "b", 1)  # input (1, 2): committed past at 6
    s = check_run(run)
    assert not_passing(s) == {
        "never-processed": "fail",
        "partition-order": "n/a",
        "invalid-handling": "n/a",
    }
    never = s.check("never-processed")
    assert never.count == 1
    ex = never.examples[0]
    assert (ex["partition"], ex["offset"], ex["key"], ex["seq"], ex["committed"]) == (
        1,
        2,
        "b",
        1,
        6,
    )


def test_an_unanswered_input_beyond_the_committed_offset_is_backlog_not_loss(check_run):
    run = output_run()
    _drop_output(run, "a", 5)
    run.group[-1]["committed"]["0"] = 5
    run.spec["drain"] = {"finished": False, "t": 9.5, "detail": "lag 1"}
    s = check_run(run)
    assert s.verdict == "inconclusive", not_passing(s)
    never = s.check("never-processed")
    assert never.status == "inconclusive" and never.counts["backlog"] == 1


def test_missing_outputs_in_an_unfinished_output_drain_are_inconclusive(check_run):
    run = output_run()
    _drop_output(run, "b", 1)
    run.spec["output_drain"] = {"finished": False, "detail": "timed out"}
    s = check_run(run)
    assert s.check("never-processed").status == "inconclusive"
    assert "output drain did not finish" in s.check("never-processed").explanation
    assert s.check("key-order").status == "inconclusive"
    assert s.check("redelivered").status == "inconclusive"
    assert s.verdict == "inconclusive"


def test_an_output_naming_an_input_missing_from_an_unfinished_log_drain_is_inconclusive(check_run):
    run = output_run()
    run.output(1, 6, "z", 99, t=5.0)
    run.spec["log_drain"] = {"finished": False, "detail": "timed out"}
    s = check_run(run)
    assert s.check("corruption").status == "inconclusive"
    assert "fail" not in not_passing(s).values()


def test_a_duplicate_without_a_rebalance_between_fails(check_run):
    run = output_run()
    run.output(1, 6, "b", 1, t=6.0)  # answered again at 6.0: the group was stable since 2.5
    s = check_run(run)
    assert not_passing(s)["redelivered"] == "fail"
    red = s.check("redelivered")
    assert red.counts["illegal"] == 1 and red.counts["legal"] == 2
    bad = red.examples[0]
    assert (bad["partition"], bad["offset"], bad["output_partition"], bad["output_offset"]) == (
        1,
        2,
        1,
        6,
    )
    assert "no rebalance" in bad["detail"]


def test_a_duplicate_of_a_committed_input_across_a_rebalance_fails(check_run):
    run = output_run()
    run.output(0, 8, "a", 1, t=9.1)  # input (0, 1) was committed (3) before the rebalance
    s = check_run(run)
    red = s.check("redelivered")
    assert red.status == "fail" and red.counts["illegal"] == 1
    assert "committed (offset 3)" in red.examples[0]["detail"]


def kept_time_run(timestamp_type: str | None) -> Run:
    """output_run's service, stamping each output with its input's timestamp (2.8, when
    every input was sent; Kafka Streams' default), on an output topic whose records keep
    producer timestamps (``CreateTime``; None: an older run that did not record it)."""
    run = output_run()
    for snd in run.sends:
        snd["t_send"], snd["t_ack"] = 2.8, 2.81
    assert run.outputs is not None
    for out in run.outputs:
        out["t"] = 2.8
        if timestamp_type is not None:
            out["timestamp_type"] = timestamp_type
    return run


def test_duplicates_stamped_with_their_input_s_time_cannot_be_told_never_failed(check_run):
    for timestamp_type in ("CreateTime", None):
        s = check_run(kept_time_run(timestamp_type))
        assert not_passing(s) == {
            "redelivered": "inconclusive",
            "partition-order": "n/a",
            "invalid-handling": "n/a",
        }, timestamp_type
        red = s.check("redelivered")
        assert (red.counts["legal"], red.counts["illegal"], red.counts["unjudged"]) == (0, 0, 2)
        assert red.counts["producer-timestamps"] == 2
        assert "cannot tell: 2: its outputs carry producer timestamps" in red.explanation
        assert [(e["partition"], e["offset"]) for e in red.examples] == [(0, 3), (0, 4)]
        assert s.verdict == "inconclusive"


def test_append_times_judge_the_duplicates_of_a_service_that_keeps_its_input_s_time(check_run):
    # The same service on an output topic riverbed created: the broker stamped each
    # output as it appended it (3.0 and 4.0 before the kill, 9.0 after the takeover).
    run = output_run()
    assert run.outputs is not None
    for out in run.outputs:
        out["timestamp_type"] = "LogAppendTime"
    s = check_run(run)
    assert s.verdict == "pass", not_passing(s)
    red = s.check("redelivered")
    assert (red.counts["legal"], red.counts["unjudged"], red.counts["producer-timestamps"]) == (
        2,
        0,
        0,
    )


def test_a_duplicate_outside_any_rebalance_fails_when_its_times_separate_the_outputs(check_run):
    # Append times always say when each output was written, even a millisecond apart.
    run = output_run()
    assert run.outputs is not None
    for out in run.outputs:
        out["timestamp_type"] = "LogAppendTime"
    run.output(1, 6, "b", 1, t=3.0005, timestamp_type="LogAppendTime")  # first at 3.0
    s = check_run(run)
    red = s.check("redelivered")
    assert red.status == "fail" and red.counts["illegal"] == 1 and red.counts["unjudged"] == 0
    assert "no rebalance" in red.examples[0]["detail"]
    # Producer timestamps further apart than the clock tolerance are the service's own
    # times, not a copy of the input's: judged, and failed.
    for timestamp_type in ("CreateTime", None):
        run = output_run()
        run.output(1, 6, "b", 1, t=5.0, timestamp_type=timestamp_type)
        red = check_run(run).check("redelivered")
        assert red.status == "fail" and red.counts["illegal"] == 1, timestamp_type
    # Within the tolerance they cannot be told apart: not judged, not passed.
    run = output_run()
    run.output(1, 6, "b", 1, t=3.9, timestamp_type="CreateTime")
    s = check_run(run)
    red = s.check("redelivered")
    assert red.status == "inconclusive" and red.counts["producer-timestamps"] == 1
    assert s.verdict == "inconclusive"


def test_outputs_out_of_key_order_fail(check_run):
    run = output_run()
    assert run.outputs is not None
    # Key a: seq 2 answered before seq 1 on the same output partition.
    first, second = run.outputs[1], run.outputs[2]
    first["seq"], second["seq"] = second["seq"], first["seq"]
    s = check_run(run)
    assert not_passing(s)["key-order"] == "fail"
    ko = s.check("key-order")
    assert ko.count == 1
    ex = ko.examples[0]
    assert (ex["key"], ex["seq"], ex["after_seq"], ex["output_offset"]) == ("a", 1, 2, 2)


#: Keys b and c (input partition 1) answered by a service that writes without a key:
#: (key, seq, output partition, t) in write order. Each key's outputs are more than the
#: clock tolerance (1 s) apart.
SPREAD = [
    ("b", 0, 1, 1.6),
    ("c", 0, 2, 2.0),
    ("b", 1, 2, 2.7),
    ("c", 1, 1, 3.2),
    ("b", 2, 1, 3.9),
    ("c", 2, 2, 4.3),
]


#: SPREAD with b's seq 1 written 1.1 s before its seq 0, on another output partition.
LATE = [
    ("b", 1, 2, 1.6),
    ("c", 0, 2, 2.0),
    ("b", 0, 1, 2.7),
    ("c", 1, 1, 3.2),
    ("b", 2, 1, 3.9),
    ("c", 2, 2, 4.3),
]


def spread_run(
    outputs: list[tuple[str, int, int, float]], timestamp_type: str | None = "LogAppendTime"
) -> Run:
    """output_run, with the outputs of input partition 1 spread over output partitions 1
    and 2 as ``outputs`` says (offsets in the order listed)."""
    run = output_run()
    assert run.outputs is not None
    run.outputs = [o for o in run.outputs if o["key"] == "a"]
    for out in run.outputs:
        out["timestamp_type"] = timestamp_type
    offsets = {1: 0, 2: 0}
    for key, seq, opart, t in outputs:
        run.output(opart, offsets[opart], key, seq, t, timestamp_type=timestamp_type)
        offsets[opart] += 1
    ends = {"0": 8, **{str(p): n for p, n in offsets.items()}}
    run.spec["output_drain"] = {"finished": True, "t": 11.5, "end_offsets": ends}
    return run


def test_outputs_of_a_key_on_several_output_partitions_are_ordered_by_their_append_times(
    check_run,
):
    s = check_run(spread_run(SPREAD))
    assert s.verdict == "pass", (not_passing(s), s.check("key-order").explanation)
    ko = s.check("key-order")
    assert (ko.counts["violations"], ko.counts["cannot-tell"]) == (0, 0)


def test_a_millisecond_tie_across_output_partitions_cannot_be_told_never_fails(check_run):
    # b's seq 0 and seq 1 appended in the same millisecond, seq 1 on the lower output
    # partition: nothing orders two partitions' records within the clock tolerance.
    tied = [
        ("b", 1, 1, 2.0),
        ("c", 0, 2, 2.0),
        ("b", 0, 2, 2.0),
        *[x for x in SPREAD if x[1] == 2 or x[:2] == ("c", 1)],
    ]
    s = check_run(spread_run(tied))
    assert not_passing(s) == {
        "key-order": "inconclusive",
        "partition-order": "n/a",
        "invalid-handling": "n/a",
    }
    ko = s.check("key-order")
    assert (ko.count, ko.counts["violations"], ko.counts["cannot-tell"]) == (0, 0, 1)
    assert "cannot tell for 1 message" in ko.explanation
    (ex,) = ko.examples
    assert (ex["key"], ex["seq"], ex["after_seq"], ex["output_partition"]) == ("b", 0, 1, 2)
    assert ex["detail"].startswith("cannot tell: seq 1 was answered on output partition 1")
    # Within the tolerance, the other way round too: 0.9 s apart is not an order.
    near = [x if x[:2] != ("b", 1) else ("b", 1, 2, 2.5) for x in SPREAD]
    assert check_run(spread_run(near)).check("key-order").counts["cannot-tell"] == 1


def test_outputs_out_of_key_order_across_output_partitions_fail_beyond_the_tolerance(
    check_run,
):
    s = check_run(spread_run(LATE))
    ko = s.check("key-order")
    assert ko.status == "fail" and ko.count == 1 and ko.counts["cannot-tell"] == 0
    (ex,) = ko.examples
    assert (ex["key"], ex["seq"], ex["after_seq"], ex["output_partition"]) == ("b", 0, 1, 1)
    assert "more than 1 s after the output of seq 1 on output partition 2" in ex["detail"]
    assert s.verdict == "fail"


def test_offsets_order_one_output_partition_whatever_its_times_say(check_run):
    # c's seq 2 written before its seq 1 on output partition 2, stamped 2 s later.
    swapped = [x for x in SPREAD if x[0] != "c"] + [
        ("c", 0, 1, 2.0),
        ("c", 2, 2, 4.3),
        ("c", 1, 2, 2.3),
    ]
    s = check_run(spread_run(swapped))
    ko = s.check("key-order")
    assert ko.status == "fail" and ko.count == 1
    ex = ko.examples[0]
    assert (ex["key"], ex["seq"], ex["after_seq"], ex["output_partition"]) == ("c", 1, 2, 2)
    assert ex["detail"] == "first output after the output of seq 2 (input partition 1)"


def test_producer_timestamps_order_no_outputs_across_output_partitions(check_run):
    # The service's producer set the times (perhaps its inputs' own): a later seq's output
    # on another output partition cannot be placed, however far apart the times.
    for timestamp_type in ("CreateTime", None):
        s = check_run(spread_run(SPREAD, timestamp_type))
        ko = s.check("key-order")
        # b0, b1, c0, c1 each have a later seq of their key on the other output partition.
        assert (ko.status, ko.counts["cannot-tell"]) == ("inconclusive", 4), timestamp_type
        assert "fail" not in not_passing(s).values()
    # A later seq stamped more than the tolerance before is still a violation.
    assert check_run(spread_run(LATE, "CreateTime")).check("key-order").status == "fail"


def test_a_corrupt_output_and_an_output_naming_no_logged_input_fail(check_run):
    run = output_run()
    assert run.outputs is not None
    run.outputs[0]["sha_ok"] = False
    run.output(1, 6, "z", 99, t=5.0)
    s = check_run(run)
    c = s.check("corruption")
    assert c.status == "fail"
    assert c.counts["corrupt-output"] == 1 and c.counts["output-without-input"] == 1


def test_outputs_naming_no_input_are_reported_and_the_run_cannot_pass(check_run):
    run = output_run()
    run.output(1, 6, None, None, t=5.0)
    s = check_run(run)
    assert s.verdict == "inconclusive", not_passing(s)
    assert "fail" not in not_passing(s).values()
    red = s.check("redelivered")
    assert red.status == "inconclusive" and red.counts["unidentified-outputs"] == 1
    (ex,) = [e for e in red.examples if e.get("kind") == "unidentified"]
    assert (ex["output_partition"], ex["output_offset"]) == (1, 6)
    assert "name no input" in red.explanation
    assert s.counts["unidentified-outputs"] == 1
    # With an unanswered input as well, that input may be the unnamed output's: not proven lost.
    _drop_output(run, "b", 1)
    s = check_run(run)
    assert s.check("never-processed").status == "inconclusive"
    assert "fail" not in not_passing(s).values()


def test_a_double_owner_in_the_group_s_view_fails_at_output_strength(check_run):
    run = output_run()
    run.group[6]["members"] = {"svc-aaaa": [0, 1], "svc-bbbb": [1]}
    s = check_run(run)
    rb = s.check("rebalance")
    assert rb.status == "fail" and rb.counts["group_double_owners"] == 1
    ex = rb.examples[0]
    assert ex["partition"] == 1
    assert (ex["member"], ex["other_member"]) == ("svc@10.1.0.9/aaaa", "svc@10.1.0.9/bbbb")


def test_output_strength_without_outputs_or_snapshots_proves_nothing(check_run):
    run = output_run()
    run.outputs = None
    s = check_run(run)
    assert s.verdict == "inconclusive"
    assert "outputs were not drained" in s.check("vacuity").explanation
    run = output_run()
    run.group.clear()
    s = check_run(run)
    assert s.verdict == "inconclusive"
    assert s.check("rebalance").status == "inconclusive"
    # The legal duplicates cannot be placed against a rebalance without the group's view.
    assert s.check("redelivered").status == "inconclusive"
    assert s.check("redelivered").counts["unjudged"] == 2
    assert "no group snapshots" in s.check("vacuity").explanation


def test_ownership_never_restored_in_the_group_s_view(check_run):
    # After the kill the group settles with partition 0 assigned to nobody, to the end.
    run = output_run()
    for g in run.group:
        if g["t"] >= 8.5:
            g["members"] = {"svc-bbbb": [], "svc-cccc": [1]}
    s = check_run(run)
    rb = s.check("rebalance")
    assert rb.status == "fail"
    assert "partitions [0] never again had exactly one owner" in rb.explanation
    # The same when the monitor stopped early: not proven, inconclusive.
    run.group = [g for g in run.group if g["t"] < 8.5]
    s = check_run(run)
    rb = s.check("rebalance")
    assert rb.status == "inconclusive", rb.explanation
    assert "snapshots end before ownership was restored" in rb.explanation


# --- offsets ----------------------------------------------------------------------------


def offsets_run() -> Run:
    run = Run(spec(consumer_evidence="offsets"))
    _inputs(run)
    run.fault(4.5, output=["svc-aaaa"])
    _group(run)
    return run


def test_a_clean_offsets_run_is_inconclusive_never_a_pass(check_run):
    s = check_run(offsets_run())
    assert s.verdict == "inconclusive" and s.exit_code == 2
    assert "fail" not in not_passing(s).values()
    never = s.check("never-processed")
    assert never.status == "inconclusive"
    assert "processing is invisible" in never.explanation and "cannot pass" in never.explanation
    assert s.check("redelivered").status == "inconclusive"
    for name in ("partition-order", "key-order", "invalid-handling"):
        assert s.check(name).status == "n/a"
    assert s.check("lost-from-log").status == "pass"
    assert s.counts["processed"] is None


def test_a_committed_offset_going_backwards_fails_as_a_rewind(check_run):
    run = offsets_run()
    run.group[-1]["committed"]["1"] = 4  # 6 at 8.5, then 4
    s = check_run(run)
    assert s.verdict == "fail"
    red = s.check("redelivered")
    assert red.status == "fail" and red.counts["rewinds"] == 1
    ex = red.examples[0]
    assert (ex["partition"], ex["committed"], ex["offset"]) == (1, 6, 4)


def test_a_commit_past_records_not_yet_sent_fails_as_a_skip(check_run):
    run = offsets_run()
    for snd in run.sends:
        if snd["partition"] == 1 and snd["offset"] >= 3:
            snd["t_send"], snd["t_ack"] = 6.0, 6.01  # sent after the 4.5 snapshot saw 6 committed
    s = check_run(run)
    assert s.verdict == "fail"
    never = s.check("never-processed")
    assert never.status == "fail" and never.count == 3
    assert [(e["partition"], e["offset"]) for e in never.examples] == [(1, 3), (1, 4), (1, 5)]
    # Sent within the clock tolerance of the snapshot: not provably after it.
    for snd in run.sends:
        if snd["partition"] == 1 and snd["offset"] >= 3:
            snd["t_send"] = 5.4
    assert check_run(run).check("never-processed").status == "inconclusive"


def test_offsets_strength_without_snapshots_is_inconclusive(check_run):
    run = offsets_run()
    run.group.clear()
    s = check_run(run)
    assert s.verdict == "inconclusive"
    assert s.check("never-processed").status == "inconclusive"
    assert "fail" not in not_passing(s).values()


# --- the report says what the verdicts rest on -------------------------------------------


def test_summary_and_report_state_the_strength(tmp_path: Path):
    root = output_run().write(tmp_path / "out-run")
    summary = build(root)
    data = json.loads(summary.paths["summary_json"].read_text())
    assert data["evidence_strength"] == "output-topic"
    assert "processing order inside the service" in data["evidence_scope"]["cannot"]
    assert data["checks"]["partition-order"]["status"] == "n/a"
    html = summary.paths["report_html"].read_text()
    assert 'data-strength="output-topic"' in html and "Cannot prove:" in html
    junit = summary.paths["junit_xml"].read_text()
    assert 'name="evidence_strength" value="output-topic"' in junit
    assert "not applicable at output-topic strength" in junit


def test_instrumented_strength_states_its_assumption(tmp_path: Path):
    run = baseline()
    run.spec["consumer_evidence"] = "instrumented"
    summary = build(run.write(tmp_path / "instr"))
    assert summary.verdict == "pass"
    data = json.loads(summary.paths["summary_json"].read_text())
    assert data["evidence_strength"] == "instrumented"
    assumption = "a record counts as processed when the application comes back for more after it"
    assert assumption in data["evidence_scope"]["assumption"]
    assert assumption in summary.paths["report_html"].read_text()


def test_older_runs_rest_on_reference_evidence_and_unknown_strengths_prove_nothing(tmp_path: Path):
    s, _, _ = analyse(baseline().write(tmp_path / "old"))
    assert s.evidence_strength["name"] == "reference" and s.verdict == "pass"
    run = baseline()
    run.spec["consumer_evidence"] = "telepathy"
    s, _, _ = analyse(run.write(tmp_path / "odd"))
    assert s.verdict == "inconclusive"
    assert "consumer_evidence is 'telepathy'" in s.check("vacuity").explanation
