"""Network faults between consumer replicas and brokers on riverbed's local platform.

Each action adds Toxiproxy toxics (through chaostoolkit-toxiproxy's own
actions) to the proxies of the chosen consumer replicas to the chosen brokers,
keeps them for `duration_s` seconds and removes them: the fault heals by
itself, also when the experiment is interrupted. Only those replicas' real
TCP connections are touched; Locust, the group monitor and the other
replicas talk to the brokers directly (see `riverbed.platforms.network`).
Put `chaostoxi.proxy.actions.reset` in the rollbacks: it removes every toxic
whatever happened.

The platform must run with network faults (`riverbed up --network-faults`, or
a `riverbed run` whose experiments use these actions). Targets: `names` (a
list or comma-separated, e.g. `consumer-2`) or `count` replicas at random
(`seed` makes the pick repeatable); `brokers`: `all`, `coordinator` (the
group's coordinator, found when the fault starts), `leader` (the leader of
partition 0 of the data topic) or node ids (`1,3`).
"""

# No ``from __future__ import annotations`` here: Chaos Toolkit's discovery
# reads the annotations as real types to show argument types to users.

import logging
import time
from typing import Any

from riverbed.chaos import targets
from riverbed.chaos.local import _platform
from riverbed.errors import HarnessError

__all__ = ["add_latency", "limit_bandwidth", "reset_connections", "partition_consumers"]

logger = logging.getLogger("chaostoolkit")

#: The prefix of every toxic riverbed adds (so that they are told apart from a user's).
PREFIX = "riverbed"


def add_latency(
    latency_ms: int = 300,
    jitter_ms: int = 100,
    names: str | list | None = None,
    count: int = 1,
    seed: int | None = None,
    brokers: str = "all",
    duration_s: float = 20.0,
    state_dir: str = "",
    bootstrap_servers: str = "",
    topic: str = "",
    group: str = "",
) -> dict:
    """
    Delay everything the chosen consumer replicas receive from the chosen
    brokers by `latency_ms` ± `jitter_ms` milliseconds (Toxiproxy `latency`
    toxic on the responses: each round trip takes that much longer), for
    `duration_s` seconds. Slow links stretch fetches, heartbeats, commits and
    rebalances.

    Returns `{"replicas", "brokers", "proxies", "toxics", "duration_s"}`; the
    fault landed when `toxics` is not empty.
    """
    return _fault(
        "latency",
        [("downstream", {"latency": int(latency_ms), "jitter": int(jitter_ms)})],
        names,
        count,
        seed,
        brokers,
        duration_s,
        state_dir,
        bootstrap_servers,
        topic,
        group,
    )


def limit_bandwidth(
    rate_kbps: int = 32,
    names: str | list | None = None,
    count: int = 1,
    seed: int | None = None,
    brokers: str = "all",
    duration_s: float = 20.0,
    state_dir: str = "",
    bootstrap_servers: str = "",
    topic: str = "",
    group: str = "",
) -> dict:
    """
    Limit the chosen consumer replicas' connections to the chosen brokers to
    `rate_kbps` kilobytes per second in each direction (Toxiproxy `bandwidth`
    toxic), for `duration_s` seconds: fetches of full batches take seconds,
    and heartbeats and commits queue behind them.

    Returns `{"replicas", "brokers", "proxies", "toxics", "duration_s"}`; the
    fault landed when `toxics` is not empty.
    """
    rate = {"rate": int(rate_kbps)}
    return _fault(
        "bandwidth",
        [("downstream", rate), ("upstream", rate)],
        names,
        count,
        seed,
        brokers,
        duration_s,
        state_dir,
        bootstrap_servers,
        topic,
        group,
    )


def reset_connections(
    after_ms: int = 500,
    names: str | list | None = None,
    count: int = 1,
    seed: int | None = None,
    brokers: str = "all",
    duration_s: float = 10.0,
    state_dir: str = "",
    bootstrap_servers: str = "",
    topic: str = "",
    group: str = "",
) -> dict:
    """
    Reset the chosen consumer replicas' TCP connections to the chosen brokers
    (Toxiproxy `reset_peer` toxic: "connection reset by peer"), each one
    `after_ms` milliseconds after it carries data, for `duration_s` seconds:
    in-flight fetches, heartbeats and commits fail and the clients reconnect
    again and again.

    Returns `{"replicas", "brokers", "proxies", "toxics", "duration_s"}`; the
    fault landed when `toxics` is not empty.
    """
    return _fault(
        "reset_peer",
        [("upstream", {"timeout": int(after_ms)})],
        names,
        count,
        seed,
        brokers,
        duration_s,
        state_dir,
        bootstrap_servers,
        topic,
        group,
    )


