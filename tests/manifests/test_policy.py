"""Policy: every container runs as non-root, without privilege escalation, with
every capability dropped and with resource requests and limits; everything is
labelled part-of riverbed and lives in its namespace; the chaos RBAC grants
only what the experiments need."""

from __future__ import annotations

from typing import Any

import pytest

from riverbed.platforms.kube import render as km
from tests.manifests.conftest import grants, named, workload_docs

CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}
#: Images built by riverbed and loaded into kind: never pulled from a registry.
LOCAL_IMAGES = ("riverbed-workloads", "riverbed-locust")


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(km.containers(doc))


def _violations(doc: dict[str, Any]) -> list[str]:
    """Breaches of the container policy (and of Pod Security "restricted") in one object."""
    name = f"{doc['kind']}/{doc['metadata']['name']}"
    spec = km.pod_spec(doc) or {}
    pod_sc = spec.get("securityContext") or {}
    out = []
    if pod_sc.get("runAsUser") == 0:
        out.append(f"{name}: pod runAsUser 0")
    for c in _containers(doc):
        where = f"{name} container {c['name']}"
        sc = c.get("securityContext") or {}
        run_as_non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if run_as_non_root is not True:
            out.append(f"{where}: runAsNonRoot is not true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) in (0, None):
            out.append(f"{where}: no non-zero runAsUser")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{where}: allowPrivilegeEscalation is not false")
        if sc.get("privileged"):
            out.append(f"{where}: privileged")
        if (sc.get("capabilities") or {}).get("drop") != ["ALL"]:
            out.append(f"{where}: capabilities.drop is not [ALL]")
        if (sc.get("capabilities") or {}).get("add"):
            out.append(f"{where}: adds capabilities")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{where}: no RuntimeDefault seccomp profile")
        resources = c.get("resources") or {}
        for section in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if res not in (resources.get(section) or {}):
                    out.append(f"{where}: no {section}.{res}")
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            out.append(f"{name}: {field}")
    for vol in spec.get("volumes") or []:
        if "hostPath" in vol:
            out.append(f"{name}: hostPath volume {vol['name']}")
    return out


def test_every_object_runs_its_pods_under_the_policy(all_docs: list[dict[str, Any]]) -> None:
    pods = workload_docs(all_docs)
    assert {f"{d['kind']}/{d['metadata']['name']}" for d in pods} == {
        "StatefulSet/kafka",
        "Deployment/producer",
        "Deployment/consumer",
        "Deployment/monitor",
        "Deployment/locust-master",
        "Deployment/locust-worker",
    }
    violations = [v for d in pods for v in _violations(d)]
    assert not violations, "\n".join(violations)


def test_policy_check_catches_a_breach(all_docs: list[dict[str, Any]]) -> None:
    # The control: the check above must notice each kind of breach.
    import copy

    doc = copy.deepcopy(named(all_docs, "Deployment", "consumer"))
    c = doc["spec"]["template"]["spec"]["containers"][0]
    c["securityContext"]["allowPrivilegeEscalation"] = True
    c["securityContext"]["capabilities"] = {"drop": ["NET_RAW"]}
    del c["resources"]["limits"]["memory"]
    c["securityContext"]["runAsNonRoot"] = False
    found = "\n".join(_violations(doc))
    for expected in (
        "allowPrivilegeEscalation",
        "capabilities.drop",
        "limits.memory",
        "runAsNonRoot",
    ):
        assert expected in found


def test_service_links_are_off(all_docs: list[dict[str, Any]]) -> None:
    """Kafka's image turns every KAFKA_* variable into a broker setting, and the
    Service `kafka` would inject KAFKA_PORT=tcp://…; the rest follow suit."""
    assert (
        named(all_docs, "StatefulSet", "kafka")["spec"]["template"]["spec"]["enableServiceLinks"]
        is False
    )
    for doc in workload_docs(all_docs):
        assert km.pod_spec(doc)["enableServiceLinks"] is False, doc["metadata"]["name"]


def test_workload_pods_get_no_api_token(all_docs: list[dict[str, Any]]) -> None:
    for doc in workload_docs(all_docs):
        assert km.pod_spec(doc)["automountServiceAccountToken"] is False, doc["metadata"]["name"]


def test_everything_is_labelled_and_namespaced(all_docs: list[dict[str, Any]]) -> None:
    for doc in all_docs:
        meta = doc["metadata"]
        what = f"{doc['kind']}/{meta['name']}"
        assert meta.get("labels", {}).get("app.kubernetes.io/part-of") == "riverbed", what
        if doc["kind"] in CLUSTER_SCOPED:
            assert doc["kind"] == "Namespace", f"{what}: riverbed creates no cluster-wide objects"
        else:
            assert meta.get("namespace") == "riverbed", what
        template = km.pod_template_labels(doc)
        if template is not None:
            assert template.get("app.kubernetes.io/part-of") == "riverbed", what
        for claim in doc.get("spec", {}).get("volumeClaimTemplates", []) or []:
            assert claim["metadata"]["labels"]["app.kubernetes.io/part-of"] == "riverbed"


def test_namespace_enforces_restricted_pod_security(all_docs: list[dict[str, Any]]) -> None:
    ns = named(all_docs, "Namespace", "riverbed")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_local_images_are_never_pulled(all_docs: list[dict[str, Any]]) -> None:
    """kind-loaded images must not be pulled (there is no registry to pull them from),
    and a `latest` tag would make Kubernetes default to pulling."""
    seen = set()
    for doc in workload_docs(all_docs):
        for c in _containers(doc):
            name, tag = km.split_image(c["image"])
            assert tag and tag != "latest", c["image"]
            if name in LOCAL_IMAGES:
                seen.add(name)
                assert c.get("imagePullPolicy") == "IfNotPresent", c["image"]
    assert seen == set(LOCAL_IMAGES)


# ---- chaos RBAC ---------------------------------------------------------------------------------
def _rules(all_docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return named(all_docs, "Role", "riverbed-chaos")["rules"]


def test_chaos_rbac_is_namespaced_and_bound(all_docs: list[dict[str, Any]]) -> None:
    kinds = {d["kind"] for d in all_docs}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}
    binding = named(all_docs, "RoleBinding", "riverbed-chaos")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "riverbed-chaos",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "riverbed-chaos", "namespace": "riverbed"}
    ]
    named(all_docs, "ServiceAccount", "riverbed-chaos")


