"""The offline images on a real kind cluster: Kafka, a workload pod, a broker kill.

Needs Docker and `riverbed kind prepare --offline` (``make test-kind`` does
both steps' set-up). Everything runs on one session cluster (conftest.py):

- the control plane from the offline node image comes up (every kube-system pod Ready);
- the Kafka StatefulSet of manifests/kafka.yaml, on the offline Kafka image
  loaded with `kind load docker-image`, becomes Ready: 3 KRaft brokers as uid 1000
  in the restricted namespace, each on its bound volume;
- the host creates a topic and writes and reads it through 127.0.0.1:19592..19594,
  the addresses the brokers advertise;
- a workloads image built on the offline Python image is loaded and a consumer
  pod runs Ready, joins its group and writes evidence through the Service `kafka`;
- a force-deleted broker pod comes back with its data, and the topic keeps
  serving acks=all writes.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from typing import Any

import pytest
import yaml

from riverbed.kafka.admin import admin_client, create_topic, describe_topic
from riverbed.offline import PreparedImages, prepared_images
from riverbed.offline.workload_images import build_workload_images
from tests.kind.conftest import MANIFESTS, KindCluster

pytestmark = [pytest.mark.kind, pytest.mark.timeout(1800)]

BOOTSTRAP = "127.0.0.1:19592,127.0.0.1:19593,127.0.0.1:19594"
NAMESPACE = "riverbed"


def _wait(predicate: Any, timeout: float, what: str, interval: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - retried until the deadline, then reported
            last = exc
        time.sleep(interval)
    raise AssertionError(f"{what} within {timeout:.0f}s; last: {last!r}")


def _pods(cluster: KindCluster, selector: str) -> list[dict[str, Any]]:
    out = cluster.kubectl("-n", NAMESPACE, "get", "pods", "-l", selector, "-o", "json").stdout
    return json.loads(out)["items"]


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def _produce(topic: str, values: list[bytes]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", retries=10)
    try:
        for i, value in enumerate(values):
            producer.send(topic, key=str(i % 7).encode(), value=value)
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)


def _consume_all(topic: str, expected: int, timeout: float = 60) -> list[bytes]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=BOOTSTRAP,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=5000,
    )
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while len(values) < expected and time.monotonic() < deadline:
            values += [record.value for record in consumer]
    finally:
        consumer.close()
    return values


# ---- the control plane ----------------------------------------------------------------------
def test_control_plane_from_the_offline_node_image(kind_cluster: KindCluster) -> None:
    t0 = time.monotonic()
    kind_cluster.kubectl(
        "-n", "kube-system", "wait", "--for=condition=Ready", "pods", "--all", "--timeout=240s"
    )
    kind_cluster.figures["kube_system_ready_after_create_s"] = round(time.monotonic() - t0, 1)
    node = json.loads(kind_cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"][0]
    assert node["status"]["nodeInfo"]["kubeletVersion"] == kind_cluster.images.kubernetes_version
    pods = json.loads(kind_cluster.kubectl("-n", "kube-system", "get", "pods", "-o", "json").stdout)
    names = {
        p["metadata"]["labels"].get("component") or p["metadata"]["name"] for p in pods["items"]
    }
    assert {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} <= names
    assert any(n.startswith("coredns") for n in names) and any(
        n.startswith("kube-proxy") for n in names
    )
    # kind's default storage, as the node image ships it: local-path, the default class.
    sc = json.loads(kind_cluster.kubectl("get", "storageclass", "standard", "-o", "json").stdout)
    assert sc["provisioner"] == "rancher.io/local-path"
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    kind_cluster.kubectl(
        "-n",
        "local-path-storage",
        "rollout",
        "status",
        "deployment/local-path-provisioner",
        "--timeout=120s",
    )


# ---- Kafka ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def kafka_cluster_in_kind(kind_cluster: KindCluster) -> KindCluster:
    """manifests/kafka.yaml on the offline Kafka image, Ready, answering on the host."""
    image = kind_cluster.images.kafka_image
    kind_cluster.figures["kind_load_kafka_image_s"] = round(kind_cluster.load(image), 1)
    manifest = (MANIFESTS / "kafka.yaml").read_text()
    assert manifest.count("image: apache/kafka:") == 1
    manifest = manifest.replace(
        f"image: apache/kafka:{kind_cluster.images.kafka_version}", f"image: {image}"
    )
    kind_cluster.kubectl("apply", "-f", str(MANIFESTS / "namespace.yaml"))
    t0 = time.monotonic()
    kind_cluster.kubectl("apply", "-f", "-", input=manifest)
    kind_cluster.kubectl(
        "-n", NAMESPACE, "rollout", "status", "statefulset/kafka", "--timeout=600s", timeout=660
    )
    kind_cluster.figures["kafka_statefulset_ready_s"] = round(time.monotonic() - t0, 1)

    def answers() -> bool:
        with admin_client(BOOTSTRAP, bootstrap_timeout_ms=5000) as admin:
            return len(admin.describe_cluster()["brokers"]) == 3

    _wait(answers, 120, "all three brokers answering on 127.0.0.1:19592..19594")
    kind_cluster.figures["kafka_answers_on_host_s"] = round(time.monotonic() - t0, 1)
    return kind_cluster


# The runs of test_kind_run.py cover these end to end (Kafka on the offline image, the host
# reaching it, consumer pods, a broker kill); here each is checked on its own, in the slow set.
@pytest.mark.slow
def test_kafka_statefulset_runs_the_offline_image(kafka_cluster_in_kind: KindCluster) -> None:
    cluster = kafka_cluster_in_kind
    pods = _pods(cluster, "app.kubernetes.io/name=kafka")
    assert sorted(p["metadata"]["name"] for p in pods) == ["kafka-0", "kafka-1", "kafka-2"]
    assert all(_ready(p) for p in pods)
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {cluster.images.kafka_image}
    assert (
        cluster.kubectl("-n", NAMESPACE, "exec", "kafka-0", "--", "id", "-u").stdout.strip()
        == "1000"
    )
    claims = json.loads(cluster.kubectl("-n", NAMESPACE, "get", "pvc", "-o", "json").stdout)
    assert sorted(c["status"]["phase"] for c in claims["items"]) == ["Bound"] * 3
    # The in-cluster tools the tutorial uses exist and talk to the brokers.
    listing = cluster.kubectl(
        "-n",
        NAMESPACE,
        "exec",
        "kafka-0",
        "--",
        "/opt/kafka/bin/kafka-topics.sh",
        "--bootstrap-server",
        "localhost:9092",
        "--list",
    )
    assert listing.returncode == 0
    cluster.figures["kafka_memory"] = _memory_by_pod(cluster)
    for pod, mib in cluster.figures["kafka_memory"].items():
        assert 0 < mib < 1024, f"{pod} uses {mib} MiB, its limit is 1 GiB"


def _memory_by_pod(cluster: KindCluster) -> dict[str, float]:
    """Working-set memory of each Kafka container, MiB, from the node's crictl."""
    stats = json.loads(cluster.node_exec("crictl", "stats", "-o", "json"))
    containers = json.loads(cluster.node_exec("crictl", "ps", "-o", "json"))["containers"]
    pod_of = {
        c["id"]: c["labels"].get("io.kubernetes.pod.name")
        for c in containers
        if c["labels"].get("io.kubernetes.container.name") == "kafka"
    }
    out = {}
    for s in stats["stats"]:
        cid = s["attributes"]["id"]
        if cid in pod_of:
            out[pod_of[cid]] = round(int(s["memory"]["workingSetBytes"]["value"]) / 2**20, 1)
    assert sorted(out) == ["kafka-0", "kafka-1", "kafka-2"], out
    return out


