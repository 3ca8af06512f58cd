"""Recovery budgets and Chaos Toolkit variables on real runs: real Kafka, real Locust,
a real `chaos run` hard-killing a real consumer process.

A SIGKILLed classic-protocol member is noticed only when its session times out: its
partitions wait that long for an owner. With a 45 s session timeout a 15 s recovery
budget must fail the run, naming the fault, the figure and the budget; with a 10 s one
the same budget passes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.run.test_run_local import KILL_HARD, riverbed, riverbed_env, run_dir_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Long enough for the 45 s session to expire, the group to recover and the
#: experiment's hypothesis to see it, under load.
RECOVERY_SCENARIO = [
    "--duration", "110s", "--warmup", "10s", "--cooldown", "10s",
    "--users", "5", "--spawn-rate", "5", "--key-space", "300", "--drain-deadline", "90s",
    "--max-recovery", "15s",
]  # fmt: skip
#: A whole run's deadline: start-up, load, chaos, drains and the report, on a busy machine.
RUN_DEADLINE_S = 600


def _recovery_run(kafka, tmp_path, session_timeout_ms: int):
    env = riverbed_env(kafka, tmp_path)
    r = riverbed(
        [
            "run",
            "--experiment",
            KILL_HARD,
            "--session-timeout-ms",
            str(session_timeout_ms),
            *RECOVERY_SCENARIO,
        ],
        env,
        timeout=RUN_DEADLINE_S,
    )
    run_dir = run_dir_of(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    return r, summary, json.loads((run_dir / "spec.json").read_text())


def test_a_45s_session_timeout_fails_a_15s_recovery_budget(kafka, tmp_path):
    r, summary, spec = _recovery_run(kafka, tmp_path, 45_000)
    output = r.stdout + r.stderr
    assert spec["limits"] == {"time_to_full_ownership_s": 15.0, "max_processing_gap_s": 15.0}
    assert r.returncode == 1, output
    assert summary["verdict"] == "fail" and summary["outcome"] == "fail"
    rebalance = summary["checks"]["rebalance"]
    assert rebalance["status"] == "fail", rebalance
    (row,) = summary["rebalances"]
    assert row["time_to_full_ownership_s"] > 30, row  # the session timeout, not the restart
    assert "time_to_full_ownership_s" in row["over_budget"]
    assert row["budgets"]["time_to_full_ownership_s"] == 15.0
    over = [e for e in rebalance["examples"] if e.get("figure") == "time_to_full_ownership_s"]
    assert over and over[0]["budget"] == 15.0 and over[0]["fault"] == row["fault"]
    assert "exceeds the budget 15 s (--max-recovery)" in rebalance["explanation"]
    # Nothing else failed: the budget alone turned this run red.
    failing = {n for n, c in summary["checks"].items() if c["status"] == "fail"}
    assert failing == {"rebalance"}, summary["checks"]


def test_a_10s_session_timeout_passes_the_same_budget(kafka, tmp_path):
    r, summary, _ = _recovery_run(kafka, tmp_path, 10_000)
    assert r.returncode == 0, r.stdout + r.stderr
    (row,) = summary["rebalances"]
    assert row["over_budget"] == []
    assert row["time_to_full_ownership_s"] <= 15.0
    assert summary["checks"]["rebalance"]["status"] == "pass"


def test_a_yaml_experiment_gets_its_var_file_in_chaos_run(kafka, tmp_path):
    """A YAML experiment and a --var-file, as a Chaos Toolkit user writes them: the
    variable reaches the experiment's configuration in `chaos run` (it picks the replica
    to kill)."""
    experiment = tmp_path / "kill-hard.yaml"
    data = json.loads(Path(KILL_HARD).read_text())
    experiment.write_text(yaml.safe_dump(data, sort_keys=False))
    var_file = tmp_path / "staging.yaml"
    var_file.write_text(yaml.safe_dump({"configuration": {"kill_names": "consumer-2"}}))
    env = riverbed_env(kafka, tmp_path)
    r = riverbed(
        [
            "run",
            "--experiment",
            str(experiment),
            "--var-file",
            str(var_file),
            "--var",
            "kill_count:int=1",
            "--duration",
            "35s",
            "--warmup",
            "8s",
            "--cooldown",
            "5s",
            "--users",
            "5",
            "--spawn-rate",
            "5",
            "--drain-deadline",
            "90s",
        ],  # fmt: skip
        env,
        timeout=RUN_DEADLINE_S,
    )
    run_dir = run_dir_of(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["chaos_vars"] == {"var": {"kill_count:int": "1"}, "var_file": [str(var_file)]}
    faults = [
        json.loads(line)
        for line in (run_dir / "evidence" / "faults.jsonl").read_text().splitlines()
    ]
    (kill,) = [f for f in faults if f["activity"] == "kill-one-consumer"]
    assert kill["landed"] and kill["output"] == ["consumer-2"], kill
    journal = json.loads((run_dir / "chaos" / "kill-hard.journal.json").read_text())
    assert journal["experiment"]["title"] == data["title"]
