"""Kafka client connection settings (TLS, SASL) in one spelling, for every riverbed client.

A cluster riverbed does not run (``riverbed run --platform external``) usually
wants TLS and SASL. The settings are given once, in the spelling of librdkafka
and the Java client (``security.protocol``, ``sasl.mechanism``,
``sasl.username``, ``sasl.password``, ``ssl.ca.location`` …), and this module
is the only place that knows how each client spells them:

- :func:`kafka_python` — keyword arguments of kafka-python's clients
  (``sasl_plain_username``, ``ssl_cafile``, ``ssl_check_hostname`` …);
- :func:`librdkafka` — confluent-kafka's configuration (the canonical names);
- :func:`consumer_environment` — what a user's consumer receives
  (``KAFKA_SECURITY_PROTOCOL`` … and ``KAFKA_CLIENT_CONFIG``, all of them as JSON).

riverbed's own processes (Locust, the monitor, the drains, the collector, the
reference consumer, the chaos activities) read the settings from
``RIVERBED_KAFKA_CONFIG`` (:data:`ENV`; a JSON object or ``KEY=VALUE`` items),
which ``riverbed run`` sets for the processes it starts; :func:`from_environ`
reads it. Keys are checked (an unknown ``ssl.``/``sasl.``/``security.`` key is
an error, never silently dropped: a misspelt password key would otherwise
surface as an authentication failure far from its cause) and values of
secrets are never part of a message: :func:`masked` is what spec.json records.

Other spellings are accepted and normalised: kafka-python's names
(``sasl_plain_username``, ``ssl_cafile``…), underscores for dots
(``sasl_username``), librdkafka's ``sasl.mechanisms``.

Standard library only (the workload container imports it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workloads.settings_core import KAFKA_CONFIG, parse_key_values

#: The variable riverbed's processes read their client settings from.
ENV = KAFKA_CONFIG.env
#: The machine-readable variable a user's consumer receives: every setting, as JSON.
CONSUMER_ENV = "KAFKA_CLIENT_CONFIG"

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
#: SASL mechanisms both kafka-python and librdkafka implement without extra packages.
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
ENDPOINT_IDENTIFICATION = ("https", "none")
#: Shown instead of a secret's value (spec.json, messages).
MASK = "(set)"


class ClientConfigError(ValueError):
    """A client setting riverbed cannot use. The message names the key, never a secret."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message + (f" ({fix})" if fix else ""))
        self.message = message
        self.fix = fix


@dataclass(frozen=True)
class ClientKey:
    """One connection setting."""

    name: str
    """The canonical name (librdkafka / Java)."""
    kafka_python: str
    """kafka-python's keyword argument."""
    help: str
    secret: bool = False
    """A password: masked in spec.json, logs and reports."""
    path: bool = False
    """A file that must exist."""
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    """Other accepted spellings (besides dots written as underscores)."""

    @property
    def env(self) -> str:
        """The variable a user's consumer receives it in: ``KAFKA_`` + the name in capitals."""
        return "KAFKA_" + self.name.replace(".", "_").replace("-", "_").upper()


KEYS: tuple[ClientKey, ...] = (
    ClientKey(
        "security.protocol",
        "security_protocol",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
        choices=SECURITY_PROTOCOLS,
    ),
    ClientKey(
        "sasl.mechanism",
        "sasl_mechanism",
        "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default PLAIN with a SASL protocol)",
        choices=SASL_MECHANISMS,
        aliases=("sasl.mechanisms",),
    ),
    ClientKey(
        "sasl.username", "sasl_plain_username", "SASL user name", aliases=("sasl_plain_username",)
    ),
    ClientKey(
        "sasl.password",
        "sasl_plain_password",
        "SASL password",
        secret=True,
        aliases=("sasl_plain_password",),
    ),
    ClientKey(
        "ssl.ca.location",
        "ssl_cafile",
        "PEM file of the CA certificates that signed the brokers' certificates",
        path=True,
        aliases=("ssl_cafile",),
    ),
    ClientKey(
        "ssl.certificate.location",
        "ssl_certfile",
        "PEM file of the client's certificate (mutual TLS)",
        path=True,
        aliases=("ssl_certfile",),
    ),
    ClientKey(
        "ssl.key.location",
        "ssl_keyfile",
        "PEM file of the client's private key (mutual TLS)",
        path=True,
        aliases=("ssl_keyfile",),
    ),
    ClientKey(
        "ssl.key.password",
        "ssl_password",
        "password of the client's private key",
        secret=True,
        aliases=("ssl_password",),
    ),
    ClientKey(
        "ssl.crl.location",
        "ssl_crlfile",
        "PEM file of certificate revocation lists",
        path=True,
        aliases=("ssl_crlfile",),
    ),
    ClientKey(
        "ssl.endpoint.identification.algorithm",
        "ssl_check_hostname",
        "https (check the broker's host name against its certificate; default) or none",
        choices=ENDPOINT_IDENTIFICATION,
        aliases=("ssl_check_hostname",),
    ),
)
BY_NAME = {k.name: k for k in KEYS}

