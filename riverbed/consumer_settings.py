"""The reference consumer's client and group protocol, from a run spec to its replicas.

``riverbed run`` / ``riverbed up`` take ``--client`` (kafka-python or
confluent-kafka) and ``--group-protocol`` (classic or consumer, KIP-848). They
reach the consumer replicas as flags (local platform, supervised processes) or
as environment variables of the consumer Deployment (Kubernetes), which the
workload reads with the same precedence (flag, then ``RIVERBED_*``).

Under the consumer protocol the session timeout and heartbeat interval are the
broker's, per group: the run's ``--session-timeout-ms`` is then applied as the
group's configuration (``consumer.session.timeout.ms``, and a heartbeat
interval like the classic consumer's) before the consumers join, and recorded in
spec.json ``group_configs``, so that both protocols run with the same timings.
"""

from __future__ import annotations

from collections.abc import Callable

from riverbed.errors import HarnessError
from riverbed.spec import RunSpec
from workloads.consumer.config import assignors_for, default_assignor
from workloads.consumer.rdkafka_settings import UnsupportedSetting, check_combination


def resolve_assignor(assignor: str | None, group_protocol: str) -> str:
    """The assignor a run uses: the one given, else the protocol's default."""
    return assignor or default_assignor(group_protocol)


def check_consumer_settings(client: str, group_protocol: str, assignor: str) -> None:
    """Refuse, before anything starts, a combination the reference consumer would refuse."""
    try:
        check_combination(client, group_protocol, assignor)
    except UnsupportedSetting as exc:
        if group_protocol == "consumer" and client != "confluent-kafka":
            fix = "add --client confluent-kafka, or use --group-protocol classic."
        elif assignor not in assignors_for(group_protocol):
            fix = f"use --assignor {' / '.join(assignors_for(group_protocol))}."
        else:
            fix = (
                "use --assignor range / roundrobin / cooperative-sticky, or --client kafka-python."
            )
        raise HarnessError(f"{exc}.", fix=fix) from exc


def consumer_args(spec: RunSpec) -> list[str]:
    """Flags for the supervised reference consumers (beyond topic, group, commit mode...)."""
    args = ["--client", spec.client, "--group-protocol", spec.group_protocol]
    if spec.group_protocol == "classic":
        args += ["--session-timeout-ms", str(spec.session_timeout_ms)]
    return args


def consumer_env(client: str, group_protocol: str) -> dict[str, str]:
    """The same, as environment variables of the consumer pods."""
    return {"RIVERBED_CLIENT": client, "RIVERBED_GROUP_PROTOCOL": group_protocol}


def apply_group_configs(
    spec: RunSpec, bootstrap_servers: str, progress: Callable[[str], None]
) -> None:
    """Consumer protocol: give the run's group the run's session timeout (broker-side)."""
    if spec.group_protocol != "consumer":
        return
    from riverbed.kafka.group_config import consumer_group_timings, set_group_configs

    wanted = consumer_group_timings(spec.session_timeout_ms)
    progress(
        f"setting group {spec.group}'s consumer.session.timeout.ms to "
        f"{wanted['consumer.session.timeout.ms']} ms"
    )
    spec.group_configs = set_group_configs(bootstrap_servers, spec.group, wanted)
