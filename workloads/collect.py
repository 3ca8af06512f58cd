"""``python -m workloads.collect``: turn the evidence topic back into run-directory files.

Workloads that run where their files vanish with them (pods) write evidence to
an evidence topic (``--evidence-topic``). The collector reads that topic from
the beginning to the high watermark of every partition and writes each record
to the file a file sink would have written:

- consumer events (``start`` … ``invalid``) → ``evidence/consumed/<member>.jsonl``
- ``send`` → ``evidence/acks/<producer>.jsonl``
- ``group`` → ``evidence/group.jsonl``
- ``fault`` → ``evidence/faults.jsonl``

Every file it writes is written afresh (a file of the same name is replaced):
the topic holds the complete copy. Records keep their order per writer, since
each writer's records share a key and hence a partition.

Exit status: 0 when the whole topic was read, 2 when the timeout struck first.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from workloads.cli_support import EnvArgumentParser, positive_float, setup_logging
from workloads.evidence.schema import CONSUMER_TYPES, VERSION

log = logging.getLogger("workloads.collect")


def safe_name(name: str) -> str:
    """A writer id as a file name: path separators and oddities replaced."""
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return cleaned.lstrip(".") or "_"


def route(record: Any) -> str | None:
    """The run-directory path (relative) of one evidence record, or None if it has none."""
    if not isinstance(record, dict) or record.get("v") != VERSION:
        return None
    kind = record.get("type")
    if kind in CONSUMER_TYPES and isinstance(record.get("member"), str):
        return f"evidence/consumed/{safe_name(record['member'])}.jsonl"
    if kind == "send" and isinstance(record.get("producer"), str):
        return f"evidence/acks/{safe_name(record['producer'])}.jsonl"
    if kind == "group":
        return "evidence/group.jsonl"
    if kind == "fault":
        return "evidence/faults.jsonl"
    return None


def collect(
    bootstrap_servers: str, evidence_topic: str, run_dir: Path | str, timeout_s: float = 60.0
) -> dict[str, Any]:
    """Copy the evidence topic into ``run_dir``'s evidence files.

    Returns ``{"finished", "end_offsets": {"<p>": o}, "records", "skipped",
    "files": {"<relative path>": lines}, "t", "detail"}``.
    """
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    root = Path(run_dir)
    deadline = time.monotonic() + timeout_s
    result: dict[str, Any] = {
        "finished": False,
        "end_offsets": {},
        "records": 0,
        "skipped": 0,
        "files": {},
    }
    handles: dict[str, IO[bytes]] = {}
    consumer = None
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            client_id="riverbed-collector",
            group_id=None,
            enable_auto_commit=False,
            bootstrap_timeout_ms=int(max(1.0, min(timeout_s, 30.0)) * 1000),
        )
        partitions = consumer.partitions_for_topic(evidence_topic)
        if not partitions:
            result["detail"] = f"evidence topic {evidence_topic!r} does not exist"
            return result
        tps = [TopicPartition(evidence_topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        end = consumer.end_offsets(tps)
        result["end_offsets"] = {str(tp.partition): o for tp, o in sorted(end.items())}
        consumer.seek_to_beginning(*tps)
        remaining = {tp for tp in tps if consumer.position(tp) < end[tp]}
        while remaining and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500, max_records=5000).items():
                for r in records:
                    if r.offset >= end[tp]:
                        break
                    _store(root, handles, result, r.value)
            remaining = {tp for tp in remaining if consumer.position(tp) < end[tp]}
        result["finished"] = not remaining
        result["detail"] = (
            "read the evidence topic to its high watermark"
            if not remaining
            else f"timed out after {timeout_s:.0f}s"
        )
    except KafkaError as exc:
        result["detail"] = f"Kafka error: {exc!r}"
    finally:
        for fh in handles.values():
            fh.close()
        if consumer is not None:
            consumer.close(autocommit=False)
        result["t"] = time.time()
    return result


def _store(
    root: Path, handles: dict[str, IO[bytes]], result: dict[str, Any], value: bytes | None
) -> None:
    try:
        record = json.loads(value or b"")
    except ValueError:
        record = None
    rel = route(record)
    if rel is None:
        result["skipped"] += 1
        return
    fh = handles.get(rel)
    if fh is None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = handles[rel] = path.open("wb")
    assert value is not None
    fh.write(value.rstrip(b"\n") + b"\n")
    result["records"] += 1
    result["files"][rel] = result["files"].get(rel, 0) + 1


def build_parser() -> EnvArgumentParser:
    p = EnvArgumentParser(prog="python -m workloads.collect", description=__doc__)
    p.add_env_argument(
        "--bootstrap-servers",
        env="KAFKA_BROKER",
        default="localhost:9092",
        metavar="HOST:PORT[,…]",
        help="Kafka bootstrap servers",
    )
    p.add_env_argument(
        "--evidence-topic",
        env="RIVERBED_EVIDENCE_TOPIC",
        required=True,
        metavar="TOPIC",
        help="the evidence topic",
    )
    p.add_env_argument(
        "--run-dir", env="RIVERBED_RUN_DIR", required=True, metavar="DIR", help="the run directory"
    )
    p.add_env_argument(
        "--timeout",
        env="RIVERBED_COLLECT_TIMEOUT_S",
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
    result = collect(args.bootstrap_servers, args.evidence_topic, Path(args.run_dir), args.timeout)
    print(json.dumps(result), file=sys.stdout)
    return 0 if result["finished"] else 2


if __name__ == "__main__":
    raise SystemExit(main())
