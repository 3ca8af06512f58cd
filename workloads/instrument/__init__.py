"""Instrumentation of an unmodified Python Kafka consumer (evidence contract v1).

riverbed runs a user's Python consumer with :data:`PYTHONPATH_DIR` first on
``PYTHONPATH``, the way ``coverage run`` or ``opentelemetry-instrument`` wrap a
program. Its ``sitecustomize`` hooks kafka-python's ``KafkaConsumer`` and
confluent-kafka's ``Consumer`` when the program imports them, and writes what
the consumer did to ``$RIVERBED_EVIDENCE_DIR/consumed/<member>.jsonl``. The
directory is self-contained and needs only the standard library: it runs in the
user's interpreter and virtualenv, where neither riverbed nor this package is
installed. See docs/consumers.md.

This module is the riverbed side: where the directory is and which
environment turns the instrumentation on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

#: The directory to put first on ``PYTHONPATH`` (holds ``sitecustomize.py``).
PYTHONPATH_DIR = Path(__file__).resolve().parent / "pythonpath"


def instrument_env(
    evidence_dir: Path | str,
    member: str,
    topic: str,
    replica: str = "",
    incarnation: int | None = None,
    group: str = "",
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment variables that turn the instrumentation on for one process.

    ``base`` is the environment the process would otherwise get (default: this
    process's): its ``PYTHONPATH`` is kept, after the instrumentation's directory.
    """
    env = os.environ if base is None else base
    path = [str(PYTHONPATH_DIR)]
    path += [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != path[0]]
    out = {
        "PYTHONPATH": os.pathsep.join(path),
        "RIVERBED_INSTRUMENT": "1",
        "RIVERBED_EVIDENCE_DIR": str(evidence_dir),
        "RIVERBED_MEMBER": member,
        "RIVERBED_TOPIC": topic,
    }
    if replica:
        out["RIVERBED_REPLICA"] = replica
    if incarnation is not None:
        out["RIVERBED_INCARNATION"] = str(incarnation)
    if group:
        out["RIVERBED_GROUP"] = group
    return out
