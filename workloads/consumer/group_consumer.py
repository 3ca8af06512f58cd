"""One instrumented consumer-group member: poll, validate, process, record, commit.

The commit mode decides the order of "evidence written" and "offsets committed":

- ``after-process`` (default, safe): process the batch, write its evidence
  (flushed; to the evidence topic with acks=all), then commit the batch's
  offsets synchronously and record the outcome. A member killed at any point
  leaves at most an uncommitted batch, which the next owner processes again.
- ``auto`` (the tutorial's ``enable_auto_commit=True``): process and record;
  kafka-python commits consumed positions from inside ``poll()`` every
  ``auto_commit_interval_ms`` (each such commit is recorded).
- ``before-process`` (deliberately unsafe): commit the batch's offsets first,
  then process and record. A member killed mid-batch has committed records it
  never processed: the group skips them, and the evidence shows it.

Rebalance callbacks record ``assigned`` / ``revoked`` / ``lost`` with the
group generation. A stop request (SIGTERM) is honoured between batches: the
batch in flight is finished, recorded and committed, then the consumer closes,
which sends LeaveGroup so the group rebalances at once instead of waiting for
the session timeout. (A static member does not leave: the coordinator keeps
its partitions until the session timeout, by design.)
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from dataclasses import dataclass
from typing import Any

from workloads.cli_support import StopSignal
from workloads.consumer.config import ConsumerConfig
from workloads.consumer.events import (
    Examined,
    committed_event,
    examine,
    invalid_events,
    ownership_event,
    processed_event,
    start_event,
    stop_event,
)
from workloads.evidence.sinks import Sink

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


@dataclass
class ConsumerStats:
    """Counters a caller (a benchmark, a test) can read while the consumer runs."""

    batches: int = 0
    processed: int = 0
    invalid: int = 0
    commits: int = 0
    failed_commits: int = 0
    assigned: frozenset[int] = frozenset()


class DeadLetters:
    """Forward refused records to a dead-letter topic, with why and where from in headers.

    A dead letter that cannot be sent is logged and counted, never raised: the
    refused record is already in the evidence as ``invalid``, and failing the
    consumer over it would turn one poison record into a crash loop.
    """

    def __init__(self, producer: Any, topic: str, source_topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.source_topic = source_topic
        self.failed = 0
        self._futures: list[Any] = []

    def send(self, partition: int, refused: Any) -> None:
        headers = [
            ("riverbed.reason", refused.reason.encode()),
            ("riverbed.detail", refused.detail.encode()[:500]),
            ("riverbed.source", f"{self.source_topic}/{partition}/{refused.offset}".encode()),
        ]
        # A record with neither key nor value cannot be produced; keep the headers.
        value = refused.value if refused.value is not None or refused.key is not None else b""
        try:
            self._futures.append(
                self.producer.send(self.topic, key=refused.key, value=value, headers=headers)
            )
        except Exception as exc:
            self.failed += 1
            log.error(
                "dead letter for %s/%d@%d not sent: %r",
                self.source_topic,
                partition,
                refused.offset,
                exc,
            )

    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait for the dead letters sent so far (before the commit that moves past them)."""
        futures, self._futures = self._futures, []
        try:
            self.producer.flush(timeout=timeout_s)
        except Exception as exc:
            log.error("dead letters not acknowledged: %r", exc)
        lost = [f for f in futures if not f.succeeded()]
        if lost:
            self.failed += len(lost)
            log.error("%d dead letter(s) failed: %r", len(lost), lost[0].exception)


