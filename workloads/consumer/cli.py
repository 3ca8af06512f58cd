"""``python -m workloads.consumer``: the instrumented consumer-group member."""

from __future__ import annotations

import logging
import socket
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workloads.cli_support import (
    EnvArgumentParser,
    StopSignal,
    positive_int,
    setup_logging,
)
from workloads.consumer.config import (
    ASSIGNORS,
    CLIENTS,
    COMMIT_MODES,
    GROUP_PROTOCOLS,
    REMOTE_ASSIGNORS,
    ConsumerConfig,
    ProcessingTime,
    default_assignor,
    validate_replica,
)

log = logging.getLogger("workloads.consumer")

DESCRIPTION = """\
A Kafka consumer-group member that records evidence of everything it does:
assignments with their generation (or member epoch), every processed batch,
every commit, every refused record, fencing, its start and its stop.

Clients (--client): kafka-python (default; the classic group protocol only) or
confluent-kafka (librdkafka), which also speaks the KIP-848 consumer protocol
(--group-protocol consumer): the broker computes the assignment (--assignor
uniform or range, its group.remote.assignor) and owns the session timeout and
heartbeat interval (the group's consumer.session.timeout.ms and
consumer.heartbeat.interval.ms), so --session-timeout-ms and
--heartbeat-interval-ms are refused there. Settings a client cannot honour
(e.g. the eager sticky assignor on librdkafka) are refused with exit status 2.

Evidence goes to DIR/consumed/<member>.jsonl (--evidence-dir), to an evidence
topic (--evidence-topic), or both. <member> is this incarnation's Kafka
client_id: <replica>-<6 random hex digits>, new at every start.

Commit modes:
  after-process   (default, safe) process, write evidence, then commit synchronously
  auto            the tutorial's enable_auto_commit=True (kafka-python commits in poll)
  before-process  commit, then process: deliberately unsafe, to show the loss it causes

Processing time per record (--processing-ms): 5 (fixed ms), uniform:1-10, exp:5 (mean).

Metadata refresh (--metadata-max-age-ms, default 5000): partitions added to the
topic are noticed by the group leader at its next metadata refresh, so this
bounds how long new partitions stay unconsumed. Shorter means faster pickup
and more metadata requests (one per consumer per interval): negligible for a
few consumers, worth raising for hundreds.

Readiness (--ready-file): the file exists, refreshed at least every second by
the poll loop, from the member's first rebalance callback (an assignment, even
an empty one) until it loses its partitions, is fenced or stops; a frozen or
stuck process stops refreshing it.

SIGTERM finishes the batch in flight, records and commits it, then closes the
consumer (a dynamic member leaves the group at once) and exits 0.
"""


def default_replica() -> str:
    """The host name (a pod's name on Kubernetes), reduced to a valid replica name."""
    host = socket.gethostname().split(".")[0] or "consumer"
    return "".join(c if c.isalnum() or c in "_-" else "-" for c in host)[:200]


