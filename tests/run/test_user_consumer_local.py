"""The user's own consumer on the local platform: real Kafka, real processes, real runs."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from pathlib import Path

import pytest

from riverbed.kafka.admin import create_topic
from riverbed.platforms.local import LocalPlatform
from riverbed.processes import alive as _alive
from riverbed.runner import LocalRunPlatform, startup_checks, wait_group_ready
from riverbed.spec import RunSpec
from riverbed.user_consumer import check_user_consumer
from tests.run.test_run_local import (
    KILL_HARD,
    ROOT,
    riverbed,
    riverbed_env,
    run_dir_of,
    started_pids,
)
from workloads.evidence.schema import RunLayout

pytestmark = pytest.mark.integration

PYTHON = shlex.quote(sys.executable)
TUTORIAL = ROOT / "examples" / "kafka_python_tutorial.py"
SCENARIO = [
    "--duration", "30s", "--warmup", "8s", "--cooldown", "5s",
    "--users", "5", "--spawn-rate", "5", "--key-space", "1000", "--drain-deadline", "90s",
]  # fmt: skip


def user_env(kafka, tmp_path: Path, **extra: str) -> dict[str, str]:
    """riverbed's environment for a run, with this interpreter first on PATH as `python`."""
    env = riverbed_env(kafka, tmp_path)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(extra)
    return env


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def start_records(run_dir: Path) -> dict[str, dict]:
    out = {}
    for path in sorted((run_dir / "evidence" / "consumed").glob("*.jsonl")):
        first = path.read_text().splitlines()[:1]
        if first:
            out[path.stem] = json.loads(first[0])
    return out


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_user_replicas_get_the_environment_and_a_hard_kill_replaces_the_whole_tree(
    kafka, tmp_path, topic_name
):
    """A compound command keeps its shell as the replica's process; a SIGKILL of the
    replica must still kill the consumer under it, and the replica comes back."""
    bootstrap = kafka.bootstrap_servers
    create_topic(bootstrap, topic_name, partitions=2, replication_factor=3)
    run_dir = tmp_path / "run"
    RunLayout(run_dir).make()
    cmd = f"{PYTHON} {shlex.quote(str(TUTORIAL))}; echo the-shell-outlived-it"
    user = check_user_consumer(cmd, str(tmp_path), None, None)
    assert user is not None and user.evidence == "instrumented"
    platform = LocalPlatform(tmp_path / "local", kafka_state_dir=kafka.state_dir)
    spec = RunSpec(
        "r", topic=topic_name, group=f"{topic_name}-g", consumers=2, partitions=2,
        consumer_cmd=cmd, consumer_cwd=user.cwd, consumer_evidence="instrumented",
        commit_mode=None, assignor=None, processing_ms=None, join_timeout_s=90,
    ).validate()  # fmt: skip
    platform.start_workloads(
        run_dir, bootstrap, topic_name, spec.group, consumers=2, user=user, monitor=False
    )
    local = LocalRunPlatform()
    local.platform = platform
    try:
        wait_group_ready(spec, bootstrap, lambda _: None, **startup_checks(local, spec))
        local.check_evidence(spec, run_dir, lambda _: None)
        starts = start_records(run_dir)
        assert sorted(starts) == ["consumer-1.1", "consumer-2.1"]
        first = starts["consumer-1.1"]
        env = environ_of(first["pid"])
        assert env["KAFKA_BROKER"] == bootstrap.split(",")[0]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == bootstrap
        assert (env["KAFKA_TOPIC"], env["KAFKA_GROUP"]) == (topic_name, spec.group)
        assert (env["RIVERBED_REPLICA"], env["RIVERBED_INCARNATION"]) == ("consumer-1", "1")
        reps = platform.replicas()
        shell_pid = int(reps["consumer-1"]["pid"])
        assert first["pid"] != shell_pid and first["pgid"] == reps["consumer-1"]["pgid"]

        assert platform.kill_consumers(names=["consumer-1"], signal_name="SIGKILL") == [
            "consumer-1"
        ]
        wait_for(lambda: not _alive(first["pid"]), 10, "the consumer under the shell to die")
        new = wait_for(
            lambda: platform.replicas().get("consumer-1", {}).get("incarnation") == 2,
            30,
            "a new incarnation",
        )
        assert new
        assert (run_dir / "logs" / "consumer-1.2.log").exists()
        wait_for(lambda: "consumer-1.2" in start_records(run_dir), 30, "its evidence file")
        assert "the-shell-outlived-it" not in (run_dir / "logs" / "consumer-1.1.log").read_text()
        second = start_records(run_dir)["consumer-1.2"]
        assert environ_of(second["pid"])["RIVERBED_MEMBER"] == "consumer-1.2"
        pids = [first["pid"], second["pid"], shell_pid, starts["consumer-2.1"]["pid"]]
    finally:
        platform.stop_workloads()
    assert not any(_alive(p) for p in pids)


