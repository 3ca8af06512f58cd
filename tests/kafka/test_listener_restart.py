"""A local Kafka left running without the network-fault listeners: the next run that needs
them restarts it with them, keeps its data and says so; a session still using it is not
pulled from under its consumers."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from riverbed.errors import HarnessError
from riverbed.kafka.admin import create_topic, topic_config
from riverbed.kafka.cluster import LocalKafkaCluster, free_base_port, port_in_use
from riverbed.platforms.local import LocalPlatform
from riverbed.runner import LocalRunPlatform
from riverbed.spec import RunSpec
from tests.kafka.test_cluster import _consume_all
from tests.run.test_run_local import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NETWORK_LATENCY = str(ROOT / "experiments/local/network-latency.json")
#: A busy machine may take a while to start a JVM, twice.
START_TIMEOUT_S = 180


def produce(bootstrap: str, topic: str, count: int) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for i in range(count):
            producer.send(topic, f"before-{i}".encode())
        producer.flush(timeout=60)
    finally:
        producer.close()


@pytest.fixture
def plain_cluster(tmp_path, monkeypatch):
    """A 1-broker cluster of its own, started the way `riverbed run` without network
    faults starts it (no per-replica listeners), holding a topic with records."""
    base = free_base_port(1, proxy_slots=2)
    cluster = LocalKafkaCluster(tmp_path / "kafka", brokers=1, base_port=base, heap="256m")
    monkeypatch.setenv("RIVERBED_KAFKA_STATE_DIR", str(cluster.state_dir))
    monkeypatch.setenv("RIVERBED_KAFKA_BASE_PORT", str(base))
    monkeypatch.setenv("RIVERBED_LOCAL_STATE_DIR", str(tmp_path / "local"))
    try:
        assert cluster.up(timeout=START_TIMEOUT_S) == "started"
        create_topic(cluster.bootstrap_servers, "kept", partitions=1, replication_factor=1)
        produce(cluster.bootstrap_servers, "kept", 50)
        yield cluster
    finally:
        cluster.down(purge=True)


def test_a_run_that_needs_the_listeners_restarts_kafka_with_them_and_keeps_its_data(
    plain_cluster,
):
    said: list[str] = []
    spec = RunSpec(
        "restart",
        brokers=1,
        partitions=1,
        replication_factor=1,
        min_insync_replicas=1,
        consumers=2,
        topic="fresh",
        experiments=[NETWORK_LATENCY],
    ).validate()
    pids_before = plain_cluster.running()
    old_pid = plain_cluster.pid(1)
    platform = LocalRunPlatform(say=said.append)
    bootstrap = platform.prepare(spec, lambda text: None)

    assert spec.network_faults
    reopened = LocalKafkaCluster.open(plain_cluster.state_dir)
    assert reopened.proxy_slots == 2 and pids_before == [1]
    assert reopened.pid(1) not in (None, old_pid)  # a new broker process…
    assert all(port_in_use(reopened.slot_port(r, 1)) for r in (1, 2))  # …with the listeners
    (line,) = said
    assert "restarted the local Kafka cluster" in line and "data are kept" in line
    # The records written before the restart are still there.
    seen = _consume_all(bootstrap, "kept", 50)
    assert sorted(seen.values()) == sorted(f"before-{i}".encode() for i in range(50))
    # The run's own topic stamps each record with its append time (the latency's start).
    assert topic_config(bootstrap, "fresh")["message.timestamp.type"] == "LogAppendTime"


def test_a_session_using_kafka_keeps_it_and_gets_the_fix(plain_cluster, tmp_path):
    # A `riverbed up` session's supervisor (a stand-in process with its command line).
    local = tmp_path / "local"
    local.mkdir()
    supervisor = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "riverbed.platforms.supervisor"]
    )
    try:
        (local / "supervisor.pid").write_text(f"{supervisor.pid}\n")
        deadline = time.monotonic() + 10
        while LocalPlatform(local).supervisor_pid() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        old_pid = plain_cluster.pid(1)
        with pytest.raises(HarnessError) as caught:
            LocalPlatform(local).kafka_up(1, proxy_slots=2, say=lambda text: None)
        assert "running without the per-replica listeners" in caught.value.message
        assert caught.value.fix and "riverbed down" in caught.value.fix
        assert plain_cluster.pid(1) == old_pid  # untouched
    finally:
        supervisor.kill()
        supervisor.wait()
