"""`riverbed run --platform kind` from cluster to verdict, on a real kind cluster.

The session cluster (conftest.py) was created by `riverbed up --platform kind
--offline`; every run here goes through riverbed's own kind path: the Kafka
StatefulSet (3 KRaft brokers), 3 consumer pods, Locust on the host through the
external listeners (or in the cluster), the kind experiments (a consumer
process SIGKILLed, partitions resized, a broker pod killed), evidence collected
from the pods' evidence topic, and the same report as a local run.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.kind.conftest import ROOT, KindCluster, riverbed

pytestmark = [pytest.mark.kind, pytest.mark.timeout(1800)]

EXPERIMENTS = ROOT / "experiments"
HARD_KILL = str(EXPERIMENTS / "kill-consumer-pod-hard.json")
RESIZE = str(EXPERIMENTS / "resize-partitions.json")
BROKER_KILL = str(EXPERIMENTS / "kill-broker-pod.json")
GRACEFUL_KILL = str(EXPERIMENTS / "kill-consumer-pod.json")
PAUSE = str(EXPERIMENTS / "pause-consumer-pod.json")
PARTITION = str(EXPERIMENTS / "network-partition-pod.json")
RESET = str(EXPERIMENTS / "network-reset-pod.json")
# Busy consumers (80 ms a record, a third over capacity): a kill lands mid-batch,
# the one moment the unsafe commit mode loses records.
BUSY = [
    "--users", "5", "--spawn-rate", "5", "--key-space", "1000",
    "--processing-ms", "80", "--drain-deadline", "150s",
]  # fmt: skip


def run_dir_of(runs: Path) -> Path:
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    return run


def summary_of(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text())


def faults(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "evidence" / "faults.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def test_safe_consumers_pass_a_hard_kill_a_resize_and_a_broker_kill(
    kind_cluster: KindCluster, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    r = riverbed(
        [
            "run",
            "--platform",
            "kind",
            "--experiment",
            HARD_KILL,
            "--experiment",
            RESIZE,
            "--experiment",
            BROKER_KILL,
            "--duration",
            "240s",
            "--warmup",
            "20s",
            "--cooldown",
            "15s",
            "--users",
            "5",
            "--spawn-rate",
            "5",
            "--key-space",
            "1000",
            "--drain-deadline",
            "150s",
        ],  # fmt: skip
        kind_cluster.env(runs),
        timeout=1500,
    )
    run_dir = run_dir_of(runs)
    kind_cluster.figures["safe_run_wall_s"] = _wall(r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = summary_of(run_dir)
    assert summary["verdict"] == "pass"
    assert summary["counts"]["acknowledged"] > 1000
    assert summary["counts"]["never-processed"] == 0
    spec = json.loads((run_dir / "spec.json").read_text())
    assert [c["landed"] and not c["inconclusive_reasons"] for c in spec["chaos"]] == [True] * 3
    # The run had its own topic, group and evidence topic.
    assert spec["topic"].startswith("riverbed-events-") and spec["topic"] != "riverbed-events"
    assert spec["evidence_topic"].startswith("riverbed-evidence-")
    # Evidence came back from the pods: the consumers' (named after their pods) and the monitor's.
    consumed = list((run_dir / "evidence" / "consumed").glob("consumer-*.jsonl"))
    assert len(consumed) >= 4  # three pods, plus the incarnation after the kill
    assert (run_dir / "evidence" / "group.jsonl").stat().st_size > 0
    # The hard kill was a SIGKILL: the hit pod's consumer wrote no stop line, and its
    # container came back in the same pod as a new incarnation.
    (kill,) = [f for f in faults(run_dir) if f["activity"] == "sigkill-one-consumer-process"]
    (hit,) = kill["output"]
    incarnations = sorted(
        (json.loads(p.read_text().splitlines()[0])["t"], p)
        for p in consumed
        if p.name.startswith(hit["pod_name"] + "-")
    )
    assert len(incarnations) >= 2, incarnations
    first = [json.loads(x) for x in incarnations[0][1].read_text().splitlines() if x.strip()]
    assert not any(e["type"] == "stop" for e in first)
    # The partitions were resized and the added ones consumed; a broker pod was killed.
    assert summary["checks"]["rebalance"]["status"] == "pass"
    assert spec["partitions"] == 3 and _max_partition(run_dir) >= 5
    kills = [f for f in faults(run_dir) if f.get("landed") and "broker" in f["activity"]]
    assert kills, faults(run_dir)
    assert (run_dir / "report.html").exists()


def test_before_process_consumers_are_caught_losing_records(
    kind_cluster: KindCluster, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    r = riverbed(
        [
            "run",
            "--platform",
            "kind",
            "--commit-mode",
            "before-process",
            "--experiment",
            HARD_KILL,
            "--duration",
            "75s",
            "--warmup",
            "20s",
            "--cooldown",
            "10s",
            *BUSY,
        ],  # fmt: skip
        kind_cluster.env(runs),
        timeout=1500,
    )
    run_dir = run_dir_of(runs)
    kind_cluster.figures["before_process_run_wall_s"] = _wall(r.stderr)
    assert r.returncode == 1, r.stdout + r.stderr
    summary = summary_of(run_dir)
    assert summary["verdict"] == "fail"
    never = summary["checks"]["never-processed"]
    assert never["status"] == "fail" and never["examples"]
    assert summary["counts"]["never-processed"] > 0
    assert summary["checks"]["lost-from-log"]["status"] == "pass"
    assert (run_dir / "report.html").exists()


def test_locust_in_the_cluster_every_workers_sends_are_collected(
    kind_cluster: KindCluster, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    r = riverbed(
        [
            "run",
            "--platform",
            "kind",
            "--locust-workers",
            "2",
            "--experiment",
            GRACEFUL_KILL,
            "--duration",
            "75s",
            "--warmup",
            "20s",
            "--cooldown",
            "10s",
            "--users",
            "6",
            "--spawn-rate",
            "6",
            "--drain-deadline",
            "120s",
        ],  # fmt: skip
        kind_cluster.env(runs),
        timeout=1500,
    )
    run_dir = run_dir_of(runs)
    kind_cluster.figures["in_cluster_locust_run_wall_s"] = _wall(r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = summary_of(run_dir)
    acks = sorted((run_dir / "evidence" / "acks").glob("*.jsonl"))
    per_worker = {p.name: _ok_sends(p) for p in acks}
    assert len(per_worker) == 2 and all(n > 0 for n in per_worker.values()), per_worker
    # Nothing was lost on the way out of the pods: the report's acknowledged count
    # is exactly the sum of the workers' acknowledged sends.
    assert summary["counts"]["acknowledged"] == sum(per_worker.values())
    assert (run_dir / "locust" / "pods").is_dir()


def test_a_users_consumer_image_is_judged_by_its_output_topic(
    kind_cluster: KindCluster, tmp_path: Path
) -> None:
    """--consumer-image: the example consume-transform-produce service, built as an image
    on riverbed's workloads image, runs as the consumer Deployment; riverbed SIGKILLs one
    of its processes and judges it by its output topic."""
    image = _example_image("confluent_transform.py", "transform")
    runs = tmp_path / "runs"
    r = riverbed(
        [
            "run",
            "--platform",
            "kind",
            "--consumer-image",
            image,
            "--consumer-evidence",
            "output-topic",
            "--output-topic",
            f"enriched-{tmp_path.name}"[:60],
            "--experiment",
            HARD_KILL,
            "--duration",
            "75s",
            "--warmup",
            "20s",
            "--cooldown",
            "10s",
            "--users",
            "5",
            "--spawn-rate",
            "5",
            "--drain-deadline",
            "150s",
        ],  # fmt: skip
        kind_cluster.env(runs) | {"EXAMPLE_WORK_MS": "0"},
        timeout=1500,
    )
    run_dir = run_dir_of(runs)
    kind_cluster.figures["consumer_image_run_wall_s"] = _wall(r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = summary_of(run_dir)
    assert summary["evidence_strength"] == "output-topic"
    assert summary["verdict"] == "pass"
    assert summary["counts"]["outputs"] >= summary["counts"]["acknowledged"] > 500
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["consumer_image"] == image
    (chaos,) = spec["chaos"]
    assert chaos["landed"] and not chaos["inconclusive_reasons"]
    env = _container_env(kind_cluster, "consumer")
    assert env["KAFKA_BROKER"] == "kafka:9092"
    assert len(env["KAFKA_BOOTSTRAP_SERVERS"].split(",")) == 3
    assert "RIVERBED_COMMIT_MODE" not in env


def _example_image(example: str, tag: str) -> str:
    """examples/Dockerfile on the newest workloads image riverbed built (it has the clients)."""
    tags = subprocess.run(
        ["docker", "images", "riverbed-workloads", "--format", "{{.Tag}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    base = f"riverbed-workloads:{next(t for t in tags if t.startswith('rc-'))}"
    image = f"riverbed-example:{tag}"
    subprocess.run(
        [
            "docker", "build", "-q", "-f", str(ROOT / "examples" / "Dockerfile"),
            "--build-arg", f"BASE={base}", "--build-arg", f"EXAMPLE={example}",
            "-t", image, str(ROOT / "examples"),
        ],  # fmt: skip
        check=True, capture_output=True, text=True, timeout=600,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )  # fmt: skip
    return image


def test_a_paused_pod_and_network_faults_make_zombies_but_no_false_alarm(
    kind_cluster: KindCluster, tmp_path: Path
) -> None:
    """A consumer process frozen past its session timeout, a pod cut off from the group
    coordinator, a pod whose connections are reset: each member is evicted and comes back,
    nothing is lost, and safe consumers pass (redeliveries and zombies are allowed)."""
    runs = tmp_path / "runs"
    r = riverbed(
        [
            "run",
            "--platform",
            "kind",
            "--experiment",
            PAUSE,
            "--experiment",
            PARTITION,
            "--experiment",
            RESET,
            "--duration",
            "240s",
            "--warmup",
            "20s",
            "--cooldown",
            "15s",
            "--users",
            "5",
            "--spawn-rate",
            "5",
            "--key-space",
            "1000",
            "--processing-ms",
            "20",
            "--drain-deadline",
            "150s",
        ],  # fmt: skip
        kind_cluster.env(runs) | {"RIVERBED_PAUSE_S": "16", "RIVERBED_NET_S": "16"},
        timeout=1500,
    )
    run_dir = run_dir_of(runs)
    kind_cluster.figures["pause_and_network_run_wall_s"] = _wall(r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = summary_of(run_dir)
    assert summary["verdict"] == "pass", summary["checks"]
    assert summary["counts"]["never-processed"] == 0
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["network_faults"] is True  # the experiments asked for the sidecar
    assert [c["landed"] and not c["inconclusive_reasons"] for c in spec["chaos"]] == [True] * 3
    consumed = run_dir / "evidence" / "consumed"

    def evicted_and_back(pod: str, t_start: float) -> None:
        late = [
            json.loads(x)
            for p in consumed.glob(f"{pod}-*.jsonl")
            for x in p.read_text().splitlines()
            if x.strip()
        ]
        late = sorted((e for e in late if e["t"] > t_start + 10), key=lambda e: e["t"])
        # Out of the group: the member learnt it (lost, a failed commit), or its process
        # did not survive the fault and a new incarnation started in the pod (seen once:
        # kafka-python 3.0 under a dropped coordinator, its container restarted).
        assert (
            any(e["type"] == "lost" for e in late)
            or any(e["type"] == "committed" and not e["ok"] for e in late)
            or any(e["type"] == "start" for e in late)
        ), late[:10]
        assert any(e["type"] == "assigned" for e in late), late[:10]

    by_activity = {f["activity"]: f for f in faults(run_dir)}
    # The pause: SIGSTOP in one pod, never a restart; the member was a zombie.
    pause = by_activity["sigstop-one-consumer-process"]
    (paused,) = pause["output"]
    assert paused["exit_code"] == 0 and pause["t_end"] - pause["t_start"] >= 16
    evicted_and_back(paused["pod_name"], pause["t_start"])
    # The partition: one pod, the coordinator only, rules in place, evicted and back.
    cut = by_activity["cut-one-consumer-from-coordinator"]
    assert cut["landed"] is True and cut["output"]["mode"] == "drop"
    assert cut["output"]["cut"] == cut["output"]["pods"] and len(cut["output"]["pods"]) == 1
    assert len(cut["output"]["brokers"]) == 1 and cut["t_end"] - cut["t_start"] >= 16
    evicted_and_back(cut["output"]["pods"][0], cut["t_start"])
    # The resets: every broker, rules in place for the whole duration.
    reset = by_activity["reset-one-consumer-connections"]
    assert reset["landed"] is True and reset["output"]["mode"] == "reset"
    assert reset["output"]["brokers"] == [0, 1, 2]
    assert all(x["exit_code"] == 0 for x in reset["output"]["results"])
    assert all(by_activity[a]["status"] == "succeeded" for a in ("heal-every-consumer-pod",))


def test_up_honours_the_consumer_settings(kind_cluster: KindCluster, tmp_path: Path) -> None:
    r = riverbed(
        [
            "up",
            "--platform",
            "kind",
            "--commit-mode",
            "before-process",
            "--assignor",
            "roundrobin",
            "--topic",
            "riverbed-events-up",
            "--group",
            "up-group",
        ],  # fmt: skip
        kind_cluster.env(tmp_path / "runs"),
        timeout=1200,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    env = _container_env(kind_cluster, "consumer")
    assert env["RIVERBED_COMMIT_MODE"] == "before-process"
    assert env["RIVERBED_ASSIGNOR"] == "roundrobin"
    assert env["KAFKA_TOPIC"] == "riverbed-events-up"
    assert env["KAFKA_GROUP"] == "up-group"
    assert env["RIVERBED_EVIDENCE_TOPIC"] == "riverbed-evidence-up"
    assert _container_env(kind_cluster, "monitor")["KAFKA_GROUP"] == "up-group"


def test_the_tutorial_make_targets_work_against_the_same_cluster(
    kind_cluster: KindCluster, tmp_path: Path
) -> None:
    images = riverbed(["kind", "images", "--make"], kind_cluster.env(tmp_path))
    assert images.returncode == 0, images.stderr
    variables = images.stdout.split()
    make = subprocess.run(
        [
            "make",
            "kind-up",
            "build-images",
            "load-images",
            "deploy-kafka",
            "deploy-apps",
            f"KIND_CLUSTER={kind_cluster.name}",
            f"KIND_CONFIG={kind_cluster.config}",
            "DOCKER=docker",
            *variables,
        ],  # fmt: skip
        capture_output=True,
        text=True,
        env=kind_cluster.env(tmp_path),
        cwd=ROOT,
        timeout=1500,
    )
    assert make.returncode == 0, make.stdout[-4000:] + make.stderr[-4000:]
    env = _container_env(kind_cluster, "consumer")
    assert env["KAFKA_TOPIC"] == "riverbed-events"  # the tutorial's fixed names


def _container_env(cluster: KindCluster, deployment: str) -> dict[str, str]:
    doc = json.loads(
        cluster.kubectl("-n", "riverbed", "get", "deployment", deployment, "-o", "json").stdout
    )
    # By name: with network faults, a consumer pod also has the netfault sidecar.
    (container,) = [
        c for c in doc["spec"]["template"]["spec"]["containers"] if c["name"] == deployment
    ]
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


def _ok_sends(path: Path) -> int:
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return sum(1 for e in lines if e.get("type") == "send" and e.get("status") == "ok")


def _max_partition(run_dir: Path) -> int:
    top = -1
    for line in (run_dir / "evidence" / "log.jsonl").read_text().splitlines():
        if line.strip():
            top = max(top, int(json.loads(line)["partition"]))
    return top


def _wall(stderr: str) -> float | None:
    for line in stderr.splitlines():
        if line.startswith("wall time "):
            return float(line.split()[2].rstrip("s"))
    return None


def test_ctrl_c_during_a_kind_run_keeps_every_workers_sends_and_the_evidence_topic(
    kind_cluster: KindCluster, tmp_path: Path
) -> None:
    """SIGINT in the middle of the load (Locust in the cluster): the run stops the test,
    copies both workers' send outcomes and collects the evidence topic before it deletes
    anything, and its report is inconclusive."""
    import signal
    import sys
    import time

    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "riverbed.cli",
            "run",
            "--platform",
            "kind",
            "--locust-workers",
            "2",
            "--experiment",
            GRACEFUL_KILL,
            "--duration",
            "300s",
            "--warmup",
            "20s",
            "--cooldown",
            "10s",
            "--users",
            "4",
            "--spawn-rate",
            "4",
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=kind_cluster.env(runs),
        cwd=ROOT,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 900  # the Locust image, the rollouts, the group
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if line.startswith("load: "):
                break
            assert time.monotonic() < deadline, "".join(output[-40:])
        time.sleep(40)  # past the warm-up: the workers have sent, consumers have consumed
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=900)
        output.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = "".join(output)
    print(text[-6000:])
    run_dir = run_dir_of(runs)
    kind_cluster.figures["interrupted_run_wall_s"] = _wall(text)
    assert proc.returncode == 2, text[-4000:]
    assert "interrupted" in text
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["interrupted"] is True
    per_worker = {p.name: _ok_sends(p) for p in (run_dir / "evidence" / "acks").glob("*.jsonl")}
    assert len(per_worker) == 2 and all(n > 0 for n in per_worker.values()), per_worker
    consumed = list((run_dir / "evidence" / "consumed").glob("consumer-*.jsonl"))
    assert consumed and (run_dir / "evidence" / "group.jsonl").stat().st_size > 0
    # Every consumer stopped before the collection: each incarnation's file ends in its stop.
    last = [json.loads(p.read_text().splitlines()[-1]) for p in consumed]
    assert any(e["type"] == "stop" for e in last), last
    # Nothing of the run is left in the cluster: no Locust, no consumer pods.
    pods = kind_cluster.kubectl("-n", "riverbed", "get", "pods", "-o", "name").stdout.split()
    assert not [p for p in pods if "locust" in p or "consumer" in p], pods
    summary = summary_of(run_dir)
    assert summary["verdict"] == "inconclusive"
    # What it had is reported: the acknowledged sends are exactly the workers'.
    assert summary["counts"]["acknowledged"] == sum(per_worker.values())
