"""``riverbed run``: one command from cluster to verdict.

The steps, in order (each waits with a progress display and a deadline):

1. create the run directory and spec.json;
2. bring the platform up if needed (Kafka, the data topic);
3. start the consumer replicas (riverbed's, or the user's ``--consumer-cmd``) and
   the group monitor, wait for a stable group (a user's command that crash-loops
   or never joins stops the run here, exit 3);
4. start Locust headless with the chaos-window shape (warm-up, steady, cool-down);
5. after the warm-up, run each experiment with ``chaos run`` (control, journal
   in the run directory, ``--rollback-strategy=always``);
6. wait for the load to end;
7. drain: wait, with a deadline, until the group has committed every record;
8. stop the workloads gracefully, collect evidence, drain the output topic
   (output-topic evidence) and the log;
9. render the report and exit as it does (0 pass, 1 fail, 2 inconclusive; 3 when a
   harness error stopped the run, recorded in spec.json ``error``).

An interrupt (Ctrl-C, SIGTERM) at any point stops every process this run
started, keeps the evidence recorded so far, and marks the run interrupted;
its report (``riverbed report RUN_DIR``) then says inconclusive.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from riverbed.consumer_settings import apply_group_configs, consumer_args, consumer_env
from riverbed.errors import HarnessError
from riverbed.paths import PROJECT_ROOT
from riverbed.processes import spawn, stop_group
from riverbed.spec import RunSpec
from workloads.evidence.schema import RunLayout

Progress = Callable[[str], None]


class Interrupted(Exception):
    """The run was interrupted by a signal."""


@dataclass
class RunResult:
    run_dir: Path
    verdict: str
    exit_code: int
    report: Path | None
    lines: list[tuple[str, str, str]] = field(default_factory=list)
    """(check, status, explanation) for the summary table."""


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Turn SIGTERM into an exception, like Ctrl-C, so teardown runs either way."""

    def on_term(signum: int, frame: object) -> None:
        raise Interrupted(f"signal {signum}")

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def locust_command(spec: RunSpec, run_dir: Path, bootstrap: str) -> list[str]:
    """The headless Locust command line for this run's load (see docs/load.md).

    ``-t`` is the run's total load time, as ``riverbed run --duration``: the
    chaos-window shape's steady phase is what the warm-up and the cool-down leave.
    """
    load = spec.load
    layout = RunLayout(run_dir)
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(PROJECT_ROOT / "locustfiles" / "kafka_producer.py"),
        "--headless",
        "--only-summary",
        "--run-dir",
        str(run_dir),
        "--kafka-bootstrap",
        bootstrap,
        "--kafka-topic",
        spec.topic,
        "--key-space",
        str(load.key_space),
        "--body-bytes",
        str(load.body_bytes),
        "--user-rate",
        f"{load.user_rate:g}",
        "--shape",
        load.shape,
        "--warmup-s",
        f"{load.warmup_s:g}s",
        "--cooldown-s",
        f"{load.cooldown_s:g}s",
        "-t",
        f"{math.ceil(load.duration_s)}s",
        "-u",
        str(load.users),
        "-r",
        f"{load.spawn_rate:g}",
        # Producers must see added partitions within seconds (as the consumers
        # do), or a resize leaves the new partitions without load.
        "--kafka-config",
        "metadata.max.age.ms=5000",
        "--html",
        str(layout.locust_dir / "report.html"),
        "--csv",
        str(layout.locust_dir / "locust"),
    ]
    if load.processes > 1:
        cmd += ["--processes", str(load.processes)]
    return cmd


