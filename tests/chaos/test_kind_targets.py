"""The kind experiments target what manifests/ creates: namespace, labels, names, counts, ports.

Read from the manifest files themselves, so renaming a label or a Deployment
there without updating the experiments fails here (a pod kill whose selector
matches nothing would otherwise "succeed" and prove nothing).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.kube_selectors import parse_selector

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
KIND_FILES = sorted((ROOT / "experiments").glob("*.json"))


def manifest_docs() -> list[dict[str, Any]]:
    """What the kind overlay deploys, Locust included (the experiments' targets)."""
    from riverbed.platforms.kube import render as km

    rendered = km.render(MANIFESTS / km.OVERLAYS["kind"], (), [MANIFESTS / km.LOCUST_COMPONENT])
    return km.flatten(rendered)


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    found = manifest_docs()
    assert found, "manifests/ holds no Kubernetes objects"
    return found


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    hits = [d for d in docs if d.get("kind") == kind and d.get("metadata", {}).get("name") == name]
    assert len(hits) == 1, f"manifests/ has {len(hits)} {kind} named {name!r}"
    return hits[0]


def resolved(exp: dict[str, Any], value: Any) -> Any:
    """A ``${name}`` argument as it runs without any variable set: the env entry's default."""
    if isinstance(value, str) and (m := re.fullmatch(r"\$\{([^}]+)\}", value)):
        return exp["configuration"][m[1]]["default"]
    return value


def k8s_calls(exp: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    calls = []
    every = exp["steady-state-hypothesis"]["probes"] + exp["method"] + exp["rollbacks"]
    for activity in every:
        p = activity["provider"]
        if p["module"].startswith(("chaosk8s", "riverbed.chaos.kube.actions")):
            args = {k: resolved(exp, v) for k, v in p.get("arguments", {}).items()}
            calls.append((p["module"], p["func"], args))
    return calls


def pod_labels(controller: dict[str, Any]) -> dict[str, str]:
    return controller["spec"]["template"]["metadata"]["labels"]


@pytest.mark.parametrize("path", KIND_FILES, ids=lambda p: p.name)
def test_selectors_namespaces_and_names_match_the_manifests(
    path: Path, docs: list[dict[str, Any]]
) -> None:
    exp = json.loads(path.read_text())
    calls = k8s_calls(exp)
    assert calls, f"{path.name} uses no chaostoolkit-kubernetes activity"
    namespaces = {d["metadata"]["name"] for d in docs if d.get("kind") == "Namespace"}
    for module, func, args in calls:
        assert args.get("ns") in namespaces, (
            f"{func}: namespace {args.get('ns')!r} is not in manifests/"
        )
        if "label_selector" in args:
            selector = parse_selector(args["label_selector"])
            controllers = [
                d for d in docs
                if d.get("kind") in ("Deployment", "StatefulSet")
                and d["metadata"].get("namespace") == args["ns"]
                and selector.matches(pod_labels(d))
            ]  # fmt: skip
            assert len(controllers) == 1, (
                f"{path.name}: {func} selector {args['label_selector']!r} matches the pods of "
                f"{[c['metadata']['name'] for c in controllers]}, expected exactly one controller"
            )
        if module.startswith("chaosk8s.deployment") and "name" in args:
            find(docs, "Deployment", args["name"])
        if module.startswith("chaosk8s.statefulset") and "name" in args:
            find(docs, "StatefulSet", args["name"])


def test_consumer_and_broker_selectors_pick_the_consumer_deployment_and_kafka_statefulset(
    docs: list[dict[str, Any]],
) -> None:
    consumer = find(docs, "Deployment", "consumer")
    kafka = find(docs, "StatefulSet", "kafka")
    exp = json.loads((ROOT / "experiments" / "kill-broker-pod.json").read_text())
    cfg = {k: v["default"] for k, v in exp["configuration"].items()}
    assert parse_selector(cfg["consumer_selector"]).matches(pod_labels(consumer))
    assert parse_selector(cfg["broker_selector"]).matches(pod_labels(kafka))
    assert not parse_selector(cfg["consumer_selector"]).matches(pod_labels(kafka))
    assert not parse_selector(cfg["broker_selector"]).matches(pod_labels(consumer))
    assert cfg["consumer_deployment"] == "consumer" and cfg["broker_statefulset"] == "kafka"
    assert cfg["namespace"] == consumer["metadata"]["namespace"] == kafka["metadata"]["namespace"]
    # Rollbacks scale back to the manifests' counts.
    assert cfg["consumers"] == consumer["spec"]["replicas"]
    assert cfg["brokers"] == kafka["spec"]["replicas"]


def test_kafka_targets_match_the_consumer_env_and_the_kind_port_mappings(
    docs: list[dict[str, Any]],
) -> None:
    consumer = find(docs, "Deployment", "consumer")
    (container,) = [
        c for c in consumer["spec"]["template"]["spec"]["containers"] if c["name"] == "consumer"
    ]
    env = {e["name"]: e.get("value") for e in container["env"]}
    kind_cluster = yaml.safe_load((MANIFESTS / "kind-cluster.yaml").read_text())
    host_ports = {
        f"{m['listenAddress']}:{m['hostPort']}"
        for node in kind_cluster["nodes"]
        for m in node.get("extraPortMappings", [])
    }
    for path in KIND_FILES:
        cfg = {k: v["default"] for k, v in json.loads(path.read_text())["configuration"].items()}
        assert cfg["topic"] == env["KAFKA_TOPIC"], path.name
        assert cfg["group"] == env["KAFKA_GROUP"], path.name
        assert set(cfg["bootstrap_servers"].split(",")) <= host_ports, path.name


def test_the_chaos_role_allows_what_the_kind_experiments_do(docs: list[dict[str, Any]]) -> None:
    role = find(docs, "Role", "riverbed-chaos")

    def allowed(resource: str, verb: str, group: str) -> bool:
        return any(
            group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
            for r in role["rules"]
        )

    needs = {
        "terminate_pods": [("pods", "list", ""), ("pods", "delete", "")],
        "exec_in_pods": [("pods", "list", ""), ("pods/exec", "create", "")],
        "scale_deployment": [("deployments/scale", "patch", "apps")],
        "scale_statefulset": [("statefulsets/scale", "patch", "apps")],
        "deployment_available_and_healthy": [("deployments", "list", "apps")],
        "deployment_fully_available": [("deployments", "watch", "apps")],
        "statefulset_fully_available": [("statefulsets", "watch", "apps")],
    }
    used = {func for path in KIND_FILES for _, func, _ in k8s_calls(json.loads(path.read_text()))}
    assert used <= set(needs), f"add the RBAC needs of {used - set(needs)} to this test"
    for func in used:
        for resource, verb, group in needs[func]:
            assert allowed(resource, verb, group), f"{func} needs {verb} on {resource}"
