"""Kafka's admin API, as riverbed uses it everywhere (kafka-python's KafkaAdminClient).

One place for the local cluster, the platforms, the run and the chaos activities, so
that a topic is created, inspected and resized, and a consumer group read, the same
way everywhere:

- :mod:`~riverbed.kafka.admin.client`: the admin client and the wait that treats Kafka
  errors during a fault as "not yet";
- :mod:`~riverbed.kafka.admin.topics`: create, describe, grow, configure, delete topics;
- :mod:`~riverbed.kafka.admin.groups`: describe a group, its offsets, its coordinator;
  delete it.

Functions taking ``bootstrap_servers`` open (and close) a client of their own; those
taking ``admin`` work on an open one (a probe polling every 0.5 s keeps one).
"""

from riverbed.kafka.admin.client import admin_client, poll_until
from riverbed.kafka.admin.groups import delete_group, describe_group, group_coordinator, offsets
from riverbed.kafka.admin.topics import (
    OUTPUT_TOPIC_CONFIG,
    add_partitions,
    create_topic,
    delete_topics,
    describe_topic,
    grow_partitions,
    partition_count,
    partition_counts_by_broker,
    topic_config,
    topic_exists,
    topic_partitions,
)

__all__ = [
    "OUTPUT_TOPIC_CONFIG",
    "add_partitions",
    "admin_client",
    "create_topic",
    "delete_group",
    "delete_topics",
    "describe_group",
    "describe_topic",
    "group_coordinator",
    "grow_partitions",
    "offsets",
    "partition_count",
    "partition_counts_by_broker",
    "poll_until",
    "topic_config",
    "topic_exists",
    "topic_partitions",
]
