"""Readiness probes that mean "joined": on the reference consumer, the monitor and the Locust
workers (a file the process keeps fresh, read by an exec probe); none on a user's image."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes_validate import utils as kv

from riverbed.platforms.kube import KubePlatform
from riverbed.platforms.kube import render as km
from riverbed.platforms.kube.load import render_for_run
from tests.manifests.conftest import ROOT
from workloads import readiness

PROBED = [
    ("workloads.yaml", "consumer", "consumer"),
    ("workloads.yaml", "monitor", "monitor"),
    ("locust.yaml", "locust-worker", "locust"),
]


def container(docs: list[dict[str, Any]], deployment: str, name: str) -> dict[str, Any]:
    spec = km.pod_spec(km.find(docs, "Deployment", deployment)) or {}
    (c,) = [c for c in spec["containers"] if c["name"] == name]
    return c


def env(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in c.get("env") or []}


def platform() -> KubePlatform:
    return KubePlatform(mode="kind", dry_run=True, root=ROOT)


@pytest.mark.parametrize(("file", "deployment", "name"), PROBED)
def test_the_probe_reads_the_file_the_process_keeps_fresh(
    docs_by_file: dict[str, list[dict[str, Any]]], file: str, deployment: str, name: str
) -> None:
    docs = docs_by_file[file]
    c = container(docs, deployment, name)
    probe = c["readinessProbe"]
    assert probe["exec"]["command"] == ["/bin/sh", "-c", readiness.PROBE_COMMAND]
    assert probe["periodSeconds"] == 5
    assert env(c)[readiness.ENV] == readiness.DEFAULT_PATH
    # The file lives on the pod's writable emptyDir (the root filesystem is read-only).
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    mount = next(m for m in c["volumeMounts"] if m["mountPath"] == "/tmp")
    spec = km.pod_spec(km.find(docs, "Deployment", deployment)) or {}
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert "emptyDir" in volume
    assert readiness.DEFAULT_PATH.startswith("/tmp/")


def test_a_users_consumer_image_gets_no_probe_and_validates() -> None:
    for extra in ({}, {"instrument_image": "riverbed-instrument:dev"}):
        rendered = platform().render(image="w:1", consumer_image="team/consumer:7", **extra)
        docs = rendered[km.WORKLOADS]
        c = container(docs, "consumer", "consumer")
        assert c["image"] == "team/consumer:7"
        assert "readinessProbe" not in c, extra
        assert readiness.ENV not in env(c), extra
        # The monitor is still riverbed's, probe and all.
        assert "readinessProbe" in container(docs, "monitor", "monitor")
        for doc in docs:
            kv.validate(doc, kv.latest_version(), strict=True)


def test_the_reference_consumer_keeps_its_probe_when_rendered() -> None:
    docs = platform().render(image="w:1", consumers=5)[km.WORKLOADS]
    c = container(docs, "consumer", "consumer")
    assert c["readinessProbe"]["exec"]["command"][-1] == readiness.PROBE_COMMAND


def test_a_runs_locust_workers_keep_their_probe() -> None:
    from riverbed.spec import LoadSpec, RunSpec

    run = RunSpec("r", platform="kind", topic="t", load=LoadSpec(duration_s=60))
    docs = render_for_run(platform(), run, "x:1", 2)
    worker = container(docs, "locust-worker", "locust")
    assert worker["readinessProbe"]["exec"]["command"][-1] == readiness.PROBE_COMMAND
    assert env(worker)[readiness.ENV] == readiness.DEFAULT_PATH


def run_probe(path: Path) -> int:
    """The manifests' probe command, run here against ``path``."""
    command = readiness.PROBE_COMMAND.replace(readiness.DEFAULT_PATH, str(path))
    return subprocess.run(["/bin/sh", "-c", command], check=False, timeout=10).returncode


def test_the_probe_command_passes_only_on_a_fresh_file(tmp_path: Path) -> None:
    f = tmp_path / "ready"
    assert run_probe(f) != 0  # no file: not ready
    f.touch()
    assert run_probe(f) == 0
    old = time.time() - readiness.MAX_AGE_S - 1
    os.utime(f, (old, old))
    assert run_probe(f) != 0  # stale: the process stopped refreshing it
    ready = readiness.ReadyFile(f)  # a new incarnation removes what an old one left
    assert not f.exists()
    ready.mark(True)
    assert run_probe(f) == 0
    ready.mark(False)
    assert not f.exists() and run_probe(f) != 0
