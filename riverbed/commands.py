"""``riverbed up | down | status | run``: the platform and the main job."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import time
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from riverbed.console import err, harness_errors, out, progress
from riverbed.errors import BadInput, HarnessError, checking_input
from riverbed.help_panels import PanelCommand
from riverbed.kafka_options import (
    ExternalKafka,
    external_kafka,
    kafka_host_bootstrap_option,
    kafka_options,
    keep_topics_option,
    refuse_local_only,
)
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
    help="local: Kafka and workloads on this machine. external: a Kafka cluster riverbed does "
    "not run (--kafka-bootstrap, --kafka-config), workloads on this machine. kind: a kind "
    "cluster as in the tutorial. k8s: an existing cluster (needs --context).",
)
context_option = click.option(
    "--context",
    envvar="RIVERBED_KUBE_CONTEXT",
    help="k8s: the kubeconfig context of an existing cluster (never created or deleted).",
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


def kind_cluster_option(fn: Any) -> Any:
    """--kind-cluster, --namespace and --offline: which kind cluster and namespace, and which
    kind and kubectl reach it (all that status and down need)."""
    fn = click.option(
        "--namespace",
        envvar="RIVERBED_K8S_NAMESPACE",
        default="riverbed",
        show_default=True,
        expose_value=False,
        callback=_remember,
        help="kind/k8s: the namespace riverbed deploys into and works in. On k8s it may exist "
        "already, with rights in it alone (checked before anything starts).",
    )(fn)
    fn = click.option(
        "--kind-cluster",
        envvar="RIVERBED_KIND_CLUSTER",
        default="riverbed",
        show_default=True,
        expose_value=False,
        callback=_remember,
        help="kind: the cluster's name (its kubeconfig context is kind-NAME).",
    )(fn)
    return click.option(
        "--offline",
        is_flag=True,
        envvar="RIVERBED_KIND_OFFLINE",
        expose_value=False,
        callback=_remember,
        help="kind: use the images, kind and kubectl `riverbed kind prepare --offline` built "
        "(no container registry needed) instead of the public images and the tools on PATH.",
    )(fn)


def kube_options(fn: Any) -> Any:
    """--offline, --kind-config, --kind-cluster, --namespace, --image-registry,
    --image-pull-secret: where the kind/k8s platform's images come from and go, its
    config, name and namespace (up and run: what is created and deployed)."""
    fn = kind_cluster_option(fn)
    fn = click.option(
        "--image-pull-secret",
        envvar="RIVERBED_IMAGE_PULL_SECRET",
        default=None,
        expose_value=False,
        callback=_remember,
        help="kind/k8s: a Secret (type dockerconfigjson) in the namespace every pod pulls its "
        "images with.",
    )(fn)
    fn = click.option(
        "--image-registry",
        envvar="RIVERBED_IMAGE_REGISTRY",
        default=None,
        metavar="REGISTRY",
        expose_value=False,
        callback=_remember,
        help="kind/k8s: push the images riverbed builds (workloads, Locust, network-fault "
        "sidecar; the offline Kafka image) to REGISTRY/<name>:<content tag> and have the pods "
        "pull them there, e.g. registry.example.com/team. `docker login` first if it needs one.",
    )(fn)
    return click.option(
        "--kind-config",
        type=click.Path(dir_okay=False),
        envvar="RIVERBED_KIND_CONFIG",
        default=None,
        expose_value=False,
        callback=_remember,
        help="kind: the cluster configuration to create the cluster from [default "
        "manifests/kind-cluster.yaml]. It must map the same host ports.",
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
    "deliberately unsafe.",
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
    "(librdkafka), which also speaks the KIP-848 consumer protocol.",
)
group_protocol_option = click.option(
    "--group-protocol",
    type=click.Choice(GROUP_PROTOCOLS),
    default="classic",
    show_default=True,
    envvar="RIVERBED_GROUP_PROTOCOL",
    help="classic (JoinGroup/SyncGroup, client-side assignors) or consumer (KIP-848: the "
    "broker assigns incrementally and owns the session timeout, which the run sets on the "
    "group from --session-timeout-ms; needs --client confluent-kafka).",
)


max_recovery_option = click.option(
    "--max-recovery",
    default=None,
    metavar="DURATION",
    help="Recovery budget, e.g. 15s: after each fault, every partition must have exactly one "
    "owner again, and each orphaned partition be processed again, within it; over it, the "
    "rebalance check fails [default: no budget].",
)
max_lag_option = click.option(
    "--max-lag",
    type=click.IntRange(0),
    default=None,
    metavar="RECORDS",
    help="Lag budget: the records the group has not committed may never exceed this after "
    "the warm-up; over it, the rebalance check fails [default: no budget].",
)


def _user_consumer_options(f: Any) -> Any:
    """``--consumer-cmd`` and its companions (run and up)."""
    options = [
        click.option(
            "--consumer-cmd",
            default=None,
            metavar="CMD",
            help="Test YOUR consumer instead of riverbed's (local or external platform): a "
            "shell command "
            "riverbed runs once per replica (consumer-1..N, supervised, killed and scaled by the "
            "experiments), with KAFKA_BROKER, KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC, KAFKA_GROUP "
            "(and KAFKA_OUTPUT_TOPIC; on --platform external also KAFKA_SECURITY_PROTOCOL, "
            "KAFKA_SASL_*, KAFKA_SSL_* and KAFKA_CLIENT_CONFIG) set. E.g. "
            '"python my_consumer.py". See docs/consumers.md.',
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
            "k8s must be able to pull it. Evidence: offsets (default), output-topic, or "
            "instrumented (a Python or JVM consumer, unchanged: riverbed adds its layer to the "
            "pods and ships their evidence from a sidecar; docs/kubernetes.md).",
        ),
        click.option(
            "--consumer-evidence",
            type=click.Choice(EVIDENCE_MODES),
            default=None,
            help="What riverbed judges your consumer by: instrumented (kafka-python, "
            "confluent-kafka, aiokafka or a JVM's kafka-clients; no code change), output-topic (your service writes one output per "
            "input to --output-topic), offsets (committed offsets only; never a full pass) "
            "[default: instrumented for a Python or Java command, else offsets].",
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
            metavar="DURATION",
            default="90s",
            show_default=True,
            help="How long the consumers may take to form a stable group at the start.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def load_options(f: Any) -> Any:
    """The Locust load: ``--users``, ``--spawn-rate``, ``--user-rate`` (run, campaign)."""
    for option in reversed(
        [
            click.option(
                "--users",
                type=click.IntRange(1, 10_000),
                default=10,
                show_default=True,
                help="Locust users at steady load.",
            ),
            click.option(
                "--spawn-rate",
                type=click.FloatRange(0.1),
                default=10,
                show_default=True,
                help="Locust users started per second.",
            ),
            click.option(
                "--user-rate",
                type=click.FloatRange(0),
                default=10,
                show_default=True,
                help="Sends per second per Locust user (0: unthrottled).",
            ),
        ]
    ):
        f = option(f)
    return f


def message_options(f: Any) -> Any:
    """The messages the load sends: ``--key-space``, ``--body-bytes`` (run, campaign)."""
    f = click.option(
        "--body-bytes",
        type=click.IntRange(0),
        default=128,
        show_default=True,
        help="Size of each message body.",
    )(f)
    return click.option(
        "--key-space",
        type=click.IntRange(1),
        default=100,
        show_default=True,
        help="Distinct message keys of the load.",
    )(f)


def delivery_option(f: Any) -> Any:
    """``--delivery``: the delivery semantics the checks allow (run and up)."""
    from riverbed.spec import DELIVERY

    return click.option(
        "--delivery",
        type=click.Choice(DELIVERY),
        default="at-least-once",
        show_default=True,
        help="What redelivery the checks allow: at-least-once lets records processed but not "
        "committed be processed again after any rebalance or stop (shown and counted); strict "
        "allows it only after a hard stop or lost partitions (a consumer must commit what it "
        "processed before it gives a partition up). See docs/report.md.",
    )(f)


def _checked_user_consumer(
    ctx: click.Context,
    platform: str,
    consumer_cmd: str | None,
    consumer_cwd: str | None,
    consumer_evidence: str | None,
    output_topic: str | None,
) -> UserConsumer | None:
    """Validate the user-consumer options (exit 4 before anything starts)."""
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


def _kube(
    platform: str,
    context: str | None,
    dry_run: bool,
    *,
    namespace: str | None = None,
    cluster_name: str | None = None,
    kafka: Any = None,
):
    from riverbed.platforms.kube import KubeImages, KubePlatform

    if platform == "k8s" and not context:
        raise BadInput(
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
        cluster_name=cluster_name or meta.get("riverbed.kind_cluster") or "riverbed",
        root=PROJECT_ROOT,
        images=images,
        kind_config=meta.get("riverbed.kind_config"),
        announce=err.print,
        namespace=namespace or meta.get("riverbed.namespace") or "riverbed",
        image_registry=meta.get("riverbed.image_registry"),
        image_pull_secret=meta.get("riverbed.image_pull_secret"),
        kafka=kafka,
    )


def _user_kafka(external: ExternalKafka | None, cluster_id: str | None = None) -> Any:
    """The user's Kafka on k8s (:class:`~riverbed.platforms.kube.user_kafka.UserKafka`)."""
    if external is None:
        return None
    from riverbed.platforms.kube.user_kafka import UserKafka

    return UserKafka(external.bootstrap_servers, external.host, dict(external.settings), cluster_id)


