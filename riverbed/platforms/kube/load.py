"""Distributed Locust in the cluster for one run: a headless master and N workers.

``riverbed run --platform kind --locust-workers N`` drives the load from inside
the cluster (manifests/locust.yaml) instead of from this machine: the master
runs the run's load shape headless and waits for its N workers; every worker
produces straight to Kafka and records its send outcomes in its pod.

When Locust exits, its container must stay up for ``kubectl cp`` to copy the
evidence out (the run directory is an emptyDir, and a Deployment would restart
the container and start a second test), so the run renders each Locust command
inside a small shell wrapper that prints an exit marker and then idles for a
bounded time — longer than the run can last (:func:`idle_after_exit`). The
wrapper also records Locust's pid, so that a run that stops early (Ctrl-C, an
overrun) can tell the master to stop the test: it stops its users, the workers
flush every send outcome, and only then is the evidence copied out and the
Deployments deleted. :class:`ClusterLocust` watches the master's log for the marker.
"""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riverbed.platforms.kube import render as km

if TYPE_CHECKING:
    from riverbed.platforms.kube import KubePlatform
    from riverbed.spec import RunSpec

#: What the wrapped Locust prints when it exits; followed by its exit code.
EXIT_MARKER = "riverbed: locust exited with"
#: Where the wrapper writes Locust's pid (/tmp is an emptyDir in the Locust pods).
PID_FILE = "/tmp/riverbed-locust.pid"
#: How long an early stop waits for the master and the workers to exit (they flush first).
STOP_TIMEOUT_S = 120.0
MASTER = "locust-master"
WORKER = "locust-worker"
_EXIT = re.compile(re.escape(EXIT_MARKER) + r" (\d+)")


def wrap(command: list[str], args: list[str], idle_s: float) -> tuple[list[str], list[str]]:
    """``command args…`` run by sh, then the exit marker, then an idle of ``idle_s`` seconds.

    SIGINT or SIGTERM to the shell, or ``kill -INT $(cat PID_FILE)``, is passed on to
    Locust as SIGINT (it stops its users and flushes its evidence), and the shell waits
    for it to exit before printing the marker.
    """
    script = (
        f'mkdir -p /data/run/locust; {shlex.join(command)} "$@" & pid=$!; '
        f"echo $pid > {PID_FILE}; "
        "trap 'kill -INT $pid 2>/dev/null' INT TERM; "
        "wait $pid; rc=$?; "
        "while kill -0 $pid 2>/dev/null; do wait $pid; rc=$?; done; "
        f'echo "{EXIT_MARKER} $rc"; exec sleep {int(idle_s)}'
    )
    return ["/bin/sh", "-c", script, "locust"], list(args)


def idle_after_exit(spec: RunSpec) -> float:
    """How long a finished Locust container waits for its evidence to be copied out: longer
    than whatever of the run can follow the load (every experiment to its timeout, the
    drain to its deadline, stopping the consumers), plus half an hour, so the copy never
    finds a restarted container; yet bounded, so nothing idles forever."""
    from riverbed.chaos.runner import DEFAULT_TIMEOUT_S, INTERRUPT_GRACE_S

    experiments = len(spec.experiments) * (DEFAULT_TIMEOUT_S + INTERRUPT_GRACE_S)
    return spec.load.duration_s + experiments + spec.drain_deadline_s + 1800.0


def master_args(spec: RunSpec, workers: int) -> list[str]:
    """The headless master's arguments: the run's shape, rate, keys and body size."""
    load = spec.load
    steady = load.duration_s - load.warmup_s - load.cooldown_s
    return [
        "-f", "locustfiles/kafka_producer.py",
        "--master", "--headless", "--only-summary",
        "--expect-workers", str(workers),
        "--expect-workers-max-wait", "120",
        "--kafka-bootstrap", "$(KAFKA_BROKER)",
        "--kafka-topic", "$(KAFKA_TOPIC)",
        "--run-dir", "/data/run",
        "--key-space", str(load.key_space),
        "--body-bytes", str(load.body_bytes),
        "--user-rate", f"{load.user_rate:g}",
        "--shape", load.shape,
        "--warmup-s", f"{load.warmup_s:g}",
        "--duration-s", f"{steady:g}",
        "--cooldown-s", f"{load.cooldown_s:g}",
        "-u", str(load.users),
        "-r", f"{load.spawn_rate:g}",
        "--kafka-config", "metadata.max.age.ms=5000",
        "--html", "/data/run/locust/report.html",
        "--csv", "/data/run/locust/locust",
    ]  # fmt: skip


