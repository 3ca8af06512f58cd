"""confluent-kafka: ``Consumer`` and ``Producer`` replaced by instrumented subclasses.

``confluent_kafka.Consumer`` is a C type whose methods cannot be patched, so the
module's names are rebound to Python subclasses right after ``confluent_kafka`` is
imported: ``from confluent_kafka import Consumer`` then gets the subclass. What is
hooked:

- ``__init__``: the ``on_commit`` callback (the application's, if any, is chained):
  the outcome of every asynchronous commit and every auto-commit, served by librdkafka
  inside ``poll()`` / ``consume()`` / ``close()``;
- ``subscribe(on_assign=, on_revoke=, on_lost=)``: ownership, with the application's
  callbacks called as librdkafka would (``on_revoke`` for lost partitions when there is
  no ``on_lost``). Only a consumer of the group under test (``KAFKA_GROUP``) is recorded;
- ``poll`` / ``consume``: the application coming back for more, and the records handed;
- ``commit`` (sync and async, ``message=`` / ``offsets=`` / neither), ``store_offsets``
  and ``close`` (which commits the offset store when auto-commit is on): claims,
  written before librdkafka is asked; a synchronous commit's outcome is its return
  value or exception;
- ``seek``, ``pause`` / ``resume``, ``consumer_group_metadata`` (for transactions);
- ``Producer.send_offsets_to_transaction`` / ``commit_transaction`` /
  ``abort_transaction``: exactly-once consumers commit their offsets through a
  transaction.

librdkafka's auto-commit runs in its own thread: such commits are seen only afterwards
(``on_commit``), and with ``enable.auto.offset.store`` (the default) they commit what
was handed out, finished or not — the ``start`` line says so (``background_commits``,
``auto_offset_store``). ``DeserializingConsumer`` derives from the original C type and
is not instrumented.
"""

from __future__ import annotations

import contextlib
import sys
import weakref
from typing import Any

from . import active_settings
from . import tracker as tracker_module
from .kafka_python import _stop_reason
from .tracker import Tracker

CLIENT = "confluent-kafka"
_NAMES = ("message", "offsets", "asynchronous")
_time = tracker_module._time

#: ``consumer_group_metadata()`` results → the tracker of the consumer that made them.
_metadata: weakref.WeakValueDictionary[int, Tracker] = weakref.WeakValueDictionary()


