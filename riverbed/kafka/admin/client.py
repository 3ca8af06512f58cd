"""The admin client, and the wait every admin-API poll shares."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from riverbed.errors import HarnessError

# The waits are the chaos probes' (and the run's group wait): what they find goes to
# Chaos Toolkit's log, where a person reads why a probe held or not.
logger = logging.getLogger("chaostoolkit")


@contextlib.contextmanager
def admin_client(bootstrap_servers: str, quiet: bool = False, **configs: Any) -> Iterator[Any]:
    """A KafkaAdminClient that is always closed; a clear error if no broker answers.

    Connection settings (TLS, SASL) come from ``RIVERBED_KAFKA_CONFIG``
    (:mod:`workloads.client_config`, which ``riverbed run`` sets for a cluster it does
    not run); ``configs`` (kafka-python names) win over them. ``quiet`` silences
    kafka-python's log of refused connections: a chaos activity stops brokers on purpose.
    """
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    from workloads import client_config

    if quiet:
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    configs = {**client_config.kafka_python_from_environ(), **configs}
    configs.setdefault("bootstrap_timeout_ms", 15_000)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers, client_id="riverbed-admin", **configs
        )
    except (KafkaTimeoutError, KafkaConnectionError) as exc:
        raise HarnessError(
            f"No Kafka broker answered at {bootstrap_servers}.",
            fix="start the cluster (`riverbed kafka up`) or pass the right bootstrap servers.",
        ) from exc
    try:
        yield admin
    finally:
        with contextlib.suppress(Exception):
            admin.close()


def poll_until(
    check: Callable[[], tuple[bool, str]],
    timeout: float,
    settle_s: float = 0.0,
    interval: float = 0.5,
    what: str = "condition",
) -> bool:
    """Run ``check`` until it holds for ``settle_s`` seconds in a row, or ``timeout`` passes.

    Kafka errors while a broker or the group coordinator moves are part of
    the weather during a fault: they count as "not yet", and the last one is
    logged if the time runs out.
    """
    deadline = time.monotonic() + max(0.0, timeout)
    held_since: float | None = None
    last = ""
    while True:
        try:
            ok, last = check()
        except HarnessError:
            raise
        except Exception as exc:  # a Kafka error is "not yet"
            ok, last = False, f"{type(exc).__name__}: {exc}"
        now = time.monotonic()
        if ok:
            held_since = now if held_since is None else held_since
            if now - held_since >= settle_s:
                logger.info(f"{what}: yes" + (f" ({last})" if last else ""))
                return True
        else:
            held_since = None
        # A condition that holds when the time is up gets settle_s more to prove it.
        if now >= deadline + (settle_s if held_since is not None else 0.0):
            logger.info(f"{what}: no — {last}")
            return False
        time.sleep(interval)
