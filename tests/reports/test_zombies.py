"""A zombie on literal tiny evidence: a consumer paused past its session timeout.

consumer-1 owns partition 0, consumer-2 partition 1. consumer-1 is paused at 4.5
holding the batch 3..5 of partition 0; its session expires and consumer-2 is
assigned both partitions at 8.1. consumer-1 continues at 10: it finishes the batch
(after its partition moved on), its commit is rejected, it learns it lost
partition 0 and stops. The allowance: that late processing is a zombie's,
counted (a zombie overlap, records processed after the move) and allowed as a
redelivery at or past its own last commit; a before-process consumer that
committed the batch first is caught (the group skipped what only the zombie
processed); a member that still commits after the move is a split brain.
"""

from __future__ import annotations

from tests.reports.builder import P0, P1, Run, spec
from tests.reports.conftest import not_passing

M1, M2 = "consumer-1-aaa", "consumer-2-bbb"


def zombie_run(commit_mode: str = "after-process") -> Run:
    run = Run(spec(commit_mode=commit_mode, experiments=["experiments/local/pause-consumer.json"]))
    for o, _, key, seq in P0:
        run.send(key, seq, 0, o)
        run.record(0, o, key, seq)
    for o, _, key, seq in P1:
        run.send(key, seq, 1, o)
        run.record(1, o, key, seq)
    m1, m2 = run.member(M1), run.member(M2)
    m1.start(1.0).assigned(2.0, [0]).processed(3.0, 0, P0[0:3]).committed(3.1, {0: 3})
    if commit_mode == "before-process":
        # The unsafe order: the batch 3..5 is committed before it is processed.
        m1.committed(3.9, {0: 6})
    m2.start(1.0).assigned(2.0, [1]).processed(3.0, 1, P1[0:3]).committed(3.1, {1: 3})
    run.faults.append(
        {
            "v": 1,
            "type": "fault",
            "experiment": "pause-consumer",
            "activity": "pause-one-consumer",
            "kind": "action",
            "t_start": 4.5,
            "t_end": 10.0,
            "status": "succeeded",
            "output": ["consumer-1"],
            "landed": True,
            "phase": "method",
            "func": "riverbed.chaos.local.actions.pause_consumers",
        }
    )
    # consumer-1's session expired: consumer-2 takes both partitions from the committed offsets.
    m2.revoked(8.0, [1]).assigned(8.1, [0, 1], generation=2)
    start = 6 if commit_mode == "before-process" else 3
    if start < 6:
        m2.processed(8.5, 0, P0[start:6])
    m2.processed(8.5, 1, P1[3:6]).committed(8.6, {0: 6, 1: 6})
    # consumer-1 continues at 10: it finishes the batch it held, as a zombie.
    m1.processed(10.2, 0, P0[3:6])
    if commit_mode == "after-process":
        m1.committed(10.3, {0: 6}, ok=False)
    m1.lost(10.4, [0]).assigned(10.6, [], generation=3).stop(11.0)
    m2.revoked(11.2, [0, 1], generation=2).stop(11.3)
    run.snapshot(2.5, 1, {M1: [0], M2: [1]}, {0: 0, 1: 0}, {0: 6, 1: 6})
    run.snapshot(3.5, 1, {M1: [0], M2: [1]}, {0: 3, 1: 3}, {0: 6, 1: 6})
    committed0 = 6 if commit_mode == "before-process" else 3
    run.snapshot(5.0, 1, {M1: [0], M2: [1]}, {0: committed0, 1: 3}, {0: 6, 1: 6})
    run.snapshot(8.05, 1, {}, {0: committed0, 1: 3}, {0: 6, 1: 6}, state="PreparingRebalance")
    run.snapshot(8.3, 2, {M2: [0, 1]}, {0: committed0, 1: 3}, {0: 6, 1: 6})
    run.snapshot(9.0, 2, {M2: [0, 1]}, {0: 6, 1: 6}, {0: 6, 1: 6})
    run.snapshot(10.8, 3, {M2: [0, 1], M1: []}, {0: 6, 1: 6}, {0: 6, 1: 6})
    run.spec["drain"] = {"finished": True, "t": 10.9}
    return run


