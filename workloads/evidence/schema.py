"""Evidence contract, version 1: the records, their fields, and the run layout.

Every evidence file is JSON Lines; every line is an object with ``"v": 1`` and a
``"type"``. Times are Unix epoch seconds (float, wall clock). This module is the
one definition of every record: each is a frozen dataclass with a docstring per
field, and everything else is derived from them — the fields a reader requires
(:data:`REQUIRED`), the record types each file holds (:data:`FILE_TYPES`), the
columns and types of the report's frames (``reports/evidence.py``) and the
field tables of docs/evidence.md (``workloads/evidence/fields.py``).

Writers build a record and hand ``record.to_dict()`` to a sink::

    sink.write(Send("p-1", "k7", 42, "ok", 2, 1183, t_send, t_ack, None).to_dict())

A field without a default is part of the contract: always written (``null``
when its type allows it), and a reader refuses a line that lacks it. A field
created with :func:`optional` is an extension (docs/evidence.md says which):
written only when it has a value, ignored by readers that do not know it.

Standard library only, and importable by Python 3.8: riverbed's consumer
instrumentation (``workloads/instrument/pythonpath``) loads this very file in
the user's interpreter, where riverbed is not installed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar, List, Mapping

VERSION = 1

SEND_STATUSES = ("ok", "fail", "unknown")
STOP_REASONS = ("sigterm", "close", "error")
INVALID_REASONS = ("corrupt", "schema", "undecodable")
#: How a service's output names its input (``output.identity``).
OUTPUT_IDENTITIES = ("value", "header")

#: ``[offset, producer, key, seq]``: one record a consumer processed or held (a JSON
#: array; producer, key and seq are null for a value that is not a riverbed message).
RecordRef = List[Any]

_OPTIONAL = "riverbed.optional"


def optional(default: Any = None) -> Any:
    """An extension field: written only when it is not None (docs/evidence.md)."""
    return dataclasses.field(default=default, metadata={_OPTIONAL: True})


def is_optional(field: dataclasses.Field[Any]) -> bool:
    """Whether ``field`` is an extension field (else a required field of the contract)."""
    return bool(field.metadata.get(_OPTIONAL))


class EvidenceRecord:
    """What every evidence record has: its ``type``, the file it belongs in, ``to_dict``."""

    TYPE: ClassVar[str]
    """The record's ``"type"``."""
    FILE: ClassVar[str]
    """The evidence file (kind) it belongs in: ``acks``, ``consumed``, ``group``, …"""
    _layout: ClassVar[tuple[tuple[str, bool], ...]] = ()
    """``(field name, is an extension)`` in field order (set below, once per class)."""

    def to_dict(self, v: bool = False) -> dict[str, Any]:
        """The JSON object of the line, ``"type"`` first (``"v"`` before it when asked;
        a sink adds it otherwise). Extension fields without a value are left out."""
        raise NotImplementedError  # compiled per record class by _compile_to_dict


def _compile_init(cls: type[EvidenceRecord]) -> None:
    """Give ``cls`` an ``__init__`` that stores its fields straight into the instance.

    The same signature and ``__post_init__`` as the dataclass's own, without the
    ``object.__setattr__`` call per field a frozen dataclass pays: a ``send``
    record is built per message on the load path. The record stays frozen:
    assigning a field afterwards raises ``FrozenInstanceError``.
    """
    params, stores = [], []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        elif f.default is None:
            params.append(f"{f.name}=None")
        else:  # pragma: no cover - every extension field defaults to None
            raise TypeError(f"{cls.__name__}.{f.name}: only None defaults are compiled")
        stores.append(f"    d[{f.name!r}] = {f.name}")
    lines = [f"def __init__(self, {', '.join(params)}):", "    d = self.__dict__", *stores]
    if hasattr(cls, "__post_init__"):
        lines.append("    self.__post_init__()")
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), namespace)  # noqa: S102 - code built from the class's own field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__name__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]


