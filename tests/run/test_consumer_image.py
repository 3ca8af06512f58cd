"""--consumer-image: the user's image as the consumer Deployment (options and rendering;
the run itself is tests/kind/test_kind_run.py)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from riverbed.cli import main
from riverbed.errors import HarnessError
from riverbed.paths import PROJECT_ROOT
from riverbed.platforms.kube import KubePlatform, instrument
from riverbed.platforms.kube import render as km
from riverbed.user_consumer import check_user_consumer


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--consumer-image", "me/c:1"], "runs your image in a Kubernetes cluster"),
        (["--platform", "kind", "--consumer-image", "me/c:1", "--consumer-cmd", "python c.py"],
         "name two consumers"),
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


# ---- instrumented evidence for an image --------------------------------------------------------
_ORDERS_ENV = {"PATH": "/usr/bin", "PYTHONPATH": "/srv/app", "JAVA_TOOL_OPTIONS": "-Xmx256m"}


def _instrumented(own_env=_ORDERS_ENV, namespace="riverbed"):
    kube = KubePlatform(mode="kind", dry_run=True, root=PROJECT_ROOT, namespace=namespace)
    docs = kube.render(
        image="riverbed-workloads:t",
        topic="riverbed-events-5",
        group="g-5",
        evidence_topic="riverbed-evidence-5",
        consumer_image="registry.example/orders:1.4",
        instrument_image="riverbed-instrument:t-a1234",
        consumer_image_env=own_env,
    )[km.WORKLOADS]
    return km.pod_spec(km.find(docs, "Deployment", "consumer"))


def test_instrumented_evidence_is_accepted_for_an_image_on_kind_and_k8s():
    for platform in ("kind", "k8s"):
        user = check_user_consumer(
            None, None, "instrumented", None, platform=platform, image="me/c:1"
        )
        assert user is not None and user.evidence == "instrumented" and user.image == "me/c:1"


def test_an_instrumented_image_pod_gets_the_layer_the_sidecar_and_their_volumes():
    spec = _instrumented()
    copy, sidecar = spec["initContainers"]
    assert copy == {
        "name": "riverbed-instrument",
        "image": "riverbed-instrument:t-a1234",
        "imagePullPolicy": "IfNotPresent",
        "command": [
            "cp", "-R", "/app/workloads/instrument/pythonpath",
            "/opt/riverbed/riverbed-agent.jar", "/riverbed/instrument/",
        ],
        "resources": {
            "requests": {"cpu": "10m", "memory": "16Mi"},
            "limits": {"cpu": "200m", "memory": "64Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "riverbed-instrument", "mountPath": "/riverbed/instrument"}],
    }  # fmt: skip
    assert sidecar == {
        "name": "riverbed-evidence",
        "image": "riverbed-instrument:t-a1234",
        "imagePullPolicy": "IfNotPresent",
        "restartPolicy": "Always",
        "command": ["python", "-m", "workloads.evidence.shipper"],
        "env": [
            {
                "name": "KAFKA_BROKER",
                "value": "kafka-0.kafka-headless.riverbed.svc.cluster.local:9092,"
                "kafka-1.kafka-headless.riverbed.svc.cluster.local:9092,"
                "kafka-2.kafka-headless.riverbed.svc.cluster.local:9092",
            },
            {"name": "RIVERBED_EVIDENCE_TOPIC", "value": "riverbed-evidence-5"},
            {"name": "RIVERBED_EVIDENCE_DIR", "value": "/riverbed/evidence"},
            {"name": "RIVERBED_SHIPPER_STATE_DIR", "value": "/riverbed/shipper"},
        ],
        "resources": {
            "requests": {"cpu": "10m", "memory": "48Mi"},
            "limits": {"cpu": "250m", "memory": "128Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "runAsUser": 10002,
            "runAsGroup": 10001,
        },
        "volumeMounts": [
            {"name": "riverbed-evidence", "mountPath": "/riverbed/evidence", "readOnly": True},
            {"name": "riverbed-shipper", "mountPath": "/riverbed/shipper"},
        ],
    }  # fmt: skip
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["riverbed-instrument"] == {
        "name": "riverbed-instrument", "emptyDir": {"sizeLimit": "64Mi"}
    }  # fmt: skip
    assert volumes["riverbed-evidence"] == {
        "name": "riverbed-evidence", "emptyDir": {"sizeLimit": "256Mi"}
    }  # fmt: skip
    assert volumes["riverbed-shipper"] == {
        "name": "riverbed-shipper", "emptyDir": {"sizeLimit": "1Mi"}
    }  # fmt: skip
    # The pod keeps one process namespace (each restarted process gets a new pid, hence
    # a new member) and the labels the NetworkPolicies admit to Kafka.
    assert spec["shareProcessNamespace"] is True
    assert spec["securityContext"]["runAsUser"] == 10001


def test_the_users_container_gets_the_instrument_environment_and_keeps_its_own():
    (c,) = _instrumented()["containers"]
    assert c["image"] == "registry.example/orders:1.4"
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["PYTHONPATH"] == "/riverbed/instrument/pythonpath:/srv/app"
    assert env["JAVA_TOOL_OPTIONS"] == "-Xmx256m -javaagent:/riverbed/instrument/riverbed-agent.jar"
    assert env["RIVERBED_INSTRUMENT"] == "1"
    assert env["RIVERBED_EVIDENCE_DIR"] == "/riverbed/evidence"
    assert (env["RIVERBED_TOPIC"], env["RIVERBED_GROUP"]) == ("riverbed-events-5", "g-5")
    # The pod's name, from the downward API; no member or incarnation: each process names
    # itself <pod>-<pid>.
    (replica,) = [e for e in c["env"] if e["name"] == "RIVERBED_REPLICA"]
    assert replica["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert "RIVERBED_MEMBER" not in env and "RIVERBED_INCARNATION" not in env
    assert "RIVERBED_EVIDENCE_TOPIC" not in env
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    assert mounts["riverbed-instrument"] == {
        "name": "riverbed-instrument", "mountPath": "/riverbed/instrument", "readOnly": True
    }  # fmt: skip
    assert mounts["riverbed-evidence"] == {
        "name": "riverbed-evidence", "mountPath": "/riverbed/evidence"
    }  # fmt: skip


def test_an_image_whose_configuration_is_unknown_gets_riverbeds_values_only():
    (c,) = _instrumented(own_env=None)["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["PYTHONPATH"] == "/riverbed/instrument/pythonpath"
    assert env["JAVA_TOOL_OPTIONS"] == "-javaagent:/riverbed/instrument/riverbed-agent.jar"


def _instrumented_deployment():
    kube = KubePlatform(mode="kind", dry_run=True, root=PROJECT_ROOT)
    docs = kube.render(
        image="riverbed-workloads:t",
        consumer_image="registry.example/orders:1.4",
        instrument_image="riverbed-instrument:t-a1234",
        consumer_image_env=_ORDERS_ENV,
    )[km.WORKLOADS]
    return km.find(docs, "Deployment", "consumer")


def test_an_instrumented_consumer_deployment_is_valid_and_within_the_pod_policy():
    from kubernetes_validate import utils as kv

    from tests.manifests.test_policy import _violations

    doc = _instrumented_deployment()
    kv.validate(doc, kv.latest_version(), strict=True)
    assert _violations(doc) == []


def test_every_container_of_an_instrumented_pod_runs_as_non_root_restricted():
    spec = _instrumented()
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for c in [*spec["initContainers"], *spec["containers"]]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]
        assert sc["capabilities"] == {"drop": ["ALL"]}, c["name"]
        assert sc.get("runAsUser", 10001) != 0, c["name"]


def test_without_instrumented_evidence_an_image_pod_gets_no_layer():
    kube = KubePlatform(mode="kind", dry_run=True, root=PROJECT_ROOT)
    docs = kube.render(image="riverbed-workloads:t", consumer_image="me/c:1")[km.WORKLOADS]
    spec = km.pod_spec(km.find(docs, "Deployment", "consumer"))
    assert not spec.get("initContainers")
    env = {e["name"] for e in spec["containers"][0]["env"]}
    assert not env & {"PYTHONPATH", "JAVA_TOOL_OPTIONS", "RIVERBED_INSTRUMENT"}


def test_a_pod_counts_as_started_when_one_of_its_processes_recorded_a_start():
    records = [
        {"v": 1, "type": "start", "member": "consumer-7d9-abcde-41", "t": 1.0},
        {"v": 1, "type": "processed", "member": "consumer-7d9-fghij-12", "t": 1.0},
        None,
    ]
    pods = ["consumer-7d9-abcde", "consumer-7d9-fghij"]
    assert instrument.started_pods(records, pods) == {"consumer-7d9-abcde"}


def _receipt(pod, files, complete=True):
    return {"v": 1, "type": "shipped", "shipper": pod, "files": files, "complete": complete}


def test_every_collected_member_needs_a_receipt_of_its_pods_sidecar():
    collected = {
        "evidence/consumed/consumer-a-30.jsonl": 10,
        "evidence/consumed/consumer-a-60.jsonl": 4,
        "evidence/consumed/consumer-b-31.jsonl": 7,
        "evidence/group.jsonl": 99,
    }
    complete = [
        _receipt("consumer-a", {"consumer-a-30": 10, "consumer-a-60": 4}),
        _receipt("consumer-b", {"consumer-b-31": 7}),
    ]
    assert instrument.shipping_gaps(complete, collected) == []
    # A sidecar killed before it could finish: no receipt from pod b.
    (gap,) = instrument.shipping_gaps(complete[:1], collected)
    assert gap.startswith("consumer-b-31: its pod's evidence sidecar never confirmed")
    # A sidecar that gave up with lines left, and one whose lines did not all arrive.
    gaps = instrument.shipping_gaps(
        [_receipt("consumer-a", {"consumer-a-30": 10, "consumer-a-60": 4}, complete=False),
         _receipt("consumer-b", {"consumer-b-31": 9})],
        collected,
    )  # fmt: skip
    assert gaps == [
        "consumer-a-30: the evidence sidecar of consumer-a stopped with lines unshipped",
        "consumer-a-60: the evidence sidecar of consumer-a stopped with lines unshipped",
        "consumer-b-31: 9 lines shipped from consumer-b, only 7 collected",
    ]
    # A restarted sidecar's later receipt is the one that counts; more lines collected than
    # shipped (a batch shipped twice after a sidecar crash) is no gap.
    later = [_receipt("consumer-b", {"consumer-b-31": 5}, complete=False), *complete]
    assert instrument.shipping_gaps(later, collected) == []
    collected_twice = {**collected, "evidence/consumed/consumer-b-31.jsonl": 12}
    assert instrument.shipping_gaps(complete, collected_twice) == []


def test_an_unfinished_collection_is_a_gap():
    (gap,) = instrument.collected_gaps("x:1", "t", {"finished": False, "detail": "timeout"})
    assert gap == "the evidence topic was not read to its end (timeout)"
    assert instrument.collected_gaps("x:1", "t", None) == []
