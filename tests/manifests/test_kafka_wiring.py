"""Kafka's wiring: KRaft quorum, listeners, and the path from the host to each broker
(kind port mapping → NodePort → external listener → advertised address)."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from riverbed.kafka.distribution import KAFKA_VERSION
from riverbed.platforms.kube import cluster as kube
from riverbed.platforms.kube import render as km
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


def test_kraft_settings(kafka: dict[str, Any], tmp_path: Path) -> None:
    env = _env(kafka)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    # A fixed cluster id: a base64url UUID (16 bytes), the format kafka-storage expects.
    raw = base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")
    assert len(raw) == 16 and len(env["CLUSTER_ID"]) == 22
    # The quorum's voters are the StatefulSet's pods in whatever namespace it runs in.
    assert "KAFKA_CONTROLLER_QUORUM_VOTERS" not in env
    for namespace in ("riverbed", "team-a"):
        props, _ = _run_startup(kafka, "kafka-1", tmp_path / namespace, namespace)
        assert props["controller.quorum.voters"].split(",") == [
            f"{i}@kafka-{i}.kafka-headless.{namespace}.svc.cluster.local:9093" for i in range(3)
        ]
        assert props["advertised.listeners"].startswith(
            f"INTERNAL://kafka-1.kafka-headless.{namespace}.svc.cluster.local:9092,"
        )
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


FAKE_KAFKA_BIN = {
    # Stand-ins for /opt/kafka/bin: each records its arguments and the
    # configuration file it was handed.
    "kafka-storage.sh": 'echo "storage $*" >> "$RECORD"\n',
    "kafka-server-start.sh": 'echo "server $*" >> "$RECORD"\ncp "$1" "$RECORD.properties"\n',
}


def _run_startup(
    kafka: dict[str, Any], pod: str, tmp_path: Path, namespace: str = "riverbed"
) -> tuple[dict[str, str], list[str]]:
    """Run the container's start-up script with bash against stand-in Kafka scripts;
    return the broker configuration it wrote and the commands it ran."""
    c = _container(kafka)
    assert c["command"] == ["/bin/bash", "-c"]
    (script,) = c["args"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, body in FAKE_KAFKA_BIN.items():
        (bin_dir / name).write_text("#!/usr/bin/env bash\n" + body)
        (bin_dir / name).chmod(0o755)
    record = tmp_path / f"{pod}.record"
    env = {
        "PATH": "/usr/bin:/bin",
        **_env(kafka),
        "POD_NAME": pod,
        "POD_NAMESPACE": namespace,
        "RIVERBED_KAFKA_BIN": str(bin_dir),
        "RIVERBED_KAFKA_CONFIG": str(tmp_path / pod / "server.properties"),
        "RECORD": str(record),
    }
    subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, check=True, timeout=10
    )
    props = dict(
        line.split("=", 1)
        for line in Path(f"{record}.properties").read_text().splitlines()
        if "=" in line
    )
    return props, record.read_text().splitlines()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("ordinal", [0, 1, 2])
def test_startup_script_derives_node_id_and_advertised_listeners(
    kafka: dict[str, Any], ordinal: int, tmp_path: Path
) -> None:
    props, _ = _run_startup(kafka, f"kafka-{ordinal}", tmp_path)
    assert props["node.id"] == str(ordinal)
    assert props["advertised.listeners"] == (
        f"INTERNAL://kafka-{ordinal}.kafka-headless.riverbed.svc.cluster.local:9092,"
        f"EXTERNAL://127.0.0.1:{19592 + ordinal}"
    )


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_startup_script_writes_every_kafka_variable_as_a_broker_setting(
    kafka: dict[str, Any], tmp_path: Path
) -> None:
    """The same names the official image derives from KAFKA_* variables, JVM options excluded."""
    props, commands = _run_startup(kafka, "kafka-1", tmp_path)
    env = _env(kafka)
    assert props["process.roles"] == env["KAFKA_PROCESS_ROLES"]
    assert props["listeners"] == env["KAFKA_LISTENERS"]
    assert props["listener.security.protocol.map"] == env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert props["log.dirs"] == env["KAFKA_LOG_DIRS"]
    assert props["min.insync.replicas"] == "2"
    assert props["transaction.state.log.min.isr"] == "2"
    assert props["auto.create.topics.enable"] == "false"
    assert not {k for k in props if k.endswith("opts")}, "JVM options are not broker settings"
    expected = {
        k.removeprefix("KAFKA_").lower().replace("_", ".")
        for k in env
        if k.startswith("KAFKA_") and not k.endswith("_OPTS")
    } | {"node.id", "advertised.listeners", "controller.quorum.voters"}
    assert set(props) == expected
    # Storage is formatted for the fixed cluster id (idempotently), then the broker starts.
    config = str(tmp_path / "kafka-1" / "server.properties")
    assert commands == [
        f"storage format --ignore-formatted --cluster-id {env['CLUSTER_ID']} --config {config}",
        f"server {config}",
    ]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_variable_names_map_to_settings_like_the_official_image(
    kafka: dict[str, Any], tmp_path: Path
) -> None:
    """__ is an underscore and ___ a dash in a setting's name, as apache/kafka reads them."""
    sts = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "command": ["/bin/bash", "-c"],
                            "args": _container(kafka)["args"],
                            "env": [
                                {"name": "RIVERBED_EXTERNAL_BASE_PORT", "value": "19592"},
                                {"name": "RIVERBED_EXTERNAL_HOST", "value": "127.0.0.1"},
                                {"name": "CLUSTER_ID", "value": "x"},
                                {
                                    "name": "KAFKA_LISTENER_NAME_INTERNAL_SSL__CLIENT__AUTH",
                                    "value": "none",
                                },
                                {"name": "KAFKA_SOME___DASHED_NAME", "value": "1"},
                                {"name": "KAFKA_HEAP_OPTS", "value": "-Xmx1g"},
                            ],
                        }
                    ]
                }
            }
        }
    }
    props, _ = _run_startup(sts, "kafka-0", tmp_path)
    assert props["listener.name.internal.ssl_client_auth"] == "none"
    assert props["some-dashed.name"] == "1"
    assert "heap.opts" not in props


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_host_reaches_every_broker_at_the_address_it_advertises(
    kafka: dict[str, Any], all_docs: list[dict[str, Any]], tmp_path: Path
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
        advertised = _run_startup(kafka, f"kafka-{i}", tmp_path)[0]["advertised.listeners"]
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
    platform = kube.KubePlatform(dry_run=True)
    assert platform.producer_url == f"http://127.0.0.1:{host_port_of[producer['nodePort']]}"
    locust = named(all_docs, "Service", "locust-master-external")["spec"]["ports"][0]
    assert locust["nodePort"] in host_port_of
