"""Label selectors: parsed, matched against the manifests, and found in chaos experiments.

A chaos experiment that selects pods by a label nothing carries "succeeds"
while killing nothing — a run that proves nothing. These helpers let a test
check, before any cluster exists, that every selector the experiments use
matches something the manifests create, in the namespace it looks in.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError
from riverbed.platforms.kube.render import Manifest, pod_template_labels

# ---- selectors ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    """One term of a label selector: ``key op values``."""

    key: str
    op: str
    """``=``, ``!=``, ``in``, ``notin``, ``exists`` or ``!exists``."""
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        # != and notin also match objects without the label, as Kubernetes does.
        return not present or value not in self.values


@dataclass(frozen=True)
class LabelSelector:
    """A parsed label selector; an empty one matches everything."""

    requirements: tuple[Requirement, ...] = ()
    text: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return self.text


_KEY = r"[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?"
_EQ = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})\s*$")
_SET = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^)]*)\)\s*$")
_EXISTS = re.compile(rf"^\s*(?P<neg>!?)\s*(?P<key>{_KEY})\s*$")


def parse_selector(text: str) -> LabelSelector:
    """Parse a selector string as kubectl and the API accept it.

    ``app=x,tier!=db``, ``env in (a, b)``, ``env notin (c)``, ``gpu``, ``!gpu``.
    Raises ValueError naming the term that does not parse.
    """
    requirements = []
    for term in _split_terms(text):
        if m := _SET.match(term):
            values = tuple(v.strip() for v in m["values"].split(",") if v.strip())
            requirements.append(Requirement(m["key"], m["op"], values))
        elif m := _EQ.match(term):
            op = "=" if m["op"] in ("=", "==") else "!="
            requirements.append(Requirement(m["key"], op, (m["value"],)))
        elif m := _EXISTS.match(term):
            requirements.append(Requirement(m["key"], "!exists" if m["neg"] else "exists"))
        else:
            raise ValueError(f"not a label selector term: {term!r} (in {text!r})")
    return LabelSelector(tuple(requirements), text)


def selector_from_spec(spec: Mapping[str, Any]) -> LabelSelector:
    """A ``matchLabels`` / ``matchExpressions`` selector (Deployment, PDB, …)."""
    requirements = [
        Requirement(k, "=", (str(v),)) for k, v in (spec.get("matchLabels") or {}).items()
    ]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for expr in spec.get("matchExpressions") or []:
        requirements.append(
            Requirement(expr["key"], ops[expr["operator"]], tuple(expr.get("values") or ()))
        )
    text = ",".join(
        f"{r.key}{'=' + r.values[0] if r.op == '=' else ' ' + r.op}" for r in requirements
    )
    return LabelSelector(tuple(requirements), text)


def selector_from_map(labels: Mapping[str, str]) -> LabelSelector:
    """A Service-style selector: every label must be equal."""
    return LabelSelector(
        tuple(Requirement(k, "=", (str(v),)) for k, v in labels.items()),
        ",".join(f"{k}={v}" for k, v in labels.items()),
    )


def _split_terms(text: str) -> Iterator[str]:
    depth, start = 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            yield text[start:i]
            start = i + 1
    if text[start:].strip() or start:
        yield text[start:]


# ---- what the manifests create ------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledObject:
    """An object (or a pod a controller will create) with the labels a selector sees."""

    kind: str
    name: str
    namespace: str | None
    labels: Mapping[str, str]
    owner: str | None = None
    """For pods: ``<Kind>/<name>`` of the controller that creates them."""


def objects(docs: Iterable[Manifest]) -> list[LabelledObject]:
    """Every object in the manifests and every pod their controllers will create.

    A StatefulSet's pods are expanded one per ordinal with the labels the
    controller adds (``statefulset.kubernetes.io/pod-name``,
    ``apps.kubernetes.io/pod-index``), so a per-pod Service selector can be
    checked too.
    """
    out = []
    for doc in docs:
        meta = doc.get("metadata") or {}
        kind, name, ns = doc.get("kind", ""), meta.get("name", ""), meta.get("namespace")
        out.append(LabelledObject(kind, name, ns, dict(meta.get("labels") or {})))
        template = pod_template_labels(doc)
        if template is None or kind == "Pod":
            continue
        owner = f"{kind}/{name}"
        if kind == "StatefulSet":
            for i in range(int(doc["spec"].get("replicas", 1))):
                labels = {
                    **template,
                    "statefulset.kubernetes.io/pod-name": f"{name}-{i}",
                    "apps.kubernetes.io/pod-index": str(i),
                }
                out.append(LabelledObject("Pod", f"{name}-{i}", ns, labels, owner))
        else:
            out.append(LabelledObject("Pod", f"{name}-*", ns, template, owner))
    return out


def matching(
    selector: LabelSelector,
    candidates: Iterable[LabelledObject],
    kind: str = "Pod",
    namespace: str | None = None,
) -> list[LabelledObject]:
    """The objects of ``kind`` (in ``namespace``, if given) that ``selector`` selects."""
    return [
        o
        for o in candidates
        if o.kind == kind
        and (namespace is None or o.namespace == namespace)
        and selector.matches(o.labels)
    ]


# ---- what the experiments select ----------------------------------------------------------------

#: chaostoolkit-kubernetes modules → the kind of object their label selectors select.
_CHAOSK8S_TARGETS = {
    "chaosk8s.pod": "Pod",
    "chaosk8s.deployment": "Deployment",
    "chaosk8s.statefulset": "StatefulSet",
    "chaosk8s.replicaset": "ReplicaSet",
    "chaosk8s.daemonset": "DaemonSet",
    "chaosk8s.service": "Service",
    "chaosk8s.node": "Node",
    "chaosk8s.event": "Event",
}
#: chaostoolkit-kubernetes's default namespace when an activity gives no ``ns``.
CHAOSK8S_DEFAULT_NS = "default"
_SELECTOR_ARGS = ("label_selector", "selector", "broker_selector")
_NAMESPACE_ARGS = ("ns", "namespace")
_LOCAL_DIR = "local"


@dataclass(frozen=True)
class SelectorUse:
    """A label selector one experiment activity passes to an action or probe."""

    file: Path
    activity: str
    module: str
    func: str
    selector: str
    namespace: str | None
    """The namespace it looks in; None when the function's default is not known."""
    target_kind: str = "Pod"
    """What the selector selects: Pod, or Deployment for e.g. chaosk8s deployment probes."""


