"""`riverbed run --platform external` against a cluster riverbed does not run.

The session cluster stands in for a staging cluster: the run is given only the
bootstrap servers of its SASL_SSL listener (which advertises itself, so clients
stay on it) and the connection settings a user would give. A client of the run
that did not get them could not even fetch metadata there, so a passing run
shows that Locust, the consumers, the group monitor, the drain and the chaos
probes all logged in with them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from riverbed.kafka.cluster import LocalKafkaCluster
from tests.run.test_run_local import KILL_HARD, riverbed, run_dir_of

pytestmark = pytest.mark.integration


def external_env(tmp_path: Path) -> dict[str, str]:
    """No trace of the local platform: riverbed must not find (or start) its own Kafka."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RIVERBED_KAFKA", "KAFKA_", "RIVERBED_BOOTSTRAP"))
    }
    env.update(
        {
            # `python` in a consumer command is this interpreter, with the client libraries.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
            "RIVERBED_KAFKA_STATE_DIR": str(tmp_path / "no-kafka-here"),
            "RIVERBED_LOCAL_STATE_DIR": str(tmp_path / "local"),
            "RIVERBED_RUNS_DIR": str(tmp_path / "runs"),
        }
    )
    return env


def connection_flags(settings: dict[str, str]) -> list[str]:
    """``--kafka-config`` as a user would write it; the password (it holds a space) as JSON."""
    flags = []
    for key, value in settings.items():
        item = json.dumps({key: value}) if " " in value else f"{key}={value}"
        flags += ["--kafka-config", item]
    return flags


def topics(kafka: LocalKafkaCluster) -> set[str]:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    try:
        # Kafka's internal topics are the brokers' own (the first commit of any group
        # creates __consumer_offsets on a fresh cluster).
        return {t for t in admin.list_topics() if not t.startswith("__")}
    finally:
        admin.close()


def groups(kafka: LocalKafkaCluster) -> set[str]:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    try:
        return {g["group_id"] for g in admin.list_groups()}
    finally:
        admin.close()


def test_a_wrong_password_exits_2_in_seconds_before_anything_starts(kafka, tmp_path):
    settings = kafka.sasl_ssl_client_settings()
    wrong = {**settings, "sasl.password": "n0t-the-passw0rd"}
    before = topics(kafka)
    t0 = time.monotonic()
    r = riverbed(
        ["run", "--platform", "external", "--kafka-bootstrap", kafka.sasl_ssl_bootstrap_servers]
        + connection_flags(wrong)
        + ["--experiment", KILL_HARD],
        external_env(tmp_path),
        timeout=120,
    )
    elapsed = time.monotonic() - t0
    assert r.returncode == 4, r.stdout + r.stderr
    out = " ".join((r.stdout + r.stderr).split())
    assert "refused riverbed's credentials" in out and "fix: check sasl.username" in out
    assert "n0t-the-passw0rd" not in out
    assert elapsed < 45, elapsed  # the interpreter's start-up included, on a busy machine
    assert not (tmp_path / "runs").exists()
    assert topics(kafka) == before


