"""``--platform external``: the same scenario against a Kafka cluster riverbed does not run.

A staging cluster is where a team tries its consumers: riverbed drives the
scenario there as on its own cluster, with three differences.

- **Kafka is not riverbed's.** It is reached at ``--kafka-bootstrap`` with the
  client connection settings of ``--kafka-config`` (TLS, SASL), which every
  riverbed client gets through ``RIVERBED_KAFKA_CONFIG``
  (:mod:`workloads.client_config`). riverbed checks that it can log in before
  anything starts (:mod:`riverbed.kafka.preflight`).
- **riverbed touches only what it creates**: a uniquely named data topic (and
  the output topic of output-topic evidence) and its consumer group. At the end
  it deletes them, unless ``--keep-topics``; spec.json ``topics`` says which.
- **No broker faults.** Experiments that stop, kill, pause or start brokers are
  refused before the run (:func:`riverbed.chaos.validate.broker_activities`).

The consumers (riverbed's or the user's ``--consumer-cmd``), the group monitor,
Locust and the chaos runner run on this machine, supervised exactly as on the
local platform: only Kafka differs.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError
from riverbed.runner import LocalRunPlatform, Progress
from riverbed.spec import RunSpec
from workloads import client_config


def unique_suffix() -> str:
    """``<unix time>-<6 hex digits>``: two runs started in the same second on one shared
    cluster still get topics and groups of their own."""
    return f"{int(time.time())}-{secrets.token_hex(3)}"


@contextlib.contextmanager
def connection_settings(settings: Mapping[str, str]) -> Iterator[None]:
    """Put a run's connection settings into ``RIVERBED_KAFKA_CONFIG`` while it runs.

    Every Kafka client of this process and of the processes it starts (supervisor,
    consumers, monitor, Locust, ``chaos run``) reads them there. Set even when
    empty (a cluster without TLS or SASL): settings a user exported for a by-hand
    load must not leak into a run, whose spec says what it ran with.
    """
    name = client_config.ENV
    saved = os.environ.get(name)
    os.environ[name] = client_config.to_json(settings)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


@contextlib.contextmanager
def refused_as_harness_error(bootstrap_servers: str, topic: str) -> Iterator[None]:
    """A cluster that refuses to create a topic (no Create right, a topic policy, too few
    brokers) stops the run with its reason and exit 3, not with a traceback."""
    from kafka.errors import KafkaError

    try:
        yield
    except KafkaError as exc:
        reason = type(exc).__name__ + (f": {exc.description}" if exc.description else "")
        raise HarnessError(
            f"Kafka at {bootstrap_servers} refused to create topic {topic}: {reason}.",
            fix="riverbed needs the right to create, describe and delete topics named "
            "riverbed-events-* (and your --output-topic) and to read and delete groups named "
            "riverbed-consumers-* (docs/external.md); within the cluster's topic policy, lower "
            "--partitions or --replication-factor.",
        ) from None


class ExternalRunPlatform(LocalRunPlatform):
    """The run's view of a Kafka cluster riverbed does not run, with workloads on this machine."""

    name = "external"

    def __init__(self, bootstrap_servers: str, keep_topics: bool = False) -> None:
        super().__init__()
        self.bootstrap_servers = bootstrap_servers
        self.keep_topics = keep_topics
        self.created: list[str] = []
        self._spec: RunSpec | None = None

    def prepare(self, spec: RunSpec, progress: Progress) -> str:
        """Create the run's topics on the cluster (never reusing one). Returns bootstrap."""
        from riverbed.kafka.admin import create_topic

        self._spec = spec
        spec.topics = {"created": self.created, "group": spec.group, "kept": self.keep_topics}
        progress(f"creating topic {spec.topic} ({spec.partitions} partitions) on the cluster")
        with refused_as_harness_error(self.bootstrap_servers, spec.topic):
            create_topic(
                self.bootstrap_servers,
                spec.topic,
                partitions=spec.partitions,
                replication_factor=spec.replication_factor,
                min_insync_replicas=min(spec.min_insync_replicas, spec.replication_factor),
            )
        self.created.append(spec.topic)
        with refused_as_harness_error(self.bootstrap_servers, str(spec.output_topic)):
            if self.ensure_output_topic(spec, self.bootstrap_servers, progress, reuse=False):
                self.created.append(str(spec.output_topic))
        return self.bootstrap_servers

    def kafka_record(self) -> dict[str, Any]:
        return {
            "platform": "external",
            "created_topics": list(self.created),
            "keep_topics": self.keep_topics,
            # Names only: a later `riverbed down` must be given the same settings again.
            "kafka_config_keys": sorted(client_config.from_environ()),
        }

    def close(self) -> None:
        """Delete what the run created (unless --keep-topics); the cluster itself stays."""
        spec = self._spec
        if spec is None:
            return
        self._spec = None
        spec.topics = cleanup(self.bootstrap_servers, self.created, spec.group, self.keep_topics)
        mark_ended(self.platform.state_dir)


def mark_ended(state_dir: Path) -> None:
    """Record in platform.json that the external session's topics were dealt with, so that
    a later `riverbed down` has nothing left to clean up."""
    path = Path(state_dir) / "platform.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if data.get("platform") == "external":
        data["ended"] = True
        from riverbed.platforms.supervisor import write_json

        write_json(path, data)


#: How long to keep deleting a group whose stopped members have not left it: a consumer
#: killed, or one that exits on SIGTERM without closing, stays a member until its session
#: times out (10 s for kafka-python, 45 s for librdkafka by default).
GROUP_DELETE_WAIT_S = 60.0


def cleanup(
    bootstrap_servers: str,
    topics: list[str],
    group: str,
    keep: bool,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Delete ``topics`` and ``group`` (riverbed's own, made for one run or session) unless
    ``keep``; returns the record spec.json keeps. A failure is recorded, not raised:
    the evidence is safe either way."""
    from riverbed.kafka.admin import delete_group, delete_topics

    record: dict[str, Any] = {"created": list(topics), "group": group, "kept": keep}
    if keep or not topics:
        record["deleted"] = []
        return record
    try:
        record["deleted"] = delete_topics(bootstrap_servers, list(topics))
    except HarnessError as exc:
        record["deleted"] = []
        record["error"] = exc.message
    except Exception as exc:  # noqa: BLE001 - recorded in spec.json, the run goes on
        record["deleted"] = []
        record["error"] = f"{type(exc).__name__}: {exc}"
    try:
        record["group_deleted"] = delete_group(
            bootstrap_servers, group, wait_s=GROUP_DELETE_WAIT_S, progress=progress
        )
    except Exception as exc:  # noqa: BLE001 - a group left behind expires by itself
        record["group_deleted"] = False
        record["group_error"] = str(exc)
    return record


def session_record(platform_json: Mapping[str, Any]) -> dict[str, Any]:
    """The external-Kafka part of a session's platform.json (empty for the local platform)."""
    if platform_json.get("platform") != "external" or platform_json.get("ended"):
        return {}
    return {
        k: platform_json.get(k)
        for k in ("platform", "created_topics", "keep_topics", "kafka_config_keys")
    }


def describe(settings: Mapping[str, str]) -> str:
    """A one-line, secret-free description of the connection settings for messages."""
    if not settings:
        return "PLAINTEXT"
    return json.dumps(client_config.masked(settings), sort_keys=True)
