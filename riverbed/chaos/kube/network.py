"""Network faults between consumer pods and Kafka brokers on Kubernetes.

Each action runs iptables in the `netfault` sidecar of the chosen consumer
pods (through chaostoolkit-kubernetes' own `exec_in_pods`): the sidecar shares
the pod's network namespace, so the rules act on the consumer container's real
TCP traffic to the chosen brokers' pod addresses, and nobody else's. The rules
stay for `duration_s` seconds and are removed by the same command: the fault
heals by itself, also when the command is interrupted. Put
`heal_consumer_pods` in the rollbacks: it removes riverbed's rules from every
consumer pod whatever happened.

The consumer pods must run with the sidecar (`riverbed up --platform kind
--network-faults`, or a `riverbed run` whose experiments use these actions).
Targets: `names` (pod names, a list or comma-separated) or `count` pods at
random (`seed` makes the pick repeatable); `brokers`: `all`, `coordinator`
(the group's coordinator, found through Kafka's admin API when the fault
starts) or broker ids (`0,2`: pod `kafka-<id>` is broker `<id>`).

Latency, jitter and bandwidth faults need the `netem` queueing discipline,
which not every node kernel has; they exist on the local platform only.
"""

# No ``from __future__ import annotations`` here: Chaos Toolkit's discovery
# reads the annotations as real types to show argument types to users.

import logging
import shlex
import threading
from typing import Any

from riverbed.chaos import targets
from riverbed.errors import HarnessError

__all__ = ["partition_consumer_pods", "reset_consumer_pod_connections", "heal_consumer_pods"]

logger = logging.getLogger("chaostoolkit")

#: The sidecar container the rules are added from (riverbed.platforms.kube.netfault).
CONTAINER = "netfault"
#: riverbed's own iptables chain: removing it removes every rule riverbed added.
CHAIN = "RIVERBED-FAULT"
#: What the command prints once the rules are in place: the fault landed.
LANDED = "riverbed: rules in place"
#: The iptables match and target per mode. A reset spares resets: the one REJECT
#: sends the consumer comes from the broker's address and must reach the socket.
TARGETS = {
    "drop": "-j DROP",
    "reset": "! --tcp-flags RST RST -j REJECT --reject-with tcp-reset",
}


def partition_consumer_pods(
    names: str | list | None = None,
    count: int = 1,
    seed: int | None = None,
    brokers: str = "coordinator",
    duration_s: float = 20.0,
    bootstrap_servers: str = "",
    group: str = "",
    ns: str = "riverbed",
    label_selector: str = "app.kubernetes.io/name=consumer",
    broker_selector: str = "app.kubernetes.io/name=kafka",
    secrets: dict | None = None,
) -> dict:
    """
    Cut the chosen consumer pods off from the chosen brokers (default: the
    group coordinator only) for `duration_s` seconds: every packet between
    them is dropped, both ways, as in a real partition — no refusal, no reset;
    connections stay open and time out. Cut off from the coordinator only, a
    consumer can still fetch from the other brokers while its heartbeats go
    nowhere: past the session timeout the group moves its partitions on and it
    is a zombie until it notices. Heals by itself after `duration_s`.

    Returns `{"pods", "brokers", "addresses", "mode", "duration_s", "cut",
    "results"}`; the fault landed when `cut` (the pods whose rules were in
    place) is not empty.
    """
    return _cut(
        "drop", names, count, seed, brokers, duration_s, bootstrap_servers, group, ns,
        label_selector, broker_selector, secrets,
    )  # fmt: skip


def reset_consumer_pod_connections(
    names: str | list | None = None,
    count: int = 1,
    seed: int | None = None,
    brokers: str = "all",
    duration_s: float = 20.0,
    bootstrap_servers: str = "",
    group: str = "",
    ns: str = "riverbed",
    label_selector: str = "app.kubernetes.io/name=consumer",
    broker_selector: str = "app.kubernetes.io/name=kafka",
    secrets: dict | None = None,
) -> dict:
    """
    Reset every TCP connection between the chosen consumer pods and the chosen
    brokers (default: all) for `duration_s` seconds: each packet either way is
    answered with a TCP reset, so open connections break at once and every
    reconnect is refused until the fault heals — a flapping link or a
    restarting proxy as the consumer sees it. Fetches, heartbeats and commits
    fail fast instead of timing out. Heals by itself after `duration_s`.

    Returns the same record as `partition_consumer_pods`, with mode `reset`.
    """
    return _cut(
        "reset", names, count, seed, brokers, duration_s, bootstrap_servers, group, ns,
        label_selector, broker_selector, secrets,
    )  # fmt: skip


