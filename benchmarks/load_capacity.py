"""How many acknowledged messages per second each load path reaches, on one cluster, in one run.

    .venv/bin/python benchmarks/load_capacity.py            # ~4 minutes on 2 cores
    .venv/bin/python benchmarks/load_capacity.py --seconds 10 --skip-confluent

Starts its own local Kafka cluster (free ports, a temporary state directory;
stopped at the end), creates one topic, and measures with the same message size
and acks=all:

1. Kafka's own ProducerPerformance, from the resolved Kafka jars, after a warm-up
   run, first and again last: the mean of the two is the reference;
2. a bare kafka-python send loop (one process, callbacks counting acks);
3. the Locust Kafka user on kafka-python, 1 and 2 processes;
4. a bare confluent-kafka loop and the Locust Kafka user on it, 1 and 2 processes.

Rates are acknowledged messages over the time from the first send to the last
acknowledgement. Printed as ratios against ProducerPerformance and against the
bare client each Locust path uses. Targets: a Locust path at least 0.8 of its
bare client; the best riverbed path at least 0.5 of ProducerPerformance.
Figures on a shared machine are noisy: compare ratios from one run, not runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from riverbed.kafka.cluster import LocalKafkaCluster, free_base_port  # noqa: E402
from riverbed.kafka.distribution import resolve  # noqa: E402
from workloads.message import encode  # noqa: E402

TOPIC = "load-capacity"


@dataclass
class Result:
    path: str
    acked: int
    seconds: float
    driver: str | None = None
    """For a Locust path: the client it uses (its bare loop is the reference)."""
    cpu_s: float = 0.0
    """CPU time (user + system) of the client process(es)."""

    @property
    def rate(self) -> float:
        return self.acked / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_msg(self) -> float:
        return self.cpu_s / self.acked * 1e6 if self.acked else float("inf")


def children_cpu() -> float:
    """CPU seconds of every child process reaped so far (Locust reaps its workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def value_size(body_bytes: int) -> int:
    """Bytes of one message value as the Locust user encodes it (typical ids and seq)."""
    return len(encode("lw-benchhost-12345-abcdef", "k42", 12345, "x" * body_bytes, ts=time.time()))


# ---- the bare loops (run in a child process: no gevent, nothing else in the interpreter) ----


def bare_loop(driver: str, bootstrap: str, seconds: float, body_bytes: int) -> dict[str, float]:
    """Send for ``seconds``, then flush; returns acked count and first-send..last-ack time."""
    body = "x" * body_bytes
    keys = [f"k{i}" for i in range(100)]
    state = {"acked": 0, "last": 0.0}
    producer_id = "bare-1"

    if driver == "kafka-python":
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=5)
        producer.send(TOPIC, b"warm-up").get(timeout=30)

        def on_ack(_: object) -> None:
            state["acked"] += 1
            state["last"] = time.time()

        t0 = time.time()
        seq = 0
        while time.time() - t0 < seconds:
            for _ in range(100):
                key = keys[seq % 100]
                value = encode(producer_id, key, seq, body)
                producer.send(TOPIC, value=value, key=key.encode()).add_callback(on_ack)
                seq += 1
        producer.flush()
        producer.close()
    else:
        from confluent_kafka import Producer

        producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "acks": "all",
                "linger.ms": 5,
                "enable.idempotence": True,
            }
        )

        def delivered(err: object, _msg: object) -> None:
            if err is None:
                state["acked"] += 1
                state["last"] = time.time()

        producer.produce(TOPIC, b"warm-up")
        producer.flush(30)
        state["acked"] = 0
        t0 = time.time()
        seq = 0
        while time.time() - t0 < seconds:
            for _ in range(100):
                key = keys[seq % 100]
                value = encode(producer_id, key, seq, body)
                while True:
                    try:
                        producer.produce(TOPIC, value, key.encode(), on_delivery=delivered)
                        break
                    except BufferError:
                        producer.poll(0.01)
                producer.poll(0)
                seq += 1
        producer.flush(60)
    return {"acked": state["acked"], "seconds": state["last"] - t0, "sent": seq}


def _bare_child(driver: str, bootstrap: str, seconds: float, body_bytes: int) -> tuple[dict, float]:
    cpu0 = children_cpu()
    out = subprocess.run(
        [sys.executable, __file__, "_bare", driver, bootstrap, str(seconds), str(body_bytes)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=seconds + 180,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1]), children_cpu() - cpu0


def run_bare(driver: str, bootstrap: str, seconds: float, body_bytes: int) -> Result:
    _, startup_cpu = _bare_child(driver, bootstrap, 0.0, body_bytes)  # start-up and close only
    data, cpu = _bare_child(driver, bootstrap, seconds, body_bytes)
    return Result(
        f"bare {driver} loop",
        int(data["acked"]),
        float(data["seconds"]),
        cpu_s=max(0.0, cpu - startup_cpu),
    )


