"""Selectors: every selector in the manifests selects what it is meant to, and every
selector (and object name) the chaos experiments use matches the manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from riverbed.platforms.kube import render as km
from tests.manifests.conftest import EXPERIMENTS, grants, named, workload_docs
from tests.support.kube_selectors import (
    LabelledObject,
    activities_in_experiments,
    kubernetes_experiments,
    matching,
    named_objects_in_experiments,
    objects,
    selector_from_map,
    selector_from_spec,
    selectors_in_experiments,
)


@pytest.fixture(scope="module")
def labelled(all_docs: list[dict[str, Any]]) -> list[LabelledObject]:
    return objects(all_docs)


def test_controller_selectors_match_their_own_pod_template(all_docs: list[dict[str, Any]]) -> None:
    for doc in workload_docs(all_docs):
        selector = selector_from_spec(doc["spec"]["selector"])
        assert selector.requirements, doc["metadata"]["name"]
        assert selector.matches(km.pod_template_labels(doc) or {}), doc["metadata"]["name"]


def test_controller_selectors_do_not_overlap(
    all_docs: list[dict[str, Any]], labelled: list[LabelledObject]
) -> None:
    """Two controllers selecting each other's pods would fight over them."""
    for doc in workload_docs(all_docs):
        owner = f"{doc['kind']}/{doc['metadata']['name']}"
        hits = matching(selector_from_spec(doc["spec"]["selector"]), labelled, "Pod", "riverbed")
        assert {p.owner for p in hits} == {owner}


def test_service_selectors_select_pods_with_their_target_ports(
    all_docs: list[dict[str, Any]], labelled: list[LabelledObject]
) -> None:
    port_names = {
        f"{d['kind']}/{d['metadata']['name']}": {
            p.get("name") for c in km.containers(d) for p in c.get("ports", [])
        }
        for d in workload_docs(all_docs)
    }
    services = [d for d in all_docs if d["kind"] == "Service"]
    assert services
    for svc in services:
        hits = matching(selector_from_map(svc["spec"]["selector"]), labelled, "Pod", "riverbed")
        assert hits, f"Service {svc['metadata']['name']} selects no pod"
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for pod in hits:
                if isinstance(target, str):
                    assert target in port_names[pod.owner], (svc["metadata"]["name"], target)


def test_per_broker_services_select_exactly_their_broker(
    labelled: list[LabelledObject], all_docs: list[dict[str, Any]]
) -> None:
    for i in range(3):
        svc = named(all_docs, "Service", f"kafka-external-{i}")
        hits = matching(selector_from_map(svc["spec"]["selector"]), labelled, "Pod", "riverbed")
        assert [p.name for p in hits] == [f"kafka-{i}"]


def test_pdb_selects_the_brokers(
    all_docs: list[dict[str, Any]], labelled: list[LabelledObject]
) -> None:
    pdb = named(all_docs, "PodDisruptionBudget", "kafka")
    hits = matching(selector_from_spec(pdb["spec"]["selector"]), labelled, "Pod", "riverbed")
    assert sorted(p.name for p in hits) == ["kafka-0", "kafka-1", "kafka-2"]


@pytest.mark.parametrize(
    ("selector", "owner"),
    [
        ("app.kubernetes.io/name=consumer", "Deployment/consumer"),
        ("app.kubernetes.io/name=kafka", "StatefulSet/kafka"),
        ("app.kubernetes.io/name=producer", "Deployment/producer"),
        ("app.kubernetes.io/name=monitor", "Deployment/monitor"),
        (
            "app.kubernetes.io/name=locust,app.kubernetes.io/component=master",
            "Deployment/locust-master",
        ),
        (
            "app.kubernetes.io/name=locust,app.kubernetes.io/component=worker",
            "Deployment/locust-worker",
        ),
    ],
)
def test_decided_selectors_select_exactly_their_workload(
    labelled: list[LabelledObject], selector: str, owner: str
) -> None:
    """The labels others code against (chaos experiments, the platform's read helpers)."""
    from tests.support.kube_selectors import parse_selector

    hits = matching(parse_selector(selector), labelled, "Pod", "riverbed")
    assert {p.owner for p in hits} == {owner}


def test_decided_names(all_docs: list[dict[str, Any]]) -> None:
    assert named(all_docs, "Deployment", "consumer")["spec"]["replicas"] == 3
    sts = named(all_docs, "StatefulSet", "kafka")
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["serviceName"] == "kafka-headless"
    assert named(all_docs, "Service", "kafka")["spec"]["ports"][0]["port"] == 9092
    assert named(all_docs, "Service", "producer")["spec"]["ports"][0]["port"] == 8080
    named(all_docs, "Deployment", "monitor")
    named(all_docs, "Deployment", "producer")


