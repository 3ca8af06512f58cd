"""Every manifest validates against the schemas of the newest Kubernetes version
kubernetes-validate ships, in strict mode (unknown fields are errors)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes_validate import utils as kv

from riverbed.platforms.kube import render as km
from tests.manifests.conftest import MANIFESTS, OBJECT_FILES

CONFIG_FILES = {
    "kind-cluster.yaml",
    "base/kustomization.yaml",
    "overlays/kind/kustomization.yaml",
    "overlays/k8s/kustomization.yaml",
    "components/locust/kustomization.yaml",
    "components/netfault/kustomization.yaml",
    "components/netfault/sidecar.yaml",
}
KUBE_VERSION = kv.latest_version()


def _validate(doc: dict[str, Any]) -> None:
    kv.validate(doc, KUBE_VERSION, strict=True)


def test_schema_version_is_current() -> None:
    # kubernetes-validate >= 1.37 ships 1.33..1.37; validate against the newest, not a default.
    assert tuple(int(x) for x in KUBE_VERSION.split(".")[:2]) >= (1, 33)


def test_every_manifest_file_is_checked() -> None:
    on_disk = {str(p.relative_to(MANIFESTS)) for p in MANIFESTS.rglob("*.y*ml")}
    assert on_disk == set(OBJECT_FILES.values()) | CONFIG_FILES


@pytest.mark.parametrize("name", OBJECT_FILES)
def test_documents_validate_strictly(name: str) -> None:
    docs = km.load_documents(MANIFESTS / OBJECT_FILES[name])
    assert docs, f"{name} holds no documents"
    failures = []
    for doc in docs:
        try:
            _validate(doc)
        except kv.ValidationError as exc:
            where = "/".join(str(p) for p in exc.path)
            failures.append(f"{doc['kind']}/{doc['metadata']['name']}: {where}: {exc.message}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("overlay", ["kind", "k8s"])
def test_rendered_kustomization_validates(overlay: str) -> None:
    """What riverbed applies (images substituted, every component, another namespace) is
    as valid as the files."""
    rendered = km.render(
        MANIFESTS / km.OVERLAYS[overlay],
        [km.ImageOverride("riverbed-workloads", None, "rb-1")],
        [MANIFESTS / km.LOCUST_COMPONENT, MANIFESTS / km.NETFAULT_COMPONENT],
        namespace="team-a",
    )
    for doc in km.flatten(rendered):
        _validate(doc)


def test_strict_validation_rejects_a_misspelled_field(all_docs: list[dict[str, Any]]) -> None:
    # The control for the tests above: a typo in a real manifest must fail.
    sts = copy.deepcopy(km.find(all_docs, "StatefulSet", "kafka"))
    sts["spec"]["podManagmentPolicy"] = sts["spec"].pop("podManagementPolicy")
    with pytest.raises(kv.ValidationError):
        _validate(sts)
    dep = copy.deepcopy(km.find(all_docs, "Deployment", "consumer"))
    dep["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = {"x": 1}
    with pytest.raises(kv.ValidationError):
        _validate(dep)


def test_kind_cluster_config_shape() -> None:
    """kind's config has no JSON schema here; check the fields kind reads."""
    (config,) = km.load_documents(MANIFESTS / "kind-cluster.yaml")
    assert config["kind"] == "Cluster"
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert set(config) <= {"kind", "apiVersion", "name", "nodes", "networking"}
    for node in config["nodes"]:
        assert node["role"] in ("control-plane", "worker")
        assert set(node) <= {"role", "image", "extraPortMappings", "extraMounts", "labels"}
        for m in node.get("extraPortMappings", []):
            assert set(m) <= {"containerPort", "hostPort", "listenAddress", "protocol"}
            assert m["protocol"] in ("TCP", "UDP", "SCTP")
            # NodePorts live in 30000-32767 by default.
            assert 30000 <= m["containerPort"] <= 32767
            # Only this machine may reach the cluster's services.
            assert m["listenAddress"] == "127.0.0.1"


def test_the_kustomize_tree_lists_every_object_file_once() -> None:
    listed = []
    for directory in ("base", "overlays/kind", "overlays/k8s", "components/locust"):
        k = km.load_kustomization(MANIFESTS / directory)
        listed += [f"{directory}/{r}" for r in k.resources if (MANIFESTS / directory / r).is_file()]
    assert sorted(listed) == sorted(OBJECT_FILES.values())
    assert [i.name for i in km.load_kustomization(MANIFESTS / "base").images] == [
        "riverbed-workloads"
    ]
