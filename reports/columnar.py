"""Fast, tolerant reading of large evidence files into polars frames.

A 10M-message run has about 10M send lines, 10M log lines and 10M processed
records: parsing them one ``json.loads`` at a time takes minutes. This reader
cuts a file into blocks at line boundaries and lets polars parse each block
(multi-threaded, in native code), keeping only the columns a check needs.

It keeps the contract of :mod:`workloads.evidence.reader`:

- a truncated last line (a writer killed mid-write) is reported, not fatal;
- a damaged line elsewhere is reported and skipped: the block holding it is
  parsed again line by line, which also locates the line;
- an unknown version or type, a record of the wrong type for its file, or a
  required field missing is an :class:`EvidenceError` naming file and line.
"""

from __future__ import annotations

import io
import json
import types
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from workloads.evidence.fields import fields_of
from workloads.evidence.reader import ReadIssue
from workloads.evidence.schema import FILE_TYPES, EvidenceError, EvidenceRecord, check

#: Bytes per parsed block: large enough for polars to parallelise, small
#: enough that a block and its frame stay far below the memory budget.
BLOCK_BYTES = 32 << 20


#: The envelope every evidence line has.
ENVELOPE: dict[str, pl.DataType] = {"v": pl.Int64(), "type": pl.String()}


def dtype_of(hint: Any) -> pl.DataType:
    """The polars type a record field is read as, from its type hint in the schema.

    Scalars map to their polars type; a list of scalars of one type to a list of
    it; a tuple of mixed scalars (``[offset, producer, key, seq]``) to a list of
    strings (polars reads mixed JSON arrays as text); an object or ``Any`` to a
    string holding its JSON.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        return dtype_of(inner)
    if hint in _SCALAR_DTYPES:
        return _SCALAR_DTYPES[hint]
    if hint is Any or (isinstance(origin, type) and issubclass(origin, Mapping)):
        return pl.String()
    if origin is tuple:
        kinds = {repr(dtype_of(a)) for a in args}
        return pl.List(dtype_of(args[0]) if len(kinds) == 1 else pl.String())
    if isinstance(origin, type) and issubclass(origin, Sequence):
        return pl.List(dtype_of(args[0]))
    raise TypeError(f"no polars type for {hint!r}")


_SCALAR_DTYPES: dict[Any, pl.DataType] = {
    str: pl.String(),
    int: pl.Int64(),
    float: pl.Float64(),
    bool: pl.Boolean(),
}


def frame_schema(
    records: type[EvidenceRecord] | Iterable[type[EvidenceRecord]], *names: str
) -> dict[str, pl.DataType]:
    """Columns and polars types to read evidence lines of ``records`` into.

    Every field of the record types (their union, in order of first appearance),
    or only ``names``. A name no record type has, or that two of them type
    differently, is an error: the reader and the writers share one schema.
    """
    classes = [records] if isinstance(records, type) else list(records)
    found: dict[str, pl.DataType] = {}
    for cls in classes:
        for f in fields_of(cls):
            dtype = dtype_of(f.hint)
            if f.name in found and found[f.name] != dtype:
                raise TypeError(f"field {f.name!r} has two types: {found[f.name]} and {dtype}")
            found.setdefault(f.name, dtype)
    if not names:
        return found
    unknown = [n for n in names if n not in found]
    if unknown:
        kinds = ", ".join(c.TYPE for c in classes)
        raise KeyError(f"{', '.join(unknown)}: not a field of {kinds}")
    return {n: found[n] for n in names}


@dataclass
class FileRead:
    """One file read into a frame, with what the reader tolerated."""

    path: Path
    frame: pl.DataFrame
    issues: list[ReadIssue] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return any(i.kind == "truncated" for i in self.issues)

    @property
    def malformed(self) -> int:
        return sum(1 for i in self.issues if i.kind == "malformed")


def iter_blocks(
    path: Path,
    file_kind: str,
    schema: Mapping[str, pl.DataType],
    issues: list[ReadIssue],
    *,
    not_null: Sequence[str] = (),
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[pl.DataFrame]:
    """Yield one file as frames of consecutive records, each with exactly ``schema``'s columns.

    ``not_null`` names fields that must hold a value on every line (beyond the
    presence the schema module checks). Fields not in ``schema`` are ignored.
    Each frame gets a ``row`` column: the record's index in the file. Tolerated
    problems are appended to ``issues``.
    """
    allowed = FILE_TYPES[file_kind]
    schema = {**ENVELOPE, **schema}
    lines_before = 0
    rows_before = 0
    carry = b""
    with path.open("rb") as fh:
        while True:
            block = fh.read(block_bytes)
            if not block:
                break
            data = carry + block if carry else block
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            carry = data[cut + 1 :]
            body = data[: cut + 1]
            del data, block
            frame = _parse_block(body, path, lines_before, allowed, schema, not_null, issues)
            lines_before += body.count(b"\n")
            del body
            yield _with_row(frame, rows_before)
            rows_before += frame.height
    if carry.strip():
        # The file does not end with a newline: the writer was cut off, unless
        # the last line is a whole record that merely lacks its newline.
        try:
            json.loads(carry)
        except ValueError:
            issues.append(ReadIssue(str(path), lines_before + 1, "truncated", _snippet(carry)))
        else:
            frame = _parse_lines(
                carry + b"\n", path, lines_before, allowed, schema, not_null, issues
            )
            yield _with_row(frame, rows_before)


def read_frame(
    path: Path,
    file_kind: str,
    schema: Mapping[str, pl.DataType],
    *,
    not_null: Sequence[str] = (),
    block_bytes: int = BLOCK_BYTES,
) -> FileRead:
    """Read one JSON Lines evidence file into a single frame (see :func:`iter_blocks`)."""
    issues: list[ReadIssue] = []
    frames = list(
        iter_blocks(path, file_kind, schema, issues, not_null=not_null, block_bytes=block_bytes)
    )
    if not frames:
        empty = pl.DataFrame(schema={**ENVELOPE, **schema})
        frames.append(_with_row(empty, 0))
    out = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
    return FileRead(path, out, issues)


def _with_row(frame: pl.DataFrame, start: int) -> pl.DataFrame:
    return frame.with_columns(
        pl.int_range(start, start + frame.height, dtype=pl.Int64).alias("row")
    )


def _parse_block(
    body: bytes,
    path: Path,
    lines_before: int,
    allowed: frozenset[str],
    schema: Mapping[str, pl.DataType],
    not_null: Sequence[str],
    issues: list[ReadIssue],
) -> pl.DataFrame:
    try:
        frame = pl.read_ndjson(io.BytesIO(body), schema=dict(schema))
    except Exception:  # noqa: BLE001 - any parse problem: locate it line by line
        return _parse_lines(body, path, lines_before, allowed, schema, not_null, issues)
    if frame.height and not _valid(frame, allowed, not_null):
        # Re-read line by line: it raises an EvidenceError naming the line.
        return _parse_lines(body, path, lines_before, allowed, schema, not_null, issues)
    return frame


def _valid(frame: pl.DataFrame, allowed: frozenset[str], not_null: Sequence[str]) -> bool:
    checks = [
        (pl.col("v") == 1).fill_null(False).all(),
        pl.col("type").is_in(sorted(allowed)).fill_null(False).all(),
        *(pl.col(c).is_not_null().all() for c in not_null),
    ]
    row = frame.select(checks).row(0)
    return all(bool(x) for x in row)


def _parse_lines(
    body: bytes,
    path: Path,
    lines_before: int,
    allowed: frozenset[str],
    schema: Mapping[str, pl.DataType],
    not_null: Sequence[str],
    issues: list[ReadIssue],
) -> pl.DataFrame:
    """The slow path: one line at a time, exactly like the streaming reader."""
    rows: list[list[Any]] = []
    columns = list(schema)
    for n, raw in enumerate(body.split(b"\n"), start=lines_before + 1):
        stripped = raw.strip()
        if not stripped:
            continue
        try:
            record = json.loads(stripped)
        except ValueError:
            issues.append(ReadIssue(str(path), n, "malformed", _snippet(raw)))
            continue
        where = f"{path}:{n}"
        check(record, where, allowed)
        for name in not_null:
            if record.get(name) is None:
                raise EvidenceError(f"{where}: {record['type']} record has no value for {name}")
        rows.append([_coerce(record.get(c), schema[c], where, c) for c in columns])
    return pl.DataFrame(rows, schema=dict(schema), orient="row")


def _coerce(value: Any, dtype: pl.DataType, where: str, name: str) -> Any:
    """Convert one JSON value to what polars' reader would make of it for ``dtype``."""
    if value is None:
        return None
    if dtype == pl.String:
        if isinstance(value, str):
            return value
        return json.dumps(value, separators=(",", ":"))
    if dtype == pl.Boolean:
        if isinstance(value, bool):
            return value
    elif dtype == pl.Int64:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif dtype == pl.Float64:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif isinstance(dtype, pl.List):
        if isinstance(value, list):
            inner = dtype.inner
            assert isinstance(inner, pl.DataType)
            return [_coerce(v, inner, where, name) for v in value]
    else:  # pragma: no cover - the schemas here use only the types above
        return value
    raise EvidenceError(f"{where}: field {name!r} has {value!r}, which is not a {dtype}")


def _snippet(raw: bytes, width: int = 80) -> str:
    text = raw.decode("utf-8", errors="replace").rstrip("\n")
    return text if len(text) <= width else text[:width] + "…"
