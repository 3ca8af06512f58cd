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
from pathlib import Path
from typing import Any

import pytest

from tests.kind.conftest import KindCluster
from tests.kind.documented import run_as_documented

pytestmark = [pytest.mark.kind, pytest.mark.timeout(1800)]


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
