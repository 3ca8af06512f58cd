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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from workloads.cli_support import EnvArgumentParser, report_result, setup_logging
from workloads.evidence.schema import CONSUMER_TYPES, VERSION
from workloads.topic_reader import Batch, read_topic

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
    bootstrap_servers: str,
    evidence_topic: str,
    run_dir: Path | str,
    timeout_s: float = 60.0,
    kafka_config: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Copy the evidence topic into ``run_dir``'s evidence files (``kafka_config``:
    connection settings, default ``RIVERBED_KAFKA_CONFIG``'s).

    Returns ``{"finished", "end_offsets": {"<p>": o}, "records", "skipped",
    "files": {"<relative path>": lines}, "t", "detail"}``.
    """
    root = Path(run_dir)
    handles: dict[str, IO[bytes]] = {}
    counts: dict[str, Any] = {"records": 0, "skipped": 0, "files": {}}

    def store(batch: Batch) -> None:
        for _partition, _offset, value in batch:
            _store(root, handles, counts, value)

    try:
        result = read_topic(
            bootstrap_servers,
            evidence_topic,
            store,
            timeout_s,
            client_id="riverbed-collector",
            what="evidence topic",
            kafka_config=kafka_config,
        )
    finally:
        for fh in handles.values():
            fh.close()
    return {**result, **counts}


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
    p.add_bootstrap_servers()
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
    p.add_timeout("RIVERBED_COLLECT_TIMEOUT_S")
    p.add_client_config()
    p.add_verbose()
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    result = collect(
        args.bootstrap_servers,
        args.evidence_topic,
        Path(args.run_dir),
        args.timeout,
        kafka_config=args.kafka_config,
    )
    return report_result(result)


if __name__ == "__main__":
    raise SystemExit(main())
