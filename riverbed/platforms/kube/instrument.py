"""Instrumented evidence for a user's consumer image: riverbed's layer put into its pod.

The user's image is not changed. Each consumer pod gets:

- an init container ``riverbed-instrument`` (image ``riverbed-instrument:<tag>``: the
  workloads image, which holds the Python layer, plus riverbed's Java agent built on this
  machine) that copies the Python layer and the agent jar into an emptyDir;
- the user's container, with that emptyDir mounted read-only at :data:`LAYER_DIR` and the
  environment the local platform gives a ``--consumer-cmd`` (``instrument_env``):
  ``PYTHONPATH`` (the layer first), ``JAVA_TOOL_OPTIONS`` (``-javaagent:…``),
  ``RIVERBED_INSTRUMENT``, ``RIVERBED_EVIDENCE_DIR``, ``RIVERBED_TOPIC``,
  ``RIVERBED_GROUP`` and ``RIVERBED_REPLICA`` (the pod's name, downward API). Neither
  ``RIVERBED_MEMBER`` nor ``RIVERBED_INCARNATION`` is set: both layers then name each
  process ``<pod>-<pid>``, and the pod's one process namespace (``shareProcessNamespace``)
  gives a restarted container's process a new pid — a new incarnation, a new file;
- a native sidecar ``riverbed-evidence`` (an ``initContainers`` entry with ``restartPolicy:
  Always``: started before the consumer, stopped after it) running
  :mod:`workloads.evidence.shipper`, which produces every evidence line to the run's
  evidence topic. It runs as another user (:data:`SHIPPER_UID`), so the hard-kill
  experiment's ``kill -KILL -1`` in the consumer container cannot reach it.

Everything runs as non-root under the restricted Pod Security Standard, and the pod keeps
its labels, so the NetworkPolicies admit the sidecar to Kafka as they admit the consumer.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from riverbed.platforms.kube import render as km

#: The image of the init container and the sidecar (tag: the workloads tag and the agent's).
INSTRUMENT_IMAGE = "riverbed-instrument"
INIT_CONTAINER = "riverbed-instrument"
SIDECAR = "riverbed-evidence"
#: Where the user's container finds the layer (read-only) and writes its evidence.
LAYER_DIR = "/riverbed/instrument"
EVIDENCE_DIR = "/riverbed/evidence"
#: Where the sidecar keeps the byte offsets it has shipped (survives its restarts).
STATE_DIR = "/riverbed/shipper"
PYTHON_LAYER = f"{LAYER_DIR}/pythonpath"
AGENT_JAR = f"{LAYER_DIR}/riverbed-agent.jar"
#: Inside the instrument image.
IMAGE_AGENT_JAR = "/opt/riverbed/riverbed-agent.jar"
IMAGE_PYTHON_LAYER = "/app/workloads/instrument/pythonpath"
#: The sidecar's user: not the consumer's (10001), so a ``kill -1`` there cannot signal it.
SHIPPER_UID = 10002
#: The workloads' group: the evidence files (0644) are readable either way.
SHIPPER_GID = 10001

_VOLUMES = {
    "riverbed-instrument": {"emptyDir": {"sizeLimit": "64Mi"}},
    "riverbed-evidence": {"emptyDir": {"sizeLimit": "256Mi"}},
    "riverbed-shipper": {"emptyDir": {"sizeLimit": "1Mi"}},
}

_RESTRICTED = km.RESTRICTED_SECURITY_CONTEXT

_DOCKERFILE = f"""\
# riverbed's instrumentation layer for a user's consumer image: the workloads image (the
# Python layer, the evidence shipper) plus riverbed's Java agent.
ARG BASE
FROM ${{BASE}}
COPY riverbed-agent.jar {IMAGE_AGENT_JAR}
"""


def image_tag(workloads_image: str, agent_jar: Path) -> str:
    """``<workloads tag>-a<agent digest>``: new sources of either give a new tag."""
    _name, tag = km.split_image(workloads_image)
    digest = hashlib.sha256(agent_jar.read_bytes()).hexdigest()[:8]
    return f"{tag or 'dev'}-a{digest}"


def build_image(
    image: str, workloads_image: str, agent_jar: Path, run: Any, docker: str = "docker"
) -> None:
    """``docker build`` the instrument image FROM ``workloads_image`` (on this machine: no
    registry is reached). ``run`` runs a command (:meth:`Runner.run`)."""
    with tempfile.TemporaryDirectory(prefix="riverbed-instrument-") as ctx:
        Path(ctx, "Dockerfile").write_text(_DOCKERFILE)
        Path(ctx, "riverbed-agent.jar").write_bytes(agent_jar.read_bytes())
        run(
            [docker, "build", "-q", "--build-arg", f"BASE={workloads_image}", "-t", image, ctx],
            env={"DOCKER_BUILDKIT": "0"},
            timeout=600,
            fix="the instrument image is built FROM the workloads image riverbed built: "
            "check `docker images riverbed-workloads`.",
        )


def image_env(image: str, docker: str = "docker") -> dict[str, str] | None:
    """The environment ``image`` sets (its ``ENV``), when this machine's Docker has it;
    None when it does not (the cluster pulls it from a registry riverbed cannot read)."""
    try:
        proc = subprocess.run(
            [docker, "image", "inspect", image, "--format", "{{json .Config.Env}}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    try:
        entries = json.loads(proc.stdout) or []
    except ValueError:
        return None
    return dict(e.split("=", 1) for e in entries if isinstance(e, str) and "=" in e)


def layer_env(own: Mapping[str, str] | None) -> dict[str, str]:
    """``PYTHONPATH`` and ``JAVA_TOOL_OPTIONS`` for the user's container: riverbed's first
    (Python) or last (the agent), the image's own values kept (``own``: its ``ENV``;
    None: unknown, they are replaced)."""
    from riverbed.jvm import java_tool_options

    own = own or {}
    path = [PYTHON_LAYER, *(p for p in own.get("PYTHONPATH", "").split(":") if p)]
    return {
        "PYTHONPATH": ":".join(dict.fromkeys(path)),
        "JAVA_TOOL_OPTIONS": java_tool_options(AGENT_JAR, own.get("JAVA_TOOL_OPTIONS")),
    }


def instrument_consumer(
    docs: list[km.Manifest],
    instrument_image: str,
    evidence_topic: str,
    bootstrap_servers: str,
    own_env: Mapping[str, str] | None,
) -> None:
    """Put riverbed's layer and the evidence sidecar into Deployment ``consumer``'s pods
    (after :func:`~riverbed.platforms.kube.cluster.user_consumer` made it the user's)."""
    spec = km.pod_spec(km.find(docs, "Deployment", "consumer"))
    assert spec is not None
    (container,) = [c for c in spec["containers"] if c.get("name") == "consumer"]
    env = {e["name"]: e.get("value") for e in container.get("env") or []}
    volumes = spec.setdefault("volumes", [])
    volumes += [{"name": name, **source} for name, source in _VOLUMES.items()]
    copy = {
        "name": INIT_CONTAINER,
        "image": instrument_image,
        "imagePullPolicy": "IfNotPresent",
        # The layer is self-contained: it runs in the user's interpreter or JVM.
        "command": ["cp", "-R", IMAGE_PYTHON_LAYER, IMAGE_AGENT_JAR, LAYER_DIR + "/"],
        "resources": {
            "requests": {"cpu": "10m", "memory": "16Mi"},
            "limits": {"cpu": "200m", "memory": "64Mi"},
        },
        "securityContext": dict(_RESTRICTED),
        "volumeMounts": [{"name": "riverbed-instrument", "mountPath": LAYER_DIR}],
    }
    shipper = {
        "name": SIDECAR,
        "image": instrument_image,
        "imagePullPolicy": "IfNotPresent",
        # A native sidecar (Kubernetes >= 1.29): it runs beside the consumer, restarts if
        # it fails, and is stopped only after the consumer has exited.
        "restartPolicy": "Always",
        "command": ["python", "-m", "workloads.evidence.shipper"],
        "env": [
            {"name": "KAFKA_BROKER", "value": bootstrap_servers},
            {"name": "RIVERBED_EVIDENCE_TOPIC", "value": evidence_topic},
            {"name": "RIVERBED_EVIDENCE_DIR", "value": EVIDENCE_DIR},
            {"name": "RIVERBED_SHIPPER_STATE_DIR", "value": STATE_DIR},
        ],
        "resources": {
            "requests": {"cpu": "10m", "memory": "48Mi"},
            "limits": {"cpu": "250m", "memory": "128Mi"},
        },
        "securityContext": {
            **_RESTRICTED,
            "runAsUser": SHIPPER_UID,
            "runAsGroup": SHIPPER_GID,
        },
        "volumeMounts": [
            {"name": "riverbed-evidence", "mountPath": EVIDENCE_DIR, "readOnly": True},
            {"name": "riverbed-shipper", "mountPath": STATE_DIR},
        ],
    }
    spec["initContainers"] = [*(spec.get("initContainers") or []), copy, shipper]
    container.setdefault("volumeMounts", []).extend(
        [
            {"name": "riverbed-instrument", "mountPath": LAYER_DIR, "readOnly": True},
            {"name": "riverbed-evidence", "mountPath": EVIDENCE_DIR},
        ]
    )
    settings = {
        **layer_env(own_env),
        "RIVERBED_INSTRUMENT": "1",
        "RIVERBED_EVIDENCE_DIR": EVIDENCE_DIR,
        "RIVERBED_TOPIC": str(env.get("KAFKA_TOPIC") or ""),
        "RIVERBED_GROUP": str(env.get("KAFKA_GROUP") or ""),
    }
    km.set_env(docs, "Deployment", "consumer", "consumer", settings)
    # RIVERBED_REPLICA (the pod's name, from the downward API) is the manifest's already.
    assert any(e["name"] == "RIVERBED_REPLICA" for e in container["env"])


def _read_records(bootstrap_servers: str, topic: str) -> list[Any]:
    """Every record of ``topic`` so far, parsed (None for a value that is not JSON)."""
    from workloads.topic_reader import read_topic

    values: list[bytes | None] = []
    read_topic(
        bootstrap_servers,
        topic,
        lambda batch: values.extend(v for _p, _o, v in batch),
        20.0,
        what="evidence topic",
    )
    return [_json(v) for v in values]


def _json(value: bytes | None) -> Any:
    try:
        return json.loads(value or b"")
    except ValueError:
        return None


def started_pods(records: list[Any], pods: list[str]) -> set[str]:
    """The pods among ``pods`` that have an instrumented ``start`` on the evidence topic
    (members are named ``<pod>-<pid>``)."""
    out = set()
    for rec in records:
        if isinstance(rec, dict) and rec.get("type") == "start":
            member = str(rec.get("member") or "")
            out |= {p for p in pods if member.startswith(f"{p}-")}
    return out


#: How long after the group joined every pod's layer has to record its start.
START_TIMEOUT_S = 45.0


def wait_started(
    kube: Any, evidence_topic: str, progress: Any, timeout: float = START_TIMEOUT_S
) -> None:
    """Wait until every running consumer pod has an instrumented ``start`` on the evidence
    topic; :class:`HarnessError` naming the pods (and why it happens) when one has none."""
    import time

    from riverbed.errors import HarnessError

    deadline = time.monotonic() + timeout
    while True:
        pods = sorted(p.name for p in kube.consumer_pods() if not p.terminating)
        records = _read_records(kube.bootstrap_servers, evidence_topic)
        missing = [p for p in pods if p not in started_pods(records, pods)]
        if pods and not missing:
            return
        if time.monotonic() > deadline:
            raise HarnessError(
                "Your consumer image joined the group, but riverbed's instrumentation recorded "
                f"nothing for pod(s) {', '.join(missing) or '(none running)'}: the verdict "
                "cannot tell what it processed, so the run stops here.\n"
                "The instrumentation hooks kafka-python, confluent-kafka and aiokafka in a "
                "Python program (through PYTHONPATH, which `python -E`/`-I` ignore) and "
                "kafka-clients' KafkaConsumer in a JVM (through JAVA_TOOL_OPTIONS); a consumer "
                "in another language (Go, Rust, Node.js) or a client beyond those records "
                "nothing. The pods' logs (`kubectl logs -c riverbed-evidence`) show the "
                "shipper's side.",
                fix="run with --consumer-evidence offsets (or output-topic --output-topic NAME) "
                "to judge the image without instrumentation.",
            )
        progress(f"waiting for the instrumented consumers' start records ({', '.join(missing)})")
        time.sleep(1.0)


def shipping_gaps(records: list[Any], collected: Mapping[str, int]) -> list[str]:
    """Why the collected consumer evidence may be incomplete: each pod's evidence sidecar
    sends a receipt at exit (:mod:`workloads.evidence.shipper`), lines per member.

    ``records``: the evidence topic's records, parsed; ``collected``: the collector's
    ``files`` (relative path → lines written). A member collected without any receipt
    naming it (its sidecar was killed before it finished, or never stopped), a receipt
    that says lines were left unshipped, or one naming more lines than were collected,
    is a gap. Returns one sentence per gap (empty: complete).
    """
    latest: dict[str, dict[str, Any]] = {}
    for rec in records:
        if isinstance(rec, dict) and rec.get("type") == "shipped":
            latest[str(rec.get("shipper"))] = rec  # in order per key: the last one wins
    shipped: dict[str, tuple[int, str, bool]] = {}
    for pod, rec in latest.items():
        files = rec.get("files")
        for member, n in (files if isinstance(files, dict) else {}).items():
            shipped[str(member)] = (int(n), pod, rec.get("complete") is True)
    members = {
        Path(rel).stem: n for rel, n in collected.items() if rel.startswith("evidence/consumed/")
    }
    gaps = []
    for member in sorted(set(members) | set(shipped)):
        got = members.get(member, 0)
        if member not in shipped:
            gaps.append(
                f"{member}: its pod's evidence sidecar never confirmed it shipped everything "
                f"({got} lines collected; the sidecar was stopped before it finished)"
            )
            continue
        n, pod, complete = shipped[member]
        if not complete:
            gaps.append(f"{member}: the evidence sidecar of {pod} stopped with lines unshipped")
        elif got < n:
            gaps.append(f"{member}: {n} lines shipped from {pod}, only {got} collected")
    return gaps


def collected_gaps(bootstrap_servers: str, evidence_topic: str, collected: Any) -> list[str]:
    """:func:`shipping_gaps` of a collection (``collect``'s result; None: a dry run)."""
    if not isinstance(collected, dict):
        return []
    if not collected.get("finished"):
        return [
            "the evidence topic was not read to its end "
            f"({collected.get('detail') or 'the collector gave up'})"
        ]
    records = _read_records(bootstrap_servers, evidence_topic)
    return shipping_gaps(records, collected.get("files") or {})
