"""The manifests under manifests/, loaded once per test session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from riverbed.platforms.kube import render as km

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
EXPERIMENTS = ROOT / "experiments"
#: Files of Kubernetes objects, by name → path under manifests/ (kind-cluster.yaml,
#: kustomization.yaml and patch files are configs, not objects).
OBJECT_FILES = {
    "kafka.yaml": "base/kafka.yaml",
    "chaos-rbac.yaml": "base/chaos-rbac.yaml",
    "network-policy.yaml": "base/network-policy.yaml",
    "workloads.yaml": "base/workloads.yaml",
    "namespace.yaml": "overlays/kind/namespace.yaml",
    "node-ports.yaml": "overlays/kind/node-ports.yaml",
    "node-ports-policy.yaml": "overlays/kind/node-ports-policy.yaml",
    "locust.yaml": "components/locust/locust.yaml",
}


@pytest.fixture(scope="session")
def docs_by_file() -> dict[str, list[dict[str, Any]]]:
    return {name: km.load_documents(MANIFESTS / path) for name, path in OBJECT_FILES.items()}


@pytest.fixture(scope="session")
def all_docs(docs_by_file: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [doc for docs in docs_by_file.values() for doc in docs]


def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return km.find(docs, kind, name)


def workload_docs(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects that run pods."""
    return [d for d in docs if km.pod_spec(d) is not None]


def grants(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    """Whether RBAC ``rules`` allow ``verb`` on ``group``/``resource``."""
    return any(
        group in r.get("apiGroups", [])
        and resource in r.get("resources", [])
        and verb in r.get("verbs", [])
        for r in rules
    )
