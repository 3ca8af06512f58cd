"""aiokafka: ``AIOKafkaConsumer``, its group coordinator and ``AIOKafkaProducer``, patched in place.

asyncio services (FastStream and Faust build on aiokafka) consume with ``getone()``,
``getmany()`` or ``async for msg in consumer``. What is hooked, and why there:

- ``__init__`` (topics given to the constructor) and ``subscribe``: a consumer of the group
  under test (``KAFKA_GROUP``) that subscribes to the data topic gets a :class:`Tracker`
  and a rebalance listener that records ``assigned`` / ``revoked`` and calls the
  application's own listener (sync or async) as aiokafka would;
- ``getone`` (also behind ``__anext__``) and ``getmany``: the application coming back for
  more, and the records handed out;
- ``seek`` / ``seek_to_beginning`` / ``seek_to_end`` / ``seek_to_committed``,
  ``pause`` / ``resume``;
- ``GroupCoordinator._do_commit_offsets``: every commit request — ``commit()``, the
  auto-commit (in aiokafka's coordination task, of what was *handed out*, finished or not),
  the commit before a rebalance and the one when the consumer stops — recorded as a claim
  before it is sent, and its outcome. A context variable set by ``commit()`` and by the
  coordinator's last auto-commit names each one;
- ``AIOKafkaProducer.send_offsets_to_transaction`` / ``commit_transaction`` /
  ``abort_transaction`` (also behind ``async with producer.transaction()``);
- ``stop``, ``__aexit__`` and ``unsubscribe``: the end of the member.

aiokafka's auto-commit runs in its own task while the application awaits: its claims are
written like any other before their request leaves, and they cover what was handed out,
so a consumer whose work awaits can have records committed while it works on them.
"""

from __future__ import annotations

import contextvars
import inspect
import sys
from typing import Any, Iterable

from . import active_settings as current_settings
from . import hooks
from . import tracker as tracker_module
from .kafka_python import (
    _data_offsets,
    _data_partitions,
    _group_trackers,
    _pausing,
    _stop_reason,
    _subscribes,
)
from .tracker import Tracker

CLIENT = "aiokafka"

_time = tracker_module._time
#: What the current task is doing while the coordinator commits for it.
_how: contextvars.ContextVar[str | None] = contextvars.ContextVar("riverbed_how", default=None)


def patch(module: Any) -> None:
    consumer_cls = getattr(module, "AIOKafkaConsumer", None)
    if consumer_cls is None or getattr(consumer_cls, "_riverbed_instrumented", False):
        return
    version = str(getattr(module, "__version__", "") or "")
    _patch_consumer(consumer_cls, version)
    try:
        from aiokafka.consumer.group_coordinator import GroupCoordinator
    except ImportError:  # pragma: no cover - every aiokafka has it
        GroupCoordinator = None
    if GroupCoordinator is not None:
        _patch_coordinator(GroupCoordinator)
    producer = getattr(module, "AIOKafkaProducer", None)
    if producer is not None and hasattr(producer, "send_offsets_to_transaction"):
        _patch_producer(producer)
    consumer_cls._riverbed_instrumented = True


# ---- the consumer ---------------------------------------------------------------------------
def _track(consumer: Any, version: str) -> Tracker | None:
    """The consumer's tracker, made on first use (None for a consumer riverbed does not judge)."""
    tracker = consumer.__dict__.get("_riverbed_tracker")
    if tracker is not None:
        return tracker
    group = getattr(consumer, "_group_id", None)
    if not current_settings().records(group, True):
        return None
    client = getattr(consumer, "_client", None)
    tracker = Tracker(
        current_settings(),
        CLIENT,
        version,
        getattr(client, "_client_id", None),
        group,
        bool(getattr(consumer, "_enable_auto_commit", False)),
    )
    consumer._riverbed_tracker = tracker
    # The group coordinator shares the consumer's subscription state: its commits find the
    # tracker there.
    consumer._subscription._riverbed_tracker = tracker
    return tracker


