"""Why a user's consumer did not start: crash loops, a group never joined, no evidence.

A run with ``--consumer-cmd`` waits for the user's replicas to form a stable
group before the load starts. These checks turn the ways that can fail into
clear errors (exit 3, a harness error) that name the command and show the
end of its log, instead of a long wait that ends in "not stable".
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError
from riverbed.spec import RunSpec

#: A replica whose incarnations exited this many times during start-up is crash-looping.
CRASH_EXITS = 2
#: How long an instrumented replica may take to record its start once the group is stable.
START_RECORD_TIMEOUT_S = 15.0


def log_tail(path: Path | str, lines: int = 15, max_chars: int = 2000) -> str:
    """The last ``lines`` lines of a log (at most ``max_chars``), or a note that it is empty."""
    try:
        data = Path(path).read_bytes()[-64_000:]
    except OSError as exc:
        return f"(log {path} unreadable: {exc})"
    text = data.decode("utf-8", "replace").rstrip()
    if not text:
        return "(the log is empty)"
    tail = "\n".join(text.splitlines()[-lines:])
    return tail[-max_chars:]


def _events(state_dir: Path) -> list[dict[str, Any]]:
    try:
        raw = (state_dir / "events.jsonl").read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in raw:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _describe_exit(event: dict[str, Any]) -> str:
    rc = event.get("rc")
    lived = event.get("lived_s")
    when = f" after {lived:.1f}s" if isinstance(lived, int | float) else ""
    if rc == 0:
        return f"exited with code 0{when} (a consumer must keep running)"
    if rc == 127:
        return f"exited with code 127{when} (command not found)"
    if isinstance(rc, int) and rc < 0:
        return f"was killed by signal {-rc}{when}"
    return f"exited with code {rc}{when}"


def check_crash_loop(platform: Any, spec: RunSpec) -> None:
    """Raise when a replica of the user's consumer keeps exiting during start-up."""
    events = [
        e
        for e in _events(platform.state_dir)
        if e.get("event") == "exit" and str(e.get("replica", "")).startswith("consumer-")
    ]
    counts = Counter(str(e["replica"]) for e in events)
    looping = sorted(r for r, n in counts.items() if n >= CRASH_EXITS)
    if not looping:
        return
    last = next(e for e in reversed(events) if e["replica"] in looping)
    log = last.get("log") or ""
    raise HarnessError(
        f"Your consumer command exits during start-up: {last['replica']} "
        f"{_describe_exit(last)}, {counts[last['replica']]} times so far.\n"
        f"  command: {spec.consumer_cmd}\n  in: {spec.consumer_cwd}\n"
        f"  last lines of {log}:\n{_indent(log_tail(log))}",
        fix="run the command by hand with the environment riverbed gives it "
        f"(KAFKA_BROKER, KAFKA_TOPIC={spec.topic}, KAFKA_GROUP={spec.group}) to see why it "
        "stops; it must keep consuming until it is signalled.",
    )


def never_joined(spec: RunSpec, logs_dir: Path, timeout: float, detail: str = "") -> HarnessError:
    """The error for a user's consumer that runs but did not form the group in time."""
    logs = _latest_logs(logs_dir, spec.consumers)
    shown = "\n".join(f"  last lines of {p}:\n{_indent(log_tail(p, 8))}" for p in logs[:3])
    return HarnessError(
        f"Your consumer command runs but its replicas did not form a stable group "
        f"{spec.group} with {spec.consumers} members on topic {spec.topic} within "
        f"{timeout:.0f}s{detail}.\n  command: {spec.consumer_cmd}\n  in: {spec.consumer_cwd}\n"
        + shown,
        fix="the consumer must subscribe to $KAFKA_TOPIC with group id $KAFKA_GROUP and "
        "bootstrap servers $KAFKA_BROKER (or $KAFKA_BOOTSTRAP_SERVERS); a slow starter gets "
        "more time with --join-timeout.",
    )


def _latest_logs(logs: Path, replicas: int) -> list[Path]:
    out = []
    for i in range(1, replicas + 1):
        found = sorted(
            logs.glob(f"consumer-{i}.*.log"),
            key=lambda p: int(p.name.split(".")[1]) if p.name.split(".")[1].isdigit() else 0,
        )
        if found:
            out.append(found[-1])
    return out


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def started_members(run_dir: Path) -> dict[str, dict[str, Any]]:
    """``start`` records in ``evidence/consumed``, by evidence file name."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted((run_dir / "evidence" / "consumed").glob("*.jsonl")):
        try:
            with path.open(encoding="utf-8") as fh:
                first = fh.readline()
            record = json.loads(first)
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("type") == "start":
            out[path.stem] = record
    return out


def wait_instrumented(
    platform: Any,
    spec: RunSpec,
    run_dir: Path,
    progress: Callable[[str], None],
    timeout: float = START_RECORD_TIMEOUT_S,
) -> None:
    """Wait until every running replica's instrumentation has recorded a ``start``.

    A stable group with no instrumented evidence means the instrumentation did
    not load (``python -E``/``-I`` ignore ``PYTHONPATH``) or the consumer uses a
    client it does not know: the run would prove nothing, so it stops here.
    """
    deadline = time.monotonic() + timeout
    while True:
        started = started_members(run_dir)
        replicas = platform.replicas()
        missing = sorted(
            f"{name}.{rep['incarnation']}"
            for name, rep in replicas.items()
            if not any(
                m == f"{name}.{rep['incarnation']}" or m.startswith(f"{name}.{rep['incarnation']}.")
                for m in started
            )
        )
        if not missing:
            return
        if time.monotonic() > deadline:
            what = (
                "recorded nothing" if not started else f"recorded nothing for {', '.join(missing)}"
            )
            raise HarnessError(
                f"The consumers joined the group, but riverbed's instrumentation {what}.\n"
                f"  command: {spec.consumer_cmd}\n"
                "The instrumentation knows kafka-python's KafkaConsumer and confluent-kafka's "
                "Consumer subscribing to $KAFKA_TOPIC; it loads through PYTHONPATH, which "
                "`python -E` and `python -I` ignore.",
                fix="use one of those clients, drop -E/-I, or run with --consumer-evidence "
                "offsets (or output-topic) to judge the consumer without instrumentation.",
            )
        progress(f"waiting for the instrumented consumers' start records ({', '.join(missing)})")
        time.sleep(0.25)
