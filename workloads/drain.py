"""``python -m workloads.drain``: read the data topic into ``evidence/log.jsonl``.

The log drain records what Kafka durably holds at the end of a run: every
record of every partition, from the log start to the high watermark observed
when the drain began, as ``record`` evidence with ``sha_ok`` (the value's sha
matches its body). A value that does not decode is recorded with ``producer``,
``key`` and ``seq`` null and a ``reason``. The drain uses no consumer group and
commits nothing.

Exit status: 0 when every partition was read to its high watermark, 2 when
the timeout struck first (the loss checks are then inconclusive).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workloads.cli_support import EnvArgumentParser, positive_float, setup_logging
from workloads.evidence.sinks import FileSink
from workloads.message import InvalidRecord, decode

log = logging.getLogger("workloads.drain")


def log_record(partition: int, offset: int, value: bytes | None) -> dict[str, Any]:
    """One ``record`` evidence line for a record of the data topic."""
    try:
        m = decode(value)
        return {
            "type": "record",
            "partition": partition,
            "offset": offset,
            "producer": m.producer,
            "key": m.key,
            "seq": m.seq,
            "sha_ok": True,
        }
    except InvalidRecord as exc:
        record: dict[str, Any] = {
            "type": "record",
            "partition": partition,
            "offset": offset,
            "producer": None,
            "key": None,
            "seq": None,
            "sha_ok": False,
            "reason": exc.reason,
        }
        if exc.reason == "corrupt":
            # The value decodes; only the body was altered: keep the message's identity.
            fields = json.loads(value or b"{}")
            record.update(producer=fields["producer"], key=fields["key"], seq=fields["seq"])
        return record


def drain_log(
    bootstrap_servers: str, topic: str, out_path: Path | str, timeout_s: float = 60.0
) -> dict[str, Any]:
    """Write every record of ``topic`` up to the current high watermarks to ``out_path``.

    Returns ``{"finished", "end_offsets": {"<p>": o}, "records", "invalid", "t",
    "detail"}``; ``finished`` is False when ``timeout_s`` ran out first or Kafka
    could not be reached.
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout_s
    # A drain is a fresh, complete copy of the log, never appended to an older one.
    Path(out_path).unlink(missing_ok=True)
    out = FileSink(out_path)
    result: dict[str, Any] = {"finished": False, "end_offsets": {}, "records": 0, "invalid": 0}
    consumer = None
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            client_id="riverbed-log-drain",
            group_id=None,
            enable_auto_commit=False,
            bootstrap_timeout_ms=int(max(1.0, min(timeout_s, 30.0)) * 1000),
        )
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            result["detail"] = f"topic {topic!r} does not exist"
            return result
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        end = consumer.end_offsets(tps)
        result["end_offsets"] = {str(tp.partition): o for tp, o in sorted(end.items())}
        consumer.seek_to_beginning(*tps)
        remaining = {tp for tp in tps if consumer.position(tp) < end[tp]}
        while remaining and time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=500, max_records=5000)
            lines = []
            for tp, records in batch.items():
                for r in records:
                    if r.offset >= end[tp]:
                        break  # written after the drain began: not part of this drain
                    line = log_record(tp.partition, r.offset, r.value)
                    result["invalid"] += not line["sha_ok"]
                    lines.append(line)
            if lines:
                out.write_many(lines)
                result["records"] += len(lines)
            remaining = {tp for tp in remaining if consumer.position(tp) < end[tp]}
        result["finished"] = not remaining
        result["detail"] = (
            "read every partition to its high watermark"
            if not remaining
            else f"timed out after {timeout_s:.0f}s with partitions "
            f"{sorted(tp.partition for tp in remaining)} unread to the end"
        )
    except KafkaError as exc:
        result["detail"] = f"Kafka error: {exc!r}"
    finally:
        result["t"] = time.time()
        out.close()
        if consumer is not None:
            consumer.close(autocommit=False)
    return result


def build_parser() -> EnvArgumentParser:
    p = EnvArgumentParser(prog="python -m workloads.drain", description=__doc__)
    p.add_env_argument(
        "--bootstrap-servers",
        env="KAFKA_BROKER",
        default="localhost:9092",
        metavar="HOST:PORT[,…]",
        help="Kafka bootstrap servers",
    )
    p.add_env_argument(
        "--topic", env="KAFKA_TOPIC", required=True, metavar="TOPIC", help="the data topic"
    )
    p.add_env_argument(
        "--out", env="RIVERBED_LOG_OUT", required=True, metavar="FILE", help="log.jsonl to write"
    )
    p.add_env_argument(
        "--timeout",
        env="RIVERBED_DRAIN_TIMEOUT_S",
        type=positive_float,
        default=60.0,
        metavar="S",
        help="give up (exit 2) after S seconds",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    result = drain_log(args.bootstrap_servers, args.topic, Path(args.out), args.timeout)
    print(json.dumps(result), file=sys.stdout)
    return 0 if result["finished"] else 2


if __name__ == "__main__":
    raise SystemExit(main())
