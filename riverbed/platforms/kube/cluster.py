"""The Kubernetes platforms: a kind cluster riverbed creates, or a cluster you already have.

``KubePlatform(mode="kind")`` — ``riverbed up --platform kind``:

1. checks that docker, kind and kubectl are installed (and Docker answers),
2. creates the kind cluster from ``manifests/kind-cluster.yaml`` unless it exists,
3. builds the workload image (``workloads/Dockerfile``) under a unique tag and
   loads it into the cluster with ``kind load docker-image``,
4. applies Kafka, the namespace and the chaos RBAC, waits for the Kafka StatefulSet,
5. creates the data and evidence topics through Kafka's external listener
   (``127.0.0.1:19592..19594`` on the host),
6. applies the workloads with that image tag and waits for every rollout.

``down()`` deletes the kind cluster.

``KubePlatform(mode="k8s", context="NAME")`` — ``riverbed up --platform k8s
--context NAME``: the same steps on an existing cluster, minus creating it;
every kubectl call carries ``--context NAME``. The host reaches Kafka through
``kubectl port-forward`` (see :meth:`KubePlatform.host_access`). ``down()``
deletes only what riverbed applied (the ``riverbed`` namespace and its
objects), never the cluster.

Every external command goes through a :class:`~riverbed.platforms.kube.commands.Runner`.
With ``dry_run=True`` nothing runs: ``platform.runner.steps`` holds the plan —
each command's argv, the manifests it would apply, the topics it would create::

    platform = KubePlatform(mode="kind", dry_run=True)
    platform.up(tag="t1")
    for step in platform.runner.steps:
        print(describe(step))

(``python -m riverbed.platforms.kube plan up`` prints the same.)
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from riverbed.errors import BadInput, HarnessError
from riverbed.paths import PROJECT_ROOT
from riverbed.platforms.kube import instrument as kube_instrument
from riverbed.platforms.kube import netfault as kube_netfault
from riverbed.platforms.kube import render as km
from riverbed.platforms.kube.commands import Result, Runner
from riverbed.platforms.kube.forward import Forward, PortForwarder
from riverbed.platforms.kube.images import (
    DOCKERFILE,
    KAFKA_IMAGE,
    LOCUST_IMAGE,
    WORKLOADS_IMAGE,
    KubeImages,
    content_tag,
    new_tag,
)
from riverbed.platforms.kube.status import (
    PodStatus,
    RolloutStatus,
    parse_lines,
    parse_pods,
    parse_rollout,
    phases,
)
from riverbed.platforms.kube.user_kafka import UserKafka

MODES = ("kind", "k8s")
#: The Docker network kind puts every cluster's nodes on.
KIND_NETWORK = "kind"
NAMESPACE = "riverbed"
DATA_TOPIC = "riverbed-events"
EVIDENCE_TOPIC = "riverbed-evidence"
GROUP = "riverbed-consumers"
MANIFESTS_DIR = "manifests"

KAFKA_BROKERS = 3
#: The NodePorts of the kind overlay: broker i's external listener on 30092+i, the producer's
#: HTTP API on 30080. manifests/kind-cluster.yaml maps each to a host port on 127.0.0.1.
KAFKA_NODE_PORT = 30092
PRODUCER_NODE_PORT = 30080
#: Broker i is reached from the host at 127.0.0.1:base+i and advertises exactly that. kind: the
#: host ports manifests/kind-cluster.yaml maps to NodePorts 30092+i — apart from the local
#: platform's defaults (19092…), so that both can be up side by side; k8s: a port-forward
#: to pod kafka-i.
KIND_EXTERNAL_BASE_PORT = 19592
K8S_EXTERNAL_BASE_PORT = 19692
#: The container port of the EXTERNAL listener (advertised as 127.0.0.1:<base+i>).
KAFKA_EXTERNAL_PORT = 9094
KIND_PRODUCER_HOST_PORT = 18580
K8S_PRODUCER_HOST_PORT = 18680

CONSUMER_SELECTOR = "app.kubernetes.io/name=consumer"
MONITOR_SELECTOR = "app.kubernetes.io/name=monitor"
KAFKA_SELECTOR = "app.kubernetes.io/name=kafka"
#: What riverbed deployed, apart from what else a namespace holds (a team's own Kafka).
PART_OF = "app.kubernetes.io/part-of=riverbed"
LOCUST_WORKER_SELECTOR = "app.kubernetes.io/name=locust,app.kubernetes.io/component=worker"
#: Where Locust workers in the cluster write their run directory (manifests/locust.yaml).
LOCUST_POD_RUN_DIR = "/data/run"

_INSTALL = {
    "docker": "install Docker (https://docs.docker.com/get-docker/)",
    "kind": "install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
}
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_REGISTRY = re.compile(r"^[a-zA-Z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$")


@dataclass(frozen=True)
class UpResult:
    """What ``up()`` brought up, and how to reach it from the host."""

    mode: str
    context: str
    image: str
    """The workload image the pods run."""
    bootstrap_servers: str
    """Kafka from the host (kind: always; k8s: inside :meth:`KubePlatform.host_access`)."""
    producer_url: str
    topic: str
    evidence_topic: str
    group: str
    namespace: str = NAMESPACE


class KubePlatform:
    """Kafka and the workloads on kind (``mode="kind"``) or an existing cluster (``mode="k8s"``).

    Parameters:
        mode: ``"kind"`` creates (and on ``down``, deletes) a kind cluster;
            ``"k8s"`` uses the existing cluster of kubeconfig context ``context``
            and never creates or deletes a cluster.
        context: the kubeconfig context, required for ``k8s`` (it is passed to
            every kubectl call); for ``kind`` it is always ``kind-<cluster_name>``.
        dry_run: run nothing, record every step in ``self.runner.steps``.
        cluster_name: the kind cluster's name.
        root: the project root (``manifests/``, ``workloads/Dockerfile``);
            commands run from there.
        image: a workload image the cluster can already pull (e.g. pushed to a
            registry): riverbed then neither builds nor loads one.
        images: where the node, Kafka and Python images and the kind/kubectl
            tools come from (:class:`KubeImages`; default: the public images).
        kind_config: the kind cluster configuration (default
            manifests/kind-cluster.yaml); it must map the host ports riverbed uses.
        echo: told every command line before it runs.
        announce: told what riverbed decided on its own and the user should know (a kind
            configuration adjusted for this host); default: standard error.
        namespace: where everything is deployed (k8s: it may exist, with rights in it alone;
            checked before anything starts, :mod:`~riverbed.platforms.kube.access`).
        image_registry: push the images riverbed builds (workloads, Locust, netfault; the
            prepared Kafka image) to ``REGISTRY/<name>:<content tag>`` and have the pods
            pull them there (a kind node then loads nothing).
        image_pull_secret: a Secret of type dockerconfigjson in the namespace that every
            pod pulls its images with.
        kafka: the user's own Kafka (k8s only, :mod:`~riverbed.platforms.kube.user_kafka`):
            riverbed deploys no Kafka and points every pod at it.
        which: finds a program on PATH (tests replace it).
    """

    def __init__(
        self,
        mode: str = "kind",
        context: str | None = None,
        dry_run: bool = False,
        cluster_name: str = "riverbed",
        root: Path | str | None = None,
        *,
        image: str | None = None,
        images: KubeImages | None = None,
        kind_config: Path | str | None = None,
        echo: Callable[[str], None] | None = None,
        which: Callable[[str], str | None] = shutil.which,
        announce: Callable[[str], None] | None = None,
        namespace: str = NAMESPACE,
        image_registry: str | None = None,
        image_pull_secret: str | None = None,
        kafka: UserKafka | None = None,
    ) -> None:
        if mode not in MODES:
            raise BadInput(f"Unknown Kubernetes platform mode {mode!r}.", fix="use kind or k8s.")
        if mode == "k8s" and not context:
            raise BadInput(
                "--platform k8s needs --context NAME: riverbed never guesses which cluster to use.",
                fix="pass one of the contexts `kubectl config get-contexts` lists.",
            )
        if mode == "kind" and context and context != f"kind-{cluster_name}":
            raise BadInput(
                f"--context is for --platform k8s; the kind platform always uses kind-{cluster_name}.",
                fix="drop --context, or use --platform k8s to target an existing cluster.",
            )
        if mode == "kind" and kafka is not None:
            raise BadInput(
                "--kafka-bootstrap on --platform kind: the kind platform runs its own Kafka.",
                fix="for your own Kafka, use --platform k8s --context kind-NAME (an existing "
                "cluster), or drop --kafka-bootstrap.",
            )
        if not _NAME.match(namespace) or len(namespace) > 63:
            raise BadInput(
                f"Invalid namespace {namespace!r}.",
                fix="use at most 63 lowercase letters, digits and '-' (a DNS label).",
            )
        if image_pull_secret and not re.match(
            r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$", image_pull_secret
        ):
            raise BadInput(
                f"Invalid --image-pull-secret {image_pull_secret!r}.",
                fix="name a Secret of the namespace (lowercase letters, digits, '-', '.').",
            )
        if image_registry is not None and not _REGISTRY.match(image_registry.rstrip("/")):
            raise BadInput(
                f"Invalid --image-registry {image_registry!r}.",
                fix="give a registry host[:port][/path], e.g. registry.example.com/team or "
                "127.0.0.1:5001.",
            )
        if not _NAME.match(cluster_name):
            raise BadInput(
                f"Invalid kind cluster name {cluster_name!r}.",
                fix="use lowercase letters, digits and '-'.",
            )
        self.mode = mode
        self.cluster_name = cluster_name
        self.namespace = namespace
        self.image_registry = image_registry.rstrip("/") if image_registry else None
        self.image_pull_secret = image_pull_secret
        #: The user's Kafka (None: riverbed deploys its own in the namespace).
        self.user_kafka = kafka
        #: Topics up() created on the user's Kafka (deleted at the end of a run).
        self.created_topics: list[str] = []
        self._published_kafka: str | None = None
        #: Kafka's cluster id in this namespace (None: the manifests' until up() reads or
        #: makes one); every host route is checked against it.
        self.kafka_cluster_id: str | None = None
        self.context = context if mode == "k8s" else f"kind-{cluster_name}"
        self.dry_run = dry_run
        self.root = Path(root) if root is not None else PROJECT_ROOT
        self.image = image
        self.images = images or KubeImages()
        self.kind_config = Path(kind_config).resolve() if kind_config else None
        self.external_base_port = K8S_EXTERNAL_BASE_PORT
        self.producer_host_port = K8S_PRODUCER_HOST_PORT
        if mode == "kind":
            self.external_base_port, self.producer_host_port = _check_kind_config(
                self.kind_config_path, self.root / MANIFESTS_DIR / km.KIND_CLUSTER
            )
        self.which = which
        self.announce = announce or (lambda text: print(text, file=sys.stderr))
        self.runner = Runner(dry_run=dry_run, cwd=self.root, echo=echo)
        #: The port-forwards of the host_access blocks open now (never started twice).
        self._forwarding: set[Forward] = set()

    # ---- addresses ------------------------------------------------------------------------------
    @property
    def manifests_dir(self) -> Path:
        return self.root / MANIFESTS_DIR

    @property
    def kafka_image(self) -> str | None:
        """The Kafka image the StatefulSet runs (None: the manifests' apache/kafka): the
        prepared one, as published to the registry when there is one."""
        return self._published_kafka or self.images.kafka_image

    @property
    def kind_config_path(self) -> Path:
        """The kind configuration the cluster is created from (manifests/kind-cluster.yaml)."""
        return self.kind_config or self.manifests_dir / km.KIND_CLUSTER

    @property
    def bootstrap_servers(self) -> str:
        """Kafka's external listener as the host sees it: ``127.0.0.1:19592,…:19594`` on kind;
        with the user's Kafka, this machine's route to it."""
        if self.user_kafka is not None:
            return self.user_kafka.host_bootstrap
        base = self.external_base_port
        return ",".join(f"127.0.0.1:{base + i}" for i in range(KAFKA_BROKERS))

    @property
    def producer_url(self) -> str:
        """The producer service from the host (k8s: inside ``host_access(producer=True)``)."""
        return f"http://127.0.0.1:{self.producer_host_port}"

    def kubectl_argv(self, *args: str, namespaced: bool = True) -> list[str]:
        """``kubectl --context C [-n riverbed] args…``: every kubectl call is pinned to the context."""
        ns = ["-n", self.namespace] if namespaced else []
        return [self.images.kubectl_bin, "--context", str(self.context), *ns, *args]

    def kubectl(self, *args: str, namespaced: bool = True, **kwargs: Any) -> Result:
        return self.runner.run(self.kubectl_argv(*args, namespaced=namespaced), **kwargs)

    # ---- preflight ------------------------------------------------------------------------------
    def required_tools(self) -> list[str]:
        if self.mode == "kind":
            return ["docker", "kind", "kubectl"]
        return ["kubectl"] if self.image else ["docker", "kubectl"]

    def _tool(self, name: str) -> str:
        return {"kind": self.images.kind_bin, "kubectl": self.images.kubectl_bin}.get(name, name)

    def preflight(self) -> None:
        """Check the tools this mode needs; raise a HarnessError naming every missing one."""
        missing = [t for t in self.required_tools() if self.which(self._tool(t)) is None]
        if missing:
            fix = "; ".join(_INSTALL[t] for t in missing)
            if self.mode == "k8s" and "docker" in missing:
                fix += "; or give riverbed an image the cluster can pull, so it builds none"
            raise HarnessError(
                f"--platform {self.mode} needs {', '.join(missing)}, not found on PATH.",
                fix=fix + ".",
            )
        if "docker" in self.required_tools():
            info = self.runner.run(["docker", "info"], check=False, timeout=60)
            if not info.ok:
                raise HarnessError(
                    "docker is installed but the Docker daemon does not answer.",
                    fix="start Docker (or give your user access to its socket) and retry.",
                )
        if self.mode == "k8s":
            contexts = parse_lines(
                self.runner.run(
                    [self.images.kubectl_bin, "config", "get-contexts", "-o", "name"], timeout=30
                ).stdout
            )
            if self.context not in contexts:
                raise HarnessError(
                    f"No kubeconfig context named {self.context!r}.",
                    fix=f"use one of: {', '.join(contexts) or '(none configured)'}.",
                )

    # ---- rendering ------------------------------------------------------------------------------
    def render(
        self,
        image: str | None = None,
        consumers: int | None = None,
        consumer_env: Mapping[str, str] | None = None,
        locust_image: str | None = None,
        locust_workers: int | None = None,
        topic: str | None = None,
        group: str | None = None,
        evidence_topic: str | None = None,
        consumer_image: str | None = None,
        output_topic: str | None = None,
        netfault_image: str | None = None,
        instrument_image: str | None = None,
        consumer_image_env: Mapping[str, str] | None = None,
    ) -> dict[str, list[km.Manifest]]:
        """The manifests as riverbed applies them: per file, in kustomization order.

        ``image`` replaces ``riverbed-workloads:dev``; ``consumers`` and
        ``consumer_env`` (e.g. ``{"RIVERBED_COMMIT_MODE": "before-process"}``)
        adjust Deployment ``consumer``. With ``locust_image``, component
        ``locust`` is rendered too. With ``netfault_image``, each consumer pod gets the
        network-fault sidecar (component ``netfault``,
        :mod:`riverbed.platforms.kube.netfault`). With ``consumer_image`` and
        ``instrument_image``, the user's consumer pods get riverbed's instrumentation layer
        and the evidence sidecar (:mod:`riverbed.platforms.kube.instrument`;
        ``consumer_image_env``: the image's own ``ENV``, whose ``PYTHONPATH`` and
        ``JAVA_TOOL_OPTIONS`` are kept; None: unknown). The overlay is the mode's
        (``manifests/overlays/kind`` or ``k8s``), in :attr:`namespace`.
        """
        overrides = []
        if image:
            overrides.append(_override(WORKLOADS_IMAGE, image))
        if self.kafka_image:
            overrides.append(_override(KAFKA_IMAGE, self.kafka_image))
        components = []
        if locust_image:
            overrides.append(_override(LOCUST_IMAGE, locust_image))
            components.append(self.manifests_dir / km.LOCUST_COMPONENT)
        if netfault_image:
            overrides.append(_override(kube_netfault.NETFAULT_IMAGE, netfault_image))
            components.append(self.manifests_dir / km.NETFAULT_COMPONENT)
        rendered = km.render(
            self.manifests_dir / km.OVERLAYS[self.mode],
            overrides,
            components,
            namespace=self.namespace,
        )
        if kafka := rendered.get(km.KAFKA):
            # Broker i advertises 127.0.0.1:<base+i>, where the host reaches it.
            settings = {"RIVERBED_EXTERNAL_BASE_PORT": str(self.external_base_port)}
            if self.kafka_cluster_id:
                # Its own cluster id: a port-forward proves it reached this very cluster.
                settings["CLUSTER_ID"] = self.kafka_cluster_id
            km.set_env(kafka, "StatefulSet", "kafka", "kafka", settings)
        if self.image_pull_secret:
            for doc in km.flatten(rendered):
                if (spec := km.pod_spec(doc)) is not None:
                    spec["imagePullSecrets"] = [{"name": self.image_pull_secret}]
        workloads = rendered.get(km.WORKLOADS, [])
        if consumers is not None:
            km.set_replicas(workloads, "Deployment", "consumer", consumers)
        # The run's own topic, group and evidence topic (the manifests name defaults):
        # a second run on the same cluster must not read the first run's records.
        wanted = {
            "KAFKA_TOPIC": topic,
            "KAFKA_GROUP": group,
            "RIVERBED_EVIDENCE_TOPIC": evidence_topic,
        }
        names = {k: v for k, v in wanted.items() if v}
        if names and workloads:
            km.set_env(workloads, "Deployment", "consumer", "consumer", names)
            km.set_env(workloads, "Deployment", "monitor", "monitor", names)
            if topic:
                km.set_env(workloads, "Deployment", "producer", "producer", {"KAFKA_TOPIC": topic})
        if topic and km.LOCUST in rendered:
            for name in ("locust-master", "locust-worker"):
                km.set_env(
                    rendered[km.LOCUST], "Deployment", name, "locust", {"KAFKA_TOPIC": topic}
                )
        if consumer_env:
            km.set_env(workloads, "Deployment", "consumer", "consumer", consumer_env)
        if consumer_image and workloads:
            user_consumer(workloads, consumer_image, output_topic, self.namespace)
            if instrument_image:
                kube_instrument.instrument_consumer(
                    workloads,
                    instrument_image,
                    evidence_topic or _container_env_value(workloads, "monitor", EVIDENCE_ENV),
                    internal_bootstrap_servers(self.namespace),
                    consumer_image_env,
                )
        if locust_workers is not None:
            km.set_replicas(rendered[km.LOCUST], "Deployment", "locust-worker", locust_workers)
        if netfault_image:
            for docs in rendered.values():
                kube_netfault.allow_net_admin(docs)
        if self.user_kafka is not None:
            rendered = self._for_user_kafka(rendered, consumer_image is not None)
        return rendered

    def _for_user_kafka(
        self, rendered: dict[str, list[km.Manifest]], user_image: bool
    ) -> dict[str, list[km.Manifest]]:
        """No Kafka of riverbed's; every pod pointed at the user's, its settings in a Secret."""
        from riverbed.platforms.kube import user_kafka as uk

        assert self.user_kafka is not None
        rendered = uk.without_kafka(rendered)
        user = ("consumer", "consumer") if user_image else None
        for docs in rendered.values():
            uk.point_pods(docs, self.user_kafka, user)
        rendered[uk.SECRET_NAME] = [uk.secret_doc(self.namespace, self.user_kafka.settings)]
        return rendered

    # ---- up / down ------------------------------------------------------------------------------
    def up(
        self,
        tag: str | None = None,
        *,
        partitions: int = 3,
        replication_factor: int = 3,
        min_insync_replicas: int = 2,
        evidence_partitions: int = 3,
        consumers: int = 3,
        consumer_env: Mapping[str, str] | None = None,
        topic: str = DATA_TOPIC,
        group: str = GROUP,
        evidence_topic: str = EVIDENCE_TOPIC,
        consumer_image: str | None = None,
        consumer_instrumented: bool = False,
        output_topic: str | None = None,
        network_faults: bool = False,
        kafka_timeout: float = 600.0,
        workload_timeout: float = 300.0,
        progress: Callable[[str], None] | None = None,
    ) -> UpResult:
        """Bring up Kafka and the workloads (see the module docstring for the steps).

        Safe to repeat: an existing cluster is reused, manifests are
        re-applied, existing topics are kept. ``tag`` defaults to a new unique
        tag; ``partitions`` etc. describe the data topic ``topic``; the
        consumers join ``group`` and record their evidence to ``evidence_topic``.
        ``consumer_image``: the user's consumer image runs as Deployment ``consumer``
        instead of riverbed's (kind loads it from this machine's Docker);
        ``consumer_instrumented``: its pods get riverbed's instrumentation layer and the
        evidence sidecar (:mod:`riverbed.platforms.kube.instrument`);
        ``output_topic``: created with the data topic, for a service that writes one.
        ``network_faults``: each consumer pod gets the network-fault sidecar
        (:mod:`riverbed.platforms.kube.netfault`), built and loaded like the workloads.
        """
        say = progress or (lambda _msg: None)
        if consumers < 0 or partitions < 1:
            raise HarnessError("consumers must be ≥ 0 and partitions ≥ 1.")
        if not self.dry_run:
            self.preflight()
        if self.mode == "kind":
            self._ensure_cluster(say)
        else:
            # Before anything is built or applied: the rights, the namespace, its level.
            self.prepare_namespace(network_faults, say)
        if self.user_kafka is None:
            self.read_kafka_identity()
        tag = tag or content_tag(self.root, self.images.python_image)
        image = self.image or f"{WORKLOADS_IMAGE}:{tag}"
        netfault_image: str | None = None

        local_image = image
        if self.image is None:
            if self.image_exists(image):
                say(f"{image} is built from these very sources: not rebuilding it")
            else:
                say(f"building {image}")
                self.build_image(image)
            image = self.publish(image, say)
        instrument_image: str | None = None
        consumer_image_env: dict[str, str] | None = None
        if consumer_image and consumer_instrumented:
            instrument_image = self.prepare_instrument_image(local_image, say)
            consumer_image_env = self.consumer_image_env(consumer_image)
        if self.images.kafka_image and self.user_kafka is None:
            # kind skips an image the node already holds with the same id.
            self._published_kafka = self.publish(self.images.kafka_image, say)
        if network_faults:
            netfault_image = self.prepare_netfault_image(tag, say)
        if consumer_image and self.mode == "kind" and not self.image_registry:
            say(
                f"loading your consumer image {consumer_image} into kind cluster {self.cluster_name}"
            )
            self.load_image(
                consumer_image,
                fix=f"build {consumer_image} with docker first: "
                "kind loads it from this machine's Docker.",
            )

        rendered = self.render(
            image=image,
            consumers=consumers,
            consumer_env=consumer_env,
            topic=topic,
            group=group,
            evidence_topic=evidence_topic,
            consumer_image=consumer_image,
            output_topic=output_topic,
            netfault_image=netfault_image,
            instrument_image=instrument_image,
            consumer_image_env=consumer_image_env,
        )
        infra = [doc for name, docs in rendered.items() if name != km.WORKLOADS for doc in docs]
        if self.user_kafka is None:
            say("applying namespace, Kafka and chaos RBAC")
            self.apply(infra)
            say("waiting for Kafka (3 KRaft nodes)")
            self.wait_rollout("statefulset/kafka", kafka_timeout)
        else:
            say("applying the chaos RBAC and the Kafka client settings (a Secret); no Kafka")
            self.apply(infra)
            say(f"checking that pods reach Kafka at {self.user_kafka.bootstrap}")
            self.check_pods_route(image)

        with self.host_access():
            say("creating topics")
            self.wait_for_kafka(timeout=120.0)
            self.create_topics(
                partitions=partitions,
                replication_factor=replication_factor,
                min_insync_replicas=min_insync_replicas,
                evidence_partitions=evidence_partitions,
                topic=topic,
                evidence_topic=evidence_topic,
                output_topic=output_topic,
            )

        workloads = rendered[km.WORKLOADS]
        say("applying the workloads")
        self.apply(workloads)
        for doc in workloads:
            if doc["kind"] in ("Deployment", "StatefulSet"):
                target = f"{doc['kind'].lower()}/{doc['metadata']['name']}"
                say(f"waiting for {target}")
                self.wait_rollout(target, workload_timeout)
        return UpResult(
            mode=self.mode,
            context=str(self.context),
            image=image,
            bootstrap_servers=self.bootstrap_servers,
            producer_url=self.producer_url,
            topic=topic,
            evidence_topic=evidence_topic,
            group=group,
            namespace=self.namespace,
        )

    def down(self, progress: Callable[[str], None] | None = None, timeout: float = 300.0) -> None:
        """kind: delete the cluster. k8s: delete what riverbed applied, never the cluster."""
        say = progress or (lambda _msg: None)
        if self.mode == "kind":
            say(f"deleting kind cluster {self.cluster_name}")
            self.runner.run(
                [self.images.kind_bin, "delete", "cluster", "--name", self.cluster_name],
                timeout=timeout,
                fix="see `kind get clusters`; `docker ps` shows the node containers.",
            )
            self._remove_kind_network(say)
            return
        say(f"deleting riverbed's objects in namespace {self.namespace} (context {self.context})")
        # Everything riverbed may have applied, Locust included; the StatefulSet takes
        # Kafka's volumes with it (its claims' retention policy), controllers their pods.
        docs = km.flatten(self.render(locust_image=f"{LOCUST_IMAGE}:dev"))
        self.kubectl(
            "delete",
            "-f",
            "-",
            "--ignore-not-found",
            "--wait=true",
            f"--timeout={int(timeout)}s",
            namespaced=False,
            stdin=km.dump(docs),
            timeout=timeout + 30,
        )
        if self.user_kafka is None:
            say("deleting Kafka's volumes")
            self._delete_kafka_volumes(timeout)
        # The namespace goes only if riverbed created it; one that existed stays.
        found = self.kubectl(
            "get", "namespace", self.namespace, "-o", "json", namespaced=False, check=False,
            timeout=60,
        )  # fmt: skip
        labels = _labels(found.stdout) if found.ok else {}
        if all(labels.get(k) == v for k, v in MANAGED_BY.items()) and labels:
            say(f"deleting namespace {self.namespace} (riverbed created it)")
            self.kubectl(
                "delete", "namespace", self.namespace, "--ignore-not-found", "--wait=true",
                f"--timeout={int(timeout)}s", namespaced=False, timeout=timeout + 30,
            )  # fmt: skip
        elif self.user_kafka is None:
            # The Kafka client settings a run on the user's own Kafka left in a namespace
            # that stays. On its own and unchecked: a user without rights on Secrets (who
            # never ran one) must not see `down` fail over it.
            from riverbed.platforms.kube.user_kafka import SECRET_NAME

            self.kubectl(
                "delete", "secret", SECRET_NAME, "--ignore-not-found", check=False, timeout=60
            )

    def _delete_kafka_volumes(self, timeout: float) -> None:
        """Delete Kafka's claims and wait until they are gone. The StatefulSet's garbage
        collection takes them only after it, so a namespace that stays would still hold
        them when `down` returns. Waited for by listing (the one read right `user-role`
        grants on claims), not `--wait` (which needs get and watch too)."""
        selector = f"{KAFKA_SELECTOR},{PART_OF}"
        deleted = self.kubectl(
            "delete", "persistentvolumeclaims", "-l", selector, "--ignore-not-found",
            "--wait=false", check=False, timeout=90,
        )  # fmt: skip
        if self.dry_run:
            return
        if not deleted.ok:
            self.announce(
                f"warning: Kafka's volumes in namespace {self.namespace} were not deleted: "
                f"{deleted.stderr.strip()[-300:]}"
            )
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = self.kubectl(
                "get", "persistentvolumeclaims", "-l", selector, "-o", "name", check=False,
                timeout=60,
            )  # fmt: skip
            if left.ok and not left.stdout.strip():
                return
            time.sleep(2)
        self.announce(
            f"warning: Kafka's volumes are still being deleted after {timeout:.0f} s "
            f"(`kubectl -n {self.namespace} get persistentvolumeclaims -l {selector}`)"
        )

    def _remove_kind_network(self, say: Callable[[str], None]) -> None:
        """Remove the Docker network kind made for its clusters when no container uses it
        any more (kind creates it on demand and never removes it): `down` leaves nothing."""
        inspect = self.runner.run(
            ["docker", "network", "inspect", KIND_NETWORK, "--format", "{{len .Containers}}"],
            check=False,
            timeout=60,
            dry_stdout="0",
        )
        if not inspect.ok or inspect.stdout.strip() != "0":
            return  # no such network, or another kind cluster still uses it
        say(f"removing Docker network {KIND_NETWORK} (no container uses it)")
        self.runner.run(["docker", "network", "rm", KIND_NETWORK], check=False, timeout=60)

    # ---- an existing cluster: the namespace, Kafka's identity -------------------------------
    def prepare_namespace(self, network_faults: bool, say: Callable[[str], None]) -> None:
        """k8s, before anything is built or applied: ask the API server for every right
        riverbed needs in :attr:`namespace` (:mod:`~riverbed.platforms.kube.access`), create
        the namespace only if it does not exist, and check that its Pod Security level
        admits what riverbed runs (``restricted``; ``privileged`` with network faults)."""
        if self.dry_run:
            return
        from riverbed.platforms.kube import access

        client = access.api_client(str(self.context))
        labels = self._namespace_labels(client)
        exists = labels is not None
        docs = km.flatten(
            self.render(
                locust_image=f"{LOCUST_IMAGE}:x", netfault_image=f"{kube_netfault.NETFAULT_IMAGE}:x"
            )
        )
        if self.user_kafka is not None:
            from riverbed.platforms.kube import user_kafka as uk

            # The pod that checks the pods' route to the user's Kafka.
            docs.append(uk.probe_pod(self.namespace, "x", self.user_kafka))
        rights = [*access.apply_rights(docs), *access.WORK]
        rights += access.namespace_rights(self.namespace, exists)
        if lacking := access.missing(client, self.namespace, rights):
            raise access.refuse(self.namespace, str(self.context), lacking)
        needed = "privileged" if network_faults else "restricted"
        if not exists:
            say(f"creating namespace {self.namespace} (Pod Security: {needed})")
            self.apply([_namespace_doc(self.namespace, needed)])
            return
        enforced = (labels or {}).get(_PSS_ENFORCE)
        if enforced and _PSS_RANK.get(enforced, 0) < _PSS_RANK[needed]:
            what = "the network-fault sidecar (NET_ADMIN)" if network_faults else "riverbed's pods"
            raise HarnessError(
                f"Namespace {self.namespace} enforces Pod Security {enforced!r}; {what} "
                f"need {needed!r}.",
                fix=f"label it `{_PSS_ENFORCE}={needed}` (an administrator), or run without "
                "network-fault experiments, or pick another namespace.",
            )

    def _namespace_labels(self, client: Any) -> dict[str, str] | None:
        """The namespace's labels; None when it does not exist (a user who may not read
        namespaces sees it as existing, unlabelled: their namespace)."""
        from kubernetes import client as k8s
        from kubernetes.client.exceptions import ApiException

        try:
            ns = k8s.CoreV1Api(client).read_namespace(self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status == 403:
                return {}
            raise HarnessError(f"Cannot read namespace {self.namespace}: {exc.reason}") from None
        return dict((ns.metadata.labels if ns.metadata else None) or {})

    def read_kafka_identity(self) -> None:
        """Kafka's cluster id (and, on k8s, the host ports of its port-forwards) as the running
        StatefulSet has them; for a new one, a fresh id (and free ports). Every host route is
        later checked against this id: a forward that reached another Kafka (a local cluster
        on the same port) is named, never used."""
        result = self.kubectl("get", "statefulset", "kafka", "-o", "json", check=False, timeout=60)
        env = _container_env(result.stdout, "kafka") if result.ok and result.stdout else {}
        if self.dry_run:
            return
        self.kafka_cluster_id = env.get("CLUSTER_ID") or new_cluster_id()
        if self.mode == "k8s":
            base = env.get("RIVERBED_EXTERNAL_BASE_PORT")
            self.external_base_port = int(base) if base else self._free_base_port()
            self.producer_host_port = (
                K8S_PRODUCER_HOST_PORT + self.external_base_port - K8S_EXTERNAL_BASE_PORT
            )

    def _free_base_port(self) -> int:
        """Three consecutive free host ports for the brokers' forwards (and one for the
        producer's), starting from a place of this context and namespace's own, so that two
        namespaces on one machine rarely start from the same."""
        import zlib

        slots = 30
        first = zlib.crc32(f"{self.context}/{self.namespace}".encode()) % slots
        for n in range(slots):
            base = K8S_EXTERNAL_BASE_PORT + 10 * ((first + n) % slots)
            producer = K8S_PRODUCER_HOST_PORT + base - K8S_EXTERNAL_BASE_PORT
            if all(_port_free(p) for p in (base, base + 1, base + 2, producer)):
                return base
        raise HarnessError(
            "No free host ports for the port-forwards to Kafka "
            f"({K8S_EXTERNAL_BASE_PORT}..{K8S_EXTERNAL_BASE_PORT + 10 * slots}).",
            fix="stop what holds them (`ss -ltnp`), or other riverbed sessions.",
        )

    def check_kafka_identity(self, timeout: float = 30.0) -> None:
        """Each broker's host address answers as this namespace's Kafka (its cluster id)."""
        if self.dry_run or not self.kafka_cluster_id:
            return
        for i in range(KAFKA_BROKERS):
            address = f"127.0.0.1:{self.external_base_port + i}"
            found = _cluster_id_at(address, timeout)
            if found != self.kafka_cluster_id:
                route = "the kind port mapping" if self.mode == "kind" else "the port-forward"
                raise HarnessError(
                    f"{address} answers as Kafka cluster {found!r}, not as Kafka in namespace "
                    f"{self.namespace} ({self.kafka_cluster_id}): {route} did not reach it "
                    "(another Kafka holds the port?).",
                    fix=f"stop what listens on port {self.external_base_port + i} (a local "
                    "Kafka: `riverbed kafka down`), then retry.",
                )

    def check_pods_route(self, image: str, timeout: float | None = None) -> None:
        """The user's Kafka: a short-lived pod in the namespace reads the cluster id through
        the pods' route (:mod:`~riverbed.platforms.kube.user_kafka`); refused (exit 4) when it
        cannot reach Kafka or reaches another cluster than this machine's route."""
        from riverbed.platforms.kube import user_kafka as uk

        assert self.user_kafka is not None
        timeout = timeout or uk.PROBE_DEADLINE_S + 30.0
        pod = uk.probe_pod(self.namespace, image, self.user_kafka)
        if self.image_pull_secret:
            pod["spec"]["imagePullSecrets"] = [{"name": self.image_pull_secret}]
        delete = ("delete", "pod", uk.PROBE_POD, "--ignore-not-found", "--wait=true")
        self.kubectl(*delete, check=False, timeout=90)
        self.apply([pod])
        if self.dry_run:
            return
        try:
            deadline = time.monotonic() + timeout
            phase = ""
            while phase not in ("Succeeded", "Failed"):
                if time.monotonic() > deadline:
                    state = self.kubectl("get", "pod", uk.PROBE_POD, "-o", "wide", check=False)
                    raise HarnessError(
                        f"The pod that checks the route to Kafka ({uk.PROBE_POD}) did not "
                        f"finish within {timeout:.0f}s:\n{state.stdout.strip()}",
                        fix="it runs the workload image: the cluster must be able to pull it "
                        f"(`kubectl -n {self.namespace} describe pod {uk.PROBE_POD}`).",
                    )
                time.sleep(1.0)
                got = self.kubectl("get", "pod", uk.PROBE_POD, "-o", "json", check=False)
                (pod_status,) = parse_pods(got.stdout) if got.ok and got.stdout else [None]
                phase = pod_status.phase if pod_status else ""
                if pod_status and pod_status.waiting_reason in _IMAGE_PROBLEMS:
                    raise HarnessError(
                        f"The pod that checks the route to Kafka ({uk.PROBE_POD}) cannot start: "
                        f"{pod_status.waiting_reason} for image {image}.",
                        fix="the cluster must be able to pull the workload image: give "
                        "--image-registry (and --image-pull-secret), or an image it can pull.",
                    )
            log = self.kubectl("logs", uk.PROBE_POD, check=False, timeout=60).stdout
            found = uk.probe_result(log)
            if found is None:
                state = self.kubectl("get", "pod", uk.PROBE_POD, "-o", "wide", check=False)
                raise HarnessError(
                    f"The pod that checks the route to Kafka ({uk.PROBE_POD}) ended {phase} "
                    f"without a result:\n{log.strip()[-1000:] or '(no output)'}\n"
                    f"{state.stdout.strip()}",
                    fix=f"`kubectl -n {self.namespace} describe pod {uk.PROBE_POD}` says why "
                    "(an image the cluster cannot pull, a deadline exceeded).",
                )
        finally:
            self.kubectl(*delete[:4], check=False, timeout=90)
        uk.check_same_cluster(self.user_kafka, self.namespace, found)

    # ---- steps ----------------------------------------------------------------------------------
    def cluster_exists(self) -> bool:
        clusters = self.runner.run([self.images.kind_bin, "get", "clusters"], timeout=60).stdout
        return self.cluster_name in parse_lines(clusters)

    def _ensure_cluster(self, say: Callable[[str], None]) -> None:
        if self.cluster_exists():
            say(f"kind cluster {self.cluster_name} exists; reusing it")
            return
        config = str(self.kind_config or f"{MANIFESTS_DIR}/{km.KIND_CLUSTER}")
        if not self.dry_run:
            self._check_host_ports()
            config = str(self.host_kind_config(self.announce))
        say(f"creating kind cluster {self.cluster_name}")
        node = ["--image", self.images.node_image] if self.images.node_image else []
        self.runner.run(
            [
                self.images.kind_bin,
                "create",
                "cluster",
                "--name",
                self.cluster_name,
                *node,
                "--config",
                config,
                "--wait",
                "180s",
            ],
            timeout=900,
            fix="see the kind output above; `kind delete cluster --name "
            f"{self.cluster_name}` cleans up a half-created cluster.",
        )

    def host_kind_config(self, say: Callable[[str], None]) -> Path:
        """The kind configuration for this host (:mod:`~riverbed.platforms.kube.kind_config`):
        the configured one when the host needs nothing, else an adjusted copy in riverbed's
        state directory — each change announced through ``say``."""
        from riverbed.paths import state_dir
        from riverbed.platforms.kube.kind_config import for_host, probe_host

        host = probe_host(self.images.node_image)
        if not host.lacks_sys_resource:
            return self.kind_config_path
        text, changes = for_host(self.kind_config_path.read_text(), restrict_oom_score_adj=True)
        for change in changes:
            say(f"kind configuration for this host ({host.how}): {change}")
        path = state_dir() / "kind" / f"{self.cluster_name}.kind-config.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def _check_host_ports(self) -> None:
        """kind fails obscurely when a mapped host port is taken: say which, and why."""
        for m in km.kind_port_mappings(self.kind_config or self.manifests_dir / km.KIND_CLUSTER):
            with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
                # Lets a port in TIME_WAIT pass; one with a listener still fails.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((m.listen_address, m.host_port))
                except OSError:
                    raise HarnessError(
                        f"Host port {m.listen_address}:{m.host_port} is in use; the kind cluster "
                        f"maps it to NodePort {m.container_port}.",
                        fix="stop what listens there (a local Kafka cluster on these ports: "
                        "`riverbed kafka down`) and retry.",
                    ) from None

    def image_exists(self, image: str) -> bool:
        """Whether Docker has ``image`` (always False in a dry run: the plan shows the build)."""
        if self.dry_run:
            return False
        found = self.runner.run(["docker", "image", "inspect", image], check=False, timeout=60)
        return found.ok

    def build_image(self, image: str, target: str = "workloads") -> None:
        """``docker build`` a target of workloads/Dockerfile from the project root.

        With offline images, on the prepared Python base, through
        :func:`riverbed.offline.workload_images.build_workload_images`
        (which serves the wheels from this machine when build containers cannot
        reach PyPI).
        """
        if self.images.offline and self.images.python_image:
            from riverbed.offline.workload_images import build_workload_images

            name, tag = km.split_image(image)
            expected = {
                "workloads": WORKLOADS_IMAGE,
                "locust": LOCUST_IMAGE,
                "netfault": kube_netfault.NETFAULT_IMAGE,
            }[target]
            if name != expected:
                raise HarnessError(
                    f"An offline {target} image is named {expected}:<tag>, not {image}."
                )
            self.runner.call(
                "build_workload_images",
                build_workload_images,
                tag=tag or "dev",
                python_image=self.images.python_image,
                targets=(target,),
                root=self.root,
                say=lambda _msg: None,
            )
            return
        base = (
            ["--build-arg", f"PYTHON_IMAGE={self.images.python_image}"]
            if self.images.python_image
            else []
        )
        self.runner.run(
            ["docker", "build", "-f", DOCKERFILE, "--target", target, *base, "-t", image, "."],
            env={"DOCKER_BUILDKIT": "1"},
            timeout=1800,
            fix="the build pulls python:3.11-slim and PyPI packages: check network access, or "
            "use offline images (`riverbed kind prepare --offline`, then --offline).",
        )

    def load_image(self, image: str, fix: str | None = None) -> None:
        self.runner.run(
            [self.images.kind_bin, "load", "docker-image", image, "--name", self.cluster_name],
            timeout=600,
            fix=fix,
        )

    def apply(self, docs: list[km.Manifest]) -> None:
        """``kubectl apply -f -`` with the rendered manifests on stdin."""
        fix = None
        if self.mode == "kind":
            fix = f"if the context is missing: `kind export kubeconfig --name {self.cluster_name}`."
        self.kubectl(
            "apply", "-f", "-", namespaced=False, stdin=km.dump(docs), timeout=180, fix=fix
        )

    def wait_rollout(self, target: str, timeout: float) -> None:
        """``kubectl rollout status`` with a deadline; on failure, the pods' state in the error."""
        result = self.kubectl(
            "rollout",
            "status",
            target,
            f"--timeout={int(timeout)}s",
            timeout=timeout + 30,
            check=False,
        )
        if result.ok:
            return
        pods = self.kubectl("get", "pods", "-o", "wide", check=False, timeout=30)
        raise HarnessError(
            f"{target} in namespace {self.namespace} was not ready within {timeout:.0f}s:\n"
            f"{(result.stderr or result.stdout).strip()}\n{pods.stdout.strip()}",
            fix=f"inspect with `kubectl --context {self.context} -n {self.namespace} describe pods`; "
            "Kafka needs a default StorageClass for its volumes, the workloads need the image "
            "(kind: loaded by riverbed; k8s: pullable by the cluster).",
        )

    def wait_for_kafka(self, timeout: float = 120.0) -> None:
        """Wait until Kafka answers on its external listener from the host, as this
        namespace's Kafka (its cluster id)."""
        self.runner.call(
            "wait_for_kafka",
            _wait_for_kafka,
            bootstrap_servers=self.bootstrap_servers,
            timeout=timeout,
        )
        if self.mode == "kind":
            self.check_kafka_identity()

    def create_topics(
        self,
        partitions: int = 3,
        replication_factor: int = 3,
        min_insync_replicas: int = 2,
        evidence_partitions: int = 3,
        topic: str = DATA_TOPIC,
        evidence_topic: str = EVIDENCE_TOPIC,
        output_topic: str | None = None,
    ) -> None:
        """Create the data topic and the evidence topic (kept if they exist), and the
        output topic of a service that writes one (the data topic's partition count,
        log-append timestamps: :data:`~riverbed.kafka.admin.OUTPUT_TOPIC_CONFIG`)."""
        from riverbed.kafka.admin import OUTPUT_TOPIC_CONFIG, create_topic

        topics: list[tuple[str, int, dict[str, str] | None]] = [
            (topic, partitions, None),
            (evidence_topic, evidence_partitions, None),
        ]
        if output_topic:
            topics.append((output_topic, partitions, OUTPUT_TOPIC_CONFIG))
        # On the user's Kafka an existing topic is never reused (nor, then, deleted).
        own = self.user_kafka is None
        for name, count, config in topics:
            self.runner.call(
                "create_topic",
                create_topic,
                bootstrap_servers=self.bootstrap_servers,
                name=name,
                partitions=count,
                replication_factor=replication_factor,
                min_insync_replicas=min_insync_replicas
                if own
                else min(min_insync_replicas, replication_factor),
                exist_ok=own,
                **({"config": config} if config else {}),
            )
            if not own:
                self.created_topics.append(name)

    @contextlib.contextmanager
    def host_access(self, producer: bool = False) -> Iterator[None]:
        """Make :attr:`bootstrap_servers` (and, with ``producer``, :attr:`producer_url`) work.

        kind: nothing to do, the port mappings are permanent. k8s: runs
        ``kubectl port-forward`` from 127.0.0.1:<base+i> to pod kafka-i's
        external listener (restarted when the pod is replaced) for the
        duration of the ``with`` block. Never nested: inside another
        ``host_access`` of this platform, only forwards not yet running start.
        """
        if self.mode == "kind":
            yield
            return
        if self.user_kafka is None and self.kafka_cluster_id is None and not self.dry_run:
            # A platform that did not bring Kafka up (`collect`, `down`, a session's
            # forwards): the namespace's ports and cluster id are in its StatefulSet.
            self.read_kafka_identity()
        forwards = [
            Forward(f"pod/kafka-{i}", self.external_base_port + i, KAFKA_EXTERNAL_PORT)
            for i in range(KAFKA_BROKERS)
            # The user's Kafka has a route of its own from this machine.
            if self.user_kafka is None
        ]
        if producer:
            forwards.append(Forward("service/producer", self.producer_host_port, 8080))
        needed = [f for f in forwards if f not in self._forwarding]
        if not needed:
            yield
            return
        forwarder = PortForwarder(self.runner, self.kubectl_argv(), needed)
        forwarder.start()
        self._forwarding.update(needed)
        try:
            if any(f.target.startswith("pod/kafka-") for f in needed):
                # A listener is not proof: a local Kafka on the same port answers too.
                self.check_kafka_identity()
            yield
        finally:
            self._forwarding.difference_update(needed)
            forwarder.stop()

    def stop_consumers(self, timeout: float = 90.0) -> None:
        """Scale the consumers, then the monitor, to zero and wait until their pods are gone.

        Scaling to zero sends SIGTERM to every consumer pod: each finishes its
        batch, records it, commits and leaves the group, as in the local
        platform's graceful stop. The monitor goes last, so it records the
        group emptying.
        """
        for deployment, selector in (
            ("consumer", CONSUMER_SELECTOR),
            ("monitor", MONITOR_SELECTOR),
        ):
            self.kubectl(
                "scale", f"deployment/{deployment}", "--replicas=0", check=False, timeout=60
            )
            self.kubectl(
                "wait",
                "--for=delete",
                "pod",
                "-l",
                selector,
                f"--timeout={int(timeout)}s",
                check=False,
                timeout=timeout + 30,
            )

    # ---- reading the cluster --------------------------------------------------------------------
    def pods(self, selector: str | None = None) -> list[PodStatus]:
        """Pods in the riverbed namespace (matching the label ``selector``, if given)."""
        args = ["get", "pods", "-o", "json"]
        if selector:
            args[2:2] = ["-l", selector]
        result = self.kubectl(*args, timeout=60, dry_stdout='{"kind": "List", "items": []}')
        return parse_pods(result.stdout)

    def consumer_pods(self) -> list[PodStatus]:
        return self.pods(CONSUMER_SELECTOR)

    def kafka_pods(self) -> list[PodStatus]:
        return self.pods(KAFKA_SELECTOR)

    def pod_phases(self, selector: str | None = CONSUMER_SELECTOR) -> dict[str, str]:
        """pod name → phase (``Terminating`` while being deleted)."""
        return phases(self.pods(selector))

    def rollouts(self) -> list[RolloutStatus]:
        """Replica counts of every Deployment and StatefulSet in the namespace."""
        result = self.kubectl(
            "get",
            "deployments,statefulsets",
            "-o",
            "json",
            timeout=60,
            dry_stdout='{"kind": "List", "items": []}',
        )
        return parse_rollout(result.stdout)

    # ---- evidence and logs ----------------------------------------------------------------------
    def collect_evidence(
        self, run_dir: Path | str, timeout_s: float = 60.0, evidence_topic: str = EVIDENCE_TOPIC
    ) -> Any:
        """Turn the evidence topic back into files under ``run_dir`` (``workloads.collect``)."""
        from workloads.collect import collect

        with self.host_access():
            return self.runner.call(
                "collect",
                collect,
                bootstrap_servers=self.bootstrap_servers,
                evidence_topic=evidence_topic,
                run_dir=Path(run_dir),
                timeout_s=timeout_s,
            )

    def save_logs(self, run_dir: Path | str) -> list[Path]:
        """Every pod's log (and its previous container's, after a restart) into ``run_dir/logs/kube/``."""
        dest = Path(run_dir) / "logs" / "kube"
        saved = []
        for pod in self.pods():
            runs: list[tuple[str, list[str]]] = [("", [])]
            if pod.restarts:
                runs.append((".previous", ["--previous"]))
            for suffix, extra in runs:
                result = self.kubectl(
                    "logs",
                    pod.name,
                    "--all-containers",
                    "--timestamps",
                    *extra,
                    check=False,
                    timeout=120,
                )
                if self.dry_run:
                    continue
                dest.mkdir(parents=True, exist_ok=True)
                path = dest / f"{pod.name}{suffix}.log"
                path.write_text(result.stdout + (result.stderr if not result.ok else ""))
                saved.append(path)
        return saved

    def prepare_netfault_image(self, tag: str, say: Callable[[str], None]) -> str:
        """Build the network-fault sidecar's image (workloads/Dockerfile, target netfault) when
        Docker lacks it, and publish it (:meth:`publish`). Returns the name pods pull."""
        image = f"{kube_netfault.NETFAULT_IMAGE}:{tag}"
        if self.image_exists(image):
            say(f"{image} is built from these very sources: not rebuilding it")
        else:
            say(f"building {image} (the network-fault sidecar)")
            self.build_image(image, target="netfault")
        return self.publish(image, say)

    def prepare_instrument_image(self, workloads_image: str, say: Callable[[str], None]) -> str:
        """Build the instrumentation layer's image (the workloads image plus riverbed's Java
        agent, built here with Maven once) when Docker lacks it, and publish it. Returns the
        name pods pull."""
        from riverbed.jvm import agent_jar

        if self.dry_run:
            return f"{kube_instrument.INSTRUMENT_IMAGE}:dev"
        jar = agent_jar(on_progress=say)
        image = (
            f"{kube_instrument.INSTRUMENT_IMAGE}:{kube_instrument.image_tag(workloads_image, jar)}"
        )
        if self.image_exists(image):
            say(f"{image} is built from these very sources: not rebuilding it")
        else:
            say(f"building {image} (riverbed's instrumentation layer for your image)")
            kube_instrument.build_image(image, workloads_image, jar, self.runner.run)
        return self.publish(image, say)

    def consumer_image_env(self, image: str) -> dict[str, str] | None:
        """The user's image's own ``ENV`` (its ``PYTHONPATH`` and ``JAVA_TOOL_OPTIONS`` are
        kept), read from this machine's Docker; None, said once, when Docker lacks it."""
        own = None if self.dry_run else kube_instrument.image_env(image)
        if own is None and not self.dry_run:
            self.announce(
                f"note: this machine's Docker does not have {image}, so riverbed cannot read "
                "its configuration: a PYTHONPATH or JAVA_TOOL_OPTIONS it sets is replaced by "
                "riverbed's instrumentation (have the image in this machine's Docker — build or `docker load` it — to keep them)."
            )
        return own

    def publish(self, image: str, say: Callable[[str], None] = lambda _m: None) -> str:
        """Make an image this machine's Docker has pullable by the cluster; returns its name
        there. With an image registry: ``docker tag`` and ``docker push`` to
        ``REGISTRY/<image>`` (its content tag kept). Else on kind: ``kind load`` (the name
        stays). Else: the name as it is (the cluster must be able to pull it)."""
        if self.image_registry:
            remote = f"{self.image_registry}/{image}"
            say(f"pushing {remote}")
            self.runner.run(["docker", "tag", image, remote], timeout=60)
            self.runner.run(
                ["docker", "push", remote],
                timeout=1200,
                fix=f"check that {self.image_registry} answers and that `docker login "
                f"{self.image_registry.split('/')[0]}` was done if it needs one.",
            )
            return remote
        if self.mode == "kind":
            say(f"loading {image} into kind cluster {self.cluster_name}")
            self.load_image(image)
        return image

    # ---- Locust in the cluster ------------------------------------------------------------------
    def prepare_locust_image(self, tag: str | None = None) -> str:
        """Build the Locust image (workloads/Dockerfile, target locust) and publish it
        (:meth:`publish`). Returns the name pods pull."""
        image = f"{LOCUST_IMAGE}:{tag or content_tag(self.root, self.images.python_image)}"
        if not self.image_exists(image):
            self.build_image(image, target="locust")
        return self.publish(image)

    def deploy_locust(
        self, tag: str | None = None, workers: int = 2, build: bool = True, timeout: float = 300.0
    ) -> str:
        """Build, load and deploy Locust master and ``workers`` workers (manifests/locust.yaml).

        Returns the image. Needs ``up()`` first (Kafka and the topics).
        """
        image = f"{LOCUST_IMAGE}:{tag or new_tag()}"
        if build:
            self.build_image(image, target="locust")
            image = self.publish(image)
        docs = self.render(locust_image=image, locust_workers=workers)[km.LOCUST]
        self.apply(docs)
        for name in ("locust-master", "locust-worker"):
            self.wait_rollout(f"deployment/{name}", timeout)
        return image

    def fetch_locust_evidence(self, run_dir: Path | str) -> list[Path]:
        """Copy every in-cluster Locust worker's acks evidence into ``run_dir/evidence/acks/``.

        Do it before the workers go away: their run directory is an emptyDir.
        """
        acks = Path(run_dir) / "evidence" / "acks"
        staging = Path(run_dir) / "locust" / "pods"
        copied = []
        for pod in self.pods(LOCUST_WORKER_SELECTOR):
            where = staging / pod.name
            self.kubectl(
                "cp",
                f"{self.namespace}/{pod.name}:{LOCUST_POD_RUN_DIR}/evidence/acks",
                str(where),
                namespaced=False,
                timeout=300,
            )
            if self.dry_run:
                continue
            acks.mkdir(parents=True, exist_ok=True)
            for src in sorted(where.glob("*.jsonl")):
                target = acks / src.name
                shutil.copyfile(src, target)
                copied.append(target)
        return copied


