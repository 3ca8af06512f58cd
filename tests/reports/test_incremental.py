"""Rebalance figures beyond the fault's target, and consumer-protocol group views, on literal runs."""

from __future__ import annotations

from typing import Any

import pytest

from reports.checks.incremental import (
    Interval,
    fencing_in_window,
    handover_gap,
    longest_gap,
    member_impact,
    moved_partitions,
    owner_before,
    summarize_impact,
)
from reports.checks.rebalance import incremental_protocol
from reports.evidence import FenceEvent, GroupSnapshot
from tests.reports.builder import P, Run, spec

A, B, C, D = "consumer-1-aaa", "consumer-2-bbb", "consumer-3-ccc", "consumer-1-ddd"


def test_owner_before_a_kill_is_the_last_owner_even_when_its_evidence_ended_earlier() -> None:
    ivs = [Interval(A, 1.0, 4.0), Interval(D, 14.5, 20.0)]
    assert owner_before(ivs, 4.5) == {A}
    assert owner_before([Interval(B, 1.0, 20.0)], 4.5) == {B}
    assert owner_before([Interval(D, 14.5, 20.0)], 4.5) == set()
    by_p = {0: ivs, 1: [Interval(B, 1.0, 20.0)], 2: [Interval(D, 14.6, 20.0)]}
    # Partition 2 had no owner before the fault: it was added, not moved.
    assert moved_partitions(by_p, 4.5, 14.6) == [0]


def test_the_handover_gap_runs_from_the_last_processing_to_the_new_owner_s_first() -> None:
    ivs = [Interval(A, 1.0, 4.0), Interval(D, 14.5, 20.0)]
    assert handover_gap(ivs, [3.0, 4.0, 15.0, 16.0], 4.5, 14.5) == 11.0
    assert handover_gap(ivs, [3.0, 4.0], 4.5, 14.5) is None  # never processed by D
    assert handover_gap([Interval(B, 1.0, 20.0)], [3.0, 5.0], 4.5, 14.5) is None


def test_members_the_fault_did_not_hit_kept_or_lost_their_partitions() -> None:
    by_p = {
        0: [Interval(A, 1.0, 4.0), Interval(D, 14.5, 20.0)],
        1: [Interval(B, 1.0, 20.0)],
        2: [Interval(C, 1.0, 5.5), Interval(C, 14.5, 20.0)],  # eager: revoked, given back
    }
    times = {B: [3.0, 5.0, 9.0, 15.0], C: [3.0, 15.0]}
    impact = member_impact(by_p, times, [B, C], 4.5, 14.5)
    assert impact[B] == {"kept": [1], "revoked": [], "consumed": True, "max_gap_s": 5.5}
    assert impact[C] == {"kept": [], "revoked": [2], "consumed": False, "max_gap_s": 10.0}
    assert summarize_impact(impact) == {
        "unaffected_members": 2,
        "members_kept_all": 1,
        "members_kept_consuming": 1,
        "unaffected_max_gap_s": 10.0,
    }
    assert summarize_impact({})["unaffected_members"] == 0
    assert longest_gap([], 0.0, 2.0) == 2.0


def test_fencing_is_counted_in_the_fault_s_window_with_the_errors_named() -> None:
    events = [
        FenceEvent(1.0, A, "lost"),
        FenceEvent(5.0, B, "commit-rejected", "STALE_MEMBER_EPOCH: Commit failed: stale epoch"),
        FenceEvent(5.1, B, "lost"),
        FenceEvent(6.0, C, "commit-rejected", "REBALANCE_IN_PROGRESS: rebalancing"),
        FenceEvent(7.0, D, "fenced", "_FATAL: the instance ID is still used", True),
        FenceEvent(30.0, D, "fenced", "late"),
    ]
    assert fencing_in_window(events, 4.5, 20.0) == {
        "fenced": 1,
        "commits_rejected": 2,
        "commits_rejected_fencing": 1,
        "lost": 1,
        "errors": ["STALE_MEMBER_EPOCH", "REBALANCE_IN_PROGRESS", "_FATAL"],
    }


