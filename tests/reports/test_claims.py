"""Instrumented evidence on literal tiny runs: a commit is a claim, judged, never processing.

One partition of 30 records, key ``a`` seq 0..29. A user's consumer ``consumer-1.1``
works in batches of 5; how it commits (before or after its work) and how it ends
(killed mid-batch, stopped) is what each test changes. A replacement incarnation
``consumer-1.2`` takes the partition over and ends the run.
"""

from __future__ import annotations

from typing import Any

from reports.model import Summary
from tests.reports.builder import Member, Run, spec
from tests.reports.test_allowances import allowed

N = 30
BATCH = 5
WORK = 0.05  # seconds a record
KILL = "consumer-1"


def handed(m: Member, t: float, first: int, last: int, p: int = 0) -> Member:
    return m.add("handed", t, partition=p, first=first, last=last)


def finished(
    m: Member, t: float, first: int, last: int, t_handed: float, p: int = 0, how: str = "came-back"
) -> Member:
    return m.add("finished", t, partition=p, first=first, last=last, how=how, t_handed=t_handed)


def claim(m: Member, t: float, offset: int, how: str = "commit", p: int = 0) -> Member:
    return m.add("committing", t, offsets={str(p): offset}, how=how)


def start(m: Member, t: float, **flags: Any) -> Member:
    return m.add(
        "start", t, replica=m.name.split(".")[0], pid=1, host="h", instrumented=True, flush_ms=10.0,
        **flags,
    )  # fmt: skip


def run_of(
    commit_first: bool,
    batches: int = 5,
    held_for: float | None = 0.06,
    end: str = "killed",
    **flags: Any,
) -> Run:
    """``batches`` completed batches, then one more handed and committed, held for
    ``held_for`` s until the consumer ends (``killed`` by a fault, or ``stop``); with
    ``held_for`` None every batch completes and the consumer stops gracefully."""
    run = Run(spec(consumer_evidence="instrumented", partitions=1, consumers=1))
    run.spec["log_drain"]["end_offsets"] = {"0": N}
    for o in range(N):
        run.send("a", o, 0, o, t=0.5)
        run.record(0, o, "a", o)
    m1 = run.member("consumer-1.1")
    start(m1, 1.0, **flags).assigned(1.1, [0])
    t = 2.0
    complete = batches if held_for is not None else N // BATCH
    for b in range(complete):
        first = b * BATCH
        last = first + BATCH - 1
        handed(m1, t, first, last)
        work = BATCH * WORK
        if commit_first:
            claim(m1, t + 0.001, last + 1).committed(t + 0.003, {0: last + 1})
            finished(m1, t + 0.003 + work, first, last, t)
        else:
            claim(m1, t + work, last + 1).committed(t + work + 0.002, {0: last + 1})
            finished(m1, t + work + 0.003, first, last, t)
        t += work + 0.01
    if held_for is not None:
        first = complete * BATCH
        last = first + BATCH - 1
        handed(m1, t, first, last)
        if commit_first:
            claim(m1, t + 0.001, last + 1).committed(t + 0.003, {0: last + 1})
        else:
            claim(m1, t + BATCH * WORK, last + 1).committed(t + BATCH * WORK + 0.002, {0: last + 1})
        t_end = t + (held_for if commit_first else BATCH * WORK + held_for)
        if end == "killed":
            run.fault(t_end - 0.001, output=[KILL])
            run.faults[-1]["t_end"] = t_end
        else:
            m1.stop(t_end, end)
        m2 = run.member("consumer-1.2")
        start(m2, t_end + 1).assigned(t_end + 2, [0], generation=2)
        rest = (complete + 1) * BATCH
        if rest < N:
            handed(m2, t_end + 3, rest, N - 1)
            finished(m2, t_end + 4, rest, N - 1, t_end + 3)
            m2.committed(t_end + 4.1, {0: N})
        m2.revoked(t_end + 6, [0], generation=2).stop(t_end + 6.1, "close")
        run.spec["drain"] = {"finished": True, "t": t_end + 5}
    else:
        m1.revoked(t + 1, [0]).stop(t + 1.1, "close")
        run.spec["drain"] = {"finished": True, "t": t + 0.5}
        run.fault(1.5, output=["consumer-9"])  # a fault landed elsewhere: the run proves something
    run.snapshot(30.0, 2, {}, {0: N}, {0: N}, state="Empty", partitions=1)
    return run


def never(s: Summary):
    return s.check("never-processed")


def test_a_commit_first_consumer_killed_mid_batch_loses_what_it_could_not_have_finished(
    check_run,
):
    # Killed 60 ms into a 5-record batch it committed at once: at twice its pace
    # (25 ms a record) it could have finished 2 records; 3 are provably lost.
    s = check_run(run_of(commit_first=True))
    v = never(s)
    assert v.status == "fail" and s.verdict == "fail"
    assert v.counts["committed-in-hand-unfinished"] == v.count == 3
    # The failures first, then the two it could have finished: cannot tell.
    assert [e["offset"] for e in v.examples] == [27, 28, 29, 25, 26]
    assert "could not have finished this one, number 3 of its batch" in v.examples[0]["detail"]
    assert v.counts["cannot-tell"] == 2
    assert v.counts["commit-patterns"]["consumer-1.1"]["pattern"] == "ahead"
    assert "hazard: commits run ahead of the work" in v.explanation


