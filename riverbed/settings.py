"""One settings rule for every ``riverbed`` command: flag, environment, ``riverbed.toml``.

Precedence, highest first: the command line, then the environment, then the
settings file, then the built-in default. The names follow one rule: an
option's **long name** is its TOML key in the command's table, and, upper-cased
with the command's path, its environment variable::

    riverbed run --commit-mode before-process --experiment a.json --experiment b.yaml
    RIVERBED_RUN_COMMIT_MODE=before-process RIVERBED_RUN_EXPERIMENT="a.json:b.yaml"

    [run]                         # riverbed.toml
    commit-mode = "before-process"
    experiment = ["a.json", "b.yaml"]

    [kafka.up]                    # riverbed kafka up
    base-port = 29092

A few options also read older or shared names after that one (``RIVERBED_PLATFORM``,
``KAFKA_BROKER``…); docs/settings.md lists every name. A key the file's table does
not know, a table that names no command, and a ``RIVERBED_<COMMAND>_…`` variable of
the command being run that names none of its options are refused with the closest
match (exit 4); any other unknown ``RIVERBED_*`` variable is reported with a warning.

The file is found at ``--config PATH``, ``$RIVERBED_CONFIG``, or ``./riverbed.toml``.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click

from riverbed.errors import BadInput

PREFIX = "RIVERBED"


def config_path(explicit: str | Path | None = None) -> Path | None:
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise BadInput(
                f"Settings file {path} does not exist.",
                fix="check --config (or drop it: ./riverbed.toml is read when present).",
            )
        return path
    if env := os.environ.get("RIVERBED_CONFIG"):
        path = Path(env)
        if not path.is_file():
            raise BadInput(
                f"RIVERBED_CONFIG names {path}, which does not exist.",
                fix="fix or unset RIVERBED_CONFIG.",
            )
        return path
    local = Path("riverbed.toml")
    return local if local.is_file() else None


# ---- names ------------------------------------------------------------------------------------


def long_name(option: click.Option) -> str:
    """The option's long name without dashes: ``--commit-mode`` → ``commit-mode``."""
    longs = [o for o in option.opts if o.startswith("--")]
    return (longs[0] if longs else option.opts[0]).lstrip("-")


#: Commands that read another command's settings: `riverbed validate` checks what
#: `riverbed run` would run, so it reads [run] and RIVERBED_RUN_*.
SETTINGS_OF: dict[tuple[str, ...], tuple[str, ...]] = {("validate",): ("run",)}


def env_name(path: tuple[str, ...], option: click.Option) -> str:
    """The option's variable: ``RIVERBED_<COMMAND PATH>_<LONG NAME>``, upper case."""
    path = SETTINGS_OF.get(path, path)
    return "_".join((PREFIX, *path, long_name(option))).upper().replace("-", "_")


def options(command: click.Command) -> list[click.Option]:
    """The settings of one command: its options, without --help and --version."""
    return [
        p
        for p in command.params
        if isinstance(p, click.Option) and p.name not in ("help", "version")
    ]


