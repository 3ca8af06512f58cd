"""Did a fault land? One rule per known action, shared by the control and the runner.

Chaos Toolkit records an action as ``succeeded`` when it did not raise, which
is not the same as having had an effect: ``chaosk8s.pod.actions.terminate_pods``
with a selector that matches nothing succeeds with ``[]``. riverbed judges each
action by its output; a run whose faults did not land proves nothing and is
reported inconclusive.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def _nonempty_list(output: Any) -> bool:
    return isinstance(output, list) and len(output) > 0


def _flag(key: str) -> Callable[[Any], bool]:
    return lambda output: isinstance(output, Mapping) and bool(output.get(key))


def _positive(key: str) -> Callable[[Any], bool]:
    return lambda output: isinstance(output, Mapping) and (output.get(key) or 0) > 0


def _changed(output: Any) -> bool:
    return isinstance(output, Mapping) and output.get("before") != output.get("after")


def _anything(output: Any) -> bool:
    return True


def _toxics(output: Any) -> bool:
    """A network fault landed when it added toxics to at least one proxy."""
    return isinstance(output, Mapping) and _nonempty_list(output.get("toxics"))


#: ``module.func`` → whether its (succeeded) output means it had an effect.
RULES: dict[str, Callable[[Any], bool]] = {
    # riverbed's actions
    "riverbed.chaos.local.actions.kill_consumers": _nonempty_list,
    "riverbed.chaos.local.actions.scale_consumers": _changed,
    "riverbed.chaos.local.actions.restore_consumers": _changed,
    "riverbed.chaos.local.actions.stop_broker": _flag("stopped"),
    "riverbed.chaos.local.actions.kill_broker": _flag("killed"),
    "riverbed.chaos.local.actions.pause_consumers": _nonempty_list,
    "riverbed.chaos.local.actions.resume_consumers": _nonempty_list,
    "riverbed.chaos.local.actions.pause_broker": _flag("paused"),
    "riverbed.chaos.local.actions.resume_broker": lambda o: _nonempty_list(
        o.get("resumed") if isinstance(o, Mapping) else None
    ),
    "riverbed.chaos.local.actions.start_broker": lambda o: _nonempty_list(
        o.get("started") if isinstance(o, Mapping) else None
    ),
    "riverbed.chaos.local.network.add_latency": _toxics,
    "riverbed.chaos.local.network.limit_bandwidth": _toxics,
    "riverbed.chaos.local.network.reset_connections": _toxics,
    "riverbed.chaos.local.network.partition_consumers": _toxics,
    # Kubernetes network faults landed in the pods whose rules were in place.
    "riverbed.chaos.kube.network.partition_consumer_pods": lambda o: _nonempty_list(
        o.get("cut") if isinstance(o, Mapping) else None
    ),
    "riverbed.chaos.kube.network.reset_consumer_pod_connections": lambda o: _nonempty_list(
        o.get("cut") if isinstance(o, Mapping) else None
    ),
    "riverbed.chaos.kube.network.heal_consumer_pods": _anything,
    "riverbed.chaos.kafka.actions.add_partitions": _positive("added"),
    "riverbed.chaos.kafka.actions.inject_poison_records": _positive("injected"),
    # chaostoolkit-kubernetes: terminate_pods returns the names of the pods it
    # deleted, so an empty list is a selector that matched nothing.
    "chaosk8s.pod.actions.terminate_pods": _nonempty_list,
    # exec_in_pods returns one result per pod it ran the command in; the kill
    # landed where the command exited 0 (riverbed's hard kill: `kill -KILL -1`).
    "chaosk8s.pod.actions.exec_in_pods": lambda o: (
        isinstance(o, list) and any(isinstance(r, Mapping) and r.get("exit_code") == 0 for r in o)
    ),
    # scale_deployment returns nothing; not raising means the API server
    # accepted the new replica count.
    "chaosk8s.deployment.actions.scale_deployment": _anything,
    # riverbed's scale-subresource twins return the replica count the API server accepted.
    "riverbed.chaos.kube.actions.scale_deployment": _anything,
    "riverbed.chaos.kube.actions.scale_statefulset": _anything,
}


def provider_target(activity: Mapping[str, Any]) -> str:
    """``module.func`` of a Python provider; the URL or path of an HTTP or process one."""
    provider = activity.get("provider") or {}
    kind = provider.get("type")
    if kind == "python":
        return f"{provider.get('module')}.{provider.get('func')}"
    if kind == "http":
        return str(provider.get("url"))
    if kind == "process":
        return str(provider.get("path"))
    return str(kind)


def landed(activity: Mapping[str, Any], status: str, output: Any) -> bool | None:
    """Whether an action had an effect; ``None`` for probes (they observe, nothing lands).

    A failed action never landed. Known actions are judged by :data:`RULES`;
    any other succeeded action landed when its output is not empty (the rule
    docs/evidence.md states for records without ``landed``).
    """
    if activity.get("type") != "action":
        return None
    if status != "succeeded":
        return False
    rule = RULES.get(provider_target(activity))
    if rule is not None:
        return bool(rule(output))
    return output not in (None, "", [], {}, False, 0)