def _print_plan(kube) -> None:
    """The dry-run plan: one line per command (manifests piped to kubectl are not shown)."""
    from riverbed.platforms.kube.commands import describe

    for step in kube.runner.steps:
        out.print(describe(step), markup=False, highlight=False, soft_wrap=True)


# ---- up ---------------------------------------------------------------------------------------
@click.command(cls=PanelCommand)
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
    "--processing-ms",
    default="2",
    show_default=True,
    help="Per-record processing time of riverbed's consumer: 5, uniform:1-10 or exp:5.",
)
@click.option(
    "--topic",
    default=None,
    help="Data topic [default: a fresh riverbed-events-<time> per session, so that no older "
    "records mix into this session's evidence].",
)
@click.option("--group", default=None, help="Consumer group [default: riverbed-consumers-<time>].")
@_user_consumer_options
@delivery_option
@kafka_options
@kafka_host_bootstrap_option
@keep_topics_option
@click.option(
    "--network-faults",
    is_flag=True,
    help="local: connect each consumer replica through its own Toxiproxy proxies, so that "
    "experiments can delay, throttle, reset or cut its traffic (experiments/local/network-*.json). "
    "kind/k8s: give each consumer pod the network-fault sidecar (iptables, NET_ADMIN; the "
    "namespace then enforces Pod Security 'privileged'), so that experiments can cut or reset "
    "its connections (experiments/network-*-pod.json). `riverbed run` does this by itself when "
    "an experiment needs it. See docs/chaos.md.",
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
    processing_ms: str,
    topic: str | None,
    group: str | None,
    consumer_cmd: str | None,
    consumer_cwd: str | None,
    consumer_evidence: str | None,
    output_topic: str | None,
    join_timeout: str,
    delivery: str,
    kafka_bootstrap: str | None,
    kafka_config: tuple[str, ...],
    keep_topics: bool,
    network_faults: bool = False,
) -> None:
    """Bring a platform up: Kafka, the data topic, consumer replicas and the group monitor.

    On the local platform the workloads record evidence into a new run directory
    (printed), so that you can drive load (`locust -f locustfiles/kafka_producer.py`)
    and inject faults (`chaos run experiments/local/…`) by hand; `riverbed down`
    drains it, and `riverbed report RUN_DIR` gives the verdict. With --consumer-cmd
    the replicas are your own consumer (see docs/consumers.md). With --platform
    external the topic is created on a cluster riverbed does not run
    (--kafka-bootstrap, --kafka-config); `riverbed down --platform external` deletes it.
    With --platform k8s --kafka-bootstrap the pods use your own Kafka (docs/kubernetes.md);
    `riverbed down` (or `riverbed collect`) deletes the session's topics there.
    """
    with checking_input():
        user = _checked_user_consumer(
            ctx, platform, consumer_cmd, consumer_cwd, consumer_evidence, output_topic
        )
        external = external_kafka(
            ctx, platform, kafka_bootstrap, kafka_config, keep_topics, say=err.print
        )
        if external is not None:
            where = "--platform external"
            if platform == "k8s":
                where = "--platform k8s with --kafka-bootstrap"
            refuse_local_only(ctx, {"brokers": "--brokers"}, where)
            if consumers < 1:
                raise HarnessError(
                    f"{where} needs at least one consumer: a session without "
                    "consumers would only create a topic on a cluster riverbed does not run.",
                    fix="pass --consumers 1 or more.",
                )
            if network_faults:
                raise HarnessError(
                    "--network-faults needs brokers riverbed runs (a listener per consumer "
                    f"replica, or broker pods it knows by name), not {where}.",
                    fix="drop --network-faults, or use riverbed's own Kafka.",
                )
        join_timeout_s = parse_duration(join_timeout, "--join-timeout")
        if join_timeout_s <= 0:
            raise HarnessError(
                "--join-timeout must be longer than 0 s.", fix="e.g. --join-timeout 90s"
            )
        from riverbed.consumer_settings import (
            check_consumer_settings,
            resolve_assignor,
        )

        assignor = resolve_assignor(assignor, group_protocol)
        if user is None:
            check_consumer_settings(client, group_protocol, assignor)
    run_id = new_run_id("session")
    stamp = run_id.removesuffix("-session")
    if external is not None:
        # A shared cluster: names no other session picks, even in the same second.
        from riverbed.platforms.external import unique_suffix

        stamp = unique_suffix()
    topic = topic or f"riverbed-events-{stamp}"
    group = group or f"riverbed-consumers-{stamp}"
    if platform not in ("local", "external"):
        from riverbed.platforms.external import connection_settings

        with connection_settings(external.settings if external else {}):
            _up_kube(
                platform, context, dry_run, partitions, consumers, commit_mode, assignor, client,
                group_protocol, processing_ms, topic, group, user, network_faults, delivery,
                run_id, external,
            )  # fmt: skip
        return

    from riverbed.platforms.external import connection_settings

    with connection_settings(external.settings if external else {}):
        _up_here(
            external, run_id, brokers, partitions, consumers, commit_mode, assignor, client,
            group_protocol, topic, group, user, join_timeout_s, network_faults, delivery,
            processing_ms,
        )  # fmt: skip