def walk(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command of the CLI with its path (``()`` is the group itself)."""
    yield path, group
    for name in sorted(group.commands):
        command = group.commands[name]
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))
        else:
            yield (*path, name), command


def apply_rule(group: click.Group) -> None:
    """Give every option of the CLI its variable by the rule (its older names after it),
    and show them in ``--help``."""
    for path, command in walk(group):
        for option in options(command):
            canonical = env_name(path, option)
            own = option.envvar
            aliases = [own] if isinstance(own, str) else list(own or [])
            option.envvar = [canonical, *(a for a in aliases if a != canonical)]
            option.show_envvar = True
            if not option.is_flag and option.default is not None and not option.show_default:
                option.show_default = True
            # Only the names above: click's automatic name (from the parameter's
            # name, `…_EXPERIMENTS`) would be a second, undocumented rule.
            option.allow_from_autoenv = False


def cli_variables(group: click.Group) -> dict[str, str]:
    """Every variable the CLI reads → the command and flag it sets (``run --duration``)."""
    out: dict[str, str] = {}
    for path, command in walk(group):
        for option in options(command):
            names = [option.envvar] if isinstance(option.envvar, str) else option.envvar or []
            for name in names:
                out.setdefault(name, " ".join((*path, "--" + long_name(option))).strip())
    return out


def closest(word: str, candidates: list[str] | set[str]) -> str | None:
    found = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def _did_you_mean(word: str, candidates: list[str] | set[str]) -> str:
    match = closest(word, candidates)
    return f" (did you mean {match}?)" if match else ""


# ---- riverbed.toml ------------------------------------------------------------------------------


def _command_at(group: click.Group, path: tuple[str, ...]) -> click.Command | None:
    command: click.Command = group
    for name in path:
        if not isinstance(command, click.Group) or name not in command.commands:
            return None
        command = command.commands[name]
    return command


def default_map(group: click.Group, data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A click ``default_map`` from a parsed settings file; unknown tables and keys are
    refused (:class:`BadInput`) with the closest match."""

    def table(path: tuple[str, ...], values: Mapping[str, Any]) -> dict[str, Any]:
        command = _command_at(group, path)
        assert command is not None
        where = f"[{'.'.join(path)}]" if path else "the top level"
        by_key = {long_name(o): o for o in options(command)}
        subcommands = command.commands if isinstance(command, click.Group) else {}
        out: dict[str, Any] = {}
        for key, value in values.items():
            if isinstance(value, dict) and key in subcommands:
                out[key] = table((*path, key), value)
                continue
            option = by_key.get(key) or by_key.get(key.replace("_", "-"))
            if option is None or option.name is None:
                if isinstance(value, dict):
                    names = [".".join((*path, c)) for c in subcommands]
                    raise BadInput(
                        f"{source}: table [{'.'.join((*path, key))}] names no riverbed "
                        f"command{_did_you_mean('.'.join((*path, key)), names)}.",
                        fix="name a command's table: "
                        + ", ".join(f"[{n}]" for n in sorted(_tables(group))),
                    )
                what = " ".join(("riverbed", *path))
                raise BadInput(
                    f"{source}: {where} has no setting {key!r}{_did_you_mean(key, list(by_key))}.",
                    fix=f"use the long name of an option of `{what}` (`{what} --help`): "
                    + (", ".join(sorted(by_key)) or "it has none"),
                )
            if option.multiple and isinstance(value, str):
                value = [value]
            out[option.name] = value
        return out

    return table((), data)


def _tables(group: click.Group) -> list[str]:
    return [".".join(path) for path, command in walk(group) if path and options(command)]


def load_default_map(
    group: click.Group | None = None, explicit: str | Path | None = None
) -> dict[str, Any]:
    """The settings file as a click ``default_map`` (``{}`` without a file)."""
    path = config_path(explicit)
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(
            f"Settings file {path} cannot be read: {exc}.", fix="fix --config."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path} is not valid TOML: {exc}.", fix="fix the file.") from None
    if group is None:
        from riverbed.cli import main

        group = main
    found = default_map(group, data, str(path))
    for reader, source in SETTINGS_OF.items():
        if len(reader) == 1 and len(source) == 1 and source[0] in found:
            found.setdefault(reader[0], found[source[0]])
    return found


# ---- the environment ---------------------------------------------------------------------------


def check_environment(
    group: click.Group, invoked: tuple[str, ...], environ: Mapping[str, str] | None = None
) -> list[str]:
    """Refuse a ``RIVERBED_<COMMAND>_…`` variable of the invoked command that names none of
    its options (:class:`BadInput`, with the closest name); return a warning for every
    other ``RIVERBED_*`` variable no riverbed program reads."""
    environ = os.environ if environ is None else environ
    given = sorted(n for n in environ if n.startswith(PREFIX + "_"))
    if not given:
        return []
    cli = cli_variables(group)
    unknown = [n for n in given if n not in cli]
    if not unknown:
        return []
    from riverbed.settings_doc import known_variables

    known = set(cli) | known_variables()
    unknown = [n for n in unknown if n not in known]
    command = _command_at(group, invoked)
    if invoked and command is not None and not isinstance(command, click.Group):
        prefix = "_".join((PREFIX, *SETTINGS_OF.get(invoked, invoked))).upper().replace("-", "_")
        prefix += "_"
        own = sorted(env_name(invoked, o) for o in options(command))
        for name in unknown:
            if name.startswith(prefix):
                raise BadInput(
                    f"{name} is set, but `riverbed {' '.join(invoked)}` has no such setting"
                    f"{_did_you_mean(name, own)}.",
                    fix=f"rename or unset it; its settings are {', '.join(own)}.",
                )
    return [
        f"{name} is set, but no riverbed program reads it{_did_you_mean(name, known)}"
        for name in unknown
    ]
