"""Where riverbed keeps things outside a run directory.

Everything here can be moved with an environment variable, so that CI and
users with unusual home directories stay in control.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The repository (or installed source tree) root: experiments/, manifests/ and
#: locustfiles/ are found relative to it.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Downloaded artifacts (the Apache Kafka jars): ``$RIVERBED_CACHE_DIR``,
    else ``$XDG_CACHE_HOME/riverbed``, else ``~/.cache/riverbed``."""
    if env := os.environ.get("RIVERBED_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "riverbed"


def state_dir() -> Path:
    """State of long-lived local services (the local Kafka cluster):
    ``$RIVERBED_STATE_DIR``, else ``$XDG_STATE_HOME/riverbed``, else
    ``~/.local/state/riverbed``."""
    if env := os.environ.get("RIVERBED_STATE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "riverbed"
