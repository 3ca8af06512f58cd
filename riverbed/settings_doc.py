"""docs/settings.md: every setting of every riverbed program, generated from the code.

The tables are read from the parsers themselves — the ``riverbed`` CLI's click
commands, the workload commands' argument parsers, the Locust users' options,
the experiments' configuration, and the registries of
:mod:`workloads.settings_core` and :mod:`workloads.client_config` — so they
cannot drift from what the programs accept; ``tests/test_settings_doc.py``
fails when docs/settings.md is not what this module prints::

    python -m riverbed.settings_doc            # print the document
    python -m riverbed.settings_doc --write    # rewrite docs/settings.md
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import click

from riverbed.paths import PROJECT_ROOT
from workloads import client_config
from workloads.settings_core import ENVIRONMENT_ONLY, SHARED, TUTORIAL_VARIABLES

DOC = PROJECT_ROOT / "docs" / "settings.md"

#: The workload commands and the function that builds each one's parser.
WORKLOAD_COMMANDS = (
    ("python -m workloads.consumer", "workloads.consumer.cli", "build_parser"),
    ("python -m workloads.producer", "workloads.producer.cli", "build_parser"),
    ("python -m workloads.monitor", "workloads.monitor", "build_parser"),
    ("python -m workloads.drain", "workloads.drain", "build_parser"),
    ("python -m workloads.collect", "workloads.collect", "build_parser"),
    ("python -m workloads.evidence.shipper", "workloads.evidence.shipper", "build_parser"),
)

#: What each variable a consumer under test receives means (the names come from the code:
#: a variable the code sets and this table does not describe fails the docs test).
CONSUMER_VARIABLES = {
    "KAFKA_BROKER": "one bootstrap address, `HOST:PORT` (tutorials pass it as "
    '`[os.environ["KAFKA_BROKER"]]`)',
    "KAFKA_BOOTSTRAP_SERVERS": "all bootstrap addresses, comma-separated",
    "KAFKA_TOPIC": "the data topic the load goes to (fresh per run)",
    "KAFKA_GROUP": "the consumer group (fresh per run)",
    "KAFKA_OUTPUT_TOPIC": "output-topic evidence only: where your service must write",
    "KAFKA_CLIENT_CONFIG": "every connection setting below as one JSON object in "
    'librdkafka\'s names (`{"security.protocol": "SASL_SSL", …}`); `{}` on a cluster '
    "without TLS or SASL — `Consumer({**json.loads(os.environ['KAFKA_CLIENT_CONFIG']), …})`",
    "RIVERBED_REPLICA": "the replica (`consumer-2`)",
    "RIVERBED_INCARNATION": "its incarnation (1, 2, … after each restart)",
    "RIVERBED_MEMBER": "the evidence identity `consumer-2.1`",
    "RIVERBED_RUN_DIR": "the run directory",
}
#: The variables only an instrumented consumer gets (``--consumer-evidence instrumented``).
INSTRUMENT_VARIABLES = {
    "PYTHONPATH": "riverbed's instrumentation directory first, then yours",
    "RIVERBED_INSTRUMENT": "`1`: the instrumentation's `sitecustomize` hooks the client libraries "
    "(and the Java agent is on)",
    "JAVA_TOOL_OPTIONS": "a command that is not Python (a JVM): yours, then "
    "`-javaagent:<riverbed's agent jar>`",
    "RIVERBED_EVIDENCE_DIR": "where the instrumentation writes `consumed/<member>.jsonl`",
    "RIVERBED_TOPIC": "the topic whose consumers are recorded",
    "RIVERBED_GROUP": "the group whose consumers are recorded",
}


# ---- rendering helpers ---------------------------------------------------------------------


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _code(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names if n)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


_ENV_NOTE = re.compile(r"\s*\[env [^\]]*\]")


def _help(text: str | None) -> str:
    """The help text on one line, without its ``[env …]`` note (the table has a column)."""
    return _ENV_NOTE.sub("", " ".join((text or "").split())).strip()


def _default(value: Any) -> str:
    if value is None or value is False or value in ((), [], ""):
        return ""
    if "Sentinel" in type(value).__name__ or "UNSET" in repr(value):
        return ""  # click's "no default"
    if value is True:
        return "on"
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return f"`{value}`"


# ---- the riverbed CLI (click) -----------------------------------------------------------------


def _option_variables(option: click.Option) -> list[str]:
    """The variables click reads for an option, in order: the rule's name first
    (:func:`riverbed.settings.apply_rule`), then older or shared names."""
    own = option.envvar
    return [own] if isinstance(own, str) else list(own or [])


def riverbed_cli() -> list[str]:
    from riverbed.cli import main
    from riverbed.settings import options, walk

    lines = [
        "## `riverbed`",
        "",
        "One rule for every option of every command: the flag wins, then its variable "
        "`RIVERBED_<COMMAND>_<LONG NAME>` (upper case, dashes as underscores: "
        "`RIVERBED_RUN_COMMIT_MODE`, `RIVERBED_KAFKA_UP_BASE_PORT`; the first one listed, "
        "then older or shared names), then `riverbed.toml` (one table per command, keyed "
        'by the long name: `[run] commit-mode = "before-process"`, '
        '`experiment = ["a.json", "b.yaml"]`; `[kafka.up]` for `riverbed kafka up`), then '
        "the default. A repeatable option's variable takes its values separated by spaces "
        "(file paths, such as `RIVERBED_RUN_EXPERIMENT`, by `:` as in PATH). "
        "`riverbed validate` reads the settings of `riverbed run` (`[run]`, `RIVERBED_RUN_*`): "
        "it checks what that run would do. "
        "An unknown key or table in the file, or a `RIVERBED_<COMMAND>_…` variable of the "
        "command being run that names none of its options, is refused with the closest "
        "name (exit 4); any other `RIVERBED_*` variable that no program below reads is "
        "reported with a warning.",
        "",
    ]
    for path, command in walk(main):
        opts = [o for o in options(command) if not o.hidden]
        if not opts or command.hidden:
            continue
        title = " ".join(("riverbed", *path))
        lines += [f"### `{title}`", ""]
        rows = []
        for o in opts:
            flags = [*o.opts, *o.secondary_opts]
            rows.append(
                [
                    _code(flags),
                    _code(_option_variables(o)),
                    _default(None if callable(o.default) else o.default),
                    _help(o.help),
                ]
            )
        lines += _table(["flag", "variables", "default", "what"], rows) + [""]
    return lines


# ---- workload commands (argparse) --------------------------------------------------------------


def _parsers(title: str, parser: argparse.ArgumentParser) -> Iterator[tuple[str, Any]]:
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield title, parser
        return
    for name, sub in subparsers[0].choices.items():
        yield f"{title} {name}", sub


def workload_commands() -> list[str]:
    import importlib

    from workloads.settings_core import KAFKA_CONFIG

    lines = [
        "## Workload commands",
        "",
        "The reference consumer, the producer, the group monitor, the log drain and the "
        "evidence collector. A flag wins, then the first variable listed that is set, then "
        "the default. In a container the tutorial's `KAFKA_BROKER`, `KAFKA_TOPIC` and "
        "`KAFKA_GROUP` are the usual way in; riverbed passes flags.",
        "",
    ]
    for title, module, builder in WORKLOAD_COMMANDS:
        parser = getattr(importlib.import_module(module), builder)()
        for name, sub in _parsers(title, parser):
            specs = {s.dest: s for s in getattr(sub, "_env_specs", [])}
            rows = []
            for action in sub._actions:
                if not action.option_strings or action.dest == "help":
                    continue
                spec = specs.get(action.dest)
                if spec is not None:
                    variables = list(spec.envs)
                    default = spec.default
                elif action.dest == "kafka_config_items":
                    variables = list(KAFKA_CONFIG.envs)
                    default = None
                else:
                    variables, default = [], action.default
                rows.append(
                    [
                        _code(action.option_strings),
                        _code(variables),
                        _default(default),
                        _help(action.help),
                    ]
                )
            lines += [f"### `{name}`", ""]
            lines += _table(["flag", "variables", "default", "what"], rows) + [""]
    return lines


# ---- Locust ----------------------------------------------------------------------------------------


def locust_options() -> list[str]:
    from locustfiles import settings

    lines = [
        "## Locust users (`locust -f locustfiles/…`)",
        "",
        "riverbed's options, parsed with Locust's own (`python -m locustfiles` lists them). "
        "A flag wins, then the first variable listed that is set, then the default.",
        "",
    ]
    groups = (
        ("every user", settings.COMMON_OPTIONS),
        ("the Kafka user (`kafka_producer.py`)", settings.KAFKA_OPTIONS),
        ("the HTTP user (`http_producer.py`)", settings.HTTP_OPTIONS),
        ("load shapes", settings.SHAPE_OPTIONS),
    )
    for title, options in groups:
        rows = [
            [_code([o.flag]), _code(o.env), _default(o.default), _help(o.help)] for o in options
        ]
        lines += [f"### {title}", ""]
        lines += _table(["flag", "variables", "default", "what"], rows) + [""]
    return lines


# ---- experiments -------------------------------------------------------------------------------------


def experiment_variables() -> list[str]:
    found: dict[str, dict[str, Any]] = {}
    for folder, where in (("experiments/local", "local"), ("experiments", "kind")):
        for path in sorted((PROJECT_ROOT / folder).glob("*.json")):
            data = json.loads(path.read_text())
            for entry in (data.get("configuration") or {}).values():
                if isinstance(entry, dict) and entry.get("type") == "env":
                    row = found.setdefault(entry["key"], {"defaults": {}, "experiments": set()})
                    row["defaults"].setdefault(where, entry.get("default"))
                    row["experiments"].add(
                        f"{where}/{path.stem}" if where == "local" else path.stem
                    )
    rows = []
    for name in sorted(found):
        row = found[name]
        defaults = "; ".join(
            f"{where}: {_default(value) or '(empty: resolved, see below)'}"
            for where, value in sorted(row["defaults"].items())
        )
        experiments = sorted(row["experiments"])
        shown = ", ".join(experiments[:4]) + (
            f" (+{len(experiments) - 4})" if len(experiments) > 4 else ""
        )
        rows.append([f"`{name}`", defaults, shown])
    return [
        "## Chaos experiments",
        "",
        "The experiments read their configuration from these variables (`riverbed run` sets "
        "the targets; see docs/chaos.md). An empty target is resolved by the activity: "
        "riverbed's variables (" + _code(_riverbed_target_variables()) + "), then the running "
        "local platform, then the tutorial's ("
        + _code(sorted(TUTORIAL_VARIABLES - {"KAFKA_CLIENT_CONFIG"}))
        + "), then "
        "the defaults. Connection settings (TLS, SASL) come from `RIVERBED_KAFKA_CONFIG`; an "
        "experiment's `kafka` secret may add to them (any accepted spelling).",
        "",
        *_table(["variable", "default", "experiments"], rows),
        "",
    ]


def _riverbed_target_variables() -> list[str]:
    from workloads.settings_core import KAFKA_BOOTSTRAP, KAFKA_GROUP, KAFKA_TOPIC

    return [
        n for s in (KAFKA_BOOTSTRAP, KAFKA_TOPIC, KAFKA_GROUP) for n in s.envs
        if n not in TUTORIAL_VARIABLES
    ]  # fmt: skip


# ---- shared settings, connection settings, consumer environment, environment only ----------


def shared_settings() -> list[str]:
    rows = [
        [
            s.key,
            _code(s.flags),
            f"`{s.env}`",
            _code(s.env_aliases),
            s.help + (" (secret: never printed)" if s.secret else ""),
        ]
        for s in SHARED
    ]
    return [
        "## Settings shared by several programs",
        "",
        "One name everywhere; the older names are aliases that keep working (read after the "
        "canonical variable, in the order listed).",
        "",
        *_table(["setting", "flags", "variable", "aliases", "what"], rows),
        "",
    ]


def connection_settings() -> list[str]:
    rows = [
        [
            f"`{k.name}`",
            _code([k.kafka_python]),
            f"`{k.env}`",
            _code(k.aliases),
            k.help + (" — secret: masked as `(set)` in spec.json" if k.secret else ""),
        ]
        for k in client_config.KEYS
    ]
    return [
        "## Kafka client connection settings (`--kafka-config`)",
        "",
        "Given once in librdkafka / Java spelling (`--kafka-config KEY=VALUE`, or "
        f"`{client_config.ENV}` as a JSON object or items); translated for kafka-python by "
        "`workloads/client_config.py`; handed to a consumer under test as `KAFKA_<NAME>` and "
        f"`{client_config.CONSUMER_ENV}`. Other spellings are accepted: kafka-python's names, "
        "underscores for dots. An unknown `security.`/`sasl.`/`ssl.` key is an error.",
        "",
        *_table(["setting", "kafka-python", "consumer variable", "also accepted", "what"], rows),
        "",
    ]


def consumer_environment() -> list[str]:
    """The variables a consumer under test receives, as the code sets them."""
    names = consumer_variable_names()
    instrumented = [n for n in consumer_variable_names("instrumented") if n not in names]
    undescribed = sorted(
        [n for n in names if n not in CONSUMER_VARIABLES and not _is_connection_variable(n)]
        + [n for n in instrumented if n not in INSTRUMENT_VARIABLES]
    )
    if undescribed:
        raise SystemExit(
            f"riverbed.settings_doc: describe {', '.join(undescribed)} in CONSUMER_VARIABLES "
            "or INSTRUMENT_VARIABLES"
        )
    rows = [[f"`{n}`", CONSUMER_VARIABLES[n]] for n in names if n in CONSUMER_VARIABLES]
    rows += [
        [f"`{k.env}`", f"`{k.name}` when given" + (" (a secret)" if k.secret else "")]
        for k in client_config.KEYS
    ]
    rows += [[f"`{n}`", "instrumented evidence: " + INSTRUMENT_VARIABLES[n]] for n in instrumented]
    return [
        "## What a consumer under test receives (`--consumer-cmd`)",
        "",
        "Besides your own environment, which passes through.",
        "",
        *_table(["variable", "value"], rows),
        "",
    ]


def _is_connection_variable(name: str) -> bool:
    return any(k.env == name for k in client_config.KEYS)


def consumer_variable_names(evidence: str = "offsets") -> list[str]:
    """The names :func:`riverbed.user_consumer.replica_env` sets (every optional one on)."""
    from riverbed.user_consumer import replica_env

    # Values the checks accept together (any existing file stands in for the PEM files).
    every = {k.name: (__file__ if k.path else "x") for k in client_config.KEYS}
    every.update({"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN"})
    every["ssl.endpoint.identification.algorithm"] = "https"
    settings = client_config.check(every)
    config = {
        "bootstrap_servers": "h:1",
        "topic": "t",
        "group": "g",
        "run_dir": "/r",
        "output_topic": "o",
        "consumer_evidence": evidence,
        "java_agent": "/riverbed-agent.jar" if evidence == "instrumented" else None,
    }
    base = {client_config.ENV: client_config.to_json(settings)}
    return list(replica_env(config, "consumer-1", 1, base=base))


def environment_only() -> list[str]:
    rows = [
        [f"`{v.name}`", v.default and f"`{v.default}`", v.read_by, v.help]
        for v in ENVIRONMENT_ONLY
        if not v.internal
    ]
    internal = [v for v in ENVIRONMENT_ONLY if v.internal]
    lines = [
        "## Environment only",
        "",
        "Variables with no flag.",
        "",
        *_table(["variable", "default", "read by", "what"], rows),
        "",
    ]
    if internal:
        lines += [
            "Set by riverbed for the processes it starts (not meant to be set by hand): "
            + "; ".join(f"`{v.name}` ({v.help})" for v in internal)
            + ".",
            "",
        ]
    return lines


def document() -> str:
    lines = [
        "# Settings",
        "",
        "<!-- Generated by `python -m riverbed.settings_doc --write` from the code; "
        "tests/test_settings_doc.py fails when it is stale. Do not edit by hand. -->",
        "",
        "Every program reads a setting from its flag, then its environment variable(s), then "
        "a default (the `riverbed` CLI also from `riverbed.toml`). A bad value from either "
        "source stops the program with a message naming both: exit code 4 for the "
        "`riverbed` CLI (bad input), 2 for the workloads and Locust.",
        "",
    ]
    for part in (
        shared_settings,
        connection_settings,
        riverbed_cli,
        workload_commands,
        locust_options,
        experiment_variables,
        consumer_environment,
        environment_only,
    ):
        lines += part()
    return "\n".join(lines).rstrip() + "\n"


def known_variables() -> set[str]:
    """Every ``RIVERBED_*`` variable a riverbed program reads or sets: the names this
    document lists (the CLI's, the workloads', Locust's, the experiments', …)."""
    return set(re.findall(r"`(RIVERBED_[A-Z0-9_]*[A-Z0-9])`", document()))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    text = document()
    if "--write" in args:
        DOC.write_text(text)
        print(f"wrote {DOC}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
