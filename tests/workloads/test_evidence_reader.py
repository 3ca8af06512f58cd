"""The streaming evidence reader: a writer cut by SIGKILL, damaged lines, unknown versions and types."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.workloads.support import ROOT, wait_for
from workloads.evidence.reader import ReadIssue, read_files, read_jsonl
from workloads.evidence.schema import FILE_TYPES, EvidenceError

# A writer that streams each record with json.dump straight to the file: every
# JSON token is its own write(2), so a SIGKILL lands mid-line (FileSink writes
# whole lines, but a reader must not depend on every writer doing so).
WRITER = textwrap.dedent(
    """
    import io, json, sys, time
    fh = io.TextIOWrapper(open(sys.argv[1], "ab", buffering=0), write_through=True)
    i = 0
    while True:
        json.dump({"v": 1, "type": "processed", "member": "m-1", "partition": i % 3,
                   "records": [[i, "p", "k%d" % (i % 7), i]] * (1 + i % 5), "t": time.time()}, fh)
        fh.write("\\n")
        i += 1
    """
)


def _killed_mid_write(path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT)
    try:
        wait_for(lambda: path.exists() and path.stat().st_size > 50_000, 20, "the writer's output")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def test_a_line_cut_by_sigkill_is_reported_as_truncated_and_the_rest_is_read(
    tmp_path: Path,
) -> None:
    # The kill lands mid-line almost always; in the rare other case (between two
    # lines, or between a complete object and its newline) try again.
    for attempt in range(10):
        path = tmp_path / f"m-1.{attempt}.jsonl"
        _killed_mid_write(path)
        raw = path.read_bytes()
        if not raw.endswith(b"\n") and not _parses(raw.rsplit(b"\n", 1)[-1]):
            break
    else:
        pytest.fail("ten SIGKILLs all landed on a line boundary")
    complete = raw.count(b"\n")
    issues: list[ReadIssue] = []
    records = list(read_jsonl(path, FILE_TYPES["consumed"], issues))
    assert len(records) == complete
    assert [r["records"][0][0] for r in records] == list(range(complete))
    assert [(i.kind, i.line) for i in issues] == [("truncated", complete + 1)]
    assert "truncated" in str(issues[0])


def _parses(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


def _write(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


GOOD = '{"v":1,"type":"stop","member":"m","reason":"close","t":1.0}'


def test_a_damaged_line_before_the_end_is_reported_as_malformed_and_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.jsonl", GOOD, '{"v":1,"type":"st', "", GOOD)
    issues: list[ReadIssue] = []
    assert len(list(read_jsonl(path, FILE_TYPES["consumed"], issues))) == 2
    assert [(i.kind, i.line) for i in issues] == [("malformed", 2)]


def test_a_complete_last_line_without_newline_is_read(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(GOOD + "\n" + GOOD)
    issues: list[ReadIssue] = []
    assert len(list(read_jsonl(path, FILE_TYPES["consumed"], issues))) == 2
    assert issues == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"v":2,"type":"stop","member":"m","reason":"close","t":1}', "version 2 is not supported"),
        ('{"type":"stop","member":"m","reason":"close","t":1}', "version None is not supported"),
        ('{"v":1,"type":"rebalanced","member":"m","t":1}', "unknown evidence type 'rebalanced'"),
        ('{"v":1,"type":"send","producer":"p"}', "does not belong in this file"),
        ('{"v":1,"type":"stop","member":"m","t":1}', "stop record lacks reason"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_evidence_that_cannot_be_interpreted_is_a_clear_error(
    tmp_path: Path, line: str, message: str
) -> None:
    path = _write(tmp_path / "c.jsonl", GOOD, line)
    with pytest.raises(EvidenceError, match=message) as exc:
        list(read_jsonl(path, FILE_TYPES["consumed"]))
    assert ":2:" in str(exc.value)  # names the file and line


def test_read_files_reads_several_files_of_one_kind_in_turn(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.jsonl", GOOD)
    b = _write(tmp_path / "b.jsonl", GOOD.replace('"m"', '"n"'))
    assert [r["member"] for r in read_files([a, b], "consumed")] == ["m", "n"]
