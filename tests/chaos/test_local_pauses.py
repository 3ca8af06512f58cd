"""Pauses on the local platform, for real: SIGSTOP lands, SIGCONT always comes.

A paused consumer is not dead (the supervisor keeps it), comes back as a zombie
when the pause outlasts its session, and no path — the end of the pause, an
interrupted experiment, riverbed's teardown — leaves a process stopped.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from riverbed.chaos.runner import chaos_command
from riverbed.processes import alive, group_members, spawn, stop_group, stopped
from tests.chaos.test_local_experiments import (
    LOCAL,
    assert_conclusive,
    assert_timeline,
    run,
    the,
)

pytestmark = pytest.mark.integration


def member_lines(run_dir: Path, replica: str) -> list[dict[str, Any]]:
    (path,) = (run_dir / "evidence" / "consumed").glob(f"{replica}-*.jsonl")
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def no_process_stopped(pgids: list[int]) -> bool:
    return not any(stopped(pid) for pgid in pgids for pid in group_members(pgid))


@pytest.mark.slow
def test_a_pause_past_the_session_timeout_makes_a_zombie_and_always_ends(local_platform):
    # Busy consumers (80 ms a record): the pause lands while a batch is held.
    p = local_platform(processing_ms="80")
    before = p.platform.replicas()
    out = run(p, "pause-consumer", RIVERBED_PAUSE_S="13", RIVERBED_PAUSE_NAMES="consumer-2")
    assert_conclusive(out)
    faults = assert_timeline(p, out)
    pause = the(faults, "pause-one-consumer")
    assert pause["output"] == ["consumer-2"] and pause["landed"] is True
    assert pause["t_end"] - pause["t_start"] >= 13
    # Not dead: the same process, never replaced, and running again.
    after = p.platform.replicas()
    assert after["consumer-2"]["pid"] == before["consumer-2"]["pid"]
    assert after["consumer-2"]["incarnation"] == 1
    assert not [e for e in p.supervisor_events() if e["event"] == "exit"]
    assert no_process_stopped([int(r["pgid"]) for r in after.values()])
    assert p.platform.paused_consumers() == []
    # A zombie: evicted while paused, it learnt so when it continued (its partitions
    # lost, or its commit rejected) and joined again.
    lines = member_lines(p.run_dir, "consumer-2")
    late = [e for e in lines if e["t"] > pause["t_start"] + 10]
    assert any(e["type"] == "lost" for e in late) or any(
        e["type"] == "committed" and not e["ok"] for e in late
    ), late[:10]
    assert any(e["type"] == "assigned" for e in late)
    # The rollback found nothing left to resume.
    assert the(faults, "resume-paused-consumers")["output"] == []


def test_an_interrupted_pause_and_the_teardown_never_leave_a_stopped_process(
    local_platform, tmp_path
):
    """Ctrl-C of `chaos run` in the middle of a long pause: the action sends SIGCONT
    and the rollback resumes whatever is still paused. Then a pause riverbed did not
    end: stopping the platform continues the process before stopping it."""
    p = local_platform(load=False)
    pgids = [int(r["pgid"]) for r in p.platform.replicas().values()]
    cmd = [*chaos_command(), "--no-version-check", "--log-file", str(tmp_path / "chaos.log"),
           "run", "--rollback-strategy=always", "--journal-path", str(tmp_path / "journal.json"),
           str(LOCAL / "pause-consumer.json")]  # fmt: skip
    env = {**p.env, "RIVERBED_PAUSE_S": "300", "RIVERBED_RUN_DIR": str(p.run_dir)}
    chaos = spawn(cmd, tmp_path / "chaos.out", env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 90
        while no_process_stopped(pgids):
            assert time.monotonic() < deadline, (tmp_path / "chaos.out").read_text()[-2000:]
            assert chaos.poll() is None, (tmp_path / "chaos.out").read_text()[-2000:]
            time.sleep(0.2)
        assert len(p.platform.paused_consumers()) == 1
        stop_group(chaos, signal.SIGINT, timeout=60)  # what Ctrl-C does
    finally:
        if chaos.poll() is None:
            stop_group(chaos, signal.SIGKILL, timeout=10)
    assert no_process_stopped(pgids)
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "interrupted"
    rollbacks = [r["activity"]["name"] for r in journal["rollbacks"]]
    assert "resume-paused-consumers" in rollbacks
    assert p.platform.paused_consumers() == []

    # A replica left paused (say the chaos process was SIGKILLed): teardown continues it.
    (name,) = p.platform.pause_consumers(names=["consumer-1"])
    pid = int(p.platform.replicas()[name]["pid"])
    assert stopped(pid)
    t0 = time.monotonic()
    p.platform.stop_workloads()
    assert time.monotonic() - t0 < 20  # stopped gracefully, not after the kill timeout
    assert not alive(pid)
    exits = [e for e in p.supervisor_events() if e["event"] == "exit" and e["replica"] == name]
    assert exits and exits[0]["rc"] == 0  # it handled SIGTERM: it was continued first


@pytest.mark.slow
def test_a_paused_broker_is_fenced_and_comes_back(local_platform):
    p = local_platform()
    cluster = p.platform.kafka
    out = run(p, "pause-broker", RIVERBED_BROKER_PAUSE_S="12")
    assert_conclusive(out)
    faults = assert_timeline(p, out)
    pause = the(faults, "pause-partition-leader")
    assert pause["landed"] is True and pause["output"]["paused"] is True
    bid = pause["output"]["broker_id"]
    assert pause["t_end"] - pause["t_start"] >= 12
    # The same JVM, running again (not restarted), and nothing paused.
    assert cluster.pid(bid) == pause["output"]["pid"]
    assert cluster.paused() == []
    assert out.steady_state_after  # every partition fully in sync again, the group converged
    assert the(faults, "resume-paused-brokers")["output"] == {"resumed": []}
