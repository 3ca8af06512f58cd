"""`--platform k8s --kafka-bootstrap`: what riverbed renders, plans and refuses for the
user's own Kafka (no cluster, no Kafka needed: dry runs and the CLI's input checks)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from riverbed.cli import main
from riverbed.errors import BadInput
from riverbed.platforms.kube import cluster as kube
from riverbed.platforms.kube import render as km
from riverbed.platforms.kube import user_kafka as uk
from riverbed.platforms.kube.commands import Call, describe

PODS = "my-kafka-bootstrap.kafka.svc:9093,my-kafka-1.kafka.svc:9093"
HOST = "kafka.example.com:443"
SECRET = "s3cret pass"


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    return path


def _settings(ca: Path) -> dict[str, str]:
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "team",
        "sasl.password": SECRET,
        "ssl.ca.location": str(ca),
    }


def _platform(ca: Path, **kwargs: Any) -> kube.KubePlatform:
    kafka = uk.UserKafka(PODS, HOST, _settings(ca), cluster_id="abc")
    return kube.KubePlatform(
        mode="k8s", context="staging", dry_run=True, namespace="team", kafka=kafka, **kwargs
    )


def _env(doc: km.Manifest, container: str) -> dict[str, dict[str, Any]]:
    spec = km.pod_spec(doc) or {}
    (c,) = [c for c in spec["containers"] if c["name"] == container]
    return {e["name"]: e for e in c.get("env") or []}


def test_rendering_has_no_kafka_of_riverbeds(ca: Path) -> None:
    rendered = _platform(ca).render(image="w:1", locust_image="l:1")
    docs = km.flatten(rendered)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert not [k for k in kinds if k[0] in ("StatefulSet", "PodDisruptionBudget")], kinds
    assert ("Service", "kafka") not in kinds and ("Service", "kafka-headless") not in kinds
    assert ("NetworkPolicy", "kafka") not in kinds
    # The rest of riverbed is there: its workloads, Locust, the chaos RBAC, its policies.
    for wanted in [
        ("Deployment", "consumer"),
        ("Deployment", "monitor"),
        ("Deployment", "locust-worker"),
        ("Role", "riverbed-chaos"),
        ("NetworkPolicy", "riverbed-deny-ingress"),
        ("Secret", uk.SECRET_NAME),
    ]:
        assert wanted in kinds
    assert "kafka:9092" not in km.dump(docs)


def test_every_kafka_client_pod_reads_the_settings_from_the_secret(ca: Path) -> None:
    rendered = _platform(ca).render(image="w:1", locust_image="l:1")
    docs = km.flatten(rendered)
    text = km.dump([d for d in docs if d["kind"] != "Secret"])
    assert SECRET not in text and "team" not in text.replace("namespace: team", "")
    pointed = 0
    for doc in docs:
        for c in (km.pod_spec(doc) or {}).get("containers") or []:
            env = {e["name"]: e for e in c.get("env") or []}
            if "KAFKA_BROKER" not in env:
                continue
            pointed += 1
            assert env["KAFKA_BROKER"]["value"] == PODS
            ref = env["RIVERBED_KAFKA_CONFIG"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": uk.SECRET_NAME, "key": "RIVERBED_KAFKA_CONFIG"}
            assert {"name": uk.VOLUME, "mountPath": uk.MOUNT_DIR, "readOnly": True} in c[
                "volumeMounts"
            ]
            volumes = {v["name"]: v for v in (km.pod_spec(doc) or {})["volumes"]}
            assert volumes[uk.VOLUME]["secret"]["secretName"] == uk.SECRET_NAME
    # producer, consumer, monitor, Locust master and worker
    assert pointed == 5

    (secret,) = rendered[uk.SECRET_NAME]
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    pods_config = json.loads(data["RIVERBED_KAFKA_CONFIG"])
    # The CA file travels in the Secret; the pods' settings name it where it is mounted.
    assert pods_config["ssl.ca.location"] == f"{uk.MOUNT_DIR}/ssl-ca-location.pem"
    assert data["ssl-ca-location.pem"] == ca.read_text()
    assert pods_config["sasl.password"] == SECRET
    assert json.loads(data["KAFKA_CLIENT_CONFIG"]) == pods_config


def test_the_users_consumer_image_gets_what_a_local_user_consumer_gets(ca: Path) -> None:
    rendered = _platform(ca).render(image="w:1", consumer_image="team/consumer:7")
    env = _env(km.find(rendered[km.WORKLOADS], "Deployment", "consumer"), "consumer")
    assert env["KAFKA_BROKER"]["value"] == PODS.split(",")[0]
    assert env["KAFKA_BOOTSTRAP_SERVERS"]["value"] == PODS
    for name in (
        "KAFKA_SECURITY_PROTOCOL",
        "KAFKA_SASL_MECHANISM",
        "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD",
        "KAFKA_SSL_CA_LOCATION",
        "KAFKA_CLIENT_CONFIG",
    ):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": uk.SECRET_NAME, "key": name}
    assert "RIVERBED_KAFKA_CONFIG" not in env


def test_an_instrumented_images_evidence_sidecar_ships_to_the_users_kafka(ca: Path) -> None:
    from riverbed.platforms.kube import instrument

    rendered = _platform(ca).render(
        image="w:1",
        consumer_image="team/consumer:7",
        evidence_topic="riverbed-evidence-7",
        instrument_image="riverbed-instrument:1-a2",
        consumer_image_env={},
    )
    spec = km.pod_spec(km.find(rendered[km.WORKLOADS], "Deployment", "consumer")) or {}
    (sidecar,) = [c for c in spec["initContainers"] if c["name"] == instrument.SIDECAR]
    env = {e["name"]: e for e in sidecar["env"]}
    # Not riverbed's in-cluster Kafka: the user's, with the settings from the Secret and
    # the CA file mounted.
    assert env["KAFKA_BROKER"]["value"] == PODS
    assert env["RIVERBED_KAFKA_CONFIG"]["valueFrom"]["secretKeyRef"]["name"] == uk.SECRET_NAME
    assert {"name": uk.VOLUME, "mountPath": uk.MOUNT_DIR, "readOnly": True} in sidecar[
        "volumeMounts"
    ]


def test_the_plan_deploys_no_kafka_checks_the_pods_route_and_never_reuses_a_topic(
    ca: Path,
) -> None:
    platform = _platform(ca)
    platform.up(tag="t1", topic="riverbed-events-1-a", evidence_topic="riverbed-evidence-1-a")
    plan = [describe(s) for s in platform.runner.steps]
    assert not [line for line in plan if "statefulset" in line or "port-forward" in line], plan
    probe = [i for i, line in enumerate(plan) if uk.PROBE_POD in line]
    topics = [s for s in platform.runner.steps if isinstance(s, Call) and s.name == "create_topic"]
    assert probe and probe[0] < plan.index(describe(topics[0]))
    for step in topics:
        kwargs = dict(step.kwargs)
        assert kwargs["bootstrap_servers"] == HOST and kwargs["exist_ok"] is False
    assert platform.created_topics == ["riverbed-events-1-a", "riverbed-evidence-1-a"]


def test_the_probe_pod_runs_restricted_with_the_settings_from_the_secret(ca: Path) -> None:
    kafka = uk.UserKafka(PODS, HOST, _settings(ca))
    pod = uk.probe_pod("team", "w:1", kafka)
    (c,) = pod["spec"]["containers"]
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    env = {e["name"]: e for e in c["env"]}
    assert env["KAFKA_BROKER"]["value"] == PODS
    assert "secretKeyRef" in env["RIVERBED_KAFKA_CONFIG"]["valueFrom"]
    assert uk.probe_result('noise\n{"cluster_id": "abc"}\n') == {"cluster_id": "abc"}
    assert uk.probe_result("Traceback …") is None  # it never ran: not Kafka's fault


def test_routes_to_two_clusters_or_an_unreachable_pods_route_are_bad_input(ca: Path) -> None:
    kafka = uk.UserKafka(PODS, HOST, _settings(ca), cluster_id="host-id")
    uk.check_same_cluster(kafka, "team", {"cluster_id": "host-id"})
    with pytest.raises(BadInput) as other:
        uk.check_same_cluster(kafka, "team", {"cluster_id": "pods-id"})
    assert other.value.exit_code == 4
    assert "'pods-id'" in other.value.message and "'host-id'" in other.value.message
    with pytest.raises(BadInput) as unreachable:
        uk.check_same_cluster(kafka, "team", {"error": f"NoBrokersAvailable ({SECRET})"})
    assert "cannot reach Kafka" in unreachable.value.message
    assert SECRET not in str(unreachable.value) and "NetworkPolicy" in str(unreachable.value.fix)


def test_kind_refuses_a_users_kafka() -> None:
    with pytest.raises(BadInput, match="runs its own Kafka"):
        kube.KubePlatform(mode="kind", kafka=uk.UserKafka(PODS, PODS))


def test_down_deletes_the_client_settings_secret_too() -> None:
    platform = kube.KubePlatform(mode="k8s", context="staging", dry_run=True, namespace="team")
    platform.down()
    argvs = [c.argv for c in platform.runner.commands()]
    assert ("delete", "secret", uk.SECRET_NAME) in [a[5:8] for a in argvs], argvs


def test_down_of_a_session_on_the_users_kafka_deletes_its_secret_with_the_rest(
    ca: Path,
) -> None:
    platform = _platform(ca)
    platform.down()
    (delete,) = [c for c in platform.runner.commands() if c.stdin]
    assert f"name: {uk.SECRET_NAME}" in str(delete.stdin)
    assert "kind: StatefulSet" not in str(delete.stdin)


K8S = ["--platform", "k8s", "--context", "staging", "--kafka-bootstrap", PODS]
OK_EXPERIMENT = "experiments/kill-consumer-pod-hard.json"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [*K8S, "--experiment", "experiments/kill-broker-pod.json"],
            "kill-broker-pod.json acts on brokers (terminate-one-broker-pod-now",
        ),
        (
            [*K8S, "--experiment", "experiments/network-partition-pod.json"],
            "faults the network between consumers and brokers",
        ),
        ([*K8S, "--brokers", "3", "--experiment", OK_EXPERIMENT], "--brokers configures"),
        (
            ["--platform", "kind", "--kafka-bootstrap", PODS, "--experiment", OK_EXPERIMENT],
            "--kafka-bootstrap on --platform kind",
        ),
        (
            [
                "--platform",
                "k8s",
                "--context",
                "s",
                "--kafka-config",
                "security.protocol=SSL",
                "--experiment",
                OK_EXPERIMENT,
            ],
            "fix: add --kafka-bootstrap ADDR",
        ),  # fmt: skip
        (
            [
                "--platform",
                "external",
                "--kafka-bootstrap",
                HOST,
                "--kafka-host-bootstrap",
                HOST,
                "--experiment",
                "experiments/local/kill-consumer-hard.json",
            ],
            "--kafka-host-bootstrap is this machine's route",
        ),  # fmt: skip
        (
            [*K8S, "--kafka-host-bootstrap", "nohost", "--experiment", OK_EXPERIMENT],
            "--kafka-host-bootstrap must be host:port",
        ),
        (
            [
                *K8S,
                "--kafka-config",
                "ssl.ca.location=/no/such/ca.pem",
                "--experiment",
                OK_EXPERIMENT,
            ],
            "there is no file /no/such/ca.pem",
        ),  # fmt: skip
        (
            # Nothing listens there: this machine has no route to the cluster.
            [*K8S, "--kafka-host-bootstrap", "127.0.0.1:9", "--experiment", OK_EXPERIMENT],
            "No Kafka broker answered at 127.0.0.1:9",
        ),
    ],
)
def test_bad_input_for_the_users_kafka_exits_4_before_anything_starts(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIVERBED_RUNS_DIR", str(tmp_path / "runs"))
    t0 = time.monotonic()
    result = CliRunner().invoke(main, ["run", *args])
    assert result.exit_code == 4, result.output
    assert message in " ".join(result.output.split())
    assert time.monotonic() - t0 < 30
    assert not (tmp_path / "runs").exists()


def test_a_session_records_both_routes_and_is_found_again_without_secrets(ca: Path) -> None:
    from riverbed.platforms.kube import session
    from riverbed.spec import RunSpec

    platform = _platform(ca)
    record = session.kube_record(platform)
    assert record["kafka"] == {
        "bootstrap_servers": PODS,
        "host_bootstrap_servers": HOST,
        "cluster_id": "abc",
    }
    assert SECRET not in json.dumps(record)
    spec = RunSpec("s", platform="k8s", kube=record)
    again = session.session_kafka(spec, {"security.protocol": "SSL"})
    assert (again.bootstrap, again.host_bootstrap, again.cluster_id) == (PODS, HOST, "abc")
    assert again.settings == {"security.protocol": "SSL"}
    assert session.session_kafka(RunSpec("s", platform="k8s"), {}) is None


def test_up_on_the_users_kafka_plans_no_kafka(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIVERBED_RUNS_DIR", str(tmp_path / "runs"))
    args = ["up", *K8S, "--namespace", "team-a", "--dry-run"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    plan = result.output
    assert "statefulset" not in plan and "port-forward" not in plan
    assert f"delete pod {uk.PROBE_POD}" in plan
    topics = [line for line in plan.splitlines() if "create_topic(" in line]
    assert len(topics) == 2 and all("exist_ok=False" in line for line in topics)
    # Names of its own on a shared cluster: <time>-<hex>, never reused.
    assert all("riverbed-e" in line and "-" in line.split("name='")[1] for line in topics)


def test_the_user_role_for_runs_on_the_users_kafka_covers_secrets_and_the_probe_pod() -> None:
    import contextlib
    import io

    import yaml

    from riverbed.platforms.kube.__main__ import main as kube_main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert kube_main(["user-role", "--namespace", "team-a", "--user-kafka"]) == 0
    role = next(d for d in yaml.safe_load_all(out.getvalue()) if d["kind"] == "Role")
    rules = {(r["resources"][0], tuple(r["verbs"])) for r in role["rules"]}
    assert ("secrets", ("create", "delete", "get", "patch")) in rules
    assert any(res == "pods" and "create" in verbs for res, verbs in rules)


def test_a_campaign_on_the_users_kafka_on_k8s_is_refused_not_run_on_riverbeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIVERBED_RUNS_DIR", str(tmp_path / "runs"))
    result = CliRunner().invoke(main, ["campaign", *K8S, "--runs", "1"])
    assert result.exit_code == 4, result.output
    assert "is not supported" in result.output
    assert not (tmp_path / "runs").exists()
