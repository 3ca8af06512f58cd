"""What riverbed may do in a namespace of an existing cluster, asked before anything starts.

A user on a shared cluster often has rights in one namespace only. riverbed asks
the API server, as ``kubectl auth can-i`` does (a SelfSubjectAccessReview per
right, through the kubernetes client, with the run's context), for every right
its work in that namespace needs — applying and deleting what it deploys, the
chaos Role's rules (Kubernetes lets no one grant a right they lack), reading and
deleting pods, the hard kill's exec, the port-forwards, scaling — and stops with
one error naming every missing right and what it is for, before any image is
built or object applied. Cluster-scoped rights are asked for only when riverbed
would use them: creating the namespace when it does not exist.

:func:`user_role` is the same list as a Role's rules; ``python -m
riverbed.platforms.kube user-role --namespace NS`` prints a Role and RoleBinding an
administrator can grant (docs/kubernetes.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from riverbed.errors import HarnessError


@dataclass(frozen=True)
class Right:
    """One verb on one resource (``group``: "" for the core API; ``subresource``: e.g. exec)."""

    verb: str
    group: str
    resource: str
    why: str
    subresource: str = ""
    name: str = ""
    """Only this object (the namespace itself)."""
    cluster_scoped: bool = False

    def show(self) -> str:
        what = self.resource + (f"/{self.subresource}" if self.subresource else "")
        if self.group:
            what += f".{self.group}"
        return f"{self.verb} {what}" + (f" {self.name}" if self.name else "")


#: The API group and resource of each kind riverbed applies.
RESOURCES: dict[str, tuple[str, str]] = {
    "Service": ("", "services"),
    "Secret": ("", "secrets"),
    "Pod": ("", "pods"),
    "ServiceAccount": ("", "serviceaccounts"),
    "StatefulSet": ("apps", "statefulsets"),
    "Deployment": ("apps", "deployments"),
    "PodDisruptionBudget": ("policy", "poddisruptionbudgets"),
    "Role": ("rbac.authorization.k8s.io", "roles"),
    "RoleBinding": ("rbac.authorization.k8s.io", "rolebindings"),
    "NetworkPolicy": ("networking.k8s.io", "networkpolicies"),
}

#: What riverbed itself does in the namespace, beyond applying and deleting its objects.
WORK: tuple[Right, ...] = (
    Right("get", "", "pods", "pod states, readiness and logs"),
    Right("list", "", "pods", "pod states, readiness and logs"),
    Right("watch", "", "pods", "waiting for rollouts and for stopped consumers to go"),
    Right("delete", "", "pods", "the experiments' pod kills"),
    Right("get", "", "pods", "the pods' logs, kept in the run directory", subresource="log"),
    Right("create", "", "pods", "the hard kill, the pause, network faults; kubectl cp", "exec"),
    Right("get", "", "pods", "the same exec over websockets", subresource="exec"),
    Right("create", "", "pods", "the host's route to Kafka (port-forwards)", "portforward"),
    Right("get", "apps", "deployments", "stopping the consumers", subresource="scale"),
    Right("patch", "apps", "deployments", "stopping and scaling the consumers", "scale"),
    Right("patch", "apps", "statefulsets", "restoring the broker count", subresource="scale"),
    Right("list", "apps", "replicasets", "rollout status"),
    Right("list", "", "persistentvolumeclaims", "down: Kafka's volumes"),
    Right("delete", "", "persistentvolumeclaims", "down: Kafka's volumes"),
    Right("list", "", "events", "why a pod does not start"),
)


def apply_rights(docs: Iterable[Mapping[str, Any]]) -> list[Right]:
    """Applying (get, create, patch) and deleting every kind in ``docs``, and holding every
    right a Role among them grants (the API server refuses to create a Role that grants
    more than its creator has)."""
    rights: list[Right] = []
    for doc in docs:
        kind = str(doc.get("kind"))
        if kind not in RESOURCES:
            continue
        group, resource = RESOURCES[kind]
        for verb in ("get", "create", "patch", "delete"):
            rights.append(Right(verb, group, resource, f"applying and deleting {kind}s"))
        if kind == "Role":
            name = (doc.get("metadata") or {}).get("name")
            for rule in doc.get("rules") or []:
                for g in rule.get("apiGroups") or [""]:
                    for res in rule.get("resources") or []:
                        base, _, sub = res.partition("/")
                        for verb in rule.get("verbs") or []:
                            why = f"granting Role {name} what it grants"
                            rights.append(Right(verb, g, base, why, subresource=sub))
    return rights


def namespace_rights(namespace: str, exists: bool) -> list[Right]:
    """Reading the namespace; creating it only when it does not exist (cluster-scoped)."""
    if exists:
        return []
    return [
        Right(
            "create",
            "",
            "namespaces",
            f"creating namespace {namespace} (it does not exist)",
            cluster_scoped=True,
        )
    ]


def unique(rights: Iterable[Right]) -> list[Right]:
    seen: dict[tuple[str, str, str, str, str, bool], Right] = {}
    for r in rights:
        seen.setdefault((r.verb, r.group, r.resource, r.subresource, r.name, r.cluster_scoped), r)
    return list(seen.values())


def api_client(context: str) -> Any:
    """A kubernetes API client for kubeconfig context ``context`` (KUBECONFIG honoured)."""
    from kubernetes import config

    try:
        return config.new_client_from_config(context=context)
    except Exception as exc:  # the client raises ConfigException and friends
        raise HarnessError(
            f"Cannot reach context {context!r} from the kubeconfig: {exc}",
            fix="check `kubectl config get-contexts` and KUBECONFIG.",
        ) from None


def missing(client: Any, namespace: str, rights: Sequence[Right]) -> list[Right]:
    """The rights the API server says the kubeconfig's user lacks."""
    from kubernetes import client as k8s

    api = k8s.AuthorizationV1Api(client)
    lacking = []
    for right in unique(rights):
        attributes = k8s.V1ResourceAttributes(
            namespace=None if right.cluster_scoped else namespace,
            verb=right.verb,
            group=right.group,
            resource=right.resource,
            subresource=right.subresource or None,
            name=right.name or None,
        )
        review = k8s.V1SelfSubjectAccessReview(
            spec=k8s.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes)
        )
        try:
            answer = api.create_self_subject_access_review(review)
        except Exception as exc:  # ApiException, a connection refused…
            raise HarnessError(
                f"Cannot ask the cluster what riverbed may do in namespace {namespace}: {exc}",
                fix="check that the context's cluster answers (`kubectl cluster-info`).",
            ) from None
        if not (answer.status and answer.status.allowed):
            lacking.append(right)
    return lacking


