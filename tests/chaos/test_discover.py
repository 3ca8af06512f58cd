"""Discovery: `chaos discover riverbed` lists every activity, each usable the way users expect."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from riverbed.chaos import ACTIVITY_MODULES, discover

EXPECTED = {
    "riverbed.chaos.kafka.actions": {"add_partitions", "inject_poison_records"},
    "riverbed.chaos.kafka.probes": {
        "consumer_group_stable", "consumer_lag_below", "partition_count", "brokers_in_isr",
    },
    "riverbed.chaos.local.actions": {
        "kill_consumers", "pause_consumers", "resume_consumers", "scale_consumers",
        "restore_consumers", "stop_broker", "kill_broker", "pause_broker", "resume_broker",
        "start_broker",
    },
    "riverbed.chaos.local.network": {
        "add_latency", "limit_bandwidth", "reset_connections", "partition_consumers",
    },
    "riverbed.chaos.local.probes": {"consumer_replicas", "consumer_group_converged"},
    "riverbed.chaos.kube.network": {
        "partition_consumer_pods", "reset_consumer_pod_connections", "heal_consumer_pods",
    },
}  # fmt: skip
JSONABLE_RETURNS = {"boolean", "integer", "number", "string", "list", "mapping"}


def test_chaos_discover_riverbed_lists_every_activity(tmp_path: Path) -> None:
    from chaostoolkit.cli import cli

    out = tmp_path / "discovery.json"
    result = CliRunner().invoke(
        cli,
        ["--no-version-check", "--no-log-file", "discover", "--no-install", "--no-system-info",
         "--discovery-path", str(out), "riverbed"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    discovery = json.loads(out.read_text())
    assert discovery["extension"]["name"] == "riverbed"
    found: dict[str, set[str]] = {}
    for a in discovery["activities"]:
        found.setdefault(a["mod"], set()).add(a["name"])
        assert a["doc"], a["name"]
    assert found == EXPECTED


def test_discovery_types_actions_and_probes() -> None:
    kinds = {(a["mod"], a["type"]) for a in discover()["activities"]}
    assert kinds == {(m, k) for m, k in ACTIVITY_MODULES}


@pytest.mark.parametrize(
    ("module", "func"), [(m, f) for m, fs in EXPECTED.items() for f in sorted(fs)]
)
def test_exported_functions_follow_the_extension_conventions(module: str, func: str) -> None:
    mod = importlib.import_module(module)
    assert set(mod.__all__) == EXPECTED[module]
    fn = getattr(mod, func)
    sig = inspect.signature(fn)
    # Keyword arguments, every one with a default.
    for name, param in sig.parameters.items():
        assert param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, (func, name)
        assert param.default is not inspect.Parameter.empty, f"{func}({name}) has no default"
        json.dumps(param.default)  # defaults are JSON values too
    # A docstring written for users: what it does and what it returns.
    doc = inspect.getdoc(fn) or ""
    assert len(doc) > 150 and ("Returns" in doc or "return" in doc), func
    # A JSON-able return type Chaos Toolkit can show.
    activity = next(a for a in discover()["activities"] if a["name"] == func)
    assert activity.get("return_type") in JSONABLE_RETURNS, (func, activity.get("return_type"))
