"""The run spec: everything that defines one run, written to ``runs/<id>/spec.json``.

One spec composes the roles (Jepsen's test map): the platform and Kafka
(deployment), the consumer group (system under test), the load (generator),
the experiments (nemesis). The report (checker) reads it back; see
docs/evidence.md for the file format.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError

#: local: riverbed's Kafka on this machine; external: a Kafka cluster riverbed does not run
#: (the workloads run on this machine); kind / k8s: Kubernetes.
PLATFORMS = ("local", "external", "kind", "k8s")
COMMIT_MODES = ("after-process", "auto", "before-process")
ASSIGNORS = ("range", "roundrobin", "sticky", "cooperative-sticky")
#: Broker-side assignors of the consumer protocol (KIP-848).
REMOTE_ASSIGNORS = ("uniform", "range")
#: The reference consumer's client libraries and group protocols.
CLIENTS = ("kafka-python", "confluent-kafka")
GROUP_PROTOCOLS = ("classic", "consumer")
#: What a run's verdicts can rest on (docs/report.md, "Evidence strength"; docs/consumers.md).
CONSUMER_EVIDENCE = ("reference", "instrumented", "output-topic", "offsets")
#: The delivery semantics a run allows (docs/report.md, "Allowed anomalies"): at-least-once
#: lets processed-but-uncommitted records be delivered again after any rebalance or stop;
#: strict only after a hard stop or lost partitions.
DELIVERY = ("at-least-once", "strict")


@dataclass
class LoadSpec:
    """The Locust load: a chaos-window shape (warm-up, steady, cool-down)."""

    users: int = 10
    """Concurrent Locust users at steady load."""
    spawn_rate: float = 10.0
    """Users started per second."""
    duration_s: float = 60.0
    """Total load time, warm-up and cool-down included."""
    warmup_s: float = 10.0
    """Load before the first experiment starts."""
    cooldown_s: float = 10.0
    """Load after the experiments, before the load stops."""
    shape: str = "chaos-window"
    key_space: int = 100
    """Number of distinct message keys."""
    body_bytes: int = 128
    """Size of each message body."""
    user_rate: float = 10.0
    """Sends per second per user (0: as fast as the in-flight limit allows)."""
    processes: int = 1
    """Locust worker processes (``--processes``)."""
    workers: int = 0
    """kind/k8s: Locust workers in the cluster (a headless master and N worker pods,
    manifests/locust.yaml); 0: Locust runs on this machine."""


@dataclass
class RunSpec:
    """A run: platform, topic, consumer group, load and experiments."""

    run_id: str
    platform: str = "local"
    brokers: int = 3
    partitions: int = 3
    replication_factor: int = 3
    min_insync_replicas: int = 2
    topic: str = "riverbed-events"
    group: str = "riverbed-consumers"
    consumers: int = 3
    commit_mode: str | None = "after-process"
    """The reference consumer's commit mode (None when the user's consumer runs)."""
    assignor: str | None = "range"
    """The reference consumer's assignor (None when the user's consumer runs)."""
    client: str = "kafka-python"
    """The reference consumer's client library: ``kafka-python`` or ``confluent-kafka``."""
    group_protocol: str = "classic"
    """``classic`` or ``consumer`` (KIP-848, confluent-kafka only)."""
    group_configs: dict[str, str] | None = None
    """Consumer protocol: the group's broker-side settings the run applied
    (``consumer.session.timeout.ms``, ``consumer.heartbeat.interval.ms``)."""
    processing_ms: str | None = "2"
    """The reference consumer's processing time (None when the user's consumer runs)."""
    session_timeout_ms: int = 10_000
    consumer_cmd: str | None = None
    """The user's consumer (a shell command per replica), or None for riverbed's own."""
    consumer_cwd: str | None = None
    """Where ``consumer_cmd`` runs (absolute)."""
    consumer_image: str | None = None
    """The user's consumer image (Kubernetes platforms)."""
    consumer_evidence: str = "reference"
    """What the consumer verdicts rest on: ``reference`` (riverbed's consumer),
    ``instrumented``, ``output-topic`` or ``offsets`` (see docs/consumers.md)."""
    output_topic: str | None = None
    """Output-topic mode: the topic the user's service writes one output per input to."""
    output_drain: dict[str, Any] | None = None
    """Output-topic mode: whether ``evidence/output.jsonl`` reached the output topic's end."""
    delivery: str = "at-least-once"
    """The delivery semantics the checks allow: ``at-least-once`` (a graceful revocation or
    stop may leave processed records uncommitted, to be processed again) or ``strict``."""
    join_timeout_s: float = 90.0
    """How long the consumers may take to form a stable group at the start."""
    evidence_topic: str | None = None
    bootstrap_servers: str | None = None
    kafka_config: dict[str, str] | None = None
    """External platform: the client connection settings the run used (librdkafka
    names), every secret masked: spec.json says a password was given, never which."""
    keep_topics: bool = False
    """External platform: leave the run's topics on the cluster at the end."""
    topics: dict[str, Any] | None = None
    """External platform: the topics (and group) the run created, and what became of
    them at the end (``deleted``, or ``kept``)."""
    experiments: list[str] = field(default_factory=list)
    no_faults: bool = False
    """A baseline without faults on purpose (``--no-faults``): the verdict rests on the load
    alone; without it, a run with no experiment is refused."""
    chaos_vars: dict[str, Any] | None = None
    """``--var`` / ``--var-file`` passed to each ``chaos run``: ``{"var": {KEY: VALUE},
    "var_file": [paths]}`` (vars are configuration, never secrets; files are named only)."""
    limits: dict[str, float] | None = None
    """Recovery budgets (``--max-recovery``, ``--max-lag``): per-fault figure → the most it
    may be; over one, the rebalance check fails (reports/checks/budgets.py)."""
    load: LoadSpec = field(default_factory=LoadSpec)
    drain_deadline_s: float = 60.0
    t_start: float | None = None
    t_load: float | None = None
    """When the load started (its warm-up ends ``load.warmup_s`` later)."""
    t_end: float | None = None
    evidence_gaps: list[dict[str, str]] = field(default_factory=list)
    """Evidence the platform knows to be incomplete, ``{"source": "consumed", "detail": …}``
    each (an instrumented image's pod whose evidence sidecar did not confirm it shipped
    everything): the report counts that source incomplete, so its verdicts say "cannot
    tell" where the gap could matter, never pass and never fail on it."""
    error: dict[str, Any] | None = None
    """What stopped the run early when riverbed or its environment failed (``message``,
    ``fix``): the run exits 3 (harness error), whatever its verdict."""
    drain: dict[str, Any] | None = None
    log_drain: dict[str, Any] | None = None
    chaos: list[dict[str, Any]] = field(default_factory=list)
    """Per experiment: journal path, chaos exit status, and why a fault did not land."""
    interrupted: bool = False
    kube: dict[str, Any] | None = None
    """kind / k8s sessions opened by ``riverbed up``: where the cluster is (``context``,
    ``namespace``, ``kind_cluster``), so that ``riverbed collect`` finds it again."""
    network_faults: bool = False
    """Local platform: consumers connect through per-replica Toxiproxy proxies (set when
    an experiment uses network faults, or by ``riverbed up --network-faults``)."""
    v: int = 1

    def validate(self) -> RunSpec:
        if self.platform not in PLATFORMS:
            raise HarnessError(
                f"Unknown platform {self.platform!r}.", fix=f"use one of {', '.join(PLATFORMS)}."
            )
        if self.delivery not in DELIVERY:
            raise HarnessError(
                f"Unknown delivery semantics {self.delivery!r}.",
                fix=f"use one of {', '.join(DELIVERY)}.",
            )
        if self.consumer_evidence not in CONSUMER_EVIDENCE:
            raise HarnessError(
                f"Unknown consumer evidence {self.consumer_evidence!r}.",
                fix=f"use one of {', '.join(CONSUMER_EVIDENCE)}.",
            )
        if self.consumer_evidence == "reference" and (
            self.consumer_cmd is not None or self.consumer_image is not None
        ):
            raise HarnessError(
                "consumer_evidence 'reference' means riverbed's own consumer, not yours.",
                fix="use instrumented, output-topic or offsets evidence with your consumer.",
            )
        if self.platform == "external" and not self.bootstrap_servers:
            raise HarnessError(
                "--platform external needs the cluster's bootstrap servers.",
                fix="pass --kafka-bootstrap HOST:PORT[,HOST:PORT…].",
            )
        if self.consumer_cmd is not None or self.consumer_image is not None:
            return self._validate_common()
        if self.commit_mode not in COMMIT_MODES:
            raise HarnessError(
                f"Unknown commit mode {self.commit_mode!r}.",
                fix=f"use one of {', '.join(COMMIT_MODES)}.",
            )
        if self.client not in CLIENTS:
            raise HarnessError(
                f"Unknown client {self.client!r}.", fix=f"use one of {', '.join(CLIENTS)}."
            )
        if self.group_protocol not in GROUP_PROTOCOLS:
            raise HarnessError(
                f"Unknown group protocol {self.group_protocol!r}.",
                fix=f"use one of {', '.join(GROUP_PROTOCOLS)}.",
            )
        assignors = REMOTE_ASSIGNORS if self.group_protocol == "consumer" else ASSIGNORS
        if self.assignor not in assignors:
            raise HarnessError(
                f"Assignor {self.assignor!r} does not exist under the {self.group_protocol} "
                "protocol.",
                fix=f"use one of {', '.join(assignors)}.",
            )
        from riverbed.consumer_settings import check_consumer_settings
        from workloads.consumer.config import ProcessingTime

        check_consumer_settings(self.client, self.group_protocol, self.assignor or "")
        try:
            ProcessingTime.parse(str(self.processing_ms))
        except ValueError as exc:
            raise HarnessError(f"--processing-ms: {exc}.", fix="e.g. --processing-ms 5") from None
        return self._validate_common()

    def _validate_common(self) -> RunSpec:
        if self.consumer_evidence == "output-topic" and not self.output_topic:
            raise HarnessError(
                "Output-topic evidence needs the service's output topic.",
                fix="name it with --output-topic.",
            )
        for name in ("brokers", "partitions", "consumers"):
            if getattr(self, name) < 1:
                raise HarnessError(f"--{name} must be at least 1, got {getattr(self, name)}.")
        if self.replication_factor > self.brokers:
            raise HarnessError(
                f"Replication factor {self.replication_factor} exceeds the {self.brokers} broker(s).",
                fix="lower the replication factor or add brokers.",
            )
        for flag, seconds in (
            ("--drain-deadline", self.drain_deadline_s),
            ("--join-timeout", self.join_timeout_s),
        ):
            if seconds <= 0:
                raise HarnessError(
                    f"{flag} must be longer than 0 s, got {seconds:g}s.",
                    fix=f"give {flag} a duration such as 60s or 2m.",
                )
        for figure, bound in (self.limits or {}).items():
            if not isinstance(bound, int | float) or bound < 0:
                raise HarnessError(f"Budget {figure} must be a number >= 0, got {bound!r}.")
        load = self.load
        if load.warmup_s + load.cooldown_s >= load.duration_s:
            raise HarnessError(
                f"--duration {load.duration_s:g}s leaves no steady window after a "
                f"{load.warmup_s:g}s warm-up and a {load.cooldown_s:g}s cool-down.",
                fix="raise --duration or lower --warmup/--cooldown.",
            )
        return self

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, run_dir: Path) -> Path:
        """Write spec.json atomically (a crash never leaves half a spec)."""
        path = run_dir / "spec.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, run_dir: Path) -> RunSpec:
        data = json.loads((run_dir / "spec.json").read_text())
        load = LoadSpec(**data.pop("load", {}))
        known = {f for f in cls.__dataclass_fields__}
        return cls(load=load, **{k: v for k, v in data.items() if k in known})


def parse_duration(text: str | float | int, flag: str | None = None) -> float:
    """Seconds from ``90``, ``90s``, ``2m``, ``1m30s`` or ``1h`` (Locust's ``-t`` spelling;
    a bare number is seconds). ``flag`` names the option in the error."""
    if isinstance(text, int | float):
        return float(text)
    s = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", s)
    if not parts or "".join(n + u for n, u in parts) != s:
        raise HarnessError(
            f"{flag + ' ' if flag else ''}{text!r} is not a duration.",
            fix="write it as Locust's -t takes it: 90s, 2m, 1m30s or 1h (a bare number is "
            "seconds).",
        )
    scale = {"h": 3600, "m": 60, "s": 1}
    return sum(float(n) * scale[u] for n, u in parts)


def new_run_id(label: str = "") -> str:
    """``YYYYmmdd-HHMMSS-<label>``: sortable, readable, unique enough per machine."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime())
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:40]
    return f"{stamp}-{slug}" if slug else stamp