def _coordinator_ids(consumer: Any) -> tuple[int | None, str | None]:
    coordinator = getattr(consumer, "_coordinator", None)
    generation = getattr(coordinator, "generation", None)
    member_id = getattr(coordinator, "member_id", None)
    gen = generation if isinstance(generation, int) and generation >= 0 else None
    return gen, (str(member_id) if member_id else None)


def _listener(consumer: Any, tracker: Tracker, user: Any) -> Any:
    """A rebalance listener that records ownership and calls the application's.

    ``assigned`` is written before the application's callback runs (it may seek), and
    ``revoked`` after it (it may commit what it processed: those commits belong to the
    ownership that ends). aiokafka awaits a callback that returns a coroutine.
    """
    from aiokafka.abc import ConsumerRebalanceListener

    topic = tracker.topic

    def parts(tps: Iterable[Any]) -> list:
        return [tp.partition for tp in tps if tp.topic == topic]

    class RiverbedRebalanceListener(ConsumerRebalanceListener):
        wrapped = user

        async def on_partitions_revoked(self, revoked: Any) -> None:
            try:
                if user is not None:
                    result = user.on_partitions_revoked(revoked)
                    if inspect.isawaitable(result):
                        await result
            finally:
                tracker.revoked("revoked", parts(revoked), _coordinator_ids(consumer)[0])

        async def on_partitions_assigned(self, assigned: Any) -> None:
            generation, member_id = _coordinator_ids(consumer)
            tracker.assigned(parts(assigned), generation, member_id)
            if user is not None:
                result = user.on_partitions_assigned(assigned)
                if inspect.isawaitable(result):
                    await result

    return RiverbedRebalanceListener()


def _set_listener(consumer: Any, tracker: Tracker) -> None:
    subscription = consumer._subscription
    current = getattr(subscription, "_listener", None)
    if (
        current is not None
        and getattr(type(current), "__name__", "") == "RiverbedRebalanceListener"
    ):
        return
    subscription._listener = _listener(consumer, tracker, current)


