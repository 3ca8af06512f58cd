"""``riverbed report RUN_DIR``: check a run directory and write its report."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from reports.exit_codes import BAD_INPUT_EXIT
from reports.model import FAIL, INCONCLUSIVE, MAX_EXAMPLES, NOT_APPLICABLE, PASS, Summary
from reports.registry import CHECKS

STYLE = {PASS: "bold green", FAIL: "bold red", INCONCLUSIVE: "bold yellow", NOT_APPLICABLE: "dim"}

F = TypeVar("F", bound=Callable[..., Any])


def _listing_checks(command: F) -> F:
    """Fill the help's ``{checks}`` with the registry's checks (one per line)."""
    width = max(len(c.name) for c in CHECKS)
    lines = "\n".join(f"      {c.name:<{width}}  {c.proves}" for c in CHECKS)
    command.__doc__ = (command.__doc__ or "").replace("    {checks}", lines)
    return command


@click.command(
    "report",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@_listing_checks
@click.argument(
    "run_dir", type=click.Path(path_type=Path, file_okay=True, dir_okay=True), metavar="RUN_DIR"
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write report.html, summary.json and junit.xml here instead of into RUN_DIR.",
)
@click.option(
    "--open", "open_report", is_flag=True, help="Open report.html in a browser afterwards."
)
@click.option(
    "--examples",
    type=click.IntRange(1, 1000),
    default=MAX_EXAMPLES,
    show_default=True,
    help="Examples kept per check (the counts always cover everything).",
)
@click.option("--no-html", is_flag=True, help="Skip report.html (summary.json and junit.xml only).")
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Print only the verdict line (no table, no issues, no path).",
)
def report(
    run_dir: Path,
    out_dir: Path | None,
    open_report: bool,
    examples: int,
    no_html: bool,
    quiet: bool,
) -> None:
    """Decide from a run's evidence whether events were lost, reordered or mishandled.

    RUN_DIR is one run's directory (runs/<run-id>/): spec.json, evidence/ (acks,
    consumed, group.jsonl, faults.jsonl, log.jsonl), chaos/ and locust/. Every
    check is computed from those files alone, so a run can be re-checked
    offline, any time, with the same result.

    \b
    Checks, and what a pass of each proves:
    {checks}

    What a check finds but Kafka permits (a redelivery after a hard stop, a
    zombie owner, keys moved by added partitions) is allowed, counted and
    listed in the report; everything else fails.

    \b
    The verdicts rest on the run's evidence strength (spec.json
    consumer_evidence): reference or instrumented consumer events judge
    everything; output-topic judges the service by its outputs (a check it
    cannot see is n/a); offsets sees only committed offsets and is never a
    pass.

    \b
    Writes report.html (self-contained, opens offline), summary.json and
    junit.xml (one test case per check) into RUN_DIR, or --out.

    \b
    Exit codes: 0 pass, 1 fail (an anomaly was found), 2 inconclusive, 3 the
    run was stopped by a harness error (summary.json harness_error), 4 not a
    run directory (nothing is written then).
    """
    from reports.rundir import ReportError, check_run_dir

    out = Console(highlight=False, soft_wrap=False)
    err = Console(stderr=True, highlight=False)
    try:
        check_run_dir(run_dir)
        # Imported here so that `riverbed --help`, and a wrong path, do not load the
        # columnar engine.
        from reports.pipeline import build

        summary = build(run_dir, out_dir, max_examples=examples, html=not no_html)
    except ReportError as exc:
        err.print(Text.assemble(("error: ", "bold red"), exc.message), soft_wrap=True)
        if exc.fix:
            err.print(Text.assemble(("fix: ", "bold"), exc.fix), soft_wrap=True)
        sys.exit(BAD_INPUT_EXIT)
    if not quiet:
        out.print(verdict_table(summary))
        for issue in summary.issues:
            if issue.level in ("error", "warning"):
                style = "red" if issue.level == "error" else "yellow"
                err.print(
                    Text.assemble((f"{issue.level}: ", style), f"{issue.source}: {issue.message}"),
                    soft_wrap=True,
                )
    out.print(
        Text.assemble(
            ("verdict: ", "bold"),
            (summary.verdict.upper(), STYLE[summary.verdict]),
            f"  (exit {summary.exit_code})",
        )
    )
    if quiet:
        sys.exit(summary.exit_code)
    if summary.harness_error:
        err.print(
            Text.assemble(("harness error: ", "bold red"), summary.harness_error["message"]),
            soft_wrap=True,
        )
    target = summary.paths.get("report_html") or summary.paths["summary_json"]
    out.print(f"report: {target}", soft_wrap=True)
    if open_report and "report_html" in summary.paths:
        click.launch(str(summary.paths["report_html"]))
    sys.exit(summary.exit_code)


def verdict_table(summary: Summary) -> Table:
    strength = summary.evidence_strength.get("name", "reference")
    table = Table(
        title=f"riverbed report · {summary.run_id} · {strength} evidence",
        title_justify="left",
        expand=False,
    )
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("count", justify="right")
    table.add_column("explanation", overflow="fold", max_width=90)
    for v in summary.checks:
        table.add_row(v.name, Text(v.status, style=STYLE[v.status]), str(v.count), v.explanation)
    return table


@click.command(
    "compare",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.argument(
    "run_dirs",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path, file_okay=False, dir_okay=True),
    metavar="RUN_DIR RUN_DIR [...]",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write compare.html and compare.json here [default: compare-<run>-vs-<run> beside "
    "the first run directory].",
)
@click.option(
    "--align-by-name",
    is_flag=True,
    help="Match faults by name (the n-th fault of a name with the n-th of that name in each "
    "run) instead of refusing runs whose fault schedules differ.",
)
@click.option(
    "--open", "open_page", is_flag=True, help="Open compare.html in a browser afterwards."
)
def compare(
    run_dirs: tuple[Path, ...], out_dir: Path | None, align_by_name: bool, open_page: bool
) -> None:
    """Put runs side by side: settings that differ, verdicts per check, rebalance figures per fault.

    Each RUN_DIR is checked afresh from its evidence (as `riverbed report` does;
    nothing is written into it). Faults are aligned one to one: the runs must
    have the same fault schedule (the landed faults' names, in order), or the
    comparison is refused (exit 2) — unless --align-by-name.

    \b
    Per fault, side by side: time to a stable group and to full ownership,
    longest processing gaps (orphaned and moved partitions), partitions paused
    and moved, whether the members the fault did not hit kept consuming, time
    to first consumption of added partitions, rebalance rounds, fencing.
    Timelines (processed messages per second, lag) share one axis: seconds
    since each run's first fault.

    \b
    riverbed compare runs/classic-kill runs/consumer-kill --out /tmp/cmp --open

    Writes compare.html (self-contained, opens offline) and compare.json.
    Exit codes: 0 written, 4 fewer than two run directories, one that is not a
    run directory, or runs that cannot be compared (nothing is written then).
    """
    from reports.compare import CompareError, default_out_dir, load_run
    from reports.compare import compare as build_comparison
    from reports.rundir import ReportError, check_run_dir

    out = Console(highlight=False, soft_wrap=False)
    err = Console(stderr=True, highlight=False)
    try:
        if len(run_dirs) < 2:
            raise CompareError(
                "Give at least two run directories to compare.",
                fix="riverbed compare RUN_DIR RUN_DIR [...]",
            )
        for p in run_dirs:  # all of them, before any is read
            try:
                check_run_dir(p)
            except ReportError as exc:
                raise CompareError(f"{p}: {exc.message}", fix=exc.fix) from exc
        from reports.render.compare_html import write_comparison

        runs = [load_run(p) for p in run_dirs]
        comparison = build_comparison(runs, align_by_name=align_by_name)
    except CompareError as exc:
        err.print(Text.assemble(("error: ", "bold red"), exc.message), soft_wrap=True)
        if exc.fix:
            err.print(Text.assemble(("fix: ", "bold"), exc.fix), soft_wrap=True)
        sys.exit(BAD_INPUT_EXIT)
    target = out_dir or default_out_dir(list(run_dirs))
    try:
        paths = write_comparison(comparison, target)
    except OSError as exc:
        err.print(
            Text.assemble(("error: ", "bold red"), f"cannot write the comparison into {target}: "
                          f"{exc.strerror or exc}."),
            soft_wrap=True,
        )  # fmt: skip
        err.print(Text.assemble(("fix: ", "bold"), "give a writable directory with --out."))
        sys.exit(BAD_INPUT_EXIT)
    out.print(compare_table(comparison))
    out.print(f"compare: {paths['compare_html']}", soft_wrap=True)
    if open_page:
        click.launch(str(paths["compare_html"]))


#: The per-fault figures the terminal table shows (the page shows them all).
TERMINAL_FIGURES = (
    "time_to_full_ownership_s",
    "max_processing_gap_s",
    "max_lag",
    "max_gap_moved_s",
    "paused",
    "moved",
    "kept_consuming",
    "first_consumption_s",
    "commits_rejected",
)


def compare_table(comparison: dict[str, Any]) -> Table:
    from reports.render.html import _fmt

    runs = comparison["runs"]
    table = Table(title="riverbed compare", title_justify="left", expand=False)
    table.add_column("fault / figure", overflow="fold", max_width=60)
    for r in runs:
        table.add_column(r["run_id"], overflow="fold")
    table.add_row("verdict", *[Text(r["verdict"], style=STYLE.get(r["verdict"], "")) for r in runs])
    for row in comparison["settings"]:
        if row["differs"]:
            table.add_row(row["label"], *[_fmt(v) for v in row["values"]])
    for fault in comparison["faults"]:
        table.add_row(Text(fault["fault"], style="bold"), *["" for _ in runs])
        for fig in fault["figures"]:
            if fig["figure"] in TERMINAL_FIGURES:
                table.add_row(f"  {fig['label']}", *_with_budgets(fig, _fmt))
    return table


def _with_budgets(fig: dict[str, Any], fmt: Callable[[Any], str]) -> list[Text]:
    """Each run's figure, with its budget beside it when the run had one (red when over)."""
    budgets = fig.get("budgets") or [None] * len(fig["values"])
    over = fig.get("over_budget") or [False] * len(fig["values"])
    cells = []
    for value, budget, broke in zip(fig["values"], budgets, over, strict=True):
        text = fmt(value) + (f" / budget {fmt(budget)}" if budget is not None else "")
        cells.append(Text(text + (" ✗" if broke else ""), style="bold red" if broke else ""))
    return cells
