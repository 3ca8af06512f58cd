"""riverbed's Java agent around real JVM consumers (kafka-clients 4.x), on a real cluster.

Each test runs one of the probes of examples/jvm (``java -jar riverbed-jvm-examples.jar
probe …``: plain kafka-clients programs that write down what the client told them) with
the agent in ``JAVA_TOOL_OPTIONS``, as riverbed runs a JVM ``--consumer-cmd``, and
compares the evidence the agent wrote with what the program saw: its own rebalance
listener still called, asynchronous commits with their failures, transactional offset
commits. The agent and the examples are built once (Maven, riverbed's cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from riverbed.jvm import agent_jar, examples_jar, java_tool_options
from riverbed.kafka.admin import create_topic
from workloads.evidence.reader import read_jsonl
from workloads.evidence.schema import FILE_TYPES
from workloads.instrument import instrument_env

pytestmark = pytest.mark.integration

#: A probe runs a few seconds; a JVM on a busy machine takes its time to start.
PROBE_TIMEOUT_S = 180


@pytest.fixture(scope="session")
def jars() -> tuple[Path, Path]:
    """The agent and the examples, built once per session (and cached across sessions)."""
    return agent_jar(), examples_jar()


def produce(bootstrap: str, topic: str, count: int) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all")
    for i in range(count):
        producer.send(topic, key=b"k%d" % (i % 11), value=b'{"n": %d}' % i)
    producer.flush()
    producer.close()


def probe(
    kafka_cluster,
    jars,
    tmp_path: Path,
    what: str,
    records: int,
    wanted: int,
    java: list[str] | None = None,
    **env_extra,
):
    """Run ``probe WHAT WANTED`` on a fresh 3-partition topic holding ``records`` records
    (``java``: how to start the examples, default ``java -jar <examples>``); returns (the
    agent's evidence lines, the probe's own lines)."""
    agent, examples = jars
    bootstrap = kafka_cluster.bootstrap_servers
    topic = f"jvm-{what}-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic, partitions=3, replication_factor=3)
    if what == "transactional":
        create_topic(bootstrap, topic + "-out", partitions=3, replication_factor=3)
    produce(bootstrap, topic, records)
    group = f"{topic}-g"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERBED_")}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        KAFKA_TOPIC=topic,
        KAFKA_GROUP=group,
        KAFKA_OUTPUT_TOPIC=topic + "-out",
        PROBE_OUT=str(tmp_path / "probe.jsonl"),
        JAVA_TOOL_OPTIONS=java_tool_options(agent, os.environ.get("JAVA_TOOL_OPTIONS")),
        **env_extra,
    )
    env.update(
        instrument_env(
            tmp_path / "evidence", "consumer-1.1", topic, "consumer-1", 1, group, base=env
        )
    )
    proc = subprocess.run(
        [*(java or ["java", "-jar", str(examples)]), "probe", what, str(wanted)],
        env=env,
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_S,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "riverbed agent" not in proc.stderr, proc.stderr[-3000:]
    lines = list(
        read_jsonl(
            tmp_path / "evidence" / "consumed" / "consumer-1.1.jsonl", FILE_TYPES["consumed"]
        )
    )
    seen = [json.loads(x) for x in (tmp_path / "probe.jsonl").read_text().splitlines()]
    return lines, seen


def handed(lines: list[dict]) -> set[tuple[int, int]]:
    return {
        (r["partition"], o)
        for r in lines
        if r["type"] in ("handed", "finished")
        for o in range(r["first"], r["last"] + 1)
    }


def claims_before_outcomes(lines: list[dict]) -> None:
    """Every outcome follows a claim of the same offsets, written earlier."""
    claimed: list[dict] = []
    for r in lines:
        if r["type"] == "committing":
            claimed.append(r["offsets"])
        elif r["type"] == "committed":
            assert r["offsets"] in claimed, f"an outcome without an earlier claim: {r}"


def test_the_agent_records_a_user_rebalance_listener_and_still_calls_it(
    kafka_cluster, jars, tmp_path
):
    lines, seen = probe(kafka_cluster, jars, tmp_path, "listener", records=60, wanted=60)
    start = lines[0]
    assert start["type"] == "start" and start["instrumented"] is True
    assert start["client"] == "kafka-clients" and start["group_protocol"] == "classic"
    assert start["commit_mode"] == "manual" and start["flush_ms"] == 10.0
    assert "background_commits" not in start and start["incarnation"] == 1
    # The application's listener saw what the evidence says, in the same order.
    recorded = [(r["type"], r["partitions"]) for r in lines if r["type"] in ("assigned", "revoked")]
    called = [(e["event"], e["partitions"]) for e in seen if e["event"] in ("assigned", "revoked")]
    assert recorded == called and recorded[0] == ("assigned", [0, 1, 2])
    assigned = next(r for r in lines if r["type"] == "assigned")
    assert assigned["member_id"] and assigned["generation"] is not None
    assert len(handed(lines)) == 60
    # Its own commits — after each batch, and in its listener when close() revokes — are
    # claims written before they leave, each with its outcome.
    commits = [r["offsets"] for r in lines if r["type"] == "committing"]
    assert {r["how"] for r in lines if r["type"] == "committing"} == {"commit"}
    for e in seen:
        if e["event"] == "committed":
            assert e["offsets"] in commits
    assert all(r["ok"] for r in lines if r["type"] == "committed")
    claims_before_outcomes(lines)
    assert lines[-1]["type"] == "stop" and lines[-1]["reason"] == "close"


@pytest.mark.slow
def test_the_agent_records_async_commits_with_their_failures(kafka_cluster, jars, tmp_path):
    lines, seen = probe(kafka_cluster, jars, tmp_path, "async-commits", records=200, wanted=150)
    callbacks = [e for e in seen if e["event"] == "callback"]
    failed = [e for e in callbacks if not e["ok"]]
    assert failed, f"the probe was meant to see a failed commit: {seen}"
    outcomes = [r for r in lines if r["type"] == "committed"]
    # Every outcome the application's callback got is in the evidence, failures with why.
    for e in callbacks:
        match = [r for r in outcomes if r["offsets"] == e["offsets"] and r["ok"] == e["ok"]]
        assert match, f"no outcome recorded for {e}"
        if not e["ok"]:
            assert e["error"] in match[0]["error"]
    assert {"commit-async"} <= {r["how"] for r in lines if r["type"] == "committing"}
    claims_before_outcomes(lines)
    # Kicked out past max.poll.interval.ms: its partitions were lost, then assigned again.
    kinds = [r["type"] for r in lines]
    assert "lost" in kinds and kinds.count("assigned") >= 2


@pytest.mark.slow
def test_the_agent_records_transactional_offset_commits(kafka_cluster, jars, tmp_path):
    lines, seen = probe(kafka_cluster, jars, tmp_path, "transactional", records=100, wanted=60)
    transactions = [e["offsets"] for e in seen if e["event"] == "transaction"]
    assert transactions
    claims = [r for r in lines if r["type"] == "committing"]
    assert [c["offsets"] for c in claims] == transactions
    assert {c["how"] for c in claims} == {"transaction"}
    outcomes = [r["offsets"] for r in lines if r["type"] == "committed" and r["ok"]]
    assert outcomes == transactions
    # A transaction's offsets are a claim: records are finished only by coming back for more.
    last_claim = max(i for i, r in enumerate(lines) if r["type"] == "committing")
    assert any(r["type"] == "finished" for r in lines[:last_claim])
    assert lines[-1]["type"] == "stop" and lines[-1]["reason"] == "close"


@pytest.mark.slow
def test_the_agent_records_the_consumer_protocol(kafka_cluster, jars, tmp_path):
    lines, seen = probe(
        kafka_cluster, jars, tmp_path, "listener", records=60, wanted=60,
        EXAMPLE_GROUP_PROTOCOL="consumer",
    )  # fmt: skip
    start = lines[0]
    assert start["group_protocol"] == "consumer"
    recorded = [(r["type"], r["partitions"]) for r in lines if r["type"] in ("assigned", "revoked")]
    called = [(e["event"], e["partitions"]) for e in seen if e["event"] in ("assigned", "revoked")]
    assert recorded == [c for c in called if c[1] or c[0] == "assigned"]
    assigned = next(r for r in lines if r["type"] == "assigned")
    assert assigned["member_id"] and assigned["generation"] is not None
    assert len(handed(lines)) == 60
    claims_before_outcomes(lines)
    assert lines[-1]["type"] == "stop" and lines[-1]["reason"] == "close"


def start_jvm(kafka_cluster, jars, tmp_path: Path, args: list[str], records: int, **env_extra):
    """Start ``java -jar examples.jar ARGS`` with the agent on a fresh topic of ``records``
    records; returns the process and its evidence file."""
    agent, examples = jars
    bootstrap = kafka_cluster.bootstrap_servers
    topic = f"jvm-stop-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic, partitions=3, replication_factor=3)
    produce(bootstrap, topic, records)
    group = f"{topic}-g"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERBED_")}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        KAFKA_TOPIC=topic,
        KAFKA_GROUP=group,
        JAVA_TOOL_OPTIONS=java_tool_options(agent, os.environ.get("JAVA_TOOL_OPTIONS")),
        **env_extra,
    )
    env.update(
        instrument_env(
            tmp_path / "evidence", "consumer-1.1", topic, "consumer-1", 1, group, base=env
        )
    )
    proc = subprocess.Popen(
        ["java", "-jar", str(examples), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    return proc, tmp_path / "evidence" / "consumed" / "consumer-1.1.jsonl"


def wait_for_hand_out(proc, path: Path, timeout: float = PROBE_TIMEOUT_S) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        if path.exists() and '"type":"handed"' in path.read_text():
            return
        time.sleep(0.2)
    raise AssertionError(f"no record handed out within {timeout:.0f}s")


def test_a_consumer_its_application_closes_on_sigterm_stops_with_close_however_long_its_batch(
    kafka_cluster, jars, tmp_path
):
    import signal
    import time

    # 150 ms a record, batches of up to 50: the batch in hand when SIGTERM comes takes
    # seconds to finish; the application's own shutdown hook waits for it, then closes.
    proc, path = start_jvm(
        kafka_cluster, jars, tmp_path, ["plain-careful"], records=200, EXAMPLE_WORK_MS="150"
    )
    try:
        wait_for_hand_out(proc, path)
        time.sleep(1.0)
        t_term = time.time()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    lines = list(read_jsonl(path, FILE_TYPES["consumed"]))
    assert lines[-1]["type"] == "stop" and lines[-1]["reason"] == "close", lines[-3:]
    # It went on working (and committing) after SIGTERM, and the evidence kept recording.
    assert any(r["type"] == "committing" and r["t"] > t_term for r in lines)
    assert lines[-1]["t"] - t_term > 2.0


def test_a_consumer_never_closed_stops_with_error_when_its_jvm_ends(kafka_cluster, jars, tmp_path):
    import signal
    import time

    proc, path = start_jvm(
        kafka_cluster, jars, tmp_path, ["probe", "never-closed", "0"], records=50
    )
    try:
        wait_for_hand_out(proc, path)
        t_term = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        exited_in = time.monotonic() - t_term
    finally:
        proc.kill()
    lines = list(read_jsonl(path, FILE_TYPES["consumed"]))
    assert lines[-1]["type"] == "stop" and lines[-1]["reason"] == "error"
    assert "without closing its consumer" in lines[-1]["detail"]
    # No hook of its own to wait for: the JVM ends at once.
    assert exited_in < 5.0


def test_what_was_finished_before_a_batch_held_for_good_survives_a_hard_kill(
    kafka_cluster, jars, tmp_path
):
    """The application makes no call after its third poll; what it finished before (the
    first two batches) is written by the agent's flush thread, and SIGKILL loses none of it."""
    import signal
    import time

    out = tmp_path / "probe.jsonl"
    proc, path = start_jvm(
        kafka_cluster, jars, tmp_path, ["probe", "holding", "3"], records=100, PROBE_OUT=str(out)
    )
    try:
        deadline = time.monotonic() + PROBE_TIMEOUT_S
        while not (out.exists() and out.read_text().strip()):
            assert proc.poll() is None and time.monotonic() < deadline, "the probe never held"
            time.sleep(0.2)
        time.sleep(0.5)  # well past the flush window
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    seen = json.loads(out.read_text().splitlines()[0])
    held = {(p, o) for p, o in seen["held"]}
    lines = list(read_jsonl(path, FILE_TYPES["consumed"]))
    finished = {
        (r["partition"], o)
        for r in lines
        if r["type"] == "finished"
        for o in range(r["first"], r["last"] + 1)
    }
    assert len(finished) == seen["before"] and not finished & held
    assert held <= handed(lines)


