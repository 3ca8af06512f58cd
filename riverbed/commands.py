"""``riverbed up | down | status | run``: the platform and the main job."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from riverbed.console import err, harness_errors, out, progress
from riverbed.errors import HarnessError
from riverbed.paths import PROJECT_ROOT
from riverbed.spec import (
    ASSIGNORS,
    CLIENTS,
    COMMIT_MODES,
    GROUP_PROTOCOLS,
    PLATFORMS,
    REMOTE_ASSIGNORS,
    LoadSpec,
    RunSpec,
    new_run_id,
    parse_duration,
)
from riverbed.user_consumer import (
    EVIDENCE_MODES,
    REFERENCE_ONLY_OPTIONS,
    UserConsumer,
    check_user_consumer,
)

VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow"}


def runs_root() -> Path:
    return Path(os.environ.get("RIVERBED_RUNS_DIR", "runs"))


platform_option = click.option(
    "--platform",
    type=click.Choice(PLATFORMS),
    default="local",
    show_default=True,
    envvar="RIVERBED_PLATFORM",
    help="local: Kafka and workloads on this machine. kind: a kind cluster as in the tutorial. "
    "k8s: an existing cluster (needs --context) [env RIVERBED_PLATFORM].",
)
context_option = click.option(
    "--context",
    envvar="RIVERBED_KUBE_CONTEXT",
    help="kubeconfig context for --platform k8s (never created or deleted) [env RIVERBED_KUBE_CONTEXT].",
)
dry_run_option = click.option(
    "--dry-run",
    is_flag=True,
    help="kind/k8s: print the commands and manifests instead of running them.",
)


def _remember(ctx: click.Context, param: click.Parameter, value: object) -> object:
    """Keep a platform setting in the context, where :func:`_kube` reads it."""
    ctx.meta[f"riverbed.{param.name}"] = value
    return value


def kube_options(fn: Any) -> Any:
    """--offline, --kind-config, --kind-cluster: the kind platform's images, config and name."""
    fn = click.option(
        "--kind-cluster",
        envvar="RIVERBED_KIND_CLUSTER",
        default="riverbed",
        show_default=True,
        expose_value=False,
        callback=_remember,
        help="kind: the cluster's name (its kubeconfig context is kind-NAME) "
        "[env RIVERBED_KIND_CLUSTER].",
    )(fn)
    fn = click.option(
        "--kind-config",
        type=click.Path(dir_okay=False),
        envvar="RIVERBED_KIND_CONFIG",
        default=None,
        expose_value=False,
        callback=_remember,
        help="kind: the cluster configuration to create the cluster from [default "
        "manifests/kind-cluster.yaml; env RIVERBED_KIND_CONFIG]. It must map the same host "
        "ports.",
    )(fn)
    return click.option(
        "--offline",
        is_flag=True,
        envvar="RIVERBED_KIND_OFFLINE",
        expose_value=False,
        callback=_remember,
        help="kind: use the images and tools `riverbed kind prepare --offline` built (no "
        "container registry needed) instead of the public images [env RIVERBED_KIND_OFFLINE=1].",
    )(fn)


