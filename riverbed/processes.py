"""Processes and process groups: the one place riverbed starts, signals, inspects and stops them.

Every long-lived child riverbed starts (a Kafka broker, the supervisor, a
consumer replica, Locust, ``chaos run``, Toxiproxy) runs in a session of its
own, so it is the leader of its own process group:

- it does not get the terminal's Ctrl-C, so the parent decides how it stops
  (chaos plays its rollbacks on SIGINT, Locust flushes its evidence);
- a signal to the group reaches the child's own children (a user's consumer
  command is often a shell and the program it started).

A process counts as *alive* while it exists and is not a zombie (an exited
child nobody reaped yet). A *stopped* process (SIGSTOP, a paused consumer or
broker) is alive: pausing is not killing. Inspection goes through psutil.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil

from riverbed.paths import PROJECT_ROOT

#: Process states that are not a running (or stopped) process.
_GONE = (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
#: prctl(2) option: the signal a child gets when its parent thread exits.
_PR_SET_PDEATHSIG = 1


def spawn(
    cmd: list[str],
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    preexec_fn: Callable[[], None] | None = None,
    inherit_env: bool = True,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session, stdout and stderr appended to ``log``.

    ``env`` is added to this process's environment (``inherit_env``) or is the
    whole environment; ``preexec_fn`` runs in the child before ``exec`` (e.g.
    to die with its parent).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    base = {**os.environ, "PYTHONUNBUFFERED": "1"} if inherit_env else {}
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**base, **(env or {})},
            cwd=cwd or PROJECT_ROOT,
            start_new_session=True,
            preexec_fn=preexec_fn,
        )


def die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    """``preexec_fn`` for :func:`spawn`: the child gets SIGTERM when its parent dies
    (Linux ``PR_SET_PDEATHSIG``; elsewhere nothing happens)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (a stopped process is alive)."""
    try:
        return psutil.Process(pid).status() not in _GONE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def stopped(pid: int) -> bool:
    """Whether process ``pid`` is stopped (SIGSTOP, or stopped by a tracer)."""
    try:
        return psutil.Process(pid).status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def cmdline(pid: int) -> str:
    """The command line of ``pid``, arguments joined by spaces ('' when unknown)."""
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return ""


def settled_cmdline(pid: int, wait_s: float = 1.0) -> str:
    """The command line of ``pid``, waiting briefly while it reads empty.

    Right after ``exec`` a process's command line is empty for a moment (the
    kernel fills it in after the parent already saw the exec succeed), so a
    broker just spawned would otherwise look like a stranger. Kernel threads
    stay empty: after ``wait_s`` the empty answer stands.
    """
    deadline = time.monotonic() + wait_s
    while not (cmd := cmdline(pid)) and time.monotonic() < deadline and alive(pid):
        time.sleep(0.02)
    return cmd


def environ(pid: int) -> dict[str, str]:
    """The environment of ``pid`` (empty when it cannot be read)."""
    try:
        return dict(psutil.Process(pid).environ())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
        return {}


def group_members(pgid: int) -> list[int]:
    """The live (non-zombie) processes of the process group ``pgid``."""
    members = []
    for proc in psutil.process_iter(["status"]):
        try:
            if proc.info["status"] in _GONE:
                continue
            if os.getpgid(proc.pid) == pgid:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return members


def group_alive(pgid: int) -> bool:
    """Whether any process of the group ``pgid`` is still alive (zombies do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg(…, 0) also succeeds for a group of zombies nobody reaps yet: look closer.
    return bool(group_members(pgid))


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to every process of the group ``pgid``; False when the group is gone.

    SIGTERM, SIGINT and SIGKILL are followed by SIGCONT: a stopped (paused)
    process handles no signal but SIGKILL until it continues, so a stop request
    to a paused group would otherwise wait for a pause that may never end.
    """
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    if sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGCONT)
    return True


def signal_pid(pid: int, sig: int) -> bool:
    """Send ``sig`` to one process (with SIGCONT after a stop request, as
    :func:`signal_group`); False when it is gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    if sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    return True


def wait_gone(
    pids: Iterable[int], timeout: float, poll: Callable[[], object] | None = None
) -> list[int]:
    """Wait until none of ``pids`` is alive; returns those still alive at ``timeout``.

    ``poll`` is called at every round (e.g. to reap our own children, which
    would otherwise stay zombies).
    """
    remaining = set(pids)
    deadline = time.monotonic() + timeout
    while remaining:
        if poll is not None:
            poll()
        remaining = {p for p in remaining if alive(p)}
        if not remaining or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return sorted(remaining)


def wait_groups_gone(
    pgids: Iterable[int], timeout: float, poll: Callable[[], object] | None = None
) -> list[int]:
    """Wait until no process of the groups ``pgids`` is alive; returns the groups
    still alive at ``timeout``. ``poll`` as for :func:`wait_gone`."""
    remaining = set(pgids)
    deadline = time.monotonic() + timeout
    while remaining:
        if poll is not None:
            poll()
        remaining = {g for g in remaining if group_alive(g)}
        if not remaining or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return sorted(remaining)


def terminate(
    pid: int, timeout: float, poll: Callable[[], object] | None = None, kill_wait_s: float = 10.0
) -> bool:
    """Stop one process: SIGTERM (a paused one is continued), SIGKILL if it is still
    alive after ``timeout`` seconds; waits up to ``kill_wait_s`` more for it to go.

    Returns whether it had to be killed. ``poll`` as for :func:`wait_gone` (reap it
    when it is our own child).
    """
    if not signal_pid(pid, signal.SIGTERM):
        return False
    if not wait_gone([pid], timeout, poll=poll):
        return False
    signal_pid(pid, signal.SIGKILL)
    wait_gone([pid], kill_wait_s, poll=poll)
    return True


def stop_group(
    proc: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 30.0
) -> int | None:
    """Send ``sig`` to the child's process group, SIGKILL it after ``timeout`` seconds.

    Returns the exit code, or None when the group had to be killed.
    """
    if proc.poll() is not None:
        return proc.returncode
    signal_group(proc.pid, sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
        return None


def find(predicate: Callable[[str], bool]) -> list[int]:
    """Live processes whose command line satisfies ``predicate`` (e.g. strays of a cluster)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] in _GONE:
                continue
            if predicate(" ".join(proc.info["cmdline"] or ())):
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def port_holder(port: int) -> str | None:
    """Best effort: ``pid 123 (java)`` for the process listening on TCP ``port``."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            listening = conn.laddr and conn.status == psutil.CONN_LISTEN
            if listening and conn.laddr.port == port and conn.pid:
                with contextlib.suppress(psutil.Error):
                    return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
                return f"pid {conn.pid}"
    except (psutil.Error, OSError):
        return None
    return None