#: Variables of riverbed's own consumer that mean nothing to a user's image.
_REFERENCE_ENV = (
    "RIVERBED_COMMIT_MODE",
    "RIVERBED_ASSIGNOR",
    "RIVERBED_PROCESSING_MS",
    "RIVERBED_SESSION_TIMEOUT_MS",
    "RIVERBED_EVIDENCE_TOPIC",
    "RIVERBED_CLIENT",
    "RIVERBED_GROUP_PROTOCOL",
    "RIVERBED_READY_FILE",
)


def internal_bootstrap_servers(namespace: str = NAMESPACE) -> str:
    """Every broker's internal listener, as pods reach them."""
    return ",".join(
        f"kafka-{i}.kafka-headless.{namespace}.svc.cluster.local:9092" for i in range(KAFKA_BROKERS)
    )


def user_consumer(
    docs: list[km.Manifest], image: str, output_topic: str | None, namespace: str = NAMESPACE
) -> None:
    """Deployment ``consumer`` runs the user's image (its own entrypoint) with the tutorial's
    environment: ``KAFKA_BROKER`` (one address), ``KAFKA_BOOTSTRAP_SERVERS`` (all),
    ``KAFKA_TOPIC``, ``KAFKA_GROUP`` and, for a service that writes one, ``KAFKA_OUTPUT_TOPIC``;
    without the reference consumer's readiness probe (ready once its container runs)."""
    spec = km.pod_spec(km.find(docs, "Deployment", "consumer")) or {}
    (container,) = [c for c in spec.get("containers") or [] if c.get("name") == "consumer"]
    container["image"] = image
    # An image may write where it likes (it still runs as a non-root user, as the
    # namespace's restricted Pod Security Standard requires).
    container.setdefault("securityContext", {})["readOnlyRootFilesystem"] = False
    container.pop("command", None)
    container.pop("args", None)
    # The reference consumer's probe reads a file it keeps fresh while in its group;
    # what "joined" means for the user's image riverbed cannot know: no probe.
    container.pop("readinessProbe", None)
    container["env"] = [e for e in container.get("env") or [] if e["name"] not in _REFERENCE_ENV]
    extra = {"KAFKA_BOOTSTRAP_SERVERS": internal_bootstrap_servers(namespace)}
    if output_topic:
        extra["KAFKA_OUTPUT_TOPIC"] = output_topic
    km.set_env(docs, "Deployment", "consumer", "consumer", extra)