@pytest.mark.slow
def test_a_short_run_with_a_hard_kill_passes_and_leaves_the_cluster_as_it_was(kafka, tmp_path):
    settings = kafka.sasl_ssl_client_settings(mechanism="SCRAM-SHA-512")
    password = settings["sasl.password"]
    topics_before, groups_before = topics(kafka), groups(kafka)
    r = riverbed(
        ["run", "--platform", "external", "--kafka-bootstrap", kafka.sasl_ssl_bootstrap_servers]
        + connection_flags(settings)
        + ["--experiment", KILL_HARD, "--consumers", "3", "--partitions", "3"]
        + ["--duration", "20s", "--warmup", "6s", "--cooldown", "4s", "--users", "3"]
        + ["--spawn-rate", "3", "--key-space", "300", "--processing-ms", "40"]
        + ["--drain-deadline", "90s"],
        external_env(tmp_path),
        timeout=420,
    )
    run_dir = run_dir_of(tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "pass"
    assert summary["counts"]["acknowledged"] > 100
    assert summary["checks"]["vacuity"]["status"] == "pass"

    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["platform"] == "external"
    assert spec["bootstrap_servers"] == kafka.sasl_ssl_bootstrap_servers
    assert spec["kafka_config"]["sasl.password"] == "(set)"
    assert spec["kafka_config"]["sasl.mechanism"] == "SCRAM-SHA-512"
    (chaos,) = spec["chaos"]
    assert chaos["landed"]
    # The run's topic and group were its own, and are gone; nothing else changed.
    created = spec["topics"]["created"]
    assert created == [spec["topic"]] and spec["topic"] not in topics_before
    assert spec["topics"]["deleted"] == created and spec["topics"]["group_deleted"]
    assert topics(kafka) == topics_before
    assert groups(kafka) - groups_before == set()
    # Neither the password nor its longest word is in any file of the run (spec, evidence,
    # logs of every process, journals, report) or in what riverbed printed.
    needles = {password, max(password.split(), key=len)}
    leaked = [
        str(p.relative_to(run_dir))
        for p in run_dir.rglob("*")
        if p.is_file() and any(n.encode() in p.read_bytes() for n in needles)
    ]
    assert not leaked, leaked
    assert not any(n in r.stdout + r.stderr for n in needles)


def test_a_topic_the_cluster_refuses_stops_the_run_with_its_reason(kafka, tmp_path, monkeypatch):
    """The broker's own refusal (here: more replicas than brokers), named, exit 2."""
    from riverbed.errors import HarnessError
    from riverbed.platforms.external import ExternalRunPlatform, connection_settings
    from riverbed.spec import RunSpec

    monkeypatch.setenv("RIVERBED_LOCAL_STATE_DIR", str(tmp_path / "local"))
    spec = RunSpec(
        "r", platform="external", topic=f"riverbed-events-{time.time_ns()}", replication_factor=5
    )
    platform = ExternalRunPlatform(kafka.sasl_ssl_bootstrap_servers)
    with (
        connection_settings(kafka.sasl_ssl_client_settings()),
        pytest.raises(HarnessError) as refused,
    ):
        platform.prepare(spec, lambda _: None)
    assert refused.value.exit_code == 3
    assert f"refused to create topic {spec.topic}: InvalidReplicationFactorError" in str(
        refused.value.message
    )
    assert "riverbed-events-*" in (refused.value.fix or "")
    assert platform.created == [] and spec.topic not in topics(kafka)


@pytest.mark.slow
def test_your_consumer_logs_in_with_the_variables_it_is_given_up_to_down(kafka, tmp_path):
    """The tutorial consumer reads KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and KAFKA_SSL_*:
    its replicas can join the group on the SASL_SSL listener only with them. `down` needs
    the settings again (riverbed keeps no secret), then deletes the session's topic."""
    env = external_env(tmp_path)
    settings = kafka.sasl_ssl_client_settings(mechanism="SCRAM-SHA-256")
    connection = ["--kafka-bootstrap", kafka.sasl_ssl_bootstrap_servers]
    connection += connection_flags(settings)
    topics_before = topics(kafka)
    up = riverbed(
        ["up", "--platform", "external", *connection, "--consumers", "2", "--partitions", "2"]
        + ["--consumer-cmd", "python examples/kafka_python_tutorial.py"],
        env,
        timeout=300,
    )
    try:
        assert up.returncode == 0, up.stdout + up.stderr[-5000:]
        run_dir = run_dir_of(tmp_path)
        spec = json.loads((run_dir / "spec.json").read_text())
        (topic,) = topics(kafka) - topics_before
        assert topic == spec["topic"]
        snapshots = [
            json.loads(line)
            for line in (run_dir / "evidence/group.jsonl").read_text().splitlines()
            if line.strip()
        ]
        assert any(s["state"] == "Stable" and len(s["members"]) == 2 for s in snapshots)

        refused = riverbed(["down", "--platform", "external", *connection[:2]], env)
        assert refused.returncode == 4
        assert "riverbed keeps no secrets" in " ".join(refused.stderr.split())
    finally:
        down = riverbed(["down", "--platform", "external", *connection], env, timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr[-5000:]
    assert f"topics deleted {topic}" in down.stderr
    assert topics(kafka) == topics_before
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["topics"]["deleted"] == [topic] and "group_error" not in spec["topics"]
    # Without load the group never committed, so Kafka may have dropped it already.
    assert spec["topics"]["group"] not in groups(kafka)
    logs = "".join(p.read_text() for p in (run_dir / "logs").glob("consumer-*.log"))
    assert settings["sasl.password"] not in logs
