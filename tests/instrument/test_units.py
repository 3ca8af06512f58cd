"""The instrumentation's pure parts: evidence records, message identity, the tracker's rule."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workloads.consumer import events as reference
from workloads.consumer.events import Examined
from workloads.evidence import schema
from workloads.evidence.reader import read_jsonl
from workloads.evidence.schema import FILE_TYPES, check
from workloads.evidence.sinks import _line
from workloads.instrument import PYTHONPATH_DIR, instrument_env
from workloads.message import InvalidRecord, Message, decode, encode

sys.path.insert(0, str(PYTHONPATH_DIR))
from _riverbed_instrument import evidence  # noqa: E402
from _riverbed_instrument.records import NotAMessage, identify  # noqa: E402
from _riverbed_instrument.settings import Settings  # noqa: E402
from _riverbed_instrument.tracker import Tracker  # noqa: E402

T = 1795556457.25


# ---- evidence records are the schema's, written as the reference consumer's sinks write them ------
def test_the_instrumentation_builds_its_records_with_riverbeds_own_schema():
    # One definition: the instrumentation loads workloads/evidence/schema.py itself,
    # under a private name (a user's program may have a `workloads` package of its own).
    assert Path(evidence.schema.__file__).samefile(schema.__file__)
    assert evidence.schema.__name__ != schema.__name__
    assert evidence.schema.REQUIRED == schema.REQUIRED
    msg = Message("p", "k1", 4, T, "b", "s")
    examined = Examined(2, valid=[(118, msg), (119, Message("p", "k2", 9, T, "b", "s"))])
    refused = Examined(1)
    refused.refused.append(reference.Refused(77, "schema", "missing seq"))
    s = evidence.schema
    pairs = [
        (s.Start("m", "r", 1, "h", T, group="g"), schema.Start("m", "r", 1, "h", T, group="g")),
        (s.Stop("m", "close", T), schema.Stop("m", "close", T)),
        (s.Assigned("m", 3, [1, 0], T), schema.Assigned("m", 3, [0, 1], T)),
        (
            s.Processed("m", 2, [[118, "p", "k1", 4], [119, "p", "k2", 9]], T),
            reference.processed_event("m", examined, T),
        ),
        (
            s.Committed("m", {2: 120, 0: 7}, True, T),
            schema.Committed("m", {"0": 7, "2": 120}, True, T),
        ),
        (
            s.Committed("m", {1: 5}, False, T, "CommitFailedError()"),
            schema.Committed("m", {"1": 5}, False, T, "CommitFailedError()"),
        ),
        (s.Invalid("m", 1, 77, "schema", T), reference.invalid_events("m", refused, T)[0]),
    ]
    for mine, theirs in pairs:
        theirs = theirs if isinstance(theirs, dict) else theirs.to_dict()
        assert mine.to_dict() == theirs
        assert evidence.line(mine.to_dict()) == _line(theirs)  # same bytes on disk
        check(json.loads(evidence.line(mine.to_dict())), allowed=FILE_TYPES["consumed"])


def test_the_instrumentation_needs_no_workloads_package(tmp_path):
    probe = (
        "import sys, _riverbed_instrument.evidence as e; "
        "line = e.line(e.schema.Stop('m', 'close', 1.5).to_dict()); "
        "print(line, end=''); "
        "sys.exit(1 if any(m.split('.')[0] == 'workloads' for m in sys.modules) else 0)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(PYTHONPATH_DIR)
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "v": 1,
        "type": "stop",
        "member": "m",
        "reason": "close",
        "t": 1.5,
    }


def test_the_extension_fields_stay_readable_by_contract_v1_readers(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(
        evidence.line(
            evidence.schema.Assigned(
                "m", None, [0], T, member_id="rdkafka-1", client_id="rdkafka"
            ).to_dict()
        )
        + evidence.line(
            evidence.schema.Stop(
                "m", "error", T, detail="x", held={"0": [[3, "p", "k", 1]]}
            ).to_dict()
        )
    )
    records = list(read_jsonl(path, FILE_TYPES["consumed"]))
    assert records[0]["member_id"] == "rdkafka-1" and records[1]["held"] == {
        "0": [[3, "p", "k", 1]]
    }


# ---- message identity agrees with the message codec ----------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"producer": "p", "key": "k"}',
        b'{"producer": 1, "key": "k", "seq": 0, "ts": 1, "body": "", "sha": ""}',
        b'{"producer": "p", "key": "k", "seq": -1, "ts": 1, "body": "", "sha": ""}',
        b'{"producer": "p", "key": "k", "seq": true, "ts": 1, "body": "", "sha": ""}',
        b'{"producer": "p", "key": "k", "seq": 1, "ts": "x", "body": "", "sha": ""}',
    ],
)
def test_a_value_that_is_no_message_is_refused_for_the_codecs_reason(raw):
    with pytest.raises(InvalidRecord) as theirs:
        decode(raw)
    with pytest.raises(NotAMessage) as mine:
        identify(raw)
    assert mine.value.reason == theirs.value.reason


def test_a_message_is_identified_in_every_shape_an_application_may_deserialize_it_to():
    raw = encode("p-1", "k7", 42, {"n": 1})
    assert identify(raw) == ("p-1", "k7", 42)
    assert identify(raw.decode()) == ("p-1", "k7", 42)
    assert identify(memoryview(raw)) == ("p-1", "k7", 42)
    assert identify(json.loads(raw)) == ("p-1", "k7", 42)

    class Event:
        def __init__(self, **fields):
            self.__dict__.update(fields)

    assert identify(Event(**json.loads(raw))) == ("p-1", "k7", 42)
    with pytest.raises(NotAMessage) as exc:
        identify(object())
    assert exc.value.reason == "undecodable"
    # The body is the application's business: a corrupt one still has its identity.
    corrupt = json.loads(raw)
    corrupt["body"] = {"n": 2}
    assert identify(json.dumps(corrupt)) == ("p-1", "k7", 42)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    producer=st.text(),
    key=st.text(),
    seq=st.integers(min_value=0, max_value=2**63),
    body=json_values,
    ts=st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
)
def test_the_fast_path_for_riverbeds_own_encoding_agrees_with_a_full_parse(
    producer, key, seq, body, ts
):
    raw = encode(producer, key, seq, body, ts=ts)
    assert identify(raw) == identify(raw.decode()) == (producer, key, seq)
    assert identify(raw) == (decode(raw).producer, decode(raw).key, decode(raw).seq)


@pytest.mark.parametrize(
    "raw",
    [
        # Look-alikes of the canonical shape that a full parse must judge.
        b'{"producer":"p","key":"k","seq":01,"ts":1,"body":"b","sha":"s"}',
        b'{"producer":"p","key":"k","seq":1,"ts":1,"body":"b","sha":"s"',
        b'{"producer":"p","key":"k","seq":1,"ts":1.2.3,"body":"b","sha":"s"}',
        b'{"producer":"p","key":"k","seq":1,"ts":1,"body":,"sha":"s"}',
    ],
)
def test_damaged_look_alikes_of_a_message_are_parsed_in_full(raw):
    with pytest.raises(InvalidRecord) as theirs:
        decode(raw)
    with pytest.raises(NotAMessage) as mine:
        identify(raw)
    assert mine.value.reason == theirs.value.reason == "undecodable"


def test_the_instrumentation_stays_importable_by_python_3_8():
    for path in [*sorted(PYTHONPATH_DIR.rglob("*.py")), Path(schema.__file__)]:
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 8))


# ---- the tracker's rule --------------------------------------------------------------------------
def tracker(tmp_path: Path, member: str = "consumer-1.1") -> Tracker:
    settings = Settings(str(tmp_path / "evidence"), "events", member, "consumer-1", 1)
    t = Tracker(settings, "test-client", "1.0", "cid", "grp", False)
    t.start()
    return t


def lines(tmp_path: Path, member: str = "consumer-1.1") -> list[dict]:
    path = tmp_path / "evidence" / "consumed" / f"{member}.jsonl"
    return list(read_jsonl(path, FILE_TYPES["consumed"]))


def msg(seq: int, key: str = "k") -> bytes:
    return encode("p", key, seq, "b")


def test_records_count_as_processed_when_the_application_comes_back(tmp_path):
    t = tracker(tmp_path)
    t.assigned([0, 1], 5, "member-a")
    t.hand(0, [(10, msg(0)), (11, msg(1))])
    t.hand(1, [(3, b"garbage")])
    assert [r["type"] for r in lines(tmp_path)] == ["start", "assigned"]  # still in hand
    t.came_back()
    start, assigned, p0, inv = lines(tmp_path)
    assert start["pgid"] == os.getpgid(0) and start["instrumented"] is True
    assert assigned["member_id"] == "member-a" and assigned["client_id"] == "cid"
    assert p0["partition"] == 0 and p0["records"] == [[10, "p", "k", 0], [11, "p", "k", 1]]
    assert inv == {**inv, "type": "invalid", "partition": 1, "offset": 3, "reason": "undecodable"}


def test_the_fast_processed_line_is_the_same_bytes(tmp_path):
    records = [[3, 'p\u00e9"', "k", 1], [4, "p", "k\n", 2]]
    fast = evidence.processed_line(evidence.json_text("m-\u00e9"), 2, records, T)
    assert fast == evidence.line(evidence.schema.Processed("m-\u00e9", 2, records, T).to_dict())


def test_a_commit_covers_what_it_names_and_is_written_after_it(tmp_path):
    t = tracker(tmp_path)
    t.hand(0, [(10, msg(0)), (11, msg(1)), (12, msg(2))])
    t.hand(1, [(5, msg(0, "j"))])
    t.cover({0: 12})  # a commit of partition 0 up to 11: 12 and partition 1 stay in hand
    t.committed({0: 12}, True)
    types = [(r["type"], r.get("partition")) for r in lines(tmp_path)]
    assert types == [("start", None), ("processed", 0), ("committed", None)]
    assert lines(tmp_path)[1]["records"] == [[10, "p", "k", 0], [11, "p", "k", 1]]
    assert t.in_hand() == {0: 13, 1: 6}
    t.committed({1: 6}, False, "CommitFailedError()")
    assert lines(tmp_path)[-1] == {
        **lines(tmp_path)[-1],
        "ok": False,
        "error": "CommitFailedError()",
    }


def test_records_still_in_hand_at_the_stop_are_held_not_processed(tmp_path):
    t = tracker(tmp_path)
    t.hand(2, [(7, msg(3)), (8, b"{}")])
    t.stop("error", "terminated by SIGTERM without closing its consumer")
    stop = lines(tmp_path)[-1]
    assert stop["reason"] == "error" and "SIGTERM" in stop["detail"]
    assert stop["held"] == {"2": [[7, "p", "k", 3], [8, None, None, None]]}
    assert not any(r["type"] == "processed" for r in lines(tmp_path))
    t.stop("close")  # a second stop writes nothing
    assert len(lines(tmp_path)) == 2


def test_iteration_buffers_one_batch_and_a_revoke_writes_it_first(tmp_path):
    t = tracker(tmp_path)
    t.assigned([0], 1, "a")
    for offset in range(3):
        t.came_back(write=False)  # the next iteration step
        t.hand_one(0, offset, msg(offset))
    t.came_back(write=False)
    assert [r["type"] for r in lines(tmp_path)] == ["start", "assigned"]
    t.revoked("revoked", [0], 1)
    assert [r["type"] for r in lines(tmp_path)] == ["start", "assigned", "processed", "revoked"]
    assert lines(tmp_path)[2]["records"] == [[0, "p", "k", 0], [1, "p", "k", 1], [2, "p", "k", 2]]


def test_lost_partitions_belong_to_the_last_generation_and_empty_revokes_are_skipped(tmp_path):
    t = tracker(tmp_path)
    t.revoked("revoked", [], None)  # an eager member before its first join
    t.assigned([0, 1], 7, "a")
    t.revoked("lost", [1], None)
    t.revoked("revoked", [0], None)  # a client that does not expose generations
    kinds = [(r["type"], r.get("generation")) for r in lines(tmp_path)[1:]]
    assert kinds == [("assigned", 7), ("lost", 7), ("revoked", 7)]
    assert t.owned == set()


def test_each_consumer_of_an_incarnation_gets_a_file_of_its_own(tmp_path):
    first = tracker(tmp_path)
    second = tracker(tmp_path)
    assert (first.member, second.member) == ("consumer-1.1", "consumer-1.1.c2")
    assert lines(tmp_path, "consumer-1.1.c2")[0]["member"] == "consumer-1.1.c2"


# ---- loading ---------------------------------------------------------------------------------------
def test_sitecustomize_chains_the_one_it_shadows_and_hooks_only_when_asked(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "sitecustomize.py").write_text("import os\nos.environ['CHAINED'] = 'yes'\n")
    probe = (
        "import os, sys, sitecustomize\n"
        "from _riverbed_instrument.hooks import PostImportFinder\n"
        "print(os.environ.get('CHAINED'), any(isinstance(f, PostImportFinder) for f in sys.meta_path),"
        " sitecustomize.__file__.startswith(sys.argv[1]))\n"
    )
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("RIVERBED_") and k != "PYTHONPATH"
    }
    env["PYTHONPATH"] = os.pathsep.join([str(PYTHONPATH_DIR), str(other)])
    off = subprocess.run(
        [sys.executable, "-c", probe, str(PYTHONPATH_DIR)], env=env, capture_output=True, text=True
    )
    assert off.stdout.split() == ["yes", "False", "True"], off.stderr
    env.update(instrument_env(tmp_path / "ev", "consumer-1.1", "events", base=env))
    on = subprocess.run(
        [sys.executable, "-c", probe, str(PYTHONPATH_DIR)], env=env, capture_output=True, text=True
    )
    assert on.stdout.split() == ["yes", "True", "True"], on.stderr
    assert env["PYTHONPATH"].split(os.pathsep) == [str(PYTHONPATH_DIR), str(other)]
