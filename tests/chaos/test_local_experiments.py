"""Every local experiment, run for real with `chaos run` against the local platform under load.

Each run goes through riverbed's runner (rollbacks always, journal and log in
the run directory) and is checked against the evidence it leaves: the journal,
faults.jsonl (every activity, with the journal's own times), the supervisor's
replacements and the group monitor's snapshots.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from riverbed.chaos.recovery import run_dir_recoveries
from riverbed.chaos.runner import ExperimentOutcome, outcome_from_journal, run_experiment
from tests.chaos.conftest import Platform
from workloads.evidence.schema import FILE_TYPES, check

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "experiments" / "local"

pytestmark = pytest.mark.integration


def run(p: Platform, name: str, **env: str) -> ExperimentOutcome:
    return run_experiment(LOCAL / f"{name}.json", p.run_dir, env={**p.env, **env}, timeout_s=400)


def plain_chaos_run(p: Platform, name: str, cwd: Path) -> ExperimentOutcome:
    """What a user types: `chaos run experiments/local/<name>.json`, no riverbed runner and
    no RIVERBED_RUN_DIR; the control finds the run directory through the local platform."""
    env = {k: v for k, v in os.environ.items() if k != "RIVERBED_RUN_DIR"}
    cwd.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "chaos"), "--no-version-check", "run",
         str(LOCAL / f"{name}.json")],
        cwd=cwd, env={**env, **p.env}, capture_output=True, timeout=400,
    )  # fmt: skip
    copied = p.run_dir / "chaos" / f"{name}.journal.json"
    assert copied.is_file(), proc.stdout.decode()[-2000:]
    journal = json.loads(copied.read_text())
    assert journal == json.loads((cwd / "journal.json").read_text())
    return outcome_from_journal(
        journal, str(LOCAL / f"{name}.json"), name, copied, cwd / "chaostoolkit.log",
        proc.returncode, t_start=t0, t_end=time.time(),
    )  # fmt: skip


def assert_conclusive(out: ExperimentOutcome) -> None:
    assert out.exit_code == 0, out.to_dict()
    assert out.status == "completed" and not out.deviated, out.to_dict()
    assert out.landed and out.inconclusive_reasons == [], out.inconclusive_reasons
    assert out.steady_state_before and out.steady_state_after


def assert_timeline(
    p: Platform, out: ExperimentOutcome, ordered: bool = True
) -> list[dict[str, Any]]:
    """faults.jsonl holds every activity of the journal, with the journal's times."""
    assert out.journal_path == p.run_dir / "chaos" / f"{out.name}.journal.json"
    assert out.journal_path.is_file() and out.log_path.is_file()
    faults = [check(f, "faults.jsonl", FILE_TYPES["faults"]) for f in p.faults()]
    mine = [f for f in faults if f["experiment"] == Path(out.experiment).stem]

    def key(x: Any) -> tuple[Any, ...]:
        return (x["activity"], x["phase"], x["kind"], x["status"], x["t_start"], x["t_end"])

    from_journal = [
        key({"activity": a.name, "phase": a.phase, "kind": a.kind, "status": a.status,
             "t_start": a.t_start, "t_end": a.t_end})
        for a in out.activities
    ]  # fmt: skip
    recorded = [key(f) for f in mine]
    assert (recorded if ordered else sorted(recorded)) == (
        from_journal if ordered else sorted(from_journal)
    )
    for f in mine:
        assert out.t_start is not None and out.t_end is not None
        assert out.t_start <= f["t_start"] <= f["t_end"] <= out.t_end, f
        if f["kind"] == "action":
            assert isinstance(f["landed"], bool)
    return mine


def the(faults: list[dict[str, Any]], activity: str) -> dict[str, Any]:
    (f,) = [f for f in faults if f["activity"] == activity]
    return f


def assert_replaced(p: Platform, killed: str, fault: dict[str, Any]) -> None:
    """The killed replica exited once and came back as a new incarnation."""
    events = p.supervisor_events()
    exits = [e for e in events if e["event"] == "exit" and e.get("replica") == killed]
    assert exits and fault["t_start"] <= exits[0]["t"], events
    restarts = [
        e for e in events
        if e["event"] == "start" and e.get("replica") == killed and e["incarnation"] >= 2
    ]  # fmt: skip
    assert restarts and restarts[0]["t"] >= exits[0]["t"]
    assert p.platform.replicas()[killed]["incarnation"] >= 2


