"""The consumer against the real local cluster: failover, commit modes, shutdown, growth, poison."""

from __future__ import annotations

import json
import signal
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from riverbed.kafka.admin import add_partitions
from riverbed.kafka.cluster import LocalKafkaCluster
from tests.workloads.support import (
    Background,
    acked,
    caught_up,
    committed_offsets,
    consumed,
    consumer,
    member_of,
    owned,
    processed_ids,
    processes,
    produce,
    wait_for,
)
from workloads.evidence.reader import read_jsonl
from workloads.message import encode

pytestmark = pytest.mark.integration


def _members(evidence: Path, replicas: list[str], timeout: float = 30) -> dict[str, str]:
    """Each replica's member id, once its evidence file exists."""
    out = {}
    for r in replicas:
        out[r] = wait_for(partial(member_of, evidence, r), timeout, f"{r}'s evidence file")
    return out


def test_sigkill_one_of_three_others_take_over_and_nothing_acknowledged_is_missed(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    b = kafka.bootstrap_servers
    kafka.create_topic(topic_name, partitions=6)
    evidence = tmp_path / "evidence"
    replicas = ["c1", "c2", "c3"]
    with processes() as procs:
        started = {
            r: consumer(procs, tmp_path, b, topic_name, topic_name, r, "--processing-ms", "2")
            for r in replicas
        }
        members = _members(evidence, replicas)

        def balanced() -> bool:
            ev = consumed(evidence)
            return all(len(owned(ev[members[r]])) == 2 for r in replicas)

        wait_for(balanced, 45, "3 members owning 2 partitions each")
        load = Background(b, topic_name, 1500, evidence, interval_s=0.004)
        wait_for(lambda: processed_ids(consumed(evidence)), 20, "first processed records")
        time.sleep(1.0)

        victim = "c2"
        victim_partitions = owned(consumed(evidence)[members[victim]])
        started[victim].signal(signal.SIGKILL)
        t_kill = time.time()
        assert started[victim].wait(10) == -signal.SIGKILL
        survivors = [r for r in replicas if r != victim]

        def taken_over() -> bool:
            ev = consumed(evidence)
            after = set()
            for r in survivors:
                for rec in ev[members[r]]:
                    if rec["type"] == "assigned" and rec["t"] > t_kill:
                        after |= set(rec["partitions"])
            return victim_partitions <= after and (
                owned(ev[members[survivors[0]]]) | owned(ev[members[survivors[1]]])
            ) == set(range(6))

        wait_for(taken_over, 30, "the survivors to be assigned the killed member's partitions")
        t_takeover = time.time()
        load.join(60)
        wait_for(lambda: caught_up(b, topic_name, topic_name), 60, "the group to catch up")
        for r in survivors:
            started[r].signal(signal.SIGTERM)
        for r in survivors:
            assert started[r].wait(30) == 0, started[r].output()[-2000:]

    ev = consumed(evidence)
    ok = {(a["producer"], a["key"], a["seq"]) for a in acked(evidence) if a["status"] == "ok"}
    assert len(ok) == 1500
    missing = ok - processed_ids(ev)
    assert not missing, (
        f"{len(missing)} acknowledged messages never processed, e.g. {sorted(missing)[:5]}"
    )
    assert not any(r["type"] == "stop" for r in ev[members[victim]])  # SIGKILL: no stop line
    for r in survivors:
        assert ev[members[r]][-1]["type"] == "stop" and ev[members[r]][-1]["reason"] == "sigterm"
    print(f"takeover observed {t_takeover - t_kill:.1f}s after SIGKILL (session timeout 6s)")


def test_before_process_commit_then_sigkill_leaves_committed_offsets_beyond_processed(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    b = kafka.bootstrap_servers
    kafka.create_topic(topic_name, partitions=1)
    evidence = tmp_path / "evidence"
    produce(b, topic_name, 60, evidence)
    with processes() as procs:
        c = consumer(
            procs,
            tmp_path,
            b,
            topic_name,
            topic_name,
            "c1",
            "--commit-mode",
            "before-process",
            "--processing-ms",
            "200",
            "--max-poll-records",
            "20",
        )
        member = _members(evidence, ["c1"])["c1"]
        path = evidence / "consumed" / f"{member}.jsonl"

        def committed_not_yet_processed() -> bool:
            lines = path.read_text().splitlines()
            return bool(lines) and json.loads(lines[-1])["type"] == "committed"

        wait_for(committed_not_yet_processed, 30, "a commit ahead of processing", interval=0.01)
        c.signal(signal.SIGKILL)  # mid-batch: every record of it takes 200 ms
        c.wait(10)

    records = list(read_jsonl(path))
    commits = [r for r in records if r["type"] == "committed" and r["ok"]]
    processed = [o for r in records if r["type"] == "processed" for o, *_ in r["records"]]
    committed = max(r["offsets"]["0"] for r in commits)
    next_processed = max(processed, default=-1) + 1
    # The skip the report flags: the group will resume at `committed`, but records
    # from `next_processed` on were never processed by anyone.
    assert committed > next_processed
    assert committed_offsets(b, topic_name, topic_name) == {0: committed}


def test_sigterm_member_leaves_at_once_without_waiting_for_the_session_timeout(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    b = kafka.bootstrap_servers
    kafka.create_topic(topic_name, partitions=4)
    evidence = tmp_path / "evidence"
    session = ["--session-timeout-ms", "30000"]  # waiting for it would be obvious
    with processes() as procs:
        c1 = consumer(procs, tmp_path, b, topic_name, topic_name, "c1", *session)
        c2 = consumer(procs, tmp_path, b, topic_name, topic_name, "c2", *session)
        members = _members(evidence, ["c1", "c2"])
        wait_for(
            lambda: all(len(owned(consumed(evidence)[m])) == 2 for m in members.values()),
            45,
            "two members with two partitions each",
        )
        c2.signal(signal.SIGTERM)
        t_term = time.time()
        assert c2.wait(20) == 0, c2.output()[-2000:]
        wait_for(
            lambda: owned(consumed(evidence)[members["c1"]]) == {0, 1, 2, 3},
            25,
            "c1 to own every partition",
        )
        recovered = time.time() - t_term
        c1.stop()
    ev = consumed(evidence)[members["c2"]]
    assert [r["type"] for r in ev[-2:]] == ["revoked", "stop"]
    assert ev[-1]["reason"] == "sigterm"
    assert recovered < 15, (
        f"took {recovered:.1f}s: as if the group waited for the 30 s session timeout"
    )
    print(f"group recovered {recovered:.1f}s after SIGTERM (session timeout 30 s)")


def test_added_partitions_are_consumed_within_the_metadata_refresh_interval(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    from kafka import KafkaProducer

    b = kafka.bootstrap_servers
    kafka.create_topic(topic_name, partitions=2)
    evidence = tmp_path / "evidence"
    with processes() as procs:
        for r in ("c1", "c2"):
            consumer(procs, tmp_path, b, topic_name, topic_name, r, "--metadata-max-age-ms", "5000")
        members = _members(evidence, ["c1", "c2"])
        wait_for(
            lambda: all(len(owned(consumed(evidence)[m])) == 1 for m in members.values()),
            45,
            "two members with one partition each",
        )
        add_partitions(b, topic_name, 4)
        t_added = time.time()
        producer = KafkaProducer(bootstrap_servers=b, acks="all")
        for p in (2, 3):
            producer.send(
                topic_name, key=b"k", value=encode("t", f"k{p}", 0, {"p": p}), partition=p
            )
        producer.flush()
        producer.close()

        def first_processed_on_new() -> dict[int, float]:
            seen: dict[int, float] = {}
            for records in consumed(evidence).values():
                for r in records:
                    if r["type"] == "processed" and r["partition"] in (2, 3):
                        seen.setdefault(r["partition"], r["t"])
            return seen if len(seen) == 2 else {}

        seen = wait_for(first_processed_on_new, 30, "records of the new partitions to be processed")
    delay = max(seen.values()) - t_added
    assert delay < 5.0 + 8.0, f"new partitions consumed {delay:.1f}s after they were added"
    print(f"new partitions consumed {delay:.1f}s after they were added (metadata max age 5 s)")


def test_every_member_rejoins_after_each_partition_change(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    """The group leader notices a partition change and leads the rebalance; with
    kafka-python 3.0 it used to take the JoinGroup/SyncGroup result only when one
    poll() spanned the whole round trip, and otherwise stayed out of the group for
    good (alive, polling, owning nothing). Each change must end with every member
    assigned in the same generation, newer than before the change, and every
    partition owned."""
    b = kafka.bootstrap_servers
    kafka.create_topic(topic_name, partitions=3)
    evidence = tmp_path / "evidence"
    replicas = ["c1", "c2", "c3"]
    with processes() as procs:
        for r in replicas:
            consumer(procs, tmp_path, b, topic_name, topic_name, r, "--metadata-max-age-ms", "3000")
        members = list(_members(evidence, replicas).values())

        def settled(partitions: int, after: int) -> dict[str, int]:
            ev = consumed(evidence)
            gens = {}
            for m in members:
                assigned = [r["generation"] for r in ev.get(m, []) if r["type"] == "assigned"]
                if not assigned or assigned[-1] is None or assigned[-1] <= after:
                    return {}
                gens[m] = assigned[-1]
            owners: set[int] = set().union(*(owned(ev[m]) for m in members))
            return gens if len(set(gens.values())) == 1 and owners == set(range(partitions)) else {}

        gens = wait_for(partial(settled, 3, 0), 60, "three members in one generation")
        for partitions in (4, 6, 8):
            add_partitions(b, topic_name, partitions)
            gens = wait_for(
                partial(settled, partitions, max(gens.values())),
                60,
                f"every member assigned in one newer generation after the change to {partitions}",
            )
            print(f"{partitions} partitions: generations {gens}")


def test_poison_records_become_invalid_events_and_the_partition_moves_on(
    kafka: LocalKafkaCluster, topic_name: str, tmp_path: Path
) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    b = kafka.bootstrap_servers
    kafka.create_topic(topic_name, partitions=1)
    dlq = f"{topic_name}-dlq"
    kafka.create_topic(dlq, partitions=1)
    good = encode("t", "k", 0, "fine")
    corrupt = json.loads(encode("t", "k", 1, "original"))
    corrupt["body"] = "tampered"
    values = [
        good,
        json.dumps(corrupt).encode(),  # sha no longer matches the body
        b"\xff\xfe not json",
        json.dumps({"producer": "t", "key": "k"}).encode(),  # contract fields missing
        encode("t", "k", 2, "fine again"),
    ]
    producer = KafkaProducer(bootstrap_servers=b, acks="all")
    for v in values:
        producer.send(topic_name, key=b"k", value=v)
    producer.flush()
    producer.close()
    evidence = tmp_path / "evidence"
    with processes() as procs:
        c = consumer(procs, tmp_path, b, topic_name, topic_name, "c1", "--dead-letter-topic", dlq)
        wait_for(
            lambda: committed_offsets(b, topic_name, topic_name).get(0) == 5,
            30,
            "commit past all 5",
        )
        c.signal(signal.SIGTERM)
        assert c.wait(20) == 0
    (records,) = consumed(evidence).values()
    invalid = {r["offset"]: r["reason"] for r in records if r["type"] == "invalid"}
    assert invalid == {1: "corrupt", 2: "undecodable", 3: "schema"}
    processed = [o for r in records if r["type"] == "processed" for o, *_ in r["records"]]
    assert processed == [0, 4]

    reader = KafkaConsumer(bootstrap_servers=b, enable_auto_commit=False)
    tp = TopicPartition(dlq, 0)
    reader.assign([tp])
    reader.seek_to_beginning(tp)
    dead: list[Any] = []
    deadline = time.time() + 15
    while len(dead) < 3 and time.time() < deadline:
        for recs in reader.poll(500).values():
            dead.extend(recs)
    reader.close()
    assert [dict(r.headers)["riverbed.reason"] for r in dead] == [
        b"corrupt",
        b"undecodable",
        b"schema",
    ]
    assert dict(dead[0].headers)["riverbed.source"] == f"{topic_name}/0/1".encode()
    assert dead[1].value == values[2]