@pytest.mark.slow
def test_topic_round_trip_from_the_host(kafka_cluster_in_kind: KindCluster) -> None:
    topic = f"offline-{uuid.uuid4().hex[:6]}"
    create_topic(BOOTSTRAP, topic, partitions=3, replication_factor=3, min_insync_replicas=2)
    described = describe_topic(BOOTSTRAP, topic)
    assert len(described["partitions"]) == 3
    values = [f"m{i}".encode() for i in range(300)]
    _produce(topic, values)
    assert sorted(_consume_all(topic, len(values))) == sorted(values)


# ---- a workload pod -----------------------------------------------------------------------
@pytest.mark.slow
def test_workloads_image_is_loaded_and_a_consumer_runs(
    kafka_cluster_in_kind: KindCluster, request: pytest.FixtureRequest
) -> None:
    cluster = kafka_cluster_in_kind
    tag = f"kind-test-{uuid.uuid4().hex[:6]}"
    t0 = time.monotonic()
    built = build_workload_images(
        tag, python_image=cluster.images.python_image, targets=("workloads",), say=print
    )
    cluster.figures["workloads_image_build_s"] = round(time.monotonic() - t0, 1)
    image = built["workloads"]
    request.addfinalizer(lambda: subprocess.run(["docker", "rmi", image], capture_output=True))
    cluster.figures["kind_load_workloads_image_s"] = round(cluster.load(image), 1)
    listed = cluster.node_exec("crictl", "images", "-o", "json")
    assert f"docker.io/library/{image}" in listed

    for topic in ("riverbed-events", "riverbed-evidence"):
        create_topic(
            BOOTSTRAP,
            topic,
            partitions=3,
            replication_factor=3,
            min_insync_replicas=2,
            exist_ok=True,
        )
    (consumer,) = [
        d
        for d in yaml.safe_load_all((MANIFESTS / "workloads.yaml").read_text())
        if d and d["kind"] == "Deployment" and d["metadata"]["name"] == "consumer"
    ]
    consumer["spec"]["replicas"] = 1
    (container,) = consumer["spec"]["template"]["spec"]["containers"]
    container["image"] = image
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(consumer))
    cluster.kubectl("-n", NAMESPACE, "rollout", "status", "deployment/consumer", "--timeout=300s")
    (pod,) = _wait(
        # This image's pod (those of earlier consumer Deployments may still be going).
        lambda: [
            p
            for p in _pods(cluster, "app.kubernetes.io/name=consumer")
            if _ready(p) and p["spec"]["containers"][0]["image"] == image
        ],
        120,
        "a Ready consumer pod",
    )
    name = pod["metadata"]["name"]

    def evidence_of_pod() -> set[str]:
        records = [json.loads(v) for v in _consume_all("riverbed-evidence", 1, timeout=10)]
        return {r["type"] for r in records if name in json.dumps(r)}

    types = _wait(
        lambda: {"start", "assigned"} <= evidence_of_pod() and evidence_of_pod(),
        120,
        f"start and assigned evidence from {name}",
    )
    assert {"start", "assigned"} <= types
    pod = _pods(cluster, "app.kubernetes.io/name=consumer")[0]
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0


