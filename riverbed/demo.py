"""``riverbed demo`` (``make demo``): the main job on the embedded default.

Two runs of one scenario on the local platform — 3 brokers, 3 partitions, 3
consumers, about a minute of load, a hard consumer kill, then partitions 3 to
6 — first with the safe after-process consumer, then with the deliberately
unsafe before-process consumer. The first should pass; the second should
fail with the loss the report caught (never-processed records).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from riverbed.console import err, harness_errors, out
from riverbed.errors import HarnessError
from riverbed.paths import PROJECT_ROOT
from riverbed.spec import LoadSpec, RunSpec, new_run_id

EXPERIMENTS = [
    "experiments/local/kill-consumer-hard.json",
    "experiments/local/resize-partitions.json",
]


def demo_spec(commit_mode: str, duration_s: float) -> RunSpec:
    stamp = int(time.time())
    return RunSpec(
        run_id=new_run_id(f"demo-{commit_mode}"),
        platform="local",
        brokers=3,
        partitions=3,
        consumers=3,
        commit_mode=commit_mode,
        # Busy consumers: 50 messages/s spread evenly (1000 keys) over 3 owners
        # is ~17/s each, and 65 ms per record keeps each owner a little over
        # capacity, so it is always mid-batch. A kill then lands where the
        # unsafe mode has already committed what it has not processed yet. The
        # backlog stays a few hundred records per partition and drains in well
        # under a minute.
        processing_ms="65",
        topic=f"riverbed-demo-{commit_mode}-{stamp}",
        group=f"riverbed-demo-{commit_mode}-{stamp}",
        experiments=[str(PROJECT_ROOT / e) for e in EXPERIMENTS],
        load=LoadSpec(
            users=5, spawn_rate=5, duration_s=duration_s, warmup_s=10, cooldown_s=10, key_space=1000
        ),
        drain_deadline_s=90,
    ).validate()


@click.command()
@click.option(
    "--duration",
    default="70s",
    show_default=True,
    help="Total load time per run, warm-up and cool-down included, as `riverbed run "
    "--duration` and Locust's -t take it (40s to 10m).",
)
@harness_errors
def demo(duration: str) -> None:
    """Run the demo: the same chaos scenario with a safe and an unsafe consumer.

    Each run: 3 brokers, 3 partitions, 3 consumers, Locust load, a hard consumer
    kill, then 3 → 6 partitions. The after-process consumer should PASS; the
    before-process consumer (commit, then process) should FAIL with the
    never-processed records the report caught. Exits 0 when both come out so.
    """
    from riverbed.commands import run_spec, runs_root
    from riverbed.errors import checking_input
    from riverbed.spec import parse_duration

    with checking_input():
        seconds = parse_duration(duration, "--duration")
        if not 40 <= seconds <= 600:
            raise HarnessError(
                f"--duration {duration} is outside 40s..10m: the demo's kill and resize need "
                "40 s of load, and more than 10 minutes shows nothing more.",
                fix="e.g. --duration 70s",
            )
    t0 = time.monotonic()
    results = []
    for mode in ("after-process", "before-process"):
        spec = demo_spec(mode, seconds)
        err.rule(f"{mode} consumers")
        results.append((mode, run_spec(spec, runs_root() / spec.run_id)))
    err.rule("demo")
    for mode, result in results:
        counts = _counts(result.run_dir)
        out.print(
            f"{mode:15} {result.verdict.upper():13} never-processed {counts.get('never-processed', '?')}, "
            f"redelivered {counts.get('redelivered', '?')}  {result.report}",
            markup=False,
            soft_wrap=True,
        )
    err.print(
        f"demo wall time {time.monotonic() - t0:.0f}s; Kafka is still up for the next run "
        "(stop it with `riverbed down`)"
    )
    expected = [r.verdict for _, r in results] == ["pass", "fail"]
    if not expected:
        err.print("the demo did not come out as expected (after-process pass, before-process fail)")
    raise SystemExit(0 if expected else 1)


def _counts(run_dir: Path) -> dict[str, int]:
    import json

    try:
        return json.loads((run_dir / "summary.json").read_text()).get("counts", {})
    except (OSError, ValueError):
        return {}
