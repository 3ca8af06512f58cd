"""Consumer-protocol (KIP-848) groups described and decoded on literal answers."""

from __future__ import annotations

from typing import Any

from confluent_kafka import ConsumerGroupState, ConsumerGroupType, Node, TopicPartition
from confluent_kafka.admin import ConsumerGroupDescription, MemberAssignment, MemberDescription

from riverbed.chaos.groups import assignment_problems, group_view
from workloads.evidence.schema import check
from workloads.group_describe import (
    confluent_admin_config,
    from_confluent,
    is_consumer_protocol_answer,
)
from workloads.group_members import decode_members, group_type
from workloads.monitor import group_snapshot


def member(mid: str, current: list[int], target: list[int] | None, topic: str = "events") -> Any:
    return MemberDescription(
        mid,
        f"client-{mid}",
        "/127.0.0.1",
        MemberAssignment([TopicPartition(topic, p) for p in current]),
        None,
        MemberAssignment([TopicPartition(topic, p) for p in target])
        if target is not None
        else None,
    )


def description(state: ConsumerGroupState, members: list[Any], kind=ConsumerGroupType.CONSUMER):  # type: ignore[no-untyped-def]
    return ConsumerGroupDescription(
        "g", False, members, "uniform", state, Node(1, "127.0.0.1", 9092), type=kind
    )


def test_kafka_python_s_answer_for_a_consumer_protocol_group_is_recognised() -> None:
    # What kafka-python's DescribeGroups returns for a KIP-848 group (seen on Kafka 4.4).
    answer = {
        "group_id": "g",
        "group_state": "Dead",
        "members": [],
        "error": "[Error 69] GroupIdNotFoundError: Group g is not a classic group.",
    }
    assert is_consumer_protocol_answer(answer)
    assert not is_consumer_protocol_answer({"group_state": "Dead", "members": [], "error": None})
    assert not is_consumer_protocol_answer({"group_state": "Stable", "members": []})


def test_a_stable_consumer_group_decodes_with_current_and_target_assignments() -> None:
    d = from_confluent(
        description(
            ConsumerGroupState.STABLE,
            [member("m1", [0, 2], [0, 2]), member("m2", [1], [1]), member("m3", [], [])],
        )
    )
    assert d["group_state"] == "Stable" and d["group_type"] == "consumer"
    assert d["assignor"] == "uniform" and "state_derived" not in d
    members = decode_members(d, "events")
    assert {m: g.partitions for m, g in members.items()} == {"m1": (0, 2), "m2": (1,), "m3": ()}
    assert all(g.assignment_known for g in members.values())
    assert members["m1"].target == (0, 2) and members["m1"].client_id == "client-m1"
    assert group_type(d) == "consumer" and group_type({"group_state": "Stable"}) == "classic"


def test_a_reconciling_group_keeps_its_current_assignments_and_names_its_state() -> None:
    # librdkafka reports Assigning/Reconciling as UNKNOWN: the state is derived.
    d = from_confluent(
        description(
            ConsumerGroupState.UNKNOWN,
            [
                member("m1", [0, 1, 2], [0]),
                member("m2", [], [1, 2]),
                member("x", [9], [9], "other"),
            ],
        )
    )
    assert d["group_state"] == "Reconciling" and d["state_derived"] is True
    members = decode_members(d, "events")
    assert members["m1"].partitions == (0, 1, 2) and members["m1"].target == (0,)
    assert members["m2"].partitions == () and members["m2"].target == (1, 2)
    assert members["x"].partitions == () and members["x"].assignment_known
    snap = group_snapshot(3.0, d, {0: 5}, {0: 7, 1: 0, 2: 0}, 3, "events")
    assert snap["state"] == "Reconciling" and snap["state_derived"] is True
    assert snap["members"] == {"m1": [0, 1, 2], "m2": [], "x": []}
    assert snap["target"] == {"m1": [0], "m2": [1, 2], "x": []}
    assert snap["group_type"] == "consumer" and snap["assignor"] == "uniform"
    check({"v": 1, **snap}, allowed=frozenset({"group"}))
    # A chaos probe does not call a reconciling group stable.
    problems = assignment_problems(group_view(d, "events"), 3)
    assert problems == ["group state is Reconciling, not Stable"]
    converged = from_confluent(
        description(
            ConsumerGroupState.UNKNOWN, [member("m1", [0], [0]), member("m2", [1, 2], [1, 2])]
        )
    )
    assert converged["group_state"] == "Assigning"


def test_a_classic_group_described_by_confluent_kafka_knows_assignments_only_when_stable() -> None:
    rebalancing = from_confluent(
        description(
            ConsumerGroupState.PREPARING_REBALANCING,
            [member("m1", [], None)],
            ConsumerGroupType.CLASSIC,
        )
    )
    assert rebalancing["group_state"] == "PreparingRebalance"
    assert not decode_members(rebalancing, "events")["m1"].assignment_known
    stable = from_confluent(
        description(ConsumerGroupState.STABLE, [member("m1", [0], None)], ConsumerGroupType.CLASSIC)
    )
    m1 = decode_members(stable, "events")["m1"]
    assert m1.assignment_known and m1.partitions == (0,) and m1.target is None
    assert "target" not in group_snapshot(1.0, stable, {}, {0: 0}, 1, "events")


def test_security_settings_map_to_librdkafka_names() -> None:
    conf = confluent_admin_config(
        "b:9092",
        security_protocol="SASL_SSL",
        sasl_mechanism="PLAIN",
        sasl_plain_username="u",
        sasl_plain_password="p",
        ssl_cafile=None,
        client_id="ignored",
    )
    assert conf == {
        "bootstrap.servers": "b:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "u",
        "sasl.password": "p",
    }
