"""One soundness run: `riverbed run` of a test consumer, then its truth and the comparison.

The soundness tests and the campaign (:mod:`tests.soundness.campaign`) both go
through :func:`soundness_run`: a real `riverbed run --consumer-cmd "python
tests/soundness/consumers/<name>.py"` against a real local Kafka cluster, with the
consumer writing its own record of finished work into a directory of the run's
own; after the run, :func:`tests.support.truth.truth_of_run` reads that record, the
topic and the group's committed offsets, and :func:`tests.support.truth.outcome`
says whether riverbed's verdict agrees.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riverbed.kafka.cluster import LocalKafkaCluster
from tests.support.truth import Outcome, Truth, outcome, read_finishes, truth_of_run

ROOT = Path(__file__).resolve().parents[2]
CONSUMERS = Path(__file__).resolve().parent / "consumers"
KILL_HARD = ROOT / "experiments/local/kill-consumer-hard.json"
KILL_GRACEFUL = ROOT / "experiments/local/kill-consumer.json"
ARTIFACTS = ROOT / "test-artifacts" / "soundness"

#: Busy consumers: 5 Locust users send about 50 records/s to 3 partitions, while 3
#: replicas working 80 ms a record handle about 37/s. Every replica holds a batch
#: nearly all the time, so a kill lands mid-batch.
LOAD = {
    "duration": "30s", "warmup": "8s", "cooldown": "5s", "users": "5", "spawn-rate": "5",
    "key-space": "1000", "drain-deadline": "90s",
}  # fmt: skip


def scenario(**changes: str) -> tuple[str, ...]:
    """`riverbed run` options of the load: :data:`LOAD` with ``changes`` (``spawn_rate``
    for ``--spawn-rate``)."""
    load = {**LOAD, **{k.replace("_", "-"): v for k, v in changes.items()}}
    return tuple(arg for name, value in load.items() for arg in (f"--{name}", value))


SCENARIO = scenario()

#: A bound on one `riverbed run` (it has deadlines of its own; this one catches a hang).
RUN_TIMEOUT_S = 480.0
#: How long an interrupted `riverbed run` may take to stop what it started.
STOP_GRACE_S = 180.0


@dataclass(frozen=True)
class Profile:
    """How a consumer is run: its work per record, the scenario and extra environment."""

    work_ms: int = 80
    scenario: tuple[str, ...] = SCENARIO
    env: dict[str, str] = field(default_factory=dict)


#: Consumers that need another setting than the default profile.
PROFILES: dict[str, Profile] = {
    # One message in hand at a time, stored before its work and committed every 100 ms:
    # long work per message and two replicas killed give the kill a fair chance to land
    # while a stored message is still being worked on. A lighter load keeps the backlog
    # (and the drain) short.
    "ck_store_first": Profile(
        work_ms=500,
        scenario=scenario(users="1", spawn_rate="1"),
        env={"RIVERBED_KILL_COUNT": "2"},
    ),
}


def consumers() -> list[str]:
    """The names of the test consumers (their file names without ``.py``)."""
    return sorted(p.stem for p in CONSUMERS.glob("*.py") if p.stem[:3] in ("kp_", "ck_"))


def profile_of(consumer: str) -> Profile:
    return PROFILES.get(consumer, Profile())


@dataclass
class SoundnessRun:
    """A finished run of a test consumer, with its truth and the comparison."""

    consumer: str
    work_dir: Path
    run_dir: Path | None
    returncode: int
    output: str
    wall_s: float
    summary: dict[str, Any]
    truth: Truth | None = None
    outcome: Outcome | None = None
    records: dict[str, int] | None = None
    """Record by record (:func:`record_level`): riverbed's judgement of each record the
    group committed past that no member finished, against the truth."""
    error: str | None = None
    """Why there is no truth or no comparison (the run wrote no run directory, Kafka did
    not answer)."""

    @property
    def truth_dir(self) -> Path:
        return self.work_dir / "truth"

    def describe(self) -> str:
        """Everything needed to diagnose a wrong verdict: the comparison with the report's
        explanations, the truth per partition, the end of riverbed's output."""
        parts = [f"{self.consumer}: run {self.run_dir} (exit {self.returncode})"]
        if self.outcome:
            parts.append(self.outcome.describe())
        if self.truth:
            parts.append(self.truth.describe())
        if self.records:
            parts.append(f"record by record: {self.records}")
        if self.error:
            parts.append(f"no comparison: {self.error}")
        tail = "\n".join(self.output.splitlines()[-30:])
        parts.append(f"riverbed's output (end):\n{tail}")
        return "\n".join(parts)


def riverbed_env(cluster: LocalKafkaCluster, work_dir: Path) -> dict[str, str]:
    """`riverbed run` on ``cluster``, with its state and runs under ``work_dir``, and this
    interpreter first on PATH as ``python`` (so the consumers run in it)."""
    return {
        **os.environ,
        "RIVERBED_KAFKA_STATE_DIR": str(cluster.state_dir),
        "RIVERBED_KAFKA_BASE_PORT": str(cluster.base_port),
        "RIVERBED_LOCAL_STATE_DIR": str(work_dir / "local"),
        "RIVERBED_RUNS_DIR": str(work_dir / "runs"),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }


