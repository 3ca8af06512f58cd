"""A container registry on this machine's loopback that a kind node pulls from.

The registry is Debian's ``docker-registry`` (the distribution project's registry),
installed from Debian's packages (scripts/ci/kind-host.sh), serving on
127.0.0.1:PORT with its storage in a temporary directory: ``docker push
127.0.0.1:PORT/…`` reaches it as it would a team's registry.

A kind node is a container with a network namespace of its own: its 127.0.0.1 is
not this machine's. So that its containerd pulls ``127.0.0.1:PORT/…`` as named,
:class:`NodeRelay` listens on the *node's* 127.0.0.1:PORT (a socket opened inside
the node's network namespace with setns(2); root only) and relays every
connection to the registry on this machine's 127.0.0.1:PORT. Both ends listen on
loopback only; nothing is reachable from elsewhere. containerd talks plain HTTP to
a registry on 127.0.0.1, as Docker does.

``python -m tests.kind.registry relay --node-pid PID --port PORT`` runs the relay
(the fixture starts it as a child process and stops it at the end).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from riverbed.processes import terminate

CLONE_NEWNET = 0x40000000

CONFIG = """version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def registry_binary() -> str | None:
    return shutil.which("docker-registry") or (
        "/usr/bin/docker-registry" if Path("/usr/bin/docker-registry").exists() else None
    )


def start_registry(work: Path, port: int, timeout: float = 60.0) -> subprocess.Popen[bytes]:
    """``docker-registry serve`` on 127.0.0.1:``port``; returns once /v2/ answers."""
    binary = registry_binary()
    assert binary, "docker-registry is not installed (bash scripts/ci/kind-host.sh)"
    (work / "storage").mkdir(parents=True, exist_ok=True)
    config = work / "config.yml"
    config.write_text(CONFIG.format(root=work / "storage", port=port))
    log = (work / "registry.log").open("ab")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(
                f"the registry did not answer: {(work / 'registry.log').read_text()}"
            )
        time.sleep(0.2)


def catalog(port: int) -> list[str]:
    """The repositories the registry on 127.0.0.1:``port`` holds."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/_catalog", timeout=10) as r:
        return list(json.loads(r.read())["repositories"])


# ---- the relay into the node's network namespace ------------------------------------------------
def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def listen_in(node_pid: int, port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:``port`` of process ``node_pid``'s network namespace
    (this thread enters it to bind, then returns to its own)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    theirs = os.open(f"/proc/{node_pid}/ns/net", os.O_RDONLY)
    try:
        _setns(theirs)
        try:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen(64)
        finally:
            _setns(own)
    finally:
        os.close(own)
        os.close(theirs)
    return listener


def _pump(a: socket.socket, b: socket.socket) -> None:
    sel = selectors.DefaultSelector()
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)
    try:
        while True:
            for key, _ in sel.select(timeout=300):
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                if not data:
                    return
                key.data.sendall(data)
    except OSError:
        return
    finally:
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.close()


def relay(node_pid: int, port: int) -> None:
    """Serve until SIGTERM: node 127.0.0.1:port → this machine's 127.0.0.1:port."""
    listener = listen_in(node_pid, port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    listener.settimeout(0.5)
    print(f"relay: node {node_pid} 127.0.0.1:{port} -> 127.0.0.1:{port}", flush=True)
    while not stop.is_set():
        try:
            inside, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            break
        try:
            outside = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            inside.close()
            continue
        inside.settimeout(None)
        outside.settimeout(None)
        threading.Thread(target=_pump, args=(inside, outside), daemon=True).start()
    listener.close()


class NodeRelay:
    """The relay as a child process (``python -m tests.kind.registry relay``)."""

    def __init__(self, node: str, port: int, log: Path) -> None:
        pid = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Pid}}", node],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        root = Path(__file__).resolve().parents[2]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.kind.registry", "relay", "--node-pid", pid,
             "--port", str(port)],
            cwd=root, stdout=log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.node, self.port = node, port
        deadline = time.monotonic() + 30
        while not self.listening():
            assert self.proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the relay did not listen in the node"
            time.sleep(0.2)

    def listening(self) -> bool:
        probe = subprocess.run(
            ["docker", "exec", self.node, "bash", "-c", f"echo > /dev/tcp/127.0.0.1/{self.port}"],
            capture_output=True, check=False,
        )  # fmt: skip
        return probe.returncode == 0

    def stop(self) -> None:
        stop(self.proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the registry or the relay, SIGKILL after 10 s."""
    if proc.poll() is None:
        terminate(proc.pid, 10.0, poll=proc.poll)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)  # reaped: no zombie left for the rest of the session


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.kind.registry")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("relay")
    r.add_argument("--node-pid", type=int, required=True)
    r.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    relay(args.node_pid, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
