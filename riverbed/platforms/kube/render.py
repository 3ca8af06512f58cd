"""The manifests under ``manifests/``, read and rendered the way ``kubectl apply -k`` would.

riverbed renders the kustomization itself rather than shelling out to
kustomize, so that a dry run can show the exact objects it would apply and a
test can check them. It supports exactly the kustomization fields the
project uses — ``resources`` (files) and ``images`` (``name``, ``newName``,
``newTag``) — and refuses any other, so the two renderings cannot drift
apart unnoticed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from riverbed.errors import HarnessError

KUSTOMIZATION = "kustomization.yaml"
KIND_CLUSTER = "kind-cluster.yaml"
LOCUST = "locust.yaml"
KAFKA = "kafka.yaml"
#: The manifests that run the system under test; applied after Kafka is up and
#: the topics exist, so consumers never start against a missing topic.
WORKLOADS = "workloads.yaml"

_KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "images"}
_IMAGE_KEYS = {"name", "newName", "newTag"}

Manifest = dict[str, Any]


@dataclass(frozen=True)
class ImageOverride:
    """A kustomize ``images`` entry: containers whose image is ``name`` get a new name and/or tag."""

    name: str
    new_name: str | None = None
    new_tag: str | None = None


@dataclass(frozen=True)
class Kustomization:
    resources: tuple[str, ...]
    images: tuple[ImageOverride, ...]


@dataclass(frozen=True)
class PortMapping:
    """A kind ``extraPortMappings`` entry: host ``listen_address:host_port`` → node ``container_port``."""

    container_port: int
    host_port: int
    listen_address: str


def load_documents(path: Path) -> list[Manifest]:
    """Every YAML document in ``path`` (empty documents skipped)."""
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except (OSError, yaml.YAMLError) as exc:
        raise HarnessError(f"Cannot read manifest {path}: {exc}") from exc
    return [d for d in docs if d is not None]


def load_kustomization(directory: Path) -> Kustomization:
    """``directory/kustomization.yaml``, limited to the fields riverbed renders."""
    path = directory / KUSTOMIZATION
    docs = load_documents(path)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise HarnessError(f"{path} must hold exactly one Kustomization.")
    data = docs[0]
    unknown = set(data) - _KUSTOMIZATION_KEYS
    if unknown:
        raise HarnessError(
            f"{path} uses {', '.join(sorted(unknown))}, which riverbed does not render.",
            fix=f"use only {', '.join(sorted(_KUSTOMIZATION_KEYS))}, or extend "
            "riverbed/platforms/kube/render.py to match.",
        )
    images = []
    for entry in data.get("images") or []:
        bad = set(entry) - _IMAGE_KEYS
        if bad or "name" not in entry:
            raise HarnessError(
                f"{path}: images entry {entry!r} is not supported.",
                fix=f"use only {', '.join(sorted(_IMAGE_KEYS))} (name required).",
            )
        images.append(ImageOverride(entry["name"], entry.get("newName"), entry.get("newTag")))
    resources = tuple(data.get("resources") or [])
    for res in resources:
        if not (directory / res).is_file():
            raise HarnessError(f"{path}: resource {res!r} is not a file in {directory}.")
    return Kustomization(resources, tuple(images))


def render(
    directory: Path, images: Iterable[ImageOverride] = (), extra: Iterable[str] = ()
) -> dict[str, list[Manifest]]:
    """The kustomization's objects, per resource file in its order, images overridden.

    ``images`` apply after the kustomization's own ``images`` (a later
    override of the same name wins). ``extra``: more resource files to render
    with the same overrides (e.g. ``locust.yaml``).
    """
    kustomization = load_kustomization(directory)
    overrides = [*kustomization.images, *images]
    rendered: dict[str, list[Manifest]] = {}
    for name in [*kustomization.resources, *extra]:
        docs = load_documents(directory / name)
        rendered[name] = [apply_images(doc, overrides) for doc in docs]
    return rendered


def flatten(rendered: Mapping[str, list[Manifest]]) -> list[Manifest]:
    return [doc for docs in rendered.values() for doc in docs]


def dump(docs: Iterable[Manifest]) -> str:
    """A multi-document YAML stream, keys in their written order."""
    return yaml.safe_dump_all(list(docs), sort_keys=False, default_flow_style=False)


# ---- images -------------------------------------------------------------------------------------
def split_image(image: str) -> tuple[str, str | None]:
    """``repo[:tag]`` → (repo, tag); a registry port (``host:5000/x``) is not a tag."""
    base = image.split("@", 1)[0]
    slash = base.rfind("/")
    colon = base.rfind(":")
    if colon > slash:
        return base[:colon], base[colon + 1 :]
    return base, None


def apply_images(doc: Manifest, overrides: Iterable[ImageOverride]) -> Manifest:
    """A copy of ``doc`` with every matching container image renamed/retagged."""
    out = copy.deepcopy(doc)
    overrides = list(overrides)
    for container in containers(out):
        for override in overrides:
            name, tag = split_image(container.get("image", ""))
            if name != override.name:
                continue
            new_name = override.new_name or name
            new_tag = override.new_tag or tag
            container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name
    return out


def images_in(docs: Iterable[Manifest]) -> set[str]:
    return {c["image"] for doc in docs for c in containers(doc) if "image" in c}


# ---- pod templates ------------------------------------------------------------------------------
_TEMPLATED = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def pod_spec(doc: Manifest) -> dict[str, Any] | None:
    """The pod spec an object runs, or None for objects that run no pods."""
    kind = doc.get("kind")
    if kind == "Pod":
        return doc.get("spec")
    if kind in _TEMPLATED:
        return doc.get("spec", {}).get("template", {}).get("spec")
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"].get("spec")
    return None


def pod_template_labels(doc: Manifest) -> dict[str, str] | None:
    kind = doc.get("kind")
    if kind == "Pod":
        return dict(doc.get("metadata", {}).get("labels") or {})
    if kind in _TEMPLATED:
        return dict(doc["spec"].get("template", {}).get("metadata", {}).get("labels") or {})
    return None


def containers(doc: Manifest) -> Iterator[dict[str, Any]]:
    """Every container and init container of the object's pods."""
    spec = pod_spec(doc)
    if spec:
        yield from spec.get("initContainers") or []
        yield from spec.get("containers") or []


