"""The manifests under ``manifests/``, read and rendered the way ``kubectl kustomize`` would.

``manifests/`` is a kustomize tree: ``base/`` (Kafka, the workloads, the chaos RBAC,
the NetworkPolicies), ``overlays/kind`` (the Namespace and the NodePorts of the kind
cluster) and ``overlays/k8s`` (an existing cluster: nothing more), and components
(``components/locust``, ``components/netfault``) riverbed adds when a run needs them.

riverbed renders the tree itself rather than shelling out to kustomize, so that a
dry run can show the exact objects it would apply and a test can check them. It
supports exactly the kustomization fields the project uses — ``resources`` (files
and directories), ``components``, ``images`` (``name``, ``newName``, ``newTag``),
``namespace`` and JSON6902 ``patches`` (``path`` and a ``target`` by kind and name) —
and refuses any other, so the two renderings cannot drift apart unnoticed (a test
compares them with ``kubectl kustomize``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonpatch
import yaml

from riverbed.errors import HarnessError

KUSTOMIZATION = "kustomization.yaml"
KIND_CLUSTER = "kind-cluster.yaml"
LOCUST = "locust.yaml"
KAFKA = "kafka.yaml"
NAMESPACE_FILE = "namespace.yaml"
#: The manifests that run the system under test; applied after Kafka is up and
#: the topics exist, so consumers never start against a missing topic.
WORKLOADS = "workloads.yaml"
#: Per platform mode, the overlay riverbed applies (relative to manifests/).
OVERLAYS = {"kind": "overlays/kind", "k8s": "overlays/k8s"}
LOCUST_COMPONENT = "components/locust"
NETFAULT_COMPONENT = "components/netfault"

_KUSTOMIZATION_KEYS = {
    "apiVersion", "kind", "resources", "components", "images", "namespace", "patches"
}  # fmt: skip
_IMAGE_KEYS = {"name", "newName", "newTag"}
_PATCH_KEYS = {"path", "target"}
_TARGET_KEYS = {"group", "version", "kind", "name"}
#: Kinds that live in no namespace (the namespace transformer leaves them be).
CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
    "PersistentVolume", "StorageClass", "PriorityClass",
}  # fmt: skip

Manifest = dict[str, Any]


@dataclass(frozen=True)
class ImageOverride:
    """A kustomize ``images`` entry: containers whose image is ``name`` get a new name and/or tag."""

    name: str
    new_name: str | None = None
    new_tag: str | None = None


@dataclass(frozen=True)
class Patch:
    """A JSON6902 patch (``path``, a file of operations) of the objects ``target`` names."""

    path: str
    kind: str
    name: str | None = None


@dataclass(frozen=True)
class Kustomization:
    resources: tuple[str, ...]
    images: tuple[ImageOverride, ...]
    components: tuple[str, ...] = ()
    namespace: str | None = None
    patches: tuple[Patch, ...] = ()
    kind: str = "Kustomization"


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
    patches = []
    for entry in data.get("patches") or []:
        target = entry.get("target") if isinstance(entry, dict) else None
        if (
            not isinstance(target, dict)
            or set(entry) - _PATCH_KEYS
            or "path" not in entry
            or set(target) - _TARGET_KEYS
            or "kind" not in target
        ):
            raise HarnessError(
                f"{path}: patches entry {entry!r} is not supported.",
                fix="use a JSON6902 patch file (path) and a target by kind (and name).",
            )
        if not (directory / entry["path"]).is_file():
            raise HarnessError(f"{path}: patch {entry['path']!r} is not a file in {directory}.")
        patches.append(Patch(entry["path"], target["kind"], target.get("name")))
    resources = tuple(data.get("resources") or [])
    for res in resources:
        if not (directory / res).is_file() and not (directory / res / KUSTOMIZATION).is_file():
            raise HarnessError(
                f"{path}: resource {res!r} is not a file or a kustomization in {directory}."
            )
    components = tuple(data.get("components") or [])
    for comp in components:
        if not (directory / comp / KUSTOMIZATION).is_file():
            raise HarnessError(f"{path}: component {comp!r} is not a kustomization in {directory}.")
    return Kustomization(
        resources,
        tuple(images),
        components,
        data.get("namespace"),
        tuple(patches),
        str(data.get("kind") or "Kustomization"),
    )


def render(
    directory: Path,
    images: Iterable[ImageOverride] = (),
    components: Iterable[Path | str] = (),
    namespace: str | None = None,
) -> dict[str, list[Manifest]]:
    """The kustomization's objects, per resource file (by file name, in order).

    ``components``: more components (directories) to apply after the kustomization's
    own, as an overlay listing them would. ``images`` apply last (a later override of
    the same name wins), then ``namespace``, as an overlay naming them would.
    """
    pairs = _build(Path(directory), [Path(c) for c in components])
    pairs = [(name, apply_images(doc, images)) for name, doc in pairs]
    if namespace:
        pairs = [(name, set_namespace(doc, namespace)) for name, doc in pairs]
    # Namespaces first (as kustomize orders them): `kubectl apply` creates objects in order.
    pairs.sort(key=lambda pair: pair[1].get("kind") != "Namespace")
    rendered: dict[str, list[Manifest]] = {}
    for name, doc in pairs:
        rendered.setdefault(name, []).append(doc)
    return rendered


def _build(
    directory: Path, extra_components: list[Path] | None = None
) -> list[tuple[str, Manifest]]:
    """A kustomization's objects with its components and transformers applied."""
    k = load_kustomization(directory)
    if k.kind == "Component" and extra_components is None:
        raise HarnessError(f"{directory} is a Component; include it under components.")
    acc: list[tuple[str, Manifest]] = []
    for res in k.resources:
        path = directory / res
        if path.is_dir():
            acc += _build(path, [])
        else:
            acc += [(path.name, doc) for doc in load_documents(path)]
    for comp in [*(directory / c for c in k.components), *(extra_components or [])]:
        acc = _component(comp, acc)
    return _transform(k, directory, acc)