def test_a_command_that_exits_at_once_fails_the_run_fast_naming_it(kafka, tmp_path):
    env = user_env(kafka, tmp_path)
    cmd = "python -c \"import sys; print('cannot reach the database'); sys.exit(3)\""
    t0 = time.monotonic()
    r = riverbed(
        ["run", "--no-faults", "--consumer-cmd", cmd, "--duration", "30s"], env, timeout=180
    )
    elapsed = time.monotonic() - t0
    assert r.returncode == 3, r.stdout + r.stderr
    out = " ".join((r.stdout + r.stderr).split())
    assert "exits during start-up" in out and "exited with code 3" in out
    assert "cannot reach the database" in out and "sys.exit(3)" in out
    assert elapsed < 60
    run_dir = run_dir_of(tmp_path)
    assert not list((run_dir / "locust").iterdir())  # no load was started
    assert not any(_alive(p) for p in started_pids(tmp_path / "local"))


def test_a_command_that_never_joins_fails_the_run_at_the_join_timeout(kafka, tmp_path):
    env = user_env(kafka, tmp_path)
    t0 = time.monotonic()
    r = riverbed(
        ["run", "--no-faults", "--consumer-cmd", "sleep 600", "--join-timeout", "8s"]
        + ["--duration", "30s"],
        env,
        timeout=180,
    )
    assert r.returncode == 3, r.stdout + r.stderr
    out = " ".join((r.stdout + r.stderr).split())
    assert "runs but its replicas did not form a stable group" in out and "sleep 600" in out
    assert time.monotonic() - t0 < 60
    spec = json.loads((run_dir_of(tmp_path) / "spec.json").read_text())
    assert spec["consumer_cmd"] == "sleep 600" and spec["consumer_evidence"] == "offsets"
    assert not any(_alive(p) for p in started_pids(tmp_path / "local"))


@pytest.mark.slow
def test_a_consumer_the_instrumentation_cannot_see_stops_the_run(kafka, tmp_path):
    env = user_env(kafka, tmp_path)
    # -I ignores PYTHONPATH: the consumer joins, but nothing records what it does.
    r = riverbed(
        ["run", "--no-faults", "--consumer-cmd", f"python -I {TUTORIAL}", "--duration", "30s"],
        env,
        timeout=240,
    )
    assert r.returncode == 3, r.stdout + r.stderr
    out = " ".join((r.stdout + r.stderr).split())
    assert "instrumentation recorded nothing" in out and "--consumer-evidence offsets" in out


def example_run(kafka, tmp_path, example: str, *args: str, **env: str):
    """`riverbed run` of one example under a hard kill; returns (result, summary, run_dir)."""
    r = riverbed(
        [
            "run",
            "--consumer-cmd",
            f"python examples/{example}",
            *args,
            "--experiment",
            KILL_HARD,
            *SCENARIO,
        ],
        user_env(kafka, tmp_path, **env),
        timeout=600,
    )
    run_dir = run_dir_of(tmp_path)
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return r, summary, run_dir


def test_the_tutorial_consumer_under_a_hard_kill_ends_with_a_report(kafka, tmp_path):
    r, summary, run_dir = example_run(kafka, tmp_path, "kafka_python_tutorial.py")
    assert summary, r.stdout + r.stderr
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["consumer_cmd"] == "python examples/kafka_python_tutorial.py"
    assert spec["consumer_evidence"] == "instrumented" and spec["commit_mode"] is None
    assert spec["drain"]["finished"] and spec["log_drain"]["finished"]
    (chaos,) = spec["chaos"]
    assert chaos["landed"]
    faults = [json.loads(x) for x in (run_dir / "evidence/faults.jsonl").read_text().splitlines()]
    (killed,) = next(f for f in faults if f["activity"] == "kill-one-consumer")["output"]
    # The killed replica came back as a new incarnation with its own log and evidence.
    assert (run_dir / "logs" / f"{killed}.2.log").exists()
    assert (run_dir / "evidence" / "consumed" / f"{killed}.2.jsonl").exists()
    assert (run_dir / "report.html").exists()
    assert summary["evidence_strength"] == "instrumented"
    # The tutorial's consumer commits inside poll(), after the batch it iterated: at-least-once.
    assert summary["checks"]["never-processed"]["status"] == "pass"
    assert summary["checks"]["lost-from-log"]["status"] == "pass"
    assert summary["counts"]["acknowledged"] > 500
    assert summary["verdict"] == "pass" and r.returncode == 0, r.stdout
    assert not any(_alive(p) for p in started_pids(tmp_path / "local"))


@pytest.mark.slow
def test_the_consumer_that_skips_its_backlog_fails_with_never_processed(kafka, tmp_path):
    r, summary, _ = example_run(kafka, tmp_path, "kafka_python_skip_backlog.py")
    assert r.returncode == 1, r.stdout + r.stderr
    assert summary["verdict"] == "fail"
    assert summary["checks"]["never-processed"]["status"] == "fail"
    assert summary["counts"]["never-processed"] > 0


