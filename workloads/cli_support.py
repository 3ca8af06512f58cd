"""What every workload command shares: flags with environment fallbacks, logging, signals.

Each flag that a container sets through its environment (the tutorial's
``KAFKA_BROKER``, ``KAFKA_TOPIC``, ``KAFKA_GROUP`` and riverbed's ``RIVERBED_*``)
is declared once with :meth:`EnvArgumentParser.add_env_argument`: the command
line wins, then the environment variable, then the default. A bad value from
either source exits with status 2 and a message that names both the flag and
the variable, because argparse alone would let a bad environment value through.
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
    value = float(text)
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"must be zero or more, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"must be more than zero, got {text}")
    return value


@dataclass(frozen=True)
class _EnvSpec:
    dest: str
    flag: str
    env: str
    convert: Callable[[str], Any]
    choices: Sequence[str] | None
    default: Any
    required: bool


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
        env: str,
        help: str,
        default: Any = None,
        type: Callable[[str], Any] = str,
        choices: Sequence[str] | None = None,
        required: bool = False,
        metavar: str | None = None,
    ) -> None:
        """Add ``flag`` (a value option) that falls back to ``$env``, then ``default``."""
        dest = flag.lstrip("-").replace("-", "_")
        shown = f" [env {env}" + (f"; default {default}]" if default not in (None, "") else "]")
        self.add_argument(
            flag,
            dest=dest,
            default=None,
            type=_named(type, flag),
            choices=choices,
            metavar=metavar,
            help=help + shown,
        )
        self._env_specs.append(_EnvSpec(dest, flag, env, type, choices, default, required))

    def add_env_flag(self, flag: str, *, env: str, help: str) -> None:
        """Add a boolean switch ``flag`` that ``$env`` (1/true/yes/on) can also turn on."""
        dest = flag.lstrip("-").replace("-", "_")
        self.add_argument(
            flag, dest=dest, action="store_true", default=None, help=f"{help} [env {env}]"
        )
        self._env_specs.append(_EnvSpec(dest, flag, env, parse_bool, None, False, False))

    def add_bootstrap_servers(self) -> None:
        """``--bootstrap-servers``, falling back to the tutorial's ``KAFKA_BROKER``."""
        self.add_env_argument(
            "--bootstrap-servers",
            env="KAFKA_BROKER",
            default="localhost:9092",
            metavar="HOST:PORT[,…]",
            help="Kafka bootstrap servers",
        )

    def add_topic(self) -> None:
        """``--topic``, falling back to the tutorial's ``KAFKA_TOPIC``."""
        self.add_env_argument(
            "--topic", env="KAFKA_TOPIC", required=True, metavar="TOPIC", help="the data topic"
        )

    def add_group(self) -> None:
        """``--group``, falling back to the tutorial's ``KAFKA_GROUP``."""
        self.add_env_argument(
            "--group",
            env="KAFKA_GROUP",
            required=True,
            metavar="GROUP",
            help="the consumer group id",
        )

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
        return ns, rest

    def _apply_env(self, ns: Any) -> None:
        for spec in self._env_specs:
            if getattr(ns, spec.dest, None) is not None:
                continue
            raw = os.environ.get(spec.env)
            if raw is None or (raw == "" and spec.convert is not parse_bool):
                if spec.required and spec.default is None:
                    self.error(f"{spec.flag} is required (or set {spec.env})")
                setattr(ns, spec.dest, spec.default)
                continue
            try:
                value = spec.convert(raw)
            except (TypeError, ValueError) as exc:
                self.error(f"{spec.flag} (from {spec.env}={raw!r}): {exc}")
            if spec.choices is not None and value not in spec.choices:
                self.error(
                    f"{spec.flag} (from {spec.env}={raw!r}): choose from {', '.join(spec.choices)}"
                )
            setattr(ns, spec.dest, value)


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
