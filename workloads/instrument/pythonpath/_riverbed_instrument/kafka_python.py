"""kafka-python: ``KafkaConsumer`` and its coordinator, patched in place.

What is hooked, and why there:

- ``KafkaConsumer.__init__`` (topics given to the constructor) and ``subscribe``:
  a consumer that subscribes to the data topic gets a :class:`Tracker` and a
  rebalance listener that records ``assigned`` / ``revoked`` / ``lost`` and calls
  the application's own listener (sync or async) in the order kafka-python calls it;
- ``poll`` and ``__next__`` (iteration): records handed out, and the application
  coming back for more;
- ``ConsumerCoordinator._send_offset_commit_request``: every commit request —
  ``commit()``, ``commit_async()``, the auto-commit inside ``poll()``, the commit
  before a rebalance and the one in ``close()`` — with its offsets and outcome;
- ``close``, ``__exit__`` and ``unsubscribe``: the end of the member.
"""

from __future__ import annotations

import inspect
import re
import sys
from typing import Any, Iterable

from . import active_settings as current_settings
from .tracker import Tracker

CLIENT = "kafka-python"


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
    """The consumer's tracker, made on first use (None for a consumer without a group)."""
    tracker = _tracker(consumer)
    if tracker is not None:
        return tracker
    config = getattr(consumer, "config", {})
    group = config.get("group_id")
    if group is None:
        return None  # not a group member: nothing riverbed's checks could judge
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


def _patch_consumer(cls: Any, version: str) -> None:
    orig_init = cls.__init__
    orig_subscribe = cls.subscribe
    orig_poll = cls.poll
    orig_next = cls.__next__
    orig_close = cls.close
    orig_unsubscribe = cls.unsubscribe
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
        if not _subscribes(current_settings().topic, topics, pattern):
            return orig_subscribe(self, topics=topics, pattern=pattern, listener=listener)
        result = orig_subscribe(self, topics=topics, pattern=pattern, listener=listener)
        tracker = _track(self, version)
        if tracker is not None:
            _set_listener(self, tracker)
            tracker.start()
        return result

    def poll(
        self: Any, timeout_ms: Any = 0, max_records: Any = None, update_offsets: bool = True
    ) -> Any:
        tracker = self.__dict__.get("_riverbed_tracker")
        if tracker is None:
            return orig_poll(self, timeout_ms, max_records, update_offsets)
        # Coming back for more: what was handed out is done. (Iteration polls with
        # update_offsets=False at each batch boundary: the buffered records go out.)
        tracker.came_back()
        result = orig_poll(self, timeout_ms, max_records, update_offsets)
        if update_offsets and result:
            topic = tracker.topic
            for tp, records in result.items():
                if tp.topic == topic and records:
                    tracker.hand(tp.partition, [(r.offset, r.value) for r in records])
        return result

    def __next__(self: Any) -> Any:
        tracker = self.__dict__.get("_riverbed_tracker")
        if tracker is None:
            return orig_next(self)
        tracker.came_back(write=False)
        try:
            record = orig_next(self)
        except BaseException:
            tracker.flush()
            raise
        if record.topic == tracker.topic:
            tracker.hand_one(record.partition, record.offset, record.value)
        return record

    def close(self: Any, *args: Any, **kwargs: Any) -> Any:
        tracker = self.__dict__.get("_riverbed_tracker")
        if tracker is None or tracker.stopped:
            return orig_close(self, *args, **kwargs)
        failing = self.__dict__.pop("_riverbed_exit_exc", None) or sys.exc_info()[1]
        if failing is not None:
            # Closing while an exception propagates: the records in hand were not
            # finished, whatever close() commits for them. They stay "held".
            tracker.trust_commits = False
        try:
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
        if tracker is not None:
            tracker.came_back()
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
        ("close", close),
        ("__exit__", __exit__),
        ("unsubscribe", unsubscribe),
    )
    for name, fn in wrappers:
        original = getattr(cls, name, None)
        if original is None:
            continue
        fn.__doc__ = original.__doc__
        fn.__wrapped__ = original
        setattr(cls, name, fn)


def _stop_reason(failing: Any) -> tuple:
    if failing is None:
        return ("close", None)
    what = type(failing).__name__
    if isinstance(failing, (SystemExit, KeyboardInterrupt)):
        return ("close", f"closed while {what} propagated")
    return ("error", f"closed while {what} propagated: {failing!r}"[:500])


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


def _patch_coordinator(cls: Any) -> None:
    orig_send = cls._send_offset_commit_request

    def before(self: Any, offsets: Any) -> tuple:
        tracker = self.__dict__.get("_riverbed_tracker")
        if tracker is None or tracker.stopped:
            return None, {}
        mapping = _data_offsets(tracker, offsets)
        if mapping and tracker.trust_commits:
            tracker.cover(mapping)
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

    _send_offset_commit_request.__wrapped__ = orig_send  # type: ignore[attr-defined]
    cls._send_offset_commit_request = _send_offset_commit_request