def experiment_env(
    spec: RunSpec, run_dir: Path, bootstrap: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Environment the experiments read their configuration from: the run's targets under
    their canonical names and the older ones the experiments' configuration reads (the
    connection settings travel in ``RIVERBED_KAFKA_CONFIG``, inherited)."""
    from workloads.settings_core import KAFKA_BOOTSTRAP, KAFKA_GROUP, KAFKA_TOPIC

    env = {
        "RIVERBED_RUN_DIR": str(run_dir),
        "RIVERBED_CONSUMERS": str(spec.consumers),
        "RIVERBED_PARTITIONS": str(spec.partitions),
    }
    for setting, value in (
        (KAFKA_BOOTSTRAP, bootstrap),
        (KAFKA_TOPIC, spec.topic),
        (KAFKA_GROUP, spec.group),
    ):
        for name in setting.envs:
            if name.startswith("RIVERBED_"):
                env[name] = value
    env.update(extra or {})
    return env


class Load(Protocol):
    """The run's Locust load, wherever it runs: on this machine or in the cluster."""

    @property
    def returncode(self) -> int | None:
        """Locust's exit code once it exited, else None."""
        ...

    def poll(self) -> int | None:
        """None while the load runs, else Locust's exit code."""
        ...

    def stop(self) -> None:
        """Stop the load now, keeping the evidence recorded so far."""
        ...


class HostLocust:
    """Headless Locust as a child process of this machine (its own session, see processes)."""

    def __init__(self, spec: RunSpec, run_dir: Path, bootstrap: str) -> None:
        layout = RunLayout(run_dir)
        self.proc = spawn(locust_command(spec, run_dir, bootstrap), layout.logs_dir / "locust.log")

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def poll(self) -> int | None:
        return self.proc.poll()

    def stop(self) -> None:
        # SIGINT: Locust stops its users and flushes every send outcome first.
        stop_group(self.proc)


class RunPlatform(Protocol):
    """What ``riverbed run`` needs of a platform (local processes, kind, a Kubernetes cluster).

    Every method may be called at any stage of a run that stops early:
    ``stop_workloads`` and ``close`` stop only what this platform object
    started, and do nothing when called again.
    """

    name: str

    def prepare(self, spec: RunSpec, progress: Progress) -> str:
        """Bring Kafka up if needed and create the run's topics; returns the bootstrap servers."""
        ...

    def start_workloads(self, spec: RunSpec, run_dir: Path, bootstrap: str) -> None:
        """Start the consumer replicas and the group monitor, recording into ``run_dir``."""
        ...

    def health(self, spec: RunSpec) -> None:
        """Raise a HarnessError when the consumers crash at start-up (checked while waiting)."""
        ...

    def join_failure(self, spec: RunSpec, timeout: float, detail: str) -> HarnessError | None:
        """The error for consumers that did not join in time (None: the generic one)."""
        ...

    def check_evidence(self, spec: RunSpec, run_dir: Path, progress: Progress) -> None:
        """Raise a HarnessError when the consumers record no evidence (instrumentation)."""
        ...

    def start_load(self, spec: RunSpec, run_dir: Path, bootstrap: str) -> Load:
        """Start the run's Locust load (its shape starts with the warm-up)."""
        ...

    def experiment_env(self) -> dict[str, str]:
        """Extra environment for ``chaos run`` (where the experiments find their targets)."""
        ...

    def stop_workloads(self) -> None:
        """Stop the consumers gracefully, then the monitor (only what this object started)."""
        ...

    def collect(self, run_dir: Path, bootstrap: str, spec: RunSpec) -> None:
        """Bring evidence that lives elsewhere (pods, topics) into ``run_dir``."""
        ...

    def close(self) -> None:
        """Release what the platform holds open for the run (port-forwards...)."""
        ...


#: The data topic's configuration on riverbed's own cluster: each record carries the time
#: its leader appended it, which the log drain records (``t_append``). The report measures
#: latency from it: on this machine's one clock no processing can precede it, while the
#: producer's acknowledgement arrives after the record is readable.
APPEND_TIME = {"message.timestamp.type": "LogAppendTime"}


