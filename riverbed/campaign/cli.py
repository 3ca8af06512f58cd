"""``riverbed campaign``: many seeded, randomized fault schedules, one matrix."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from riverbed.campaign.schedule import (
    DEFAULT_FAULTS,
    FAULTS,
    KUBE_PLATFORMS,
    faults_for,
    generate,
    parse_faults,
)
from riverbed.commands import (
    _apply_user_consumer,
    _check_external,
    _checked_user_consumer,
    _kube,
    _user_consumer_options,
    assignor_option,
    brokers_option,
    client_option,
    commit_mode_option,
    context_option,
    delivery_option,
    group_protocol_option,
    kube_options,
    load_options,
    max_lag_option,
    max_recovery_option,
    message_options,
    partitions_option,
    recovery_limits,
    runs_root,
)
from riverbed.console import err, harness_errors, out, progress
from riverbed.errors import HarnessError, checking_input
from riverbed.help_panels import PanelCommand
from riverbed.kafka_options import (
    external_kafka,
    kafka_options,
    keep_topics_option,
    refuse_local_only,
)
from riverbed.spec import PLATFORMS, LoadSpec, RunSpec, parse_duration


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
    default=None,
    help=f"Faults to draw from, comma-separated: {', '.join(FAULTS)} [default: "
    f"{','.join(DEFAULT_FAULTS)}; on --platform external those that leave the brokers "
    "and the network alone].",
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
    "--platform",
    type=click.Choice(PLATFORMS),
    default="local",
    show_default=True,
    help="local: riverbed's Kafka and the consumers on this machine. external: a Kafka "
    "cluster riverbed does not run (--kafka-bootstrap, --kafka-config), the consumers on "
    "this machine; broker and network faults are not drawn. kind / k8s (with --context): "
    "Kafka and the consumers (riverbed's, or your --consumer-image) in the cluster, faults "
    "from experiments/ (latency, bandwidth and broker pauses are not drawn).",
)
@context_option
@kube_options
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
@load_options
@brokers_option
@partitions_option
@click.option(
    "--consumers",
    type=click.IntRange(1, 8),
    default=3,
    show_default=True,
    help="Consumer replicas (riverbed's, or your --consumer-cmd's).",
)
@commit_mode_option
@assignor_option
@client_option
@group_protocol_option
@click.option(
    "--processing-ms",
    default="2",
    show_default=True,
    help="Per-record processing time of riverbed's consumer: 5, uniform:1-10 or exp:5.",
)
@click.option(
    "--session-timeout-ms",
    type=click.IntRange(1000),
    default=10_000,
    show_default=True,
    help="The reference consumer's session timeout (the group's, under the consumer "
    "protocol); pauses are drawn past it.",
)
@message_options
@click.option(
    "--drain-deadline",
    metavar="DURATION",
    default="60s",
    show_default=True,
    help="How long each run's group may take to commit everything after the load.",
)
@max_recovery_option
@max_lag_option
@_user_consumer_options
@delivery_option
@kafka_options
@keep_topics_option
@click.pass_context
@harness_errors
def campaign(
    ctx: click.Context,
    runs: int,
    seed: int | None,
    faults: str | None,
    max_faults: int,
    campaign_dir: str | None,
    platform: str,
    context: str | None,
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
    consumer_cmd: str | None,
    consumer_cwd: str | None,
    consumer_evidence: str | None,
    output_topic: str | None,
    join_timeout: str,
    delivery: str,
    kafka_bootstrap: str | None,
    kafka_config: tuple[str, ...],
    keep_topics: bool,
) -> None:
    """Run N generated fault schedules against one consumer and report a matrix of runs × checks.

    The schedules (which faults, when, whom, how long) are drawn from --seed: the
    same seed gives the same schedules. Each becomes experiment files (copies of
    experiments/local/, or on kind and k8s of experiments/, with the schedule's
    parameters) in its run directory, run by the ordinary `riverbed run` pipeline,
    one run after another on one Kafka cluster. The campaign directory holds one run directory per run, campaign.html,
    campaign.json and junit.xml, rewritten after every run. campaign.html answers
    first: how many schedules found a problem, under which faults, and the
    shortest failing schedule with the `riverbed run` command that replays it.

    Your own consumer takes the options `riverbed run` takes (--consumer-cmd,
    --consumer-cwd, --consumer-evidence, --output-topic: each run gets a fresh
    output topic named after it; on kind/k8s --consumer-image); the page states the
    evidence its verdicts rest on.

    \b
    riverbed campaign --runs 20 --seed 7
    riverbed campaign --runs 20 --seed 7 --faults kill-hard,pause --commit-mode before-process
    riverbed campaign --runs 20 --seed 7 --consumer-cmd "python my_consumer.py"
    riverbed campaign --runs 10 --seed 7 --platform kind --consumer-image team/orders:1.4

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
    from riverbed.consumer_settings import check_consumer_settings, resolve_assignor

    with checking_input():
        user = _checked_user_consumer(
            ctx, platform, consumer_cmd, consumer_cwd, consumer_evidence, output_topic
        )
        external = external_kafka(
            ctx, platform, kafka_bootstrap, kafka_config, keep_topics, say=err.print
        )
        if external is not None and platform == "k8s":
            # Not wired for campaigns yet: the runs would deploy riverbed's own Kafka.
            raise HarnessError(
                "A campaign on your own Kafka on Kubernetes (--platform k8s "
                "--kafka-bootstrap) is not supported.",
                fix="run each scenario with `riverbed run --platform k8s --kafka-bootstrap …`, "
                "or run the campaign with --platform external (consumers on this machine).",
            )
        if external is not None:
            refuse_local_only(ctx, {"brokers": "--brokers"})
        if platform == "k8s" and not context:
            raise HarnessError(
                "--platform k8s needs --context NAME (the kubeconfig context of an existing cluster).",
                fix="pass --context, or use --platform kind to create a local kind cluster.",
            )
        if seed is None:
            seed = int.from_bytes(os.urandom(3), "big")
        kinds = faults_for(platform, parse_faults(faults) if faults else None)
        assignor = resolve_assignor(assignor, group_protocol)
        if user is None:
            check_consumer_settings(client, group_protocol, assignor)
        load = LoadSpec(
            users=users,
            spawn_rate=spawn_rate,
            duration_s=parse_duration(duration, "--duration"),
            warmup_s=parse_duration(warmup, "--warmup"),
            cooldown_s=parse_duration(cooldown, "--cooldown"),
            key_space=key_space,
            body_bytes=body_bytes,
            user_rate=user_rate,
        )
        drain_s = parse_duration(drain_deadline, "--drain-deadline")
        join_s = parse_duration(join_timeout, "--join-timeout")
        root = Path(campaign_dir) if campaign_dir else None
        if root is not None and (root / "campaign.json").exists():
            raise HarnessError(
                f"{root} already holds a campaign.", fix="pick another --campaign-dir."
            )
        if external is not None:
            # Logged in before anything else: a wrong password costs seconds, not a campaign.
            brokers = _check_external(external).brokers
        schedules = generate(
            seed,
            runs,
            kinds,
            consumers=consumers,
            brokers=brokers,
            partitions=partitions,
            session_timeout_s=session_timeout_ms / 1000,
            max_faults=max_faults,
            platform=platform,
        )
        rf = min(3, brokers)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = RunSpec(
            run_id=f"campaign-{seed}",
            platform=platform,
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
            load=load,
            drain_deadline_s=drain_s,
            join_timeout_s=join_s,
            bootstrap_servers=external.bootstrap_servers if external else None,
            kafka_config=external.masked if external else None,
            keep_topics=external.keep_topics if external else False,
            limits=recovery_limits(max_recovery, max_lag),
            delivery=delivery,
        )
        base = _apply_user_consumer(base, user).validate()
        root = root or runs_root() / f"campaign-{seed}-{stamp}"
        if (root / "campaign.json").exists():
            raise HarnessError(
                f"{root} already holds a campaign.", fix="pick another --campaign-dir."
            )
        # Every generated experiment is checked before anything starts, in a scratch
        # directory: a refused campaign leaves nothing behind.
        with tempfile.TemporaryDirectory(prefix="riverbed-campaign-check-") as scratch:
            for s in schedules:
                paths = write_experiments(s, Path(scratch) / s.name, platform)
                check_experiments([str(p) for p in paths], platform)

    settings = campaign_settings(
        seed=seed,
        runs=runs,
        kinds=kinds,
        max_faults=max_faults,
        base=base,
        user_rate=user_rate,
        cwd_given=consumer_cwd is not None,
        replay_flags=_kube_flags(ctx, platform, context),
    )
    err.print(f"campaign seed {seed}: {runs} runs of {', '.join(kinds)} into {root}")
    err.print(f"consumer under test: {settings['consumer']['describe']}")

    def platform_factory() -> Any:
        if platform in KUBE_PLATFORMS:
            from riverbed.platforms.kube.run import KubeRunPlatform

            return KubeRunPlatform(_kube(platform, context, False))
        if external is not None:
            from riverbed.platforms.external import ExternalRunPlatform

            return ExternalRunPlatform(external.bootstrap_servers, external.keep_topics)
        from riverbed.runner import LocalRunPlatform

        return LocalRunPlatform(say=err.print)

    from riverbed.platforms.external import connection_settings

    # Every client of every run gets the campaign's connection settings (none on
    # riverbed's own cluster: settings exported for a by-hand load must not leak in).
    with connection_settings(external.settings if external else {}):
        if platform == "local" and any(s.network for s in schedules):
            _kafka_with_listeners(brokers, consumers)
        records, interrupted = run_campaign(
            schedules,
            base,
            root,
            settings,
            say=err.print,
            progress_factory=progress,
            platform_factory=platform_factory,
        )
    from riverbed.campaign.summary import headline, shortest_failing

    matrix = [r.to_dict(root) for r in records]
    err.print(f"campaign: {headline(matrix)}" + (" (interrupted)" if interrupted else ""))
    if (shortest := shortest_failing(matrix)) and shortest.get("replay"):
        err.print(
            f"shortest failing schedule: {shortest['run']} ({shortest['describe']}); "
            f"replay it with: {shortest['replay']}",
            markup=False,
        )
    out.print(f"campaign: {root / 'campaign.html'}", markup=False, soft_wrap=True)
    raise SystemExit(exit_code(records, interrupted))


