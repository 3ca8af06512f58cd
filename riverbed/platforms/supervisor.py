"""The local platform's supervisor: consumer replicas kept alive like a Deployment.

Run as ``python -m riverbed.platforms.supervisor STATE_DIR``. It reconciles,
every 200 ms, the desired state (``desired.json``: how many consumer replicas)
with the running processes:

- replicas ``consumer-1`` … ``consumer-N`` each run ``python -m workloads.consumer``,
  or the user's ``consumer_cmd`` through ``/bin/sh -c`` (with the tutorial's
  environment, see :mod:`riverbed.user_consumer`);
- each replica runs in a process group of its own, so a signal reaches the
  whole process tree of a user's command, and a replica counts as running
  while any process of its group lives;
- a replica that dies (killed by a chaos action, crashed) is replaced by a new
  incarnation at once, which joins the group with a new identity, as a pod
  of a Deployment would; one that keeps dying within seconds of its start is
  restarted with a growing delay (up to 10 s), like Kubernetes' CrashLoopBackOff;
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
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riverbed.processes import (
    die_with_parent,
    group_alive,
    signal_group,
    spawn,
    wait_groups_gone,
)

TICK_S = 0.2
GRACE_S = 20.0
#: An incarnation that lives less than this is a crash at start-up (for the back-off).
QUICK_EXIT_S = 5.0
MAX_BACKOFF_S = 10.0


@dataclass
class Child:
    name: str
    incarnation: int
    proc: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.time)
    stopping: bool = False

    @property
    def pgid(self) -> int:
        """Each child leads a process group of its own (started in a new session)."""
        return self.proc.pid

    def send(self, sig: int) -> None:
        """Signal the child's whole process group (a stop request also continues a
        paused group: see :func:`riverbed.processes.signal_group`)."""
        signal_group(self.pgid, sig)

    def running(self) -> bool:
        """Whether the child or any process it started in its group still runs."""
        if self.proc.poll() is None:
            return True
        return group_alive(self.pgid)


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
        self.quick_exits: dict[str, int] = {}
        self.not_before: dict[str, float] = {}
        self.stopping = False
        self.events = (state_dir / "events.jsonl").open("a", buffering=1)

    # ---- desired state ---------------------------------------------------------------
    def desired_consumers(self) -> int:
        try:
            return int(json.loads((self.state_dir / "desired.json").read_text())["consumers"])
        except (OSError, ValueError, KeyError):
            return int(self.config["consumers"])

    @property
    def user_consumer(self) -> bool:
        return bool(self.config.get("consumer_cmd"))

    def bootstrap_servers(self, replica: str) -> str:
        """The replica's bootstrap servers: its own proxies when the platform runs with
        network faults (:mod:`riverbed.platforms.network`), else the brokers'."""
        network = self.config.get("network") or {}
        return str(
            network.get("replica_bootstrap", {}).get(replica) or self.config["bootstrap_servers"]
        )

    def consumer_command(self, replica: str) -> list[str]:
        c = self.config
        if self.user_consumer:
            return ["/bin/sh", "-c", str(c["consumer_cmd"])]
        cmd = [
            sys.executable,
            "-m",
            "workloads.consumer",
            "--bootstrap-servers",
            self.bootstrap_servers(replica),
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

    def spawn(self, name: str, cmd: list[str] | None = None) -> None:
        n = self.incarnations.get(name, 0) + 1
        self.incarnations[name] = n
        log = self.logs / f"{name}.{n}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cwd = None
        if cmd is None:
            cmd = self.consumer_command(name)
            if self.user_consumer:
                from riverbed.user_consumer import replica_env

                config = {**self.config, "bootstrap_servers": self.bootstrap_servers(name)}
                env.update(replica_env(config, name, n))
                cwd = self.config.get("consumer_cwd") or None
        # A process group of its own: kills reach the whole tree of a user's
        # command (a shell and what it started), and the terminal's Ctrl-C none.
        proc = spawn(
            cmd,
            log,
            env=env,
            cwd=Path(cwd) if cwd else Path.cwd(),
            preexec_fn=die_with_parent,
            inherit_env=False,
        )
        self.children[name] = Child(name, n, proc, log)
        self.event("start", replica=name, incarnation=n, pid=proc.pid, pgid=proc.pid)

    def reap(self) -> bool:
        """Forget children that exited (their whole process group); returns whether any did."""
        changed = False
        now = time.time()
        for name, child in list(self.children.items()):
            if child.running():
                continue
            rc = child.proc.returncode
            lived = now - child.started
            self.event(
                "exit",
                replica=name,
                incarnation=child.incarnation,
                pid=child.proc.pid,
                rc=rc,
                lived_s=round(lived, 3),
                log=str(child.log),
            )
            del self.children[name]
            changed = True
            if child.stopping or self.stopping:
                continue
            if lived < QUICK_EXIT_S:
                k = self.quick_exits.get(name, 0) + 1
                self.quick_exits[name] = k
                self.not_before[name] = now + min(MAX_BACKOFF_S, 0.5 * 2 ** (k - 1))
            else:
                self.quick_exits.pop(name, None)
                self.not_before.pop(name, None)
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
                        "pgid": c.pgid,
                        "incarnation": c.incarnation,
                        "started": c.started,
                        "log": str(c.log),
                    }
                    for name, c in sorted(self.children.items())
                    if name.startswith("consumer-")
                },
                "user_consumer": self.user_consumer,
                "monitor": (
                    {
                        "pid": self.children["monitor"].proc.pid,
                        "pgid": self.children["monitor"].pgid,
                    }
                    if "monitor" in self.children
                    else None
                ),
            },
        )

    def reconcile(self) -> None:
        want = self.desired_consumers()
        wanted = {f"consumer-{i}" for i in range(1, want + 1)}
        now = time.time()
        for name in sorted(wanted - set(self.children), key=lambda n: int(n.rsplit("-", 1)[1])):
            if now < self.not_before.get(name, 0.0):
                continue  # crash-looping: back off
            self.spawn(name)
        for name, child in self.children.items():
            if name.startswith("consumer-") and name not in wanted and not child.stopping:
                child.stopping = True
                child.send(signal.SIGTERM)
                self.event("scale-down", replica=name, pid=child.proc.pid)
        if "monitor" not in self.children and self.config.get("monitor", True):
            self.spawn("monitor", self.monitor_command())

    def shutdown(self) -> None:
        # Consumers first, gracefully, so they commit and leave the group; the
        # monitor last, so it records the group emptying.
        consumers = [c for n, c in self.children.items() if n != "monitor"]
        for c in consumers:
            c.stopping = True
            c.send(signal.SIGTERM)
        self._wait(consumers, GRACE_S)
        time.sleep(1.0)
        if "monitor" in self.children:
            mon = self.children["monitor"]
            mon.send(signal.SIGTERM)
            self._wait([mon], 10)
        self.reap()
        self.event("stopped")
        self.publish()

    def _wait(self, children: list[Child], timeout: float) -> None:
        """Wait for the children's process groups to end; SIGKILL what is left at ``timeout``."""

        def poll() -> None:  # reap the leaders that exited (a zombie leader is gone)
            for c in children:
                c.proc.poll()

        left = set(wait_groups_gone([c.pgid for c in children], timeout, poll=poll))
        for c in children:
            if c.pgid in left:
                c.send(signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    c.proc.wait(timeout=5)

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
