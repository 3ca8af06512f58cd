"""Fault schedules for a campaign: which fault, when, whom, how long — drawn from a seed.

A campaign runs many generated fault schedules against one consumer, the way
Jepsen's generators and Kafka's system tests do, and reports a matrix of
runs × checks. :func:`generate` is a pure function: the same seed, fault
vocabulary and settings give the same schedules, on any machine (each run's
draws come from its own ``random.Random`` seeded with a string, which Python
hashes deterministically).

The vocabulary (``--faults``), each a parameterized copy of a local experiment
(on kind and Kubernetes, of the experiment in the last column of :data:`KUBE_TEMPLATES`:
there the experiment picks the pod, so a step names no target):

======================  ==========================================  =========================
name                    what                                        experiment
======================  ==========================================  =========================
``kill``                SIGTERM one consumer                        kill-consumer
``kill-hard``           SIGKILL one consumer                        kill-consumer-hard
``pause``               SIGSTOP one consumer past its session        pause-consumer
                        timeout (a zombie), then SIGCONT
``partition``           cut one consumer off from the coordinator    network-partition
                        (or every broker) past its session timeout
``latency``             delay one consumer's traffic                 network-latency
``bandwidth``           throttle one consumer's traffic              network-bandwidth
``reset``               reset one consumer's connections             network-reset
``resize``              add partitions (once per schedule)           resize-partitions
``scale``               scale the consumers out and back             scale-consumers
``broker-kill``         SIGKILL a broker, restart it                 kill-broker
``broker-pause``        SIGSTOP a broker, then SIGCONT               pause-broker
``poison``              write invalid records                        poison-records
======================  ==========================================  =========================
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from riverbed.errors import HarnessError

#: Fault name → the local experiment it parameterizes.
TEMPLATES: dict[str, str] = {
    "kill": "kill-consumer",
    "kill-hard": "kill-consumer-hard",
    "pause": "pause-consumer",
    "partition": "network-partition",
    "latency": "network-latency",
    "bandwidth": "network-bandwidth",
    "reset": "network-reset",
    "resize": "resize-partitions",
    "scale": "scale-consumers",
    "broker-kill": "kill-broker",
    "broker-pause": "pause-broker",
    "poison": "poison-records",
}
FAULTS = tuple(TEMPLATES)
#: Fault name → the Kubernetes experiment it parameterizes (kind, k8s): the faults that
#: exist there (latency, bandwidth and broker pauses need what pods lack, see docs/chaos.md).
KUBE_TEMPLATES: dict[str, str] = {
    "kill": "kill-consumer-pod",
    "kill-hard": "kill-consumer-pod-hard",
    "pause": "pause-consumer-pod",
    "partition": "network-partition-pod",
    "reset": "network-reset-pod",
    "resize": "resize-partitions",
    "scale": "scale-consumers",
    "broker-kill": "kill-broker-pod",
    "poison": "poison-records",
}
#: Platforms whose faults are Kubernetes experiments.
KUBE_PLATFORMS = ("kind", "k8s")


def templates_for(platform: str) -> dict[str, str]:
    """Fault name → experiment name on ``platform``."""
    return KUBE_TEMPLATES if platform in KUBE_PLATFORMS else TEMPLATES


#: Faults that need Toxiproxy between the consumers and the brokers.
NETWORK_FAULTS = frozenset({"partition", "latency", "bandwidth", "reset"})
#: The default vocabulary: every fault a consumer's correctness can be judged under.
DEFAULT_FAULTS = (
    "kill",
    "kill-hard",
    "pause",
    "partition",
    "latency",
    "reset",
    "resize",
    "broker-kill",
    "broker-pause",
)
#: Faults that need riverbed's own Kafka: its broker processes, or a listener per replica.
LOCAL_KAFKA_FAULTS = frozenset({"broker-kill", "broker-pause"}) | NETWORK_FAULTS
#: Faults drawn at most once per schedule (Kafka cannot remove partitions).
ONCE = frozenset({"resize"})
#: Longest wait before a fault, after the previous one recovered (seconds).
MAX_DELAY_S = 5.0


@dataclass(frozen=True)
class FaultStep:
    """One fault of a schedule."""

    kind: str
    """A name from :data:`FAULTS`."""
    delay_s: float
    """How long after the previous step (or the warm-up) the fault starts."""
    target: str | None = None
    """Whom: a consumer replica (``consumer-2``), a broker id (``"3"``), or None."""
    duration_s: float | None = None
    """How long it lasts (pauses, network faults, a broker's downtime); None: instant."""
    params: tuple[tuple[str, Any], ...] = ()
    """Other parameters (latency, rate, partition count…), as sorted pairs."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "delay_s": self.delay_s,
            "target": self.target,
            "duration_s": self.duration_s,
            "params": dict(self.params),
        }

    def describe(self) -> str:
        """One line for people: ``pause consumer-2 for 22s after 3.1s``."""
        bits = [self.kind]
        if self.target:
            bits.append(self.target if not self.target.isdigit() else f"broker {self.target}")
        bits += [f"{k}={v}" for k, v in self.params]
        if self.duration_s is not None:
            bits.append(f"for {self.duration_s:g}s")
        bits.append(f"after {self.delay_s:g}s")
        return " ".join(bits)


@dataclass(frozen=True)
class Schedule:
    """The faults of one run of a campaign, in order."""

    index: int
    """1-based position in the campaign."""
    seed: int
    """The campaign's seed."""
    steps: tuple[FaultStep, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return f"r{self.index:02d}"

    @property
    def kinds(self) -> list[str]:
        return [s.kind for s in self.steps]

    @property
    def network(self) -> bool:
        """Whether the schedule needs network faults (Toxiproxy)."""
        return any(s.kind in NETWORK_FAULTS for s in self.steps)

    def describe(self) -> str:
        return "; ".join(s.describe() for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "index": self.index,
            "seed": self.seed,
            "steps": [s.to_dict() for s in self.steps],
            "describe": self.describe(),
        }


def parse_faults(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """The fault vocabulary from ``--faults`` (comma-separated); an error naming the valid ones."""
    if text is None or text == "":
        return DEFAULT_FAULTS
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in TEMPLATES]
    if unknown or not names:
        raise HarnessError(
            f"Unknown fault {', '.join(unknown) or '(none given)'} in --faults.",
            fix=f"use a comma-separated list of: {', '.join(FAULTS)}.",
        )
    return tuple(dict.fromkeys(names))


def faults_for(platform: str, asked: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The vocabulary of a campaign on ``platform``: the faults asked for (default
    :data:`DEFAULT_FAULTS`); on a Kafka cluster riverbed does not run, the default
    leaves out broker and network faults, and asking for one is an error; on kind and
    Kubernetes, the default leaves out what has no experiment there, and asking for it
    is an error."""
    if platform in KUBE_PLATFORMS:
        if asked is None:
            return tuple(k for k in DEFAULT_FAULTS if k in KUBE_TEMPLATES)
        missing = [k for k in asked if k not in KUBE_TEMPLATES]
        if missing:
            raise HarnessError(
                f"--faults {', '.join(missing)} have no experiment on Kubernetes (they need "
                "Toxiproxy's queueing or a broker process riverbed runs).",
                fix=f"draw from {', '.join(KUBE_TEMPLATES)}, or use --platform local.",
            )
        return asked
    if platform != "external":
        return asked or DEFAULT_FAULTS
    if asked is None:
        return tuple(k for k in DEFAULT_FAULTS if k not in LOCAL_KAFKA_FAULTS)
    refused = [k for k in asked if k in LOCAL_KAFKA_FAULTS]
    if refused:
        allowed = [k for k in FAULTS if k not in LOCAL_KAFKA_FAULTS]
        raise HarnessError(
            f"--faults {', '.join(refused)} need riverbed's own Kafka (its broker processes, "
            "or a listener per consumer replica); --platform external touches nothing of a "
            "cluster but its own topics.",
            fix=f"draw from {', '.join(allowed)}, or use --platform local.",
        )
    return asked


def generate(
    seed: int,
    runs: int,
    faults: Iterable[str] = DEFAULT_FAULTS,
    consumers: int = 3,
    brokers: int = 3,
    partitions: int = 3,
    session_timeout_s: float = 10.0,
    max_faults: int = 2,
    platform: str = "local",
) -> list[Schedule]:
    """``runs`` fault schedules drawn from ``seed`` (pure: same arguments, same schedules).

    Each schedule has 1..``max_faults`` faults drawn from ``faults``; pauses and
    partitions last 1.6–2.4 session timeouts (so the member is evicted and comes
    back as a zombie), other durations are drawn per fault. On kind and Kubernetes
    the experiment picks the pod: the steps name no target (the draws are the same,
    so a seed gives schedules of the same shape on every platform).
    """
    kinds = parse_faults(list(faults))
    if runs < 1:
        raise HarnessError(f"--runs must be at least 1, got {runs}.")
    if max_faults < 1:
        raise HarnessError(f"--max-faults must be at least 1, got {max_faults}.")
    out = []
    for index in range(1, runs + 1):
        rng = random.Random(f"riverbed-campaign:{seed}:{index}")
        n = rng.randint(1, max_faults)
        steps: list[FaultStep] = []
        for _ in range(n):
            allowed = [k for k in kinds if not (k in ONCE and k in [s.kind for s in steps])]
            if not allowed:
                break
            kind = rng.choice(allowed)
            step = _step(rng, kind, consumers, brokers, partitions, session_timeout_s)
            if platform in KUBE_PLATFORMS:
                # The StatefulSet restarts a killed broker pod at once: no downtime to set.
                down = None if kind == "broker-kill" else step.duration_s
                step = replace(step, target=None, duration_s=down)
            steps.append(step)
        out.append(Schedule(index, seed, tuple(steps)))
    return out


def _step(
    rng: random.Random,
    kind: str,
    consumers: int,
    brokers: int,
    partitions: int,
    session_s: float,
) -> FaultStep:
    delay = round(rng.uniform(0.0, MAX_DELAY_S), 1)
    consumer = f"consumer-{rng.randint(1, consumers)}"
    past_session = round(rng.uniform(1.6, 2.4) * session_s)
    if kind in ("kill", "kill-hard"):
        return FaultStep(kind, delay, consumer)
    if kind == "pause":
        return FaultStep(kind, delay, consumer, float(past_session))
    if kind == "partition":
        where = rng.choice(("coordinator", "coordinator", "all"))
        return FaultStep(kind, delay, consumer, float(past_session), (("brokers", where),))
    if kind == "latency":
        latency = rng.choice((100, 200, 300, 400, 500))
        return FaultStep(
            kind,
            delay,
            consumer,
            float(rng.randint(8, 20)),
            (("jitter_ms", latency // 3), ("latency_ms", latency)),
        )
    if kind == "bandwidth":
        rate = rng.choice((8, 16, 32, 64))
        return FaultStep(kind, delay, consumer, float(rng.randint(8, 20)), (("rate_kbps", rate),))
    if kind == "reset":
        after = rng.choice((200, 500, 1000))
        return FaultStep(kind, delay, consumer, float(rng.randint(5, 12)), (("after_ms", after),))
    if kind == "resize":
        return FaultStep(kind, delay, None, None, (("partitions", partitions + rng.randint(1, 3)),))
    if kind == "scale":
        return FaultStep(kind, delay, None, None, (("replicas", consumers + rng.randint(1, 2)),))
    if kind == "broker-kill":
        return FaultStep(kind, delay, str(rng.randint(1, brokers)), float(rng.randint(5, 15)))
    if kind == "broker-pause":
        return FaultStep(kind, delay, str(rng.randint(1, brokers)), float(rng.randint(5, 15)))
    if kind == "poison":
        return FaultStep(kind, delay, None, None, (("count", rng.randint(3, 8)),))
    raise HarnessError(f"Unknown fault {kind!r}.")  # pragma: no cover - parse_faults checks


def expected_seconds(
    step: FaultStep, session_timeout_s: float = 10.0, platform: str = "local"
) -> float:
    """A generous estimate of how long a step's experiment takes, recovery included
    (so that the run's load covers every fault). A pod takes longer than a process to
    come back, a broker pod longest."""
    d = step.duration_s or 0.0
    recover = 2 * session_timeout_s
    if platform in KUBE_PLATFORMS:
        kube = {
            "kill": 40.0,
            "kill-hard": recover + 30.0,
            "pause": d + recover + 10.0,
            "partition": d + recover + 10.0,
            "reset": d + 20.0,
            "resize": 30.0,
            "scale": 90.0,
            "broker-kill": 150.0,
            "poison": 20.0,
        }
        return step.delay_s + kube.get(step.kind, 40.0)
    costs = {
        "kill": 10.0,
        "kill-hard": recover,
        "pause": d + recover,
        "partition": d + recover,
        "latency": d + 10.0,
        "bandwidth": d + 10.0,
        "reset": d + 10.0,
        "resize": 15.0,
        "scale": 30.0,
        "broker-kill": d + 45.0,
        "broker-pause": d + 30.0,
        "poison": 10.0,
    }
    return step.delay_s + costs.get(step.kind, 20.0)
