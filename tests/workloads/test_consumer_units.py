"""The consumer's pure parts: processing-time specs, record validation, evidence records, flags."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import namedtuple

import pytest

from tests.workloads.support import ROOT
from workloads.consumer.cli import parse_config
from workloads.consumer.config import ProcessingTime, validate_replica
from workloads.consumer.events import examine, invalid_events, processed_event
from workloads.evidence.schema import Assigned, Committed, check
from workloads.message import encode

Rec = namedtuple("Rec", "offset key value")


@pytest.mark.parametrize(
    ("spec", "kind", "a", "b"),
    [("5", "fixed", 5, 0), ("0", "fixed", 0, 0), ("2.5", "fixed", 2.5, 0),
     ("uniform:1-10", "uniform", 1, 10), ("exp:5", "exp", 5, 0), (" EXP:0 ", "exp", 0, 0)],
)  # fmt: skip
def test_processing_specs_parse(spec: str, kind: str, a: float, b: float) -> None:
    assert ProcessingTime.parse(spec) == ProcessingTime(kind, a, b)


@pytest.mark.parametrize(
    "spec", ["", "fast", "-1", "uniform:10-1", "uniform:5", "exp:-2", "exp:", "nan"]
)
def test_bad_processing_specs_name_the_accepted_forms(spec: str) -> None:
    with pytest.raises(ValueError, match="uniform:LOW-HIGH"):
        ProcessingTime.parse(spec)


def test_processing_samples_stay_in_their_distribution() -> None:
    rng = random.Random(7)
    assert ProcessingTime.parse("5").sample_s(rng) == 0.005
    uniform = [ProcessingTime.parse("uniform:1-10").sample_s(rng) for _ in range(200)]
    assert all(0.001 <= s <= 0.010 for s in uniform)
    exp = [ProcessingTime.parse("exp:5").sample_s(rng) for _ in range(2000)]
    assert 0.004 < sum(exp) / len(exp) < 0.006
    assert ProcessingTime.parse("0").zero and ProcessingTime.parse("uniform:0-0").zero
    assert not ProcessingTime.parse("uniform:0-1").zero
    assert str(ProcessingTime.parse("uniform:1-10")) == "uniform:1-10"


def test_examine_refuses_bad_records_without_raising_and_moves_past_them() -> None:
    good = encode("p", "k", 0, "hi")
    corrupt = json.loads(encode("p", "k", 1, "hi"))
    corrupt["body"] = "ho"
    out = examine(
        3,
        [
            Rec(10, b"k", good),
            Rec(11, b"k", json.dumps(corrupt).encode()),
            Rec(12, b"k", b"\x00\x01"),
            Rec(13, None, None),
            Rec(14, b"k", b'{"producer":"p"}'),
        ],
    )
    assert [o for o, _ in out.valid] == [10]
    assert [(r.offset, r.reason) for r in out.refused] == [
        (11, "corrupt"),
        (12, "undecodable"),
        (13, "undecodable"),
        (14, "schema"),
    ]
    assert out.next_offset == 15
    processed = processed_event("m-1", out, 1.0)
    assert processed == {
        "type": "processed", "member": "m-1", "partition": 3, "records": [[10, "p", "k", 0]], "t": 1.0,
    }  # fmt: skip
    invalid = invalid_events("m-1", out, 2.0)
    assert [(r["offset"], r["reason"]) for r in invalid] == [
        (11, "corrupt"), (12, "undecodable"), (13, "undecodable"), (14, "schema"),
    ]  # fmt: skip
    for record in [processed, *invalid]:
        check({"v": 1, **record}, allowed=frozenset({"processed", "invalid"}))


def test_a_slice_of_only_refused_records_has_no_processed_line() -> None:
    out = examine(0, [Rec(5, None, b"nope")])
    assert processed_event("m", out, 0.0) is None and out.next_offset == 6


def test_ownership_and_commit_records_follow_the_contract() -> None:
    assigned = Assigned("m", 4, [2, 0], 1.5).to_dict()
    assert assigned == {
        "type": "assigned",
        "member": "m",
        "generation": 4,
        "partitions": [0, 2],
        "t": 1.5,
    }
    committed = Committed("m", {10: 5, 2: 7}, True, 2.0).to_dict()
    assert committed["offsets"] == {"2": 7, "10": 5} and committed["ok"] is True
    assert "error" not in committed
    assert (
        Committed("m", {0: 1}, False, 2.0, "CommitFailedError()").to_dict()["error"]
        == "CommitFailedError()"
    )
    for record in (assigned, committed):
        check({"v": 1, **record})


def test_replica_names_are_checked() -> None:
    assert validate_replica("consumer-1.a_b") == "consumer-1.a_b"
    for bad in ("", "a/b", "..", "x" * 201, "sp ace"):
        with pytest.raises(ValueError, match="replica name"):
            validate_replica(bad)


def test_config_comes_from_flags_then_environment_then_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_BROKER", "env:9092")
    monkeypatch.setenv("KAFKA_TOPIC", "env-topic")
    monkeypatch.setenv("KAFKA_GROUP", "env-group")
    monkeypatch.setenv("RIVERBED_COMMIT_MODE", "before-process")
    monkeypatch.setenv("RIVERBED_PROCESSING_MS", "exp:3")
    monkeypatch.setenv("RIVERBED_STATIC_MEMBER", "true")
    config, _ = parse_config(["--topic", "flag-topic", "--replica", "c-7"])
    assert (config.bootstrap_servers, config.topic, config.group) == (
        "env:9092",
        "flag-topic",
        "env-group",
    )
    assert config.commit_mode == "before-process" and config.processing == ProcessingTime("exp", 3)
    assert config.static_member is True
    assert config.assignor == "range" and config.metadata_max_age_ms == 5000
    assert config.member.startswith("c-7-") and len(config.member) == len("c-7-") + 6
    assert config.heartbeat_interval_ms == 3000 and config.session_timeout_ms == 10_000
    again, _ = parse_config(["--topic", "t", "--replica", "c-7"])
    assert again.member != config.member  # a new incarnation is a new member


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--group", "g"], {}, "--topic is required (or set KAFKA_TOPIC)"),
        (["--topic", "t", "--group", "g", "--commit-mode", "sometimes"], {}, "invalid choice: 'sometimes'"),
        (["--topic", "t", "--group", "g"], {"RIVERBED_ASSIGNOR": "sticky-ish"}, "--assignor (from RIVERBED_ASSIGNOR='sticky-ish')"),
        (["--topic", "t", "--group", "g", "--processing-ms", "slow"], {}, "argument --processing-ms"),
        (["--topic", "t", "--group", "g", "--max-poll-records", "0"], {}, "must be a positive integer"),
        (["--topic", "t", "--group", "g", "--replica", "a/b"], {}, "replica name 'a/b'"),
        (["--topic", "t", "--group", "g"], {"RIVERBED_STATIC_MEMBER": "maybe"}, "--static-member (from RIVERBED_STATIC_MEMBER"),
        (["--topic", "t", "--group", "g", "--session-timeout-ms", "3000", "--heartbeat-interval-ms", "3000"], {}, "lower than --session-timeout-ms"),
    ],
)  # fmt: skip
def test_bad_flags_exit_2_with_a_named_message(
    args: list[str], env: dict[str, str], message: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "workloads.consumer", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    assert proc.returncode == 2
    assert message in proc.stderr, proc.stderr


def test_help_explains_modes_and_the_metadata_trade_off() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "workloads.consumer", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0
    for words in (
        "before-process",
        "cooperative-sticky",
        "RIVERBED_PROCESSING_MS",
        "metadata requests",
    ):
        assert words in proc.stdout