@dataclass(frozen=True)
class NamedObjectUse:
    """An object one experiment activity names directly (e.g. the Deployment it scales)."""

    file: Path
    activity: str
    module: str
    func: str
    kind: str
    name: str
    namespace: str | None


@dataclass
class _Experiment:
    path: Path
    data: dict[str, Any]
    configuration: dict[str, Any] = field(default_factory=dict)


def experiment_files(experiments_dir: Path) -> list[Path]:
    """Every experiment (``*.json``) under ``experiments_dir``, sub-folders included."""
    return sorted(p for p in Path(experiments_dir).rglob("*.json") if p.is_file())


def kubernetes_experiments(experiments_dir: Path) -> list[Path]:
    """The experiments meant for the Kubernetes platforms (kind, k8s).

    Every experiment except those in a ``local/`` folder (the local platform's),
    plus any experiment anywhere that calls chaostoolkit-kubernetes.
    """
    out = []
    for path in experiment_files(experiments_dir):
        rel = path.relative_to(experiments_dir)
        if _LOCAL_DIR not in {p.lower() for p in rel.parts[:-1]}:
            out.append(path)
            continue
        if any(module.startswith("chaosk8s") for _, module, _, _ in _activities(_load(path).data)):
            out.append(path)
    return out


def selectors_in_experiments(experiments_dir: Path) -> list[SelectorUse]:
    """Every label selector passed by an activity of a Kubernetes experiment under ``experiments_dir``.

    (See :func:`kubernetes_experiments`: the local platform's experiments are skipped.)

    Activities are found wherever they are in the experiment (method,
    steady-state hypothesis, rollbacks). ``${name}`` references are resolved
    from the experiment's ``configuration`` (a literal, or an env entry's
    current value or ``default``). For chaostoolkit-kubernetes functions a
    missing ``ns`` means ``default``, as it does when the experiment runs.
    """
    uses = []
    for path in kubernetes_experiments(experiments_dir):
        exp = _load(path)
        for activity, module, func, args in _activities(exp.data):
            for arg in _SELECTOR_ARGS:
                if arg not in args:
                    continue
                raw = args[arg]
                selector = (
                    _resolve(raw, exp.configuration)
                    if isinstance(raw, str)
                    else selector_from_map(raw).text
                    if isinstance(raw, dict)
                    else None
                )
                if selector is None:
                    continue
                uses.append(
                    SelectorUse(
                        path,
                        activity,
                        module,
                        func,
                        selector,
                        _namespace(module, args, exp.configuration),
                        _target_kind(module),
                    )
                )
    return uses


