"""The `riverbed` CLI around runs: settings precedence, bad input, kind dry-run."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from riverbed.cli import main
from riverbed.errors import HarnessError
from riverbed.runner import locust_command
from riverbed.settings import load_default_map
from riverbed.spec import LoadSpec, RunSpec, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("2m", 120), ("1m30s", 90), ("1h", 3600), (45, 45), ("1.5m", 90)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2x", "m", "1m 30s", "-5"])
def test_bad_durations_are_named(text):
    with pytest.raises(HarnessError, match="is not a duration"):
        parse_duration(text)


def test_spec_validation_names_the_problem():
    with pytest.raises(HarnessError, match="leaves no steady window"):
        RunSpec("r", load=LoadSpec(duration_s=15, warmup_s=10, cooldown_s=10)).validate()
    with pytest.raises(HarnessError, match="Replication factor 3 exceeds the 1 broker"):
        RunSpec("r", brokers=1, replication_factor=3).validate()
    with pytest.raises(HarnessError, match="Unknown commit mode"):
        RunSpec("r", commit_mode="yolo").validate()


def test_spec_round_trips_through_spec_json(tmp_path):
    spec = RunSpec("r1", experiments=["a.json"], load=LoadSpec(users=7))
    spec.drain = {"finished": True}
    spec.write(tmp_path)
    back = RunSpec.read(tmp_path)
    assert back == spec
    assert json.loads((tmp_path / "spec.json").read_text())["v"] == 1


def test_locust_gets_the_runs_duration_as_its_run_time(tmp_path):
    """One meaning of duration: `riverbed run --duration` is Locust's -t, the total."""
    spec = RunSpec("r", topic="t", load=LoadSpec(duration_s=60, warmup_s=10, cooldown_s=5, users=4))
    cmd = locust_command(spec, tmp_path, "127.0.0.1:1")
    assert cmd[cmd.index("-t") + 1] == "60s"
    assert "--duration-s" not in cmd
    assert cmd[cmd.index("--warmup-s") + 1] == "10s"
    assert cmd[cmd.index("--cooldown-s") + 1] == "5s"
    assert cmd[cmd.index("-u") + 1] == "4"
    assert cmd[cmd.index("--shape") + 1] == "chaos-window"
    assert cmd[cmd.index("--run-dir") + 1] == str(tmp_path)


def test_flags_beat_environment_beat_riverbed_toml(tmp_path, monkeypatch):
    (tmp_path / "riverbed.toml").write_text('[run]\nduration = "5s"\nusers = 3\n')
    monkeypatch.chdir(tmp_path)
    assert load_default_map()["run"] == {"duration": "5s", "users": 3}
    runner = CliRunner()
    # From the file: 5s leaves no steady window, so the run is refused before it starts.
    r = runner.invoke(main, ["run", "--no-faults"])
    assert r.exit_code == 4 and "--duration 5s" in r.output
    # The environment beats the file; a flag beats both.
    r = runner.invoke(main, ["run", "--no-faults"], env={"RIVERBED_RUN_DURATION": "6s"})
    assert r.exit_code == 4 and "--duration 6s" in r.output
    r = runner.invoke(
        main, ["run", "--no-faults", "--duration", "7s"], env={"RIVERBED_RUN_DURATION": "6s"}
    )
    assert r.exit_code == 4 and "--duration 7s" in r.output


