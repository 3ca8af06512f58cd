"""``riverbed kafka …``: the local Apache Kafka cluster."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.table import Table

from riverbed.console import err, harness_errors, out, progress
from riverbed.errors import BadInput, HarnessError
from riverbed.kafka.cluster import DEFAULT_BASE_PORT, DEFAULT_HEAP, LocalKafkaCluster
from riverbed.kafka.distribution import KAFKA_VERSION, resolve

state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="RIVERBED_KAFKA_STATE_DIR",
    default=None,
    help="Where the cluster keeps its data, logs and pid files "
    "[default ~/.local/state/riverbed/kafka].",
)


def _parse_config(values: tuple[str, ...]) -> dict[str, str]:
    from workloads.settings_core import parse_key_values

    try:
        return parse_key_values(values, what="item", split=False)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--config") from None


def _heap(value: str) -> str:
    import re

    if not re.fullmatch(r"\d+[kmgKMG]?", value):
        raise click.BadParameter(f"{value!r} is not a JVM heap size like 512m or 1g")
    return value


@click.group()
def kafka() -> None:
    """Run a real Apache Kafka cluster on 127.0.0.1 (KRaft, from Maven Central jars).

    \b
    riverbed kafka up --brokers 3     start (or find running) a 3-node cluster
    riverbed kafka bootstrap          print bootstrap servers, for scripts
    riverbed kafka kill 2             SIGKILL broker 2;  `start 2` brings it back
    riverbed kafka down               stop everything, leave no process behind
    """


@kafka.command("resolve")
@harness_errors
def resolve_command() -> None:
    """Download the pinned Apache Kafka jars from Maven Central into the cache (once)."""
    t0 = time.monotonic()
    with progress(f"resolving Apache Kafka {KAFKA_VERSION} from Maven Central") as update:
        dist = resolve(on_progress=lambda name: update(f"downloading {name}"))
    err.print(f"Apache Kafka {dist.version}: {dist.libs} ({time.monotonic() - t0:.1f}s)")


@kafka.command()
@click.option(
    "--brokers",
    type=click.IntRange(1, 9),
    default=3,
    show_default=True,
    help="Number of KRaft nodes (each broker and controller).",
)
@state_dir_option
@click.option(
    "--base-port",
    type=click.IntRange(1024, 65000),
    default=DEFAULT_BASE_PORT,
    show_default=True,
    envvar="RIVERBED_KAFKA_BASE_PORT",
    help="Broker i listens on BASE+i-1, its controller on BASE+100+i-1.",
)
@click.option(
    "--heap",
    default=DEFAULT_HEAP,
    show_default=True,
    callback=lambda c, p, v: _heap(v),
    help="JVM heap per broker.",
)
@click.option(
    "--config",
    "config",
    multiple=True,
    metavar="KEY=VALUE",
    help="Extra broker configuration (repeatable).",
)
@click.option(
    "--sasl-ssl-user",
    "sasl_ssl_user",
    multiple=True,
    metavar="USER=PASSWORD",
    help="Also listen for SASL_SSL clients (on BASE+200+i-1, with a CA made for the cluster; "
    "SASL/PLAIN and SCRAM-SHA-256/512) and let USER log in with PASSWORD (repeatable). A "
    "staging cluster on this machine, to try --platform external. Only when the cluster is "
    "created: a cluster keeps the users it was made with.",
)
@click.option(
    "--timeout",
    type=float,
    default=180,
    show_default=True,
    help="Seconds to wait for every broker to answer metadata requests.",
)
@harness_errors
def up(
    brokers: int,
    state_dir: Path | None,
    base_port: int,
    heap: str,
    config: tuple[str, ...],
    sasl_ssl_user: tuple[str, ...],
    timeout: float,
) -> None:
    """Start the local cluster, or say that it is already running."""
    users = _sasl_users(sasl_ssl_user)
    cluster = LocalKafkaCluster(
        state_dir, brokers, base_port, heap, _parse_config(config), sasl_ssl_users=users
    )
    _refuse_other_users(cluster, users)
    t0 = time.monotonic()
    with progress(f"starting {brokers} Kafka broker(s)") as update:
        outcome = cluster.up(timeout=timeout, progress=update)
    if outcome == "running":
        err.print(
            f"Kafka cluster already running ({cluster.brokers} brokers) in {cluster.state_dir}."
        )
    else:
        err.print(
            f"Kafka {cluster.distribution.version} cluster up: {cluster.brokers} broker(s) in "
            f"{time.monotonic() - t0:.1f}s, state in {cluster.state_dir}"
        )
    err.print(f"bootstrap servers: {cluster.bootstrap_servers}")
    if cluster.sasl_ssl_users:
        err.print(
            f"SASL_SSL bootstrap servers: {cluster.sasl_ssl_bootstrap_servers} (users "
            f"{', '.join(cluster.sasl_ssl_users)}; CA certificate {cluster.tls.ca_cert})"
        )


def _sasl_users(items: tuple[str, ...]) -> dict[str, str] | None:
    users: dict[str, str] = {}
    for item in items:
        name, sep, password = item.partition("=")
        if not sep or not name.strip() or not password:
            # Never echoed: the item may be a password typed without its user.
            raise click.BadParameter("takes USER=PASSWORD", param_hint="--sasl-ssl-user")
        users[name.strip()] = password
    return users or None


def _refuse_other_users(cluster: LocalKafkaCluster, users: dict[str, str] | None) -> None:
    """SCRAM users are written when a cluster is formatted: a cluster made without them (or
    with others) cannot take them later, and silently ignoring them would fail every login."""
    import json

    meta = cluster.state_dir / "cluster.json"
    if users is None or not meta.exists():
        return
    stored = (json.loads(meta.read_text()).get("sasl_ssl") or {}).get("users")
    if stored != users:
        raise BadInput(
            f"The cluster in {cluster.state_dir} was made "
            + ("with other SASL_SSL users" if stored else "without a SASL_SSL listener")
            + "; users are set when a cluster is created.",
            fix="`riverbed kafka down --purge` first (it deletes the cluster's data), or use "
            "another --state-dir.",
        )


@kafka.command()
@state_dir_option
@harness_errors
def status(state_dir: Path | None) -> None:
    """Show each broker: id, pid, ports, up/down, and whether it answers metadata."""
    cluster = LocalKafkaCluster.open(state_dir)
    table = Table(title=f"Kafka cluster {cluster.cluster_id} ({cluster.state_dir})")
    for col in ("broker", "pid", "port", "controller port", "process", "metadata"):
        table.add_column(col)
    for b in cluster.status():
        table.add_row(
            str(b.id),
            str(b.pid or "-"),
            str(b.port),
            str(b.controller_port),
            "[green]up[/]" if b.up else "[red]down[/]",
            "answers" if b.answers else "-",
        )
    out.print(table)


@kafka.command()
@state_dir_option
@click.option(
    "--sasl-ssl",
    is_flag=True,
    help="The SASL_SSL listener's servers (a cluster started with --sasl-ssl-user).",
)
@harness_errors
def bootstrap(state_dir: Path | None, sasl_ssl: bool) -> None:
    """Print the bootstrap servers (host:port,…), for scripts."""
    cluster = LocalKafkaCluster.open(state_dir)
    click.echo(cluster.sasl_ssl_bootstrap_servers if sasl_ssl else cluster.bootstrap_servers)


def _broker_command(verb: str):
    def decorate(fn):
        fn = harness_errors(fn)
        fn = state_dir_option(fn)
        fn = click.argument("broker_id", type=int, metavar="ID")(fn)
        return kafka.command(verb)(fn)

    return decorate


@_broker_command("stop")
def stop(broker_id: int, state_dir: Path | None) -> None:
    """Stop broker ID cleanly (SIGTERM: controlled shutdown)."""
    cluster = LocalKafkaCluster.open(state_dir)
    with progress(f"stopping broker {broker_id}"):
        pid = cluster.stop_broker(broker_id)
    err.print(
        f"broker {broker_id} stopped (pid {pid})" if pid else f"broker {broker_id} was not running"
    )


@_broker_command("kill")
def kill(broker_id: int, state_dir: Path | None) -> None:
    """Kill broker ID hard (SIGKILL: no controlled shutdown)."""
    cluster = LocalKafkaCluster.open(state_dir)
    pid = cluster.kill_broker(broker_id)
    err.print(
        f"broker {broker_id} killed (pid {pid})" if pid else f"broker {broker_id} was not running"
    )


@_broker_command("start")
def start(broker_id: int, state_dir: Path | None) -> None:
    """(Re)start broker ID and wait until it answers metadata requests."""
    cluster = LocalKafkaCluster.open(state_dir)
    with progress(f"starting broker {broker_id}") as update:
        outcome = cluster.start_broker(broker_id, progress=update)
    err.print(f"broker {broker_id} {'already running' if outcome == 'running' else 'started'}")


@kafka.command()
@state_dir_option
@click.option("--purge", is_flag=True, help="Also delete the cluster's data and logs.")
@harness_errors
def down(state_dir: Path | None, purge: bool) -> None:
    """Stop every broker (leaves no process behind). Safe to run twice."""
    try:
        cluster = LocalKafkaCluster.open(state_dir)
    except HarnessError:
        err.print("no local Kafka cluster to stop")
        return
    with progress("stopping Kafka brokers"):
        pids = cluster.down(purge=purge)
    if pids:
        err.print(f"stopped {len(pids)} broker(s): pids {', '.join(map(str, pids))}")
    else:
        err.print("no broker was running")
    if purge:
        err.print(f"removed {cluster.state_dir}")
