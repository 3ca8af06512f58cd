"""The ``riverbed`` command line."""

from __future__ import annotations

import click

from riverbed import __version__


@click.group(
    context_settings={
        "help_option_names": ["-h", "--help"],
        "max_content_width": 100,
        # Every option also reads RIVERBED_<COMMAND>_<OPTION>, e.g. RIVERBED_RUN_DURATION=2m.
        "auto_envvar_prefix": "RIVERBED",
    }
)
@click.version_option(__version__, prog_name="riverbed")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    default=None,
    help="Settings file [env RIVERBED_CONFIG; default ./riverbed.toml if present]. "
    "Flags beat environment variables, which beat the file.",
)
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """riverbed: load-and-chaos testing for Kafka consumers.

    It runs a producer/consumer workload on Kafka (a local cluster on this
    machine, kind, or any Kubernetes cluster), drives load with Locust, injects
    faults with Chaos Toolkit, and proves from recorded evidence whether events
    were lost, reordered or mishandled across rebalances.

    Settings come from flags, then environment variables (RIVERBED_<COMMAND>_<OPTION>,
    e.g. RIVERBED_RUN_DURATION=2m, or the variable an option's help names), then
    riverbed.toml ([run], [up], … tables), then defaults.

    Exit codes: 0 pass, 1 fail, 2 inconclusive run, bad input or harness error.
    """
    from riverbed.console import err
    from riverbed.errors import HarnessError
    from riverbed.settings import load_default_map

    try:
        ctx.default_map = load_default_map(config)
    except HarnessError as exc:
        err.print(f"error: {exc.message}")
        if exc.fix:
            err.print(f"fix: {exc.fix}")
        ctx.exit(2)


from riverbed.commands import down, run, status, up  # noqa: E402
from riverbed.kafka.cli import kafka  # noqa: E402
from riverbed.platforms.offline.cli import kind  # noqa: E402

for command in (up, down, status, run, kafka, kind):
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


if __name__ == "__main__":  # pragma: no cover
    main()
