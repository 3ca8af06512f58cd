"""Consumer throughput with evidence on versus off, measured in the same run.

The same backlog of contract messages is consumed by fresh consumer groups, in
alternating rounds: once with evidence off (a null sink: records are still
validated and offsets committed after every batch) and once with evidence on
(the file sink the local platform uses; optionally the evidence topic too).
Each figure is records per second from the first assignment until the whole
backlog is processed, plus the process's CPU time per record. The headline is
the median over rounds of the ratio evidence-on / evidence-off within a round.
Target: at least 0.8 for the file sink. The evidence-topic variant
(``--topic-evidence``) waits for an acks=all round trip per batch before each
commit, so its throughput ratio depends on the cluster's produce latency.

    .venv/bin/python benchmarks/consumer_overhead.py               # own 1-broker cluster
    .venv/bin/python benchmarks/consumer_overhead.py --bootstrap-servers HOST:PORT --topic-evidence

The machine may be shared with other work: figures are noisy, the ratio of
interleaved rounds much less so.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from workloads.cli_support import StopSignal
from workloads.consumer.config import ConsumerConfig, ProcessingTime
from workloads.consumer.group_consumer import GroupConsumer
from workloads.evidence.sinks import FileSink, NullSink, Sink, TeeSink
from workloads.message import encode


def produce_backlog(bootstrap: str, topic: str, count: int, body_bytes: int) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256_000
    )
    body = "x" * body_bytes
    for i in range(count):
        key = f"k{i % 100}"
        producer.send(topic, key=key.encode(), value=encode("bench", key, i // 100, body))
    producer.flush()
    producer.close()


def consume_all(bootstrap: str, topic: str, count: int, sink: Sink) -> tuple[float, float]:
    """Records per second, and CPU microseconds per record, for one fresh group
    consuming the whole backlog."""
    group = f"bench-{uuid.uuid4().hex[:8]}"
    config = ConsumerConfig(
        bootstrap_servers=bootstrap,
        topic=topic,
        group=group,
        replica="bench",
        member=f"bench-{uuid.uuid4().hex[:6]}",
        processing=ProcessingTime("fixed", 0.0),
        max_poll_records=500,
    )
    stop = StopSignal()
    member = GroupConsumer(config, sink, stop=stop)
    thread = threading.Thread(target=member.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300
    while not member.stats.assigned:
        if time.monotonic() > deadline or not thread.is_alive():
            raise SystemExit("the consumer never got an assignment")
        time.sleep(0.005)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    while member.stats.processed < count:
        if time.monotonic() > deadline or not thread.is_alive():
            raise SystemExit(f"only {member.stats.processed} of {count} records were processed")
        time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    stop.request("close")
    thread.join(30)
    return count / elapsed, cpu / count * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bootstrap-servers", help="use this cluster (default: start a 1-broker one)"
    )
    parser.add_argument("--records", type=int, default=30_000, help="backlog size (default 30000)")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--body-bytes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of off/on (default 3)")
    parser.add_argument(
        "--topic-evidence", action="store_true", help="also measure file + evidence-topic sinks"
    )
    args = parser.parse_args(argv)

    cluster: Any = None
    with tempfile.TemporaryDirectory(prefix="riverbed-bench-") as tmp:
        try:
            bootstrap = args.bootstrap_servers
            if bootstrap is None:
                from riverbed.kafka.cluster import LocalKafkaCluster, free_base_port

                cluster = LocalKafkaCluster(
                    Path(tmp) / "kafka", brokers=1, base_port=free_base_port(1)
                )
                print("starting a 1-broker Kafka cluster …", file=sys.stderr)
                cluster.up(timeout=240)
                bootstrap = cluster.bootstrap_servers
            return _measure(args, bootstrap, Path(tmp))
        finally:
            if cluster is not None:
                cluster.down()


def _measure(args: argparse.Namespace, bootstrap: str, tmp: Path) -> int:
    from riverbed.kafka.admin import create_topic

    topic = f"bench-{uuid.uuid4().hex[:6]}"
    rf = 1 if "," not in bootstrap else 3
    create_topic(bootstrap, topic, partitions=args.partitions, replication_factor=rf)
    evidence_topic = f"{topic}-evidence"
    if args.topic_evidence:
        create_topic(bootstrap, evidence_topic, partitions=3, replication_factor=rf)
    print(f"producing {args.records} records to {topic} …", file=sys.stderr)
    produce_backlog(bootstrap, topic, args.records, args.body_bytes)

    def file_sink() -> Sink:
        return FileSink(tmp / "evidence" / "consumed" / f"{uuid.uuid4().hex}.jsonl")

    def topic_sink() -> Sink:
        from workloads.evidence.kafka_sink import KafkaSink

        return TeeSink(
            [file_sink(), KafkaSink.connect(bootstrap, evidence_topic, uuid.uuid4().hex[:8])]
        )

    variants: dict[str, Any] = {"off": NullSink, "file": file_sink}
    if args.topic_evidence:
        variants["file+topic"] = topic_sink
    rates: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    consume_all(bootstrap, topic, args.records, NullSink())  # warm-up: page cache, connections
    for round_ in range(args.rounds):
        for name, make in variants.items():
            rate, us = consume_all(bootstrap, topic, args.records, make())
            rates[name].append(rate)
            cpu[name].append(us)
            print(
                f"round {round_ + 1} evidence {name:<10} {rate:9.0f} records/s  {us:6.1f} CPU us/record",
                file=sys.stderr,
            )

    # Each round measures every variant back to back, so the ratio within a round
    # cancels most of the drift of a shared machine; the median ratio is the headline.
    print(
        f"\nconsumer throughput, {args.records} records, {args.partitions} partitions, "
        f"{args.rounds} interleaved rounds (median)"
    )
    print(
        f"  evidence off        {statistics.median(rates['off']):9.0f} records/s "
        f"{statistics.median(cpu['off']):6.1f} CPU us/record   (reference)"
    )
    worst = float("inf")
    for name in variants:
        if name == "off":
            continue
        ratio = statistics.median(
            on / off for on, off in zip(rates[name], rates["off"], strict=True)
        )
        cost = statistics.median(on / off for on, off in zip(cpu[name], cpu["off"], strict=True))
        worst = min(worst, ratio)
        print(
            f"  evidence {name:<10} {statistics.median(rates[name]):9.0f} records/s "
            f"{statistics.median(cpu[name]):6.1f} CPU us/record   "
            f"throughput ratio {ratio:.2f}, CPU cost ratio {cost:.2f}"
        )
    print(f"  target: throughput ratio >= 0.80 -> {'met' if worst >= 0.8 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
