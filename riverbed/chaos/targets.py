"""Where the chaos activities find their targets, when an experiment does not say.

Every riverbed activity takes its targets as keyword arguments with empty
defaults. An empty value is resolved here, in this order:

1. the environment: ``RIVERBED_BOOTSTRAP_SERVERS``, ``RIVERBED_TOPIC``,
   ``RIVERBED_GROUP``;
2. the running local platform (``riverbed up``), found through
   ``RIVERBED_LOCAL_STATE_DIR`` (default ``~/.local/state/riverbed/local``);
3. the defaults below, which match the kind setup (NodePorts mapped to
   127.0.0.1:19092..19094) and the local Kafka cluster's default ports.

Kafka client security settings (SASL, TLS) come from the experiment's
secrets: declare them in a secrets scope and list that scope in the
provider's ``secrets``; see :func:`kafka_client_configs`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError

logger = logging.getLogger("chaostoolkit")

DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
DEFAULT_TOPIC = "riverbed-events"
DEFAULT_GROUP = "riverbed-consumers"

#: Kafka client settings an experiment may pass through its secrets.
KAFKA_SECRET_KEYS = frozenset(
    {
        "security_protocol",
        "sasl_mechanism",
        "sasl_plain_username",
        "sasl_plain_password",
        "ssl_cafile",
        "ssl_certfile",
        "ssl_keyfile",
        "ssl_password",
        "ssl_check_hostname",
    }
)


def local_platform_config(state_dir: str = "") -> dict[str, Any] | None:
    """The running local platform's ``platform.json``, or ``None`` when there is none."""
    from riverbed.platforms.local import default_state_dir

    path = (Path(state_dir).expanduser() if state_dir else default_state_dir()) / "platform.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _resolve(value: str, env: str, key: str, default: str, state_dir: str = "") -> str:
    if value:
        return value
    if from_env := os.environ.get(env):
        return from_env
    config = local_platform_config(state_dir)
    if config and config.get(key):
        return str(config[key])
    return default


def bootstrap_servers(value: str = "", state_dir: str = "") -> str:
    """``value``, else ``$RIVERBED_BOOTSTRAP_SERVERS``, else the local platform's, else the default."""
    return _resolve(
        value,
        "RIVERBED_BOOTSTRAP_SERVERS",
        "bootstrap_servers",
        DEFAULT_BOOTSTRAP_SERVERS,
        state_dir,
    )


def topic(value: str = "", state_dir: str = "") -> str:
    """``value``, else ``$RIVERBED_TOPIC``, else the local platform's, else ``riverbed-events``."""
    return _resolve(value, "RIVERBED_TOPIC", "topic", DEFAULT_TOPIC, state_dir)


def group(value: str = "", state_dir: str = "") -> str:
    """``value``, else ``$RIVERBED_GROUP``, else the local platform's, else ``riverbed-consumers``."""
    return _resolve(value, "RIVERBED_GROUP", "group", DEFAULT_GROUP, state_dir)


def kafka_client_configs(secrets: dict[str, Any] | None) -> dict[str, Any]:
    """Kafka client settings from an activity's secrets (empty values are ignored).

    Unknown keys are an error rather than silently dropped: a misspelt
    ``sasl_plain_password`` would otherwise surface as an authentication
    failure far from its cause.
    """
    configs: dict[str, Any] = {}
    for key, value in (secrets or {}).items():
        if key not in KAFKA_SECRET_KEYS:
            raise HarnessError(
                f"Unknown Kafka secret {key!r}.",
                fix=f"use one of {', '.join(sorted(KAFKA_SECRET_KEYS))}.",
            )
        if value not in (None, ""):
            configs[key] = value
    return configs


def split_names(value: str | list[str] | None) -> list[str]:
    """A list of names from a JSON list or a comma-separated string (handy with env vars)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [n.strip() for n in value.split(",") if n.strip()]
    return [str(n).strip() for n in value if str(n).strip()]