def _compile_to_dict(cls: type[EvidenceRecord]) -> None:
    """Give ``cls`` its ``_layout`` and a ``to_dict`` written out for its fields.

    Evidence is written per message on the load path: a dict display with the
    fields named costs a third of a loop over them.
    """
    cls._layout = tuple((f.name, is_optional(f)) for f in dataclasses.fields(cls))  # type: ignore[arg-type]
    required = ", ".join(f"{n!r}: self.{n}" for n, ext in cls._layout if not ext)
    lines = [
        "def to_dict(self, v=False):",
        f"    out = {{'v': {VERSION}, 'type': {cls.TYPE!r}, {required}}} if v else "
        f"{{'type': {cls.TYPE!r}, {required}}}",
    ]
    for name, extension in cls._layout:
        if extension:
            lines += [f"    if self.{name} is not None:", f"        out[{name!r}] = self.{name}"]
    lines.append("    return out")
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), namespace)  # noqa: S102 - code built from the class's own field names
    to_dict = namespace["to_dict"]
    to_dict.__doc__ = EvidenceRecord.to_dict.__doc__
    to_dict.__qualname__ = f"{cls.__name__}.to_dict"
    cls.to_dict = to_dict  # type: ignore[method-assign]


# ---- evidence/acks ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Send(EvidenceRecord):
    """The outcome of one send attempt of one message (``evidence/acks``)."""

    TYPE = "send"
    FILE = "acks"

    producer: str
    """The sending process's id (the message's ``producer``)."""
    key: str
    """The message key (also the Kafka record key)."""
    seq: int
    """The message's sequence number per (producer, key), from 0."""
    status: str
    """``ok`` (acknowledged), ``fail`` (definitely not written) or ``unknown`` (timeout,
    lost connection: it may or may not be in the log)."""
    partition: int | None
    """Where the broker acknowledged it (``ok`` only, else null)."""
    offset: int | None
    """Its offset in that partition (``ok`` only, else null)."""
    t_send: float
    """When the send began."""
    t_ack: float
    """When the outcome was known."""
    error: str | None
    """Why it is not ok, as ``"<ExceptionType>: <message>"`` (null when ok)."""

    def __post_init__(self) -> None:
        # The contract's rules for an outcome, whoever records it: only an ok send has a
        # position, and only a send that is not ok has an error (its status at least).
        if self.status == "ok":
            if self.error is not None:
                object.__setattr__(self, "error", None)
        else:
            if self.partition is not None or self.offset is not None:
                object.__setattr__(self, "partition", None)
                object.__setattr__(self, "offset", None)
            if not self.error:
                object.__setattr__(self, "error", self.status)


def error_text(error: BaseException | str | None) -> str | None:
    """``"<ExceptionType>: <message>"`` as a ``send`` or ``committed`` record's ``error``.

    The type alone when the exception has no message; kafka-python's errors whose
    text already starts with their class name are kept as they are.
    """
    if error is None or isinstance(error, str):
        return error
    name = type(error).__name__
    text = str(error)
    if not text:
        return name
    return text if text.startswith(name) else f"{name}: {text}"


# ---- evidence/consumed ------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Start(EvidenceRecord):
    """A consumer incarnation started (the first line of its file)."""

    TYPE = "start"
    FILE = "consumed"

    member: str
    """The incarnation's identity (its file's name): ``<replica>-<incarnation>`` for the
    reference consumer, ``<replica>.<incarnation>`` for an instrumented one."""
    replica: str
    """The replica's stable name across incarnations (``consumer-1``)."""
    pid: int
    """Its process id."""
    host: str
    """The host (pod) it ran on."""
    t: float
    """When it started."""
    commit_mode: str | None = optional()
    """``after-process``, ``before-process`` or ``auto`` (reference); ``auto`` or
    ``manual`` (instrumented)."""
    assignor: str | None = optional()
    """The partition assignor it asked for."""
    group: str | None = optional()
    """The consumer group."""
    topic: str | None = optional()
    """The data topic."""
    processing_ms: str | None = optional()
    """The simulated processing time per record (``5``, ``uniform:1-10``, ``exp:5``)."""
    static_member: bool | None = optional()
    """Whether it joined with ``group.instance.id`` = its replica."""
    client: str | None = optional()
    """The client library: ``kafka-python`` or ``confluent-kafka`` (reference and
    instrumented), ``aiokafka`` or ``kafka-clients`` (a JVM's, through riverbed's Java
    agent; instrumented)."""
    group_protocol: str | None = optional()
    """``classic`` or ``consumer`` (KIP-848)."""
    client_version: str | None = optional()
    """The client library's version (confluent-kafka: ``<python package>/<librdkafka>``)."""
    client_id: str | None = optional()
    """The Kafka ``client.id`` the application gave its consumer (instrumented)."""
    pgid: int | None = optional()
    """The replica's process group (instrumented)."""
    incarnation: int | None = optional()
    """Which start of the replica this is: 1, 2, … (instrumented)."""
    instrumented: bool | None = optional()
    """True when riverbed's instrumentation wrote this file, around the user's consumer."""
    flush_ms: float | None = optional()
    """Instrumented: hand-outs and finished records may reach the file up to this late
    (never after a commit that follows them): a SIGKILL can lose the application's calls
    of its last ``flush_ms``."""
    background_commits: bool | None = optional()
    """Instrumented: the client commits in its own thread, with no call of the
    application (librdkafka's auto-commit); such commits have no ``committing`` line."""
    auto_offset_store: bool | None = optional()
    """Instrumented: the client stores each record's offset when it hands the record out
    and commits the store in the background, so every hand-out is a claim."""