def _up_kube(
    platform: str,
    context: str | None,
    dry_run: bool,
    partitions: int,
    consumers: int,
    commit_mode: str,
    assignor: str,
    client: str,
    group_protocol: str,
    processing_ms: str,
    topic: str,
    group: str,
    user: UserConsumer | None,
    network_faults: bool,
    delivery: str,
    run_id: str,
    external: ExternalKafka | None = None,
) -> None:
    """`riverbed up --platform kind|k8s`: Kafka and the workloads in the cluster, and a
    session for the by-hand workflow (its run directory and environment, printed). With
    ``external`` (k8s), the user's own Kafka instead of riverbed's."""
    from riverbed.platforms.kube import session_forward
    from riverbed.platforms.kube.session import ENV_FILE, open_session, open_session_dir
    from riverbed.runner import evidence_topic_for, reference_consumer_env

    evidence_topic = evidence_topic_for(topic)
    spec = RunSpec(
        run_id=run_id,
        platform=platform,
        partitions=partitions,
        consumers=max(consumers, 1),
        commit_mode=commit_mode,
        assignor=assignor,
        client=client,
        group_protocol=group_protocol,
        processing_ms=processing_ms,
        topic=topic,
        group=group,
        evidence_topic=evidence_topic,
        network_faults=network_faults,
        delivery=delivery,
    )
    with checking_input():
        spec = _apply_user_consumer(spec, user).validate()
    spec.consumers = consumers
    kafka = None
    if external is not None:
        cluster_id = None
        if not dry_run:
            with checking_input():
                info = _check_external(external)
            cluster_id = info.cluster_id
            spec.replication_factor = min(3, info.brokers)
            spec.min_insync_replicas = min(2, spec.replication_factor)
        kafka = _user_kafka(external, cluster_id)
        spec.kafka_config = external.masked
        spec.keep_topics = external.keep_topics
    kube = _kube(platform, context, dry_run, kafka=kafka)
    if not dry_run and (previous := open_session_dir(kube)) is not None:
        err.print(
            f"warning: the session in {previous} was not collected (`riverbed collect "
            f"{previous}`); a new session starts, with its own topic and group"
        )
    with progress(f"bringing up {platform}") as update:
        result = kube.up(
            partitions=partitions,
            replication_factor=spec.replication_factor,
            min_insync_replicas=spec.min_insync_replicas,
            consumers=consumers,
            consumer_env=reference_consumer_env(
                spec.commit_mode, spec.assignor, spec.processing_ms, client=client,
                group_protocol=group_protocol,
            ),
            topic=topic,
            group=group,
            evidence_topic=evidence_topic,
            consumer_image=user.image if user else None,
            consumer_instrumented=bool(user and user.image and user.evidence == "instrumented"),
            output_topic=user.output_topic if user else None,
            network_faults=network_faults,
            progress=update,
        )  # fmt: skip
    if dry_run:
        _print_plan(kube)
        return
    err.print(f"{platform} platform up: Kafka {result.bootstrap_servers}; topic {topic}")
    what = (
        f"your consumer {user.image}"
        if user
        else f"riverbed's consumer ({commit_mode}, {assignor})"
    )
    err.print(f"{consumers} replicas of {what} in group {group}; evidence topic {evidence_topic}")
    if not consumers:
        return
    spec.bootstrap_servers = result.bootstrap_servers
    if kafka is not None:
        # `riverbed collect` / `down` delete them (external platform's rules).
        spec.topics = {
            "created": list(kube.created_topics),
            "group": group,
            "kept": spec.keep_topics,
        }
    run_dir, env = open_session(kube, spec, runs_root())
    if session_forward.needed(kube):
        held = session_forward.start(kube, run_dir)
        err.print(
            f"port-forwards to Kafka ({result.bootstrap_servers}) held for the session by "
            f"process {held['pid']} (log: {run_dir / session_forward.LOG}); they stop when "
            "the session is collected (`riverbed collect`, `riverbed down`)"
        )
    err.print(f"session evidence in {run_dir}; its environment, for locust and chaos run:")
    for key, value in env.items():
        out.print(
            f"export {key}={shlex.quote(value)}", markup=False, highlight=False, soft_wrap=True
        )
    err.print(
        f"source {run_dir / ENV_FILE}, drive load with `locust -f locustfiles/kafka_producer.py "
        "--headless …` and faults with `chaos run experiments/kill-consumer-pod.json`, then "
        f"`riverbed collect {run_dir}` and `riverbed report {run_dir}` (docs/kubernetes.md)."
    )


