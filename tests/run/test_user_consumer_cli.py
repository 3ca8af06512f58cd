"""`--consumer-cmd` and its options: validation before anything starts, spec fields, environment."""

from __future__ import annotations

import json
import os
import time

import pytest
from click.testing import CliRunner

from riverbed.cli import main
from riverbed.errors import HarnessError
from riverbed.spec import RunSpec
from riverbed.user_consumer import (
    check_user_consumer,
    default_evidence,
    member_name,
    replica_env,
    runs_java,
    runs_python,
)
from workloads.instrument import PYTHONPATH_DIR


@pytest.mark.parametrize(
    ("cmd", "python"),
    [
        ("python my_consumer.py", True),
        ("python3 -m app.consumer", True),
        ("python3.11 app.py", True),
        ("/opt/venv/bin/python app.py --fast", True),
        ("./consumer.py", True),
        ("env LOG=debug python app.py", True),
        ("APP_MODE=prod python3 app.py", True),
        ("java -jar consumer.jar", False),
        ("./consumer", False),
        ("node consumer.js", False),
        ("pythonic-tool run", False),
        ("sh -c 'python app.py'", False),
    ],
)
def test_a_python_command_defaults_to_instrumented_evidence(cmd, python):
    assert runs_python(cmd) is python
    if not runs_java(cmd):
        assert default_evidence(cmd) == ("instrumented" if python else "offsets")


@pytest.mark.parametrize(
    ("cmd", "java"),
    [
        ("java -jar consumer.jar", True),
        ("/usr/lib/jvm/java-17-openjdk-amd64/bin/java -cp app.jar com.example.Main", True),
        ("env JAVA_OPTS=-Xmx1g java -jar app.jar", True),
        ("SPRING_PROFILES_ACTIVE=test java -jar orders.jar", True),
        ("./build/libs/consumer.jar", True),
        ("javac Consumer.java", False),
        ("./gradlew bootRun", False),
        ("python app.py", False),
    ],
)
def test_a_java_command_defaults_to_instrumented_evidence_with_the_java_agent(cmd, java, tmp_path):
    assert runs_java(cmd) is java
    if java:
        assert default_evidence(cmd) == "instrumented"
        user = check_user_consumer(cmd, str(tmp_path), None, None)
        assert user is not None and user.needs_java_agent
    if cmd.startswith("python"):
        user = check_user_consumer(cmd, str(tmp_path), None, None)
        assert user is not None and not user.needs_java_agent


def test_a_jvm_replica_gets_the_agent_in_its_java_tool_options(tmp_path):
    config = {
        "bootstrap_servers": "127.0.0.1:9092",
        "topic": "t",
        "group": "g",
        "run_dir": str(tmp_path),
        "consumer_evidence": "instrumented",
        "java_agent": "/cache/riverbed-agent.jar",
    }
    env = replica_env(config, "consumer-2", 3, base={"JAVA_TOOL_OPTIONS": "-Xmx256m"})
    assert env["JAVA_TOOL_OPTIONS"] == "-Xmx256m -javaagent:/cache/riverbed-agent.jar"
    assert env["RIVERBED_INSTRUMENT"] == "1" and env["RIVERBED_MEMBER"] == "consumer-2.3"
    assert env["RIVERBED_GROUP"] == "g" and env["RIVERBED_TOPIC"] == "t"
    # Started again (a new incarnation): the agent is not added twice.
    again = replica_env(
        config, "consumer-2", 4, base={"JAVA_TOOL_OPTIONS": env["JAVA_TOOL_OPTIONS"]}
    )
    assert again["JAVA_TOOL_OPTIONS"].count("-javaagent:") == 1
    # A Python consumer's environment has no agent.
    python = replica_env({**config, "java_agent": None}, "consumer-1", 1, base={})
    assert "JAVA_TOOL_OPTIONS" not in python