def find(docs: Iterable[Manifest], kind: str, name: str) -> Manifest:
    for doc in docs:
        if doc.get("kind") == kind and doc.get("metadata", {}).get("name") == name:
            return doc
    raise HarnessError(f"No {kind} named {name!r} in the manifests.")


def set_replicas(docs: Iterable[Manifest], kind: str, name: str, replicas: int) -> None:
    find(docs, kind, name)["spec"]["replicas"] = replicas


def set_env(
    docs: Iterable[Manifest], kind: str, name: str, container: str, env: Mapping[str, str]
) -> None:
    """Set plain-value environment variables of one container (replacing same-named ones)."""
    spec = pod_spec(find(docs, kind, name)) or {}
    for c in spec.get("containers") or []:
        if c.get("name") != container:
            continue
        entries = c.setdefault("env", [])
        for key, value in env.items():
            entry = {"name": key, "value": str(value)}
            for i, existing in enumerate(entries):
                if existing.get("name") == key:
                    entries[i] = entry
                    break
            else:
                entries.append(entry)
        return
    raise HarnessError(f"{kind} {name!r} has no container named {container!r}.")


# ---- the kind cluster ---------------------------------------------------------------------------
def kind_port_mappings(path: Path) -> list[PortMapping]:
    """The host port mappings of every node in a kind cluster config."""
    docs = load_documents(path)
    mappings = []
    for node in docs[0].get("nodes") or []:
        for m in node.get("extraPortMappings") or []:
            mappings.append(
                PortMapping(
                    int(m["containerPort"]),
                    int(m["hostPort"]),
                    str(m.get("listenAddress", "0.0.0.0")),
                )
            )
    return mappings
