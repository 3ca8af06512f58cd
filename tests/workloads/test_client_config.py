"""Kafka client connection settings in one spelling: pure functions, no Kafka."""

from __future__ import annotations

import json
import re

import pytest

from workloads import client_config as cc
from workloads.settings_core import (
    non_negative_float,
    parse_key_values,
    positive_float,
)

SECRET = "hunter2 with spaces,and commas"


@pytest.fixture
def ca(tmp_path):
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return str(path)


def full(ca: str) -> dict[str, str]:
    return {
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "scram-sha-512",
        "sasl.username": "alice",
        "sasl.password": SECRET,
        "ssl.ca.location": ca,
    }


def test_every_spelling_means_the_same_setting(ca):
    assert cc.lookup("sasl.username") is cc.lookup("sasl_plain_username")
    assert cc.lookup("SASL_USERNAME") is cc.BY_NAME["sasl.username"]
    assert cc.lookup("ssl_cafile") is cc.lookup("ssl.ca.location")
    assert cc.lookup("sasl.mechanisms") is cc.BY_NAME["sasl.mechanism"]
    known, other = cc.split(
        {"security_protocol": "SASL_SSL", "sasl_plain_password": "p", "linger.ms": "5"}
    )
    assert known == {"security.protocol": "SASL_SSL", "sasl.password": "p"}
    assert other == {"linger.ms": "5"}
    assert cc.split({"ssl_check_hostname": False})[0] == {
        "ssl.endpoint.identification.algorithm": "none"
    }


def test_translation_for_kafka_python_and_librdkafka(ca):
    settings = cc.check(full(ca) | {"ssl.endpoint.identification.algorithm": "none"})
    assert settings["security.protocol"] == "SASL_SSL"  # canonical case
    assert settings["sasl.mechanism"] == "SCRAM-SHA-512"
    assert cc.kafka_python(settings) == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "alice",
        "sasl_plain_password": SECRET,
        "ssl_cafile": ca,
        "ssl_check_hostname": False,
    }
    assert cc.librdkafka(settings)["sasl.username"] == "alice"
    assert cc.librdkafka(settings)["ssl.endpoint.identification.algorithm"] == "none"


def test_a_sasl_protocol_gets_plain_unless_told_otherwise_so_both_clients_agree(ca):
    # librdkafka's own default would be GSSAPI, kafka-python's PLAIN.
    settings = cc.check(
        {"security.protocol": "SASL_PLAINTEXT", "sasl.username": "u", "sasl.password": "p"}
    )
    assert settings["sasl.mechanism"] == "PLAIN"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"sasl.pasword": SECRET}, "unknown Kafka client setting 'sasl.pasword'"),
        ({"ssl.truststore.location": "/t.jks"}, "keytool -exportcert"),
        ({"sasl.jaas.config": SECRET}, "sasl.username and sasl.password instead"),
        ({"security.protocol": "TLS"}, "use PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
        (
            {"security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI", "sasl.username": "u"},
            "sasl.mechanism 'GSSAPI'",
        ),
        ({"security.protocol": "SASL_SSL", "sasl.password": SECRET}, "needs sasl.username"),
        ({"sasl.username": "u", "sasl.password": SECRET}, "need a SASL security.protocol"),
        ({"ssl.ca.location": "/nowhere/ca.pem"}, "there is no file /nowhere/ca.pem"),
        ({"security.protocol": "SASL_PLAINTEXT", "ssl.ca.location": "x"}, "no file x"),
        ({"linger.ms": "5"}, "unknown Kafka client setting linger.ms"),
    ],
)
def test_bad_settings_are_refused_naming_the_key_never_the_secret(raw, message):
    with pytest.raises(cc.ClientConfigError) as info:
        cc.parse([json.dumps(raw)], strict=True)
    assert message in str(info.value)
    assert SECRET not in str(info.value)


def test_values_with_spaces_and_commas_travel_as_json(ca):
    text = cc.to_json(cc.check(full(ca)))
    assert cc.from_environ({"RIVERBED_KAFKA_CONFIG": text})["sasl.password"] == SECRET
    # The consumer-side name is read too, after riverbed's own.
    assert cc.from_environ({"KAFKA_CLIENT_CONFIG": text})["sasl.username"] == "alice"
    assert cc.from_environ({}) == {}
    # Items also work, and producer tuning in the same variable is left to Locust.
    items = "security.protocol=SSL ssl.ca.location=" + ca + ",linger.ms=5"
    assert cc.from_environ({"RIVERBED_KAFKA_CONFIG": items}) == {
        "security.protocol": "SSL",
        "ssl.ca.location": ca,
    }


def test_a_consumer_gets_one_variable_per_setting_and_all_of_them_as_json(ca):
    settings = cc.check(full(ca))
    env = cc.consumer_environment(settings)
    assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["KAFKA_SASL_USERNAME"] == "alice"
    assert env["KAFKA_SASL_PASSWORD"] == SECRET
    assert env["KAFKA_SSL_CA_LOCATION"] == ca
    assert json.loads(env["KAFKA_CLIENT_CONFIG"]) == settings
    assert cc.consumer_environment({}) == {"KAFKA_CLIENT_CONFIG": "{}"}


def test_masking_says_a_secret_was_given_never_which(ca):
    settings = cc.check(full(ca))
    masked = cc.masked(settings)
    assert masked["sasl.password"] == "(set)" and masked["sasl.username"] == "alice"
    assert SECRET not in json.dumps(masked)
    assert cc.redact(f"login failed for {SECRET}!", settings) == "login failed for (set)!"


def test_the_shared_key_value_parser():
    assert parse_key_values(["a=1, b=2", "c=3 d="]) == {"a": "1", "b": "2", "c": "3", "d": ""}
    assert parse_key_values('{"k": "v w", "n": 5, "t": true}') == {
        "k": "v w",
        "n": "5",
        "t": "true",
    }
    # One item per entry: broker settings hold commas.
    assert parse_key_values(["m=A:B,C:D"], split=False) == {"m": "A:B,C:D"}
    with pytest.raises(ValueError, match="'novalue' is not KEY=VALUE"):
        parse_key_values("novalue")
    # The rest of a value with a space used to be shown as the item that was not KEY=VALUE:
    # a piece of a password in an error message. Now only its key is named.
    with pytest.raises(ValueError, match="after sasl.password=… is not KEY=VALUE") as info:
        parse_key_values("security.protocol=SASL_SSL sasl.password=hunter2 zebra9,quux7")
    assert not {"hunter2", "zebra9", "quux7"} & set(re.split(r"\W+", str(info.value)))
    with pytest.raises(ValueError, match="not a valid JSON object") as info:
        parse_key_values('{"sasl.password": "' + SECRET)
    assert SECRET not in str(info.value)


def test_infinite_times_are_refused_like_negative_ones():
    """The workloads' copies accepted ``inf`` (``--interval inf`` then crashed the monitor in
    ``Event.wait``); Locust's refused it. One validator now, refusing it everywhere."""
    for convert in (non_negative_float, positive_float):
        with pytest.raises(ValueError, match="finite"):
            convert("inf")
        with pytest.raises(ValueError):
            convert("nan")
    assert non_negative_float("0") == 0.0 and positive_float("0.5") == 0.5


def test_the_monitor_refuses_an_infinite_interval_with_exit_2(tmp_path):
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "workloads.monitor", "--group", "g", "--topic", "t"]
        + ["--out", str(tmp_path / "g.jsonl"), "--interval", "inf"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "--interval" in r.stderr and "finite" in r.stderr
