"""``python -m workloads.producer {loop,http}``: the instrumented producer."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from workloads.cli_support import (
    EnvArgumentParser,
    StopSignal,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    setup_logging,
)
from workloads.evidence.sinks import FileSink, NullSink, Sink, TeeSink
from workloads.message import producer_id

log = logging.getLogger("workloads.producer")

DESCRIPTION = """\
The system under test's producer, in one of two modes:

  loop  the tutorial's loop: send {"number": i} every --interval seconds, as a
        contract message (producer, key, seq, ts, body, sha), recording every
        send's outcome (ok / fail / unknown)
  http  an HTTP service: POST /events {"key", "body"} produces with acks=all and
        idempotence and answers 202 with partition and offset (503 while Kafka
        is unreachable, 504 when the outcome is unknown); GET /healthz, /readyz

Evidence: <evidence-dir>/acks/<producer-id>.jsonl and/or the evidence topic.
Run `python -m workloads.producer loop --help` (or http) for each mode's flags.
"""


def _common(p: EnvArgumentParser) -> None:
    p.add_bootstrap_servers()
    p.add_topic()
    p.add_env_argument(
        "--evidence-dir",
        env="RIVERBED_EVIDENCE_DIR",
        metavar="DIR",
        help="write send outcomes to DIR/acks/<producer-id>.jsonl",
    )
    p.add_env_argument(
        "--evidence-topic",
        env="RIVERBED_EVIDENCE_TOPIC",
        metavar="TOPIC",
        help="also (or instead) write send outcomes to this topic",
    )
    p.add_env_argument(
        "--producer-prefix",
        env="RIVERBED_PRODUCER_PREFIX",
        metavar="PREFIX",
        help="prefix of the producer id <prefix>-<host>-<pid>-<random> (default: the mode)",
    )
    p.add_client_config()
    p.add_verbose()


def build_parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m workloads.producer",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    modes = top.add_subparsers(dest="mode", metavar="{loop,http}", parser_class=EnvArgumentParser)
    modes.required = True
    loop = modes.add_parser("loop", help="send in a loop, like the tutorial's producer")
    _common(loop)
    loop.add_env_argument(
        "--interval",
        env="RIVERBED_PRODUCER_INTERVAL_S",
        type=non_negative_float,
        default=1.0,
        metavar="S",
        help="seconds between sends (0: as fast as possible)",
    )
    loop.add_env_argument(
        "--keys",
        env="RIVERBED_PRODUCER_KEYS",
        type=positive_int,
        default=10,
        metavar="N",
        help="number of distinct keys k0…k{N-1}, used in turn",
    )
    loop.add_env_argument(
        "--count",
        env="RIVERBED_PRODUCER_COUNT",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="stop after N messages (0: run until SIGTERM)",
    )
    loop.add_env_argument(
        "--body-bytes",
        env="RIVERBED_BODY_BYTES",
        type=non_negative_int,
        default=0,
        metavar="N",
        help='pad each body {"number": i} to about N bytes',
    )
    http = modes.add_parser("http", help="serve POST /events, GET /healthz and /readyz")
    _common(http)
    http.add_env_argument(
        "--host",
        env="RIVERBED_HTTP_HOST",
        default="127.0.0.1",
        metavar="ADDR",
        help="address to listen on (0.0.0.0 inside a container)",
    )
    http.add_env_argument(
        "--port",
        env="RIVERBED_HTTP_PORT",
        type=positive_int,
        default=8080,
        metavar="P",
        help="port",
    )
    http.add_env_argument(
        "--max-message-bytes",
        env="RIVERBED_MAX_MESSAGE_BYTES",
        type=positive_int,
        default=1_000_000,
        metavar="N",
        help="largest request and message accepted (413 above)",
    )
    http.add_env_argument(
        "--delivery-timeout-ms",
        env="RIVERBED_DELIVERY_TIMEOUT_MS",
        type=positive_int,
        default=15_000,
        metavar="MS",
        help="how long a send may take before its outcome is unknown (504)",
    )
    http.add_env_argument(
        "--probe-interval",
        env="RIVERBED_PROBE_INTERVAL_S",
        type=positive_float,
        default=1.0,
        metavar="S",
        help="how often Kafka's reachability is checked (/readyz, 503)",
    )
    return top


def _sink(args: argparse.Namespace, pid: str) -> Sink:
    sinks: list[Sink] = []
    if args.evidence_dir:
        sinks.append(FileSink(Path(args.evidence_dir) / "acks" / f"{pid}.jsonl"))
    if args.evidence_topic:
        from workloads.evidence.kafka_sink import KafkaSink

        sinks.append(
            KafkaSink.connect(
                args.bootstrap_servers, args.evidence_topic, pid, kafka_config=args.kafka_config
            )
        )
    if not sinks:
        log.warning("no --evidence-dir or --evidence-topic: send outcomes are not recorded")
        return NullSink()
    return sinks[0] if len(sinks) == 1 else TeeSink(sinks)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    pid = producer_id(args.producer_prefix or args.mode)
    from kafka.errors import KafkaTimeoutError

    from workloads.evidence.kafka_sink import EvidenceSinkError

    try:
        sink = _sink(args, pid)
    except (KafkaTimeoutError, EvidenceSinkError) as exc:
        print(f"error: --evidence-topic: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, EvidenceSinkError) else 1
    if args.mode == "http":
        from workloads.producer.http_service import HttpSettings, serve

        settings = HttpSettings(
            bootstrap_servers=args.bootstrap_servers,
            topic=args.topic,
            producer_id=pid,
            max_message_bytes=args.max_message_bytes,
            probe_interval_s=args.probe_interval,
            delivery_timeout_ms=args.delivery_timeout_ms,
            kafka_config=args.kafka_config,
        )
        return serve(settings, sink, args.host, args.port)

    from workloads.producer.loop import LoopSettings, run_loop

    stop = StopSignal().install()
    settings_loop = LoopSettings(
        bootstrap_servers=args.bootstrap_servers,
        topic=args.topic,
        producer_id=pid,
        interval_s=args.interval,
        keys=args.keys,
        count=args.count,
        body_bytes=args.body_bytes,
        kafka_config=args.kafka_config,
    )
    try:
        run_loop(settings_loop, sink, stop)
    except KafkaTimeoutError as exc:
        print(
            f"error: no Kafka broker answered at {args.bootstrap_servers}: {exc}", file=sys.stderr
        )
        return 1
    finally:
        sink.close()
    return 0
