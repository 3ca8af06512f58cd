"""Admin-API reads the Kafka activities share (one admin client per activity call)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from riverbed.chaos import targets
from riverbed.chaos.groups import GroupView, group_view
from riverbed.errors import HarnessError
from riverbed.kafka.admin import admin_client

logger = logging.getLogger("chaostoolkit")


@contextlib.contextmanager
def admin(bootstrap_servers: str, secrets: dict[str, Any] | None) -> Iterator[Any]:
    # Kafka clients log every refused connection while a broker is down on purpose.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    with admin_client(bootstrap_servers, **targets.kafka_client_configs(secrets)) as client:
        yield client


def topic_partitions(client: Any, topic: str) -> list[dict[str, Any]]:
    """The topic's partitions (index, leader, replicas, ISR); a clear error if it does not exist."""
    from kafka.errors import UnknownTopicOrPartitionError

    try:
        described = client.describe_topics([topic])
    except UnknownTopicOrPartitionError:
        described = []
    if not described or described[0].get("error_code"):
        raise HarnessError(
            f"Topic {topic!r} does not exist.",
            fix="pass the data topic's name (configuration `topic`, env RIVERBED_TOPIC).",
        )
    return sorted(described[0]["partitions"], key=lambda p: p["partition_index"])


def describe_group(client: Any, group: str, topic: str) -> GroupView:
    """The group as its coordinator describes it, whatever its protocol (classic or consumer)."""
    from workloads.group_describe import confluent_admin_config, describe_group

    def confluent() -> Any:
        # Groups of the consumer protocol (KIP-848) are described through confluent-kafka,
        # with the kafka-python client's own bootstrap servers and security settings.
        from confluent_kafka.admin import AdminClient

        cached = getattr(client, "_riverbed_confluent", None)
        if cached is not None:  # one per kafka-python client: probes poll every 0.5 s
            return cached
        config = dict(getattr(client, "config", {}) or {})
        servers = config.pop("bootstrap_servers", "")
        if not isinstance(servers, str):
            servers = ",".join(servers)
        made = AdminClient(confluent_admin_config(servers, **config))
        client._riverbed_confluent = made
        return made

    description = describe_group(client, group, confluent)
    return group_view(description or {"group_state": "Dead"}, topic)


def offsets(client: Any, group: str, topic: str, partitions: int) -> dict[str, dict[int, int]]:
    """Committed, end and start offsets of every partition of ``topic`` for ``group``."""
    from kafka import TopicPartition
    from kafka.protocol.consumer import OffsetSpec

    tps = [TopicPartition(topic, p) for p in range(partitions)]
    from workloads.group_describe import with_current_coordinator

    committed_raw = with_current_coordinator(
        client, group, lambda: client.list_group_offsets({group: tps})
    ).get(group, {})
    committed = {
        tp.partition: om.offset
        for tp, om in committed_raw.items()
        if tp.topic == topic and om is not None and om.offset >= 0
    }
    end = client.list_partition_offsets({tp: OffsetSpec.LATEST for tp in tps})
    start = client.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in tps})
    return {
        "committed": committed,
        "end": {tp.partition: o.offset for tp, o in end.items()},
        "start": {tp.partition: o.offset for tp, o in start.items()},
    }


def poll_until(
    check: Callable[[], tuple[bool, str]],
    timeout: float,
    settle_s: float = 0.0,
    interval: float = 0.5,
    what: str = "condition",
) -> bool:
    """Run ``check`` until it holds for ``settle_s`` seconds in a row, or ``timeout`` passes.

    Kafka errors while a broker or the group coordinator moves are part of
    the weather during a fault: they count as "not yet", and the last one is
    logged if the time runs out.
    """
    deadline = time.monotonic() + max(0.0, timeout)
    held_since: float | None = None
    last = ""
    while True:
        try:
            ok, last = check()
        except HarnessError:
            raise
        except Exception as exc:  # a Kafka error is "not yet"
            ok, last = False, f"{type(exc).__name__}: {exc}"
        now = time.monotonic()
        if ok:
            held_since = now if held_since is None else held_since
            if now - held_since >= settle_s:
                logger.info(f"{what}: yes" + (f" ({last})" if last else ""))
                return True
        else:
            held_since = None
        # A condition that holds when the time is up gets settle_s more to prove it.
        if now >= deadline + (settle_s if held_since is not None else 0.0):
            logger.info(f"{what}: no — {last}")
            return False
        time.sleep(interval)


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


def partition_counts_by_broker(client: Any, topic: str) -> dict[int, int] | None:
    """Each broker's own answer to "how many partitions has ``topic``" ({broker id: count}).

    Brokers learn a topic's new partitions from the controller one after another: right
    after a change, an admin request (sent to any one broker) may still get the old count.
    None when this kafka-python does not let riverbed address one broker (its internals
    changed): callers then rely on the answer of any broker."""
    try:
        from kafka.protocol.metadata import MetadataRequest

        manager = client._manager
        ids = sorted(b.node_id for b in manager.cluster.brokers())
    except (AttributeError, ImportError):
        return None

    async def ask(node_id: int) -> int:
        request = MetadataRequest(
            topics=[MetadataRequest.MetadataRequestTopic(name=topic)],
            allow_auto_topic_creation=False,
        )
        response = (await manager.send(request, node_id=node_id)).to_dict()
        found = response["topics"][0]
        return 0 if found["error_code"] else len(found["partitions"])

    return {node_id: manager.run(ask, node_id) for node_id in ids}

