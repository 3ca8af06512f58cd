"""Recovery budgets (--max-recovery, --max-lag) judged by the rebalance check, on literal
tiny evidence: each budget catches the figure it bounds, passes one within it, names
the fault, the figure and the budget, and never fails on a figure the evidence lacks.

In ``baseline()`` the consumer kill lands at t=4.5; full ownership comes back 3.6 s
later, the orphaned partition's longest processing gap is 5.0 s, and the group
snapshots see a lag of 12 records at 2.5 s (before anything was committed), then 3.
"""

from __future__ import annotations

import re

import pytest

from reports import build
from reports.compare import RunData, compare
from tests.reports.builder import baseline
from tests.reports.conftest import not_passing


def _budgets(run, **limits):
    run.spec["limits"] = limits
    return run


def test_recovery_within_the_budget_passes(check_run):
    s = check_run(_budgets(baseline(), time_to_full_ownership_s=15, max_processing_gap_s=15))
    assert not_passing(s) == {}
    (row,) = s.rebalances
    assert row["budgets"] == {"time_to_full_ownership_s": 15, "max_processing_gap_s": 15}
    assert row["over_budget"] == []
    assert "budgets time_to_full_ownership_s ≤ 15 s" in s.check("rebalance").explanation


def test_recovery_over_the_budget_fails_naming_fault_figure_and_budget(check_run):
    s = check_run(_budgets(baseline(), time_to_full_ownership_s=3, max_processing_gap_s=3))
    rebalance = s.check("rebalance")
    assert not_passing(s) == {"rebalance": "fail"}
    assert rebalance.count == 2 and rebalance.counts["over_budget"] == 2
    assert (
        "kill-consumer-hard/kill-consumer: time_to_full_ownership_s 3.6 s exceeds the budget "
        "3 s (--max-recovery)" in rebalance.explanation
    )
    figures = {e["figure"]: (e["value"], e["budget"]) for e in rebalance.examples if "figure" in e}
    assert figures == {"time_to_full_ownership_s": (3.6, 3), "max_processing_gap_s": (5.0, 3)}
    assert s.rebalances[0]["over_budget"] == ["time_to_full_ownership_s", "max_processing_gap_s"]


def test_the_gap_alone_can_break_the_recovery_budget(check_run):
    s = check_run(_budgets(baseline(), time_to_full_ownership_s=4, max_processing_gap_s=4))
    assert s.rebalances[0]["over_budget"] == ["max_processing_gap_s"]
    assert "max_processing_gap_s 5 s exceeds the budget 4 s" in s.check("rebalance").explanation


def test_lag_over_the_budget_after_the_fault_fails(check_run):
    s = check_run(_budgets(baseline(), max_lag=2))
    assert not_passing(s) == {"rebalance": "fail"}
    assert s.rebalances[0]["max_lag"] == 3
    assert "max_lag 3 records exceeds the budget 2 records (--max-lag)" in (
        s.check("rebalance").explanation
    )


def test_lag_at_the_budget_passes(check_run):
    s = check_run(_budgets(baseline(), max_lag=3))
    assert not_passing(s) == {}
    assert s.rebalances[0]["over_budget"] == []


def test_lag_is_judged_after_the_warm_up_only(check_run):
    # The load started at 0 with a 2 s warm-up: the 12 records behind at 2.5 s count…
    run = _budgets(baseline(), max_lag=5)
    run.spec["t_load"] = 0.0
    run.spec["load"] = {"warmup_s": 2.0}
    s = check_run(run)
    assert not_passing(s) == {"rebalance": "fail"}
    assert "(steady load before the first fault): max_lag 12 records exceeds" in (
        s.check("rebalance").explanation
    )
    # … a 3 s warm-up covers them.
    run.spec["load"] = {"warmup_s": 3.0}
    assert not_passing(check_run(run)) == {}


def test_no_group_snapshots_no_lag_verdict(check_run):
    """The lag comes from the group snapshots: without them the budget judges nothing."""
    run = _budgets(baseline(), max_lag=0)
    run.group.clear()
    s = check_run(run)
    assert s.rebalances[0]["max_lag"] is None
    assert "rebalance" not in not_passing(s)


