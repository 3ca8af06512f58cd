"""Run a by-hand block of docs/kubernetes.md as written (``<!-- by-hand: NAME -->``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from tests.kind.conftest import ROOT, KindCluster

DOC = ROOT / "docs" / "kubernetes.md"


def documented_block(marker: str) -> str:
    """The shell block right after ``<!-- by-hand: MARKER -->`` in docs/kubernetes.md."""
    text = DOC.read_text()
    match = re.search(
        rf"<!-- by-hand: {re.escape(marker)} -->\s*```sh\n(.*?)```", text, flags=re.DOTALL
    )
    assert match, f"docs/kubernetes.md has no by-hand block {marker!r}"
    return match.group(1)


def run_as_documented(
    cluster: KindCluster, marker: str, work: Path, variables: dict[str, str] | None = None
) -> tuple[int, str, Path]:
    """Run the block with bash in ``work``, with ``variables`` (the ones the docs ask you to
    set) in its environment; returns (exit code, output, the session's run dir). Its wall
    time goes to the session's figures."""
    block = documented_block(marker)
    script = "set -e\n" + block + '\necho "RUN_DIR=$RIVERBED_RUN_DIR"\n'
    env = cluster.env(work / "runs") | {
        # This checkout's riverbed, locust and chaos, as `make setup` installs them.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        # Experiments and locustfiles are named relative to the checkout in the docs.
        "PYTHONUNBUFFERED": "1",
        **(variables or {}),
    }
    t0 = time.monotonic()
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    cluster.figures[f"by_hand_{marker}_wall_s"] = round(time.monotonic() - t0, 1)
    output = proc.stdout + proc.stderr
    print(output[-8000:])
    found = re.search(r"^RUN_DIR=(.+)$", proc.stdout, flags=re.MULTILINE)
    run_dir = Path(found.group(1)) if found else Path()
    if not found:
        # `set -e` stopped the block at the report (FAIL exits 1): the run dir is the
        # session's, named in riverbed up's output.
        sessions = sorted((work / "runs").glob("*-session"))
        run_dir = sessions[-1] if sessions else Path()
    return proc.returncode, output, run_dir