def kill_and_recover(
    local_platform: Any, name: str, plain_in: Path | None = None
) -> tuple[Platform, dict[str, Any]]:
    p = local_platform()
    out = plain_chaos_run(p, name, plain_in) if plain_in else run(p, name)
    assert_conclusive(out)
    faults = assert_timeline(p, out)
    kill = the(faults, "kill-one-consumer")
    assert kill["phase"] == "method" and kill["landed"] is True
    (killed,) = kill["output"]
    replicas = the(faults, "consumer-replicas-running")["output"]
    assert set(replicas) == {"consumer-1", "consumer-2", "consumer-3"}
    assert_replaced(p, killed, kill)
    # The experiment's own probe may see the group recovered a moment before
    # the monitor's next snapshot (every 0.5 s) records it: give it a few.
    deadline = time.monotonic() + 10
    while True:
        (recovery,) = run_dir_recoveries(p.run_dir)
        if recovery["time_to_recovered_s"] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert recovery["killed_members"] and all(
        m.startswith(f"{killed}-") for m in recovery["killed_members"]
    )
    assert recovery["time_to_recovered_s"] is not None, recovery
    print(f"\n{name}: {json.dumps(recovery)}")
    return p, recovery


def test_kill_consumer_hard(local_platform: Any) -> None:
    """SIGKILL: the dead member stays until its session times out (10 s, heartbeats
    every 3 s), so it cannot be gone in less than ~7 s; the group then recovers."""
    _, recovery = kill_and_recover(local_platform, "kill-consumer-hard")
    assert recovery["time_to_evicted_s"] >= 6.0, recovery
    assert recovery["time_to_recovered_s"] >= recovery["time_to_evicted_s"]


def test_kill_consumer_graceful_with_a_plain_chaos_run(local_platform: Any, tmp_path: Path) -> None:
    """SIGTERM: the consumer leaves the group at once, well before any session timeout.

    Run as a user would, `chaos run experiments/local/kill-consumer.json` against the
    running platform: the journal and faults.jsonl still land in its run directory."""
    _, recovery = kill_and_recover(local_platform, "kill-consumer", plain_in=tmp_path / "cwd")
    assert recovery["time_to_evicted_s"] < 5.0, recovery


def test_resize_partitions_from_3_to_6(local_platform: Any) -> None:
    p = local_platform()
    out = run(p, "resize-partitions")
    assert_conclusive(out)
    faults = assert_timeline(p, out)
    assert the(faults, "partition-count-before")["output"] == 3
    add = the(faults, "add-partitions")
    assert add["output"] == {"topic": p.topic, "before": 3, "after": 6, "added": 3}
    assert add["landed"] is True
    assert the(faults, "partition-count-after")["output"] == 6
    owned = the(faults, "new-partitions-owned")
    assert owned["output"] is True and owned["t_start"] >= add["t_end"]
    # The monitor (a snapshot every 0.5 s, so maybe just after the run) sees the
    # group own all six partitions after the change.
    group_jsonl = p.run_dir / "evidence" / "group.jsonl"

    def owns_six() -> bool:
        snaps = [json.loads(line) for line in group_jsonl.read_text().splitlines()]
        return any(
            s["t"] > add["t_end"]
            and s["state"] == "Stable"
            and s["partitions"] == 6
            and sorted(x for parts in s["members"].values() for x in parts) == list(range(6))
            for s in snaps
        )

    deadline = time.monotonic() + 15
    while not owns_six() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert owns_six()


