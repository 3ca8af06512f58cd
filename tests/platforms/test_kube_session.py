"""The by-hand session on kind/k8s, on literal tiny evidence (no cluster): its environment
file, the experiments judged from the journals the evidence control kept, the load's start."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from riverbed.errors import BadInput
from riverbed.paths import PROJECT_ROOT
from riverbed.platforms.kube import KubePlatform, session
from riverbed.spec import RunSpec


def _journal(name: str, output: Any, start: str) -> dict[str, Any]:
    kill = {
        "name": name,
        "type": "action",
        "provider": {"type": "python", "module": "chaosk8s.pod.actions", "func": "terminate_pods"},
    }
    return {
        "experiment": {"title": f"{name} experiment"},
        "status": "completed",
        "deviated": False,
        "start": start,
        "end": start.replace(":00+", ":30+"),
        "steady_states": {"before": {"steady_state_met": True, "probes": []}},
        "run": [{"activity": kill, "status": "succeeded", "output": output, "start": start,
                 "end": start}],
        "rollbacks": [],
    }  # fmt: skip


def test_experiments_run_by_hand_are_judged_from_their_journals(tmp_path: Path) -> None:
    chaos = tmp_path / "chaos"
    chaos.mkdir()
    landed = _journal("kill-one", [{"pod_name": "consumer-a"}], "2026-01-01T10:01:00+00:00")
    missed = _journal("kill-none", [], "2026-01-01T10:00:00+00:00")  # the selector matched nothing
    (chaos / "kill-one.journal.json").write_text(json.dumps(landed))
    (chaos / "kill-none.journal.json").write_text(json.dumps(missed))
    (chaos / "broken.journal.json").write_text("{not json")
    entries = session.experiments_run_by_hand(tmp_path)
    by_name = {e["name"]: e for e in entries}
    assert by_name["kill-one"]["landed"] is True and not by_name["kill-one"]["inconclusive_reasons"]
    assert by_name["kill-none"]["landed"] is False and by_name["kill-none"]["inconclusive_reasons"]
    assert by_name["broken"]["status"] == "no-journal" and by_name["broken"]["inconclusive_reasons"]
    # In the order they ran (a journal without times first).
    assert [e["name"] for e in entries] == ["broken", "kill-none", "kill-one"]


def test_the_by_hand_load_starts_at_the_earliest_send(tmp_path: Path) -> None:
    acks = tmp_path / "evidence" / "acks"
    acks.mkdir(parents=True)
    (acks / "a.jsonl").write_text('{"type":"send","t_send":105.5}\n{"type":"send","t_send":106}\n')
    (acks / "b.jsonl").write_text('{"type":"send","t_send":103.25}\n')
    assert session.first_send(tmp_path) == 103.25
    assert session.first_send(tmp_path / "none") is None


def test_the_environment_file_sets_what_locust_and_the_experiments_read(tmp_path: Path) -> None:
    kube = KubePlatform(mode="kind", dry_run=True, root=PROJECT_ROOT, namespace="team-a")
    spec = RunSpec(
        "s",
        platform="kind",
        topic="riverbed-events-1",
        group="riverbed-consumers-1",
        evidence_topic="riverbed-evidence-1",
        consumers=4,
        bootstrap_servers=kube.bootstrap_servers,
    )
    run_dir = tmp_path / "runs" / "with space"
    env = session.session_env(spec, kube, run_dir)
    assert env["RIVERBED_TOPIC"] == "riverbed-events-1"
    assert env["RIVERBED_GROUP"] == "riverbed-consumers-1"
    assert env["RIVERBED_BOOTSTRAP_SERVERS"] == kube.bootstrap_servers
    assert env["RIVERBED_CONSUMERS"] == "4"
    assert env["KUBERNETES_CONTEXT"] == "kind-riverbed"
    assert env["RIVERBED_K8S_NAMESPACE"] == "team-a"
    assert env["RIVERBED_RUN_DIR"] == str(run_dir.resolve())
    # A shell reads the file back to exactly these values, spaces and all.
    path = tmp_path / "riverbed.env"
    path.write_text(session.env_file_text(env))
    shown = subprocess.run(
        ["bash", "-c", f"source {path!s} && env -0"], capture_output=True, text=True, check=True
    ).stdout
    seen = dict(item.split("=", 1) for item in shown.split("\0") if "=" in item)
    assert {k: seen[k] for k in env} == env


def test_only_a_kube_session_can_be_collected(tmp_path: Path) -> None:
    RunSpec("r", platform="local").write(tmp_path)
    with pytest.raises(BadInput, match="not a session of riverbed on kind or Kubernetes"):
        session.read_session(tmp_path)
    with pytest.raises(BadInput, match="no readable spec.json"):
        session.read_session(tmp_path / "missing")