def _truthy(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def _subscribes(topic: str, topics: Any) -> bool:
    import re

    if isinstance(topics, str):
        topics = [topics]
    for t in topics or ():
        if t == topic:
            return True
        if isinstance(t, str) and t.startswith("^"):
            try:
                if re.match(t, topic):
                    return True
            except re.error:
                continue
    return False


class _Holder:
    """What the ``on_commit`` closure needs before the consumer exists."""

    tracker: Tracker | None = None


def _data_offsets(tracker: Tracker, partitions: Any) -> dict[int, int]:
    out = {}
    for tp in partitions or ():
        if tp.topic == tracker.topic and isinstance(tp.offset, int) and tp.offset >= 0:
            out[tp.partition] = tp.offset
    return out


def _spans(msgs: Any, topic: str, only_topic: bool) -> list[tuple[int, int, int]]:
    """``(partition, first, last)`` runs of contiguous offsets of the data topic.

    A ``consume()`` batch is usually one partition's contiguous records: its methods are
    mapped over the batch in C, and one span comes out without a Python loop per record.
    """
    cls = type(msgs[0])
    if any(map(cls.error, msgs)):
        msgs = [m for m in msgs if m.error() is None]
        if not msgs:
            return []
    if not only_topic:
        msgs = [m for m in msgs if m.topic() == topic]
        if not msgs:
            return []
    parts = list(map(cls.partition, msgs))
    offsets = list(map(cls.offset, msgs))
    n = len(offsets)
    if offsets[-1] - offsets[0] + 1 == n and parts.count(parts[0]) == n:
        return [(parts[0], offsets[0], offsets[-1])]
    spans: list[list[int]] = []
    cur: list[int] | None = None
    for p, o in zip(parts, offsets, strict=True):
        if cur is not None and cur[0] == p and cur[2] + 1 == o:
            cur[2] = o
        else:
            cur = [p, o, o]
            spans.append(cur)
    return [(s[0], s[1], s[2]) for s in spans]


def patch(module: Any) -> None:
    base: Any = getattr(module, "Consumer", None)
    if base is None or getattr(base, "_riverbed_instrumented", False):
        return
    version = str(getattr(module, "__version__", "") or "")
    no_offset = getattr(getattr(module, "KafkaError", None), "_NO_OFFSET", -168)
    kafka_exception = getattr(module, "KafkaException", Exception)
    base_poll = base.poll
    base_consume = base.consume

    def error_code(err: Any) -> Any:
        try:
            return err.code()
        except Exception:
            return None

    def record_commit(tracker: Tracker, err: Any, partitions: Any) -> None:
        if err is not None and error_code(err) == no_offset:
            return  # nothing was stored, nothing was committed
        offsets = _data_offsets(tracker, partitions)
        if not offsets:
            return
        errors = [tp.error for tp in partitions if tp.topic == tracker.topic and tp.error]
        ok = err is None and not errors
        tracker.committed(offsets, ok, None if ok else str(err or errors[0]))

    def on_commit_chain(holder: _Holder, user: Any) -> Any:
        def on_commit(err: Any, partitions: Any) -> None:
            tracker = holder.tracker
            if tracker is not None and not tracker.stopped:
                try:
                    record_commit(tracker, err, partitions)
                except Exception as exc:
                    print(
                        f"riverbed instrumentation: commit not recorded: {exc!r}", file=sys.stderr
                    )
            if user is not None:
                user(err, partitions)

        return on_commit

    class Consumer(base):
        __doc__ = base.__doc__
        _riverbed_instrumented = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if args and isinstance(args[0], dict):
                conf = dict(args[0])
                args = (conf,) + tuple(args[1:])
            else:
                conf = kwargs
            holder = _Holder()
            conf["on_commit"] = on_commit_chain(holder, conf.get("on_commit"))
            base.__init__(self, *args, **kwargs)
            self._riverbed_holder = holder
            self._riverbed_tracker: Tracker | None = None
            auto_commit = _truthy(conf.get("enable.auto.commit"), True)
            self._riverbed_conf = {
                "group": conf.get("group.id"),
                "client_id": conf.get("client.id", "rdkafka"),
                "auto_commit": auto_commit,
                "auto_store": _truthy(conf.get("enable.auto.offset.store"), True),
            }
            self._riverbed_stored: dict[int, int] = {}
            self._riverbed_only_topic = False

        # ---- subscription and ownership ----------------------------------------------------
        def subscribe(self, topics: Any, *args: Any, **kwargs: Any) -> Any:
            settings = active_settings()
            callbacks = dict(zip(("on_assign", "on_revoke", "on_lost"), args))
            callbacks.update(kwargs)
            c = self._riverbed_conf
            if not settings.records(c["group"], _subscribes(settings.topic, topics)):
                return base.subscribe(self, topics, *args, **kwargs)
            tracker = self._riverbed_tracker
            if tracker is None:
                tracker = Tracker(
                    settings,
                    CLIENT,
                    version,
                    c["client_id"],
                    c["group"],
                    c["auto_commit"],
                    background_commits=c["auto_commit"],
                    auto_offset_store=c["auto_commit"] and c["auto_store"],
                )
            wrapped = _callbacks(tracker, callbacks)
            result = base.subscribe(self, topics, **wrapped)
            # Subscribed to the data topic alone: no record of another topic can come.
            self._riverbed_only_topic = list([topics] if isinstance(topics, str) else topics) == [
                settings.topic
            ]
            self._riverbed_tracker = tracker
            self._riverbed_holder.tracker = tracker
            # The hot path, bound for this consumer (see _poll_for).
            self.__dict__["poll"] = _poll_for(self, tracker, base_poll, self._riverbed_only_topic)
            tracker.start()
            return result

        # ---- records ------------------------------------------------------------------------
        def poll(self, timeout: float = -1) -> Any:
            # An explicit signature: forwarding *args/**kwargs costs a third of this
            # wrapper's time on a consumer that polls one record at a time.
            tracker = self._riverbed_tracker
            if tracker is None:
                return base_poll(self, timeout)
            t_back = _time()
            msg = base_poll(self, timeout)
            if (
                msg is not None
                and msg.error() is None
                and (self._riverbed_only_topic or msg.topic() == tracker.topic)
            ):
                t = _time()
                tracker.queue((msg.partition(), msg.offset(), t_back, t))
                if t >= tracker.due:
                    tracker.settle(t)
            else:
                tracker.came_back(t_back)
            return msg

        def consume(self, num_messages: int = 1, timeout: float = -1) -> Any:
            tracker = self._riverbed_tracker
            if tracker is None:
                return base_consume(self, num_messages, timeout)
            tracker.came_back(_time())
            msgs = base_consume(self, num_messages, timeout)
            if msgs:
                spans = _spans(msgs, tracker.topic, self._riverbed_only_topic)
                if spans:
                    tracker.hand(spans, _time())
            return msgs

        # ---- commits ------------------------------------------------------------------------
        def _riverbed_intended(self, params: dict[str, Any]) -> dict[int, int] | None:
            """The offsets a commit or store names; None: the offset store."""
            tracker = self._riverbed_tracker
            assert tracker is not None
            message, offsets = params.get("message"), params.get("offsets")
            if message is not None:
                if message.topic() != tracker.topic:
                    return {}
                return {message.partition(): message.offset() + 1}
            if offsets is not None:
                return _data_offsets(tracker, offsets)
            return None

        def _riverbed_store(self) -> dict[int, int]:
            """What librdkafka's offset store holds for the data topic: the positions when
            it stores at hand-out, else what the application stored."""
            tracker = self._riverbed_tracker
            assert tracker is not None
            if not self._riverbed_conf["auto_store"]:
                return dict(self._riverbed_stored)
            # The offset after the last record handed out of each partition it owns (asking
            # librdkafka for its assignment and positions costs a fraction of a millisecond).
            return tracker.positions()

        def commit(self, *args: Any, **kwargs: Any) -> Any:
            tracker = self._riverbed_tracker
            if tracker is None:
                return base.commit(self, *args, **kwargs)
            params = dict(zip(_NAMES, args))
            params.update(kwargs)
            intended = self._riverbed_intended(params)
            if intended is None:
                intended = self._riverbed_store()
            asynchronous = _truthy(params.get("asynchronous"), True)
            tracker.claim(intended, "commit-async" if asynchronous else "commit")
            if asynchronous:
                return base.commit(self, *args, **kwargs)  # outcome: on_commit
            try:
                result = base.commit(self, *args, **kwargs)
            except kafka_exception as exc:
                err = exc.args[0] if exc.args else None
                if error_code(err) != no_offset:
                    tracker.committed(intended, False, str(exc))
                raise
            done = _data_offsets(tracker, result)
            errors = [tp.error for tp in result or () if tp.topic == tracker.topic and tp.error]
            tracker.committed(done or intended, not errors, str(errors[0]) if errors else None)
            return result

        def store_offsets(self, *args: Any, **kwargs: Any) -> Any:
            tracker = self._riverbed_tracker
            if tracker is not None:
                params = dict(zip(_NAMES[:2], args))
                params.update(kwargs)
                intended = self._riverbed_intended(params)
                if intended:
                    # librdkafka commits the store later, in its own thread: the claim
                    # is made now.
                    tracker.claim(intended, "store")
                    self._riverbed_stored.update(intended)
            return base.store_offsets(self, *args, **kwargs)

        # ---- the application's position -----------------------------------------------------
        def seek(self, partition: Any, *args: Any, **kwargs: Any) -> Any:
            result = base.seek(self, partition, *args, **kwargs)
            tracker = self._riverbed_tracker
            if tracker is not None and getattr(partition, "topic", None) == tracker.topic:
                offset = partition.offset
                if isinstance(offset, int) and offset >= 0:
                    tracker.seek(partition.partition, offset)
                else:  # OFFSET_BEGINNING, OFFSET_END, OFFSET_STORED: resolved by librdkafka
                    tracker.seek(partition.partition, None, _whence(module, offset))
            return result

        def pause(self, partitions: Any, *args: Any, **kwargs: Any) -> Any:
            result = base.pause(self, partitions, *args, **kwargs)
            tracker = self._riverbed_tracker
            if tracker is not None:
                tracker.paused(
                    [tp.partition for tp in partitions if tp.topic == tracker.topic], True
                )
            return result

        def resume(self, partitions: Any, *args: Any, **kwargs: Any) -> Any:
            result = base.resume(self, partitions, *args, **kwargs)
            tracker = self._riverbed_tracker
            if tracker is not None:
                parts = [tp.partition for tp in partitions if tp.topic == tracker.topic]
                tracker.paused(parts, False)
            return result

        def consumer_group_metadata(self, *args: Any, **kwargs: Any) -> Any:
            metadata = base.consumer_group_metadata(self, *args, **kwargs)
            if self._riverbed_tracker is not None:
                try:
                    _metadata[id(metadata)] = self._riverbed_tracker
                    _keep_alive(metadata, self._riverbed_tracker)
                except TypeError:
                    pass
            return metadata

        # ---- the end ------------------------------------------------------------------------
        def close(self, *args: Any, **kwargs: Any) -> Any:
            tracker = self._riverbed_tracker
            if tracker is None or tracker.stopped:
                return base.close(self, *args, **kwargs)
            failing = sys.exc_info()[1]
            tracker.closing = True  # callbacks in close() are not coming back for more
            self.__dict__.pop("poll", None)
            if self._riverbed_conf["auto_commit"]:
                # librdkafka commits the offset store on close.
                with contextlib.suppress(Exception):
                    tracker.claim(self._riverbed_store(), "close")
            try:
                result = base.close(self, *args, **kwargs)
            except BaseException as exc:
                tracker.stop("error", f"close() failed: {exc!r}")
                raise
            tracker.stop(*_stop_reason(failing))
            return result

        def unsubscribe(self, *args: Any, **kwargs: Any) -> Any:
            return base.unsubscribe(self, *args, **kwargs)

    Consumer.__name__ = Consumer.__qualname__ = "Consumer"
    Consumer.__module__ = getattr(module, "__name__", "confluent_kafka")
    module.Consumer = Consumer
    producer = getattr(module, "Producer", None)
    if producer is not None and hasattr(producer, "send_offsets_to_transaction"):
        module.Producer = _producer_class(module, producer)


def _whence(module: Any, offset: Any) -> str:
    if offset == getattr(module, "OFFSET_BEGINNING", -2):
        return "beginning"
    if offset == getattr(module, "OFFSET_END", -1):
        return "end"
    return "stored"


def _keep_alive(metadata: Any, tracker: Tracker) -> None:
    """The id of a metadata object is only meaningful while it lives: hold it with the
    tracker (an application asks for it once per transaction, at most)."""
    kept = tracker.__dict__.setdefault("_riverbed_metadata", [])
    kept.append(metadata)
    del kept[:-8]


def _producer_class(module: Any, base: Any) -> Any:
    class Producer(base):
        __doc__ = base.__doc__

        def send_offsets_to_transaction(
            self, positions: Any, group_metadata: Any, *args: Any, **kwargs: Any
        ) -> Any:
            tracker = _metadata.get(id(group_metadata))
            claims = []
            if tracker is not None:
                mapping = _data_offsets(tracker, positions)
                if mapping:
                    tracker.claim(mapping, "transaction")
                    claims.append((tracker, mapping))
            result = base.send_offsets_to_transaction(
                self, positions, group_metadata, *args, **kwargs
            )
            pending = self.__dict__.setdefault("_riverbed_txn", [])
            pending.extend(claims)
            return result

        def commit_transaction(self, *args: Any, **kwargs: Any) -> Any:
            claims = self.__dict__.pop("_riverbed_txn", [])
            try:
                result = base.commit_transaction(self, *args, **kwargs)
            except BaseException as exc:
                for tracker, mapping in claims:
                    tracker.committed(mapping, False, f"commit_transaction failed: {exc!r}")
                raise
            for tracker, mapping in claims:
                tracker.committed(mapping, True)
            return result

        def abort_transaction(self, *args: Any, **kwargs: Any) -> Any:
            claims = self.__dict__.pop("_riverbed_txn", [])
            try:
                return base.abort_transaction(self, *args, **kwargs)
            finally:
                for tracker, mapping in claims:
                    tracker.committed(mapping, False, "transaction aborted")

    Producer.__name__ = Producer.__qualname__ = "Producer"
    Producer.__module__ = getattr(module, "__name__", "confluent_kafka")
    return Producer


def _poll_for(consumer: Any, tracker: Tracker, base_poll: Any, only_topic: bool) -> Any:
    """``consumer.poll`` once it records: a closure over what the class method looks up
    on every call. A consumer that polls one record at a time spends most of its
    instrumentation here, so this does as little as it can: two clock reads, the record's
    partition and offset into the tracker's queue, and settling the queue when due."""
    queue = tracker.queue
    topic = tracker.topic

    def poll(timeout: float = -1) -> Any:
        t_back = _time()
        msg = base_poll(consumer, timeout)
        if msg is not None and msg.error() is None and (only_topic or msg.topic() == topic):
            t = _time()
            queue((msg.partition(), msg.offset(), t_back, t))
            if t >= tracker.due:
                tracker.settle(t)
        else:
            tracker.came_back(t_back)
        return msg

    poll.__doc__ = base_poll.__doc__
    return poll


def _callbacks(tracker: Tracker, user: dict[str, Any]) -> dict[str, Any]:
    """``on_assign`` / ``on_revoke`` / ``on_lost`` that record ownership and call the
    application's (librdkafka assigns by itself after ``on_assign`` unless the
    application's callback did)."""
    topic = tracker.topic
    on_assign, on_revoke, on_lost = (
        user.get("on_assign"),
        user.get("on_revoke"),
        user.get("on_lost"),
    )

    def parts(partitions: Any) -> list:
        return [tp.partition for tp in partitions or () if tp.topic == topic]

    def member_id(consumer: Any) -> str | None:
        try:
            return consumer.memberid() or None
        except Exception:
            return None

    def back() -> None:
        # librdkafka serves these callbacks inside the application's next poll: it has
        # come back for more (unless it is closing).
        if not tracker.closing:
            tracker.came_back()

    def assign(consumer: Any, partitions: Any) -> None:
        back()
        tracker.assigned(parts(partitions), None, member_id(consumer))
        if on_assign is not None:
            on_assign(consumer, partitions)

    def revoke(consumer: Any, partitions: Any) -> None:
        back()
        try:
            if on_revoke is not None:
                on_revoke(consumer, partitions)
        finally:
            tracker.revoked("revoked", parts(partitions), None)

    def lost(consumer: Any, partitions: Any) -> None:
        back()
        try:
            if on_lost is not None:
                on_lost(consumer, partitions)
            elif on_revoke is not None:
                on_revoke(consumer, partitions)
        finally:
            tracker.revoked("lost", parts(partitions), None)

    return {"on_assign": assign, "on_revoke": revoke, "on_lost": lost}