def _kube_flags(ctx: click.Context, platform: str, context: str | None) -> list[str]:
    """The flags that pick the cluster of a kind or k8s campaign, for its replay commands
    (spec.json does not hold them)."""
    if platform not in KUBE_PLATFORMS:
        return []
    flags = ["--context", context] if context else []
    cluster = ctx.meta.get("riverbed.kind_cluster")
    if platform == "kind" and cluster and cluster != "riverbed":
        flags += ["--kind-cluster", str(cluster)]
    if ctx.meta.get("riverbed.kind_config"):
        flags += ["--kind-config", str(ctx.meta["riverbed.kind_config"])]
    if ctx.meta.get("riverbed.offline"):
        flags.append("--offline")
    return flags


def _kafka_with_listeners(brokers: int, consumers: int) -> None:
    """Local Kafka up, once, with the per-replica listeners network faults need: each run
    then connects its consumers through proxies only when its own schedule needs them,
    as `riverbed run` of the same experiments does."""
    from riverbed.platforms.local import LocalPlatform
    from riverbed.platforms.network import wanted_slots

    with progress("starting the local Kafka cluster") as update:
        LocalPlatform().kafka_up(
            brokers, progress=update, proxy_slots=wanted_slots(consumers), say=err.print
        )


def campaign_settings(
    *,
    seed: int,
    runs: int,
    kinds: tuple[str, ...],
    max_faults: int,
    base: RunSpec,
    user_rate: float,
    cwd_given: bool = False,
    replay_flags: list[str] | None = None,
) -> dict[str, Any]:
    """What campaign.json ``settings`` records: the schedules' inputs, the run settings,
    the consumer under test and the evidence strength its verdicts rest on (and the
    flags that pick a Kubernetes cluster, which each run's replay command needs)."""
    from reports.strength import DESCRIPTIONS

    strength = DESCRIPTIONS[base.consumer_evidence]
    return {
        "seed": seed,
        "runs": runs,
        "faults": list(kinds),
        "max_faults": max_faults,
        "platform": base.platform,
        "bootstrap_servers": base.bootstrap_servers if base.platform == "external" else None,
        "commit_mode": base.commit_mode,
        "client": base.client,
        "group_protocol": base.group_protocol,
        "assignor": base.assignor,
        "consumers": base.consumers,
        "brokers": base.brokers,
        "partitions": base.partitions,
        "processing_ms": base.processing_ms,
        "session_timeout_ms": base.session_timeout_ms,
        "duration_s": base.load.duration_s,
        "users": base.load.users,
        "user_rate": user_rate,
        "key_space": base.load.key_space,
        "consumer": consumer_under_test(base, cwd_given),
        "evidence_strength": strength.to_json(),
        "replay_flags": list(replay_flags or []),
        "limits": base.limits,
        "delivery": base.delivery,
    }


