"""riverbed.processes on real processes: stopping one, waiting for groups, finding a port's holder."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

from riverbed.processes import (
    alive,
    group_alive,
    port_holder,
    spawn,
    stopped,
    terminate,
    wait_groups_gone,
)


def test_terminate_stops_a_process_gracefully_without_killing_it(tmp_path: Path) -> None:
    proc = spawn(["sleep", "30"], tmp_path / "sleep.log")
    assert terminate(proc.pid, timeout=5, poll=proc.poll) is False
    assert proc.wait(timeout=5) == -signal.SIGTERM
    assert not alive(proc.pid)


def test_terminate_continues_a_paused_process_so_it_can_stop(tmp_path: Path) -> None:
    proc = spawn(["sleep", "30"], tmp_path / "sleep.log")
    os.kill(proc.pid, signal.SIGSTOP)
    deadline = time.monotonic() + 5
    while not stopped(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stopped(proc.pid) and alive(proc.pid)  # paused is not dead
    assert terminate(proc.pid, timeout=5, poll=proc.poll) is False
    assert proc.wait(timeout=5) == -signal.SIGTERM


def test_terminate_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(30)"
    log = tmp_path / "stubborn.log"
    proc = spawn([sys.executable, "-c", code], log)
    deadline = time.monotonic() + 10
    while "ready" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert terminate(proc.pid, timeout=0.5, poll=proc.poll, kill_wait_s=5) is True
    assert proc.wait(timeout=5) == -signal.SIGKILL


def test_terminate_of_a_gone_process_says_so_quickly(tmp_path: Path) -> None:
    proc = spawn(["true"], tmp_path / "true.log")
    proc.wait(timeout=5)
    t0 = time.monotonic()
    assert terminate(proc.pid, timeout=5) is False
    assert time.monotonic() - t0 < 1


def test_wait_groups_gone_waits_for_the_children_of_a_group_leader(tmp_path: Path) -> None:
    # The shell (leader) exits at once; the sleep it started keeps the group alive.
    proc = spawn(["/bin/sh", "-c", "sleep 30 & exit 0"], tmp_path / "sh.log")
    proc.wait(timeout=5)
    assert group_alive(proc.pid)
    assert wait_groups_gone([proc.pid], timeout=0.3) == [proc.pid]
    os.killpg(proc.pid, signal.SIGTERM)
    assert wait_groups_gone([proc.pid], timeout=5) == []


def test_port_holder_names_the_listening_process() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        holder = port_holder(s.getsockname()[1])
    assert holder is not None and holder.startswith(f"pid {os.getpid()}")