def test_the_last_record_a_commit_first_consumer_held_is_lost_whatever_its_pace(check_run):
    # Killed 0.24 s in: at twice its pace all 5 could be done, but its commits run ahead
    # of its work and it never came back for more: the last one it held was not finished.
    s = check_run(run_of(commit_first=True, held_for=0.24))
    v = never(s)
    assert v.status == "fail" and v.count == 1
    assert v.examples[0]["offset"] == 29 and "run ahead of its work" in v.examples[0]["detail"]
    assert v.counts["cannot-tell"] == 4


def test_a_careful_consumer_killed_between_commit_and_poll_finished_its_batch(check_run):
    s = check_run(run_of(commit_first=False, held_for=0.005))
    v = never(s)
    assert v.status == "pass" and s.verdict == "pass", v.explanation
    assert v.counts["commit-patterns"]["consumer-1.1"]["pattern"] == "after"
    assert allowed(s, "commit-after-work") == 5
    assert "hazard" not in v.explanation


def test_with_too_few_batches_to_know_the_pattern_it_cannot_tell(check_run):
    # One completed batch: no pattern, and the kill came late enough to finish them all.
    s = check_run(run_of(commit_first=True, batches=1, held_for=0.5))
    v = never(s)
    assert v.status == "inconclusive" and v.count == 0
    assert v.counts["cannot-tell"] == 5 and s.verdict == "inconclusive"
    assert "cannot tell" in v.explanation


def test_a_graceful_stop_breaking_out_of_a_committed_batch_is_caught(check_run):
    # close() commits the batch 10 ms after its hand-out: at twice its pace it could
    # not even have finished the first record.
    s = check_run(run_of(commit_first=True, held_for=0.01, end="close"))
    v = never(s)
    assert v.status == "fail" and v.count == 5


def test_a_graceful_stop_after_a_full_batch_is_not_failed_by_the_came_back_rule(check_run):
    # A commit-first consumer that finishes its batch on SIGTERM and closes: it does not
    # come back for more, and that says nothing at a graceful stop: cannot tell.
    s = check_run(run_of(commit_first=True, held_for=0.3, end="close"))
    v = never(s)
    assert v.status == "inconclusive" and v.count == 0 and v.counts["cannot-tell"] == 5


def test_commits_ahead_of_the_work_are_named_even_when_nothing_was_lost(check_run):
    s = check_run(run_of(commit_first=True, held_for=None))
    v = never(s)
    assert v.status == "pass" and s.verdict == "pass", v.explanation
    assert "hazard: commits run ahead of the work" in v.explanation
    assert v.counts["commit-patterns"]["consumer-1.1"]["pattern"] == "ahead"


def test_records_are_identified_from_the_log_and_judged_by_every_check(check_run):
    s = check_run(run_of(commit_first=False, held_for=None))
    assert s.verdict == "pass", {v.name: v.explanation for v in s.checks if v.status != "pass"}
    assert s.counts["processed"] == N
    assert s.check("invalid-handling").status == "n/a"
    assert s.evidence_strength["name"] == "instrumented"


def test_the_same_record_finished_twice_by_one_owner_fails_unless_it_sought_back(check_run):
    run = run_of(commit_first=False, held_for=None)
    m1 = run.members["consumer-1.1"]
    again = len(m1.lines) - 2  # before the final revoke and stop
    m1.lines[again:again] = [
        {"v": 1, "type": "handed", "member": m1.name, "partition": 0, "first": 28, "last": 29,
         "t": 40.0},
        {"v": 1, "type": "finished", "member": m1.name, "partition": 0, "first": 28, "last": 29,
         "how": "came-back", "t": 40.1, "t_handed": 40.0},
    ]  # fmt: skip
    s = check_run(run)
    assert s.check("redelivered").status == "fail"
    m1.lines.insert(
        again, {"v": 1, "type": "seek", "member": m1.name, "partition": 0, "offset": 28, "t": 39.9}
    )
    s = check_run(run)
    assert s.check("redelivered").status == "pass"
    assert allowed(s, "sought-back") == 2


def test_a_background_committer_killed_inside_its_flush_window_is_cannot_tell(check_run):
    # librdkafka's auto-commit stores offsets at hand-out; a fast consumer (2 ms a
    # record) killed right after its last line may have finished the batch unrecorded.
    run = run_of(commit_first=True, held_for=0.004, background_commits=True, auto_offset_store=True)
    for line in run.members["consumer-1.1"].lines:
        if line["type"] == "finished":
            line["t"] = line["t_handed"] + 0.01
    s = check_run(run)
    v = never(s)
    assert v.count == 0 and v.status == "inconclusive"
    assert "may not have been written" in v.examples[0]["detail"]


