"""The local platform's supervisor: consumer replicas kept alive like a Deployment.

Run as ``python -m riverbed.platforms.supervisor STATE_DIR``. It reconciles,
every 200 ms, the desired state (``desired.json``: how many consumer replicas)
with the running processes:

- replicas ``consumer-1`` … ``consumer-N`` each run ``python -m workloads.consumer``;
  a replica that dies (killed by a chaos action, crashed) is replaced by a new
  incarnation at once, which joins the group with a new identity, as a pod
  of a Deployment would;
- scaling down stops the highest-numbered replicas with SIGTERM;
- one group monitor (``python -m workloads.monitor``) runs beside them.

It publishes what runs in ``replicas.json`` (replica → pid, incarnation) so
chaos actions in other processes can find their targets, logs every start and
exit to ``events.jsonl``, and writes each incarnation's output to the run's
``logs/`` directory. On SIGTERM it stops every child gracefully (SIGTERM, then
SIGKILL after a grace period) and exits; its children get SIGTERM should the
supervisor itself die (PR_SET_PDEATHSIG), so no process is left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICK_S = 0.2
GRACE_S = 20.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    incarnation: int
    proc: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.time)
    stopping: bool = False


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


class Supervisor:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.config = json.loads((state_dir / "platform.json").read_text())
        self.run_dir = Path(self.config["run_dir"])
        self.logs = self.run_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.children: dict[str, Child] = {}
        self.incarnations: dict[str, int] = {}
        self.stopping = False
        self.events = (state_dir / "events.jsonl").open("a", buffering=1)

    # ---- desired state ---------------------------------------------------------------
    def desired_consumers(self) -> int:
        try:
            return int(json.loads((self.state_dir / "desired.json").read_text())["consumers"])
        except (OSError, ValueError, KeyError):
            return int(self.config["consumers"])

    def consumer_command(self, replica: str) -> list[str]:
        c = self.config
        cmd = [
            sys.executable,
            "-m",
            "workloads.consumer",
            "--bootstrap-servers",
            c["bootstrap_servers"],
            "--topic",
            c["topic"],
            "--group",
            c["group"],
            "--replica",
            replica,
            "--evidence-dir",
            str(self.run_dir / "evidence"),
            "--commit-mode",
            c["commit_mode"],
            "--assignor",
            c["assignor"],
            "--processing-ms",
            str(c["processing_ms"]),
        ]
        cmd += [str(a) for a in c.get("consumer_args", [])]
        return cmd

    def monitor_command(self) -> list[str]:
        c = self.config
        return [
            sys.executable,
            "-m",
            "workloads.monitor",
            "--bootstrap-servers",
            c["bootstrap_servers"],
            "--group",
            c["group"],
            "--topic",
            c["topic"],
            "--out",
            str(self.run_dir / "evidence" / "group.jsonl"),
            "--interval",
            str(c.get("monitor_interval_s", 0.5)),
        ]

    # ---- processes ---------------------------------------------------------------------
    def event(self, what: str, **fields: Any) -> None:
        self.events.write(json.dumps({"t": time.time(), "event": what, **fields}) + "\n")

    def spawn(self, name: str, cmd: list[str]) -> None:
        n = self.incarnations.get(name, 0) + 1
        self.incarnations[name] = n
        log = self.logs / f"{name}.{n}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.children[name] = Child(name, n, proc, log)
        self.event("start", replica=name, incarnation=n, pid=proc.pid)

    def reap(self) -> bool:
        """Forget children that exited; returns whether any did."""
        changed = False
        for name, child in list(self.children.items()):
            rc = child.proc.poll()
            if rc is not None:
                self.event(
                    "exit", replica=name, incarnation=child.incarnation, pid=child.proc.pid, rc=rc
                )
                del self.children[name]
                changed = True
        return changed

    def publish(self) -> None:
        write_json(
            self.state_dir / "replicas.json",
            {
                "supervisor": os.getpid(),
                "t": time.time(),
                "desired": self.desired_consumers(),
                "replicas": {
                    name: {
                        "pid": c.proc.pid,
                        "incarnation": c.incarnation,
                        "started": c.started,
                        "log": str(c.log),
                    }
                    for name, c in sorted(self.children.items())
                    if name.startswith("consumer-")
                },
                "monitor": (
                    {"pid": self.children["monitor"].proc.pid}
                    if "monitor" in self.children
                    else None
                ),
            },
        )

    def reconcile(self) -> None:
        want = self.desired_consumers()
        wanted = {f"consumer-{i}" for i in range(1, want + 1)}
        for name in sorted(wanted - set(self.children), key=lambda n: int(n.rsplit("-", 1)[1])):
            self.spawn(name, self.consumer_command(name))
        for name, child in self.children.items():
            if name.startswith("consumer-") and name not in wanted and not child.stopping:
                child.stopping = True
                child.proc.send_signal(signal.SIGTERM)
                self.event("scale-down", replica=name, pid=child.proc.pid)
        if "monitor" not in self.children and self.config.get("monitor", True):
            self.spawn("monitor", self.monitor_command())

    def shutdown(self) -> None:
        # Consumers first, gracefully, so they commit and leave the group; the
        # monitor last, so it records the group emptying.
        consumers = [c for n, c in self.children.items() if n != "monitor"]
        for c in consumers:
            with contextlib.suppress(ProcessLookupError):
                c.proc.send_signal(signal.SIGTERM)
        self._wait([c.proc for c in consumers], GRACE_S)
        time.sleep(1.0)
        if "monitor" in self.children:
            mon = self.children["monitor"].proc
            with contextlib.suppress(ProcessLookupError):
                mon.send_signal(signal.SIGTERM)
            self._wait([mon], 10)
        self.reap()
        self.event("stopped")
        self.publish()

    def _wait(self, procs: list[subprocess.Popen[bytes]], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.event("supervisor-start", pid=os.getpid())
        while not self.stopping:
            self.reap()
            if not self.stopping:
                self.reconcile()
            self.publish()
            time.sleep(TICK_S)
        self.shutdown()

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopping = True


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m riverbed.platforms.supervisor STATE_DIR", file=sys.stderr)
        raise SystemExit(2)
    Supervisor(Path(args[0])).run()


if __name__ == "__main__":
    main()
