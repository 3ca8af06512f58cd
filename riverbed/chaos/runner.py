"""Run a Chaos Toolkit experiment the way riverbed does, and judge whether it proved anything.

:func:`run_experiment` runs::

    chaos --no-version-check --log-file <run_dir>/chaos/<name>.log \\
          run --rollback-strategy=always --journal-path <run_dir>/chaos/<name>.journal.json <file>

with ``RIVERBED_RUN_DIR`` set (so the evidence control writes
``<run_dir>/evidence/faults.jsonl``), then reads the journal: ``chaos run``
exits 0 even when an action raised or a pod kill matched nothing, so the
exit code alone cannot be trusted. Rollbacks always run, whatever happened,
so a run never leaves a broker down or the consumers scaled.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riverbed.chaos.journal import ActivityOutcome, activities, any_landed, inconclusive_reasons
from riverbed.errors import HarnessError
from riverbed.processes import spawn, stop_group

DEFAULT_TIMEOUT_S = 900.0
#: After the timeout: how long chaos gets to run its rollbacks after SIGINT.
INTERRUPT_GRACE_S = 120.0


@dataclass(frozen=True)
class ExperimentOutcome:
    """What one ``chaos run`` did, read from its journal."""

    experiment: str
    """The experiment file that ran."""
    name: str
    """Its name in the run directory: ``chaos/<name>.journal.json`` and ``.log``."""
    journal_path: Path
    log_path: Path
    exit_code: int | None
    """``chaos``'s exit code (0 even when a fault did not land); ``None`` if it was killed."""
    status: str
    """The journal's status (``completed``, ``failed``, ``aborted``, ``interrupted``),
    or ``no-journal`` when chaos wrote none."""
    deviated: bool
    """The steady state was not met after the method: the system did not recover."""
    steady_state_before: bool | None
    """Whether the steady state was met before the method (``None``: not checked)."""
    steady_state_after: bool | None
    """Whether it was met after the method (``None``: not checked)."""
    landed: bool
    """At least one fault of the method had an effect."""
    activities: list[ActivityOutcome] = field(default_factory=list)
    inconclusive_reasons: list[str] = field(default_factory=list)
    """Why this run proves nothing (empty when its faults landed)."""
    t_start: float | None = None
    t_end: float | None = None

    @property
    def inconclusive(self) -> bool:
        return bool(self.inconclusive_reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "name": self.name,
            "journal": str(self.journal_path),
            "log": str(self.log_path),
            "exit_code": self.exit_code,
            "status": self.status,
            "deviated": self.deviated,
            "steady_state_before": self.steady_state_before,
            "steady_state_after": self.steady_state_after,
            "landed": self.landed,
            "inconclusive": self.inconclusive,
            "inconclusive_reasons": list(self.inconclusive_reasons),
            "activities": [a.to_dict() for a in self.activities],
            "t_start": self.t_start,
            "t_end": self.t_end,
        }


def outcome_from_journal(
    journal: dict[str, Any] | None,
    experiment: str,
    name: str,
    journal_path: Path,
    log_path: Path,
    exit_code: int | None,
    extra_reasons: list[str] | None = None,
    t_start: float | None = None,
    t_end: float | None = None,
) -> ExperimentOutcome:
    """The outcome of a run from its journal (``None``: chaos wrote none). Pure."""
    reasons = list(extra_reasons or [])
    if journal is None:
        reasons.append(f"chaos wrote no journal (exit code {exit_code}); see {log_path}")
        return ExperimentOutcome(
            experiment, name, journal_path, log_path, exit_code, "no-journal", False,
            None, None, False, [], reasons, t_start, t_end,
        )  # fmt: skip
    states = journal.get("steady_states") or {}
    before, after = states.get("before"), states.get("after")
    reasons += [r for r in inconclusive_reasons(journal) if r not in reasons]
    return ExperimentOutcome(
        experiment=experiment,
        name=name,
        journal_path=journal_path,
        log_path=log_path,
        exit_code=exit_code,
        status=str(journal.get("status")),
        deviated=bool(journal.get("deviated")),
        steady_state_before=None if before is None else bool(before.get("steady_state_met")),
        steady_state_after=None if after is None else bool(after.get("steady_state_met")),
        landed=any_landed(journal),
        activities=activities(journal),
        inconclusive_reasons=reasons,
        t_start=t_start,
        t_end=t_end,
    )