class LocalRunPlatform:
    """The run's view of the local platform: Kafka on 127.0.0.1, workloads as processes."""

    name = "local"

    def __init__(
        self, kafka_base_port: int | None = None, say: Callable[[str], None] | None = None
    ) -> None:
        from riverbed.platforms.local import LocalPlatform

        self.platform = LocalPlatform()
        self.kafka_base_port = kafka_base_port
        self.say = say
        """Where to tell the user what the platform did on its own (a Kafka restart)."""
        self._workloads = False

    def prepare(self, spec: RunSpec, progress: Progress) -> str:
        """Kafka up (reused when running), the run's data topic created. Returns bootstrap."""
        from riverbed.kafka.admin import create_topic
        from riverbed.platforms.network import needs_network, wanted_slots

        # Network faults need per-replica listeners on the brokers (and Toxiproxy later).
        spec.network_faults = spec.network_faults or needs_network(spec.experiments)
        cluster = self.platform.kafka_up(
            spec.brokers,
            progress=progress,
            base_port=self.kafka_base_port,
            proxy_slots=wanted_slots(spec.consumers) if spec.network_faults else 0,
            say=self.say,
        )
        if cluster.brokers < spec.replication_factor:
            raise HarnessError(
                f"The running local cluster has {cluster.brokers} broker(s); the run needs "
                f"replication factor {spec.replication_factor}.",
                fix="`riverbed down` and run again, or lower --replication-factor.",
            )
        progress(f"creating topic {spec.topic} ({spec.partitions} partitions)")
        create_topic(
            cluster.bootstrap_servers,
            spec.topic,
            partitions=spec.partitions,
            replication_factor=spec.replication_factor,
            min_insync_replicas=min(spec.min_insync_replicas, spec.replication_factor),
            config=APPEND_TIME,
        )
        self.ensure_output_topic(spec, cluster.bootstrap_servers, progress, reuse=False)
        return cluster.bootstrap_servers

    def ensure_output_topic(
        self, spec: RunSpec, bootstrap: str, progress: Progress, reuse: bool = True
    ) -> bool:
        """Output-topic mode: create the output topic (the data topic's partition count,
        log-append timestamps: :data:`~riverbed.kafka.admin.OUTPUT_TOPIC_CONFIG`)
        before the consumers start. An existing one is reused only with ``reuse``
        (a session on an existing data topic); otherwise it is an error, as its older
        records would mix into this run's evidence. Returns whether it created one."""
        if spec.consumer_evidence != "output-topic" or not spec.output_topic:
            return False
        from riverbed.kafka.admin import OUTPUT_TOPIC_CONFIG, create_topic, topic_exists

        if topic_exists(bootstrap, spec.output_topic):
            if not reuse:
                raise HarnessError(
                    f"Output topic {spec.output_topic} already exists: its older records would "
                    "mix into this run's evidence.",
                    fix="give a fresh --output-topic name (your service reads it from "
                    "$KAFKA_OUTPUT_TOPIC), or delete the topic.",
                )
            progress(f"output topic {spec.output_topic} exists: reusing it")
            return False
        progress(
            f"creating output topic {spec.output_topic} ({spec.partitions} partitions, "
            "timestamps: LogAppendTime)"
        )
        create_topic(
            bootstrap,
            spec.output_topic,
            partitions=spec.partitions,
            replication_factor=spec.replication_factor,
            min_insync_replicas=min(spec.min_insync_replicas, spec.replication_factor),
            config=OUTPUT_TOPIC_CONFIG,
        )
        return True

    def kafka_record(self) -> dict[str, Any] | None:
        """What platform.json says about Kafka beyond the bootstrap servers (None: local)."""
        return None

    def start_workloads(self, spec: RunSpec, run_dir: Path, bootstrap: str) -> None:
        if (pid := self.platform.supervisor_pid()) is not None:
            # Checked here, before anything is started: teardown must never stop
            # the workloads of another session.
            raise HarnessError(
                f"Local workloads are already running (supervisor pid {pid}) for "
                f"{self.platform.config.get('run_dir')}.",
                fix="stop them with `riverbed down` first.",
            )
        self._workloads = True
        self.platform.start_workloads(
            run_dir,
            bootstrap_servers=bootstrap,
            topic=spec.topic,
            group=spec.group,
            consumers=spec.consumers,
            commit_mode=spec.commit_mode,
            assignor=spec.assignor,
            processing_ms=spec.processing_ms,
            consumer_args=consumer_args(spec),
            user=user_consumer_of(spec),
            kafka=self.kafka_record(),
            network_faults=spec.network_faults,
        )

    def start_load(self, spec: RunSpec, run_dir: Path, bootstrap: str) -> Load:
        return HostLocust(spec, run_dir, bootstrap)

    def health(self, spec: RunSpec) -> None:
        """Raise a :class:`HarnessError` when the consumers crash at start-up."""
        if spec.consumer_cmd is None:
            return
        from riverbed.platforms.startup import check_crash_loop

        check_crash_loop(self.platform, spec)

    def join_failure(self, spec: RunSpec, timeout: float, detail: str) -> HarnessError | None:
        """The error for a user's consumer that did not join in time (None: the generic one)."""
        if spec.consumer_cmd is None:
            return None
        from riverbed.platforms.startup import never_joined

        return never_joined(spec, self.platform.run_dir / "logs", timeout, detail)

    def check_evidence(self, spec: RunSpec, run_dir: Path, progress: Progress) -> None:
        """Instrumented consumers: each replica must have recorded its start."""
        if spec.consumer_evidence != "instrumented":
            return
        from riverbed.platforms.startup import wait_instrumented

        wait_instrumented(self.platform, spec, run_dir, progress)

    def experiment_env(self) -> dict[str, str]:
        env = {"RIVERBED_LOCAL_STATE_DIR": str(self.platform.state_dir)}
        network = self.platform.network() if self._workloads else None
        if network:
            # chaostoolkit-toxiproxy's own actions (the rollbacks' reset) find the server here.
            env["RIVERBED_TOXIPROXY_URL"] = str(network["toxiproxy_url"])
        return env

    def stop_workloads(self) -> None:
        if self._workloads:
            self.platform.stop_workloads()
            self._workloads = False

    def collect(self, run_dir: Path, bootstrap: str, spec: RunSpec) -> None:
        """Local consumers write their evidence files directly: nothing to collect."""

    def close(self) -> None:
        """Kafka stays up for the next run (`riverbed down` stops it), never paused:
        a broker an interrupted experiment left frozen (SIGSTOP) continues."""
        with contextlib.suppress(HarnessError, OSError):
            cluster = self.platform.kafka
            for bid in cluster.paused():
                cluster.resume_broker(bid)