@dataclasses.dataclass(frozen=True)
class Stop(EvidenceRecord):
    """A consumer incarnation stopped (a SIGKILLed one writes no such line)."""

    TYPE = "stop"
    FILE = "consumed"

    member: str
    """The incarnation."""
    reason: str
    """``sigterm`` or ``close`` (graceful), or ``error``."""
    t: float
    """When it stopped."""
    detail: str | None = optional()
    """Why, in words (instrumented)."""
    held: Mapping[str, list[RecordRef]] | None = optional()
    """Records handed to the application that it never came back from, per partition
    (instrumented): not known to be processed."""


@dataclasses.dataclass(frozen=True)
class OwnershipChange(EvidenceRecord):
    """Partitions a member was given or gave up, as its rebalance callback reported them."""

    FILE = "consumed"

    member: str
    """The incarnation."""
    generation: int | None
    """The group generation (classic) or member epoch (consumer protocol) the callback
    ran in; null when the client does not expose it."""
    partitions: list[int]
    """The partitions, in increasing order."""
    t: float
    """When the callback ran."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "partitions", sorted(self.partitions))


@dataclasses.dataclass(frozen=True)
class Assigned(OwnershipChange):
    """Partitions assigned to the member (eager: its full new set; incremental: those added)."""

    TYPE = "assigned"

    member_id: str | None = optional()
    """The coordinator's id for the member (the key of ``group.jsonl`` ``members``)."""
    client_id: str | None = optional()
    """The member's Kafka ``client.id``."""


@dataclasses.dataclass(frozen=True)
class Revoked(OwnershipChange):
    """Partitions the member gave up in a rebalance."""

    TYPE = "revoked"


@dataclasses.dataclass(frozen=True)
class Lost(OwnershipChange):
    """Partitions taken from the member without a revocation (session expired, fenced,
    poll interval exceeded)."""

    TYPE = "lost"


@dataclasses.dataclass(frozen=True)
class Processed(EvidenceRecord):
    """One processed batch of one partition, written before its offsets are committed."""

    TYPE = "processed"
    FILE = "consumed"

    member: str
    """The incarnation."""
    partition: int
    """The partition."""
    records: list[RecordRef]
    """``[offset, producer, key, seq]`` of each valid record processed, in offset order."""
    t: float
    """When the batch was processed."""


@dataclasses.dataclass(frozen=True)
class Handed(EvidenceRecord):
    """Records the application was handed (instrumented): ``poll()`` or ``consume()``
    returned them, or iteration yielded them. Handed is not processed."""

    TYPE = "handed"
    FILE = "consumed"

    member: str
    """The incarnation."""
    partition: int
    """The partition."""
    first: int
    """The first offset handed."""
    last: int
    """The last offset handed (every record from ``first`` to ``last``)."""
    t: float
    """When the first of them was handed."""


@dataclasses.dataclass(frozen=True)
class Finished(EvidenceRecord):
    """Records the application finished (instrumented): the consumer's ``processed``,
    by offset (the report reads each record's identity from the drained log)."""

    TYPE = "finished"
    FILE = "consumed"

    member: str
    """The incarnation."""
    partition: int
    """The partition."""
    first: int
    """The first offset finished."""
    last: int
    """The last offset finished (every record handed from ``first`` to ``last``)."""
    how: str
    """``came-back``: the application came back for more (its next poll, consume or
    iteration step) while the partition was not paused; ``marked``: it marked them
    processed (riverbed's processed marker)."""
    t: float
    """When it came back, or marked the last of them."""
    t_handed: float | None = optional()
    """When the first of them was handed."""


