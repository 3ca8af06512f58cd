"""What the cluster says, parsed from ``kubectl … -o json`` output (pure functions)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from riverbed.errors import HarnessError


@dataclass(frozen=True)
class PodStatus:
    """One pod as ``kubectl get pods -o json`` reports it."""

    name: str
    phase: str
    """Pending, Running, Succeeded, Failed or Unknown."""
    ready: bool
    """The pod's Ready condition is True (every container passes its readiness probe)."""
    restarts: int
    """Container restarts, summed over its containers."""
    terminating: bool
    """Deletion has been requested (a killed pod in its grace period)."""
    node: str | None
    created: str | None
    """RFC 3339 creation time."""
    labels: dict[str, str]
    waiting_reason: str | None = None
    """Why a container is not running, e.g. CrashLoopBackOff, ImagePullBackOff, ErrImageNeverPull."""


@dataclass(frozen=True)
class RolloutStatus:
    """A Deployment's or StatefulSet's replica counts."""

    kind: str
    name: str
    desired: int
    ready: int
    updated: int
    available: int

    @property
    def complete(self) -> bool:
        return self.ready == self.desired and self.updated == self.desired


def _load(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise HarnessError(f"kubectl returned output that is not JSON for {what}.") from exc
    if not isinstance(data, dict):
        raise HarnessError(f"kubectl returned unexpected JSON for {what}.")
    return data


def _items(data: dict[str, Any]) -> list[dict[str, Any]]:
    # `kubectl get <kind>` gives a List; `kubectl get <kind>/<name>` one object.
    if data.get("kind", "").endswith("List") or "items" in data:
        return list(data.get("items") or [])
    return [data]


def parse_pods(text: str) -> list[PodStatus]:
    """Pods from ``kubectl get pods -o json``, sorted by name."""
    pods = []
    for item in _items(_load(text, "pods")):
        meta = item.get("metadata") or {}
        spec = item.get("spec") or {}
        status = item.get("status") or {}
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        container_statuses = status.get("containerStatuses") or []
        waiting = [
            (cs.get("state") or {}).get("waiting", {}).get("reason")
            for cs in container_statuses
            if (cs.get("state") or {}).get("waiting")
        ]
        pods.append(
            PodStatus(
                name=meta.get("name", ""),
                phase=status.get("phase", "Unknown"),
                ready=conditions.get("Ready") == "True",
                restarts=sum(int(cs.get("restartCount", 0)) for cs in container_statuses),
                terminating=meta.get("deletionTimestamp") is not None,
                node=spec.get("nodeName"),
                created=meta.get("creationTimestamp"),
                labels=dict(meta.get("labels") or {}),
                waiting_reason=next((w for w in waiting if w), None),
            )
        )
    return sorted(pods, key=lambda p: p.name)


def phases(pods: list[PodStatus]) -> dict[str, str]:
    """pod name → phase, with ``Terminating`` for pods being deleted (as kubectl shows it)."""
    return {p.name: "Terminating" if p.terminating else p.phase for p in pods}


def parse_rollout(text: str) -> list[RolloutStatus]:
    """Deployments / StatefulSets from ``kubectl get deploy,sts -o json``."""
    out = []
    for item in _items(_load(text, "workloads")):
        spec = item.get("spec") or {}
        status = item.get("status") or {}
        out.append(
            RolloutStatus(
                kind=item.get("kind", ""),
                name=(item.get("metadata") or {}).get("name", ""),
                desired=int(spec.get("replicas", 1)),
                ready=int(status.get("readyReplicas", 0)),
                updated=int(status.get("updatedReplicas", 0)),
                available=int(status.get("availableReplicas", 0)),
            )
        )
    return out


def parse_lines(text: str) -> list[str]:
    """Non-empty lines: ``kind get clusters``, ``kubectl config get-contexts -o name``."""
    return [line.strip() for line in text.splitlines() if line.strip()]
