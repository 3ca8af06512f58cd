"""The user's own Kafka on Kubernetes: ``--platform k8s --kafka-bootstrap ADDR``.

riverbed then deploys no Kafka (no StatefulSet, Services, PDB or Kafka NetworkPolicy
of its own) and points every pod it runs at the user's cluster, under the external
platform's rules (its own uniquely named topics and group, no broker faults, nothing
left behind). Two routes lead to that one cluster:

- ``bootstrap``: the address the **pods** use (e.g. Strimzi's
  ``my-cluster-kafka-bootstrap.kafka.svc:9092``);
- ``host_bootstrap``: the address **this machine** uses for the host-side work (topic
  creation, the chaos probes, the drains, evidence collection); by default the same.

Both must reach the same cluster: :func:`probe_pod` asks Kafka for its cluster id from
inside the namespace, and :func:`check_same_cluster` compares it with what the host
route answered.

The connection settings (``--kafka-config``: TLS, SASL) reach the pods through one
Secret (:func:`secret_doc`), never through a manifest's plain env: riverbed's pods read
``RIVERBED_KAFKA_CONFIG``, the user's consumer image the ``KAFKA_SECURITY_PROTOCOL`` …
and ``KAFKA_CLIENT_CONFIG`` variables a local user consumer gets. Files the settings
name (a CA certificate, a client key) travel in the same Secret and are mounted at
:data:`MOUNT_DIR`; the pods' copy of the settings names them there.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from riverbed.errors import BadInput
from riverbed.platforms.kube import render as km
from workloads import client_config

#: The Secret that holds the pods' connection settings (and the files they name).
SECRET_NAME = "riverbed-kafka-client"
#: Where the Secret's files are mounted in every pod that talks to Kafka.
MOUNT_DIR = "/etc/riverbed/kafka-client"
VOLUME = "kafka-client"
#: The short-lived pod that reads the cluster id through the pods' route.
PROBE_POD = "riverbed-kafka-probe"
#: How long the probe pod may live (its image pull included).
PROBE_DEADLINE_S = 300
#: The label every Kafka object of riverbed's own Kafka carries (dropped with a user's Kafka).
_KAFKA_NAME = "kafka"


@dataclass
class UserKafka:
    """A Kafka cluster riverbed does not run, reached by the pods and by this machine."""

    bootstrap: str
    """The bootstrap servers as the pods reach them."""
    host_bootstrap: str
    """The bootstrap servers as this machine reaches them (the same by default)."""
    settings: dict[str, str] = field(default_factory=dict)
    """Checked connection settings, librdkafka spelling (secrets included: memory only)."""
    cluster_id: str | None = None
    """The cluster id the host route answered with (set by the login check)."""

    def record(self) -> dict[str, Any]:
        """spec.json ``kube.kafka``: the routes and the cluster id; never a secret."""
        return {
            "bootstrap_servers": self.bootstrap,
            "host_bootstrap_servers": self.host_bootstrap,
            "cluster_id": self.cluster_id,
        }


def pod_settings(settings: Mapping[str, str]) -> tuple[dict[str, str], dict[str, bytes]]:
    """The settings as the pods use them, and the files they need: every path setting
    (``ssl.ca.location`` …) points into :data:`MOUNT_DIR`, under a key named after the
    setting. Returns (settings, {secret key: file content})."""
    out: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for name, value in settings.items():
        if client_config.BY_NAME[name].path:
            key = name.replace(".", "-") + ".pem"
            files[key] = Path(value).read_bytes()
            out[name] = str(PurePosixPath(MOUNT_DIR) / key)
        else:
            out[name] = value
    return out, files


def secret_env(settings: Mapping[str, str]) -> dict[str, str]:
    """The Secret's variables: ``RIVERBED_KAFKA_CONFIG`` for riverbed's pods, and what a
    user's consumer receives (``KAFKA_<NAME>`` per setting, ``KAFKA_CLIENT_CONFIG``)."""
    pods, _files = pod_settings(settings)
    return {
        client_config.ENV: client_config.to_json(pods),
        **client_config.consumer_environment(pods),
    }


def secret_doc(namespace: str, settings: Mapping[str, str]) -> km.Manifest:
    """The Secret holding the pods' connection settings and the files they name."""
    _pods, files = pod_settings(settings)
    data = {k: base64.b64encode(v.encode()).decode() for k, v in secret_env(settings).items()}
    data.update({k: base64.b64encode(v).decode() for k, v in files.items()})
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": SECRET_NAME,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "riverbed"},
        },
        "type": "Opaque",
        "data": dict(sorted(data.items())),
    }


def _is_kafka(doc: km.Manifest) -> bool:
    labels = (doc.get("metadata") or {}).get("labels") or {}
    return labels.get("app.kubernetes.io/name") == _KAFKA_NAME


def without_kafka(rendered: dict[str, list[km.Manifest]]) -> dict[str, list[km.Manifest]]:
    """The manifests minus riverbed's own Kafka: its file (StatefulSet, Services, PDB) and
    its NetworkPolicy."""
    return {
        name: [doc for doc in docs if not _is_kafka(doc)]
        for name, docs in rendered.items()
        if name != km.KAFKA
    }