def experiments_dir(platform: str = "local") -> Path:
    """Where riverbed's experiments for ``platform`` live: ``experiments/local/`` for the
    local platform, ``experiments/`` for kind and other Kubernetes clusters."""
    from riverbed.paths import PROJECT_ROOT

    root = PROJECT_ROOT / "experiments"
    return root / "local" if platform == "local" else root


def resolve_experiment(ref: str | Path, platform: str = "local") -> Path:
    """An experiment file from a path, or from a name such as ``kill-consumer-hard``
    (looked up in :func:`experiments_dir`); a clear error listing the names otherwise."""
    path = Path(ref)
    if path.is_file():
        return path
    folder = experiments_dir(platform)
    candidate = folder / (path.name if path.suffix == ".json" else f"{path.name}.json")
    if candidate.is_file():
        return candidate
    names = sorted(p.stem for p in folder.glob("*.json"))
    raise HarnessError(
        f"No experiment {str(ref)!r} for the {platform} platform.",
        fix=f"pass a file, or one of: {', '.join(names) or '(none found in ' + str(folder) + ')'}.",
    )


def chaos_command() -> list[str]:
    """The ``chaos`` CLI of this Python environment (next to this interpreter), else on PATH."""
    beside = Path(sys.executable).parent / "chaos"
    if beside.exists():
        return [str(beside)]
    if found := shutil.which("chaos"):
        return [found]
    return [sys.executable, "-m", "chaostoolkit"]


def _unique_name(chaos_dir: Path, stem: str) -> str:
    name, n = stem, 1
    while (chaos_dir / f"{name}.journal.json").exists() or (chaos_dir / f"{name}.log").exists():
        n += 1
        name = f"{stem}-{n}"
    return name


def run_experiment(
    experiment_path: str | Path,
    run_dir: str | Path,
    env: dict[str, str] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    extra_args: list[str] | None = None,
    platform: str = "local",
) -> ExperimentOutcome:
    """Run one experiment with ``chaos run`` into ``run_dir`` and read its journal.

    ``experiment_path`` is a file, or a name looked up for ``platform`` (e.g.
    ``kill-consumer`` is ``experiments/local/kill-consumer.json``).

    ``env`` is added to this process's environment (``RIVERBED_RUN_DIR`` is
    always ``run_dir``). ``extra_args`` go to ``chaos run`` before the file
    (e.g. ``["--var-file", "k8s.json"]``). After ``timeout_s`` chaos gets SIGINT,
    which makes it stop and play its rollbacks, then SIGKILL after
    :data:`INTERRUPT_GRACE_S`; the run is then inconclusive.
    """
    path = resolve_experiment(experiment_path, platform)
    run_dir = Path(run_dir).resolve()
    chaos_dir = run_dir / "chaos"
    chaos_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "evidence").mkdir(parents=True, exist_ok=True)
    name = _unique_name(chaos_dir, path.stem)
    journal_path = chaos_dir / f"{name}.journal.json"
    log_path = chaos_dir / f"{name}.log"
    cmd = [
        *chaos_command(),
        "--no-version-check",
        "--log-file",
        str(log_path),
        "run",
        "--rollback-strategy=always",
        "--journal-path",
        str(journal_path),
        *(extra_args or []),
        str(path.resolve()),
    ]
    child_env = {
        **(env or {}),
        "RIVERBED_RUN_DIR": str(run_dir),
        # chaos writes the journal into the run directory: the control need not copy it.
        "RIVERBED_CHAOS_JOURNAL": str(journal_path),
    }
    reasons: list[str] = []
    t_start = time.time()
    proc = spawn(cmd, chaos_dir / f"{name}.out", env=child_env, cwd=run_dir)
    try:
        exit_code: int | None = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        reasons.append(f"chaos run exceeded its {timeout_s:.0f}s timeout and was interrupted")
        exit_code = stop_group(proc, timeout=INTERRUPT_GRACE_S)
    except BaseException:
        # Ctrl-C or SIGTERM of the caller: chaos runs in its own session and
        # would not see it; SIGINT makes it stop and play its rollbacks.
        stop_group(proc, timeout=INTERRUPT_GRACE_S)
        raise
    t_end = time.time()
    journal = _read_journal(journal_path)
    return outcome_from_journal(
        journal, str(path), name, journal_path, log_path, exit_code, reasons, t_start, t_end
    )


def _read_journal(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