@dataclasses.dataclass(frozen=True)
class Committing(EvidenceRecord):
    """A commit about to be made (instrumented), written before its request leaves the
    process: a claim that everything below these offsets is done. A claim is not
    processing; its outcome, when the client reports one, is a later ``committed``."""

    TYPE = "committing"
    FILE = "consumed"

    member: str
    """The incarnation."""
    offsets: Mapping[str, int]
    """Partition (as a string) to the next offset to read, in partition order."""
    how: str
    """``commit`` (synchronous), ``commit-async``, ``store`` (an offset store the client
    commits later), ``auto`` (the client's auto-commit), ``close`` (the commit ``close()``
    makes), ``rebalance`` (the client's commit before a rebalance) or ``transaction``
    (offsets sent to a producer's transaction; committed with it)."""
    t: float
    """When the commit was asked for."""

    def __post_init__(self) -> None:
        offsets = {int(p): o for p, o in self.offsets.items()}
        object.__setattr__(self, "offsets", {str(p): offsets[p] for p in sorted(offsets)})


@dataclasses.dataclass(frozen=True)
class Seek(EvidenceRecord):
    """The application moved its position on a partition (instrumented): records in hand
    at or past ``offset`` go back unfinished; it will be handed them again."""

    TYPE = "seek"
    FILE = "consumed"

    member: str
    """The incarnation."""
    partition: int
    """The partition."""
    offset: int | None
    """The new position; null for a seek to the beginning or the end (every record in
    hand of the partition goes back)."""
    t: float
    """When it sought."""
    whence: str | None = optional()
    """``beginning`` or ``end`` for those seeks."""


@dataclasses.dataclass(frozen=True)
class PauseChange(EvidenceRecord):
    """Partitions the application paused or resumed (instrumented)."""

    FILE = "consumed"

    member: str
    """The incarnation."""
    partitions: list[int]
    """The partitions, in increasing order."""
    t: float
    """When."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "partitions", sorted(self.partitions))


@dataclasses.dataclass(frozen=True)
class Paused(PauseChange):
    """Partitions paused: coming back for more does not finish their records in hand."""

    TYPE = "paused"


@dataclasses.dataclass(frozen=True)
class Resumed(PauseChange):
    """Partitions resumed."""

    TYPE = "resumed"


@dataclasses.dataclass(frozen=True)
class Committed(EvidenceRecord):
    """One commit attempt, with its outcome."""

    TYPE = "committed"
    FILE = "consumed"

    member: str
    """The incarnation."""
    offsets: Mapping[str, int]
    """Partition (as a string) to the next offset to read, in partition order."""
    ok: bool
    """Whether the coordinator accepted the commit."""
    t: float
    """When the outcome was known."""
    error: str | None = optional()
    """Why the commit failed (``CommitFailedError(…)``, ``STALE_MEMBER_EPOCH: …``)."""

    def __post_init__(self) -> None:
        offsets = {int(p): o for p, o in self.offsets.items()}
        object.__setattr__(self, "offsets", {str(p): offsets[p] for p in sorted(offsets)})


@dataclasses.dataclass(frozen=True)
class Invalid(EvidenceRecord):
    """A record the consumer refused (routed aside; it does not appear in ``processed``)."""

    TYPE = "invalid"
    FILE = "consumed"

    member: str
    """The incarnation."""
    partition: int
    """The partition."""
    offset: int
    """The refused record's offset."""
    reason: str
    """``corrupt`` (sha mismatch), ``schema`` (contract fields missing or mistyped) or
    ``undecodable`` (not JSON, not UTF-8)."""
    t: float
    """When it was refused."""


@dataclasses.dataclass(frozen=True)
class Fenced(EvidenceRecord):
    """The group coordinator fenced the member, as its client reported it."""

    TYPE = "fenced"
    FILE = "consumed"

    member: str
    """The incarnation."""
    error: str
    """The client's error (``FENCED_INSTANCE_ID``, ``UNRELEASED_INSTANCE_ID``,
    ``FENCED_MEMBER_EPOCH``, …)."""
    t: float
    """When the client reported it."""
    fatal: bool | None = optional()
    """True when the member gave up (a static member whose instance id another member
    holds) and then stops with ``error``; false when it rejoins."""
    member_id: str | None = optional()
    """The coordinator's id the member had."""
    generation: int | None = optional()
    """The generation or member epoch it had."""


