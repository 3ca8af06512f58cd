"""Throughput of unmodified consumers with and without riverbed's instrumentation.

The same backlog of contract messages is consumed by fresh consumer groups,
in alternating rounds: once as a plain program, once with the instrumentation
on PYTHONPATH (``--consumer-evidence instrumented``: evidence files written as
riverbed writes them). The consumers do no work of their own, so the figures
are the worst case: any real handling time dilutes the overhead. Each figure
is records per second from the first record handed out to the last, and the
consumer process's CPU time per record over the same stretch, measured inside
the program. ``--work-us`` gives each record some handling time, as a real
consumer has. The headline is, per consumer shape, the median over rounds of
the ratio instrumented / plain within a round.

Consumer shapes (the common ones):

- ``kp-iterate``  kafka-python, ``for msg in consumer``, auto-commit (the tutorial's)
- ``kp-poll``     kafka-python, ``poll(max_records=500)``, ``commit()`` after each batch
- ``ck-poll``     confluent-kafka, ``poll()`` one message at a time, auto-commit
- ``ck-consume``  confluent-kafka, ``consume(500)``, ``commit(asynchronous=False)`` per batch
- ``ak-getmany``  aiokafka, ``await getmany(max_records=500)``, ``await commit()`` per batch
- ``ak-iterate``  aiokafka, ``async for msg in consumer``, auto-commit (its tutorial's)
- ``jvm-poll``    a JVM: kafka-clients ``KafkaConsumer.poll()``, ``commitSync()`` per batch,
  instrumented by riverbed's Java agent (``JAVA_TOOL_OPTIONS``); needs Java and Maven
  (examples/jvm and the agent are built once)

Targets: an instrumented Python consumer (kafka-python, confluent-kafka, aiokafka) keeps
at least 0.8× its plain throughput, a JVM one 0.9× (the summary says whether each shape
meets its target).

    .venv/bin/python benchmarks/instrument_overhead.py                 # own 1-broker cluster
    .venv/bin/python benchmarks/instrument_overhead.py --records 100000 --rounds 5
    .venv/bin/python benchmarks/instrument_overhead.py --work-us 200    # 0.2 ms of work per record
    .venv/bin/python benchmarks/instrument_overhead.py --bootstrap-servers HOST:PORT
    .venv/bin/python benchmarks/instrument_overhead.py --shapes jvm-poll,ak-getmany,ak-iterate

The machine may be shared with other work: figures are noisy, the ratio of
interleaved rounds much less so.

A JVM spends its first second or so compiling the hot loop (and the agent's advice in it),
which with a backlog of 200,000 records is a large share of the measured stretch. For JVM
shapes the clocks therefore start after a warm-up (``--jvm-warmup``, default a quarter of
the backlog, the same in both rounds): the figure is the throughput a running service
keeps. ``--jvm-warmup 0`` measures from the first record, as the Python shapes do.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import uuid
from pathlib import Path
from typing import Any

from workloads.instrument import instrument_env

#: The consumer programs, as a user would write them. Each prints one JSON line:
#: records, seconds and CPU seconds from the first record to the last.
PROGRAMS = {
    "kp-iterate": """
        import json, os, time
        from kafka import KafkaConsumer
        want = int(os.environ["RECORDS"])
        work_s = float(os.environ["WORK_US"]) / 1e6

        def work():  # the application's handling of one record (busy, like real work)
            end = time.perf_counter() + work_s
            while time.perf_counter() < end:
                pass
        c = KafkaConsumer(os.environ["KAFKA_TOPIC"], bootstrap_servers=[os.environ["KAFKA_BROKER"]],
                          group_id=os.environ["KAFKA_GROUP"], auto_offset_reset="earliest")
        n = 0
        for msg in c:
            if n == 0:
                t0, cpu0 = time.perf_counter(), time.process_time()
            n += 1
            work()
            if n == want:
                break
        print(json.dumps({"n": n, "s": time.perf_counter() - t0, "cpu": time.process_time() - cpu0}))
        c.close()
    """,
    "kp-poll": """
        import json, os, time
        from kafka import KafkaConsumer
        want = int(os.environ["RECORDS"])
        work_s = float(os.environ["WORK_US"]) / 1e6

        def work():  # the application's handling of one record (busy, like real work)
            end = time.perf_counter() + work_s
            while time.perf_counter() < end:
                pass
        c = KafkaConsumer(bootstrap_servers=[os.environ["KAFKA_BROKER"]], group_id=os.environ["KAFKA_GROUP"],
                          auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=500)
        c.subscribe([os.environ["KAFKA_TOPIC"]])
        n = 0
        while n < want:
            batch = c.poll(timeout_ms=1000)
            if batch and n == 0:
                t0, cpu0 = time.perf_counter(), time.process_time()
            for records in batch.values():
                for _ in records:
                    work()
                    n += 1
            if batch:
                c.commit()
        print(json.dumps({"n": n, "s": time.perf_counter() - t0, "cpu": time.process_time() - cpu0}))
        c.close()
    """,
    "ck-poll": """
        import json, os, time
        from confluent_kafka import Consumer
        want = int(os.environ["RECORDS"])
        work_s = float(os.environ["WORK_US"]) / 1e6

        def work():  # the application's handling of one record (busy, like real work)
            end = time.perf_counter() + work_s
            while time.perf_counter() < end:
                pass
        c = Consumer({"bootstrap.servers": os.environ["KAFKA_BROKER"], "group.id": os.environ["KAFKA_GROUP"],
                      "auto.offset.reset": "earliest"})
        c.subscribe([os.environ["KAFKA_TOPIC"]])
        n = 0
        while n < want:
            msg = c.poll(1.0)
            if msg is None or msg.error():
                continue
            if n == 0:
                t0, cpu0 = time.perf_counter(), time.process_time()
            work()
            n += 1
        print(json.dumps({"n": n, "s": time.perf_counter() - t0, "cpu": time.process_time() - cpu0}))
        c.close()
    """,
    "ck-consume": """
        import json, os, time
        from confluent_kafka import Consumer
        want = int(os.environ["RECORDS"])
        work_s = float(os.environ["WORK_US"]) / 1e6

        def work():  # the application's handling of one record (busy, like real work)
            end = time.perf_counter() + work_s
            while time.perf_counter() < end:
                pass
        c = Consumer({"bootstrap.servers": os.environ["KAFKA_BROKER"], "group.id": os.environ["KAFKA_GROUP"],
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        c.subscribe([os.environ["KAFKA_TOPIC"]])
        n = 0
        while n < want:
            batch = [m for m in c.consume(num_messages=500, timeout=1.0) if not m.error()]
            if batch and n == 0:
                t0, cpu0 = time.perf_counter(), time.process_time()
            for _ in batch:
                work()
                n += 1
            if batch:
                c.commit(asynchronous=False)
        print(json.dumps({"n": n, "s": time.perf_counter() - t0, "cpu": time.process_time() - cpu0}))
        c.close()
    """,
    "ak-getmany": """
        import asyncio, json, os, time
        from aiokafka import AIOKafkaConsumer
        want = int(os.environ["RECORDS"])
        work_s = float(os.environ["WORK_US"]) / 1e6

        def work():  # the application's handling of one record (busy, like real work)
            end = time.perf_counter() + work_s
            while time.perf_counter() < end:
                pass

        async def main():
            c = AIOKafkaConsumer(os.environ["KAFKA_TOPIC"], bootstrap_servers=os.environ["KAFKA_BROKER"],
                                 group_id=os.environ["KAFKA_GROUP"], auto_offset_reset="earliest",
                                 enable_auto_commit=False)
            await c.start()
            n = 0
            while n < want:
                batch = await c.getmany(timeout_ms=500, max_records=500)
                for records in batch.values():
                    for msg in records:
                        if n == 0:
                            t0, cpu0 = time.perf_counter(), time.process_time()
                        n += 1
                        work()
                if batch:
                    await c.commit()
            print(json.dumps({"n": n, "s": time.perf_counter() - t0, "cpu": time.process_time() - cpu0}))
            await c.stop()

        asyncio.run(main())
    """,
    "ak-iterate": """
        import asyncio, json, os, time
        from aiokafka import AIOKafkaConsumer
        want = int(os.environ["RECORDS"])
        work_s = float(os.environ["WORK_US"]) / 1e6

        def work():  # the application's handling of one record (busy, like real work)
            end = time.perf_counter() + work_s
            while time.perf_counter() < end:
                pass

        async def main():
            c = AIOKafkaConsumer(os.environ["KAFKA_TOPIC"], bootstrap_servers=os.environ["KAFKA_BROKER"],
                                 group_id=os.environ["KAFKA_GROUP"], auto_offset_reset="earliest")
            await c.start()
            n = 0
            async for msg in c:
                if n == 0:
                    t0, cpu0 = time.perf_counter(), time.process_time()
                n += 1
                work()
                if n == want:
                    break
            print(json.dumps({"n": n, "s": time.perf_counter() - t0, "cpu": time.process_time() - cpu0}))
            await c.stop()

        asyncio.run(main())
    """,
}

#: JVM shapes: the examples jar's mode that runs each (examples/jvm, Bench.java).
JVM_SHAPES = {"jvm-poll": "bench-poll"}
#: The throughput ratio (instrumented / plain) each client's shapes must keep.
TARGETS = {"kp-": 0.8, "ck-": 0.8, "ak-": 0.8, "jvm-": 0.9}


def target_of(shape: str) -> float | None:
    return next((v for prefix, v in TARGETS.items() if shape.startswith(prefix)), None)


def produce_backlog(bootstrap: str, topic: str, count: int, body_bytes: int) -> None:
    from kafka import KafkaProducer

    from workloads.message import encode

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256_000
    )
    body = "x" * body_bytes
    for i in range(count):
        key = f"k{i % 100}"
        producer.send(topic, key=key.encode(), value=encode("bench", key, i // 100, body))
    producer.flush()
    producer.close()


def consume_once(
    program: Path | list[str],
    bootstrap: str,
    topic: str,
    records: int,
    evidence: Path | None,
    work_us: float = 0.0,
    java_agent: Path | None = None,
    warmup: int = 0,
) -> dict[str, float]:
    """One fresh group consuming the backlog; returns records/s and CPU µs per record.
    ``program``: a Python program's path, or a JVM's command (instrumented with
    ``java_agent``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERBED_")}
    env.update(
        KAFKA_BROKER=bootstrap.split(",")[0],
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        KAFKA_TOPIC=topic,
        KAFKA_GROUP=f"bench-{uuid.uuid4().hex[:8]}",
        RECORDS=str(records),
        WORK_US=str(work_us),
        WARMUP_RECORDS=str(warmup),
    )
    if evidence is not None:
        env.update(instrument_env(evidence, f"bench-{uuid.uuid4().hex[:6]}", topic, base=env))
        if java_agent is not None:
            from riverbed.jvm import java_tool_options

            env["JAVA_TOOL_OPTIONS"] = java_tool_options(java_agent, env.get("JAVA_TOOL_OPTIONS"))
    cmd = program if isinstance(program, list) else [sys.executable, str(program)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{out.stdout}\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {"rate": result["n"] / result["s"], "cpu_us": result["cpu"] / result["n"] * 1e6}


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
    parser.add_argument("--rounds", type=int, default=3, help="rounds of plain/instrumented")
    parser.add_argument(
        "--work-us",
        type=float,
        default=0.0,
        help="simulated handling time per record, in µs (default 0: the worst case)",
    )
    parser.add_argument(
        "--shapes",
        default=",".join([*PROGRAMS, *JVM_SHAPES]),
        help=f"comma-separated, of {', '.join([*PROGRAMS, *JVM_SHAPES])}",
    )
    parser.add_argument(
        "--jvm-warmup",
        type=float,
        default=0.25,
        help="JVM shapes: the share of the backlog consumed before the clocks start "
        "(default 0.25; 0 measures from the first record)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.jvm_warmup < 1:
        parser.error("--jvm-warmup is a share of the backlog: 0 ≤ value < 1")
    shapes = [s for s in args.shapes.split(",") if s]
    known = [*PROGRAMS, *JVM_SHAPES]
    unknown = [s for s in shapes if s not in known]
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(unknown)}; use {', '.join(known)}")

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
            return _measure(args, shapes, bootstrap, Path(tmp))
        finally:
            if cluster is not None:
                cluster.down()


def _measure(args: argparse.Namespace, shapes: list[str], bootstrap: str, tmp: Path) -> int:
    from riverbed.kafka.admin import create_topic

    topic = f"bench-{uuid.uuid4().hex[:6]}"
    rf = 1 if "," not in bootstrap else 3
    create_topic(bootstrap, topic, partitions=args.partitions, replication_factor=rf)
    print(f"producing {args.records} records to {topic} …", file=sys.stderr)
    produce_backlog(bootstrap, topic, args.records, args.body_bytes)
    programs: dict[str, Path | list[str]] = {}
    agent = None
    for shape in shapes:
        if shape in JVM_SHAPES:
            from riverbed.jvm import agent_jar, examples_jar

            agent = agent_jar(lambda line: print(line, file=sys.stderr))
            jar = examples_jar(lambda line: print(line, file=sys.stderr))
            programs[shape] = ["java", "-jar", str(jar), JVM_SHAPES[shape]]
            continue
        path = tmp / f"{shape}.py"
        path.write_text(textwrap.dedent(PROGRAMS[shape]))
        programs[shape] = path

    print(
        f"{'shape':<11} {'round':>5} {'plain rec/s':>12} {'instr rec/s':>12} {'ratio':>6} "
        f"{'plain cpu µs/rec':>17} {'instr cpu µs/rec':>17}"
    )
    summary = []
    for shape in shapes:
        ratios, cpu_plain, cpu_instr = [], [], []
        warmup = int(args.records * args.jvm_warmup) if shape in JVM_SHAPES else 0
        for i in range(1, args.rounds + 1):
            plain = consume_once(
                programs[shape], bootstrap, topic, args.records, None, args.work_us, None, warmup
            )
            instr = consume_once(
                programs[shape],
                bootstrap,
                topic,
                args.records,
                tmp / f"evidence-{shape}-{i}",
                args.work_us,
                agent if shape in JVM_SHAPES else None,
                warmup,
            )
            ratio = instr["rate"] / plain["rate"]
            ratios.append(ratio)
            cpu_plain.append(plain["cpu_us"])
            cpu_instr.append(instr["cpu_us"])
            print(
                f"{shape:<11} {i:>5} {plain['rate']:>12,.0f} {instr['rate']:>12,.0f} "
                f"{ratio:>6.2f} {plain['cpu_us']:>17.1f} {instr['cpu_us']:>17.1f}",
                flush=True,
            )
        summary.append(
            (
                shape,
                statistics.median(ratios),
                statistics.median(cpu_plain),
                statistics.median(cpu_instr),
            )
        )
    print()
    print("median over rounds (instrumented / plain throughput; CPU µs per record):")
    missed = []
    for shape, ratio, plain_cpu, instr_cpu in summary:
        target = target_of(shape)
        verdict = ""
        if target is not None:
            verdict = f"   target ≥ {target:.1f}: " + ("met" if ratio >= target else "MISSED")
            if ratio < target:
                missed.append(shape)
        print(
            f"  {shape:<11} throughput ratio {ratio:.2f}   cpu {plain_cpu:.1f} → {instr_cpu:.1f} µs/record "
            f"(+{instr_cpu - plain_cpu:.1f}){verdict}"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