def test_chaos_rbac_is_least_privilege(all_docs: list[dict[str, Any]]) -> None:
    rules = _rules(all_docs)
    for r in rules:
        assert "*" not in r["verbs"] and "*" not in r["resources"] and "*" not in r["apiGroups"]
    for resource in ("secrets", "configmaps", "pods/attach", "pods/portforward"):
        assert not any(resource in r["resources"] for r in rules), (
            f"chaos needs no access to {resource}"
        )
    for verb in ("escalate", "bind", "impersonate", "deletecollection"):
        assert not any(verb in r["verbs"] for r in rules), f"chaos needs no {verb}"
    # Create is granted on pods/exec only: the hard consumer kill runs `kill -KILL -1`
    # in the consumer container (a pod deletion is never a hard kill).
    creatable = {res for r in rules if "create" in r["verbs"] for res in r["resources"]}
    assert creatable == {"pods/exec"}
    # Delete is granted on pods only: the experiments kill pods, never delete workloads.
    deletable = {res for r in rules if "delete" in r["verbs"] for res in r["resources"]}
    assert deletable == {"pods"}
    # No write on a workload itself: patching a Deployment or StatefulSet could change its
    # pod template (image, privileges); scaling goes through the scale subresources only.
    writable = {
        res
        for r in rules
        for res in r["resources"]
        if set(r["verbs"]) & {"patch", "update", "create"}
    }
    assert writable == {"pods/exec", "deployments/scale", "statefulsets/scale"}
    # The account mounts no token: nothing riverbed runs calls the API with it.
    account = named(all_docs, "ServiceAccount", "riverbed-chaos")
    assert account["automountServiceAccountToken"] is False


def test_no_pod_riverbed_runs_gets_an_api_token(all_docs: list[dict[str, Any]]) -> None:
    for doc in all_docs:
        spec = km.pod_spec(doc)
        if spec is not None:
            assert spec.get("automountServiceAccountToken") is False, doc["metadata"]["name"]


@pytest.mark.parametrize(
    ("group", "resource", "verb"),
    [
        ("", "pods", "list"),
        ("", "pods", "delete"),
        ("apps", "deployments/scale", "patch"),
        ("apps", "statefulsets/scale", "patch"),
        ("apps", "deployments", "watch"),
        ("apps", "statefulsets", "get"),
        ("", "pods/exec", "create"),
    ],
)
def test_chaos_rbac_allows_what_the_kind_experiments_do(
    all_docs: list[dict[str, Any]], group: str, resource: str, verb: str
) -> None:
    """Kill consumer and broker pods (terminate_pods), scale Deployment consumer."""
    assert grants(_rules(all_docs), group, resource, verb)
