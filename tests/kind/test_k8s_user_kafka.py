"""`--platform k8s --kafka-bootstrap`: the user's own Kafka, deployed by someone else.

The Kafka `riverbed up --platform kind` deployed for the session (namespace riverbed) plays
the team's Kafka: the pods reach it at its in-cluster addresses, this machine at the kind
host ports. As a Kafka administrator would, the test admits the team's namespace with a
NetworkPolicy beside Kafka; then a run in the team's namespace deploys no Kafka, passes
with a hard consumer kill, deletes its topics and group afterwards, and `down` leaves
nothing; a pods' route that leads nowhere is refused first (exit 4). The images are the ones the session's `up` put on the node (the same content
tag): k8s mode pulls nothing and loads nothing here.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from riverbed.kafka.admin import admin_client
from riverbed.platforms.kube.cluster import KIND_EXTERNAL_BASE_PORT
from tests.kind.conftest import ROOT, KindCluster, riverbed

pytestmark = [pytest.mark.kind, pytest.mark.timeout(1800)]

TEAM = "rb-user-kafka"
#: The session's Kafka, as pods of any namespace reach it (manifests/base/kafka.yaml).
PODS_BOOTSTRAP = ",".join(
    f"kafka-{i}.kafka-headless.riverbed.svc.cluster.local:9092" for i in range(3)
)
HOST_BOOTSTRAP = ",".join(f"127.0.0.1:{KIND_EXTERNAL_BASE_PORT + i}" for i in range(3))

ADMIT_TEAM = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": f"admit-{TEAM}", "namespace": "riverbed"},
    "spec": {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "kafka"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": TEAM}}}
                ],
                "ports": [{"port": 9092}],
            }
        ],
    },
}


def _topics() -> set[str]:
    with admin_client(HOST_BOOTSTRAP) as admin:
        return set(admin.list_topics())


def test_k8s_run_on_the_users_kafka_deploys_none_and_leaves_nothing(
    kind_cluster: KindCluster, tmp_path: Path
) -> None:
    context = f"kind-{kind_cluster.name}"
    env = kind_cluster.env(tmp_path / "runs")
    k8s = ["--platform", "k8s", "--context", context, "--namespace", TEAM]
    kind_cluster.kubectl("apply", "-f", "-", input=json.dumps(ADMIT_TEAM))
    before = _topics()
    try:
        # A pods' route that leads nowhere is refused as bad input, before any topic.
        wrong = "no-such-kafka.riverbed.svc.cluster.local:9092"
        bad = riverbed(
            ["run", *k8s, "--kafka-bootstrap", wrong, "--kafka-host-bootstrap", HOST_BOOTSTRAP,
             "--experiment", str(ROOT / "experiments" / "kill-consumer-pod-hard.json")],
            kind_cluster.env(tmp_path / "refused"),
            timeout=900,
        )  # fmt: skip
        assert bad.returncode == 4, bad.stdout[-3000:] + bad.stderr[-6000:]
        assert f"cannot reach Kafka at --kafka-bootstrap {wrong}" in " ".join(bad.stderr.split())
        assert _topics() == before

        args = [
            "run", *k8s,
            "--kafka-bootstrap", PODS_BOOTSTRAP, "--kafka-host-bootstrap", HOST_BOOTSTRAP,
            "--experiment", str(ROOT / "experiments" / "kill-consumer-pod-hard.json"),
            "--duration", "60s", "--warmup", "15s", "--cooldown", "10s",
            "--users", "4", "--spawn-rate", "4", "--drain-deadline", "120s",
        ]  # fmt: skip
        t0 = time.monotonic()
        r = riverbed(args, env, timeout=1500)
        kind_cluster.figures["k8s_user_kafka_run_s"] = round(time.monotonic() - t0, 1)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-6000:]
        (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["verdict"] == "pass", summary["checks"]
        assert summary["counts"]["acknowledged"] > 100
        spec = json.loads((run_dir / "spec.json").read_text())
        (chaos,) = spec["chaos"]
        assert chaos["landed"] and not chaos["inconclusive_reasons"]
        # Both routes answered as one cluster, recorded; no secret was given, none kept.
        assert spec["kube"]["kafka"]["bootstrap_servers"] == PODS_BOOTSTRAP
        assert spec["kube"]["kafka"]["cluster_id"]

        # No Kafka of riverbed's in the team's namespace: no StatefulSet, no Kafka Service.
        sts = kind_cluster.kubectl("-n", TEAM, "get", "statefulsets", "-o", "name")
        assert sts.stdout.split() == [], sts.stdout
        services = kind_cluster.kubectl("-n", TEAM, "get", "services", "-o", "name").stdout
        assert "kafka" not in services, services
        policies = kind_cluster.kubectl("-n", TEAM, "get", "networkpolicies", "-o", "name")
        assert "networkpolicy.networking.k8s.io/kafka" not in policies.stdout.split()
        # The pods got the connection settings from the Secret, not a plain value.
        consumer = json.loads(
            kind_cluster.kubectl("-n", TEAM, "get", "deployment", "consumer", "-o", "json").stdout
        )
        (container,) = consumer["spec"]["template"]["spec"]["containers"]
        env_of = {e["name"]: e for e in container["env"]}
        assert env_of["KAFKA_BROKER"]["value"] == PODS_BOOTSTRAP
        assert "secretKeyRef" in env_of["RIVERBED_KAFKA_CONFIG"]["valueFrom"]

        # The run's topics and group are gone from the user's Kafka; nothing else changed.
        created = spec["topics"]["created"]
        assert spec["topic"] in created and spec["evidence_topic"] in created
        assert sorted(spec["topics"]["deleted"]) == sorted(created)
        assert spec["topics"]["group_deleted"] is True
        deadline = time.monotonic() + 60
        while (left := _topics() & set(created)) and time.monotonic() < deadline:
            time.sleep(2)
        assert not left, left
        assert before <= _topics()
        kafka = kind_cluster.kubectl("-n", "riverbed", "get", "statefulset", "kafka", "-o", "json")
        assert json.loads(kafka.stdout)["status"].get("readyReplicas") == 3
    finally:
        down = riverbed(["down", *k8s], env, timeout=900)
        kind_cluster.kubectl(
            "delete", "-f", "-", "--ignore-not-found", input=json.dumps(ADMIT_TEAM)
        )
    assert down.returncode == 0, down.stdout + down.stderr
    gone = kind_cluster.kubectl("get", "namespace", TEAM, check=False)
    assert gone.returncode != 0, gone.stdout  # riverbed created it, so it deleted it
