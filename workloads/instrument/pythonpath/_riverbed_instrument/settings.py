"""The instrumentation's settings, from the environment riverbed gives the process."""

from __future__ import annotations

import os
import socket
from typing import Mapping, NamedTuple


class Settings(NamedTuple):
    """Where evidence goes and who this process is."""

    evidence_dir: str
    """``$RIVERBED_EVIDENCE_DIR``: the run's ``evidence/`` directory."""
    topic: str
    """``$RIVERBED_TOPIC`` (else ``$KAFKA_TOPIC``): only this topic's records are evidence."""
    member: str
    """``$RIVERBED_MEMBER``: the evidence identity riverbed gave this incarnation."""
    replica: str
    """``$RIVERBED_REPLICA``: the replica's stable name (``consumer-2``)."""
    incarnation: int | None
    """``$RIVERBED_INCARNATION``: which start of the replica this is (1, 2, …)."""
    group: str | None = None
    """``$RIVERBED_GROUP`` (else ``$KAFKA_GROUP``): only members of this consumer group are
    recorded (an audit reader in another group is not the system under test)."""
    flush_s: float = 0.010
    """How late hand-outs and finished records may be written (tracker.py)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        evidence_dir = e.get("RIVERBED_EVIDENCE_DIR", "")
        topic = e.get("RIVERBED_TOPIC") or e.get("KAFKA_TOPIC") or ""
        if not evidence_dir or not topic:
            raise ValueError("RIVERBED_EVIDENCE_DIR and RIVERBED_TOPIC must be set")
        replica = e.get("RIVERBED_REPLICA") or socket.gethostname().split(".")[0] or "consumer"
        incarnation: int | None
        try:
            incarnation = int(e["RIVERBED_INCARNATION"])
        except (KeyError, ValueError):
            incarnation = None
        member = e.get("RIVERBED_MEMBER") or f"{replica}-{os.getpid()}"
        group = e.get("RIVERBED_GROUP") or e.get("KAFKA_GROUP") or None
        return cls(evidence_dir, topic, member, replica, incarnation, group)

    def records(self, group: str | None, topic_match: bool) -> bool:
        """Whether a consumer of ``group`` that subscribes to the data topic (or not) is
        the system under test."""
        if not topic_match or not group:
            return False
        return self.group is None or str(group) == self.group
