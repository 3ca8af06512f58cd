"""Pauses, network faults and campaigns through `riverbed run` / `riverbed campaign`, judged
by the report: the safe consumer passes (redeliveries inside the window, zombies counted),
the unsafe one is caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.run.test_run_local import ROOT, SCENARIO, riverbed, riverbed_env, run_dir_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PAUSE = str(ROOT / "experiments/local/pause-consumer.json")
PARTITION = str(ROOT / "experiments/local/network-partition.json")
PAUSE_BROKER = str(ROOT / "experiments/local/pause-broker.json")


def summary_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def test_a_zombie_pause_passes_the_safe_consumer_with_redeliveries_inside_the_window(
    kafka, tmp_path
):
    env = {**riverbed_env(kafka, tmp_path), "RIVERBED_PAUSE_S": "20"}
    r = riverbed(["run", "--experiment", PAUSE, *SCENARIO, "--duration", "50s"], env, timeout=600)
    run_dir = run_dir_of(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    s = summary_of(run_dir)
    assert s["verdict"] == "pass"
    rb = s["checks"]["rebalance"]["counts"]
    assert rb["zombie_overlaps"] >= 1 and rb["split_overlaps"] == 0
    red = s["checks"]["redelivered"]["counts"]
    assert red["redelivered"] > 0 and red["illegal"] == 0
    (row,) = s["rebalances"]
    fencing = row["fencing"]
    assert fencing["lost"] + fencing["commits_rejected"] >= 1


def test_a_zombie_pause_catches_the_before_process_consumer(kafka, tmp_path):
    env = {**riverbed_env(kafka, tmp_path), "RIVERBED_PAUSE_S": "20"}
    r = riverbed(
        ["run", "--experiment", PAUSE, "--commit-mode", "before-process", *SCENARIO,
         "--duration", "50s"],
        env, timeout=600,
    )  # fmt: skip
    run_dir = run_dir_of(tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    never = summary_of(run_dir)["checks"]["never-processed"]
    assert never["status"] == "fail" and never["counts"]["never-processed"] > 0
    # What the group skipped is what the zombie had committed before processing it.
    assert never["counts"]["zombie-only"] > 0
    assert any("zombie" in e["detail"] for e in never["examples"])


def test_a_consumer_cut_off_from_the_coordinator_passes_the_safe_consumer(kafka, tmp_path):
    env = {**riverbed_env(kafka, tmp_path), "RIVERBED_NET_S": "20"}
    r = riverbed(
        ["run", "--experiment", PARTITION, *SCENARIO, "--duration", "50s"], env, timeout=600
    )
    run_dir = run_dir_of(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["network_faults"] is True
    s = summary_of(run_dir)
    assert s["verdict"] == "pass"
    (row,) = s["rebalances"]
    assert row["fencing"]["lost"] + row["fencing"]["commits_rejected"] >= 1


def test_a_paused_broker_is_judged_without_false_alarms(kafka, tmp_path):
    env = {**riverbed_env(kafka, tmp_path), "RIVERBED_BROKER_PAUSE_S": "15"}
    r = riverbed(
        ["run", "--experiment", PAUSE_BROKER, *SCENARIO, "--duration", "50s"], env, timeout=600
    )
    run_dir = run_dir_of(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    s = summary_of(run_dir)
    assert s["verdict"] == "pass"
    ind = s["checks"]["indeterminate"]
    # Sends that timed out while the leader was frozen are unknown: recovered or
    # indeterminate, never a failure by themselves.
    assert ind["status"] == "pass"
    assert s["checks"]["lost-from-log"]["status"] == "pass"


def test_campaign_of_three_seeded_runs(kafka, tmp_path):
    env = riverbed_env(kafka, tmp_path)
    out = tmp_path / "campaign"
    r = riverbed(
        ["campaign", "--runs", "3", "--seed", "1", "--campaign-dir", str(out),
         "--duration", "45s", "--warmup", "8s", "--cooldown", "5s"],
        env, timeout=1500,
    )  # fmt: skip
    data = json.loads((out / "campaign.json").read_text())
    assert r.returncode == data["exit_code"] == 0, r.stdout + r.stderr
    assert data["seed"] == 1 and data["ran"] == 3 and data["tally"] == {"pass": 3}
    # The schedules are seed 1's, and each run is an ordinary run directory.
    from riverbed.campaign.schedule import generate

    expected = [s.to_dict() for s in generate(1, 3)]
    assert [row["schedule"] for row in data["matrix"]] == expected
    for row in data["matrix"]:
        run_dir = out / row["run_dir"]
        assert (run_dir / "report.html").exists() and (out / row["report"]).exists()
        spec = json.loads((run_dir / "spec.json").read_text())
        assert [Path(e).parent.name for e in spec["experiments"]] == ["experiments"] * len(
            row["schedule"]["steps"]
        )
        assert all(c["landed"] for c in spec["chaos"])
        assert set(row["checks"].values()) == {"pass"}
    assert (out / "campaign.html").exists() and (out / "junit.xml").exists()
