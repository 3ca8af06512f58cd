"""Network faults on Kubernetes: a sidecar in each consumer pod that can run iptables.

Containers of one pod share its network namespace, so iptables rules added by
a sidecar act on the consumer container's real TCP traffic, whatever image the
consumer runs (riverbed's or the user's). The sidecar (workloads/Dockerfile,
target ``netfault``) sleeps until an experiment execs into it
(:mod:`riverbed.chaos.kube.network`); it runs as root with ``NET_ADMIN`` and
``NET_RAW`` only, and never touches the consumer's processes.

``NET_ADMIN`` is beyond every Pod Security level but ``privileged``, so with
network faults the namespace's enforced level is ``privileged`` (the warning
level stays ``restricted``: ``kubectl apply`` still names every container that
needs more than it). Without network faults nothing here is rendered and the
namespace stays ``restricted``.
"""

from __future__ import annotations

from typing import Any

from riverbed.platforms.kube import render as km

#: The sidecar's image repository (its tag is the workload images' content tag).
NETFAULT_IMAGE = "riverbed-netfault"
#: The sidecar's container name: experiments exec into it by this name.
CONTAINER = "netfault"


def sidecar(image: str) -> dict[str, Any]:
    """The sidecar container: sleeps; iptables runs in it by ``kubectl exec``."""
    return {
        "name": CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sleep", "infinity"],
        "resources": {
            "requests": {"cpu": "5m", "memory": "8Mi"},
            "limits": {"cpu": "100m", "memory": "64Mi"},
        },
        "securityContext": {
            # iptables needs root and NET_ADMIN (NET_RAW for its raw sockets);
            # nothing else, and no way to gain more.
            "runAsUser": 0,
            "runAsGroup": 0,
            "runAsNonRoot": False,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW"]},
        },
        # iptables takes its lock under /run.
        "volumeMounts": [{"name": "netfault-run", "mountPath": "/run"}],
    }


def add_sidecar(docs: list[km.Manifest], image: str) -> None:
    """Give Deployment ``consumer`` the network-fault sidecar, and let the namespace run it."""
    spec = km.pod_spec(km.find(docs, "Deployment", "consumer"))
    assert spec is not None, "Deployment consumer has a pod template"
    spec["containers"] = [c for c in spec["containers"] if c.get("name") != CONTAINER]
    spec["containers"].append(sidecar(image))
    volumes = [v for v in spec.get("volumes") or [] if v.get("name") != "netfault-run"]
    spec["volumes"] = [*volumes, {"name": "netfault-run", "emptyDir": {"sizeLimit": "1Mi"}}]


def allow_net_admin(docs: list[km.Manifest]) -> None:
    """The namespace enforces Pod Security ``privileged`` (``NET_ADMIN`` needs it)."""
    for doc in docs:
        if doc.get("kind") == "Namespace":
            labels = doc.setdefault("metadata", {}).setdefault("labels", {})
            labels["pod-security.kubernetes.io/enforce"] = "privileged"