def build_parser() -> EnvArgumentParser:
    p = EnvArgumentParser(prog="python -m workloads.consumer", description=DESCRIPTION)
    p.add_bootstrap_servers()
    p.add_topic()
    p.add_group()
    p.add_env_argument(
        "--replica",
        env="RIVERBED_REPLICA",
        type=validate_replica,
        help="this replica's stable name (default: the host name, i.e. the pod name)",
        metavar="NAME",
    )
    p.add_env_argument(
        "--evidence-dir",
        env="RIVERBED_EVIDENCE_DIR",
        help="write evidence to DIR/consumed/<member>.jsonl",
        metavar="DIR",
    )
    p.add_env_argument(
        "--evidence-topic",
        env="RIVERBED_EVIDENCE_TOPIC",
        help="also (or instead) write evidence to this topic, acknowledged before each commit",
        metavar="TOPIC",
    )
    p.add_env_argument(
        "--commit-mode",
        env="RIVERBED_COMMIT_MODE",
        choices=COMMIT_MODES,
        default="after-process",
        help="when offsets are committed relative to processing",
    )
    p.add_env_argument(
        "--client",
        env="RIVERBED_CLIENT",
        choices=CLIENTS,
        default="kafka-python",
        help="the Kafka client library",
    )
    p.add_env_argument(
        "--group-protocol",
        env="RIVERBED_GROUP_PROTOCOL",
        choices=GROUP_PROTOCOLS,
        default="classic",
        help="classic (JoinGroup/SyncGroup) or consumer (KIP-848; --client confluent-kafka)",
    )
    p.add_env_argument(
        "--assignor",
        env="RIVERBED_ASSIGNOR",
        choices=ASSIGNORS + tuple(a for a in REMOTE_ASSIGNORS if a not in ASSIGNORS),
        help="partition assignment strategy: classic "
        f"{'/'.join(ASSIGNORS)} (client-side), consumer {'/'.join(REMOTE_ASSIGNORS)} "
        "(broker-side) (default: range under classic, uniform under consumer)",
    )
    p.add_env_argument(
        "--processing-ms",
        env="RIVERBED_PROCESSING_MS",
        type=ProcessingTime.parse,
        default=ProcessingTime.parse("0"),
        metavar="SPEC",
        help="simulated processing time per record: MS, uniform:LOW-HIGH or exp:MEAN",
    )
    p.add_env_flag(
        "--static-member",
        env="RIVERBED_STATIC_MEMBER",
        help="join as a static member (group_instance_id = replica): a restart within "
        "the session timeout keeps its partitions without a rebalance",
    )
    p.add_env_argument(
        "--dead-letter-topic",
        env="RIVERBED_DLQ_TOPIC",
        help="send refused records (with reason headers) to this topic",
        metavar="TOPIC",
    )
    p.add_env_argument(
        "--metadata-max-age-ms",
        env="RIVERBED_METADATA_MAX_AGE_MS",
        type=positive_int,
        default=5000,
        help="metadata refresh interval; bounds how late added partitions are noticed",
        metavar="MS",
    )
    p.add_env_argument(
        "--max-poll-records",
        env="RIVERBED_MAX_POLL_RECORDS",
        type=positive_int,
        default=100,
        help="records per batch",
        metavar="N",
    )
    p.add_env_argument(
        "--session-timeout-ms",
        env="RIVERBED_SESSION_TIMEOUT_MS",
        type=positive_int,
        help="how long the coordinator waits for a silent member (classic protocol only; "
        "default 10000; the broker allows 6000-1800000 by default)",
        metavar="MS",
    )
    p.add_env_argument(
        "--heartbeat-interval-ms",
        env="RIVERBED_HEARTBEAT_INTERVAL_MS",
        type=positive_int,
        default=None,
        help="heartbeat interval (classic protocol only; default: a third of the session "
        "timeout, at most 3000)",
        metavar="MS",
    )
    p.add_env_argument(
        "--max-poll-interval-ms",
        env="RIVERBED_MAX_POLL_INTERVAL_MS",
        type=positive_int,
        default=300_000,
        help="longest time between two polls before the member leaves the group (its "
        "partitions are then lost and its next commit is rejected)",
        metavar="MS",
    )
    p.add_env_argument(
        "--auto-commit-interval-ms",
        env="RIVERBED_AUTO_COMMIT_INTERVAL_MS",
        type=positive_int,
        default=5000,
        help="auto mode: how often kafka-python commits",
        metavar="MS",
    )
    p.add_env_argument(
        "--seed",
        env="RIVERBED_SEED",
        type=int,
        help="random seed for the processing-time distribution",
        metavar="N",
    )
    p.add_env_argument(
        "--ready-file",
        env="RIVERBED_READY_FILE",
        help="keep FILE fresh while this member is in its group (joined, not lost or "
        "fenced), for a readiness probe; removed when it is not",
        metavar="FILE",
    )
    p.add_client_config()
    p.add_verbose()
    return p


