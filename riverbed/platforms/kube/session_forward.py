"""The host's route to Kafka for a by-hand session on an existing cluster (``--platform k8s``).

On k8s the host reaches riverbed's Kafka only through ``kubectl port-forward``
(:meth:`~riverbed.platforms.kube.cluster.KubePlatform.host_access`). Inside
``riverbed run`` the forwards live as long as the run; a by-hand session needs
them between ``riverbed up`` and ``riverbed collect``, while ``locust`` and
``chaos run`` are typed by hand. So ``riverbed up --platform k8s`` starts one
detached process per session that holds the forwards (restarting any that dies
with its broker pod, proving each answers with the namespace's Kafka cluster id)
and records itself in the session's run directory (``port-forward.json``, its
log in ``logs/port-forward.log``).

It stops by itself when the session is collected (``riverbed collect``, or
``riverbed down``, which collects an open session first), and at the latest
after :data:`MAX_HOLD_S`; ``riverbed collect`` and ``down`` stop it before they
open forwards of their own on the same ports. Nothing of the kind happens on
kind (its port mappings are permanent) or on the user's own Kafka (it has a
route from this machine).

    python -m riverbed.platforms.kube.session_forward RUN_DIR --kubectl PATH
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError

#: The session's record of its forwarding process, in the run directory.
RECORD = "port-forward.json"
#: The forwarding process's log, under the run directory.
LOG = Path("logs") / "port-forward.log"
#: A forgotten session's forwards stop by themselves after this long (seconds).
MAX_HOLD_S = float(os.environ.get("RIVERBED_SESSION_FORWARD_MAX_S", 12 * 3600))
#: How often the process looks whether its session was collected.
POLL_S = 2.0
#: ``python -m`` runs this module as ``__main__``: its process is found by this name.
MODULE = "riverbed.platforms.kube.session_forward"


def needed(kube: Any) -> bool:
    """A session of this platform needs held forwards: k8s with riverbed's own Kafka."""
    return kube.mode == "k8s" and getattr(kube, "user_kafka", None) is None


def start(kube: Any, run_dir: Path, timeout: float = 90.0) -> dict[str, Any]:
    """Start the session's forwarding process and wait until its forwards answer as the
    namespace's Kafka. Returns its record (pid, bootstrap servers); HarnessError with the log's tail
    when it could not hold them."""
    run_dir = run_dir.resolve()
    log = run_dir / LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    (run_dir / RECORD).unlink(missing_ok=True)
    argv = [
        sys.executable, "-m", MODULE, str(run_dir),
        "--kubectl", str(kube.images.kubectl_bin),
    ]  # fmt: skip
    with log.open("ab") as out:
        # Its own session: a Ctrl-C in the user's shell after `riverbed up` returned
        # must not take the forwards the next `locust` needs.
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = read(run_dir)
        if record and record.get("pid") == proc.pid:  # written once the forwards answer
            return record
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGTERM)
    tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
    raise HarnessError(
        f"Could not keep the port-forwards to Kafka for the session in {run_dir}.\n{tail}",
        fix=f"see {log}; `riverbed collect {run_dir}` still collects the session "
        "(it opens forwards of its own).",
    )


def read(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((run_dir / RECORD).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _ours(pid: int, run_dir: Path) -> bool:
    """Process ``pid`` is this session's forwarding process (not a pid reused since)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    args = [a.decode(errors="replace") for a in cmdline]
    return MODULE in args and str(run_dir.resolve()) in args


def stop(run_dir: Path, timeout: float = 20.0) -> bool:
    """Stop the session's forwarding process (and its ``kubectl port-forward``s) if it runs;
    True when there was one. The ports are free when this returns."""
    record = read(run_dir)
    if not record:
        return False
    pid = int(record.get("pid") or 0)
    found = pid > 0 and _ours(pid, run_dir)
    if found:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _ours(pid, run_dir):
            time.sleep(0.2)
        if _ours(pid, run_dir):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
    (run_dir / RECORD).unlink(missing_ok=True)
    return found


def _session_open(run_dir: Path) -> bool:
    """The session was not collected yet (collecting sets t_end and the log drain)."""
    try:
        spec = json.loads((run_dir / "spec.json").read_text())
    except (OSError, ValueError):
        return False
    return not (spec.get("t_end") and spec.get("log_drain"))


def hold(run_dir: Path, kubectl: str) -> int:
    """The forwarding process: hold the session's forwards until it is collected, a
    SIGTERM, or :data:`MAX_HOLD_S`."""
    from riverbed.platforms.kube import KubeImages, KubePlatform
    from riverbed.spec import RunSpec

    spec = RunSpec.read(run_dir)
    where = spec.kube or {}
    kube = KubePlatform(
        mode="k8s",
        context=where.get("context"),
        namespace=str(where.get("namespace") or "riverbed"),
        images=KubeImages(kubectl_bin=kubectl),
        announce=lambda text: print(text, flush=True),
    )
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.set())
    with kube.host_access():
        record = {"pid": os.getpid(), "bootstrap_servers": kube.bootstrap_servers}
        (run_dir / RECORD).write_text(json.dumps(record) + "\n")
        print(f"holding port-forwards {kube.bootstrap_servers} to namespace "
              f"{kube.namespace}", flush=True)  # fmt: skip
        deadline = time.monotonic() + MAX_HOLD_S
        while not stopping.wait(POLL_S):
            if not _session_open(run_dir):
                print("the session was collected: stopping", flush=True)
                break
            if time.monotonic() > deadline:
                print(f"held for {MAX_HOLD_S:.0f} s, the limit: stopping", flush=True)
                break
    with contextlib.suppress(OSError):
        if (read(run_dir) or {}).get("pid") == os.getpid():
            (run_dir / RECORD).unlink()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {MODULE}",
        description="Hold a k8s by-hand session's port-forwards to Kafka until it is collected "
        "(started by `riverbed up --platform k8s`).",
    )
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--kubectl", default="kubectl")
    args = parser.parse_args(argv)
    try:
        return hold(args.run_dir.resolve(), args.kubectl)
    except HarnessError as exc:
        print(f"error: {exc.message}", flush=True)
        return 3


if __name__ == "__main__":
    sys.exit(main())