def refuse(namespace: str, context: str, lacking: Sequence[Right]) -> HarnessError:
    """The error naming every missing right, one resource at a time, and what it is for."""
    grouped: dict[str, tuple[list[str], list[str]]] = {}
    for r in lacking:
        what = r.resource + (f"/{r.subresource}" if r.subresource else "")
        what += f".{r.group}" if r.group else ""
        what += f" {r.name}" if r.name else ""
        verbs, whys = grouped.setdefault(what, ([], []))
        if r.verb not in verbs:
            verbs.append(r.verb)
        if r.why not in whys:
            whys.append(r.why)
    lines = "; ".join(
        f"{', '.join(verbs)} {what} ({'; '.join(whys)})" for what, (verbs, whys) in grouped.items()
    )
    return HarnessError(
        f"In namespace {namespace} (context {context}) riverbed would need rights you lack: "
        f"{lines}.",
        fix="ask an administrator to bind the Role `python -m riverbed.platforms.kube "
        f"user-role --namespace {namespace}` prints, or pick a namespace you have these "
        "rights in (--namespace).",
    )


# ---- the Role an administrator grants -------------------------------------------------------
def user_rules(docs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every right riverbed needs in a namespace (:func:`apply_rights` of ``docs`` and
    :data:`WORK`), as a Role's rules, one rule per resource."""
    by_resource: dict[tuple[str, str], set[str]] = {}
    for right in unique([*apply_rights(docs), *WORK]):
        resource = right.resource + (f"/{right.subresource}" if right.subresource else "")
        by_resource.setdefault((right.group, resource), set()).add(right.verb)
    return [
        {"apiGroups": [group], "resources": [resource], "verbs": sorted(verbs)}
        for (group, resource), verbs in sorted(by_resource.items())
    ]


def user_role(
    namespace: str, docs: Iterable[Mapping[str, Any]], subject: str
) -> list[dict[str, Any]]:
    """A Role ``riverbed-user`` with :func:`user_rules` in ``namespace`` and a RoleBinding of it
    to ``subject`` (``User:NAME``, ``Group:NAME`` or ``ServiceAccount:NS/NAME``)."""
    kind, _, name = subject.partition(":")
    entry: dict[str, Any] = {"kind": kind, "name": name}
    if kind == "ServiceAccount":
        sa_namespace, _, sa_name = name.rpartition("/")
        entry = {"kind": kind, "name": sa_name, "namespace": sa_namespace or namespace}
    else:
        entry["apiGroup"] = "rbac.authorization.k8s.io"
    labels = {"app.kubernetes.io/part-of": "riverbed"}
    meta = {"name": "riverbed-user", "namespace": namespace, "labels": labels}
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": user_rules(docs),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": dict(meta),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "riverbed-user",
            },
            "subjects": [entry],
        },
    ]