def parse_config(argv: Sequence[str] | None = None) -> tuple[ConsumerConfig, Any]:
    """The consumer's configuration from flags and environment; exits 2 on bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    replica = args.replica or default_replica()
    try:
        validate_replica(replica)
    except ValueError as exc:
        parser.error(f"--replica: {exc}")
    if not args.topic.strip() or not args.group.strip():
        parser.error("--topic and --group must not be empty")
    from workloads.consumer.rdkafka_settings import (
        UnsupportedSetting,
        check_combination,
        rdkafka_config,
    )

    assignor = args.assignor or default_assignor(args.group_protocol)
    try:
        check_combination(
            args.client,
            args.group_protocol,
            assignor,
            session_timeout_set=args.session_timeout_ms is not None,
            heartbeat_interval_set=args.heartbeat_interval_ms is not None,
        )
    except UnsupportedSetting as exc:
        parser.error(str(exc))
    session: int | None = None
    heartbeat: int | None = None
    if args.group_protocol == "classic":
        session = args.session_timeout_ms or 10_000
        heartbeat = args.heartbeat_interval_ms or min(3000, session // 3)
        if heartbeat >= session:
            parser.error("--heartbeat-interval-ms must be lower than --session-timeout-ms")
        heartbeat = max(1, heartbeat)
    config = ConsumerConfig(
        bootstrap_servers=args.bootstrap_servers,
        topic=args.topic,
        group=args.group,
        replica=replica,
        member=f"{replica}-{uuid.uuid4().hex[:6]}",
        commit_mode=args.commit_mode,
        assignor=assignor,
        client=args.client,
        group_protocol=args.group_protocol,
        processing=args.processing_ms,
        static_member=bool(args.static_member),
        dead_letter_topic=args.dead_letter_topic or None,
        metadata_max_age_ms=args.metadata_max_age_ms,
        max_poll_records=args.max_poll_records,
        session_timeout_ms=session,
        heartbeat_interval_ms=heartbeat,
        max_poll_interval_ms=args.max_poll_interval_ms,
        auto_commit_interval_ms=args.auto_commit_interval_ms,
        seed=args.seed,
        kafka_config=args.kafka_config,
        ready_file=args.ready_file or None,
    )
    if config.client == "confluent-kafka":
        try:
            rdkafka_config(config)  # every remaining librdkafka constraint, before connecting
        except UnsupportedSetting as exc:
            parser.error(str(exc))
    return config, args


def main(argv: Sequence[str] | None = None) -> int:
    config, args = parse_config(argv)
    setup_logging(args.verbose)
    stop = StopSignal().install()

    from workloads.consumer.member import DeadLetters
    from workloads.evidence.sinks import FileSink, NullSink, Sink, TeeSink

    sinks: list[Sink] = []
    producer = None
    try:
        if args.evidence_dir:
            sinks.append(FileSink(Path(args.evidence_dir) / "consumed" / f"{config.member}.jsonl"))
        if args.evidence_topic or config.dead_letter_topic:
            producer = _side_producer(config, args.evidence_topic)
        if args.evidence_topic:
            from workloads.evidence.kafka_sink import KafkaSink

            sinks.append(KafkaSink(producer, args.evidence_topic, config.member))
    except _StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.status
    if not sinks:
        log.warning("no --evidence-dir or --evidence-topic: this consumer records no evidence")
    sink: Sink = sinks[0] if len(sinks) == 1 else (TeeSink(sinks) if sinks else NullSink())
    dead_letters = (
        DeadLetters(producer, config.dead_letter_topic, config.topic)
        if config.dead_letter_topic
        else None
    )
    try:
        return consumer_class(config.client)(config, sink, dead_letters, stop).run()
    finally:
        if producer is not None:
            producer.close(timeout=5)


def consumer_class(client: str) -> Any:
    """The reference consumer's implementation for a client library."""
    if client == "confluent-kafka":
        from workloads.consumer.rdkafka_consumer import RdKafkaGroupConsumer

        return RdKafkaGroupConsumer
    from workloads.consumer.group_consumer import GroupConsumer

    return GroupConsumer


class _StartupError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _side_producer(config: ConsumerConfig, evidence_topic: str | None) -> Any:
    """The producer for evidence and dead letters; checks that their topics exist."""
    from kafka.errors import KafkaTimeoutError

    from workloads.evidence.kafka_sink import EvidenceSinkError, check_topic, evidence_producer

    try:
        producer = evidence_producer(
            config.bootstrap_servers, f"{config.member}-evidence", config.kafka_config
        )
    except KafkaTimeoutError as exc:
        raise _StartupError(
            f"no Kafka broker answered at {config.bootstrap_servers}: {exc}", 1
        ) from exc
    for flag, topic in (
        ("--evidence-topic", evidence_topic),
        ("--dead-letter-topic", config.dead_letter_topic),
    ):
        if topic:
            try:
                check_topic(producer, topic)
            except EvidenceSinkError as exc:
                producer.close(timeout=1)
                raise _StartupError(f"{flag}: {exc}", 2) from exc
    return producer
