"""Shared fixtures: one real 3-broker Kafka cluster for the whole test session."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from riverbed.kafka.cluster import LocalKafkaCluster, free_base_port

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


#: The session cluster's SASL user; the password (with a space, as passwords may have) is
#: new per session, so that tests can look for it where it must never appear.
SASL_USER = "riverbed-test"


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaCluster]:
    """A real 3-broker KRaft cluster on 127.0.0.1 (free ports), up for the session.

    Besides PLAINTEXT it listens for SASL_SSL clients (a CA made for the session,
    SASL/PLAIN and SCRAM for :data:`SASL_USER`): the external-Kafka tests use it as
    a staging cluster would be used. Its broker logs are copied to
    test-artifacts/kafka-logs/ at the end, so a failed CI run keeps them.
    """
    state = tmp_path_factory.mktemp("kafka-cluster")
    # Listener slots for network faults (each replica through its own proxies):
    # unused listeners cost nothing, and the network-fault tests share this cluster.
    slots = 4
    cluster = LocalKafkaCluster(
        state,
        brokers=3,
        base_port=free_base_port(3, proxy_slots=slots, sasl_ssl=True),
        heap="384m",
        proxy_slots=slots,
        sasl_ssl_users={SASL_USER: f"pw {uuid.uuid4().hex}"},
    )
    try:
        cluster.up(timeout=240)
        yield cluster
    finally:
        cluster.down()
        dest = ARTIFACTS / "kafka-logs"
        shutil.rmtree(dest, ignore_errors=True)
        for i in cluster.broker_ids:
            for name in ("server.log", "stdout.log"):
                src = cluster.broker_dir(i) / name
                if src.exists():
                    (dest / f"broker-{i}").mkdir(parents=True, exist_ok=True)
                    shutil.copy(src, dest / f"broker-{i}" / name)


@pytest.fixture
def kafka(kafka_cluster: LocalKafkaCluster) -> LocalKafkaCluster:
    """The session cluster with every broker running: restarts any broker an
    earlier test stopped or killed, and waits until all answer metadata."""
    for i in kafka_cluster.broker_ids:
        if kafka_cluster.pid(i) is None:
            kafka_cluster.start_broker(i, wait=False)
    kafka_cluster.wait_ready(timeout=180)
    return kafka_cluster


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic (or group) name unique to this test."""
    base = re.sub(r"[^a-zA-Z0-9._-]+", "-", request.node.name)[:60]
    return f"{base}-{uuid.uuid4().hex[:6]}"
