"""Ownership from the consumers' evidence joined to the broker's view (group snapshots).

A member's evidence can end without a stop line while it still owns its
partitions (killed at teardown, its pod deleted before its last lines were
written, or idle). That silence alone must not read as orphaned partitions;
real orphans and real double owners must still fail.
"""

from __future__ import annotations

import pytest

from tests.reports.builder import P0, P1, Run, baseline, spec
from tests.reports.conftest import not_passing

END = {0: 6, 1: 6}


def _drop_shutdown(run: Run, *names: str) -> None:
    """The members' final revoke and stop lines were never written."""
    for name in names:
        m = run.members[name]
        m.lines = [
            ln for ln in m.lines if not (ln["type"] in ("revoked", "stop") and ln["t"] >= 10)
        ]


def quiet_run() -> Run:
    """A broker is killed; the group never rebalances; nobody writes a stop line."""
    run = Run(spec())
    for o, _, key, seq in P0:
        run.send(key, seq, 0, o)
        run.record(0, o, key, seq)
    for o, _, key, seq in P1:
        run.send(key, seq, 1, o)
        run.record(1, o, key, seq)
    m1, m2 = run.member("consumer-1-aaa"), run.member("consumer-2-bbb")
    m1.start(1.0).assigned(2.0, [0]).processed(3.0, 0, P0[:3]).committed(3.1, {0: 3})
    m1.processed(5.0, 0, P0[3:]).committed(5.1, {0: 6})
    m2.start(1.0).assigned(2.0, [1]).processed(3.0, 1, P1[:3]).committed(3.1, {1: 3})
    m2.processed(6.0, 1, P1[3:]).committed(6.1, {1: 6})
    run.fault(4.5, activity="kill-broker", output=["broker-2"])
    owners = {"consumer-1-aaa": [0], "consumer-2-bbb": [1]}
    run.snapshot(2.5, 1, owners, {}, END)
    run.snapshot(4.0, 1, owners, {0: 3, 1: 3}, END)
    # No snapshot while the broker is down (the monitor skips them), then the same group.
    run.snapshot(7.0, 1, owners, {0: 6, 1: 6}, END)
    run.snapshot(9.5, 1, owners, {0: 6, 1: 6}, END)
    return run


def test_a_broker_fault_without_rebalance_and_without_stop_lines_passes(check_run):
    s = check_run(quiet_run())
    assert s.verdict == "pass", (not_passing(s), s.check("rebalance").explanation)
    (row,) = s.rebalances
    assert row["time_to_full_ownership_s"] == 0
    assert row["orphaned_partitions"] == [] and row["unowned_partitions"] == []


def test_silent_members_without_a_group_view_are_inconclusive_not_failed(check_run):
    run = quiet_run()
    run.group.clear()
    s = check_run(run)
    rb = s.check("rebalance")
    assert rb.status == "inconclusive", rb.explanation
    assert "fell silent" in rb.explanation
    assert "fail" not in not_passing(s).values()


def test_a_hard_kill_whose_survivors_never_wrote_a_stop_line_passes(check_run):
    run = baseline()
    _drop_shutdown(run, "consumer-2-bbb", "consumer-1-ccc")
    s = check_run(run)
    assert s.verdict == "pass", (not_passing(s), s.check("rebalance").explanation)
    (row,) = s.rebalances
    # The killed member (its replica restarted) stops owning at its last line, as before.
    assert row["time_to_full_ownership_s"] == pytest.approx(3.6)
    assert row["orphaned_partitions"] == [0, 1]


def test_the_same_run_without_group_snapshots_is_inconclusive(check_run):
    run = baseline()
    _drop_shutdown(run, "consumer-2-bbb", "consumer-1-ccc")
    run.group.clear()
    s = check_run(run)
    assert s.check("rebalance").status == "inconclusive", s.check("rebalance").explanation
    assert s.verdict == "inconclusive"


def test_a_partition_the_group_assigns_to_nobody_still_fails(check_run):
    # m3 joins but gets no partition; the group's Stable view agrees: partition 1 is orphaned.
    run = baseline()
    m3 = run.members["consumer-1-ccc"]
    for ln in m3.lines:
        if ln["type"] in ("assigned", "revoked"):
            ln["partitions"] = []
    for g in run.group:
        if g["t"] > 8.1:
            g["members"] = {"consumer-2-bbb": [0], "consumer-1-ccc": []}
    s = check_run(run)
    assert not_passing(s)["rebalance"] == "fail"
    assert "partitions [1] never regained exactly one owner" in s.check("rebalance").explanation
    # The same with silent members: the broker's view proves the orphan.
    _drop_shutdown(run, "consumer-2-bbb", "consumer-1-ccc")
    s = check_run(run)
    assert not_passing(s)["rebalance"] == "fail"
    assert "partitions [1] never regained exactly one owner" in s.check("rebalance").explanation


