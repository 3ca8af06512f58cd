"""Faults on riverbed's local platform: kill or scale consumer replicas, stop, kill or start brokers.

The platform's supervisor keeps the consumer replicas running as a
Deployment would: a killed replica comes back as a new incarnation (a new
process with a new Kafka client id), so a kill here behaves like deleting a
pod. State directory: `state_dir`, else RIVERBED_LOCAL_STATE_DIR, else
`~/.local/state/riverbed/local`.
"""

# No ``from __future__ import annotations`` here: Chaos Toolkit's discovery
# reads the annotations as real types to show argument types to users.

import logging
import time

from riverbed.chaos import targets
from riverbed.chaos.local import _platform
from riverbed.errors import HarnessError
from riverbed.platforms.local import replica_running

__all__ = [
    "kill_consumers",
    "scale_consumers",
    "restore_consumers",
    "stop_broker",
    "kill_broker",
    "start_broker",
]

logger = logging.getLogger("chaostoolkit")


def kill_consumers(
    count: int = 1,
    signal: str = "SIGTERM",
    names: str | list | None = None,
    seed: int | None = None,
    wait: bool = True,
    timeout: float = 30.0,
    state_dir: str = "",
) -> list:
    """
    Send `signal` to consumer replicas of the local platform and return the
    names of the replicas hit (e.g. `["consumer-2"]`).

    `signal`: `SIGTERM` (graceful: the consumer finishes its batch, commits and
    leaves the group) or `SIGKILL` (hard: no commit, no goodbye; the group
    notices only when the session times out). Targets: `names` (a list or a
    comma-separated string, e.g. `consumer-1`) or else `count` replicas picked
    at random (`seed` makes the pick repeatable). An unknown name is an error
    that lists the running replicas; an empty list means nothing was running,
    the fault did not land.

    With `wait` the action returns once the signalled processes have exited
    (up to `timeout` seconds). The supervisor then starts a new incarnation of
    each killed replica.
    """
    plat = _platform.platform(state_dir)
    before = plat.replicas()
    picked = targets.split_names(names)
    hit = plat.kill_consumers(count=count, signal_name=signal, names=picked or None, seed=seed)
    logger.info(f"sent {signal.upper()} to consumer replicas {hit}")
    if wait and hit:
        # A replica is gone when its whole process group is (a user's command may
        # be a shell with children).
        signalled = {name: before[name] for name in hit if name in before}
        deadline = time.monotonic() + timeout
        while any(replica_running(r) for r in signalled.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        still = sorted(name for name, r in signalled.items() if replica_running(r))
        if still:
            logger.warning(f"replicas {still} were still running {timeout:.0f}s after {signal}")
    return hit


def scale_consumers(
    replicas: int = 5, wait: bool = True, timeout: float = 60.0, state_dir: str = ""
) -> dict:
    """
    Set the number of consumer replicas of the local platform, like scaling a
    Deployment: new replicas join the group, removed ones (the highest numbered)
    get SIGTERM and leave it. With `wait` the action returns once exactly
    `replicas` run (an error after `timeout` seconds).

    Returns `{"before": n, "after": replicas}`; the fault landed if they differ.
    """
    result = _platform.platform(state_dir).scale_consumers(replicas, wait=wait, timeout=timeout)
    logger.info(f"consumer replicas: {result['before']} → {result['after']}")
    return result


def restore_consumers(timeout: float = 60.0, state_dir: str = "") -> dict:
    """
    Put the local platform back to the number of consumer replicas it was
    started with, and wait (up to `timeout` seconds) until that many run. Meant
    for rollbacks. Returns `{"before": n, "after": configured}`.
    """
    plat = _platform.platform(state_dir)
    return plat.scale_consumers(int(plat.config["consumers"]), wait=True, timeout=timeout)


def _broker(
    broker_id: int | str | None,
    topic: str,
    bootstrap_servers: str,
    kafka_state_dir: str,
    state_dir: str,
):
    cluster = _platform.cluster(kafka_state_dir, state_dir)
    if broker_id in (None, "", "leader"):
        from riverbed.chaos.kafka import _admin

        # This cluster's own listeners, unless the experiment says otherwise.
        servers = bootstrap_servers or cluster.bootstrap_servers
        with _admin.admin(servers, None) as client:
            parts = _admin.topic_partitions(client, targets.topic(topic, state_dir))
        broker_id = int(parts[0]["leader_id"])
        if broker_id < 0:
            raise HarnessError(
                "Partition 0 of the topic has no leader, so there is no leader to stop.",
                fix="pass broker_id explicitly.",
            )
        logger.info(f"broker {broker_id} leads partition 0: picking it")
    try:
        return cluster, int(broker_id)
    except ValueError:
        raise HarnessError(
            f"broker_id must be a broker's node id (an integer), got {broker_id!r}.",
            fix=f"use one of {', '.join(map(str, cluster.broker_ids))}, or null for the "
            "leader of partition 0.",
        ) from None


def stop_broker(
    broker_id: int | str | None = None,
    timeout: float = 60.0,
    topic: str = "",
    bootstrap_servers: str = "",
    kafka_state_dir: str = "",
    state_dir: str = "",
) -> dict:
    """
    Stop one broker of the local Kafka cluster cleanly (SIGTERM: controlled
    shutdown, leadership moves away first); SIGKILL after `timeout` seconds.

    `broker_id`: a node id (1..N; an id the cluster does not have is an error
    that lists the ids), or null for the broker that currently leads partition 0
    of the data topic. Returns `{"broker_id", "pid", "stopped"}`; `stopped` is
    false (the fault did not land) when the broker was not running.
    """
    cluster, bid = _broker(broker_id, topic, bootstrap_servers, kafka_state_dir, state_dir)
    pid = cluster.stop_broker(bid, timeout=timeout)
    logger.info(f"broker {bid}: " + (f"stopped (pid {pid})" if pid else "was not running"))
    return {"broker_id": bid, "pid": pid, "stopped": pid is not None}


def kill_broker(
    broker_id: int | str | None = None,
    topic: str = "",
    bootstrap_servers: str = "",
    kafka_state_dir: str = "",
    state_dir: str = "",
) -> dict:
    """
    Kill one broker of the local Kafka cluster hard (SIGKILL: no controlled
    shutdown, no flush), as a crashed node or a deleted pod with no grace period.

    `broker_id`: a node id (1..N; an id the cluster does not have is an error),
    or null for the broker that currently leads partition 0 of the data topic.
    Returns `{"broker_id", "pid", "killed"}`; `killed` is false (the fault did
    not land) when the broker was not running.
    """
    cluster, bid = _broker(broker_id, topic, bootstrap_servers, kafka_state_dir, state_dir)
    pid = cluster.kill_broker(bid)
    logger.info(f"broker {bid}: " + (f"killed (pid {pid})" if pid else "was not running"))
    return {"broker_id": bid, "pid": pid, "killed": pid is not None}


def start_broker(
    broker_id: int | str | None = None,
    wait: bool = True,
    timeout: float = 120.0,
    kafka_state_dir: str = "",
    state_dir: str = "",
) -> dict:
    """
    Start brokers of the local Kafka cluster again: `broker_id` (1..N), or
    null for every broker that is down (what a rollback wants). With `wait` the
    action returns once each started broker answers metadata requests and sees
    the whole cluster (an error after `timeout` seconds, with its log's tail).

    Returns `{"started": [ids], "already_running": [ids]}`.
    """
    cluster = _platform.cluster(kafka_state_dir, state_dir)
    ids = cluster.broker_ids if broker_id in (None, "") else [int(broker_id)]
    started: list[int] = []
    running: list[int] = []
    for bid in ids:
        outcome = cluster.start_broker(bid, wait=False)
        (running if outcome == "running" else started).append(bid)
    if wait and started:
        cluster.wait_ready(started, timeout=timeout)
    logger.info(f"brokers started: {started}; already running: {running}")
    return {"started": started, "already_running": running}
