"""Child processes in a session of their own: started with output to a log, stopped as a group.

A child in its own session does not get the terminal's Ctrl-C, so the parent
decides how it stops (chaos plays its rollbacks on SIGINT, Locust flushes its
evidence), and stopping the group also reaches the child's own children.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

from riverbed.paths import PROJECT_ROOT


def spawn(
    cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session, stdout and stderr appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            cwd=cwd or PROJECT_ROOT,
            start_new_session=True,
        )


def stop_group(
    proc: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 30.0
) -> int | None:
    """Send ``sig`` to the child's process group, SIGKILL it after ``timeout`` seconds.

    Returns the exit code, or None when the group had to be killed.
    """
    if proc.poll() is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None
