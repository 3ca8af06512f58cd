"""The settings every riverbed program shares: their names, validators and parsers.

riverbed reads settings in three places — the ``riverbed`` CLI (click), the
workload commands (``python -m workloads.…``, argparse) and the Locust users
(Locust's parser). Each takes a flag, then an environment variable, then a
default. This module is the one place that names the settings they share and
holds the value checks and the ``KEY=VALUE`` parser all of them use, so a
setting has one variable everywhere (older names stay readable as aliases).
docs/settings.md lists every setting of every program; it is generated from
the code (``python -m riverbed.settings_doc``) and a test keeps it current.

Standard library only: the workload container installs only the workloads'
base dependencies, and the instrumentation-free workloads import this.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# ---- validators: ValueError with a message meant for the user -------------------------------

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


def parse_bool(text: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case) as a bool."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected one of 1/true/yes/on or 0/false/no/off, got {text!r}")


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"must be zero or more, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """Zero or more, and finite: every such setting is a time, a rate or a size, and
    ``inf`` would only crash later (``Event.wait(inf)`` overflows)."""
    value = float(text)
    if not (value >= 0 and math.isfinite(value)):  # also rejects NaN
        raise ValueError(f"must be zero or more (and finite), got {text}")
    return value


_TIMESPAN = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def seconds(text: str) -> float:
    """A duration as Locust's ``-t`` takes it — ``90s``, ``2m``, ``1h30m``, ``1m30s`` — or
    a bare number of seconds (``90``, ``7.5``); zero or more, finite."""
    word = text.strip().lower()
    try:
        value = float(word)
    except ValueError:
        match = _TIMESPAN.fullmatch(word)
        if not word or match is None:
            raise ValueError(f"not a duration like 90s, 2m or 1m30s: {text}") from None
        h, m, s_ = (float(g) if g else 0.0 for g in match.groups())
        value = h * 3600 + m * 60 + s_
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"must be zero or more (and finite), got {text}")
    return value


def positive_seconds(text: str) -> float:
    value = seconds(text)
    if value <= 0:
        raise ValueError(f"must be more than zero, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"must be more than zero (and finite), got {text}")
    return value


_SERVER = re.compile(r"[^\s:,]+:\d{1,5}")
_TOPIC = re.compile(r"[a-zA-Z0-9._-]{1,249}")


def bootstrap_servers(text: str) -> str:
    """``host:port[,host:port…]`` (spaces around commas dropped)."""
    servers = [s.strip() for s in text.split(",") if s.strip()]
    if not servers or not all(_SERVER.fullmatch(s) for s in servers):
        raise ValueError(f"must be host:port[,host:port…], got {text!r}")
    return ",".join(servers)


def topic_name(text: str) -> str:
    """A legal Kafka topic name: 1-249 of ``[a-zA-Z0-9._-]``."""
    if not _TOPIC.fullmatch(text) or text in (".", ".."):
        raise ValueError(f"must be 1-249 of [a-zA-Z0-9._-], got {text!r}")
    return text


def parse_key_values(
    items: Sequence[str] | str | None, what: str = "item", split: bool = True
) -> dict[str, str]:
    """``KEY=VALUE`` items as a dict; later items win.

    ``items`` is a list (one entry per flag) or one string; each entry is either
    a JSON object (``{"sasl.password": "a b,c"}`` — for values with spaces or
    commas) or items separated by commas or whitespace. With ``split=False`` each
    entry is one item whose value may hold commas and spaces (broker settings such
    as ``listener.security.protocol.map=A:B,C:D``). Keys keep their spelling
    (the caller normalises them); values stay strings.

    >>> parse_key_values("security.protocol=SASL_SSL, sasl.mechanism=PLAIN")
    {'security.protocol': 'SASL_SSL', 'sasl.mechanism': 'PLAIN'}
    >>> parse_key_values(['{"sasl.password": "p w"}', "linger.ms=5"])
    {'sasl.password': 'p w', 'linger.ms': '5'}
    """
    if items is None:
        return {}
    if isinstance(items, str):
        items = [items]
    out: dict[str, str] = {}
    for item in items:
        text = item.strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                # exc.msg only: the document itself may hold a password.
                raise ValueError(f"{what} is not a valid JSON object: {exc.msg}") from None
            if not isinstance(data, dict):
                raise ValueError(f"{what} must be a JSON object of KEY: VALUE")
            for key, value in data.items():
                if not str(key).strip():
                    raise ValueError(f"{what} has an empty key")
                out[str(key).strip()] = "" if value is None else _text(value)
            continue
        previous = ""
        for part in re.split(r"[,\s]+", text) if split else [text]:
            if not part:
                continue
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                if previous:
                    # Most likely the rest of the previous item's value (a password with a
                    # space or comma): never shown, only the key it follows is named.
                    raise ValueError(
                        f"{what} after {previous}=… is not KEY=VALUE: a value with spaces or "
                        f'commas must be given in a JSON object, e.g. {{"{previous}": "…"}}'
                    )
                # The first part of an entry is no fragment of a value: shown to locate it.
                raise ValueError(f"{what} {part!r} is not KEY=VALUE")
            previous = key.strip()
            out[previous] = value.strip()
    return out


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---- the shared settings: one name, one variable, the older names as aliases ------------------


@dataclass(frozen=True)
class Setting:
    """A setting more than one riverbed program reads.

    Programs read ``env`` first, then each of ``env_aliases`` in order (older
    names, kept so that existing scripts and manifests keep working).
    """

    key: str
    """The setting's name in docs/settings.md."""
    flag: str
    """The canonical flag."""
    env: str
    """The canonical environment variable."""
    help: str
    env_aliases: tuple[str, ...] = ()
    """Older variable names still read, after ``env``, in this order."""
    flag_aliases: tuple[str, ...] = ()
    """Older flag spellings still accepted."""
    secret: bool = False
    """Its value may hold passwords: never printed, kept off web UIs."""

    @property
    def envs(self) -> tuple[str, ...]:
        """Every variable the setting is read from, in order of precedence."""
        return (self.env, *self.env_aliases)

    @property
    def flags(self) -> tuple[str, ...]:
        return (self.flag, *self.flag_aliases)

    def from_environ(self, environ: Mapping[str, str]) -> tuple[str, str] | None:
        """``(variable, value)`` of the first of :attr:`envs` set to a non-empty value."""
        for name in self.envs:
            value = environ.get(name)
            if value is not None and value != "":
                return name, value
        return None


