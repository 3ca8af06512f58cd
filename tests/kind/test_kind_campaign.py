"""`riverbed campaign --platform kind` on the session's kind cluster: a seeded campaign of
two short runs of riverbed's safe reference consumers, each judged pass.

The cluster is the one `riverbed up --platform kind` made for the session (conftest.py);
the campaign runs its schedules one after another on it, each through riverbed's own kind
path, with a topic and group of its own.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from riverbed.campaign.schedule import generate
from tests.kind.conftest import KindCluster, riverbed

pytestmark = [pytest.mark.kind, pytest.mark.timeout(1500)]

# Seed 6 draws a resize (through Kafka's admin API) then a SIGKILLed consumer process:
# the two cheapest faults of different kinds on kind.
SEED = 6
FAULTS = ("kill", "kill-hard", "resize")


def test_a_seeded_kind_campaign_runs_the_seeds_schedules_and_passes_safe_consumers(
    kind_cluster: KindCluster, tmp_path: Path
) -> None:
    root = tmp_path / "campaign"
    t0 = time.monotonic()
    r = riverbed(
        [
            "campaign",
            "--platform",
            "kind",
            "--runs",
            "2",
            "--seed",
            str(SEED),
            "--faults",
            ",".join(FAULTS),
            "--max-faults",
            "1",
            "--duration",
            "30s",
            "--warmup",
            "10s",
            "--cooldown",
            "10s",
            "--users",
            "4",
            "--spawn-rate",
            "4",
            "--key-space",
            "500",
            "--drain-deadline",
            "120s",
            "--campaign-dir",
            str(root),
        ],  # fmt: skip
        kind_cluster.env(tmp_path / "runs"),
        timeout=1400,
    )
    kind_cluster.figures["campaign_2_runs_wall_s"] = round(time.monotonic() - t0, 1)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads((root / "campaign.json").read_text())
    assert data["seed"] == SEED and data["settings"]["platform"] == "kind"
    assert (data["verdict"], data["summary"]["headline"]) == ("pass", "2 schedules: 2 passed.")

    # The seed's schedules, as a local campaign draws them: the same faults, delays and
    # parameters (on kind the experiment picks the pod, so a step names no target).
    ran = [row["schedule"] for row in data["matrix"]]
    assert ran == [s.to_dict() for s in generate(SEED, 2, FAULTS, max_faults=1, platform="kind")]
    local = generate(SEED, 2, FAULTS, max_faults=1, platform="local")
    assert [[(st["kind"], st["delay_s"], st["params"]) for st in s["steps"]] for s in ran] == [
        [(st.kind, st.delay_s, dict(st.params)) for st in s.steps] for s in local
    ]
    assert [s["steps"][0]["kind"] for s in ran] == ["resize", "kill-hard"]

    for row in data["matrix"]:
        run_dir = root / row["run_dir"]
        summary = json.loads((run_dir / "summary.json").read_text())
        spec = json.loads((run_dir / "spec.json").read_text())
        assert (row["verdict"], row["exit_code"], summary["verdict"]) == ("pass", 0, "pass"), row
        assert summary["counts"]["acknowledged"] > 100
        assert summary["counts"]["never-processed"] == 0
        # Each run ran its schedule's fault, on the cluster, and it landed.
        assert spec["platform"] == "kind"
        assert [c["landed"] for c in spec["chaos"]] == [True], spec["chaos"]
        assert (run_dir / "report.html").exists()
        # Its replay command picks the same cluster, from the same offline images.
        assert row["replay"].startswith(
            f"riverbed run --platform kind --kind-cluster {kind_cluster.name} --offline "
            f"--experiment {run_dir}/experiments/1-"
        )
    # The two runs had topics of their own.
    topics = {
        json.loads((root / row["run_dir"] / "spec.json").read_text())["topic"]
        for row in data["matrix"]
    }
    assert len(topics) == 2

    # The resize grew its run's topic: the added partitions were written to and drained.
    resized = root / data["matrix"][0]["run_dir"]
    want = ran[0]["steps"][0]["params"]["partitions"]
    partitions = {
        json.loads(x)["partition"]
        for x in (resized / "evidence" / "log.jsonl").read_text().splitlines()
        if x.strip()
    }
    assert max(partitions) == want - 1

    # The campaign page and its JUnit say the same: two runs, none failed.
    html = (root / "campaign.html").read_text()
    assert f"riverbed campaign --platform kind --runs 2 --seed {SEED} --faults" in html
    suites = ET.parse(root / "junit.xml").getroot()
    assert len(suites) == 2
    assert all(s.get("failures") == "0" and s.get("errors") == "0" for s in suites)