#: Java client settings Python clients have no equivalent for, with what to give instead.
_JAVA_ONLY = {
    "ssl.truststore.location": "Python clients read PEM: export the CA certificate "
    "(keytool -exportcert -rfc) and give ssl.ca.location",
    "ssl.truststore.password": "Python clients read PEM: give ssl.ca.location",
    "ssl.truststore.type": "Python clients read PEM: give ssl.ca.location",
    "ssl.keystore.location": "Python clients read PEM: give ssl.certificate.location and "
    "ssl.key.location",
    "ssl.keystore.password": "give ssl.key.password for the PEM key",
    "ssl.keystore.type": "Python clients read PEM: give ssl.certificate.location and "
    "ssl.key.location",
    "sasl.jaas.config": "give sasl.username and sasl.password instead of a JAAS line",
}


def _fold(key: str) -> str:
    return key.strip().lower().replace("_", ".").replace("-", ".")


_LOOKUP: dict[str, ClientKey] = {}
for _key in KEYS:
    for _spelling in (_key.name, _key.kafka_python, *_key.aliases):
        _LOOKUP[_fold(_spelling)] = _key


def lookup(key: str) -> ClientKey | None:
    """The connection setting ``key`` names, in any accepted spelling, else None."""
    return _LOOKUP.get(_fold(key))


def is_connection_key(key: str) -> bool:
    """Whether ``key`` is about the connection (TLS, SASL): such a key must be known."""
    return _fold(key).startswith(("security.", "sasl.", "ssl."))


