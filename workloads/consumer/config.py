"""The consumer's settings and the simulated processing time.

Pure standard library: parsed and unit-tested without Kafka.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

COMMIT_MODES = ("after-process", "auto", "before-process")
#: Client-side assignors of the classic protocol.
ASSIGNORS = ("range", "roundrobin", "sticky", "cooperative-sticky")
#: The Kafka client libraries the reference consumer can run on.
CLIENTS = ("kafka-python", "confluent-kafka")
#: ``classic``: the JoinGroup/SyncGroup protocol; ``consumer``: KIP-848's (broker-side assignment).
GROUP_PROTOCOLS = ("classic", "consumer")
#: Broker-side assignors of the consumer protocol (``group.remote.assignor``).
REMOTE_ASSIGNORS = ("uniform", "range")


def assignors_for(group_protocol: str) -> tuple[str, ...]:
    """The assignors a group protocol accepts."""
    return REMOTE_ASSIGNORS if group_protocol == "consumer" else ASSIGNORS


def default_assignor(group_protocol: str) -> str:
    """``range`` under classic (the Java client's first default); ``uniform`` under consumer."""
    return "uniform" if group_protocol == "consumer" else "range"


@dataclass(frozen=True)
class ProcessingTime:
    """How long handling one record takes: ``5`` (fixed ms), ``uniform:1-10``, ``exp:5`` (mean ms)."""

    kind: str
    """``fixed``, ``uniform`` or ``exp``."""
    a: float
    """Fixed: the time; uniform: the low bound; exp: the mean (all in ms)."""
    b: float = 0.0
    """Uniform: the high bound in ms."""

    @classmethod
    def parse(cls, spec: str) -> ProcessingTime:
        """Parse a ``--processing-ms`` spec; ValueError names what is wrong."""
        text = spec.strip().lower()
        try:
            if text.startswith("uniform:"):
                low, sep, high = text[len("uniform:") :].partition("-")
                if not sep:
                    raise ValueError
                pt = cls("uniform", float(low), float(high))
                if not 0 <= pt.a <= pt.b:
                    raise ValueError
                return pt
            if text.startswith("exp:"):
                pt = cls("exp", float(text[len("exp:") :]))
                if not pt.a >= 0:
                    raise ValueError
                return pt
            pt = cls("fixed", float(text))
            if not pt.a >= 0:
                raise ValueError
            return pt
        except ValueError:
            raise ValueError(
                f"processing time {spec!r} is not valid: use milliseconds such as 5, "
                "uniform:LOW-HIGH (e.g. uniform:1-10) or exp:MEAN (e.g. exp:5), all >= 0"
            ) from None

    @property
    def zero(self) -> bool:
        """True when records take no simulated time at all."""
        return (self.kind in ("fixed", "exp") and self.a == 0) or (
            self.kind == "uniform" and self.b == 0
        )

    def sample_s(self, rng: random.Random) -> float:
        """One record's processing time, in seconds."""
        if self.kind == "fixed":
            ms = self.a
        elif self.kind == "uniform":
            ms = rng.uniform(self.a, self.b)
        else:
            ms = rng.expovariate(1.0 / self.a) if self.a > 0 else 0.0
        return ms / 1000.0

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"{self.a:g}"
        if self.kind == "uniform":
            return f"uniform:{self.a:g}-{self.b:g}"
        return f"exp:{self.a:g}"


@dataclass(frozen=True)
class ConsumerConfig:
    """Everything one consumer incarnation needs to run."""

    bootstrap_servers: str
    """Kafka bootstrap servers, ``host:port[,host:port…]``."""
    topic: str
    """The data topic the group consumes."""
    group: str
    """The consumer group id."""
    replica: str
    """The replica's stable name (a pod name); the member id adds a random suffix."""
    member: str
    """This incarnation's identity: Kafka ``client_id`` and evidence ``member``."""
    commit_mode: str = "after-process"
    """``after-process`` (safe), ``auto`` (the tutorial's) or ``before-process`` (unsafe)."""
    assignor: str = "range"
    """Partition assignment strategy (client-side under classic, broker-side under consumer)."""
    client: str = "kafka-python"
    """The client library: ``kafka-python`` or ``confluent-kafka`` (librdkafka)."""
    group_protocol: str = "classic"
    """``classic`` or ``consumer`` (KIP-848; confluent-kafka only)."""
    processing: ProcessingTime = ProcessingTime("fixed", 0.0)
    """Simulated time to handle one record."""
    static_member: bool = False
    """Join as a static member (``group_instance_id`` = replica)."""
    dead_letter_topic: str | None = None
    """Where refused records go (optional)."""
    metadata_max_age_ms: int = 5000
    """How often metadata is refreshed: bounds how late new partitions are noticed."""
    max_poll_records: int = 100
    """Records per batch (one ``processed`` line per partition per batch)."""
    session_timeout_ms: int | None = 10_000
    """How long the coordinator waits for heartbeats before evicting a silent member
    (None under the consumer protocol: the broker's group configuration decides)."""
    heartbeat_interval_ms: int | None = 3000
    """How often the member heartbeats (None under the consumer protocol, as above)."""
    max_poll_interval_ms: int = 300_000
    """Longest allowed gap between polls before the member leaves the group."""
    auto_commit_interval_ms: int = 5000
    """``auto`` mode: how often kafka-python commits consumed positions."""
    poll_timeout_ms: int = 200
    """Longest a poll blocks; keeps shutdown prompt."""
    close_timeout_ms: int = 10_000
    """Upper bound for commit + leave-group on shutdown."""
    seed: int | None = None
    """Random seed for the processing-time distribution (None: from the OS)."""
    kafka_config: Mapping[str, str] = field(default_factory=dict)
    """Connection settings (TLS, SASL) in librdkafka spelling (:mod:`workloads.client_config`)."""
    ready_file: str | None = None
    """Kept fresh while the member is in its group (:mod:`workloads.readiness`); None: no file."""


def validate_replica(name: str) -> str:
    """A replica name usable in a client id, a file name and a group instance id."""
    ok = name and len(name) <= 200 and all(c.isalnum() or c in "._-" for c in name)
    if not ok or name in (".", ".."):
        raise ValueError(
            f"replica name {name!r} must be 1-200 characters of letters, digits, '.', '_' or '-'"
        )
    return name
