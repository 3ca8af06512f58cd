"""Command-line options of riverbed's Locust users, each with an environment variable.

Locust parses these together with its own options (``--help`` lists them under
"riverbed …" groups). The command line wins, then the environment variable,
then the default. A bad value from either source exits with status 2 and names
both the option and the variable.

This module has no Locust import: the pure parts (validators, client config,
the pre-parse of ``--shape`` and ``--run-dir``) are unit-tested without gevent.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workloads.settings_core import (
    KAFKA_BOOTSTRAP,
    KAFKA_CONFIG,
    KAFKA_TOPIC,
    RUN_DIR,
    bootstrap_servers,
    non_negative_float,
    non_negative_int,
    parse_key_values,
    positive_float,
    positive_int,
    positive_seconds,
    seconds,
    topic_name,
)

DEFAULT_BOOTSTRAP = "localhost:9092"
DEFAULT_TOPIC = "riverbed-events"
DRIVERS = ("kafka-python", "confluent")
COMPRESSIONS = ("none", "gzip", "snappy", "lz4", "zstd")
SHAPES = ("steady", "step", "spike", "chaos-window")


class OptionError(ValueError):
    """A bad option value; argparse turns it into ``error: argument --x: …`` and exit 2."""


# ---- value types (argparse ``type=``; the message names the env variable too) ----------------


def _typed(
    convert: Callable[[str], Any], what: str, env: str, secret: bool = False
) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return convert(text)
        except (TypeError, ValueError) as exc:
            # A secret's value is never repeated; the validator's message names the key.
            got = f": {exc}" if secret else f", got {text!r}"
            raise argparse.ArgumentTypeError(
                f"{what}{got} (from the command line or ${env})"
            ) from None

    parse.__name__ = what  # argparse shows the type's name in some messages
    return parse


# The value checks every riverbed program shares (workloads.settings_core).
_positive_int = positive_int
_non_negative_int = non_negative_int
_non_negative_float = non_negative_float
_positive_float = positive_float
_bootstrap = bootstrap_servers
_topic = topic_name


def _prefix(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.]{1,20}", text):
        raise ValueError(text)
    return text


def _shape(text: str) -> str:
    if text not in (*SHAPES, "none"):
        raise ValueError(text)
    return text


def _acks(text: str) -> str:
    word = text.strip().lower()
    if word in ("all", "-1"):
        return "all"
    if word in ("0", "1"):
        return word
    raise ValueError(text)


# ---- client config pass-through ----------------------------------------------------------------


def parse_client_config(items: Sequence[str] | str | None) -> dict[str, str]:
    """``KEY=VALUE`` items (a list, or one string separated by commas or whitespace, or a
    JSON object) as a dict (:func:`workloads.settings_core.parse_key_values`).

    Keys keep their spelling here; each driver normalises them (``linger.ms`` and
    ``linger_ms`` mean the same; connection settings are translated by
    :mod:`workloads.client_config`). Values stay strings; drivers convert them.

    >>> parse_client_config("security.protocol=SASL_SSL, sasl.mechanism=PLAIN")
    {'security.protocol': 'SASL_SSL', 'sasl.mechanism': 'PLAIN'}
    """
    try:
        return parse_key_values(items, what="client config item")
    except ValueError as exc:
        raise OptionError(f"{exc} (e.g. --kafka-config security.protocol=SASL_SSL)") from None


def _client_config_item(text: str) -> str:
    # Validated now, so a typo exits 2 before any load: the syntax, and the connection
    # settings (an unknown ssl./sasl. key, a missing CA file). Never echoes a value.
    from workloads import client_config

    try:
        client_config.split(parse_client_config(text))
    except client_config.ClientConfigError as exc:
        raise ValueError(str(exc)) from None
    return text


# ---- the pre-parse: what must be known before Locust parses its options -----------------------


@dataclass(frozen=True)
class Preparsed:
    """Options read from ``argv`` and the environment before Locust's own parse.

    Locust imports the locustfile (and so decides the shape class) before it
    parses the command line, so ``--shape`` is read here the way Locust reads
    ``-f``. The run directory is read here too, so that the default
    ``--html``/``--csv`` paths can point into it.
    """

    shape: str | None
    """Name of the load shape (one of :data:`SHAPES`), or ``None`` for plain Locust."""
    run_dir: str
    """The run directory (``runs/<id>``)."""


def default_run_dir(now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    return f"runs/{stamp}-locust"


def preparse(
    argv: Sequence[str], environ: Mapping[str, str], now: float | None = None
) -> Preparsed:
    """Read ``--shape`` and ``--run-dir`` (or ``RIVERBED_SHAPE``, ``RIVERBED_RUN_DIR``).

    An unknown shape name is left for the full parse to reject with exit 2.

    >>> preparse(["-f", "x.py", "--shape=chaos-window", "--run-dir", "runs/a"], {})
    Preparsed(shape='chaos-window', run_dir='runs/a')
    >>> preparse([], {"RIVERBED_SHAPE": "none", "RIVERBED_RUN_DIR": "runs/b"})
    Preparsed(shape=None, run_dir='runs/b')
    """
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--shape")
    parser.add_argument("--run-dir")
    known, _ = parser.parse_known_args(list(argv))
    shape = known.shape if known.shape is not None else environ.get("RIVERBED_SHAPE")
    if shape is not None and shape.strip().lower() in ("", "none"):
        shape = None
    run_dir = known.run_dir or environ.get("RIVERBED_RUN_DIR") or default_run_dir(now)
    return Preparsed(shape=shape, run_dir=run_dir)


# ---- option registration -----------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One riverbed option: flag, environment variable(s), default, type, help."""

    flag: str
    env: tuple[str, ...]
    default: Any
    type: Callable[[str], Any] | None
    help: str
    choices: tuple[str, ...] | None = None
    multiple: bool = False
    secret: bool = False
    metavar: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def default_text(self, default: Any) -> str:
        if default is None:
            return "unset"
        if isinstance(default, list):
            return " ".join(str(d) for d in default)
        return str(default)


