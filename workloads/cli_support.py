"""What every workload command shares: flags with environment fallbacks, logging, signals.

Each flag that a container sets through its environment (the tutorial's
``KAFKA_BROKER``, ``KAFKA_TOPIC``, ``KAFKA_GROUP`` and riverbed's ``RIVERBED_*``)
is declared once with :meth:`EnvArgumentParser.add_env_argument`: the command
line wins, then the environment variable (the first one set, for settings with
older names: see :mod:`workloads.settings_core`), then the default. A bad value
from either source exits with status 2 and a message that names both the flag
and the variable, because argparse alone would let a bad environment value through.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from workloads import client_config
from workloads.settings_core import (
    FALSE_WORDS,
    KAFKA_BOOTSTRAP,
    KAFKA_CONFIG,
    KAFKA_GROUP,
    KAFKA_TOPIC,
    TRUE_WORDS,
    Setting,
    bootstrap_servers,
    non_negative_float,
    non_negative_int,
    parse_bool,
    positive_float,
    positive_int,
)

__all__ = [
    "FALSE_WORDS",
    "TRUE_WORDS",
    "EnvArgumentParser",
    "StopSignal",
    "non_negative_float",
    "non_negative_int",
    "parse_bool",
    "positive_float",
    "positive_int",
    "report_result",
    "setup_logging",
]


@dataclass(frozen=True)
class _EnvSpec:
    dest: str
    flag: str
    envs: tuple[str, ...]
    convert: Callable[[str], Any]
    choices: Sequence[str] | None
    default: Any
    required: bool
    secret: bool = False
    shown: str = ""
    """The variable messages suggest (the program's documented one); default the first."""

    @property
    def env(self) -> str:
        return self.shown or self.envs[0]

    def also(self) -> str:
        """``; also Y, Z`` (the other variables read), or nothing."""
        others = [e for e in self.envs if e != self.env]
        return f"; also {', '.join(others)}" if others else ""


class EnvArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose flags may fall back to environment variables."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self._env_specs: list[_EnvSpec] = []

    def add_env_argument(
        self,
        flag: str,
        *,
        env: str | Sequence[str],
        help: str,
        default: Any = None,
        type: Callable[[str], Any] = str,
        choices: Sequence[str] | None = None,
        required: bool = False,
        metavar: str | None = None,
        aliases: Sequence[str] = (),
        dest: str | None = None,
        secret: bool = False,
        shown_env: str = "",
    ) -> None:
        """Add ``flag`` (a value option, also spelt ``aliases``) that falls back to the
        first of ``env`` that is set, then ``default``. ``shown_env``: the variable
        messages suggest (default: the first)."""
        envs = (env,) if isinstance(env, str) else tuple(env)
        dest = dest or flag.lstrip("-").replace("-", "_")
        spec = _EnvSpec(dest, flag, envs, type, choices, default, required, secret, shown_env)
        shown = f" [env {spec.env}{spec.also()}" + (
            f"; default {default}]" if default not in (None, "") else "]"
        )
        self.add_argument(
            flag,
            *aliases,
            dest=dest,
            default=None,
            type=_named(type, flag),
            choices=choices,
            metavar=metavar,
            help=help + shown,
        )
        self._env_specs.append(spec)

    def add_setting(
        self,
        setting: Setting,
        *,
        dest: str,
        flag: str | None = None,
        help: str | None = None,
        shown_env: str = "",
        **kwargs: Any,
    ) -> None:
        """Add a shared setting (:mod:`workloads.settings_core`): every spelling of its
        flag and every variable it is known by. ``flag`` is the one ``--help`` shows
        first (a command's own older spelling)."""
        first = flag or setting.flag
        aliases = [f for f in setting.flags if f != first]
        self.add_env_argument(
            first,
            env=setting.envs,
            aliases=aliases,
            dest=dest,
            help=help or setting.help,
            secret=setting.secret,
            shown_env=shown_env,
            **kwargs,
        )

    def add_env_flag(self, flag: str, *, env: str, help: str) -> None:
        """Add a boolean switch ``flag`` that ``$env`` (1/true/yes/on) can also turn on."""
        dest = flag.lstrip("-").replace("-", "_")
        self.add_argument(
            flag, dest=dest, action="store_true", default=None, help=f"{help} [env {env}]"
        )
        self._env_specs.append(_EnvSpec(dest, flag, (env,), parse_bool, None, False, False))

    def add_bootstrap_servers(self) -> None:
        """``--bootstrap-servers`` (or ``--kafka-bootstrap``), falling back to
        ``RIVERBED_KAFKA_BOOTSTRAP``, ``RIVERBED_BOOTSTRAP_SERVERS``, the tutorial's
        ``KAFKA_BROKER``."""
        self.add_setting(
            KAFKA_BOOTSTRAP,
            dest="bootstrap_servers",
            flag="--bootstrap-servers",
            shown_env="KAFKA_BROKER",
            type=bootstrap_servers,
            default="localhost:9092",
            metavar="HOST:PORT[,…]",
            help="Kafka bootstrap servers",
        )

    def add_topic(self) -> None:
        """``--topic`` (or ``--kafka-topic``), falling back to ``RIVERBED_KAFKA_TOPIC``,
        ``RIVERBED_TOPIC``, the tutorial's ``KAFKA_TOPIC``."""
        self.add_setting(
            KAFKA_TOPIC,
            dest="topic",
            flag="--topic",
            shown_env="KAFKA_TOPIC",
            required=True,
            metavar="TOPIC",
        )

    def add_group(self) -> None:
        """``--group`` (or ``--kafka-group``), falling back to ``RIVERBED_KAFKA_GROUP``,
        ``RIVERBED_GROUP``, the tutorial's ``KAFKA_GROUP``."""
        self.add_setting(
            KAFKA_GROUP,
            dest="group",
            flag="--group",
            shown_env="KAFKA_GROUP",
            required=True,
            metavar="GROUP",
        )

    def add_client_config(self) -> None:
        """``--kafka-config KEY=VALUE`` (repeatable): the Kafka client's connection settings
        (TLS, SASL), falling back to ``RIVERBED_KAFKA_CONFIG`` (see
        :mod:`workloads.client_config`). Parsed into ``kafka_config``, a dict of checked
        settings in librdkafka spelling."""
        self.add_argument(
            KAFKA_CONFIG.flag,
            dest="kafka_config_items",
            action="append",
            default=None,
            metavar="KEY=VALUE",
            help="Kafka client connection setting (security.protocol, sasl.mechanism, "
            "sasl.username, sasl.password, ssl.ca.location, …); repeatable "
            f"[env {' or '.join(KAFKA_CONFIG.envs)}: a JSON object or KEY=VALUE items]",
        )
        self._client_config = True

    def add_timeout(self, env: str) -> None:
        """``--timeout S``: give up (exit 2) after S seconds."""
        self.add_env_argument(
            "--timeout",
            env=env,
            type=positive_float,
            default=60.0,
            metavar="S",
            help="give up (exit 2) after S seconds",
        )

    def add_verbose(self) -> None:
        self.add_argument("-v", "--verbose", action="store_true", help="debug logging")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        # Resolved here, not in parse_args: a subcommand's parser only sees this call.
        ns, rest = super().parse_known_args(args, namespace)
        self._apply_env(ns)
        if getattr(self, "_client_config", False):
            self._apply_client_config(ns)
        return ns, rest

    def _apply_env(self, ns: Any) -> None:
        for spec in self._env_specs:
            if getattr(ns, spec.dest, None) is not None:
                continue
            found = next(
                (
                    (name, raw)
                    for name in spec.envs
                    if (raw := os.environ.get(name)) is not None
                    and (raw != "" or spec.convert is parse_bool)
                ),
                None,
            )
            if found is None:
                if spec.required and spec.default is None:
                    self.error(f"{spec.flag} is required (or set {spec.env}){spec.also()}")
                setattr(ns, spec.dest, spec.default)
                continue
            name, raw = found
            source = f"from {name}" if spec.secret else f"from {name}={raw!r}"
            try:
                value = spec.convert(raw)
            except (TypeError, ValueError) as exc:
                self.error(f"{spec.flag} ({source}): {exc}")
            if spec.choices is not None and value not in spec.choices:
                self.error(f"{spec.flag} ({source}): choose from {', '.join(spec.choices)}")
            setattr(ns, spec.dest, value)

    def _apply_client_config(self, ns: Any) -> None:
        items = ns.kafka_config_items
        try:
            if items:
                ns.kafka_config = client_config.parse(items, source="--kafka-config")
            else:
                ns.kafka_config = client_config.from_environ()
        except client_config.ClientConfigError as exc:
            self.error(f"--kafka-config: {exc}")


def _named(convert: Callable[[str], Any], flag: str) -> Callable[[str], Any]:
    """Wrap a converter so argparse shows *why* a value was refused."""
    if convert is str:
        return str

    def wrapper(text: str) -> Any:
        try:
            return convert(text)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    wrapper.__name__ = getattr(convert, "__name__", flag)
    return wrapper


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr (a pod's log); Kafka client chatter only from WARNING up."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("kafka").setLevel(logging.INFO if verbose else logging.WARNING)


class StopSignal:
    """SIGTERM / SIGINT as a flag the main loop checks between units of work.

    ``reason`` is the evidence contract's word for the stop: ``sigterm`` for
    SIGTERM (an orchestrator stopping the pod), ``close`` for SIGINT or a
    stop requested by the program itself.
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason: str | None = None

    def install(self) -> StopSignal:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        self.request("sigterm" if signum == signal.SIGTERM else "close")

    def request(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.event.set()

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def wait(self, timeout: float) -> bool:
        return self.event.wait(timeout)


def report_result(result: dict[str, Any]) -> int:
    """Print a drain/collect result as JSON on stdout; exit 0 when it finished, else 2."""
    import json
    import sys

    print(json.dumps(result), file=sys.stdout)
    return 0 if result["finished"] else 2