def test_the_user_consumer_options_are_checked_together(tmp_path):
    ok = check_user_consumer("python app.py", str(tmp_path), None, None)
    assert ok is not None and (ok.evidence, ok.cwd) == ("instrumented", str(tmp_path.resolve()))
    out = check_user_consumer("./svc", None, "output-topic", "outs")
    assert out is not None and out.output_topic == "outs" and out.cwd == os.getcwd()
    assert check_user_consumer(None, None, None, None) is None
    cases = [
        (
            ("python a.py", None, None, "outs"),
            "--output-topic is for --consumer-evidence output-topic",
        ),
        (("./svc", None, "output-topic", None), "needs --output-topic NAME"),
        (("python a.py", str(tmp_path / "nope"), None, None), "is not a directory"),
        (
            (None, None, None, "outs"),
            "--output-topic applies to a consumer given with --consumer-cmd",
        ),
        (("python 'a.py", None, None, None), "cannot be parsed"),
        (("  ", None, None, None), "is empty"),
    ]
    for args, message in cases:
        with pytest.raises(HarnessError, match=message):
            check_user_consumer(*args)
    with pytest.raises(HarnessError, match="local platform only"):
        check_user_consumer("python a.py", None, None, None, platform="kind")
    with pytest.raises(HarnessError, match="--commit-mode, --processing-ms configure riverbed's"):
        check_user_consumer(
            "python a.py",
            None,
            None,
            None,
            explicit_reference_options=("commit_mode", "processing_ms"),
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--consumer-cmd", "python a.py", "--commit-mode", "auto"], "--commit-mode configures"),
        (["--consumer-cmd", "python a.py", "--assignor", "sticky"], "--assignor configures"),
        (["--consumer-cmd", "python a.py", "--processing-ms", "5"], "--processing-ms configures"),
        (["--consumer-cmd", "python a.py", "--output-topic", "o"], "--output-topic is for"),
        (
            ["--consumer-cmd", "./svc", "--consumer-evidence", "output-topic"],
            "needs --output-topic",
        ),
        (["--consumer-cmd", "python a.py", "--consumer-cwd", "/no/such/dir"], "is not a directory"),
        (["--consumer-cmd", "python a.py", "--platform", "kind"], "local platform only"),
    ],
)
def test_run_refuses_bad_user_consumer_options_before_anything_starts(
    args, message, tmp_path, monkeypatch
):
    monkeypatch.setenv("RIVERBED_RUNS_DIR", str(tmp_path / "runs"))
    t0 = time.monotonic()
    result = CliRunner().invoke(main, ["run", *args])
    assert result.exit_code == 4, result.output
    assert message in result.output
    assert time.monotonic() - t0 < 5
    assert not (tmp_path / "runs").exists()  # nothing started, no run directory


def test_up_checks_the_same_options(tmp_path, monkeypatch):
    monkeypatch.setenv("RIVERBED_RUNS_DIR", str(tmp_path / "runs"))
    result = CliRunner().invoke(
        main, ["up", "--consumer-cmd", "python a.py", "--commit-mode", "auto"]
    )
    assert result.exit_code == 4 and "--commit-mode configures" in result.output


def test_a_reference_option_from_the_settings_file_also_counts_as_given(tmp_path, monkeypatch):
    (tmp_path / "riverbed.toml").write_text('[run]\nassignor = "sticky"\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "--consumer-cmd", "python a.py"])
    assert result.exit_code == 4 and "--assignor configures" in result.output


def test_the_spec_records_the_user_consumer(tmp_path):
    spec = RunSpec(
        "r",
        consumer_cmd="python a.py",
        consumer_cwd="/src",
        consumer_evidence="output-topic",
        output_topic="outs",
        commit_mode=None,
        assignor=None,
        processing_ms=None,
    ).validate()
    spec.write(tmp_path)
    data = json.loads((tmp_path / "spec.json").read_text())
    assert {k: data[k] for k in ("consumer_cmd", "consumer_cwd", "consumer_image")} == {
        "consumer_cmd": "python a.py",
        "consumer_cwd": "/src",
        "consumer_image": None,
    }
    assert (data["consumer_evidence"], data["output_topic"]) == ("output-topic", "outs")
    assert RunSpec.read(tmp_path) == spec
    assert RunSpec("r").validate().to_json()["consumer_evidence"] == "reference"
    with pytest.raises(HarnessError, match="means riverbed's own consumer, not yours"):
        RunSpec("r", consumer_cmd="python a.py").validate()
    with pytest.raises(HarnessError, match="Unknown consumer evidence"):
        RunSpec("r", consumer_cmd="x", consumer_evidence="vibes").validate()


def test_each_incarnation_gets_the_tutorials_environment(tmp_path):
    config = {
        "bootstrap_servers": "127.0.0.1:1,127.0.0.1:2",
        "topic": "events",
        "group": "g",
        "run_dir": str(tmp_path),
        "consumer_evidence": "instrumented",
        "output_topic": None,
    }
    env = replica_env(config, "consumer-2", 3, base={"PYTHONPATH": "/app"})
    assert env["KAFKA_BROKER"] == "127.0.0.1:1"  # one address: the tutorial wraps it in a list
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:1,127.0.0.1:2"
    assert (env["KAFKA_TOPIC"], env["KAFKA_GROUP"]) == ("events", "g")
    assert env["RIVERBED_MEMBER"] == member_name("consumer-2", 3) == "consumer-2.3"
    assert env["RIVERBED_EVIDENCE_DIR"] == str(tmp_path / "evidence")
    assert env["PYTHONPATH"].split(os.pathsep) == [str(PYTHONPATH_DIR), "/app"]
    assert env["RIVERBED_INSTRUMENT"] == "1" and "KAFKA_OUTPUT_TOPIC" not in env
    plain = replica_env(
        {**config, "consumer_evidence": "output-topic", "output_topic": "o"}, "consumer-1", 1
    )
    assert plain["KAFKA_OUTPUT_TOPIC"] == "o"
    assert "RIVERBED_INSTRUMENT" not in plain and "PYTHONPATH" not in plain


def test_a_jvm_command_without_java_is_refused_before_anything_starts(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no java, no mvn
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(HarnessError) as err:
        check_user_consumer("java -jar app.jar", str(tmp_path), None, None)
    assert "Java was not found" in str(err.value)
    # Another strength needs no agent, hence no Java.
    user = check_user_consumer("java -jar app.jar", str(tmp_path), "offsets", None)
    assert user is not None and not user.needs_java_agent
