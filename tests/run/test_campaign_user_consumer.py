"""`riverbed campaign` of a user's consumer on the local platform: real Kafka, Locust, chaos.

Each consumer is an unchanged example run by tests/run/finished_consumer.py, which keeps
the consumer's own record of every event it finished. That record is the truth the
campaign is judged against: the careful consumer (commits after the work) loses nothing
and passes every run; the at-most-once one (librdkafka auto-commits batches still being
worked on) is caught in exactly the runs where it really left acknowledged events
unfinished, and passes the runs where it did not.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from riverbed.campaign.schedule import generate
from tests.run.test_run_local import ROOT, riverbed, riverbed_env

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WRAPPER = "tests/run/finished_consumer.py"
SEED = 1
#: Seed 1's schedules of one fault: a graceful kill, then two hard ones.
FAULTS = ["kill-hard", "kill"]
#: Busy consumers (80 ms per event, batches of up to 100 or 200): a hard kill lands mid-batch.
WORK_MS = "80"
SCENARIO = [
    "--duration", "30s", "--warmup", "8s", "--cooldown", "5s",
    "--users", "2", "--user-rate", "10", "--spawn-rate", "2", "--key-space", "200",
    # librdkafka's session timeout is 45 s: a hard-killed replica's partitions wait that long.
    "--drain-deadline", "150s",
]  # fmt: skip
#: Per run: start-up, 30 s of load, up to 45 s until the group evicts a killed replica, the drain.
CAMPAIGN_TIMEOUT_S = 1500


def run_campaign(kafka, tmp_path: Path, example: str, runs: int):
    env = riverbed_env(kafka, tmp_path)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["EXAMPLE_WORK_MS"] = WORK_MS
    env["FINISHED_DIR"] = str(tmp_path / "finished")
    out = tmp_path / "campaign"
    r = riverbed(
        [
            "campaign", "--runs", str(runs), "--seed", str(SEED), "--faults", ",".join(FAULTS),
            "--max-faults", "1", "--campaign-dir", str(out), *SCENARIO,
            "--consumer-cmd", f"python {WRAPPER} examples/{example}",
        ],
        env,
        timeout=CAMPAIGN_TIMEOUT_S,
    )  # fmt: skip
    data = json.loads((out / "campaign.json").read_text())
    return r, data, out


def finished(tmp_path: Path, run_dir: Path) -> set[tuple[str, str, int]]:
    """Every event the consumer's replicas recorded as finished in this run."""
    done = set()
    for path in (tmp_path / "finished" / run_dir.name).glob("*.log"):
        for line in path.read_text().splitlines():
            who, seq = line.removeprefix("handled ").rsplit(" #", 1)
            producer, key = who.rsplit("/", 1)
            done.add((producer, key, int(seq)))
    return done


def acknowledged_in_log(run_dir: Path) -> set[tuple[str, str, int]]:
    """Acknowledged events the final drain found in the log: what the consumer had to finish."""
    acked = set()
    for path in (run_dir / "evidence" / "acks").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            s = json.loads(line)
            if s.get("status") == "ok":
                acked.add((s["producer"], s["key"], s["seq"]))
    logged = set()
    for line in (run_dir / "evidence" / "log.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["sha_ok"]:
            logged.add((r["producer"], r["key"], r["seq"]))
    return acked & logged


def test_a_campaign_of_a_careful_consumer_passes_every_run(kafka, tmp_path):
    r, data, out = run_campaign(kafka, tmp_path, "confluent_manual_commit.py", runs=2)
    assert r.returncode == data["exit_code"] == 0, r.stdout + r.stderr[-3000:]
    assert data["tally"] == {"pass": 2}
    assert data["consumer"]["cmd"] == f"python {WRAPPER} examples/confluent_manual_commit.py"
    assert data["evidence_strength"]["name"] == "instrumented"
    assert data["summary"]["shortest_failing"] is None
    for row in data["matrix"]:
        run_dir = out / row["run_dir"]
        assert row["evidence_strength"] == "instrumented"
        assert row["replay"].startswith("riverbed run --experiment")
        # The truth agrees: the consumer finished every acknowledged event in the log.
        must = acknowledged_in_log(run_dir)
        assert len(must) > 300
        assert must <= finished(tmp_path, run_dir), row["run"]
    html = (out / "campaign.html").read_text()
    assert "2 schedules: 2 passed." in html and "Evidence strength: instrumented" in html
    assert "campaign: 2 schedules: 2 passed." in " ".join(r.stderr.split())


def test_a_campaign_catches_the_at_most_once_consumer_where_it_lost_events(kafka, tmp_path):
    r, data, out = run_campaign(kafka, tmp_path, "confluent_auto_commit.py", runs=3)
    schedules = generate(SEED, 3, FAULTS, max_faults=1)
    assert [row["schedule"] for row in data["matrix"]] == [s.to_dict() for s in schedules]
    lost_runs = []
    for row in data["matrix"]:
        run_dir = out / row["run_dir"]
        summary = json.loads((run_dir / "summary.json").read_text())
        spec = json.loads((run_dir / "spec.json").read_text())
        assert spec["drain"]["finished"] and spec["log_drain"]["finished"], row["run"]
        # Judged against the consumer's own record, not riverbed's evidence.
        lost = acknowledged_in_log(run_dir) - finished(tmp_path, run_dir)
        never = summary["checks"]["never-processed"]
        if lost:
            lost_runs.append(row["run"])
            assert row["verdict"] == "fail" and never["status"] == "fail", (row["run"], len(lost))
            # Every event it left unfinished is counted (riverbed may count more: a batch
            # in hand at the kill counts whole, finished events of it included).
            assert summary["counts"]["never-processed"] >= len(lost), row["run"]
        else:
            assert never["status"] == "pass", (row["run"], never["explanation"])
            assert row["verdict"] == "pass", (row["run"], row["checks"])
    # The hard kills landed mid-batch: the campaign has something to catch.
    assert lost_runs, "no run lost an event: the test proves nothing"
    assert r.returncode == data["exit_code"] == 1, r.stderr[-3000:]
    shortest = data["summary"]["shortest_failing"]
    assert shortest["run"] in lost_runs and shortest["faults"] == ["kill-hard"]
    assert shortest["replay"].startswith("riverbed run --experiment")
    assert (
        f"--consumer-cmd 'python {WRAPPER} examples/confluent_auto_commit.py'"
        in (shortest["replay"])
    )
    # The terminal says it too.
    said = " ".join(r.stderr.split())
    assert f"shortest failing schedule: {shortest['run']}" in said
    assert f"replay it with: {shortest['replay']}" in said
    kill_hard = next(f for f in data["summary"]["faults"] if f["fault"] == "kill-hard")
    assert kill_hard["fail"] == len(lost_runs)
    html = (out / "campaign.html").read_text()
    assert 'id="replay"' in html and "found a problem" in html
    assert (ROOT / WRAPPER).exists()
