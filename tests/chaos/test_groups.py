"""Pure group judgements, on literal describe_groups entries and snapshots."""

from __future__ import annotations

from riverbed.chaos.groups import (
    GroupView,
    assignment_problems,
    group_view,
    membership_problems,
    partition_lag,
)

DESCRIBED = {
    "group_id": "g",
    "group_state": "Stable",
    "members": [
        {
            "member_id": "consumer-1-aaaaaa-uuid1",
            "client_id": "consumer-1-aaaaaa",
            "member_assignment": {
                "assigned_partitions": [
                    {"topic": "events", "partitions": [2, 0]},
                    {"topic": "other", "partitions": [5]},
                ]
            },
        },
        {
            "member_id": "consumer-2-bbbbbb-uuid2",
            "client_id": "consumer-2-bbbbbb",
            "member_assignment": {"assigned_partitions": [{"topic": "events", "partitions": [1]}]},
        },
    ],
}


def test_group_view_keys_members_by_member_id_and_keeps_only_the_topic() -> None:
    view = group_view(DESCRIBED, "events")
    assert view.state == "Stable"
    assert view.members == {"consumer-1-aaaaaa-uuid1": [0, 2], "consumer-2-bbbbbb-uuid2": [1]}
    assert view.client_id("consumer-1-aaaaaa-uuid1") == "consumer-1-aaaaaa"
    assert view.info["consumer-2-bbbbbb-uuid2"] == {
        "client_id": "consumer-2-bbbbbb",
        "host": None,
        "instance_id": None,
    }


def _replica(member_id: str, partitions: list[int]) -> dict[str, object]:
    """A user's replica that kept its library's default client id."""
    return {
        "member_id": member_id,
        "client_id": "kafka-python-3.0.12",
        "client_host": "/10.0.0.7",
        "member_assignment": {
            "assigned_partitions": [{"topic": "events", "partitions": partitions}]
        },
    }


def test_replicas_sharing_a_client_id_stay_apart_and_a_double_owner_shows() -> None:
    shared = {
        "group_state": "Stable",
        "members": [
            _replica("kafka-python-3.0.12-1111", [0, 1]),
            _replica("kafka-python-3.0.12-2222", [1]),
            _replica("kafka-python-3.0.12-3333", [2]),
        ],
    }
    view = group_view(shared, "events")
    assert len(view.members) == 3
    problems = assignment_problems(view, partitions=3, expected_members=3)
    assert problems == [
        "partition 1 is assigned to 2 members: "
        "['kafka-python-3.0.12@10.0.0.7/1111', 'kafka-python-3.0.12@10.0.0.7/2222']"
    ]
    # The same three replicas, correctly assigned: no problem.
    shared["members"][0] = _replica("kafka-python-3.0.12-1111", [0])
    assert assignment_problems(group_view(shared, "events"), 3, expected_members=3) == []


def test_group_view_of_a_member_without_assignment() -> None:
    joining = {
        "group_state": "PreparingRebalance",
        "members": [{"member_id": "c-1", "client_id": "c", "member_assignment": None}],
    }
    view = group_view(joining, "events")
    assert view.state == "PreparingRebalance" and view.members == {"c-1": []}


def test_a_stable_group_owning_every_partition_once_has_no_problem() -> None:
    assert assignment_problems(group_view(DESCRIBED, "events"), partitions=3) == []


def test_rebalancing_unowned_and_shared_partitions_are_problems() -> None:
    view = GroupView("CompletingRebalance", {"a": [0, 1], "b": [1]})
    problems = assignment_problems(view, partitions=4)
    assert problems == [
        "group state is CompletingRebalance, not Stable",
        "partitions without an owner: [2, 3]",
        "partition 1 is assigned to 2 members: ['a', 'b']",
    ]


def test_expected_members_counts_idle_members_too() -> None:
    view = GroupView("Stable", {"a": [0], "b": [1], "c": [2], "d": []})
    assert assignment_problems(view, 3, expected_members=4) == []
    assert assignment_problems(view, 3, expected_members=3) == ["4 members, expected 3"]


def test_an_empty_group_is_not_stable() -> None:
    assert assignment_problems(GroupView("Empty", {}), 1) == [
        "group state is Empty, not Stable",
        "the group has no members",
        "partitions without an owner: [0]",
    ]


def test_membership_names_stale_and_missing_incarnations() -> None:
    # Right after a hard kill: the dead incarnation is still a member, its
    # replacement has not joined yet.
    view = GroupView("Stable", {"consumer-1-a": [0], "consumer-2-dead": [1]})
    assert membership_problems(view, ["consumer-1-a", "consumer-2-new"]) == [
        "members of incarnations that no longer run: ['consumer-2-dead']",
        "running incarnations not in the group yet: ['consumer-2-new']",
    ]
    assert membership_problems(view, ["consumer-1-a", "consumer-2-dead"]) == []


def test_membership_compares_client_ids_of_members_keyed_by_member_id() -> None:
    view = group_view(DESCRIBED, "events")
    assert membership_problems(view, ["consumer-1-aaaaaa", "consumer-2-bbbbbb"]) == []
    assert membership_problems(view, ["consumer-1-aaaaaa"]) == [
        "members of incarnations that no longer run: ['consumer-2-bbbbbb']"
    ]


def test_partition_lag_counts_uncommitted_partitions_from_log_start() -> None:
    lag = partition_lag(
        committed={0: 90, 1: 7}, end_offsets={0: 100, 1: 7, 2: 30}, start_offsets={2: 10}
    )
    assert lag == {0: 10, 1: 0, 2: 20}


def test_partition_lag_is_never_negative() -> None:
    # A committed offset read after the end offset (two separate requests).
    assert partition_lag({0: 105}, {0: 100}, {}) == {0: 0}
