"""The message value producers write to the data topic (evidence contract v1).

A value is a JSON object::

    {"producer": "w0-4711", "key": "k17", "seq": 42, "ts": 1795556457.02,
     "body": "…", "sha": "<hex sha256 of body>"}

``(producer, key, seq)`` identifies a message; ``seq`` starts at 0 per
(producer, key) and grows by one per new message (a retry keeps its seq).
``sha`` is the SHA-256 of the body's canonical bytes: the UTF-8 of a string
body, or compact sorted-key JSON of any other JSON body. A consumer that
recomputes it detects corruption.

Pure standard library: the workload image, Locust and the report all use it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

REQUIRED_FIELDS = ("producer", "key", "seq", "ts", "body", "sha")


class InvalidRecord(ValueError):
    """A record the consumer must refuse; ``reason`` is the contract's word for why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason  # "corrupt" | "schema" | "undecodable"
        self.detail = detail


@dataclass(frozen=True)
class Message:
    """One decoded message value."""

    producer: str
    """Id of the sending process, unique across processes and machines."""
    key: str
    """The message key; also the Kafka record key."""
    seq: int
    """Per-(producer, key) sequence number, from 0."""
    ts: float
    """Send time, Unix epoch seconds."""
    body: Any
    """The payload: a string or any JSON value."""
    sha: str
    """Hex SHA-256 of the body's canonical bytes."""


def body_bytes(body: Any) -> bytes:
    """Canonical bytes of a body, the input of its ``sha``."""
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def body_sha(body: Any) -> str:
    return hashlib.sha256(body_bytes(body)).hexdigest()


def encode(producer: str, key: str, seq: int, body: Any, ts: float | None = None) -> bytes:
    """The value bytes for one message."""
    value = {
        "producer": producer,
        "key": key,
        "seq": seq,
        "ts": time.time() if ts is None else ts,
        "body": body,
        "sha": body_sha(body),
    }
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def decode(raw: bytes | None) -> Message:
    """Decode and validate a value; raises :class:`InvalidRecord` with the reason."""
    if raw is None:
        raise InvalidRecord("undecodable", "null value")
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRecord("undecodable", f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidRecord("schema", f"value is a JSON {type(value).__name__}, not an object")
    missing = [f for f in REQUIRED_FIELDS if f not in value]
    if missing:
        raise InvalidRecord("schema", f"missing {', '.join(missing)}")
    if not isinstance(value["producer"], str) or not isinstance(value["key"], str):
        raise InvalidRecord("schema", "producer and key must be strings")
    if not isinstance(value["seq"], int) or isinstance(value["seq"], bool) or value["seq"] < 0:
        raise InvalidRecord("schema", f"seq must be a non-negative integer, got {value['seq']!r}")
    if not isinstance(value["ts"], int | float) or not isinstance(value["sha"], str):
        raise InvalidRecord("schema", "ts must be a number and sha a string")
    if body_sha(value["body"]) != value["sha"]:
        raise InvalidRecord("corrupt", "sha does not match body")
    return Message(
        value["producer"],
        value["key"],
        value["seq"],
        float(value["ts"]),
        value["body"],
        value["sha"],
    )


def producer_id(prefix: str = "p") -> str:
    """A producer id unique across processes and machines: prefix, host, pid, random."""
    host = socket.gethostname().split(".")[0][:20]
    return f"{prefix}-{host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
