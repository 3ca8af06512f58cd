"""The output drain against a real Kafka cluster: every output record, matched to its input."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from riverbed.kafka.cluster import LocalKafkaCluster
from workloads.drain import drain_output_topic
from workloads.evidence.reader import read_jsonl
from workloads.evidence.schema import FILE_TYPES
from workloads.message import encode

pytestmark = pytest.mark.integration


def test_output_drain_names_each_output_s_input_and_skips_aborted_transactions(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    from kafka import KafkaProducer

    b = kafka.bootstrap_servers
    kafka.create_topic(topic_name, partitions=2)
    # What a service writes: enriched input JSON (identity in the value), a bare
    # result naming its input in the header, a corrupted forward, and junk.
    enriched = {**json.loads(encode("p1", "k1", 0, "hello")), "result": 42}
    corrupt = {**json.loads(encode("p1", "k1", 1, "hello")), "body": "tampered"}
    plain = KafkaProducer(bootstrap_servers=b, acks="all")
    try:
        plain.send(topic_name, partition=0, value=json.dumps(enriched).encode())
        plain.send(
            topic_name,
            partition=0,
            value=b'{"total": 7}',
            headers=[("riverbed-id", b'{"producer":"p1","key":"k2","seq":3}')],
        )
        plain.send(topic_name, partition=1, value=json.dumps(corrupt).encode())
        plain.send(topic_name, partition=1, value=b"not json")
        plain.flush(timeout=30)
    finally:
        plain.close()
    # A transactional service: an aborted output was never delivered; a committed one was.
    tx = KafkaProducer(bootstrap_servers=b, transactional_id=f"{topic_name}-tx")
    try:
        tx.init_transactions()
        tx.begin_transaction()
        tx.send(topic_name, partition=1, value=encode("p1", "k9", 0, "aborted"))
        tx.flush(timeout=30)
        tx.abort_transaction()
        tx.begin_transaction()
        tx.send(topic_name, partition=1, value=encode("p1", "k9", 0, "committed"))
        tx.commit_transaction()
    finally:
        tx.close()

    out = tmp_path / "evidence" / "output.jsonl"
    result = drain_output_topic(b, topic_name, out, timeout_s=30)
    assert result["finished"], result
    assert (result["records"], result["unidentified"], result["corrupt"]) == (5, 1, 1)
    assert set(result["end_offsets"]) == {"0", "1"} and isinstance(result["t"], float)
    lines = list(read_jsonl(out, FILE_TYPES["output"]))
    by_pos = {(r["partition"], r["offset"]): r for r in lines}
    assert len(by_pos) == 5
    first = by_pos[(0, 0)]
    assert (first["producer"], first["key"], first["seq"]) == ("p1", "k1", 0)
    assert (first["identity"], first["sha_ok"]) == ("value", True)
    assert first["t"] > 1.6e9  # the record timestamp, in seconds
    assert first["timestamp_type"] == "CreateTime"  # a plain topic: the producer's time
    header = by_pos[(0, 1)]
    assert (header["producer"], header["key"], header["seq"], header["identity"]) == (
        "p1",
        "k2",
        3,
        "header",
    )
    assert header["sha_ok"] is None  # no body and sha to check
    assert by_pos[(1, 0)]["sha_ok"] is False and by_pos[(1, 0)]["seq"] == 1
    junk = by_pos[(1, 1)]
    assert junk["identity"] is None and junk["producer"] is None and "not JSON" in junk["reason"]
    committed = [r for r in lines if r["key"] == "k9"]
    assert len(committed) == 1 and committed[0]["sha_ok"] is True


def test_an_output_topic_riverbed_creates_carries_append_times_whatever_the_producer_set(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    from kafka import KafkaProducer

    from riverbed.kafka.admin import OUTPUT_TOPIC_CONFIG

    kafka.create_topic(topic_name, partitions=1, config=OUTPUT_TOPIC_CONFIG)
    kept = 1_600_000_000_000  # a service keeping its input's timestamp (Kafka Streams' default)
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers, acks="all")
    try:
        before = time.time()
        for _ in range(2):
            producer.send(topic_name, value=encode("p1", "k1", 0, "hello"), timestamp_ms=kept)
        producer.flush(timeout=30)
        after = time.time()
    finally:
        producer.close()
    out = tmp_path / "output.jsonl"
    assert drain_output_topic(kafka.bootstrap_servers, topic_name, out, timeout_s=30)["finished"]
    lines = list(read_jsonl(out, FILE_TYPES["output"]))
    assert [r["timestamp_type"] for r in lines] == ["LogAppendTime", "LogAppendTime"]
    # The broker's append time, not the one the producer set (1 s for the clocks).
    assert all(before - 1 <= r["t"] <= after + 1 for r in lines), lines


def test_output_drain_of_a_missing_topic_does_not_finish(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    result = drain_output_topic(
        kafka.bootstrap_servers, f"{topic_name}-missing", tmp_path / "o.jsonl", timeout_s=10
    )
    assert result["finished"] is False and "does not exist" in result["detail"]
    assert result["records"] == 0
