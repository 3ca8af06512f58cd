"""Distributed Locust in the cluster for one run: a headless master and N workers.

``riverbed run --platform kind --locust-workers N`` drives the load from inside
the cluster (manifests/locust.yaml) instead of from this machine: the master
runs the run's load shape headless and waits for its N workers; every worker
produces straight to Kafka and records its send outcomes in its pod.

When Locust exits, its container must stay up for ``kubectl cp`` to copy the
evidence out (the run directory is an emptyDir, and a Deployment would restart
the container and start a second test), so the run renders each Locust command
inside a small shell wrapper that prints an exit marker and then idles for a
bounded time. :class:`ClusterLocust` watches the master's log for that marker.
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
#: How long a finished Locust container idles for the evidence to be copied out.
IDLE_AFTER_EXIT_S = 900
MASTER = "locust-master"
WORKER = "locust-worker"
_EXIT = re.compile(re.escape(EXIT_MARKER) + r" (\d+)")


def wrap(command: list[str], args: list[str]) -> tuple[list[str], list[str]]:
    """``command args…`` run by sh, then the exit marker, then a bounded idle."""
    script = (
        f'mkdir -p /data/run/locust; {shlex.join(command)} "$@"; rc=$?; '
        f'echo "{EXIT_MARKER} $rc"; exec sleep {IDLE_AFTER_EXIT_S}'
    )
    return ["/bin/sh", "-c", script, "locust"], list(args)


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
    master = km.find(docs, "Deployment", MASTER)
    spec_m = km.pod_spec(master) or {}
    (container,) = spec_m["containers"]
    container["command"], container["args"] = wrap(["locust"], master_args(spec, workers))
    # Headless: no web UI to probe.
    container.pop("readinessProbe", None)
    worker = km.find(docs, "Deployment", WORKER)
    (wc,) = (km.pod_spec(worker) or {})["containers"]
    wc["command"], wc["args"] = wrap(list(wc.get("command") or ["locust"]), list(wc["args"]))
    return docs


class ClusterLocust:
    """The run's load, in the cluster. ``poll()`` is Locust's exit code once it exited."""

    def __init__(self, kube: KubePlatform, spec: RunSpec, image: str, workers: int) -> None:
        self.kube = kube
        self.spec = spec
        self.image = image
        self.workers = workers
        self.returncode: int | None = None
        self._next_check = 0.0
        self._started = False

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
        """Stop the load now (an interrupted run): the evidence so far is copied out first."""
        if not self._started:
            return
        self.collect_into(None)

    def collect_into(self, run_dir: Path | None) -> list[Path]:
        """Copy every worker's acks evidence (and the master's report) into ``run_dir``,
        then delete the Locust Deployments."""
        copied: list[Path] = []
        if run_dir is not None:
            copied = self.kube.fetch_locust_evidence(run_dir)
            self._fetch_master_report(run_dir)
        self.kube.kubectl(
            "delete",
            "deployment",
            MASTER,
            WORKER,
            "--ignore-not-found",
            "--wait=true",
            "--timeout=120s",
            check=False,
            timeout=180,
        )
        self._started = False
        return copied

    def _fetch_master_report(self, run_dir: Path) -> None:
        from riverbed.platforms.kube import NAMESPACE

        pods = self.kube.pods("app.kubernetes.io/name=locust,app.kubernetes.io/component=master")
        for pod in pods:
            self.kube.kubectl(
                "cp",
                f"{NAMESPACE}/{pod.name}:/data/run/locust",
                str(Path(run_dir) / "locust"),
                namespaced=False,
                check=False,
                timeout=120,
            )

    def describe(self) -> dict[str, Any]:
        return {"where": "cluster", "workers": self.workers, "image": self.image}