def test_a_silent_member_still_owning_beside_the_new_owner_is_a_double_owner(check_run):
    # m2 never revokes partition 1 and writes no stop line; m3 is assigned it at 8.1.
    run = baseline()
    m2 = run.members["consumer-2-bbb"]
    for ln in m2.lines:
        if ln["type"] == "revoked" and ln["t"] == 8.0:
            ln["partitions"] = []
    _drop_shutdown(run, "consumer-2-bbb")
    s = check_run(run)
    assert not_passing(s)["rebalance"] == "fail"
    rb = s.check("rebalance")
    assert rb.counts["split_overlaps"] == 1
    ex = rb.examples[0]
    assert (ex["partition"], ex["member"], ex["other_member"]) == (
        1,
        "consumer-2-bbb",
        "consumer-1-ccc",
    )


def _shared_client_id_run() -> Run:
    """Two replicas of a user's consumer with the library's default client id."""
    run = Run(spec())
    for o, _, key, seq in P0:
        run.send(key, seq, 0, o)
        run.record(0, o, key, seq)
    for o, _, key, seq in P1:
        run.send(key, seq, 1, o)
        run.record(1, o, key, seq)
    client = "kafka-python-3.0.12"
    a, b = run.member("app-1"), run.member("app-2")
    a.start(1.0).assigned(2.0, [0], member_id=f"{client}-1111", client_id=client)
    a.processed(3.0, 0, P0).committed(3.1, {0: 6})
    b.start(1.0).assigned(2.0, [1], member_id=f"{client}-2222", client_id=client)
    b.processed(3.0, 1, P1).committed(3.1, {1: 6})
    a.revoked(10.0, [0]).stop(10.1)
    b.revoked(10.0, [1]).stop(10.1)
    run.fault(4.5, activity="kill-broker", output=["broker-2"])
    info = {
        f"{client}-{n}": {"client_id": client, "host": "/10.0.0.7", "instance_id": None}
        for n in ("1111", "2222", "3333")
    }
    good = {f"{client}-1111": [0], f"{client}-2222": [1], f"{client}-3333": []}
    run.snapshot(2.5, 1, good, {}, END, info=info)
    run.snapshot(5.0, 1, good, {0: 6, 1: 6}, END, info=info)
    run.snapshot(9.5, 1, good, {0: 6, 1: 6}, END, info=info)
    return run


def test_shared_client_ids_are_told_apart_by_member_id(check_run):
    s = check_run(_shared_client_id_run())
    assert s.verdict == "pass", (not_passing(s), s.check("rebalance").explanation)


def test_a_double_owner_among_replicas_sharing_a_client_id_fails(check_run):
    # The group assigns partition 1 to app-2 and to a third replica that wrote no
    # evidence; keyed by client id, all three would have read as one member.
    run = _shared_client_id_run()
    client = "kafka-python-3.0.12"
    run.group[1]["members"] = {
        f"{client}-1111": [0],
        f"{client}-2222": [1],
        f"{client}-3333": [1],
    }
    s = check_run(run)
    assert not_passing(s) == {"rebalance": "fail"}
    rb = s.check("rebalance")
    assert rb.counts["group_double_owners"] == 1
    (ex,) = [e for e in rb.examples if e["kind"] == "group-split"]
    assert ex["partition"] == 1
    # Evidence members by their own names; the one without evidence by client, host, id.
    assert (ex["member"], ex["other_member"]) == ("app-2", f"{client}@10.0.0.7/3333")


def test_a_group_member_without_evidence_owns_what_the_group_assigns_it(check_run):
    # consumer-1-ccc's evidence is gone entirely; the group's view shows it owning
    # partition 1 after m2 revoked it: partition 1 is not orphaned.
    run = baseline()
    del run.members["consumer-1-ccc"]
    s = check_run(run)
    rb = s.check("rebalance")
    assert rb.status == "pass", rb.explanation
    (row,) = s.rebalances
    assert row["time_to_full_ownership_s"] is not None


def _orphaned_partition_1():
    run = baseline()
    m3 = run.members["consumer-1-ccc"]
    for ln in m3.lines:
        if ln["type"] in ("assigned", "revoked"):
            ln["partitions"] = []
    for g in run.group:
        if g["t"] > 8.1:
            g["members"] = {"consumer-2-bbb": [0], "consumer-1-ccc": []}
    return run


def test_an_interrupted_run_cut_short_after_its_last_fault_is_inconclusive_not_failed(check_run):
    """Stopped (Ctrl-C) seconds after a kill: the group had no time to recover; that is
    incomplete evidence, not a group that failed to."""
    run = _orphaned_partition_1()
    run.spec.update(interrupted=True, session_timeout_ms=10_000)
    s = check_run(run)
    rebalance = s.check("rebalance")
    assert rebalance.status == "inconclusive", rebalance.explanation
    assert "had no owner again when the run was interrupted" in rebalance.explanation


def test_an_interrupted_run_long_after_its_last_fault_still_fails(check_run):
    """Long enough after the kill for any group to recover (a session timeout and a
    minute): the missing owner is proven even though the run was interrupted."""
    run = _orphaned_partition_1()
    run.spec.update(interrupted=True, session_timeout_ms=10_000)
    run.spec["drain"]["t"] = 130.0  # the run went on for two minutes after the kill
    s = check_run(run)
    assert s.check("rebalance").status == "fail", s.check("rebalance").explanation