def point_pods(
    docs: list[km.Manifest], kafka: UserKafka, user_image_container: tuple[str, str] | None
) -> None:
    """Point every container that talks to Kafka (it has ``KAFKA_BROKER``) at the user's
    cluster, with the connection settings from the Secret and its files mounted.

    ``user_image_container``: (Deployment, container) running the user's image, which gets
    the variables a local user consumer gets instead of ``RIVERBED_KAFKA_CONFIG``.
    """
    settings, files = pod_settings(kafka.settings)
    riverbed_keys = [client_config.ENV]
    user_keys = list(client_config.consumer_environment(settings))
    for doc in docs:
        spec = km.pod_spec(doc)
        if spec is None:
            continue
        name = (doc.get("metadata") or {}).get("name")
        mounted = False
        # Native sidecars (the instrumented image's evidence shipper) talk to Kafka too.
        for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
            env = c.get("env") or []
            if not any(e.get("name") == "KAFKA_BROKER" for e in env):
                continue
            user = user_image_container == (name, c.get("name"))
            values = {"KAFKA_BROKER": kafka.bootstrap}
            if user:
                # The tutorial's contract: one address, and all of them.
                values = {
                    "KAFKA_BROKER": kafka.bootstrap.split(",")[0],
                    "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
                }
            _set(env, values)
            for key in user_keys if user else riverbed_keys:
                _set_ref(env, key)
            c["env"] = env
            if files:
                mounts = c.setdefault("volumeMounts", [])
                mounts.append({"name": VOLUME, "mountPath": MOUNT_DIR, "readOnly": True})
                mounted = True
        if mounted:
            spec.setdefault("volumes", []).append(
                {
                    "name": VOLUME,
                    "secret": {
                        "secretName": SECRET_NAME,
                        "items": [{"key": k, "path": k} for k in sorted(files)],
                        "defaultMode": 0o440,
                    },
                }
            )


def _set(env: list[dict[str, Any]], values: Mapping[str, str]) -> None:
    for key, value in values.items():
        entry = {"name": key, "value": value}
        for i, existing in enumerate(env):
            if existing.get("name") == key:
                env[i] = entry
                break
        else:
            env.append(entry)


def _set_ref(env: list[dict[str, Any]], key: str) -> None:
    entry = {"name": key, "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": key}}}
    env[:] = [e for e in env if e.get("name") != key] + [entry]


#: Run in the probe pod (the workload image: kafka-python and workloads.client_config):
#: one JSON line with the cluster id the pods' route answers with, or the error.
PROBE_SCRIPT = """\
import json, os
try:
    from kafka import KafkaAdminClient
    from workloads import client_config
    admin = KafkaAdminClient(
        bootstrap_servers=os.environ["KAFKA_BROKER"].split(","),
        request_timeout_ms=15000,
        **client_config.kafka_python_from_environ(),
    )
    print(json.dumps({"cluster_id": admin.describe_cluster().get("cluster_id")}))
    admin.close()
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
"""


def probe_pod(namespace: str, image: str, kafka: UserKafka) -> km.Manifest:
    """A pod that prints the cluster id of the Kafka the pods' route reaches (restricted
    Pod Security, like every riverbed pod)."""
    doc: km.Manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": PROBE_POD,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": "kafka-probe",
                "app.kubernetes.io/part-of": "riverbed",
            },
        },
        "spec": {
            "restartPolicy": "Never",
            # Room for a first pull of the workload image; the probe itself takes seconds.
            "activeDeadlineSeconds": PROBE_DEADLINE_S,
            "enableServiceLinks": False,
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "probe",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["python", "-c", PROBE_SCRIPT],
                    "env": [{"name": "KAFKA_BROKER", "value": kafka.bootstrap}],
                    "resources": {
                        "requests": {"cpu": "25m", "memory": "64Mi"},
                        "limits": {"cpu": "500m", "memory": "192Mi"},
                    },
                    "securityContext": copy.deepcopy(km.RESTRICTED_SECURITY_CONTEXT),
                }
            ],
        },
    }
    point_pods([doc], kafka, None)
    return doc


def probe_result(log: str) -> dict[str, Any] | None:
    """The probe pod's JSON line (its last line that parses); None when it printed none
    (it never ran: the pod's problem, not Kafka's)."""
    for line in reversed(log.strip().splitlines()):
        try:
            found = json.loads(line)
        except ValueError:
            continue
        if isinstance(found, dict):
            return found
    return None


def check_same_cluster(kafka: UserKafka, namespace: str, found: Mapping[str, Any]) -> None:
    """Refuse (exit 4) when the pods' route does not reach Kafka, or reaches another
    cluster than the host route."""
    if error := found.get("error"):
        raise BadInput(
            f"Pods in namespace {namespace} cannot reach Kafka at --kafka-bootstrap "
            f"{kafka.bootstrap}: {client_config.redact(str(error), kafka.settings)}.",
            fix="--kafka-bootstrap is the address the pods use (e.g. Strimzi's "
            "<cluster>-kafka-bootstrap.<kafka namespace>.svc:9092): it must resolve in the "
            f"cluster, and a NetworkPolicy on Kafka's side must admit namespace {namespace}; "
            "the --kafka-config settings must fit that listener.",
        )
    pods_id = found.get("cluster_id")
    if kafka.cluster_id and pods_id != kafka.cluster_id:
        raise BadInput(
            f"--kafka-bootstrap {kafka.bootstrap} (the pods' route) reaches Kafka cluster "
            f"{pods_id!r}, but --kafka-host-bootstrap {kafka.host_bootstrap} (this machine's "
            f"route) reaches cluster {kafka.cluster_id!r}: they must be one cluster.",
            fix="give --kafka-host-bootstrap an address of the same cluster that this machine "
            "reaches (a listener it can reach, or a port-forward to that cluster's brokers).",
        )