def consumer_under_test(spec: RunSpec, cwd_given: bool = False) -> dict[str, Any]:
    """Who the campaign judges: riverbed's reference consumer and its settings, or the
    user's command and how its evidence is gathered."""
    if spec.consumer_image is not None:
        return {
            "kind": "image",
            "image": spec.consumer_image,
            "evidence": spec.consumer_evidence,
            "output_topic": spec.output_topic,
            "describe": f"your consumer image {spec.consumer_image} "
            f"({spec.consumer_evidence} evidence)",
        }
    if spec.consumer_cmd is not None:
        return {
            "kind": "command",
            "cmd": spec.consumer_cmd,
            "cwd": spec.consumer_cwd,
            "cwd_given": cwd_given,
            "evidence": spec.consumer_evidence,
            "output_topic": spec.output_topic,
            "describe": f"your consumer `{spec.consumer_cmd}` ({spec.consumer_evidence} evidence)",
        }
    return {
        "kind": "reference",
        "evidence": spec.consumer_evidence,
        "commit_mode": spec.commit_mode,
        "client": spec.client,
        "group_protocol": spec.group_protocol,
        "assignor": spec.assignor,
        "processing_ms": spec.processing_ms,
        "describe": f"riverbed's reference consumer ({spec.commit_mode}, {spec.client}, "
        f"{spec.group_protocol} protocol, {spec.assignor})",
    }