# ---- the chaos experiments ----------------------------------------------------------------------
#: What each chaostoolkit-kubernetes function needs from the chaos Role: (apiGroup, resource, verb).
CHAOSK8S_PERMISSIONS: dict[str, list[tuple[str, str, str]]] = {
    "chaosk8s.pod.actions.terminate_pods": [("", "pods", "list"), ("", "pods", "delete")],
    "chaosk8s.pod.actions.delete_pods": [("", "pods", "list"), ("", "pods", "delete")],
    "chaosk8s.pod.actions.exec_in_pods": [("", "pods", "list"), ("", "pods/exec", "create")],
    "chaosk8s.pod.probes.pods_in_phase": [("", "pods", "list")],
    "chaosk8s.pod.probes.pods_not_in_phase": [("", "pods", "list")],
    "chaosk8s.pod.probes.pods_in_conditions": [("", "pods", "list")],
    "chaosk8s.pod.probes.count_pods": [("", "pods", "list")],
    "chaosk8s.pod.probes.count_min_pods": [("", "pods", "list")],
    "chaosk8s.pod.probes.pod_is_not_available": [("", "pods", "list")],
    "chaosk8s.pod.probes.read_pod_logs": [("", "pods", "list"), ("", "pods/log", "get")],
    "chaosk8s.probes.all_pods_healthy": [("", "pods", "list")],
    "chaosk8s.deployment.actions.scale_deployment": [("apps", "deployments", "patch")],
    "chaosk8s.deployment.actions.rollout_deployment": [("apps", "deployments", "patch")],
    "chaosk8s.deployment.probes.deployment_available_and_healthy": [
        ("apps", "deployments", "list")
    ],
    "chaosk8s.deployment.probes.deployment_partially_available": [("apps", "deployments", "list")],
    "chaosk8s.deployment.probes.deployment_fully_available": [
        ("apps", "deployments", "list"),
        ("apps", "deployments", "watch"),
    ],
    "chaosk8s.deployment.probes.deployment_not_fully_available": [
        ("apps", "deployments", "list"),
        ("apps", "deployments", "watch"),
    ],
    "chaosk8s.statefulset.actions.scale_statefulset": [("apps", "statefulsets", "patch")],
    # riverbed's scale-subresource twins: the replica count only.
    "riverbed.chaos.kube.actions.scale_deployment": [("apps", "deployments/scale", "patch")],
    "riverbed.chaos.kube.actions.scale_statefulset": [("apps", "statefulsets/scale", "patch")],
    "chaosk8s.statefulset.probes.statefulset_fully_available": [
        ("apps", "statefulsets", "list"),
        ("apps", "statefulsets", "watch"),
    ],
    "chaosk8s.statefulset.probes.statefulset_not_fully_available": [
        ("apps", "statefulsets", "list"),
        ("apps", "statefulsets", "watch"),
    ],
    # riverbed's Kubernetes network faults: pods listed, then chaosk8s' exec_in_pods.
    "riverbed.chaos.kube.network.partition_consumer_pods": [
        ("", "pods", "list"), ("", "pods/exec", "create"),
    ],
    "riverbed.chaos.kube.network.reset_consumer_pod_connections": [
        ("", "pods", "list"), ("", "pods/exec", "create"),
    ],
    "riverbed.chaos.kube.network.heal_consumer_pods": [
        ("", "pods", "list"), ("", "pods/exec", "create"),
    ],
}  # fmt: skip


def _kube_experiments() -> list[Path]:
    found = kubernetes_experiments(EXPERIMENTS) if EXPERIMENTS.is_dir() else []
    assert found, "no Kubernetes chaos experiments (experiments/*.json outside experiments/local/)"
    return found


def test_every_experiment_selector_matches_the_manifests(labelled: list[LabelledObject]) -> None:
    _kube_experiments()
    uses = selectors_in_experiments(EXPERIMENTS)
    assert uses, "the Kubernetes experiments select nothing by label: what do their faults hit?"
    from tests.support.kube_selectors import parse_selector

    misses = []
    for use in uses:
        hits = matching(parse_selector(use.selector), labelled, use.target_kind, use.namespace)
        if not hits:
            misses.append(
                f"{use.file.name}: {use.activity} ({use.module}.{use.func}) selects "
                f"{use.target_kind} {use.selector!r} in namespace {use.namespace or 'any'}: "
                "nothing in manifests/ matches"
            )
    assert not misses, "\n".join(misses)


def test_every_object_an_experiment_names_exists(all_docs: list[dict[str, Any]]) -> None:
    _kube_experiments()
    misses = []
    for use in named_objects_in_experiments(EXPERIMENTS):
        found = [
            d
            for d in all_docs
            if d["kind"] == use.kind
            and d["metadata"]["name"] == use.name
            and d["metadata"].get("namespace") == use.namespace
        ]
        if not found:
            misses.append(
                f"{use.file.name}: {use.activity} names {use.kind} {use.name!r} in namespace "
                f"{use.namespace}: not in manifests/"
            )
    assert not misses, "\n".join(misses)


def test_chaos_rbac_covers_every_chaosk8s_call(all_docs: list[dict[str, Any]]) -> None:
    """An experiment run in the cluster as riverbed-chaos must not hit a 403."""
    _kube_experiments()
    rules = named(all_docs, "Role", "riverbed-chaos")["rules"]
    problems = []
    for use in activities_in_experiments(EXPERIMENTS):
        if not use.module.startswith(("chaosk8s", "riverbed.chaos.kube")):
            continue
        qualified = f"{use.module}.{use.func}"
        if qualified not in CHAOSK8S_PERMISSIONS:
            problems.append(
                f"{use.file.name}: {use.activity} calls {qualified}: add the permissions it needs "
                "to CHAOSK8S_PERMISSIONS here and to manifests/chaos-rbac.yaml"
            )
            continue
        for group, resource, verb in CHAOSK8S_PERMISSIONS[qualified]:
            if not grants(rules, group, resource, verb):
                problems.append(f"{qualified} needs {verb} on {group or 'core'}/{resource}")
    assert not problems, "\n".join(problems)
