"""``--var`` and ``--var-file``: Chaos Toolkit's substitution values, passed to each ``chaos run``.

The same flags as ``chaos run``'s, with the same meaning: ``--var KEY=VALUE`` (or
``KEY:TYPE=VALUE``, TYPE one of int, float, bytes, str) sets a configuration value;
``--var-file FILE`` loads configuration and secrets from a JSON or YAML file
(``{"configuration": {…}, "secrets": {…}}``) or environment variables from a
``.env`` file. riverbed checks them all before anything starts — ``chaos run``
itself only logs a missing or unreadable file and carries on — and refuses a
configuration key that none of the run's experiments declares (with the closest
key it does declare): a typo would otherwise run the fault with its default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError

VAR_TYPES = ("str", "int", "float", "bytes")


@dataclass(frozen=True)
class ChaosVars:
    """Checked ``--var`` / ``--var-file`` values of a run."""

    values: dict[str, str] = field(default_factory=dict)
    """``--var`` items as given: key (with its ``:type``, if any) → value."""
    files: tuple[str, ...] = ()
    """``--var-file`` paths, absolute."""
    configuration: dict[str, Any] = field(default_factory=dict)
    """Every configuration key the vars and the JSON/YAML files set (for checks)."""

    def chaos_args(self) -> list[str]:
        """The arguments of ``chaos run`` that pass them on, in Chaos Toolkit's order."""
        args: list[str] = []
        for key, value in self.values.items():
            args += ["--var", f"{key}={value}"]
        for path in self.files:
            args += ["--var-file", path]
        return args

    def to_json(self) -> dict[str, Any]:
        """What spec.json records: the vars (configuration, never secrets) and the files."""
        return {"var": dict(self.values), "var_file": list(self.files)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ChaosVars:
        data = data or {}
        return cls(dict(data.get("var") or {}), tuple(data.get("var_file") or ()))


def parse_var(item: str) -> tuple[str, str, Any]:
    """``KEY=VALUE`` or ``KEY:TYPE=VALUE`` → (key as given, bare key, converted value)."""
    key, sep, value = item.partition("=")
    bare, _, typ = key.partition(":")
    if not sep or not bare.strip():
        raise HarnessError(
            f"--var {item!r} is not KEY=VALUE.",
            fix="write --var KEY=VALUE or KEY:TYPE=VALUE (TYPE: int, float, bytes, str), as "
            "`chaos run` takes it.",
        )
    if typ and typ not in VAR_TYPES:
        raise HarnessError(
            f"--var {item!r}: unknown type {typ!r}.", fix=f"use one of {', '.join(VAR_TYPES)}."
        )
    converted: Any = value
    try:
        if typ == "int":
            converted = int(value)
        elif typ == "float":
            converted = float(value)
    except ValueError:
        raise HarnessError(
            f"--var {item!r}: {value!r} is not a{'n' if typ == 'int' else ''} {typ}.",
            fix=f"give a {typ}, or drop the :{typ}.",
        ) from None
    return key, bare, converted


def read_var_file(path: Path) -> dict[str, Any]:
    """A var file's configuration (JSON/YAML), or ``{}`` for a .env file; every problem
    ``chaos run`` would only log, or crash on, is a HarnessError here."""
    if not path.is_file():
        raise HarnessError(
            f"--var-file {path} does not exist.", fix="pass a JSON, YAML or .env file."
        )
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"--var-file {path} cannot be read: {exc}.", fix="fix it.") from None
    suffix = path.suffix.lower()
    if suffix in (".json", ".yaml", ".yml"):
        if suffix == ".json":
            try:
                data = json.loads(text) if text.strip() else {}
            except json.JSONDecodeError as exc:
                raise HarnessError(
                    f"--var-file {path} is not valid JSON: {exc}.", fix="fix the file."
                ) from None
        else:
            import yaml

            try:
                data = yaml.safe_load(text) or {}
            except yaml.YAMLError as exc:
                raise HarnessError(
                    f"--var-file {path} is not valid YAML: {str(exc).splitlines()[0]}.",
                    fix="fix the file.",
                ) from None
        if not isinstance(data, dict) or set(data) - {"configuration", "secrets"}:
            found = ", ".join(map(str, data)) if isinstance(data, dict) else type(data).__name__
            raise HarnessError(
                f"--var-file {path} must be a mapping with `configuration` and/or `secrets` "
                f"(found {found}).",
                fix='write {"configuration": {"KEY": "value"}, "secrets": {…}}, as Chaos '
                "Toolkit reads it.",
            )
        for section in ("configuration", "secrets"):
            if not isinstance(data.get(section, {}), dict):
                raise HarnessError(
                    f"--var-file {path}: `{section}` must be a mapping.", fix="fix the file."
                )
        return dict(data.get("configuration") or {})
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#") and "=" not in line:
            raise HarnessError(
                f"--var-file {path}:{n} is not NAME=VALUE (a .env file sets variables).",
                fix="fix the line, or give a JSON/YAML file with a `configuration` mapping.",
            )
    return {}


def check_vars(
    items: Sequence[str],
    files: Sequence[str],
    experiments: Sequence[Mapping[str, Any]],
) -> ChaosVars:
    """Check ``--var`` items and ``--var-file`` paths against the run's (loaded)
    experiments; returns what ``chaos run`` gets."""
    values: dict[str, str] = {}
    configuration: dict[str, Any] = {}
    for item in items:
        key, bare, converted = parse_var(item)
        values[key] = item.partition("=")[2]
        configuration[bare] = converted
    paths = []
    for name in files:
        path = Path(name).expanduser()
        configuration.update(read_var_file(path))
        paths.append(str(path.resolve()))
    declared = {k for exp in experiments for k in (exp.get("configuration") or {})}
    for key in configuration:
        if key not in declared:
            import difflib

            match = difflib.get_close_matches(key, sorted(declared), n=1, cutoff=0.6)
            hint = f" (did you mean {match[0]}?)" if match else ""
            raise HarnessError(
                f"Configuration key {key!r} (--var / --var-file) is declared by none of the "
                f"run's experiments{hint}.",
                fix="use a key of an experiment's `configuration`: "
                + (", ".join(sorted(declared)) or "these experiments declare none"),
            )
    return ChaosVars(values, tuple(paths), configuration)
