"""Recovery times after a consumer kill, from literal faults and group snapshots."""

from __future__ import annotations

from typing import Any

from riverbed.chaos.recovery import kill_recoveries


def snap(t: float, state: str, members: dict[str, list[int]]) -> dict[str, Any]:
    return {"v": 1, "type": "group", "t": t, "state": state, "generation": None,
            "members": members, "committed": {}, "end_offsets": {}, "partitions": 3}  # fmt: skip


KILL = {"type": "fault", "experiment": "kill-consumer-hard", "activity": "kill-one-consumer",
        "kind": "action", "t_start": 100.0, "t_end": 100.1, "status": "succeeded",
        "output": ["consumer-2"], "landed": True, "phase": "method",
        "func": "riverbed.chaos.local.actions.kill_consumers"}  # fmt: skip
BEFORE = {"consumer-1-a": [0], "consumer-2-dead": [1], "consumer-3-c": [2]}


def test_a_hard_kill_recovers_when_the_dead_member_is_gone_and_every_partition_owned() -> None:
    snaps = [
        snap(99.5, "Stable", BEFORE),
        snap(100.5, "Stable", BEFORE),  # the coordinator has not noticed yet
        snap(101.5, "PreparingRebalance", {**BEFORE, "consumer-2-new": []}),
        snap(
            110.5,
            "CompletingRebalance",
            {"consumer-1-a": [0], "consumer-3-c": [2], "consumer-2-new": []},
        ),
        snap(111.0, "Stable", {"consumer-1-a": [0], "consumer-3-c": [2], "consumer-2-new": [1]}),
    ]
    (r,) = kill_recoveries([KILL], snaps)
    assert r["killed_members"] == ["consumer-2-dead"]
    assert r["time_to_change_s"] == 1.5
    assert r["time_to_evicted_s"] == 10.5
    assert r["time_to_recovered_s"] == 11.0


def test_a_stable_group_still_holding_the_dead_member_is_not_recovered() -> None:
    (r,) = kill_recoveries([KILL], [snap(99.0, "Stable", BEFORE), snap(105.0, "Stable", BEFORE)])
    assert r["time_to_recovered_s"] is None and r["time_to_change_s"] is None


def test_only_landed_kills_are_measured() -> None:
    probe = {**KILL, "kind": "probe"}
    missed = {**KILL, "output": []}
    other = {**KILL, "func": "riverbed.chaos.kafka.actions.add_partitions"}
    assert kill_recoveries([probe, missed, other], [snap(99.0, "Stable", BEFORE)]) == []


def test_pod_kills_match_members_by_pod_name_prefix() -> None:
    pod_kill = {
        **KILL,
        "func": "chaosk8s.pod.actions.terminate_pods",
        "output": ["consumer-7d9f-x2"],
    }
    members = {"consumer-7d9f-x2-a1b2c3": [0, 1], "consumer-7d9f-q8-d4e5f6": [2]}
    after = {"consumer-7d9f-q8-d4e5f6": [2, 0], "consumer-7d9f-z1-0a0b0c": [1]}
    (r,) = kill_recoveries(
        [pod_kill], [snap(99.0, "Stable", members), snap(104.0, "Stable", after)]
    )
    assert r["killed_members"] == ["consumer-7d9f-x2-a1b2c3"]
    assert r["time_to_recovered_s"] == 4.0


def test_members_keyed_by_member_id_are_matched_by_their_client_id() -> None:
    # group.jsonl with member ids as keys: the killed replica is found by member_info.
    def keyed(t: float, state: str, members: dict[str, list[int]]) -> dict[str, Any]:
        out = snap(t, state, {f"id-{m[-1]}": parts for m, parts in members.items()})
        out["member_info"] = {f"id-{m[-1]}": {"client_id": m} for m in members}
        return out

    after = {"consumer-1-a": [0, 1], "consumer-3-c": [2], "consumer-2-new": []}
    (r,) = kill_recoveries([KILL], [keyed(99.0, "Stable", BEFORE), keyed(112.0, "Stable", after)])
    assert r["killed_members"] == ["id-d"]
    assert r["time_to_evicted_s"] == 12.0 and r["time_to_recovered_s"] == 12.0