def _component(directory: Path, acc: list[tuple[str, Manifest]]) -> list[tuple[str, Manifest]]:
    k = load_kustomization(directory)
    if k.kind != "Component":
        raise HarnessError(f"{directory / KUSTOMIZATION} is not a Component.")
    acc = list(acc)
    for res in k.resources:
        acc += [(Path(res).name, doc) for doc in load_documents(directory / res)]
    for comp in k.components:
        acc = _component(directory / comp, acc)
    return _transform(k, directory, acc)


def _transform(
    k: Kustomization, directory: Path, acc: list[tuple[str, Manifest]]
) -> list[tuple[str, Manifest]]:
    for patch in k.patches:
        ops = load_documents(directory / patch.path)
        operations = ops[0] if len(ops) == 1 and isinstance(ops[0], list) else ops
        acc = [
            (
                name,
                _patched(doc, operations, directory / patch.path) if _targets(patch, doc) else doc,
            )
            for name, doc in acc
        ]
    acc = [(name, apply_images(doc, k.images)) for name, doc in acc]
    if k.namespace:
        acc = [(name, set_namespace(doc, k.namespace)) for name, doc in acc]
    return acc


def _targets(patch: Patch, doc: Manifest) -> bool:
    name = (doc.get("metadata") or {}).get("name")
    return doc.get("kind") == patch.kind and (patch.name is None or patch.name == name)


def _patched(doc: Manifest, operations: list[Any], where: Path) -> Manifest:
    try:
        return dict(jsonpatch.apply_patch(doc, operations))
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise HarnessError(f"Patch {where} does not apply: {exc}") from exc


def set_namespace(doc: Manifest, namespace: str) -> Manifest:
    """kustomize's namespace transformer: every namespaced object in ``namespace``, the
    Namespace object renamed, the namespace of RoleBinding subjects that are
    ServiceAccounts updated."""
    out = copy.deepcopy(doc)
    kind = out.get("kind")
    meta = out.setdefault("metadata", {})
    if kind == "Namespace":
        meta["name"] = namespace
    elif kind not in CLUSTER_SCOPED:
        meta["namespace"] = namespace
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        for subject in out.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount":
                subject["namespace"] = namespace
    return out


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


#: The security context of a container under the restricted Pod Security Standard (what
#: riverbed adds to a pod: the instrumentation layer, its evidence sidecar, the route probe).
RESTRICTED_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