brokers_option = click.option(
    "--brokers",
    type=click.IntRange(1, 9),
    default=3,
    show_default=True,
    help="local: Kafka brokers (KRaft nodes) to start.",
)
partitions_option = click.option(
    "--partitions",
    type=click.IntRange(1, 1000),
    default=3,
    show_default=True,
    help="Partitions of the data topic.",
)
commit_mode_option = click.option(
    "--commit-mode",
    type=click.Choice(COMMIT_MODES),
    default="after-process",
    show_default=True,
    envvar="RIVERBED_COMMIT_MODE",
    help="after-process is safe; auto is the tutorial's auto-commit; before-process is "
    "deliberately unsafe [env RIVERBED_COMMIT_MODE].",
)
assignor_option = click.option(
    "--assignor",
    type=click.Choice(ASSIGNORS + tuple(a for a in REMOTE_ASSIGNORS if a not in ASSIGNORS)),
    default=None,
    help="Partition assignment strategy of the consumers: classic protocol "
    f"{', '.join(ASSIGNORS)} (client-side); consumer protocol {', '.join(REMOTE_ASSIGNORS)} "
    "(broker-side) [default: range (classic), uniform (consumer)].",
)
client_option = click.option(
    "--client",
    type=click.Choice(CLIENTS),
    default="kafka-python",
    show_default=True,
    envvar="RIVERBED_CLIENT",
    help="The reference consumer's client library: kafka-python, or confluent-kafka "
    "(librdkafka), which also speaks the KIP-848 consumer protocol [env RIVERBED_CLIENT].",
)
group_protocol_option = click.option(
    "--group-protocol",
    type=click.Choice(GROUP_PROTOCOLS),
    default="classic",
    show_default=True,
    envvar="RIVERBED_GROUP_PROTOCOL",
    help="classic (JoinGroup/SyncGroup, client-side assignors) or consumer (KIP-848: the "
    "broker assigns incrementally and owns the session timeout, which the run sets on the "
    "group from --session-timeout-ms; needs --client confluent-kafka) "
    "[env RIVERBED_GROUP_PROTOCOL].",
)


