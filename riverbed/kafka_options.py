"""The ``riverbed`` options for a Kafka cluster riverbed does not run (``--platform external``,
or ``--platform k8s --kafka-bootstrap``: the user's own Kafka on Kubernetes).

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
        help="external, k8s with --kafka-bootstrap: client connection settings in librdkafka / Java spelling, e.g. "
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
        "staging cluster). k8s: your own Kafka (Strimzi, a managed service) at the address the "
        "pods use, e.g. my-cluster-kafka-bootstrap.kafka.svc:9092: riverbed deploys no Kafka, "
        "creates its own topics there and deletes them afterwards (docs/kubernetes.md).",
    )(fn)


def _remember(ctx: click.Context, param: click.Parameter, value: object) -> object:
    ctx.meta[f"riverbed.{param.name}"] = value
    return value


#: The ``--kafka-host-bootstrap`` option (run, up, down): this machine's route to the user's
#: Kafka on Kubernetes, when the pods' address is not reachable from here.
kafka_host_bootstrap_option = click.option(
    "--kafka-host-bootstrap",
    "kafka_host_bootstrap",
    envvar="RIVERBED_KAFKA_HOST_BOOTSTRAP",
    metavar="HOST:PORT,…",
    default=None,
    expose_value=False,
    callback=_remember,
    help="k8s with --kafka-bootstrap: the bootstrap servers THIS machine reaches the same "
    "Kafka cluster at (topic creation, chaos probes, drains, evidence collection), when the "
    "pods' address (--kafka-bootstrap) does not resolve or route here, e.g. a listener "
    "outside the cluster [default: --kafka-bootstrap]. Both must answer with one cluster id.",
)


keep_topics_option = click.option(
    "--keep-topics",
    is_flag=True,
    help="external, k8s with --kafka-bootstrap: leave the topics (and the consumer group) riverbed created on the cluster "
    "at the end, e.g. to inspect them [default: delete them].",
)


@dataclass(frozen=True)
class ExternalKafka:
    """The checked ``--platform external`` settings."""

    bootstrap_servers: str
    settings: dict[str, str] = field(default_factory=dict)
    """Connection settings, librdkafka spelling (secrets included: keep it in memory)."""
    keep_topics: bool = False
    host_bootstrap: str | None = None
    """k8s: this machine's route to the cluster, when it differs from the pods'."""

    @property
    def host(self) -> str:
        """The bootstrap servers this machine uses."""
        return self.host_bootstrap or self.bootstrap_servers

    @property
    def masked(self) -> dict[str, str]:
        return client_config.masked(self.settings)


def _session_route(kafka_bootstrap: str | None) -> bool:
    """``kafka_bootstrap`` is the route a sourced riverbed.env exported for the session's
    own Kafka (it exports the same address as RIVERBED_BOOTSTRAP_SERVERS)."""
    return bool(kafka_bootstrap) and kafka_bootstrap == os.environ.get("RIVERBED_BOOTSTRAP_SERVERS")


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

    On k8s, ``--kafka-bootstrap`` on the command line names the user's own Kafka (the
    pods' route; ``--kafka-host-bootstrap`` this machine's). On another platform the
    flags are refused; values that come from the environment (exported for a by-hand
    load, say) or riverbed.toml are ignored with a note.
    """
    flags = {
        "kafka_bootstrap": "--kafka-bootstrap",
        "kafka_config": "--kafka-config",
        "keep_topics": "--keep-topics",
    }
    host = ctx.meta.get("riverbed.kafka_host_bootstrap")
    user_on_k8s = platform == "k8s" and _source(ctx, "kafka_bootstrap") in _GIVEN
    # Not in ctx.params (kept in ctx.meta), so asked of the context directly.
    if host and not user_on_k8s and ctx.get_parameter_source("kafka_host_bootstrap") in _GIVEN:
        raise HarnessError(
            "--kafka-host-bootstrap is this machine's route to your own Kafka on Kubernetes; "
            f"it needs --platform k8s and --kafka-bootstrap (this run is on {platform}).",
            fix="add --platform k8s --kafka-bootstrap ADDR (the pods' address), or drop "
            "--kafka-host-bootstrap.",
        )
    if platform == "kind" and _source(ctx, "kafka_bootstrap") in _GIVEN:
        raise HarnessError(
            "--kafka-bootstrap on --platform kind: the kind platform deploys its own Kafka.",
            fix="for your own Kafka on a cluster, use --platform k8s --context NAME "
            "--kafka-bootstrap ADDR (kind-NAME for a kind cluster); for riverbed's, drop "
            "--kafka-bootstrap.",
        )
    if platform != "external" and not user_on_k8s:
        given = [flag for name, flag in flags.items() if _source(ctx, name) in _GIVEN]
        if given:
            names = " and ".join(given)
            where = (
                "add --kafka-bootstrap ADDR (your own Kafka, as the pods reach it)"
                if platform == "k8s"
                else "add --platform external"
            )
            raise HarnessError(
                f"{names} {'apply' if len(given) > 1 else 'applies'} to a Kafka cluster "
                f"riverbed does not run (--platform external, or --platform k8s with "
                f"--kafka-bootstrap); this run is on {platform}.",
                fix=f"{where}, or drop {names}.",
            )
        ambient = [
            flag
            for name, flag in flags.items()
            if name != "keep_topics"
            and _source(ctx, name) in _AMBIENT
            # A by-hand session's environment (riverbed.env) names its own Kafka so: no
            # other cluster is meant, nothing to note.
            and not (name == "kafka_bootstrap" and _session_route(kafka_bootstrap))
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
    host_servers = None
    if user_on_k8s and host:
        try:
            host_servers = bootstrap_servers(str(host))
        except ValueError as exc:
            raise HarnessError(
                f"--kafka-host-bootstrap {exc}.", fix="write HOST:PORT[,HOST:PORT…]."
            ) from None
    return ExternalKafka(servers, settings, keep_topics, host_servers)


def refuse_local_only(
    ctx: click.Context, options: dict[str, str], where: str = "--platform external"
) -> None:
    """Refuse, on a Kafka riverbed does not run, options that configure riverbed's own."""
    given = [flag for name, flag in options.items() if _source(ctx, name) in _GIVEN]
    if given:
        names = " and ".join(given)
        raise HarnessError(
            f"{names} {'configure' if len(given) > 1 else 'configures'} riverbed's own Kafka; "
            f"on {where} the cluster has its own brokers.",
            fix=f"drop {names}.",
        )
