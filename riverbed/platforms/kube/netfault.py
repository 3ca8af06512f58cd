"""Network faults on Kubernetes: a sidecar in each consumer pod that can run iptables.

Containers of one pod share its network namespace, so iptables rules added by
a sidecar act on the consumer container's real TCP traffic, whatever image the
consumer runs (riverbed's or the user's). The sidecar (the kustomize component
``manifests/components/netfault``; image: workloads/Dockerfile, target
``netfault``) sleeps until an experiment execs into it
(:mod:`riverbed.chaos.kube.network`); it runs as root with ``NET_ADMIN`` and
``NET_RAW`` only, and never touches the consumer's processes.

``NET_ADMIN`` is beyond every Pod Security level but ``privileged``, so with
network faults the namespace's enforced level is ``privileged`` (the warning
level stays ``restricted``: ``kubectl apply`` still names every container that
needs more than it). Without network faults nothing here is rendered and the
namespace stays ``restricted``.
"""

from __future__ import annotations

from riverbed.platforms.kube import render as km

#: The sidecar's image repository (its tag is the workload images' content tag).
NETFAULT_IMAGE = "riverbed-netfault"
#: The sidecar's container name: experiments exec into it by this name.
CONTAINER = "netfault"


def allow_net_admin(docs: list[km.Manifest]) -> None:
    """The namespace enforces Pod Security ``privileged`` (``NET_ADMIN`` needs it)."""
    for doc in docs:
        if doc.get("kind") == "Namespace":
            labels = doc.setdefault("metadata", {}).setdefault("labels", {})
            labels["pod-security.kubernetes.io/enforce"] = "privileged"
