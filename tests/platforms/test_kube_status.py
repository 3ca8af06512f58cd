"""Parsing what kubectl reports (literal JSON), label selectors, and finding the
selectors chaos experiments use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from riverbed.errors import HarnessError
from riverbed.platforms.kube.status import parse_lines, parse_pods, parse_rollout, phases
from tests.support.kube_selectors import (
    LabelledObject,
    kubernetes_experiments,
    matching,
    named_objects_in_experiments,
    parse_selector,
    selector_from_spec,
    selectors_in_experiments,
)

PODS = """
{
  "apiVersion": "v1",
  "kind": "List",
  "items": [
    {
      "metadata": {
        "name": "consumer-6c9f7b9d4-x2k8p",
        "labels": {"app.kubernetes.io/name": "consumer", "pod-template-hash": "6c9f7b9d4"},
        "creationTimestamp": "2026-11-24T21:40:02Z"
      },
      "spec": {"nodeName": "riverbed-control-plane"},
      "status": {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
        "containerStatuses": [{"name": "consumer", "restartCount": 2, "state": {"running": {}}}]
      }
    },
    {
      "metadata": {
        "name": "consumer-6c9f7b9d4-a1b2c",
        "labels": {"app.kubernetes.io/name": "consumer"},
        "deletionTimestamp": "2026-11-24T21:45:00Z"
      },
      "spec": {"nodeName": "riverbed-control-plane"},
      "status": {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "consumer", "restartCount": 0, "state": {"running": {}}}]
      }
    },
    {
      "metadata": {"name": "consumer-6c9f7b9d4-zzzzz", "labels": {}},
      "spec": {},
      "status": {
        "phase": "Pending",
        "containerStatuses": [
          {"name": "consumer", "restartCount": 0,
           "state": {"waiting": {"reason": "ErrImageNeverPull", "message": "not present"}}}
        ]
      }
    }
  ]
}
"""


def test_parse_pods() -> None:
    pods = {p.name: p for p in parse_pods(PODS)}
    assert list(pods) == sorted(pods)
    running = pods["consumer-6c9f7b9d4-x2k8p"]
    assert (running.phase, running.ready, running.restarts, running.terminating) == (
        "Running",
        True,
        2,
        False,
    )
    assert running.node == "riverbed-control-plane"
    assert running.created == "2026-11-24T21:40:02Z"
    assert running.labels["app.kubernetes.io/name"] == "consumer"
    dying = pods["consumer-6c9f7b9d4-a1b2c"]
    assert dying.terminating and not dying.ready
    pending = pods["consumer-6c9f7b9d4-zzzzz"]
    assert (pending.phase, pending.ready, pending.waiting_reason) == (
        "Pending",
        False,
        "ErrImageNeverPull",
    )
    assert phases(list(pods.values())) == {
        "consumer-6c9f7b9d4-x2k8p": "Running",
        "consumer-6c9f7b9d4-a1b2c": "Terminating",
        "consumer-6c9f7b9d4-zzzzz": "Pending",
    }


def test_parse_a_single_pod_and_an_empty_list() -> None:
    single = json.loads(PODS)["items"][0]
    assert [p.name for p in parse_pods(json.dumps(single))] == ["consumer-6c9f7b9d4-x2k8p"]
    assert parse_pods('{"kind": "List", "items": []}') == []


def test_parse_pods_rejects_non_json() -> None:
    with pytest.raises(HarnessError, match="not JSON"):
        parse_pods("error: the server doesn't have a resource type")


def test_parse_rollout() -> None:
    text = json.dumps(
        {
            "kind": "List",
            "items": [
                {
                    "kind": "Deployment",
                    "metadata": {"name": "consumer"},
                    "spec": {"replicas": 3},
                    "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
                },
                {
                    "kind": "StatefulSet",
                    "metadata": {"name": "kafka"},
                    "spec": {"replicas": 3},
                    "status": {"readyReplicas": 3, "updatedReplicas": 3, "availableReplicas": 3},
                },
                {"kind": "Deployment", "metadata": {"name": "monitor"}, "spec": {}, "status": {}},
            ],
        }
    )
    by_name = {r.name: r for r in parse_rollout(text)}
    assert not by_name["consumer"].complete
    assert (by_name["consumer"].desired, by_name["consumer"].ready) == (3, 2)
    assert by_name["kafka"].complete and by_name["kafka"].kind == "StatefulSet"
    assert (by_name["monitor"].desired, by_name["monitor"].ready) == (1, 0)


def test_parse_lines() -> None:
    assert parse_lines("kind\n  riverbed \n\n") == ["kind", "riverbed"]
    assert parse_lines("") == []


# ---- selectors ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ("app.kubernetes.io/name=consumer", {"app.kubernetes.io/name": "consumer"}, True),
        ("app.kubernetes.io/name==consumer", {"app.kubernetes.io/name": "consumer"}, True),
        ("app.kubernetes.io/name=consumer", {"app.kubernetes.io/name": "kafka"}, False),
        ("app.kubernetes.io/name=consumer", {}, False),
        ("a=1,b=2", {"a": "1", "b": "2", "c": "3"}, True),
        ("a=1,b=2", {"a": "1"}, False),
        ("a!=1", {}, True),
        ("a!=1", {"a": "1"}, False),
        ("tier in (cache, db)", {"tier": "db"}, True),
        ("tier in (cache,db),a=1", {"tier": "web", "a": "1"}, False),
        ("tier notin (cache,db)", {"tier": "web"}, True),
        ("tier notin (cache,db)", {}, True),
        ("gpu", {"gpu": ""}, True),
        ("!gpu", {"gpu": ""}, False),
        ("!gpu", {}, True),
        ("", {"anything": "x"}, True),
    ],
)
def test_selector_semantics(selector: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_selector(selector).matches(labels) is expected


@pytest.mark.parametrize("bad", ["a=b=c", "a in b", "=x", "a=(b)", "a b"])
def test_selector_syntax_errors_name_the_term(bad: str) -> None:
    with pytest.raises(ValueError, match="not a label selector term"):
        parse_selector(bad)


def test_match_expressions() -> None:
    sel = selector_from_spec(
        {
            "matchLabels": {"app": "x"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        }
    )
    assert sel.matches({"app": "x", "tier": "a"})
    assert not sel.matches({"app": "x", "tier": "a", "canary": "1"})
    assert not sel.matches({"app": "x", "tier": "c"})


def test_matching_filters_kind_and_namespace() -> None:
    objs = [
        LabelledObject("Pod", "a-*", "riverbed", {"app": "a"}, "Deployment/a"),
        LabelledObject("Pod", "a-*", "other", {"app": "a"}, "Deployment/a2"),
        LabelledObject("Deployment", "a", "riverbed", {"app": "a"}),
    ]
    sel = parse_selector("app=a")
    assert [o.owner for o in matching(sel, objs, "Pod", "riverbed")] == ["Deployment/a"]
    assert len(matching(sel, objs, "Pod")) == 2
    assert [o.name for o in matching(sel, objs, "Deployment", "riverbed")] == ["a"]


# ---- experiments --------------------------------------------------------------------------------
def _experiment(path: Path, activities: list[dict], configuration: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "title": path.stem,
                "configuration": configuration or {},
                "steady-state-hypothesis": {"title": "ok", "probes": activities[1:]},
                "method": activities[:1],
                "rollbacks": [],
            }
        )
    )


def _activity(activity: str, module: str, func: str, **arguments: object) -> dict:
    return {
        "type": "action",
        "name": activity,
        "provider": {"type": "python", "module": module, "func": func, "arguments": arguments},
    }


def test_selectors_in_experiments(tmp_path: Path) -> None:
    _experiment(
        tmp_path / "kill.json",
        [
            _activity(
                "kill",
                "chaosk8s.pod.actions",
                "terminate_pods",
                label_selector="${sel}",
                ns="${ns}",
                qty=1,
            ),
            _activity(
                "healthy",
                "chaosk8s.deployment.probes",
                "deployment_available_and_healthy",
                name="consumer",
                label_selector="app.kubernetes.io/name=consumer",
            ),
        ],
        configuration={
            "sel": "app.kubernetes.io/name=consumer",
            "ns": {"type": "env", "key": "RIVERBED_TEST_UNSET_NS_VAR", "default": "riverbed"},
        },
    )
    # The local platform's experiments are not Kubernetes experiments.
    _experiment(
        tmp_path / "local" / "kill.json",
        [_activity("kill", "riverbed.chaos.local.actions", "kill_consumers", selector="x=y")],
    )
    assert kubernetes_experiments(tmp_path) == [tmp_path / "kill.json"]
    uses = selectors_in_experiments(tmp_path)
    assert sorted((u.activity, u.selector, u.namespace, u.target_kind) for u in uses) == [
        # No ns: chaostoolkit-kubernetes looks in "default" — a mismatch the manifests test catches.
        ("healthy", "app.kubernetes.io/name=consumer", "default", "Deployment"),
        ("kill", "app.kubernetes.io/name=consumer", "riverbed", "Pod"),
    ]
    named = named_objects_in_experiments(tmp_path)
    assert [(u.kind, u.name, u.namespace) for u in named] == [("Deployment", "consumer", "default")]


def test_a_chaosk8s_experiment_under_local_still_counts(tmp_path: Path) -> None:
    _experiment(
        tmp_path / "local" / "odd.json",
        [_activity("kill", "chaosk8s.pod.actions", "terminate_pods", label_selector="a=b", ns="n")],
    )
    assert kubernetes_experiments(tmp_path) == [tmp_path / "local" / "odd.json"]
    assert [u.selector for u in selectors_in_experiments(tmp_path)] == ["a=b"]


def test_broken_experiment_is_a_named_error(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(HarnessError, match="bad.json"):
        selectors_in_experiments(tmp_path)
