"""Reading journals: which faults landed and why a run proves nothing."""

from __future__ import annotations

from pathlib import Path

from riverbed.chaos.journal import activities, any_landed, inconclusive_reasons
from riverbed.chaos.runner import outcome_from_journal
from tests.chaos.journals import HARNESS_FAILURE, journal, kill, restore, terminate


def test_a_kill_that_hit_a_replica_is_conclusive() -> None:
    j = journal([kill()])
    assert inconclusive_reasons(j) == []
    assert any_landed(j)


def test_activities_carry_phase_times_and_landing() -> None:
    acts = activities(journal([kill()]))
    assert [(a.phase, a.name) for a in acts] == [
        ("steady-state-before", "consumer-group-converged"),
        ("method", "kill-one-consumer"),
        ("steady-state-after", "consumer-group-converged"),
        ("rollback", "restore-consumer-replicas"),
    ]
    k = acts[1]
    assert (k.kind, k.status, k.landed, k.output) == ("action", "succeeded", True, ["consumer-2"])
    assert k.func == "riverbed.chaos.local.actions.kill_consumers"
    assert k.t_start == 1795554002.0 and k.t_end == 1795554002.25
    assert acts[0].landed is None and acts[0].tolerance_met is True


def test_a_failed_action_makes_the_run_inconclusive_with_its_message() -> None:
    # chaos run exits 0 here: the journal is "completed" and not deviated.
    j = journal([kill(output=None, status="failed", exception=HARNESS_FAILURE)])
    assert inconclusive_reasons(j) == [
        "action 'kill-one-consumer' failed: No running consumer replica named consumer-9; "
        "running: consumer-1, consumer-2, consumer-3. fix: use a name from the running replicas."
    ]
    assert not any_landed(j)


def test_terminate_pods_that_matched_nothing_is_inconclusive() -> None:
    reasons = inconclusive_reasons(journal([terminate([])]))
    assert reasons == [
        "action 'terminate-one-consumer-pod' had no effect "
        "(chaosk8s.pod.actions.terminate_pods returned [])"
    ]


def test_a_kill_that_hit_nothing_is_inconclusive() -> None:
    assert inconclusive_reasons(journal([kill(output=[])])) == [
        "action 'kill-one-consumer' had no effect "
        "(riverbed.chaos.local.actions.kill_consumers returned [])"
    ]


def test_steady_state_not_met_before_means_no_fault_was_injected() -> None:
    j = journal([], before_met=False, after_met=None, status="failed")
    assert inconclusive_reasons(j) == [
        "the steady state was not met before the method (probe 'consumer-group-converged'), "
        "so no fault was injected"
    ]


def test_deviation_after_the_method_is_a_finding_not_inconclusive() -> None:
    j = journal([kill()], after_met=False, deviated=True)
    assert inconclusive_reasons(j) == []


def test_an_interrupted_run_and_an_empty_method_are_inconclusive() -> None:
    assert inconclusive_reasons(journal([kill()], status="interrupted")) == [
        "the experiment was interrupted before it finished"
    ]
    assert inconclusive_reasons(journal([])) == ["the method has no action: no fault was injected"]


def test_a_failed_rollback_is_inconclusive() -> None:
    j = journal([kill()], rollbacks=[restore(status="failed", exception=HARNESS_FAILURE)])
    (reason,) = inconclusive_reasons(j)
    assert reason.startswith("rollback 'restore-consumer-replicas' failed: No running consumer")


def test_no_journal_is_inconclusive() -> None:
    assert inconclusive_reasons(None) == ["chaos wrote no journal"]
    out = outcome_from_journal(None, "e.json", "e", Path("j"), Path("l"), 1)
    assert out.status == "no-journal" and out.inconclusive and not out.landed


def test_outcome_from_journal_summarises_the_run() -> None:
    j = journal([kill()], after_met=False, deviated=True)
    out = outcome_from_journal(j, "experiments/local/kill-consumer.json", "kill-consumer",
                               Path("j.json"), Path("l.log"), 1)  # fmt: skip
    assert (out.status, out.deviated, out.landed, out.inconclusive) == (
        "completed",
        True,
        True,
        False,
    )
    assert (out.steady_state_before, out.steady_state_after) == (True, False)
    d = out.to_dict()
    assert d["activities"][1]["output"] == ["consumer-2"]
    assert d["inconclusive_reasons"] == []


def test_runner_reasons_come_first_and_are_kept() -> None:
    j = journal([kill()], status="interrupted")
    out = outcome_from_journal(j, "e.json", "e", Path("j"), Path("l"), None, ["chaos run exceeded"])
    assert out.inconclusive_reasons == [
        "chaos run exceeded",
        "the experiment was interrupted before it finished",
    ]