def _check_kind_config(path: Path, reference: Path) -> tuple[int, int]:
    """A kind configuration must exist and map, on 127.0.0.1, NodePorts 30092+i (broker i's
    external listener) to consecutive host ports, and NodePort 30080 (the producer) to one.
    Returns (the brokers' first host port, the producer's host port)."""
    if not path.is_file():
        raise HarnessError(f"kind configuration {path} does not exist.", fix="check --kind-config.")
    try:
        mappings = km.kind_port_mappings(path)
    except (HarnessError, KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise HarnessError(
            f"kind configuration {path} cannot be read as a kind Cluster: {exc}",
            fix=f"start from {reference}.",
        ) from None
    host_of = {m.container_port: m.host_port for m in mappings if m.listen_address == "127.0.0.1"}
    need = [KAFKA_NODE_PORT + i for i in range(KAFKA_BROKERS)] + [PRODUCER_NODE_PORT]
    if missing := [port for port in need if port not in host_of]:
        raise HarnessError(
            f"kind configuration {path} does not map NodePort(s) "
            f"{', '.join(map(str, missing))} to a host port on 127.0.0.1: riverbed reaches "
            "Kafka's brokers and the producer through them.",
            fix=f"copy the extraPortMappings of {reference} (any free host ports).",
        )
    base = host_of[KAFKA_NODE_PORT]
    brokers = [host_of[KAFKA_NODE_PORT + i] for i in range(KAFKA_BROKERS)]
    if brokers != [base + i for i in range(KAFKA_BROKERS)]:
        raise HarnessError(
            f"kind configuration {path} maps the brokers' NodePorts to host ports {brokers}; "
            "they must be consecutive (broker i advertises the first plus i).",
            fix=f"map NodePorts 30092..30094 to host ports N..N+2, as {reference} does.",
        )
    return base, host_of[PRODUCER_NODE_PORT]


#: Waiting reasons of a container whose image will not come (no use waiting longer).
_IMAGE_PROBLEMS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
_PSS_ENFORCE = "pod-security.kubernetes.io/enforce"
_PSS_RANK = {"restricted": 0, "baseline": 1, "privileged": 2}
#: A namespace riverbed created (``down`` deletes it; one that existed stays).
MANAGED_BY = {"app.kubernetes.io/managed-by": "riverbed"}


def _namespace_doc(name: str, level: str) -> km.Manifest:
    labels = {
        "app.kubernetes.io/part-of": "riverbed",
        **MANAGED_BY,
        _PSS_ENFORCE: level,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "latest",
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def _labels(text: str) -> dict[str, str]:
    import json

    try:
        return dict(json.loads(text).get("metadata", {}).get("labels") or {})
    except (ValueError, AttributeError):
        return {}


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, base64url without padding (kafka-storage's format)."""
    import base64
    import uuid

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


EVIDENCE_ENV = "RIVERBED_EVIDENCE_TOPIC"


def _container_env_value(docs: list[km.Manifest], deployment: str, name: str) -> str:
    """A plain environment value of a Deployment's container of the same name."""
    spec = km.pod_spec(km.find(docs, "Deployment", deployment)) or {}
    for c in spec.get("containers") or []:
        for e in c.get("env") or []:
            if e.get("name") == name and "value" in e:
                return str(e["value"])
    raise HarnessError(f"Deployment {deployment} sets no {name}.")


def _container_env(text: str, container: str) -> dict[str, str]:
    """Plain-value environment of one container of a workload's JSON (``kubectl get -o json``)."""
    import json

    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    spec = km.pod_spec(doc) or {}
    for c in spec.get("containers") or []:
        if c.get("name") == container:
            return {e["name"]: e["value"] for e in c.get("env") or [] if "value" in e}
    return {}


def _port_free(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster_id_at(address: str, timeout: float) -> str | None:
    """The cluster id of the Kafka answering at ``address`` (None: no Kafka answered). The
    metadata comes through a connection to ``address`` itself (librdkafka's bootstrap)."""
    from riverbed.kafka.preflight import check_connection

    try:
        return check_connection(address, {}, timeout_s=timeout, unreachable_s=timeout).cluster_id
    except HarnessError:
        return None


def _override(name: str, image: str) -> km.ImageOverride:
    new_name, new_tag = km.split_image(image)
    return km.ImageOverride(name, new_name, new_tag)


def _wait_for_kafka(bootstrap_servers: str, timeout: float) -> None:
    from kafka.errors import KafkaError

    from riverbed.kafka.admin import admin_client

    deadline = time.monotonic() + timeout
    while True:
        try:
            with admin_client(bootstrap_servers, bootstrap_timeout_ms=5000) as admin:
                admin.list_topics()
                return
        # A broker that just became ready may still drop a first connection
        # (KRaft elections, listeners starting): retry until the deadline.
        except (HarnessError, KafkaError, OSError):
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"Kafka did not answer at {bootstrap_servers} within {timeout:.0f}s "
                    "although its pods are ready.",
                    fix="kind: the cluster must have been created from "
                    "manifests/kind-cluster.yaml (host port mappings); recreate it with "
                    "`riverbed down --platform kind`. k8s: check the port-forwards.",
                ) from None
            time.sleep(1.0)
