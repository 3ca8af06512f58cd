"""The local Apache Kafka cluster, against real brokers."""

from __future__ import annotations

import threading
import time

import pytest

from riverbed.kafka.admin import describe_topic, topic_config
from riverbed.kafka.cluster import LocalKafkaCluster

pytestmark = pytest.mark.integration


def _consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> dict:
    """Read the topic from the beginning (no group) until ``expected`` records or timeout."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        seen: dict[tuple[int, int], bytes] = {}
        deadline = time.monotonic() + timeout
        while len(seen) < expected and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    seen[(tp.partition, r.offset)] = r.value
        return seen
    finally:
        consumer.close()


def test_three_brokers_replicated_topic_round_trip(kafka: LocalKafkaCluster, topic_name: str):
    from kafka import KafkaProducer

    assert [b.up for b in kafka.status()] == [True, True, True]
    kafka.create_topic(topic_name, partitions=6, replication_factor=3, min_insync_replicas=2)
    meta = describe_topic(kafka.bootstrap_servers, topic_name)
    assert len(meta["partitions"]) == 6
    assert all(sorted(p["replica_nodes"]) == [1, 2, 3] for p in meta["partitions"])
    assert topic_config(kafka.bootstrap_servers, topic_name)["min.insync.replicas"] == "2"

    producer = KafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True
    )
    futures = [
        (i, producer.send(topic_name, key=f"k{i % 13}".encode(), value=f"v{i}".encode()))
        for i in range(2000)
    ]
    producer.flush()
    acked = {}
    for i, f in futures:
        md = f.get(timeout=30)
        acked[(md.partition, md.offset)] = f"v{i}".encode()
    producer.close()
    assert len(acked) == 2000
    assert len({p for p, _ in acked}) == 6  # keys spread over every partition

    seen = _consume_all(kafka.bootstrap_servers, topic_name, 2000)
    assert seen == acked


def test_hard_kill_while_producing_loses_no_acknowledged_message(
    kafka: LocalKafkaCluster, topic_name: str
):
    from kafka import KafkaProducer

    kafka.create_topic(topic_name, partitions=6, replication_factor=3, min_insync_replicas=2)
    producer = KafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        retries=2_147_483_647,
        delivery_timeout_ms=60_000,
        request_timeout_ms=10_000,
        linger_ms=5,
    )
    acked: dict[tuple[int, int], bytes] = {}
    failed: list[Exception] = []
    acked_after_kill = threading.Event()
    killed_at: list[float] = []
    lock = threading.Lock()

    def on_ok(value: bytes, t_send: float, md) -> None:
        with lock:
            acked[(md.partition, md.offset)] = value
        if killed_at and t_send > killed_at[0]:
            acked_after_kill.set()

    stop = threading.Event()

    def produce() -> None:
        i = 0
        # Bounded: at most 20 s or 20 000 messages.
        deadline = time.monotonic() + 20
        while not stop.is_set() and i < 20_000 and time.monotonic() < deadline:
            value = f"m{i}".encode()
            t = time.time()
            fut = producer.send(topic_name, key=f"k{i % 29}".encode(), value=value)
            fut.add_callback(lambda md, v=value, t=t: on_ok(v, t, md))
            fut.add_errback(failed.append)
            i += 1
            time.sleep(0.002)

    thread = threading.Thread(target=produce)
    thread.start()
    time.sleep(2)
    pid = kafka.kill_broker(2)
    killed_at.append(time.time())
    assert pid is not None and kafka.pid(2) is None
    # Production goes on with two brokers: sends made after the kill are acknowledged.
    assert acked_after_kill.wait(30), "no acknowledgement after the broker was killed"
    time.sleep(2)
    stop.set()
    thread.join()
    producer.flush(timeout=60)
    producer.close()

    kafka.start_broker(2, timeout=120)
    # The restarted broker catches up and rejoins every partition's ISR.
    deadline = time.monotonic() + 90
    while True:
        parts = describe_topic(kafka.bootstrap_servers, topic_name)["partitions"]
        if all(2 in p["isr_nodes"] for p in parts):
            break
        assert time.monotonic() < deadline, f"broker 2 not back in every ISR: {parts}"
        time.sleep(1)

    seen = _consume_all(kafka.bootstrap_servers, topic_name, len(acked))
    missing = {k: v for k, v in acked.items() if seen.get(k) != v}
    assert len(acked) > 500
    assert not missing, f"{len(missing)} acknowledged messages missing, e.g. {list(missing)[:5]}"


def test_down_leaves_no_process_and_is_idempotent(tmp_path):
    from riverbed.kafka.cluster import free_base_port
    from riverbed.processes import alive as _alive

    cluster = LocalKafkaCluster(tmp_path / "k", brokers=1, base_port=free_base_port(1))
    assert cluster.up(timeout=120) == "started"
    assert cluster.up(timeout=60) == "running"
    pids = [cluster.pid(i) for i in cluster.broker_ids]
    assert all(pids)
    stopped = cluster.down()
    assert sorted(stopped) == sorted(pids)
    assert not any(_alive(p) for p in pids if p)
    assert cluster._strays() == []
    assert cluster.down() == []  # twice is fine
    assert all(not b.up for b in cluster.status(check_metadata=False))


def test_stale_pid_file_counts_as_down(tmp_path):
    import os

    cluster = LocalKafkaCluster(tmp_path / "k", brokers=1, base_port=41092)
    cluster.broker_dir(1).mkdir(parents=True)
    pid_file = cluster.broker_dir(1) / "broker.pid"
    pid_file.write_text(f"{os.getpid()}\n")  # alive, but not a Kafka broker
    assert cluster.pid(1) is None
    assert not pid_file.exists()
    pid_file.write_text("999999999\n")  # no such process
    assert cluster.pid(1) is None


def test_a_process_just_spawned_is_recognised_by_its_command_line():
    """Right after exec the kernel may still show an empty command line; a broker
    just started must not be taken for a stale pid (its pid file would be deleted)."""
    import subprocess

    from riverbed.processes import settled_cmdline

    for _ in range(50):
        proc = subprocess.Popen(["sleep", "5"], start_new_session=True)
        try:
            assert "sleep" in settled_cmdline(proc.pid)
        finally:
            proc.kill()
            proc.wait()
