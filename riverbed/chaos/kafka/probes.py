"""Probes on Kafka: is the consumer group stable, is it keeping up, how many partitions, which replicas are in sync.

Each probe takes its targets as keyword arguments; empty values are resolved
from the environment, the running local platform, or the defaults (see
:mod:`riverbed.chaos.targets`). Probes that take a ``timeout`` wait up to that
many seconds for the condition to hold, so the same probe works before a fault
(it holds at once) and after one (it measures the recovery).
"""

# No ``from __future__ import annotations`` here: Chaos Toolkit's discovery
# reads the annotations as real types to show argument types to users.

import logging

from riverbed.chaos import targets
from riverbed.chaos.groups import assignment_problems, group_view, partition_lag
from riverbed.kafka import admin

__all__ = ["consumer_group_stable", "consumer_lag_below", "partition_count", "brokers_in_isr"]

logger = logging.getLogger("chaostoolkit")


def consumer_group_stable(
    group: str = "",
    topic: str = "",
    bootstrap_servers: str = "",
    members: int = 0,
    timeout: float = 0.0,
    settle_s: float = 0.0,
    secrets: dict | None = None,
) -> bool:
    """
    Whether the consumer group is Stable and every partition of the topic is
    assigned to exactly one member.

    `members` > 0 also requires exactly that many members (e.g. the consumer
    Deployment's replica count). With `timeout` > 0 the probe waits up to that
    many seconds for the group to get there; with `settle_s` > 0 the condition
    must hold that long in a row (a group that looks stable for a moment right
    after a hard kill, before the coordinator notices, does not count).

    Returns `true` or `false`; use it in a steady-state hypothesis with
    `"tolerance": true`. The reason it is not stable goes to the Chaos Toolkit log.
    Targets: `group`, `topic`, `bootstrap_servers` (empty: RIVERBED_GROUP,
    RIVERBED_TOPIC, RIVERBED_BOOTSTRAP_SERVERS, else the running local
    platform's, else riverbed's defaults). `secrets`: Kafka client security
    settings (security_protocol, sasl_mechanism, sasl_plain_username, …).
    """
    group = targets.group(group)
    topic = targets.topic(topic)
    with targets.kafka_admin(bootstrap_servers, secrets) as client:

        def check() -> tuple[bool, str]:
            partitions = len(admin.topic_partitions(client, topic))
            view = group_view(admin.describe_group(client, group), topic)
            problems = assignment_problems(view, partitions, expected_members=members)
            detail = "; ".join(problems) or (
                f"{len(view.members)} members own {partitions} partitions"
            )
            return not problems, detail

        return admin.poll_until(
            check, timeout, settle_s, what=f"consumer group {group!r} stable on {topic!r}"
        )


def consumer_lag_below(
    max_lag: int = 1000,
    group: str = "",
    topic: str = "",
    bootstrap_servers: str = "",
    timeout: float = 0.0,
    secrets: dict | None = None,
) -> bool:
    """
    Whether the consumer group's total lag on the topic (records written but
    not yet committed by the group, summed over partitions) is below `max_lag`.

    A partition the group never committed counts from its log start. With
    `timeout` > 0 the probe waits up to that many seconds for the lag to drop
    below the threshold. Returns `true` or `false` (use `"tolerance": true`);
    the lag per partition goes to the Chaos Toolkit log.
    Targets and `secrets` as for `consumer_group_stable`.
    """
    group = targets.group(group)
    topic = targets.topic(topic)
    with targets.kafka_admin(bootstrap_servers, secrets) as client:

        def check() -> tuple[bool, str]:
            partitions = len(admin.topic_partitions(client, topic))
            o = admin.offsets(client, group, topic, partitions)
            lag = partition_lag(o["committed"], o["end"], o["start"])
            total = sum(lag.values())
            return total < max_lag, f"lag {total} (per partition {lag}), threshold {max_lag}"

        return admin.poll_until(
            check, timeout, what=f"consumer group {group!r} lag below {max_lag}"
        )


def partition_count(
    topic: str = "", bootstrap_servers: str = "", secrets: dict | None = None
) -> int:
    """
    Returns the number of partitions of the topic. A topic that does not exist
    is an error. Use an integer tolerance (`"tolerance": 6`) or a range
    (`"tolerance": [3, 12]`). Targets and `secrets` as for `consumer_group_stable`.
    """
    with targets.kafka_admin(bootstrap_servers, secrets) as client:
        return len(admin.topic_partitions(client, targets.topic(topic)))


def brokers_in_isr(
    min_isr: int = 0,
    topic: str = "",
    bootstrap_servers: str = "",
    timeout: float = 0.0,
    secrets: dict | None = None,
) -> bool:
    """
    Whether every partition of the topic has at least `min_isr` brokers in its
    in-sync replica set (ISR) and a leader.

    `min_isr` 0 (the default) means all of the partition's replicas: the
    cluster has fully recovered, e.g. a restarted broker has caught up. With
    `timeout` > 0 the probe waits up to that many seconds. Returns `true` or
    `false` (use `"tolerance": true`); the partitions short of replicas go to
    the Chaos Toolkit log. Targets and `secrets` as for `consumer_group_stable`.
    """
    topic = targets.topic(topic)
    with targets.kafka_admin(bootstrap_servers, secrets) as client:

        def check() -> tuple[bool, str]:
            short = []
            for p in admin.topic_partitions(client, topic):
                need = min_isr or len(p["replica_nodes"])
                isr = sorted(p["isr_nodes"])
                if p["leader_id"] < 0 or len(isr) < need:
                    short.append(
                        f"partition {p['partition_index']}: leader {p['leader_id']}, "
                        f"ISR {isr} of replicas {sorted(p['replica_nodes'])}"
                    )
            return not short, "; ".join(short) or "every partition has its in-sync replicas"

        what = f"{topic!r} has {min_isr or 'all'} replicas in sync"
        return admin.poll_until(check, timeout, what=what)
