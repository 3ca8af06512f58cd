"""The evidence records' fields, described: JSON types, docstrings, docs/evidence.md's tables.

Everything here is read off the record classes of :mod:`workloads.evidence.schema`
(their type hints, and the docstring under each field), so the documentation
cannot drift from the records the writers build. docs/evidence.md holds one
generated table per record type between markers::

    <!-- fields: send -->
    | field | type | | meaning |
    …
    <!-- /fields -->

``python -m workloads.evidence.fields docs/evidence.md`` rewrites them;
``--check`` exits 1 when they differ from the schema (a test runs that check).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import re
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from workloads.evidence.schema import BY_TYPE, EvidenceRecord, is_optional

MARKER = re.compile(r"<!-- fields: (?P<type>[a-z_]+) -->\n.*?<!-- /fields -->", re.DOTALL)


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One field of an evidence record."""

    name: str
    """The JSON key."""
    hint: Any
    """The Python type hint (``int | None``, ``list[int]``, …)."""
    extension: bool
    """An extension field (written only when it has a value), not a required one."""
    doc: str
    """The docstring under the field, on one line."""


def fields_of(cls: type[EvidenceRecord]) -> list[FieldInfo]:
    """The fields of one record class, in the order its lines write them."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    return [
        FieldInfo(f.name, hints[f.name], is_optional(f), docs.get(f.name, ""))
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
    ]


def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each annotated field of ``cls`` and its bases (PEP 257's
    attribute docstrings, as Sphinx reads them)."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        node = _class_node(klass)
        if node is None:
            continue
        body = node.body
        for stmt, after in zip(body, body[1:], strict=False):
            if (
                isinstance(stmt, ast.AnnAssign)
                and isinstance(stmt.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                out[stmt.target.id] = " ".join(after.value.value.split())
    return out


@cache
def _module_tree(module: str) -> ast.Module | None:
    mod = sys.modules.get(module)
    if mod is None:
        return None
    try:
        return ast.parse(inspect.getsource(mod))
    except (OSError, TypeError):
        return None


def _class_node(klass: type) -> ast.ClassDef | None:
    tree = _module_tree(klass.__module__)
    if tree is None:
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == klass.__name__:
            return node
    return None


def json_type(hint: Any) -> str:
    """A type hint as a reader of the JSON sees it: ``integer or null``, ``array of integers``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        kinds = [json_type(a) for a in args if a is not type(None)]
        return " or ".join(kinds) + (" or null" if type(None) in args else "")
    if hint is Any:
        return "any JSON"
    if hint in _SCALARS:
        return _SCALARS[hint]
    if origin is tuple:
        return "[" + ", ".join(json_type(a) for a in args) + "]"
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        return f"object of {_plural(json_type(args[1]))}" if args else "object"
    if origin is not None and isinstance(origin, type) and issubclass(origin, Sequence):
        return f"array of {_plural(json_type(args[0]))}" if args and args[0] is not Any else "array"
    raise TypeError(f"no JSON type for {hint!r}")


_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _plural(kind: str) -> str:
    if " " in kind or kind.startswith("["):
        return kind if kind.startswith("[") else f"({kind})"
    return kind + "s"


def markdown_table(cls: type[EvidenceRecord]) -> str:
    """The field table of one record type, as docs/evidence.md shows it."""
    rows = ["| field | type | | meaning |", "|---|---|---|---|"]
    for f in fields_of(cls):
        kind = json_type(f.hint)
        if f.extension:
            # An extension without a value is left out, never written as null.
            kind = kind.removesuffix(" or null")
        status = "extension" if f.extension else "required"
        doc = f.doc.replace("``", "`")
        rows.append(f"| `{f.name}` | {kind} | {status} | {doc} |")
    return "\n".join(rows)


def render(text: str) -> str:
    """``text`` (a Markdown page) with every marked field table generated afresh."""

    def table(m: re.Match[str]) -> str:
        kind = m.group("type")
        if kind not in BY_TYPE:
            raise KeyError(f"docs name an evidence type the schema does not have: {kind!r}")
        return f"<!-- fields: {kind} -->\n{markdown_table(BY_TYPE[kind])}\n<!-- /fields -->"

    return MARKER.sub(table, text)


def documented_types(text: str) -> list[str]:
    """The record types ``text`` has a marked field table for."""
    return [m.group("type") for m in MARKER.finditer(text)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workloads.evidence.fields",
        description="Write (or --check) the evidence field tables of a Markdown page "
        "from workloads/evidence/schema.py.",
    )
    parser.add_argument("page", type=Path, help="the page, e.g. docs/evidence.md")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the page's tables are out of date"
    )
    args = parser.parse_args(argv)
    text = args.page.read_text(encoding="utf-8")
    fresh = render(text)
    if args.check:
        if fresh != text:
            print(f"{args.page}: field tables differ from the schema; run without --check")
            return 1
        return 0
    if fresh != text:
        args.page.write_text(fresh, encoding="utf-8")
        print(f"{args.page}: field tables rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
