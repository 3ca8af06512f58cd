"""The ``riverbed`` command line."""

from __future__ import annotations

import click

from riverbed import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="riverbed")
def main() -> None:
    """riverbed: load-and-chaos testing for Kafka consumers.

    It runs a producer/consumer workload on Kafka (a local cluster on this
    machine, kind, or any Kubernetes cluster), drives load with Locust, injects
    faults with Chaos Toolkit, and proves from recorded evidence whether events
    were lost, reordered or mishandled across rebalances.

    Exit codes: 0 pass, 1 fail, 2 inconclusive run, bad input or harness error.
    """


from riverbed.kafka.cli import kafka  # noqa: E402

main.add_command(kafka)

try:  # the report command lives with the checks it renders
    from reports.cli import report  # noqa: E402

    main.add_command(report)
except ImportError:  # pragma: no cover - reports not installed
    pass

from riverbed.smoke import demo  # noqa: E402

main.add_command(demo)


if __name__ == "__main__":  # pragma: no cover
    main()
