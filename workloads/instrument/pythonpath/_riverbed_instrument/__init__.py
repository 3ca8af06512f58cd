"""riverbed's instrumentation of kafka-python, confluent-kafka and aiokafka consumers.

Loaded by ``sitecustomize`` when ``RIVERBED_INSTRUMENT=1``. Standard library
only. See ``tracker.py`` for what counts as processed, ``evidence.py`` for
what is written, and docs/consumers.md for the whole picture.
"""

from __future__ import annotations

from .settings import Settings

_settings: Settings | None = None


def active_settings() -> Settings:
    """The settings ``install`` read (for the client patches)."""
    if _settings is None:
        raise RuntimeError("the riverbed instrumentation is not installed")
    return _settings


def install(env: dict | None = None) -> None:
    """Read the settings and hook the client libraries (idempotent)."""
    global _settings
    if _settings is not None:
        return
    _settings = Settings.from_env(env)
    from . import aiokafka_client, confluent, hooks, kafka_python

    hooks.install(
        {
            "kafka": kafka_python.patch,
            "confluent_kafka": confluent.patch,
            "aiokafka": aiokafka_client.patch,
        }
    )
