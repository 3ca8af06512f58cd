"""Network faults on the local platform, for real: Toxiproxy on one replica's own connections.

Each replica connects through its own proxies (the brokers advertise them on the
replica's listener), so a toxic on them acts on that replica's real TCP
traffic and nobody else's; the fault lands, heals after its duration, and the
evidence shows what it did.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from riverbed.platforms.network import Toxiproxy
from riverbed.processes import alive
from tests.chaos.test_local_experiments import assert_conclusive, assert_timeline, run, the

pytestmark = pytest.mark.integration


def lines(run_dir: Path, replica: str) -> list[dict[str, Any]]:
    out = []
    for path in (run_dir / "evidence" / "consumed").glob(f"{replica}-*.jsonl"):
        text = path.read_text()
        # A running replica may be mid-line: read whole lines only.
        out += [json.loads(x) for x in text[: text.rfind("\n") + 1].splitlines() if x.strip()]
    return sorted(out, key=lambda e: e["t"])


def commit_round_trips(events: list[dict[str, Any]], t0: float, t1: float) -> list[float]:
    """after-process: the time from a batch's processed line to its synchronous commit."""
    out = []
    for a, b in zip(events, events[1:], strict=False):
        if a["type"] == "processed" and b["type"] == "committed" and t0 <= a["t"] <= t1:
            out.append(b["t"] - a["t"])
    return out


def test_each_replica_connects_through_its_own_proxies(local_platform):
    p = local_platform(network=True, load=False)
    network = p.platform.network()
    cluster = p.platform.kafka
    assert set(network["replica_bootstrap"]) >= {"consumer-1", "consumer-2", "consumer-3"}
    # The consumers' own connections go to their proxies only (psutil sees them).
    import psutil

    for name, rep in p.platform.replicas().items():
        slot = int(name.rsplit("-", 1)[1])
        mine = {cluster.proxy_port(slot, b) for b in cluster.broker_ids}
        ports = {c.raddr.port for c in psutil.Process(int(rep["pid"])).net_connections() if c.raddr}
        assert ports and ports <= mine, (name, ports, mine)
    server = Toxiproxy(p.state_dir, cluster)
    assert server.pid() is not None
    pid = server.pid()
    p.platform.stop_workloads()
    assert not alive(pid)  # Toxiproxy stops with the workloads


def test_latency_slows_only_its_target_and_heals(local_platform):
    p = local_platform(network=True)
    out = run(
        p,
        "network-latency",
        RIVERBED_NET_NAMES="consumer-1",
        RIVERBED_LATENCY_MS="400",
        RIVERBED_JITTER_MS="0",
        RIVERBED_NET_S="10",
    )
    assert_conclusive(out)
    faults = assert_timeline(p, out)
    fault = the(faults, "delay-one-consumer")
    assert fault["landed"] is True
    assert fault["output"]["replicas"] == ["consumer-1"]
    assert len(fault["output"]["toxics"]) == 3  # one proxy per broker
    t0, t1 = fault["t_start"] + 1, fault["t_end"] - 1
    slow = commit_round_trips(lines(p.run_dir, "consumer-1"), t0, t1)
    fast = commit_round_trips(lines(p.run_dir, "consumer-2"), t0, t1)
    assert slow and fast
    assert min(slow) >= 0.4, slow  # every commit waited for a delayed answer
    assert sorted(fast)[len(fast) // 2] < 0.4, fast  # the others did not
    # The experiment may end within 3 s of the heal; the load goes on, so wait
    # for the healed replica's next commits rather than read too early.
    deadline, after = time.monotonic() + 60, []
    while len(after) < 5 and time.monotonic() < deadline:
        time.sleep(0.5)
        after = commit_round_trips(lines(p.run_dir, "consumer-1"), fault["t_end"] + 3, 1e12)
    assert after and sorted(after)[len(after) // 2] < 0.4, after  # healed
    proxies = Toxiproxy(p.state_dir, p.platform.kafka).request("GET", "/proxies")
    assert all(not proxy["toxics"] for proxy in proxies.values())


@pytest.mark.slow
def test_a_consumer_cut_off_from_its_coordinator_is_evicted_and_comes_back(local_platform):
    p = local_platform(network=True, processing_ms="20")
    out = run(p, "network-partition", RIVERBED_NET_NAMES="consumer-1", RIVERBED_NET_S="16")
    assert_conclusive(out)
    faults = assert_timeline(p, out)
    fault = the(faults, "partition-one-consumer")
    assert fault["landed"] is True and fault["output"]["replicas"] == ["consumer-1"]
    (coordinator,) = fault["output"]["brokers"]
    assert fault["output"]["proxies"] == [f"consumer-1.broker-{coordinator}"]
    # Evicted while cut off, it learnt so when the partition healed, and rejoined.
    late = [e for e in lines(p.run_dir, "consumer-1") if e["t"] > fault["t_start"] + 10]
    assert any(e["type"] == "lost" for e in late) or any(
        e["type"] == "committed" and not e["ok"] for e in late
    ), late[:10]
    assert any(e["type"] == "assigned" for e in late)
    proxies = Toxiproxy(p.state_dir, p.platform.kafka).request("GET", "/proxies")
    assert all(not proxy["toxics"] for proxy in proxies.values())