def test_a_zombie_finishing_its_batch_after_a_safe_commit_passes(check_run):
    s = check_run(zombie_run())
    assert s.verdict == "pass", not_passing(s)
    red = s.check("redelivered")
    # 3..5 processed by the new owner, then again by the zombie: allowed, and said so.
    assert red.counts["redelivered"] == 3 and red.counts["legal"] == 3
    assert red.counts["zombie"] == 3
    assert {e["offset"] for e in red.examples} == {3, 4, 5}
    assert all("zombie" in e["detail"] for e in red.examples)
    rb = s.check("rebalance")
    assert rb.counts["zombie_overlaps"] == 1 and rb.counts["split_overlaps"] == 0
    assert rb.counts["zombie_processed"] == 3
    (overlap,) = [e for e in rb.examples if e.get("kind") == "zombie"]
    assert (overlap["partition"], overlap["member"], overlap["other_member"]) == (0, M1, M2)
    assert overlap["zombie_processed"] == 3
    (row,) = s.rebalances
    assert row["fencing"]["commits_rejected"] == 1 and row["fencing"]["lost"] == 1
    assert s.check("never-processed").counts["never-processed"] == 0


def test_the_zombie_processing_first_and_the_new_owner_after_is_allowed_too(check_run):
    # The new owner reaches the batch only after the zombie processed it.
    run = zombie_run()
    m2 = run.members[M2]
    for ln in m2.lines:
        if ln["type"] == "processed" and ln["partition"] == 0:
            ln["t"] = 10.35
        if ln["type"] == "committed" and ln["t"] == 8.6:
            ln["t"] = 10.36
    m2.lines.sort(key=lambda ln: ln["t"])
    for snap in run.group:
        if snap["t"] == 9.0:
            snap["committed"] = {"0": 3, "1": 3}
    s = check_run(run)
    assert s.verdict == "pass", not_passing(s)
    red = s.check("redelivered")
    assert red.counts["legal"] == 3 and red.counts["illegal"] == 0
    assert all(e["previous_member"] == M1 for e in red.examples)


def test_a_before_process_consumer_paused_mid_batch_is_caught(check_run):
    s = check_run(zombie_run("before-process"))
    assert s.verdict == "fail"
    never = s.check("never-processed")
    assert never.status == "fail"
    # Committed before the pause, processed only by the zombie after the move.
    assert never.counts["never-processed"] == 3 and never.counts["zombie-only"] == 3
    assert {e["offset"] for e in never.examples} == {3, 4, 5}
    assert all("zombie" in e["detail"] for e in never.examples)
    # No commit was rejected: the zombie is known by its lost partitions.
    assert s.check("rebalance").counts["zombie_overlaps"] == 1


def test_an_old_owner_still_committing_after_the_move_is_a_split_brain(check_run):
    # Not fenced: its commit after the move succeeds and it gives the partition up
    # gracefully. Two live owners at once fail, and so does its late redelivery.
    run = zombie_run()
    m1 = run.members[M1]
    for ln in m1.lines:
        if ln["type"] == "committed" and ln["t"] == 10.3:
            ln["ok"] = True
        if ln["type"] == "lost":
            ln["type"] = "revoked"
    s = check_run(run)
    assert s.verdict == "fail"
    assert s.check("rebalance").counts["split_overlaps"] == 1
    assert s.check("redelivered").counts["illegal"] == 3


def test_a_zombie_processing_below_its_own_last_commit_fails(check_run):
    # The zombie goes back to records its own commit had already covered.
    run = zombie_run()
    m1 = run.members[M1]
    for ln in m1.lines:
        if ln["type"] == "processed" and ln["t"] == 10.2:
            ln["records"] = [list(r) for r in P0[1:6]]
    s = check_run(run)
    red = s.check("redelivered")
    assert red.status == "fail"
    assert red.counts["illegal"] == 2
    illegal = [e for e in red.examples if "finishing what it held" not in e["detail"]]
    assert {e["offset"] for e in illegal} == {1, 2}
    # 3..5 are still the zombie's legal redeliveries.
    assert red.counts["legal"] == 3
