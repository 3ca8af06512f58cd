"""Campaign schedules: a pure function of the seed, turned into valid experiment files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from riverbed.campaign.experiments import experiment_for, write_experiments
from riverbed.campaign.schedule import (
    DEFAULT_FAULTS,
    FAULTS,
    KUBE_TEMPLATES,
    NETWORK_FAULTS,
    TEMPLATES,
    FaultStep,
    Schedule,
    generate,
    parse_faults,
)
from riverbed.chaos.validate import check_experiment
from riverbed.errors import HarnessError

ROOT = Path(__file__).resolve().parents[2]


def as_json(schedules: list[Schedule]) -> str:
    return json.dumps([s.to_dict() for s in schedules], sort_keys=True)


def test_the_same_seed_gives_the_same_schedules():
    assert as_json(generate(1, 20)) == as_json(generate(1, 20))
    # Run k's schedule does not depend on how many runs were asked for.
    assert as_json(generate(1, 20)[:5]) == as_json(generate(1, 5))


def test_the_same_seed_gives_the_same_schedules_in_another_process():
    code = (
        "import json; from riverbed.campaign.schedule import generate; "
        "print(json.dumps([s.to_dict() for s in generate(42, 10)], sort_keys=True))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"}, cwd=ROOT,
    )  # fmt: skip
    assert other.stdout.strip() == as_json(generate(42, 10))


def test_other_seeds_give_other_schedules():
    assert as_json(generate(1, 10)) != as_json(generate(2, 10))
    described = {s.describe() for seed in range(5) for s in generate(seed, 10)}
    assert len(described) > 40  # 50 schedules, nearly all different


def test_schedules_draw_only_the_faults_asked_for_and_resize_at_most_once():
    schedules = generate(3, 200, ["kill-hard", "pause", "resize"], max_faults=3)
    kinds = [k for s in schedules for k in s.kinds]
    assert set(kinds) == {"kill-hard", "pause", "resize"}
    assert all(s.kinds.count("resize") <= 1 for s in schedules)
    assert all(1 <= len(s.steps) <= 3 for s in schedules)
    assert {len(s.steps) for s in schedules} == {1, 2, 3}


def test_pauses_and_partitions_outlast_the_session_timeout():
    steps = [st for s in generate(5, 100, ["pause", "partition"]) for st in s.steps]
    assert steps
    for st in steps:
        assert st.duration_s is not None and 16 <= st.duration_s <= 24, st
        assert st.target in {"consumer-1", "consumer-2", "consumer-3"}
    longer = [st for s in generate(5, 20, ["pause"], session_timeout_s=30) for st in s.steps]
    assert all(st.duration_s and st.duration_s >= 48 for st in longer)


def test_targets_stay_inside_the_platform():
    for s in generate(9, 100, FAULTS, consumers=2, brokers=3, partitions=4):
        for st in s.steps:
            if st.kind in ("broker-kill", "broker-pause"):
                assert st.target in {"1", "2", "3"}
            elif st.kind == "resize":
                assert 5 <= dict(st.params)["partitions"] <= 7
            elif st.target is not None:
                assert st.target in {"consumer-1", "consumer-2"}
            assert 0 <= st.delay_s <= 5


def test_network_schedules_are_flagged():
    for s in generate(11, 50):
        assert s.network == any(k in NETWORK_FAULTS for k in s.kinds)


def test_bad_fault_names_are_refused_with_the_valid_ones():
    with pytest.raises(HarnessError) as exc:
        parse_faults("kill,pasue")
    assert "pasue" in exc.value.message and "pause" in str(exc.value.fix)
    assert parse_faults("") == DEFAULT_FAULTS
    assert parse_faults("pause, kill-hard,pause") == ("pause", "kill-hard")
    with pytest.raises(HarnessError):
        generate(1, 0)


@pytest.mark.parametrize("kind", FAULTS)
def test_every_fault_becomes_a_valid_experiment_with_literal_parameters(kind, tmp_path):
    (schedule,) = [s for s in generate(21, 200, [kind], max_faults=1)][:1]
    (step,) = schedule.steps
    exp = experiment_for(step, schedule, 1)
    template = json.loads((ROOT / "experiments/local" / f"{TEMPLATES[kind]}.json").read_text())
    # Its own id, the template's shape, and the step's values as literals.
    (ext,) = [e for e in exp["extensions"] if e["name"] == "riverbed"]
    assert ext["id"] == f"r01-1-{kind}" and ext["platform"] == "local"
    assert [a["name"] for a in exp["method"]] == [a["name"] for a in template["method"]]
    changed = {k: v for k, v in exp["configuration"].items() if v != template["configuration"][k]}
    assert changed and all(not isinstance(v, dict) for v in changed.values())
    if step.target and step.target.startswith("consumer-"):
        assert step.target in changed.values()
    first = next(a for a in exp["method"] if a["type"] == "action")
    assert first.get("pauses", {}).get("before", 0) >= step.delay_s
    (path,) = write_experiments(schedule, tmp_path)
    check_experiment(path, "local")
    assert json.loads((tmp_path / "schedule.json").read_text()) == schedule.to_dict()


def test_a_step_describes_itself_for_people():
    step = FaultStep("pause", 2.5, "consumer-2", 21.0)
    assert step.describe() == "pause consumer-2 for 21s after 2.5s"
    broker = FaultStep("broker-kill", 0.0, "3", 9.0)
    assert broker.describe() == "broker-kill broker 3 for 9s after 0s"


@pytest.mark.parametrize("kind", sorted(KUBE_TEMPLATES))
def test_on_kubernetes_every_fault_becomes_a_valid_pod_experiment(kind, tmp_path):
    (schedule,) = generate(21, 1, [kind], max_faults=1, platform="kind")
    (step,) = schedule.steps
    # The experiment picks the pod: no target; the rest as drawn for the local platform.
    (local,) = generate(21, 1, [kind], max_faults=1)[0].steps
    assert step.target is None and step.delay_s == local.delay_s
    assert step.duration_s == (None if kind == "broker-kill" else local.duration_s)
    exp = experiment_for(step, schedule, 1, "kind")
    template = json.loads((ROOT / "experiments" / f"{KUBE_TEMPLATES[kind]}.json").read_text())
    (ext,) = [e for e in exp["extensions"] if e["name"] == "riverbed"]
    assert ext["id"] == f"r01-1-{kind}" and ext["platform"] == "kind"
    assert [a["name"] for a in exp["method"]] == [a["name"] for a in template["method"]]
    changed = {k: v for k, v in exp["configuration"].items() if v != template["configuration"][k]}
    assert all(not isinstance(v, dict) for v in changed.values())
    if step.duration_s is not None:
        assert step.duration_s in changed.values() or int(step.duration_s) in changed.values()
    (path,) = write_experiments(schedule, tmp_path, "kind")
    check_experiment(path, "kind")
    check_experiment(path, "k8s")
