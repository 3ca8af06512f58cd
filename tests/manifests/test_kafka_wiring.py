"""Kafka's wiring: KRaft quorum, listeners, and the path from the host to each broker
(kind port mapping → NodePort → external listener → advertised address)."""

from __future__ import annotations

import base64
import shutil
import subprocess
from typing import Any

import pytest

from riverbed.kafka.distribution import KAFKA_VERSION
from riverbed.platforms import kube
from riverbed.platforms import kube_manifests as km
from tests.manifests.conftest import MANIFESTS, named


@pytest.fixture(scope="module")
def kafka(all_docs: list[dict[str, Any]]) -> dict[str, Any]:
    return named(all_docs, "StatefulSet", "kafka")


def _container(sts: dict[str, Any]) -> dict[str, Any]:
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    return c


def _env(sts: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in _container(sts)["env"] if "value" in e}


def test_statefulset_basics(kafka: dict[str, Any], all_docs: list[dict[str, Any]]) -> None:
    spec = kafka["spec"]
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["replicas"] == kube.KAFKA_BROKERS == 3
    headless = named(all_docs, "Service", spec["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert spec["template"]["spec"]["enableServiceLinks"] is False


def test_official_image_same_version_as_the_local_platform(kafka: dict[str, Any]) -> None:
    assert _container(kafka)["image"] == f"apache/kafka:{KAFKA_VERSION}"


def test_readiness_probe_is_on_the_broker_port(kafka: dict[str, Any]) -> None:
    c = _container(kafka)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    probe = c["readinessProbe"]["tcpSocket"]["port"]
    assert ports[probe] == 9092


def test_kraft_settings(kafka: dict[str, Any]) -> None:
    env = _env(kafka)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    # A fixed cluster id: a base64url UUID (16 bytes), the format kafka-storage expects.
    raw = base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")
    assert len(raw) == 16 and len(env["CLUSTER_ID"]) == 22
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert voters == [
        f"{i}@kafka-{i}.kafka-headless.riverbed.svc.cluster.local:9093" for i in range(3)
    ]
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    assert listeners == {"INTERNAL": ":9092", "CONTROLLER": ":9093", "EXTERNAL": ":9094"}
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(protocols) == set(listeners)
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "INTERNAL"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    # Durability that the zero-loss checks assume.
    assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
    assert env["KAFKA_LOG_DIRS"].startswith(_container(kafka)["volumeMounts"][0]["mountPath"])


def _startup_env(kafka: dict[str, Any], pod: str) -> dict[str, str]:
    """Run the container's start-up script with bash, handing over to `env` instead of
    the image's entrypoint, and return the environment Kafka would be configured from."""
    c = _container(kafka)
    assert c["command"] == ["/bin/bash", "-c"]
    (script,) = c["args"]
    assert "exec /etc/kafka/docker/run" in script
    script = script.replace("exec /etc/kafka/docker/run", "exec env")
    env = {"PATH": "/usr/bin:/bin", **_env(kafka), "POD_NAME": pod, "POD_NAMESPACE": "riverbed"}
    out = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, check=True, timeout=10
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("ordinal", [0, 1, 2])
def test_startup_script_derives_node_id_and_advertised_listeners(
    kafka: dict[str, Any], ordinal: int
) -> None:
    env = _startup_env(kafka, f"kafka-{ordinal}")
    assert env["KAFKA_NODE_ID"] == str(ordinal)
    assert env["KAFKA_ADVERTISED_LISTENERS"] == (
        f"INTERNAL://kafka-{ordinal}.kafka-headless.riverbed.svc.cluster.local:9092,"
        f"EXTERNAL://127.0.0.1:{19092 + ordinal}"
    )


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_host_reaches_every_broker_at_the_address_it_advertises(
    kafka: dict[str, Any], all_docs: list[dict[str, Any]]
) -> None:
    """127.0.0.1:H --kind--> NodePort N --Service--> pod kafka-i:9094, which advertises 127.0.0.1:H."""
    host_port_of = {
        m.container_port: m.host_port
        for m in km.kind_port_mappings(MANIFESTS / "kind-cluster.yaml")
        if m.listen_address == "127.0.0.1"
    }
    external_container_port = {p["name"]: p["containerPort"] for p in _container(kafka)["ports"]}[
        "external"
    ]
    assert external_container_port == kube.KAFKA_EXTERNAL_PORT
    bootstrap = []
    for i in range(3):
        svc = named(all_docs, "Service", f"kafka-external-{i}")
        assert svc["spec"]["type"] == "NodePort"
        (port,) = svc["spec"]["ports"]
        assert port["targetPort"] == "external"
        assert svc["spec"]["selector"]["statefulset.kubernetes.io/pod-name"] == f"kafka-{i}"
        host_port = host_port_of[port["nodePort"]]
        advertised = _startup_env(kafka, f"kafka-{i}")["KAFKA_ADVERTISED_LISTENERS"]
        assert f"EXTERNAL://127.0.0.1:{host_port}" in advertised.split(",")
        bootstrap.append(f"127.0.0.1:{host_port}")
    # ... and the platform hands out exactly those addresses.
    assert kube.KubePlatform(dry_run=True).bootstrap_servers == ",".join(bootstrap)


def test_producer_and_locust_ui_are_mapped_to_the_host(all_docs: list[dict[str, Any]]) -> None:
    host_port_of = {
        m.container_port: m.host_port
        for m in km.kind_port_mappings(MANIFESTS / "kind-cluster.yaml")
    }
    producer = named(all_docs, "Service", "producer-external")["spec"]["ports"][0]
    assert host_port_of[producer["nodePort"]] == kube.PRODUCER_HOST_PORT
    locust = named(all_docs, "Service", "locust-master-external")["spec"]["ports"][0]
    assert host_port_of[locust["nodePort"]] == kube.LOCUST_WEB_HOST_PORT
