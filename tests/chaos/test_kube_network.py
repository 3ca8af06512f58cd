"""Kubernetes network faults: the targets, the manifests, and the sidecar's command run for real.

The command (:func:`cut_script`) is what the consumer pods' netfault sidecar
runs; here it runs with the real iptables in a network namespace of this
machine, against a real TCP listener in that namespace: a partition makes a
connection time out, a reset makes it fail at once, and both heal by
themselves. The whole fault on a kind cluster is in tests/kind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from riverbed.chaos.kube import network
from riverbed.chaos.landing import landed
from riverbed.errors import HarnessError
from riverbed.platforms.kube import KubePlatform
from riverbed.platforms.kube import render as km


# ---- targets (pure) ----------------------------------------------------------------------------
def test_broker_ids_all_coordinator_and_ids() -> None:
    def never() -> int:
        raise AssertionError("the coordinator is asked for only when wanted")

    assert network.broker_ids("all", [2, 0, 1], never) == [0, 1, 2]
    assert network.broker_ids("", [0, 1], never) == [0, 1]
    assert network.broker_ids("coordinator", [0, 1, 2], lambda: 2) == [2]
    assert network.broker_ids("0, 2", [0, 1, 2], never) == [0, 2]
    for bad in ("3", "leader", "x,1"):
        with pytest.raises(HarnessError, match="brokers must be all, coordinator or broker ids"):
            network.broker_ids(bad, [0, 1, 2], never)


def test_pick_pods_by_name_or_at_random_repeatably() -> None:
    running = ["consumer-a", "consumer-b", "consumer-c"]
    assert network.pick_pods(running, ["consumer-b"], 1, None) == ["consumer-b"]
    assert network.pick_pods(running, None, 2, 7) == network.pick_pods(running, None, 2, 7)
    assert len(network.pick_pods(running, None, 5, None)) == 3
    with pytest.raises(HarnessError, match="consumer-x"):
        network.pick_pods(running, ["consumer-x"], 1, None)
    with pytest.raises(HarnessError, match="count must be at least 1"):
        network.pick_pods(running, None, 0, None)


def _pod(name: str, phase: str = "Running", sidecar: bool = True, **extra: object) -> dict:
    containers = [{"name": "consumer"}] + ([{"name": "netfault"}] if sidecar else [])
    return {
        "metadata": {"name": name, "deletion_timestamp": extra.get("deleting")},
        "spec": {"containers": containers},
        "status": {"phase": phase, "pod_ip": extra.get("ip")},
    }


def test_only_running_pods_with_the_sidecar_are_targets() -> None:
    pods = [
        _pod("consumer-a"),
        _pod("consumer-b", phase="Pending"),
        _pod("consumer-c", sidecar=False),
        _pod("consumer-d", deleting="2026-12-02T00:00:00Z"),
    ]
    assert network.running_with_sidecar(pods) == ["consumer-a"]


def test_broker_addresses_come_from_the_statefulset_ordinals() -> None:
    pods = [_pod("kafka-0", ip="10.244.0.5"), _pod("kafka-2", ip="10.244.0.7"), _pod("kafka-1")]
    assert network.broker_addresses(pods) == {0: "10.244.0.5", 2: "10.244.0.7"}


def test_cut_script_refuses_an_unknown_mode_and_no_address() -> None:
    with pytest.raises(HarnessError, match="mode must be one of drop, reset"):
        network.cut_script(["10.0.0.1"], "delay", 5)
    with pytest.raises(HarnessError, match="at least one broker address"):
        network.cut_script([], "drop", 5)


def test_a_fault_landed_only_where_its_rules_were_in_place() -> None:
    action = {
        "type": "action",
        "provider": {
            "type": "python",
            "module": "riverbed.chaos.kube.network",
            "func": "partition_consumer_pods",
        },
    }
    assert landed(action, "succeeded", {"pods": ["consumer-a"], "cut": ["consumer-a"]}) is True
    assert landed(action, "succeeded", {"pods": ["consumer-a"], "cut": []}) is False
    assert landed(action, "failed", None) is False


# ---- the manifests -----------------------------------------------------------------------------
def _render(netfault: str | None) -> dict[str, list[km.Manifest]]:
    return KubePlatform(mode="kind", dry_run=True).render(
        image="riverbed-workloads:t", netfault_image=netfault
    )


def test_without_network_faults_no_sidecar_and_a_restricted_namespace() -> None:
    rendered = _render(None)
    docs = km.flatten(rendered)
    names = [c["name"] for c in km.containers(km.find(docs, "Deployment", "consumer"))]
    assert names == ["consumer"]
    (ns,) = [d for d in docs if d["kind"] == "Namespace"]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_with_network_faults_each_consumer_pod_gets_the_sidecar() -> None:
    docs = km.flatten(_render("riverbed-netfault:t"))
    consumer = km.find(docs, "Deployment", "consumer")
    by_name = {c["name"]: c for c in km.containers(consumer)}
    assert list(by_name) == ["consumer", "netfault"]
    side = by_name["netfault"]
    assert side["image"] == "riverbed-netfault:t" and side["imagePullPolicy"] == "IfNotPresent"
    security = side["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW"]}
    assert security["allowPrivilegeEscalation"] is False
    # The consumer container itself is unchanged: non-root, no capability.
    assert by_name["consumer"]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    spec = km.pod_spec(consumer) or {}
    assert {"name": "netfault-run", "emptyDir": {"sizeLimit": "1Mi"}} in spec["volumes"]
    (ns,) = [d for d in docs if d["kind"] == "Namespace"]
    labels = ns["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    # The other workloads do not get it.
    monitor = km.find(docs, "Deployment", "monitor")
    assert [c["name"] for c in km.containers(monitor)] == ["monitor"]


def test_the_sidecar_manifests_are_valid_kubernetes() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    for doc in km.flatten(_render("riverbed-netfault:t")):
        kubernetes_validate.validate(doc, "1.34", strict=True)


def test_up_builds_and_loads_the_sidecar_image_only_with_network_faults() -> None:
    def images(network_faults: bool) -> list[str]:
        kube = KubePlatform(mode="kind", dry_run=True)
        kube.up(tag="t", network_faults=network_faults)
        return [" ".join(c.argv) for c in kube.runner.commands() if "netfault" in " ".join(c.argv)]

    assert images(False) == []
    planned = images(True)
    assert any("--target netfault" in c and "riverbed-netfault:t" in c for c in planned)
    assert any(c.startswith("kind load docker-image riverbed-netfault:t") for c in planned)


# ---- the sidecar's command, with the real iptables ---------------------------------------------
@pytest.fixture
def netns() -> Iterator[str]:
    """A network namespace of this machine with loopback up (root and iptables needed)."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("iptables"):
        # A machine without them cannot run the command here; the kind test
        # (tests/kind/test_kind_run.py) runs the same command in real pods.
        pytest.skip("needs root, ip and iptables (the sidecar's tools)")
    name = f"rb-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


