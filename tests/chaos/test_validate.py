"""Experiments are checked before a run starts anything: bad ones cost seconds and exit 4."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from riverbed.chaos.validate import check_experiment, check_experiments
from riverbed.errors import HarnessError

ROOT = Path(__file__).resolve().parents[2]
LOCAL = sorted((ROOT / "experiments" / "local").glob("*.json"))
KUBE = sorted((ROOT / "experiments").glob("*.json"))


@pytest.mark.parametrize("path", LOCAL, ids=lambda p: p.stem)
def test_every_local_experiment_is_valid_for_the_local_platform(path):
    check_experiment(path, "local")


@pytest.mark.parametrize("path", KUBE, ids=lambda p: p.stem)
def test_every_kubernetes_experiment_is_valid_for_kind_and_k8s(path):
    check_experiment(path, "kind")
    check_experiment(path, "k8s")


@pytest.mark.parametrize("path", KUBE, ids=lambda p: p.stem)
def test_no_kubernetes_experiment_pins_a_context(path):
    """The context comes from KUBERNETES_CONTEXT, which `riverbed run --context` sets:
    a context pinned in the secrets would send pod kills to that cluster whatever
    the user asked for."""
    experiment = json.loads(path.read_text())
    for secret in experiment.get("secrets", {}).values():
        assert "KUBERNETES_CONTEXT" not in secret


def test_an_experiment_for_another_platform_is_refused(tmp_path):
    with pytest.raises(HarnessError, match="written for the kind platform; this run is on local"):
        check_experiment(KUBE[0], "local")
    with pytest.raises(HarnessError, match="written for the local platform"):
        check_experiment(LOCAL[0], "kind")


def test_a_file_that_is_not_json_names_the_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "title": "x",\n  oops\n}\n')
    with pytest.raises(HarnessError, match=r"bad.json is not valid JSON: .* line 3"):
        check_experiment(bad)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(HarnessError, match="does not exist"):
        check_experiments([str(tmp_path / "nope.json")])


def test_an_activity_whose_module_cannot_be_imported_is_named(tmp_path):
    experiment = json.loads(LOCAL[0].read_text())
    experiment["method"][0]["provider"]["module"] = "riverbed.chaos.local.no_such_module"
    bad = tmp_path / "bad-module.json"
    bad.write_text(json.dumps(experiment))
    with pytest.raises(HarnessError, match="could not find Python module"):
        check_experiment(bad, "local")


def test_an_activity_with_arguments_its_function_does_not_take_is_named(tmp_path):
    experiment = json.loads((ROOT / "experiments/local/kill-consumer.json").read_text())
    experiment["method"][0]["provider"].setdefault("arguments", {})["no_such_argument"] = 1
    bad = tmp_path / "bad-args.json"
    bad.write_text(json.dumps(experiment))
    with pytest.raises(HarnessError, match="not valid"):
        check_experiment(bad, "local")


def test_riverbed_run_refuses_a_bad_experiment_within_seconds_before_starting_kafka(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    env = {
        **os.environ,
        "RIVERBED_KAFKA_STATE_DIR": str(tmp_path / "kafka"),
        "RIVERBED_LOCAL_STATE_DIR": str(tmp_path / "local"),
        "RIVERBED_RUNS_DIR": str(tmp_path / "runs"),
    }
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "riverbed.cli", "run", "--experiment", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 4, r.stderr
    assert "bad.json is not valid JSON" in r.stderr
    assert time.monotonic() - t0 < 20
    # Nothing was started: no Kafka state, no run directory.
    assert not (tmp_path / "kafka").exists()
    assert not (tmp_path / "runs").exists()