def named_objects_in_experiments(experiments_dir: Path) -> list[NamedObjectUse]:
    """Objects chaostoolkit-kubernetes activities name with ``name`` (Deployments, StatefulSets…)."""
    uses = []
    for path in kubernetes_experiments(experiments_dir):
        exp = _load(path)
        for activity, module, func, args in _activities(exp.data):
            kind = _target_kind(module)
            if not module.startswith("chaosk8s") or "name" not in args or kind == "Pod":
                continue
            name = _resolve(str(args["name"]), exp.configuration)
            ns = _namespace(module, args, exp.configuration)
            uses.append(NamedObjectUse(path, activity, module, func, kind, name, ns))
    return uses


@dataclass(frozen=True)
class ActivityUse:
    """One python-provider activity of a Kubernetes experiment."""

    file: Path
    activity: str
    module: str
    func: str
    arguments: Mapping[str, Any]


def activities_in_experiments(experiments_dir: Path) -> list[ActivityUse]:
    """Every python-provider activity of the Kubernetes experiments (e.g. to check RBAC)."""
    return [
        ActivityUse(path, activity, module, func, args)
        for path in kubernetes_experiments(experiments_dir)
        for activity, module, func, args in _activities(_load(path).data)
    ]


def _load(path: Path) -> _Experiment:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"Cannot read experiment {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise HarnessError(f"Experiment {path} is not a JSON object.")
    return _Experiment(path, data, dict(data.get("configuration") or {}))


def _activities(node: Any, name: str = "") -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(activity name, module, func, arguments) of every python-provider activity."""
    if isinstance(node, dict):
        provider = node.get("provider")
        if isinstance(provider, dict) and provider.get("type") == "python":
            yield (
                str(node.get("name", name)),
                str(provider.get("module", "")),
                str(provider.get("func", "")),
                dict(provider.get("arguments") or {}),
            )
        for key, value in node.items():
            if key != "provider":
                yield from _activities(value, str(node.get("name", name)))
    elif isinstance(node, list):
        for item in node:
            yield from _activities(item, name)


def _resolve(value: str, configuration: Mapping[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        entry = configuration.get(m[1])
        if isinstance(entry, dict) and entry.get("type") == "env":
            found = os.environ.get(str(entry.get("key")), entry.get("default"))
            return m[0] if found is None else str(found)
        return m[0] if entry is None else str(entry)

    return re.sub(r"\$\{([^}]+)\}", sub, value)


def _namespace(
    module: str, args: Mapping[str, Any], configuration: Mapping[str, Any]
) -> str | None:
    for arg in _NAMESPACE_ARGS:
        if arg in args:
            return _resolve(str(args[arg]), configuration)
    return CHAOSK8S_DEFAULT_NS if module.startswith("chaosk8s") else None


def _target_kind(module: str) -> str:
    for prefix, kind in _CHAOSK8S_TARGETS.items():
        if module == prefix or module.startswith(prefix + "."):
            return kind
    return "Pod"