def test_the_processed_marker_finishes_records_worker_threads_are_done_with(
    kafka_cluster, jars, tmp_path
):
    lines, seen = probe(kafka_cluster, jars, tmp_path, "marker", records=60, wanted=60)
    marked = {(e["partition"], e["offset"]) for e in seen if e["event"] == "marked"}
    assert len(marked) == 60 and all(e["known"] for e in seen if e["event"] == "marked")
    finished = [r for r in lines if r["type"] == "finished"]
    # The application polled on while its workers still held records: only its marks
    # finish them, never coming back for more.
    assert finished and {r["how"] for r in finished} == {"marked"}
    assert {
        (r["partition"], o) for r in finished for o in range(r["first"], r["last"] + 1)
    } == marked


LAUNCHER = """
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Arrays;

/** Runs a jar's Main from a class loader of its own, as Spring Boot's launcher runs a fat jar:
 * kafka-clients is not on the system class path, only in that loader. */
public class Launcher {
    public static void main(String[] args) throws Exception {
        URL jar = Path.of(args[0]).toUri().toURL();
        ClassLoader app = new URLClassLoader(new URL[] {jar}, ClassLoader.getSystemClassLoader());
        Thread.currentThread().setContextClassLoader(app);
        app.loadClass("dev.riverbed.examples.Main").getMethod("main", String[].class)
                .invoke(null, (Object) Arrays.copyOfRange(args, 1, args.length));
    }
}
"""


def test_the_agent_instruments_kafka_clients_loaded_by_a_class_loader_of_the_application(
    kafka_cluster, jars, tmp_path
):
    launcher = tmp_path / "launcher"
    launcher.mkdir()
    (launcher / "Launcher.java").write_text(LAUNCHER)
    subprocess.run(["javac", "-d", str(launcher), str(launcher / "Launcher.java")], check=True)
    _, examples = jars
    lines, seen = probe(
        kafka_cluster,
        jars,
        tmp_path,
        "listener",
        records=60,
        wanted=60,
        java=["java", "-cp", str(launcher), "Launcher", str(examples)],
    )
    recorded = [(r["type"], r["partitions"]) for r in lines if r["type"] in ("assigned", "revoked")]
    called = [(e["event"], e["partitions"]) for e in seen if e["event"] in ("assigned", "revoked")]
    assert recorded == called and recorded[0] == ("assigned", [0, 1, 2])
    assert len(handed(lines)) == 60
    assert {r["how"] for r in lines if r["type"] == "committing"} == {"commit"}
    claims_before_outcomes(lines)
    assert lines[-1]["type"] == "stop" and lines[-1]["reason"] == "close"
