"""Attach to the running local platform, and read what its consumers recorded."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError
from riverbed.kafka.cluster import LocalKafkaCluster
from riverbed.platforms.local import LocalPlatform


def platform(state_dir: str = "") -> LocalPlatform:
    """The running local platform; a clear error when its workloads are not running."""
    plat = LocalPlatform.current(state_dir or None)
    if plat.supervisor_pid() is None:
        raise HarnessError(
            f"The local platform in {plat.state_dir} has no running workloads "
            "(its supervisor is not running).",
            fix="start them with `riverbed up` (or `riverbed run`), or point "
            "RIVERBED_LOCAL_STATE_DIR at the platform you mean.",
        )
    return plat


def cluster(kafka_state_dir: str = "", state_dir: str = "") -> LocalKafkaCluster:
    """The local Kafka cluster: ``kafka_state_dir``, else the local platform's, else
    ``$RIVERBED_KAFKA_STATE_DIR``, else the default cluster."""
    if kafka_state_dir:
        return LocalKafkaCluster.open(kafka_state_dir)
    try:
        plat = LocalPlatform.current(state_dir or None)
    except HarnessError:
        plat = None
    if plat is not None and plat.config.get("platform") == "external":
        # The running workloads consume a cluster riverbed does not run (--platform external).
        raise HarnessError(
            f"The running platform's Kafka ({plat.config.get('bootstrap_servers')}) is not "
            "riverbed's: broker actions act only on the local cluster riverbed runs.",
            fix="drop the broker action, or pass kafka_state_dir of riverbed's local cluster.",
        )
    if plat is not None:
        with contextlib.suppress(HarnessError):
            return plat.kafka
    env = os.environ.get("RIVERBED_KAFKA_STATE_DIR")
    return LocalKafkaCluster.open(env or None)


def desired_consumers(plat: LocalPlatform) -> int:
    """The replica count the supervisor is asked to keep."""
    try:
        return int(json.loads((plat.state_dir / "desired.json").read_text())["consumers"])
    except (OSError, ValueError, KeyError):
        return int(plat.config.get("consumers", 0))


def members_by_pid(run_dir: Path) -> dict[int, str]:
    """pid → evidence member (the consumer's client_id), from the ``start`` records
    the consumers wrote under ``evidence/consumed/``."""
    found: dict[int, tuple[float, str]] = {}
    for path in sorted((run_dir / "evidence" / "consumed").glob("*.jsonl")):
        try:
            with path.open(encoding="utf-8") as fh:
                for _, line in zip(range(5), fh, strict=False):
                    record = _start_record(line)
                    if record is not None:
                        pid, t = int(record["pid"]), float(record.get("t") or 0)
                        # A pid the system reused: the latest incarnation wins.
                        if pid not in found or found[pid][0] <= t:
                            found[pid] = (t, str(record["member"]))
                        break
        except (OSError, ValueError):
            continue
    return {pid: member for pid, (_, member) in found.items()}


def _start_record(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if isinstance(record, dict) and record.get("type") == "start" and "pid" in record:
        return record
    return None


def member_ids_by_incarnation(run_dir: Path, incarnations: list[str]) -> dict[str, str | None]:
    """Incarnation (``consumer-2.1``) → the Kafka member id its instrumented evidence
    recorded last (the ``member_id`` of its latest ``assigned`` line), None if none yet."""
    out: dict[str, str | None] = {}
    consumed = run_dir / "evidence" / "consumed"
    for name in incarnations:
        member_id = None
        for path in sorted(consumed.glob(f"{name}.jsonl")) + sorted(
            consumed.glob(f"{name}.c*.jsonl")
        ):
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError:
                continue
            for line in reversed(lines):
                if '"assigned"' not in line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("type") == "assigned" and record.get("member_id"):
                    member_id = str(record["member_id"])
                    break
        out[name] = member_id
    return out
