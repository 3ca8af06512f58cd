"""`riverbed campaign --max-recovery/--max-lag`: every run of the campaign gets the budgets."""

from __future__ import annotations

from pathlib import Path

from riverbed.campaign.runner import run_spec_for
from riverbed.campaign.schedule import generate
from riverbed.commands import recovery_limits
from riverbed.spec import RunSpec


def test_every_run_of_a_campaign_carries_its_budgets(tmp_path: Path) -> None:
    limits = recovery_limits("15s", 5000)
    assert limits == {
        "time_to_full_ownership_s": 15.0,
        "max_processing_gap_s": 15.0,
        "max_lag": 5000,
    }
    base = RunSpec("campaign-7", limits=limits)
    for schedule in generate(7, 3):
        spec = run_spec_for(base, schedule, [tmp_path / "a.json"])
        assert spec.limits == limits


def test_no_budget_flags_no_limits() -> None:
    assert recovery_limits(None, None) is None
