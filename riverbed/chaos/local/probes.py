"""Probes on riverbed's local platform: which consumer replicas run, and whether the
consumer group has converged on exactly those replicas.

State directory: `state_dir`, else RIVERBED_LOCAL_STATE_DIR, else
`~/.local/state/riverbed/local`.
"""

# No ``from __future__ import annotations`` here: Chaos Toolkit's discovery
# reads the annotations as real types to show argument types to users.

import logging

from riverbed.chaos import targets
from riverbed.chaos.groups import assignment_problems, group_view, membership_problems
from riverbed.chaos.local import _platform
from riverbed.kafka import admin

__all__ = ["consumer_replicas", "consumer_group_converged"]

logger = logging.getLogger("chaostoolkit")


def consumer_replicas(count: int = -1, timeout: float = 30.0, state_dir: str = "") -> dict:
    """
    Returns the consumer replicas running now: `{name: {"pid", "incarnation"}}`.
    A replica that was killed and replaced shows a higher incarnation.

    Waits up to `timeout` seconds until exactly `count` replicas run (-1, the
    default: as many as the platform is asked to keep); an error if they do
    not, naming what runs.
    """
    plat = _platform.platform(state_dir)
    want = _platform.desired_consumers(plat) if count < 0 else count
    reps = plat.wait_replicas(want, timeout=timeout)
    return {
        name: {"pid": int(r["pid"]), "incarnation": int(r["incarnation"])}
        for name, r in sorted(reps.items())
    }


def _member_id_problems(view, replicas: dict, run_dir) -> list:
    """Instrumented user consumers: the group's members must be the running incarnations."""
    names = [f"{name}.{r['incarnation']}" for name, r in sorted(replicas.items())]
    live = _platform.member_ids_by_incarnation(run_dir, names)
    problems = [f"{n} has not joined the group yet" for n, m in live.items() if m is None]
    in_group = set(view.members)  # keyed by member id
    if stale := sorted(in_group - {m for m in live.values() if m}):
        problems.append(f"members of incarnations that no longer run: {stale}")
    if missing := sorted(n for n, m in live.items() if m and m not in in_group):
        problems.append(f"running incarnations not in the group: {missing}")
    return problems


def consumer_group_converged(
    timeout: float = 0.0,
    settle_s: float = 0.0,
    group: str = "",
    topic: str = "",
    bootstrap_servers: str = "",
    state_dir: str = "",
    secrets: dict | None = None,
) -> bool:
    """
    Whether the consumer group has converged on the local platform's running
    replicas: the group is Stable, every partition is assigned to exactly one
    member, and the members are exactly the incarnations running now (as
    many as the platform is asked to keep, none of them a killed incarnation
    the coordinator has not noticed yet, none missing).

    This is the recovery check after a consumer kill: right after a hard kill
    the group still looks Stable, with the dead member in it, until its session
    times out; this probe does not count that. It identifies each running
    replica's Kafka client id by the `start` record the consumer wrote in the
    run's evidence; for a user's consumer (`--consumer-cmd`, whose client ids
    are its own) it requires exactly as many members as replicas. With `timeout` > 0 it waits up to that many seconds; with
    `settle_s` > 0 the condition must hold that long in a row.

    Returns `true` or `false` (use `"tolerance": true`); the reason goes to the
    Chaos Toolkit log. Targets: empty `group`, `topic`, `bootstrap_servers` are
    the platform's. `secrets`: Kafka client security settings.
    """
    plat = _platform.platform(state_dir)
    config = plat.config
    group = group or str(config["group"])
    topic = topic or str(config["topic"])
    servers = bootstrap_servers or str(config["bootstrap_servers"])
    run_dir = plat.run_dir
    with targets.kafka_admin(servers, secrets) as client:
        user_consumer = bool(config.get("consumer_cmd"))
        instrumented = config.get("consumer_evidence") == "instrumented"

        def check() -> tuple[bool, str]:
            want = _platform.desired_consumers(plat)
            replicas = plat.replicas()
            problems = []
            if len(replicas) != want:
                problems.append(f"{len(replicas)} replicas run, {want} wanted")
            partitions = len(admin.topic_partitions(client, topic))
            view = group_view(admin.describe_group(client, group), topic)
            if user_consumer:
                # A user's consumer has a client id of its own choosing (often the
                # library's default, the same for every replica): count members, and
                # when instrumented, match the Kafka member ids the evidence recorded.
                problems += assignment_problems(view, partitions, expected_members=want)
                if instrumented:
                    problems += _member_id_problems(view, replicas, run_dir)
            else:
                by_pid = _platform.members_by_pid(run_dir)
                live = []
                for name, r in sorted(replicas.items()):
                    member = by_pid.get(int(r["pid"]))
                    if member is None:
                        problems.append(f"{name} (pid {r['pid']}) has not recorded its start yet")
                    else:
                        live.append(member)
                problems += assignment_problems(view, partitions)
                problems += membership_problems(view, live)
            detail = "; ".join(problems) or (
                f"{len(view.members)} members {sorted(view.label(m) for m in view.members)} "
                f"own {partitions} partitions"
            )
            return not problems, detail

        return admin.poll_until(
            check, timeout, settle_s, what=f"consumer group {group!r} converged on the replicas"
        )
