"""The instrumentation around real kafka-python and confluent-kafka consumers, on a real cluster.

Each test runs an unmodified consumer program as a subprocess with riverbed's
instrumentation on PYTHONPATH, and checks the evidence it wrote: assignments
with member ids, every record handed out, commits (sync, async, auto) with
their outcome, the application's own callbacks still called, and how the
consumer ended.
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from riverbed.kafka.admin import create_topic
from workloads.evidence.reader import read_jsonl
from workloads.evidence.schema import FILE_TYPES
from workloads.instrument import instrument_env
from workloads.message import encode

pytestmark = pytest.mark.integration

RECORDS = 60
#: The consumer programs' interpreter: this one, or another environment (an older
#: Python, other client versions) to check the instrumentation against.
CONSUMER_PYTHON = os.environ.get("RIVERBED_TEST_CONSUMER_PYTHON") or sys.executable


@pytest.fixture
def topic(kafka_cluster) -> str:
    """A 3-partition topic holding RECORDS contract messages and one value that is not one."""
    from kafka import KafkaProducer

    name = f"instr-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_cluster.bootstrap_servers, name, partitions=3, replication_factor=1)
    producer = KafkaProducer(bootstrap_servers=kafka_cluster.bootstrap_servers, acks="all")
    for i in range(RECORDS):
        key = f"k{i % 7}"
        producer.send(name, key=key.encode(), value=encode("p", key, i // 7, "body"))
    producer.send(name, key=b"poison", value=b"not json")
    producer.flush()
    producer.close()
    return name


def consumer_env(kafka_cluster, topic: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    servers = kafka_cluster.bootstrap_servers
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERBED_")}
    env.update(
        KAFKA_BROKER=servers.split(",")[0],
        KAFKA_BOOTSTRAP_SERVERS=servers,
        KAFKA_TOPIC=topic,
        KAFKA_GROUP=f"g-{uuid.uuid4().hex[:8]}",
        EXPECT=str(RECORDS + 1),
        PYTHONUNBUFFERED="1",
    )
    env.update(
        instrument_env(tmp_path / "evidence", "consumer-1.1", topic, "consumer-1", 1, base=env)
    )
    env.update(extra)
    return env


def start(script: str, env: dict[str, str], tmp_path: Path) -> subprocess.Popen[str]:
    path = tmp_path / "consumer.py"
    path.write_text(textwrap.dedent(script))
    return subprocess.Popen(
        [CONSUMER_PYTHON, str(path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )


def run(script: str, env: dict[str, str], tmp_path: Path, timeout: float = 90) -> str:
    proc = start(script, env, tmp_path)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # Never leave a consumer behind: it would keep reconnecting to a cluster the
        # session has stopped, spinning a core.
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"the consumer did not finish within {timeout:.0f}s:\n{out}") from None
    assert proc.returncode == 0, out
    return out


def evidence(tmp_path: Path, member: str = "consumer-1.1") -> list[dict]:
    path = tmp_path / "evidence" / "consumed" / f"{member}.jsonl"
    return list(read_jsonl(path, FILE_TYPES["consumed"]))


def finished_offsets(lines: list[dict]) -> list[tuple[int, int]]:
    return [
        (r["partition"], o)
        for r in lines
        if r["type"] == "finished"
        for o in range(r["first"], r["last"] + 1)
    ]


def handed_offsets(lines: list[dict]) -> set[tuple[int, int]]:
    """Every record the evidence shows handed out (a ``finished`` line implies it)."""
    out = {
        (r["partition"], o)
        for r in lines
        if r["type"] == "handed"
        for o in range(r["first"], r["last"] + 1)
    }
    return out | set(finished_offsets(lines))


def assert_claims_follow_their_hand_outs(lines: list[dict]) -> None:
    """Every record below a claim (``committing``) was handed out on an earlier line, and a
    claim never finishes anything: what was in hand stays in hand until a later line."""
    seen: set[tuple[int, int]] = set()
    for i, r in enumerate(lines):
        if r["type"] in ("handed", "finished"):
            seen |= {(r["partition"], o) for o in range(r["first"], r["last"] + 1)}
        elif r["type"] == "committing":
            for p, offset in r["offsets"].items():
                below = {o for (q, o) in seen if q == int(p) and o < offset}
                assert below == set(range(offset)), (i, p, offset)  # a fresh group starts at 0
        elif r["type"] == "committed":
            assert any(c["type"] == "committing" for c in lines[:i]), "an outcome without claim"


def handled_ends(lines: list[dict]) -> dict[int, int]:
    """Per partition, the offset after the last record finished."""
    ends: dict[int, int] = {}
    for p, o in finished_offsets(lines):
        ends[p] = max(ends.get(p, 0), o + 1)
    return ends


def final_commits(lines: list[dict]) -> dict[int, int]:
    """Per partition, the last offset committed successfully."""
    final: dict[int, int] = {}
    for r in lines:
        if r["type"] == "committed" and r["ok"]:
            final.update({int(p): o for p, o in r["offsets"].items()})
    return final


def assert_all_records_once(lines: list[dict], held: int | None = 0) -> None:
    """Every record of the topic (the contract messages and the value that is not one:
    the instrumentation names records by offset and never judges their content) was
    finished exactly once — but the ``held`` last ones a program that leaves its loop
    never came back for: handed, not finished (None: its last batch, whatever its size)."""
    offsets = finished_offsets(lines)
    in_hand = handed_offsets(lines) - set(offsets)
    assert len(offsets) == len(set(offsets))
    assert len(offsets) + len(in_hand) == RECORDS + 1
    if held is not None:
        assert len(in_hand) == held
    else:
        last = [r for r in lines if r["type"] == "handed"][-1]
        assert (last["partition"], last["last"]) in in_hand or not in_hand
    assert not [r for r in lines if r["type"] == "invalid"]


# ---- kafka-python --------------------------------------------------------------------------------
KP_TUTORIAL = """
    import os
    from kafka import KafkaConsumer
    consumer = KafkaConsumer(
        os.environ["KAFKA_TOPIC"],
        bootstrap_servers=[os.environ["KAFKA_BROKER"]],
        group_id=os.environ["KAFKA_GROUP"],
        auto_offset_reset="earliest",
        auto_commit_interval_ms=200,
        consumer_timeout_ms=30000,
    )
    n = 0
    for message in consumer:
        n += 1
        if n == int(os.environ["EXPECT"]):
            break
    print("consumed", n)
    consumer.close()