def heal_consumer_pods(
    ns: str = "riverbed",
    label_selector: str = "app.kubernetes.io/name=consumer",
    secrets: dict | None = None,
) -> list:
    """
    Remove every network fault riverbed put on the consumer pods (its iptables
    chain, from each pod's `netfault` sidecar), whether a fault's own command
    healed it or not. A rollback: safe to run at any time, does nothing where
    no fault is in place. Returns the names of the pods it ran in.
    """
    from chaosk8s.pod.actions import exec_in_pods

    results = exec_in_pods(
        cmd=["/bin/sh", "-c", heal_script()],
        label_selector=label_selector,
        all=True,
        ns=ns,
        container_name=CONTAINER,
        request_timeout=60,
        secrets=secrets,
    )
    return [r["pod_name"] for r in results if r.get("exit_code") == 0]


# ---- the commands (pure) -----------------------------------------------------------------------
def heal_script() -> str:
    """Shell that removes riverbed's chain and the jumps to it (idempotent)."""
    return (
        f"iptables -w -D OUTPUT -j {CHAIN} 2>/dev/null; "
        f"iptables -w -D INPUT -j {CHAIN} 2>/dev/null; "
        f"iptables -w -F {CHAIN} 2>/dev/null; "
        f"iptables -w -X {CHAIN} 2>/dev/null; true"
    )


def cut_script(addresses: list[str], mode: str, duration_s: float) -> str:
    """Shell for the sidecar: rules against ``addresses`` (both ways), ``duration_s`` of
    sleep, then the rules removed (also on a hang-up or a signal)."""
    if mode not in TARGETS:
        raise HarnessError(f"mode must be one of {', '.join(TARGETS)}, got {mode!r}.")
    if not addresses:
        raise HarnessError("A network fault needs at least one broker address.")
    target = TARGETS[mode]
    rules = " && ".join(
        f"iptables -w -A {CHAIN} -d {shlex.quote(a)} -p tcp {target} && "
        f"iptables -w -A {CHAIN} -s {shlex.quote(a)} -p tcp {target}"
        for a in addresses
    )
    # Rules an earlier, killed fault left go first. The duration is slept one
    # second at a time: a shell runs a signal's trap only once its foreground
    # command ends, so a hang-up or a signal heals within a second, not after
    # the whole duration.
    duration = max(0.0, float(duration_s))
    whole = int(duration)
    rest = f"sleep {duration - whole:.3f}; " if duration > whole else ""
    return (
        f"heal() {{ {heal_script()}; }}; heal; "
        "trap heal EXIT; trap 'exit 0' HUP INT TERM; "
        f"iptables -w -N {CHAIN} && {rules} && "
        f"iptables -w -I OUTPUT 1 -j {CHAIN} && iptables -w -I INPUT 1 -j {CHAIN} || exit 3; "
        f"echo {shlex.quote(LANDED)}; "
        f"{rest}i=0; while [ $i -lt {whole} ]; do sleep 1; i=$((i + 1)); done"
    )


def pick_pods(
    running: list[str], names: list[str] | None, count: int, seed: int | None
) -> list[str]:
    """The pods a fault hits: ``names`` (each must run), else ``count`` at random (``seed``
    makes the pick repeatable): the local platform's rule for replicas."""
    from riverbed.platforms.local import pick_replicas

    return pick_replicas({name: {} for name in running}, count, names, seed)


def broker_ids(brokers: Any, known: list[int], coordinator: Any) -> list[int]:
    """``all``, ``coordinator`` (``coordinator()`` asks Kafka) or broker ids among ``known``."""
    value = str(brokers if brokers not in (None, "") else "all").strip().lower()
    if value == "all":
        return sorted(known)
    if value == "coordinator":
        return [int(coordinator())]
    try:
        ids = [int(x) for x in targets.split_names(value)]
    except ValueError:
        ids = []
    if not ids or any(i not in known for i in ids):
        raise HarnessError(
            f"brokers must be all, coordinator or broker ids of this cluster, got {brokers!r}.",
            fix=f"use e.g. `coordinator` or `{min(known, default=0)}` "
            f"(ids: {', '.join(map(str, sorted(known)))}).",
        )
    return ids


