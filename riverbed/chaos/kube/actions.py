"""Scaling on Kubernetes through the scale subresource: least privilege for the chaos Role.

chaostoolkit-kubernetes' ``scale_deployment`` and ``scale_statefulset`` patch the
whole Deployment or StatefulSet, so whoever runs them needs ``patch`` on those —
the right to change a pod template (its image, its privileges), a path to anything
the namespace's Pod Security level admits. These two take the same arguments and
change only the replica count, through ``deployments/scale`` and
``statefulsets/scale``: the chaos Role grants ``patch`` on those subresources alone.

They go to the cluster chaostoolkit-kubernetes would (``KUBERNETES_CONTEXT``, the
experiment's ``kubernetes`` secret) and return the replica count the API server
accepted.
"""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import ActivityFailed

__all__ = ["scale_deployment", "scale_statefulset"]


def scale_deployment(
    name: str, replicas: int, ns: str = "default", secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Set Deployment ``name``'s replica count in namespace ``ns`` (its scale subresource)."""
    return _scale("deployment", name, replicas, ns, secrets)


def scale_statefulset(
    name: str, replicas: int, ns: str = "default", secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Set StatefulSet ``name``'s replica count in namespace ``ns`` (its scale subresource)."""
    return _scale("statefulset", name, replicas, ns, secrets)


def _scale(
    kind: str, name: str, replicas: int, ns: str, secrets: dict[str, Any] | None
) -> dict[str, Any]:
    from chaosk8s import create_k8s_api_client
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    apps = client.AppsV1Api(create_k8s_api_client(secrets))
    patch = {
        "deployment": apps.patch_namespaced_deployment_scale,
        "statefulset": apps.patch_namespaced_stateful_set_scale,
    }[kind]
    try:
        scale = patch(name=name, namespace=ns, body={"spec": {"replicas": int(replicas)}})
    except ApiException as exc:
        raise ActivityFailed(
            f"failed to scale {kind} {name!r} in {ns} to {replicas} replicas: {exc.reason}"
        ) from None
    accepted = scale.spec.replicas if scale.spec else None
    return {"kind": kind, "name": name, "namespace": ns, "replicas": accepted}
