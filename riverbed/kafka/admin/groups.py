"""Consumer groups: describe one, read its offsets, find its coordinator, delete it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from riverbed.errors import HarnessError
from riverbed.kafka.admin.client import admin_client


def describe_group(admin: Any, group: str) -> dict[str, Any]:
    """The group as its coordinator describes it, whatever its protocol (classic or consumer).

    kafka-python's ``describe_groups`` entry, or a consumer-protocol group's (see
    :mod:`workloads.group_describe`); ``{"group_state": "Dead"}`` for a group that does
    not exist. :func:`riverbed.chaos.groups.group_view` reads it for one topic.
    """
    from workloads.group_describe import confluent_admin_config
    from workloads.group_describe import describe_group as describe

    def confluent() -> Any:
        # Groups of the consumer protocol (KIP-848) are described through confluent-kafka,
        # with the kafka-python client's own bootstrap servers and security settings.
        from confluent_kafka.admin import AdminClient

        cached = getattr(admin, "_riverbed_confluent", None)
        if cached is not None:  # one per kafka-python client: probes poll every 0.5 s
            return cached
        config = dict(getattr(admin, "config", {}) or {})
        servers = config.pop("bootstrap_servers", "")
        if not isinstance(servers, str):
            servers = ",".join(servers)
        made = AdminClient(confluent_admin_config(servers, **config))
        admin._riverbed_confluent = made
        return made

    return describe(admin, group, confluent) or {"group_state": "Dead"}


def offsets(admin: Any, group: str, topic: str, partitions: int) -> dict[str, dict[int, int]]:
    """Committed, end and start offsets of every partition of ``topic`` for ``group``."""
    from kafka import TopicPartition
    from kafka.protocol.consumer import OffsetSpec

    from workloads.group_describe import with_current_coordinator

    tps = [TopicPartition(topic, p) for p in range(partitions)]
    committed_raw = with_current_coordinator(
        admin, group, lambda: admin.list_group_offsets({group: tps})
    ).get(group, {})
    committed = {
        tp.partition: om.offset
        for tp, om in committed_raw.items()
        if tp.topic == topic and om is not None and om.offset >= 0
    }
    end = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in tps})
    start = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in tps})
    return {
        "committed": committed,
        "end": {tp.partition: o.offset for tp, o in end.items()},
        "start": {tp.partition: o.offset for tp, o in start.items()},
    }


def group_coordinator(bootstrap_servers: str, group: str) -> int:
    """The node id of the group's coordinator (whatever the group's protocol)."""
    from confluent_kafka.admin import AdminClient

    from workloads.group_describe import confluent_admin_config

    admin = AdminClient(confluent_admin_config(bootstrap_servers))
    future = admin.describe_consumer_groups([group], request_timeout=10)[group]
    description = future.result(timeout=15)
    coordinator = getattr(description, "coordinator", None)
    if coordinator is None or coordinator.id is None or coordinator.id < 0:
        raise HarnessError(
            f"The coordinator of group {group!r} is not known.",
            fix="wait until the group has formed, or name the brokers (e.g. `1`).",
        )
    return int(coordinator.id)


def delete_group(
    bootstrap_servers: str,
    group: str,
    wait_s: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> bool:
    """Delete a consumer group and its committed offsets (it must have no members).

    A member that stopped without leaving the group (killed, or a consumer that
    exits on SIGTERM without closing) stays in it until its session times out;
    ``wait_s`` is how long to keep trying while the group is not empty.
    Returns False when the group did not exist; raises for any other error.
    """
    deadline = time.monotonic() + wait_s
    while True:
        name = _delete_group_once(bootstrap_servers, group)
        if name in ("", "OK", "NoError", "NoneType"):
            return True
        if name in ("GroupIdNotFoundError", "CoordinatorNotAvailableError"):
            return False
        if name != "NonEmptyGroupError" or time.monotonic() > deadline:
            break
        if progress is not None:
            progress(f"waiting for the members of {group} to time out before deleting it")
        time.sleep(1.0)
    still = f" ({wait_s:.0f}s after the consumers stopped)" if wait_s else ""
    raise HarnessError(
        f"Could not delete consumer group {group!r}: {name}{still}",
        fix="delete it by hand once its members are gone (kafka-consumer-groups.sh --delete "
        f"--group {group}); it holds only riverbed's offsets.",
    )


def _delete_group_once(bootstrap_servers: str, group: str) -> str:
    """The error name of one DeleteGroups attempt ("" when deleted)."""
    from kafka.errors import CoordinatorNotAvailableError, GroupIdNotFoundError, KafkaError

    with admin_client(bootstrap_servers) as admin:
        try:
            result = admin.delete_groups([group])
        except (GroupIdNotFoundError, CoordinatorNotAvailableError):
            return "GroupIdNotFoundError"  # never committed anything (no coordinator holds it)
        except KafkaError as exc:
            return type(exc).__name__
    # kafka-python 3 answers {group: error name} (None or NoError when deleted).
    error = (result or {}).get(group) if isinstance(result, dict) else None
    return error if isinstance(error, str) else type(error).__name__ if error else ""