def user_consumer_of(spec: RunSpec) -> Any:
    """The spec's user consumer (:class:`~riverbed.user_consumer.UserConsumer`), or None."""
    if spec.consumer_cmd is None:
        return None
    from riverbed.user_consumer import UserConsumer

    return UserConsumer(
        spec.consumer_cmd,
        spec.consumer_cwd or str(Path.cwd()),
        spec.consumer_evidence,
        spec.output_topic,
    )


def startup_checks(platform: RunPlatform, spec: RunSpec) -> dict[str, Any]:
    """The platform's start-up health check and join-failure error for :func:`wait_group_ready`."""
    return {
        "health": lambda: platform.health(spec),
        "failure": lambda timeout, detail: platform.join_failure(spec, timeout, detail),
    }


def wait_group_ready(
    spec: RunSpec,
    bootstrap: str,
    progress: Progress,
    timeout: float | None = None,
    health: Callable[[], None] | None = None,
    failure: Callable[[float, str], HarnessError | None] | None = None,
) -> None:
    """Wait until the group is Stable with every partition owned by exactly one of the replicas.

    ``health`` is called at every check and raises a HarnessError to stop the
    wait early (consumers that crash at start-up). The wait ends after
    ``timeout`` seconds (default: the spec's ``join_timeout_s``) with the error
    ``failure(timeout, detail)`` makes, or a generic one.
    """
    from riverbed.chaos.groups import assignment_problems, group_view
    from riverbed.kafka import admin

    limit = spec.join_timeout_s if timeout is None else timeout
    t0 = time.monotonic()
    state = {"last": ""}
    progress(f"waiting for {spec.consumers} consumers to form a stable group")
    with admin.admin_client(bootstrap, quiet=True) as client:

        def check() -> tuple[bool, str]:
            if health is not None:
                health()
            try:
                partitions = len(admin.topic_partitions(client, spec.topic))
            except HarnessError:
                # Created a moment ago: a broker whose metadata lags (a busy machine) does
                # not know the topic yet. Wait for it like for the group.
                state["last"] = f"topic {spec.topic} not visible yet"
                progress(f"waiting for {spec.consumers} consumers: {state['last']}")
                return False, state["last"]
            view = group_view(admin.describe_group(client, spec.group), spec.topic)
            problems = assignment_problems(view, partitions, expected_members=spec.consumers)
            state["last"] = "; ".join(problems)
            progress(
                f"waiting for {spec.consumers} consumers to form a stable group "
                f"({time.monotonic() - t0:.0f}s of {limit:.0f}s): "
                + (state["last"] or f"{len(view.members)} members")
            )
            return not problems, state["last"]

        ok = admin.poll_until(
            check, limit, settle_s=1.0, what=f"consumer group {spec.group!r} stable"
        )
    if not ok:
        detail = f" ({state['last']})" if state["last"] else ""
        error = failure(limit, detail) if failure is not None else None
        if error is not None:
            raise error
        raise HarnessError(
            f"The consumer group {spec.group} did not become stable with {spec.consumers} members "
            f"within {limit:.0f}s{detail}.",
            fix="see the consumers' logs in the run directory's logs/.",
        )


