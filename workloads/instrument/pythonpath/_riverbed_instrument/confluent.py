"""confluent-kafka: ``Consumer`` replaced by an instrumented subclass.

``confluent_kafka.Consumer`` is a C type whose methods cannot be patched, so
the module's name is rebound to a Python subclass right after
``confluent_kafka`` is imported: ``from confluent_kafka import Consumer`` then
gets the subclass. What is hooked:

- ``__init__``: the ``on_commit`` callback (the application's, if any, is
  chained): the outcome of every asynchronous commit and every auto-commit,
  served by librdkafka inside ``poll()`` / ``consume()`` / ``close()``;
- ``subscribe(on_assign=, on_revoke=, on_lost=)``: ownership, with the
  application's callbacks called as librdkafka would (``on_revoke`` for lost
  partitions when there is no ``on_lost``);
- ``poll`` / ``consume``: records handed out, and the application coming back;
- ``commit`` (sync and async, ``message=`` / ``offsets=`` / neither) and
  ``store_offsets``: what a commit covers is processed; a synchronous commit's
  outcome is its return value or exception;
- ``close``.

``DeserializingConsumer`` derives from the original C type and is not
instrumented.
"""

from __future__ import annotations

import sys
from typing import Any

from . import active_settings
from .kafka_python import _stop_reason
from .tracker import Tracker

CLIENT = "confluent-kafka"
_NAMES = ("message", "offsets", "asynchronous")


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