def partition_consumers(
    names: str | list | None = None,
    count: int = 1,
    seed: int | None = None,
    brokers: str = "coordinator",
    duration_s: float = 20.0,
    state_dir: str = "",
    bootstrap_servers: str = "",
    topic: str = "",
    group: str = "",
) -> dict:
    """
    Cut the chosen consumer replicas off from the chosen brokers (default: the
    group coordinator only) for `duration_s` seconds: a black hole (Toxiproxy
    `timeout` toxic with timeout 0, both directions), so connections stay open
    and every byte is dropped, as in a real partition — no refusal, no reset.
    Cut off from the coordinator only, a consumer can still fetch from the
    other brokers while its heartbeats go nowhere: past the session timeout
    the group moves its partitions on and it is a zombie until it notices.

    Returns `{"replicas", "brokers", "proxies", "toxics", "duration_s"}`; the
    fault landed when `toxics` is not empty.
    """
    return _fault(
        "timeout",
        [("upstream", {"timeout": 0}), ("downstream", {"timeout": 0})],
        names,
        count,
        seed,
        brokers,
        duration_s,
        state_dir,
        bootstrap_servers,
        topic,
        group,
    )


# ---- internals ---------------------------------------------------------------------------------
def _fault(
    toxic_type: str,
    streams: list,
    names: Any,
    count: int,
    seed: Any,
    brokers: str,
    duration_s: float,
    state_dir: str,
    bootstrap_servers: str,
    topic: str,
    group: str,
) -> dict:
    from chaostoxi.toxic.actions import create_toxic, delete_toxic

    from riverbed.platforms.local import pick_replicas
    from riverbed.platforms.network import proxy_name, slot_of

    plat = _platform.platform(state_dir)
    network = plat.network()
    if not network:
        raise HarnessError(
            f"The local platform in {plat.state_dir} runs without network faults "
            "(no Toxiproxy, no per-replica proxies).",
            fix="start it with `riverbed up --network-faults`; `riverbed run` does so by itself "
            "when an experiment uses network faults.",
        )
    proxied = set(network.get("replica_bootstrap") or {})
    reps = {n: r for n, r in plat.replicas().items() if n in proxied}
    picked = pick_replicas(reps, count, targets.split_names(names) or None, seed)
    bids = _broker_ids(brokers, plat, bootstrap_servers, topic, group)
    configuration = {"toxiproxy_host": "127.0.0.1", "toxiproxy_port": network["toxiproxy_port"]}
    created: list[tuple[str, str]] = []
    proxies = [proxy_name(int(slot_of(r) or 0), b) for r in picked for b in bids]
    try:
        for proxy in proxies:
            for stream, attributes in streams:
                name = f"{PREFIX}-{toxic_type}-{stream}"
                ok = False
                try:
                    ok = create_toxic(
                        for_proxy=proxy,
                        toxic_name=name,
                        toxic_type=toxic_type,
                        stream=stream,
                        attributes=attributes,
                        configuration=configuration,
                    )
                except TypeError:  # the API refused it (chaostoxi then reads a None)
                    ok = False
                if not ok:
                    raise HarnessError(
                        f"Toxiproxy refused the {toxic_type} toxic on proxy {proxy}.",
                        fix="see the Toxiproxy log in the run's logs/toxiproxy.log.",
                    )
                created.append((proxy, name))
        logger.info(f"{toxic_type} on {picked} ↔ brokers {bids} for {duration_s:g}s ({proxies})")
        if duration_s > 0:
            time.sleep(float(duration_s))
    finally:
        # Healed after the duration, or at once when creating or waiting failed
        # (an interrupt included). With duration 0 the toxics stay until a reset.
        if duration_s > 0 or len(created) < len(proxies) * len(streams):
            for proxy, name in created:
                try:
                    delete_toxic(for_proxy=proxy, toxic_name=name, configuration=configuration)
                except Exception:  # noqa: BLE001 - the rollback's reset removes it too
                    logger.warning(f"could not remove toxic {name} from {proxy}")
            logger.info(f"{toxic_type} healed on {picked}")
    return {
        "replicas": picked,
        "brokers": bids,
        "proxies": proxies,
        "toxics": [f"{p}/{n}" for p, n in created],
        "duration_s": duration_s,
    }


def _broker_ids(brokers: Any, plat: Any, bootstrap_servers: str, topic: str, group: str) -> list:
    cluster = plat.kafka
    value = str(brokers if brokers not in (None, "") else "all").strip().lower()
    servers = bootstrap_servers or str(plat.config["bootstrap_servers"])
    if value == "all":
        return list(cluster.broker_ids)
    if value == "coordinator":
        from riverbed.kafka.admin import group_coordinator

        return [group_coordinator(servers, group or str(plat.config["group"]))]
    if value == "leader":
        from riverbed.kafka.admin import topic_partitions

        with targets.kafka_admin(servers) as client:
            parts = topic_partitions(client, topic or str(plat.config["topic"]))
        return [int(parts[0]["leader_id"])]
    try:
        ids = [int(x) for x in targets.split_names(value)]
    except ValueError:
        ids = []
    if not ids or any(i not in cluster.broker_ids for i in ids):
        raise HarnessError(
            f"brokers must be all, coordinator, leader or node ids of this cluster, got {brokers!r}.",
            fix=f"use e.g. `coordinator` or `{cluster.broker_ids[0]}` "
            f"(ids: {', '.join(map(str, cluster.broker_ids))}).",
        )
    return ids
