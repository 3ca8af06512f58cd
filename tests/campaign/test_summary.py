"""The campaign's answers for a reviewer, from literal matrix rows: outcomes, faults × outcome,
failures, the shortest failing schedule and the command that replays it."""

from __future__ import annotations

import shlex

from riverbed.campaign.summary import (
    failures,
    fault_outcomes,
    headline,
    outcome_counts,
    replay_command,
    shortest_failing,
    summary,
)
from riverbed.spec import LoadSpec, RunSpec


def step(kind: str, delay: float = 1.0, duration: float | None = None) -> dict:
    return {"kind": kind, "delay_s": delay, "target": None, "duration_s": duration, "params": {}}


def row(run: str, verdict: str, steps: list[dict], failed: tuple[str, ...] = ()) -> dict:
    checks = {"lost-from-log": "pass", "never-processed": "pass", "rebalance": "pass"}
    checks.update({c: "fail" for c in failed})
    if verdict == "inconclusive":
        checks["vacuity"] = "inconclusive"
    return {
        "run": run,
        "verdict": verdict,
        "report": f"runs/{run}/report.html" if verdict != "not-run" else None,
        "schedule": {"steps": steps, "describe": "; ".join(s["kind"] for s in steps)},
        "checks": checks if verdict not in ("not-run", "error") else {},
        "replay": f"riverbed run --run {run}",
    }


MATRIX = [
    row("r01", "pass", [step("kill"), step("pause", duration=20)]),
    row("r02", "fail", [step("kill-hard"), step("pause", duration=20)], ("never-processed",)),
    row("r03", "fail", [step("kill-hard", delay=4.0)], ("never-processed", "redelivered")),
    row("r04", "inconclusive", [step("partition", duration=20)]),
    row("r05", "fail", [step("kill-hard", delay=0.5), step("resize")], ("never-processed",)),
    row("r06", "error", [step("kill")]),
    row("r07", "not-run", [step("kill-hard")]),
]


def test_outcomes_are_counted_in_the_reviewers_words():
    assert outcome_counts(MATRIX) == {
        "fail": 3, "pass": 1, "inconclusive": 1, "error": 1, "not-run": 1,
    }  # fmt: skip
    assert headline(MATRIX) == (
        "7 schedules (6 ran): 3 found a problem, 1 passed, 1 cannot tell, "
        "1 stopped by a harness error, 1 not run."
    )
    assert headline(MATRIX[:1]) == "1 schedule: 1 passed."


def test_each_fault_kind_counts_the_runs_it_was_part_of_and_how_they_ended():
    table = {f["fault"]: f for f in fault_outcomes(MATRIX, ["kill", "kill-hard", "pause"])}
    # The campaign's vocabulary first, then kinds in the order they appear.
    assert list(table) == ["kill", "kill-hard", "pause", "partition", "resize"]
    assert table["kill-hard"] == {
        "fault": "kill-hard", "runs": 3, "fail": 3, "pass": 0, "inconclusive": 0, "error": 0,
        "failed_runs": ["r02", "r03", "r05"],
    }  # fmt: skip
    assert (table["kill"]["runs"], table["kill"]["pass"], table["kill"]["error"]) == (2, 1, 1)
    assert (table["pause"]["fail"], table["pause"]["pass"]) == (1, 1)
    assert table["partition"]["inconclusive"] == 1 and table["partition"]["failed_runs"] == []
    # A run that did not run counts under no fault.
    assert sum(f["runs"] for f in table.values()) == 2 + 3 + 2 + 1 + 1


def test_a_kind_drawn_only_by_runs_that_did_not_run_is_left_out():
    assert fault_outcomes([row("r01", "not-run", [step("scale")])], ["scale"]) == []


def test_every_failure_names_its_faults_and_failed_checks():
    assert [(f["run"], f["faults"], f["checks"]) for f in failures(MATRIX)] == [
        ("r02", ["kill-hard", "pause"], ["never-processed"]),
        ("r03", ["kill-hard"], ["never-processed", "redelivered"]),
        ("r05", ["kill-hard", "resize"], ["never-processed"]),
    ]


def test_the_shortest_failing_schedule_has_the_fewest_faults_then_the_shortest():
    best = shortest_failing(MATRIX)
    assert best is not None
    assert (best["run"], best["steps"], best["faults"]) == ("r03", 1, ["kill-hard"])
    assert best["replay"] == "riverbed run --run r03" and best["report"] == "runs/r03/report.html"
    # Same number of faults: the one whose faults are over sooner.
    two = [
        row("r01", "fail", [step("kill", 1.0), step("pause", 1.0, 30)], ("never-processed",)),
        row("r02", "fail", [step("kill", 2.0), step("pause", 1.0, 20)], ("never-processed",)),
    ]
    assert shortest_failing(two)["run"] == "r02"  # type: ignore[index]
    # Equal in both: the first.
    assert shortest_failing([two[0], dict(two[0], run="r09")])["run"] == "r01"  # type: ignore[index]


