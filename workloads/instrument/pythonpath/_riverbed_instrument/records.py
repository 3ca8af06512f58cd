"""What a record handed to the application was, in riverbed's message contract.

A value is identified by its ``producer``, ``key`` and ``seq`` (see
``workloads/message.py``). Values arrive as bytes (confluent-kafka, kafka-python
without a deserializer) or already deserialized by the application's own
``value_deserializer`` (a dict, a str, or an object with attributes). The
instrumentation does not judge the body: a corrupt body is the application's
to notice, and the report compares what was processed with the drained log.
"""

from __future__ import annotations

import json
import re
from typing import Any

REQUIRED_FIELDS = ("producer", "key", "seq", "ts", "body", "sha")
_decode = json.JSONDecoder().decode

#: The exact shape riverbed's producers write (``workloads/message.py`` ``encode``):
#: identity first, sha last. A value of this shape is identified without parsing
#: its body (the hot path of a consumer that polls one record at a time); any
#: other value is parsed in full.
_CANONICAL = re.compile(
    r'\{"producer":"([^"\\]*)","key":"([^"\\]*)","seq":(0|[1-9][0-9]*),'
    r'"ts":-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?,'
    r'"body":(?:["\[{0-9-]|true|false|null).*,"sha":"[^"\\]*"\}\Z',
    re.DOTALL,
)


class NotAMessage(ValueError):
    """A value that is not a riverbed message; ``reason`` is ``undecodable`` or ``schema``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def identify(value: Any) -> tuple[str, str, int]:
    """``(producer, key, seq)`` of a message value; raises :class:`NotAMessage`."""
    if value is None:
        raise NotAMessage("undecodable", "null value")
    if isinstance(value, (bytes, bytearray, memoryview, str)):
        try:
            if isinstance(value, str):
                value = _decode(value)
            else:
                raw = bytes(value)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    value = json.loads(raw)  # UTF-16/32 JSON, as json.loads detects it
                else:
                    fast = _CANONICAL.match(text)
                    if fast is not None:
                        return fast.group(1), fast.group(2), int(fast.group(3))
                    value = _decode(text)
        except (UnicodeDecodeError, ValueError) as exc:
            raise NotAMessage("undecodable", f"not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise NotAMessage("schema", f"value is a JSON {type(value).__name__}, not an object")
    elif not isinstance(value, dict):
        # Deserialized by the application into an object: read its attributes.
        fields = {f: getattr(value, f) for f in REQUIRED_FIELDS if hasattr(value, f)}
        if not fields:
            raise NotAMessage("undecodable", f"a {type(value).__name__} without message fields")
        value = fields
    missing = [f for f in REQUIRED_FIELDS if f not in value]
    if missing:
        raise NotAMessage("schema", f"missing {', '.join(missing)}")
    producer, key, seq = value["producer"], value["key"], value["seq"]
    if not isinstance(producer, str) or not isinstance(key, str):
        raise NotAMessage("schema", "producer and key must be strings")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise NotAMessage("schema", f"seq must be a non-negative integer, got {seq!r}")
    ts = value["ts"]
    if not isinstance(ts, (int, float)) or not isinstance(value["sha"], str):
        raise NotAMessage("schema", "ts must be a number and sha a string")
    return producer, key, seq
