"""The by-hand workflow of docs/kubernetes.md, run exactly as written there.

Each fenced block after a ``<!-- by-hand: … -->`` marker is run by bash, line by
line as a user would type it (``set -e``: a step that fails stops the block),
with the session cluster's environment (its own kubeconfig, the offline images)
and this checkout's tools on PATH: `riverbed up --platform kind` opens a
session, Locust loads it from the host, `chaos run` injects the faults,
`riverbed collect` brings the cluster's evidence into the run directory, and
`riverbed report` gives the verdict — PASS for riverbed's safe consumer, FAIL
for the before-process one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.kind.conftest import ROOT, KindCluster

pytestmark = [pytest.mark.kind, pytest.mark.timeout(1800)]

DOC = ROOT / "docs" / "kubernetes.md"


def documented_block(marker: str) -> str:
    """The shell block right after ``<!-- by-hand: MARKER -->`` in docs/kubernetes.md."""
    text = DOC.read_text()
    match = re.search(
        rf"<!-- by-hand: {re.escape(marker)} -->\s*```sh\n(.*?)```", text, flags=re.DOTALL
    )
    assert match, f"docs/kubernetes.md has no by-hand block {marker!r}"
    return match.group(1)


def run_as_documented(cluster: KindCluster, marker: str, work: Path) -> tuple[int, str, Path]:
    """Run the block with bash in ``work``; returns (exit code, output, the session's run dir).
    Its wall time goes to the session's figures."""
    block = documented_block(marker)
    script = "set -e\n" + block + '\necho "RUN_DIR=$RIVERBED_RUN_DIR"\n'
    env = cluster.env(work / "runs") | {
        # This checkout's riverbed, locust and chaos, as `make setup` installs them.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        # Experiments and locustfiles are named relative to the checkout in the docs.
        "PYTHONUNBUFFERED": "1",
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


def _summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text())


def test_the_documented_by_hand_flow_passes_safe_consumers(
    kind_cluster: KindCluster, tmp_path: Path
) -> None:
    code, output, run_dir = run_as_documented(kind_cluster, "pass", tmp_path)
    assert code == 0, output[-6000:]
    summary = _summary(run_dir)
    assert summary["verdict"] == "pass", summary["checks"]
    spec = json.loads((run_dir / "spec.json").read_text())
    # The session's own names reached Locust and the experiments, not the defaults.
    assert spec["topic"].startswith("riverbed-events-") and spec["topic"] != "riverbed-events"
    assert spec["drain"]["finished"] and spec["log_drain"]["finished"]
    # Both experiments were run by hand and judged as `riverbed run` judges its own.
    names = [c["name"] for c in spec["chaos"]]
    assert names == ["kill-consumer-pod", "resize-partitions"], names
    assert all(c["landed"] and not c["inconclusive_reasons"] for c in spec["chaos"])
    faults = [
        json.loads(x) for x in (run_dir / "evidence/faults.jsonl").read_text().splitlines() if x
    ]
    assert any(f["activity"] == "terminate-one-consumer-pod" and f["landed"] for f in faults)
    assert summary["counts"]["acknowledged"] > 300
    assert list((run_dir / "evidence" / "consumed").glob("consumer-*.jsonl"))


def test_the_documented_by_hand_flow_fails_before_process_consumers(
    kind_cluster: KindCluster, tmp_path: Path
) -> None:
    code, output, run_dir = run_as_documented(kind_cluster, "fail", tmp_path)
    assert code == 1, output[-6000:]  # the report's exit code: fail
    summary = _summary(run_dir)
    assert summary["verdict"] == "fail"
    never = summary["checks"]["never-processed"]
    assert never["status"] == "fail" and never["examples"]
    spec = json.loads((run_dir / "spec.json").read_text())
    (chaos,) = spec["chaos"]
    assert chaos["landed"] and not chaos["inconclusive_reasons"]