def render_for_run(
    kube: KubePlatform, spec: RunSpec, image: str, workers: int
) -> list[km.Manifest]:
    """manifests/locust.yaml as one run uses it: headless master, ``workers`` workers,
    the run's topic, both commands wrapped (see the module docstring)."""
    docs = kube.render(locust_image=image, locust_workers=workers, topic=spec.topic)[km.LOCUST]
    idle = idle_after_exit(spec)
    master = km.find(docs, "Deployment", MASTER)
    spec_m = km.pod_spec(master) or {}
    (container,) = spec_m["containers"]
    container["command"], container["args"] = wrap(["locust"], master_args(spec, workers), idle)
    # Headless: no web UI to probe.
    container.pop("readinessProbe", None)
    worker = km.find(docs, "Deployment", WORKER)
    (wc,) = (km.pod_spec(worker) or {})["containers"]
    wc["command"], wc["args"] = wrap(list(wc.get("command") or ["locust"]), list(wc["args"]), idle)
    return docs


class ClusterLocust:
    """The run's load, in the cluster. ``poll()`` is Locust's exit code once it exited.

    Its evidence goes to ``run_dir`` before its Deployments are deleted, however the
    load ends: at the end of its shape (:meth:`collect_into`), or early (:meth:`stop`).
    """

    def __init__(
        self, kube: KubePlatform, spec: RunSpec, image: str, workers: int, run_dir: Path
    ) -> None:
        self.kube = kube
        self.spec = spec
        self.image = image
        self.workers = workers
        self.run_dir = Path(run_dir)
        self.returncode: int | None = None
        self._next_check = 0.0
        self._started = False
        self._collected: list[Path] | None = None

    def start(self, timeout: float = 300.0) -> None:
        docs = render_for_run(self.kube, self.spec, self.image, self.workers)
        self._started = True
        self.kube.apply(docs)
        for name in (MASTER, WORKER):
            self.kube.wait_rollout(f"deployment/{name}", timeout)

    def poll(self) -> int | None:
        """None while Locust runs; its exit code once the master printed the marker.

        Reads the master's log at most every 2 s (poll is called far more often).
        """
        if self.returncode is not None or not self._started:
            return self.returncode
        now = time.monotonic()
        if now < self._next_check:
            return None
        self._next_check = now + 2.0
        result = self.kube.kubectl("logs", f"deployment/{MASTER}", "--tail=50", check=False)
        if match := _EXIT.search(result.stdout):
            self.returncode = int(match.group(1))
        return self.returncode

    def stop(self) -> None:
        """Stop the load now (an interrupted or overrunning run): the master stops the test,
        the workers flush their send outcomes, then everything is copied into the run
        directory, and only then are the Deployments deleted."""
        if not self._started or self._collected is not None:
            return
        if self.returncode is None:
            self._stop_test()
        self.collect_into(self.run_dir)

    def _stop_test(self) -> None:
        """SIGINT to the master's Locust (its workers stop with it); wait for every pod's exit
        marker, with a deadline (a pod that never says is copied as it is)."""
        self.kube.kubectl(
            "exec", f"deployment/{MASTER}", "--", "/bin/sh", "-c",
            f"kill -INT $(cat {PID_FILE})",
            check=False, timeout=60,
        )  # fmt: skip
        if self.kube.dry_run:
            return
        deadline = time.monotonic() + STOP_TIMEOUT_S
        pods = [p.name for p in self.kube.pods(LOCUST_SELECTOR)]
        while pods and time.monotonic() < deadline:
            pods = [pod for pod in pods if not self._exited(pod)]
            if pods:
                time.sleep(2.0)

    def _exited(self, pod: str) -> bool:
        result = self.kube.kubectl("logs", pod, "--tail=20", check=False, timeout=60)
        if match := _EXIT.search(result.stdout):
            if pod.startswith(MASTER):
                self.returncode = int(match.group(1))
            return True
        return not result.ok  # a pod gone cannot say more

    def collect_into(self, run_dir: Path) -> list[Path]:
        """Copy every worker's acks evidence (and the master's report) into ``run_dir``,
        then delete the Locust Deployments and wait for their pods to go (foreground
        deletion: nothing of the load is left when this returns). Once: a second call
        returns the first's copies."""
        if self._collected is not None:
            return self._collected
        copied = self.kube.fetch_locust_evidence(run_dir)
        self._fetch_master_report(run_dir)
        self._collected = copied
        self.kube.kubectl(
            "delete",
            "deployment",
            MASTER,
            WORKER,
            "--ignore-not-found",
            "--cascade=foreground",
            "--wait=true",
            "--timeout=120s",
            check=False,
            timeout=180,
        )
        self._started = False
        return copied

    def _fetch_master_report(self, run_dir: Path) -> None:
        pods = self.kube.pods("app.kubernetes.io/name=locust,app.kubernetes.io/component=master")
        for pod in pods:
            self.kube.kubectl(
                "cp",
                f"{self.kube.namespace}/{pod.name}:/data/run/locust",
                str(Path(run_dir) / "locust"),
                namespaced=False,
                check=False,
                timeout=120,
            )

    def describe(self) -> dict[str, Any]:
        return {"where": "cluster", "workers": self.workers, "image": self.image}


#: Every Locust pod of the run (master and workers).
LOCUST_SELECTOR = "app.kubernetes.io/name=locust"
