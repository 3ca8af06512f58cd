"""The reference consumer on kafka-python: one instrumented consumer-group member.

What it records, and when, is :class:`~workloads.consumer.member.EvidenceMember`'s
(shared with the librdkafka consumer, :mod:`workloads.consumer.rdkafka_consumer`);
this module connects kafka-python. kafka-python speaks the classic group
protocol only (JoinGroup/SyncGroup, client-side assignors).

Rebalance callbacks record ``assigned`` / ``revoked`` / ``lost`` with the
group generation. A stop request (SIGTERM) is honoured between batches: the
batch in flight is finished, recorded and committed, then the consumer closes,
which sends LeaveGroup so the group rebalances at once instead of waiting for
the session timeout. (A static member does not leave: the coordinator keeps
its partitions until the session timeout, by design.) A static member whose
instance id a newer member took over is fenced (``FENCED_INSTANCE_ID``): it
records ``fenced`` and stops with ``error`` — at its next commit: kafka-python's
heartbeat thread only logs the fencing and stops heartbeating, and poll goes on
returning records to the zombie until a commit is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from workloads import client_config
from workloads.consumer.member import ConsumerStats, DeadLetters, EvidenceMember

__all__ = ["ASSIGNOR_CLASSES", "ConsumerStats", "DeadLetters", "GroupConsumer", "assignor_class"]

log = logging.getLogger("workloads.consumer")

ASSIGNOR_CLASSES = {
    "range": ("kafka.coordinator.assignors.range", "RangePartitionAssignor"),
    "roundrobin": ("kafka.coordinator.assignors.roundrobin", "RoundRobinPartitionAssignor"),
    "sticky": ("kafka.coordinator.assignors.sticky.sticky_assignor", "StickyPartitionAssignor"),
    "cooperative-sticky": (
        "kafka.coordinator.assignors.cooperative_sticky",
        "CooperativeStickyAssignor",
    ),
}


def assignor_class(name: str) -> Any:
    import importlib

    module, cls = ASSIGNOR_CLASSES[name]
    return getattr(importlib.import_module(module), cls)


class GroupConsumer(EvidenceMember):
    """A consumer-group member on kafka-python that records evidence of everything it does."""

    client_name = "kafka-python"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fenced: Exception | None = None

    def _connect(self) -> None:
        """Create the KafkaConsumer (``self._consumer``), subscribe, and fetch metadata."""
        from kafka import ConsumerRebalanceListener, KafkaConsumer

        c = self.config
        auto = c.commit_mode == "auto"
        options: dict[str, Any] = {
            "bootstrap_servers": c.bootstrap_servers,
            "group_id": c.group,
            "client_id": self.member,
            "auto_offset_reset": "earliest",
            "enable_auto_commit": auto,
            "auto_commit_interval_ms": c.auto_commit_interval_ms,
            "partition_assignment_strategy": [assignor_class(c.assignor)],
            "metadata_max_age_ms": c.metadata_max_age_ms,
            "max_poll_records": c.max_poll_records,
            "max_poll_interval_ms": c.max_poll_interval_ms,
            **client_config.kafka_python(c.kafka_config),
        }
        if c.session_timeout_ms is not None:
            options["session_timeout_ms"] = c.session_timeout_ms
        if c.heartbeat_interval_ms is not None:
            options["heartbeat_interval_ms"] = c.heartbeat_interval_ms
        if auto:
            options["default_offset_commit_callback"] = self._on_auto_commit
        if c.static_member:
            options["group_instance_id"] = c.replica
        consumer = self._consumer = KafkaConsumer(**options)
        owner = self
        topic = c.topic

        class Listener(ConsumerRebalanceListener):
            def on_partitions_assigned(self, assigned: Any) -> None:
                owner._on_assigned(tp.partition for tp in assigned if tp.topic == topic)

            def on_partitions_revoked(self, revoked: Any) -> None:
                owner._on_revoked("revoked", (tp.partition for tp in revoked if tp.topic == topic))

            def on_partitions_lost(self, lost: Any) -> None:
                owner._on_revoked("lost", (tp.partition for tp in lost if tp.topic == topic))

        consumer.subscribe([c.topic], listener=Listener())
        # Fetch the topic's metadata after subscribing and before joining: a leader
        # without it assigns nothing (or sees the metadata "change" right after),
        # and the group would need a second rebalance at every start.
        consumer.partitions_for_topic(c.topic)

    def _poll(self) -> Sequence[tuple[int, Sequence[Any]]]:
        from kafka.errors import FencedInstanceIdError

        if self._fenced is not None:
            raise self._fenced
        keep_join_awaited(self._consumer)
        try:
            batch = self._consumer.poll(timeout_ms=self.config.poll_timeout_ms)
        except FencedInstanceIdError as exc:
            # Classic static membership: a newer member with our instance id fenced us.
            self._on_fenced(repr(exc), fatal=True)
            raise
        return [(tp.partition, records) for tp, records in sorted(batch.items())]

    def _commit_offsets(self, offsets: dict[int, int]) -> str | None:
        from kafka import OffsetAndMetadata, TopicPartition
        from kafka.errors import FencedInstanceIdError, KafkaError

        topic = self.config.topic
        try:
            self._consumer.commit(
                {
                    TopicPartition(topic, p): OffsetAndMetadata(o, "", -1)
                    for p, o in offsets.items()
                },
                timeout_ms=self.config.close_timeout_ms,
            )
        except FencedInstanceIdError as exc:
            # Recorded now; the loop stops at its next poll (the commit is recorded first).
            self._on_fenced(repr(exc), fatal=True)
            self._fenced = exc
            return repr(exc)
        except KafkaError as exc:
            return repr(exc)
        return None

    def _close(self, final_commit: bool) -> None:
        consumer = self._consumer
        if final_commit:
            # The tutorial's consumer commits consumed positions on close; do it
            # explicitly so that this commit is recorded like every other one.
            self._commit(self._positions(consumer))
        # Close without kafka-python's own auto-commit: every commit this
        # consumer makes is explicit and recorded. close() runs the revoke
        # callback and, for a dynamic member, sends LeaveGroup.
        consumer.close(autocommit=False, timeout_ms=self.config.close_timeout_ms)

    def _positions(self, consumer: Any) -> dict[int, int]:
        """``auto`` mode: the consumed position of each owned partition (what kafka commits)."""
        out = {}
        for tp in consumer.assignment():
            try:
                out[tp.partition] = consumer.position(tp, timeout_ms=1000)
            except Exception:  # no position yet: nothing consumed, nothing to commit
                continue
        return out

    # ---- kafka-python callbacks (run on its IO thread or inside poll) -------------------------
    def _on_auto_commit(self, offsets: Any, result: Any) -> None:
        mapping = {tp.partition: om.offset for tp, om in offsets.items()}
        self._record_commit(mapping, None if not isinstance(result, Exception) else repr(result))

    def _current_generation(self) -> int | None:
        consumer = self._consumer
        if consumer is None:
            return self._generation
        generation = consumer.group_metadata().generation_id
        return generation if generation is not None and generation >= 0 else None

    def _member_id(self) -> str | None:
        consumer = self._consumer
        if consumer is None:
            return None
        return consumer.group_metadata().member_id or None


def keep_join_awaited(consumer: Any) -> None:
    """Work around a kafka-python 3.0 race that strands a group leader mid-rebalance.

    When the leader notices a partition-count change, it rejoins because its
    assignment snapshot differs from the metadata, not because ``rejoin_needed``
    is set. Performing the assignment makes the two snapshots equal again, so once
    a ``poll()`` gives up waiting for the JoinGroup/SyncGroup round trip (any poll
    shorter than the rebalance), the next one sees nothing to rejoin and never
    takes the finished join's result: the assignment is never applied, the
    rebalance listener never runs, heartbeats stay disabled, and the coordinator
    evicts the member while its process keeps polling, owning nothing, forever.
    Marking the join as needed while one is in flight makes every poll await the
    same join until it completes (the library clears the flag then). No effect on
    a client whose internals differ.
    """
    coordinator: Any = getattr(consumer, "_coordinator", None)
    task = getattr(coordinator, "_join_task", None)
    if (
        task is None
        or getattr(task, "is_done", True)
        or getattr(coordinator, "rejoin_needed", True)
    ):
        return
    coordinator.rejoin_needed = True
