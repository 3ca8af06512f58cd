"""Topics: create, describe, grow, configure and delete them."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from riverbed.errors import HarnessError
from riverbed.kafka.admin.client import admin_client

_NO_TOPIC_FIX = (
    "check the topic's name: each run has its own (spec.json `topic`); a chaos activity "
    "takes it from its `topic` argument, else RIVERBED_TOPIC."
)


def describe(admin: Any, topic: str) -> dict[str, Any]:
    """The topic's metadata (partitions with leader, replicas and ISR) through ``admin``."""
    from kafka.errors import UnknownTopicOrPartitionError

    try:
        topics = admin.describe_topics([topic])
    except UnknownTopicOrPartitionError as exc:
        raise HarnessError(f"Topic {topic!r} does not exist.", fix=_NO_TOPIC_FIX) from exc
    if not topics or topics[0].get("error_code"):
        raise HarnessError(f"Topic {topic!r} does not exist.", fix=_NO_TOPIC_FIX)
    return dict(topics[0])


def topic_partitions(admin: Any, topic: str) -> list[dict[str, Any]]:
    """The topic's partitions (index, leader, replicas, ISR) by index; an error if it does
    not exist."""
    return sorted(describe(admin, topic)["partitions"], key=lambda p: p["partition_index"])


def describe_topic(bootstrap_servers: str, topic: str) -> dict[str, Any]:
    """The topic's metadata: partitions with leader, replicas and ISR."""
    with admin_client(bootstrap_servers) as admin:
        return describe(admin, topic)


def partition_count(bootstrap_servers: str, topic: str) -> int:
    return len(describe_topic(bootstrap_servers, topic)["partitions"])


def topic_exists(bootstrap_servers: str, topic: str) -> bool:
    with admin_client(bootstrap_servers) as admin:
        return topic in admin.list_topics()


#: Topic settings of an output topic riverbed creates (output-topic evidence): the broker
#: stamps each output with the time it appended it, whatever timestamp the service's
#: producer set (Kafka Streams, for one, keeps its input's), so the outputs' times
#: say when the service wrote them — what the duplicate and key-order checks need.
OUTPUT_TOPIC_CONFIG = {"message.timestamp.type": "LogAppendTime"}


def create_topic(
    bootstrap_servers: str,
    name: str,
    partitions: int = 3,
    replication_factor: int = 1,
    min_insync_replicas: int | None = None,
    config: dict[str, str] | None = None,
    timeout: float = 30.0,
    exist_ok: bool = False,
) -> None:
    """Create ``name`` and wait until each of its partitions has a leader."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    configs = dict(config or {})
    if min_insync_replicas is not None:
        configs["min.insync.replicas"] = str(min_insync_replicas)
    with admin_client(bootstrap_servers) as admin:
        try:
            admin.create_topics(
                [NewTopic(name, partitions, replication_factor, topic_configs=configs)],
                timeout_ms=int(timeout * 1000),
            )
        except TopicAlreadyExistsError:
            if not exist_ok:
                raise HarnessError(
                    f"Topic {name!r} already exists.", fix="pick another topic name or delete it."
                ) from None
        _wait_leaders(admin, name, partitions, timeout)


def add_partitions(
    bootstrap_servers: str, topic: str, total: int, timeout: float = 30.0, **configs: Any
) -> int:
    """Increase ``topic`` to ``total`` partitions (see :func:`grow_partitions`); returns the
    count before. ``configs``: admin client settings (kafka-python names)."""
    with admin_client(bootstrap_servers, **configs) as admin:
        return grow_partitions(admin, topic, total, timeout)[0]


def grow_partitions(admin: Any, topic: str, total: int, timeout: float = 30.0) -> tuple[int, int]:
    """Increase ``topic`` to ``total`` partitions; returns the counts (before, after).

    Kafka can only add partitions. Asking for fewer than exist is an error; asking for
    exactly as many is a no-op. Returns once each new partition has a leader and every
    broker knows it: brokers learn new partitions from the controller one after another,
    and the next client or probe may ask one that still serves the older metadata.
    """
    from kafka.admin import NewPartitions

    before = len(topic_partitions(admin, topic))
    if total < before:
        raise HarnessError(
            f"Topic {topic!r} has {before} partitions; Kafka cannot shrink it to {total}.",
            fix=f"ask for a total of more than {before} partitions.",
        )
    if total == before:
        return before, before
    admin.create_partitions({topic: NewPartitions(total)}, timeout_ms=int(timeout * 1000))
    return before, _wait_leaders(admin, topic, total, timeout, every_broker=True)


def _wait_leaders(
    admin: Any, topic: str, partitions: int, timeout: float, every_broker: bool = False
) -> int:
    """Wait until the topic has ``partitions`` partitions, each with a leader (and, with
    ``every_broker``, known to every broker); returns the count."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            parts = topic_partitions(admin, topic)
            if len(parts) >= partitions and all(p["leader_id"] >= 0 for p in parts):
                counts = partition_counts_by_broker(admin, topic) if every_broker else None
                if not any(n < partitions for n in (counts or {}).values()):
                    return len(parts)
        if time.monotonic() > deadline:
            known = ", known to every broker," if every_broker else ""
            raise HarnessError(
                f"Topic {topic!r}: not every one of {partitions} partitions had a leader{known} "
                f"after {timeout:.0f}s.",
                fix="see whether every broker runs (`riverbed kafka status`; a broker an "
                "interrupted experiment stopped comes back with `riverbed kafka up`), then run "
                "again.",
            )
        time.sleep(0.2)


def partition_counts_by_broker(admin: Any, topic: str) -> dict[int, int] | None:
    """Each broker's own answer to "how many partitions has ``topic``" ({broker id: count}).

    Brokers learn a topic's new partitions from the controller one after another: right
    after a change, an admin request (sent to any one broker) may still get the old count.
    None when this kafka-python does not let riverbed address one broker (its internals
    changed): callers then rely on the answer of any broker."""
    try:
        from kafka.protocol.metadata import MetadataRequest

        manager = admin._manager
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


def topic_config(bootstrap_servers: str, topic: str) -> dict[str, str]:
    """The topic's configuration entries as ``{name: value}``."""
    from kafka.admin import ConfigResource, ConfigResourceType

    with admin_client(bootstrap_servers) as admin:
        result = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    entries = result.get("topic", {}).get(topic, {})
    return {name: entry["value"] for name, entry in entries.items()}


def delete_topics(bootstrap_servers: str, names: list[str], timeout: float = 60.0) -> list[str]:
    """Delete ``names`` (those that exist) and wait until the cluster no longer lists them.

    Returns the topics deleted. A topic that is still listed after ``timeout`` is an error.
    """
    from kafka.errors import UnknownTopicOrPartitionError

    with admin_client(bootstrap_servers) as admin:
        present = [n for n in names if n in set(admin.list_topics())]
        if not present:
            return []
        with contextlib.suppress(UnknownTopicOrPartitionError):  # deleted meanwhile
            admin.delete_topics(present, timeout_ms=int(timeout * 1000))
        deadline = time.monotonic() + timeout
        while True:
            left = sorted(set(present) & set(admin.list_topics()))
            if not left:
                return present
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"Topics {', '.join(left)} were still listed {timeout:.0f}s after riverbed "
                    "deleted them.",
                    fix="check the cluster's delete.topic.enable and riverbed's DeleteTopics ACL.",
                )
            time.sleep(0.5)
