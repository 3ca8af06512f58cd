"""Where the chaos activities find their targets, when an experiment does not say.

Every riverbed activity takes its targets as keyword arguments with empty
defaults. An empty value is resolved here, in this order:

1. riverbed's variables: ``RIVERBED_KAFKA_BOOTSTRAP``, ``RIVERBED_KAFKA_TOPIC``,
   ``RIVERBED_KAFKA_GROUP`` (and their older names ``RIVERBED_BOOTSTRAP_SERVERS``,
   ``RIVERBED_TOPIC``, ``RIVERBED_GROUP``; see :mod:`workloads.settings_core`);
2. the running local platform (``riverbed up``), found through
   ``RIVERBED_LOCAL_STATE_DIR`` (default ``~/.local/state/riverbed/local``);
3. the tutorial's variables (``KAFKA_BROKER``, ``KAFKA_TOPIC``, ``KAFKA_GROUP``):
   after the platform, since they usually describe a by-hand load, not the
   platform a fault is meant for;
4. the defaults below, which match the kind setup (NodePorts mapped to
   127.0.0.1:19092..19094) and the local Kafka cluster's default ports.

Kafka client connection settings (SASL, TLS) come from ``RIVERBED_KAFKA_CONFIG``
(``riverbed run`` sets it for a cluster it does not run), and an experiment's
secrets may add or override them: declare them in a secrets scope and list
that scope in the provider's ``secrets``; see :func:`kafka_client_configs`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError
from workloads import client_config
from workloads.settings_core import (
    KAFKA_BOOTSTRAP,
    KAFKA_GROUP,
    KAFKA_TOPIC,
    TUTORIAL_VARIABLES,
    Setting,
)

logger = logging.getLogger("chaostoolkit")

DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
DEFAULT_TOPIC = "riverbed-events"
DEFAULT_GROUP = "riverbed-consumers"

#: Kafka client settings an experiment may pass through its secrets: librdkafka / Java
#: names (``sasl.username``) or kafka-python's (``sasl_plain_username``).
KAFKA_SECRET_KEYS = frozenset(
    name for key in client_config.KEYS for name in (key.name, key.kafka_python)
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


def _resolve(value: str, setting: Setting, key: str, default: str, state_dir: str = "") -> str:
    if value:
        return value
    riverbed = [e for e in setting.envs if e not in TUTORIAL_VARIABLES]
    tutorial = [e for e in setting.envs if e in TUTORIAL_VARIABLES]
    for name in riverbed:
        if from_env := os.environ.get(name):
            return from_env
    config = local_platform_config(state_dir)
    if config and config.get(key):
        return str(config[key])
    for name in tutorial:
        if from_env := os.environ.get(name):
            return from_env
    return default


def bootstrap_servers(value: str = "", state_dir: str = "") -> str:
    """``value``, else ``$RIVERBED_KAFKA_BOOTSTRAP`` (or ``$RIVERBED_BOOTSTRAP_SERVERS``), else
    the local platform's, else ``$KAFKA_BROKER``, else the default."""
    return _resolve(
        value, KAFKA_BOOTSTRAP, "bootstrap_servers", DEFAULT_BOOTSTRAP_SERVERS, state_dir
    )


def topic(value: str = "", state_dir: str = "") -> str:
    """``value``, else ``$RIVERBED_KAFKA_TOPIC`` (or ``$RIVERBED_TOPIC``), else the local
    platform's, else ``$KAFKA_TOPIC``, else ``riverbed-events``."""
    return _resolve(value, KAFKA_TOPIC, "topic", DEFAULT_TOPIC, state_dir)


def group(value: str = "", state_dir: str = "") -> str:
    """``value``, else ``$RIVERBED_KAFKA_GROUP`` (or ``$RIVERBED_GROUP``), else the local
    platform's, else ``$KAFKA_GROUP``, else ``riverbed-consumers``."""
    return _resolve(value, KAFKA_GROUP, "group", DEFAULT_GROUP, state_dir)


def kafka_client_settings(secrets: dict[str, Any] | None) -> dict[str, str]:
    """Kafka client connection settings (librdkafka names): ``RIVERBED_KAFKA_CONFIG``'s,
    then the activity's secrets over them (empty values are ignored).

    Unknown keys are an error rather than silently dropped: a misspelt
    ``sasl.password`` would otherwise surface as an authentication failure far
    from its cause. Messages never contain a secret's value.
    """
    try:
        settings = client_config.from_environ()
        given = {k: v for k, v in (secrets or {}).items() if v not in (None, "")}
        known, other = client_config.split(given) if given else ({}, {})
    except client_config.ClientConfigError as exc:
        raise HarnessError(f"Kafka client settings: {exc.message}.", fix=exc.fix or None) from None
    if other:
        raise HarnessError(
            f"Unknown Kafka secret {sorted(other)[0]!r}.",
            fix=f"use one of {', '.join(client_config.BY_NAME)} (or kafka-python's names).",
        )
    settings.update(known)
    try:
        return client_config.check(settings)
    except client_config.ClientConfigError as exc:
        raise HarnessError(f"Kafka client settings: {exc.message}.", fix=exc.fix or None) from None


def kafka_client_configs(secrets: dict[str, Any] | None) -> dict[str, Any]:
    """The same settings as kafka-python keyword arguments (see :func:`kafka_client_settings`)."""
    return client_config.kafka_python(kafka_client_settings(secrets))


@contextlib.contextmanager
def kafka_admin(servers: str = "", secrets: dict[str, Any] | None = None) -> Iterator[Any]:
    """An admin client (:func:`riverbed.kafka.admin.admin_client`) on the resolved bootstrap
    servers, with the activity's client settings; quiet, since faults stop brokers on purpose."""
    from riverbed.kafka.admin import admin_client

    configs = kafka_client_configs(secrets)
    with admin_client(bootstrap_servers(servers), quiet=True, **configs) as client:
        yield client


def split_names(value: str | list[str] | None) -> list[str]:
    """A list of names from a JSON list or a comma-separated string (handy with env vars)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [n.strip() for n in value.split(",") if n.strip()]
    return [str(n).strip() for n in value if str(n).strip()]
