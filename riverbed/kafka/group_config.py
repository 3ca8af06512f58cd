"""A consumer group's broker-side settings (KIP-848 group configs), through the admin API.

Under the consumer protocol the session timeout and the heartbeat interval are
the broker's: a member cannot choose them. Each group may override the
broker's defaults (``group.consumer.session.timeout.ms``, 45 s, and
``group.consumer.heartbeat.interval.ms``, 5 s) with the dynamic group configs
``consumer.session.timeout.ms`` and ``consumer.heartbeat.interval.ms``, within
the broker's minimum and maximum. The configs can be set before the group
exists, and a running group picks them up at its members' next heartbeats.
"""

from __future__ import annotations

from typing import Any

from riverbed.errors import HarnessError


def consumer_group_timings(session_timeout_ms: int) -> dict[str, str]:
    """The group configs matching a classic consumer's timings: the same session timeout,
    and the heartbeat interval riverbed's classic consumer uses (a third of it, at most 3 s)."""
    heartbeat = max(1000, min(3000, session_timeout_ms // 3))
    return {
        "consumer.session.timeout.ms": str(session_timeout_ms),
        "consumer.heartbeat.interval.ms": str(heartbeat),
    }


def set_group_configs(
    bootstrap_servers: str, group: str, configs: dict[str, str], timeout_s: float = 30.0
) -> dict[str, str]:
    """Set ``configs`` on ``group`` (IncrementalAlterConfigs); returns them as the broker
    describes them afterwards. A value outside the broker's bounds is a clear error."""
    import time

    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        ResourceType,
    )

    from workloads import client_config

    # The run's connection settings (TLS, SASL) for a cluster riverbed does not run.
    admin = AdminClient(
        {"bootstrap.servers": bootstrap_servers, **client_config.librdkafka_from_environ()}
    )
    entries = [
        ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in configs.items()
    ]
    resource = ConfigResource(ResourceType.GROUP, group, incremental_configs=entries)
    try:
        for future in admin.incremental_alter_configs(
            [resource], request_timeout=timeout_s
        ).values():
            future.result(timeout=timeout_s)
        # Group configs reach the brokers through the metadata log: a broker that has not
        # caught up yet still describes the defaults. Read back until they agree.
        deadline = time.monotonic() + timeout_s
        while True:
            out: dict[str, Any] = {}
            described = admin.describe_configs(
                [ConfigResource(ResourceType.GROUP, group)], request_timeout=timeout_s
            )
            for future in described.values():
                for name, entry in future.result(timeout=timeout_s).items():
                    if name in configs:
                        out[name] = entry.value
            if out == configs or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    except KafkaException as exc:
        err = exc.args[0] if exc.args else exc
        text = err.str() if hasattr(err, "str") else str(err)
        raise HarnessError(
            f"Could not set the consumer-protocol settings of group {group!r}: {text}",
            fix="the broker bounds them with group.consumer.min/max.session.timeout.ms and "
            "group.consumer.min/max.heartbeat.interval.ms: raise --session-timeout-ms into "
            "its range, or lower the broker's minimums (riverbed's local cluster allows 6 s).",
        ) from exc
    return {k: str(v) for k, v in out.items()}