def test_budgets_at_offsets_strength_judge_the_group_view(check_run):
    run = _budgets(baseline(), time_to_full_ownership_s=1, max_lag=2)
    run.spec.update(consumer_cmd="java -jar app.jar", consumer_evidence="offsets")
    run.members.clear()
    s = check_run(run)
    rebalance = s.check("rebalance")
    assert rebalance.status == "fail"
    assert {e.get("figure") for e in rebalance.examples} >= {"max_lag"}


# ---- a baseline without faults (--no-faults) ---------------------------------------------------


def _no_faults(run):
    run.faults.clear()
    run.spec.update(experiments=[], no_faults=True)
    return run


def test_a_baseline_without_faults_rests_on_the_load_alone(check_run):
    s = check_run(_no_faults(baseline()))
    assert s.verdict == "pass", not_passing(s)
    assert "baseline without faults" in s.check("vacuity").explanation
    assert "baseline without faults" in s.check("rebalance").explanation


def test_no_fault_without_asking_for_a_baseline_is_inconclusive(check_run):
    run = _no_faults(baseline())
    run.spec["no_faults"] = False
    s = check_run(run)
    assert not_passing(s) == {"rebalance": "inconclusive", "vacuity": "inconclusive"}


def test_a_baseline_still_judges_its_lag_budget(check_run):
    run = _budgets(_no_faults(baseline()), max_lag=5)
    run.spec["t_load"] = 0.0
    run.spec["load"] = {"warmup_s": 2.0}
    s = check_run(run)
    assert not_passing(s) == {"rebalance": "fail"}


# ---- where budgets show ----------------------------------------------------------------------------


def test_the_report_shows_each_budget_next_to_its_figure(tmp_path):
    root = _budgets(baseline(), time_to_full_ownership_s=3, max_processing_gap_s=3, max_lag=5)
    root = root.write(tmp_path / "run")
    summary = build(root)
    assert summary.verdict == "fail"
    page = summary.paths["report_html"].read_text()
    cells = re.findall(r'<td class="num">([^<]*) <span class="budget( over)?" data-budget', page)
    budgets = re.findall(r'data-budget="([a-z_]+)">([^<]*)</span>', page)
    assert cells == [("3.6", " over"), ("5", " over"), ("3", "")]
    assert budgets == [
        ("time_to_full_ownership_s", "/ budget 3 ✗ over"),
        ("max_processing_gap_s", "/ budget 3 ✗ over"),
        ("max_lag", "/ budget 5"),
    ]


def _run_data(run_id: str, budget: float, ownership: float) -> RunData:
    row = {
        "fault": "kill",
        "t_fault": 10.0,
        "time_to_full_ownership_s": ownership,
        "budgets": {"time_to_full_ownership_s": budget},
        "over_budget": ["time_to_full_ownership_s"] if ownership > budget else [],
    }
    spec = {"limits": {"time_to_full_ownership_s": budget}}
    return RunData(run_id, spec, "pass", {}, [row])


def test_compare_carries_the_budgets():
    out = compare([_run_data("a", 15, 43.1), _run_data("b", 30, 12.0)])
    (setting,) = [r for r in out["settings"] if r["setting"] == "limits"]
    assert setting["differs"] and setting["values"][0] == {"time_to_full_ownership_s": 15}
    (figure,) = [
        f for f in out["faults"][0]["figures"] if f["figure"] == "time_to_full_ownership_s"
    ]
    assert figure["values"] == [43.1, 12.0]
    assert figure["budgets"] == [15, 30] and figure["over_budget"] == [True, False]


@pytest.mark.parametrize("limits", [{}, {"max_lag": "many"}, {"unknown": 3}])
def test_no_or_malformed_budgets_judge_nothing(check_run, limits):
    s = check_run(_budgets(baseline(), **limits))
    assert not_passing(s) == {}
    assert "budgets" not in s.rebalances[0]


def test_the_compare_page_shows_each_runs_budget_beside_its_figure(tmp_path):
    from reports.render.compare_html import write_comparison

    comparison = compare([_run_data("a", 15, 43.1), _run_data("b", 30, 12.0)])
    page = write_comparison(comparison, tmp_path / "cmp")["compare_html"].read_text()
    row = page.split('data-metric="time_to_full_ownership_s"')[1].split("</tr>")[0]
    assert '<span class="budget over">/ budget 15 ✗ over</span>' in row
    assert '<span class="budget">/ budget 30</span>' in row