# ---- a broker kill ------------------------------------------------------------------------
@pytest.mark.slow
def test_force_deleted_broker_comes_back(kafka_cluster_in_kind: KindCluster) -> None:
    cluster = kafka_cluster_in_kind
    topic = f"kill-{uuid.uuid4().hex[:6]}"
    create_topic(BOOTSTRAP, topic, partitions=3, replication_factor=3, min_insync_replicas=2)
    before = [f"before-{i}".encode() for i in range(100)]
    _produce(topic, before)
    (old,) = [
        p
        for p in _pods(cluster, "app.kubernetes.io/name=kafka")
        if p["metadata"]["name"] == "kafka-1"
    ]
    t0 = time.monotonic()
    cluster.kubectl("-n", NAMESPACE, "delete", "pod", "kafka-1", "--grace-period=0", "--force")

    def back() -> bool:
        pods = {p["metadata"]["name"]: p for p in _pods(cluster, "app.kubernetes.io/name=kafka")}
        new = pods.get("kafka-1")
        return bool(new and new["metadata"]["uid"] != old["metadata"]["uid"] and _ready(new))

    _wait(back, 300, "kafka-1 recreated and Ready")
    cluster.figures["broker_back_ready_after_force_delete_s"] = round(time.monotonic() - t0, 1)
    # It kept its volume: the same claim, bound, and the log it had.
    claims = json.loads(cluster.kubectl("-n", NAMESPACE, "get", "pvc", "-o", "json").stdout)
    assert sorted(c["status"]["phase"] for c in claims["items"]) == ["Bound"] * 3
    after = [f"after-{i}".encode() for i in range(100)]
    _produce(topic, after)  # acks=all with min.insync.replicas=2
    assert sorted(_consume_all(topic, 200)) == sorted(before + after)

    def in_sync() -> bool:
        partitions = describe_topic(BOOTSTRAP, topic)["partitions"]
        return all(len(p["isr_nodes"]) == 3 for p in partitions)

    _wait(in_sync, 180, "kafka-1 back in every partition's in-sync replicas")


# ---- the cache ------------------------------------------------------------------------------
def test_prepared_images_reloads_an_image_docker_lost(offline_images: PreparedImages) -> None:
    """An image removed from Docker comes back from the cache's archive, unchanged.

    The Kafka image: no other image is built on it, so Docker can always remove it
    (the Python image is the base of the workload images)."""
    image = offline_images.kafka_image
    image_id = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    removed = subprocess.run(["docker", "rmi", image], capture_output=True, text=True)
    assert removed.returncode == 0, removed.stderr
    said: list[str] = []
    again = prepared_images(offline_images.cache_dir, say=said.append)
    assert again.kafka_image == image
    assert said and "loading" in said[0]
    reloaded = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert reloaded == image_id
