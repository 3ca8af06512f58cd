"""The run's view of kind or an existing Kubernetes cluster (``riverbed run --platform kind|k8s``)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError
from riverbed.runner import (
    HostLocust,
    Load,
    Progress,
    evidence_topic_for,
    reference_consumer_env,
)
from riverbed.spec import RunSpec


class KubeRunPlatform:
    """The run's view of kind or an existing Kubernetes cluster.

    Kafka and the workloads run in the cluster (manifests/); Locust, the chaos
    runner, the drains and the collector run on this machine and reach Kafka
    through its external listener (kind port mappings, or port-forwards). The
    consumer pods write evidence to the run's own evidence topic, collected at
    the end. Every run has its own data topic, group and evidence topic, so a
    second run on the same cluster never mixes in the first run's records.

    However the run ends — at the end of the load, Ctrl-C, an overrun, a harness
    error — the consumers stop first (each commits and records its last batch), then
    the evidence topic and every in-cluster Locust worker's send outcomes are copied
    into the run directory, and only then is anything deleted.

    On the user's own Kafka (``--kafka-bootstrap``) riverbed deploys no Kafka and follows
    the external platform's rules: the run's topics and group are its own, and are
    deleted at the end unless ``keep_topics`` (spec.json ``topics`` says what happened).
    """

    name = "kube"

    def __init__(self, kube: Any, keep_topics: bool = False) -> None:
        self.kube = kube
        self.keep_topics = keep_topics
        self._access: Any = None
        self._workloads = False
        self._locust_image: str | None = None
        self._cluster_load: Any = None
        self._run_dir: Path | None = None
        self._spec: RunSpec | None = None
        self._cleanup_spec: RunSpec | None = None
        self._evidence_collected = False

    def prepare(self, spec: RunSpec, progress: Progress) -> str:
        from riverbed.platforms.network import needs_network

        spec.evidence_topic = spec.evidence_topic or evidence_topic_for(spec.topic)
        # Network faults need the consumer pods' netfault sidecar.
        spec.network_faults = spec.network_faults or needs_network(spec.experiments)
        if self.kube.user_kafka is not None:
            self._cleanup_spec = spec
            spec.topics = {
                "created": self.kube.created_topics,
                "group": spec.group,
                "kept": self.keep_topics,
            }
        # kube.up applies the consumer Deployment and the monitor too: from here on
        # there are workloads to stop.
        self._workloads = True
        self.kube.up(
            partitions=spec.partitions,
            replication_factor=spec.replication_factor,
            min_insync_replicas=spec.min_insync_replicas,
            consumers=spec.consumers,
            consumer_env=reference_consumer_env(
                spec.commit_mode,
                spec.assignor,
                spec.processing_ms,
                spec.session_timeout_ms,
                client=spec.client,
                group_protocol=spec.group_protocol,
            ),
            topic=spec.topic,
            group=spec.group,
            evidence_topic=spec.evidence_topic,
            consumer_image=spec.consumer_image,
            consumer_instrumented=spec.consumer_evidence == "instrumented",
            output_topic=spec.output_topic if spec.consumer_evidence == "output-topic" else None,
            network_faults=spec.network_faults,
            progress=progress,
        )
        if spec.load.workers:
            # Built and loaded now, so that the build never eats into the load's timeline.
            progress("building the Locust image for the in-cluster load")
            self._locust_image = self.kube.prepare_locust_image()
        self._access = self.kube.host_access()
        self._access.__enter__()
        return str(self.kube.bootstrap_servers)

    def start_workloads(self, spec: RunSpec, run_dir: Path, bootstrap: str) -> None:
        """The consumer Deployment and the monitor were applied by ``prepare``."""
        self._run_dir = run_dir
        self._spec = spec

    def health(self, spec: RunSpec) -> None:
        """Pods that crash are restarted by Kubernetes; the join deadline catches the rest."""

    def join_failure(self, spec: RunSpec, timeout: float, detail: str) -> HarnessError | None:
        return None

    def check_evidence(self, spec: RunSpec, run_dir: Path, progress: Progress) -> None:
        """The reference consumer's evidence goes to the evidence topic, collected at the end.

        An instrumented image: every consumer pod's layer must have recorded a ``start``
        (shipped to the evidence topic by its sidecar) once the group has joined. An image
        whose consumer uses a client riverbed does not hook (a Go consumer, a client
        bundled beyond reach) records nothing: the run stops here, inconclusive, with why,
        rather than judging a consumer it cannot see.
        """
        if spec.consumer_image is None or spec.consumer_evidence != "instrumented":
            return
        from riverbed.platforms.kube.instrument import wait_started

        wait_started(self.kube, str(spec.evidence_topic), progress)

    def start_load(self, spec: RunSpec, run_dir: Path, bootstrap: str) -> Load:
        if not spec.load.workers:
            return HostLocust(spec, run_dir, bootstrap)
        from riverbed.platforms.kube.load import ClusterLocust

        assert self._locust_image is not None, "prepare() builds the Locust image"
        load = ClusterLocust(self.kube, spec, self._locust_image, spec.load.workers, run_dir)
        self._cluster_load = load
        load.start()
        return load

    def experiment_env(self) -> dict[str, str]:
        # chaosk8s takes the context from KUBERNETES_CONTEXT when the experiment's
        # `kubernetes` secret names none (riverbed's do not): the pod kills go to
        # this run's cluster, whatever kubeconfig's current context is.
        return {
            "KUBERNETES_CONTEXT": str(self.kube.context),
            "RIVERBED_K8S_NAMESPACE": self.kube.namespace,
        }

    def stop_workloads(self) -> None:
        """Stop the consumers and the monitor, then collect the evidence topic (once):
        a run that stops early keeps everything they recorded."""
        if not self._workloads:
            return
        self._workloads = False
        if self._run_dir is not None:
            # The consumer pods' logs go with the pods: keep them first (a consumer
            # that stalled or crashed is explained there).
            try:
                self.kube.save_logs(self._run_dir)
            except Exception as exc:  # noqa: BLE001 - never block the teardown on logs
                print(f"warning: could not save the pods' logs: {exc}", file=sys.stderr)
        self.kube.stop_consumers()
        if self._run_dir is not None and self._spec is not None:
            self._collect_evidence(self._run_dir, self._spec)

    def _collect_evidence(self, run_dir: Path, spec: RunSpec) -> None:
        if self._evidence_collected:
            return
        self._evidence_collected = True
        collected = self.kube.collect_evidence(run_dir, evidence_topic=spec.evidence_topic)
        if spec.consumer_image is not None and spec.consumer_evidence == "instrumented":
            self._check_shipping(spec, collected)

    def _check_shipping(self, spec: RunSpec, collected: Any) -> None:
        """An instrumented image: every pod's evidence sidecar must have confirmed what it
        shipped; what it did not confirm makes the consumer evidence incomplete."""
        from riverbed.platforms.kube.instrument import collected_gaps

        try:
            with self.kube.host_access():
                gaps = collected_gaps(
                    str(self.kube.bootstrap_servers), str(spec.evidence_topic), collected
                )
        except Exception as exc:  # noqa: BLE001 - unverifiable is a gap, not a crash
            gaps = [f"the evidence sidecars' receipts could not be read: {exc}"]
        for gap in gaps:
            print(f"warning: consumer evidence incomplete: {gap}", file=sys.stderr)
        spec.evidence_gaps = [{"source": "consumed", "detail": g} for g in gaps]

    def collect(self, run_dir: Path, bootstrap: str, spec: RunSpec) -> None:
        if self._cluster_load is not None:
            self._cluster_load.collect_into(run_dir)
        self._collect_evidence(run_dir, spec)
        self.kube.save_logs(run_dir)

    def close(self) -> None:
        if self._access is not None:
            with contextlib.suppress(Exception):
                self._access.__exit__(None, None, None)
            self._access = None
        self._delete_topics()

    def _delete_topics(self) -> None:
        """The user's Kafka: delete what the run created there (unless keep_topics), once
        the consumers have stopped and the evidence is collected."""
        spec, self._cleanup_spec = self._cleanup_spec, None
        if spec is None or self.kube.user_kafka is None:
            return
        from riverbed.platforms.external import cleanup

        spec.topics = cleanup(
            self.kube.bootstrap_servers,
            list(self.kube.created_topics),
            spec.group,
            self.keep_topics,
        )