def _patch_consumer(cls: Any, version: str) -> None:
    orig_init = cls.__init__
    orig_subscribe = cls.subscribe
    orig_getone = cls.getone
    orig_getmany = cls.getmany
    orig_commit = cls.commit
    orig_seek = cls.seek
    orig_seek_beginning = cls.seek_to_beginning
    orig_seek_end = cls.seek_to_end
    orig_seek_committed = cls.seek_to_committed
    orig_pause = cls.pause
    orig_resume = cls.resume
    orig_stop = cls.stop
    orig_aexit = cls.__aexit__
    orig_unsubscribe = cls.unsubscribe

    def __init__(self: Any, *topics: Any, **configs: Any) -> None:
        orig_init(self, *topics, **configs)
        if topics and _subscribes(current_settings().topic, list(topics), None):
            tracker = _track(self, version)
            if tracker is not None:
                _set_listener(self, tracker)
                tracker.start()

    def subscribe(self: Any, topics: Any = (), pattern: Any = None, listener: Any = None) -> Any:
        result = orig_subscribe(self, topics=topics, pattern=pattern, listener=listener)
        if _subscribes(current_settings().topic, topics, pattern):
            tracker = _track(self, version)
            if tracker is not None:
                _set_listener(self, tracker)
                tracker.start()
        return result

    async def getone(self: Any, *partitions: Any) -> Any:
        tracker = self.__dict__.get("_riverbed_tracker")
        if tracker is None:
            return await orig_getone(self, *partitions)
        tracker.back_t = t_back = _time()
        try:
            msg = await orig_getone(self, *partitions)
        except BaseException:
            tracker.back_t = None
            tracker.came_back(t_back)
            tracker.flush()
            raise
        tracker.back_t = None
        if msg.topic == tracker.topic:
            t = _time()
            tracker.queue((msg.partition, msg.offset, t_back, t))
            if t >= tracker.due:
                tracker.settle(t)
        else:
            tracker.came_back(t_back)
        return msg

    async def getmany(
        self: Any, *partitions: Any, timeout_ms: int = 0, max_records: Any = None
    ) -> Any:
        tracker = self.__dict__.get("_riverbed_tracker")
        if tracker is None:
            return await orig_getmany(
                self, *partitions, timeout_ms=timeout_ms, max_records=max_records
            )
        tracker.back_t = t_back = _time()
        tracker.came_back(t_back)
        try:
            result = await orig_getmany(
                self, *partitions, timeout_ms=timeout_ms, max_records=max_records
            )
        finally:
            tracker.back_t = None
        if result:
            topic = tracker.topic
            spans = [
                (tp.partition, records[0].offset, records[-1].offset)
                for tp, records in result.items()
                if records and tp.topic == topic
            ]
            if spans:
                tracker.hand(spans, _time())
        return result

    async def commit(self: Any, offsets: Any = None) -> Any:
        token = _how.set(_how.get() or "commit")
        try:
            return await orig_commit(self, offsets)
        finally:
            _how.reset(token)

    def seek(self: Any, partition: Any, offset: Any) -> Any:
        result = orig_seek(self, partition, offset)
        tracker = self.__dict__.get("_riverbed_tracker")
        if tracker is not None and getattr(partition, "topic", None) == tracker.topic:
            tracker.seek(partition.partition, offset)
        return result

    def _seek_to(orig: Any, whence: str) -> Any:
        async def seek_to(self: Any, *partitions: Any) -> Any:
            result = await orig(self, *partitions)
            tracker = self.__dict__.get("_riverbed_tracker")
            if tracker is not None:
                tps = partitions or self._subscription.assigned_partitions()
                for p in _data_partitions(tracker, tps):
                    tracker.seek(p, None, whence)
            return result

        return seek_to

    async def stop(self: Any) -> Any:
        tracker = self.__dict__.get("_riverbed_tracker")
        if tracker is None or tracker.stopped:
            return await orig_stop(self)
        failing = self.__dict__.pop("_riverbed_exit_exc", None) or sys.exc_info()[1]
        tracker.closing = True  # the coordinator's last auto-commit is the close's
        try:
            result = await orig_stop(self)
        except BaseException as exc:
            tracker.stop("error", f"stop() failed: {exc!r}")
            raise
        tracker.stop(*_stop_reason(failing))
        return result

    async def __aexit__(self: Any, exc_type: Any, exc: Any, tb: Any) -> Any:
        if exc_type is not None and self.__dict__.get("_riverbed_tracker") is not None:
            self._riverbed_exit_exc = exc if exc is not None else exc_type()
        return await orig_aexit(self, exc_type, exc, tb)

    def unsubscribe(self: Any) -> Any:
        tracker = self.__dict__.get("_riverbed_tracker")
        result = orig_unsubscribe(self)
        if tracker is not None and tracker.owned:
            # aiokafka drops the assignment without calling the listener.
            tracker.revoked("revoked", set(tracker.owned), _coordinator_ids(self)[0])
        return result

    wrappers: tuple[tuple[str, Any], ...] = (
        ("__init__", __init__),
        ("subscribe", subscribe),
        ("getone", getone),
        ("getmany", getmany),
        ("commit", commit),
        ("seek", seek),
        ("seek_to_beginning", _seek_to(orig_seek_beginning, "beginning")),
        ("seek_to_end", _seek_to(orig_seek_end, "end")),
        ("seek_to_committed", _seek_to(orig_seek_committed, "committed")),
        ("pause", _pausing(orig_pause, True)),
        ("resume", _pausing(orig_resume, False)),
        ("stop", stop),
        ("__aexit__", __aexit__),
        ("unsubscribe", unsubscribe),
    )
    hooks.wrap_methods(cls, wrappers)


