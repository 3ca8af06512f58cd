"""`riverbed kafka` turns environment problems into named errors with exit code 2."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from riverbed.kafka.cluster import LocalKafkaCluster, free_base_port
from riverbed.kafka.distribution import java_major_version

RIVERBED = [sys.executable, "-m", "riverbed.cli"]


def run(args: list[str], env: dict[str, str] | None = None, timeout: float = 180):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        RIVERBED + args, capture_output=True, text=True, env=full_env, timeout=timeout
    )


def _bin_dir_with(tmp_path: Path, tools: dict[str, str]) -> str:
    """A PATH holding only the given tools (name -> script body) plus basic utilities."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, body in tools.items():
        script = bindir / name
        script.write_text("#!/bin/sh\n" + body + "\n")
        script.chmod(0o755)
    return f"{bindir}:/usr/bin/X11-nonexistent"


def test_java_version_parsing():
    assert java_major_version('openjdk version "17.0.15" 2025-04-15') == 17
    assert java_major_version('openjdk version "21" 2023-09-19') == 21
    assert java_major_version('java version "1.8.0_392"') == 8
    assert java_major_version("garbage") is None


def test_java_missing(tmp_path):
    path = _bin_dir_with(tmp_path, {})
    r = run(
        ["kafka", "up", "--state-dir", str(tmp_path / "s"), "--base-port", "43092"],
        env={"PATH": path, "JAVA_HOME": ""},
    )
    assert r.returncode == 3, r.stderr
    assert "Java was not found" in r.stderr
    assert "fix:" in r.stderr


def test_java_too_old(tmp_path):
    path = _bin_dir_with(tmp_path, {"java": "echo 'java version \"1.8.0_392\"' >&2"})
    r = run(
        ["kafka", "up", "--state-dir", str(tmp_path / "s"), "--base-port", "43092"],
        env={"PATH": path, "JAVA_HOME": ""},
    )
    assert r.returncode == 3, r.stderr
    assert "Java 8 found" in r.stderr and "17" in r.stderr


def test_maven_missing(tmp_path):
    java = os.popen("command -v java").read().strip()
    path = _bin_dir_with(tmp_path, {"java": f'exec {java} "$@"'})
    r = run(
        ["kafka", "resolve"],
        env={"PATH": path, "JAVA_HOME": "", "RIVERBED_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert r.returncode == 3, r.stderr
    assert "Maven (`mvn`) was not found" in r.stderr


def test_maven_central_unreachable(tmp_path):
    # Real Maven, pointed at a mirror on a closed loopback port, with an empty
    # local repository: exactly what an offline machine sees.
    settings = tmp_path / "settings.xml"
    settings.write_text(
        "<settings><mirrors><mirror><id>closed</id><mirrorOf>*</mirrorOf>"
        "<url>http://127.0.0.1:9/maven2</url></mirror></mirrors></settings>"
    )
    r = run(
        ["kafka", "resolve"],
        env={
            "RIVERBED_CACHE_DIR": str(tmp_path / "cache"),
            "RIVERBED_MAVEN_ARGS": f"-s {settings} -Dmaven.repo.local={tmp_path / 'm2'}",
        },
    )
    assert r.returncode == 3, r.stderr
    assert "could not download Apache Kafka" in r.stderr
    assert "repo.maven.apache.org" in r.stderr


def test_port_in_use_is_named(tmp_path):
    base = free_base_port(1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", base))
        s.listen()
        r = run(
            [
                "kafka",
                "up",
                "--brokers",
                "1",
                "--state-dir",
                str(tmp_path / "s"),
                "--base-port",
                str(base),
            ]
        )
    assert r.returncode == 3, r.stderr
    assert f"Port {base}" in r.stderr and "already in use" in r.stderr
    assert "--base-port" in r.stderr


def test_unknown_broker_id(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "cluster.json").write_text(
        json.dumps({"cluster_id": "x", "brokers": 3, "base_port": 43192, "heap": "256m"})
    )
    r = run(["kafka", "kill", "7", "--state-dir", str(tmp_path / "s")])
    assert r.returncode == 4
    assert "There is no broker 7" in r.stderr


def test_no_cluster_yet(tmp_path):
    r = run(["kafka", "bootstrap", "--state-dir", str(tmp_path / "none")])
    assert r.returncode == 3
    assert "No local Kafka cluster" in r.stderr and "riverbed kafka up" in r.stderr
    r = run(["kafka", "down", "--state-dir", str(tmp_path / "none")])
    assert r.returncode == 0


def test_bad_heap_is_a_usage_error(tmp_path):
    r = run(["kafka", "up", "--heap", "lots", "--state-dir", str(tmp_path / "s")])
    assert r.returncode == 4
    assert "JVM heap size" in r.stderr


@pytest.mark.integration
def test_state_dir_formatted_with_another_cluster_id(tmp_path):
    state = tmp_path / "s"
    base = free_base_port(1)
    cluster = LocalKafkaCluster(state, brokers=1, base_port=base)
    cluster.up(timeout=120)
    cluster.down()
    meta = json.loads((state / "cluster.json").read_text())
    meta["cluster_id"] = "AAAAAAAAAAAAAAAAAAAAAA"
    (state / "cluster.json").write_text(json.dumps(meta))
    r = run(["kafka", "up", "--brokers", "1", "--state-dir", str(state), "--base-port", str(base)])
    assert r.returncode == 3, r.stderr
    assert "is formatted for Kafka cluster" in r.stderr
    assert "--purge" in r.stderr
    assert LocalKafkaCluster.open(state).running() == []


def test_cluster_ids_never_look_like_options():
    from riverbed.kafka.cluster import kafka_uuid

    ids = [kafka_uuid() for _ in range(5000)]
    assert not any(i.startswith("-") for i in ids)
    assert all(len(i) == 22 for i in ids)
    assert len(set(ids)) == len(ids)
