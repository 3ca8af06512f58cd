"""A certificate authority and broker certificates for the local cluster's SASL_SSL listener.

The local cluster can listen for SASL_SSL clients on 127.0.0.1 (see
:class:`~riverbed.kafka.cluster.LocalKafkaCluster`), so that riverbed's
``--platform external`` path — a cluster with TLS and SASL, as a staging
cluster has — can be tried and tested on one machine. This module makes the
TLS material once per cluster, in ``<state>/tls/``:

    ca.pem          the CA certificate clients trust (``ssl.ca.location``)
    ca.key          the CA's private key (kept only to sign more broker certificates)
    broker.pem      the brokers' PEM keystore: private key, then certificate chain

The broker certificate names ``127.0.0.1`` and ``localhost``, so clients keep
hostname verification on (``ssl.endpoint.identification.algorithm=https``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

#: Subject alternative names of the broker certificate: the listener's only address.
BROKER_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class TlsFiles:
    """Where one cluster's TLS material lives."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        """The CA certificate (PEM): what clients pass as ``ssl.ca.location``."""
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def broker_keystore(self) -> Path:
        """The brokers' PEM keystore: unencrypted PKCS#8 key, then the certificate chain."""
        return self.directory / "broker.pem"

    def exists(self) -> bool:
        return all(p.exists() for p in (self.ca_cert, self.ca_key, self.broker_keystore))


def ensure_tls(directory: Path, days: int = 825) -> TlsFiles:
    """Make the CA and the broker keystore in ``directory`` unless they exist already."""
    files = TlsFiles(Path(directory))
    if files.exists():
        return files
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    files.directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    # Valid from a minute ago: a client whose clock is a little behind still accepts it.
    start, end = now - datetime.timedelta(minutes=1), now + datetime.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "riverbed local Kafka CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    broker_key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in BROKER_HOSTS:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    broker_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, BROKER_HOSTS[0])]))
        .issuer_name(ca_name)
        .public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    plain = serialization.NoEncryption()
    _write_private(files.ca_key, ca_key.private_bytes(pem, pkcs8, plain))
    _write_private(
        files.broker_keystore,
        broker_key.private_bytes(pem, pkcs8, plain)
        + broker_cert.public_bytes(pem)
        + ca_cert.public_bytes(pem),
    )
    # Written last: its presence says the set is complete.
    files.ca_cert.write_bytes(ca_cert.public_bytes(pem))
    return files


def _write_private(path: Path, data: bytes) -> None:
    """Write key material readable by this user only."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)