def _up_here(
    external: ExternalKafka | None,
    run_id: str,
    brokers: int,
    partitions: int,
    consumers: int,
    commit_mode: str,
    assignor: str,
    client: str,
    group_protocol: str,
    topic: str,
    group: str,
    user: UserConsumer | None,
    join_timeout_s: float,
    network_faults: bool = False,
    delivery: str = "at-least-once",
    processing_ms: str = "2",
) -> None:
    """`riverbed up` with the workloads on this machine: riverbed's Kafka, or an external one."""
    from riverbed.consumer_settings import apply_group_configs
    from riverbed.runner import LocalRunPlatform, startup_checks, wait_group_ready

    if external is not None and network_faults:
        raise HarnessError(
            "--network-faults needs a listener per consumer replica on the brokers, which only "
            "a cluster riverbed runs has (not --platform external).",
            fix="drop --network-faults, or use --platform local.",
        )
    if external is not None:
        with checking_input():
            brokers = _check_external(external).brokers
    spec = RunSpec(
        run_id=run_id,
        platform="external" if external else "local",
        brokers=brokers,
        partitions=partitions,
        replication_factor=min(3, brokers),
        min_insync_replicas=min(2, brokers),
        bootstrap_servers=external.bootstrap_servers if external else None,
        kafka_config=external.masked if external else None,
        keep_topics=external.keep_topics if external else False,
        consumers=consumers,
        commit_mode=commit_mode,
        assignor=assignor,
        client=client,
        group_protocol=group_protocol,
        topic=topic,
        group=group,
        join_timeout_s=join_timeout_s,
        network_faults=network_faults,
        delivery=delivery,
        processing_ms=processing_ms,
    )
    spec = _apply_user_consumer(spec, user).validate()
    local: LocalRunPlatform
    if external is not None:
        from riverbed.platforms.external import ExternalRunPlatform

        local = ExternalRunPlatform(external.bootstrap_servers, external.keep_topics)
    else:
        local = LocalRunPlatform()
    with progress(f"starting the {spec.platform} platform") as update:
        from riverbed.kafka.admin import topic_exists
        from riverbed.platforms.network import wanted_slots

        if external is not None:
            # Only topics of its own: an existing one (a --topic given) is refused.
            bootstrap = local.prepare(spec, update)
            kafka_line = f"Kafka: {bootstrap} (external, {brokers} brokers); topic {topic}"
        else:
            cluster = local.platform.kafka_up(
                brokers,
                progress=update,
                proxy_slots=wanted_slots(consumers) if network_faults else 0,
                say=err.print,
            )
            bootstrap = cluster.bootstrap_servers
            kafka_line = f"Kafka: {bootstrap} ({cluster.brokers} brokers); topic {topic}"
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
                # A session whose consumers cannot start is no session: leave nothing running
                # (and, on an external cluster, none of riverbed's topics).
                local.stop_workloads()
                local.close()
                raise
    err.print(kafka_line)
    if consumers:
        what = (
            f"your consumer {user.what} ({user.evidence} evidence)"
            if user
            else f"riverbed's consumer ({commit_mode}, {client}, {group_protocol} protocol, "
            f"{assignor})"
        )
        err.print(f"{consumers} replicas of {what} in group {group}; evidence in {run_dir}")
        down = "riverbed down" + (" --platform external --kafka-config …" if external else "")
        err.print(
            "inject faults with e.g. `chaos run experiments/local/kill-consumer.json`; "
            f"`{down}` drains and stops everything."
        )
        if network_faults and (network := local.platform.network()):
            err.print(
                f"network faults: each replica through its own proxies; for the experiments' "
                f"rollbacks: export RIVERBED_TOXIPROXY_URL={network['toxiproxy_url']}"
            )


def _check_external(external: ExternalKafka) -> Any:
    """Log in to the external cluster before anything starts (a wrong password: exit 4 in
    seconds, naming the cause); returns its :class:`~riverbed.kafka.preflight.ClusterInfo`."""
    from riverbed.kafka.preflight import check_connection

    with progress(f"connecting to Kafka at {external.host}") as update:
        info = check_connection(external.host, external.settings, progress=update)
    err.print(f"Kafka at {external.host}: {info.brokers} broker(s), logged in")
    return info


# ---- down -------------------------------------------------------------------------------------
@click.command(cls=PanelCommand)
@platform_option
@context_option
@kind_cluster_option
@dry_run_option
@click.option(
    "--keep-kafka", is_flag=True, help="local: stop the workloads but keep Kafka running."
)
@kafka_options
@kafka_host_bootstrap_option
@keep_topics_option
@click.pass_context
@harness_errors
def down(
    ctx: click.Context,
    platform: str,
    context: str | None,
    dry_run: bool,
    keep_kafka: bool,
    kafka_bootstrap: str | None,
    kafka_config: tuple[str, ...],
    keep_topics: bool,
) -> None:
    """Stop a platform. Local: drain and stop the workloads, then Kafka (no process is left).
    external: drain and stop the workloads, delete the session's topics (unless
    --keep-topics; give the session's --kafka-config again), never touch the cluster.
    kind: delete the cluster. k8s: delete riverbed's objects, never the cluster (a session
    on your own Kafka: its topics there too; give its --kafka-config again, or set
    RIVERBED_KAFKA_CONFIG)."""
    if platform not in ("local", "external"):
        from riverbed.platforms.external import connection_settings
        from workloads import client_config

        with checking_input():
            external = external_kafka(
                ctx, platform, kafka_bootstrap, kafka_config, keep_topics, say=err.print
            )
        kube = _kube(platform, context, dry_run, kafka=_user_kafka(external))
        settings = external.settings if external else client_config.from_environ()
        with connection_settings(settings):
            if not dry_run:
                _collect_open_session(kube)
            with progress(f"tearing down {platform}"):
                kube.down()
        if dry_run:
            _print_plan(kube)
        return
    from riverbed.kafka.cluster import LocalKafkaCluster
    from riverbed.platforms.external import session_record
    from riverbed.platforms.local import LocalPlatform

    local = LocalPlatform()
    running = local.supervisor_pid() is not None
    session = session_record(_platform_json(local))
    if platform == "external" or session:
        _down_external(ctx, local, session, platform, kafka_bootstrap, kafka_config, keep_topics)
        return
    external_kafka(ctx, platform, kafka_bootstrap, kafka_config, keep_topics, say=err.print)
    if running:
        from riverbed.platforms.external import connection_settings

        with connection_settings({}):
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