def test_incremental_protocols_are_told_from_eager_ones() -> None:
    assert incremental_protocol({"group_protocol": "consumer", "assignor": "uniform"})
    assert incremental_protocol({"assignor": "cooperative-sticky"})
    assert not incremental_protocol({"assignor": "range"})
    assert not incremental_protocol({"group_protocol": "classic", "assignor": "range"})


def test_a_consumer_group_s_snapshot_carries_assignments_in_every_live_state() -> None:
    def snap(state: str, kind: str) -> GroupSnapshot:
        return GroupSnapshot(1.0, state, None, {"m": [0]}, {}, {}, 1, group_type=kind)

    assert snap("Reconciling", "consumer").assignments_known
    assert snap("Assigning", "consumer").assignments_known
    assert not snap("Empty", "consumer").assignments_known
    assert not snap("PreparingRebalance", "classic").assignments_known
    assert snap("Stable", "classic").assignments_known


# ---- a literal run: three members, the one owning partition 0 killed hard ------------------
def _records(p: int) -> list[tuple[int, str, str, int]]:
    return [(o, P, f"k{p}", o) for o in range(6)]


def kill_run(incremental: bool, fencing: bool = False) -> Run:
    """A, B, C own partitions 0, 1, 2; A is killed at 4.5 after processing 3..4 of
    partition 0 without committing; D replaces it and gets partition 0 at 14.5 (the
    session timeout). Incremental: B and C keep theirs and go on consuming. Eager: B and
    C are revoked when D joins (5.5) and get their partitions back at 14.5."""
    protocol = (
        {"group_protocol": "consumer", "client": "confluent-kafka", "assignor": "uniform"}
        if incremental
        else {"group_protocol": "classic", "assignor": "range"}
    )
    run = Run(
        spec(
            partitions=3,
            consumers=3,
            t_end=20.0,
            drain={"finished": True, "t": 16.0},
            log_drain={"finished": True, "t": 17.0, "end_offsets": {"0": 6, "1": 6, "2": 6}},
            **protocol,
        )
    )
    for p in range(3):
        for o, _, key, seq in _records(p):
            run.send(key, seq, p, o)
            run.record(p, o, key, seq)
    epoch = 3 if incremental else 1
    owners = {A: 0, B: 1, C: 2}
    for m, p in owners.items():
        mem = run.member(m).start(1.0)
        mem.assigned(2.0, [p], generation=epoch, member_id=f"id-{m}", client_id=m)
        mem.processed(3.0, p, _records(p)[0:3]).committed(3.1, {p: 3})
    run.member(A).processed(4.0, 0, _records(0)[3:5])  # killed at 4.5: no commit, no stop
    run.fault(4.5, output=["consumer-1"])
    d = run.member(D).start(5.0)
    new_gen = 5 if incremental else 2
    for m in (B, C):
        p = owners[m]
        mem = run.member(m)
        if incremental:
            mem.processed(6.0, p, _records(p)[3:5]).committed(6.1, {p: 5})
        else:
            mem.revoked(5.5, [p], generation=1)
            mem.assigned(14.5, [p], generation=new_gen, member_id=f"id-{m}", client_id=m)
            mem.processed(15.0, p, _records(p)[3:5]).committed(15.1, {p: 5})
    if fencing:
        run.member(B).add(
            "committed",
            7.0,
            offsets={"1": 5},
            ok=False,
            error="STALE_MEMBER_EPOCH: Commit failed: Broker: stale member epoch",
        )
        run.member(D).add("fenced", 5.2, error="_FATAL: instance ID in use", fatal=True)
    d.assigned(14.5, [0], generation=new_gen, member_id=f"id-{D}", client_id=D)
    d.processed(15.0, 0, _records(0)[3:6]).committed(15.1, {0: 6})
    for m in (B, C):
        p = owners[m]
        run.member(m).processed(15.5, p, _records(p)[5:6]).committed(15.6, {p: 6})
    for m, p in ((D, 0), (B, 1), (C, 2)):
        run.member(m).revoked(18.0, [p], generation=new_gen).stop(18.1)
    kind = "consumer" if incremental else "classic"
    ids = {m: f"id-{m}" for m in (A, B, C, D)}

    def snapshot(t: float, state: str, members: dict[str, list[int]], **extra: Any) -> None:
        run.group.append(
            {
                "v": 1,
                "type": "group",
                "t": t,
                "state": state,
                "generation": None,
                "members": {ids[m]: ps for m, ps in members.items()},
                "member_info": {ids[m]: {"client_id": m} for m in members},
                "committed": {},
                "end_offsets": {"0": 6, "1": 6, "2": 6},
                "partitions": 3,
                "group_type": kind,
                **extra,
            }
        )

    snapshot(2.5, "Stable", {A: [0], B: [1], C: [2]})
    if incremental:
        # The dead member keeps partition 0 until its session expires; D waits for it.
        snapshot(6.5, "Reconciling", {A: [0], B: [1], C: [2], D: []})
        snapshot(13.0, "Reconciling", {B: [1], C: [2], D: []}, target={ids[D]: [0]})
    else:
        snapshot(6.5, "PreparingRebalance", {A: [], B: [], C: [], D: []})
    snapshot(14.8, "Stable", {D: [0], B: [1], C: [2]})
    return run