# ---- evidence/group.jsonl ---------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Group(EvidenceRecord):
    """One snapshot of the consumer group, as the broker describes it (the monitor)."""

    TYPE = "group"
    FILE = "group"

    t: float
    """When the snapshot was taken."""
    state: str
    """The group's state: ``Stable``, ``PreparingRebalance``, ``CompletingRebalance``,
    ``Assigning``, ``Reconciling``, ``Empty``, ``Dead``, ``Unknown``."""
    generation: int | None
    """The group generation, when the description carries it (else null)."""
    members: Mapping[str, list[int]]
    """Member id to the data topic's partitions assigned to it (current assignments)."""
    committed: Mapping[str, int]
    """Partition (as a string) to the group's committed offset (absent: nothing committed)."""
    end_offsets: Mapping[str, int]
    """Partition (as a string) to its end offset (high watermark)."""
    partitions: int
    """The data topic's partition count."""
    member_info: Mapping[str, Mapping[str, str | None]] | None = optional()
    """Member id to ``{"client_id", "host", "instance_id"}``."""
    group_type: str | None = optional()
    """``classic`` or ``consumer`` (KIP-848)."""
    target: Mapping[str, list[int]] | None = optional()
    """Consumer protocol: member id to its target assignment."""
    assignor: str | None = optional()
    """Consumer protocol: the group's broker-side assignor (``uniform``, ``range``)."""
    state_derived: bool | None = optional()
    """True when the monitor derived ``state`` from the assignments (librdkafka reports
    *Assigning* and *Reconciling* as unknown)."""


# ---- evidence/faults.jsonl --------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Fault(EvidenceRecord):
    """One activity of a Chaos Toolkit experiment, as the chaos control saw it."""

    TYPE = "fault"
    FILE = "faults"

    experiment: str
    """The experiment's title."""
    activity: str
    """The activity's name."""
    kind: str
    """``action`` or ``probe``."""
    t_start: float
    """When the activity started."""
    t_end: float
    """When it ended."""
    status: str
    """``succeeded`` or ``failed``."""
    output: Any
    """What the activity returned (e.g. the replicas a kill hit)."""
    landed: bool | None = optional()
    """Whether an action had an effect (a kill that matched at least one replica).
    Absent: a succeeded action with a non-empty ``output`` counts as landed."""
    phase: str | None = optional()
    """``steady-state-before``, ``method``, ``steady-state-after`` or ``rollback``."""
    func: str | None = optional()
    """The Python function the activity called (``module.function``)."""
    error: str | None = optional()
    """Why a failed activity failed."""


# ---- evidence/log.jsonl -----------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LogRecord(EvidenceRecord):
    """One record of the data topic, as the final drain read it."""

    TYPE = "record"
    FILE = "log"

    partition: int
    """Its partition."""
    offset: int
    """Its offset."""
    producer: str | None
    """The message's producer (null when the value does not decode)."""
    key: str | None
    """The message's key (null when the value does not decode)."""
    seq: int | None
    """The message's seq (null when the value does not decode)."""
    sha_ok: bool
    """The value decodes and its ``sha`` matches its body."""
    reason: str | None = optional()
    """Why not: ``corrupt``, ``schema`` or ``undecodable``."""
    t_append: float | None = optional()
    """When the partition leader appended the record (its log append time, in seconds):
    only on a topic that stamps records so (``message.timestamp.type=LogAppendTime``)."""


# ---- evidence/output.jsonl --------------------------------------------------------------------
#: ``output.timestamp_type``, in Kafka's names (the topic config ``message.timestamp.type``):
#: the producer set the timestamp, or the broker did when it appended the record.
CREATE_TIME = "CreateTime"
LOG_APPEND_TIME = "LogAppendTime"
#: Kafka's timestamp type codes (a record batch's attribute bit) by name.
TIMESTAMP_TYPES = {0: CREATE_TIME, 1: LOG_APPEND_TIME}


@dataclasses.dataclass(frozen=True)
class Output(EvidenceRecord):
    """One record of the service's output topic, as the output drain read it."""

    TYPE = "output"
    FILE = "output"

    partition: int
    """The output's partition."""
    offset: int
    """The output's offset."""
    producer: str | None
    """The producer of the input it answers (null: it names no input)."""
    key: str | None
    """The key of the input it answers."""
    seq: int | None
    """The seq of the input it answers."""
    sha_ok: bool | None
    """Its ``body`` matches its ``sha`` (true), does not (false), or there is nothing to
    check (null)."""
    identity: str | None
    """Where the input's identity came from: ``value`` or ``header`` (null: nowhere)."""
    t: float | None
    """The record's timestamp, in seconds (null when it has none)."""
    reason: str | None = optional()
    """Why it names no input."""
    timestamp_type: str | None = optional()
    """Who set ``t``: ``LogAppendTime`` (the broker, when it appended the output) or
    ``CreateTime`` (the service's producer: any time it chose, e.g. its input's).
    Absent: unknown (runs before it was recorded), read as ``CreateTime``."""


#: Every record type, by the file it belongs in.
RECORD_TYPES: tuple[type[EvidenceRecord], ...] = (
    Send,
    Start,
    Stop,
    Assigned,
    Revoked,
    Lost,
    Processed,
    Handed,
    Finished,
    Committing,
    Committed,
    Seek,
    Paused,
    Resumed,
    Invalid,
    Fenced,
    Group,
    Fault,
    LogRecord,
    Output,
)
for _cls in RECORD_TYPES:
    _compile_init(_cls)
    _compile_to_dict(_cls)

#: The record class of each ``"type"``.
BY_TYPE: dict[str, type[EvidenceRecord]] = {cls.TYPE: cls for cls in RECORD_TYPES}

#: Required fields per record type (beyond ``v`` and ``type``).
REQUIRED: dict[str, tuple[str, ...]] = {
    cls.TYPE: tuple(name for name, extension in cls._layout if not extension)
    for cls in RECORD_TYPES
}

#: Which record types may appear in which evidence file.
FILE_TYPES: dict[str, frozenset[str]] = {}
for _cls in RECORD_TYPES:
    FILE_TYPES[_cls.FILE] = FILE_TYPES.get(_cls.FILE, frozenset()) | {_cls.TYPE}
del _cls

CONSUMER_TYPES = FILE_TYPES["consumed"]


def records_of(file_kind: str) -> list[type[EvidenceRecord]]:
    """The record classes an evidence file of ``file_kind`` holds."""
    return [cls for cls in RECORD_TYPES if file_kind == cls.FILE]


class EvidenceError(ValueError):
    """Evidence this riverbed cannot read: unknown version or type, missing fields."""


def check(record: Any, where: str = "", allowed: frozenset[str] | None = None) -> dict[str, Any]:
    """Validate one decoded evidence line; returns it or raises :class:`EvidenceError`."""
    if not isinstance(record, dict):
        raise EvidenceError(f"{where}: an evidence line must be a JSON object")
    v = record.get("v")
    if v != VERSION:
        raise EvidenceError(
            f"{where}: evidence version {v!r} is not supported (this riverbed reads v{VERSION})"
        )
    kind = record.get("type")
    if kind not in REQUIRED:
        raise EvidenceError(f"{where}: unknown evidence type {kind!r}")
    if allowed is not None and kind not in allowed:
        raise EvidenceError(f"{where}: a {kind!r} record does not belong in this file")
    missing = [f for f in REQUIRED[kind] if f not in record]
    if missing:
        raise EvidenceError(f"{where}: {kind} record lacks {', '.join(missing)}")
    return record


class RunLayout:
    """Paths of one run directory (``runs/<run-id>/``)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @property
    def spec(self) -> Path:
        return self.root / "spec.json"

    @property
    def evidence(self) -> Path:
        return self.root / "evidence"

    @property
    def acks_dir(self) -> Path:
        return self.evidence / "acks"

    @property
    def consumed_dir(self) -> Path:
        return self.evidence / "consumed"

    @property
    def group(self) -> Path:
        return self.evidence / "group.jsonl"

    @property
    def faults(self) -> Path:
        return self.evidence / "faults.jsonl"

    @property
    def log(self) -> Path:
        return self.evidence / "log.jsonl"

    @property
    def output(self) -> Path:
        """The drained output topic of the service under test (output-topic evidence)."""
        return self.evidence / "output.jsonl"

    @property
    def chaos_dir(self) -> Path:
        return self.root / "chaos"

    @property
    def locust_dir(self) -> Path:
        return self.root / "locust"

    @property
    def logs_dir(self) -> Path:
        """Per-process stdout/stderr of every service of the run."""
        return self.root / "logs"

    def acks_files(self) -> list[Path]:
        return sorted(self.acks_dir.glob("*.jsonl"))

    def consumed_files(self) -> list[Path]:
        return sorted(self.consumed_dir.glob("*.jsonl"))

    def make(self) -> RunLayout:
        for d in (self.acks_dir, self.consumed_dir, self.chaos_dir, self.locust_dir, self.logs_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self
