"""The local platform: a real Kafka cluster on 127.0.0.1 plus workload processes.

``LocalPlatform`` is the control side. It owns the local Kafka cluster
(:class:`~riverbed.kafka.cluster.LocalKafkaCluster`) and a supervisor process
(:mod:`riverbed.platforms.supervisor`) that keeps N consumer replicas and a
group monitor running for one run directory, as a Deployment would.

Everything it knows lives in its state directory, so another process — a
Chaos Toolkit action run by ``chaos run`` — can attach with
:meth:`LocalPlatform.current` and kill or scale the very replicas this run
started::

    <state>/platform.json   bootstrap servers, topic, group, run dir, consumer settings
    <state>/desired.json    desired replica count (written by scale, read by the supervisor)
    <state>/replicas.json   running replicas: pid and incarnation (written by the supervisor)
    <state>/events.jsonl    every start and exit the supervisor saw
    <state>/supervisor.pid
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError
from riverbed.kafka.cluster import LocalKafkaCluster
from riverbed.paths import state_dir as state_root
from riverbed.platforms.supervisor import write_json
from riverbed.processes import (
    alive,
    cmdline,
    environ,
    group_alive,
    group_members,
    settled_cmdline,
    signal_group,
    signal_pid,
    spawn,
    stopped,
    terminate,
)
from riverbed.user_consumer import UserConsumer

SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL, "SIGINT": signal.SIGINT}


def default_state_dir() -> Path:
    if env := os.environ.get("RIVERBED_LOCAL_STATE_DIR"):
        return Path(env).expanduser()
    return state_root() / "local"


class LocalPlatform:
    """Kafka on this machine and supervised workload processes for one run."""

    def __init__(
        self, state_dir: Path | str | None = None, kafka_state_dir: Path | str | None = None
    ) -> None:
        self.state_dir = Path(state_dir) if state_dir else default_state_dir()
        # The Kafka cluster's state directory: as `riverbed kafka` uses it.
        kafka_env = os.environ.get("RIVERBED_KAFKA_STATE_DIR")
        kafka_dir = kafka_state_dir or kafka_env
        self.kafka_state_dir = Path(kafka_dir) if kafka_dir else None

    # ---- attach ----------------------------------------------------------------------------
    @classmethod
    def current(cls, state_dir: Path | str | None = None) -> LocalPlatform:
        """The platform whose workloads are running now (for chaos actions)."""
        platform = cls(state_dir)
        if not (platform.state_dir / "platform.json").exists():
            raise HarnessError(
                f"No local platform in {platform.state_dir}.",
                fix="start one with `riverbed up` (or `riverbed run`).",
            )
        platform.kafka_state_dir = Path(platform.config["kafka_state_dir"])
        return platform

    @property
    def config(self) -> dict[str, Any]:
        return json.loads((self.state_dir / "platform.json").read_text())

    @property
    def kafka(self) -> LocalKafkaCluster:
        return LocalKafkaCluster.open(self.kafka_state_dir)

    @property
    def run_dir(self) -> Path:
        return Path(self.config["run_dir"])

    # ---- Kafka --------------------------------------------------------------------------------
    def kafka_up(
        self,
        brokers: int,
        progress: Any = None,
        base_port: int | None = None,
        proxy_slots: int = 0,
        say: Any = None,
    ) -> LocalKafkaCluster:
        """Start the local Kafka cluster (or find it running) with ``brokers`` nodes;
        ``proxy_slots`` per-replica listeners for network faults (see
        :mod:`riverbed.platforms.network`).

        A cluster riverbed started earlier without those listeners is restarted with
        them (its data kept; ``say`` tells the user), unless workloads of a session
        (`riverbed up`) still use it: then the error names the fix.
        """
        from riverbed.kafka.cluster import DEFAULT_BASE_PORT

        kwargs: dict[str, Any] = {"brokers": brokers, "proxy_slots": proxy_slots}
        if base_port is not None:
            kwargs["base_port"] = base_port
        else:
            kwargs["base_port"] = int(os.environ.get("RIVERBED_KAFKA_BASE_PORT", DEFAULT_BASE_PORT))
        cluster = LocalKafkaCluster(self.kafka_state_dir, **kwargs)
        # A restart would pull Kafka from under a session's consumers.
        restart = self.supervisor_pid() is None
        outcome = cluster.up(progress=progress or (lambda _: None), restart_for_listeners=restart)
        if outcome == "restarted" and say is not None:
            say(
                f"restarted the local Kafka cluster in {cluster.state_dir} with the per-replica "
                "listeners network faults need (it ran without them); its topics and data are "
                "kept"
            )
        self.kafka_state_dir = cluster.state_dir
        return cluster

    # ---- workloads ----------------------------------------------------------------------------
    def supervisor_pid(self) -> int | None:
        try:
            pid = int((self.state_dir / "supervisor.pid").read_text())
        except (OSError, ValueError):
            return None
        if alive(pid) and "riverbed.platforms.supervisor" in settled_cmdline(pid):
            return pid
        return None

    def start_workloads(
        self,
        run_dir: Path,
        bootstrap_servers: str,
        topic: str,
        group: str,
        consumers: int = 3,
        commit_mode: str | None = "after-process",
        assignor: str | None = "range",
        processing_ms: str | None = "2",
        consumer_args: list[str] | None = None,
        monitor: bool = True,
        user: UserConsumer | None = None,
        kafka: dict[str, Any] | None = None,
        network_faults: bool = False,
    ) -> int:
        """Start the supervisor (consumers + group monitor) writing evidence into ``run_dir``.

        ``user``: run the user's consumer command as the replicas instead of
        riverbed's reference consumer (``commit_mode``, ``assignor``,
        ``processing_ms`` and ``consumer_args`` are then unused).
        ``kafka``: where Kafka is when riverbed does not run it (``--platform
        external``): recorded in platform.json (``{"platform": "external", …}``; never
        a secret: the supervisor and its children get the connection settings from
        the environment, ``RIVERBED_KAFKA_CONFIG``).
        ``network_faults``: start Toxiproxy first and connect each replica (up to the
        cluster's listener slots) through its own proxies.
        """
        if (pid := self.supervisor_pid()) is not None:
            raise HarnessError(
                f"Local workloads are already running (supervisor pid {pid}) for "
                f"{self.config.get('run_dir')}.",
                fix="stop them with `riverbed down` first.",
            )
        java_agent = None
        if user is not None and user.needs_java_agent:
            from riverbed.jvm import agent_jar

            java_agent = str(agent_jar())
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("replicas.json", "desired.json", "events.jsonl", "paused.json"):
            with contextlib.suppress(OSError):
                (self.state_dir / stale).unlink()
        write_json(
            self.state_dir / "platform.json",
            {
                "kafka_state_dir": str(self.kafka_state_dir or LocalKafkaCluster().state_dir),
                "bootstrap_servers": bootstrap_servers,
                "run_dir": str(Path(run_dir).resolve()),
                "topic": topic,
                "group": group,
                "consumers": consumers,
                "commit_mode": commit_mode,
                "assignor": assignor,
                "processing_ms": processing_ms,
                "consumer_args": consumer_args or [],
                "consumer_cmd": user.cmd if user else None,
                "consumer_cwd": user.cwd if user else None,
                "consumer_evidence": user.evidence if user else "reference",
                "output_topic": user.output_topic if user else None,
                "java_agent": java_agent,
                "monitor": monitor,
                "t_start": time.time(),
                "platform": "local",
                **(kafka or {}),
            },
        )
        if network_faults:
            # Before any consumer starts: each connects through its own proxies.
            network = self._start_network(run_dir, consumers)
            config = json.loads((self.state_dir / "platform.json").read_text())
            write_json(self.state_dir / "platform.json", {**config, "network": network})
        write_json(self.state_dir / "desired.json", {"consumers": consumers})
        # Its own session: Ctrl-C in the terminal reaches riverbed, which
        # then stops the supervisor in order (graceful consumer shutdown).
        proc = spawn(
            [sys.executable, "-m", "riverbed.platforms.supervisor", str(self.state_dir)],
            Path(run_dir) / "logs" / "supervisor.log",
            cwd=Path.cwd(),
        )
        (self.state_dir / "supervisor.pid").write_text(f"{proc.pid}\n")
        return proc.pid

    # ---- network faults ------------------------------------------------------------------------
    @property
    def toxiproxy(self) -> Any:
        """This platform's Toxiproxy server (:class:`riverbed.platforms.network.Toxiproxy`)."""
        from riverbed.platforms.network import Toxiproxy

        return Toxiproxy(self.state_dir, self.kafka)

    def _start_network(self, run_dir: Path, consumers: int) -> dict[str, Any]:
        """Start Toxiproxy with every replica slot's proxies; what platform.json records."""
        cluster = self.kafka
        slots = cluster.proxy_slots
        pid = self.toxiproxy.start(slots, Path(run_dir) / "logs" / "toxiproxy.log")
        return {
            "toxiproxy_url": self.toxiproxy.url,
            "toxiproxy_port": cluster.toxiproxy_port,
            "toxiproxy_pid": pid,
            "slots": slots,
            # Replicas past the slots (a scale-out beyond them) connect directly.
            "replica_bootstrap": {
                f"consumer-{r}": cluster.proxied_bootstrap(r) for r in range(1, slots + 1)
            },
        }

    def network(self) -> dict[str, Any] | None:
        """What platform.json says of the network faults (None: started without them)."""
        try:
            return self.config.get("network")
        except (OSError, ValueError):
            return None

    def replicas(self) -> dict[str, dict[str, Any]]:
        """Running consumer replicas: name → {pid, pgid, incarnation, started, log}."""
        try:
            data = json.loads((self.state_dir / "replicas.json").read_text())
        except (OSError, ValueError):
            return {}
        return {n: r for n, r in data.get("replicas", {}).items() if replica_running(r)}

    def wait_replicas(
        self, count: int, timeout: float = 30.0, exclude_pids: set[int] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Wait until ``count`` replicas run (none of them with a pid in ``exclude_pids``)."""
        deadline = time.monotonic() + timeout
        while True:
            reps = self.replicas()
            live = {n: r for n, r in reps.items() if int(r["pid"]) not in (exclude_pids or set())}
            if len(live) == count and len(reps) == count:
                return live
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"Expected {count} consumer replicas within {timeout:.0f}s, found {sorted(reps)}.",
                    fix=f"see {self.state_dir / 'events.jsonl'} and the run's logs/.",
                )
            time.sleep(0.1)

    def kill_consumers(
        self,
        count: int = 1,
        signal_name: str = "SIGKILL",
        names: list[str] | None = None,
        seed: int | None = None,
    ) -> list[str]:
        """Signal consumer replicas (random ones, or by name); returns the names hit.

        The supervisor replaces each killed replica with a new incarnation.
        """
        if signal_name.upper() not in SIGNALS:
            raise HarnessError(
                f"Unknown signal {signal_name!r}.", fix=f"use one of {', '.join(SIGNALS)}."
            )
        sig = SIGNALS[signal_name.upper()]
        reps = self.replicas()
        targets = pick_replicas(reps, count, names, seed)
        return [name for name in targets if signal_replica(reps[name], sig)]

    # ---- pauses --------------------------------------------------------------------------------
    def pause_consumers(
        self, count: int = 1, names: list[str] | None = None, seed: int | None = None
    ) -> list[str]:
        """Freeze consumer replicas (SIGSTOP to each one's whole process group): the
        processes live on, holding their partitions and the records they fetched,
        but neither process nor heartbeat. Returns the names paused.

        The supervisor does not replace a paused replica (it is not dead); what is
        paused is remembered in ``paused.json`` until :meth:`resume_consumers`.
        """
        reps = self.replicas()
        targets = pick_replicas(reps, count, names, seed)
        paused = self._paused()
        hit = []
        for name in targets:
            # Remembered first: a resume must find every group that may be stopped.
            paused[name] = {
                "pid": reps[name]["pid"],
                "pgid": reps[name].get("pgid"),
                "t": time.time(),
            }
            write_json(self.state_dir / "paused.json", paused)
            if signal_replica(reps[name], signal.SIGSTOP):
                hit.append(name)
        return hit

    def resume_consumers(self, names: list[str] | None = None) -> list[str]:
        """Let paused replicas continue (SIGCONT): ``names``, or every one paused.

        Also continues any replica found stopped that ``paused.json`` does not
        list (a pause whose bookkeeping was lost), so that nothing is left frozen.
        Returns the names resumed.
        """
        paused = self._paused()
        wanted = set(names) if names else None
        resumed = []
        for name, entry in sorted(paused.items()):
            if wanted is not None and name not in wanted:
                continue
            if signal_replica(entry, signal.SIGCONT):
                resumed.append(name)
            paused.pop(name)
        for name, rep in sorted(self.replicas().items()):
            chosen = (wanted is None or name in wanted) and name not in resumed
            if chosen and any(stopped(pid) for pid in _replica_pids(rep)):
                signal_replica(rep, signal.SIGCONT)
                resumed.append(name)
        if (self.state_dir / "paused.json").exists() or paused:
            write_json(self.state_dir / "paused.json", paused)
        return resumed

    def paused_consumers(self) -> list[str]:
        """Replicas paused now (listed in ``paused.json`` and still running)."""
        return sorted(n for n, e in self._paused().items() if replica_running(e))

    def _paused(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads((self.state_dir / "paused.json").read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def scale_consumers(
        self, replicas: int, wait: bool = True, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Set the desired number of consumer replicas; the supervisor starts or stops some."""
        if replicas < 0:
            raise HarnessError(f"replicas must be 0 or more, got {replicas}.")
        before = len(self.replicas())
        write_json(self.state_dir / "desired.json", {"consumers": replicas})
        if wait:
            self.wait_replicas(replicas, timeout=timeout)
        return {"before": before, "after": replicas}

    def stop_workloads(self, timeout: float = 60.0) -> bool:
        """Stop the supervisor, which stops every consumer gracefully and then the
        monitor. Returns whether anything was running."""
        pid = self.supervisor_pid()
        if pid is None:
            self._kill_strays()
            self._stop_network()
            return False
        # Paused replicas continue first: a stopped process cannot stop gracefully.
        self.resume_consumers()
        terminate(pid, timeout)
        self._kill_strays()
        self._stop_network()
        with contextlib.suppress(OSError):
            (self.state_dir / "supervisor.pid").unlink()
        return True

    def _stop_network(self) -> None:
        """Stop Toxiproxy after the consumers (they close through their proxies)."""
        if (self.state_dir / "toxiproxy.pid").exists():
            with contextlib.suppress(HarnessError, OSError, ValueError):
                self.toxiproxy.stop()

    def _kill_strays(self) -> None:
        """Workload processes that outlived their supervisor (should not happen:
        they die with it; this is the belt to those braces)."""
        try:
            data = json.loads((self.state_dir / "replicas.json").read_text())
        except (OSError, ValueError):
            return
        entries = list(data.get("replicas", {}).values())
        if data.get("monitor"):
            entries.append(data["monitor"])
        try:
            run_dir = str(self.config.get("run_dir", ""))
        except (OSError, ValueError):
            run_dir = ""
        for entry in entries:
            pid = int(entry["pid"])
            pgid = entry.get("pgid")
            if pgid and group_alive(int(pgid)):
                # A user's command runs anything: only a group whose processes carry
                # this run's environment is ours to kill.
                if any(_of_run(m, run_dir) for m in group_members(int(pgid))):
                    signal_group(int(pgid), signal.SIGKILL)
            elif alive(pid) and "workloads." in settled_cmdline(pid):
                signal_pid(pid, signal.SIGKILL)


def pick_replicas(
    reps: dict[str, dict[str, Any]], count: int, names: list[str] | None, seed: int | None
) -> list[str]:
    """The replicas a fault hits: ``names`` (each must run), else ``count`` picked at
    random among the running ones (``seed`` makes the pick repeatable)."""
    if names:
        unknown = [n for n in names if n not in reps]
        if unknown:
            raise HarnessError(
                f"No running consumer replica named {', '.join(unknown)}; running: "
                f"{', '.join(sorted(reps)) or 'none'}.",
                fix="use a name from the running replicas, or omit names to pick at random.",
            )
        return list(names)
    if count < 1:
        raise HarnessError(f"count must be at least 1, got {count}.")
    return random.Random(seed).sample(sorted(reps), min(count, len(reps)))


def _replica_pids(replica: dict[str, Any]) -> list[int]:
    if replica.get("pgid"):
        return group_members(int(replica["pgid"]))
    return [int(replica["pid"])]


def replica_running(replica: dict[str, Any]) -> bool:
    """Whether a replica of ``replicas.json`` runs (a paused one does): any process of
    its group, else its pid."""
    if replica.get("pgid"):
        return group_alive(int(replica["pgid"]))
    return alive(int(replica["pid"]))


def signal_replica(replica: dict[str, Any], sig: int) -> bool:
    """Signal a replica: its whole process group (a user's command and everything it
    started), else its pid. False when it is gone."""
    if replica.get("pgid"):
        return signal_group(int(replica["pgid"]), sig)
    return signal_pid(int(replica["pid"]), sig)


def _of_run(pid: int, run_dir: str) -> bool:
    """Whether process ``pid`` is a workload of this platform: riverbed's own (by its
    command line) or a user's consumer of the run in ``run_dir`` (by its environment)."""
    if "workloads." in cmdline(pid):
        return True
    return bool(run_dir) and environ(pid).get("RIVERBED_RUN_DIR") == run_dir
