"""``riverbed campaign``: many seeded, randomized fault schedules, one matrix."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from riverbed.campaign.schedule import DEFAULT_FAULTS, FAULTS, generate, parse_faults
from riverbed.commands import (
    assignor_option,
    brokers_option,
    client_option,
    commit_mode_option,
    group_protocol_option,
    max_lag_option,
    max_recovery_option,
    partitions_option,
    recovery_limits,
    runs_root,
)
from riverbed.console import err, harness_errors, out, progress
from riverbed.errors import HarnessError, checking_input
from riverbed.help_panels import PanelCommand
from riverbed.spec import LoadSpec, RunSpec, parse_duration


@click.command(cls=PanelCommand)
@click.option(
    "--runs",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="How many fault schedules to generate and run, one after another.",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed of the schedules: the same seed (and --faults, --max-faults, "
    "--consumers, --brokers, --partitions, --session-timeout-ms) gives the same "
    "schedules [default: drawn, and printed].",
)
@click.option(
    "--faults",
    default=",".join(DEFAULT_FAULTS),
    show_default=True,
    help=f"Faults to draw from, comma-separated: {', '.join(FAULTS)}.",
)
@click.option(
    "--max-faults",
    type=click.IntRange(1, 5),
    default=2,
    show_default=True,
    help="Faults per schedule: 1 to this many, drawn.",
)
@click.option(
    "--campaign-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the campaign goes: runs/rNN/ (one run directory each), campaign.html, "
    "campaign.json, junit.xml [default: runs/campaign-<seed>-<time>].",
)
@click.option(
    "--duration",
    metavar="DURATION",
    default="60s",
    show_default=True,
    help="Least load time per run; a run whose faults need longer gets longer.",
)
@click.option(
    "--warmup",
    metavar="DURATION",
    default="10s",
    show_default=True,
    help="Load before the first fault.",
)
@click.option(
    "--cooldown",
    metavar="DURATION",
    default="10s",
    show_default=True,
    help="Load after the last fault.",
)
@click.option(
    "--users",
    type=click.IntRange(1, 10_000),
    default=10,
    show_default=True,
    help="Locust users at steady load.",
)
@click.option(
    "--spawn-rate",
    type=click.FloatRange(0.1),
    default=10,
    show_default=True,
    help="Locust users started per second.",
)
@click.option(
    "--user-rate",
    type=click.FloatRange(0),
    default=10,
    show_default=True,
    help="Sends per second per Locust user (0: unthrottled).",
)
@brokers_option
@partitions_option
@click.option(
    "--consumers",
    type=click.IntRange(1, 8),
    default=3,
    show_default=True,
    help="Consumer replicas of each run.",
)
@commit_mode_option
@assignor_option
@client_option
@group_protocol_option
@click.option(
    "--processing-ms",
    default="2",
    show_default=True,
    help="Per-record processing time: 5, uniform:1-10 or exp:5.",
)
@click.option(
    "--session-timeout-ms",
    type=click.IntRange(1000),
    default=10_000,
    show_default=True,
    help="The reference consumer's session timeout (the group's, under the consumer "
    "protocol); pauses are drawn past it.",
)
@click.option(
    "--key-space",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="Distinct message keys of the load.",
)
@click.option(
    "--body-bytes",
    type=click.IntRange(0),
    default=128,
    show_default=True,
    help="Size of each message body.",
)
@click.option(
    "--drain-deadline",
    metavar="DURATION",
    default="60s",
    show_default=True,
    help="How long each run's group may take to commit everything after the load.",
)
@max_recovery_option
@max_lag_option
@harness_errors
def campaign(
    runs: int,
    seed: int | None,
    faults: str,
    max_faults: int,
    campaign_dir: str | None,
    duration: str,
    warmup: str,
    cooldown: str,
    users: int,
    spawn_rate: float,
    user_rate: float,
    brokers: int,
    partitions: int,
    consumers: int,
    commit_mode: str,
    assignor: str | None,
    client: str,
    group_protocol: str,
    processing_ms: str,
    session_timeout_ms: int,
    key_space: int,
    body_bytes: int,
    drain_deadline: str,
    max_recovery: str | None,
    max_lag: int | None,
) -> None:
    """Run N generated fault schedules on the local platform and report a matrix of runs × checks.

    The schedules (which faults, when, whom, how long) are drawn from --seed: the
    same seed gives the same schedules. Each becomes experiment files (copies of
    experiments/local/ with the schedule's parameters) in its run directory, run by
    the ordinary `riverbed run` pipeline, one run after another on one Kafka
    cluster. The campaign directory holds one run directory per run, campaign.html,
    campaign.json and junit.xml, rewritten after every run.

    \b
    riverbed campaign --runs 20 --seed 7
    riverbed campaign --runs 20 --seed 7 --faults kill-hard,pause --commit-mode before-process

    --max-recovery and --max-lag give every run the same recovery budgets
    (see `riverbed run --help`).

    Exits 0 when every run passed, 1 when any failed, 2 when some were inconclusive
    (and none failed) or the campaign was interrupted (Ctrl-C stops the run in
    progress cleanly and reports what ran), 3 when a harness error stopped a run
    (and none failed), 4 on bad input (nothing started).
    """
    from riverbed.campaign.experiments import write_experiments
    from riverbed.campaign.runner import exit_code, run_campaign
    from riverbed.chaos.validate import check_experiments
    from riverbed.consumer_settings import resolve_assignor
    from riverbed.runner import LocalRunPlatform

    with checking_input():
        if seed is None:
            seed = int.from_bytes(os.urandom(3), "big")
        kinds = parse_faults(faults)
        assignor = resolve_assignor(assignor, group_protocol)
        schedules = generate(
            seed,
            runs,
            kinds,
            consumers=consumers,
            brokers=brokers,
            partitions=partitions,
            session_timeout_s=session_timeout_ms / 1000,
            max_faults=max_faults,
        )
        rf = min(3, brokers)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = RunSpec(
            run_id=f"campaign-{seed}",
            platform="local",
            brokers=brokers,
            partitions=partitions,
            replication_factor=rf,
            min_insync_replicas=min(2, rf),
            consumers=consumers,
            commit_mode=commit_mode,
            assignor=assignor,
            client=client,
            group_protocol=group_protocol,
            processing_ms=processing_ms,
            session_timeout_ms=session_timeout_ms,
            load=LoadSpec(
                users=users,
                spawn_rate=spawn_rate,
                duration_s=parse_duration(duration, "--duration"),
                warmup_s=parse_duration(warmup, "--warmup"),
                cooldown_s=parse_duration(cooldown, "--cooldown"),
                key_space=key_space,
                body_bytes=body_bytes,
                user_rate=user_rate,
            ),
            drain_deadline_s=parse_duration(drain_deadline, "--drain-deadline"),
            limits=recovery_limits(max_recovery, max_lag),
        ).validate()
        root = Path(campaign_dir) if campaign_dir else runs_root() / f"campaign-{seed}-{stamp}"
        if (root / "campaign.json").exists():
            raise HarnessError(
                f"{root} already holds a campaign.", fix="pick another --campaign-dir."
            )
        # Every generated experiment is checked before anything starts, in a scratch
        # directory: a refused campaign leaves nothing behind.
        import tempfile

        with tempfile.TemporaryDirectory(prefix="riverbed-campaign-check-") as scratch:
            for s in schedules:
                paths = write_experiments(s, Path(scratch) / s.name)
                check_experiments([str(p) for p in paths], "local")

    settings = {
        "seed": seed,
        "runs": runs,
        "faults": list(kinds),
        "max_faults": max_faults,
        "commit_mode": commit_mode,
        "client": client,
        "group_protocol": group_protocol,
        "assignor": assignor,
        "consumers": consumers,
        "brokers": brokers,
        "partitions": partitions,
        "processing_ms": processing_ms,
        "session_timeout_ms": session_timeout_ms,
        "duration_s": base.load.duration_s,
        "users": users,
        "user_rate": user_rate,
        "key_space": key_space,
        "limits": base.limits,
    }
    err.print(f"campaign seed {seed}: {runs} runs of {', '.join(kinds)} into {root}")
    records, interrupted = run_campaign(
        schedules,
        base,
        root,
        settings,
        say=err.print,
        progress_factory=progress,
        platform_factory=LocalRunPlatform,
    )
    tally: dict[str, int] = {}
    for r in records:
        tally[r.verdict] = tally.get(r.verdict, 0) + 1
    err.print(
        "campaign: "
        + ", ".join(f"{v} {k}" for k, v in sorted(tally.items()))
        + (" (interrupted)" if interrupted else "")
    )
    out.print(f"campaign: {root / 'campaign.html'}", markup=False, soft_wrap=True)
    raise SystemExit(exit_code(records, interrupted))
