"""The riverbed evidence control: every activity of an experiment, timed, into faults.jsonl.

Declare it once at the top of an experiment and it applies to every probe
and action (steady-state hypothesis, method, rollbacks)::

    "controls": [{"name": "riverbed-evidence",
                  "provider": {"type": "python", "module": "riverbed.chaos.control"}}]

Each activity becomes one line of ``evidence/faults.jsonl`` (evidence contract
v1, ``type: fault``)::

    {"v":1,"type":"fault","experiment":"kill-consumer-hard","activity":"kill-one-consumer",
     "kind":"action","t_start":…,"t_end":…,"status":"succeeded","output":["consumer-2"],
     "landed":true,"phase":"method","func":"riverbed.chaos.local.actions.kill_consumers"}

- ``experiment``: the ``id`` of the experiment's ``riverbed`` extension
  (``"extensions": [{"name": "riverbed", "id": "kill-consumer-hard"}]``; riverbed's
  own experiments use their file name), else a slug of its title.
- ``t_start`` / ``t_end``: when Chaos Toolkit started and finished the
  activity's provider (pauses excluded), Unix epoch seconds.
- ``landed`` (actions only): whether the fault had an effect, see
  :mod:`riverbed.chaos.landing`. ``phase``: ``steady-state-before``, ``method``,
  ``steady-state-after``, ``rollback`` (``steady-state-during`` with a continuous
  hypothesis strategy). ``func``: the provider's ``module.func``. ``error``: the
  failure's message, when ``status`` is ``failed``. ``output`` is truncated
  past 20,000 characters of JSON.

Where: ``$RIVERBED_RUN_DIR/evidence/faults.jsonl`` when set (riverbed's runner
sets it), else the running local platform's run directory, else
``./evidence/faults.jsonl`` (with a warning). A ``faults_path`` argument in the
control's provider overrides all three.

When the run directory is known, the control also keeps a copy of the journal
as ``<run_dir>/chaos/<experiment>.journal.json``, so a plain ``chaos run`` against
the local platform leaves its journal with the rest of the evidence (riverbed's
runner, which has chaos write the journal there itself, turns this off with
``RIVERBED_CHAOS_JOURNAL``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from riverbed.chaos.landing import landed, provider_target
from workloads.evidence.schema import Fault

logger = logging.getLogger("chaostoolkit")

MAX_OUTPUT_CHARS = 20_000


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.local = threading.local()
        self.reset()

    def reset(self) -> None:
        self.experiment = "experiment"
        self.path: Path | None = None
        self.sink: Any = None
        self.method = "before"  # before | running | done
        self.rollback = False
        self.run_dir: Path | None = None


_state = _State()


# ---- pure helpers ----------------------------------------------------------------------------
def slug(text: str) -> str:
    """A file-name-friendly id: lower case, runs of other characters become ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80] or "experiment"


def experiment_id(experiment: dict[str, Any] | None) -> str:
    """The ``id`` of the experiment's ``riverbed`` extension, else a slug of its title."""
    for ext in (experiment or {}).get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == "riverbed" and ext.get("id"):
            return str(ext["id"])
    return slug(str((experiment or {}).get("title") or "experiment"))


def epoch(iso: str | None) -> float | None:
    """Unix epoch seconds of a journal timestamp (``datetime.isoformat()`` in UTC)."""
    if not iso:
        return None
    return datetime.fromisoformat(iso).timestamp()


def jsonable(output: Any, limit: int = MAX_OUTPUT_CHARS) -> Any:
    """``output`` as plain JSON values; a preview when its JSON exceeds ``limit`` characters."""
    text = json.dumps(output, default=str, ensure_ascii=False)
    if len(text) > limit:
        return {"truncated": True, "chars": len(text), "head": text[: min(limit, 2000)]}
    return json.loads(text)


def error_message(run: dict[str, Any]) -> str | None:
    """The failure's message from a journal run, on one line.

    The journal's ``exception`` is a formatted traceback whose last entry is
    Chaos Toolkit's ``ActivityFailed`` wrapping the activity's own error; the
    wrapper's and riverbed's own error type names (``HarnessError``,
    ``BadInput``, ...) are dropped.
    """
    lines = run.get("exception")
    if not lines:
        return None
    text = (lines[-1] if isinstance(lines, list) else str(lines)).strip()
    text = re.sub(r"^chaoslib\.exceptions\.\w+: ", "", text)
    text = re.sub(r"^riverbed\.errors\.\w+: ", "", text)
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def fault_record(
    experiment: str, activity: dict[str, Any], run: dict[str, Any], phase: str | None
) -> dict[str, Any]:
    """One faults.jsonl record from an activity and its journal run."""
    status = "succeeded" if run.get("status") == "succeeded" else "failed"
    # chaostoolkit writes both times for every run; the contract needs both, so a
    # missing one takes the other's value (and "now" only if both are missing).
    t_start, t_end = epoch(run.get("start")), epoch(run.get("end"))
    t_start = t_start if t_start is not None else t_end if t_end is not None else time.time()
    t_end = t_end if t_end is not None else t_start
    return Fault(
        experiment,
        str(activity.get("name")),
        "action" if activity.get("type") == "action" else "probe",
        t_start,
        t_end,
        status,
        jsonable(run.get("output")),
        landed=landed(activity, status, run.get("output")),
        phase=phase or None,
        func=provider_target(activity),
        error=error_message(run) if status == "failed" else None,
    ).to_dict(v=True)


