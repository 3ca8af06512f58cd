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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workloads.cli_support import EnvArgumentParser, report_result, setup_logging
from workloads.evidence.sinks import FileSink
from workloads.message import InvalidRecord, decode
from workloads.topic_reader import Batch, read_topic

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
    # A drain is a fresh, complete copy of the log, never appended to an older one.
    Path(out_path).unlink(missing_ok=True)
    out = FileSink(out_path)
    counts = {"records": 0, "invalid": 0}

    def write(batch: Batch) -> None:
        lines = [log_record(partition, offset, value) for partition, offset, value in batch]
        counts["invalid"] += sum(not line["sha_ok"] for line in lines)
        counts["records"] += len(lines)
        out.write_many(lines)

    try:
        result = read_topic(
            bootstrap_servers, topic, write, timeout_s, client_id="riverbed-log-drain"
        )
    finally:
        out.close()
    return {**result, **counts}


def build_parser() -> EnvArgumentParser:
    p = EnvArgumentParser(prog="python -m workloads.drain", description=__doc__)
    p.add_bootstrap_servers()
    p.add_topic()
    p.add_env_argument(
        "--out", env="RIVERBED_LOG_OUT", required=True, metavar="FILE", help="log.jsonl to write"
    )
    p.add_timeout("RIVERBED_DRAIN_TIMEOUT_S")
    p.add_verbose()
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    result = drain_log(args.bootstrap_servers, args.topic, Path(args.out), args.timeout)
    return report_result(result)


if __name__ == "__main__":
    raise SystemExit(main())