def test_bad_settings_file_is_named(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\n")
    r = CliRunner().invoke(main, ["--config", str(bad), "run"])
    assert r.exit_code == 4 and "is not valid TOML" in r.output
    r = CliRunner().invoke(main, ["--config", str(tmp_path / "none.toml"), "run"])
    assert r.exit_code == 4 and "does not exist" in r.output


def test_missing_experiment_file_is_named(tmp_path):
    r = CliRunner().invoke(main, ["run", "--experiment", str(tmp_path / "nope.json")])
    assert r.exit_code == 4
    assert "nope.json does not exist" in r.output


def test_k8s_needs_a_context():
    r = CliRunner().invoke(main, ["up", "--platform", "k8s", "--dry-run"])
    assert r.exit_code == 4
    assert "--context" in r.output


def test_kind_up_dry_run_prints_the_plan_without_running_anything():
    r = CliRunner().invoke(main, ["up", "--platform", "kind", "--dry-run"])
    assert r.exit_code == 0, r.output
    plan = r.output
    order = [
        "kind create cluster",
        "docker build",
        "kind load docker-image",
        "kubectl",
        "apply",
        "rollout status",
    ]
    positions = [plan.find(step) for step in order]
    assert all(p >= 0 for p in positions), plan
    assert positions[:3] == sorted(positions[:3])
    assert "manifests/kind-cluster.yaml" in plan


def test_kind_down_dry_run_deletes_the_cluster():
    r = CliRunner().invoke(main, ["down", "--platform", "kind", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "kind delete cluster" in r.output


def test_a_kind_run_deploys_consumers_in_the_requested_commit_mode(tmp_path):
    """`riverbed run --platform kind` configures the consumer Deployment from the spec
    and targets the manifests' topic and group (dry run: nothing is executed)."""
    from riverbed.paths import PROJECT_ROOT
    from riverbed.platforms.kube import KubePlatform
    from riverbed.platforms.kube.run import KubeRunPlatform

    kube = KubePlatform(mode="kind", dry_run=True, root=PROJECT_ROOT)
    platform = KubeRunPlatform(kube)
    spec = RunSpec(
        "r",
        platform="kind",
        commit_mode="before-process",
        processing_ms="65",
        partitions=3,
        consumers=2,
        topic="riverbed-events-17",
        group="riverbed-consumers-17",
    )
    try:
        bootstrap = platform.prepare(spec, lambda _: None)
    finally:
        platform.close()
    assert bootstrap == "127.0.0.1:19592,127.0.0.1:19593,127.0.0.1:19594"
    # The run's own topic, group and evidence topic: a second run never reads the first's.
    assert (spec.topic, spec.group, spec.evidence_topic) == (
        "riverbed-events-17",
        "riverbed-consumers-17",
        "riverbed-evidence-17",
    )
    applied = "\n".join(s.stdin for s in kube.runner.steps if getattr(s, "stdin", None))
    for name in ("riverbed-events-17", "riverbed-consumers-17", "riverbed-evidence-17"):
        assert applied.count(f"value: {name}") >= 2, name  # consumer and monitor
    created = {
        dict(s.kwargs)["name"]
        for s in kube.runner.steps
        if getattr(s, "name", "") == "create_topic"
    }
    assert created == {"riverbed-events-17", "riverbed-evidence-17"}
    # chaos gets the run's context: pod kills never go to another cluster.
    assert platform.experiment_env()["KUBERNETES_CONTEXT"] == "kind-riverbed"
    assert "name: RIVERBED_COMMIT_MODE\n          value: before-process" in applied
    assert "name: RIVERBED_PROCESSING_MS\n          value: '65'" in applied


def test_the_spec_checks_the_consumer_evidence_it_names() -> None:
    assert RunSpec("r").consumer_evidence == "reference"
    with pytest.raises(HarnessError, match="Unknown consumer evidence"):
        RunSpec("r", consumer_evidence="telepathy").validate()
    with pytest.raises(HarnessError, match="output topic"):
        RunSpec("r", consumer_evidence="output-topic").validate()
    RunSpec("r", consumer_evidence="output-topic", output_topic="out").validate()
    RunSpec("r", consumer_evidence="offsets").validate()


def test_run_help_is_grouped_by_concern_with_defaults():
    r = CliRunner().invoke(main, ["run", "--help"])
    assert r.exit_code == 0
    text = r.output
    titles = [
        "Platform:",
        "Faults and budgets (Chaos Toolkit):",
        "Load (Locust):",
        "Consumer group (the system under test):",
        "Kafka (local platform):",
        "kind / Kubernetes (--platform kind, k8s):",
        "Your Kafka (--platform external; k8s with --kafka-bootstrap):",
        "Output:",
    ]
    positions = [text.index(t) for t in titles]
    assert positions == sorted(positions)
    faults = text[text.index(titles[1]) : text.index(titles[2])]
    assert "--experiment" in faults and "--max-recovery" in faults and "--var-file" in faults
    load = text[text.index(titles[2]) : text.index(titles[3])]
    assert "--duration DURATION" in load and "default: 60s" in load
    assert "RIVERBED_RUN_DURATION" in load
    assert "Other options:" not in text.replace("Other options:\n  -h, --help", "")


def test_status_and_down_offer_no_option_that_means_nothing_there():
    """They reach an existing cluster: its name and the tools (--offline: the prepared kind
    and kubectl), never the configuration it was created from."""
    for command in ("status", "down"):
        r = CliRunner().invoke(main, [command, "--help"])
        assert "--kind-cluster" in r.output and "--offline" in r.output
        assert "--kind-config" not in r.output


def test_campaign_options_all_have_help():
    from riverbed.campaign.cli import campaign

    assert [o.name for o in campaign.params if isinstance(o, click.Option) and not o.help] == []