def drain_output(
    spec: RunSpec, run_dir: Path, bootstrap: str, progress: Progress
) -> dict[str, Any]:
    """Output-topic mode: read the output topic into ``evidence/output.jsonl``."""
    from workloads.drain import drain_output_topic

    progress(f"reading output topic {spec.output_topic} into evidence/output.jsonl")
    out = RunLayout(run_dir).output
    result = drain_output_topic(
        bootstrap, str(spec.output_topic), out, max(60.0, spec.drain_deadline_s)
    )
    result = dict(result or {})
    return {
        "finished": bool(result.get("finished")),
        "t": result.get("t", time.time()),
        "end_offsets": result.get("end_offsets", {}),
        "records": result.get("records"),
        **({"detail": result["detail"]} if result.get("detail") else {}),
    }


def drain_consumers(spec: RunSpec, bootstrap: str, progress: Progress) -> dict[str, Any]:
    """Wait until the group has committed every record (lag 0), with a deadline."""
    from riverbed.chaos.groups import partition_lag
    from riverbed.kafka import admin

    t0 = time.time()
    deadline = time.monotonic() + spec.drain_deadline_s
    lag: dict[int, int] = {}
    last_error = ""
    with admin.admin_client(bootstrap, quiet=True) as client:
        while True:
            try:
                partitions = len(admin.topic_partitions(client, spec.topic))
                o = admin.offsets(client, spec.group, spec.topic, partitions)
            except HarnessError:
                raise
            except Exception as exc:
                # The group coordinator may move or still be loading after a fault
                # (NotCoordinator, CoordinatorLoadInProgress): that is "not yet".
                last_error = f"{type(exc).__name__}: {exc}"
                progress(f"draining: waiting for the group coordinator ({last_error})")
            else:
                lag = partition_lag(o["committed"], o["end"], o["start"])
                total = sum(lag.values())
                progress(
                    f"draining: lag {total} "
                    f"({time.time() - t0:.0f}s of {spec.drain_deadline_s:.0f}s)"
                )
                if total == 0:
                    return {
                        "finished": True,
                        "t": time.time(),
                        "deadline_s": spec.drain_deadline_s,
                        "detail": f"lag 0 on all {partitions} partitions",
                    }
                last_error = ""
            if time.monotonic() > deadline:
                detail = f"lag {sum(lag.values())} left when the deadline struck: {lag}"
                if last_error:
                    detail += f"; last error: {last_error}"
                return {
                    "finished": False,
                    "t": time.time(),
                    "deadline_s": spec.drain_deadline_s,
                    "detail": detail,
                }
            time.sleep(0.5)


