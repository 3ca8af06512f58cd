"""The runner drives the real `chaos` CLI: journal and log in the run directory, rollbacks
always, a timeout that interrupts cleanly, and no journal read as inconclusive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from riverbed.chaos.runner import resolve_experiment, run_experiment
from riverbed.errors import HarnessError

CONTROL = [
    {
        "name": "riverbed-evidence",
        "provider": {"type": "python", "module": "riverbed.chaos.control"},
    }
]


def experiment(tmp_path: Path, method: list[dict[str, Any]], name: str = "tiny") -> Path:
    exp = {
        "version": "1.0.0",
        "title": "A tiny experiment",
        "description": "Runs local processes only.",
        "extensions": [{"name": "riverbed", "id": name}],
        "controls": CONTROL,
        "steady-state-hypothesis": {
            "title": "true is true",
            "probes": [{"type": "probe", "name": "true", "tolerance": 0,
                        "provider": {"type": "process", "path": "true"}}],
        },  # fmt: skip
        "method": method,
        "rollbacks": [{"type": "action", "name": "rollback-echo",
                       "provider": {"type": "process", "path": "echo", "arguments": "rolled back"}}],
    }  # fmt: skip
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(exp))
    return path


def action(name: str, path: str, arguments: str) -> dict[str, Any]:
    return {
        "type": "action",
        "name": name,
        "provider": {"type": "process", "path": path, "arguments": arguments},
    }


def test_rollbacks_run_although_the_hypothesis_fails_and_files_land_in_the_run_dir(
    tmp_path: Path,
) -> None:
    # The steady-state probe runs `false`: its exit status 1 is outside the tolerance (0).
    exp = experiment(tmp_path, [action("echo-fault", "echo", "fault")])
    data = json.loads(exp.read_text())
    data["steady-state-hypothesis"]["probes"][0]["provider"]["path"] = "false"
    exp.write_text(json.dumps(data))
    run_dir = tmp_path / "run"
    out = run_experiment(exp, run_dir, timeout_s=120)
    assert out.journal_path == run_dir / "chaos" / "tiny.journal.json" and out.journal_path.exists()
    assert out.log_path == run_dir / "chaos" / "tiny.log" and out.log_path.exists()
    # chaos exits 0 although the method never ran: only the journal tells.
    assert out.exit_code == 0 and out.status == "completed" and out.steady_state_before is False
    # --rollback-strategy=always: rolled back although the method never ran.
    assert [a.name for a in out.activities if a.phase == "rollback"] == ["rollback-echo"]
    assert out.inconclusive_reasons == [
        "the steady state was not met before the method (probe 'true'), so no fault was injected"
    ]
    faults = [
        json.loads(line)
        for line in (run_dir / "evidence" / "faults.jsonl").read_text().splitlines()
    ]
    assert [(f["experiment"], f["activity"], f["phase"]) for f in faults] == [
        ("tiny", "true", "steady-state-before"),
        ("tiny", "rollback-echo", "rollback"),
    ]


def test_a_second_run_of_the_same_experiment_does_not_overwrite_the_first(tmp_path: Path) -> None:
    exp = experiment(tmp_path, [action("echo-fault", "echo", "fault")])
    first = run_experiment(exp, tmp_path / "run", timeout_s=120)
    second = run_experiment(exp, tmp_path / "run", timeout_s=120)
    assert (first.name, second.name) == ("tiny", "tiny-2")
    assert first.journal_path.exists() and second.journal_path.exists()
    assert second.landed and not second.inconclusive


def test_a_run_past_its_timeout_is_interrupted_rolled_back_and_inconclusive(tmp_path: Path) -> None:
    exp = experiment(tmp_path, [action("sleep-long", "sleep", "60")])
    out = run_experiment(exp, tmp_path / "run", timeout_s=5)
    assert out.t_end is not None and out.t_start is not None and out.t_end - out.t_start < 50
    assert out.status == "interrupted"
    assert out.inconclusive_reasons[0] == "chaos run exceeded its 5s timeout and was interrupted"
    assert "the experiment was interrupted before it finished" in out.inconclusive_reasons
    assert [a.name for a in out.activities if a.phase == "rollback"] == ["rollback-echo"]


def test_an_invalid_experiment_leaves_no_journal_and_is_inconclusive(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"title": "no description, no method"}))
    out = run_experiment(bad, tmp_path / "run", timeout_s=120)
    assert out.exit_code == 1 and out.status == "no-journal"
    assert out.inconclusive_reasons == [f"chaos wrote no journal (exit code 1); see {out.log_path}"]
    assert "experiment requires a description" in out.log_path.read_text()


def test_a_missing_experiment_is_a_harness_error_listing_the_names(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="No experiment") as err:
        run_experiment(tmp_path / "nope.json", tmp_path / "run")
    assert "kill-consumer-hard" in str(err.value)


def test_experiments_are_found_by_name_per_platform() -> None:
    root = Path(__file__).resolve().parents[2] / "experiments"
    assert resolve_experiment("kill-consumer") == root / "local" / "kill-consumer.json"
    assert (
        resolve_experiment("kill-consumer-hard.json") == root / "local" / "kill-consumer-hard.json"
    )
    assert resolve_experiment("kill-consumer-pod", "kind") == root / "kill-consumer-pod.json"
    with pytest.raises(HarnessError, match="(?s)for the local platform.*kill-consumer-hard"):
        resolve_experiment("kill-consumer-pod", "local")
