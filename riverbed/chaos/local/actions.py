"""Faults on riverbed's local platform: kill, pause or scale consumer replicas; stop, kill,
pause or start brokers.

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
    "pause_consumers",
    "resume_consumers",
    "scale_consumers",
    "restore_consumers",
    "stop_broker",
    "kill_broker",
    "pause_broker",
    "resume_broker",
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


def pause_consumers(
    count: int = 1,
    names: str | list | None = None,
    seed: int | None = None,
    duration_s: float = 20.0,
    state_dir: str = "",
) -> list:
    """
    Freeze consumer replicas of the local platform for `duration_s` seconds
    (SIGSTOP to each replica's whole process group), then let them continue
    (SIGCONT). Returns the names of the replicas paused (e.g. `["consumer-2"]`).

    A paused consumer is alive but silent: it keeps its partitions and the
    records it fetched, neither processes nor heartbeats. A pause longer than
    the session timeout makes it a *zombie*: the coordinator evicts it and
    hands its partitions on; when it continues it finishes what it held, its
    commit is rejected, and it rejoins as the member it was. The supervisor
    does not replace a paused replica: it is not dead.

    Targets: `names` (a list or a comma-separated string) or else `count`
    replicas at random (`seed` makes the pick repeatable). SIGCONT is sent
    whatever happens during the pause (also when the experiment is
    interrupted); with `duration_s` 0 the replicas stay paused until
    `resume_consumers` (put it in the rollbacks).
    """
    plat = _platform.platform(state_dir)
    picked = targets.split_names(names)
    hit = plat.pause_consumers(count=count, names=picked or None, seed=seed)
    logger.info(f"paused consumer replicas {hit} (SIGSTOP)")
    if duration_s <= 0 or not hit:
        return hit
    try:
        time.sleep(float(duration_s))
    finally:
        resumed = plat.resume_consumers(hit)
        logger.info(f"resumed consumer replicas {resumed} after {duration_s:g}s (SIGCONT)")
    return hit


def resume_consumers(names: str | list | None = None, state_dir: str = "") -> list:
    """
    Let paused consumer replicas continue (SIGCONT): `names`, or every replica
    paused (and any replica found stopped). Meant for rollbacks: a run must
    never end with a frozen process. Returns the names resumed (empty when
    nothing was paused).
    """
    plat = _platform.platform(state_dir)
    resumed = plat.resume_consumers(targets.split_names(names) or None)
    logger.info(f"resumed consumer replicas {resumed}" if resumed else "no paused replica")
    return resumed


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
        from riverbed.kafka.admin import topic_partitions

        # This cluster's own listeners, unless the experiment says otherwise.
        servers = bootstrap_servers or cluster.bootstrap_servers
        with targets.kafka_admin(servers) as client:
            parts = topic_partitions(client, targets.topic(topic, state_dir))
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


def pause_broker(
    broker_id: int | str | None = None,
    duration_s: float = 15.0,
    topic: str = "",
    bootstrap_servers: str = "",
    kafka_state_dir: str = "",
    state_dir: str = "",
) -> dict:
    """
    Freeze one broker of the local Kafka cluster for `duration_s` seconds
    (SIGSTOP to its JVM), then let it continue (SIGCONT): a stalled node, not a
    dead one. Its connections stay open and its requests time out; the
    controller fences it when its broker session expires and elects new
    leaders among the in-sync replicas; producers see timeouts (sends end
    `unknown`, most of them written after all) and retries. When it continues
    it finds itself fenced, catches up and rejoins the ISRs.

    `broker_id`: a node id, or null for the broker that currently leads
    partition 0 of the data topic. SIGCONT is sent whatever happens during the
    pause; with `duration_s` 0 the broker stays paused until `resume_broker`.
    Returns `{"broker_id", "pid", "paused", "duration_s"}`; `paused` is false
    (the fault did not land) when the broker was not running.
    """
    cluster, bid = _broker(broker_id, topic, bootstrap_servers, kafka_state_dir, state_dir)
    pid = cluster.pause_broker(bid)
    logger.info(f"broker {bid}: " + (f"paused (pid {pid})" if pid else "was not running"))
    if pid is not None and duration_s > 0:
        try:
            time.sleep(float(duration_s))
        finally:
            cluster.resume_broker(bid)
            logger.info(f"broker {bid}: resumed after {duration_s:g}s")
    return {"broker_id": bid, "pid": pid, "paused": pid is not None, "duration_s": duration_s}


def resume_broker(
    broker_id: int | str | None = None, kafka_state_dir: str = "", state_dir: str = ""
) -> dict:
    """
    Let paused brokers continue (SIGCONT): `broker_id`, or null for every
    broker that is paused. Meant for rollbacks, so that an experiment stopped
    mid-pause never leaves a frozen broker behind (`pause_broker` resumes by
    itself after its duration). Returns `{"resumed": [ids]}`.
    """
    cluster = _platform.cluster(kafka_state_dir, state_dir)
    ids = cluster.paused() if broker_id in (None, "") else [int(broker_id)]
    resumed = [bid for bid in ids if cluster.resume_broker(bid) is not None]
    logger.info(f"brokers resumed: {resumed}")
    return {"resumed": resumed}


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