def drain_log(spec: RunSpec, run_dir: Path, bootstrap: str, progress: Progress) -> dict[str, Any]:
    from workloads.drain import drain_log as drain

    progress(f"reading topic {spec.topic} into evidence/log.jsonl")
    layout = RunLayout(run_dir)
    result = drain(bootstrap, spec.topic, layout.log, timeout_s=max(60.0, spec.drain_deadline_s))
    return {
        "finished": bool(result.get("finished")),
        "t": result.get("t", time.time()),
        "end_offsets": result.get("end_offsets", {}),
        "records": result.get("records"),
    }


def execute(
    spec: RunSpec,
    run_dir: Path,
    platform: RunPlatform,
    progress: Progress,
    say: Callable[[str], None],
) -> RunResult:
    """Run the whole pipeline; returns the verdict. Always tears down what it started.

    An interrupt (Ctrl-C, SIGTERM) or a harness error at any stage stops
    everything this run started, keeps the evidence so far, marks the run
    interrupted and renders its (inconclusive) report; a harness error is then
    raised again so that the CLI names it and exits 3.
    """
    RunLayout(run_dir).make()
    spec.t_start = time.time()
    spec.write(run_dir)
    locust: Load | None = None
    failure: HarnessError | None = None
    bootstrap = ""
    try:
        with signals_raise():
            bootstrap = platform.prepare(spec, progress)
            spec.bootstrap_servers = bootstrap
            apply_group_configs(spec, bootstrap, progress)
            spec.write(run_dir)
            progress("starting consumers and the group monitor")
            platform.start_workloads(spec, run_dir, bootstrap)
            wait_group_ready(spec, bootstrap, progress, **startup_checks(platform, spec))
            platform.check_evidence(spec, run_dir, progress)
            say(f"group {spec.group}: {spec.consumers} consumers own {spec.partitions} partitions")

            t_load = time.monotonic()
            spec.t_load = time.time()
            spec.write(run_dir)
            locust = platform.start_load(spec, run_dir, bootstrap)
            say(f"load: {spec.load.users} Locust users for {spec.load.duration_s:g}s")
            _wait_until(t_load + spec.load.warmup_s, locust, progress, "warm-up")

            from riverbed.chaos.runner import run_experiment

            exp_env = experiment_env(spec, run_dir, bootstrap, platform.experiment_env())
            from riverbed.chaos.variables import ChaosVars

            chaos_args = ChaosVars.from_json(spec.chaos_vars).chaos_args()
            for path in spec.experiments:
                progress(f"chaos run {path}")
                outcome = run_experiment(
                    path,
                    run_dir,
                    env=exp_env,
                    extra_args=chaos_args,
                    # External runs use the local experiments (their consumers run here).
                    platform="kind" if platform.name == "kube" else "local",
                )
                spec.chaos.append(outcome.to_dict())
                spec.write(run_dir)
                note = (
                    "landed"
                    if outcome.landed and not outcome.inconclusive
                    else "INCONCLUSIVE: " + "; ".join(outcome.inconclusive_reasons)
                )
                say(f"experiment {outcome.name}: {outcome.status}, {note}")
                if locust.poll() is not None:
                    say("warning: the load ended before the experiments did; widen --duration")

            end = t_load + spec.load.duration_s + 60
            while locust.poll() is None:
                left = spec.load.duration_s - (time.monotonic() - t_load)
                progress(f"load running: {max(0, left):.0f}s left")
                if time.monotonic() > end:
                    say("warning: Locust did not stop at the end of its shape; stopping it")
                    locust.stop()
                    break
                time.sleep(0.5)
            if locust.returncode not in (0, None):
                say(f"warning: Locust exited with code {locust.returncode} (see logs/locust.log)")

            spec.drain = drain_consumers(spec, bootstrap, progress)
            progress("stopping consumers (graceful) and the monitor")
            platform.stop_workloads()
            platform.collect(run_dir, bootstrap, spec)
            if spec.consumer_evidence == "output-topic":
                spec.output_drain = drain_output(spec, run_dir, bootstrap, progress)
                spec.write(run_dir)
                if not spec.output_drain["finished"]:
                    say(f"warning: output topic not drained: {spec.output_drain.get('detail')}")
            spec.log_drain = drain_log(spec, run_dir, bootstrap, progress)
    except (KeyboardInterrupt, Interrupted):
        spec.interrupted = True
        say("interrupted: stopping the load, the experiments and the workloads; evidence is kept")
    except HarnessError as exc:
        spec.interrupted = True
        spec.error = {"message": exc.message, "fix": exc.fix}
        failure = exc
        say(f"stopped early: {exc.message}")
        say("stopping everything this run started; evidence is kept")
    finally:
        # A second Ctrl-C must not cut the teardown short and leave processes behind.
        with ignoring_interrupts():
            teardown(spec, run_dir, platform, locust, say)
    if failure is not None:
        with contextlib.suppress(Exception):
            render(run_dir, progress)
        raise failure
    return render(run_dir, progress)


