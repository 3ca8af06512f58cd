"""A real Apache Kafka cluster on 127.0.0.1: KRaft nodes that are both broker and controller.

The cluster owns its lifecycle and its logs (as kafkatest services do). Its
state directory holds everything, so any process can pick the cluster up again
from it::

    <state>/cluster.json            cluster id, broker count, ports, heap, version
    <state>/broker-<id>/server.properties, log4j2.properties
    <state>/broker-<id>/data/       log.dirs and the KRaft metadata log
    <state>/broker-<id>/server.log  the broker's Log4j log
    <state>/broker-<id>/stdout.log  the JVM's stdout/stderr (crashes land here)
    <state>/broker-<id>/broker.pid

Node ids are 1..N.  Broker ``i`` listens for clients on ``base_port + i - 1``
and for the controller quorum on ``base_port + 100 + i - 1``; the quorum is
static (``controller.quorum.voters``), every node is formatted with the same
cluster id, and internal topics' replication factor fits the broker count.

With ``sasl_ssl_users`` the brokers also listen for SASL_SSL clients on
``base_port + 200 + i - 1`` (TLS with a CA made for the cluster in ``<state>/tls/``,
SASL/PLAIN and SCRAM-SHA-256/512 for the given users), as a staging cluster
would: the way to try ``riverbed run --platform external`` on one machine.
Brokers still talk to each other over PLAINTEXT.

Network faults (``proxy_slots`` > 0) add one listener per consumer replica slot
``r`` (1..8): ``REPLICA<r>`` on ``base_port + 20 + 10(r-1) + i - 1``, advertised
as that replica's proxy for broker ``i`` on ``base_port + 120 + 10(r-1) + i - 1``
(Toxiproxy, API on ``base_port + 110``). A client that bootstraps through a
replica's proxies learns the proxies as the brokers' addresses, so all of that
replica's traffic, and nobody else's, passes them (see
:mod:`riverbed.platforms.network`). Everything stays in the cluster's 200-port range.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from riverbed.errors import BadInput, HarnessError
from riverbed.kafka.distribution import KafkaDistribution, resolve
from riverbed.kafka.tls import TlsFiles, ensure_tls
from riverbed.paths import state_dir as default_state_root
from riverbed.processes import (
    alive,
    find,
    port_holder,
    settled_cmdline,
    signal_pid,
    spawn,
    stopped,
    terminate,
    wait_gone,
)

HOST = "127.0.0.1"
DEFAULT_BASE_PORT = 19092
CONTROLLER_PORT_OFFSET = 100
#: Broker ``i``'s SASL_SSL listener (when enabled) is on ``base_port + 200 + i - 1``.
SASL_SSL_PORT_OFFSET = 200
#: The SASL mechanisms the SASL_SSL listener offers.
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
DEFAULT_HEAP = "512m"
#: Per-replica listener slots a cluster can have (network faults), and their port layout.
MAX_PROXY_SLOTS = 8
SLOT_PORT_OFFSET = 20
PROXY_PORT_OFFSET = 120
TOXIPROXY_PORT_OFFSET = 110

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class BrokerStatus:
    """What ``riverbed kafka status`` shows for one broker."""

    id: int
    """KRaft node id (1..N)."""
    pid: int | None
    """Process id of the running JVM, ``None`` when it is not running."""
    port: int
    """Client (PLAINTEXT) listener port on 127.0.0.1."""
    controller_port: int
    """Controller quorum listener port on 127.0.0.1."""
    up: bool
    """The JVM process is alive."""
    answers: bool | None
    """The broker answered a metadata request (``None`` when not checked)."""


def default_state_dir() -> Path:
    return default_state_root() / "kafka"


def kafka_uuid() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding.

    Like Kafka's own ``Uuid.randomUuid()``, never one that starts with ``-``:
    command-line tools (the storage tool among them) would take it for an option.
    """
    import base64

    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def ephemeral_port_floor(default: int = 32768) -> int:
    """The lowest port the kernel hands out to outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def cluster_ports(
    base: int, brokers: int, proxy_slots: int = 0, sasl_ssl: bool = False
) -> list[int]:
    """Every port a cluster on ``base`` uses: client and controller listeners, with
    ``proxy_slots`` the replica listeners, their proxies and the Toxiproxy API, and with
    ``sasl_ssl`` the SASL_SSL listeners."""
    ports = [base + i for i in range(brokers)]
    ports += [base + CONTROLLER_PORT_OFFSET + i for i in range(brokers)]
    for r in range(proxy_slots):
        ports += [base + SLOT_PORT_OFFSET + 10 * r + i for i in range(brokers)]
        ports += [base + PROXY_PORT_OFFSET + 10 * r + i for i in range(brokers)]
    if proxy_slots:
        ports.append(base + TOXIPROXY_PORT_OFFSET)
    if sasl_ssl:
        ports += [base + SASL_SSL_PORT_OFFSET + i for i in range(brokers)]
    return ports


def free_base_port(
    brokers: int = 3,
    start: int = 20092,
    step: int = 300,
    proxy_slots: int = 0,
    sasl_ssl: bool = False,
) -> int:
    """A base port at or above ``start`` whose ports (:func:`cluster_ports`) are all free.

    Candidates stay below the kernel's ephemeral range: a port there that is
    free now may be taken a moment later as the local end of some client's
    connection, and the broker would fail to bind it. They are tried in a
    random order, so that two test sessions started at the same moment are
    unlikely to pick the same range.
    """
    import random

    ceiling = ephemeral_port_floor() - step
    candidates = list(range(start, ceiling, step)) or list(range(start, 60000, step))
    random.shuffle(candidates)
    for base in candidates:
        if not any(port_in_use(p) for p in cluster_ports(base, brokers, proxy_slots, sasl_ssl)):
            return base
    raise HarnessError(
        "No free port range found on 127.0.0.1 for a local Kafka cluster.",
        fix="stop local Kafka clusters no longer needed (`riverbed kafka down`), or give a "
        "base port yourself (--base-port, RIVERBED_KAFKA_BASE_PORT).",
    )


def _tail(path: Path, lines: int = 20, width: int = 300) -> str:
    """The last ``lines`` lines of a log, each cut to ``width`` characters."""
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(line if len(line) <= width else line[:width] + " …" for line in text)
    except OSError:
        return f"(no {path.name})"


class LocalKafkaCluster:
    """A local Apache Kafka cluster of ``brokers`` combined broker+controller nodes.

    Construct it with the settings for a new cluster, or use :meth:`open` to
    attach to the cluster an earlier process created in ``state_dir``.
    """

    def __init__(
        self,
        state_dir: Path | str | None = None,
        brokers: int = 3,
        base_port: int = DEFAULT_BASE_PORT,
        heap: str = DEFAULT_HEAP,
        config: dict[str, str] | None = None,
        sasl_ssl_users: dict[str, str] | None = None,
        proxy_slots: int = 0,
    ) -> None:
        """``sasl_ssl_users``: user name → password of the SASL_SSL listener (None: no
        such listener). A cluster started earlier keeps the listener it was created with."""
        if brokers < 1:
            raise HarnessError(f"--brokers must be at least 1, got {brokers}.")
        if not 0 <= proxy_slots <= MAX_PROXY_SLOTS:
            raise HarnessError(
                f"A local cluster has 0 to {MAX_PROXY_SLOTS} per-replica listener slots, "
                f"got {proxy_slots}."
            )
        self.proxy_slots = proxy_slots
        self.state_dir = Path(state_dir) if state_dir else default_state_dir()
        self.brokers = brokers
        self.base_port = base_port
        self.heap = heap
        self.config = dict(config or {})
        self.sasl_ssl_users = dict(sasl_ssl_users) if sasl_ssl_users else None
        for name, password in (self.sasl_ssl_users or {}).items():
            # Kafka's storage tool reads SCRAM credentials as name=…,password="…" and the
            # JAAS line quotes with ": neither may hold these characters.
            if not name or not password or any(c in name + password for c in ',"[]\\=\n'):
                raise HarnessError(
                    f"SASL user {name!r}: names and passwords must be non-empty and free of "
                    "commas, quotes, brackets, backslashes and '='.",
                    fix="pick another user name or password.",
                )
        self._dist: KafkaDistribution | None = None
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    # ---- identity -------------------------------------------------------------------------
    @classmethod
    def open(cls, state_dir: Path | str | None = None) -> LocalKafkaCluster:
        """Attach to the cluster described by ``<state_dir>/cluster.json``."""
        sd = Path(state_dir) if state_dir else default_state_dir()
        meta = sd / "cluster.json"
        if not meta.exists():
            raise HarnessError(
                f"No local Kafka cluster in {sd}.", fix="start one with `riverbed kafka up`."
            )
        data = json.loads(meta.read_text())
        return cls(
            sd,
            data["brokers"],
            data["base_port"],
            data["heap"],
            data.get("config"),
            (data.get("sasl_ssl") or {}).get("users"),
            proxy_slots=int(data.get("proxy_slots") or 0),
        )

    @property
    def broker_ids(self) -> list[int]:
        return list(range(1, self.brokers + 1))

    def port(self, broker_id: int) -> int:
        return self.base_port + broker_id - 1

    def controller_port(self, broker_id: int) -> int:
        return self.base_port + CONTROLLER_PORT_OFFSET + broker_id - 1

    def address(self, broker_id: int) -> str:
        return f"{HOST}:{self.port(broker_id)}"

    # ---- per-replica listeners (network faults) ------------------------------------------
    def slot_port(self, slot: int, broker_id: int) -> int:
        """Broker ``broker_id``'s listener for replica slot ``slot`` (1-based)."""
        return self.base_port + SLOT_PORT_OFFSET + 10 * (slot - 1) + broker_id - 1

    def proxy_port(self, slot: int, broker_id: int) -> int:
        """Where replica slot ``slot``'s proxy for broker ``broker_id`` listens (advertised)."""
        return self.base_port + PROXY_PORT_OFFSET + 10 * (slot - 1) + broker_id - 1

    @property
    def toxiproxy_port(self) -> int:
        """The port of the Toxiproxy API that serves this cluster's replica proxies."""
        return self.base_port + TOXIPROXY_PORT_OFFSET

    def proxied_bootstrap(self, slot: int) -> str:
        """Bootstrap servers of replica slot ``slot``: its proxies, one per broker."""
        return ",".join(f"{HOST}:{self.proxy_port(slot, i)}" for i in self.broker_ids)

    @property
    def bootstrap_servers(self) -> str:
        """Comma-separated ``host:port`` of every broker, for any Kafka client."""
        return ",".join(self.address(i) for i in self.broker_ids)

    # ---- the SASL_SSL listener ----------------------------------------------------------------
    def sasl_ssl_port(self, broker_id: int) -> int:
        return self.base_port + SASL_SSL_PORT_OFFSET + broker_id - 1

    @property
    def sasl_ssl_bootstrap_servers(self) -> str:
        """``host:port`` of every broker's SASL_SSL listener (an error when there is none)."""
        self._need_sasl_ssl()
        return ",".join(f"{HOST}:{self.sasl_ssl_port(i)}" for i in self.broker_ids)

    @property
    def tls(self) -> TlsFiles:
        """The cluster's CA and broker keystore (made at the first start)."""
        return TlsFiles(self.state_dir / "tls")

    def sasl_ssl_client_settings(
        self, user: str | None = None, mechanism: str = "PLAIN"
    ) -> dict[str, str]:
        """Client settings (librdkafka / Java names) for the SASL_SSL listener as ``user``
        (default: the first user), trusting the cluster's CA."""
        users = self._need_sasl_ssl()
        name = user or next(iter(users))
        if mechanism not in SASL_MECHANISMS:
            raise HarnessError(
                f"The SASL_SSL listener offers {', '.join(SASL_MECHANISMS)}, not {mechanism}."
            )
        return {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": mechanism,
            "sasl.username": name,
            "sasl.password": users[name],
            "ssl.ca.location": str(self.tls.ca_cert),
        }

    def _need_sasl_ssl(self) -> dict[str, str]:
        if not self.sasl_ssl_users:
            raise HarnessError(
                f"The local cluster in {self.state_dir} has no SASL_SSL listener.",
                fix="create it with a SASL_SSL listener: `riverbed kafka down --purge`, then "
                "`riverbed kafka up --sasl-ssl-user USER=PASSWORD`.",
            )
        return self.sasl_ssl_users

    def broker_dir(self, broker_id: int) -> Path:
        return self.state_dir / f"broker-{broker_id}"

    def log_path(self, broker_id: int) -> Path:
        return self.broker_dir(broker_id) / "server.log"

    def _check_id(self, broker_id: int) -> None:
        if broker_id not in self.broker_ids:
            raise BadInput(
                f"There is no broker {broker_id}: this cluster's brokers are "
                f"{', '.join(map(str, self.broker_ids))}.",
                fix="use an id from `riverbed kafka status`.",
            )

    @property
    def cluster_id(self) -> str | None:
        meta = self.state_dir / "cluster.json"
        if meta.exists():
            return json.loads(meta.read_text())["cluster_id"]
        return None

    @property
    def distribution(self) -> KafkaDistribution:
        if self._dist is None:
            self._dist = resolve()
        return self._dist

    # ---- processes --------------------------------------------------------------------------
    def pid(self, broker_id: int) -> int | None:
        """The pid of broker ``broker_id``'s JVM, or ``None``.

        A pid file whose process is gone, or whose pid now belongs to some other
        program, is stale: it is removed and the broker counts as down.
        """
        pid_file = self.broker_dir(broker_id) / "broker.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        props = str(self.broker_dir(broker_id) / "server.properties")
        if alive(pid) and "kafka.Kafka" in (cmd := settled_cmdline(pid)) and props in cmd:
            return pid
        with contextlib.suppress(OSError):
            pid_file.unlink()
        return None

    def running(self) -> list[int]:
        return [i for i in self.broker_ids if self.pid(i) is not None]

    def status(self, check_metadata: bool = True) -> list[BrokerStatus]:
        out = []
        for i in self.broker_ids:
            pid = self.pid(i)
            answers = None
            if check_metadata:
                answers = pid is not None and self.broker_answers(
                    i, timeout_s=3, whole_cluster=False
                )
            out.append(
                BrokerStatus(
                    i, pid, self.port(i), self.controller_port(i), pid is not None, answers
                )
            )
        return out

    # ---- set-up -----------------------------------------------------------------------------
    def _write_meta(self, cluster_id: str) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "cluster.json").write_text(
            json.dumps(
                {
                    "cluster_id": cluster_id,
                    "brokers": self.brokers,
                    "base_port": self.base_port,
                    "heap": self.heap,
                    "config": self.config,
                    "proxy_slots": self.proxy_slots,
                    "kafka_version": self.distribution.version,
                    "bootstrap_servers": self.bootstrap_servers,
                    # The brokers' own configuration holds these too (server.properties).
                    "sasl_ssl": {"users": self.sasl_ssl_users} if self.sasl_ssl_users else None,
                },
                indent=2,
            )
            + "\n"
        )

    def server_properties(self, broker_id: int) -> dict[str, str]:
        """The broker's configuration. Internal topics' replication fits the broker count."""
        rf = min(3, self.brokers)
        min_isr = min(2, rf)
        voters = ",".join(f"{i}@{HOST}:{self.controller_port(i)}" for i in self.broker_ids)
        listeners = [
            f"PLAINTEXT://{HOST}:{self.port(broker_id)}",
            f"CONTROLLER://{HOST}:{self.controller_port(broker_id)}",
        ]
        advertised = [f"PLAINTEXT://{HOST}:{self.port(broker_id)}"]
        protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
        for r in range(1, self.proxy_slots + 1):
            # Replica r's own listener, advertised as its proxy: whoever bootstraps
            # through the proxy is told the proxies' addresses for every broker.
            listeners.append(f"REPLICA{r}://{HOST}:{self.slot_port(r, broker_id)}")
            advertised.append(f"REPLICA{r}://{HOST}:{self.proxy_port(r, broker_id)}")
            protocols.append(f"REPLICA{r}:PLAINTEXT")
        if self.sasl_ssl_users:
            listeners.append(f"SASL_SSL://{HOST}:{self.sasl_ssl_port(broker_id)}")
            advertised.append(f"SASL_SSL://{HOST}:{self.sasl_ssl_port(broker_id)}")
            protocols.append("SASL_SSL:SASL_SSL")
        props = {
            "process.roles": "broker,controller",
            "node.id": str(broker_id),
            "controller.quorum.voters": voters,
            "listeners": ",".join(listeners),
            "advertised.listeners": ",".join(advertised),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": ",".join(protocols),
            "log.dirs": str(self.broker_dir(broker_id) / "data"),
            "offsets.topic.replication.factor": str(rf),
            # Fewer internal partitions than the default 50: the first consumer
            # group then comes up in well under a second on a small machine.
            "offsets.topic.num.partitions": "12",
            "transaction.state.log.replication.factor": str(rf),
            "transaction.state.log.min.isr": str(min_isr),
            "transaction.state.log.num.partitions": "12",
            "share.coordinator.state.topic.replication.factor": str(rf),
            "share.coordinator.state.topic.min.isr": str(min_isr),
            "default.replication.factor": str(rf),
            "min.insync.replicas": "1",
            "num.partitions": "1",
            # riverbed creates its topics explicitly, with the partition count
            # the run asks for; a typo must not silently create a topic.
            "auto.create.topics.enable": "false",
            "group.initial.rebalance.delay.ms": "0",
            # The consumer protocol (KIP-848) is on by default in Kafka 4.x
            # (group.coordinator.rebalance.protocols includes "consumer"); only its
            # bounds differ. Its session timeout and heartbeat interval are the
            # broker's, per group (group configs consumer.session.timeout.ms and
            # consumer.heartbeat.interval.ms). Kafka's minimums (45 s and 5 s) would
            # forbid the 10 s session and 3 s heartbeat riverbed gives classic
            # consumers; these minimums match the classic protocol's (6 s), so that
            # both protocols can be run with the same timings and compared.
            "group.consumer.min.session.timeout.ms": "6000",
            "group.consumer.min.heartbeat.interval.ms": "1000",
            "unclean.leader.election.enable": "false",
            "num.network.threads": "2",
            "num.io.threads": "4",
        }
        if self.sasl_ssl_users:
            props.update(self._sasl_ssl_properties(broker_id))
        props.update(self.config)
        return props

    def _sasl_ssl_properties(self, broker_id: int) -> dict[str, str]:
        """The SASL_SSL listener: TLS from the cluster's PEM keystore, SASL/PLAIN with the
        users in the JAAS configuration, SCRAM with the credentials formatted into the
        metadata log (``--add-scram``)."""
        users = self.sasl_ssl_users or {}
        plain_users = " ".join(f'user_{name}="{password}"' for name, password in users.items())
        prefix = "listener.name.sasl_ssl."
        # The listener itself is in server_properties' listener lists.
        return {
            f"{prefix}sasl.enabled.mechanisms": ",".join(SASL_MECHANISMS),
            f"{prefix}plain.sasl.jaas.config": "org.apache.kafka.common.security.plain."
            f"PlainLoginModule required {plain_users};",
            f"{prefix}scram-sha-256.sasl.jaas.config": "org.apache.kafka.common.security.scram."
            "ScramLoginModule required;",
            f"{prefix}scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram."
            "ScramLoginModule required;",
            f"{prefix}ssl.keystore.type": "PEM",
            f"{prefix}ssl.keystore.location": str(self.tls.broker_keystore),
        }

    def _log4j_properties(self, broker_id: int) -> str:
        log = self.log_path(broker_id)
        return (
            "status = warn\n"
            "appender.file.type = RollingFile\n"
            "appender.file.name = file\n"
            f"appender.file.fileName = {log}\n"
            f"appender.file.filePattern = {log}.%i\n"
            "appender.file.layout.type = PatternLayout\n"
            "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
            "appender.file.policies.type = Policies\n"
            "appender.file.policies.size.type = SizeBasedTriggeringPolicy\n"
            "appender.file.policies.size.size = 50MB\n"
            "appender.file.strategy.type = DefaultRolloverStrategy\n"
            "appender.file.strategy.max = 3\n"
            "rootLogger.level = INFO\n"
            "rootLogger.appenderRef.file.ref = file\n"
            "logger.kafka.name = kafka\nlogger.kafka.level = INFO\n"
            "logger.request.name = kafka.request.logger\nlogger.request.level = WARN\n"
        )

    def _write_config(self, broker_id: int) -> Path:
        d = self.broker_dir(broker_id)
        (d / "data").mkdir(parents=True, exist_ok=True)
        props = d / "server.properties"
        props.write_text(
            "".join(f"{k}={v}\n" for k, v in self.server_properties(broker_id).items())
        )
        (d / "log4j2.properties").write_text(self._log4j_properties(broker_id))
        return props

    def _formatted_cluster_id(self, broker_id: int) -> str | None:
        meta = self.broker_dir(broker_id) / "data" / "meta.properties"
        if not meta.exists():
            return None
        for line in meta.read_text().splitlines():
            if line.startswith("cluster.id="):
                return line.split("=", 1)[1].strip()
        return None

    def _format(self, broker_id: int, cluster_id: str) -> None:
        found = self._formatted_cluster_id(broker_id)
        if found == cluster_id:
            return
        if found is not None:
            raise HarnessError(
                f"{self.broker_dir(broker_id) / 'data'} is formatted for Kafka cluster {found}, "
                f"but this state directory's cluster id is {cluster_id}.",
                fix="remove the stale data with `riverbed kafka down --purge` "
                "or use a fresh --state-dir.",
            )
        dist = self.distribution
        props = self._write_config(broker_id)
        scram = [
            arg
            for name, password in (self.sasl_ssl_users or {}).items()
            for mechanism in SASL_MECHANISMS
            if mechanism.startswith("SCRAM")
            for arg in ("--add-scram", f'{mechanism}=[name={name},password="{password}"]')
        ]
        proc = subprocess.run(
            [
                dist.java,
                "-Xmx256m",
                f"-Dlog4j2.configurationFile={self.broker_dir(broker_id) / 'log4j2.properties'}",
                "-cp",
                dist.classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(props),
                *scram,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise HarnessError(
                f"Formatting broker {broker_id}'s storage failed:\n{proc.stdout}{proc.stderr}",
                fix="start afresh with `riverbed kafka down --purge` (it deletes the local "
                "cluster's data), or use another --state-dir.",
            )

    def _check_ports(self, broker_id: int) -> None:
        wanted = [
            (self.port(broker_id), "client listener"),
            (self.controller_port(broker_id), "controller listener"),
        ]
        if self.sasl_ssl_users:
            wanted.append((self.sasl_ssl_port(broker_id), "SASL_SSL listener"))
        wanted += [
            (self.slot_port(r, broker_id), f"listener for replica slot {r}")
            for r in range(1, self.proxy_slots + 1)
        ]
        for port, what in wanted:
            if port_in_use(port):
                holder = port_holder(port)
                raise HarnessError(
                    f"Port {port} on {HOST} (broker {broker_id}'s {what}) is already in use"
                    + (f" by {holder}" if holder else "")
                    + ".",
                    fix="stop that process, or move the cluster to other ports: "
                    "RIVERBED_KAFKA_BASE_PORT=N for `riverbed run` / `up` / `campaign`, or "
                    "`riverbed kafka up --base-port N` "
                    f"(this cluster uses {self.base_port}..{self.base_port + self.brokers - 1} "
                    f"and {self.controller_port(1)}..{self.controller_port(self.brokers)}).",
                )

    # ---- lifecycle ------------------------------------------------------------------------------
    def up(
        self,
        timeout: float = 180.0,
        progress: Progress = _quiet,
        restart_for_listeners: bool = False,
    ) -> str:
        """Start every broker that is not running and wait until all answer metadata.

        Returns ``"running"`` when the cluster was already up, ``"started"`` otherwise,
        and ``"restarted"`` when it ran without the per-replica listeners asked for
        (``proxy_slots``) and ``restart_for_listeners`` let it stop the brokers
        (a controlled shutdown; the data is kept) and start them again with them.
        Without ``restart_for_listeners`` such a cluster is an error naming the fix.
        """
        restarted = False
        meta = self.state_dir / "cluster.json"
        if meta.exists():
            data = json.loads(meta.read_text())
            differs = (data["brokers"], data["base_port"]) != (self.brokers, self.base_port)
            if differs:
                if self.running_any_from(data):
                    raise HarnessError(
                        f"A {data['brokers']}-broker cluster on base port {data['base_port']} is running "
                        f"from {self.state_dir}; you asked for {self.brokers} brokers on {self.base_port}.",
                        fix="stop it first with `riverbed kafka down`, or use another --state-dir.",
                    )
                raise HarnessError(
                    f"{self.state_dir} holds a {data['brokers']}-broker cluster on base port "
                    f"{data['base_port']}; you asked for {self.brokers} brokers on {self.base_port}.",
                    fix="remove it with `riverbed kafka down --purge`, or use another --state-dir.",
                )
            cluster_id = data["cluster_id"]
            # A broker restarted through another object keeps what the cluster was made with.
            self.config = self.config or dict(data.get("config") or {})
            stored = (data.get("sasl_ssl") or {}).get("users")
            self.sasl_ssl_users = self.sasl_ssl_users or (dict(stored) if stored else None)
            has = int(data.get("proxy_slots") or 0)
            if self.proxy_slots > has and self.running():
                if not restart_for_listeners:
                    raise HarnessError(
                        f"The local Kafka cluster in {self.state_dir} is running without the "
                        f"per-replica listeners network faults need ({has} slots, "
                        f"{self.proxy_slots} wanted).",
                        fix="stop it with `riverbed down` (its data is kept) and run again: "
                        "riverbed then starts it with the listeners.",
                    )
                # Listeners are broker configuration: only a restart adds them. A
                # controlled shutdown of every broker keeps every topic and offset.
                progress(
                    f"restarting Kafka with the per-replica listeners network faults need "
                    f"({has} → {self.proxy_slots} slots; data kept)"
                )
                self.down()
                restarted = True
            # A cluster with more slots than asked for serves a run that asks for fewer.
            self.proxy_slots = max(self.proxy_slots, has)
        else:
            cluster_id = kafka_uuid()

        to_start = [i for i in self.broker_ids if self.pid(i) is None]
        if not to_start:
            self.wait_ready(timeout=timeout, progress=progress)
            return "running"
        progress(f"resolving Apache Kafka {self.distribution.version}")
        for i in to_start:
            self._check_ports(i)
        if self.sasl_ssl_users:
            progress("making the SASL_SSL listener's CA and broker certificate")
            ensure_tls(self.tls.directory)
        self._write_meta(cluster_id)
        for i in to_start:
            progress(f"formatting broker {i}")
            self._format(i, cluster_id)
        try:
            for i in to_start:
                self._spawn(i)
            self.wait_ready(timeout=timeout, progress=progress)
        except BaseException:
            # Interrupted (Ctrl-C) or failed while starting: a half-started
            # cluster is of no use to anyone, so stop the brokers this call started.
            for i in to_start:
                with contextlib.suppress(Exception):
                    self.kill_broker(i)
            raise
        return "restarted" if restarted else "started"

    @staticmethod
    def running_any_from(data: dict[str, object]) -> bool:
        """Whether a cluster described by another cluster.json still has a live broker."""
        base = int(str(data["base_port"]))
        return any(port_in_use(base + i) for i in range(int(str(data["brokers"]))))

    def _spawn(self, broker_id: int) -> int:
        dist = self.distribution
        d = self.broker_dir(broker_id)
        props = self._write_config(broker_id)
        cmd = [
            dist.java,
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            # Two cores are shared by every broker: keep the JVMs from each
            # spinning up a full complement of GC and JIT threads.
            "-XX:ParallelGCThreads=2",
            "-XX:ConcGCThreads=1",
            "-XX:CICompilerCount=2",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={d / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={d}",
            "-cp",
            dist.classpath,
            "kafka.Kafka",
            str(props),
        ]
        # Its own session (processes.spawn): the broker outlives the CLI that started
        # it and does not get the terminal's Ctrl-C.
        proc = spawn(cmd, d / "stdout.log", cwd=d, env={"PYTHONUNBUFFERED": "1"})
        self._children[broker_id] = proc
        (d / "broker.pid").write_text(f"{proc.pid}\n")
        return proc.pid

    def start_broker(
        self, broker_id: int, wait: bool = True, timeout: float = 120.0, progress: Progress = _quiet
    ) -> str:
        """(Re)start one broker; returns ``"running"`` if it already was."""
        self._check_id(broker_id)
        if self.pid(broker_id) is not None:
            return "running"
        cluster_id = self.cluster_id
        if cluster_id is None:
            raise HarnessError(
                f"No local Kafka cluster in {self.state_dir}.", fix="run `riverbed kafka up` first."
            )
        self._check_ports(broker_id)
        self._format(broker_id, cluster_id)
        self._spawn(broker_id)
        if wait:
            self.wait_ready([broker_id], timeout=timeout, progress=progress)
        return "started"

    def _signal(self, broker_id: int, sig: int) -> int | None:
        pid = self.pid(broker_id)
        if pid is None:
            return None
        # A stop request to a paused broker is followed by SIGCONT (processes.signal_pid).
        signal_pid(pid, sig)
        return pid

    def pause_broker(self, broker_id: int) -> int | None:
        """Freeze one broker (SIGSTOP): alive, holding its sockets, answering nothing.

        Its peers see a stalled node, not a dead one: requests to it time out,
        the controller fences it once its broker session expires and moves
        leadership to the other in-sync replicas. Returns the pid, or ``None``
        if the broker was not running. :meth:`resume_broker` undoes it.
        """
        self._check_id(broker_id)
        return self._signal(broker_id, signal.SIGSTOP)

    def resume_broker(self, broker_id: int) -> int | None:
        """Let a paused broker continue (SIGCONT); harmless for a running one."""
        self._check_id(broker_id)
        return self._signal(broker_id, signal.SIGCONT)

    def paused(self) -> list[int]:
        """The brokers that are stopped (SIGSTOP) now."""
        return [i for i in self.broker_ids if (pid := self.pid(i)) is not None and stopped(pid)]

    def _reap(self, broker_id: int) -> None:
        child = self._children.pop(broker_id, None)
        if child is not None:
            with contextlib.suppress(Exception):
                child.wait(timeout=5)

    def _poll(self, *broker_ids: int) -> None:
        """Reap the brokers' JVMs this object started, once they exited (else they
        stay zombies, which count as gone but hold their pid)."""
        for bid in broker_ids:
            if (child := self._children.get(bid)) is not None:
                child.poll()

    def _wait_gone(self, pids: dict[int, int], timeout: float) -> list[int]:
        """Wait until the brokers' JVMs exited; the broker ids still alive at ``timeout``."""
        left = set(wait_gone(pids.values(), timeout, poll=lambda: self._poll(*pids)))
        return [bid for bid, pid in pids.items() if pid in left]

    def stop_broker(self, broker_id: int, timeout: float = 60.0) -> int | None:
        """Stop one broker cleanly (SIGTERM: controlled shutdown, leadership moves
        away first). Escalates to SIGKILL after ``timeout`` seconds. Returns the
        pid that was stopped, or ``None`` if it was not running."""
        self._check_id(broker_id)
        pid = self.pid(broker_id)
        if pid is None:
            return None
        terminate(pid, timeout, poll=lambda: self._poll(broker_id))
        self._reap(broker_id)
        self._remove_pid_file(broker_id)
        return pid

    def kill_broker(self, broker_id: int) -> int | None:
        """Kill one broker hard (SIGKILL: no controlled shutdown, no flush)."""
        self._check_id(broker_id)
        pid = self._signal(broker_id, signal.SIGKILL)
        if pid is None:
            return None
        self._wait_gone({broker_id: pid}, 10)
        self._reap(broker_id)
        self._remove_pid_file(broker_id)
        return pid

    def _remove_pid_file(self, broker_id: int) -> None:
        with contextlib.suppress(OSError):
            (self.broker_dir(broker_id) / "broker.pid").unlink()

    def down(self, timeout: float = 30.0, purge: bool = False) -> list[int]:
        """Stop every broker (SIGTERM to all at once, SIGKILL after ``timeout``) and
        make sure no JVM of this cluster is left. Returns the pids stopped.

        With ``purge`` the state directory (data and logs) is removed as well.
        """
        pids = {}
        if self.state_dir.exists():
            for i in self.broker_ids:
                if (pid := self._signal(i, signal.SIGTERM)) is not None:
                    pids[i] = pid
            # Signalling every node at once matters: stopped one by one, the last
            # nodes wait for a controller quorum that no longer exists.
            for bid in self._wait_gone(pids, timeout):
                self._signal(bid, signal.SIGKILL)
            self._wait_gone(pids, 10)
            for i in self.broker_ids:
                self._reap(i)
                self._remove_pid_file(i)
            for pid in self._strays():
                signal_pid(pid, signal.SIGKILL)
        if purge:
            import shutil

            shutil.rmtree(self.state_dir, ignore_errors=True)
        return list(pids.values())

    def _strays(self) -> list[int]:
        """JVMs started from this state directory that no pid file points to."""
        marker = str(self.state_dir / "broker-")
        return find(lambda cmd: "kafka.Kafka" in cmd and marker in cmd)

    # ---- readiness -----------------------------------------------------------------------------
    def broker_answers(
        self, broker_id: int, timeout_s: float = 5.0, whole_cluster: bool = True
    ) -> bool:
        """Whether this broker itself answers a metadata request (an open port is
        not enough) and, with ``whole_cluster``, reports every broker unfenced."""
        from kafka.admin import KafkaAdminClient

        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        admin = None
        try:
            # Bootstrapping sends a metadata request to exactly this address.
            admin = KafkaAdminClient(
                bootstrap_servers=self.address(broker_id),
                request_timeout_ms=int(timeout_s * 1000),
                bootstrap_timeout_ms=int(timeout_s * 1000),
                client_id="riverbed-readiness",
            )
            info = admin.describe_cluster()
            ids = {b["broker_id"] for b in info["brokers"] if not b.get("is_fenced")}
            return set(self.broker_ids) <= ids if whole_cluster else broker_id in ids
        except Exception:
            return False
        finally:
            if admin is not None:
                with contextlib.suppress(Exception):
                    admin.close()

    def wait_ready(
        self,
        broker_ids: Iterable[int] | None = None,
        timeout: float = 180.0,
        progress: Progress = _quiet,
    ) -> None:
        """Wait until every listed broker (default: all) answers metadata requests
        and sees the whole cluster. On timeout, or when a JVM dies while we wait,
        raise with the tail of that broker's log."""
        waiting = list(broker_ids) if broker_ids is not None else self.broker_ids
        t0 = time.monotonic()
        ready: set[int] = set()
        while True:
            for i in waiting:
                if i in ready:
                    continue
                if self.pid(i) is None:
                    raise HarnessError(
                        f"Broker {i} exited while starting. Last lines of its logs:\n"
                        + _tail(self.broker_dir(i) / "stdout.log", 15)
                        + "\n"
                        + _tail(self.log_path(i)),
                        fix=f"see {self.broker_dir(i)} for the full logs.",
                    )
                if self.broker_answers(i, timeout_s=3):
                    ready.add(i)
            elapsed = time.monotonic() - t0
            progress(
                f"waiting for brokers to answer metadata: {len(ready)}/{len(waiting)} ready "
                f"({elapsed:.0f}s)"
            )
            if len(ready) == len(waiting):
                return
            if elapsed > timeout:
                laggard = next(i for i in waiting if i not in ready)
                raise HarnessError(
                    f"Broker {laggard} did not answer metadata requests within {timeout:.0f}s. "
                    f"Last lines of {self.log_path(laggard)}:\n{_tail(self.log_path(laggard))}",
                    fix="check the log above; on a loaded machine raise the timeout or lower --heap.",
                )
            time.sleep(0.5)

    # ---- admin ------------------------------------------------------------------------------------
    def admin(self, **configs: object):  # -> KafkaAdminClient
        from kafka.admin import KafkaAdminClient

        return KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, **configs)

    def create_topic(
        self,
        name: str,
        partitions: int = 3,
        replication_factor: int | None = None,
        min_insync_replicas: int | None = None,
        config: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Create a topic (replication defaults to min(3, brokers), min.insync.replicas
        to min(2, replication)) and wait until every partition has a leader."""
        from riverbed.kafka.admin import create_topic

        rf = replication_factor or min(3, self.brokers)
        create_topic(
            self.bootstrap_servers,
            name,
            partitions=partitions,
            replication_factor=rf,
            min_insync_replicas=min_insync_replicas or min(2, rf),
            config=config,
            timeout=timeout,
        )
