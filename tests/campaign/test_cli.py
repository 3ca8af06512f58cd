"""`riverbed campaign`'s consumer and platform options: bad combinations are refused with a
named fix (exit 2) before anything starts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from riverbed.campaign.schedule import (
    DEFAULT_FAULTS,
    KUBE_TEMPLATES,
    LOCAL_KAFKA_FAULTS,
    faults_for,
)
from riverbed.cli import main
from riverbed.errors import HarnessError


def campaign(tmp_path, *args: str):
    env = {"RIVERBED_RUNS_DIR": str(tmp_path / "runs")}
    result = CliRunner().invoke(main, ["campaign", "--runs", "1", *args], env=env)
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize(
    ("args", "error", "fix"),
    [
        (
            ["--consumer-cmd", "python app.py", "--commit-mode", "before-process"],
            "--commit-mode configures riverbed's reference consumer",
            "fix: drop --commit-mode",
        ),
        (
            ["--consumer-image", "team/app:1"],
            "--consumer-image runs your image in a Kubernetes cluster (got --platform local)",
            "fix: use --platform kind or k8s",
        ),
        (
            ["--platform", "kind", "--consumer-cmd", "python app.py"],
            "--consumer-cmd runs on this machine",
            "fix: on kind, give your consumer as an image",
        ),
        (
            ["--platform", "kind", "--faults", "kill-hard,latency,broker-pause"],
            "--faults latency, broker-pause have no experiment on Kubernetes",
            "fix: draw from kill, kill-hard, pause, partition, reset, resize, scale, broker-kill",
        ),
        (
            ["--platform", "k8s", "--consumer-image", "team/app:1"],
            "--platform k8s needs --context NAME",
            "fix: pass --context",
        ),
        (
            [
                "--platform",
                "kind",
                "--consumer-image",
                "team/app:1",
                "--consumer-evidence",
                "output-topic",
            ],
            "--consumer-evidence output-topic needs --output-topic NAME",
            "fix: add --output-topic NAME",
        ),
        (
            ["--output-topic", "out"],
            "--output-topic applies to a consumer given with --consumer-cmd",
            "fix: add --consumer-cmd",
        ),
        (
            ["--consumer-cmd", "python app.py", "--consumer-evidence", "output-topic"],
            "needs --output-topic NAME",
            "fix: add --output-topic NAME",
        ),
        (
            [
                "--platform",
                "external",
                "--kafka-bootstrap",
                "b:9092",
                "--faults",
                "kill,pause,partition",
            ],
            "--faults partition need riverbed's own Kafka",
            "fix: draw from kill, kill-hard, pause, resize, scale, poison",
        ),
        (
            ["--kafka-bootstrap", "b:9092"],
            "--kafka-bootstrap applies to a Kafka cluster riverbed does not run",
            "fix: add --platform external",
        ),
    ],
)
def test_bad_consumer_and_platform_options_are_refused_with_their_fix(tmp_path, args, error, fix):
    code, output = campaign(tmp_path, *args)
    assert code == 4, output  # bad input: nothing started
    assert error in output and fix in output
    assert not (tmp_path / "runs").exists()  # nothing started, nothing written


def test_an_external_campaign_draws_only_faults_that_leave_the_cluster_alone():
    assert faults_for("local") == DEFAULT_FAULTS
    assert faults_for("local", ("broker-kill",)) == ("broker-kill",)
    external = faults_for("external")
    assert external and not set(external) & LOCAL_KAFKA_FAULTS
    assert set(external) == set(DEFAULT_FAULTS) - LOCAL_KAFKA_FAULTS
    assert faults_for("external", ("kill", "scale")) == ("kill", "scale")
    with pytest.raises(HarnessError, match="broker-pause"):
        faults_for("external", ("kill", "broker-pause"))


def test_a_kubernetes_campaign_draws_only_faults_with_a_kubernetes_experiment():
    kube = faults_for("kind")
    assert set(kube) == set(DEFAULT_FAULTS) & set(KUBE_TEMPLATES)
    assert not {"latency", "broker-pause"} & set(kube)
    assert faults_for("k8s", ("kill", "reset")) == ("kill", "reset")
