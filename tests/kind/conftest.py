"""Shared set-up of the kind tests: the prepared offline images, and one real kind
cluster per session created from them.

The cluster gets a unique name and its own kubeconfig (the user's is not
touched); `riverbed up --platform kind` creates it from manifests/kind-cluster.yaml
plus what this host needs, as it does for a user
(:mod:`riverbed.platforms.kube.kind_config`). It is deleted at the
end of the session; pod states and logs are kept in test-artifacts/kind/.
Figures measured along the way (cluster creation, Kafka start, memory) go to
test-artifacts/kind/figures.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from riverbed.errors import HarnessError
from riverbed.kafka.cluster import port_in_use
from riverbed.offline import PreparedImages, prepared_images
from riverbed.platforms.kube import render as km
from riverbed.platforms.kube.kind_config import probe_host
from tests.conftest import ARTIFACTS

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
KIND_ARTIFACTS = ARTIFACTS / "kind"


@dataclass
class KindCluster:
    """A running kind cluster and the tools that reach it."""

    name: str
    kubeconfig: Path
    images: PreparedImages
    config: Path
    """The kind configuration it was created from (manifests/kind-cluster.yaml; riverbed adds
    what this host needs)."""
    figures: dict[str, Any] = field(default_factory=dict)

    def env(self, runs: Path) -> dict[str, str]:
        """The environment for `riverbed` commands on this cluster (offline images, its own
        kubeconfig: the user's is never touched)."""
        return {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "RIVERBED_KIND_CLUSTER": self.name,
            "RIVERBED_KIND_OFFLINE": "1",
            "RIVERBED_RUNS_DIR": str(runs),
        }

    @property
    def node(self) -> str:
        """The node's container name."""
        return f"{self.name}-control-plane"

    def kind(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return _run([str(self.images.kind_bin), *args], timeout=timeout)

    def kubectl(
        self, *args: str, input: str | None = None, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return _run(
            [str(self.images.kubectl_bin), "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            timeout=timeout,
            check=check,
        )

    def load(self, image: str) -> float:
        """``kind load docker-image``; returns the seconds it took."""
        t0 = time.monotonic()
        self.kind("load", "docker-image", image, "--name", self.name)
        return time.monotonic() - t0

    def node_exec(self, *args: str, timeout: float = 120) -> str:
        return _run(["docker", "exec", self.node, *args], timeout=timeout).stdout


def _run(
    cmd: list[str], *, input: str | None = None, timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd[:6])} … failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def offline_images() -> PreparedImages:
    """What `riverbed kind prepare --offline` prepared (loaded back into Docker if lost)."""
    try:
        return prepared_images(say=print)
    except HarnessError as exc:
        pytest.fail(f"{exc.message}\nfix: {exc.fix}  (or `make test-kind`)", pytrace=False)


@pytest.fixture(scope="session")
def kind_cluster(
    offline_images: PreparedImages, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KindCluster]:
    """A one-node kind cluster from the prepared node image and manifests/kind-cluster.yaml."""
    _delete_leftover_test_clusters(offline_images)
    mappings = km.kind_port_mappings(MANIFESTS / km.KIND_CLUSTER)
    busy = [m.host_port for m in mappings if port_in_use(m.host_port, m.listen_address)]
    if busy:
        pytest.fail(
            f"Host ports {busy} on 127.0.0.1 are in use; manifests/kind-cluster.yaml maps them "
            "(a local Kafka cluster on its default ports? `riverbed kafka down`).",
            pytrace=False,
        )
    work = tmp_path_factory.mktemp("kind")
    name = f"{TEST_CLUSTER_PREFIX}{uuid.uuid4().hex[:6]}"
    cluster = KindCluster(
        name, work / "kubeconfig", offline_images, config=MANIFESTS / km.KIND_CLUSTER
    )
    t0 = time.monotonic()
    try:
        # riverbed's own path creates it: `riverbed up --platform kind --offline`
        # (cluster, images, Kafka, topics, the reference workloads).
        up = riverbed(["up", "--platform", "kind"], cluster.env(work / "runs"), timeout=1500)
        assert up.returncode == 0, up.stdout + up.stderr
        # This host's need (a node without CAP_SYS_RESOURCE cannot start a pod sandbox
        # unless containerd restricts oom_score_adj) was detected, applied and announced.
        host = probe_host(offline_images.node_image)
        announced = "restrict_oom_score_adj = true" in up.stderr
        assert announced == host.lacks_sys_resource, up.stderr
        cluster.figures["host_lacks_cap_sys_resource"] = host.lacks_sys_resource
        cluster.figures["riverbed_up_s"] = round(time.monotonic() - t0, 1)
        yield cluster
    finally:
        _keep_state(cluster)
        volumes = _node_volumes(cluster.node)
        t1 = time.monotonic()
        down = riverbed(["down", "--platform", "kind"], cluster.env(work / "runs"), timeout=600)
        cluster.figures["riverbed_down_s"] = round(time.monotonic() - t1, 1)
        KIND_ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (KIND_ARTIFACTS / "figures.json").write_text(json.dumps(cluster.figures, indent=2) + "\n")
        # `riverbed down --platform kind` leaves no container, network or volume behind.
        assert down.returncode == 0, down.stdout + down.stderr
        left = _run(
            ["docker", "ps", "-aq", "--filter", f"label=io.x-k8s.kind.cluster={name}"]
        ).stdout.split()
        assert left == [], f"containers left behind: {left}"
        existing = set(_run(["docker", "volume", "ls", "-q"]).stdout.split())
        assert not volumes & existing, f"volumes left behind: {volumes & existing}"
        others = _run(["docker", "ps", "-aq", "--filter", "network=kind"]).stdout.split()
        networks = _run(["docker", "network", "ls", "-q", "--filter", "name=^kind$"]).stdout.split()
        assert others or not networks, "the kind network was left behind"


TEST_CLUSTER_PREFIX = "rb-test-"


def _delete_leftover_test_clusters(images: PreparedImages) -> None:
    """Delete the kind clusters an earlier, interrupted test session left behind.

    Only clusters named ``rb-test-*`` (the names this fixture gives) are touched: a
    killed session cannot run its teardown, and its cluster's host ports would make
    every later session fail before it starts. A user's own clusters are never touched.
    """
    names = _run([str(images.kind_bin), "get", "clusters"], check=False).stdout.split()
    for name in names:
        if name.startswith(TEST_CLUSTER_PREFIX):
            print(f"deleting kind cluster {name}, left by an interrupted test session")
            _run([str(images.kind_bin), "delete", "cluster", "--name", name], timeout=300)


def riverbed(
    args: list[str], env: dict[str, str], timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """`riverbed ARGS` as a user runs it, output captured (and echoed for the test log)."""
    proc = subprocess.run(
        [sys.executable, "-m", "riverbed.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=ROOT,
    )
    print(f"$ riverbed {' '.join(args)}  (exit {proc.returncode})")
    print(proc.stderr[-6000:])
    return proc


def _node_volumes(node: str) -> set[str]:
    out = _run(
        ["docker", "inspect", node, "--format", "{{range .Mounts}}{{.Name}} {{end}}"], check=False
    ).stdout
    return {v for v in out.split() if v}


def _keep_state(cluster: KindCluster) -> None:
    """Pods, events and the riverbed namespace's logs, for a failed run's reader."""
    if not cluster.kubeconfig.exists():
        return
    KIND_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pods = cluster.kubectl("get", "pods", "-A", "-o", "wide", check=False)
    events = cluster.kubectl("get", "events", "-A", "--sort-by=.lastTimestamp", check=False)
    (KIND_ARTIFACTS / "pods.txt").write_text(pods.stdout + pods.stderr)
    (KIND_ARTIFACTS / "events.txt").write_text(events.stdout + events.stderr)
    names = cluster.kubectl("-n", "riverbed", "get", "pods", "-o", "name", check=False).stdout
    for pod in names.split():
        log = cluster.kubectl("-n", "riverbed", "logs", pod, "--tail", "300", check=False)
        (KIND_ARTIFACTS / f"{pod.split('/')[-1]}.log").write_text(log.stdout + log.stderr)
