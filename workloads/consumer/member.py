"""What every reference consumer does whatever its client library: the evidence member.

:class:`EvidenceMember` owns the client-independent logic of a consumer-group
member: the ``start``/``stop`` records, the poll loop's commit ordering per
commit mode, the simulated processing, the ``processed``/``invalid`` records
written before the commit, the ``committed`` records with their outcome, and
the bookkeeping behind ``assigned``/``revoked``/``lost``/``fenced``. A client
adapter (kafka-python in :mod:`workloads.consumer.group_consumer`, librdkafka in
:mod:`workloads.consumer.rdkafka_consumer`) supplies only the calls to its
library: connect, poll, commit, close, and what the group calls this member.

The commit mode decides the order of "evidence written" and "offsets committed":

- ``after-process`` (default, safe): process the batch, write its evidence
  (flushed; to the evidence topic with acks=all), then commit the batch's
  offsets synchronously and record the outcome. A member killed at any point
  leaves at most an uncommitted batch, which the next owner processes again.
- ``auto`` (the tutorial's ``enable_auto_commit=True``): process and record;
  the client commits consumed positions in the background or inside poll
  (each such commit is recorded when the client reports it).
- ``before-process`` (deliberately unsafe): commit the batch's offsets first,
  then process and record. A member killed mid-batch has committed records it
  never processed: the group skips them, and the evidence shows it.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from workloads.cli_support import StopSignal
from workloads.consumer.config import ConsumerConfig
from workloads.consumer.events import Examined, examine, invalid_events, processed_event
from workloads.evidence.schema import Assigned, Committed, Fenced, Lost, Revoked, Start, Stop
from workloads.evidence.sinks import Sink
from workloads.readiness import ReadyFile

log = logging.getLogger("workloads.consumer")


@dataclass
class ConsumerStats:
    """Counters a caller (a benchmark, a test) can read while the consumer runs."""

    batches: int = 0
    processed: int = 0
    invalid: int = 0
    commits: int = 0
    failed_commits: int = 0
    fenced: int = 0
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


class EvidenceMember(ABC):
    """A consumer-group member that records evidence of everything it does.

    Subclasses connect one client library; everything recorded, and when, is
    decided here so that both clients write the same evidence for the same events.
    """

    #: The client library's name, recorded in the ``start`` line.
    client_name = "?"

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
        # In the group: from the first rebalance callback (an assignment, even an empty
        # one) until the partitions are lost or the member is fenced; the readiness file
        # says so while the poll loop runs (a frozen loop lets it go stale).
        self._joined = False
        self.readiness = ReadyFile(config.ready_file)

    # ---- what a client adapter provides ----------------------------------------------------
    @abstractmethod
    def _connect(self) -> None:
        """Create the client (``self._consumer``) and subscribe with the rebalance callbacks."""

    @abstractmethod
    def _poll(self) -> Sequence[tuple[int, Sequence[Any]]]:
        """One poll: ``[(partition, records)]`` of the data topic, partitions in order.

        Records have ``offset``, ``key`` and ``value`` attributes.
        """

    @abstractmethod
    def _commit_offsets(self, offsets: dict[int, int]) -> str | None:
        """Commit ``{partition: next_offset}`` synchronously; the error text, or None."""

    @abstractmethod
    def _close(self, final_commit: bool) -> None:
        """Leave the group and close; with ``final_commit`` (auto mode, clean stop) commit
        the consumed positions first, recorded through :meth:`_record_commit`."""

    @abstractmethod
    def _current_generation(self) -> int | None:
        """The group generation (classic) or member epoch (consumer protocol) now."""

    @abstractmethod
    def _member_id(self) -> str | None:
        """The coordinator's id for this member (the group monitor's key for it)."""

    def _in_group(self) -> bool:
        """Whether this member is in its group now (a client adds what its library knows)."""
        return self._joined

    def _mark_ready(self) -> None:
        self.readiness.mark(self._in_group())

    def _start_fields(self) -> dict[str, Any]:
        """Extra ``start`` fields a client adds (its protocol, library version...)."""
        return {}

    # ---- lifecycle -------------------------------------------------------------------------
    def run(self) -> int:
        """Run until a stop is requested; returns the process exit status (0 clean, 1 error)."""
        c = self.config
        start = [
            Start(
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
                client=self.client_name,
                group_protocol=c.group_protocol,
                **self._start_fields(),
            ).to_dict()
        ]
        try:
            self.sink.write_many(start)
        except Exception as exc:
            log.error("cannot write evidence, not starting: %r", exc)
            return 1
        log.info(
            "member %s of group %s on %s (%s, %s protocol): commit %s, assignor %s, "
            "processing %s ms",
            self.member,
            c.group,
            c.topic,
            self.client_name,
            c.group_protocol,
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

    def _shutdown(self, reason: str, status: int) -> int:
        # Unready first: leaving the group (a commit, LeaveGroup) may take seconds.
        self._joined = False
        self.readiness.clear()
        if self._consumer is not None:
            try:
                self._close(final_commit=status == 0 and self.config.commit_mode == "auto")
            except Exception as exc:
                log.error("closing the consumer failed: %r", exc)
                status, reason = 1, "error"
            self._consumer = None
        try:
            self.sink.write_many([Stop(self.member, reason, time.time()).to_dict()])
            self.sink.close()
        except Exception as exc:
            log.error("writing the stop record failed: %r", exc)
            status = 1
        log.info("member %s stopped (%s)", self.member, reason)
        return status

    # ---- the poll loop ---------------------------------------------------------------------
    def _loop(self) -> None:
        mode = self.config.commit_mode
        while not self.stop.requested:
            self._mark_ready()
            batch = self._poll()
            if not batch:
                continue
            self.stats.batches += 1
            slices = [examine(p, records) for p, records in batch]
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
                self._mark_ready()  # a long batch is work, not a stall
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
        if not offsets:
            return True
        error = self._commit_offsets(offsets)
        if error is not None:
            # A rebalance took the partitions, the member was fenced (stale epoch) or the
            # coordinator is gone: the batch stays uncommitted and its next owner
            # processes it again.
            log.warning("commit of %s failed: %s", offsets, error)
        self._record_commit(offsets, error)
        return error is None

    def _record_commit(self, offsets: dict[int, int], error: str | None) -> None:
        """Record one commit attempt (explicit, or one the client made and reported)."""
        if not offsets:
            return
        ok = error is None
        self.stats.commits += ok
        self.stats.failed_commits += not ok
        committed = Committed(
            self.member, {str(p): o for p, o in offsets.items()}, ok, time.time(), error
        )
        self.sink.write_many([committed.to_dict()])

    # ---- rebalance callbacks (run inside the client's poll, or on its IO thread) --------------
    def _on_assigned(self, partitions: Iterable[int]) -> None:
        parts = set(partitions)
        self._joined = True
        self._generation = self._current_generation()
        self._owned |= parts
        self.stats.assigned = frozenset(self._owned)
        log.info(
            "generation %s: assigned %s, now owns %s",
            self._generation,
            sorted(parts),
            sorted(self._owned),
        )
        assigned = Assigned(
            self.member,
            self._generation,
            sorted(parts),
            time.time(),
            member_id=self._member_id(),
            client_id=self.member,
        )
        self.sink.write_many([assigned.to_dict()])

    def _on_revoked(self, kind: str, partitions: Iterable[int]) -> None:
        parts = set(partitions)
        if kind == "lost":
            # Evicted (session timeout, max poll interval): out of the group until the
            # next assignment, even when it owned nothing.
            self._joined = False
            self.readiness.mark(False)
        if not parts:
            # EAGER members are told "revoked: nothing" before their first join.
            return
        # A revoke belongs to the generation the partitions were owned in; after a lost
        # membership the client has already reset its generation, so use the last one.
        generation = self._generation if kind == "lost" else self._current_generation()
        if generation is None:
            generation = self._generation
        self._owned -= parts
        self.stats.assigned = frozenset(self._owned)
        log.info("generation %s: %s %s", generation, kind, sorted(parts))
        change = Lost if kind == "lost" else Revoked
        self.sink.write_many(
            [change(self.member, generation, sorted(parts), time.time()).to_dict()]
        )

    def _on_fenced(self, error: str, fatal: bool) -> None:
        """The coordinator fenced this member (a stale epoch, an unknown member id, a
        static instance id another member holds): record it before anything else."""
        self.stats.fenced += 1
        self._joined = False
        self.readiness.mark(False)
        log.warning(
            "member %s fenced (%s): %s", self.member, "fatal" if fatal else "rejoins", error
        )
        fenced = Fenced(
            self.member,
            error,
            time.time(),
            fatal=fatal,
            member_id=self._member_id(),
            generation=self._generation,
        )
        self.sink.write_many([fenced.to_dict()])
