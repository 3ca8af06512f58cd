"""The by-hand k8s session's held port-forwards: which sessions need them, and stopping
exactly the session's own process (a real child process stands in for it; the forwards
themselves run live in tests/kind/test_k8s_registry.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from riverbed.platforms.kube import session_forward


def _stand_in(run_dir: Path) -> subprocess.Popen[bytes]:
    """A process whose command line is the forwarding process's (module name, run dir)."""
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", session_forward.MODULE,
         str(run_dir.resolve())],
        start_new_session=True,
    )  # fmt: skip


def _record(run_dir: Path, pid: int) -> None:
    (run_dir / session_forward.RECORD).write_text(json.dumps({"pid": pid}))


def test_only_k8s_sessions_on_riverbeds_kafka_hold_forwards() -> None:
    assert session_forward.needed(SimpleNamespace(mode="k8s", user_kafka=None))
    assert not session_forward.needed(SimpleNamespace(mode="kind", user_kafka=None))
    assert not session_forward.needed(SimpleNamespace(mode="k8s", user_kafka=object()))


def test_stop_ends_the_sessions_own_process_and_frees_its_record(tmp_path: Path) -> None:
    proc = _stand_in(tmp_path)
    try:
        time.sleep(0.3)  # its command line is in /proc
        _record(tmp_path, proc.pid)
        assert session_forward.stop(tmp_path, timeout=10) is True
        assert proc.wait(timeout=10) != 0  # SIGTERM ended it
        assert not (tmp_path / session_forward.RECORD).exists()
        assert session_forward.stop(tmp_path) is False  # nothing left to stop
    finally:
        if proc.poll() is None:
            proc.kill()


def test_stop_never_signals_a_process_that_is_not_the_sessions(tmp_path: Path) -> None:
    other = tmp_path / "other-session"
    other.mkdir()
    proc = _stand_in(other)  # another session's forwarder
    try:
        time.sleep(0.3)
        _record(tmp_path, proc.pid)
        assert session_forward.stop(tmp_path, timeout=2) is False
        _record(tmp_path, os.getpid())  # a pid reused by an unrelated process
        assert session_forward.stop(tmp_path, timeout=2) is False
        assert proc.poll() is None  # untouched
        assert not (tmp_path / session_forward.RECORD).exists()  # the stale record is gone
    finally:
        proc.kill()
        proc.wait()


def test_a_session_is_open_until_collected(tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    assert not session_forward._session_open(tmp_path)  # no spec: nothing to hold for
    spec.write_text(json.dumps({"platform": "k8s", "t_end": None, "log_drain": None}))
    assert session_forward._session_open(tmp_path)
    spec.write_text(json.dumps({"t_end": 1.0, "log_drain": {"finished": True}}))
    assert not session_forward._session_open(tmp_path)
