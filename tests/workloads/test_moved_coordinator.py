"""A group's coordinator moves: the drain, the probes and the monitor ask the new one.

kafka-python 3.0.x's admin client caches each group's coordinator and never
drops the entry on NOT_COORDINATOR, so once the coordinator moves every later
request about the group fails (seen: a drain that waited 80 s on
NotCoordinatorError and left the run inconclusive). Here the cached entry is
pointed at a broker that is not the coordinator — what a moved coordinator
looks like to the client — and the real brokers answer.
"""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import NotCoordinatorError
from kafka.protocol.metadata import CoordinatorType
from kafka.structs import OffsetAndMetadata

from riverbed.kafka.admin import admin_client, create_topic, group_coordinator, offsets
from workloads.group_describe import describe_group

pytestmark = pytest.mark.integration


def test_offsets_and_descriptions_follow_a_moved_coordinator(kafka, topic_name: str) -> None:
    servers = kafka.bootstrap_servers
    create_topic(servers, topic_name, partitions=1, replication_factor=3)
    group = f"{topic_name}-group"
    consumer = KafkaConsumer(bootstrap_servers=servers, group_id=group, enable_auto_commit=False)
    try:
        consumer.commit({TopicPartition(topic_name, 0): OffsetAndMetadata(7, "", -1)})
    finally:
        consumer.close()
    with admin_client(servers) as admin:
        assert offsets(admin, group, topic_name, 1)["committed"] == {0: 7}
        cache = admin._manager.cluster._coordinators
        key = (CoordinatorType.GROUP, group)
        coordinator = cache[key]
        assert coordinator == group_coordinator(servers, group)
        elsewhere = next(b for b in kafka.broker_ids if b != coordinator)

        cache[key] = elsewhere  # the coordinator "moved"
        # The client alone stays stuck on the broker it cached ...
        with pytest.raises(NotCoordinatorError):
            admin.list_group_offsets({group: [TopicPartition(topic_name, 0)]})
        assert cache[key] == elsewhere
        # ... riverbed's readers ask again and get the answer.
        assert offsets(admin, group, topic_name, 1)["committed"] == {0: 7}
        assert cache[key] == coordinator

        cache[key] = elsewhere
        description = describe_group(admin, group, lambda: None)
        assert description["group_state"] == "Empty" and description["group_type"] == "classic"
        assert cache[key] == coordinator