# ---- ProducerPerformance ---------------------------------------------------------------------


def run_producer_performance(
    bootstrap: str, records: int, record_size: int, label: str = "Kafka ProducerPerformance"
) -> Result:
    _, _, startup_cpu = _producer_performance(bootstrap, 1000, record_size)  # JVM start-up
    sent, seconds, cpu = _producer_performance(bootstrap, records, record_size)
    return Result(label, sent, seconds, cpu_s=max(0.0, cpu - startup_cpu))


def _producer_performance(
    bootstrap: str, records: int, record_size: int
) -> tuple[int, float, float]:
    dist = resolve()
    cmd = [
        dist.java,
        "-cp",
        dist.classpath,
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        TOPIC,
        "--num-records",
        str(records),
        "--record-size",
        str(record_size),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={bootstrap}",
        "acks=all",
    ]
    cpu0 = children_cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True)
    cpu = children_cpu() - cpu0
    # Final line: "N records sent, R records/sec (X MB/sec), … latency …"
    final = [ln for ln in proc.stdout.splitlines() if "records sent" in ln and "50th" in ln]
    if not final:
        raise SystemExit(f"unexpected ProducerPerformance output:\n{proc.stdout}\n{proc.stderr}")
    m = re.match(r"\s*(\d+) records sent, ([\d.]+) records/sec", final[-1])
    assert m, final[-1]
    sent, rate = int(m.group(1)), float(m.group(2))
    return sent, sent / rate, cpu


# ---- the Locust Kafka user ---------------------------------------------------------------------


def run_locust(
    driver: str,
    processes: int,
    bootstrap: str,
    seconds: float,
    body_bytes: int,
    users: int,
    work: Path,
) -> Result:
    # A one-user, one-second run measures start-up and shutdown CPU, subtracted below.
    _, _, _, startup_cpu = _locust(driver, processes, bootstrap, 1, 1, 1.0, body_bytes, work)
    acked, first, last, cpu = _locust(
        driver, processes, bootstrap, users, 0, seconds, body_bytes, work
    )
    label = f"Locust Kafka user, {driver}, {processes} process{'es' if processes > 1 else ''}"
    return Result(
        label,
        acked,
        last - first if acked else 0.0,
        driver=driver,
        cpu_s=max(0.0, cpu - startup_cpu),
    )


def _locust(
    driver: str,
    processes: int,
    bootstrap: str,
    users: int,
    user_rate: float,
    seconds: float,
    body_bytes: int,
    work: Path,
) -> tuple[int, float, float, float]:
    """One headless run: (acknowledged, first send, last ack, CPU seconds)."""
    run_dir = Path(tempfile.mkdtemp(prefix=f"locust-{driver}-{processes}-", dir=work))
    cmd = [
        sys.executable, "-m", "locust",
        "-f", "locustfiles/kafka_producer.py",
        "--headless", "--only-summary",
        "-u", str(users), "-r", str(users), "-t", f"{seconds:g}s",
        "--user-rate", f"{user_rate:g}",
        "--kafka-driver", driver,
        "--kafka-bootstrap", bootstrap,
        "--kafka-topic", TOPIC,
        "--body-bytes", str(body_bytes),
        "--run-dir", str(run_dir),
    ]  # fmt: skip
    if processes > 1:
        cmd += ["--processes", str(processes)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RIVERBED_", "LOCUST_"))}
    cpu0 = children_cpu()
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 180
    )
    cpu = children_cpu() - cpu0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"locust failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    acked, first, last = 0, float("inf"), 0.0
    for path in (run_dir / "evidence" / "acks").glob("*.jsonl"):
        with path.open() as fh:
            for line in fh:
                rec = json.loads(line)
                first = min(first, rec["t_send"])
                if rec["status"] == "ok":
                    acked += 1
                    last = max(last, rec["t_ack"])
    shutil.rmtree(run_dir, ignore_errors=True)
    return acked, first, last, cpu


