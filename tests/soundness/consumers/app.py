"""What every test consumer here shares, as a team's own small library would.

Settings come from the tutorial's environment (KAFKA_BROKER, KAFKA_BOOTSTRAP_SERVERS,
KAFKA_TOPIC, KAFKA_GROUP, KAFKA_CLIENT_CONFIG or KAFKA_SECURITY_PROTOCOL/KAFKA_SASL_*/
KAFKA_SSL_*). ``WORK_MS`` is the simulated work per record.

The consumer's *own* record of what it finished is the truth its tests judge a verdict
against: :func:`finished` appends ``{"partition", "offset", "t"}`` to
``$TRUTH_DIR/<pid>.jsonl`` with one ``os.write`` on an ``O_APPEND`` descriptor, so a line
is either written whole or not at all, and a SIGKILL loses nothing written before it.
"""

import json
import os
import time

BROKER = os.environ.get("KAFKA_BROKER", "localhost:9092")
BOOTSTRAP_SERVERS = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", BROKER)
TOPIC = os.environ.get("KAFKA_TOPIC", "events")
GROUP = os.environ.get("KAFKA_GROUP", "workers")
WORK_S = float(os.environ.get("WORK_MS", "0")) / 1000
TRUTH_DIR = os.environ.get("TRUTH_DIR", "truth")

# A dead replica's partitions move on after 10 s instead of the clients' default 45 s.
SESSION_TIMEOUT_MS = 10000


def kafka_python_settings():
    """kafka-python keyword arguments for the cluster (security ones only when set)."""
    settings = {
        name: os.environ[variable]
        for name, variable in (
            ("security_protocol", "KAFKA_SECURITY_PROTOCOL"),
            ("sasl_mechanism", "KAFKA_SASL_MECHANISM"),
            ("sasl_plain_username", "KAFKA_SASL_USERNAME"),
            ("sasl_plain_password", "KAFKA_SASL_PASSWORD"),
            ("ssl_cafile", "KAFKA_SSL_CA_LOCATION"),
        )
        if os.environ.get(variable)
    }
    return {"bootstrap_servers": [BROKER], **settings}


def confluent_settings():
    """librdkafka settings for the cluster: KAFKA_CLIENT_CONFIG (a JSON object) first."""
    return {
        **json.loads(os.environ.get("KAFKA_CLIENT_CONFIG") or "{}"),
        "bootstrap.servers": BOOTSTRAP_SERVERS,
    }


def work():
    """The record's processing, simulated."""
    time.sleep(WORK_S)


_truth = {"pid": None, "fd": None}


def finished(partition, offset):
    """Write down that the record at ``partition``/``offset`` is done.

    One file per process (a forked child gets a file of its own), opened on first use."""
    if _truth["pid"] != os.getpid():
        os.makedirs(TRUTH_DIR, exist_ok=True)
        path = os.path.join(TRUTH_DIR, f"{os.getpid()}.jsonl")
        _truth["fd"] = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        _truth["pid"] = os.getpid()
    line = json.dumps({"partition": partition, "offset": offset, "t": time.time()}) + "\n"
    os.write(_truth["fd"], line.encode())
