"""`--platform external`: every refusal happens before anything starts (exit 4, seconds)."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from riverbed.chaos.validate import broker_activities, load_experiment
from riverbed.cli import main
from riverbed.spec import RunSpec

SECRET = "s3cret w1th sp4ces"


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("RIVERBED_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("RIVERBED_LOCAL_STATE_DIR", str(tmp_path / "local"))
    for name in (
        "RIVERBED_KAFKA_BOOTSTRAP",
        "RIVERBED_BOOTSTRAP_SERVERS",
        "KAFKA_BROKER",
        "RIVERBED_KAFKA_CONFIG",
        "KAFKA_CLIENT_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)


EXTERNAL = ["--platform", "external", "--kafka-bootstrap", "127.0.0.1:9"]


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        ("run", ["--platform", "external"], "needs the cluster's bootstrap servers"),
        ("run", ["--platform", "external", "--kafka-bootstrap", "no-port"], "host:port"),
        (
            "run",
            [*EXTERNAL, "--kafka-config", f"sasl.pasword={SECRET.replace(' ', '')}"],
            "unknown Kafka client setting 'sasl.pasword'",
        ),
        (
            # Items split at spaces: the rest of the password is named by its key, never shown.
            "run",
            [*EXTERNAL, "--kafka-config", f"sasl.password={SECRET}"],
            "--kafka-config item after sasl.password=… is not KEY=VALUE: a value with spaces "
            'or commas must be given in a JSON object, e.g. {"sasl.password": "…"}',
        ),
        (
            "run",
            [*EXTERNAL, "--kafka-config", "linger.ms=5"],
            "unknown Kafka client setting linger.ms",
        ),
        (
            "run",
            [
                *EXTERNAL,
                "--kafka-config",
                json.dumps({"security.protocol": "SASL_SSL", "sasl.password": SECRET}),
            ],
            "needs sasl.username",
        ),
        (
            "run",
            [*EXTERNAL, "--kafka-config", "ssl.truststore.location=/x.jks"],
            "keytool -exportcert",
        ),
        ("run", [*EXTERNAL, "--brokers", "5"], "--brokers configures riverbed's own Kafka"),
        (
            "run",
            [*EXTERNAL, "--no-faults", "--locust-workers", "2"],
            "--locust-workers runs Locust in a Kube",
        ),
        (
            "run",
            [*EXTERNAL, "--experiment", "experiments/local/kill-broker.json"],
            "kill-broker.json acts on brokers (kill-partition-leader",
        ),
        (
            "run",
            ["--kafka-bootstrap", "127.0.0.1:9"],
            "--kafka-bootstrap applies to a Kafka cluster riverbed does not run",
        ),
        ("run", ["--keep-topics"], "--keep-topics applies"),
        ("up", ["--kafka-config", "security.protocol=SSL"], "--kafka-config applies"),
        ("up", ["--platform", "external"], "needs the cluster's bootstrap servers"),
        ("up", [*EXTERNAL, "--consumers", "0"], "needs at least one consumer"),
        ("down", ["--platform", "external"], "No `riverbed up --platform external` session"),
    ],
)
def test_bad_external_options_exit_4_before_anything_starts(command, args, message, tmp_path):
    t0 = time.monotonic()
    result = CliRunner().invoke(main, [command, *args])
    assert result.exit_code == 4, result.output
    assert message in " ".join(result.output.split())
    assert not set(SECRET.split()) & set(result.output.replace("=", " ").split())
    assert time.monotonic() - t0 < 10
    assert not (tmp_path / "runs").exists()


def test_settings_from_the_environment_are_ignored_on_the_local_platform(monkeypatch):
    """Exported for a by-hand load, they must not change what a local run does."""
    from riverbed.kafka_options import external_kafka

    monkeypatch.setenv("RIVERBED_KAFKA_BOOTSTRAP", "staging:9093")
    monkeypatch.setenv("RIVERBED_KAFKA_CONFIG", "security.protocol=SSL")
    from riverbed.commands import run

    notes: list[str] = []
    ctx = run.make_context("run", ["--platform", "local"], auto_envvar_prefix="RIVERBED_RUN")
    p = ctx.params
    assert (
        external_kafka(ctx, "local", p["kafka_bootstrap"], p["kafka_config"], say=notes.append)
        is None
    )
    assert notes and "--kafka-bootstrap and --kafka-config" in notes[0] and "ignored" in notes[0]


def test_a_sourced_session_environment_is_not_noted_as_another_kafka(monkeypatch):
    """riverbed.env of a kind/k8s session exports the session's own route as
    RIVERBED_KAFKA_BOOTSTRAP (for locust and chaos run): `down` after it has nothing to say
    about it; a different address still gets the note."""
    from riverbed.commands import down
    from riverbed.kafka_options import external_kafka

    route = "127.0.0.1:19902,127.0.0.1:19903,127.0.0.1:19904"
    monkeypatch.setenv("RIVERBED_BOOTSTRAP_SERVERS", route)
    for exported, noted in ((route, False), ("staging:9093", True)):
        monkeypatch.setenv("RIVERBED_KAFKA_BOOTSTRAP", exported)
        notes: list[str] = []
        ctx = down.make_context("down", ["--platform", "kind"], auto_envvar_prefix="RIVERBED_DOWN")
        p = ctx.params
        assert (
            external_kafka(ctx, "kind", p["kafka_bootstrap"], p["kafka_config"], say=notes.append)
            is None
        )
        assert bool(notes) is noted, notes


def test_the_environment_gives_an_external_run_its_settings(monkeypatch):
    from riverbed.commands import run
    from riverbed.kafka_options import external_kafka

    monkeypatch.setenv("KAFKA_BROKER", "a:1,b:2")  # the tutorial's name is an alias
    monkeypatch.setenv(
        "RIVERBED_KAFKA_CONFIG",
        json.dumps(
            {"security.protocol": "SASL_PLAINTEXT", "sasl.username": "u", "sasl.password": SECRET}
        ),
    )
    ctx = run.make_context("run", ["--platform", "external"], auto_envvar_prefix="RIVERBED_RUN")
    p = ctx.params
    ext = external_kafka(ctx, "external", p["kafka_bootstrap"], p["kafka_config"])
    assert ext is not None and ext.bootstrap_servers == "a:1,b:2"
    assert ext.settings["sasl.password"] == SECRET and ext.settings["sasl.mechanism"] == "PLAIN"
    assert ext.masked["sasl.password"] == "(set)"


def test_broker_faults_are_found_wherever_they_are_in_an_experiment():
    assert broker_activities(load_experiment("experiments/local/kill-broker.json")) == [
        "kill-partition-leader",
        "restart-broker",
        "start-brokers-still-down",
    ]
    for name in ("kill-consumer-hard", "resize-partitions", "poison-records", "scale-consumers"):
        assert broker_activities(load_experiment(f"experiments/local/{name}.json")) == []
    process = {
        "method": [
            {
                "type": "action",
                "name": "stop-by-hand",
                "provider": {
                    "type": "process",
                    "path": "/usr/bin/riverbed",
                    "arguments": "kafka stop 2",
                },
            }
        ]
    }
    assert broker_activities(process) == ["stop-by-hand"]


def test_spec_json_records_that_a_password_was_given_never_which(tmp_path):
    spec = RunSpec(
        "r",
        platform="external",
        bootstrap_servers="b:1",
        kafka_config={"security.protocol": "SASL_SSL", "sasl.password": "(set)"},
    ).validate()
    spec.write(tmp_path)
    assert RunSpec.read(tmp_path).kafka_config == spec.kafka_config
    with pytest.raises(Exception, match="needs the cluster's bootstrap servers"):
        RunSpec("r", platform="external").validate()


def test_an_unreachable_cluster_exits_4_within_seconds(tmp_path):
    """Connections refused on every bootstrap server: named at once, not after a run's
    worth of retries."""
    import socket

    with socket.socket() as s:  # a free loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--platform",
            "external",
            "--kafka-bootstrap",
            f"127.0.0.1:{port}",
            "--experiment",
            "experiments/local/kill-consumer-hard.json",
        ],
    )
    assert result.exit_code == 4, result.output
    out = " ".join(result.output.split())
    assert f"No Kafka broker answered at 127.0.0.1:{port}" in out
    assert "Connection refused" in out and "fix: check --kafka-bootstrap" in out
    assert time.monotonic() - t0 < 5
    assert not (tmp_path / "runs").exists()
