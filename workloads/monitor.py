"""``python -m workloads.monitor``: the broker's view of the consumer group, every ~0.5 s.

Each snapshot is one ``group`` record (``evidence/group.jsonl``), taken through
the admin API: the group's state and members with their assignments
(DescribeGroups), its committed offsets (OffsetFetch), the topic's end offsets
(ListOffsets) and partition count (Metadata). ``members`` is keyed by each
member's **member id** (unique in the group); ``member_info`` gives each one's
client id, host and group instance id, which join the consumers' evidence
(see :mod:`workloads.group_members`). A classic group's answer carries the
assignments only when Stable: in other states every member is listed with no
partitions. ``generation`` is ``null``: DescribeGroups does not return it.

A group of the consumer protocol (KIP-848) is described through
ConsumerGroupDescribe (:mod:`workloads.group_describe`): the snapshot then says
``group_type: "consumer"``, carries every member's current assignment in any
state (*Assigning* and *Reconciling* included), the broker's ``target``
assignment per member, and the group's ``assignor``.

Readiness (``--ready-file``): the file is refreshed after each successful
snapshot, so it is fresh while the monitor reads the group, and goes stale
when its snapshots keep failing or the process stops or freezes.

A snapshot whose requests fail (a broker is down, the coordinator moves) is
skipped, not written half-filled: a partial view would read as a regression.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workloads.cli_support import EnvArgumentParser, StopSignal, positive_float, setup_logging
from workloads.evidence.schema import Group
from workloads.evidence.sinks import FileSink, Sink, TeeSink
from workloads.group_describe import describe_group, with_current_coordinator
from workloads.group_members import decode_members, group_type
from workloads.readiness import ReadyFile

log = logging.getLogger("workloads.monitor")


def member_assignments(description: Mapping[str, Any], topic: str) -> dict[str, list[int]]:
    """``{member_id: [partitions of topic]}`` from one DescribeGroups group description."""
    return {m: list(g.partitions) for m, g in decode_members(description, topic).items()}


def group_snapshot(
    t: float,
    description: Mapping[str, Any],
    committed: Mapping[int, int],
    end_offsets: Mapping[int, int],
    partitions: int,
    topic: str,
) -> dict[str, Any]:
    """One ``group`` evidence record."""
    members = decode_members(description, topic)
    consumer = group_type(description) == "consumer"
    return Group(
        t,
        state=description.get("group_state") or "Unknown",
        generation=None,
        members={m: list(g.partitions) for m, g in members.items()},
        committed={str(p): o for p, o in sorted(committed.items()) if o is not None and o >= 0},
        end_offsets={str(p): o for p, o in sorted(end_offsets.items())},
        partitions=partitions,
        member_info={m: g.info() for m, g in members.items()},
        group_type=group_type(description),
        target={m: list(g.target) for m, g in members.items() if g.target is not None}
        if consumer
        else None,
        assignor=description.get("assignor") if consumer else None,
        state_derived=True if consumer and description.get("state_derived") else None,
    ).to_dict()


class GroupMonitor:
    """Takes group snapshots through one admin client."""

    def __init__(
        self,
        bootstrap_servers: str,
        group: str,
        topic: str,
        timeout_ms: int = 5000,
        kafka_config: Mapping[str, str] | None = None,
    ) -> None:
        """``kafka_config``: connection settings (librdkafka spelling); default: those of
        ``RIVERBED_KAFKA_CONFIG`` (:mod:`workloads.client_config`)."""
        from workloads import client_config

        self.bootstrap_servers = bootstrap_servers
        self.group = group
        self.topic = topic
        self.timeout_ms = timeout_ms
        self.kafka_config = dict(
            client_config.from_environ() if kafka_config is None else kafka_config
        )
        self._admin: Any = None
        self._confluent: Any = None

    def _client(self) -> Any:
        from kafka.admin import KafkaAdminClient

        from workloads import client_config

        if self._admin is None:
            self._admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap_servers,
                client_id=f"riverbed-monitor-{self.group}"[:200],
                bootstrap_timeout_ms=self.timeout_ms,
                request_timeout_ms=self.timeout_ms,
                **client_config.kafka_python(self.kafka_config),
            )
        return self._admin

    def _confluent_client(self) -> Any:
        """confluent-kafka's admin client, for groups of the consumer protocol (on first need)."""
        from confluent_kafka.admin import AdminClient

        if self._confluent is None:
            from workloads import client_config

            self._confluent = AdminClient(
                {
                    "bootstrap.servers": self.bootstrap_servers,
                    "client.id": f"riverbed-monitor-{self.group}"[:200],
                    **client_config.librdkafka(self.kafka_config),
                }
            )
        return self._confluent

    def snapshot(self) -> dict[str, Any]:
        """The group as the brokers see it now; raises on any failed request."""
        from kafka import TopicPartition
        from kafka.protocol.consumer import OffsetSpec

        admin = self._client()
        t = time.time()
        description = describe_group(
            admin, self.group, self._confluent_client, timeout_s=self.timeout_ms / 1000
        )
        offsets = with_current_coordinator(
            admin, self.group, lambda: admin.list_group_offsets(self.group)
        ).get(self.group, {})
        committed = {
            tp.partition: om.offset for tp, om in offsets.items() if tp.topic == self.topic
        }
        topics = admin.describe_topics([self.topic])
        if not topics or topics[0].get("error_code"):
            raise RuntimeError(f"topic {self.topic!r} does not exist")
        parts = sorted(p["partition_index"] for p in topics[0]["partitions"])
        latest = admin.list_partition_offsets(
            {TopicPartition(self.topic, p): OffsetSpec.LATEST for p in parts},
            timeout_ms=self.timeout_ms,
        )
        end = {tp.partition: o.offset for tp, o in latest.items()}
        return group_snapshot(t, description, committed, end, len(parts), self.topic)

    def reset(self) -> None:
        """Drop the admin client (after errors: the next snapshot bootstraps afresh)."""
        admin, self._admin = self._admin, None
        # confluent-kafka's client has no close(); dropping it lets it go.
        self._confluent = None
        if admin is not None:
            with contextlib.suppress(Exception):
                admin.close()