def running_with_sidecar(pods: list[dict[str, Any]]) -> list[str]:
    """Names of the running, not terminating pods (the API's pod dicts) with the sidecar."""
    return [
        p["metadata"]["name"]
        for p in pods
        if (p.get("status") or {}).get("phase") == "Running"
        and not p["metadata"].get("deletion_timestamp")
        and any(c.get("name") == CONTAINER for c in (p.get("spec") or {}).get("containers") or [])
    ]


def broker_addresses(pods: list[dict[str, Any]]) -> dict[int, str]:
    """Broker id → pod address: the StatefulSet's pod ``kafka-<i>`` is broker ``i``."""
    out = {}
    for p in pods:
        ordinal = str(p["metadata"]["name"]).rsplit("-", 1)[-1]
        address = (p.get("status") or {}).get("pod_ip")
        if ordinal.isdigit() and address:
            out[int(ordinal)] = str(address)
    return out


# ---- internals ---------------------------------------------------------------------------------
def _cut(
    mode: str,
    names: Any,
    count: int,
    seed: Any,
    brokers: str,
    duration_s: float,
    bootstrap_servers: str,
    group: str,
    ns: str,
    label_selector: str,
    broker_selector: str,
    secrets: Any,
) -> dict:
    from chaosk8s import create_k8s_api_client
    from kubernetes import client

    from riverbed.kafka.admin import group_coordinator

    v1 = client.CoreV1Api(create_k8s_api_client(secrets))
    running = running_with_sidecar(
        v1.list_namespaced_pod(ns, label_selector=label_selector).to_dict()["items"]
    )
    if not running:
        raise HarnessError(
            f"No running consumer pod ({label_selector} in namespace {ns}) has the "
            f"{CONTAINER} sidecar.",
            fix="start the platform with network faults: `riverbed up --platform kind "
            "--network-faults`; `riverbed run` does so by itself when an experiment uses them.",
        )
    picked = pick_pods(running, targets.split_names(names) or None, int(count), seed)
    addresses = broker_addresses(
        v1.list_namespaced_pod(ns, label_selector=broker_selector).to_dict()["items"]
    )
    bids = broker_ids(
        brokers,
        list(addresses),
        lambda: group_coordinator(
            targets.bootstrap_servers(bootstrap_servers), targets.group(group)
        ),
    )
    ips = [addresses[b] for b in bids]
    script = cut_script(ips, mode, duration_s)
    results: dict[str, dict] = {}

    def run(pod: str) -> None:
        from chaosk8s.pod.actions import exec_in_pods

        try:
            (out,) = exec_in_pods(
                cmd=["/bin/sh", "-c", script],
                name_pattern=f"^{pod}$",
                all=True,
                ns=ns,
                container_name=CONTAINER,
                request_timeout=int(float(duration_s) + 60),
                secrets=secrets,
            )
            results[pod] = out
        except Exception as exc:  # noqa: BLE001 - reported in the record; the rollback heals
            results[pod] = {"pod_name": pod, "exit_code": -1, "stdout": "", "stderr": repr(exc)}

    logger.info(f"{mode}: {picked} ↔ brokers {bids} ({ips}) for {duration_s:g}s")
    # One command per pod, side by side: each holds its rules for the duration.
    threads = [threading.Thread(target=run, args=(pod,), daemon=True) for pod in picked]
    for t in threads:
        t.start()
    for t in threads:
        t.join(float(duration_s) + 120)
    cut = [p for p in picked if LANDED in str((results.get(p) or {}).get("stdout", ""))]
    logger.info(f"{mode} healed on {picked} (rules were in place on {cut})")
    return {
        "pods": picked,
        "brokers": bids,
        "addresses": ips,
        "mode": mode,
        "duration_s": duration_s,
        "cut": cut,
        "results": [
            {k: results[p].get(k) for k in ("pod_name", "exit_code", "stderr")}
            for p in picked
            if p in results
        ],
    }
