"""Check, before a run starts, that riverbed can reach and log in to a Kafka cluster.

A wrong password or CA file must cost seconds and name its cause, not surface
as a two-minute hang somewhere in the run: kafka-python reports a failed SASL
login only as a bootstrap timeout. librdkafka reports it at once (an
``_AUTHENTICATION`` or ``_SSL`` error on its error callback), so the check runs
on confluent-kafka's admin client and stops at the first such error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from riverbed.errors import HarnessError
from workloads import client_config


@dataclass(frozen=True)
class ClusterInfo:
    """What the check learnt about the cluster."""

    bootstrap_servers: str
    brokers: int
    """Brokers the cluster's metadata lists."""
    cluster_id: str | None


def _quiet_logger() -> logging.Logger:
    # librdkafka logs every failed attempt to stderr; the check reports the outcome itself.
    logger = logging.getLogger("riverbed.preflight.librdkafka")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


def check_connection(
    bootstrap_servers: str,
    settings: Mapping[str, str],
    timeout_s: float = 20.0,
    progress: Callable[[str], None] | None = None,
    unreachable_s: float = 2.0,
) -> ClusterInfo:
    """Connect with ``settings`` (librdkafka spelling) and read the cluster's metadata.

    Raises :class:`HarnessError` at the first authentication or TLS error, when
    every bootstrap server refused connections (or could not be resolved) for
    ``unreachable_s``, or when no broker answered within ``timeout_s``. Messages
    never hold a secret.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient

    errors: list[Any] = []
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "client.id": "riverbed-preflight",
        **client_config.librdkafka(settings),
        "error_cb": errors.append,
        "logger": _quiet_logger(),
    }
    admin = AdminClient(conf)
    start = time.monotonic()
    deadline = start + timeout_s
    # Refused connections and unresolvable names are answers too: a few seconds of
    # nothing else (brokers restarting get that long) is enough to say so.
    unreachable = (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE)
    unreachable_since: float | None = None
    last = ""
    while True:
        try:
            metadata = admin.list_topics(timeout=0.5)
        except KafkaException as exc:
            last = _text(exc.args[0] if exc.args else exc, settings)
        else:
            if metadata.brokers:
                return ClusterInfo(bootstrap_servers, len(metadata.brokers), metadata.cluster_id)
        admin.poll(0.1)
        for err in errors:
            code = err.code() if hasattr(err, "code") else None
            if code == KafkaError._AUTHENTICATION:
                raise HarnessError(
                    f"Kafka at {bootstrap_servers} refused riverbed's credentials: "
                    f"{_text(err, settings)}",
                    fix="check sasl.username and sasl.password in --kafka-config (and "
                    "sasl.mechanism: the cluster may offer SCRAM-SHA-512 but not PLAIN).",
                )
            if code == KafkaError._SSL:
                raise HarnessError(
                    f"The TLS handshake with Kafka at {bootstrap_servers} failed: "
                    f"{_text(err, settings)}",
                    fix="ssl.ca.location must name the CA certificate that signed the brokers' "
                    "certificates; security.protocol must match the listener (SSL or SASL_SSL).",
                )
            if code in unreachable and unreachable_since is None:
                unreachable_since = time.monotonic()
            last = _text(err, settings)
        errors.clear()
        now = time.monotonic()
        if now > deadline or (
            unreachable_since is not None and now - unreachable_since > unreachable_s
        ):
            raise HarnessError(
                f"No Kafka broker answered at {bootstrap_servers} within {now - start:.0f}s"
                + (f" ({last})" if last else "")
                + ".",
                fix="check --kafka-bootstrap, and that security.protocol matches the listener "
                "(a TLS listener needs SSL or SASL_SSL, a SASL one SASL_PLAINTEXT or SASL_SSL).",
            )
        if progress is not None:
            progress(f"connecting to Kafka at {bootstrap_servers}" + (f": {last}" if last else ""))


def _text(err: Any, settings: Mapping[str, str]) -> str:
    text = err.str() if hasattr(err, "str") else str(err)
    return client_config.redact(text, settings)
