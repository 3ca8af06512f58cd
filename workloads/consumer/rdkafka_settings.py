"""The reference consumer's settings mapped, honestly, onto librdkafka (confluent-kafka).

Pure standard library: unit-tested without Kafka. Every setting of
:class:`~workloads.consumer.config.ConsumerConfig` either has a librdkafka
equivalent, or the combination is refused with :class:`UnsupportedSetting`
(the CLI turns it into exit status 2 before anything connects):

==========================  ===================================================================
reference consumer           librdkafka
==========================  ===================================================================
commit mode after-process    ``enable.auto.commit=false``; a synchronous commit after each batch
commit mode auto             ``enable.auto.commit=true``, ``auto.commit.interval.ms``; offsets
                             stored when poll hands records over (kafka-python's positions)
commit mode before-process   ``enable.auto.commit=false``; a synchronous commit before processing
max poll records             ``consume(num_messages=N)`` (no configuration key)
metadata max age             ``topic.metadata.refresh.interval.ms`` (the periodic refresh that
                             notices added partitions under the classic protocol)
max poll interval            ``max.poll.interval.ms``
static member                ``group.instance.id`` = replica
classic: assignor            ``partition.assignment.strategy``: range, roundrobin,
                             cooperative-sticky. librdkafka has no *eager* sticky assignor:
                             ``sticky`` is refused.
classic: session, heartbeat  ``session.timeout.ms``, ``heartbeat.interval.ms``
consumer: assignor           ``group.remote.assignor``: uniform or range (the broker assigns)
consumer: session, heartbeat refused: under KIP-848 the broker owns them (group configuration
                             ``consumer.session.timeout.ms`` / ``consumer.heartbeat.interval.ms``;
                             ``riverbed run`` sets them from its ``--session-timeout-ms``)
==========================  ===================================================================
"""

from __future__ import annotations

import sys
from typing import Any

from workloads import client_config
from workloads.consumer.config import (
    ASSIGNORS,
    GROUP_PROTOCOLS,
    REMOTE_ASSIGNORS,
    ConsumerConfig,
)

#: Classic-protocol assignors librdkafka implements, by the reference consumer's name.
RDKAFKA_CLASSIC_ASSIGNORS = {
    "range": "range",
    "roundrobin": "roundrobin",
    "cooperative-sticky": "cooperative-sticky",
}
#: librdkafka's magic for a serialized consumer group metadata (``consumer_group_metadata()``).
CGMD_MAGIC = b"CGMDv2:"


class UnsupportedSetting(ValueError):
    """A combination of settings the chosen client or protocol cannot honour."""


def check_combination(
    client: str,
    group_protocol: str,
    assignor: str,
    *,
    session_timeout_set: bool = False,
    heartbeat_interval_set: bool = False,
) -> None:
    """Refuse settings the client or the group protocol cannot honour (before connecting)."""
    if group_protocol not in GROUP_PROTOCOLS:
        raise UnsupportedSetting(
            f"unknown group protocol {group_protocol!r}: use {' or '.join(GROUP_PROTOCOLS)}"
        )
    if group_protocol == "consumer":
        if client != "confluent-kafka":
            raise UnsupportedSetting(
                f"--group-protocol consumer (KIP-848) needs --client confluent-kafka: "
                f"{client} implements only the classic protocol"
            )
        if assignor not in REMOTE_ASSIGNORS:
            raise UnsupportedSetting(
                f"--assignor {assignor} is a client-side (classic) assignor; under the consumer "
                f"protocol the broker assigns: use {' or '.join(REMOTE_ASSIGNORS)} "
                "(group.remote.assignor)"
            )
        refused = [
            flag
            for flag, given in (
                ("--session-timeout-ms", session_timeout_set),
                ("--heartbeat-interval-ms", heartbeat_interval_set),
            )
            if given
        ]
        if refused:
            raise UnsupportedSetting(
                f"{' and '.join(refused)} cannot be set by a consumer-protocol member "
                "(librdkafka refuses session.timeout.ms and heartbeat.interval.ms with "
                "group.protocol=consumer): the broker owns them. Set the group's "
                "consumer.session.timeout.ms / consumer.heartbeat.interval.ms instead "
                "(riverbed run does it from its --session-timeout-ms), or drop the flag"
            )
        return
    if assignor not in ASSIGNORS:
        raise UnsupportedSetting(
            f"--assignor {assignor} is a broker-side assignor of the consumer protocol; "
            f"under the classic protocol use one of {', '.join(ASSIGNORS)}"
        )
    if client == "confluent-kafka" and assignor not in RDKAFKA_CLASSIC_ASSIGNORS:
        raise UnsupportedSetting(
            f"librdkafka has no eager {assignor!r} assignor: use "
            f"{', '.join(RDKAFKA_CLASSIC_ASSIGNORS)} with --client confluent-kafka, "
            f"or --client kafka-python for {assignor}"
        )


