"""`--platform k8s` as on a cluster riverbed did not create: images pushed to a registry.

The session's kind cluster stands in for the user's cluster, reached by its kubeconfig
context only (`--platform k8s --context kind-…`): nothing is `kind load`ed. A container
registry on this machine's loopback (:mod:`tests.kind.registry`, Debian's
``docker-registry``) stands in for the team's registry; the node's containerd pulls from
it through a relay on the node's own 127.0.0.1. riverbed pushes its content-tagged
images there, deploys into a namespace of its own beside the session's, reaches Kafka
through port-forwards (no NodePort), and the run with a hard kill passes.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.kind.conftest import KIND_ARTIFACTS, ROOT, KindCluster, riverbed
from tests.kind.documented import run_as_documented
from tests.kind.registry import NodeRelay, catalog, registry_binary, start_registry, stop

pytestmark = [pytest.mark.kind, pytest.mark.timeout(1800)]

NAMESPACE = "rb-k8s-registry"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def loopback_registry(
    kind_cluster: KindCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``127.0.0.1:PORT``: a registry on this machine that the kind node pulls from."""
    if registry_binary() is None:
        pytest.fail("docker-registry is not installed: bash scripts/ci/kind-host.sh", pytrace=False)
    work = tmp_path_factory.mktemp("registry")
    port = _free_port()
    registry = start_registry(work, port)
    relay: NodeRelay | None = None
    try:
        relay = NodeRelay(kind_cluster.node, port, work / "relay.log")
        yield f"127.0.0.1:{port}"
    finally:
        if relay is not None:
            relay.stop()
        stop(registry)
        KIND_ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for name in ("registry.log", "relay.log"):
            if (work / name).exists():
                (KIND_ARTIFACTS / name).write_text((work / name).read_text()[-20000:])


def test_k8s_mode_pushes_to_a_registry_and_passes_in_its_own_namespace(
    kind_cluster: KindCluster, loopback_registry: str, tmp_path: Path
) -> None:
    registry = loopback_registry
    context = f"kind-{kind_cluster.name}"
    env = kind_cluster.env(tmp_path / "runs")
    k8s = ["--platform", "k8s", "--context", context, "--namespace", NAMESPACE]
    try:
        args = [
            "run", *k8s, "--image-registry", registry,
            "--experiment", str(ROOT / "experiments" / "kill-consumer-pod-hard.json"),
            "--duration", "60s", "--warmup", "15s", "--cooldown", "10s",
            "--users", "4", "--spawn-rate", "4", "--drain-deadline", "120s",
        ]  # fmt: skip
        t0 = time.monotonic()
        r = riverbed(args, env, timeout=1500)
        kind_cluster.figures["k8s_registry_run_s"] = round(time.monotonic() - t0, 1)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-6000:]
        (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.is_dir()]
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["verdict"] == "pass", summary["checks"]
        assert summary["counts"]["acknowledged"] > 100
        spec = json.loads((run_dir / "spec.json").read_text())
        (chaos,) = spec["chaos"]
        assert chaos["landed"] and not chaos["inconclusive_reasons"]

        # The images were pushed, and every pod of the namespace names them there.
        pushed = catalog(int(registry.rsplit(":", 1)[1]))
        assert "riverbed-workloads" in pushed and any("kafka" in p for p in pushed), pushed
        pods = json.loads(kind_cluster.kubectl("-n", NAMESPACE, "get", "pods", "-o", "json").stdout)
        images = {c["image"] for p in pods["items"] for c in p["spec"]["containers"]}
        assert images and all(i.startswith(registry + "/") for i in images), images
        # The node's containerd pulled them from the registry (no `kind load` of these names).
        held = kind_cluster.node_exec("crictl", "images", "-o", "json")
        tags = {t for i in json.loads(held)["images"] for t in i.get("repoTags") or []}
        assert images <= tags, images - tags
        # Nothing reachable from outside the cluster: no NodePort, no LoadBalancer.
        services = json.loads(
            kind_cluster.kubectl("-n", NAMESPACE, "get", "services", "-o", "json").stdout
        )
        kinds = {s["metadata"]["name"]: s["spec"]["type"] for s in services["items"]}
        assert set(kinds.values()) <= {"ClusterIP"}, kinds
        policies = kind_cluster.kubectl("-n", NAMESPACE, "get", "networkpolicies", "-o", "name")
        assert policies.stdout.split(), "no NetworkPolicy in the namespace"
    finally:
        down = riverbed(["down", *k8s], env, timeout=900)
    assert down.returncode == 0, down.stdout + down.stderr
    gone = kind_cluster.kubectl("get", "namespace", NAMESPACE, check=False)
    assert gone.returncode != 0, gone.stdout  # riverbed created it, so it deleted it


BY_HAND_NAMESPACE = "rb-k8s-by-hand"
USER = "alice"