class GroupConsumer:
    """A consumer-group member that records evidence of everything it does."""

    def __init__(
        self,
        config: ConsumerConfig,
        sink: Sink,
        dead_letters: DeadLetters | None = None,
        stop: StopSignal | None = None,
    ) -> None:
        self.config = config
        self.sink = sink
        self.dead_letters = dead_letters
        self.stop = stop or StopSignal()
        self.stats = ConsumerStats()
        self.member = config.member
        self._rng = random.Random(config.seed)
        self._consumer: Any = None
        self._generation: int | None = None
        self._owned: set[int] = set()

    # ---- lifecycle -------------------------------------------------------------------------
    def run(self) -> int:
        """Run until a stop is requested; returns the process exit status (0 clean, 1 error)."""
        c = self.config
        start = [
            start_event(
                self.member,
                c.replica,
                os.getpid(),
                socket.gethostname(),
                time.time(),
                commit_mode=c.commit_mode,
                assignor=c.assignor,
                group=c.group,
                topic=c.topic,
                processing_ms=str(c.processing),
                static_member=c.static_member,
            )
        ]
        try:
            self.sink.write_many(start)
        except Exception as exc:
            log.error("cannot write evidence, not starting: %r", exc)
            return 1
        log.info(
            "member %s of group %s on %s: commit %s, assignor %s, processing %s ms",
            self.member,
            c.group,
            c.topic,
            c.commit_mode,
            c.assignor,
            c.processing,
        )
        reason = "error"
        status = 1
        try:
            self._connect()
            self._loop()
            reason = self.stop.reason or "close"
            status = 0
        except Exception as exc:
            log.error("consumer %s failed: %r", self.member, exc, exc_info=True)
        finally:
            status = self._shutdown(reason, status)
        return status

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
            "session_timeout_ms": c.session_timeout_ms,
            "heartbeat_interval_ms": c.heartbeat_interval_ms,
            "max_poll_interval_ms": c.max_poll_interval_ms,
        }
        if auto:
            options["default_offset_commit_callback"] = self._on_auto_commit
        if c.static_member:
            options["group_instance_id"] = c.replica
        consumer = self._consumer = KafkaConsumer(**options)
        owner = self

        class Listener(ConsumerRebalanceListener):
            def on_partitions_assigned(self, assigned: Any) -> None:
                owner._on_assigned(assigned)

            def on_partitions_revoked(self, revoked: Any) -> None:
                owner._on_revoked("revoked", revoked)

            def on_partitions_lost(self, lost: Any) -> None:
                owner._on_revoked("lost", lost)

        consumer.subscribe([c.topic], listener=Listener())
        # Fetch the topic's metadata after subscribing and before joining: a leader
        # without it assigns nothing (or sees the metadata "change" right after),
        # and the group would need a second rebalance at every start.
        consumer.partitions_for_topic(c.topic)

    def _shutdown(self, reason: str, status: int) -> int:
        consumer = self._consumer
        if consumer is not None:
            try:
                if status == 0 and self.config.commit_mode == "auto":
                    # The tutorial's consumer commits consumed positions on close; do it
                    # explicitly so that this commit is recorded like every other one.
                    self._commit(self._positions(consumer))
                # Close without kafka-python's own auto-commit: every commit this
                # consumer makes is explicit and recorded. close() runs the revoke
                # callback and, for a dynamic member, sends LeaveGroup.
                consumer.close(autocommit=False, timeout_ms=self.config.close_timeout_ms)
            except Exception as exc:
                log.error("closing the consumer failed: %r", exc)
                status, reason = 1, "error"
            self._consumer = None
        try:
            self.sink.write_many([stop_event(self.member, reason, time.time())])
            self.sink.close()
        except Exception as exc:
            log.error("writing the stop record failed: %r", exc)
            status = 1
        log.info("member %s stopped (%s)", self.member, reason)
        return status

    # ---- the poll loop ---------------------------------------------------------------------
    def _loop(self) -> None:
        consumer = self._consumer
        mode = self.config.commit_mode
        while not self.stop.requested:
            batch = consumer.poll(timeout_ms=self.config.poll_timeout_ms)
            if not batch:
                continue
            self.stats.batches += 1
            slices = [examine(tp.partition, records) for tp, records in sorted(batch.items())]
            if mode == "before-process":
                self._commit({s.partition: s.next_offset for s in slices})
                for s in slices:
                    self._process(s)
                    self._record(s)
            else:
                for s in slices:
                    self._process(s)
                self._record(*slices)
                if mode == "after-process":
                    self._commit({s.partition: s.next_offset for s in slices})

    def _process(self, s: Examined) -> None:
        """The simulated work: processing time per valid record."""
        if not self.config.processing.zero:
            for _ in s.valid:
                time.sleep(self.config.processing.sample_s(self._rng))
        self.stats.processed += len(s.valid)
        self.stats.invalid += len(s.refused)

    def _record(self, *slices: Examined) -> None:
        """Write the evidence of processed slices; durable (and dead letters sent) on return."""
        now = time.time()
        records: list[dict[str, Any]] = []
        for s in slices:
            processed = processed_event(self.member, s, now)
            if processed is not None:
                records.append(processed)
            records.extend(invalid_events(self.member, s, now))
            for refused in s.refused:
                log.warning(
                    "refused %s/%d@%d: %s: %s",
                    self.config.topic,
                    s.partition,
                    refused.offset,
                    refused.reason,
                    refused.detail,
                )
                if self.dead_letters is not None:
                    self.dead_letters.send(s.partition, refused)
        if any(s.refused for s in slices) and self.dead_letters is not None:
            self.dead_letters.flush()
        if records:
            self.sink.write_many(records)

    def _commit(self, offsets: dict[int, int]) -> bool:
        """Commit ``{partition: next_offset}`` synchronously and record the outcome."""
        from kafka import OffsetAndMetadata, TopicPartition
        from kafka.errors import KafkaError

        if not offsets:
            return True
        topic = self.config.topic
        error = None
        try:
            self._consumer.commit(
                {
                    TopicPartition(topic, p): OffsetAndMetadata(o, "", -1)
                    for p, o in offsets.items()
                },
                timeout_ms=self.config.close_timeout_ms,
            )
        except KafkaError as exc:
            # A rebalance took the partitions (CommitFailedError) or the coordinator is
            # gone: the batch stays uncommitted and its next owner processes it again.
            error = repr(exc)
            log.warning("commit of %s failed: %s", offsets, error)
        ok = error is None
        self.stats.commits += ok
        self.stats.failed_commits += not ok
        self.sink.write_many([committed_event(self.member, offsets, ok, time.time(), error)])
        return ok

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
        ok = not isinstance(result, Exception)
        mapping = {tp.partition: om.offset for tp, om in offsets.items()}
        if not mapping:
            return
        self.stats.commits += ok
        self.stats.failed_commits += not ok
        error = None if ok else repr(result)
        self.sink.write_many([committed_event(self.member, mapping, ok, time.time(), error)])

    def _current_generation(self) -> int | None:
        consumer = self._consumer
        if consumer is None:
            return self._generation
        generation = consumer.group_metadata().generation_id
        return generation if generation is not None and generation >= 0 else None

    def _member_id(self) -> str | None:
        """The coordinator's id for this member (the group monitor's key for it)."""
        consumer = self._consumer
        if consumer is None:
            return None
        return consumer.group_metadata().member_id or None

    def _on_assigned(self, assigned: Any) -> None:
        partitions = {tp.partition for tp in assigned if tp.topic == self.config.topic}
        self._generation = self._current_generation()
        self._owned |= partitions
        self.stats.assigned = frozenset(self._owned)
        log.info(
            "generation %s: assigned %s, now owns %s",
            self._generation,
            sorted(partitions),
            sorted(self._owned),
        )
        self.sink.write_many(
            [
                ownership_event(
                    "assigned",
                    self.member,
                    self._generation,
                    partitions,
                    time.time(),
                    member_id=self._member_id(),
                    client_id=self.member,
                )
            ]
        )

    def _on_revoked(self, kind: str, revoked: Any) -> None:
        partitions = {tp.partition for tp in revoked if tp.topic == self.config.topic}
        if not partitions:
            # EAGER members are told "revoked: nothing" before their first join.
            return
        # A revoke belongs to the generation the partitions were owned in; after a lost
        # membership kafka-python has already reset its generation, so use the last one.
        generation = self._generation if kind == "lost" else self._current_generation()
        if generation is None:
            generation = self._generation
        self._owned -= partitions
        self.stats.assigned = frozenset(self._owned)
        log.info("generation %s: %s %s", generation, kind, sorted(partitions))
        self.sink.write_many(
            [ownership_event(kind, self.member, generation, partitions, time.time())]
        )