def _user_consumer_options(f: Any) -> Any:
    """``--consumer-cmd`` and its companions (run and up)."""
    options = [
        click.option(
            "--consumer-cmd",
            default=None,
            metavar="CMD",
            help="Test YOUR consumer instead of riverbed's (local platform): a shell command "
            "riverbed runs once per replica (consumer-1..N, supervised, killed and scaled by the "
            "experiments), with KAFKA_BROKER, KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC, KAFKA_GROUP "
            '(and KAFKA_OUTPUT_TOPIC) set. E.g. "python my_consumer.py". See docs/consumers.md.',
        ),
        click.option(
            "--consumer-cwd",
            default=None,
            metavar="DIR",
            help="Directory --consumer-cmd runs in [default: the current directory].",
        ),
        click.option(
            "--consumer-image",
            default=None,
            metavar="IMAGE",
            expose_value=False,
            callback=_remember,
            help="kind/k8s: test YOUR consumer image instead of riverbed's: the consumer "
            "Deployment runs it (its own entrypoint) with KAFKA_BROKER, KAFKA_BOOTSTRAP_SERVERS, "
            "KAFKA_TOPIC, KAFKA_GROUP (and KAFKA_OUTPUT_TOPIC) set; kind loads it from your Docker, "
            "k8s must be able to pull it. Evidence: output-topic or offsets (default).",
        ),
        click.option(
            "--consumer-evidence",
            type=click.Choice(EVIDENCE_MODES),
            default=None,
            help="What riverbed judges your consumer by: instrumented (kafka-python or "
            "confluent-kafka, no code change), output-topic (your service writes one output per "
            "input to --output-topic), offsets (committed offsets only; never a full pass) "
            "[default: instrumented for a Python command, else offsets].",
        ),
        click.option(
            "--output-topic",
            default=None,
            metavar="NAME",
            help="output-topic evidence: the topic your service writes to (riverbed creates it "
            "and drains it at the end).",
        ),
        click.option(
            "--join-timeout",
            default="90s",
            show_default=True,
            help="How long the consumers may take to form a stable group at the start.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _checked_user_consumer(
    ctx: click.Context,
    platform: str,
    consumer_cmd: str | None,
    consumer_cwd: str | None,
    consumer_evidence: str | None,
    output_topic: str | None,
) -> UserConsumer | None:
    """Validate the user-consumer options (exit 2 before anything starts)."""
    explicit = tuple(
        name
        for name in REFERENCE_ONLY_OPTIONS
        if name in ctx.params
        and ctx.get_parameter_source(name) not in (click.core.ParameterSource.DEFAULT, None)
    )
    image = ctx.meta.get("riverbed.consumer_image")
    return check_user_consumer(
        consumer_cmd,
        consumer_cwd,
        consumer_evidence,
        output_topic,
        platform=platform,
        explicit_reference_options=explicit if (consumer_cmd or image) is not None else (),
        image=image,
    )


def _apply_user_consumer(spec: RunSpec, user: UserConsumer | None) -> RunSpec:
    """Put the user's consumer into the spec (the reference consumer's settings go)."""
    if user is not None:
        spec.consumer_cmd = user.cmd
        spec.consumer_image = user.image
        spec.consumer_cwd = user.cwd or None
        spec.consumer_evidence = user.evidence
        spec.output_topic = user.output_topic
        spec.commit_mode = spec.assignor = spec.processing_ms = None
    return spec


def _kube(platform: str, context: str | None, dry_run: bool):
    from riverbed.platforms.kube import KubeImages, KubePlatform

    if platform == "k8s" and not context:
        raise HarnessError(
            "--platform k8s needs --context NAME (the kubeconfig context of an existing cluster).",
            fix="pass --context, or use --platform kind to create a local kind cluster.",
        )
    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    images = None
    if meta.get("riverbed.offline"):
        images = KubeImages.offline_prepared(say=lambda text: err.print(f"… {text}"))
    return KubePlatform(
        mode=platform,
        context=context,
        dry_run=dry_run,
        cluster_name=meta.get("riverbed.kind_cluster") or "riverbed",
        root=PROJECT_ROOT,
        images=images,
        kind_config=meta.get("riverbed.kind_config"),
    )


def _print_plan(kube) -> None:
    """The dry-run plan: one line per command (manifests piped to kubectl are not shown)."""
    from riverbed.platforms.kube_runner import describe

    for step in kube.runner.steps:
        out.print(describe(step), markup=False, highlight=False, soft_wrap=True)


# ---- up ---------------------------------------------------------------------------------------
@click.command()
@platform_option
@context_option
@kube_options
@dry_run_option
@brokers_option
@partitions_option
@click.option(
    "--consumers",
    type=click.IntRange(0, 100),
    default=3,
    show_default=True,
    help="Consumer replicas (0: Kafka and the topic only).",
)
@commit_mode_option
@assignor_option
@client_option
@group_protocol_option
@click.option(
    "--topic",
    default=None,
    help="Data topic [default: a fresh riverbed-events-<time> per session, so that no older "
    "records mix into this session's evidence].",
)
@click.option("--group", default=None, help="Consumer group [default: riverbed-consumers-<time>].")
@_user_consumer_options
@click.option(
    "--network-faults",
    is_flag=True,
    help="local: connect each consumer replica through its own Toxiproxy proxies, so that "
    "experiments can delay, throttle, reset or cut its traffic (experiments/local/network-*.json; "
    "`riverbed run` does this by itself when an experiment needs it). See docs/chaos.md.",
)
@click.pass_context
@harness_errors
def up(
    ctx: click.Context,
    platform: str,
    context: str | None,
    dry_run: bool,
    brokers: int,
    partitions: int,
    consumers: int,
    commit_mode: str,
    assignor: str | None,
    client: str,
    group_protocol: str,
    topic: str | None,
    group: str | None,
    consumer_cmd: str | None,
    consumer_cwd: str | None,
    consumer_evidence: str | None,
    output_topic: str | None,
    join_timeout: str,
    network_faults: bool = False,
) -> None:
    """Bring a platform up: Kafka, the data topic, consumer replicas and the group monitor.

    On the local platform the workloads record evidence into a new run directory
    (printed), so that you can drive load (`locust -f locustfiles/kafka_producer.py`)
    and inject faults (`chaos run experiments/local/…`) by hand; `riverbed down`
    drains it, and `riverbed report RUN_DIR` gives the verdict. With --consumer-cmd
    the replicas are your own consumer (see docs/consumers.md).
    """
    user = _checked_user_consumer(
        ctx, platform, consumer_cmd, consumer_cwd, consumer_evidence, output_topic
    )
    join_timeout_s = parse_duration(join_timeout)
    from riverbed.consumer_settings import (
        apply_group_configs,
        check_consumer_settings,
        resolve_assignor,
    )

    assignor = resolve_assignor(assignor, group_protocol)
    if user is None:
        check_consumer_settings(client, group_protocol, assignor)
    run_id = new_run_id("session")
    stamp = run_id.removesuffix("-session")
    topic = topic or f"riverbed-events-{stamp}"
    group = group or f"riverbed-consumers-{stamp}"
    if platform != "local":
        from riverbed.runner import evidence_topic_for, reference_consumer_env

        kube = _kube(platform, context, dry_run)
        with progress(f"bringing up {platform}") as update:
            result = kube.up(
                partitions=partitions,
                consumers=consumers,
                consumer_env=reference_consumer_env(
                    commit_mode, assignor, "2", client=client, group_protocol=group_protocol
                ),
                topic=topic,
                group=group,
                evidence_topic=evidence_topic_for(topic),
                consumer_image=user.image if user else None,
                output_topic=user.output_topic if user else None,
                progress=update,
            )
        if dry_run:
            _print_plan(kube)
            return
        err.print(f"{platform} platform up: Kafka {result.bootstrap_servers}; topic {topic}")
        err.print(
            f"{consumers} consumers in group {group} ({commit_mode}, {assignor}); evidence "
            f"topic {result.evidence_topic}"
        )
        return

    from riverbed.runner import LocalRunPlatform, startup_checks, wait_group_ready

    spec = RunSpec(
        run_id=run_id,
        brokers=brokers,
        partitions=partitions,
        replication_factor=min(3, brokers),
        min_insync_replicas=min(2, brokers),
        consumers=consumers,
        commit_mode=commit_mode,
        assignor=assignor,
        client=client,
        group_protocol=group_protocol,
        topic=topic,
        group=group,
        join_timeout_s=join_timeout_s,
        network_faults=network_faults,
    )
    spec = _apply_user_consumer(spec, user).validate()
    local = LocalRunPlatform()
    with progress("starting the local platform") as update:
        from riverbed.kafka.admin import topic_exists
        from riverbed.platforms.network import wanted_slots

        cluster = local.platform.kafka_up(
            brokers,
            progress=update,
            proxy_slots=wanted_slots(consumers) if network_faults else 0,
        )
        bootstrap = cluster.bootstrap_servers
        if topic_exists(bootstrap, topic):
            err.print(
                f"topic {topic} exists: reusing it (its older records are part of this "
                "session's evidence)"
            )
            local.ensure_output_topic(spec, bootstrap, update)
        else:
            local.prepare(spec, update)
        spec.bootstrap_servers = bootstrap
        if consumers:
            run_dir = runs_root() / spec.run_id
            from workloads.evidence.schema import RunLayout

            RunLayout(run_dir).make()
            spec.t_start = time.time()
            apply_group_configs(spec, bootstrap, update)
            spec.write(run_dir)
            local.start_workloads(spec, run_dir, bootstrap)
            try:
                wait_group_ready(spec, bootstrap, update, **startup_checks(local, spec))
                local.check_evidence(spec, run_dir, update)
            except HarnessError:
                # A session whose consumers cannot start is no session: leave nothing running.
                local.stop_workloads()
                raise
    err.print(f"Kafka: {bootstrap} ({cluster.brokers} brokers); topic {topic}")
    if consumers:
        what = (
            f"your consumer {user.what} ({user.evidence} evidence)"
            if user
            else f"riverbed's consumer ({commit_mode}, {client}, {group_protocol} protocol, "
            f"{assignor})"
        )
        err.print(f"{consumers} replicas of {what} in group {group}; evidence in {run_dir}")
        err.print(
            "inject faults with e.g. `chaos run experiments/local/kill-consumer.json`; "
            "`riverbed down` drains and stops everything."
        )
        if network_faults and (network := local.platform.network()):
            err.print(
                f"network faults: each replica through its own proxies; for the experiments' "
                f"rollbacks: export RIVERBED_TOXIPROXY_URL={network['toxiproxy_url']}"
            )


# ---- down -------------------------------------------------------------------------------------
@click.command()
@platform_option
@context_option
@kube_options
@dry_run_option
@click.option(
    "--keep-kafka", is_flag=True, help="local: stop the workloads but keep Kafka running."
)
@harness_errors
def down(platform: str, context: str | None, dry_run: bool, keep_kafka: bool) -> None:
    """Stop a platform. Local: drain and stop the workloads, then Kafka (no process is left).
    kind: delete the cluster. k8s: delete riverbed's objects, never the cluster."""
    if platform != "local":
        kube = _kube(platform, context, dry_run)
        with progress(f"tearing down {platform}"):
            kube.down()
        if dry_run:
            _print_plan(kube)
        return
    from riverbed.kafka.cluster import LocalKafkaCluster
    from riverbed.platforms.local import LocalPlatform

    local = LocalPlatform()
    if local.supervisor_pid() is not None:
        finalize_session(local)
    else:
        local.stop_workloads()
    if keep_kafka:
        return
    try:
        cluster = LocalKafkaCluster.open(local.kafka_state_dir)
    except HarnessError:
        err.print("no local Kafka cluster to stop")
        return
    with progress("stopping Kafka"):
        pids = cluster.down()
    err.print(f"Kafka stopped ({len(pids)} broker(s))" if pids else "Kafka was not running")


def finalize_session(local: Any) -> None:
    """Drain a `riverbed up` session's consumers, stop them, drain the log, finish spec.json."""
    from riverbed.runner import drain_consumers, drain_log, drain_output

    run_dir = local.run_dir
    spec = RunSpec.read(run_dir)
    with progress("draining the consumer group") as update:
        spec.drain_deadline_s = 30
        spec.drain = drain_consumers(spec, spec.bootstrap_servers or "", update)
        update("stopping consumers (graceful) and the monitor")
        local.stop_workloads()
        if spec.consumer_evidence == "output-topic":
            spec.output_drain = drain_output(spec, run_dir, spec.bootstrap_servers or "", update)
        spec.log_drain = drain_log(spec, run_dir, spec.bootstrap_servers or "", update)
    spec.t_end = time.time()
    spec.write(run_dir)
    err.print(f"session evidence in {run_dir}: check it with `riverbed report {run_dir}`")


# ---- status -----------------------------------------------------------------------------------
@click.command()
@platform_option
@context_option
@kube_options
@harness_errors
def status(platform: str, context: str | None) -> None:
    """Show what runs: Kafka brokers and consumer replicas (local), or pods (kind/k8s)."""
    if platform != "local":
        kube = _kube(platform, context, False)
        table = Table(title=f"riverbed on {platform}")
        for col in ("pod", "phase"):
            table.add_column(col)
        for name, phase in sorted(kube.pod_phases().items()):
            table.add_row(name, phase)
        out.print(table)
        return
    from riverbed.kafka.cluster import LocalKafkaCluster
    from riverbed.platforms.local import LocalPlatform

    local = LocalPlatform()
    table = Table(title="riverbed on the local platform")
    for col in ("process", "pid", "state", "detail"):
        table.add_column(col)
    try:
        cluster = LocalKafkaCluster.open(local.kafka_state_dir)
        for b in cluster.status():
            table.add_row(
                f"kafka broker {b.id}",
                str(b.pid or "-"),
                "up" if b.up else "down",
                f"127.0.0.1:{b.port}",
            )
    except HarnessError:
        table.add_row("kafka", "-", "down", "no cluster (riverbed up)")
    sup = local.supervisor_pid()
    if sup is None:
        table.add_row("workloads", "-", "down", "")
    else:
        config = local.config
        table.add_row("supervisor", str(sup), "up", str(local.run_dir))
        table.add_row("topic", "-", "", f"{config['topic']} (group {config['group']})")
        for name, rep in sorted(local.replicas().items()):
            table.add_row(name, str(rep["pid"]), "up", f"incarnation {rep['incarnation']}")
    out.print(table)


# ---- run --------------------------------------------------------------------------------------
@click.command()
@platform_option
@context_option
@kube_options
@click.option(
    "--experiment",
    "experiments",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Chaos Toolkit experiment to run during the steady load (repeatable, in order).",
)
@click.option(
    "--duration",
    default="60s",
    show_default=True,
    help="Total load time, e.g. 90s or 2m (warm-up and cool-down included).",
)
@click.option(
    "--warmup", default="10s", show_default=True, help="Load before the first experiment."
)
@click.option("--cooldown", default="10s", show_default=True, help="Load after the experiments.")
@click.option(
    "--users",
    type=click.IntRange(1, 10_000),
    default=10,
    show_default=True,
    help="Locust users at steady load.",
)
@click.option("--spawn-rate", type=click.FloatRange(0.1), default=10, show_default=True)
@click.option(
    "--locust-workers",
    type=click.IntRange(0, 64),
    default=0,
    show_default=True,
    help="kind/k8s: drive the load from Locust in the cluster, a headless master and this many "
    "worker pods (manifests/locust.yaml), each worker's send outcomes copied into the run "
    "directory. 0: Locust runs on this machine.",
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
    "--replication-factor",
    type=click.IntRange(1, 9),
    default=None,
    help="Data topic replication [default: min(3, brokers)].",
)
@click.option("--consumers", type=click.IntRange(1, 100), default=3, show_default=True)
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
@click.option("--session-timeout-ms", type=click.IntRange(1000), default=10_000, show_default=True)
@click.option("--key-space", type=click.IntRange(1), default=100, show_default=True)
@click.option("--body-bytes", type=click.IntRange(0), default=128, show_default=True)
@click.option(
    "--drain-deadline",
    default="60s",
    show_default=True,
    help="How long the group may take to commit everything after the load.",
)
@click.option("--run-id", default=None, help="Name of the run directory [default: time-stamped].")
@_user_consumer_options
@click.pass_context
@harness_errors
def run(
    ctx: click.Context,
    platform: str,
    context: str | None,
    experiments: tuple[str, ...],
    duration: str,
    warmup: str,
    cooldown: str,
    users: int,
    spawn_rate: float,
    locust_workers: int,
    user_rate: float,
    brokers: int,
    partitions: int,
    replication_factor: int | None,
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
    run_id: str | None,
    consumer_cmd: str | None,
    consumer_cwd: str | None,
    consumer_evidence: str | None,
    output_topic: str | None,
    join_timeout: str,
) -> None:
    """Run one scenario from cluster to verdict.

    Brings the platform up if needed, starts the consumers and the group monitor,
    drives load with Locust (warm-up, steady, cool-down), runs each --experiment
    with `chaos run` after the warm-up, drains, collects the evidence and renders
    the report. Exits as the report does: 0 pass, 1 fail, 2 inconclusive.

    \b
    riverbed run --experiment experiments/local/kill-consumer-hard.json \\
                 --experiment experiments/local/resize-partitions.json --duration 90s

    Your own consumer instead of riverbed's (docs/consumers.md):

    \b
    riverbed run --consumer-cmd "python examples/kafka_python_tutorial.py" \\
                 --experiment experiments/local/kill-consumer-hard.json
    """
    user = _checked_user_consumer(
        ctx, platform, consumer_cmd, consumer_cwd, consumer_evidence, output_topic
    )
    from riverbed.chaos.validate import check_experiments

    # Every experiment is checked before anything starts: a bad one costs seconds, not a run.
    check_experiments(experiments, platform)
    if locust_workers and platform == "local":
        raise HarnessError(
            "--locust-workers runs Locust in a Kubernetes cluster; the local platform runs it "
            "on this machine.",
            fix="drop --locust-workers, or use --platform kind / k8s.",
        )
    from riverbed.consumer_settings import resolve_assignor

    assignor = resolve_assignor(assignor, group_protocol)
    rf = replication_factor or min(3, brokers)
    label = "-".join(Path(e).stem for e in experiments) or "no-fault"
    consumer_label = f"user-{user.evidence}" if user else commit_mode
    if group_protocol != "classic" and user is None:
        label = f"{group_protocol}-{label}"
    spec = RunSpec(
        run_id=run_id or new_run_id(f"{consumer_label}-{label}"),
        platform=platform,
        brokers=brokers,
        partitions=partitions,
        replication_factor=rf,
        min_insync_replicas=min(2, rf),
        topic=f"riverbed-events-{int(time.time())}",
        group=f"riverbed-consumers-{int(time.time())}",
        consumers=consumers,
        commit_mode=commit_mode,
        assignor=assignor,
        client=client,
        group_protocol=group_protocol,
        processing_ms=processing_ms,
        session_timeout_ms=session_timeout_ms,
        experiments=[str(Path(e)) for e in experiments],
        load=LoadSpec(
            users=users,
            spawn_rate=spawn_rate,
            duration_s=parse_duration(duration),
            warmup_s=parse_duration(warmup),
            cooldown_s=parse_duration(cooldown),
            key_space=key_space,
            body_bytes=body_bytes,
            user_rate=user_rate,
            workers=locust_workers,
        ),
        drain_deadline_s=parse_duration(drain_deadline),
        join_timeout_s=parse_duration(join_timeout),
    )
    spec = _apply_user_consumer(spec, user).validate()
    run_dir = runs_root() / spec.run_id
    if run_dir.exists():
        raise HarnessError(f"Run directory {run_dir} already exists.", fix="pick another --run-id.")
    result = run_spec(spec, run_dir, context=context)
    raise SystemExit(result.exit_code)


def run_spec(spec: RunSpec, run_dir: Path, context: str | None = None):
    """Run a validated spec and print its summary; returns the RunResult."""
    from riverbed.runner import LocalRunPlatform, RunPlatform, execute

    platform: RunPlatform
    if spec.platform == "local":
        platform = LocalRunPlatform()
    else:
        from riverbed.runner import KubeRunPlatform

        platform = KubeRunPlatform(_kube(spec.platform, context, False))
    consumers = (
        f"your consumer {spec.consumer_cmd or spec.consumer_image} "
        f"({spec.consumer_evidence} evidence)"
        if spec.consumer_cmd or spec.consumer_image
        else f"{spec.commit_mode} consumers ({spec.client}, {spec.group_protocol} protocol, "
        f"{spec.assignor})"
    )
    err.print(
        f"run {spec.run_id}: {consumers}, experiments: {', '.join(spec.experiments) or 'none'}"
    )
    t0 = time.monotonic()
    with progress("preparing") as update:
        result = execute(spec, run_dir, platform, update, err.print)
    print_summary(result, time.monotonic() - t0)
    return result


def print_summary(result: Any, wall_s: float | None = None) -> None:
    table = Table(
        title=f"verdict: {result.verdict.upper()}",
        title_style=VERDICT_STYLE.get(result.verdict, ""),
    )
    table.add_column("check")
    table.add_column("status")
    table.add_column("explanation", overflow="fold")
    for name, status, explanation in result.lines:
        style = VERDICT_STYLE.get(status)  # statuses like "n/a" have no style
        table.add_row(name, Text(status, style=style or ""), Text(explanation))
    out.print(table)
    if wall_s is not None:
        err.print(f"wall time {wall_s:.0f}s")
    if result.report:
        out.print(f"report: {result.report}", markup=False, soft_wrap=True)