@pytest.mark.parametrize("incremental", [True, False])
def test_a_hard_kill_pauses_one_partition_incrementally_and_all_of_them_eagerly(
    check_run: Any, incremental: bool
) -> None:
    s = check_run(kill_run(incremental))
    assert s.verdict == "pass", {v.name: v.explanation for v in s.checks if v.status != "pass"}
    (row,) = s.rebalances
    assert row["moved_partitions"] == [0]
    assert row["max_gap_moved_s"] == 11.0  # 4.0 (A's last batch) to 15.0 (D's first)
    assert row["unaffected_members"] == 2
    assert set(row["member_impact"]) == {B, C}
    if incremental:
        assert row["paused_partitions"] == [0]
        assert row["members_kept_consuming"] == 2
        assert row["member_impact"][B]["kept"] == [1]
        assert row["unaffected_max_gap_s"] == 8.5  # 6.0 → 14.5 (the window's end)
    else:
        assert row["paused_partitions"] == [0, 1, 2]
        assert row["members_kept_consuming"] == 0
        assert row["member_impact"][B] == {
            "kept": [],
            "revoked": [1],
            "consumed": False,
            "max_gap_s": 10.0,
        }
    assert row["fencing"]["commits_rejected"] == 0


def test_fencing_in_the_consumers_evidence_reaches_the_fault_s_row(check_run: Any) -> None:
    s = check_run(kill_run(True, fencing=True))
    (row,) = s.rebalances
    assert row["fencing"] == {
        "fenced": 1,
        "commits_rejected": 1,
        "commits_rejected_fencing": 1,
        "lost": 0,
        "errors": ["_FATAL", "STALE_MEMBER_EPOCH"],
    }
    assert s.check("rebalance").status == "pass"


def test_a_reconciling_snapshot_is_the_broker_s_word_on_ownership(check_run: Any) -> None:
    # A consumer-protocol group's current assignments are known while it reconciles: a
    # partition they give two members at once is a double owner. A classic group's
    # answer in a state other than Stable says nothing about ownership.
    run = kill_run(True)
    assert check_run(run).check("rebalance").counts["group_double_owners"] == 0
    run.group[1]["members"]["id-" + B] = [0, 1]  # A still holds 0 at 6.5
    s = check_run(run)
    assert s.check("rebalance").status == "fail"
    assert s.check("rebalance").counts["group_double_owners"] == 1
    run.group[1]["group_type"] = "classic"
    run.group[1]["state"] = "PreparingRebalance"
    assert check_run(run).check("rebalance").counts["group_double_owners"] == 0