def patch(module: Any) -> None:
    base: Any = getattr(module, "Consumer", None)
    if base is None or getattr(base, "_riverbed_instrumented", False):
        return
    version = str(getattr(module, "__version__", "") or "")
    no_offset = getattr(getattr(module, "KafkaError", None), "_NO_OFFSET", -168)
    kafka_exception = getattr(module, "KafkaException", Exception)

    def error_code(err: Any) -> Any:
        try:
            return err.code()
        except Exception:
            return None

    def data_offsets(tracker: Tracker, partitions: Any) -> dict[int, int]:
        out = {}
        for tp in partitions or ():
            if tp.topic == tracker.topic and isinstance(tp.offset, int) and tp.offset >= 0:
                out[tp.partition] = tp.offset
        return out

    def record_commit(tracker: Tracker, err: Any, partitions: Any) -> None:
        if err is not None and error_code(err) == no_offset:
            return  # nothing was stored, nothing was committed
        offsets = data_offsets(tracker, partitions)
        if not offsets:
            return
        errors = [tp.error for tp in partitions if tp.topic == tracker.topic and tp.error]
        ok = err is None and not errors
        if tracker.trust_commits:
            tracker.cover(offsets)
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
            self._riverbed_conf = {
                "group": conf.get("group.id"),
                "client_id": conf.get("client.id", "rdkafka"),
                "auto_commit": _truthy(conf.get("enable.auto.commit"), True),
                "auto_store": _truthy(conf.get("enable.auto.offset.store"), True),
            }
            self._riverbed_stored: dict[int, int] = {}

        # ---- subscription and ownership ----------------------------------------------------
        def subscribe(self, topics: Any, *args: Any, **kwargs: Any) -> Any:
            settings = active_settings()
            callbacks = dict(zip(("on_assign", "on_revoke", "on_lost"), args))
            callbacks.update(kwargs)
            if not _subscribes(settings.topic, topics) or not self._riverbed_conf["group"]:
                return base.subscribe(self, topics, *args, **kwargs)
            tracker = self._riverbed_tracker
            if tracker is None:
                c = self._riverbed_conf
                tracker = Tracker(
                    settings,
                    CLIENT,
                    version,
                    c["client_id"],
                    c["group"],
                    c["auto_commit"],
                )
            wrapped = _callbacks(tracker, callbacks)
            result = base.subscribe(self, topics, **wrapped)
            self._riverbed_tracker = tracker
            self._riverbed_holder.tracker = tracker
            tracker.start()
            return result

        # ---- records ------------------------------------------------------------------------
        def poll(self, *args: Any, **kwargs: Any) -> Any:
            tracker = self._riverbed_tracker
            if tracker is None:
                return base.poll(self, *args, **kwargs)
            tracker.came_back()
            msg = base.poll(self, *args, **kwargs)
            if msg is not None and msg.error() is None and msg.topic() == tracker.topic:
                tracker.hand_one(msg.partition(), msg.offset(), msg.value())
            return msg

        def consume(self, *args: Any, **kwargs: Any) -> Any:
            tracker = self._riverbed_tracker
            if tracker is None:
                return base.consume(self, *args, **kwargs)
            tracker.came_back()
            msgs = base.consume(self, *args, **kwargs)
            if msgs:
                topic = tracker.topic
                by_partition: dict[int, list] = {}
                for m in msgs:
                    if m.error() is None and m.topic() == topic:
                        by_partition.setdefault(m.partition(), []).append((m.offset(), m.value()))
                for p, recs in by_partition.items():
                    tracker.hand(p, recs)
            return msgs

        # ---- commits ------------------------------------------------------------------------
        def _riverbed_intended(self, params: dict[str, Any]) -> dict[int, int] | None:
            """The offsets a commit or store names; None: the current positions."""
            tracker = self._riverbed_tracker
            assert tracker is not None
            message, offsets = params.get("message"), params.get("offsets")
            if message is not None:
                if message.topic() != tracker.topic:
                    return {}
                return {message.partition(): message.offset() + 1}
            if offsets is not None:
                return data_offsets(tracker, offsets)
            return None

        def commit(self, *args: Any, **kwargs: Any) -> Any:
            tracker = self._riverbed_tracker
            if tracker is None:
                return base.commit(self, *args, **kwargs)
            params = dict(zip(_NAMES, args))
            params.update(kwargs)
            intended = self._riverbed_intended(params)
            if intended is None:
                # Neither message nor offsets: librdkafka commits the offset store,
                # which holds the positions unless the application stores offsets.
                intended = (
                    tracker.in_hand()
                    if self._riverbed_conf["auto_store"]
                    else dict(self._riverbed_stored)
                )
            if tracker.trust_commits:
                tracker.cover(intended)
            if _truthy(params.get("asynchronous"), True):
                return base.commit(self, *args, **kwargs)  # outcome: on_commit
            try:
                result = base.commit(self, *args, **kwargs)
            except kafka_exception as exc:
                err = exc.args[0] if exc.args else None
                if error_code(err) != no_offset:
                    tracker.committed(intended, False, str(exc))
                raise
            done = data_offsets(tracker, result)
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
                    if tracker.trust_commits:
                        tracker.cover(intended)  # storing an offset says: done up to here
                    self._riverbed_stored.update(intended)
            return base.store_offsets(self, *args, **kwargs)

        # ---- the end ------------------------------------------------------------------------
        def close(self, *args: Any, **kwargs: Any) -> Any:
            tracker = self._riverbed_tracker
            if tracker is None or tracker.stopped:
                return base.close(self, *args, **kwargs)
            failing = sys.exc_info()[1]
            if failing is not None:
                tracker.trust_commits = False
            try:
                result = base.close(self, *args, **kwargs)
            except BaseException as exc:
                tracker.stop("error", f"close() failed: {exc!r}")
                raise
            tracker.stop(*_stop_reason(failing))
            return result

        def unsubscribe(self, *args: Any, **kwargs: Any) -> Any:
            tracker = self._riverbed_tracker
            if tracker is not None:
                tracker.came_back()
            return base.unsubscribe(self, *args, **kwargs)

    Consumer.__name__ = Consumer.__qualname__ = "Consumer"
    Consumer.__module__ = getattr(module, "__name__", "confluent_kafka")
    module.Consumer = Consumer


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

    def assign(consumer: Any, partitions: Any) -> None:
        tracker.assigned(parts(partitions), None, member_id(consumer))
        if on_assign is not None:
            on_assign(consumer, partitions)

    def revoke(consumer: Any, partitions: Any) -> None:
        try:
            if on_revoke is not None:
                on_revoke(consumer, partitions)
        finally:
            tracker.revoked("revoked", parts(partitions), None)

    def lost(consumer: Any, partitions: Any) -> None:
        try:
            if on_lost is not None:
                on_lost(consumer, partitions)
            elif on_revoke is not None:
                on_revoke(consumer, partitions)
        finally:
            tracker.revoked("lost", parts(partitions), None)

    return {"on_assign": assign, "on_revoke": revoke, "on_lost": lost}