def test_without_a_failure_there_is_no_shortest_failing_schedule():
    assert shortest_failing([row("r01", "pass", [step("kill")])]) is None
    assert shortest_failing([row("r01", "inconclusive", [step("kill")])]) is None
    s = summary([row("r01", "pass", [step("kill")])], ["kill"])
    assert s["shortest_failing"] is None and s["failures"] == []
    assert s["outcomes"]["pass"] == 1 and s["headline"] == "1 schedule: 1 passed."


def spec_json(**overrides) -> dict:
    spec = RunSpec(
        "campaign-7-r03",
        partitions=4,
        consumers=2,
        experiments=["runs/campaign-7/runs/r03/experiments/1-kill-hard.json"],
        load=LoadSpec(users=5, duration_s=75, warmup_s=8, cooldown_s=5, user_rate=20),
        drain_deadline_s=90,
    )
    for key, value in overrides.items():
        setattr(spec, key, value)
    return spec.to_json()


def flags(command: str) -> dict[str, list[str]]:
    words = shlex.split(command)
    assert words[:2] == ["riverbed", "run"]
    out: dict[str, list[str]] = {}
    for flag, value in zip(words[2::2], words[3::2], strict=True):
        out.setdefault(flag, []).append(value)
    return out


def test_the_replay_command_gives_every_setting_of_the_run():
    got = flags(replay_command(spec_json()))
    assert got == {
        "--experiment": ["runs/campaign-7/runs/r03/experiments/1-kill-hard.json"],
        "--duration": ["75s"], "--warmup": ["8s"], "--cooldown": ["5s"],
        "--users": ["5"], "--spawn-rate": ["10"], "--user-rate": ["20"],
        "--key-space": ["100"], "--body-bytes": ["128"], "--brokers": ["3"],
        "--partitions": ["4"], "--replication-factor": ["3"], "--consumers": ["2"],
        "--session-timeout-ms": ["10000"], "--drain-deadline": ["90s"], "--join-timeout": ["90s"],
        "--client": ["kafka-python"], "--group-protocol": ["classic"],
        "--commit-mode": ["after-process"], "--assignor": ["range"], "--processing-ms": ["2"],
    }  # fmt: skip


def test_the_replay_command_of_a_users_consumer_quotes_it_and_asks_for_a_fresh_output_topic():
    spec = spec_json(
        consumer_cmd="python my consumer.py --name 'a b'",
        consumer_cwd="/srv/app",
        consumer_evidence="output-topic",
        output_topic="enriched-1700000000-r03",
        commit_mode=None,
        assignor=None,
        processing_ms=None,
    )
    got = flags(replay_command(spec))
    assert got["--consumer-cmd"] == ["python my consumer.py --name 'a b'"]
    assert got["--consumer-cwd"] == ["/srv/app"]
    assert got["--consumer-evidence"] == ["output-topic"]
    # The run's own output topic holds its outputs: a replay must not reuse it.
    assert got["--output-topic"] == ["enriched-1700000000-r03-replay"]
    assert not {"--commit-mode", "--assignor", "--processing-ms"} & set(got)


def test_the_replay_command_on_an_external_cluster_asks_for_the_secrets_it_never_kept():
    spec = spec_json(
        platform="external",
        bootstrap_servers="broker1:9093",
        kafka_config={"security.protocol": "SASL_SSL", "sasl.password": "(set)"},
        keep_topics=True,
    )
    command = replay_command(spec)
    got = flags(command.removesuffix(" --keep-topics"))
    assert got["--platform"] == ["external"] and got["--kafka-bootstrap"] == ["broker1:9093"]
    assert got["--kafka-config"] == [
        "sasl.password=<your sasl.password>",
        "security.protocol=SASL_SSL",
    ]
    assert "--brokers" not in got and command.endswith("--keep-topics")


def test_the_replay_command_of_a_consumer_image_names_its_cluster():
    spec = spec_json(
        platform="kind",
        consumer_image="team/orders:1.4",
        consumer_evidence="offsets",
        commit_mode=None,
        assignor=None,
        processing_ms=None,
    )
    command = replay_command(spec, ["--kind-cluster", "ci", "--offline"])
    assert command.startswith("riverbed run --platform kind --kind-cluster ci --offline ")
    got = flags(command.replace(" --offline", " --offline x"))
    assert got["--consumer-image"] == ["team/orders:1.4"]
    assert got["--consumer-evidence"] == ["offsets"]
    assert "--consumer-cmd" not in got and "--output-topic" not in got
