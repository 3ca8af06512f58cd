"""`riverbed run --client confluent-kafka --group-protocol consumer` (KIP-848) end to end, and
`riverbed compare` of a classic and a consumer-protocol run of the same scenario."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.run.test_run_local import KILL_HARD, ROOT, SCENARIO, riverbed, riverbed_env

pytestmark = pytest.mark.integration

RESIZE = str(ROOT / "experiments/local/resize-partitions.json")
CONSUMER_PROTOCOL = ["--client", "confluent-kafka", "--group-protocol", "consumer"]
#: Kill, then resize, in one run: long enough for both experiments to converge (after
#: SCENARIO on the command line, so that its duration wins).
KILL_AND_RESIZE = ["--experiment", KILL_HARD, "--experiment", RESIZE, "--duration", "60s"]


def summary_of(run_dir: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((run_dir / "summary.json").read_text())


def test_consumer_protocol_run_under_a_hard_kill_passes(kafka, tmp_path):
    env = riverbed_env(kafka, tmp_path)
    r = riverbed(
        ["run", "--experiment", KILL_HARD, *CONSUMER_PROTOCOL, *SCENARIO, "--run-id", "cp"], env
    )
    assert r.returncode == 0, r.stdout + r.stderr
    run_dir = tmp_path / "runs" / "cp"
    spec = json.loads((run_dir / "spec.json").read_text())
    assert (spec["client"], spec["group_protocol"], spec["assignor"]) == (
        "confluent-kafka",
        "consumer",
        "uniform",
    )
    # The run's session timeout became the group's (broker-side) setting.
    assert spec["group_configs"] == {
        "consumer.session.timeout.ms": "10000",
        "consumer.heartbeat.interval.ms": "3000",
    }
    summary = summary_of(run_dir)
    assert summary["verdict"] == "pass"
    assert summary["counts"]["never-processed"] == 0
    (kill,) = summary["rebalances"]
    # Incremental: only the killed member's partition paused; the others kept consuming.
    assert (
        kill["paused_partitions"] == kill["moved_partitions"] and len(kill["moved_partitions"]) == 1
    )
    assert kill["members_kept_consuming"] == kill["unaffected_members"] == 2
    groups = [json.loads(x) for x in (run_dir / "evidence/group.jsonl").read_text().splitlines()]
    assert {g["group_type"] for g in groups} == {"consumer"}
    starts = [
        json.loads(p.read_text().splitlines()[0])
        for p in (run_dir / "evidence/consumed").glob("*.jsonl")
    ]
    assert {(s["client"], s["group_protocol"]) for s in starts} == {("confluent-kafka", "consumer")}


@pytest.mark.slow
@pytest.mark.browser
def test_kill_and_resize_classic_versus_consumer_protocol_compared(kafka, tmp_path):
    from tests.reports.test_browser import CHROMIUM, render_compare_in_chromium

    env = riverbed_env(kafka, tmp_path)
    for run_id, extra in (("classic", []), ("consumer", CONSUMER_PROTOCOL)):
        r = riverbed(
            ["run", *SCENARIO, *KILL_AND_RESIZE, *extra, "--run-id", run_id], env, timeout=600
        )
        assert r.returncode == 0, r.stdout + r.stderr
    runs = tmp_path / "runs"
    out = tmp_path / "compare"
    r = riverbed(["compare", str(runs / "classic"), str(runs / "consumer"), "--out", str(out)], env)
    assert r.returncode == 0, r.stderr
    comparison = json.loads((out / "compare.json").read_text())
    kill, resize = comparison["faults"]
    assert (kill["fault"], resize["fault"]) == (
        "kill-consumer-hard/kill-one-consumer",
        "resize-partitions/add-partitions",
    )
    figures = {f["figure"]: f["values"] for f in kill["figures"]}
    # Eager range: the replacement's join revokes everything; KIP-848: only the dead one's.
    assert figures["kept_consuming"] == ["0 of 2", "2 of 2"]
    assert figures["paused"][1] == 1 and figures["paused"][0] == 3
    resize_figures = {f["figure"]: f["values"] for f in resize["figures"]}
    assert resize_figures["moved"][1] == 0  # the new partitions go to members; none moves
    assert all(v is not None for v in resize_figures["first_consumption_s"])
    if CHROMIUM.exists():
        seen = render_compare_in_chromium(out / "compare.html", "compare-kip848.png")
        assert seen["errors"] == []
        assert seen["drawn"] == [2, 2]


@pytest.mark.slow
def test_consumer_protocol_before_process_under_kill_and_resize_is_caught(kafka, tmp_path):
    env = riverbed_env(kafka, tmp_path)
    r = riverbed(
        [
            "run",
            *SCENARIO,
            *KILL_AND_RESIZE,
            *CONSUMER_PROTOCOL,
            "--commit-mode",
            "before-process",
            "--run-id",
            "unsafe",
        ],
        env,
        timeout=600,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    summary = summary_of(tmp_path / "runs" / "unsafe")
    assert summary["counts"]["never-processed"] > 0
    assert summary["checks"]["never-processed"]["status"] == "fail"
    assert summary["checks"]["lost-from-log"]["status"] == "pass"


@pytest.mark.slow
def test_consumer_protocol_after_process_under_kill_and_resize_passes(kafka, tmp_path):
    env = riverbed_env(kafka, tmp_path)
    r = riverbed(
        ["run", *SCENARIO, *KILL_AND_RESIZE, *CONSUMER_PROTOCOL, "--run-id", "safe"],
        env,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    summary = summary_of(tmp_path / "runs" / "safe")
    assert summary["verdict"] == "pass"
    kill, resize = summary["rebalances"]
    assert resize["new_partitions"] == [3, 4, 5]
    assert set(resize["first_consumption_s"]) == {"3", "4", "5"}
    assert resize["members_kept_consuming"] == resize["unaffected_members"] == 3