SERVER = """
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 19999)); s.listen(16); print("ready", flush=True)
s.settimeout(1); deadline = time.time() + 60
while time.time() < deadline:
    try:
        c, _ = s.accept(); c.sendall(b"ok"); c.close()
    except OSError:
        pass
"""

CLIENT = """
import socket, sys, time
t0 = time.time()
try:
    c = socket.create_connection(("127.0.0.1", 19999), timeout=2.0)
    print("ok" if c.recv(2) == b"ok" else "bad", round(time.time() - t0, 2))
except socket.timeout:
    print("timeout", round(time.time() - t0, 2))
except OSError as exc:
    print("error", round(time.time() - t0, 2), exc.errno)
"""


def _in(ns: str, *argv: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], text=True, capture_output=True, **kw)  # type: ignore[call-overload,no-any-return]


def _connect(ns: str) -> str:
    return _in(ns, sys.executable, "-c", CLIENT, timeout=30).stdout.split()[0]


@pytest.mark.parametrize(("mode", "during"), [("drop", "timeout"), ("reset", "error")])
def test_the_sidecar_command_cuts_and_heals_real_tcp(netns: str, mode: str, during: str) -> None:
    server = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-c", SERVER],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        assert _connect(netns) == "ok"
        fault = subprocess.Popen(
            ["ip", "netns", "exec", netns, "/bin/sh", "-c",
             network.cut_script(["127.0.0.1"], mode, 6)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert fault.stdout is not None
        assert fault.stdout.readline().strip() == network.LANDED
        rules = _in(netns, "iptables", "-w", "-S", network.CHAIN).stdout
        assert rules.count("127.0.0.1") == 2  # both ways
        assert _connect(netns) == during
        assert fault.wait(timeout=30) == 0
        # Healed by itself: no chain, no jump, and the connection works again.
        assert network.CHAIN not in _in(netns, "iptables", "-w", "-S").stdout
        assert _connect(netns) == "ok"
    finally:
        server.kill()
        server.wait()


def test_an_interrupted_fault_heals_within_a_second_and_heal_is_idempotent(netns: str) -> None:
    fault = subprocess.Popen(
        ["ip", "netns", "exec", netns, "/bin/sh", "-c",
         network.cut_script(["10.9.9.9"], "drop", 60)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert fault.stdout is not None and fault.stdout.readline().strip() == network.LANDED
    assert "10.9.9.9" in _in(netns, "iptables", "-w", "-S", network.CHAIN).stdout
    t0 = time.monotonic()
    # What a stopped runner sends. (Not SIGHUP: under `nohup` it is ignored from the
    # start, and a shell cannot trap a signal ignored on entry.)
    fault.send_signal(signal.SIGTERM)
    assert fault.wait(timeout=20) == 0
    assert time.monotonic() - t0 < 10  # not after the 60 s of the fault
    assert network.CHAIN not in _in(netns, "iptables", "-w", "-S").stdout
    # The rollback's command is safe with nothing in place, any number of times.
    for _ in range(2):
        assert _in(netns, "/bin/sh", "-c", network.heal_script()).returncode == 0
        assert network.CHAIN not in _in(netns, "iptables", "-w", "-S").stdout


def test_rules_a_killed_fault_left_are_replaced(netns: str) -> None:
    """A fault's command starts by healing: rules an earlier, killed one left never pile up."""
    stale = f"iptables -w -N {network.CHAIN} && iptables -w -A {network.CHAIN} -d 10.1.1.1 -j DROP"
    assert _in(netns, "/bin/sh", "-c", stale).returncode == 0
    fault = subprocess.Popen(
        ["ip", "netns", "exec", netns, "/bin/sh", "-c",
         network.cut_script(["10.2.2.2"], "drop", 3)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert fault.stdout is not None and fault.stdout.readline().strip() == network.LANDED
    rules = _in(netns, "iptables", "-w", "-S", network.CHAIN).stdout
    assert "10.2.2.2" in rules and "10.1.1.1" not in rules
    jumps = _in(netns, "iptables", "-w", "-S").stdout
    assert jumps.count(f"-j {network.CHAIN}") == 2  # one from OUTPUT, one from INPUT
    assert fault.wait(timeout=30) == 0
    assert network.CHAIN not in _in(netns, "iptables", "-w", "-S").stdout