"""


def test_kafka_python_iteration_with_auto_commit(kafka_cluster, topic, tmp_path):
    out = run(KP_TUTORIAL, consumer_env(kafka_cluster, topic, tmp_path), tmp_path)
    assert f"consumed {RECORDS + 1}" in out
    lines = evidence(tmp_path)
    start, stop = lines[0], lines[-1]
    assert start["type"] == "start" and start["client"] == "kafka-python"
    assert start["member"] == "consumer-1.1" and start["commit_mode"] == "auto"
    assigned = [r for r in lines if r["type"] == "assigned" and r["partitions"]]
    assert assigned and assigned[0]["member_id"].startswith(start["client_id"])
    # It breaks out of its loop after the last record: that one it never came back from.
    assert_all_records_once(lines, held=1)
    commits = [r for r in lines if r["type"] == "committed"]
    assert commits and all(c["ok"] for c in commits)  # kafka-python's auto-commits
    claims = [r for r in lines if r["type"] == "committing"]
    # The auto-commits inside iteration, the one before a rebalance, and close()'s.
    assert {c["how"] for c in claims} <= {"auto", "rebalance", "close"}
    assert "close" in {c["how"] for c in claims}
    # Everything was committed by the end (by auto-commit or the commit in close()),
    # the record in hand too: close() claims it.
    ends = {p: o + 1 for p, o in handed_offsets(lines)}
    for p, o in handed_offsets(lines):
        ends[p] = max(ends[p], o + 1)
    assert final_commits(lines) == ends
    assert_claims_follow_their_hand_outs(lines)
    assert stop["type"] == "stop" and stop["reason"] == "close"


KP_POLL = """
    import os
    from kafka import ConsumerRebalanceListener, KafkaConsumer

    class Listener(ConsumerRebalanceListener):
        def on_partitions_assigned(self, tps):
            print("user-assigned", sorted(tp.partition for tp in tps), flush=True)
        def on_partitions_revoked(self, tps):
            print("user-revoked", sorted(tp.partition for tp in tps), flush=True)

    consumer = KafkaConsumer(
        bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"].split(","),
        group_id=os.environ["KAFKA_GROUP"],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=7,
    )
    consumer.subscribe([os.environ["KAFKA_TOPIC"]], listener=Listener())
    seen = batches = idle = 0
    while seen < int(os.environ["EXPECT"]) and idle < 60:
        batch = consumer.poll(timeout_ms=500)
        if not batch:
            idle += 1
            continue
        seen += sum(len(records) for records in batch.values())
        batches += 1
        if batches % 3 == 0:
            consumer.commit()
        elif batches % 3 == 1:
            consumer.commit_async(callback=lambda offsets, response: print("user-callback", flush=True))
        else:
            consumer.commit_async()
    consumer.commit()
    consumer.close()
