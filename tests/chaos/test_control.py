"""The evidence control: fault records, their phases, and where they are written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from riverbed.chaos import control
from tests.chaos.journals import HARNESS_FAILURE, kill, run, stable_probe, terminate
from workloads.evidence.schema import FILE_TYPES, check


def test_experiment_id_is_the_riverbed_extension_id_else_a_slug_of_the_title() -> None:
    with_ext = {
        "title": "Whatever",
        "extensions": [{"name": "other"}, {"name": "riverbed", "id": "kill-consumer-hard"}],
    }
    assert control.experiment_id(with_ext) == "kill-consumer-hard"
    assert (
        control.experiment_id({"title": "Kill a consumer (SIGKILL)!"}) == "kill-a-consumer-sigkill"
    )
    assert control.experiment_id(None) == "experiment"


def test_a_fault_record_follows_the_evidence_contract() -> None:
    record = control.fault_record("kill-consumer", kill()["activity"], kill(), "method")
    check(record, "faults.jsonl", FILE_TYPES["faults"])
    assert record == {
        "v": 1,
        "type": "fault",
        "experiment": "kill-consumer",
        "activity": "kill-one-consumer",
        "kind": "action",
        "t_start": 1795554002.0,
        "t_end": 1795554002.25,
        "status": "succeeded",
        "output": ["consumer-2"],
        "landed": True,
        "phase": "method",
        "func": "riverbed.chaos.local.actions.kill_consumers",
    }


def test_a_failed_action_records_its_error_and_did_not_land() -> None:
    failed = kill(output=None, status="failed", exception=HARNESS_FAILURE)
    record = control.fault_record("e", failed["activity"], failed, "method")
    assert (record["status"], record["landed"]) == ("failed", False)
    assert record["error"].startswith("No running consumer replica named consumer-9")


def test_probes_have_no_landed_field_and_terminate_pods_matching_nothing_did_not_land() -> None:
    probe = stable_probe()
    assert "landed" not in control.fault_record(
        "e", probe["activity"], probe, "steady-state-before"
    )
    empty = terminate([])
    assert control.fault_record("e", empty["activity"], empty, "method")["landed"] is False


def test_huge_outputs_are_truncated_and_odd_values_made_json() -> None:
    big = control.jsonable({"x": "a" * 50_000})
    assert big["truncated"] is True and big["chars"] > 50_000 and len(big["head"]) == 2000
    assert control.jsonable({"p": Path("/x"), "t": (1, 2)}) == {"p": "/x", "t": [1, 2]}


def test_faults_path_prefers_riverbed_run_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIVERBED_RUN_DIR", str(tmp_path / "run"))
    assert control.resolve_faults_path() == (tmp_path / "run" / "evidence" / "faults.jsonl", None)
    assert control.resolve_faults_path("/x/f.jsonl") == (Path("/x/f.jsonl"), None)


def test_faults_path_falls_back_to_the_working_directory_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RIVERBED_RUN_DIR", raising=False)
    monkeypatch.setenv("RIVERBED_LOCAL_STATE_DIR", str(tmp_path / "no-platform"))
    monkeypatch.chdir(tmp_path)
    path, warning = control.resolve_faults_path()
    assert path == tmp_path / "evidence" / "faults.jsonl"
    assert warning and "RIVERBED_RUN_DIR is not set" in warning


def test_hooks_write_every_activity_with_its_phase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hooks in the order chaostoolkit-lib calls them for a plain run."""
    monkeypatch.setenv("RIVERBED_RUN_DIR", str(tmp_path))
    experiment = {"title": "T", "extensions": [{"name": "riverbed", "id": "kill-consumer"}]}
    control.configure_control(experiment=experiment)
    for hook_phase in ("before", "after"):
        if hook_phase == "after":
            control.before_method_control(context=experiment)
            control.after_activity_control(context=kill()["activity"], state=kill())
            control.after_method_control(context=experiment)
        control.before_hypothesis_control(context={})
        control.after_activity_control(context=stable_probe()["activity"], state=stable_probe())
        control.after_hypothesis_control(context={})
    control.before_rollback_control(context=experiment)
    restore = run(
        "restore",
        "action",
        "riverbed.chaos.local.actions",
        "restore_consumers",
        {"before": 3, "after": 3},
    )
    control.after_activity_control(context=restore["activity"], state=restore)
    control.after_experiment_control(context=experiment)

    lines = (tmp_path / "evidence" / "faults.jsonl").read_text().splitlines()
    records = [check(json.loads(line), "faults.jsonl", FILE_TYPES["faults"]) for line in lines]
    assert [(r["experiment"], r["activity"], r["phase"]) for r in records] == [
        ("kill-consumer", "consumer-group-converged", "steady-state-before"),
        ("kill-consumer", "kill-one-consumer", "method"),
        ("kill-consumer", "consumer-group-converged", "steady-state-after"),
        ("kill-consumer", "restore", "rollback"),
    ]