def test_bad_input_fails_the_action_with_a_clear_error_in_the_journal(local_platform: Any) -> None:
    """An unknown consumer, fewer partitions than exist, a broker that does not exist:
    `chaos run` exits 0 all the same; riverbed reads the journal and calls the run
    inconclusive, with the action's own error."""
    p = local_platform(load=False)
    cases = [
        ("kill-consumer", {"RIVERBED_KILL_NAMES": "consumer-9"}, "kill-one-consumer",
         "No running consumer replica named consumer-9; running: consumer-1, consumer-2, consumer-3."),
        ("resize-partitions", {"RIVERBED_PARTITIONS_AFTER": "2"}, "add-partitions",
         f"Topic '{p.topic}' has 3 partitions; Kafka cannot shrink it to 2."),
        ("kill-broker", {"RIVERBED_BROKER_ID": "7"}, "kill-partition-leader",
         "There is no broker 7: this cluster's brokers are 1, 2, 3."),
    ]  # fmt: skip
    for name, env, activity, message in cases:
        out = run(p, name, RIVERBED_RECOVERY_TIMEOUT_S="30", **env)
        assert out.exit_code == 0 and out.status == "completed"  # what chaos itself says
        failed = [a for a in out.activities if a.name == activity]
        assert failed and failed[0].status == "failed" and failed[0].landed is False
        assert failed[0].error is not None and failed[0].error.startswith(message), failed[0].error
        assert "fix:" in failed[0].error
        assert out.inconclusive and any(message in r for r in out.inconclusive_reasons)
        journal = json.loads(out.journal_path.read_text())
        assert any(message in "".join(r.get("exception", [])) for r in journal["run"])
        recorded = the([f for f in p.faults() if f["experiment"] == name], activity)
        assert recorded["status"] == "failed" and recorded["error"].startswith(message)


@pytest.mark.slow
def test_kill_consumer_during_resize(local_platform: Any) -> None:
    p = local_platform()
    out = run(p, "kill-consumer-during-resize")
    assert_conclusive(out)
    # The partitions are added in the background: their record may come after the kill's.
    faults = assert_timeline(p, out, ordered=False)
    add, kill = the(faults, "add-partitions"), the(faults, "kill-one-consumer")
    assert add["output"]["added"] == 3 and kill["landed"]
    assert kill["t_start"] < add["t_end"] + 5  # they overlap, or nearly
    assert_replaced(p, kill["output"][0], kill)
    assert the(faults, "all-partitions-owned")["output"] is True


@pytest.mark.slow
def test_scale_consumers_out_and_back_in(local_platform: Any) -> None:
    p = local_platform()
    out = run(p, "scale-consumers")
    assert_conclusive(out)
    faults = assert_timeline(p, out)
    assert the(faults, "scale-consumers-out")["output"] == {"before": 3, "after": 5}
    assert the(faults, "group-stable-scaled-out")["output"] is True
    assert the(faults, "scale-consumers-in")["output"] == {"before": 5, "after": 3}
    assert sorted(p.platform.replicas()) == ["consumer-1", "consumer-2", "consumer-3"]


@pytest.mark.slow
def test_kill_broker_and_bring_it_back(local_platform: Any, kafka: Any) -> None:
    p = local_platform()
    out = run(p, "kill-broker", RIVERBED_BROKER_DOWN_S="5")
    assert_conclusive(out)
    faults = assert_timeline(p, out)
    killed = the(faults, "kill-partition-leader")["output"]
    assert killed["killed"] is True and killed["broker_id"] in kafka.broker_ids
    assert the(faults, "topic-keeps-a-quorum")["output"] is True
    assert the(faults, "restart-broker")["output"]["started"] == [killed["broker_id"]]
    assert sorted(kafka.running()) == kafka.broker_ids


@pytest.mark.slow
def test_poison_records_are_refused_and_the_partitions_move_on(local_platform: Any) -> None:
    p = local_platform()
    out = run(p, "poison-records")
    assert_conclusive(out)
    faults = assert_timeline(p, out)
    injected = the(faults, "inject-poison-records")["output"]
    assert injected["injected"] == 6
    assert injected["kinds"] == {"corrupt": 2, "schema": 2, "undecodable": 2}
    assert the(faults, "partitions-move-past-poison")["output"] is True
    refused = set()
    for path in (p.run_dir / "evidence" / "consumed").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            r = json.loads(line)
            if r["type"] == "invalid":
                refused.add((r["partition"], r["offset"], r["reason"]))
    assert {tuple(r) for r in injected["records"]} <= refused
