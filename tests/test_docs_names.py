"""The docs name only what exists: every `riverbed` command line in README.md and
docs/*.md names a command and options the CLI has, every activity docs/chaos.md
documents is one `chaos discover` lists (and the other way round), and the Locust
command docs/load.md shows is the one `riverbed run` starts."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from riverbed.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Words that end a command line inside a code segment.
STOP = {"|", "||", "&&", ";", "#", "$(", "`"}
#: Options every command has.
GLOBAL = {"--help", "-h", "--config", "--version"}


def segments(text: str) -> list[str]:
    """Code as a reader sees it: fenced blocks (continuation lines joined, comments
    dropped) line by line, and inline code spans."""
    out: list[str] = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        out += [line.split(" # ")[0] for line in joined.splitlines()]
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    out += re.findall(r"`([^`\n]+)`", prose)
    return out


#: Words after which `riverbed` starts a command (else it is a value: `-n riverbed`).
STARTS = {"$(", "|", "||", "&&", ";", "then", "do", "env", "time", "exec"}


def invocations(segment: str) -> list[tuple[list[str], list[str]]]:
    """Each `riverbed …` in a segment — and in its `$(…)` substitutions, each a command
    line of its own: (command words, options). ``up/down`` names both commands."""
    inner = re.findall(r"\$\(([^()]*)\)", segment)
    outer = re.sub(r"\$\(([^()]*)\)", " SUBSTITUTION ", segment)
    found = [x for part in inner for x in invocations(part)]
    words = outer.split()
    for i, word in enumerate(words):
        if word.rsplit("/", 1)[-1] != "riverbed":
            continue
        before = words[i - 1] if i else ""
        if i and before not in STARTS and "=" not in before and "/" not in word:
            continue
        for alternative in words[i + 1].split("/") if i + 1 < len(words) else [""]:
            found.append(_command_line([alternative, *words[i + 2 :]]))
    return found


def _command_line(words: list[str]) -> tuple[list[str], list[str]]:
    command: click.Command = main
    path: list[str] = []
    flags: list[str] = []
    for w in words:
        if w in STOP or w.rsplit("/", 1)[-1] in ("riverbed", "locust", "chaos", "make"):
            break
        if not flags and isinstance(command, click.Group) and w in command.commands:
            command = command.commands[w]
            path.append(w)
        elif w.startswith("--"):
            flags.append(w.split("=", 1)[0].strip(".,:;\"'"))
    return path, flags


def _named() -> list[tuple[str, str, list[str], list[str]]]:
    out = []
    for doc in DOCS:
        for segment in segments(doc.read_text()):
            for path, flags in invocations(segment):
                out.append((doc.name, segment, path, flags))
    return out


NAMED = _named()


def test_the_docs_name_riverbed_commands_at_all():
    commands = {" ".join(p) for _, _, p, _ in NAMED}
    assert {
        "run",
        "report",
        "compare",
        "campaign",
        "validate",
        "kafka up",
        "up",
        "down",
    } <= commands


@pytest.mark.parametrize(
    ("doc", "segment", "path", "flags"), NAMED, ids=[f"{d}: {s[:60]}" for d, s, _, _ in NAMED]
)
def test_every_documented_command_line_exists(doc, segment, path, flags):
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group), f"{doc}: `{segment}`"
        command = command.commands[name]
    if isinstance(command, click.Group) and command is not main:
        return  # `riverbed kafka` alone: its subcommands are checked where named
    known = {o for p in command.params for o in (*p.opts, *getattr(p, "secondary_opts", []))}
    unknown = [f for f in flags if f not in known | GLOBAL]
    assert not unknown, (
        f"{doc}: `{segment}` names {unknown}, which `riverbed {' '.join(path)}` lacks"
    )


def test_every_activity_in_docs_chaos_md_is_discovered_and_the_other_way_round():
    from riverbed.chaos import discover

    table = (ROOT / "docs" / "chaos.md").read_text()
    documented: set[tuple[str, str]] = set()
    module = ""
    for line in table.splitlines():
        cells = line.split("|")
        if len(cells) < 4 or not line.startswith("|"):
            continue
        if m := re.match(r"\s*`(riverbed\.chaos\.[a-z_.]+)`", cells[1]):
            module = m.group(1)
        if module:
            for name in re.findall(r"`([a-z_]+)\(", cells[2]):
                documented.add((module, name))
    discovered = {(a["mod"], a["name"]) for a in discover()["activities"]}
    assert documented - discovered == set(), "documented in docs/chaos.md but not discovered"
    assert discovered - documented == set(), "discovered but missing from docs/chaos.md"


def test_docs_load_md_shows_the_locust_command_riverbed_run_starts(tmp_path):
    from riverbed.runner import locust_command
    from riverbed.spec import RunSpec

    text = (ROOT / "docs" / "load.md").read_text()
    block = text.split("### The command `riverbed run` uses")[1].split("```sh\n")[1].split("```")[0]
    documented = re.sub(r"\\\n\s*", " ", block).split()
    started = locust_command(RunSpec("r", topic="<topic>"), Path("runs/<id>"), "<bootstrap>")
    started = [str(Path(w).relative_to(ROOT)) if w.startswith(str(ROOT)) else w for w in started]
    assert documented[:3] == ["python", "-m", "locust"]
    assert documented[3:] == started[3:]