def resolve_run_dir() -> Path | None:
    """The run directory: ``$RIVERBED_RUN_DIR``, else the running local platform's, else None."""
    if run_dir := os.environ.get("RIVERBED_RUN_DIR"):
        return Path(run_dir)
    try:
        from riverbed.platforms.local import LocalPlatform

        plat = LocalPlatform.current()
        if plat.supervisor_pid() is not None:
            return plat.run_dir
    except Exception:  # no local platform
        pass
    return None


def resolve_faults_path(explicit: str = "") -> tuple[Path, str | None]:
    """Where the fault timeline goes, and a warning when it is the fallback."""
    if explicit:
        return Path(explicit), None
    if (run_dir := resolve_run_dir()) is not None:
        return run_dir / "evidence" / "faults.jsonl", None
    path = Path.cwd() / "evidence" / "faults.jsonl"
    return path, (
        f"riverbed-evidence: RIVERBED_RUN_DIR is not set and no local platform is running; "
        f"writing the fault timeline to {path}"
    )


def save_journal(journal: dict[str, Any], run_dir: Path, name: str) -> Path:
    """A copy of the journal as ``<run_dir>/chaos/<name>.journal.json`` (``-2``, ``-3``…
    when taken), so a plain ``chaos run`` leaves it with the rest of the run's evidence."""
    chaos_dir = run_dir / "chaos"
    chaos_dir.mkdir(parents=True, exist_ok=True)
    path, n = chaos_dir / f"{name}.journal.json", 1
    while path.exists():
        n += 1
        path = chaos_dir / f"{name}-{n}.journal.json"
    path.write_text(json.dumps(journal, indent=2, ensure_ascii=False, default=str) + "\n")
    return path


# ---- the control's hooks (called by Chaos Toolkit) -------------------------------------------
def configure_control(
    experiment: dict[str, Any] | None = None, faults_path: str = "", **_: Any
) -> None:
    """Pick the experiment's id and where its fault timeline goes."""
    with _state.lock:
        _close()
        _state.reset()
        _state.experiment = experiment_id(experiment)
        path, warning = resolve_faults_path(faults_path)
        _state.path = path
        _state.run_dir = None if faults_path else resolve_run_dir()
    if warning:
        logger.warning(warning)
    logger.info(f"riverbed-evidence: fault timeline of {_state.experiment!r} → {path}")


def before_hypothesis_control(context: Any = None, **_: Any) -> None:
    _state.local.hypothesis = True


def after_hypothesis_control(context: Any = None, **_: Any) -> None:
    _state.local.hypothesis = False


def before_method_control(context: Any = None, **_: Any) -> None:
    _state.method = "running"


def after_method_control(context: Any = None, **_: Any) -> None:
    _state.method = "done"


def before_rollback_control(context: Any = None, **_: Any) -> None:
    _state.rollback = True


def after_activity_control(
    context: dict[str, Any] | None = None, state: dict[str, Any] | None = None, **_: Any
) -> None:
    """Append the finished activity to the fault timeline."""
    if not context or not state:
        return
    try:
        write(fault_record(_state.experiment, context, state, _phase()))
    except Exception:
        # The experiment must go on; a lost evidence line is reported, not fatal.
        logger.exception("riverbed-evidence: could not record activity %r", context.get("name"))


def after_experiment_control(
    context: Any = None, state: dict[str, Any] | None = None, **_: Any
) -> None:
    """Close the timeline; keep a copy of the journal in the run directory, unless
    riverbed's runner already has chaos write it there (``RIVERBED_CHAOS_JOURNAL``)."""
    with _state.lock:
        _close()
        run_dir = _state.run_dir
    if state and run_dir is not None and not os.environ.get("RIVERBED_CHAOS_JOURNAL"):
        try:
            path = save_journal(state, run_dir, _state.experiment)
            logger.info(f"riverbed-evidence: journal copied to {path}")
        except Exception:
            logger.exception("riverbed-evidence: could not copy the journal to %s", run_dir)


def cleanup_control() -> None:
    with _state.lock:
        _close()


# ---- internals ---------------------------------------------------------------------------------
def _phase() -> str:
    if getattr(_state.local, "hypothesis", False):
        return {
            "before": "steady-state-before",
            "running": "steady-state-during",
            "done": "steady-state-after",
        }[_state.method]
    if _state.rollback:
        return "rollback"
    return "method"


def write(record: dict[str, Any]) -> None:
    from workloads.evidence.sinks import FileSink

    with _state.lock:
        if _state.sink is None:
            if _state.path is None:
                _state.path, warning = resolve_faults_path()
                if warning:
                    logger.warning(warning)
            _state.sink = FileSink(_state.path)
        _state.sink.write_many([record])


def _close() -> None:
    if _state.sink is not None:
        _state.sink.close()
        _state.sink = None