def namespace_user_kubeconfig(cluster: KindCluster, namespace: str, work: Path) -> Path:
    """As a team's administrator would: ``namespace`` (Pod Security restricted), a service
    account ``alice`` in it bound to the Role ``user-role`` prints, and a kubeconfig with
    her token alone — rights in that namespace and nothing else, not even reading it."""
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl(
        "label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted"
    )
    cluster.kubectl("-n", namespace, "create", "serviceaccount", USER)
    role = subprocess.run(
        [sys.executable, "-m", "riverbed.platforms.kube", "user-role", "--namespace", namespace,
         "--subject", f"ServiceAccount:{namespace}/{USER}"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=role)
    token = cluster.kubectl(
        "-n", namespace, "create", "token", USER, "--duration", "2h"
    ).stdout.strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    (entry,) = [c for c in admin["clusters"] if c["name"] == f"kind-{cluster.name}"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [entry],
        "users": [{"name": USER, "user": {"token": token}}],
        "contexts": [
            {"name": f"{USER}@{entry['name']}",
             "context": {"cluster": entry["name"], "user": USER, "namespace": namespace}},
        ],
        "current-context": f"{USER}@{entry['name']}",
    }  # fmt: skip
    path = work / "alice.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def test_k8s_by_hand_flow_as_documented_passes_with_rights_in_one_namespace(
    kind_cluster: KindCluster, loopback_registry: str, tmp_path: Path
) -> None:
    """docs/kubernetes.md's k8s by-hand block, as written, by a user whose kubeconfig holds
    rights in one namespace only (the Role `user-role` prints): `riverbed up --platform k8s`
    leaves the session's port-forwards behind, `locust` and `chaos run` reach Kafka through
    them, `riverbed collect` stops them and collects, the report passes, `down` removes
    riverbed's objects and leaves the namespace, which riverbed did not create."""
    kubeconfig = namespace_user_kubeconfig(kind_cluster, BY_HAND_NAMESPACE, tmp_path)
    context = f"{USER}@kind-{kind_cluster.name}"
    variables = {
        "KUBECONFIG": str(kubeconfig),
        "CONTEXT": context,
        "NAMESPACE": BY_HAND_NAMESPACE,
        "REGISTRY": loopback_registry,
    }
    user_env = kind_cluster.env(tmp_path / "runs") | {"KUBECONFIG": str(kubeconfig)}
    k8s = ["--platform", "k8s", "--context", context, "--namespace", BY_HAND_NAMESPACE]
    # The user cannot even read namespaces: the rights are the Role's, nothing more.
    can = kind_cluster.kubectl(
        "auth", "can-i", "create", "namespaces",
        f"--as=system:serviceaccount:{BY_HAND_NAMESPACE}:{USER}", check=False,
    )  # fmt: skip
    assert can.stdout.strip() == "no", can.stdout
    try:
        code, output, run_dir = run_as_documented(kind_cluster, "k8s", tmp_path, variables)
        assert code == 0, output[-6000:]
        assert "held for the session by process" in output, output[-3000:]
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["verdict"] == "pass", summary["checks"]
        assert summary["counts"]["acknowledged"] > 300
        spec = json.loads((run_dir / "spec.json").read_text())
        assert spec["platform"] == "k8s" and spec["kube"]["namespace"] == BY_HAND_NAMESPACE
        assert spec["drain"]["finished"] and spec["log_drain"]["finished"]
        names = [c["name"] for c in spec["chaos"]]
        assert names == ["kill-consumer-pod", "resize-partitions"], names
        assert all(c["landed"] and not c["inconclusive_reasons"] for c in spec["chaos"])
        # The forwards went with the session: no record, no process, their ports free.
        assert not (run_dir / "port-forward.json").exists()
        log = (run_dir / "logs" / "port-forward.log").read_text()
        assert "holding port-forwards" in log, log[-2000:]
        ports = [int(a.rsplit(":", 1)[1]) for a in spec["bootstrap_servers"].split(",")]
        for port in ports:
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still forwarded"
        # The block ended with `riverbed down`: riverbed's objects are gone, the namespace
        # (the administrator's) and the user's Role stay.
        left = kind_cluster.kubectl(
            "-n", BY_HAND_NAMESPACE, "get",
            "statefulsets,deployments,services,persistentvolumeclaims,networkpolicies,"
            "poddisruptionbudgets,roles,rolebindings,serviceaccounts", "-o", "name",
        ).stdout.split()  # fmt: skip
        assert sorted(left) == sorted(
            [
                "role.rbac.authorization.k8s.io/riverbed-user",
                "rolebinding.rbac.authorization.k8s.io/riverbed-user",
                f"serviceaccount/{USER}",
                "serviceaccount/default",
            ]
        ), left
    finally:
        kafka = kind_cluster.kubectl(
            "-n", BY_HAND_NAMESPACE, "get", "statefulset", "kafka", check=False
        )
        if kafka.returncode == 0:
            # A step before the block's last stopped it: `down` as the user, here.
            down = riverbed(["down", *k8s], user_env, timeout=900)
            print(down.stdout[-2000:], down.stderr[-4000:])
        kind_cluster.kubectl(
            "delete", "namespace", BY_HAND_NAMESPACE, "--ignore-not-found", "--wait=true",
            "--timeout=300s", timeout=360, check=False,
        )  # fmt: skip
