"""What a reviewer asks of a campaign first, computed from its matrix (pure functions).

- how many schedules ran, and how many found a problem (:func:`outcome_counts`);
- which fault kinds were involved in each failure, and across the runs, a small
  faults × outcome table (:func:`failures`, :func:`fault_outcomes`);
- the shortest failing schedule, with the exact `riverbed run` command that
  replays it on its own (:func:`shortest_failing`, :func:`replay_command`).

The matrix rows are campaign.json's ``matrix`` (one per run: its verdict, schedule
and checks); nothing here reads a file.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

#: A run's outcome in the campaign's words, in the order the page shows them.
OUTCOMES: tuple[tuple[str, str], ...] = (
    ("fail", "found a problem"),
    ("pass", "passed"),
    ("inconclusive", "cannot tell"),
    ("error", "stopped by a harness error"),
    ("not-run", "not run"),
)
OUTCOME_LABELS = dict(OUTCOMES)

Row = Mapping[str, Any]


def outcome_counts(matrix: Sequence[Row]) -> dict[str, int]:
    """Runs per outcome (every outcome, zero included), in :data:`OUTCOMES` order."""
    counts = {name: 0 for name, _ in OUTCOMES}
    for row in matrix:
        verdict = str(row.get("verdict"))
        counts[verdict if verdict in counts else "inconclusive"] += 1
    return counts


def headline(matrix: Sequence[Row]) -> str:
    """One sentence: ``6 schedules: 2 found a problem, 3 passed, 1 cannot tell.``"""
    counts = outcome_counts(matrix)
    ran = len(matrix) - counts["not-run"]
    parts = [f"{n} {OUTCOME_LABELS[name]}" for name, n in counts.items() if n]
    noun = "schedule" if len(matrix) == 1 else "schedules"
    what = f"{len(matrix)} {noun}" + (f" ({ran} ran)" if ran != len(matrix) else "")
    return f"{what}: {', '.join(parts)}." if parts else f"{what}."


def kinds_of(row: Row) -> list[str]:
    """The fault kinds of a run's schedule, each once, in schedule order."""
    steps = (row.get("schedule") or {}).get("steps") or []
    return list(dict.fromkeys(str(s.get("kind")) for s in steps))


def failed_checks(row: Row) -> list[str]:
    """The checks that failed in a run, in the matrix's order."""
    return [name for name, status in (row.get("checks") or {}).items() if status == "fail"]


