"""The ``riverbed`` options for a Kafka cluster riverbed does not run (``--platform external``).

``--kafka-bootstrap`` and ``--kafka-config`` are the shared settings of
:mod:`workloads.settings_core` (the same flags and variables as Locust's and the
workloads'); ``--keep-topics`` leaves the run's topics on the cluster. Every value is
checked here, before anything starts (exit 4); a connection setting riverbed does
not know is refused, and no message ever holds a secret.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click

from riverbed.errors import HarnessError
from workloads import client_config
from workloads.settings_core import KAFKA_BOOTSTRAP, KAFKA_CONFIG, bootstrap_servers

_GIVEN = (click.core.ParameterSource.COMMANDLINE,)
_AMBIENT = (click.core.ParameterSource.ENVIRONMENT, click.core.ParameterSource.DEFAULT_MAP)


class _Items(click.ParamType):
    """``KEY=VALUE`` items; a variable holds one value (a JSON object or items), parsed later."""

    name = "KEY=VALUE"
    # Never split a variable's value: a JSON object may hold spaces (and passwords may).
    envvar_list_splitter = "\0"


def kafka_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--kafka-bootstrap`` and ``--kafka-config`` (run, up, down)."""
    fn = click.option(
        "--kafka-config",
        "kafka_config",
        multiple=True,
        type=_Items(),
        envvar=list(KAFKA_CONFIG.envs),
        metavar="KEY=VALUE",
        help="external: client connection settings in librdkafka / Java spelling, e.g. "
        "security.protocol=SASL_SSL sasl.mechanism=SCRAM-SHA-512 sasl.username=U "
        "sasl.password=P ssl.ca.location=ca.pem (repeatable; items separated by commas or "
        "spaces, or a JSON object, the way to give a value with spaces or commas: "
        '\'{"sasl.password": "p w"}\'; the variable takes the same). Every riverbed client '
        "and your consumer get them; secrets never reach spec.json, logs or the report.",
    )(fn)
    return click.option(
        "--kafka-bootstrap",
        "kafka_bootstrap",
        envvar=list(KAFKA_BOOTSTRAP.envs),
        metavar="HOST:PORT,…",
        help="external: the bootstrap servers of a Kafka cluster riverbed does not run (a "
        "staging cluster).",
    )(fn)


keep_topics_option = click.option(
    "--keep-topics",
    is_flag=True,
    help="external: leave the topics (and the consumer group) riverbed created on the cluster "
    "at the end, e.g. to inspect them [default: delete them].",
)


@dataclass(frozen=True)
class ExternalKafka:
    """The checked ``--platform external`` settings."""

    bootstrap_servers: str
    settings: dict[str, str] = field(default_factory=dict)
    """Connection settings, librdkafka spelling (secrets included: keep it in memory)."""
    keep_topics: bool = False

    @property
    def masked(self) -> dict[str, str]:
        return client_config.masked(self.settings)


def _source(ctx: click.Context, name: str) -> Any:
    return ctx.get_parameter_source(name) if name in ctx.params else None


def external_kafka(
    ctx: click.Context,
    platform: str,
    kafka_bootstrap: str | None,
    kafka_config: tuple[str, ...],
    keep_topics: bool = False,
    say: Callable[[str], None] | None = None,
) -> ExternalKafka | None:
    """Check the external-Kafka options together; None on the other platforms.

    On another platform the flags are refused; values that come from the
    environment (exported for a by-hand load, say) or riverbed.toml are ignored
    with a note.
    """
    flags = {
        "kafka_bootstrap": "--kafka-bootstrap",
        "kafka_config": "--kafka-config",
        "keep_topics": "--keep-topics",
    }
    if platform != "external":
        given = [flag for name, flag in flags.items() if _source(ctx, name) in _GIVEN]
        if given:
            names = " and ".join(given)
            raise HarnessError(
                f"{names} {'apply' if len(given) > 1 else 'applies'} to a Kafka cluster "
                f"riverbed does not run (--platform external); this run is on {platform}.",
                fix=f"add --platform external, or drop {names}.",
            )
        ambient = [
            flag
            for name, flag in flags.items()
            if name != "keep_topics" and _source(ctx, name) in _AMBIENT
        ]
        if ambient and say is not None:
            say(
                f"note: {' and '.join(ambient)} set in the environment or riverbed.toml, but "
                f"--platform {platform} runs its own Kafka: ignored (--platform external "
                "tests against that cluster)"
            )
        return None
    if not kafka_bootstrap:
        raise HarnessError(
            "--platform external needs the cluster's bootstrap servers.",
            fix="pass --kafka-bootstrap HOST:PORT[,HOST:PORT…] (and --kafka-config for TLS "
            "and SASL).",
        )
    try:
        servers = bootstrap_servers(kafka_bootstrap)
    except ValueError as exc:
        raise HarnessError(
            f"--kafka-bootstrap {exc}.", fix="write HOST:PORT[,HOST:PORT…]."
        ) from None
    source = "--kafka-config"
    if _source(ctx, "kafka_config") == click.core.ParameterSource.ENVIRONMENT:
        found = KAFKA_CONFIG.from_environ(os.environ)
        source = f"${found[0]}" if found else source
    try:
        settings = client_config.parse(kafka_config, source=source, strict=True)
    except client_config.ClientConfigError as exc:
        raise HarnessError(f"{source}: {exc.message}.", fix=exc.fix or None) from None
    return ExternalKafka(servers, settings, keep_topics)


def refuse_local_only(ctx: click.Context, options: dict[str, str]) -> None:
    """Refuse, on --platform external, options that configure riverbed's own Kafka."""
    given = [flag for name, flag in options.items() if _source(ctx, name) in _GIVEN]
    if given:
        names = " and ".join(given)
        raise HarnessError(
            f"{names} {'configure' if len(given) > 1 else 'configures'} riverbed's own Kafka; "
            "on --platform external the cluster has its own brokers.",
            fix=f"drop {names}.",
        )
