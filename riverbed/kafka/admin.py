"""Topic operations through Kafka's admin API (kafka-python's KafkaAdminClient).

Shared by the local cluster, the platforms and the chaos actions, so that a
topic is created, inspected and resized the same way everywhere.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from riverbed.errors import HarnessError


@contextlib.contextmanager
def admin_client(bootstrap_servers: str, **configs: Any) -> Iterator[Any]:
    """A KafkaAdminClient that is always closed; a clear error if no broker answers.

    Connection settings (TLS, SASL) come from ``RIVERBED_KAFKA_CONFIG``
    (:mod:`workloads.client_config`, which ``riverbed run`` sets for a cluster it does
    not run); ``configs`` (kafka-python names) win over them.
    """
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    from workloads import client_config

    configs = {**client_config.kafka_python_from_environ(), **configs}
    configs.setdefault("bootstrap_timeout_ms", 15_000)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers, client_id="riverbed-admin", **configs
        )
    except (KafkaTimeoutError, KafkaConnectionError) as exc:
        raise HarnessError(
            f"No Kafka broker answered at {bootstrap_servers}.",
            fix="start the cluster (`riverbed kafka up`) or pass the right bootstrap servers.",
        ) from exc
    try:
        yield admin
    finally:
        with contextlib.suppress(Exception):
            admin.close()


def describe_topic(bootstrap_servers: str, topic: str) -> dict[str, Any]:
    """The topic's metadata: partitions with leader, replicas and ISR."""
    with admin_client(bootstrap_servers) as admin:
        return _describe(admin, topic)


def _describe(admin: Any, topic: str) -> dict[str, Any]:
    from kafka.errors import UnknownTopicOrPartitionError

    fix = "check the topic's name: each run has its own (spec.json topic)."
    try:
        topics = admin.describe_topics([topic])
    except UnknownTopicOrPartitionError as exc:
        raise HarnessError(f"Topic {topic!r} does not exist.", fix=fix) from exc
    if not topics or topics[0].get("error_code"):
        raise HarnessError(f"Topic {topic!r} does not exist.", fix=fix)
    return topics[0]


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


def add_partitions(bootstrap_servers: str, topic: str, total: int, timeout: float = 30.0) -> int:
    """Increase ``topic`` to ``total`` partitions; returns the count before.

    Kafka can only add partitions. Asking for fewer than exist is an error;
    asking for exactly as many is a no-op.
    """
    from kafka.admin import NewPartitions

    with admin_client(bootstrap_servers) as admin:
        before = len(_describe(admin, topic)["partitions"])
        if total < before:
            raise HarnessError(
                f"Topic {topic!r} has {before} partitions; Kafka cannot shrink it to {total}.",
                fix=f"ask for a total of more than {before} partitions.",
            )
        if total > before:
            admin.create_partitions({topic: NewPartitions(total)}, timeout_ms=int(timeout * 1000))
            _wait_leaders(admin, topic, total, timeout)
        return before


def _wait_leaders(admin: Any, topic: str, partitions: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            parts = _describe(admin, topic)["partitions"]
            if len(parts) >= partitions and all(p["leader_id"] >= 0 for p in parts):
                return
        if time.monotonic() > deadline:
            raise HarnessError(
                f"Topic {topic!r}: not every one of {partitions} partitions had a leader after "
                f"{timeout:.0f}s.",
                fix="see whether every broker runs (`riverbed kafka status`; a broker an "
                "interrupted experiment stopped comes back with `riverbed kafka up`), then run "
                "again.",
            )
        time.sleep(0.2)


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
