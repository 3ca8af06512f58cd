"""The reference consumer's throughput on each client, measured in the same run.

The same backlog of contract messages is consumed by fresh consumer groups, in
interleaved rounds, by the reference consumer on:

- kafka-python (classic protocol, range): the reference;
- confluent-kafka / librdkafka, classic protocol (range);
- confluent-kafka / librdkafka, consumer protocol (KIP-848, uniform).

Each consumes with the full reference logic — validation of every record, file
evidence written before each synchronous commit (``after-process``) — and no
simulated processing time, so the figure is what the consumer itself can carry.
Each figure is records per second from the first assignment until the whole
backlog is processed, plus the process's CPU time per record (librdkafka's
threads included). The headline is the median over rounds of each client's
ratio to kafka-python within a round. Target: the librdkafka consumer is never
the bottleneck where kafka-python is not (ratio >= 1.0).

    .venv/bin/python benchmarks/consumer_clients.py               # own 1-broker cluster
    .venv/bin/python benchmarks/consumer_clients.py --bootstrap-servers HOST:PORT --records 100000

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
from workloads.consumer.cli import consumer_class
from workloads.consumer.config import ConsumerConfig, ProcessingTime, default_assignor
from workloads.evidence.sinks import FileSink

#: (name, client, group protocol)
VARIANTS = (
    ("kafka-python", "kafka-python", "classic"),
    ("librdkafka classic", "confluent-kafka", "classic"),
    ("librdkafka consumer", "confluent-kafka", "consumer"),
)


def produce_backlog(bootstrap: str, topic: str, count: int, body_bytes: int) -> None:
    from confluent_kafka import Producer

    from workloads.message import encode

    producer = Producer(
        {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20, "batch.size": 256_000}
    )
    body = "x" * body_bytes
    for i in range(count):
        key = f"k{i % 100}"
        while True:
            try:
                producer.produce(
                    topic, key=key.encode(), value=encode("bench", key, i // 100, body)
                )
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    producer.flush(60)


def consume_all(
    bootstrap: str, topic: str, count: int, client: str, protocol: str, evidence: Path
) -> tuple[float, float]:
    """Records per second, and CPU microseconds per record, for one fresh group of one
    member consuming the whole backlog."""
    config = ConsumerConfig(
        bootstrap_servers=bootstrap,
        topic=topic,
        group=f"bench-{uuid.uuid4().hex[:8]}",
        replica="bench",
        member=f"bench-{uuid.uuid4().hex[:6]}",
        client=client,
        group_protocol=protocol,
        assignor=default_assignor(protocol),
        processing=ProcessingTime("fixed", 0.0),
        max_poll_records=500,
        session_timeout_ms=10_000 if protocol == "classic" else None,
        heartbeat_interval_ms=3000 if protocol == "classic" else None,
    )
    stop = StopSignal()
    sink = FileSink(evidence / "consumed" / f"{config.member}.jsonl")
    member: Any = consumer_class(client)(config, sink, stop=stop)
    thread = threading.Thread(target=member.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300
    while not member.stats.assigned:
        if time.monotonic() > deadline or not thread.is_alive():
            raise SystemExit(f"{client}/{protocol}: the consumer never got an assignment")
        time.sleep(0.005)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    while member.stats.processed < count:
        if time.monotonic() > deadline or not thread.is_alive():
            raise SystemExit(
                f"{client}/{protocol}: only {member.stats.processed} of {count} records processed"
            )
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
    parser.add_argument("--records", type=int, default=50_000, help="backlog size (default 50000)")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--body-bytes", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
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
    print(f"producing {args.records} records to {topic} …", file=sys.stderr)
    produce_backlog(bootstrap, topic, args.records, args.body_bytes)
    evidence = tmp / "evidence"
    rates: dict[str, list[float]] = {name: [] for name, _, _ in VARIANTS}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in VARIANTS}
    # Warm-up: page cache, connections, imports.
    consume_all(bootstrap, topic, args.records, "kafka-python", "classic", evidence)
    for round_ in range(args.rounds):
        # Rotate the order each round: no variant always runs first (or last) on a busy machine.
        order = VARIANTS[round_ % 3 :] + VARIANTS[: round_ % 3]
        for name, client, protocol in order:
            rate, us = consume_all(bootstrap, topic, args.records, client, protocol, evidence)
            rates[name].append(rate)
            cpu[name].append(us)
            print(
                f"round {round_ + 1} {name:<20} {rate:9.0f} records/s  {us:6.1f} CPU us/record",
                file=sys.stderr,
            )
    ref = VARIANTS[0][0]
    print(
        f"\nreference consumer throughput, {args.records} records of {args.body_bytes} B, "
        f"{args.partitions} partitions, file evidence, after-process commits, "
        f"{args.rounds} interleaved rounds (median)"
    )
    print(
        f"  {ref:<20} {statistics.median(rates[ref]):9.0f} records/s "
        f"{statistics.median(cpu[ref]):6.1f} CPU us/record   (reference)"
    )
    worst = float("inf")
    for name, _, _ in VARIANTS[1:]:
        ratio = statistics.median(a / b for a, b in zip(rates[name], rates[ref], strict=True))
        cost = statistics.median(a / b for a, b in zip(cpu[name], cpu[ref], strict=True))
        worst = min(worst, ratio)
        print(
            f"  {name:<20} {statistics.median(rates[name]):9.0f} records/s "
            f"{statistics.median(cpu[name]):6.1f} CPU us/record   "
            f"throughput ratio {ratio:.2f}, CPU cost ratio {cost:.2f}"
        )
    print(
        f"  target: librdkafka throughput ratio >= 1.00 -> {'met' if worst >= 1.0 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
