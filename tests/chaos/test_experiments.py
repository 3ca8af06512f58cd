"""The experiment files: valid for `chaos validate`, complete, and consistent with each other."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "experiments"
KIND_FILES = sorted(EXPERIMENTS.glob("*.json"))
LOCAL_FILES = sorted((EXPERIMENTS / "local").glob("*.json"))
ALL_FILES = KIND_FILES + LOCAL_FILES

#: kind scenario → its local twin.
TWINS = {
    "kill-consumer-pod": "kill-consumer",
    "kill-consumer-pod-hard": "kill-consumer-hard",
    "resize-partitions": "resize-partitions",
    "kill-consumer-during-resize": "kill-consumer-during-resize",
    "scale-consumers": "scale-consumers",
    "kill-broker-pod": "kill-broker",
    "poison-records": "poison-records",
    "pause-consumer-pod": "pause-consumer",
    "network-partition-pod": "network-partition",
    "network-reset-pod": "network-reset",
}
#: Local scenarios without a Kubernetes twin (docs/chaos.md, "Which faults on which platform").
LOCAL_ONLY = {
    "pause-broker",
    "network-latency",
    "network-bandwidth",
}


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def activities(exp: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(phase, activity) of every activity of the experiment."""
    out = [("steady-state", p) for p in exp["steady-state-hypothesis"]["probes"]]
    out += [("method", a) for a in exp["method"]]
    out += [("rollback", a) for a in exp["rollbacks"]]
    return out


def test_the_issue_s_scenarios_all_exist_for_both_platforms() -> None:
    assert sorted(p.stem for p in KIND_FILES) == sorted(TWINS)
    assert sorted(p.stem for p in LOCAL_FILES) == sorted([*TWINS.values(), *LOCAL_ONLY])


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(EXPERIMENTS)))
def test_chaos_validate_passes_without_any_variable(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaostoolkit.cli import cli

    for key in [k for k in os.environ if k.startswith("RIVERBED_")]:
        monkeypatch.delenv(key)
    result = CliRunner().invoke(cli, ["--no-version-check", "--no-log-file", "validate", str(path)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(EXPERIMENTS)))
def test_experiment_shape(path: Path) -> None:
    exp = load(path)
    # Its id (the evidence's `experiment`) is its file name.
    (ext,) = [e for e in exp["extensions"] if e["name"] == "riverbed"]
    assert ext["id"] == path.stem
    assert ext["platform"] == ("local" if path.parent.name == "local" else "kind")
    # The evidence control, a hypothesis checked before and after, rollbacks.
    assert exp["controls"] == [
        {
            "name": "riverbed-evidence",
            "provider": {"type": "python", "module": "riverbed.chaos.control"},
        }
    ]
    probes = exp["steady-state-hypothesis"]["probes"]
    assert probes and all(p.get("tolerance") is True for p in probes)
    assert {"consumer-lag-below-threshold"} <= {p["name"] for p in probes}
    assert exp["rollbacks"]
    assert any(a["type"] == "action" for a in exp["method"])
    # Configuration from env vars, each with a default.
    for key, entry in exp["configuration"].items():
        assert (
            entry["type"] == "env" and entry["key"].startswith("RIVERBED_") and "default" in entry
        ), key
    # Secrets are referenced from providers, every scope declared and used.
    declared = set(exp.get("secrets", {}))
    used = set()
    for _, activity in activities(exp):
        provider = activity["provider"]
        used |= set(provider.get("secrets", []))
        if provider["module"].startswith(("riverbed.chaos.kafka", "chaosk8s")):
            assert provider.get("secrets"), activity["name"]
    assert used == declared
    # Every ${name} an activity uses is configured.
    text = json.dumps(exp["method"] + exp["rollbacks"] + [exp["steady-state-hypothesis"]])
    for name in re.findall(r"\$\{([^}]+)\}", text):
        assert name in exp["configuration"], name


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: str(p.relative_to(EXPERIMENTS)))
def test_every_provider_resolves_against_the_installed_extensions(path: Path) -> None:
    """Every module, function and argument exists in the installed riverbed and
    chaostoolkit-kubernetes, and no required argument is missing."""
    for _, activity in activities(load(path)):
        provider = activity["provider"]
        assert provider["type"] == "python"
        module = importlib.import_module(provider["module"])
        func = getattr(module, provider["func"])
        assert provider["func"] in module.__all__, f"{provider['func']} is not exported"
        params = inspect.signature(func).parameters
        for arg in provider.get("arguments", {}):
            assert arg in params, f"{path.name}: {activity['name']} passes unknown argument {arg}"
        required = [
            n for n, p in params.items()
            if p.default is inspect.Parameter.empty and n not in ("secrets", "configuration")
        ]  # fmt: skip
        assert set(required) <= set(provider.get("arguments", {})), (activity["name"], required)
        if provider.get("secrets"):
            assert "secrets" in params, f"{provider['func']} takes no secrets"


