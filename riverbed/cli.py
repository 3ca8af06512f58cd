"""The ``riverbed`` command line."""

from __future__ import annotations

from typing import Any

import click

from reports.exit_codes import BAD_INPUT_EXIT
from riverbed import __version__


class RiverbedGroup(click.Group):
    """A command group whose usage errors (a mistyped flag, a value click refuses, a
    missing argument) exit 4, bad input, like every other bad input: click's own 2 is
    riverbed's "inconclusive"."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            exc.exit_code = BAD_INPUT_EXIT  # type: ignore[misc]  # click: a ClassVar
            raise

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.parent is None:
            _check_environment(ctx)
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.exit_code = BAD_INPUT_EXIT  # type: ignore[misc]  # click: a ClassVar
            raise


def _check_environment(ctx: click.Context) -> None:
    """Refuse a misspelled variable of the command about to run; warn about other unknown
    ``RIVERBED_*`` variables (riverbed/settings.py)."""
    from riverbed.console import err
    from riverbed.errors import HarnessError
    from riverbed.settings import check_environment

    words = [*getattr(ctx, "_protected_args", []), *ctx.args]
    if {"-h", "--help"} & set(words):
        return
    try:
        for warning in check_environment(main, _invoked_path(ctx, words)):
            err.print(f"warning: {warning}", markup=False)
    except HarnessError as exc:
        err.print(f"error: {exc.message}", markup=False)
        if exc.fix:
            err.print(f"fix: {exc.fix}", markup=False)
        ctx.exit(exc.exit_code)


def _invoked_path(ctx: click.Context, words: list[str]) -> tuple[str, ...]:
    """The path of the command about to run (``("kafka", "up")``), from the words left."""
    path: list[str] = []
    command: click.Command = ctx.command
    for word in words:
        if word.startswith("-"):
            continue
        if not isinstance(command, click.Group) or word not in command.commands:
            break
        path.append(word)
        command = command.commands[word]
    return tuple(path)


@click.group(
    cls=RiverbedGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="riverbed")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    default=None,
    help="Settings file [default ./riverbed.toml if present]: one table per command keyed by "
    'option long names ([run] commit-mode = "auto"). Flags beat environment variables, '
    "which beat the file.",
)
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """riverbed: load-and-chaos testing for Kafka consumers.

    It runs a producer/consumer workload on Kafka (a local cluster on this
    machine, kind, or any Kubernetes cluster), drives load with Locust, injects
    faults with Chaos Toolkit, and proves from recorded evidence whether events
    were lost, reordered or mishandled across rebalances.

    Settings come from flags, then environment variables, then riverbed.toml,
    then defaults, by one rule: an option's long name is its TOML key in the
    command's table ([run] commit-mode = "auto") and, upper-cased with the
    command's path, its variable (RIVERBED_RUN_COMMIT_MODE). Each option's help
    names its variables; docs/settings.md lists them all.

    \b
    Exit codes (every command; summary.json says which):
      0 pass   1 fail   2 inconclusive (the run proves nothing)
      3 harness error (riverbed or its environment failed while working)
      4 bad input (the command, a settings file, an experiment; nothing started)
    """
    from riverbed.console import err
    from riverbed.errors import HarnessError
    from riverbed.settings import load_default_map

    try:
        ctx.default_map = load_default_map(main, config)
    except HarnessError as exc:
        err.print(f"error: {exc.message}", markup=False)
        if exc.fix:
            err.print(f"fix: {exc.fix}", markup=False)
        ctx.exit(exc.exit_code)


from riverbed.commands import _validate_command, collect, down, run, status, up  # noqa: E402
from riverbed.kafka.cli import kafka  # noqa: E402
from riverbed.offline.cli import kind  # noqa: E402

for command in (up, down, status, run, collect, _validate_command(), kafka, kind):
    main.add_command(command)

try:  # the report command lives with the checks it renders
    from reports.cli import compare, report  # noqa: E402

    main.add_command(report)
    main.add_command(compare)
except ImportError:  # pragma: no cover - reports not installed
    pass

from riverbed.demo import demo  # noqa: E402

main.add_command(demo)

from riverbed.campaign.cli import campaign  # noqa: E402

main.add_command(campaign)

from riverbed.settings import apply_rule  # noqa: E402

# Last: every command's options get their variables by the one rule.
apply_rule(main)


if __name__ == "__main__":  # pragma: no cover
    main()
