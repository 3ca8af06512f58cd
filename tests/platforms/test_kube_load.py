"""The in-cluster Locust of a kind/k8s run, as rendered (pure: no cluster is touched)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from riverbed.paths import PROJECT_ROOT
from riverbed.platforms.kube import KubePlatform
from riverbed.platforms.kube import render as km
from riverbed.platforms.kube.load import (
    _EXIT,
    EXIT_MARKER,
    PID_FILE,
    ClusterLocust,
    idle_after_exit,
    master_args,
    render_for_run,
    wrap,
)
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


def _local(script: str, pid_file: Path) -> str:
    """The wrapper's script runnable here: its own pid file, no /data, no idle."""
    script = script.replace("mkdir -p /data/run/locust; ", "").replace(PID_FILE, str(pid_file))
    return script.replace("exec sleep", "exit 0 #")


def test_the_wrapper_reports_locusts_exit_code_and_then_idles(tmp_path):
    command, args = wrap(["sh", "-c", "exit 3"], [], idle_s=900)
    assert command[2].endswith("exec sleep 900")
    out = subprocess.run(
        ["/bin/sh", "-c", _local(command[2], tmp_path / "pid"), "locust"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    match = _EXIT.search(out.stdout)
    assert match and match.group(1) == "3"


def test_an_early_stop_reaches_locust_as_sigint_and_waits_for_it_to_flush(tmp_path):
    """`kill -INT $(cat PID_FILE)` (what an interrupted run sends) reaches the wrapped
    program, which finishes its work (here: writes a file) before the marker appears."""
    pid_file, flushed = tmp_path / "pid", tmp_path / "flushed"
    program = (
        "import signal, sys, time\n"
        "def stop(*_):\n"
        "    time.sleep(0.5)\n"
        f"    open({str(flushed)!r}, 'w').write('all sends recorded')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGINT, stop)\n"
        "time.sleep(60)\n"
    )
    command, _ = wrap([sys.executable, "-c", program], [], idle_s=900)
    proc = subprocess.Popen(
        ["/bin/sh", "-c", _local(command[2], pid_file), "locust"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and pid_file.read_text().strip()):
            assert time.monotonic() < deadline, "the wrapper wrote no pid file"
            time.sleep(0.05)
        time.sleep(0.5)  # the program installs its handler
        subprocess.run(["/bin/sh", "-c", f"kill -INT $(cat {pid_file})"], check=True)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    match = _EXIT.search(out)
    assert match and match.group(1) == "0", out
    assert flushed.read_text() == "all sends recorded"


def test_a_finished_locust_idles_longer_than_the_rest_of_the_run_can_take():
    run = spec()
    run.experiments = ["a.json", "b.json"]
    run.drain_deadline_s = 600
    idle = idle_after_exit(run)
    assert idle >= 90 + 2 * 900 + 600 + 1800
    docs = render_for_run(KubePlatform(mode="kind", dry_run=True, root=PROJECT_ROOT), run, "x:1", 2)
    for name in ("locust-master", "locust-worker"):
        (c,) = km.pod_spec(km.find(docs, "Deployment", name))["containers"]
        assert c["command"][2].endswith(f"exec sleep {int(idle)}")


def test_an_early_stop_copies_the_evidence_before_deleting_anything(tmp_path):
    """The plan of ClusterLocust.stop(): the master is told to stop the test, the workers'
    outcomes and the master's report are copied, and only then are the Deployments
    deleted; a second stop or collect changes nothing."""
    kube = KubePlatform(mode="kind", dry_run=True, root=PROJECT_ROOT)
    load = ClusterLocust(kube, spec(), "riverbed-locust:t1", 2, tmp_path)
    load._started = True
    load.stop()
    load.stop()
    load.collect_into(tmp_path)
    verbs = [s.argv[5] if s.argv[3] == "-n" else s.argv[3] for s in kube.runner.commands()]
    assert verbs[0] == "exec" and "kill -INT" in kube.runner.commands()[0].argv[-1]
    assert verbs.index("delete") == len(verbs) - 1, verbs
    assert verbs.count("delete") == 1
    # The delete returns once the pods are gone, not only the Deployments.
    assert {"--cascade=foreground", "--wait=true"} <= set(kube.runner.commands()[-1].argv)
    # What it reads before deleting: the worker pods (to copy), the master pod (its report).
    assert verbs[1:-1] and set(verbs[1:-1]) <= {"get"}
