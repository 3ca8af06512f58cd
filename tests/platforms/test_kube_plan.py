"""The kind / k8s platform in dry-run mode: the exact commands it would run and the
exact manifests it would apply (kind and Docker cannot run here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from riverbed.errors import HarnessError
from riverbed.platforms.kube import cluster as kube
from riverbed.platforms.kube import render as km
from riverbed.platforms.kube.__main__ import main as kube_main
from riverbed.platforms.kube.commands import Call, Command, describe

ROOT = Path(__file__).resolve().parents[2]
KIND = ("kubectl", "--context", "kind-riverbed")
KIND_NS = (*KIND, "-n", "riverbed")
BOOTSTRAP = "127.0.0.1:19592,127.0.0.1:19593,127.0.0.1:19594"
#: What riverbed applies before Kafka is up, in order (kind's overlay; k8s: the base's alone).
INFRA_FILES = (
    "overlays/kind/namespace.yaml",
    "base/kafka.yaml",
    "base/chaos-rbac.yaml",
    "base/network-policy.yaml",
    "overlays/kind/node-ports.yaml",
    "overlays/kind/node-ports-policy.yaml",
)
K8S_INFRA_FILES = ("base/kafka.yaml", "base/chaos-rbac.yaml", "base/network-policy.yaml")
WORKLOADS = "base/workloads.yaml"


def _expected_docs(files: tuple[str, ...], tag: str) -> list[dict[str, Any]]:
    """The manifest files with the workload image retagged — by text substitution,
    independently of the renderer under test."""
    docs = []
    for name in files:
        text = (ROOT / "manifests" / name).read_text()
        text = text.replace("image: riverbed-workloads:dev", f"image: riverbed-workloads:{tag}")
        docs.extend(d for d in yaml.safe_load_all(text) if d is not None)
    return docs


def _topic_calls(bootstrap: str = BOOTSTRAP) -> list[Call]:
    def create(name: str, partitions: int) -> Call:
        return Call(
            "create_topic",
            (
                ("bootstrap_servers", bootstrap),
                ("exist_ok", True),
                ("min_insync_replicas", 2),
                ("name", name),
                ("partitions", partitions),
                ("replication_factor", 3),
            ),
        )

    return [
        Call("wait_for_kafka", (("bootstrap_servers", bootstrap), ("timeout", 120.0))),
        create("riverbed-events", 3),
        create("riverbed-evidence", 3),
    ]


def _rollouts(prefix: tuple[str, ...]) -> list[Command]:
    return [
        Command((*prefix, "rollout", "status", f"deployment/{name}", "--timeout=300s"))
        for name in ("producer", "consumer", "monitor")
    ]


def _read_identity(prefix: tuple[str, ...]) -> Command:
    return Command((*prefix, "get", "statefulset", "kafka", "-o", "json"))


def _without_stdin(steps: list[Any]) -> list[Any]:
    return [
        Command(s.argv, None, s.env, s.background) if isinstance(s, Command) else s for s in steps
    ]


def test_kind_up_runs_exactly_this_sequence() -> None:
    platform = kube.KubePlatform(mode="kind", dry_run=True, root=ROOT)
    result = platform.up(tag="t1")
    steps = platform.runner.steps
    assert _without_stdin(steps) == [
        Command(("kind", "get", "clusters")),
        Command(
            (
                "kind",
                "create",
                "cluster",
                "--name",
                "riverbed",
                "--config",
                "manifests/kind-cluster.yaml",
                "--wait",
                "180s",
            )
        ),
        # Kafka's identity (cluster id; k8s: its forwards' ports) as the live StatefulSet has it.
        _read_identity(KIND_NS),
        Command(
            (
                "docker",
                "build",
                "-f",
                "workloads/Dockerfile",
                "--target",
                "workloads",
                "-t",
                "riverbed-workloads:t1",
                ".",
            ),
            env=(("DOCKER_BUILDKIT", "1"),),
        ),
        Command(("kind", "load", "docker-image", "riverbed-workloads:t1", "--name", "riverbed")),
        Command((*KIND, "apply", "-f", "-")),
        Command((*KIND_NS, "rollout", "status", "statefulset/kafka", "--timeout=600s")),
        *_topic_calls(),
        Command((*KIND, "apply", "-f", "-")),
        *_rollouts(KIND_NS),
    ]
    assert result == kube.UpResult(
        mode="kind",
        context="kind-riverbed",
        image="riverbed-workloads:t1",
        bootstrap_servers=BOOTSTRAP,
        producer_url="http://127.0.0.1:18580",
        topic="riverbed-events",
        evidence_topic="riverbed-evidence",
        group="riverbed-consumers",
    )


def test_kind_up_applies_exactly_these_manifests() -> None:
    platform = kube.KubePlatform(mode="kind", dry_run=True, root=ROOT)
    platform.up(tag="t1")
    applies = [s for s in platform.runner.commands() if s.argv[3:5] == ("apply", "-f")]
    assert len(applies) == 2
    infra, workloads = (list(yaml.safe_load_all(c.stdin or "")) for c in applies)
    # Kafka, namespace and RBAC first (the consumers need the topics it lets riverbed create) ...
    assert infra == _expected_docs(INFRA_FILES, "t1")
    # ... then the workloads, every one on the freshly built and loaded image.
    assert workloads == _expected_docs((WORKLOADS,), "t1")
    assert km.images_in(workloads) == {"riverbed-workloads:t1"}
    assert km.images_in(infra) == {f"apache/kafka:{_kafka_version()}"}
    # Nothing is deployed that is not in the overlay `kubectl apply -k` uses.
    overlay = km.load_kustomization(ROOT / "manifests" / "overlays" / "kind")
    base = km.load_kustomization(ROOT / "manifests" / "base")
    files = {f"base/{r}" for r in base.resources} | {
        f"overlays/kind/{r}" for r in overlay.resources if r.endswith(".yaml")
    }
    assert files == {*INFRA_FILES, WORKLOADS}


def _kafka_version() -> str:
    from riverbed.kafka.distribution import KAFKA_VERSION

    return KAFKA_VERSION


def test_kind_up_reuses_an_existing_cluster() -> None:
    platform = kube.KubePlatform(mode="kind", dry_run=True, root=ROOT)
    platform.runner.responses[("kind", "get", "clusters")] = "other\nriverbed\n"
    platform.up(tag="t2")
    argvs = [c.argv for c in platform.runner.commands()]
    assert ("kind", "get", "clusters") in argvs
    assert not any(a[:3] == ("kind", "create", "cluster") for a in argvs)
    assert ("kind", "load", "docker-image", "riverbed-workloads:t2", "--name", "riverbed") in argvs


def test_up_without_a_tag_tags_the_image_by_its_sources(tmp_path) -> None:
    """Same sources, same tag (a second run builds and loads nothing); any change to what
    the image is built from, a new tag (a node never runs a stale image under a reused tag)."""
    import shutil

    tags = set()
    for _ in range(2):
        platform = kube.KubePlatform(mode="kind", dry_run=True, root=ROOT)
        tags.add(platform.up().image)
    (image,) = tags
    assert re.fullmatch(r"riverbed-workloads:rc-[0-9a-f]{12}", image)
    root = tmp_path / "copy"
    for name in ("pyproject.toml",):
        root.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, root / name)
    for name in ("workloads", "locustfiles"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    assert kube.content_tag(root) == kube.content_tag(ROOT)
    (root / "workloads" / "message.py").write_text("# changed\n", "utf-8")
    assert kube.content_tag(root) != kube.content_tag(ROOT)
    assert kube.content_tag(ROOT, "python:3.12-slim") != kube.content_tag(ROOT)


def test_new_tags_are_valid_and_unique() -> None:
    tags = {kube.new_tag() for _ in range(200)}
    assert len(tags) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", t) for t in tags)


def test_consumer_settings_reach_the_deployment() -> None:
    platform = kube.KubePlatform(mode="kind", dry_run=True, root=ROOT)
    platform.up(
        tag="t3",
        consumers=5,
        consumer_env={"RIVERBED_COMMIT_MODE": "before-process", "RIVERBED_PROCESSING_MS": "exp:5"},
        partitions=12,
    )
    applies = [c for c in platform.runner.commands() if c.argv[3:5] == ("apply", "-f")]
    consumer = km.find(list(yaml.safe_load_all(applies[1].stdin or "")), "Deployment", "consumer")
    assert consumer["spec"]["replicas"] == 5
    env = {
        e["name"]: e.get("value")
        for e in consumer["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["RIVERBED_COMMIT_MODE"] == "before-process"
    assert env["RIVERBED_PROCESSING_MS"] == "exp:5"
    assert env["KAFKA_GROUP"] == "riverbed-consumers"  # untouched
    topic = [s for s in platform.runner.steps if isinstance(s, Call) and s.name == "create_topic"][
        0
    ]
    assert dict(topic.kwargs)["partitions"] == 12


def test_kind_down_deletes_the_cluster() -> None:
    platform = kube.KubePlatform(mode="kind", dry_run=True, root=ROOT)
    platform.down()
    assert platform.runner.steps[0] == Command(("kind", "delete", "cluster", "--name", "riverbed"))
    # Then the Docker network kind made, if no container uses it any more (a plan: the
    # dry run pretends none does).
    assert [c.argv[:3] for c in platform.runner.steps[1:]] == [
        ("docker", "network", "inspect"),
        ("docker", "network", "rm"),
    ]


# ---- k8s: an existing cluster -------------------------------------------------------------------
K8S = ("kubectl", "--context", "staging")
K8S_NS = (*K8S, "-n", "riverbed")
#: Port-forwards: apart from kind's host ports and the local platform's.
K8S_BOOTSTRAP = "127.0.0.1:19692,127.0.0.1:19693,127.0.0.1:19694"


def _forward(i: int) -> Command:
    return Command(
        (*K8S_NS, "port-forward", "--address", "127.0.0.1", f"pod/kafka-{i}", f"{19692 + i}:9094"),
        background=True,
    )


def test_k8s_up_never_creates_a_cluster_and_pins_the_context() -> None:
    platform = kube.KubePlatform(mode="k8s", context="staging", dry_run=True, root=ROOT)
    platform.up(tag="t4")
    assert _without_stdin(platform.runner.steps) == [
        _read_identity(K8S_NS),
        Command(
            (
                "docker",
                "build",
                "-f",
                "workloads/Dockerfile",
                "--target",
                "workloads",
                "-t",
                "riverbed-workloads:t4",
                ".",
            ),
            env=(("DOCKER_BUILDKIT", "1"),),
        ),
        Command((*K8S, "apply", "-f", "-")),
        Command((*K8S_NS, "rollout", "status", "statefulset/kafka", "--timeout=600s")),
        # The host reaches each broker at the address it advertises, through a forward.
        _forward(0),
        _forward(1),
        _forward(2),
        *_topic_calls(K8S_BOOTSTRAP),
        Command((*K8S, "apply", "-f", "-")),
        *_rollouts(K8S_NS),
    ]
    for command in platform.runner.commands():
        assert command.argv[0] in ("docker", "kubectl")
        if command.argv[0] == "kubectl":
            assert command.argv[1:3] == ("--context", "staging")


def test_k8s_up_with_a_pushed_image_builds_nothing() -> None:
    platform = kube.KubePlatform(
        mode="k8s",
        context="staging",
        dry_run=True,
        root=ROOT,
        image="registry.example:5000/team/riverbed-workloads:v7",
    )
    result = platform.up()
    assert not any(c.argv[0] == "docker" for c in platform.runner.commands())
    applies = [c for c in platform.runner.commands() if c.argv[3:5] == ("apply", "-f")]
    workloads = list(yaml.safe_load_all(applies[1].stdin or ""))
    assert km.images_in(workloads) == {"registry.example:5000/team/riverbed-workloads:v7"}
    assert result.image == "registry.example:5000/team/riverbed-workloads:v7"


def test_k8s_down_deletes_only_what_riverbed_applied() -> None:
    platform = kube.KubePlatform(mode="k8s", context="staging", dry_run=True, root=ROOT)
    platform.down()
    delete, delete_volumes, get_namespace, delete_secret = platform.runner.steps
    assert isinstance(delete, Command)
    assert delete.argv == (
        *K8S,
        "delete",
        "-f",
        "-",
        "--ignore-not-found",
        "--wait=true",
        "--timeout=300s",
    )
    deleted = {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(delete.stdin or "")}
    expected = {
        (d["kind"], d["metadata"]["name"])
        for name in (*K8S_INFRA_FILES, WORKLOADS, "components/locust/locust.yaml")
        for d in km.load_documents(ROOT / "manifests" / name)
    }
    assert deleted == expected
    # Kafka's volumes, riverbed's only (a team's own Kafka in the namespace keeps its own).
    assert isinstance(delete_volumes, Command)
    assert delete_volumes.argv == (
        *K8S_NS,
        "delete",
        "persistentvolumeclaims",
        "-l",
        "app.kubernetes.io/name=kafka,app.kubernetes.io/part-of=riverbed",
        "--ignore-not-found",
        "--wait=false",  # waited for by listing: the Role grants list, not watch
    )
    # The namespace is not riverbed's to delete unless riverbed created it (it looks).
    assert get_namespace.argv == (*K8S, "get", "namespace", "riverbed", "-o", "json")
    # In a namespace that stays, the Kafka client settings a run on the user's own Kafka
    # left go too (docs/kubernetes.md), unchecked.
    assert isinstance(delete_secret, Command)
    assert delete_secret.argv == (
        *K8S_NS,
        "delete",
        "secret",
        "riverbed-kafka-client",
        "--ignore-not-found",
    )


def test_k8s_down_deletes_a_namespace_riverbed_created_and_no_other() -> None:
    ours = '{"metadata": {"labels": {"app.kubernetes.io/managed-by": "riverbed"}}}'
    theirs = '{"metadata": {"labels": {"team": "a"}}}'
    for answer, deleted in ((ours, True), (theirs, False)):
        platform = kube.KubePlatform(mode="k8s", context="staging", dry_run=True, root=ROOT)
        platform.runner.responses[(*K8S, "get", "namespace")] = answer
        platform.down()
        argvs = [c.argv for c in platform.runner.commands()]
        assert ((*K8S, "delete", "namespace", "riverbed") in [a[:6] for a in argvs]) is deleted


def test_host_access_is_a_no_op_on_kind() -> None:
    platform = kube.KubePlatform(mode="kind", dry_run=True, root=ROOT)
    with platform.host_access(producer=True):
        pass
    assert platform.runner.steps == []


def test_host_access_forwards_the_producer_on_request() -> None:
    platform = kube.KubePlatform(mode="k8s", context="staging", dry_run=True, root=ROOT)
    with platform.host_access(producer=True):
        pass
    assert platform.runner.steps == [
        _forward(0),
        _forward(1),
        _forward(2),
        Command(
            (*K8S_NS, "port-forward", "--address", "127.0.0.1", "service/producer", "18680:8080"),
            background=True,
        ),
    ]


# ---- read side ----------------------------------------------------------------------------------
PODS_JSON = """{"kind": "List", "items": [
 {"metadata": {"name": "consumer-7d9-b", "labels": {"app.kubernetes.io/name": "consumer"}},
  "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
 {"metadata": {"name": "consumer-7d9-a", "deletionTimestamp": "2026-11-24T21:00:00Z"},
  "status": {"phase": "Running"}}]}"""


def test_consumer_pods_reads_kubectl_json_with_the_decided_selector() -> None:
    platform = kube.KubePlatform(mode="kind", dry_run=True, root=ROOT)
    platform.runner.responses[(*KIND_NS, "get", "pods")] = PODS_JSON
    assert platform.pod_phases() == {"consumer-7d9-a": "Terminating", "consumer-7d9-b": "Running"}
    assert [p.name for p in platform.consumer_pods() if p.ready] == ["consumer-7d9-b"]
    assert platform.runner.commands()[-1].argv == (
        *KIND_NS,
        "get",
        "pods",
        "-l",
        "app.kubernetes.io/name=consumer",
        "-o",
        "json",
    )


def test_fetch_locust_evidence_copies_from_each_worker(tmp_path: Path) -> None:
    platform = kube.KubePlatform(mode="kind", dry_run=True, root=ROOT)
    platform.runner.responses[(*KIND_NS, "get", "pods")] = (
        '{"items": [{"metadata": {"name": "locust-worker-1"}, "status": {"phase": "Running"}}]}'
    )
    platform.fetch_locust_evidence(tmp_path)
    assert platform.runner.commands()[-1].argv == (
        *KIND,
        "cp",
        "riverbed/locust-worker-1:/data/run/evidence/acks",
        str(tmp_path / "locust" / "pods" / "locust-worker-1"),
    )


def test_deploy_locust_renders_the_locust_image_and_worker_count() -> None:
    platform = kube.KubePlatform(mode="kind", dry_run=True, root=ROOT)
    image = platform.deploy_locust(tag="t5", workers=4)
    assert image == "riverbed-locust:t5"
    argvs = [c.argv for c in platform.runner.commands()]
    assert argvs[0][:4] == ("docker", "build", "-f", "workloads/Dockerfile")
    assert argvs[0][4:8] == ("--target", "locust", "-t", "riverbed-locust:t5")
    assert argvs[1] == ("kind", "load", "docker-image", "riverbed-locust:t5", "--name", "riverbed")
    apply = platform.runner.commands()[2]
    docs = list(yaml.safe_load_all(apply.stdin or ""))
    assert km.images_in(docs) == {"riverbed-locust:t5"}
    assert km.find(docs, "Deployment", "locust-worker")["spec"]["replicas"] == 4


# ---- preflight and bad input --------------------------------------------------------------------
def _which(present: set[str]) -> Any:
    return lambda tool: f"/usr/bin/{tool}" if tool in present else None


@pytest.mark.parametrize(
    ("mode", "present", "missing"),
    [
        ("kind", set(), "docker, kind, kubectl"),
        ("kind", {"docker", "kubectl"}, "kind"),
        ("kind", {"docker", "kind"}, "kubectl"),
        ("k8s", {"docker"}, "kubectl"),
        ("k8s", {"kubectl"}, "docker"),
    ],
)
def test_preflight_names_every_missing_tool(mode: str, present: set[str], missing: str) -> None:
    platform = kube.KubePlatform(
        mode=mode,
        context="staging" if mode == "k8s" else None,
        dry_run=True,
        root=ROOT,
        which=_which(present),
    )
    with pytest.raises(HarnessError) as exc:
        platform.preflight()
    assert exc.value.message == f"--platform {mode} needs {missing}, not found on PATH."
    for tool in missing.split(", "):
        assert f"install {tool}" in (exc.value.fix or "").lower()


def test_k8s_with_a_pushed_image_needs_only_kubectl() -> None:
    platform = kube.KubePlatform(
        mode="k8s",
        context="staging",
        dry_run=True,
        root=ROOT,
        image="r/x:1",
        which=_which({"kubectl"}),
    )
    platform.runner.responses[("kubectl", "config", "get-contexts")] = "kind-a\nstaging\n"
    platform.preflight()
    assert [c.argv for c in platform.runner.commands()] == [
        ("kubectl", "config", "get-contexts", "-o", "name")
    ]


def test_preflight_rejects_an_unknown_context() -> None:
    platform = kube.KubePlatform(
        mode="k8s", context="prod", dry_run=True, root=ROOT, which=_which({"docker", "kubectl"})
    )
    platform.runner.responses[("kubectl", "config", "get-contexts")] = "kind-a\nstaging\n"
    with pytest.raises(HarnessError, match="No kubeconfig context named 'prod'") as exc:
        platform.preflight()
    assert "kind-a, staging" in (exc.value.fix or "")


def test_up_stops_at_preflight_before_running_anything() -> None:
    platform = kube.KubePlatform(mode="kind", dry_run=False, root=ROOT, which=_which(set()))
    with pytest.raises(HarnessError, match="needs docker, kind, kubectl"):
        platform.up(tag="never")
    assert platform.runner.steps == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "minikube"}, "Unknown Kubernetes platform mode"),
        ({"mode": "k8s"}, "--platform k8s needs --context NAME"),
        ({"mode": "kind", "context": "prod"}, "--context is for --platform k8s"),
        ({"mode": "kind", "cluster_name": "Riverbed_1"}, "Invalid kind cluster name"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(HarnessError, match=re.escape(message)):
        kube.KubePlatform(**kwargs)


def test_cluster_name_changes_the_context_and_every_kind_command() -> None:
    platform = kube.KubePlatform(mode="kind", cluster_name="rb2", dry_run=True, root=ROOT)
    platform.up(tag="t6")
    for c in platform.runner.commands():
        if c.argv[0] == "kubectl":
            assert c.argv[1:3] == ("--context", "kind-rb2")
        if c.argv[0] == "kind" and c.argv[1] != "get":
            assert c.argv[c.argv.index("--name") + 1] == "rb2"


# ---- the plan printout --------------------------------------------------------------------------
def test_plan_command_prints_the_dry_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert kube_main(["plan", "up", "--tag", "t7"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == (
        "kind create cluster --name riverbed --config manifests/kind-cluster.yaml --wait 180s"
    )
    assert "kubectl --context kind-riverbed apply -f -   <<< manifests" in lines
    assert lines[-1] == (
        "kubectl --context kind-riverbed -n riverbed rollout status deployment/monitor --timeout=300s"
    )
    platform = kube.KubePlatform(dry_run=True, root=ROOT)
    platform.up(tag="t7")
    assert lines == [describe(s) for s in platform.runner.steps]


def test_render_command_prints_the_kustomization(capsys: pytest.CaptureFixture[str]) -> None:
    assert kube_main(["render", "--tag", "t8"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    kind_files = [f for f in INFRA_FILES if f.startswith("overlays/")]
    order = [INFRA_FILES[0], *K8S_INFRA_FILES, WORKLOADS, *kind_files[1:]]
    assert docs == _expected_docs(tuple(order), "t8")


def test_plan_command_reports_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert kube_main(["plan", "up", "--mode", "k8s"]) == 4
    assert "--context NAME" in capsys.readouterr().err


# ---- failure paths with stand-in tools ----------------------------------------------------------
def test_a_taken_host_port_is_named_before_kind_creates_anything(tmp_path: Path) -> None:
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        (tmp_path / "manifests").mkdir()
        mappings = [(30092, port), (30093, port + 1), (30094, port + 2), (30080, port + 3)]
        (tmp_path / "manifests" / "kind-cluster.yaml").write_text(
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n"
            "  - role: control-plane\n    extraPortMappings:\n"
            + "".join(
                f"      - {{containerPort: {node}, hostPort: {host}, listenAddress: 127.0.0.1}}\n"
                for node, host in mappings
            )
        )
        platform = kube.KubePlatform(mode="kind", root=tmp_path)
        with pytest.raises(HarnessError, match=f"Host port 127.0.0.1:{port} is in use") as exc:
            platform._check_host_ports()
        assert "riverbed kafka down" in (exc.value.fix or "")


def test_a_rollout_that_times_out_shows_the_pods(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "kubectl"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        '  *"rollout status"*) echo "error: timed out waiting for the condition" >&2; exit 1;;\n'
        '  *"get pods"*) echo "kafka-0   0/1   Pending   0   10m"; exit 0;;\n'
        "esac\nexit 3\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    platform = kube.KubePlatform(mode="k8s", context="staging", root=ROOT)
    with pytest.raises(HarnessError) as exc:
        platform.wait_rollout("statefulset/kafka", 1)
    assert "statefulset/kafka in namespace riverbed was not ready within 1s" in exc.value.message
    assert "timed out waiting for the condition" in exc.value.message
    assert "kafka-0   0/1   Pending" in exc.value.message
    assert "StorageClass" in (exc.value.fix or "")
    assert [c.argv[:5] for c in platform.runner.commands()] == [
        ("kubectl", "--context", "staging", "-n", "riverbed"),
        ("kubectl", "--context", "staging", "-n", "riverbed"),
    ]


def test_the_output_topic_is_created_with_log_append_timestamps() -> None:
    platform = kube.KubePlatform(mode="kind", dry_run=True, root=ROOT)
    platform.create_topics(partitions=4, output_topic="enriched")
    calls = {
        dict(s.kwargs)["name"]: dict(s.kwargs)
        for s in platform.runner.steps
        if isinstance(s, Call) and s.name == "create_topic"
    }
    assert calls["enriched"]["partitions"] == 4
    # The broker stamps each output with its append time, whatever the service's producer set.
    assert calls["enriched"]["config"] == {"message.timestamp.type": "LogAppendTime"}
    assert "config" not in calls["riverbed-events"]


def test_kind_and_the_local_platform_share_no_host_port_by_default() -> None:
    """A local Kafka on its default base port (brokers, controllers, SASL_SSL listeners,
    per-replica listeners, proxies, Toxiproxy: base … base + 208) and the kind cluster of
    manifests/kind-cluster.yaml can be up side by side."""
    from riverbed.kafka import cluster as local

    top = local.SASL_SSL_PORT_OFFSET + 9  # the highest offset any local listener uses
    local_ports = range(local.DEFAULT_BASE_PORT, local.DEFAULT_BASE_PORT + top)
    kind_ports = [m.host_port for m in km.kind_port_mappings(ROOT / "manifests/kind-cluster.yaml")]
    assert kind_ports and not [p for p in kind_ports if p in local_ports]
    # The port-forwards of --platform k8s are apart from both.
    k8s = kube.KubePlatform(mode="k8s", context="c", dry_run=True, root=ROOT)
    forwards = [int(a.split(":")[1]) for a in k8s.bootstrap_servers.split(",")]
    assert not set(forwards) & (set(kind_ports) | set(local_ports))


def test_kind_host_ports_come_from_the_kind_configuration(tmp_path: Path) -> None:
    def config(mappings: list[tuple[int, int]]) -> Path:
        path = tmp_path / f"kind-{len(list(tmp_path.iterdir()))}.yaml"
        path.write_text(
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n"
            "  - role: control-plane\n    extraPortMappings:\n"
            + "".join(
                f"      - {{containerPort: {node}, hostPort: {host}, listenAddress: 127.0.0.1}}\n"
                for node, host in mappings
            )
        )
        return path

    other = config([(30092, 29592), (30093, 29593), (30094, 29594), (30080, 28580)])
    platform = kube.KubePlatform(mode="kind", dry_run=True, root=ROOT, kind_config=other)
    assert platform.bootstrap_servers == "127.0.0.1:29592,127.0.0.1:29593,127.0.0.1:29594"
    assert platform.producer_url == "http://127.0.0.1:28580"
    # Each broker advertises the host port that reaches it.
    (sts,) = [d for d in platform.render()["kafka.yaml"] if d["kind"] == "StatefulSet"]
    env = {
        e["name"]: e.get("value") for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["RIVERBED_EXTERNAL_BASE_PORT"] == "29592"
    gap = config([(30092, 29592), (30093, 29600), (30094, 29601), (30080, 28580)])
    with pytest.raises(HarnessError, match="must be consecutive"):
        kube.KubePlatform(mode="kind", dry_run=True, root=ROOT, kind_config=gap)
    partial = config([(30092, 29592)])
    with pytest.raises(HarnessError, match="30093, 30094, 30080"):
        kube.KubePlatform(mode="kind", dry_run=True, root=ROOT, kind_config=partial)


# ---- an existing cluster: a registry, a namespace of one's own ----------------------------------
def test_with_an_image_registry_every_built_image_is_pushed_and_pulled_from_there() -> None:
    platform = kube.KubePlatform(
        mode="kind",
        dry_run=True,
        root=ROOT,
        image_registry="127.0.0.1:5001/team",
        image_pull_secret="pull-creds",
        images=kube.KubeImages(kafka_image="riverbed-offline/kafka:4.4.0-k", offline=False),
    )
    platform.up(tag="t9", network_faults=True)
    argvs = [c.argv for c in platform.runner.commands()]
    pushed = [a[2] for a in argvs if a[:2] == ("docker", "push")]
    assert pushed == [
        "127.0.0.1:5001/team/riverbed-workloads:t9",
        "127.0.0.1:5001/team/riverbed-offline/kafka:4.4.0-k",
        "127.0.0.1:5001/team/riverbed-netfault:t9",
    ]
    for remote in pushed:
        assert ("docker", "tag", remote.removeprefix("127.0.0.1:5001/team/"), remote) in argvs
    # A kind node with a registry loads nothing: it pulls.
    assert not any(a[:3] == ("kind", "load", "docker-image") for a in argvs)
    docs = [
        d
        for c in platform.runner.commands()
        if c.argv[3:5] == ("apply", "-f")
        for d in yaml.safe_load_all(c.stdin or "")
    ]
    assert km.images_in(docs) == set(pushed)
    pods = [km.pod_spec(d) for d in docs if km.pod_spec(d) is not None]
    assert pods and all(p["imagePullSecrets"] == [{"name": "pull-creds"}] for p in pods)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("image_registry", "https://registry.example", "Invalid --image-registry"),
        ("image_pull_secret", "Pull_Creds", "Invalid --image-pull-secret"),
        ("namespace", "Team_A", "Invalid namespace"),
    ],
)
def test_bad_registry_secret_or_namespace_is_bad_input(
    option: str, value: str, message: str
) -> None:
    from riverbed.errors import BadInput

    with pytest.raises(BadInput, match=message):
        kube.KubePlatform(mode="k8s", context="c", dry_run=True, root=ROOT, **{option: value})


def test_another_namespace_renders_everything_there() -> None:
    platform = kube.KubePlatform(
        mode="k8s", context="c", dry_run=True, root=ROOT, namespace="team-a"
    )
    docs = km.flatten(platform.render(locust_image="l:1", netfault_image="n:1"))
    assert {d["metadata"].get("namespace") for d in docs} == {"team-a"}
    assert not [d for d in docs if d["kind"] == "Namespace"]
    (binding,) = [d for d in docs if d["kind"] == "RoleBinding"]
    assert binding["subjects"][0]["namespace"] == "team-a"
    # Every kubectl call names the namespace.
    with platform.host_access():
        pass
    assert all(c.argv[3:5] == ("-n", "team-a") for c in platform.runner.commands())


def test_the_user_role_holds_every_right_riverbed_asks_for() -> None:
    """What `python -m riverbed.platforms.kube user-role` prints grants exactly what the
    preflight asks the API server for — the chaos Role's rules included (Kubernetes lets no
    one grant a right they lack)."""
    from riverbed.platforms.kube import access

    platform = kube.KubePlatform(mode="k8s", context="c", dry_run=True, root=ROOT)
    docs = km.flatten(platform.render(locust_image="l:1", netfault_image="n:1"))
    role, binding = access.user_role("team-a", docs, "ServiceAccount:team-a/alice")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "alice", "namespace": "team-a"}
    ]
    assert role["metadata"]["namespace"] == "team-a" and role["kind"] == "Role"

    def granted(right: access.Right) -> bool:
        resource = right.resource + (f"/{right.subresource}" if right.subresource else "")
        return any(
            right.group in r["apiGroups"]
            and resource in r["resources"]
            and right.verb in r["verbs"]
            for r in role["rules"]
        )

    asked = [*access.apply_rights(docs), *access.WORK]
    assert all(granted(r) for r in asked)
    chaos = km.find(docs, "Role", "riverbed-chaos")
    for rule in chaos["rules"]:
        for resource in rule["resources"]:
            base, _, sub = resource.partition("/")
            for verb in rule["verbs"]:
                assert granted(access.Right(verb, rule["apiGroups"][0], base, "", subresource=sub))
    # Nothing cluster-scoped, nothing on Secrets, no wildcard.
    flat = {(g, res) for r in role["rules"] for g in r["apiGroups"] for res in r["resources"]}
    assert not {res for _, res in flat} & {"namespaces", "secrets", "nodes", "clusterroles", "*"}


def test_creating_a_namespace_is_asked_for_only_when_it_does_not_exist() -> None:
    from riverbed.platforms.kube import access

    assert access.namespace_rights("team-a", exists=True) == []
    (create,) = access.namespace_rights("team-a", exists=False)
    assert (create.verb, create.resource, create.cluster_scoped) == ("create", "namespaces", True)
    refused = access.refuse("team-a", "ctx", [create, access.WORK[0]])
    assert "create namespaces" in refused.message and "get pods" in refused.message
    assert "user-role --namespace team-a" in (refused.fix or "")


def test_a_new_kafka_gets_a_cluster_id_of_its_own() -> None:
    import base64

    ids = {kube.new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    for cluster_id in ids:
        assert len(cluster_id) == 22 and len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
