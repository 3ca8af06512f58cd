"""kafka-python: ``KafkaConsumer``, its coordinator and ``KafkaProducer``, patched in place.

What is hooked, and why there:

- ``KafkaConsumer.__init__`` (topics given to the constructor) and ``subscribe``: a
  consumer of the group under test (``KAFKA_GROUP``) that subscribes to the data topic
  gets a :class:`Tracker` and a rebalance listener that records ``assigned`` /
  ``revoked`` / ``lost`` and calls the application's own listener (sync or async) in
  the order kafka-python calls it. Consumers of other groups (an audit reader in the
  same process) are left alone;
- ``poll`` and ``__next__`` (iteration): the application coming back for more, and the
  records handed out;
- ``seek`` / ``seek_to_beginning`` / ``seek_to_end``, ``pause`` / ``resume``;
- ``ConsumerCoordinator.commit_offsets_sync`` / ``commit_offsets_async``: every commit
  the application asks for (``commit()``, ``commit_async()``), the auto-commit inside
  ``poll()`` and the one in ``close()``, recorded as a claim before it is sent;
  ``_send_offset_commit_request``: the commit before a rebalance (which bypasses both),
  and every commit's outcome;
- ``KafkaProducer.send_offsets_to_transaction`` / ``commit_transaction`` /
  ``abort_transaction``: exactly-once consumers commit their offsets through a
  transaction;
- ``close``, ``__exit__`` and ``unsubscribe``: the end of the member.
"""

from __future__ import annotations

import inspect
import re
import sys
import threading
from typing import Any, Iterable

from . import active_settings as current_settings
from . import hooks
from . import tracker as tracker_module
from .tracker import Tracker

CLIENT = "kafka-python"

_time = tracker_module._time
#: What the application's thread is doing, for the claims the coordinator sees.
_context = threading.local()


def patch(kafka_module: Any) -> None:
    from kafka.consumer.group import KafkaConsumer

    if getattr(KafkaConsumer, "_riverbed_instrumented", False):
        return
    version = str(getattr(kafka_module, "__version__", "") or "")
    _patch_consumer(KafkaConsumer, version)
    try:
        from kafka.coordinator.consumer import ConsumerCoordinator
    except ImportError:  # pragma: no cover - every kafka-python has it
        return
    _patch_coordinator(ConsumerCoordinator)
    try:
        from kafka.producer.kafka import KafkaProducer
    except ImportError:  # pragma: no cover
        KafkaProducer = None
    if KafkaProducer is not None and hasattr(KafkaProducer, "send_offsets_to_transaction"):
        _patch_producer(KafkaProducer)
    KafkaConsumer._riverbed_instrumented = True


# ---- the consumer ---------------------------------------------------------------------------
def _tracker(consumer: Any) -> Tracker | None:
    return consumer.__dict__.get("_riverbed_tracker")


def _subscribes(topic: str, topics: Any, pattern: Any) -> bool:
    if pattern:
        regex = pattern if hasattr(pattern, "match") else re.compile(pattern)
        return regex.match(topic) is not None
    if isinstance(topics, str):
        topics = [topics]
    try:
        return topic in set(topics or ())
    except TypeError:
        return False


def _track(consumer: Any, version: str) -> Tracker | None:
    """The consumer's tracker, made on first use (None for a consumer riverbed does not judge)."""
    tracker = _tracker(consumer)
    if tracker is not None:
        return tracker
    config = getattr(consumer, "config", {})
    group = config.get("group_id")
    if not current_settings().records(group, True):
        return None  # no group, or another group than the one under test
    tracker = Tracker(
        current_settings(),
        CLIENT,
        version,
        config.get("client_id"),
        group,
        bool(config.get("enable_auto_commit")),
    )
    consumer._riverbed_tracker = tracker
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is not None:
        coordinator._riverbed_tracker = tracker
    return tracker


def _generation(consumer: Any) -> int | None:
    gen = getattr(getattr(consumer, "_coordinator", None), "_generation", None)
    value = getattr(gen, "generation_id", None)
    return value if isinstance(value, int) and value >= 0 else None


def _member_id(consumer: Any) -> str | None:
    gen = getattr(getattr(consumer, "_coordinator", None), "_generation", None)
    value = getattr(gen, "member_id", None)
    return str(value) if value else None


def _listener_bases() -> tuple:
    from kafka.consumer.subscription_state import ConsumerRebalanceListener

    try:
        from kafka.consumer.subscription_state import AsyncConsumerRebalanceListener
    except ImportError:  # kafka-python 2.x
        AsyncConsumerRebalanceListener = None
    return ConsumerRebalanceListener, AsyncConsumerRebalanceListener