#: The variables a container or a tutorial sets (``KAFKA_BROKER`` …): read last.
TUTORIAL_VARIABLES = frozenset(
    {"KAFKA_BROKER", "KAFKA_TOPIC", "KAFKA_GROUP", "KAFKA_CLIENT_CONFIG"}
)

KAFKA_BOOTSTRAP = Setting(
    "kafka-bootstrap",
    "--kafka-bootstrap",
    "RIVERBED_KAFKA_BOOTSTRAP",
    "Kafka bootstrap servers, host:port[,host:port…]",
    env_aliases=("RIVERBED_BOOTSTRAP_SERVERS", "KAFKA_BROKER"),
    flag_aliases=("--bootstrap-servers",),
)
KAFKA_TOPIC = Setting(
    "kafka-topic",
    "--kafka-topic",
    "RIVERBED_KAFKA_TOPIC",
    "the data topic",
    env_aliases=("RIVERBED_TOPIC", "KAFKA_TOPIC"),
    flag_aliases=("--topic",),
)
KAFKA_GROUP = Setting(
    "kafka-group",
    "--kafka-group",
    "RIVERBED_KAFKA_GROUP",
    "the consumer group id",
    env_aliases=("RIVERBED_GROUP", "KAFKA_GROUP"),
    flag_aliases=("--group",),
)
KAFKA_CONFIG = Setting(
    "kafka-config",
    "--kafka-config",
    "RIVERBED_KAFKA_CONFIG",
    "Kafka client settings KEY=VALUE in librdkafka / Java spelling (security.protocol, "
    "sasl.mechanism, sasl.username, sasl.password, ssl.ca.location, …); repeatable. The "
    "variable holds a JSON object or items separated by commas or spaces",
    env_aliases=("KAFKA_CLIENT_CONFIG",),
    secret=True,
)
RUN_DIR = Setting("run-dir", "--run-dir", "RIVERBED_RUN_DIR", "the run directory")
EVIDENCE_TOPIC = Setting(
    "evidence-topic", "--evidence-topic", "RIVERBED_EVIDENCE_TOPIC", "the evidence topic"
)
COMMIT_MODE = Setting(
    "commit-mode",
    "--commit-mode",
    "RIVERBED_COMMIT_MODE",
    "the reference consumer's commit mode: after-process, auto or before-process",
)
CLIENT = Setting(
    "client",
    "--client",
    "RIVERBED_CLIENT",
    "the reference consumer's client library: kafka-python or confluent-kafka",
)
GROUP_PROTOCOL = Setting(
    "group-protocol",
    "--group-protocol",
    "RIVERBED_GROUP_PROTOCOL",
    "the consumer group protocol: classic or consumer (KIP-848)",
)
PLATFORM = Setting("platform", "--platform", "RIVERBED_PLATFORM", "local, external, kind or k8s")