def split(raw: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """``(connection settings by canonical name, every other setting as given)``.

    Raises :class:`ClientConfigError` for a connection key riverbed does not know.
    """
    known: dict[str, str] = {}
    other: dict[str, str] = {}
    for key, value in raw.items():
        spec = lookup(str(key))
        text = "" if value is None else _text(value)
        if spec is not None:
            if spec.name == "ssl.endpoint.identification.algorithm" and _fold(str(key)) == _fold(
                "ssl_check_hostname"
            ):
                text = "https" if _truthy(text) else "none"
            known[spec.name] = text
        elif is_connection_key(str(key)):
            hint = _JAVA_ONLY.get(_fold(str(key)))
            raise ClientConfigError(
                f"unknown Kafka client setting {str(key)!r}",
                hint or f"riverbed knows {', '.join(BY_NAME)}",
            )
        else:
            other[str(key)] = text
    return known, other


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on", "https")


def check(
    settings: Mapping[str, str], check_files: bool = True, complete: bool = True
) -> dict[str, str]:
    """The connection settings (canonical names) checked together; returns them normalised
    (choices in their canonical case, ``sasl.mechanism`` PLAIN when a SASL protocol has none).

    ``complete=False`` checks each setting on its own only (values, files), for a
    client that takes partial settings and adds its own (Locust's ``--kafka-config``).
    """
    out = {k: v for k, v in settings.items() if v != ""}
    for name, value in list(out.items()):
        spec = BY_NAME[name]
        if spec.choices:
            folded = {c.lower(): c for c in spec.choices}
            if value.lower() not in folded:
                raise ClientConfigError(
                    f"{name} {value!r} is not one riverbed's clients support",
                    f"use {', '.join(spec.choices)}",
                )
            out[name] = folded[value.lower()]
        if spec.path and check_files:
            path = Path(value).expanduser()
            if not path.is_file():
                raise ClientConfigError(
                    f"{name}: there is no file {value}", "give the path of a PEM file"
                )
            out[name] = str(path.resolve())
    protocol = out.get("security.protocol", "PLAINTEXT")
    sasl = protocol.startswith("SASL_")
    tls = protocol in ("SSL", "SASL_SSL")
    if sasl:
        # Both clients then agree: librdkafka's own default would be GSSAPI.
        out.setdefault("sasl.mechanism", "PLAIN")
    if not complete:
        return out
    if not sasl and any(k.startswith("sasl.") for k in out):
        raise ClientConfigError(
            f"sasl.* settings need a SASL security.protocol (this one is {protocol})",
            "add security.protocol=SASL_SSL (or SASL_PLAINTEXT)",
        )
    if not tls and any(k.startswith("ssl.") for k in out):
        raise ClientConfigError(
            f"ssl.* settings need a TLS security.protocol (this one is {protocol})",
            "add security.protocol=SSL or SASL_SSL",
        )
    if sasl:
        missing = [k for k in ("sasl.username", "sasl.password") if not out.get(k)]
        if missing:
            raise ClientConfigError(
                f"security.protocol {protocol} needs {' and '.join(missing)}",
                "give the SASL user's name and password",
            )
    if ("ssl.key.location" in out) != ("ssl.certificate.location" in out):
        raise ClientConfigError(
            "mutual TLS needs both ssl.certificate.location and ssl.key.location"
        )
    return out


def parse(
    items: Sequence[str] | str | None, *, source: str = "--kafka-config", strict: bool = True
) -> dict[str, str]:
    """Connection settings from ``KEY=VALUE`` items (or a JSON object), checked.

    ``strict``: any key that is not a connection setting is an error (what the
    ``riverbed`` CLI wants); otherwise such keys (a producer's ``linger.ms``, say)
    are left to the clients that use them.
    """
    try:
        raw = parse_key_values(items, what=f"{source} item")
    except ValueError as exc:
        raise ClientConfigError(
            str(exc),
            "write KEY=VALUE items, e.g. security.protocol=SASL_SSL; a value with spaces or "
            """commas goes in a JSON object: '{"sasl.password": "…"}'""",
        ) from None
    known, other = split(raw)
    if strict and other:
        names = ", ".join(sorted(other))
        raise ClientConfigError(
            f"unknown Kafka client setting{'s' if len(other) > 1 else ''} {names}",
            f"riverbed takes the connection settings {', '.join(BY_NAME)}",
        )
    return check(known)


def from_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The connection settings riverbed's processes use: ``RIVERBED_KAFKA_CONFIG``, else
    ``KAFKA_CLIENT_CONFIG``; other keys in them (producer tuning for Locust) are ignored."""
    env = os.environ if environ is None else environ
    found = KAFKA_CONFIG.from_environ(env)
    if found is None:
        return {}
    name, value = found
    return parse(value, source=f"${name}", strict=False)


def kafka_python(settings: Mapping[str, str]) -> dict[str, Any]:
    """kafka-python keyword arguments for the (checked) settings."""
    out: dict[str, Any] = {}
    for name, value in settings.items():
        spec = BY_NAME[name]
        if name == "ssl.endpoint.identification.algorithm":
            out[spec.kafka_python] = value == "https"
        else:
            out[spec.kafka_python] = value
    return out


def librdkafka(settings: Mapping[str, str]) -> dict[str, str]:
    """confluent-kafka (librdkafka) configuration for the (checked) settings."""
    return dict(settings)


def kafka_python_from_environ(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    return kafka_python(from_environ(environ))


def librdkafka_from_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    return librdkafka(from_environ(environ))


def to_json(settings: Mapping[str, str]) -> str:
    """The settings as one JSON object (for ``RIVERBED_KAFKA_CONFIG``)."""
    return json.dumps(dict(settings), separators=(",", ":"), sort_keys=True)


def consumer_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """What a user's consumer receives: one ``KAFKA_<NAME>`` variable per setting given
    (``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_PASSWORD`` …) and ``KAFKA_CLIENT_CONFIG``,
    all of them as one JSON object in librdkafka's spelling (``{}`` without any)."""
    env = {BY_NAME[name].env: value for name, value in settings.items()}
    env[CONSUMER_ENV] = to_json(settings)
    return env


def masked(settings: Mapping[str, str]) -> dict[str, str]:
    """The settings with every secret's value replaced by :data:`MASK` (for spec.json)."""
    return {k: (MASK if BY_NAME[k].secret else v) for k, v in settings.items()}


def secrets(settings: Mapping[str, str]) -> list[str]:
    """The secret values among the settings (to keep them out of logs)."""
    return [v for k, v in settings.items() if BY_NAME[k].secret and v]


def redact(text: str, settings: Mapping[str, str]) -> str:
    """``text`` with every secret value of ``settings`` replaced by :data:`MASK`."""
    for value in sorted(secrets(settings), key=len, reverse=True):
        text = text.replace(value, MASK)
    return text
