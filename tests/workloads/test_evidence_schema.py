"""The evidence records are defined once (workloads/evidence/schema.py): writers, readers and
docs/evidence.md all follow from them."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import polars as pl
import pytest

from locustfiles.acks import AckRecorder
from reports.columnar import dtype_of, frame_schema
from reports.evidence import ACKS_SCHEMA, CONSUMED_SCHEMA, LOG_SCHEMA, OUTPUT_SCHEMA
from tests.workloads.support import ROOT
from workloads.evidence import fields, schema
from workloads.evidence.reader import read_jsonl
from workloads.evidence.schema import (
    BY_TYPE,
    FILE_TYPES,
    RECORD_TYPES,
    REQUIRED,
    Assigned,
    Committed,
    Send,
    Start,
    check,
    error_text,
)
from workloads.evidence.sinks import FileSink
from workloads.producer.sending import describe

#: Contract v1 as first published: the fields a reader requires of each record type.
CONTRACT_V1 = {
    "send": ("producer", "key", "seq", "status", "partition", "offset", "t_send", "t_ack", "error"),
    "start": ("member", "replica", "pid", "host", "t"),
    "stop": ("member", "reason", "t"),
    "assigned": ("member", "generation", "partitions", "t"),
    "revoked": ("member", "generation", "partitions", "t"),
    "lost": ("member", "generation", "partitions", "t"),
    "processed": ("member", "partition", "records", "t"),
    "committed": ("member", "offsets", "ok", "t"),
    "invalid": ("member", "partition", "offset", "reason", "t"),
    "fenced": ("member", "error", "t"),
    "group": ("t", "state", "generation", "members", "committed", "end_offsets", "partitions"),
    "fault": ("experiment", "activity", "kind", "t_start", "t_end", "status", "output"),
    "record": ("partition", "offset", "producer", "key", "seq", "sha_ok"),
    "output": ("partition", "offset", "producer", "key", "seq", "sha_ok", "identity", "t"),
}


#: Record types that extend contract v1 (written by riverbed's instrumentation around a
#: user's consumer; docs/evidence.md, "Instrumented consumers").
EXTENSION_TYPES = {
    "handed": ("member", "partition", "first", "last", "t"),
    "finished": ("member", "partition", "first", "last", "how", "t"),
    "committing": ("member", "offsets", "how", "t"),
    "seek": ("member", "partition", "offset", "t"),
    "paused": ("member", "partitions", "t"),
    "resumed": ("member", "partitions", "t"),
}


def test_the_required_fields_are_contract_v1() -> None:
    assert {k: v for k, v in REQUIRED.items() if k not in EXTENSION_TYPES} == CONTRACT_V1
    assert {k: v for k, v in REQUIRED.items() if k in EXTENSION_TYPES} == EXTENSION_TYPES
    assert FILE_TYPES["consumed"] == {
        "start", "stop", "assigned", "revoked", "lost", "processed", "committed", "invalid",
        "fenced", *EXTENSION_TYPES,
    }  # fmt: skip
    assert {k: set(v) for k, v in FILE_TYPES.items() if k != "consumed"} == {
        "acks": {"send"},
        "group": {"group"},
        "faults": {"fault"},
        "log": {"record"},
        "output": {"output"},
    }


@pytest.mark.parametrize("cls", RECORD_TYPES, ids=lambda c: c.TYPE)
def test_every_field_is_documented_and_has_a_json_and_a_column_type(cls: type) -> None:
    for f in fields.fields_of(cls):
        assert f.doc, f"{cls.__name__}.{f.name} has no docstring"
        assert fields.json_type(f.hint)
        assert isinstance(dtype_of(f.hint), pl.DataType)


def test_the_docs_field_tables_are_generated_from_the_schema() -> None:
    page = ROOT / "docs" / "evidence.md"
    assert fields.main([str(page), "--check"]) == 0, (
        "docs/evidence.md is out of date: python -m workloads.evidence.fields docs/evidence.md"
    )
    assert sorted(fields.documented_types(page.read_text())) == sorted(BY_TYPE)


def test_a_stale_docs_table_is_noticed(tmp_path: Path) -> None:
    page = tmp_path / "evidence.md"
    fresh = fields.render("<!-- fields: lost -->\n<!-- /fields -->\n")
    page.write_text(fresh.replace("`partitions`", "`partition_ids`"))
    assert fields.main([str(page), "--check"]) == 1
    assert fields.main([str(page)]) == 0 and page.read_text() == fresh


def test_the_reports_frames_are_typed_from_the_records() -> None:
    assert {
        "producer": pl.String(),
        "key": pl.String(),
        "seq": pl.Int64(),
        "status": pl.String(),
        "partition": pl.Int64(),
        "offset": pl.Int64(),
        "t_send": pl.Float64(),
        "t_ack": pl.Float64(),
    } == ACKS_SCHEMA
    assert list(LOG_SCHEMA) == [*CONTRACT_V1["record"], "reason", "t_append"]
    assert list(OUTPUT_SCHEMA) == [*CONTRACT_V1["output"], "reason", "timestamp_type"]
    assert CONSUMED_SCHEMA["records"] == pl.List(pl.List(pl.String()))
    assert CONSUMED_SCHEMA["offsets"] == pl.String()  # an object, kept as its JSON text
    assert CONSUMED_SCHEMA["partitions"] == pl.List(pl.Int64())
    with pytest.raises(KeyError, match="nope"):
        frame_schema(Send, "producer", "nope")


def test_extension_fields_without_a_value_are_left_out_required_ones_written_as_null() -> None:
    start = Start("c-1", "c", 7, "h", 1.0, group="g", client_id=None).to_dict()
    assert start == {
        "type": "start", "member": "c-1", "replica": "c", "pid": 7, "host": "h", "t": 1.0,
        "group": "g",
    }  # fmt: skip
    assigned = Assigned("c-1", None, [2, 0], 1.5, member_id="m-1").to_dict(v=True)
    assert list(assigned) == ["v", "type", "member", "generation", "partitions", "t", "member_id"]
    assert assigned["generation"] is None and assigned["partitions"] == [0, 2]
    assert Committed("c-1", {10: 5, 2: 7}, True, 2.0).to_dict()["offsets"] == {"2": 7, "10": 5}
    for cls in RECORD_TYPES:
        layout = dict(cls._layout)
        assert set(REQUIRED[cls.TYPE]) == {n for n, extension in layout.items() if not extension}


def test_a_send_outcome_follows_the_contracts_rules_whoever_records_it() -> None:
    unknown = Send("p", "k", 3, "unknown", 1, 10, 1.0, 2.0, None).to_dict()
    assert (unknown["partition"], unknown["offset"], unknown["error"]) == (None, None, "unknown")
    ok = Send("p", "k", 3, "ok", 1, 10, 1.0, 2.0, "ignored").to_dict()
    assert (ok["partition"], ok["offset"], ok["error"]) == (1, 10, None)
    check({"v": 1, **unknown}, allowed=FILE_TYPES["acks"])


def test_an_error_without_a_message_is_named_by_its_type() -> None:
    # The producer's copy of this rule wrote "TimeoutError: " (a dangling separator)
    # where Locust's wrote "TimeoutError"; both now use the schema's.
    assert describe(TimeoutError()) == error_text(TimeoutError()) == "TimeoutError"
    assert describe(ValueError("bad")) == "ValueError: bad"
    assert error_text("KafkaTimeoutError: x") == "KafkaTimeoutError: x" and error_text(None) is None


def test_the_producer_and_locust_write_the_same_send_line(tmp_path: Path) -> None:
    from workloads.producer.sending import AckLog

    sink = FileSink(tmp_path / "producer.jsonl")
    log = AckLog(sink, "p-1")
    log.record("k1", 0, "fail", 1.0, error=describe(TimeoutError()))
    log.close()
    recorder = AckRecorder(tmp_path / "run", "lw", 1, producer="p-1")
    recorder.record("k1", 0, "fail", error=error_text(TimeoutError()), t_send=1.0,
                    response_time_ms=1.0, size=1)  # fmt: skip
    recorder.close()
    (mine,) = read_jsonl(tmp_path / "producer.jsonl", FILE_TYPES["acks"])
    (theirs,) = read_jsonl(recorder.path, FILE_TYPES["acks"])
    assert list(mine) == list(theirs)
    assert {k: v for k, v in mine.items() if k != "t_ack"} == {
        k: v for k, v in theirs.items() if k != "t_ack"
    }


#: Where evidence is written: every record there must come from the schema's classes.
WRITERS = ("workloads", "locustfiles", "riverbed", "reports")


def test_no_writer_builds_an_evidence_record_by_hand() -> None:
    hand_built = []
    for folder in WRITERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.resolve() == Path(schema.__file__).resolve():
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Dict):
                    continue
                for k, v in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(k, ast.Constant)
                        and k.value == "type"
                        and isinstance(v, ast.Constant)
                        and v.value in BY_TYPE
                    ):
                        hand_built.append(f"{path.relative_to(ROOT)}:{node.lineno} ({v.value})")
    assert not hand_built, f"evidence records built without the schema: {hand_built}"


def test_every_record_round_trips_through_a_reader(tmp_path: Path) -> None:
    samples = [
        schema.Send("p", "k", 0, "ok", 0, 1, 1.0, 1.1, None),
        schema.Start("m", "r", 1, "h", 1.0, client="kafka-python", instrumented=True),
        schema.Stop("m", "error", 2.0, detail="d", held={"0": [[3, "p", "k", 1]]}),
        schema.Assigned("m", 1, [0], 1.0, member_id="id", client_id="c"),
        schema.Revoked("m", 1, [0], 1.0),
        schema.Lost("m", 1, [0], 1.0),
        schema.Processed("m", 0, [[0, "p", "k", 0]], 1.0),
        schema.Committed("m", {0: 1}, False, 1.0, "CommitFailedError()"),
        schema.Handed("m", 0, 3, 7, 1.0),
        schema.Finished("m", 0, 3, 7, "came-back", 1.5, t_handed=1.0),
        schema.Committing("m", {0: 8}, "commit", 1.2),
        schema.Seek("m", 0, None, 1.3, whence="beginning"),
        schema.Paused("m", [1, 0], 1.4),
        schema.Resumed("m", [0], 1.6),
        schema.Invalid("m", 0, 1, "corrupt", 1.0),
        schema.Fenced("m", "FENCED_INSTANCE_ID", 1.0, fatal=True),
        schema.Group(1.0, "Stable", 3, {"id": [0]}, {"0": 1}, {"0": 2}, 1, group_type="classic"),
        schema.Fault("e", "a", "action", 1.0, 1.1, "succeeded", ["c-1"], landed=True),
        schema.LogRecord(0, 1, None, None, None, False, reason="undecodable"),
        schema.Output(0, 1, "p", "k", 0, None, "header", None),
    ]
    assert {type(r) for r in samples} == set(RECORD_TYPES)
    for record in samples:
        assert dataclasses.is_dataclass(record)
        path = tmp_path / f"{record.TYPE}.jsonl"
        sink = FileSink(path)
        sink.write(record.to_dict())
        sink.close()
        (back,) = read_jsonl(path, FILE_TYPES[record.FILE])
        assert back == json.loads(json.dumps(record.to_dict(v=True)))
