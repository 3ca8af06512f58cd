"""The instrumentation around real aiokafka consumers (asyncio), on a real cluster.

Each test runs an unmodified asyncio program as a subprocess with riverbed's
instrumentation on PYTHONPATH — ``getmany()`` batches, ``getone()``, ``async for``
iteration, ``commit()``, auto-commit in aiokafka's own task, a rebalance listener of its
own, ``seek()`` — and checks the evidence it wrote against what the program itself saw.
"""

from __future__ import annotations

import json

import pytest

from tests.instrument import test_clients
from tests.instrument.test_clients import (
    RECORDS,
    assert_claims_follow_their_hand_outs,
    consumer_env,
    evidence,
    finished_offsets,
    handed_offsets,
    run,
)

pytestmark = pytest.mark.integration

pytest.importorskip("aiokafka")

#: The 3-partition topic of the other client tests (a fixture).
topic = test_clients.topic

PRELUDE = """
import asyncio, json, os
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

TOPIC = os.environ["KAFKA_TOPIC"]
EXPECT = int(os.environ["EXPECT"])
SEEN = open("seen.jsonl", "a")

def saw(**event):
    SEEN.write(json.dumps(event) + "\\n")
    SEEN.flush()
"""


def seen(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "seen.jsonl").read_text().splitlines()]


def test_getmany_with_its_own_async_listener_and_commits(kafka_cluster, topic, tmp_path):
    env = consumer_env(kafka_cluster, topic, tmp_path)
    run(
        PRELUDE
        + """
class Listener(ConsumerRebalanceListener):
    async def on_partitions_revoked(self, revoked):
        saw(event="revoked", partitions=sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned):
        saw(event="assigned", partitions=sorted(tp.partition for tp in assigned))

async def main():
    consumer = AIOKafkaConsumer(
        bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"], group_id=os.environ["KAFKA_GROUP"],
        enable_auto_commit=False, auto_offset_reset="earliest")
    consumer.subscribe([TOPIC], listener=Listener())
    await consumer.start()
    n = 0
    try:
        while n < EXPECT:
            batch = await consumer.getmany(timeout_ms=500, max_records=10)
            for tp, records in batch.items():
                for r in records:
                    saw(event="record", partition=r.partition, offset=r.offset)
                    n += 1
            if batch:
                await consumer.commit()
        await consumer.getmany(timeout_ms=10)  # back for more: the last batch is finished
    finally:
        await consumer.stop()

asyncio.run(main())
""",
        env,
        tmp_path,
    )
    lines = evidence(tmp_path)
    app = seen(tmp_path)
    kinds = [r["type"] for r in lines]
    assert lines[0]["type"] == "start" and lines[0]["client"] == "aiokafka"
    assert lines[0]["commit_mode"] == "manual" and lines[0]["instrumented"] is True
    assigned = next(r for r in lines if r["type"] == "assigned")
    assert assigned["partitions"] == [0, 1, 2] and assigned["member_id"]
    assert assigned["generation"] is not None
    # The application's own listener was still called, with what riverbed recorded.
    assert [e["partitions"] for e in app if e["event"] == "assigned"] == [[0, 1, 2]]
    records = {(e["partition"], e["offset"]) for e in app if e["event"] == "record"}
    assert len(records) == RECORDS + 1
    assert handed_offsets(lines) == records
    assert set(finished_offsets(lines)) == records
    claims = [r for r in lines if r["type"] == "committing"]
    assert claims and {c["how"] for c in claims} == {"commit"}
    outcomes = [r for r in lines if r["type"] == "committed"]
    assert outcomes and all(r["ok"] for r in outcomes)
    assert_claims_follow_their_hand_outs(lines)
    assert kinds[-1] == "stop" and lines[-1]["reason"] == "close"
    # stop() leaves the group without calling the listener: riverbed records a revocation
    # exactly when the application's listener sees one (of something: the first join
    # revokes nothing).
    revoked = [e for e in app if e["event"] == "revoked" and e["partitions"]]
    assert kinds.count("revoked") == len(revoked)


def test_async_iteration_with_auto_commit_claims_what_was_handed_out(
    kafka_cluster, topic, tmp_path
):
    env = consumer_env(kafka_cluster, topic, tmp_path)
    run(
        PRELUDE
        + """
async def main():
    async with AIOKafkaConsumer(
        TOPIC, bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        group_id=os.environ["KAFKA_GROUP"], auto_offset_reset="earliest",
        auto_commit_interval_ms=100) as consumer:
        n = 0
        async for msg in consumer:
            saw(event="record", partition=msg.partition, offset=msg.offset)
            await asyncio.sleep(0.02)  # the work awaits: the auto-commit task runs meanwhile
            n += 1
            if n == EXPECT:
                break

asyncio.run(main())
""",
        env,
        tmp_path,
    )
    lines = evidence(tmp_path)
    app = seen(tmp_path)
    assert lines[0]["commit_mode"] == "auto"
    records = {(e["partition"], e["offset"]) for e in app}
    assert handed_offsets(lines) == records
    # Every record but the one in hand when it broke out of the loop came back.
    assert len(set(finished_offsets(lines))) == RECORDS
    claims = [r for r in lines if r["type"] == "committing"]
    assert {c["how"] for c in claims} >= {"auto", "close"}
    assert_claims_follow_their_hand_outs(lines)
    # aiokafka commits what it handed out, while the application awaits its work: some
    # auto-commit claimed a record still in hand.
    in_hand_claims = 0
    held: dict[int, int] = {}
    for r in lines:
        if r["type"] == "handed":
            held[r["partition"]] = r["last"]
        elif r["type"] == "finished":
            if held.get(r["partition"]) == r["last"]:
                held.pop(r["partition"])
        elif r["type"] == "committing" and r["how"] == "auto":
            in_hand_claims += any(
                int(p) in held and o > held[int(p)] for p, o in r["offsets"].items()
            )
    assert in_hand_claims > 0
    assert lines[-1]["type"] == "stop" and lines[-1]["reason"] == "close"


def test_getone_seek_back_retry(kafka_cluster, topic, tmp_path):
    env = consumer_env(kafka_cluster, topic, tmp_path)
    run(
        PRELUDE
        + """
async def main():
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        group_id=os.environ["KAFKA_GROUP"], enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    failed_once = False
    done = set()
    try:
        while len(done) < EXPECT:
            msg = await consumer.getone()
            tp = TopicPartition(msg.topic, msg.partition)
            if msg.offset == 3 and not failed_once:
                failed_once = True
                saw(event="retry", partition=msg.partition, offset=msg.offset)
                consumer.seek(tp, msg.offset)
                continue
            done.add((msg.partition, msg.offset))
            await consumer.commit({tp: msg.offset + 1})
    finally:
        await consumer.stop()

asyncio.run(main())
""",
        env,
        tmp_path,
    )
    lines = evidence(tmp_path)
    retry = seen(tmp_path)[0]
    seeks = [r for r in lines if r["type"] == "seek"]
    assert [(s["partition"], s["offset"]) for s in seeks] == [(retry["partition"], 3)]
    # The record sought back was handed twice and finished once, after the seek.
    finished = finished_offsets(lines)
    assert finished.count((retry["partition"], 3)) == 1
    claims = [r for r in lines if r["type"] == "committing"]
    assert claims and {c["how"] for c in claims} == {"commit"}
    assert_claims_follow_their_hand_outs(lines)