def _listener(consumer: Any, tracker: Tracker, user: Any) -> Any:
    """A rebalance listener that records ownership and calls the application's.

    ``assigned`` is written before the application's callback runs (it may seek
    or read from the partitions); ``revoked`` / ``lost`` after it (it may commit
    what it processed, and those commits belong to the ownership that ends).
    """
    sync_base, async_base = _listener_bases()
    base = async_base if async_base is not None and isinstance(user, async_base) else sync_base
    topic = tracker.topic

    def parts(tps: Iterable[Any]) -> list:
        return [tp.partition for tp in tps if tp.topic == topic]

    def record(kind: str, tps: Any) -> None:
        if kind == "assigned":
            tracker.assigned(parts(tps), _generation(consumer), _member_id(consumer))
        else:
            tracker.revoked(kind, parts(tps), _generation(consumer))

    def method(name: str, kind: str) -> Any:
        user_cb = getattr(user, name, None) if user is not None else None
        first = kind == "assigned"
        if user_cb is not None and inspect.iscoroutinefunction(user_cb):

            async def async_callback(self: Any, tps: Any) -> None:
                if first:
                    record(kind, tps)
                try:
                    await user_cb(tps)
                finally:
                    if not first:
                        record(kind, tps)

            return async_callback

        def callback(self: Any, tps: Any) -> None:
            if first:
                record(kind, tps)
            try:
                if user_cb is not None:
                    user_cb(tps)
            finally:
                if not first:
                    record(kind, tps)

        return callback

    cls = type(
        "RiverbedRebalanceListener",
        (base,),
        {
            "on_partitions_assigned": method("on_partitions_assigned", "assigned"),
            "on_partitions_revoked": method("on_partitions_revoked", "revoked"),
            "on_partitions_lost": method("on_partitions_lost", "lost"),
            "wrapped": user,
        },
    )
    return cls()


def _set_listener(consumer: Any, tracker: Tracker) -> None:
    """Wrap the listener kafka-python holds (none, for topics given to the constructor)."""
    subscription = consumer._subscription
    attr = "rebalance_listener" if hasattr(subscription, "rebalance_listener") else "listener"
    current = getattr(subscription, attr, None)
    setattr(subscription, attr, _listener(consumer, tracker, current))


def _data_partitions(tracker: Tracker, tps: Iterable[Any]) -> list[int]:
    topic = tracker.topic
    return [tp.partition for tp in tps if getattr(tp, "topic", None) == topic]


def _pausing(orig: Any, paused: bool) -> Any:
    """``pause()`` (``paused``) or ``resume()``: the client's own, then recorded for the
    data topic's partitions (kafka-python and aiokafka both take TopicPartitions)."""

    def wrapper(self: Any, *partitions: Any) -> Any:
        result = orig(self, *partitions)
        tracker = self.__dict__.get("_riverbed_tracker")
        if tracker is not None:
            tracker.paused(_data_partitions(tracker, partitions), paused)
        return result

    return wrapper