def _opt(
    flag: str,
    env: str | tuple[str, ...],
    default: Any,
    convert: Callable[[str], Any] | None,
    what: str,
    help: str,
    **kw: Any,
) -> Option:
    envs = (env,) if isinstance(env, str) else env
    typ = _typed(convert, what, envs[0], bool(kw.get("secret"))) if convert else None
    return Option(flag, envs, default, typ, help, **kw)


COMMON_OPTIONS: tuple[Option, ...] = (
    _opt(
        RUN_DIR.flag,
        RUN_DIR.envs,
        None,  # filled from the pre-parse, so the file names and the HTML/CSV default agree
        None,
        "",
        "Run directory: acks evidence goes to <run-dir>/evidence/acks/<producer-id>.jsonl and, "
        "unless --html/--csv say otherwise, Locust's report to <run-dir>/locust/.",
        metavar="DIR",
    ),
    _opt(
        "--key-space",
        "RIVERBED_KEY_SPACE",
        100,
        _positive_int,
        "--key-space must be a positive integer",
        "Number of distinct message keys (k0..kN-1), chosen uniformly per send.",
        metavar="N",
    ),
    _opt(
        "--body-bytes",
        "RIVERBED_BODY_BYTES",
        128,
        _non_negative_int,
        "--body-bytes must be zero or more",
        "Size of each message body in bytes (the value adds ~170 bytes of envelope).",
        metavar="N",
    ),
    _opt(
        "--user-rate",
        "RIVERBED_USER_RATE",
        10.0,
        _non_negative_float,
        "--user-rate must be zero or more",
        "Sends per second per user; 0 = as fast as the in-flight limit allows.",
        metavar="PER_S",
    ),
    _opt(
        "--producer-prefix",
        "RIVERBED_PRODUCER_PREFIX",
        None,
        _prefix,
        "--producer-prefix must be 1-20 letters, digits, '_' or '.'",
        "Prefix of the producer id (<prefix>-<host>-<pid>-<random>); "
        "default lw (Kafka user) or lh (HTTP user).",
        metavar="TEXT",
    ),
    _opt(
        "--close-timeout",
        "RIVERBED_CLOSE_TIMEOUT",
        30.0,
        _non_negative_float,
        "--close-timeout must be zero or more",
        "Seconds a process may take at test stop to get the outcomes of sends in flight; "
        "sends still without one are recorded as unknown.",
        metavar="S",
    ),
)