# ---- commits -----------------------------------------------------------------------------------
def _consumer_tracker(coordinator: Any) -> Tracker | None:
    """The tracker of the consumer this coordinator serves (they share a subscription state)."""
    subscription = getattr(coordinator, "_subscription", None)
    return None if subscription is None else subscription.__dict__.get("_riverbed_tracker")


def _patch_coordinator(cls: Any) -> None:
    orig_do_commit = cls._do_commit_offsets
    orig_last = cls._maybe_do_last_autocommit

    async def _do_commit_offsets(self: Any, assignment: Any, offsets: Any) -> Any:
        tracker = _consumer_tracker(self)
        mapping = _data_offsets(tracker, offsets) if tracker is not None else {}
        if not mapping or tracker is None or tracker.stopped:
            return await orig_do_commit(self, assignment, offsets)
        if self.__dict__.get("_riverbed_claimed") != id(offsets):
            # One claim per commit; commit_offsets() retries the same offsets.
            tracker.claim(mapping, _how.get() or "auto")
            self._riverbed_claimed = id(offsets)
        try:
            result = await orig_do_commit(self, assignment, offsets)
        except BaseException as exc:
            tracker.committed(mapping, False, repr(exc))
            raise
        tracker.committed(mapping, True)
        return result

    async def _maybe_do_last_autocommit(self: Any, assignment: Any) -> Any:
        tracker = _consumer_tracker(self)
        how = "close" if tracker is not None and tracker.closing else "rebalance"
        token = _how.set(how)
        try:
            return await orig_last(self, assignment)
        finally:
            _how.reset(token)

    for name, fn, orig in (
        ("_do_commit_offsets", _do_commit_offsets, orig_do_commit),
        ("_maybe_do_last_autocommit", _maybe_do_last_autocommit, orig_last),
    ):
        setattr(fn, "__wrapped__", orig)  # noqa: B010 - functions of two shapes
        setattr(cls, name, fn)


# ---- transactions ------------------------------------------------------------------------------
def _patch_producer(cls: Any) -> None:
    orig_send_offsets = cls.send_offsets_to_transaction
    orig_commit = cls.commit_transaction
    orig_abort = cls.abort_transaction

    async def send_offsets_to_transaction(self: Any, offsets: Any, group_id: Any) -> Any:
        claims = []
        for tracker in _group_trackers(group_id):
            mapping = _data_offsets(tracker, offsets)
            mapping = {p: o for p, o in mapping.items() if p in tracker.owned} or mapping
            if mapping:
                tracker.claim(mapping, "transaction")
                claims.append((tracker, mapping))
        result = await orig_send_offsets(self, offsets, group_id)
        self.__dict__.setdefault("_riverbed_txn", []).extend(claims)
        return result

    async def commit_transaction(self: Any) -> Any:
        claims = self.__dict__.pop("_riverbed_txn", [])
        try:
            result = await orig_commit(self)
        except BaseException as exc:
            for tracker, mapping in claims:
                tracker.committed(mapping, False, f"commit_transaction failed: {exc!r}")
            raise
        for tracker, mapping in claims:
            tracker.committed(mapping, True)
        return result

    async def abort_transaction(self: Any) -> Any:
        claims = self.__dict__.pop("_riverbed_txn", [])
        try:
            return await orig_abort(self)
        finally:
            for tracker, mapping in claims:
                tracker.committed(mapping, False, "transaction aborted")

    for name, fn, orig in (
        ("send_offsets_to_transaction", send_offsets_to_transaction, orig_send_offsets),
        ("commit_transaction", commit_transaction, orig_commit),
        ("abort_transaction", abort_transaction, orig_abort),
    ):
        fn.__doc__ = orig.__doc__
        setattr(fn, "__wrapped__", orig)  # noqa: B010 - functions of two shapes
        setattr(cls, name, fn)
