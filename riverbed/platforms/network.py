"""Network faults on the local platform: one Toxiproxy proxy per (consumer replica, broker).

Why proxies, and why one per replica and broker: a Kafka client does not keep
talking to the address it bootstrapped from; it asks for metadata and connects
to the addresses the brokers *advertise*. A proxy in front of the bootstrap
address alone would see the first request and nothing else. So a cluster
started for network faults (``proxy_slots``, :mod:`riverbed.kafka.cluster`)
has one extra listener per replica slot, ``REPLICA<r>``, whose advertised
address on broker ``i`` is the proxy ``consumer-<r>.broker-<i>``. Replica ``r``
bootstraps through its proxies and, told the proxies' addresses by every
broker, sends all its traffic through them: fetches, heartbeats, commits,
to every broker. Locust, the group monitor and the drains talk to the
brokers' own listener, untouched, so a fault cuts or slows one consumer's
real TCP connections and nothing else.

Toxiproxy (listening on 127.0.0.1 only) serves the proxies; riverbed starts
it with the workloads of a run that needs network faults and stops it with
them. The faults are Toxiproxy *toxics* added to a replica's proxies and
removed when the fault's duration is over (:mod:`riverbed.chaos.local.network`).

State (in the local platform's state directory)::

    <state>/toxiproxy.json   the proxies Toxiproxy creates at start
    <state>/toxiproxy.pid
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError
from riverbed.kafka.cluster import HOST, LocalKafkaCluster
from riverbed.processes import alive, settled_cmdline, spawn, terminate

#: Modules whose activities are network faults: a run using them needs network faults
#: (Toxiproxy and per-replica listeners locally, the netfault sidecar on Kubernetes).
NETWORK_MODULES = ("riverbed.chaos.local.network", "chaostoxi", "riverbed.chaos.kube.network")


def needs_network(experiments: list[str] | tuple[str, ...]) -> bool:
    """Whether any of the experiment files uses network faults."""
    from riverbed.chaos.validate import load_experiment
    from riverbed.errors import HarnessError

    for path in experiments:
        try:
            exp = load_experiment(path)
        except HarnessError:
            continue
        for activity in [
            *exp.get("method", []),
            *exp.get("rollbacks", []),
            *(exp.get("steady-state-hypothesis") or {}).get("probes", []),
        ]:
            module = str((activity.get("provider") or {}).get("module", ""))
            if module.startswith(NETWORK_MODULES):
                return True
    return False


def wanted_slots(consumers: int) -> int:
    """How many replica slots a run with ``consumers`` replicas asks the cluster for."""
    from riverbed.kafka.cluster import MAX_PROXY_SLOTS

    return max(1, min(MAX_PROXY_SLOTS, consumers))


def proxy_name(slot: int, broker_id: int) -> str:
    """The proxy of replica slot ``slot`` (``consumer-<slot>``) to broker ``broker_id``."""
    return f"consumer-{slot}.broker-{broker_id}"


def slot_of(replica: str) -> int | None:
    """The slot of a replica name (``consumer-2`` → 2), None for other names."""
    prefix, _, number = replica.rpartition("-")
    return int(number) if prefix == "consumer" and number.isdigit() else None


def proxies(cluster: LocalKafkaCluster, slots: int) -> list[dict[str, Any]]:
    """Toxiproxy's configuration: every replica slot's proxy to every broker."""
    return [
        {
            "name": proxy_name(r, i),
            "listen": f"{HOST}:{cluster.proxy_port(r, i)}",
            "upstream": f"{HOST}:{cluster.slot_port(r, i)}",
            "enabled": True,
        }
        for r in range(1, slots + 1)
        for i in cluster.broker_ids
    ]


class Toxiproxy:
    """The Toxiproxy server of a local platform (started, found, stopped through its state)."""

    def __init__(self, state_dir: Path, cluster: LocalKafkaCluster) -> None:
        self.state_dir = Path(state_dir)
        self.cluster = cluster

    @property
    def port(self) -> int:
        return self.cluster.toxiproxy_port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "toxiproxy.pid"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        if alive(pid) and "toxiproxy" in settled_cmdline(pid):
            return pid
        return None

    def start(self, slots: int, log: Path, timeout: float = 30.0) -> int:
        """Start the server with the proxies of ``slots`` replica slots; returns its pid.

        An error, before any consumer starts, when the cluster lacks the
        listeners, the server cannot be built or its port is taken.
        """
        from riverbed.kafka.cluster import port_in_use
        from riverbed.toxiproxy import resolve

        if slots < 1:
            raise HarnessError(
                f"The local Kafka cluster in {self.cluster.state_dir} has no per-replica "
                "listeners: network faults cannot reach the consumers' traffic.",
                fix="stop it with `riverbed down` (its data is kept) and run again: riverbed "
                "restarts it with the listeners network faults need.",
            )
        if (pid := self.pid()) is not None:
            raise HarnessError(
                f"A Toxiproxy server of this platform is already running (pid {pid}).",
                fix="stop the platform with `riverbed down` first.",
            )
        if port_in_use(self.port):
            raise HarnessError(
                f"Port {self.port} on {HOST} (the Toxiproxy API for network faults) is in use.",
                fix="stop whatever listens there, or `riverbed down` and start the cluster on "
                "another base port (RIVERBED_KAFKA_BASE_PORT).",
            )
        server = resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        config = self.state_dir / "toxiproxy.json"
        config.write_text(json.dumps(proxies(self.cluster, slots), indent=2) + "\n")
        proc = spawn(
            [str(server), "-host", HOST, "-port", str(self.port), "-config", str(config)],
            log,
            cwd=self.state_dir,
            # Toxiproxy logs every connection at trace level by default.
            env={"LOG_LEVEL": "info"},
        )
        self.pid_file.write_text(f"{proc.pid}\n")
        want = {p["name"] for p in proxies(self.cluster, slots)}
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise HarnessError(
                    f"Toxiproxy exited at start (exit {proc.returncode}); see {log}.",
                    fix="check the log; a port of the cluster's proxy range may be taken.",
                )
            try:
                if want <= set(self.request("GET", "/proxies")):
                    return proc.pid
            except HarnessError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise HarnessError(
                    f"Toxiproxy did not serve its {len(want)} proxies within {timeout:.0f}s; "
                    f"see {log}.",
                    fix="check the log; a port of the cluster's proxy range may be taken.",
                )
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the server (its proxies close every connection). Whether one ran."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        terminate(pid, timeout, kill_wait_s=5)
        self.pid_file.unlink(missing_ok=True)
        return True

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One call to the Toxiproxy API; the decoded JSON answer (None when empty)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                text = resp.read().decode()
        except urllib.error.HTTPError as exc:
            raise HarnessError(
                f"Toxiproxy answered {exc.code} to {method} {path}: {exc.read().decode()[:300]}",
                fix="see the run's logs/toxiproxy.log; `riverbed down` stops a Toxiproxy left "
                "from an earlier session.",
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise HarnessError(
                f"Toxiproxy at {self.url} does not answer ({exc}).",
                fix="network faults need a platform started with them (`riverbed up "
                "--network-faults`, or a run whose experiments use them).",
            ) from None
        return json.loads(text) if text.strip() else None
