"""The reference consumer on librdkafka (confluent-kafka): classic or KIP-848 consumer protocol.

What it records, and when, is :class:`~workloads.consumer.member.EvidenceMember`'s,
shared with the kafka-python consumer; the settings map onto librdkafka as
:mod:`workloads.consumer.rdkafka_settings` documents (combinations librdkafka
cannot honour are refused before connecting).

Under the consumer protocol (``group.protocol=consumer``) the broker computes
the assignment and hands it out incrementally: ``assigned`` and ``revoked``
list only the partitions that move, and their ``generation`` is the
**member epoch** (librdkafka's group metadata carries it in place of the
classic generation). Fencing is recorded as it is reported:

- a commit the coordinator rejects (``STALE_MEMBER_EPOCH``,
  ``UNKNOWN_MEMBER_ID``, ``ILLEGAL_GENERATION``…) is ``committed`` with
  ``ok: false`` and the error;
- partitions taken away without a revocation (session expired, fenced,
  ``max.poll.interval.ms`` exceeded) are ``lost``;
- an error the client reports that fences the member (``FENCED_INSTANCE_ID``,
  ``UNRELEASED_INSTANCE_ID``, ``FENCED_MEMBER_EPOCH``…) is ``fenced``; when it is
  fatal (a static member whose instance id another member holds) the member
  stops with ``error``.

Readiness (``--ready-file``) starts at the first ``assigned`` or, under the
consumer protocol, at the first member epoch: librdkafka runs no rebalance
callback for an empty KIP-848 assignment.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

from workloads.consumer.member import EvidenceMember
from workloads.consumer.rdkafka_settings import cgmd_generation, rdkafka_config

log = logging.getLogger("workloads.consumer")

#: Error codes (confluent_kafka.KafkaError) that mean the coordinator fenced the member.
FENCING_ERRORS = frozenset(
    {
        "FENCED_INSTANCE_ID",
        "UNRELEASED_INSTANCE_ID",
        "FENCED_MEMBER_EPOCH",
        "STALE_MEMBER_EPOCH",
        "UNKNOWN_MEMBER_ID",
        "ILLEGAL_GENERATION",
        "_FENCED",
    }
)


class Record(NamedTuple):
    """One consumed record, as :func:`workloads.consumer.events.examine` reads it."""

    offset: int
    key: bytes | None
    value: bytes | None


def is_fatal(err: Any) -> bool:
    """A fatal client error: the consumer cannot go on (librdkafka reports some as ``_FATAL``)."""
    return bool(err.fatal()) or err.name() == "_FATAL"


def is_fencing(err: Any) -> bool:
    """Whether a client error says the coordinator fenced this member.

    librdkafka reports a fatal heartbeat error as ``_FATAL`` with the broker's
    reason in the text only (e.g. "The instance ID is still used by another
    member": ``UNRELEASED_INSTANCE_ID``); a consumer's fatal errors are static
    membership's, so the text names the instance id or the fencing.
    """
    if err.name() in FENCING_ERRORS:
        return True
    text = error_text(err).lower()
    return err.name() == "_FATAL" and ("instance id" in text or "fenced" in text)


def error_text(err: Any) -> str:
    """``NAME: reason`` of a confluent_kafka.KafkaError (the name is what the checks read)."""
    try:
        return f"{err.name()}: {err.str()}"
    except Exception:  # not a KafkaError
        return repr(err)


class RdKafkaGroupConsumer(EvidenceMember):
    """A consumer-group member on librdkafka that records evidence of everything it does."""

    client_name = "confluent-kafka"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fatal: Any = None
        self._record_auto_commits = True

    def _start_fields(self) -> dict[str, Any]:
        import confluent_kafka

        return {
            "client_version": f"{confluent_kafka.version()[0]}/{confluent_kafka.libversion()[0]}"
        }

    def _connect(self) -> None:
        from confluent_kafka import Consumer

        c = self.config
        conf = rdkafka_config(c)
        conf["error_cb"] = self._on_error
        if c.commit_mode == "auto":
            conf["on_commit"] = self._on_auto_commit
        consumer = self._consumer = Consumer(conf)
        topic = c.topic

        def parts(partitions: Any) -> list[int]:
            return [tp.partition for tp in partitions if tp.topic == topic]

        consumer.subscribe(
            [topic],
            on_assign=lambda _c, ps: self._on_assigned(parts(ps)),
            on_revoke=lambda _c, ps: self._on_revoked("revoked", parts(ps)),
            on_lost=lambda _c, ps: self._on_revoked("lost", parts(ps)),
        )

    def _poll(self) -> Sequence[tuple[int, Sequence[Any]]]:
        from confluent_kafka import KafkaException

        c = self.config
        messages = self._consumer.consume(
            num_messages=c.max_poll_records, timeout=c.poll_timeout_ms / 1000
        )
        if self._fatal is not None:
            raise KafkaException(self._fatal)
        by_partition: dict[int, list[Record]] = {}
        for m in messages:
            err = m.error()
            if err is not None:
                if is_fatal(err):
                    self._on_error(err)
                    raise KafkaException(err)
                log.warning("consume error: %s", error_text(err))
                continue
            if m.topic() != c.topic:
                continue
            by_partition.setdefault(m.partition(), []).append(
                Record(m.offset(), m.key(), m.value())
            )
        return sorted(by_partition.items())

    def _commit_offsets(self, offsets: dict[int, int]) -> str | None:
        from confluent_kafka import KafkaException, TopicPartition

        topic = self.config.topic
        try:
            result = self._consumer.commit(
                offsets=[TopicPartition(topic, p, o) for p, o in sorted(offsets.items())],
                asynchronous=False,
            )
        except KafkaException as exc:
            return error_text(exc.args[0]) if exc.args else repr(exc)
        failed = [tp for tp in result or () if tp.error is not None]
        if failed:
            return "; ".join(f"partition {tp.partition}: {error_text(tp.error)}" for tp in failed)
        return None

    def _close(self, final_commit: bool) -> None:
        consumer = self._consumer
        if final_commit:
            # The consumed positions, committed explicitly and recorded; the client's own
            # commit on close then finds nothing new to commit.
            self._record_auto_commits = False
            positions = {
                tp.partition: tp.offset
                for tp in consumer.position(consumer.assignment())
                if tp.topic == self.config.topic and tp.offset >= 0
            }
            self._commit(positions)
        # close() runs the revoke callback and leaves the group (a static member of the
        # consumer protocol leaves "temporarily", keeping its partitions for the session).
        consumer.close()

    # ---- librdkafka callbacks (served inside consume/poll) ------------------------------------
    def _on_auto_commit(self, err: Any, partitions: Any) -> None:
        if not self._record_auto_commits:
            return
        topic = self.config.topic
        ours = [tp for tp in partitions or () if tp.topic == topic and tp.offset >= 0]
        mapping = {tp.partition: tp.offset for tp in ours}
        errors = [tp.error for tp in ours if tp.error is not None]
        if err is not None and getattr(err, "code", lambda: None)() == -168:
            return  # _NO_OFFSET: nothing new to commit
        error = error_text(err) if err is not None else (error_text(errors[0]) if errors else None)
        self._record_commit(mapping, error)

    def _on_error(self, err: Any) -> None:
        fatal = is_fatal(err)
        if fatal and self._fatal is not None:
            return  # reported once
        if is_fencing(err):
            self._on_fenced(error_text(err), fatal=fatal)
        if fatal:
            # Every later call fails the same way: the loop stops at its next poll.
            self._fatal = err
            log.error("fatal client error: %s", error_text(err))
        else:
            log.warning("client error: %s", error_text(err))

    def _in_group(self) -> bool:
        if self._joined:
            return True
        if self.config.group_protocol != "consumer" or self._fatal is not None:
            return False
        # Under KIP-848 librdkafka runs no rebalance callback for an empty assignment
        # (more members than partitions): the member epoch the coordinator gave it says
        # it joined. It is reset when the member is fenced or leaves.
        epoch = self._current_generation()
        return epoch is not None and epoch > 0

    def _current_generation(self) -> int | None:
        consumer = self._consumer
        if consumer is None:
            return self._generation
        try:
            return cgmd_generation(consumer.consumer_group_metadata())
        except Exception:
            return None

    def _member_id(self) -> str | None:
        consumer = self._consumer
        if consumer is None:
            return None
        try:
            return consumer.memberid() or None
        except Exception:
            return None