def test_local_experiments_use_local_actions_and_kind_ones_kubernetes_actions() -> None:
    for path in LOCAL_FILES:
        mods = {a["provider"]["module"] for _, a in activities(load(path))}
        assert not any(m.startswith("chaosk8s") for m in mods), path.name
    for path in KIND_FILES:
        mods = {a["provider"]["module"] for _, a in activities(load(path))}
        assert not any(m.startswith("riverbed.chaos.local") for m in mods), path.name


def test_twins_inject_the_same_kind_of_fault() -> None:
    local_fault = {
        "kill_consumers": "consumer-kill",
        "add_partitions": "partitions",
        "scale_consumers": "scale",
        "kill_broker": "broker-kill",
        "inject_poison_records": "poison",
        "pause_consumers": "consumer-pause",
    }
    kind_fault = {"add_partitions": "partitions", "scale_deployment": "scale",
                  "inject_poison_records": "poison"}  # fmt: skip

    def faults(path: Path, table: dict[str, str]) -> set[str]:
        out = set()
        for a in load(path)["method"]:
            func = a["provider"]["func"]
            if func in ("terminate_pods", "exec_in_pods"):
                selector = a["provider"]["arguments"]["label_selector"]
                command = " ".join(a["provider"]["arguments"].get("cmd", []))
                if "-STOP" in command:
                    out.add("consumer-pause")
                else:
                    out.add("broker-kill" if "broker" in selector else "consumer-kill")
            elif func in table:
                out.add(table[func])
        return out

    for kind_name, local_name in TWINS.items():
        assert faults(EXPERIMENTS / f"{kind_name}.json", kind_fault) == faults(
            EXPERIMENTS / "local" / f"{local_name}.json", local_fault
        ), kind_name


def test_hard_and_graceful_kills_use_the_right_signal_and_grace_period() -> None:
    def arg(path: Path, func: str, name: str) -> Any:
        exp = load(path)
        (a,) = [a for a in exp["method"] if a["provider"]["func"] == func]
        value = a["provider"]["arguments"][name]
        if isinstance(value, str) and value.startswith("${"):
            return exp["configuration"][value[2:-1]]["default"]
        return value

    assert arg(EXPERIMENTS / "kill-consumer-pod.json", "terminate_pods", "grace_period") == -1
    # A hard kill is SIGKILL to the consumer process: deleting a pod, even with grace
    # period 0, sends SIGTERM first.
    hard = EXPERIMENTS / "kill-consumer-pod-hard.json"
    assert arg(hard, "exec_in_pods", "cmd") == ["/bin/sh", "-c", "kill -KILL -1"]
    assert arg(hard, "exec_in_pods", "container_name") == "consumer"
    assert not [a for a in load(hard)["method"] if a["provider"]["func"] == "terminate_pods"]
    assert (
        arg(EXPERIMENTS / "local" / "kill-consumer.json", "kill_consumers", "signal") == "SIGTERM"
    )
    assert (
        arg(EXPERIMENTS / "local" / "kill-consumer-hard.json", "kill_consumers", "signal")
        == "SIGKILL"
    )
    assert arg(EXPERIMENTS / "resize-partitions.json", "add_partitions", "total") == 6


def test_pauses_always_send_sigcont() -> None:
    """A pause ends with SIGCONT on every path: after its duration, on an interrupt, and
    in the rollbacks (a run must never leave a frozen process behind)."""
    kind = load(EXPERIMENTS / "pause-consumer-pod.json")
    (pause,) = [a for a in kind["method"] if a["provider"]["func"] == "exec_in_pods"]
    script = pause["provider"]["arguments"]["cmd"][-1]
    assert pause["provider"]["arguments"]["cmd"][:2] == ["/bin/sh", "-c"]
    assert "kill -STOP -1" in script and "trap 'kill -CONT -1' EXIT" in script
    assert script.index("trap") < script.index("kill -STOP")
    assert pause["provider"]["arguments"]["qty"] == 1
    assert pause["provider"]["arguments"]["container_name"] == "${consumer_container}"
    (cont,) = [a for a in kind["rollbacks"] if a["provider"]["func"] == "exec_in_pods"]
    assert cont["provider"]["arguments"]["cmd"] == ["/bin/sh", "-c", "kill -CONT -1"]
    assert cont["provider"]["arguments"]["all"] is True
    # The pause outlasts the default 10 s session timeout: the member becomes a zombie.
    assert kind["configuration"]["pause_s"]["default"] > 10
    assert (
        pause["provider"]["arguments"]["request_timeout"]
        > kind["configuration"]["pause_s"]["default"]
    )

    local = load(EXPERIMENTS / "local" / "pause-consumer.json")
    (action,) = [a for a in local["method"] if a["type"] == "action"]
    assert action["provider"]["func"] == "pause_consumers"
    assert local["configuration"]["pause_s"]["default"] > 10
    assert [a["provider"]["func"] for a in local["rollbacks"]][0] == "resume_consumers"
    broker = load(EXPERIMENTS / "local" / "pause-broker.json")
    (action,) = [a for a in broker["method"] if a["type"] == "action"]
    assert action["provider"]["func"] == "pause_broker"
    assert [a["provider"]["func"] for a in broker["rollbacks"]][0] == "resume_broker"