def run_monitor(
    monitor: GroupMonitor,
    sink: Sink,
    stop: StopSignal,
    interval_s: float = 0.5,
    duration_s: float | None = None,
    ready: ReadyFile | None = None,
) -> dict[str, int]:
    """Snapshot every ``interval_s`` until stopped (or ``duration_s``); returns counts.

    ``ready`` is refreshed after every successful snapshot and cleared on the way out;
    a failed one leaves it alone, so it ages out only when snapshots keep failing."""
    counts = {"snapshots": 0, "skipped": 0}
    deadline = None if duration_s is None else time.monotonic() + duration_s
    failures = 0
    while not stop.requested and (deadline is None or time.monotonic() < deadline):
        started = time.monotonic()
        try:
            sink.write_many([monitor.snapshot()])
            counts["snapshots"] += 1
            failures = 0
            if ready is not None:
                ready.mark(True)
        except Exception as exc:
            counts["skipped"] += 1
            failures += 1
            # One line per outage, not one per half second.
            level = logging.WARNING if failures == 1 else logging.DEBUG
            log.log(level, "snapshot skipped: %r", exc)
            if failures % 5 == 0:
                monitor.reset()
        stop.wait(max(0.0, interval_s - (time.monotonic() - started)))
    if ready is not None:
        ready.clear()
    return counts


def build_parser() -> EnvArgumentParser:
    p = EnvArgumentParser(prog="python -m workloads.monitor", description=__doc__)
    p.add_bootstrap_servers()
    p.add_group()
    p.add_topic()
    p.add_env_argument(
        "--out", env="RIVERBED_GROUP_OUT", metavar="FILE", help="group.jsonl to append to"
    )
    p.add_env_argument(
        "--evidence-topic",
        env="RIVERBED_EVIDENCE_TOPIC",
        metavar="TOPIC",
        help="also (or instead) write snapshots to this topic",
    )
    p.add_env_argument(
        "--interval",
        env="RIVERBED_MONITOR_INTERVAL_S",
        type=positive_float,
        default=0.5,
        metavar="S",
        help="seconds between snapshots",
    )
    p.add_env_argument(
        "--duration",
        env="RIVERBED_MONITOR_DURATION_S",
        type=positive_float,
        metavar="S",
        help="stop by itself after S seconds (default: run until SIGTERM)",
    )
    p.add_env_argument(
        "--ready-file",
        env="RIVERBED_READY_FILE",
        metavar="FILE",
        help="keep FILE fresh while snapshots succeed (for a readiness probe)",
    )
    p.add_client_config()
    p.add_verbose()
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.out and not args.evidence_topic:
        parser.error("give --out FILE, --evidence-topic TOPIC, or both")
    setup_logging(args.verbose)
    stop = StopSignal().install()
    sinks: list[Sink] = []
    if args.out:
        sinks.append(FileSink(Path(args.out)))
    if args.evidence_topic:
        from kafka.errors import KafkaTimeoutError

        from workloads.evidence.kafka_sink import EvidenceSinkError, KafkaSink

        try:
            sinks.append(
                KafkaSink.connect(
                    args.bootstrap_servers,
                    args.evidence_topic,
                    f"group:{args.group}",
                    kafka_config=args.kafka_config,
                )
            )
        except (KafkaTimeoutError, EvidenceSinkError) as exc:
            print(f"error: --evidence-topic: {exc}", file=sys.stderr)
            return 2 if isinstance(exc, EvidenceSinkError) else 1
    sink: Sink = sinks[0] if len(sinks) == 1 else TeeSink(sinks)
    monitor = GroupMonitor(
        args.bootstrap_servers, args.group, args.topic, kafka_config=args.kafka_config
    )
    log.info("monitoring group %s on %s every %.2fs", args.group, args.topic, args.interval)
    try:
        counts = run_monitor(
            monitor, sink, stop, args.interval, args.duration, ReadyFile(args.ready_file)
        )
    finally:
        monitor.reset()
        sink.close()
    log.info("monitor stopped: %s", counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
