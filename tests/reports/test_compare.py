"""``riverbed compare``: alignment of faults, refusal of runs that cannot be compared, the figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reports.compare import (
    CompareError,
    RunData,
    align_faults,
    compare,
    figure_value,
    settings_rows,
    verdict_rows,
)
from tests.reports.test_incremental import kill_run

ROOT = Path(__file__).resolve().parents[2]
KILL = "kill-consumer-hard/kill-one-consumer"
RESIZE = "resize-partitions/add-partitions"


def row(fault: str, t: float, **figures: Any) -> dict[str, Any]:
    return {"fault": fault, "t_fault": t, **figures}


def run(run_id: str, faults: list[tuple[str, float]], **spec: Any) -> RunData:
    return RunData(
        run_id=run_id,
        spec={"run_id": run_id, **spec},
        verdict="pass",
        checks={"never-processed": "pass", "rebalance": "pass"},
        rebalances=[row(name, t, time_to_full_ownership_s=t / 100) for name, t in faults],
        t_start=100.0,
        rates={"t": [0.0, 10.0, 20.0], "processed": [5.0, 6.0, 7.0], "acknowledged": [5, 5, 5]},
        lag={"t": [1.0], "lag": [3]},
        faults=[{"name": n, "start": t - 100.0, "end": t - 99.0} for n, t in faults],
    )


def test_runs_with_the_same_schedule_are_aligned_fault_by_fault() -> None:
    a = run("a", [(KILL, 110.0), (RESIZE, 130.0)])
    b = run("b", [(KILL, 112.0), (RESIZE, 140.0)], group_protocol="consumer")
    aligned = align_faults([a, b])
    assert [(x.name, x.occurrence) for x in aligned] == [(KILL, 1), (RESIZE, 1)]
    assert aligned[1].rows == (a.rebalances[1], b.rebalances[1])
    c = compare([a, b])
    assert c["faults"][1]["t_since_first_fault_s"] == [20.0, 28.0]
    (full,) = [f for f in c["faults"][0]["figures"] if f["figure"] == "time_to_full_ownership_s"]
    assert full["values"] == [1.1, 1.12]
    # Timelines share one axis: seconds since each run's first fault.
    assert c["timelines"][0]["rates"]["t"] == [-10.0, 0.0, 10.0]
    assert c["timelines"][1]["rates"]["t"] == [-12.0, -2.0, 8.0]
    assert c["timelines"][1]["faults"][0] == {"name": KILL, "start": 0.0, "end": 1.0}


def test_runs_whose_fault_schedules_differ_are_refused() -> None:
    a = run("a", [(KILL, 110.0), (RESIZE, 130.0)])
    b = run("b", [(RESIZE, 110.0), (KILL, 130.0)])
    with pytest.raises(CompareError, match="fault schedules differ") as exc:
        compare([a, b])
    assert exc.value.fix is not None and "--align-by-name" in exc.value.fix
    with pytest.raises(CompareError, match="differ"):
        compare([a, run("c", [(KILL, 110.0)])])


def test_aligning_by_name_matches_occurrences_and_marks_missing_faults() -> None:
    a = run("a", [(KILL, 110.0), (RESIZE, 130.0), (KILL, 150.0)])
    b = run("b", [(RESIZE, 110.0), (KILL, 130.0)])
    aligned = align_faults([a, b], by_name=True)
    assert [(x.name, x.occurrence) for x in aligned] == [(KILL, 1), (RESIZE, 1), (KILL, 2)]
    assert aligned[0].rows == (a.rebalances[0], b.rebalances[1])
    assert aligned[2].rows == (a.rebalances[2], None)
    c = compare([a, b], align_by_name=True)
    assert c["aligned_by"] == "name"
    assert c["faults"][2]["present"] == [True, False]
    assert c["faults"][2]["t_since_first_fault_s"] == [40.0, None]


def test_fewer_than_two_runs_or_one_run_twice_is_refused() -> None:
    with pytest.raises(CompareError, match="at least two"):
        compare([run("a", [])])
    with pytest.raises(CompareError, match="given twice"):
        compare([run("a", []), run("a", [])])


def test_settings_and_verdicts_say_where_the_runs_differ() -> None:
    a = run("a", [], commit_mode="after-process", assignor="range")
    b = run("b", [], commit_mode="after-process", assignor="uniform", group_protocol="consumer")
    b.checks["never-processed"] = "fail"
    by_key = {r["setting"]: r for r in settings_rows([a, b])}
    assert by_key["group_protocol"]["values"] == ["classic", "consumer"]  # older runs: classic
    assert by_key["group_protocol"]["differs"] and by_key["assignor"]["differs"]
    assert not by_key["commit_mode"]["differs"]
    assert by_key["client"]["values"] == ["kafka-python", "kafka-python"]
    verdicts = {r["check"]: r for r in verdict_rows([a, b])}
    assert verdicts["never-processed"]["statuses"] == ["pass", "fail"]
    assert verdicts["never-processed"]["differs"] and not verdicts["rebalance"]["differs"]


def test_derived_figures_read_the_summary_rows() -> None:
    r = {
        "orphaned_partitions": [0, 1],
        "moved_partitions": [0],
        "unaffected_members": 2,
        "members_kept_consuming": 1,
        "first_consumption_s": {"3": 2.5, "4": 7.0},
        "fencing": {"fenced": 1, "commits_rejected": 2, "lost": 0},
    }
    assert figure_value(r, "paused") == 2  # older rows: orphaned partitions
    assert figure_value(r, "moved") == 1
    assert figure_value(r, "kept_consuming") == "1 of 2"
    assert figure_value(r, "first_consumption_s") == 7.0
    assert figure_value(r, "commits_rejected") == 2
    assert figure_value({"unaffected_members": 0}, "kept_consuming") is None
    assert figure_value(None, "moved") is None


def _write_runs(tmp_path: Path) -> tuple[Path, Path]:
    eager = kill_run(False).write(tmp_path / "classic")
    incremental_run = kill_run(True)
    incremental_run.spec["run_id"] = "consumer"
    incremental = incremental_run.write(tmp_path / "consumer")
    spec = json.loads((eager / "spec.json").read_text())
    spec["run_id"] = "classic"
    (eager / "spec.json").write_text(json.dumps(spec))
    return eager, incremental


def riverbed(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "riverbed.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_compare_cli_writes_the_page_and_json_of_two_real_run_directories(tmp_path: Path) -> None:
    eager, incremental = _write_runs(tmp_path)
    out = tmp_path / "cmp"
    r = riverbed("compare", str(eager), str(incremental), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert f"compare: {out / 'compare.html'}" in r.stdout.replace("\n", "")
    data = json.loads((out / "compare.json").read_text())
    assert [x["run_id"] for x in data["runs"]] == ["classic", "consumer"]
    (fault,) = data["faults"]
    figures = {f["figure"]: f["values"] for f in fault["figures"]}
    assert figures["paused"] == [3, 1]
    assert figures["kept_consuming"] == ["0 of 2", "2 of 2"]
    html = (out / "compare.html").read_text()
    assert "<script src=" not in html and "Plotly.newPlot" in html
    # Nothing was written into the run directories.
    assert not (eager / "summary.json").exists() and not (incremental / "report.html").exists()


def test_compare_cli_refuses_differing_schedules_with_exit_4(tmp_path: Path) -> None:
    eager, incremental = _write_runs(tmp_path)
    faults = incremental / "evidence" / "faults.jsonl"
    line = json.loads(faults.read_text())
    line["activity"] = "scale-consumers"
    faults.write_text(json.dumps(line) + "\n")
    r = riverbed("compare", str(eager), str(incremental), "--out", str(tmp_path / "x"))
    assert r.returncode == 4
    assert "fault schedules differ" in r.stderr and "--align-by-name" in r.stderr
    assert not (tmp_path / "x").exists()
    r = riverbed(
        "compare", str(eager), str(incremental), "--out", str(tmp_path / "y"), "--align-by-name"
    )
    assert r.returncode == 0, r.stderr
    assert len(json.loads((tmp_path / "y" / "compare.json").read_text())["faults"]) == 2
    r = riverbed("compare", str(eager), str(tmp_path / "nothing"))
    assert r.returncode == 4


def test_compare_cli_names_what_is_no_run_directory_and_the_fix(tmp_path: Path) -> None:
    eager, _ = _write_runs(tmp_path)
    (tmp_path / "empty").mkdir()
    for other, why in (
        (tmp_path / "missing", "does not exist"),
        (tmp_path / "empty", "is not a riverbed run directory"),
    ):
        r = riverbed("compare", str(eager), str(other), "--out", str(tmp_path / "cmp"))
        assert r.returncode == 4, r.stdout
        text = " ".join(r.stderr.split())
        assert why in text and "fix: pass the directory of one run" in text
        assert not (tmp_path / "cmp").exists()


def test_compare_cli_says_where_it_cannot_write(tmp_path: Path) -> None:
    eager, incremental = _write_runs(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    r = riverbed("compare", str(eager), str(incremental), "--out", str(blocker / "cmp"))
    assert r.returncode == 4
    text = " ".join(r.stderr.split())
    assert f"cannot write the comparison into {blocker / 'cmp'}" in text
    assert "fix: give a writable directory with --out" in text