def _patch_consumer(cls: Any, version: str) -> None:
    orig_init = cls.__init__
    orig_subscribe = cls.subscribe
    orig_poll = cls.poll
    orig_next = cls.__next__
    orig_close = cls.close
    orig_unsubscribe = cls.unsubscribe
    orig_commit = cls.commit
    orig_commit_async = cls.commit_async
    orig_seek = cls.seek
    orig_seek_beginning = cls.seek_to_beginning
    orig_seek_end = cls.seek_to_end
    orig_pause = cls.pause
    orig_resume = cls.resume
    # kafka-python 2.x has no context manager.
    orig_exit: Any = getattr(cls, "__exit__", None)

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

    def poll(
        self: Any, timeout_ms: Any = 0, max_records: Any = None, update_offsets: bool = True
    ) -> Any:
        tracker = self.__dict__.get("_riverbed_tracker")
        if tracker is None or not update_offsets:
            # Iteration polls with update_offsets=False: __next__ records it.
            return orig_poll(self, timeout_ms, max_records, update_offsets)
        tracker.back_t = t_back = _time()
        tracker.came_back(t_back)
        try:
            result = orig_poll(self, timeout_ms, max_records, update_offsets)
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

    def __next__(self: Any) -> Any:
        tracker = self.__dict__.get("_riverbed_tracker")
        if tracker is None:
            return orig_next(self)
        tracker.back_t = t_back = _time()
        try:
            record = orig_next(self)
        except BaseException:
            tracker.back_t = None
            tracker.came_back(t_back)
            tracker.flush()
            raise
        tracker.back_t = None
        if record.topic == tracker.topic:
            t = _time()
            tracker.queue((record.partition, record.offset, t_back, t))
            if t >= tracker.due:
                tracker.settle(t)
        else:
            tracker.came_back(t_back)
        return record

    def commit(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _Doing("commit"):
            return orig_commit(self, *args, **kwargs)

    def commit_async(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _Doing("commit-async"):
            return orig_commit_async(self, *args, **kwargs)

    def seek(self: Any, partition: Any, offset: Any) -> Any:
        result = orig_seek(self, partition, offset)
        tracker = self.__dict__.get("_riverbed_tracker")
        if tracker is not None and getattr(partition, "topic", None) == tracker.topic:
            tracker.seek(partition.partition, offset)
        return result

    def _seek_to(orig: Any, whence: str) -> Any:
        def seek_to(self: Any, *partitions: Any) -> Any:
            result = orig(self, *partitions)
            tracker = self.__dict__.get("_riverbed_tracker")
            if tracker is not None:
                tps = partitions or self._subscription.assigned_partitions()
                for p in _data_partitions(tracker, tps):
                    tracker.seek(p, None, whence)
            return result

        return seek_to

    def close(self: Any, *args: Any, **kwargs: Any) -> Any:
        tracker = self.__dict__.get("_riverbed_tracker")
        if tracker is None or tracker.stopped:
            return orig_close(self, *args, **kwargs)
        failing = self.__dict__.pop("_riverbed_exit_exc", None) or sys.exc_info()[1]
        try:
            with _Doing("close"):
                result = orig_close(self, *args, **kwargs)
        except BaseException as exc:
            tracker.stop("error", f"close() failed: {exc!r}")
            raise
        tracker.stop(*_stop_reason(failing))
        return result

    def __exit__(self: Any, exc_type: Any, exc_val: Any, exc_tb: Any) -> Any:
        if exc_type is not None and self.__dict__.get("_riverbed_tracker") is not None:
            self._riverbed_exit_exc = exc_val if exc_val is not None else exc_type()
        return orig_exit(self, exc_type, exc_val, exc_tb)

    def unsubscribe(self: Any) -> Any:
        tracker = self.__dict__.get("_riverbed_tracker")
        result = orig_unsubscribe(self)
        if tracker is not None and tracker.owned:
            # kafka-python drops the assignment without calling the listener.
            tracker.revoked("revoked", set(tracker.owned), _generation(self))
        return result

    wrappers: tuple[tuple[str, Any], ...] = (
        ("__init__", __init__),
        ("subscribe", subscribe),
        ("poll", poll),
        ("__next__", __next__),
        ("commit", commit),
        ("commit_async", commit_async),
        ("seek", seek),
        ("seek_to_beginning", _seek_to(orig_seek_beginning, "beginning")),
        ("seek_to_end", _seek_to(orig_seek_end, "end")),
        ("pause", _pausing(orig_pause, True)),
        ("resume", _pausing(orig_resume, False)),
        ("close", close),
        ("__exit__", __exit__),
        ("unsubscribe", unsubscribe),
    )
    hooks.wrap_methods(cls, wrappers)


def _stop_reason(failing: Any) -> tuple:
    if failing is None:
        return ("close", None)
    what = type(failing).__name__
    if isinstance(failing, (SystemExit, KeyboardInterrupt)):
        return ("close", f"closed while {what} propagated")
    return ("error", f"closed while {what} propagated: {failing!r}"[:500])


class _Doing:
    """Marks what the application's thread is doing while the client commits for it."""

    def __init__(self, how: str) -> None:
        self.how = how

    def __enter__(self) -> None:
        self.outer = getattr(_context, "how", None)
        _context.how = self.outer or self.how

    def __exit__(self, *exc: Any) -> None:
        _context.how = self.outer


# ---- commits -----------------------------------------------------------------------------------
def _data_offsets(tracker: Tracker, offsets: Any) -> dict[int, int]:
    topic = tracker.topic
    out: dict[int, int] = {}
    try:
        items = offsets.items()
    except AttributeError:
        return out
    for tp, om in items:
        if getattr(tp, "topic", None) == topic:
            offset = getattr(om, "offset", om)
            if isinstance(offset, int) and offset >= 0:
                out[tp.partition] = offset
    return out


def _claim(coordinator: Any, offsets: Any, how: str) -> None:
    tracker = coordinator.__dict__.get("_riverbed_tracker")
    if tracker is None or tracker.stopped:
        return
    mapping = _data_offsets(tracker, offsets)
    if mapping:
        tracker.claim(mapping, how)
        coordinator._riverbed_claimed = id(offsets)


def _patch_coordinator(cls: Any) -> None:
    orig_send = cls._send_offset_commit_request
    orig_sync = cls.commit_offsets_sync
    orig_async = cls.commit_offsets_async

    def commit_offsets_sync(self: Any, offsets: Any, *args: Any, **kwargs: Any) -> Any:
        _claim(self, offsets, getattr(_context, "how", None) or "auto")
        return orig_sync(self, offsets, *args, **kwargs)

    def commit_offsets_async(self: Any, offsets: Any, *args: Any, **kwargs: Any) -> Any:
        _claim(self, offsets, getattr(_context, "how", None) or "auto")
        return orig_async(self, offsets, *args, **kwargs)

    def before(self: Any, offsets: Any) -> tuple:
        tracker = self.__dict__.get("_riverbed_tracker")
        if tracker is None or tracker.stopped:
            return None, {}
        mapping = _data_offsets(tracker, offsets)
        if mapping and self.__dict__.get("_riverbed_claimed") != id(offsets):
            # A commit that bypassed both entry points: the one before a rebalance.
            tracker.claim(mapping, "rebalance")
        return tracker, mapping

    if inspect.iscoroutinefunction(orig_send):  # kafka-python 3: a coroutine on the IO loop

        async def _send_offset_commit_request(self: Any, offsets: Any) -> Any:
            tracker, mapping = before(self, offsets)
            if not mapping:
                return await orig_send(self, offsets)
            try:
                result = await orig_send(self, offsets)
            except BaseException as exc:
                tracker.committed(mapping, False, repr(exc))
                raise
            tracker.committed(mapping, True)
            return result

    else:  # kafka-python 2: returns a Future

        def _send_offset_commit_request(self: Any, offsets: Any) -> Any:  # type: ignore[misc]
            tracker, mapping = before(self, offsets)
            future = orig_send(self, offsets)
            if mapping:
                future.add_callback(lambda _: tracker.committed(mapping, True))
                future.add_errback(lambda exc: tracker.committed(mapping, False, repr(exc)))
            return future

    for name, fn, orig in (
        ("_send_offset_commit_request", _send_offset_commit_request, orig_send),
        ("commit_offsets_sync", commit_offsets_sync, orig_sync),
        ("commit_offsets_async", commit_offsets_async, orig_async),
    ):
        setattr(fn, "__wrapped__", orig)  # noqa: B010 - functions of two shapes
        setattr(cls, name, fn)


# ---- transactions ------------------------------------------------------------------------------
def _group_trackers(group_metadata: Any) -> list[Tracker]:
    group = getattr(group_metadata, "group_id", group_metadata)
    with tracker_module._live_lock:
        live = list(tracker_module._live)
    return [t for t in live if t.group is not None and str(t.group) == str(group)]


def _patch_producer(cls: Any) -> None:
    orig_send_offsets = cls.send_offsets_to_transaction
    orig_commit = cls.commit_transaction
    orig_abort = cls.abort_transaction

    def send_offsets_to_transaction(self: Any, offsets: Any, group_metadata: Any) -> Any:
        claims = []
        for tracker in _group_trackers(group_metadata):
            mapping = {p: o for p, o in _data_offsets(tracker, offsets).items()}
            mapping = {p: o for p, o in mapping.items() if p in tracker.owned} or mapping
            if mapping:
                tracker.claim(mapping, "transaction")
                claims.append((tracker, mapping))
        result = orig_send_offsets(self, offsets, group_metadata)
        self.__dict__.setdefault("_riverbed_txn", []).extend(claims)
        return result

    def commit_transaction(self: Any) -> Any:
        claims = self.__dict__.pop("_riverbed_txn", [])
        try:
            result = orig_commit(self)
        except BaseException as exc:
            for tracker, mapping in claims:
                tracker.committed(mapping, False, f"commit_transaction failed: {exc!r}")
            raise
        for tracker, mapping in claims:
            tracker.committed(mapping, True)
        return result

    def abort_transaction(self: Any) -> Any:
        claims = self.__dict__.pop("_riverbed_txn", [])
        try:
            return orig_abort(self)
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