"""


def test_kafka_python_poll_with_sync_and_async_commits_and_a_listener(
    kafka_cluster, topic, tmp_path
):
    out = run(KP_POLL, consumer_env(kafka_cluster, topic, tmp_path), tmp_path)
    # The application's own listener and commit callback still run.
    assert "user-assigned [0, 1, 2]" in out and "user-callback" in out
    lines = evidence(tmp_path)
    # Every non-empty revoke the listener saw is in the evidence (kafka-python 3 revokes
    # on close(); 2.x does not).
    revokes = [r["partitions"] for r in lines if r["type"] == "revoked"]
    assert revokes == [[0, 1, 2]] * out.count("user-revoked [0, 1, 2]")
    assert_all_records_once(lines, held=None)  # it leaves with its last batch in hand
    commits = [r for r in lines if r["type"] == "committed"]
    # One commit per batch (sync, async with and without a callback) and the final one.
    assert len(commits) >= (RECORDS + 1) // 7 and all(c["ok"] for c in commits)
    hows = {r["how"] for r in lines if r["type"] == "committing"}
    assert {"commit", "commit-async"} <= hows
    assert_claims_follow_their_hand_outs(lines)
    assert lines[-1]["type"] == "stop" and lines[-1]["reason"] == "close"


KP_KICKED_OUT = """
    import os, time
    from kafka import ConsumerRebalanceListener, KafkaConsumer

    class Listener(ConsumerRebalanceListener):
        def on_partitions_assigned(self, tps):
            print("user-assigned", sorted(tp.partition for tp in tps), flush=True)
        def on_partitions_revoked(self, tps):
            print("user-revoked", sorted(tp.partition for tp in tps), flush=True)
        def on_partitions_lost(self, tps):
            print("user-lost", sorted(tp.partition for tp in tps), flush=True)

    consumer = KafkaConsumer(
        bootstrap_servers=[os.environ["KAFKA_BROKER"]],
        group_id=os.environ["KAFKA_GROUP"],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5,
        max_poll_interval_ms=1500,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    consumer.subscribe([os.environ["KAFKA_TOPIC"]], listener=Listener())
    batch = {}
    while not batch:
        batch = consumer.poll(500)
    time.sleep(4)  # longer than max_poll_interval_ms: the member leaves the group
    try:
        consumer.commit()
    except Exception as exc:
        print("commit failed", type(exc).__name__, flush=True)
    for _ in range(6):
        consumer.poll(500)
    consumer.close()
"""


def test_kafka_python_failed_commit_and_lost_partitions(kafka_cluster, topic, tmp_path):
    out = run(KP_KICKED_OUT, consumer_env(kafka_cluster, topic, tmp_path), tmp_path)
    assert "commit failed CommitFailedError" in out
    # kafka-python 3 calls on_partitions_lost (KIP-429); 2.x calls on_partitions_revoked.
    kind = "lost" if "user-lost [0, 1, 2]" in out else "revoked"
    assert kind == "lost" or "user-revoked [0, 1, 2]" in out
    lines = evidence(tmp_path)
    (failed,) = [r for r in lines if r["type"] == "committed"]
    assert failed["ok"] is False and "CommitFailedError" in failed["error"]
    (lost,) = [r for r in lines if r["type"] == kind and r["partitions"]][:1]
    first, second = [r for r in lines if r["type"] == "assigned" and r["partitions"]]
    assert lost["generation"] == first["generation"] and lost["partitions"] == [0, 1, 2]
    # Rejoined as a new member, after the lost line.
    assert second["member_id"] != first["member_id"]
    assert lines.index(failed) < lines.index(lost) < lines.index(second)


KP_HOLDING = """
    import os, time
    from kafka import KafkaConsumer
    consumer = KafkaConsumer(
        os.environ["KAFKA_TOPIC"],
        bootstrap_servers=[os.environ["KAFKA_BROKER"]],
        group_id=os.environ["KAFKA_GROUP"],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=10,
    )
    batches = before = 0
    while batches < 3:
        batch = consumer.poll(timeout_ms=500)
        if batch:
            batches += 1
            before += sum(len(rs) for rs in batch.values()) if batches < 3 else 0
    print("holding", sorted((tp.partition, [r.offset for r in rs]) for tp, rs in batch.items()),
          "after", before, flush=True)
    time.sleep(120)  # never comes back for more
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_batch_in_hand_when_the_process_dies_is_not_processed(
    kafka_cluster, topic, tmp_path, sig
):
    proc = start(KP_HOLDING, consumer_env(kafka_cluster, topic, tmp_path), tmp_path)
    try:
        line = proc.stdout.readline()
        while line and not line.startswith("holding"):
            line = proc.stdout.readline()
        assert line.startswith("holding"), proc.stdout.read()
        holding, before = line.split(" ", 1)[1].rsplit(" after ", 1)
        held = {(p, o) for p, offsets in ast.literal_eval(holding) for o in offsets}
        # Well past the flush window: what it finished before is written by now, though
        # the program makes no further call (the tracker's flush thread writes it).
        time.sleep(0.5)
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    # The program has no SIGTERM handler: it dies of the signal, as it would uninstrumented.
    assert proc.returncode == -sig
    lines = evidence(tmp_path)
    finished = set(finished_offsets(lines))
    # The batches before were done (the application came back); the last one is held.
    assert len(finished) == int(before) and not finished & held
    if sig == signal.SIGKILL:
        # Hand-outs inside the last flush window may be lost with the process: never a
        # record finished that was not.
        assert lines[-1]["type"] != "stop"
    else:
        assert held <= handed_offsets(lines)
        stop = lines[-1]
        assert stop["type"] == "stop" and stop["reason"] == "error"
        assert "SIGTERM" in stop["detail"]


KP_FAILS_MID_BATCH = """
    import os
    from kafka import KafkaConsumer
    consumer = KafkaConsumer(
        os.environ["KAFKA_TOPIC"],
        bootstrap_servers=[os.environ["KAFKA_BROKER"]],
        group_id=os.environ["KAFKA_GROUP"],
        auto_offset_reset="earliest",
        max_poll_records=10,
    )
    try:
        batch = {}
        while not batch:
            batch = consumer.poll(timeout_ms=500)
        raise RuntimeError("the handler failed")
    finally:
        consumer.close()  # auto-commit commits the positions: records never finished
"""


def test_the_commit_close_makes_while_an_exception_propagates_is_a_claim_not_processing(
    kafka_cluster, topic, tmp_path
):
    proc = start(KP_FAILS_MID_BATCH, consumer_env(kafka_cluster, topic, tmp_path), tmp_path)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1 and "the handler failed" in out
    lines = evidence(tmp_path)
    assert not finished_offsets(lines)
    assert len(handed_offsets(lines)) == 10
    (claim,) = [r for r in lines if r["type"] == "committing"]
    assert claim["how"] == "close" and sum(claim["offsets"].values()) == 10
    committed = [r for r in lines if r["type"] == "committed" and r["ok"]]
    assert committed and sum(committed[-1]["offsets"].values()) == 10
    stop = lines[-1]
    assert stop["reason"] == "error" and "RuntimeError" in stop["detail"]


# ---- confluent-kafka ----------------------------------------------------------------------------
CK_POLL = """
    import os
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({
        "bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "group.id": os.environ["KAFKA_GROUP"],
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "on_commit": lambda err, parts: print("user-on-commit", err, flush=True),
    })
    print("class", type(consumer).__module__, isinstance(consumer, Consumer), flush=True)
    consumer.subscribe(
        [os.environ["KAFKA_TOPIC"]],
        on_assign=lambda c, ps: print("user-assign", sorted(p.partition for p in ps), flush=True),
        on_revoke=lambda c, ps: print("user-revoke", sorted(p.partition for p in ps), flush=True),
    )
    seen = idle = 0
    while seen < int(os.environ["EXPECT"]) and idle < 30:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            idle += 1
            continue
        seen += 1
        if seen % 5 == 0:
            consumer.commit(message=msg, asynchronous=False)
        elif seen % 7 == 0:
            consumer.commit(
                offsets=[TopicPartition(msg.topic(), msg.partition(), msg.offset() + 1)]
            )
    consumer.commit(asynchronous=False)
    consumer.close()
"""


def test_confluent_poll_with_sync_and_async_commits_and_callbacks(kafka_cluster, topic, tmp_path):
    out = run(CK_POLL, consumer_env(kafka_cluster, topic, tmp_path), tmp_path)
    assert "class confluent_kafka True" in out
    assert "user-assign [0, 1, 2]" in out and "user-revoke [0, 1, 2]" in out
    assert "user-on-commit None" in out  # the asynchronous commits' callback, chained
    lines = evidence(tmp_path)
    assert lines[0]["client"] == "confluent-kafka" and lines[0]["commit_mode"] == "manual"
    (assigned,) = [r for r in lines if r["type"] == "assigned"]
    assert assigned["member_id"].startswith("rdkafka-") and assigned["client_id"] == "rdkafka"
    assert_all_records_once(lines, held=None)  # it leaves with its last batch in hand
    commits = [r for r in lines if r["type"] == "committed"]
    assert len(commits) >= RECORDS // 5 and all(c["ok"] for c in commits)
    hows = {r["how"] for r in lines if r["type"] == "committing"}
    assert {"commit", "commit-async"} <= hows
    assert_claims_follow_their_hand_outs(lines)
    assert [r["type"] for r in lines[-2:]] == ["revoked", "stop"]


CK_CONSUME_AUTO = """
    import os, time
    from confluent_kafka import Consumer

    consumer = Consumer({
        "bootstrap.servers": os.environ["KAFKA_BROKER"],
        "group.id": os.environ["KAFKA_GROUP"],
        "auto.offset.reset": "earliest",
        "auto.commit.interval.ms": 200,
        "on_commit": lambda err, parts: print("user-on-commit", err, flush=True),
    })
    consumer.subscribe([os.environ["KAFKA_TOPIC"]])
    seen = idle = 0
    while seen < int(os.environ["EXPECT"]) and idle < 30:
        batch = consumer.consume(num_messages=9, timeout=0.5)
        seen += len(batch)
        idle += not batch
        time.sleep(0.1)
    for _ in range(4):
        consumer.consume(num_messages=9, timeout=0.2)
    consumer.close()
"""


def test_confluent_consume_with_auto_commit(kafka_cluster, topic, tmp_path):
    out = run(CK_CONSUME_AUTO, consumer_env(kafka_cluster, topic, tmp_path), tmp_path)
    assert "user-on-commit None" in out
    lines = evidence(tmp_path)
    start = lines[0]
    assert start["commit_mode"] == "auto"
    # librdkafka commits in its own thread what it stored when it handed records out.
    assert start["background_commits"] is True and start["auto_offset_store"] is True
    assert_all_records_once(lines)
    commits = [r for r in lines if r["type"] == "committed"]
    assert commits and all(c["ok"] for c in commits)
    assert final_commits(lines) == handled_ends(lines)  # auto-commit reached the end
    assert [r["how"] for r in lines if r["type"] == "committing"] == ["close"]


CK_KICKED_OUT = """
    import os, time
    from confluent_kafka import Consumer
    consumer = Consumer({
        "bootstrap.servers": os.environ["KAFKA_BROKER"],
        "group.id": os.environ["KAFKA_GROUP"],
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "max.poll.interval.ms": 6000,
    })
    consumer.subscribe(
        [os.environ["KAFKA_TOPIC"]],
        on_revoke=lambda c, ps: print("user-revoke", sorted(p.partition for p in ps), flush=True),
    )
    msg = None
    while msg is None:
        msg = consumer.poll(1)
    time.sleep(8)  # past max.poll.interval.ms: librdkafka leaves the group
    try:
        consumer.commit(message=msg, asynchronous=False)
    except Exception as exc:
        print("commit failed", exc, flush=True)
    for _ in range(8):
        consumer.poll(0.5)
    consumer.close()
"""


@pytest.mark.slow  # ~10 s; the kafka-python test covers failed commits by default
def test_confluent_failed_commit_and_lost_partitions_call_on_revoke(kafka_cluster, topic, tmp_path):
    out = run(CK_KICKED_OUT, consumer_env(kafka_cluster, topic, tmp_path), tmp_path)
    assert "commit failed" in out
    # Without on_lost, librdkafka calls on_revoke for lost partitions: so does the wrapper.
    assert "user-revoke [0, 1, 2]" in out
    lines = evidence(tmp_path)
    (failed,) = [r for r in lines if r["type"] == "committed"]
    assert failed["ok"] is False and "UNKNOWN_MEMBER_ID" in failed["error"]
    (lost,) = [r for r in lines if r["type"] == "lost"]
    assert lost["partitions"] == [0, 1, 2] and lines.index(failed) < lines.index(lost)


def test_consumers_of_other_topics_and_without_a_group_are_left_alone(
    kafka_cluster, topic, tmp_path
):
    script = """
        import os
        from kafka import KafkaConsumer
        from confluent_kafka import Consumer
        a = KafkaConsumer("some-other-topic", bootstrap_servers=[os.environ["KAFKA_BROKER"]],
                          group_id="other")
        b = KafkaConsumer(bootstrap_servers=[os.environ["KAFKA_BROKER"]])  # no group
        b.subscribe([os.environ["KAFKA_TOPIC"]])
        c = Consumer({"bootstrap.servers": os.environ["KAFKA_BROKER"], "group.id": "x"})
        c.subscribe(["some-other-topic"])
        for consumer in (a, b, c):
            consumer.close()
        print("done")
    """
    out = run(script, consumer_env(kafka_cluster, topic, tmp_path), tmp_path)
    assert "done" in out
    assert not list((tmp_path / "evidence").rglob("*.jsonl"))


def test_two_group_consumers_in_one_process_write_two_members(kafka_cluster, topic, tmp_path):
    script = """
        import os
        from kafka import KafkaConsumer
        from confluent_kafka import Consumer
        a = KafkaConsumer(os.environ["KAFKA_TOPIC"], bootstrap_servers=[os.environ["KAFKA_BROKER"]],
                          group_id=os.environ["KAFKA_GROUP"])
        b = Consumer({"bootstrap.servers": os.environ["KAFKA_BROKER"], "group.id": os.environ["KAFKA_GROUP"]})
        b.subscribe([os.environ["KAFKA_TOPIC"]])
        b.close()
        a.close()
    """
    run(script, consumer_env(kafka_cluster, topic, tmp_path), tmp_path)
    first, second = evidence(tmp_path), evidence(tmp_path, "consumer-1.1.c2")
    assert (first[0]["client"], second[0]["client"]) == ("kafka-python", "confluent-kafka")
    assert first[-1]["type"] == second[-1]["type"] == "stop"


# ---- what users' consumers do: retries, pauses, transactions, forks, other groups, the marker ----
KP_SEEK_RETRY = """
    import os
    from kafka import KafkaConsumer
    consumer = KafkaConsumer(
        bootstrap_servers=[os.environ["KAFKA_BROKER"]],
        group_id=os.environ["KAFKA_GROUP"],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=10,
    )
    consumer.subscribe([os.environ["KAFKA_TOPIC"]])
    failed_once, done, idle = set(), 0, 0
    while done < int(os.environ["EXPECT"]) and idle < 40:
        batch = consumer.poll(timeout_ms=500)
        idle += not batch
        for tp, records in batch.items():
            for r in records:
                if r.offset % 4 == 3 and (tp, r.offset) not in failed_once:
                    failed_once.add((tp, r.offset))
                    consumer.seek(tp, r.offset)  # a transient failure: try it again
                    break
                done += 1
        consumer.commit()
    print("retried", len(failed_once), flush=True)
    consumer.close()
"""


def test_a_retry_by_seeking_back_finishes_each_record_once(kafka_cluster, topic, tmp_path):
    out = run(KP_SEEK_RETRY, consumer_env(kafka_cluster, topic, tmp_path), tmp_path)
    retried = int(out.split("retried ")[1].split()[0])
    lines = evidence(tmp_path)
    seeks = [r for r in lines if r["type"] == "seek"]
    assert len(seeks) == retried > 0
    # The record that failed went back with everything after it: handed again, finished once.
    assert_all_records_once(lines, held=None)  # it leaves with its last batch in hand
    assert_claims_follow_their_hand_outs(lines)


KP_PAUSE_HEARTBEAT = """
    import os, threading, time
    from kafka import KafkaConsumer
    consumer = KafkaConsumer(
        bootstrap_servers=[os.environ["KAFKA_BROKER"]],
        group_id=os.environ["KAFKA_GROUP"],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=20,
    )
    consumer.subscribe([os.environ["KAFKA_TOPIC"]])
    batch = {}
    while not batch:
        batch = consumer.poll(timeout_ms=500)
    consumer.pause(*batch)
    worker = threading.Thread(target=time.sleep, args=(1.0,))  # the work, elsewhere
    worker.start()
    while worker.is_alive():
        consumer.poll(timeout_ms=100)  # heartbeats: nothing comes back from paused partitions
    print("working-until", time.time(), flush=True)
    consumer.commit()
    consumer.resume(*batch)
    consumer.poll(timeout_ms=100)
    consumer.close()
"""


def test_polls_of_a_paused_consumer_do_not_finish_the_work_in_a_worker(
    kafka_cluster, topic, tmp_path
):
    out = run(KP_PAUSE_HEARTBEAT, consumer_env(kafka_cluster, topic, tmp_path), tmp_path)
    worked_until = float(out.split("working-until ")[1].split()[0])
    lines = evidence(tmp_path)
    paused = [r for r in lines if r["type"] == "paused"]
    resumed = [r for r in lines if r["type"] == "resumed"]
    assert paused and resumed and paused[0]["partitions"] == resumed[0]["partitions"]
    first = [
        r for r in lines if r["type"] == "finished" and r["partition"] in paused[0]["partitions"]
    ]
    assert first and min(r["t"] for r in first) >= worked_until


KP_AUDIT_READER = """
    import os
    from kafka import KafkaConsumer
    audit = KafkaConsumer(os.environ["KAFKA_TOPIC"], bootstrap_servers=[os.environ["KAFKA_BROKER"]],
                          group_id="audit-" + os.environ["KAFKA_GROUP"], auto_offset_reset="earliest")
    main = KafkaConsumer(os.environ["KAFKA_TOPIC"], bootstrap_servers=[os.environ["KAFKA_BROKER"]],
                         group_id=os.environ["KAFKA_GROUP"], auto_offset_reset="earliest")
    seen = 0
    while seen < int(os.environ["EXPECT"]):
        seen += sum(len(rs) for rs in audit.poll(timeout_ms=500).values())
    audit.close()
    main.close()
"""


def test_a_reader_in_another_group_in_the_same_process_is_not_the_consumer(
    kafka_cluster, topic, tmp_path
):
    run(KP_AUDIT_READER, consumer_env(kafka_cluster, topic, tmp_path), tmp_path)
    files = sorted(p.name for p in (tmp_path / "evidence" / "consumed").glob("*.jsonl"))
    assert files == ["consumer-1.1.jsonl"]
    lines = evidence(tmp_path)
    assert lines[0]["group"].startswith("g-") and not finished_offsets(lines)


KP_FORKING = """
    import multiprocessing, os, signal, time
    from kafka import KafkaConsumer

    def worker():
        signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
        time.sleep(30)

    consumer = KafkaConsumer(os.environ["KAFKA_TOPIC"], bootstrap_servers=[os.environ["KAFKA_BROKER"]],
                             group_id=os.environ["KAFKA_GROUP"], auto_offset_reset="earliest",
                             enable_auto_commit=False, max_poll_records=5)
    batch = {}
    while not batch:
        batch = consumer.poll(timeout_ms=500)
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=worker) for _ in range(2)]
    for c in children:
        c.start()
    # A child that exits normally runs the exit hooks it inherited.
    pid = os.fork()
    if pid == 0:
        raise SystemExit(0)
    os.waitpid(pid, 0)
    for c in children:
        c.terminate()
        c.join()
    consumer.commit()
    consumer.poll(timeout_ms=100)
    consumer.close()
"""


def test_forked_workers_write_nothing_for_their_parents_consumer(kafka_cluster, topic, tmp_path):
    run(KP_FORKING, consumer_env(kafka_cluster, topic, tmp_path), tmp_path)
    lines = evidence(tmp_path)
    assert [r["type"] for r in lines].count("stop") == 1 and lines[-1]["type"] == "stop"
    assert lines[-1]["reason"] == "close"
    assert {r["pid"] for r in lines if r["type"] == "start"} == {lines[0]["pid"]}
    assert sorted(p.name for p in (tmp_path / "evidence" / "consumed").glob("*")) == [
        "consumer-1.1.jsonl"
    ]


CK_TRANSACTIONAL = """
    import os, uuid
    from confluent_kafka import Consumer, Producer

    consumer = Consumer({
        "bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "group.id": os.environ["KAFKA_GROUP"],
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
    })
    producer = Producer({
        "bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "transactional.id": "txn-" + uuid.uuid4().hex,
    })
    producer.init_transactions()
    consumer.subscribe([os.environ["KAFKA_TOPIC"]])
    seen = idle = 0
    while seen < int(os.environ["EXPECT"]) and idle < 30:
        batch = [m for m in consumer.consume(num_messages=10, timeout=0.5) if not m.error()]
        idle += not batch
        if not batch:
            continue
        producer.begin_transaction()
        for m in batch:
            producer.produce(os.environ["KAFKA_TOPIC"] + "-out", m.value(), m.key())
        producer.send_offsets_to_transaction(
            consumer.position(consumer.assignment()), consumer.consumer_group_metadata()
        )
        producer.commit_transaction()
        seen += len(batch)
    consumer.close()
"""


def test_a_transactional_consumer_claims_its_offsets_through_the_transaction(
    kafka_cluster, topic, tmp_path
):
    create_topic(
        kafka_cluster.bootstrap_servers, topic + "-out", partitions=1, replication_factor=3
    )
    run(CK_TRANSACTIONAL, consumer_env(kafka_cluster, topic, tmp_path), tmp_path, timeout=120)
    lines = evidence(tmp_path)
    claims = [r for r in lines if r["type"] == "committing"]
    assert claims and {c["how"] for c in claims} == {"transaction"}
    outcomes = [r for r in lines if r["type"] == "committed"]
    assert len(outcomes) == len(claims) and all(c["ok"] for c in outcomes)
    assert_all_records_once(lines, held=None)  # it leaves with its last batch in hand
    assert_claims_follow_their_hand_outs(lines)
    # The transaction committed the offsets of the batch still in hand; finished comes after.
    last = max(i for i, r in enumerate(lines) if r["type"] == "committing")
    assert any(r["type"] == "handed" for r in lines[:last])


KP_MARKER = """
    import os, queue, threading
    from kafka import KafkaConsumer
    try:
        from riverbed_instrument import processed
    except ImportError:
        def processed(*records): pass

    work = queue.Queue()
    def worker():
        while True:
            r = work.get()
            if r is None:
                return
            if r.offset % 2 == 0:
                processed(r)  # the odd ones are never finished

    consumer = KafkaConsumer(os.environ["KAFKA_TOPIC"], bootstrap_servers=[os.environ["KAFKA_BROKER"]],
                             group_id=os.environ["KAFKA_GROUP"], auto_offset_reset="earliest",
                             enable_auto_commit=False)
    t = threading.Thread(target=worker)
    t.start()
    seen = 0
    while seen < int(os.environ["EXPECT"]):
        for records in consumer.poll(timeout_ms=500).values():
            for r in records:
                work.put(r)
                seen += 1
    work.put(None)
    t.join()
    consumer.close()
"""


def test_with_the_processed_marker_only_marked_records_are_finished(kafka_cluster, topic, tmp_path):
    run(KP_MARKER, consumer_env(kafka_cluster, topic, tmp_path), tmp_path)
    lines = evidence(tmp_path)
    finished = finished_offsets(lines)
    assert finished and all(o % 2 == 0 for _, o in finished)
    assert {r["how"] for r in lines if r["type"] == "finished"} == {"marked"}
    assert (
        len(finished)
        == len(set(finished))
        == sum(1 for _, o in handed_offsets(lines) if o % 2 == 0)
    )
