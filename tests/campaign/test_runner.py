"""The campaign loop around the run pipeline: each run's spec, and what a harness error does.

The pipeline itself (``riverbed.runner.execute``) is replaced here by a stand-in that
raises, so that the loop's handling of errors is tested in milliseconds; the real
pipeline runs in the integration campaign (tests/run/test_campaign_user_consumer.py).
"""

from __future__ import annotations

import contextlib
import json

import pytest

from riverbed.campaign.runner import run_campaign, run_spec_for
from riverbed.campaign.schedule import generate
from riverbed.errors import HarnessError
from riverbed.spec import RunSpec


def user_base() -> RunSpec:
    return RunSpec(
        "campaign-5",
        consumer_cmd="python transform.py",
        consumer_cwd="/srv/app",
        consumer_evidence="output-topic",
        output_topic="enriched",
        commit_mode=None,
        assignor=None,
        processing_ms=None,
    ).validate()


def test_each_run_gets_topics_of_its_own_and_a_fresh_output_topic(tmp_path):
    schedules = generate(5, 4, ["kill-hard", "latency"])
    specs = [run_spec_for(user_base(), s, []) for s in schedules]
    assert len({s.topic for s in specs}) == len({s.group for s in specs}) == 4
    outputs = [s.output_topic for s in specs]
    assert len(set(outputs)) == 4
    assert all(
        o and o.startswith("enriched-") and o.endswith(s.name)
        for o, s in zip(outputs, schedules, strict=True)
    )
    # Consumers go through the proxies only in runs with a network fault, as `riverbed run`.
    assert [s.network_faults for s in specs] == [s.network for s in schedules]
    assert specs[0].consumer_cmd == "python transform.py" and specs[0].commit_mode is None


def test_the_reference_consumer_has_no_output_topic(tmp_path):
    base = RunSpec("campaign-5").validate()
    spec = run_spec_for(base, generate(5, 1, ["kill"])[0], [])
    assert spec.output_topic is None and spec.commit_mode == "after-process"


@pytest.fixture
def failing_pipeline(monkeypatch):
    """``execute`` stand-in: every run stops on the same harness error before anything starts."""
    calls: list[str] = []

    def execute(spec, run_dir, platform, progress, say):
        calls.append(spec.run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        spec.interrupted = True
        spec.write(run_dir)
        raise HarnessError(
            f"Toxiproxy did not start; see {run_dir}/logs/toxiproxy.log.",
            fix="run `riverbed down` first.",
        )

    monkeypatch.setattr("riverbed.runner.execute", execute)
    return calls


def test_a_harness_error_prints_its_fix_and_the_same_one_twice_stops_the_campaign(
    tmp_path, failing_pipeline
):
    said: list[str] = []
    records, interrupted = run_campaign(
        generate(5, 4, ["kill"]),
        RunSpec("campaign-5").validate(),
        tmp_path,
        {"seed": 5, "faults": ["kill"], "max_faults": 2},
        say=said.append,
        progress_factory=lambda title: contextlib.nullcontext(lambda text: None),
        platform_factory=lambda: None,
    )
    assert not interrupted
    assert failing_pipeline == ["campaign-5-r01", "campaign-5-r02"]
    assert "fix: run `riverbed down` first." in said
    assert [r.verdict for r in records] == ["error", "error", "not-run", "not-run"]
    # The same error, though each names its own run's log.
    assert records[0].error == {
        "message": f"Toxiproxy did not start; see {tmp_path}/runs/r01/logs/toxiproxy.log.",
        "fix": "run `riverbed down` first.",
    }
    data = json.loads((tmp_path / "campaign.json").read_text())
    assert "the same harness error stopped two runs in a row" in data["stopped"]
    assert data["exit_code"] == 3  # a harness error stopped the campaign
    # The replay command comes from the run's own spec.json.
    assert data["matrix"][0]["replay"].startswith("riverbed run --experiment")