def consumer_cmd(consumer: str) -> str:
    return f"python {shlex.quote(str((CONSUMERS / f'{consumer}.py').relative_to(ROOT)))}"


def run_riverbed(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """`riverbed ARGS` in the project root: (exit code, output). Past
    :data:`RUN_TIMEOUT_S`, or when this process is interrupted, riverbed gets SIGINT
    (what Ctrl-C sends: it stops what it started and keeps its evidence) and time to
    finish; only then is it killed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "riverbed.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        output, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
        return proc.returncode, output
    except subprocess.TimeoutExpired:
        output = stop_riverbed(proc)
        return -1, f"{output}\nriverbed run exceeded {RUN_TIMEOUT_S:.0f}s and was interrupted"
    except BaseException:
        stop_riverbed(proc)
        raise


def stop_riverbed(proc: subprocess.Popen[str]) -> str:
    """SIGINT, then SIGKILL if riverbed has not stopped within :data:`STOP_GRACE_S`; its
    output (the pipe is read meanwhile, so that riverbed never blocks on it)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        output, _ = proc.communicate(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    return output or ""


def soundness_run(
    cluster: LocalKafkaCluster,
    consumer: str,
    work_dir: Path,
    experiment: Path = KILL_HARD,
    profile: Profile | None = None,
) -> SoundnessRun:
    """`riverbed run` of ``consumer`` under ``experiment`` on ``cluster``, in ``work_dir``
    (which must not hold an earlier run), then its truth and the comparison."""
    profile = profile or profile_of(consumer)
    work_dir.mkdir(parents=True, exist_ok=True)
    env = riverbed_env(cluster, work_dir)
    env.update(profile.env)
    env["WORK_MS"] = str(profile.work_ms)
    env["TRUTH_DIR"] = str(work_dir / "truth")
    args = [
        "run",
        "--consumer-cmd",
        consumer_cmd(consumer),
        "--experiment",
        str(experiment),
        *profile.scenario,
    ]
    t0 = time.monotonic()
    returncode, output = run_riverbed(args, env)
    wall = time.monotonic() - t0
    runs = sorted((work_dir / "runs").glob("*/spec.json"))
    run_dir = runs[-1].parent if runs else None
    summary: dict[str, Any] = {}
    if run_dir and (run_dir / "summary.json").exists():
        summary = json.loads((run_dir / "summary.json").read_text())
    run = SoundnessRun(consumer, work_dir, run_dir, returncode, output, wall, summary)
    if run_dir is None:
        run.error = "riverbed wrote no run directory"
        return run
    try:
        run.truth = truth_of_run(run_dir, run.truth_dir, cluster.bootstrap_servers)
    except Exception as exc:  # noqa: BLE001 - reported with the run, never a verdict
        run.error = f"the truth could not be read: {exc!r}"
        return run
    run.outcome = outcome(run.truth, summary)
    run.records = record_level(run_dir, run.truth_dir)
    (work_dir / "truth.json").write_text(
        json.dumps(
            {
                "truth": run.truth.to_dict(),
                "outcome": run.outcome.name,
                "reason": run.outcome.reason,
            },
            indent=2,
        )
        + "\n"
    )
    return run


def record_level(run_dir: Path, truth_dir: Path) -> dict[str, int]:
    """riverbed's judgement of each record the group committed past that no member
    finished (``unfinished``, ``after-work``, ``cannot-tell``, ``skipped``:
    reports/claims.py), counted against the truth lines: ``unfinished:finished`` and
    ``after-work:lost`` are record-level false alarms and false passes."""
    from reports.checks.loss import claim_cases, never_processed_cases
    from reports.evidence import POS_SHIFT, load
    from reports.facts import Facts

    finishes, _ = read_finishes(truth_dir)
    done = {(f.partition, f.offset) for f in finishes}
    ev = load(run_dir)
    facts = Facts(ev)
    if facts.claims is None or ev.log is None:
        return {}
    never, _ = never_processed_cases(ev, facts)
    if not never.height:
        return {}
    counts: dict[str, int] = {}
    for pos, kind in claim_cases(never, facts).select("pos", "judgement").iter_rows():
        truly = "finished" if (pos // POS_SHIFT, pos % POS_SHIFT) in done else "lost"
        counts[f"{kind}:{truly}"] = counts.get(f"{kind}:{truly}", 0) + 1
    return counts


#: Record-level answers that contradict the truth.
WRONG_RECORDS = ("unfinished:finished", "after-work:lost", "skipped:finished")


def keep_evidence(run: SoundnessRun, name: str) -> Path:
    """Copy the run's working directory (run directory, truth lines, truth.json, riverbed's
    output) to ``test-artifacts/soundness/<name>``."""
    dest = ARTIFACTS / name
    shutil.rmtree(dest, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(run.work_dir, dest, ignore=shutil.ignore_patterns("*.sock"), symlinks=True)
    (dest / "riverbed-output.txt").write_text(run.output)
    (dest / "diagnosis.txt").write_text(run.describe() + "\n")
    return dest
