"""The local cluster's SASL_SSL listener, and the login check riverbed runs before an external run."""

from __future__ import annotations

import time

import pytest

from riverbed.errors import HarnessError
from riverbed.kafka.cluster import LocalKafkaCluster
from riverbed.kafka.preflight import check_connection
from riverbed.kafka.tls import ensure_tls
from workloads import client_config

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_both_clients_log_in_over_tls_with_hostname_checks(kafka: LocalKafkaCluster, mechanism):
    from confluent_kafka.admin import AdminClient
    from kafka.admin import KafkaAdminClient

    settings = client_config.check(kafka.sasl_ssl_client_settings(mechanism=mechanism))
    kp = client_config.kafka_python(settings)
    assert kp.get("ssl_check_hostname", True) is True  # host names checked (the default)
    admin = KafkaAdminClient(
        bootstrap_servers=kafka.sasl_ssl_bootstrap_servers, bootstrap_timeout_ms=20_000, **kp
    )
    try:
        brokers = admin.describe_cluster()["brokers"]
        # The SASL_SSL listener advertises itself: clients stay on it.
        assert sorted(b["port"] for b in brokers) == sorted(
            kafka.sasl_ssl_port(i) for i in kafka.broker_ids
        )
    finally:
        admin.close()
    rd = AdminClient(
        {
            "bootstrap.servers": kafka.sasl_ssl_bootstrap_servers,
            **client_config.librdkafka(settings),
        }
    )
    assert len(rd.list_topics(timeout=20).brokers) == 3


def test_the_login_check_names_a_wrong_password_or_ca_within_seconds(kafka, tmp_path):
    good = client_config.check(kafka.sasl_ssl_client_settings())
    info = check_connection(kafka.sasl_ssl_bootstrap_servers, good)
    assert info.brokers == 3 and info.cluster_id == kafka.cluster_id

    wrong = {**good, "sasl.password": "not-the-password"}
    t0 = time.monotonic()
    with pytest.raises(HarnessError, match="refused riverbed's credentials") as refused:
        check_connection(kafka.sasl_ssl_bootstrap_servers, wrong, timeout_s=60)
    assert time.monotonic() - t0 < 15
    assert "Invalid username or password" in refused.value.message
    assert "not-the-password" not in str(refused.value)

    # A CA that did not sign the brokers' certificates: the TLS handshake fails.
    other_ca = ensure_tls(tmp_path / "other").ca_cert
    with pytest.raises(HarnessError, match="TLS handshake") as tls:
        check_connection(
            kafka.sasl_ssl_bootstrap_servers, {**good, "ssl.ca.location": str(other_ca)}
        )
    assert "certificate verify failed" in tls.value.message

    # PLAINTEXT spoken to the TLS listener: no broker answers, and the fix says why.
    t0 = time.monotonic()
    with pytest.raises(HarnessError, match="No Kafka broker answered") as nobody:
        check_connection(kafka.sasl_ssl_bootstrap_servers, {}, timeout_s=4)
    assert "security.protocol" in (nobody.value.fix or "")
    assert time.monotonic() - t0 < 15


def test_tls_material_is_made_once_and_names_the_loopback_address(tmp_path):
    from cryptography import x509

    files = ensure_tls(tmp_path / "tls")
    first = files.broker_keystore.read_bytes()
    assert ensure_tls(tmp_path / "tls").broker_keystore.read_bytes() == first
    assert oct(files.ca_key.stat().st_mode & 0o777) == "0o600"
    cert = x509.load_pem_x509_certificates(first)[0]
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    cert.verify_directly_issued_by(ca)


def test_sasl_users_the_storage_tool_cannot_read_are_refused(tmp_path):
    with pytest.raises(HarnessError, match="free of commas"):
        LocalKafkaCluster(tmp_path, sasl_ssl_users={"u": "a,b"})


def test_kafka_up_refuses_sasl_users_it_cannot_give_a_cluster_made_without_them(tmp_path):
    """SCRAM users are written when a cluster is formatted: asking an existing cluster for
    them must say so, not start it without them (every login would then fail)."""
    import json

    from click.testing import CliRunner

    from riverbed.cli import main

    state = tmp_path / "kafka"
    state.mkdir()
    (state / "cluster.json").write_text(
        json.dumps({"brokers": 1, "base_port": 43092, "heap": "256m", "cluster_id": "x"})
    )
    args = ["kafka", "up", "--state-dir", str(state), "--brokers", "1", "--base-port", "43092"]
    r = CliRunner().invoke(main, [*args, "--sasl-ssl-user", "alice=pw-1"])
    assert r.exit_code == 4, r.output
    assert "was made without a SASL_SSL listener" in r.output and "--purge" in r.output
    assert "pw-1" not in r.output

    r = CliRunner().invoke(main, [*args, "--sasl-ssl-user", "only-a-password"])
    assert r.exit_code == 4 and "takes USER=PASSWORD" in r.output
    assert "only-a-password" not in r.output
