"""riverbed's own rendering of manifests/ agrees with `kubectl apply -k`, and the
Makefile's tutorial targets use these manifests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from riverbed.errors import HarnessError
from riverbed.kafka.distribution import KAFKA_VERSION
from riverbed.platforms.kube import render as km
from tests.manifests.conftest import MANIFESTS, ROOT


def _by_identity(docs: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d for d in docs}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) not on PATH")
@pytest.mark.parametrize(
    ("overlay", "components", "namespace"),
    [
        ("kind", [], None),
        ("k8s", [], None),
        ("kind", ["locust", "netfault"], "team-a"),
        ("k8s", ["netfault", "locust"], "team-b"),
    ],
)
def test_render_equals_kubectl_kustomize(
    tmp_path: Path, overlay: str, components: list[str], namespace: str | None
) -> None:
    """Same objects, same content — for each overlay, with the components riverbed adds,
    an image override and another namespace, as `riverbed up` uses them (the overlay
    riverbed renders is written out for kustomize)."""
    tree = tmp_path / "manifests"
    shutil.copytree(MANIFESTS, tree)
    top = tree / "run"
    top.mkdir()
    lines = [f"resources: [../overlays/{overlay}]"]
    if components:
        lines.append(f"components: [{', '.join(f'../components/{c}' for c in components)}]")
    lines.append("images:\n  - name: riverbed-workloads\n    newTag: rb-42")
    if namespace:
        lines.append(f"namespace: {namespace}")
    (top / "kustomization.yaml").write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        ["kubectl", "kustomize", str(top)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    theirs = _by_identity([d for d in yaml.safe_load_all(out.stdout) if d])
    ours = _by_identity(
        km.flatten(
            km.render(
                MANIFESTS / km.OVERLAYS[overlay],
                [km.ImageOverride("riverbed-workloads", None, "rb-42")],
                [MANIFESTS / "components" / c for c in components],
                namespace=namespace,
            )
        )
    )
    assert theirs.keys() == ours.keys()
    for key in ours:
        assert ours[key] == theirs[key], key


def test_nothing_but_kind_has_a_node_port() -> None:
    """On an existing cluster no Service is reachable from outside it (port-forwards only)."""
    for overlay, expected in (("k8s", set()), ("kind", {30080, 30089, 30092, 30093, 30094})):
        docs = km.flatten(
            km.render(MANIFESTS / km.OVERLAYS[overlay], (), [MANIFESTS / km.LOCUST_COMPONENT])
        )
        services = [d for d in docs if d["kind"] == "Service"]
        if overlay == "k8s":
            assert {s["spec"].get("type", "ClusterIP") for s in services} == {"ClusterIP"}
        node_ports = {
            p["nodePort"] for s in services for p in s["spec"]["ports"] if "nodePort" in p
        }
        assert node_ports == expected, overlay
        assert not [s for s in services if s["spec"].get("type") == "LoadBalancer"]


def test_unsupported_kustomization_fields_are_refused(tmp_path: Path) -> None:
    shutil.copytree(MANIFESTS, tmp_path / "m")
    path = tmp_path / "m" / "base" / "kustomization.yaml"
    path.write_text(path.read_text() + "namePrefix: x-\n")
    with pytest.raises(HarnessError, match="uses namePrefix, which riverbed does not render"):
        km.load_kustomization(tmp_path / "m" / "base")
    with pytest.raises(HarnessError, match="uses namePrefix"):
        km.render(tmp_path / "m" / "overlays" / "kind")


def test_missing_resource_is_refused(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [gone.yaml]\n")
    with pytest.raises(HarnessError, match="'gone.yaml' is not a file"):
        km.load_kustomization(tmp_path)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("riverbed-workloads:dev", ("riverbed-workloads", "dev")),
        ("riverbed-workloads", ("riverbed-workloads", None)),
        ("localhost:5000/riverbed-workloads", ("localhost:5000/riverbed-workloads", None)),
        ("localhost:5000/a/riverbed-workloads:v1", ("localhost:5000/a/riverbed-workloads", "v1")),
        ("apache/kafka:4.4.0@sha256:abc", ("apache/kafka", "4.4.0")),
    ],
)
def test_split_image(image: str, expected: tuple[str, str | None]) -> None:
    assert km.split_image(image) == expected


def test_image_override_touches_only_its_image() -> None:
    doc = {
        "kind": "Deployment",
        "spec": {
            "template": {
                "spec": {
                    "initContainers": [{"name": "i", "image": "riverbed-workloads:dev"}],
                    "containers": [
                        {"name": "a", "image": "riverbed-workloads:dev"},
                        {"name": "b", "image": "apache/kafka:4.4.0"},
                        {"name": "c", "image": "riverbed-workloads-extra:dev"},
                    ],
                }
            }
        },
    }
    out = km.apply_images(doc, [km.ImageOverride("riverbed-workloads", "reg:5000/rw", "t1")])
    assert [c["image"] for c in km.containers(out)] == [
        "reg:5000/rw:t1",
        "reg:5000/rw:t1",
        "apache/kafka:4.4.0",
        "riverbed-workloads-extra:dev",
    ]
    assert doc["spec"]["template"]["spec"]["containers"][0]["image"] == "riverbed-workloads:dev"


def test_set_env_replaces_and_appends(all_docs: list[dict[str, Any]]) -> None:
    import copy

    docs = copy.deepcopy(all_docs)
    km.set_env(
        docs, "Deployment", "consumer", "consumer", {"RIVERBED_ASSIGNOR": "sticky", "X": "1"}
    )
    env = km.find(docs, "Deployment", "consumer")["spec"]["template"]["spec"]["containers"][0][
        "env"
    ]
    names = [e["name"] for e in env]
    assert names.count("RIVERBED_ASSIGNOR") == 1
    assert {"name": "RIVERBED_ASSIGNOR", "value": "sticky"} in env
    assert env[-1] == {"name": "X", "value": "1"}
    with pytest.raises(HarnessError, match="no container named 'nope'"):
        km.set_env(docs, "Deployment", "consumer", "nope", {"A": "b"})


# ---- the Makefile's tutorial targets ------------------------------------------------------------
TUTORIAL_TARGETS = (
    "kind-up",
    "build-images",
    "load-images",
    "deploy-kafka",
    "deploy-apps",
    "deploy-locust",
    "delete-all",
    "kind-down",
)


@pytest.mark.skipif(shutil.which("make") is None, reason="make not on PATH")
def test_tutorial_targets_use_these_manifests() -> None:
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", *TUTORIAL_TARGETS, "IMAGE_TAG=t9"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    # The cluster is created from manifests/kind-cluster.yaml as this host needs it.
    assert (
        "riverbed kind config --kind-config manifests/kind-cluster.yaml "
        "> .venv/kind-cluster.riverbed.yaml" in text
    )
    assert "kind create cluster --name riverbed --config .venv/kind-cluster.riverbed.yaml" in text
    assert (
        "docker build -f workloads/Dockerfile --target workloads "
        "--build-arg PYTHON_IMAGE=python:3.11-slim -t riverbed-workloads:t9 ." in text
    )
    assert (
        "docker build -f workloads/Dockerfile --target locust "
        "--build-arg PYTHON_IMAGE=python:3.11-slim -t riverbed-locust:t9 ." in text
    )
    assert "--image" not in text  # kind's own node image by default
    assert "kind load docker-image riverbed-workloads:t9 riverbed-locust:t9 --name riverbed" in text
    assert "kubectl --context kind-riverbed -n riverbed rollout status statefulset/kafka" in text
    assert "--topic riverbed-events" in text and "--topic riverbed-evidence" in text
    assert "s|image: riverbed-workloads:dev|image: riverbed-workloads:t9|" in text
    assert "kind delete cluster --name riverbed" in text
    # Every manifest a target names exists, and the sed patterns match the files.
    for word in text.split():
        if word.startswith("manifests/"):
            assert (ROOT / word).is_file(), word
    assert "image: riverbed-workloads:dev" in (MANIFESTS / "base/workloads.yaml").read_text()
    assert "image: riverbed-locust:dev" in (MANIFESTS / "components/locust/locust.yaml").read_text()
    assert f"image: apache/kafka:{KAFKA_VERSION}\n" in (MANIFESTS / "base/kafka.yaml").read_text()


@pytest.mark.skipif(shutil.which("make") is None, reason="make not on PATH")
def test_tutorial_targets_take_the_offline_images() -> None:
    """`make … $(riverbed kind images --make)`: every image and tool comes from the variables."""
    out = subprocess.run(
        [
            "make",
            "-n",
            "--no-print-directory",
            *TUTORIAL_TARGETS,
            "IMAGE_TAG=t9",
            "OFFLINE=1",
            "KIND=/c/kind",
            "KUBECTL=/c/kubectl",
            "KIND_NODE_IMAGE=riverbed-offline/kind-node:v1.34.4-k",
            "KAFKA_IMAGE=riverbed-offline/kafka:4.4.0-k",
            "PYTHON_IMAGE=riverbed-offline/python:3.11-k",
            "KIND_CONFIG=/tmp/kind.yaml",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert (
        "riverbed kind config --kind-config /tmp/kind.yaml "
        "--image riverbed-offline/kind-node:v1.34.4-k > .venv/kind-cluster.riverbed.yaml" in text
    )
    assert (
        "/c/kind create cluster --name riverbed --config .venv/kind-cluster.riverbed.yaml "
        "--image riverbed-offline/kind-node:v1.34.4-k --wait 180s" in text
    )
    assert (
        "riverbed kind build-images --tag t9 --python-image riverbed-offline/python:3.11-k" in text
    )
    assert (
        "/c/kind load docker-image riverbed-workloads:t9 riverbed-locust:t9 "
        "riverbed-offline/kafka:4.4.0-k --name riverbed" in text
    )
    assert (
        f"sed -e 's|image: apache/kafka:{KAFKA_VERSION}|image: riverbed-offline/kafka:4.4.0-k|'"
        in text
    )
    assert "manifests/base/kafka.yaml | /c/kubectl --context kind-riverbed apply -f -" in text
    assert "/c/kubectl --context kind-riverbed -n riverbed exec kafka-0" in text
    assert "apache/kafka" not in text.replace(f"s|image: apache/kafka:{KAFKA_VERSION}|", "")


@pytest.mark.skipif(shutil.which("make") is None, reason="make not on PATH")
@pytest.mark.parametrize("deployed", ["", "Zq3-riverbed_made_id"])
def test_deploy_kafka_keeps_the_cluster_id_of_a_kafka_already_there(
    tmp_path: Path, deployed: str
) -> None:
    """`make deploy-kafka` on a cluster where Kafka runs (the tutorial after `riverbed up`,
    or twice): the StatefulSet keeps the cluster id its brokers' volumes were formatted
    for; on a fresh cluster the manifest's own id is applied."""
    kubectl = tmp_path / "kubectl"
    applied = tmp_path / "applied.yaml"
    kubectl.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        f'  *" get statefulset kafka "*) printf %s "{deployed}";;\n'
        f'  *"apply -f -"*) cat >> "{applied}";;\n'
        "esac\n"
    )
    kubectl.chmod(0o755)
    out = subprocess.run(
        ["make", "-s", "--no-print-directory", "deploy-kafka", f"KUBECTL={kubectl}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    (kafka,) = [
        d for d in yaml.safe_load_all(applied.read_text()) if d and d["kind"] == "StatefulSet"
    ]
    manifest = km.find(
        list(yaml.safe_load_all((MANIFESTS / "base/kafka.yaml").read_text())),
        "StatefulSet",
        "kafka",
    )
    env, original = (
        {e["name"]: e.get("value") for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
        for d in (kafka, manifest)
    )
    assert env == original | {"CLUSTER_ID": deployed or original["CLUSTER_ID"]}
