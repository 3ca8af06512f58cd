"""Run a campaign: each generated schedule as an ordinary run, one after another, on one cluster.

Every run goes through :func:`riverbed.runner.execute` (the same pipeline as
``riverbed run``: consumers, Locust, ``chaos run`` of the schedule's
experiments, drains, report), into ``<campaign>/runs/<rNN>/``, on one Kafka
cluster (riverbed's local one, which stays up between runs, or an external
one); each run has its own topic and group (and output topic). The campaign's
matrix (``campaign.json``, ``campaign.html``, ``junit.xml``) is rewritten after
every run, so an interrupted campaign still says what ran.

Ctrl-C (or SIGTERM) stops the run in progress the way ``riverbed run`` does
(rollbacks, teardown, evidence kept), runs nothing more, and the campaign exits
2. A harness error stops its run (the campaign prints the error and its fix)
and the campaign goes on, unless the same error stopped the run before too.
Otherwise: 0 when every run passed, 1 when any failed, 3 when a harness error
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
    error: dict[str, str | None] | None = None
    """The harness error that stopped the run: its ``message`` and ``fix``."""
    replay: str | None = None
    """The `riverbed run` command that runs this schedule again on its own."""
    evidence_strength: str | None = None
    """What the run's verdicts rest on (its summary.json's ``evidence_strength``)."""

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
            "error": self.error,
            "evidence_strength": self.evidence_strength,
            "replay": self.replay,
        }


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def run_spec_for(base: RunSpec, schedule: Schedule, experiments: list[Path]) -> RunSpec:
    """The run's spec: the campaign's settings, a topic and group (and an output topic, for
    output-topic evidence) of its own, the schedule's experiments, and a load long enough
    to cover every fault (``--duration`` at least). Its consumers go through per-replica
    proxies only when the schedule has a network fault, as in `riverbed run`."""
    stamp = str(int(time.time()))
    if base.platform == "external":
        from riverbed.platforms.external import unique_suffix

        # A shared cluster: names no other run picks, even in the same second.
        stamp = unique_suffix()
    session_s = base.session_timeout_ms / 1000
    needed = (
        base.load.warmup_s
        + sum(expected_seconds(s, session_s, base.platform) for s in schedule.steps)
        + base.load.cooldown_s
    )
    load = replace(base.load, duration_s=max(base.load.duration_s, round(needed)))
    return replace(
        base,
        run_id=f"{base.run_id}-{schedule.name}",
        topic=f"riverbed-events-{stamp}-{schedule.name}",
        group=f"riverbed-consumers-{stamp}-{schedule.name}",
        # A fresh output topic per run: an earlier run's outputs must not mix in.
        output_topic=f"{base.output_topic}-{stamp}-{schedule.name}" if base.output_topic else None,
        experiments=[str(p) for p in experiments],
        load=load,
        network_faults=schedule.network,
        chaos=[],
    ).validate()


def summarize(record: RunRecord, platform_flags: list[str] | None = None) -> None:
    """Fill a record's verdict, checks and counts from its run directory's summary.json,
    and the command that replays it from its spec.json (``platform_flags``: the flags that
    pick a Kubernetes cluster)."""
    from riverbed.campaign.summary import replay_command

    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        spec = json.loads((record.run_dir / "spec.json").read_text())
        record.replay = replay_command(spec, platform_flags or [])
    try:
        summary = json.loads((record.run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return
    record.evidence_strength = summary.get("evidence_strength")
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
    t0 = time.time()
    interrupted = False
    last_error: str | None = None
    stopped: str | None = None
    """Why the campaign stopped before its last run (other than an interrupt)."""

    def publish() -> None:
        write_campaign(campaign_dir, records, settings, t0, interrupted, stopped=stopped)

    publish()
    for i, record in enumerate(records, start=1):
        schedule = record.schedule
        say(f"[{i}/{len(records)}] {schedule.name}: {schedule.describe()}")
        started = time.monotonic()
        try:
            paths = write_experiments(schedule, record.run_dir / "experiments", base.platform)
            spec = run_spec_for(base, schedule, paths)
            with progress_factory(f"{schedule.name}: preparing") as update:
                result = execute(spec, record.run_dir, platform_factory(), update, say)
            record.verdict, record.exit_code = result.verdict, result.exit_code
        except KeyboardInterrupt:
            interrupted = True
        except HarnessError as exc:
            record.verdict, record.exit_code = "error", HARNESS_ERROR_EXIT
            record.error = {"message": exc.message, "fix": exc.fix}
            say(f"{schedule.name}: stopped by a harness error: {exc.message}")
            if exc.fix:
                say(f"fix: {exc.fix}")
        record.wall_s = time.monotonic() - started
        summarize(record, settings.get("replay_flags"))
        if record.error is not None:
            # The run's own report says inconclusive (interrupted); the campaign says why.
            record.verdict, record.exit_code = "error", HARNESS_ERROR_EXIT
            record.reasons = [str(record.error["message"])]
        spec_path = record.run_dir / "spec.json"
        with contextlib.suppress(OSError, ValueError):
            record.interrupted = bool(json.loads(spec_path.read_text()).get("interrupted"))
        # A run interrupted by Ctrl-C ends the campaign (a harness error does not).
        if record.interrupted and record.verdict != "error":
            interrupted = True
        say(f"{schedule.name}: {record.verdict.upper()} ({record.wall_s:.0f}s)")
        error = _error_key(record) if record.error else None
        if error is not None and error == last_error:
            # The same harness error twice in a row is the environment, not the schedule:
            # every further run would stop the same way.
            stopped = (
                "the same harness error stopped two runs in a row: no further run; fix it and "
                "start the campaign again (the same --seed gives the same schedules)"
            )
        last_error = error
        publish()
        if interrupted:
            say("interrupted: no further run; the campaign reports what ran")
            break
        if stopped:
            say(stopped)
            break
    publish()
    return records, interrupted


def _error_key(record: RunRecord) -> str:
    """A harness error's message without the paths of its own run (``runs/r03/logs/…``),
    so that the same error in two runs compares equal."""
    message = str((record.error or {}).get("message") or "")
    for path in {str(record.run_dir), str(record.run_dir.resolve())}:
        message = message.replace(path, "<run>")
    return message


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
