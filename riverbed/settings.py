"""Settings from an optional ``riverbed.toml``.

Precedence, highest first: command-line flags, environment variables
(``RIVERBED_*``, shown in each option's help), ``riverbed.toml``, built-in
defaults. The file has one table per command, keyed by option name::

    [run]
    platform = "local"
    duration = "2m"
    users = 20
    partitions = 3
    consumers = 3
    commit-mode = "after-process"
    experiment = ["experiments/local/kill-consumer-hard.json"]

    [up]
    brokers = 3

The file is found at ``--config PATH``, ``$RIVERBED_CONFIG``, or
``./riverbed.toml``.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError


def config_path(explicit: str | Path | None = None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.exists():
            raise HarnessError(f"Settings file {path} does not exist.", fix="check --config.")
        return path
    if env := os.environ.get("RIVERBED_CONFIG"):
        path = Path(env)
        if not path.exists():
            raise HarnessError(
                f"RIVERBED_CONFIG names {path}, which does not exist.",
                fix="fix or unset RIVERBED_CONFIG.",
            )
        return path
    local = Path("riverbed.toml")
    return local if local.exists() else None


def load_default_map(explicit: str | Path | None = None) -> dict[str, Any]:
    """A click ``default_map``: ``{command: {option_dest: value}}``."""
    path = config_path(explicit)
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"{path} is not valid TOML: {exc}", fix="fix the file.") from exc
    default_map: dict[str, Any] = {}
    for command, table in data.items():
        if not isinstance(table, dict):
            raise HarnessError(
                f"{path}: top-level key {command!r} must be a table like [run].",
                fix="put settings under [run], [up], … tables.",
            )
        default_map[command] = {k.replace("-", "_"): v for k, v in table.items()}
    return default_map