def rdkafka_config(config: ConsumerConfig) -> dict[str, Any]:
    """The librdkafka configuration of one reference-consumer incarnation.

    Raises :class:`UnsupportedSetting` for a combination librdkafka cannot honour.
    """
    c = config
    check_combination(
        "confluent-kafka",
        c.group_protocol,
        c.assignor,
        session_timeout_set=c.group_protocol == "consumer" and c.session_timeout_ms is not None,
        heartbeat_interval_set=c.group_protocol == "consumer"
        and c.heartbeat_interval_ms is not None,
    )
    auto = c.commit_mode == "auto"
    conf: dict[str, Any] = {
        "bootstrap.servers": c.bootstrap_servers,
        "group.id": c.group,
        "client.id": c.member,
        "group.protocol": c.group_protocol,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": auto,
        # Offsets are stored when poll hands a record over: what auto mode commits is
        # the consumed position, as kafka-python's auto-commit does.
        "enable.auto.offset.store": True,
        "topic.metadata.refresh.interval.ms": c.metadata_max_age_ms,
        "max.poll.interval.ms": c.max_poll_interval_ms,
        **client_config.librdkafka(c.kafka_config),
    }
    if auto:
        conf["auto.commit.interval.ms"] = c.auto_commit_interval_ms
    if c.static_member:
        conf["group.instance.id"] = c.replica
    if c.group_protocol == "consumer":
        conf["group.remote.assignor"] = c.assignor
        return conf
    conf["partition.assignment.strategy"] = RDKAFKA_CLASSIC_ASSIGNORS[c.assignor]
    if c.session_timeout_ms is not None:
        conf["session.timeout.ms"] = c.session_timeout_ms
        if c.max_poll_interval_ms < c.session_timeout_ms:
            raise UnsupportedSetting(
                f"librdkafka needs max.poll.interval.ms ({c.max_poll_interval_ms}) >= "
                f"session.timeout.ms ({c.session_timeout_ms}) under the classic protocol"
            )
    if c.heartbeat_interval_ms is not None:
        conf["heartbeat.interval.ms"] = c.heartbeat_interval_ms
    return conf


def cgmd_generation(raw: bytes | None) -> int | None:
    """The generation (classic) or member epoch (consumer protocol) in librdkafka's
    serialized consumer group metadata, or None when it does not parse or is unset.

    confluent-kafka exposes the metadata only as these bytes (made for
    ``send_offsets_to_transaction``): ``CGMDv2:``, the generation as a native-order
    int32, then the group id and member id, NUL-terminated.
    """
    if not raw or not raw.startswith(CGMD_MAGIC) or len(raw) < len(CGMD_MAGIC) + 4:
        return None
    at = len(CGMD_MAGIC)
    value = int.from_bytes(raw[at : at + 4], sys.byteorder, signed=True)
    return value if value >= 0 else None