# ---- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="length of each Python run (default 15)"
    )
    parser.add_argument(
        "--body-bytes", type=int, default=128, help="message body size (default 128)"
    )
    parser.add_argument("--users", type=int, default=10, help="Locust users (default 10)")
    parser.add_argument("--brokers", type=int, default=3, help="brokers in the cluster (default 3)")
    parser.add_argument(
        "--partitions", type=int, default=6, help="partitions of the topic (default 6)"
    )
    parser.add_argument(
        "--pp-records",
        type=int,
        default=600_000,
        help="records ProducerPerformance sends (default 600000)",
    )
    parser.add_argument(
        "--skip-confluent", action="store_true", help="measure kafka-python paths only"
    )
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="riverbed-load-capacity-"))
    cluster = LocalKafkaCluster(
        work / "kafka", brokers=args.brokers, base_port=free_base_port(args.brokers)
    )
    results: list[Result] = []
    try:
        print(f"starting a {args.brokers}-broker Kafka cluster …", flush=True)
        cluster.up(timeout=240)
        rf = min(3, args.brokers)
        cluster.create_topic(TOPIC, partitions=args.partitions, replication_factor=rf)
        bootstrap = cluster.bootstrap_servers
        size = value_size(args.body_bytes)
        print(
            f"topic {TOPIC}: {args.partitions} partitions, replication {rf}; values of {size} bytes; acks=all"
        )

        def step(label: str, fn: Callable[..., Result], *a: object) -> Result:
            print(f"  measuring {label} …", flush=True)
            r = fn(*a)
            results.append(r)
            print(
                f"    {r.acked} acknowledged in {r.seconds:.1f} s = {r.rate:,.0f} msg/s", flush=True
            )
            return r

        # Brokers run slower until the JIT warmed them up: warm up, then measure the
        # reference at the start and again at the end (their mean is the reference).
        print("  warming the brokers up …", flush=True)
        _producer_performance(bootstrap, args.pp_records // 2, size)
        pp = "Kafka ProducerPerformance"
        step(pp, run_producer_performance, bootstrap, args.pp_records, size, f"{pp} (first)")
        drivers = ["kafka-python"] + ([] if args.skip_confluent else ["confluent"])
        for driver in drivers:
            step(f"bare {driver}", run_bare, driver, bootstrap, args.seconds, args.body_bytes)
            for processes in (1, 2):
                step(
                    f"Locust {driver} x{processes}",
                    run_locust,
                    driver,
                    processes,
                    bootstrap,
                    args.seconds,
                    args.body_bytes,
                    args.users,
                    work,
                )
        step(pp, run_producer_performance, bootstrap, args.pp_records, size, f"{pp} (last)")
    finally:
        cluster.down()
        shutil.rmtree(work, ignore_errors=True)

    report(results)
    return 0


def report(results: list[Result]) -> None:
    references = [r for r in results if "ProducerPerformance" in r.path]
    reference = Result(
        "ProducerPerformance, mean",
        sum(r.acked for r in references),
        sum(r.seconds for r in references),
        cpu_s=sum(r.cpu_s for r in references),
    )
    results = [*results, reference]
    bare = {r.driver or r.path.split()[1]: r for r in results if r.path.startswith("bare ")}
    print()
    print(
        f"{'path':<46} {'msg/s':>9} {'/ PerfTool':>10} {'/ bare':>7} {'CPU us/msg':>11} {'bare/this CPU':>14}"
    )
    for r in results:
        b = bare.get(r.driver or "")
        vs_bare = f"{r.rate / b.rate:.2f}" if b and b.rate else ""
        cpu_ratio = f"{b.cpu_us_per_msg / r.cpu_us_per_msg:.2f}" if b and r.acked else ""
        print(
            f"{r.path:<46} {r.rate:>9,.0f} {r.rate / reference.rate:>10.2f} {vs_bare:>7} "
            f"{r.cpu_us_per_msg:>11.1f} {cpu_ratio:>14}"
        )
    locust = [r for r in results if r.driver]
    if not locust:
        return
    best = max(locust, key=lambda r: r.rate)
    print()
    ratio = best.rate / reference.rate
    print(
        f"best riverbed path: {best.path}: {ratio:.2f} of ProducerPerformance "
        f"(target 0.5: {'met' if ratio >= 0.5 else 'NOT met'})"
    )
    for r in locust:
        b = bare.get(r.driver or "")
        if b and b.rate:
            ratio = r.rate / b.rate
            print(
                f"{r.path}: {ratio:.2f} of its bare client "
                f"(target 0.8: {'met' if ratio >= 0.8 else 'NOT met'})"
            )
    print(
        "msg/s: acknowledged messages from first send to last ack.\n"
        "CPU us/msg: client CPU time per acknowledged message, start-up and shutdown excluded;\n"
        "'bare/this CPU' is how much of the bare client's efficiency the path keeps: the figure\n"
        "least disturbed by other load on the machine. One run on a shared machine: the\n"
        "throughput figures are noisy."
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_bare":
        _, _, drv, boot, secs, body = sys.argv
        print(json.dumps(bare_loop(drv, boot, float(secs), int(body))))
        sys.exit(0)
    sys.exit(main())
