"""Describe a consumer group of either protocol, in the one shape the decoder reads.

kafka-python's ``describe_groups`` speaks DescribeGroups, the classic protocol's
request: for a group of the consumer protocol (KIP-848) the broker answers
``GROUP_ID_NOT_FOUND`` ("Group … is not a classic group") and kafka-python
reports the group *Dead* with no members — a wrong answer, not an empty group.
Such groups are described through confluent-kafka's
``AdminClient.describe_consumer_groups`` (ConsumerGroupDescribe), converted here
into the shape of kafka-python's answer, extended:

- ``group_type``: ``classic`` or ``consumer``;
- ``assignor``: the group's assignor (the broker-side one under the consumer protocol);
- per member, ``member_assignment`` (its current assignment: under the consumer
  protocol it is known in every state, since members reconcile one partition
  move at a time) and ``target_assignment`` (what the broker wants it to own);
- ``group_state``: the broker's state name. librdkafka knows only the classic
  state names and reports the consumer protocol's *Assigning* and
  *Reconciling* as unknown: the state is then derived (``state_derived``) —
  *Reconciling* while some member's assignment differs from its target, else
  *Assigning*.

Member epochs are not in confluent-kafka's description (it drops them); the
consumers record theirs on their ``assigned`` lines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: confluent-kafka ConsumerGroupState names → Kafka's state names.
STATE_NAMES = {
    "STABLE": "Stable",
    "EMPTY": "Empty",
    "DEAD": "Dead",
    "PREPARING_REBALANCING": "PreparingRebalance",
    "COMPLETING_REBALANCING": "CompletingRebalance",
}


def is_consumer_protocol_answer(description: Mapping[str, Any]) -> bool:
    """Whether kafka-python's DescribeGroups answer means "this group is not a classic group"."""
    error = str(description.get("error") or "")
    return "GroupIdNotFound" in error or "not a classic group" in error


def _partitions(assignment: Any, topic_filter: str | None = None) -> list[dict[str, Any]]:
    by_topic: dict[str, set[int]] = {}
    for tp in getattr(assignment, "topic_partitions", None) or ():
        if topic_filter is None or tp.topic == topic_filter:
            by_topic.setdefault(tp.topic, set()).add(int(tp.partition))
    return [{"topic": t, "partitions": sorted(ps)} for t, ps in sorted(by_topic.items())]


def _enum_name(value: Any) -> str:
    return str(getattr(value, "name", value) or "UNKNOWN").upper()


def from_confluent(description: Any) -> dict[str, Any]:
    """A confluent-kafka ``ConsumerGroupDescription`` in the decoder's shape (see module doc)."""
    group_type = (
        "consumer" if _enum_name(getattr(description, "type", None)) == "CONSUMER" else "classic"
    )
    state_name = _enum_name(getattr(description, "state", None))
    state = STATE_NAMES.get(state_name)
    derived = False
    members: list[dict[str, Any]] = []
    reconciling = False
    for m in description.members or ():
        current = _partitions(m.assignment)
        target = (
            _partitions(m.target_assignment)
            if getattr(m, "target_assignment", None) is not None
            else None
        )
        if target is not None and target != current:
            reconciling = True
        members.append(
            {
                "member_id": m.member_id,
                "client_id": m.client_id,
                "client_host": m.host,
                "group_instance_id": m.group_instance_id,
                # A classic group's answer carries assignments only when Stable.
                "member_assignment": (
                    {"assigned_partitions": current}
                    if group_type == "consumer" or state == "Stable"
                    else None
                ),
                "target_assignment": (
                    {"assigned_partitions": target} if target is not None else None
                ),
            }
        )
    if state is None:
        if group_type == "consumer" and members:
            state, derived = ("Reconciling" if reconciling else "Assigning"), True
        else:
            state = "Unknown"
    out: dict[str, Any] = {
        "group_state": state,
        "group_type": group_type,
        "assignor": getattr(description, "partition_assignor", None) or None,
        "members": members,
    }
    if derived:
        out["state_derived"] = True
    return out


def forget_coordinator(kafka_python_admin: Any, group: str) -> None:
    """Drop kafka-python's cached coordinator of ``group`` (its next request asks again)."""
    from kafka.protocol.metadata import CoordinatorType

    cluster = getattr(getattr(kafka_python_admin, "_manager", None), "cluster", None)
    cache = getattr(cluster, "_coordinators", None)
    if isinstance(cache, dict):
        cache.pop((CoordinatorType.GROUP, group), None)


def with_current_coordinator(kafka_python_admin: Any, group: str, call: Callable[[], Any]) -> Any:
    """``call()``, asked once more of the group's current coordinator when the cached one
    is no longer it.

    kafka-python 3.0.x's admin client caches each group's coordinator and never drops
    the entry on NOT_COORDINATOR: once the coordinator moves (a broker restarted, or
    the automatic preferred-leader election moved a partition of
    ``__consumer_offsets``), every later request about the group fails for as long as
    the client lives. Forgetting the entry makes the next request find the new one.
    """
    from kafka import errors

    try:
        return call()
    except (errors.NotCoordinatorError, errors.CoordinatorNotAvailableError):
        forget_coordinator(kafka_python_admin, group)
        return call()


def describe_group(
    kafka_python_admin: Any,
    group: str,
    confluent_admin: Callable[[], Any],
    timeout_s: float = 5.0,
) -> dict[str, Any]:
    """Describe ``group`` whatever its protocol; raises on a failed request.

    kafka-python's DescribeGroups first (the classic protocol, and groups that do
    not exist); a consumer-protocol group through ``confluent_admin()``, a
    confluent-kafka AdminClient (created only when needed).
    """
    from kafka import errors

    def classic() -> dict[str, Any]:
        answer: dict[str, Any] = kafka_python_admin.describe_groups([group]).get(group, {})
        # kafka-python reports a coordinator error inside the answer, which would
        # otherwise read as a group with no state and no members.
        error = str(answer.get("error") or "")
        if "NotCoordinator" in error or "CoordinatorNotAvailable" in error:
            raise errors.NotCoordinatorError(error)
        if "CoordinatorLoadInProgress" in error:
            raise errors.CoordinatorLoadInProgressError(error)
        return answer

    answer = with_current_coordinator(kafka_python_admin, group, classic)
    if not is_consumer_protocol_answer(answer):
        return {**answer, "group_type": "classic"} if answer else answer
    futures = confluent_admin().describe_consumer_groups([group], request_timeout=timeout_s)
    return from_confluent(futures[group].result(timeout=timeout_s))


def confluent_admin_config(bootstrap_servers: str, **kafka_python: Any) -> dict[str, Any]:
    """librdkafka configuration from a kafka-python client's settings: its connection
    settings (security ones, translated by :mod:`workloads.client_config`); the rest is
    dropped."""
    from workloads import client_config

    conf: dict[str, Any] = {"bootstrap.servers": bootstrap_servers}
    for key, value in kafka_python.items():
        spec = client_config.lookup(key)
        if spec is None or value is None:
            continue
        if spec.name == "ssl.endpoint.identification.algorithm":
            value = "https" if value is True or str(value).lower() == "true" else "none"
        conf[spec.name] = value
    return conf
