"""The fast reader keeps the streaming reader's contract at every block boundary."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from reports.columnar import read_frame
from workloads.evidence.reader import read_jsonl
from workloads.evidence.schema import EvidenceError

SCHEMA = {
    "partition": pl.Int64(),
    "offset": pl.Int64(),
    "producer": pl.String(),
    "sha_ok": pl.Boolean(),
}


def _records(n: int) -> list[dict]:
    return [
        {
            "v": 1,
            "type": "record",
            "partition": i % 3,
            "offset": i,
            "producer": f"p{i}",
            "key": "k",
            "seq": i,
            "sha_ok": i % 5 != 0,
        }
        for i in range(n)
    ]


def _write(path: Path, recs: list[dict], tail: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs) + tail)
    return path


@pytest.mark.parametrize("block", [64, 97, 1000, 1 << 20])
def test_same_records_as_the_streaming_reader_for_any_block_size(tmp_path, block):
    path = _write(tmp_path / "log.jsonl", _records(200))
    got = read_frame(path, "log", SCHEMA, block_bytes=block)
    want = list(read_jsonl(path))
    assert got.frame["offset"].to_list() == [r["offset"] for r in want]
    assert got.frame["sha_ok"].to_list() == [r["sha_ok"] for r in want]
    assert got.frame["row"].to_list() == list(range(200))
    assert got.issues == []


@pytest.mark.parametrize("block", [64, 1 << 20])
def test_truncated_last_line_is_reported_not_fatal(tmp_path, block):
    path = _write(tmp_path / "log.jsonl", _records(20), tail='{"v":1,"type":"rec')
    got = read_frame(path, "log", SCHEMA, block_bytes=block)
    assert got.frame.height == 20
    assert got.truncated
    (issue,) = got.issues
    assert (issue.line, issue.kind) == (21, "truncated")


def test_whole_last_line_without_newline_is_kept(tmp_path):
    recs = _records(5)
    path = _write(tmp_path / "log.jsonl", recs[:4], tail=json.dumps(recs[4]))
    got = read_frame(path, "log", SCHEMA)
    assert got.frame["offset"].to_list() == [0, 1, 2, 3, 4]
    assert got.issues == []


@pytest.mark.parametrize("block", [64, 1 << 20])
def test_malformed_line_is_located_and_skipped(tmp_path, block):
    recs = _records(30)
    text = "".join(json.dumps(r) + "\n" for r in recs)
    lines = text.splitlines(keepends=True)
    lines.insert(12, "{garbage\n")
    path = tmp_path / "log.jsonl"
    path.write_text("".join(lines))
    got = read_frame(path, "log", SCHEMA, block_bytes=block)
    assert got.frame.height == 30
    assert got.malformed == 1
    assert got.issues[0].line == 13


def test_unknown_version_names_file_and_line(tmp_path):
    recs = _records(10)
    recs[6]["v"] = 3
    path = _write(tmp_path / "log.jsonl", recs)
    with pytest.raises(EvidenceError, match=r"log.jsonl:7: evidence version 3 is not supported"):
        read_frame(path, "log", SCHEMA, block_bytes=128)


def test_record_of_another_file_kind_is_refused(tmp_path):
    path = _write(
        tmp_path / "log.jsonl",
        [
            {
                "v": 1,
                "type": "group",
                "t": 1.0,
                "state": "Stable",
                "generation": 1,
                "members": {},
                "committed": {},
                "end_offsets": {},
                "partitions": 1,
            }
        ],
    )
    with pytest.raises(EvidenceError, match="does not belong in this file"):
        read_frame(path, "log", SCHEMA)


def test_required_value_missing(tmp_path):
    recs = _records(3)
    del recs[1]["offset"]
    path = _write(tmp_path / "log.jsonl", recs)
    with pytest.raises(EvidenceError, match=r"log.jsonl:2: record record lacks offset"):
        read_frame(path, "log", SCHEMA, not_null=("offset",))


def test_nested_values_read_as_json_text_on_both_paths(tmp_path):
    schema = {"offsets": pl.String(), "records": pl.List(pl.List(pl.String()))}
    line = {"v": 1, "type": "committed", "member": "m", "offsets": {"0": 5}, "ok": True, "t": 1.0}
    proc = {
        "v": 1,
        "type": "processed",
        "member": "m",
        "partition": 0,
        "records": [[4, "p", "k", 2]],
        "t": 1.0,
    }
    fast = _write(tmp_path / "a.jsonl", [line, proc])
    slow = _write(tmp_path / "b.jsonl", [line, proc], tail="{cut")  # a damaged tail
    a = read_frame(fast, "consumed", schema).frame
    b = read_frame(slow, "consumed", schema, block_bytes=16).frame
    assert json.loads(a["offsets"][0]) == json.loads(b["offsets"][0]) == {"0": 5}
    assert a["records"].to_list() == b["records"].to_list() == [None, [["4", "p", "k", "2"]]]
