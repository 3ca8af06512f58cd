"""The runner that executes (or records) every external command, and the
port-forwarder that outlives killed pods — exercised with real processes."""

from __future__ import annotations

import socket
import sys
import textwrap
import time
from pathlib import Path

import pytest

from riverbed.errors import HarnessError
from riverbed.platforms.kube import forward as kube_forward
from riverbed.platforms.kube.commands import Call, Command, Runner, describe
from riverbed.platforms.kube.forward import Forward, PortForwarder


def test_run_passes_stdin_env_and_cwd(tmp_path: Path) -> None:
    runner = Runner(cwd=tmp_path)
    script = (
        "import os, sys; data = sys.stdin.read(); "
        "print(os.getcwd(), os.environ['RB_X'], data.upper())"
    )
    result = runner.run([sys.executable, "-c", script], stdin="kind: Pod", env={"RB_X": "42"})
    assert result.ok
    assert result.stdout.split() == [str(tmp_path), "42", "KIND:", "POD"]
    assert runner.steps == [Command((sys.executable, "-c", script), "kind: Pod", (("RB_X", "42"),))]


def test_failure_names_the_command_its_output_and_the_fix() -> None:
    runner = Runner()
    argv = [sys.executable, "-c", "import sys; sys.stderr.write('no such context'); sys.exit(3)"]
    with pytest.raises(HarnessError) as exc:
        runner.run(argv, fix="pick a context")
    assert "failed with exit code 3" in exc.value.message
    assert "no such context" in exc.value.message
    assert exc.value.fix == "pick a context"
    assert not runner.run(argv, check=False).ok


def test_missing_program_and_timeout_are_harness_errors() -> None:
    runner = Runner()
    with pytest.raises(HarnessError, match="riverbed-no-such-tool was not found on PATH"):
        runner.run(["riverbed-no-such-tool", "version"])
    with pytest.raises(HarnessError, match="did not finish within 0s"):
        runner.run([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.3)


def test_dry_run_records_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    runner = Runner(dry_run=True)
    runner.responses[("kind", "get")] = "riverbed\n"
    argv = [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]
    assert runner.run(argv).stdout == ""
    assert runner.run(["kind", "get", "clusters"]).stdout == "riverbed\n"
    assert runner.start(argv) is None
    assert runner.call("create_topic", lambda **_: 1 / 0, name="t", partitions=3) is None
    assert not marker.exists()
    assert runner.steps[-1] == Call("create_topic", (("name", "t"), ("partitions", 3)))
    assert describe(runner.steps[-1]) == "# riverbed: create_topic(name='t', partitions=3)"
    assert describe(runner.steps[2]).endswith(" &")


def test_call_runs_in_process_when_not_dry() -> None:
    runner = Runner()
    assert runner.call("add", lambda a, b: a + b, a=1, b=2) == 3
    assert runner.steps == [Call("add", (("a", 1), ("b", 2)))]


# ---- port-forward watchdog ----------------------------------------------------------------------
FAKE_KUBECTL = textwrap.dedent(
    """
    # Stands in for `kubectl … port-forward … L:R`: listens on 127.0.0.1:L for a
    # while, then exits, as a forward does when its pod is killed.
    import socket, sys, time
    local = int(sys.argv[-1].split(":")[0])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", local))
    s.listen()
    time.sleep(float(sys.argv[1]))
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_forward_is_restarted_when_it_dies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube_forward, "RESTART_DELAY_S", 0.1)
    fake = tmp_path / "kubectl.py"
    fake.write_text(FAKE_KUBECTL)
    port = _free_port()
    forwarder = PortForwarder(
        Runner(), [sys.executable, str(fake), "0.8"], [Forward("pod/kafka-0", port, 9094)]
    )
    assert forwarder.argv(forwarder.forwards[0]) == [
        sys.executable,
        str(fake),
        "0.8",
        "port-forward",
        "--address",
        "127.0.0.1",
        "pod/kafka-0",
        f"{port}:9094",
    ]
    forwarder.start(timeout=10)
    try:
        assert _accepts(port)
        deadline = time.monotonic() + 10
        while forwarder.restarts < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert forwarder.restarts >= 1
        deadline = time.monotonic() + 5
        while not _accepts(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _accepts(port), "the restarted forward does not listen"
    finally:
        forwarder.stop()
    time.sleep(0.2)
    assert not _accepts(port), "a forward outlived stop()"


def test_forward_that_never_opens_is_a_named_error(tmp_path: Path) -> None:
    port = _free_port()
    never = [sys.executable, "-c", "import time, sys; time.sleep(30)"]
    forwarder = PortForwarder(Runner(), never, [Forward("pod/kafka-1", port, 9094)])
    with pytest.raises(HarnessError, match=f"did not open 127.0.0.1:{port}"):
        forwarder.start(timeout=1)
    # The failed start cleaned up after itself.
    assert forwarder._procs == {}