#: Every shared setting, in the order docs/settings.md lists them.
SHARED: tuple[Setting, ...] = (
    KAFKA_BOOTSTRAP,
    KAFKA_TOPIC,
    KAFKA_GROUP,
    KAFKA_CONFIG,
    RUN_DIR,
    EVIDENCE_TOPIC,
    COMMIT_MODE,
    CLIENT,
    GROUP_PROTOCOL,
    PLATFORM,
)


@dataclass(frozen=True)
class Variable:
    """An environment variable that is no flag's fallback: read on its own."""

    name: str
    help: str
    read_by: str
    """Which program reads it."""
    default: str = ""
    internal: bool = False
    """Set by riverbed for its own child processes, not meant to be set by hand."""


#: Variables read without a flag (paths, tool locations, and what riverbed hands its children).
ENVIRONMENT_ONLY: tuple[Variable, ...] = (
    Variable("RIVERBED_CONFIG", "the settings file (riverbed.toml)", "riverbed", "./riverbed.toml"),
    Variable("RIVERBED_RUNS_DIR", "where run directories are made", "riverbed", "runs"),
    Variable(
        "RIVERBED_STATE_DIR",
        "state of long-lived local services",
        "riverbed",
        "$XDG_STATE_HOME/riverbed or ~/.local/state/riverbed",
    ),
    Variable(
        "RIVERBED_LOCAL_STATE_DIR",
        "the local platform's state (supervisor, replicas); chaos activities find the "
        "running platform through it",
        "riverbed, chaos activities",
        "<state dir>/local",
    ),
    Variable(
        "RIVERBED_CACHE_DIR",
        "downloads (the Apache Kafka jars)",
        "riverbed",
        "$XDG_CACHE_HOME/riverbed or ~/.cache/riverbed",
    ),
    Variable(
        "RIVERBED_KAFKA_LIBS",
        "an unpacked Apache Kafka 4.x libs/ directory to use instead of Maven Central",
        "riverbed",
    ),
    Variable(
        "RIVERBED_MAVEN_ARGS",
        "extra Maven arguments for the first download of the Kafka jars (e.g. -s settings.xml)",
        "riverbed",
    ),
    Variable(
        "RIVERBED_TOXIPROXY_SERVER",
        "a toxiproxy-server binary to use for network faults instead of building one with Go",
        "riverbed",
        "built once into the cache dir",
    ),
    Variable("RIVERBED_DOCKER", "the docker binary", "riverbed kind", "docker on PATH"),
    Variable(
        "RIVERBED_SESSION_FORWARD_MAX_S",
        "seconds a k8s by-hand session's port-forwards are held at most when nothing collects it",
        "riverbed up --platform k8s",
        "43200 (12 hours)",
    ),
    Variable(
        "RIVERBED_DOCKER_BUILD_NETWORK",
        "the network of offline image builds",
        "riverbed kind",
    ),
    Variable(
        "RIVERBED_DEBIAN_MIRROR",
        "the Debian mirror offline node images are built from",
        "riverbed kind prepare",
        "deb.debian.org",
    ),
    Variable(
        "RIVERBED_PARTITIONS",
        "the run's partition count, in the experiments' environment",
        "chaos experiments",
        internal=True,
    ),
    Variable(
        "RIVERBED_EXTERNAL_BASE_PORT",
        "the host port broker 0's external listener advertises (broker i: plus i), in the "
        "Kafka pods on kind and Kubernetes",
        "Kafka's start-up script",
        internal=True,
    ),
    Variable(
        "RIVERBED_CHAOS_JOURNAL",
        "where `chaos run` writes its journal (the evidence control need not copy it)",
        "chaos control",
        internal=True,
    ),
)
