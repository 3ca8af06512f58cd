"""docs/settings.md is generated from the code, and every program reads the shared names."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from riverbed import settings_doc
from workloads.settings_core import (
    ENVIRONMENT_ONLY,
    KAFKA_BOOTSTRAP,
    KAFKA_CONFIG,
    KAFKA_GROUP,
    KAFKA_TOPIC,
)

ROOT = Path(__file__).resolve().parent.parent


def test_docs_settings_md_is_what_the_code_says():
    current = (ROOT / "docs" / "settings.md").read_text()
    assert current == settings_doc.document(), (
        "docs/settings.md is stale: run `.venv/bin/python -m riverbed.settings_doc --write`"
    )


def test_every_riverbed_variable_the_code_names_is_in_the_table():
    doc = (ROOT / "docs" / "settings.md").read_text()
    names: dict[str, str] = {}
    for folder in ("riverbed", "workloads", "locustfiles"):
        for path in (ROOT / folder).rglob("*.py"):
            for name in re.findall(r"\bRIVERBED_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()):
                names.setdefault(name, str(path.relative_to(ROOT)))
    missing = {n: where for n, where in names.items() if f"`{n}`" not in doc}
    assert not missing, f"variables read or set by the code but not in docs/settings.md: {missing}"
    assert {v.name for v in ENVIRONMENT_ONLY} <= set(names)  # no stale entries either


def test_the_table_lists_what_click_and_argparse_really_accept():
    """Spot checks that the generator reads the parsers, not a copy of them."""
    doc = (ROOT / "docs" / "settings.md").read_text()
    run_row = next(
        line
        for line in doc.splitlines()
        if line.startswith(
            "| `--kafka-bootstrap` | `RIVERBED_RUN_KAFKA_BOOTSTRAP`, `RIVERBED_KAFKA_BOOTSTRAP`, "
            "`RIVERBED_BOOTSTRAP_SERVERS`, `KAFKA_BROKER` |"
        )
    )
    assert "external" in run_row
    monitor = doc.split("### `python -m workloads.monitor`")[1].split("###")[0]
    assert "| `--bootstrap-servers`, `--kafka-bootstrap` |" in monitor
    assert "`RIVERBED_MONITOR_INTERVAL_S`" in monitor


@pytest.mark.parametrize("variable", KAFKA_BOOTSTRAP.envs)
def test_every_program_reads_every_name_of_the_bootstrap_setting(variable, monkeypatch):
    """The riverbed CLI, the workloads, Locust and the chaos activities: one setting,
    the same variables (canonical first, then the older names)."""
    from locustfiles import settings as locust_settings
    from riverbed.chaos import targets
    from workloads.monitor import build_parser

    for name in KAFKA_BOOTSTRAP.envs + KAFKA_TOPIC.envs + KAFKA_GROUP.envs:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, "h:1")
    monkeypatch.setenv("RIVERBED_LOCAL_STATE_DIR", "/nonexistent")
    # workloads
    args = build_parser().parse_args(["--group", "g", "--topic", "t", "--out", "x"])
    assert args.bootstrap_servers == "h:1"
    # Locust
    import argparse

    parser = argparse.ArgumentParser()
    locust_settings.add_options(parser, "kafka", locust_settings.KAFKA_OPTIONS)
    assert parser.parse_args([]).kafka_bootstrap == "h:1"
    # chaos activities
    assert targets.bootstrap_servers() == "h:1"
    # the riverbed CLI
    from riverbed.cli import main  # noqa: F401  (applies the settings rule to every option)
    from riverbed.commands import run

    ctx = click.Context(run, info_name="run")
    option = next(p for p in run.params if p.name == "kafka_bootstrap")
    assert option.resolve_envvar_value(ctx) == "h:1"


def test_canonical_names_win_over_older_ones(monkeypatch):
    from riverbed.chaos import targets
    from workloads.monitor import build_parser

    monkeypatch.setenv("KAFKA_BROKER", "tutorial:1")
    monkeypatch.setenv("RIVERBED_BOOTSTRAP_SERVERS", "older:1")
    monkeypatch.setenv("RIVERBED_KAFKA_BOOTSTRAP", "canonical:1")
    args = build_parser().parse_args(["--group", "g", "--topic", "t", "--out", "x"])
    assert args.bootstrap_servers == "canonical:1"
    assert targets.bootstrap_servers() == "canonical:1"
    monkeypatch.delenv("RIVERBED_KAFKA_BOOTSTRAP")
    assert targets.bootstrap_servers() == "older:1"


def test_the_tutorial_variables_come_after_the_running_platform_for_chaos(tmp_path, monkeypatch):
    """A by-hand load exports KAFKA_TOPIC for Locust; a fault must still hit the running
    platform's topic, as it did before the tutorial names were read."""
    import json

    from riverbed.chaos import targets

    for name in KAFKA_TOPIC.envs:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "platform.json").write_text(json.dumps({"topic": "the-platforms"}))
    monkeypatch.setenv("RIVERBED_LOCAL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("KAFKA_TOPIC", "by-hand")
    assert targets.topic() == "the-platforms"
    monkeypatch.setenv("RIVERBED_TOPIC", "riverbeds")
    assert targets.topic() == "riverbeds"


def test_the_client_config_variable_has_one_parser_for_every_program():
    assert KAFKA_CONFIG.envs == ("RIVERBED_KAFKA_CONFIG", "KAFKA_CLIENT_CONFIG")


def test_the_generator_runs_as_a_module():
    r = subprocess.run(
        [sys.executable, "-m", "riverbed.settings_doc"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert r.returncode == 0 and r.stdout.startswith("# Settings")