KAFKA_OPTIONS: tuple[Option, ...] = (
    _opt(
        KAFKA_BOOTSTRAP.flag,
        KAFKA_BOOTSTRAP.envs,
        DEFAULT_BOOTSTRAP,
        _bootstrap,
        "--kafka-bootstrap must be host:port[,host:port…]",
        "Kafka bootstrap servers.",
        metavar="HOST:PORT,…",
    ),
    _opt(
        KAFKA_TOPIC.flag,
        KAFKA_TOPIC.envs,
        DEFAULT_TOPIC,
        _topic,
        "--kafka-topic must be 1-249 of [a-zA-Z0-9._-]",
        "Topic to produce to; it must exist (riverbed does not auto-create it).",
        metavar="TOPIC",
    ),
    _opt(
        "--kafka-driver",
        "RIVERBED_KAFKA_DRIVER",
        "kafka-python",
        None,
        "",
        "Kafka client: kafka-python (pure Python) or confluent (librdkafka, several times faster).",
        choices=DRIVERS,
    ),
    _opt(
        "--kafka-acks",
        "RIVERBED_KAFKA_ACKS",
        "all",
        _acks,
        "--kafka-acks must be all, -1, 0 or 1",
        "Producer acks.",
        metavar="all|1|0",
    ),
    _opt(
        "--kafka-linger-ms",
        "RIVERBED_KAFKA_LINGER_MS",
        5,
        _non_negative_int,
        "--kafka-linger-ms must be zero or more",
        "Producer linger.ms (batching delay).",
        metavar="MS",
    ),
    _opt(
        "--kafka-compression",
        "RIVERBED_KAFKA_COMPRESSION",
        "none",
        None,
        "",
        "Producer compression.type.",
        choices=COMPRESSIONS,
    ),
    _opt(
        KAFKA_CONFIG.flag,
        KAFKA_CONFIG.envs,
        None,
        _client_config_item,
        "--kafka-config takes KEY=VALUE items",
        "Client setting KEY=VALUE, e.g. security.protocol=SASL_SSL sasl.username=u "
        "sasl.password=p ssl.ca.location=ca.pem (connection settings in librdkafka / Java "
        "spelling, translated for each driver) or any producer setting (passed to the client "
        "as is); repeatable; the variable takes a JSON object or items separated by commas or "
        "spaces. Dots and underscores in keys are interchangeable.",
        multiple=True,
        secret=True,
        metavar="KEY=VALUE",
    ),
    _opt(
        "--max-in-flight",
        "RIVERBED_MAX_IN_FLIGHT",
        2000,
        _positive_int,
        "--max-in-flight must be a positive integer",
        "Sends without an outcome yet, per process; users wait (backpressure) beyond it.",
        metavar="N",
    ),
)

HTTP_OPTIONS: tuple[Option, ...] = (
    _opt(
        "--http-timeout",
        "RIVERBED_HTTP_TIMEOUT",
        30.0,
        _positive_float,
        "--http-timeout must be a positive number",
        "Seconds to wait for the producer service's answer; no answer in time is recorded "
        "as unknown.",
        metavar="S",
    ),
)

SHAPE_OPTIONS: tuple[Option, ...] = (
    _opt(
        "--shape",
        "RIVERBED_SHAPE",
        None,
        _shape,
        f"--shape must be one of {', '.join(SHAPES)} or none",
        "Load shape (read before Locust parses options: give it on the command line or in the "
        "variable, not in a config file). Users and spawn rate come from -u/-r. "
        "Without a shape, Locust runs -u users for -t.",
        metavar="|".join(SHAPES),
    ),
    _opt(
        "--duration-s",
        "RIVERBED_DURATION_S",
        60.0,
        positive_seconds,
        "--duration-s must be a positive duration (90, 90s, 2m)",
        "Without -t only. steady/step/spike: total length; chaos-window (older spelling): "
        "the steady phase. Prefer Locust's -t, the total length for every shape.",
        metavar="DURATION",
    ),
    _opt(
        "--warmup-s",
        "RIVERBED_WARMUP_S",
        10.0,
        seconds,
        "--warmup-s must be a duration of zero or more (10, 10s, 1m)",
        "chaos-window: warm-up before the steady phase (users ramp up at -r).",
        metavar="DURATION",
    ),
    _opt(
        "--cooldown-s",
        "RIVERBED_COOLDOWN_S",
        10.0,
        seconds,
        "--cooldown-s must be a duration of zero or more (10, 10s, 1m)",
        "chaos-window: cool-down after the steady phase, then the run stops by itself.",
        metavar="DURATION",
    ),
    _opt(
        "--cooldown-users",
        "RIVERBED_COOLDOWN_USERS",
        None,
        _non_negative_int,
        "--cooldown-users must be zero or more",
        "chaos-window: users during the cool-down (default: the same as -u).",
        metavar="N",
    ),
    _opt(
        "--step-users",
        "RIVERBED_STEP_USERS",
        10,
        _positive_int,
        "--step-users must be a positive integer",
        "step: users added per step, up to -u.",
        metavar="N",
    ),
    _opt(
        "--step-s",
        "RIVERBED_STEP_S",
        10.0,
        positive_seconds,
        "--step-s must be a positive duration (10, 10s)",
        "step: length of each step.",
        metavar="DURATION",
    ),
    _opt(
        "--spike-users",
        "RIVERBED_SPIKE_USERS",
        50,
        _positive_int,
        "--spike-users must be a positive integer",
        "spike: users during the spike (otherwise -u).",
        metavar="N",
    ),
    _opt(
        "--spike-at-s",
        "RIVERBED_SPIKE_AT_S",
        20.0,
        seconds,
        "--spike-at-s must be a duration of zero or more (20, 20s)",
        "spike: when the spike starts.",
        metavar="DURATION",
    ),
    _opt(
        "--spike-s",
        "RIVERBED_SPIKE_S",
        10.0,
        positive_seconds,
        "--spike-s must be a positive duration (10, 10s)",
        "spike: how long the spike lasts.",
        metavar="DURATION",
    ),
)


