"""``kubectl port-forward`` that survives the pod it forwards to being killed.

On an existing cluster (``--platform k8s``) the host reaches Kafka through
one forward per broker: host ``127.0.0.1:1909(2+i)`` → pod ``kafka-i`` port
9094, the port whose listener advertises exactly ``127.0.0.1:1909(2+i)``.
A forward dies with its pod, and chaos experiments kill broker pods, so a
watchdog restarts any forward that exits until the forwarder is stopped.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from riverbed.errors import HarnessError
from riverbed.platforms.kube.commands import Runner

#: Seconds between a forward's exit and its restart (the pod may still be starting).
RESTART_DELAY_S = 1.0


@dataclass(frozen=True)
class Forward:
    """Host ``127.0.0.1:local_port`` → ``target`` (``pod/kafka-0``, ``service/producer``) ``remote_port``."""

    target: str
    local_port: int
    remote_port: int


class PortForwarder:
    """Runs one ``kubectl port-forward`` per :class:`Forward` and keeps them running."""

    def __init__(
        self,
        runner: Runner,
        kubectl: Sequence[str],
        forwards: Sequence[Forward],
        log_dir: Path | None = None,
    ) -> None:
        self.runner = runner
        self.kubectl = list(kubectl)
        self.forwards = list(forwards)
        self.log_dir = log_dir
        self._procs: dict[Forward, subprocess.Popen[bytes] | None] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.restarts = 0

    def argv(self, fwd: Forward) -> list[str]:
        return [
            *self.kubectl,
            "port-forward",
            "--address",
            "127.0.0.1",
            fwd.target,
            f"{fwd.local_port}:{fwd.remote_port}",
        ]

    def _start_one(self, fwd: Forward) -> None:
        log = None
        if self.log_dir is not None:
            log = self.log_dir / f"port-forward-{fwd.local_port}.log"
        self._procs[fwd] = self.runner.start(self.argv(fwd), log=log)

    def start(self, timeout: float = 30.0) -> None:
        """Start every forward and wait until each local port accepts connections."""
        for fwd in self.forwards:
            self._start_one(fwd)
        if self.runner.dry_run:
            return
        self._thread = threading.Thread(target=self._watch, name="port-forward", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        for fwd in self.forwards:
            while not _accepts(fwd.local_port):
                if time.monotonic() > deadline:
                    self.stop()
                    raise HarnessError(
                        f"`kubectl port-forward {fwd.target} {fwd.local_port}:{fwd.remote_port}` "
                        f"did not open 127.0.0.1:{fwd.local_port} within {timeout:.0f}s.",
                        fix="check that the pods run (`kubectl -n riverbed get pods`) and that "
                        f"nothing else listens on port {fwd.local_port}.",
                    )
                time.sleep(0.2)

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            for fwd, proc in list(self._procs.items()):
                if proc is not None and proc.poll() is not None and not self._stop.is_set():
                    time.sleep(RESTART_DELAY_S)
                    if not self._stop.is_set():
                        self.restarts += 1
                        self._start_one(fwd)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for proc in self._procs.values():
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        self._procs.clear()

    def __enter__(self) -> PortForwarder:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _accepts(port: int) -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
