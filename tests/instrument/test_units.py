"""The instrumentation's pure parts: evidence records, message identity, the tracker's rule."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from workloads.consumer import events as reference
from workloads.consumer.events import Examined
from workloads.evidence import schema
from workloads.evidence.reader import read_jsonl
from workloads.evidence.schema import FILE_TYPES, check
from workloads.evidence.sinks import _line
from workloads.instrument import PYTHONPATH_DIR, instrument_env
from workloads.message import Message

sys.path.insert(0, str(PYTHONPATH_DIR))
from _riverbed_instrument import evidence  # noqa: E402
from _riverbed_instrument import tracker as tracker_module  # noqa: E402
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


def test_the_instrumentation_stays_importable_by_python_3_8():
    for path in [*sorted(PYTHONPATH_DIR.rglob("*.py")), Path(schema.__file__)]:
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 8))


# ---- the tracker: handed, finished, claimed ------------------------------------------------------
def tracker(tmp_path: Path, member: str = "consumer-1.1", flush_s: float = 3600.0, **kw) -> Tracker:
    """A tracker that writes only when it must (a claim, a change, a stop), unless
    ``flush_s`` says otherwise."""
    settings = Settings(
        str(tmp_path / "evidence"), "events", member, "consumer-1", 1, "grp", flush_s
    )
    t = Tracker(settings, "test-client", "1.0", "cid", "grp", False, **kw)
    t.start()
    return t


def lines(tmp_path: Path, member: str = "consumer-1.1") -> list[dict]:
    path = tmp_path / "evidence" / "consumed" / f"{member}.jsonl"
    return list(read_jsonl(path, FILE_TYPES["consumed"]))


def kinds(tmp_path: Path, member: str = "consumer-1.1") -> list[tuple]:
    return [
        (r["type"], r.get("partition"), r.get("first"), r.get("last"))
        for r in lines(tmp_path, member)
    ]


def test_records_are_finished_only_when_the_application_comes_back_for_more(tmp_path):
    t = tracker(tmp_path)
    t.assigned([0, 1], 5, "member-a")
    t.hand([(0, 10, 11), (1, 3, 3)], T)
    t.came_back(T + 1)
    assert kinds(tmp_path)[2:] == []  # nothing had to be written yet
    t.revoked("revoked", [1], 5)  # any change writes what is pending first
    start, assigned, f0, f1, revoked = lines(tmp_path)
    assert start["pgid"] == os.getpgid(0) and start["instrumented"] is True
    assert start["flush_ms"] == 3600000.0
    assert assigned["member_id"] == "member-a" and assigned["client_id"] == "cid"
    assert (f0["partition"], f0["first"], f0["last"], f0["how"]) == (0, 10, 11, "came-back")
    assert (f0["t_handed"], f0["t"]) == (T, T + 1)
    assert (f1["first"], f1["last"], revoked["type"]) == (3, 3, "revoked")


def test_a_commit_is_a_claim_written_before_its_request_and_never_processing(tmp_path):
    t = tracker(tmp_path)
    t.hand([(0, 10, 12), (1, 5, 5)], T)
    t.claim({0: 12}, "commit")  # commits 10..11 while they are in hand
    t.committed({0: 12}, True)
    assert kinds(tmp_path)[1:] == [
        ("handed", 0, 10, 12),
        ("handed", 1, 5, 5),
        ("committing", None, None, None),
        ("committed", None, None, None),
    ]
    claim = lines(tmp_path)[3]
    assert (claim["offsets"], claim["how"]) == ({"0": 12}, "commit")
    assert t.in_hand() == {0: 13, 1: 6}
    # Coming back for records a claim covered is written at once (a SIGKILL right after
    # must not lose it), with everything pending.
    t.came_back(T + 2)
    assert kinds(tmp_path)[5:] == [("finished", 0, 10, 12), ("finished", 1, 5, 5)]
    t.committed({1: 6}, False, "CommitFailedError()")
    assert lines(tmp_path)[-1]["ok"] is False
    assert lines(tmp_path)[-1]["error"] == "CommitFailedError()"


def test_hand_outs_wait_at_most_the_flush_window(tmp_path):
    t = tracker(tmp_path, flush_s=0.5)
    now = time.time() + 10  # past the window the start line opened
    t.step(None, 0, 1, now)  # due: written at once
    t.step(now + 0.1, 0, 2, now + 0.1)  # inside the window: buffered
    assert [k[0] for k in kinds(tmp_path)] == ["start", "handed"]
    t.step(now + 0.7, 0, 3, now + 0.7)  # past the window: written with what waited
    assert kinds(tmp_path)[2:] == [("finished", 0, 1, 2), ("handed", 0, 3, 3)]
    fin = lines(tmp_path)[2]
    assert (fin["t_handed"], fin["t"]) == (now, now + 0.7)


def test_single_record_polls_merge_into_one_finished_span(tmp_path):
    t = tracker(tmp_path)
    for offset in range(5):
        t.step(T + offset, 2, offset, T + offset + 0.5)
    t.flush()
    assert kinds(tmp_path)[1:] == [("finished", 2, 0, 3), ("handed", 2, 4, 4)]


def test_a_seek_sends_what_is_in_hand_from_its_offset_back(tmp_path):
    t = tracker(tmp_path)
    t.hand([(0, 10, 19)], T)
    t.seek(0, 15)  # a retry: 15 failed, it will be handed again
    t.came_back(T + 1)
    t.flush()
    rows = lines(tmp_path)
    assert [(r["type"], r.get("offset")) for r in rows[1:3]] == [("handed", None), ("seek", 15)]
    assert (rows[3]["type"], rows[3]["first"], rows[3]["last"]) == ("finished", 10, 14)
    t.hand([(0, 15, 16)], T + 2)
    t.seek(0, None, "beginning")
    assert t.in_hand() == {}
    assert lines(tmp_path)[-1]["whence"] == "beginning"


def test_coming_back_does_not_finish_the_records_of_a_paused_partition(tmp_path):
    t = tracker(tmp_path)
    t.hand([(0, 1, 4), (1, 7, 7)], T)
    t.paused([0], True)  # handed to a worker; polls go on as heartbeats
    t.came_back(T + 1)
    t.came_back(T + 2)
    assert t.in_hand() == {0: 5}
    t.paused([0], False)
    t.came_back(T + 3)
    t.flush()
    fins = [
        (r["partition"], r["first"], r["t"]) for r in lines(tmp_path) if r["type"] == "finished"
    ]
    assert fins == [(1, 7, T + 1), (0, 1, T + 3)]
    assert [r["type"] for r in lines(tmp_path)].count("paused") == 1


def test_with_the_marker_only_marked_records_are_finished(tmp_path, monkeypatch):
    monkeypatch.setattr(tracker_module, "marker_mode", True)
    t = tracker(tmp_path)
    t.hand([(0, 1, 3)], T)
    t.came_back(T + 1)
    assert t.in_hand() == {0: 4}
    assert t.mark(0, 2) and not t.mark(0, 9)
    t.flush()
    fin = [r for r in lines(tmp_path) if r["type"] == "finished"]
    assert [(r["first"], r["last"], r["how"]) for r in fin] == [(2, 2, "marked")]
    assert t.in_hand() == {0: 4}  # 1 and 3 are still in hand


def test_what_is_in_hand_at_the_stop_stays_handed(tmp_path):
    t = tracker(tmp_path)
    t.hand([(2, 7, 8)], T)
    t.stop("error", "terminated by SIGTERM without closing its consumer")
    rows = lines(tmp_path)
    assert [r["type"] for r in rows] == ["start", "handed", "stop"]
    assert rows[-1]["reason"] == "error" and "SIGTERM" in rows[-1]["detail"]
    assert "held" not in rows[-1]
    t.stop("close")  # a second stop writes nothing
    assert len(lines(tmp_path)) == 3


def test_the_tracker_writes_the_schemas_records_byte_for_byte(tmp_path):
    t = tracker(tmp_path, member="m-\u00e9")
    t.hand([(0, 3, 4)], T)
    t.came_back(T + 1.5)
    t.flush()
    path = tmp_path / "evidence" / "consumed" / "m-\u00e9.jsonl"
    raw = path.read_text(encoding="utf-8").splitlines()[1]
    expected = evidence.schema.Finished("m-\u00e9", 0, 3, 4, "came-back", T + 1.5, t_handed=T)
    assert raw + "\n" == evidence.line(expected.to_dict())
    handed = evidence.schema.Handed("m-\u00e9", 1, 5, 6, T)
    t.hand([(1, 5, 6)], T)
    t.flush()
    assert path.read_text(encoding="utf-8").splitlines()[-1] + "\n" == evidence.line(
        handed.to_dict()
    )


def test_lost_partitions_belong_to_the_last_generation_and_empty_revokes_are_skipped(tmp_path):
    t = tracker(tmp_path)
    t.revoked("revoked", [], None)  # an eager member before its first join
    t.assigned([0, 1], 7, "a")
    t.revoked("lost", [1], None)
    t.revoked("revoked", [0], None)  # a client that does not expose generations
    kinds_ = [(r["type"], r.get("generation")) for r in lines(tmp_path)[1:]]
    assert kinds_ == [("assigned", 7), ("lost", 7), ("revoked", 7)]
    assert t.owned == set()


def test_each_consumer_of_an_incarnation_gets_a_file_of_its_own(tmp_path):
    first = tracker(tmp_path)
    second = tracker(tmp_path)
    assert (first.member, second.member) == ("consumer-1.1", "consumer-1.1.c2")
    assert lines(tmp_path, "consumer-1.1.c2")[0]["member"] == "consumer-1.1.c2"


def test_only_the_group_under_test_is_recorded():
    s = Settings("ev", "events", "m", "r", 1, "grp")
    assert s.records("grp", True)
    assert not s.records("audit", True)  # another group in the same process
    assert not s.records("grp", False) and not s.records(None, True)
    assert Settings("ev", "events", "m", "r", 1, None).records("anything", True)


def test_a_forked_child_writes_nothing_for_its_parents_consumer(tmp_path):
    t = tracker(tmp_path)
    t.hand([(0, 1, 2)], T)
    pid = os.fork()
    if pid == 0:  # the child: as a worker forked after subscribing would
        try:
            t.came_back(T + 1)
            t.flush()
            tracker_module._stop_all("error", "child exit")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert [r["type"] for r in lines(tmp_path)] == ["start"]
    t.came_back(T + 2)
    t.flush()
    assert [r["type"] for r in lines(tmp_path)] == ["start", "finished"]


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
