"""--consumer-image: the user's image as the consumer Deployment (options and rendering;
the run itself is tests/kind/test_kind_run.py)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from riverbed.cli import main
from riverbed.errors import HarnessError
from riverbed.paths import PROJECT_ROOT
from riverbed.platforms.kube import KubePlatform
from riverbed.platforms.kube import render as km
from riverbed.user_consumer import check_user_consumer


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--consumer-image", "me/c:1"], "runs your image in a Kubernetes cluster"),
        (["--platform", "kind", "--consumer-image", "me/c:1", "--consumer-cmd", "python c.py"],
         "name two consumers"),
        (["--platform", "kind", "--consumer-image", "me/c:1", "--consumer-evidence", "instrumented"],
         "Instrumented evidence needs your consumer's process on this machine"),
        (["--platform", "kind", "--consumer-image", "me/c:1", "--consumer-cwd", "."],
         "--consumer-cwd is for --consumer-cmd"),
        (["--platform", "kind", "--consumer-image", "me/c:1", "--commit-mode", "before-process"],
         "configure riverbed's reference consumer, not your image"),
        (["--platform", "kind", "--consumer-image", "me/c:1", "--consumer-evidence", "output-topic"],
         "needs --output-topic"),
    ],
)  # fmt: skip
def test_bad_consumer_image_options_exit_4_before_anything_starts(args, message):
    r = CliRunner().invoke(main, ["run", *args])
    assert r.exit_code == 4, r.output
    assert message in r.output


def test_an_image_defaults_to_offsets_evidence():
    user = check_user_consumer(None, None, None, None, platform="kind", image="me/c:1")
    assert user is not None and user.evidence == "offsets" and user.cmd is None
    with pytest.raises(HarnessError, match="not an image reference"):
        check_user_consumer(None, None, None, None, platform="k8s", image="me c")


def test_the_consumer_deployment_runs_the_image_with_the_tutorials_environment():
    kube = KubePlatform(mode="kind", dry_run=True, root=PROJECT_ROOT)
    docs = kube.render(
        image="riverbed-workloads:t",
        consumer_env={"RIVERBED_COMMIT_MODE": "after-process"},
        topic="riverbed-events-5",
        group="g-5",
        evidence_topic="riverbed-evidence-5",
        consumer_image="registry.example/orders:1.4",
        output_topic="enriched-5",
    )[km.WORKLOADS]
    (c,) = km.pod_spec(km.find(docs, "Deployment", "consumer"))["containers"]
    assert c["image"] == "registry.example/orders:1.4"
    assert "command" not in c and "args" not in c  # the image's own entrypoint
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["KAFKA_BROKER"] == "kafka:9092"
    assert env["KAFKA_BOOTSTRAP_SERVERS"].count(":9092") == 3
    assert (env["KAFKA_TOPIC"], env["KAFKA_GROUP"], env["KAFKA_OUTPUT_TOPIC"]) == (
        "riverbed-events-5",
        "g-5",
        "enriched-5",
    )
    assert not [k for k in env if k in ("RIVERBED_COMMIT_MODE", "RIVERBED_EVIDENCE_TOPIC")]
    # The monitor still records the group's view to the run's evidence topic.
    (m,) = km.pod_spec(km.find(docs, "Deployment", "monitor"))["containers"]
    assert {e["name"]: e.get("value") for e in m["env"]}["RIVERBED_EVIDENCE_TOPIC"] == (
        "riverbed-evidence-5"
    )
