"""One settings rule for every option of every `riverbed` command: its variable
RIVERBED_<COMMAND>_<LONG NAME> and its riverbed.toml key (the long name) each take
effect — checked for every option by setting it and reading what click resolved."""

from __future__ import annotations

from typing import Any

import click
import pytest

from riverbed.cli import main
from riverbed.errors import HarnessError
from riverbed.settings import (
    check_environment,
    default_map,
    env_name,
    long_name,
    options,
    walk,
)

#: Values for options whose own checks refuse a plain word.
SPECIAL = {"heap": "1g", "kafka-config": "security.protocol=SSL"}


def _settings() -> list[tuple[tuple[str, ...], click.Command, click.Option]]:
    return [
        (path, command, option)
        for path, command in walk(main)
        if path  # the group's own --config is where the file comes from, not a setting of it
        for option in options(command)
    ]


def _pick(option: click.Option) -> tuple[str, Any]:
    """A value other than the default: (as a variable, as a TOML value)."""
    t = option.type
    default = option.default
    name = long_name(option)
    if option.is_flag:
        return "1", True
    if isinstance(t, click.Choice):
        choice = next(c for c in t.choices if c not in (default, (default,)))
        return str(choice), [choice] if option.multiple else choice
    if isinstance(t, click.types.IntParamType | click.IntRange):
        lo = getattr(t, "min", None)
        hi = getattr(t, "max", None)
        candidates = [v for v in ((lo or 0) + 1, lo, hi, 7) if v is not None]
        n = next(v for v in candidates if v != default and (lo is None or v >= lo))
        return str(n), n
    if isinstance(t, click.types.FloatParamType | click.FloatRange):
        x = (getattr(t, "min", None) or 0.0) + 1.5
        return str(x), x
    value = SPECIAL.get(name, f"value-of-{name}")
    if option.multiple and name not in SPECIAL:
        # A repeatable option's variable holds several values, split as click splits
        # them for its type: paths by os.pathsep (like PATH), other values by spaces.
        values = [f"{value}-a", f"{value}-b"]
        splitter = t.envvar_list_splitter
        return (splitter or " ").join(values), values
    return value, [value] if option.multiple else value


def _context(
    path: tuple[str, ...], command: click.Command, defaults: dict[str, Any] | None
) -> click.Context:
    """The command's context as `riverbed PATH` makes it (nothing is invoked)."""
    # With main's context settings, as `riverbed` makes it: click caches a command's help
    # option from the first context it sees, and `-h` must stay in it for later tests.
    ctx = click.Context(main, info_name="riverbed", default_map=defaults, **main.context_settings)
    parent: click.Command = main
    for name in path[:-1]:
        assert isinstance(parent, click.Group)
        parent = parent.commands[name]
        ctx = click.Context(parent, info_name=name, parent=ctx)
    args = []
    for p in command.params:
        if isinstance(p, click.Argument) and p.required:
            args.append("1" if isinstance(p.type, click.types.IntParamType) else "x")
    return command.make_context(path[-1], args, parent=ctx)


def _resolved(ctx: click.Context, option: click.Option) -> tuple[Any, Any]:
    assert option.name is not None
    if option.expose_value:
        return ctx.params[option.name], ctx.get_parameter_source(option.name)
    return ctx.meta.get(f"riverbed.{option.name}"), ctx.get_parameter_source(option.name)


SETTINGS = _settings()
IDS = [" ".join((*path, "--" + long_name(o))) for path, _, o in SETTINGS]


def test_every_command_has_settings_to_check():
    assert len(SETTINGS) > 150
    assert "run --experiment" in IDS and "kafka up --base-port" in IDS


@pytest.mark.parametrize(("path", "command", "option"), SETTINGS, ids=IDS)
def test_the_variable_named_by_the_rule_takes_effect(path, command, option, monkeypatch):
    for name in [option.envvar] if isinstance(option.envvar, str) else option.envvar:
        monkeypatch.delenv(name, raising=False)
    variable = env_name(path, option)
    assert option.envvar[0] == variable, "the rule's name is read first"
    raw, as_toml = _pick(option)
    monkeypatch.setenv(variable, raw)
    ctx = _context(path, command, None)
    value, source = _resolved(ctx, option)
    assert source == click.core.ParameterSource.ENVIRONMENT
    assert value == option.type_cast_value(ctx, as_toml)


@pytest.mark.parametrize(("path", "command", "option"), SETTINGS, ids=IDS)
def test_the_toml_key_named_by_the_rule_takes_effect(path, command, option, monkeypatch):
    for name in [option.envvar] if isinstance(option.envvar, str) else option.envvar:
        monkeypatch.delenv(name, raising=False)
    _, toml_value = _pick(option)
    table: dict[str, Any] = {long_name(option): toml_value}
    for name in reversed(path):
        table = {name: table}
    defaults = default_map(main, table, "riverbed.toml")
    ctx = _context(path, command, defaults)
    value, source = _resolved(ctx, option)
    assert source == click.core.ParameterSource.DEFAULT_MAP
    assert value == option.type_cast_value(ctx, toml_value)


def test_a_dashed_key_in_a_nested_table_takes_effect():
    defaults = default_map(main, {"kafka": {"up": {"base-port": 29092}}}, "riverbed.toml")
    assert defaults == {"kafka": {"up": {"base_port": 29092}}}


def test_one_experiment_as_a_string_is_a_list_of_one():
    defaults = default_map(main, {"run": {"experiment": "a.yaml"}}, "riverbed.toml")
    assert defaults == {"run": {"experiments": ["a.yaml"]}}


def test_validate_reads_the_settings_of_run(tmp_path, monkeypatch):
    from riverbed.settings import load_default_map

    (tmp_path / "riverbed.toml").write_text('[run]\nmax-recovery = "15s"\n')
    monkeypatch.chdir(tmp_path)
    assert load_default_map(main)["validate"] == {"max_recovery": "15s"}
    validate = main.commands["validate"]
    option = next(o for o in options(validate) if o.name == "max_recovery")
    assert option.envvar[0] == "RIVERBED_RUN_MAX_RECOVERY"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"run": {"durration": "2m"}}, "did you mean duration?"),
        ({"run": {"experiments": ["a.json"]}}, "did you mean experiment?"),
        ({"kafka": {"up": {"base-prot": 1}}}, "[kafka.up] has no setting 'base-prot'"),
        ({"kafak": {"up": {}}}, "[kafak] names no riverbed command"),
        ({"users": 3}, "the top level has no setting 'users'"),
    ],
)
def test_unknown_keys_are_refused_with_the_closest(table, message):
    with pytest.raises(HarnessError) as caught:
        default_map(main, table, "riverbed.toml")
    assert message in caught.value.message
    assert caught.value.exit_code == 4


def test_unknown_variables_are_refused_for_the_command_and_reported_otherwise():
    with pytest.raises(HarnessError, match="did you mean RIVERBED_RUN_EXPERIMENT"):
        check_environment(main, ("run",), {"RIVERBED_RUN_EXPERIMENTS": "a.json"})
    warnings = check_environment(main, ("run",), {"RIVERBED_RUNN_DURATION": "1m"})
    assert warnings == [
        "RIVERBED_RUNN_DURATION is set, but no riverbed program reads it "
        "(did you mean RIVERBED_RUN_DURATION?)"
    ]
    # Variables of the other programs (workloads, Locust, experiments) are known.
    assert (
        check_environment(
            main,
            ("run",),
            {"RIVERBED_KAFKA_STATE_DIR": "/s", "RIVERBED_SHAPE": "steady", "RIVERBED_RUN_DIR": "r"},
        )
        == []
    )