def test_records_beyond_a_killed_background_committers_evidence_are_cannot_tell(check_run):
    # The group committed past 29, the killed member recorded handing out up to 24 only.
    run = run_of(commit_first=False, batches=5, held_for=0.005)
    run.members["consumer-1.1"].lines[0]["background_commits"] = True
    lines = run.members["consumer-1.1"].lines
    run.members["consumer-1.1"].lines = [
        ln
        for ln in lines
        if not (ln["type"] in ("handed", "committing", "committed") and ln["t"] > 3.2)
    ]
    s = check_run(run)
    v = never(s)
    assert v.count == 0 and v.status == "inconclusive", v.explanation
    assert "beyond what consumer-1.1 recorded handing out" in v.examples[0]["detail"]
    # The same member without background commits: those records were skipped.
    run.members["consumer-1.1"].lines[0].pop("background_commits")
    s = check_run(run)
    assert never(s).status == "fail" and never(s).count == 5


def test_offsets_stored_record_by_record_show_how_far_the_consumer_got(check_run):
    # Store-first, one record at a time: each store is a claim made as the record's work
    # begins. Killed 10 ms into record 27's work: the batch's hand-out says nothing
    # (27 could be done at twice the pace), the stores do: the last record held is lost.
    run = run_of(commit_first=True, held_for=None)
    m1 = run.members["consumer-1.1"]
    m1.lines = [
        ln
        for ln in m1.lines
        if ln["type"] not in ("revoked", "stop")
        and not (ln["type"] in ("handed", "finished") and ln.get("first") == 25)
        and not (ln["type"] in ("committing", "committed") and "30" in str(ln.get("offsets")))
    ]
    t0 = 40.0
    handed(m1, t0, 25, 29)
    for i, o in enumerate(range(25, 28)):
        claim(m1, t0 + i * WORK, o + 1, how="store")
    run.fault(t0 + 2 * WORK + 0.005, output=[KILL])
    run.faults[-1]["t_end"] = t0 + 2 * WORK + 0.01
    run.log = [r for r in run.log]  # 25..29 are in the log; the group committed 28
    run.group[-1]["committed"] = {"0": 28}
    run.group[-1]["end_offsets"] = {"0": 30}
    m2 = run.member("consumer-1.2")
    start(m2, 50.0).assigned(51.0, [0], generation=2)
    handed(m2, 52.0, 28, 29)
    finished(m2, 53.0, 28, 29, 52.0)
    m2.committed(53.1, {0: 30}).revoked(55.0, [0], generation=2).stop(55.1, "close")
    run.spec["drain"] = {"finished": True, "t": 54.0}
    run.snapshot(56.0, 3, {}, {0: 30}, {0: 30}, state="Empty", partitions=1)
    s = check_run(run)
    v = never(s)
    assert v.status == "fail" and v.count == 1, v.explanation
    assert v.examples[0]["offset"] == 27 and "last record it held" in v.examples[0]["detail"]


def test_work_finished_after_a_revocation_belongs_to_the_ownership_that_handed_it_out(check_run):
    # A consumer pauses its partition for a worker; the partition is revoked while the
    # worker works; the worker finishes, the consumer commits (too late: its ownership had
    # ended) and the new owner processes the batch again: at-least-once, not a failure.
    run = run_of(commit_first=False, held_for=None)
    m1 = run.members["consumer-1.1"]
    m1.lines = [ln for ln in m1.lines if ln["type"] not in ("revoked", "stop")]
    m1.lines = [
        ln
        for ln in m1.lines
        if not (ln["type"] in ("handed", "finished") and ln.get("first") == 25)
        and not (ln["type"] in ("committing", "committed") and "30" in str(ln.get("offsets")))
    ]
    handed(m1, 40.0, 25, 29)
    m1.add("paused", 40.1, partitions=[0])
    m1.revoked(41.0, [0])
    finished(m1, 41.4, 25, 29, 40.0)
    claim(m1, 41.45, 30).committed(41.46, {0: 30})
    m1.stop(43.0, "close")
    m2 = run.member("consumer-1.2")
    start(m2, 40.5).assigned(41.2, [0], generation=2)
    handed(m2, 41.5, 25, 29)
    finished(m2, 41.9, 25, 29, 41.5)
    m2.committed(41.95, {0: 30}).revoked(44.0, [0], generation=2).stop(44.1, "close")
    run.spec["drain"] = {"finished": True, "t": 43.5}
    run.group[-1]["t"] = 45.0  # the monitor saw the final offsets after the handover
    s = check_run(run)
    red = s.check("redelivered")
    assert red.status == "pass", red.explanation
    assert allowed(s, "at-least-once") == 5
    assert s.check("partition-order").status == "pass", s.check("partition-order").explanation
    assert any("after its ownership of it ended" in i.message for i in s.issues)
    run.spec["delivery"] = "strict"
    assert check_run(run).check("redelivered").status == "fail"