def teardown(
    spec: RunSpec,
    run_dir: Path,
    platform: RunPlatform,
    locust: Load | None,
    say: Callable[[str], None],
) -> None:
    """Stop whatever is still running, in order, each step on its own: one failing
    step never keeps the next from running. Writes the final spec.json."""
    steps: list[tuple[str, Callable[[], object]]] = [
        ("stopping Locust", lambda: locust.stop() if locust is not None else None),
        ("stopping the workloads", platform.stop_workloads),
        ("closing the platform", platform.close),
    ]
    for what, step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - report it and go on tearing down
            say(f"warning: {what} failed: {type(exc).__name__}: {exc}")
    spec.t_end = time.time()
    spec.write(run_dir)


@contextlib.contextmanager
def ignoring_interrupts() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM for the duration (teardown); restore them afterwards."""
    old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    old_term = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)


def _wait_until(deadline: float, proc: Load, progress: Progress, what: str) -> None:
    while time.monotonic() < deadline and proc.poll() is None:
        progress(f"{what}: {deadline - time.monotonic():.0f}s left")
        time.sleep(0.25)


def render(run_dir: Path, progress: Progress) -> RunResult:
    """Render the report for a run directory and return its verdict."""
    from reports import build

    progress("checking the evidence and rendering the report")
    summary = build(run_dir)
    lines = [(v.name, v.status, v.explanation) for v in summary.checks]
    return RunResult(
        run_dir, summary.verdict, summary.exit_code, summary.paths.get("report_html"), lines
    )


def reference_consumer_env(
    commit_mode: str | None,
    assignor: str | None,
    processing_ms: str | None,
    session_timeout_ms: int | None = None,
    client: str = "kafka-python",
    group_protocol: str = "classic",
) -> dict[str, str]:
    """The reference consumer's settings as the environment of its pods (workloads/consumer);
    settings that are None (a user's consumer) are left out.

    Under the consumer protocol the session timeout is the group's (set through the
    admin API), never the consumer's: it refuses one.
    """
    env = {
        "RIVERBED_COMMIT_MODE": commit_mode,
        "RIVERBED_ASSIGNOR": assignor,
        "RIVERBED_PROCESSING_MS": processing_ms,
        **consumer_env(client, group_protocol),
    }
    if session_timeout_ms is not None and group_protocol == "classic":
        env["RIVERBED_SESSION_TIMEOUT_MS"] = str(session_timeout_ms)
    return {k: str(v) for k, v in env.items() if v is not None}


def evidence_topic_for(topic: str) -> str:
    """The evidence topic that goes with a data topic: same suffix, so runs never share one."""
    prefix = "riverbed-events"
    suffix = topic[len(prefix) :] if topic.startswith(prefix) else f"-{topic}"
    return f"riverbed-evidence{suffix}"