def fault_outcomes(matrix: Sequence[Row], vocabulary: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Per fault kind: in how many runs that ran it was part of the schedule, and how those
    runs ended (``fail``, ``pass``, ``inconclusive``, ``error``), with the failing runs' names.

    Kinds come in ``vocabulary`` order (the campaign's ``--faults``), then any other kind
    in the order it first appears; a kind no run drew is left out.
    """
    order = list(dict.fromkeys([*vocabulary, *(k for row in matrix for k in kinds_of(row))]))
    table = []
    for kind in order:
        rows = [r for r in matrix if r.get("verdict") != "not-run" and kind in kinds_of(r)]
        if not rows:
            continue
        counts = outcome_counts(rows)
        table.append(
            {
                "fault": kind,
                "runs": len(rows),
                **{name: counts[name] for name, _ in OUTCOMES if name != "not-run"},
                "failed_runs": [str(r.get("run")) for r in rows if r.get("verdict") == "fail"],
            }
        )
    return table


def failures(matrix: Sequence[Row]) -> list[dict[str, Any]]:
    """Every failing run: its fault kinds, its schedule, the checks that failed."""
    return [
        {
            "run": row.get("run"),
            "faults": kinds_of(row),
            "steps": len((row.get("schedule") or {}).get("steps") or []),
            "describe": (row.get("schedule") or {}).get("describe", ""),
            "checks": failed_checks(row),
            "report": row.get("report"),
        }
        for row in matrix
        if row.get("verdict") == "fail"
    ]


def _schedule_seconds(row: Row) -> float:
    """How long a schedule's faults keep the system busy: delays plus durations."""
    steps = (row.get("schedule") or {}).get("steps") or []
    return sum(float(s.get("delay_s") or 0) + float(s.get("duration_s") or 0) for s in steps)


def shortest_failing(matrix: Sequence[Row]) -> dict[str, Any] | None:
    """The failing run with the fewest faults (then the shortest faults, then the first):
    the smallest schedule that shows the problem, and the command that replays it."""
    failing = [r for r in matrix if r.get("verdict") == "fail"]
    if not failing:
        return None
    index = {id(r): i for i, r in enumerate(matrix)}
    best = min(
        failing,
        key=lambda r: (
            len((r.get("schedule") or {}).get("steps") or []),
            _schedule_seconds(r),
            index[id(r)],
        ),
    )
    return {
        "run": best.get("run"),
        "faults": kinds_of(best),
        "steps": len((best.get("schedule") or {}).get("steps") or []),
        "describe": (best.get("schedule") or {}).get("describe", ""),
        "checks": failed_checks(best),
        "report": best.get("report"),
        "replay": best.get("replay"),
    }


def summary(matrix: Sequence[Row], vocabulary: Sequence[str] = ()) -> dict[str, Any]:
    """campaign.json ``summary``: the answers above, in one object."""
    return {
        "headline": headline(matrix),
        "schedules": len(matrix),
        "outcomes": outcome_counts(matrix),
        "faults": fault_outcomes(matrix, vocabulary),
        "failures": failures(matrix),
        "shortest_failing": shortest_failing(matrix),
    }


# ---- the replay command -----------------------------------------------------------------------
#: spec.json settings of riverbed's reference consumer, and their flags.
_REFERENCE_FLAGS = (
    ("commit_mode", "--commit-mode"),
    ("assignor", "--assignor"),
    ("processing_ms", "--processing-ms"),
)


def _seconds(value: Any) -> str:
    return f"{float(value):g}s"


def replay_command(spec: Mapping[str, Any], platform_flags: Sequence[str] = ()) -> str:
    """The `riverbed run` command that runs the same schedule with the same settings, from
    a run's spec.json (pure). Every setting is given as a flag, so that neither
    environment variables nor a riverbed.toml can change what it runs; secrets of an
    external cluster's connection settings are placeholders to fill in.
    ``platform_flags`` pick the Kubernetes cluster (``--context``…: spec.json has none).

    The experiment paths are the run's own copies, as the campaign wrote them (relative
    to the directory the campaign ran in, unless --campaign-dir was absolute).
    """
    load = spec.get("load") or {}
    platform = str(spec.get("platform") or "local")
    args: list[str] = ["riverbed", "run"]
    if platform != "local":
        args += ["--platform", platform, *platform_flags]
    if platform == "external":
        args += ["--kafka-bootstrap", str(spec["bootstrap_servers"])]
        for key, value in sorted((spec.get("kafka_config") or {}).items()):
            shown = f"<your {key}>" if value == "(set)" else value
            args += ["--kafka-config", f"{key}={shown}"]
    for path in spec.get("experiments") or []:
        args += ["--experiment", str(path)]
    args += [
        "--duration", _seconds(load["duration_s"]),
        "--warmup", _seconds(load["warmup_s"]),
        "--cooldown", _seconds(load["cooldown_s"]),
        "--users", str(load["users"]),
        "--spawn-rate", f"{float(load['spawn_rate']):g}",
        "--user-rate", f"{float(load['user_rate']):g}",
        "--key-space", str(load["key_space"]),
        "--body-bytes", str(load["body_bytes"]),
    ]  # fmt: skip
    if platform == "local":
        args += ["--brokers", str(spec["brokers"])]
    args += [
        "--partitions", str(spec["partitions"]),
        "--replication-factor", str(spec["replication_factor"]),
        "--consumers", str(spec["consumers"]),
        "--session-timeout-ms", str(spec["session_timeout_ms"]),
        "--drain-deadline", _seconds(spec["drain_deadline_s"]),
        "--join-timeout", _seconds(spec["join_timeout_s"]),
        "--client", str(spec["client"]),
        "--group-protocol", str(spec["group_protocol"]),
    ]  # fmt: skip
    if spec.get("consumer_cmd") or spec.get("consumer_image"):
        if spec.get("consumer_image"):
            args += ["--consumer-image", str(spec["consumer_image"])]
        else:
            args += ["--consumer-cmd", str(spec["consumer_cmd"])]
        if spec.get("consumer_cwd"):
            args += ["--consumer-cwd", str(spec["consumer_cwd"])]
        args += ["--consumer-evidence", str(spec["consumer_evidence"])]
        if spec.get("output_topic"):
            # The run's own output topic holds its outputs: a replay needs a fresh one.
            args += ["--output-topic", f"{spec['output_topic']}-replay"]
    else:
        for key, flag in _REFERENCE_FLAGS:
            if spec.get(key) is not None:
                args += [flag, str(spec[key])]
    if platform == "external" and spec.get("keep_topics"):
        args.append("--keep-topics")
    return shlex.join(args)
