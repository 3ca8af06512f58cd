"""Run a campaign: each generated schedule as an ordinary run, one after another, on one cluster.

Every run goes through :func:`riverbed.runner.execute` (the same pipeline as
``riverbed run``: consumers, Locust, ``chaos run`` of the schedule's
experiments, drains, report), into ``<campaign>/runs/<rNN>/``, on the local
Kafka cluster, which stays up between runs; each run has its own topic and
group. The campaign's matrix (``campaign.json``, ``campaign.html``,
``junit.xml``) is rewritten after every run, so an interrupted campaign still
says what ran.

Ctrl-C (or SIGTERM) stops the run in progress the way ``riverbed run`` does
(rollbacks, teardown, evidence kept), runs nothing more, and the campaign exits
2. Otherwise: 0 when every run passed, 1 when any failed, 3 when a harness error
stopped a run and none failed, 2 when some were inconclusive.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from reports.exit_codes import FAIL_EXIT, HARNESS_ERROR_EXIT, INCONCLUSIVE_EXIT, PASS_EXIT
from reports.registry import REBALANCE
from riverbed.campaign.experiments import write_experiments
from riverbed.campaign.schedule import Schedule, expected_seconds
from riverbed.errors import HarnessError
from riverbed.spec import RunSpec

Say = Callable[[str], None]


@dataclass
class RunRecord:
    """One run of a campaign, as the matrix shows it."""

    schedule: Schedule
    run_dir: Path
    verdict: str = "not-run"
    """pass, fail, inconclusive, error (a harness error stopped the run), or not-run."""
    exit_code: int | None = None
    wall_s: float | None = None
    checks: dict[str, str] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    interrupted: bool = False

    def to_dict(self, root: Path) -> dict[str, Any]:
        rel = _relative(self.run_dir, root)
        report = self.run_dir / "report.html"
        return {
            "run": self.schedule.name,
            "run_dir": rel,
            "report": _relative(report, root) if report.exists() else None,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "wall_s": None if self.wall_s is None else round(self.wall_s, 1),
            "schedule": self.schedule.to_dict(),
            "checks": self.checks,
            "counts": self.counts,
            "reasons": self.reasons,
            "interrupted": self.interrupted,
        }


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def run_spec_for(
    base: RunSpec, schedule: Schedule, experiments: list[Path], network: bool
) -> RunSpec:
    """The run's spec: the campaign's settings, a topic and group of its own, the schedule's
    experiments, and a load long enough to cover every fault (``--duration`` at least)."""
    stamp = int(time.time())
    needed = (
        base.load.warmup_s
        + sum(expected_seconds(s, base.session_timeout_ms / 1000) for s in schedule.steps)
        + base.load.cooldown_s
    )
    load = replace(base.load, duration_s=max(base.load.duration_s, round(needed)))
    return replace(
        base,
        run_id=f"{base.run_id}-{schedule.name}",
        topic=f"riverbed-events-{stamp}-{schedule.name}",
        group=f"riverbed-consumers-{stamp}-{schedule.name}",
        experiments=[str(p) for p in experiments],
        load=load,
        network_faults=network,
        chaos=[],
    ).validate()


def summarize(record: RunRecord) -> None:
    """Fill a record's verdict, checks and counts from its run directory's summary.json."""
    try:
        summary = json.loads((record.run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return
    record.verdict = str(summary.get("verdict", record.verdict))
    record.exit_code = summary.get("exit_code", record.exit_code)
    record.checks = {
        name: str(check.get("status")) for name, check in (summary.get("checks") or {}).items()
    }
    record.counts = dict(summary.get("counts") or {})
    rb = (summary.get("checks") or {}).get(REBALANCE, {}).get("counts", {})
    record.counts["zombie_overlaps"] = rb.get("zombie_overlaps")
    record.reasons = list(summary.get("reasons") or [])


def run_campaign(
    schedules: list[Schedule],
    base: RunSpec,
    campaign_dir: Path,
    settings: dict[str, Any],
    say: Say,
    progress_factory: Callable[[str], Any],
    platform_factory: Callable[[], Any],
) -> tuple[list[RunRecord], bool]:
    """Run every schedule in order; returns the records and whether it was interrupted.

    ``progress_factory(title)`` is a context manager yielding a progress callback;
    ``platform_factory()`` a fresh :class:`riverbed.runner.RunPlatform` per run.
    """
    from riverbed.campaign.report import write_campaign
    from riverbed.runner import execute

    records = [RunRecord(s, campaign_dir / "runs" / s.name) for s in schedules]
    network = any(s.network for s in schedules)
    t0 = time.time()
    interrupted = False

    def publish() -> None:
        write_campaign(campaign_dir, records, settings, t0, interrupted)

    publish()
    for i, record in enumerate(records, start=1):
        schedule = record.schedule
        say(f"[{i}/{len(records)}] {schedule.name}: {schedule.describe()}")
        started = time.monotonic()
        try:
            paths = write_experiments(schedule, record.run_dir / "experiments")
            spec = run_spec_for(base, schedule, paths, network)
            with progress_factory(f"{schedule.name}: preparing") as update:
                result = execute(spec, record.run_dir, platform_factory(), update, say)
            record.verdict, record.exit_code = result.verdict, result.exit_code
        except KeyboardInterrupt:
            interrupted = True
        except HarnessError as exc:
            record.verdict, record.exit_code = "error", HARNESS_ERROR_EXIT
            record.reasons = [exc.message]
            say(f"{schedule.name}: stopped by a harness error: {exc.message}")
        record.wall_s = time.monotonic() - started
        summarize(record)
        if record.verdict == "error":
            record.reasons = record.reasons or ["harness error"]
        spec_path = record.run_dir / "spec.json"
        with contextlib.suppress(OSError, ValueError):
            record.interrupted = bool(json.loads(spec_path.read_text()).get("interrupted"))
        # A run interrupted by Ctrl-C ends the campaign (a harness error does not).
        if record.interrupted and record.verdict != "error":
            interrupted = True
        say(f"{schedule.name}: {record.verdict.upper()} ({record.wall_s:.0f}s)")
        publish()
        if interrupted:
            say("interrupted: no further run; the campaign reports what ran")
            break
    publish()
    return records, interrupted


def exit_code(records: list[RunRecord], interrupted: bool) -> int:
    """2 when interrupted; else 1 if any run failed, 3 if a harness error stopped one, 2 if
    any was inconclusive, 0 if all passed (reports/exit_codes.py)."""
    if interrupted:
        return INCONCLUSIVE_EXIT
    verdicts = {r.verdict for r in records}
    codes = {r.exit_code for r in records}
    if "fail" in verdicts:
        return FAIL_EXIT
    if "error" in verdicts or HARNESS_ERROR_EXIT in codes:
        return HARNESS_ERROR_EXIT
    if verdicts - {"pass"}:
        return INCONCLUSIVE_EXIT
    return PASS_EXIT
