"""Whether a fault landed, judged from its output."""

from __future__ import annotations

from typing import Any

import pytest

from riverbed.chaos.landing import landed, provider_target


def action(module: str, func: str) -> dict[str, Any]:
    return {
        "type": "action",
        "name": "a",
        "provider": {"type": "python", "module": module, "func": func},
    }


@pytest.mark.parametrize(
    ("module", "func", "output", "expected"),
    [
        ("chaosk8s.pod.actions", "terminate_pods", ["consumer-7d9-x2"], True),
        # The semantics users get wrong: a selector that matched nothing "succeeds".
        ("chaosk8s.pod.actions", "terminate_pods", [], False),
        # The hard kill: the command ran in a pod and exited 0.
        (
            "chaosk8s.pod.actions",
            "exec_in_pods",
            [{"pod_name": "consumer-1", "exit_code": 0}],
            True,
        ),
        (
            "chaosk8s.pod.actions",
            "exec_in_pods",
            [{"pod_name": "consumer-1", "exit_code": 1}],
            False,
        ),
        # No pod matched, or none had the container: nothing was killed.
        ("chaosk8s.pod.actions", "exec_in_pods", [], False),
        ("chaosk8s.deployment.actions", "scale_deployment", None, True),
        ("riverbed.chaos.local.actions", "kill_consumers", ["consumer-2"], True),
        ("riverbed.chaos.local.actions", "kill_consumers", [], False),
        ("riverbed.chaos.local.actions", "scale_consumers", {"before": 3, "after": 5}, True),
        ("riverbed.chaos.local.actions", "scale_consumers", {"before": 3, "after": 3}, False),
        (
            "riverbed.chaos.local.actions",
            "stop_broker",
            {"broker_id": 2, "pid": 9, "stopped": True},
            True,
        ),
        (
            "riverbed.chaos.local.actions",
            "kill_broker",
            {"broker_id": 2, "pid": None, "killed": False},
            False,
        ),
        (
            "riverbed.chaos.local.actions",
            "start_broker",
            {"started": [2], "already_running": [1]},
            True,
        ),
        (
            "riverbed.chaos.local.actions",
            "start_broker",
            {"started": [], "already_running": [1]},
            False,
        ),
        (
            "riverbed.chaos.kafka.actions",
            "add_partitions",
            {"before": 3, "after": 6, "added": 3},
            True,
        ),
        (
            "riverbed.chaos.kafka.actions",
            "add_partitions",
            {"before": 6, "after": 6, "added": 0},
            False,
        ),
        ("riverbed.chaos.kafka.actions", "inject_poison_records", {"injected": 6}, True),
        ("riverbed.chaos.kafka.actions", "inject_poison_records", {"injected": 0}, False),
        # Anything else: a non-empty output counts (docs/evidence.md's rule).
        ("somebody.actions", "do", {"ok": 1}, True),
        ("somebody.actions", "do", None, False),
        ("somebody.actions", "do", [], False),
    ],
)
def test_succeeded_actions_are_judged_by_their_output(
    module: str, func: str, output: Any, expected: bool
) -> None:
    assert landed(action(module, func), "succeeded", output) is expected


def test_a_failed_action_never_landed() -> None:
    assert landed(action("chaosk8s.pod.actions", "terminate_pods"), "failed", ["p"]) is False


def test_probes_do_not_land() -> None:
    probe = {"type": "probe", "provider": {"type": "python", "module": "m", "func": "f"}}
    assert landed(probe, "succeeded", True) is None


def test_provider_target_names_python_http_and_process_providers() -> None:
    assert provider_target(action("m.n", "f")) == "m.n.f"
    assert provider_target({"provider": {"type": "http", "url": "http://x/y"}}) == "http://x/y"
    assert provider_target({"provider": {"type": "process", "path": "kill"}}) == "kill"
