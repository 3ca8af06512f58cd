"""Options, client config, pacing and the acks recorder: pure parts, no Kafka, no gevent."""

from __future__ import annotations

import argparse
import json

import pytest

from locustfiles import settings
from locustfiles.acks import FAIL, OK, UNKNOWN, AckRecorder, error_text
from locustfiles.kafka_drivers import coerce, confluent_config, kafka_python_config
from locustfiles.pacing import Pacer
from workloads.evidence.reader import read_jsonl
from workloads.evidence.schema import FILE_TYPES


def parser_with_options(environ: dict[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="locust")
    settings.add_options(parser, "common", settings.COMMON_OPTIONS, environ)
    settings.add_options(parser, "kafka", settings.KAFKA_OPTIONS, environ)
    settings.add_options(parser, "shape", settings.SHAPE_OPTIONS, environ)
    return parser


def test_defaults_and_environment_fallbacks():
    opts = parser_with_options(
        {"KAFKA_BROKER": "b1:9092,b2:9093", "KAFKA_TOPIC": "orders"}
    ).parse_args([])
    assert opts.kafka_bootstrap == "b1:9092,b2:9093"
    assert opts.kafka_topic == "orders"
    assert (opts.key_space, opts.body_bytes, opts.kafka_acks, opts.kafka_driver) == (
        100,
        128,
        "all",
        "kafka-python",
    )


def test_riverbed_variable_wins_over_tutorial_variable_and_flag_wins_over_both():
    env = {"KAFKA_BROKER": "tutorial:9092", "RIVERBED_KAFKA_BOOTSTRAP": "riverbed:9092"}
    assert parser_with_options(env).parse_args([]).kafka_bootstrap == "riverbed:9092"
    flag = parser_with_options(env).parse_args(["--kafka-bootstrap", "flag:1"])
    assert flag.kafka_bootstrap == "flag:1"


def test_environment_values_are_converted_like_flags():
    env = {"RIVERBED_KEY_SPACE": "7", "RIVERBED_KAFKA_CONFIG": "a.b=1, c_d=x"}
    opts = parser_with_options(env).parse_args(["--kafka-config", "e=f"])
    assert opts.key_space == 7
    assert settings.parse_client_config(opts.kafka_config) == {"a.b": "1", "c_d": "x", "e": "f"}


@pytest.mark.parametrize(
    ("env", "argv", "needle"),
    [
        (
            {"RIVERBED_KEY_SPACE": "0"},
            [],
            "--key-space must be a positive integer, got '0' (from the command line or $RIVERBED_KEY_SPACE)",
        ),
        ({}, ["--body-bytes", "-1"], "--body-bytes must be zero or more"),
        ({"KAFKA_BROKER": "no-port"}, [], "--kafka-bootstrap must be host:port"),
        ({}, ["--kafka-acks", "2"], "--kafka-acks must be all, -1, 0 or 1"),
        ({}, ["--kafka-config", "novalue"], "--kafka-config takes KEY=VALUE items"),
        (
            {},
            ["--shape", "wobbly"],
            "--shape must be one of steady, step, spike, chaos-window or none",
        ),
        ({}, ["--kafka-driver", "java"], "invalid choice"),
    ],
)
def test_bad_values_exit_2_naming_option_and_variable(env, argv, needle, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parser_with_options(env).parse_args(argv)
    assert exit_info.value.code == 2
    assert needle in capsys.readouterr().err


def test_options_are_registered_once_for_two_locustfiles():
    parser = argparse.ArgumentParser()
    settings.add_options(parser, "a", settings.COMMON_OPTIONS, {})
    settings.add_options(parser, "b", settings.COMMON_OPTIONS, {})  # no "conflicting option" error
    assert parser.parse_args(["--key-space", "3"]).key_space == 3


def test_preparse_reads_shape_and_run_dir_before_locust():
    pre = settings.preparse(["--headless", "--shape", "steady", "--run-dir=runs/x"], {})
    assert (pre.shape, pre.run_dir) == ("steady", "runs/x")
    env = settings.preparse([], {"RIVERBED_SHAPE": "spike", "RIVERBED_RUN_DIR": "runs/y"})
    assert (env.shape, env.run_dir) == ("spike", "runs/y")
    assert settings.preparse([], {}, now=0).run_dir.startswith("runs/1970")


def kafka_settings(**kw: object) -> settings.KafkaSettings:
    base: dict[str, object] = dict(
        bootstrap="h1:1,h2:2",
        topic="t",
        driver="kafka-python",
        acks="all",
        linger_ms=5,
        compression="none",
        client_config={},
        max_in_flight=10,
        close_timeout=1.0,
    )
    base.update(kw)
    return settings.KafkaSettings(**base)  # type: ignore[arg-type]


def test_kafka_python_config_normalises_keys_and_values():
    s = kafka_settings(
        client_config={"security.protocol": "SASL_SSL", "batch.size": "65536", "linger_ms": "20"},
        compression="gzip",
    )
    config = kafka_python_config(s, "lw-1")
    assert config["bootstrap_servers"] == ["h1:1", "h2:2"]
    assert config["security_protocol"] == "SASL_SSL"
    assert config["batch_size"] == 65536
    assert config["linger_ms"] == 20  # an explicit client setting wins over --kafka-linger-ms
    assert config["compression_type"] == "gzip"
    assert config["allow_auto_create_topics"] is False
    assert kafka_python_config(kafka_settings(acks="1"), "x")["acks"] == 1


def test_confluent_config_uses_librdkafka_names_and_idempotence_only_with_acks_all():
    config = confluent_config(kafka_settings(client_config={"sasl_username": "u"}), "lw-1")
    assert config["bootstrap.servers"] == "h1:1,h2:2"
    assert config["sasl.username"] == "u"
    assert config["enable.idempotence"] is True
    assert confluent_config(kafka_settings(acks="1"), "x")["enable.idempotence"] is False


def test_coerce():
    assert [coerce(v) for v in ("TRUE", "false", "-3", "2.5", "PLAIN")] == [
        True,
        False,
        -3,
        2.5,
        "PLAIN",
    ]


def test_pacer_spaces_sends_and_does_not_burst_after_a_stall():
    now = [100.0]
    pacer = Pacer(4.0, max_catch_up_s=1.0, clock=lambda: now[0])
    assert pacer.wait_time() == pytest.approx(0.25)
    now[0] += 0.25
    assert pacer.wait_time() == pytest.approx(0.25)
    now[0] += 0.75  # a short stall: the missed sends go out at once
    assert [pacer.wait_time() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.25])
    now[0] += 10  # a long stall: no burst of forty sends, the pace just resumes
    assert pacer.wait_time() == pytest.approx(0.25)
    assert Pacer(0).wait_time() == 0.0


def test_recorder_that_never_recorded_leaves_no_file(tmp_path):
    rec = AckRecorder(tmp_path, "lw", key_space=1)
    rec.flush()
    rec.close()
    assert not rec.path.exists()


def test_recorder_writes_contract_records_and_reports_failures(tmp_path):
    reported: list[tuple[str, object]] = []
    rec = AckRecorder(
        tmp_path,
        "lw",
        key_space=3,
        report=lambda r, ms, size, exc: reported.append((r["status"], exc)),
    )
    assert rec.producer.startswith("lw-")
    assert [rec.next_seq(1), rec.next_seq(1), rec.next_seq(0)] == [0, 1, 0]
    rec.record("k1", 0, OK, 2, 17, t_send=1.0, response_time_ms=3.0, size=10, t_ack=1.5)
    rec.record(
        "k1",
        1,
        FAIL,
        2,
        18,
        error="MessageSizeTooLargeError: big",
        t_send=2.0,
        response_time_ms=1,
        size=1,
    )
    rec.record(
        "k0",
        0,
        UNKNOWN,
        error=error_text(TimeoutError("slow")),
        t_send=3.0,
        response_time_ms=1,
        size=1,
    )
    rec.close()
    rec.record("k2", 0, OK, 0, 1, t_send=4.0, response_time_ms=1, size=1)  # after close: dropped

    path = tmp_path / "evidence" / "acks" / f"{rec.producer}.jsonl"
    issues: list = []
    records = list(read_jsonl(path, FILE_TYPES["acks"], issues))
    assert issues == []
    assert [(r["key"], r["seq"], r["status"], r["partition"], r["offset"]) for r in records] == [
        ("k1", 0, "ok", 2, 17),
        ("k1", 1, "fail", None, None),  # partition/offset only for ok
        ("k0", 0, "unknown", None, None),
    ]
    assert records[0] == json.loads(path.read_text().splitlines()[0])
    assert records[0]["t_ack"] == 1.5 and records[0]["error"] is None
    assert records[2]["error"] == "TimeoutError: slow"
    assert rec.counts == {"ok": 1, "fail": 1, "unknown": 1}
    assert [s for s, _ in reported] == ["ok", "fail", "unknown"]
    assert reported[0][1] is None and "MessageSizeTooLargeError" in str(reported[1][1])


def test_python_m_locustfiles_lists_every_option_with_its_variable(capsys):
    from locustfiles.__main__ import main

    assert main([]) == 0
    out = capsys.readouterr().out
    for opt in (
        *settings.COMMON_OPTIONS,
        *settings.KAFKA_OPTIONS,
        *settings.HTTP_OPTIONS,
        *settings.SHAPE_OPTIONS,
    ):
        assert opt.flag in out and all(f"${env}" in out for env in opt.env), opt.flag


def test_connection_settings_in_one_spelling_reach_both_drivers(tmp_path):
    """The kafka-python driver used to turn ``sasl.username`` into ``sasl_username`` and
    ``ssl.ca.location`` into ``ssl_ca_location`` (kafka-python knows neither), and the
    confluent driver ``sasl_plain_username`` into ``sasl.plain.username``: the docs told
    each driver's users a different spelling. One spelling now works for both."""
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    given = {
        "security.protocol": "SASL_SSL",
        "sasl.username": "u",
        "sasl_plain_password": "p w",
        "ssl.ca.location": str(ca),
        "batch.size": "65536",
    }
    kp = kafka_python_config(kafka_settings(client_config=given), "lw-1")
    assert (kp["sasl_plain_username"], kp["sasl_plain_password"]) == ("u", "p w")
    assert kp["ssl_cafile"] == str(ca) and kp["sasl_mechanism"] == "PLAIN"
    assert kp["batch_size"] == 65536
    assert not {"sasl_username", "ssl_ca_location"} & set(kp)
    rd = confluent_config(kafka_settings(client_config=given), "lw-1")
    assert (rd["sasl.username"], rd["sasl.password"]) == ("u", "p w")
    assert rd["ssl.ca.location"] == str(ca) and rd["batch.size"] == "65536"
    assert "sasl.plain.password" not in rd


def test_an_unknown_connection_setting_stops_the_producer_before_it_starts():
    from locustfiles.kafka_drivers import StartError

    with pytest.raises(StartError, match="unknown Kafka client setting 'ssl.keystore.location'"):
        kafka_python_config(kafka_settings(client_config={"ssl.keystore.location": "k"}), "x")


def test_an_unknown_connection_setting_on_the_command_line_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parser_with_options({}).parse_args(["--kafka-config", "sasl.pasword=hunter2"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown Kafka client setting 'sasl.pasword'" in err
    assert "hunter2" not in err
