"""``python -m workloads.drain``: read the data topic into ``evidence/log.jsonl``.

The log drain records what Kafka durably holds at the end of a run: every
record of every partition, from the log start to the high watermark observed
when the drain began, as ``record`` evidence with ``sha_ok`` (the value's sha
matches its body). A value that does not decode is recorded with ``producer``,
``key`` and ``seq`` null and a ``reason``. The drain uses no consumer group and
commits nothing.

With ``--output-topic`` it drains the output topic of the service under test
into ``evidence/output.jsonl`` instead: one ``output`` line per output record,
with the identity (producer, key, seq) of the input it answers (see
:func:`output_record`). Only committed transactional records are read
(``read_committed``): an aborted output was never delivered.

Exit status: 0 when every partition was read to its high watermark, 2 when
the timeout struck first (the loss checks are then inconclusive).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workloads.cli_support import EnvArgumentParser, report_result, setup_logging
from workloads.evidence.schema import TIMESTAMP_TYPES, LogRecord, Output
from workloads.evidence.sinks import FileSink
from workloads.message import InvalidRecord, body_sha, decode
from workloads.topic_reader import TopicRecord, read_topic_records

log = logging.getLogger("workloads.drain")

#: The header a service may set on an output to name its input: JSON
#: ``{"producer": …, "key": …, "seq": …}``.
IDENTITY_HEADER = "riverbed-id"


#: kafka-python's ``timestamp_type`` of a record stamped by the broker (LogAppendTime).
LOG_APPEND_TIME = 1


def log_record(
    partition: int, offset: int, value: bytes | None, t_append: float | None = None
) -> dict[str, Any]:
    """One ``record`` evidence line for a record of the data topic (``t_append``: the
    broker's append time, when the topic stamps records with it)."""
    try:
        m = decode(value)
        return LogRecord(
            partition, offset, m.producer, m.key, m.seq, True, t_append=t_append
        ).to_dict()
    except InvalidRecord as exc:
        if exc.reason == "corrupt":
            # The value decodes; only the body was altered: keep the message's identity.
            fields = json.loads(value or b"{}")
            identity = fields["producer"], fields["key"], fields["seq"]
        else:
            identity = None, None, None
        return LogRecord(
            partition, offset, *identity, False, reason=exc.reason, t_append=t_append
        ).to_dict()


def append_time(record: TopicRecord) -> float | None:
    """The broker's append time of a record in seconds, None unless the topic stamps it."""
    if record.timestamp_type != LOG_APPEND_TIME or record.timestamp_ms < 0:
        return None
    return record.timestamp_ms / 1000.0


def drain_log(
    bootstrap_servers: str,
    topic: str,
    out_path: Path | str,
    timeout_s: float = 60.0,
    kafka_config: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Write every record of ``topic`` up to the current high watermarks to ``out_path``.

    ``kafka_config``: connection settings (default: ``RIVERBED_KAFKA_CONFIG``'s).

    Returns ``{"finished", "end_offsets": {"<p>": o}, "records", "invalid", "t",
    "detail"}``; ``finished`` is False when ``timeout_s`` ran out first or Kafka
    could not be reached.
    """
    # A drain is a fresh, complete copy of the log, never appended to an older one.
    Path(out_path).unlink(missing_ok=True)
    out = FileSink(out_path)
    counts = {"records": 0, "invalid": 0}

    def write(batch: list[TopicRecord]) -> None:
        lines = [log_record(r.partition, r.offset, r.value, append_time(r)) for r in batch]
        counts["invalid"] += sum(not line["sha_ok"] for line in lines)
        counts["records"] += len(lines)
        out.write_many(lines)

    try:
        result = read_topic_records(
            bootstrap_servers,
            topic,
            write,
            timeout_s,
            client_id="riverbed-log-drain",
            kafka_config=kafka_config,
        )
    finally:
        out.close()
    return {**result, **counts}


def _identity(fields: Any) -> tuple[str, str, int] | None:
    """(producer, key, seq) when ``fields`` is an object carrying a valid one."""
    if not isinstance(fields, dict):
        return None
    producer, key, seq = fields.get("producer"), fields.get("key"), fields.get("seq")
    if not isinstance(producer, str) or not isinstance(key, str):
        return None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return None
    return producer, key, seq


def output_record(
    partition: int,
    offset: int,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] = (),
    timestamp_ms: int | None = None,
    timestamp_type: int = -1,
) -> dict[str, Any]:
    """One ``output`` evidence line for a record of the service's output topic.

    The input it answers is named by the value's own top-level ``producer``,
    ``key`` and ``seq`` (a service that forwards or enriches the input JSON
    carries them), else by a ``riverbed-id`` header holding them as JSON
    (``identity`` says which; null when neither does — the checks report such
    outputs, they are never guessed). ``sha_ok`` is whether the value's
    ``body`` matches its ``sha`` when it carries both, else null. ``t`` is the
    record's timestamp in seconds (null when it has none); ``timestamp_type``
    (Kafka's code: 0 CreateTime, 1 LogAppendTime) says who set it, since only a
    broker's append time says when the service wrote the output.
    """
    fields: Any = None
    reason = None
    try:
        fields = json.loads(value) if value is not None else None
    except (UnicodeDecodeError, ValueError):
        reason = "value is not JSON"
    if value is None:
        reason = "null value"
    sha_ok = None
    if isinstance(fields, dict) and "body" in fields and "sha" in fields:
        sha_ok = isinstance(fields["sha"], str) and body_sha(fields["body"]) == fields["sha"]
    identity, source = _identity(fields), "value"
    if identity is None:
        source = "header"
        for name, raw in headers:
            if name == IDENTITY_HEADER:
                try:
                    identity = _identity(json.loads(raw or b""))
                except (UnicodeDecodeError, ValueError):
                    identity = None
                if identity is None:
                    reason = f"header {IDENTITY_HEADER} does not hold producer, key and seq"
                break
    if identity is None:
        reason = reason or (
            f"neither the value nor a {IDENTITY_HEADER} header names producer, key and seq"
        )
    producer, key, seq = identity or (None, None, None)
    t = timestamp_ms / 1000.0 if timestamp_ms is not None and timestamp_ms >= 0 else None
    return Output(
        partition,
        offset,
        producer,
        key,
        seq,
        sha_ok,
        source if identity else None,
        t,
        reason=None if identity else reason,
        timestamp_type=TIMESTAMP_TYPES.get(timestamp_type) if t is not None else None,
    ).to_dict()


def drain_output_topic(
    bootstrap_servers: str,
    topic: str,
    out_path: Path | str,
    timeout_s: float = 60.0,
    client_config: Mapping[str, Any] | None = None,
    kafka_config: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Write every record of the service's output ``topic`` to ``out_path`` (``output.jsonl``).

    Reads from the log start to the high watermarks seen when the drain began
    (``read_committed``: aborted transactional outputs are not outputs).
    ``kafka_config``: connection settings (default: ``RIVERBED_KAFKA_CONFIG``'s);
    ``client_config`` adds other KafkaConsumer settings.
    Returns ``{"finished", "end_offsets": {"<p>": o}, "records", "unidentified",
    "corrupt", "t", "detail"}``, the shape of :func:`drain_log`'s result.
    """
    Path(out_path).unlink(missing_ok=True)
    out = FileSink(out_path)
    counts = {"records": 0, "unidentified": 0, "corrupt": 0}

    def write(records: list[TopicRecord]) -> None:
        lines = [
            output_record(
                r.partition, r.offset, r.value, r.headers, r.timestamp_ms, r.timestamp_type
            )
            for r in records
        ]
        counts["records"] += len(lines)
        counts["unidentified"] += sum(line["identity"] is None for line in lines)
        counts["corrupt"] += sum(line["sha_ok"] is False for line in lines)
        out.write_many(lines)

    config = {"isolation_level": "read_committed", **(client_config or {})}
    try:
        result = read_topic_records(
            bootstrap_servers,
            topic,
            write,
            timeout_s,
            client_id="riverbed-output-drain",
            what="output topic",
            client_config=config,
            kafka_config=kafka_config,
        )
    finally:
        out.close()
    return {**result, **counts}


def build_parser() -> EnvArgumentParser:
    p = EnvArgumentParser(prog="python -m workloads.drain", description=__doc__)
    p.add_bootstrap_servers()
    p.add_topic()
    p.add_env_argument(
        "--out",
        env="RIVERBED_LOG_OUT",
        required=True,
        metavar="FILE",
        help="log.jsonl to write (output.jsonl with --output-topic)",
    )
    p.add_env_flag(
        "--output-topic",
        env="RIVERBED_DRAIN_OUTPUT_TOPIC",
        help="--topic is the service's output topic: write output records, matched to "
        "their inputs by producer, key and seq",
    )
    p.add_timeout("RIVERBED_DRAIN_TIMEOUT_S")
    p.add_client_config()
    p.add_verbose()
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    drain = drain_output_topic if args.output_topic else drain_log
    result = drain(
        args.bootstrap_servers,
        args.topic,
        Path(args.out),
        args.timeout,
        kafka_config=args.kafka_config,
    )
    return report_result(result)


if __name__ == "__main__":
    raise SystemExit(main())