@pytest.mark.slow
def test_the_confluent_worker_with_manual_commits_passes(kafka, tmp_path):
    r, summary, _ = example_run(kafka, tmp_path, "confluent_manual_commit.py", EXAMPLE_WORK_MS="80")
    assert summary["checks"]["never-processed"]["status"] == "pass", r.stdout + r.stderr
    assert summary["verdict"] == "pass" and r.returncode == 0, r.stdout


@pytest.mark.slow
def test_the_confluent_worker_left_to_auto_commit_fails_with_never_processed(kafka, tmp_path):
    r, summary, _ = example_run(kafka, tmp_path, "confluent_auto_commit.py", EXAMPLE_WORK_MS="80")
    assert r.returncode == 1, r.stdout + r.stderr
    assert summary["checks"]["never-processed"]["status"] == "fail"
    assert summary["counts"]["never-processed"] > 0


@pytest.mark.slow
def test_up_and_down_run_the_users_consumer_by_hand(kafka, tmp_path):
    env = user_env(kafka, tmp_path)
    r = riverbed(
        ["up", "--consumers", "2", "--partitions", "2", "--consumer-cmd", f"python {TUTORIAL}"],
        env,
        timeout=240,
    )
    assert r.returncode == 0, r.stderr
    run_dir = run_dir_of(tmp_path)
    assert "your consumer" in r.stderr and str(run_dir) in r.stderr
    status = riverbed(["status"], env)
    assert "consumer-1" in status.stdout and "consumer-2" in status.stdout
    pids = started_pids(tmp_path / "local")
    r = riverbed(["down", "--keep-kafka"], env, timeout=240)
    assert r.returncode == 0, r.stderr
    assert not any(_alive(p) for p in pids)
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["consumer_evidence"] == "instrumented" and spec["drain"]["finished"]
    assert sorted(start_records(run_dir)) == ["consumer-1.1", "consumer-2.1"]


def output_topic_run(kafka, tmp_path, example: str, **env: str):
    out = f"enriched-{tmp_path.name[-20:]}-{int(time.time())}"
    r, summary, run_dir = example_run(
        kafka,
        tmp_path,
        example,
        "--consumer-evidence",
        "output-topic",
        "--output-topic",
        out,
        EXAMPLE_WORK_MS="80",
        **env,
    )
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["output_topic"] == out and spec["output_drain"]["finished"], r.stderr
    assert (run_dir / "evidence" / "output.jsonl").stat().st_size > 0
    assert not list((run_dir / "evidence" / "consumed").glob("*.jsonl"))  # no instrumentation
    return r, summary


@pytest.mark.slow
def test_the_transform_service_that_commits_after_the_acks_passes_on_its_outputs(kafka, tmp_path):
    r, summary = output_topic_run(kafka, tmp_path, "confluent_transform.py")
    assert summary["evidence_strength"] == "output-topic", summary
    assert summary["checks"]["never-processed"]["status"] == "pass", r.stdout
    assert summary["verdict"] == "pass" and r.returncode == 0, r.stdout


@pytest.mark.slow
def test_the_transform_service_that_commits_first_fails_on_its_missing_outputs(kafka, tmp_path):
    r, summary = output_topic_run(kafka, tmp_path, "confluent_transform_commit_first.py")
    assert summary["checks"]["never-processed"]["status"] == "fail", r.stdout
    assert summary["verdict"] == "fail" and r.returncode == 1


@pytest.mark.slow
def test_a_transform_service_that_keeps_its_input_s_timestamp_passes_after_a_hard_kill(
    kafka, tmp_path
):
    """Kafka Streams' default: each output carries its input's timestamp. The outputs a
    killed replica wrote before its last commit are written again by the next owner;
    on the output topic riverbed creates, the broker's append times place both outputs
    of each such input around the rebalance, so they are legal duplicates."""
    r, summary = output_topic_run(
        kafka, tmp_path, "confluent_transform.py", EXAMPLE_KEEP_TIMESTAMP="1"
    )
    run_dir = run_dir_of(tmp_path)
    outputs = [json.loads(x) for x in (run_dir / "evidence/output.jsonl").read_text().splitlines()]
    assert {o.get("timestamp_type") for o in outputs} == {"LogAppendTime"}
    # Every replica did stamp its inputs' times: its producer set them, the broker
    # replaced them with the append times.
    logs = sorted((run_dir / "logs").glob("consumer-*.log"))
    assert logs and all("outputs keep their inputs' timestamps" in p.read_text() for p in logs)
    red = summary["checks"]["redelivered"]
    assert red["status"] == "pass", red
    # The hard kill landed mid-batch: inputs answered twice, both outputs kept.
    assert red["counts"]["legal"] >= 1 and red["counts"]["producer-timestamps"] == 0, red
    assert summary["checks"]["key-order"]["status"] == "pass", summary["checks"]["key-order"]
    assert summary["verdict"] == "pass" and r.returncode == 0, r.stdout
