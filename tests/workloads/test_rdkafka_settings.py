"""The librdkafka consumer's settings: every option mapped honestly, or refused before connecting."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.workloads.support import ROOT
from workloads.consumer.cli import consumer_class, parse_config
from workloads.consumer.config import ConsumerConfig
from workloads.consumer.rdkafka_settings import (
    UnsupportedSetting,
    cgmd_generation,
    check_combination,
    rdkafka_config,
)

BASE = ["--bootstrap-servers", "b:9092", "--topic", "t", "--group", "g", "--replica", "r1"]


def config(**kw: object) -> ConsumerConfig:
    fields: dict[str, object] = {
        "bootstrap_servers": "b:9092",
        "topic": "t",
        "group": "g",
        "replica": "r1",
        "member": "r1-abcdef",
        "client": "confluent-kafka",
    }
    fields.update(kw)
    return ConsumerConfig(**fields)  # type: ignore[arg-type]


def test_classic_after_process_maps_to_manual_commits_and_the_client_side_assignor() -> None:
    conf = rdkafka_config(config(assignor="cooperative-sticky", metadata_max_age_ms=4000))
    assert conf["group.protocol"] == "classic"
    assert conf["partition.assignment.strategy"] == "cooperative-sticky"
    assert conf["enable.auto.commit"] is False
    assert conf["session.timeout.ms"] == 10_000 and conf["heartbeat.interval.ms"] == 3000
    assert conf["topic.metadata.refresh.interval.ms"] == 4000
    assert conf["client.id"] == "r1-abcdef" and conf["auto.offset.reset"] == "earliest"
    assert "group.remote.assignor" not in conf and "group.instance.id" not in conf


def test_auto_mode_commits_consumed_positions_on_librdkafka_s_timer() -> None:
    conf = rdkafka_config(config(commit_mode="auto", auto_commit_interval_ms=700))
    assert conf["enable.auto.commit"] is True
    assert conf["enable.auto.offset.store"] is True
    assert conf["auto.commit.interval.ms"] == 700


def test_consumer_protocol_uses_the_broker_side_assignor_and_no_session_settings() -> None:
    conf = rdkafka_config(
        config(
            group_protocol="consumer",
            assignor="range",
            session_timeout_ms=None,
            heartbeat_interval_ms=None,
            static_member=True,
        )
    )
    assert conf["group.protocol"] == "consumer"
    assert conf["group.remote.assignor"] == "range"
    assert conf["group.instance.id"] == "r1"
    for refused in ("session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy"):
        assert refused not in conf


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("kafka-python", "consumer", "uniform"), "needs --client confluent-kafka"),
        (("confluent-kafka", "consumer", "cooperative-sticky"), "client-side"),
        (("confluent-kafka", "classic", "uniform"), "broker-side"),
        (("kafka-python", "classic", "uniform"), "broker-side"),
        (("confluent-kafka", "classic", "sticky"), "no eager 'sticky'"),
    ],
)
def test_combinations_a_client_or_protocol_cannot_honour_are_refused(
    args: tuple[str, str, str], match: str
) -> None:
    with pytest.raises(UnsupportedSetting, match=match):
        check_combination(*args)


def test_consumer_protocol_refuses_member_side_session_settings() -> None:
    with pytest.raises(UnsupportedSetting, match="--session-timeout-ms.*broker owns them"):
        check_combination("confluent-kafka", "consumer", "uniform", session_timeout_set=True)
    with pytest.raises(UnsupportedSetting, match="--heartbeat-interval-ms"):
        check_combination("confluent-kafka", "consumer", "uniform", heartbeat_interval_set=True)
    check_combination("kafka-python", "classic", "sticky", session_timeout_set=True)


def test_librdkafka_s_poll_interval_bound_is_checked() -> None:
    with pytest.raises(UnsupportedSetting, match="max.poll.interval.ms"):
        rdkafka_config(config(max_poll_interval_ms=5000, session_timeout_ms=10_000))


def test_the_member_epoch_is_read_from_librdkafka_s_group_metadata() -> None:
    raw = b"CGMDv2:" + (7).to_bytes(4, sys.byteorder, signed=True) + b"g\x00m-1\x00\x01"
    assert cgmd_generation(raw) == 7
    unset = b"CGMDv2:" + (-1).to_bytes(4, sys.byteorder, signed=True) + b"g\x00\x00\x00"
    assert cgmd_generation(unset) is None
    assert cgmd_generation(b"garbage") is None and cgmd_generation(None) is None


def test_flags_and_environment_pick_the_client_protocol_and_default_assignor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config_, _ = parse_config(
        [*BASE, "--client", "confluent-kafka", "--group-protocol", "consumer"]
    )
    assert (config_.client, config_.group_protocol, config_.assignor) == (
        "confluent-kafka",
        "consumer",
        "uniform",
    )
    assert config_.session_timeout_ms is None and config_.heartbeat_interval_ms is None
    monkeypatch.setenv("RIVERBED_CLIENT", "confluent-kafka")
    monkeypatch.setenv("RIVERBED_GROUP_PROTOCOL", "classic")
    config_, _ = parse_config(BASE)
    assert (config_.client, config_.group_protocol, config_.assignor) == (
        "confluent-kafka",
        "classic",
        "range",
    )
    assert config_.session_timeout_ms == 10_000
    assert consumer_class("confluent-kafka").__name__ == "RdKafkaGroupConsumer"
    assert consumer_class("kafka-python").__name__ == "GroupConsumer"


@pytest.mark.parametrize(
    ("extra", "env", "needle"),
    [
        (["--group-protocol", "consumer"], {}, "needs --client confluent-kafka"),
        (
            ["--client", "confluent-kafka", "--group-protocol", "consumer", "--session-timeout-ms", "9000"],
            {},
            "broker owns them",
        ),
        (
            ["--client", "confluent-kafka", "--group-protocol", "consumer"],
            {"RIVERBED_HEARTBEAT_INTERVAL_MS": "1000"},
            "--heartbeat-interval-ms",
        ),
        (["--client", "confluent-kafka", "--assignor", "sticky"], {}, "no eager 'sticky'"),
        (["--assignor", "uniform"], {}, "broker-side assignor"),
    ],
)  # fmt: skip
def test_refused_combinations_exit_2_before_connecting(
    extra: list[str], env: dict[str, str], needle: str
) -> None:
    # The bootstrap server does not exist: a refusal must come before any connection.
    proc = subprocess.run(
        [sys.executable, "-m", "workloads.consumer", *BASE, *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr
