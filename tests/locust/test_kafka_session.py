"""The per-process Kafka session in this process (confluent driver: native threads, no
monkey patching needed): backpressure and what close() records."""

from __future__ import annotations

from pathlib import Path

import pytest

from locustfiles.acks import AckRecorder
from locustfiles.kafka_session import KafkaSendSession
from locustfiles.settings import KafkaSettings
from riverbed.kafka.cluster import LocalKafkaCluster
from tests.locust.conftest import read_acks

pytestmark = pytest.mark.integration


def session(kafka: LocalKafkaCluster, topic: str, run_dir: Path, **config: str) -> KafkaSendSession:
    settings = KafkaSettings(
        bootstrap=kafka.bootstrap_servers,
        topic=topic,
        driver="confluent",
        acks="all",
        linger_ms=5,
        compression="none",
        client_config=dict(config),
        max_in_flight=5,
        close_timeout=10.0,
    )
    reported: list = []
    recorder = AckRecorder(run_dir, "lw", 3, report=lambda *a: reported.append(a))
    s = KafkaSendSession(settings, recorder, "body")
    s.start(timeout=15)
    return s


def test_in_flight_is_bounded_and_close_fails_what_never_left_the_client(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
):
    import gevent

    kafka.create_topic(topic_name, partitions=1, replication_factor=3, min_insync_replicas=2)
    # Batches wait 60 s for more records: nothing leaves the client during the test.
    s = session(kafka, topic_name, tmp_path, **{"linger.ms": "60000"})
    assert s.partitions == 1
    for _ in range(5):
        assert s.send() is True
    assert s.in_flight == 5
    sixth = gevent.spawn(s.send)
    sixth.join(timeout=1.5)
    assert not sixth.ready(), "the sixth send must wait for a free slot"

    s.close(timeout=0.2)  # no outcome in time: the queued records are purged
    assert sixth.get(timeout=5) is False  # the waiting user is released, nothing sent
    records, issues = read_acks(tmp_path)
    assert issues == []
    assert sorted(r["status"] for r in records) == ["fail"] * 5
    assert all("_PURGE_QUEUE" in r["error"] for r in records)
    assert s.send() is False  # closed


def test_close_waits_for_acknowledgements(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
):
    kafka.create_topic(topic_name, partitions=2, replication_factor=3, min_insync_replicas=2)
    s = session(kafka, topic_name, tmp_path)
    sent = sum(s.send() for _ in range(40))  # more than max_in_flight: waits for acks
    s.close()
    records, issues = read_acks(tmp_path)
    assert issues == [] and sent == 40
    assert [r["status"] for r in records] == ["ok"] * 40
    assert s.recorder.counts == {"ok": 40, "fail": 0, "unknown": 0}
