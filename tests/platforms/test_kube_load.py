"""The in-cluster Locust of a kind/k8s run, as rendered (pure: no cluster is touched)."""

from __future__ import annotations

import subprocess

from riverbed.paths import PROJECT_ROOT
from riverbed.platforms.kube import KubePlatform
from riverbed.platforms.kube import render as km
from riverbed.platforms.kube.load import _EXIT, EXIT_MARKER, master_args, render_for_run, wrap
from riverbed.spec import LoadSpec, RunSpec


def spec() -> RunSpec:
    load = LoadSpec(users=7, spawn_rate=3, duration_s=90, warmup_s=15, cooldown_s=10, workers=2)
    return RunSpec("r", platform="kind", topic="riverbed-events-9", load=load)


def test_the_master_runs_the_runs_shape_headless_and_waits_for_its_workers():
    args = master_args(spec(), workers=2)
    joined = " ".join(args)
    assert "--master --headless" in joined
    assert "--expect-workers 2" in joined
    assert "--warmup-s 15 --duration-s 65 --cooldown-s 10" in joined  # steady = 90 - 15 - 10
    assert "-u 7 -r 3" in joined
    assert "--kafka-topic $(KAFKA_TOPIC)" in joined


def test_the_rendered_deployments_are_wrapped_sized_and_on_the_runs_topic():
    kube = KubePlatform(mode="kind", dry_run=True, root=PROJECT_ROOT)
    docs = render_for_run(kube, spec(), "riverbed-locust:t1", workers=2)
    master = km.find(docs, "Deployment", "locust-master")
    worker = km.find(docs, "Deployment", "locust-worker")
    assert worker["spec"]["replicas"] == 2
    for doc in (master, worker):
        (c,) = km.pod_spec(doc)["containers"]
        assert c["image"] == "riverbed-locust:t1"
        assert c["command"][:2] == ["/bin/sh", "-c"] and EXIT_MARKER in c["command"][2]
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["KAFKA_TOPIC"] == "riverbed-events-9"
    (mc,) = km.pod_spec(master)["containers"]
    assert "readinessProbe" not in mc  # headless: no web UI to probe
    assert "--headless" in mc["args"]


def test_the_wrapper_reports_locusts_exit_code_and_then_idles():
    command, args = wrap(["sh", "-c", "exit 3"], [])
    # The real wrapper idles for minutes after the marker; replace the sleep for the test.
    script = command[2].replace("exec sleep", "exit 0 #")
    out = subprocess.run(
        ["/bin/sh", "-c", script.replace("mkdir -p /data/run/locust; ", ""), "locust"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    match = _EXIT.search(out.stdout)
    assert match and match.group(1) == "3"