def _collect_open_session(kube: Any) -> None:
    """`down` never deletes a by-hand session's evidence: an open session is collected
    first (a failure is reported, and the deletion goes on)."""
    from riverbed.platforms.kube.session import collect_session, open_session_dir

    run_dir = open_session_dir(kube)
    if run_dir is None:
        return
    if kube.user_kafka is None:
        # A session on the user's Kafka: its routes are in its spec, the settings in the
        # environment (connection_settings).
        from riverbed.platforms.kube.session import read_session, session_kafka
        from workloads import client_config

        with contextlib.suppress(HarnessError):
            kube.user_kafka = session_kafka(read_session(run_dir), client_config.from_environ())
    err.print(f"collecting the open session into {run_dir} before anything is deleted")
    try:
        with progress("collecting the session") as update:
            collect_session(kube, run_dir, update)
    except HarnessError as exc:
        err.print(f"warning: the session could not be collected: {exc.message}")
        return
    err.print(f"session evidence in {run_dir}: check it with `riverbed report {run_dir}`")


# ---- collect ----------------------------------------------------------------------------------
@click.command(cls=PanelCommand)
@click.argument(
    "run_dir",
    required=False,
    envvar="RIVERBED_RUN_DIR",
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option(
    "--offline",
    is_flag=True,
    envvar="RIVERBED_KIND_OFFLINE",
    expose_value=False,
    callback=_remember,
    help="kind: use the kubectl `riverbed kind prepare --offline` built.",
)
@click.option(
    "--drain-deadline",
    metavar="DURATION",
    default="120s",
    show_default=True,
    help="How long the group may take to commit everything before its consumers stop.",
)
@harness_errors
def collect(run_dir: Path | None, drain_deadline: str) -> None:
    """Turn a kind/k8s session's evidence into its run directory, ready for `riverbed report`.

    RUN_DIR is the session `riverbed up --platform kind|k8s` opened (default:
    $RIVERBED_RUN_DIR, which its riverbed.env exports). riverbed waits for the group to
    commit everything, stops the consumers (each commits and records its last batch) and
    the monitor, copies the evidence topic, drains the data topic into evidence/log.jsonl,
    reads the journals of the experiments you ran by hand, keeps the pods' logs, and
    writes spec.json. Locust's send outcomes and the experiments' fault timeline are
    already there (they write into $RIVERBED_RUN_DIR).

    \b
    source runs/<id>-session/riverbed.env
    locust -f locustfiles/kafka_producer.py --headless -u 5 -r 5 -t 100s
    chaos run experiments/kill-consumer-pod.json
    riverbed collect && riverbed report "$RIVERBED_RUN_DIR"
    """
    from riverbed.platforms.kube.session import collect_session, read_session

    with checking_input():
        if run_dir is None:
            raise HarnessError(
                "No session to collect: give its run directory.",
                fix="`riverbed collect RUN_DIR` (the directory `riverbed up --platform kind` "
                "printed), or source its riverbed.env.",
            )
        spec = read_session(run_dir)
        deadline = parse_duration(drain_deadline, "--drain-deadline")
    where = spec.kube or {}
    from riverbed.platforms.kube.session import session_kafka
    from workloads import client_config

    kube = _kube(
        spec.platform,
        where.get("context") if spec.platform == "k8s" else None,
        False,
        namespace=where.get("namespace"),
        cluster_name=where.get("kind_cluster"),
        # A session on your own Kafka: the settings come from RIVERBED_KAFKA_CONFIG.
        kafka=session_kafka(spec, client_config.from_environ()),
    )
    with progress(f"collecting the session in {run_dir}") as update:
        spec = collect_session(kube, run_dir, update, drain_deadline_s=deadline)
    drains = [
        f"{name} {'finished' if (d or {}).get('finished') else 'did NOT finish'}"
        for name, d in (("group drain", spec.drain), ("log drain", spec.log_drain))
    ]
    err.print(
        f"session collected: {', '.join(drains)}; {len(spec.chaos)} experiment(s) run by hand"
    )
    out.print(f"riverbed report {run_dir}", markup=False, soft_wrap=True)


def _platform_json(local: Any) -> dict[str, Any]:
    try:
        return dict(local.config)
    except (OSError, ValueError):
        return {}


def _down_external(
    ctx: click.Context,
    local: Any,
    session: dict[str, Any],
    platform: str,
    kafka_bootstrap: str | None,
    kafka_config: tuple[str, ...],
    keep_topics: bool,
) -> None:
    """End a session on a cluster riverbed does not run: drain, stop, delete its topics."""
    from riverbed.platforms.external import cleanup, connection_settings, mark_ended

    if not session:
        raise BadInput(
            f"No `riverbed up --platform external` session in {local.state_dir}.",
            fix="nothing to stop; `riverbed status` shows what runs.",
        )
    config = _platform_json(local)
    if platform != "external":
        raise BadInput(
            f"The running session consumes a Kafka cluster riverbed does not run "
            f"({config.get('bootstrap_servers')}).",
            fix="end it with `riverbed down --platform external`, giving the session's "
            "--kafka-config again.",
        )
    external = external_kafka(
        ctx,
        platform,
        kafka_bootstrap or str(config.get("bootstrap_servers") or ""),
        kafka_config,
        keep_topics,
    )
    assert external is not None
    missing = sorted(set(session.get("kafka_config_keys") or []) - set(external.settings))
    if missing:
        raise BadInput(
            f"The session connected with {', '.join(missing)}; riverbed keeps no secrets, so "
            "`down` needs them again to drain the topics.",
            fix="pass the session's --kafka-config items (or set RIVERBED_KAFKA_CONFIG).",
        )
    keep = keep_topics or bool(session.get("keep_topics"))
    with connection_settings(external.settings):
        run_dir = local.run_dir
        if local.supervisor_pid() is not None:
            finalize_session(local)
        else:
            local.stop_workloads()
        with progress(
            "deleting the session's topics" if not keep else "keeping the topics"
        ) as update:
            record = cleanup(
                external.bootstrap_servers,
                list(session.get("created_topics") or []),
                str(config.get("group") or ""),
                keep,
                progress=update,
            )
    with contextlib.suppress(OSError, ValueError):
        spec = RunSpec.read(run_dir)
        spec.topics = record
        spec.write(run_dir)
    mark_ended(local.state_dir)
    if record.get("error"):
        err.print(f"warning: the topics were not all deleted: {record['error']}")
    what = "kept" if keep else f"deleted {', '.join(record.get('deleted') or []) or 'none'}"
    err.print(f"session on {external.bootstrap_servers} ended; topics {what}")


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
@click.command(cls=PanelCommand)
@platform_option
@context_option
@kind_cluster_option
@harness_errors
def status(platform: str, context: str | None) -> None:
    """Show what runs: Kafka brokers and consumer replicas (local), the external cluster's
    session and its replicas (external), or pods (kind/k8s)."""
    if platform not in ("local", "external"):
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
    table = Table(title=f"riverbed on the {platform} platform")
    for col in ("process", "pid", "state", "detail"):
        table.add_column(col)
    if platform == "external":
        from riverbed.platforms.external import session_record

        config = _platform_json(local)
        session = session_record(config)
        table.add_row(
            "kafka",
            "-",
            "external" if session else "-",
            f"{config.get('bootstrap_servers')}: topics "
            f"{', '.join(session.get('created_topics') or [])}"
            if session
            else "no external session (riverbed up --platform external)",
        )
    try:
        if platform == "external":
            raise HarnessError("riverbed's own brokers are not part of an external session")
        cluster = LocalKafkaCluster.open(local.kafka_state_dir)
        for b in cluster.status():
            table.add_row(
                f"kafka broker {b.id}",
                str(b.pid or "-"),
                "up" if b.up else "down",
                f"127.0.0.1:{b.port}",
            )
    except HarnessError:
        if platform == "local":
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
@click.command(cls=PanelCommand)
@platform_option
@context_option
@kube_options
@click.option(
    "--experiment",
    "experiments",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Chaos Toolkit experiment (JSON or YAML) to run with `chaos run` during the steady "
    "load (repeatable, in order). One is needed, or --no-faults.",
)
@click.option(
    "--no-faults",
    is_flag=True,
    help="A baseline without faults: no experiment runs, and the verdict rests on the load "
    "alone (loss, order, duplicates, lag budget). Without it, a run with no --experiment is "
    "refused: it could only end inconclusive.",
)
@click.option(
    "--var",
    multiple=True,
    metavar="KEY[:TYPE]=VALUE",
    help="A configuration value for the experiments, passed to each `chaos run` as its "
    "--var (TYPE: int, float, bytes, str; repeatable). The key must be one an experiment "
    "declares.",
)
@click.option(
    "--var-file",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Configuration and secrets for the experiments (JSON or YAML with `configuration` "
    "and `secrets`, or a .env file), passed to each `chaos run` as its --var-file "
    "(repeatable).",
)
@max_recovery_option
@max_lag_option
@click.option(
    "--duration",
    metavar="DURATION",
    default="60s",
    show_default=True,
    help="Total load time, warm-up and cool-down included, as Locust's -t takes it: 90s, 2m, "
    "1m30s (a bare number is seconds). Every duration option takes this form.",
)
@click.option(
    "--warmup",
    metavar="DURATION",
    default="10s",
    show_default=True,
    help="Load before the first experiment.",
)
@click.option(
    "--cooldown",
    metavar="DURATION",
    default="10s",
    show_default=True,
    help="Load after the experiments.",
)
@load_options
@click.option(
    "--locust-workers",
    type=click.IntRange(0, 64),
    default=0,
    show_default=True,
    help="kind/k8s: drive the load from Locust in the cluster, a headless master and this many "
    "worker pods (manifests/locust.yaml), each worker's send outcomes copied into the run "
    "directory. 0: Locust runs on this machine.",
)
@brokers_option
@partitions_option
@click.option(
    "--replication-factor",
    type=click.IntRange(1, 9),
    default=None,
    help="Data topic replication [default: min(3, brokers)].",
)
@click.option(
    "--consumers",
    type=click.IntRange(1, 100),
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
    help="Per-record processing time: 5, uniform:1-10 or exp:5.",
)
@click.option(
    "--session-timeout-ms",
    type=click.IntRange(1000),
    default=10_000,
    show_default=True,
    help="The reference consumer's session timeout (the group's, under the consumer protocol).",
)
@message_options
@click.option(
    "--drain-deadline",
    metavar="DURATION",
    default="60s",
    show_default=True,
    help="How long the group may take to commit everything after the load.",
)
@click.option("--run-id", default=None, help="Name of the run directory [default: time-stamped].")
@_user_consumer_options
@delivery_option
@kafka_options
@kafka_host_bootstrap_option
@keep_topics_option
@click.pass_context
@harness_errors
def run(ctx: click.Context, **params: Any) -> None:
    """Run one scenario from cluster to verdict.

    Brings the platform up if needed, starts the consumers and the group monitor,
    drives load with Locust (warm-up, steady, cool-down), runs each --experiment
    with `chaos run` after the warm-up, drains, collects the evidence and renders
    the report. Exits as the report does: 0 pass, 1 fail, 2 inconclusive; 3 when
    a harness error stopped the run, 4 on bad input (nothing is started).

    Every input is checked first (`riverbed validate` checks them alone). A run
    needs an --experiment, or --no-faults for a baseline whose verdict rests on
    the load alone.

    \b
    riverbed run --experiment experiments/local/kill-consumer-hard.json \\
                 --experiment experiments/local/resize-partitions.json --duration 90s

    Your own consumer instead of riverbed's (docs/consumers.md):

    \b
    riverbed run --consumer-cmd "python examples/kafka_python_tutorial.py" \\
                 --experiment experiments/local/kill-consumer-hard.json

    The same scenario on a Kafka cluster riverbed does not run (docs/external.md):

    \b
    riverbed run --platform external --kafka-bootstrap broker1:9093,broker2:9093 \\
                 --kafka-config security.protocol=SASL_SSL --kafka-config sasl.username=u \\
                 --kafka-config sasl.password=p --kafka-config ssl.ca.location=ca.pem \\
                 --experiment experiments/local/kill-consumer-hard.json
    """
    spec, external, run_dir = check_run(ctx, connect=True, **ctx.params)
    from riverbed.platforms.external import connection_settings

    # Every client of the run, in this process and in the ones it starts, gets the
    # run's connection settings (none on riverbed's own cluster).
    with connection_settings(external.settings if external else {}):
        result = run_spec(spec, run_dir, context=params["context"], external=external)
    raise SystemExit(result.exit_code)


def check_run(
    ctx: click.Context,
    connect: bool,
    platform: str,
    context: str | None,
    experiments: tuple[str, ...],
    no_faults: bool,
    var: tuple[str, ...],
    var_file: tuple[str, ...],
    max_recovery: str | None,
    max_lag: int | None,
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
    delivery: str,
    kafka_bootstrap: str | None,
    kafka_config: tuple[str, ...],
    keep_topics: bool,
) -> tuple[RunSpec, ExternalKafka | None, Path]:
    """Every input of `riverbed run`, checked before anything starts (exit 4 on the
    first bad one): returns the run's spec, the external cluster's settings and the run
    directory. ``connect``: also log in to an external cluster (`riverbed validate`
    does not: it checks the inputs without any platform)."""
    with checking_input():
        if platform == "k8s" and not context:
            raise HarnessError(
                "--platform k8s needs --context NAME (the kubeconfig context of an existing "
                "cluster).",
                fix="pass --context, or use --platform kind to create a local kind cluster.",
            )
        user = _checked_user_consumer(
            ctx, platform, consumer_cmd, consumer_cwd, consumer_evidence, output_topic
        )
        external = external_kafka(
            ctx, platform, kafka_bootstrap, kafka_config, keep_topics, say=err.print
        )
        if external is not None:
            where = "--platform external"
            if platform == "k8s":
                where = "--platform k8s with --kafka-bootstrap"
            refuse_local_only(ctx, {"brokers": "--brokers"}, where)
        from riverbed.chaos.validate import check_experiments
        from riverbed.chaos.variables import check_vars

        if not experiments and not no_faults:
            raise HarnessError(
                "No --experiment: a run without a fault can only end inconclusive.",
                fix="add --experiment FILE (e.g. experiments/local/kill-consumer-hard.json; "
                "`riverbed validate` checks it), or pass --no-faults for a baseline whose "
                "verdict rests on the load alone.",
            )
        if experiments and no_faults:
            raise HarnessError(
                "--no-faults and --experiment contradict each other.",
                fix="drop --no-faults to run the experiments, or the experiments for a baseline.",
            )
        # Every experiment is checked before anything starts: a bad one costs seconds, not a run.
        loaded = check_experiments(
            experiments, platform, foreign_kafka=external is not None or None
        )
        chaos_vars = check_vars(var, var_file, loaded)
        if locust_workers and platform in ("local", "external"):
            raise HarnessError(
                f"--locust-workers runs Locust in a Kubernetes cluster; the {platform} platform "
                "runs it on this machine.",
                fix="drop --locust-workers, or use --platform kind / k8s.",
            )
        from riverbed.consumer_settings import resolve_assignor

        assignor = resolve_assignor(assignor, group_protocol)
        if run_id and (runs_root() / run_id).exists():
            raise HarnessError(
                f"Run directory {runs_root() / run_id} already exists.",
                fix="pick another --run-id.",
            )
        stamp = str(int(time.time()))
        rf = replication_factor or min(3, brokers)
        label = "-".join(Path(e).stem for e in experiments) or "no-faults"
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
            topic=f"riverbed-events-{stamp}",
            group=f"riverbed-consumers-{stamp}",
            consumers=consumers,
            commit_mode=commit_mode,
            assignor=assignor,
            client=client,
            group_protocol=group_protocol,
            processing_ms=processing_ms,
            session_timeout_ms=session_timeout_ms,
            experiments=[str(Path(e)) for e in experiments],
            no_faults=no_faults,
            chaos_vars=chaos_vars.to_json() if (var or var_file) else None,
            limits=recovery_limits(max_recovery, max_lag),
            load=LoadSpec(
                users=users,
                spawn_rate=spawn_rate,
                duration_s=parse_duration(duration, "--duration"),
                warmup_s=parse_duration(warmup, "--warmup"),
                cooldown_s=parse_duration(cooldown, "--cooldown"),
                key_space=key_space,
                body_bytes=body_bytes,
                user_rate=user_rate,
                workers=locust_workers,
            ),
            drain_deadline_s=parse_duration(drain_deadline, "--drain-deadline"),
            join_timeout_s=parse_duration(join_timeout, "--join-timeout"),
            bootstrap_servers=external.host if external else None,
            kafka_config=external.masked if external else None,
            keep_topics=external.keep_topics if external else False,
            delivery=delivery,
        )
        if external is not None:
            # The cluster's broker count bounds replication: checked once the login told it.
            spec.brokers = max(spec.brokers, spec.replication_factor)
        spec = _apply_user_consumer(spec, user).validate()
        run_dir = runs_root() / spec.run_id
        if run_dir.exists():
            raise HarnessError(
                f"Run directory {run_dir} already exists.", fix="pick another --run-id."
            )
        if external is not None and connect:
            # Last, as it is the one check that talks to something: the login (a wrong
            # password or nothing listening stops it in seconds).
            info = _check_external(external)
            spec.brokers = info.brokers
            if platform == "k8s":
                # The pods' route is checked against this cluster id once they can run.
                spec.kube = {
                    "context": context,
                    "namespace": ctx.meta.get("riverbed.namespace") or "riverbed",
                    "kind_cluster": None,
                    "kafka": _user_kafka(external, info.cluster_id).record(),
                }
            spec.replication_factor = replication_factor or min(3, spec.brokers)
            spec.min_insync_replicas = min(2, spec.replication_factor)
            spec.topic = f"riverbed-events-{_unique_suffix()}"
            spec.group = spec.topic.replace("riverbed-events-", "riverbed-consumers-")
            spec.validate()
    return spec, external, run_dir


# ---- validate ---------------------------------------------------------------------------------
def _validate_command() -> click.Command:
    """`riverbed validate`: `riverbed run`'s options (their own copies, read from the same
    settings: [run] and RIVERBED_RUN_*), plus experiment files as arguments."""
    import copy

    params: list[click.Parameter] = [
        click.Argument(["experiment_files"], nargs=-1, type=click.Path(dir_okay=False))
    ]
    params += [copy.copy(p) for p in run.params]
    return PanelCommand(
        "validate",
        callback=_validate,
        params=params,
        help=_VALIDATE_HELP,
        short_help="Check a run's inputs (experiments, --var, budgets, every option) "
        "without a platform.",
    )


_VALIDATE_HELP = """Check everything `riverbed run` would check before it starts, without any
platform: every option, every experiment (JSON or YAML: Chaos Toolkit's own validation,
and riverbed's: the right platform, no broker faults on an external cluster), every
--var and --var-file (each key one an experiment declares), the budgets, the consumer
settings. Nothing is started, written or contacted (an external cluster's login is
left to `riverbed run`).

It takes `riverbed run`'s options and reads the same settings ([run] in riverbed.toml,
RIVERBED_RUN_* variables); experiment files may also be given as arguments, as to
`chaos validate`.

\b
riverbed validate experiments/local/kill-consumer-hard.json --max-recovery 15s
riverbed validate --experiment my-fault.yaml --var-file staging.yaml --platform external \\
                  --kafka-bootstrap broker1:9093

Exit codes: 0 valid (the plan is printed), 4 bad input (the message names the fix).
"""


@click.pass_context
@harness_errors
def _validate(ctx: click.Context, experiment_files: tuple[str, ...], **params: Any) -> None:
    params["experiments"] = tuple(params["experiments"]) + tuple(experiment_files)
    ctx.params["experiments"] = params["experiments"]
    spec, external, run_dir = check_run(ctx, connect=False, **params)
    table = Table(title="riverbed validate: the run would be", title_justify="left")
    table.add_column("setting")
    table.add_column("value", overflow="fold")
    load = spec.load
    rows = [
        ("platform", spec.platform + (f" ({external.bootstrap_servers})" if external else "")),
        ("experiments", ", ".join(spec.experiments) or "none (--no-faults: a baseline)"),
        ("chaos run vars", json.dumps(spec.chaos_vars) if spec.chaos_vars else "none"),
        ("budgets", json.dumps(spec.limits) if spec.limits else "none"),
        (
            "consumers",
            f"{spec.consumers} × "
            + (
                f"your consumer ({spec.consumer_evidence} evidence)"
                if spec.consumer_cmd or spec.consumer_image
                else f"riverbed's ({spec.commit_mode}, {spec.client}, {spec.group_protocol}, "
                f"{spec.assignor})"
            ),
        ),
        (
            "load",
            f"{load.users} users × {load.user_rate:g}/s for {load.duration_s:g}s (warm-up "
            f"{load.warmup_s:g}s, steady {load.duration_s - load.warmup_s - load.cooldown_s:g}s, "
            f"cool-down {load.cooldown_s:g}s)",
        ),
        ("run directory", str(run_dir)),
    ]
    for name, value in rows:
        table.add_row(name, Text(value))
    out.print(table)
    out.print("valid: every input checked; nothing was started")


def _unique_suffix() -> str:
    from riverbed.platforms.external import unique_suffix

    return unique_suffix()


def recovery_limits(max_recovery: str | None, max_lag: int | None) -> dict[str, float] | None:
    """spec.json ``limits`` from ``--max-recovery`` and ``--max-lag`` (None without either)."""
    limits: dict[str, float] = {}
    if max_recovery is not None:
        seconds = parse_duration(max_recovery, "--max-recovery")
        if seconds <= 0:
            raise HarnessError(
                f"--max-recovery must be longer than 0 s, got {max_recovery!r}.",
                fix="give the recovery budget as a duration, e.g. --max-recovery 15s.",
            )
        limits.update(time_to_full_ownership_s=seconds, max_processing_gap_s=seconds)
    if max_lag is not None:
        limits["max_lag"] = max_lag
    return limits or None


def run_spec(
    spec: RunSpec,
    run_dir: Path,
    context: str | None = None,
    external: ExternalKafka | None = None,
):
    """Run a validated spec and print its summary; returns the RunResult.

    An external spec needs its connection settings in ``RIVERBED_KAFKA_CONFIG``
    (:func:`riverbed.platforms.external.connection_settings`); a k8s spec on the user's
    Kafka, ``external`` (the pods get the settings through a Secret)."""
    from riverbed.runner import LocalRunPlatform, RunPlatform, execute

    platform: RunPlatform
    if spec.platform == "local":
        platform = LocalRunPlatform(say=err.print)
    elif spec.platform == "external":
        from riverbed.platforms.external import ExternalRunPlatform

        platform = ExternalRunPlatform(spec.bootstrap_servers or "", spec.keep_topics)
    else:
        from riverbed.platforms.kube.run import KubeRunPlatform

        kafka = None
        if external is not None:
            found = ((spec.kube or {}).get("kafka") or {}).get("cluster_id")
            kafka = _user_kafka(external, found)
        platform = KubeRunPlatform(
            _kube(spec.platform, context, False, kafka=kafka), keep_topics=spec.keep_topics
        )
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