def env_default(option: Option, environ: Mapping[str, str]) -> Any:
    """The option's default: its first set environment variable (a string argparse
    converts and validates), else the built-in default."""
    for name in option.env:
        value = environ.get(name)
        if value is not None and value != "":
            if option.multiple:
                return [value]
            return value
    return option.default


def add_options(
    parser: Any,
    title: str,
    options: Sequence[Option],
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> None:
    """Register ``options`` on a (Locust) argument parser, once.

    ``overrides`` replaces built-in defaults (e.g. the run directory from the
    pre-parse). A second call for the same options is a no-op, so two riverbed
    locustfiles can be given to one ``-f``.
    """
    environ = os.environ if environ is None else environ
    known = set(getattr(parser, "_option_string_actions", {}))
    group = parser.add_argument_group(title)
    for opt in options:
        if opt.flag in known:
            continue
        default = env_default(opt, environ)
        if overrides and opt.dest in overrides and default is opt.default:
            default = overrides[opt.dest]
        env_help = " or ".join(f"${e}" for e in opt.env)
        kwargs: dict[str, Any] = {
            "dest": opt.dest,
            "default": default,
            "help": f"{opt.help} [env {env_help}; default {opt.default_text(default)}]",
        }
        if opt.type is not None:
            kwargs["type"] = opt.type
        if opt.choices:
            kwargs["choices"] = opt.choices
        if opt.metavar:
            kwargs["metavar"] = opt.metavar
        if opt.multiple:
            kwargs["action"] = "append"
        action = group.add_argument(opt.flag, **kwargs)
        # Locust's web UI offers the options marked like this (groups do not take the
        # keyword); secrets and lists stay off it.
        action.include_in_web_ui = not (opt.secret or opt.multiple)
        action.is_secret = False
        action.is_required = False
        action.is_multiple = False


# ---- the parsed settings -----------------------------------------------------------------------


@dataclass(frozen=True)
class CommonSettings:
    """Settings every riverbed user shares, read from Locust's parsed options."""

    run_dir: Path
    """The run directory; evidence goes under ``evidence/acks/``."""
    key_space: int
    """Keys are ``k0`` .. ``k<key_space-1>``."""
    body_bytes: int
    """Body size of each message."""
    user_rate: float
    """Sends per second per user (0: unthrottled)."""
    producer_prefix: str | None
    """Prefix of producer ids, ``None`` for the user's default."""
    close_timeout: float
    """Seconds to wait at test stop for outcomes of sends in flight."""

    @classmethod
    def from_options(cls, options: Any) -> CommonSettings:
        return cls(
            run_dir=Path(options.run_dir or default_run_dir()),
            key_space=int(options.key_space),
            body_bytes=int(options.body_bytes),
            user_rate=float(options.user_rate),
            producer_prefix=options.producer_prefix,
            close_timeout=float(options.close_timeout),
        )


@dataclass(frozen=True)
class KafkaSettings:
    """What the Kafka producer user needs, read from Locust's parsed options."""

    bootstrap: str
    topic: str
    driver: str
    acks: str
    linger_ms: int
    compression: str
    client_config: dict[str, str]
    """Extra client settings as given (``--kafka-config``), keys not yet normalised."""
    max_in_flight: int
    close_timeout: float

    @classmethod
    def from_options(cls, options: Any) -> KafkaSettings:
        return cls(
            bootstrap=options.kafka_bootstrap,
            topic=options.kafka_topic,
            driver=options.kafka_driver,
            acks=options.kafka_acks,
            linger_ms=int(options.kafka_linger_ms),
            compression=options.kafka_compression,
            client_config=parse_client_config(options.kafka_config),
            max_in_flight=int(options.max_in_flight),
            close_timeout=float(options.close_timeout),
        )
