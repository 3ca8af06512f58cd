"""The by-hand workflow on Kubernetes: a session that ends in a run directory.

``riverbed up --platform kind`` (or ``k8s``) opens a session: a run directory
(``runs/<id>-session``) whose spec.json names the session's topic, group,
evidence topic and cluster, and an environment file in it, ``riverbed.env``,
with everything Locust and the experiments read::

    source runs/<id>-session/riverbed.env
    locust -f locustfiles/kafka_producer.py --headless -u 5 -r 5 -t 100s
    chaos run experiments/kill-consumer-pod.json
    riverbed collect
    riverbed report "$RIVERBED_RUN_DIR"

Locust writes its send outcomes and the experiments (riverbed's evidence
control) their fault timeline and journal into ``$RIVERBED_RUN_DIR``.
``riverbed collect`` turns the cluster's part into the same run directory:
it waits for the group to commit everything, stops the consumers (each commits
and records its last batch), copies the evidence topic, drains the data topic
into ``evidence/log.jsonl``, reads each experiment's journal as ``riverbed run``
does (spec.json ``chaos``), keeps the pods' logs, and closes the session.
``riverbed down`` collects a session still open before it deletes anything.

A session on the user's own Kafka (``--platform k8s --kafka-bootstrap``) records both
routes to it in spec.json ``kube.kafka``; collecting it then also deletes the topics
and the group it created there (unless ``--keep-topics``), with the connection settings
of ``RIVERBED_KAFKA_CONFIG`` (riverbed keeps no secret).
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from riverbed.errors import BadInput, HarnessError
from riverbed.spec import RunSpec, new_run_id

#: The session's environment file, in its run directory.
ENV_FILE = "riverbed.env"


def session_env(spec: RunSpec, kube: Any, run_dir: Path) -> dict[str, str]:
    """What Locust, the experiments and riverbed's evidence control read, for this session."""
    from riverbed.runner import experiment_env

    env = experiment_env(spec, run_dir, str(spec.bootstrap_servers))
    env.update(
        {
            "RIVERBED_RUN_DIR": str(run_dir.resolve()),
            "RIVERBED_EVIDENCE_TOPIC": str(spec.evidence_topic),
            # chaosk8s' pod kills and probes go to this cluster and namespace, whatever
            # kubeconfig's current context is.
            "KUBERNETES_CONTEXT": str(kube.context),
            "RIVERBED_K8S_NAMESPACE": kube.namespace,
        }
    )
    return dict(sorted(env.items()))


def env_file_text(env: dict[str, str]) -> str:
    lines = [f"export {key}={shlex.quote(value)}" for key, value in env.items()]
    return "# riverbed session: `source` this file, then run locust and chaos by hand\n" + (
        "\n".join(lines) + "\n"
    )


def open_session(kube: Any, spec: RunSpec, runs_root: Path) -> tuple[Path, dict[str, str]]:
    """Write the session's run directory (spec.json, riverbed.env) and remember it as the
    open session of this cluster and namespace. Returns the directory and the environment."""
    from workloads.evidence.schema import RunLayout

    run_dir = runs_root / spec.run_id
    RunLayout(run_dir).make()
    spec.t_start = time.time()
    spec.kube = kube_record(kube)
    spec.write(run_dir)
    env = session_env(spec, kube, run_dir)
    (run_dir / ENV_FILE).write_text(env_file_text(env))
    _record_path(kube).parent.mkdir(parents=True, exist_ok=True)
    _record_path(kube).write_text(json.dumps({"run_dir": str(run_dir.resolve())}) + "\n")
    return run_dir, env


def kube_record(kube: Any) -> dict[str, Any]:
    """spec.json ``kube``: where the session's cluster is."""
    record: dict[str, Any] = {
        "context": str(kube.context),
        "namespace": kube.namespace,
        "kind_cluster": kube.cluster_name if kube.mode == "kind" else None,
    }
    if getattr(kube, "user_kafka", None) is not None:
        record["kafka"] = kube.user_kafka.record()
    return record


def session_kafka(spec: RunSpec, settings: dict[str, str]) -> Any:
    """The user's Kafka a session ran on (spec.json ``kube.kafka``), with ``settings``;
    None for a session on riverbed's own Kafka."""
    found = (spec.kube or {}).get("kafka")
    if not found:
        return None
    from riverbed.platforms.kube.user_kafka import UserKafka

    return UserKafka(
        str(found["bootstrap_servers"]),
        str(found.get("host_bootstrap_servers") or found["bootstrap_servers"]),
        dict(settings),
        found.get("cluster_id"),
    )


def open_session_dir(kube: Any) -> Path | None:
    """The run directory of this cluster and namespace's open session, if any."""
    try:
        data = json.loads(_record_path(kube).read_text())
    except (OSError, ValueError):
        return None
    run_dir = Path(str(data.get("run_dir") or ""))
    return run_dir if (run_dir / "spec.json").is_file() else None


def new_session_id() -> str:
    return new_run_id("session")


def collect_session(
    kube: Any,
    run_dir: Path,
    progress: Callable[[str], None],
    drain_deadline_s: float = 120.0,
) -> RunSpec:
    """Turn the cluster's evidence of a by-hand session into its run directory (see the
    module docstring); returns the finished spec."""
    from riverbed.platforms.kube import session_forward
    from riverbed.runner import drain_consumers, drain_log

    # First, whatever follows: the forwards `riverbed up` kept for the session hold the
    # very ports opened below, and `down` deletes what they reach.
    stopped = session_forward.stop(run_dir)
    spec = read_session(run_dir)
    if spec.t_end is not None and spec.log_drain is not None:
        raise BadInput(
            f"The session in {run_dir} was collected already.",
            fix=f"check it with `riverbed report {run_dir}`; `riverbed up` opens a new one.",
        )
    bootstrap = str(spec.bootstrap_servers or kube.bootstrap_servers)
    if stopped:
        progress("stopped the session's port-forwards; collecting through riverbed's own")
    with kube.host_access():
        progress("draining the consumer group")
        spec.drain_deadline_s = drain_deadline_s
        spec.drain = drain_consumers(spec, bootstrap, progress)
        spec.write(run_dir)
        progress("stopping the consumers (graceful) and the monitor")
        try:
            kube.save_logs(run_dir)
        except HarnessError as exc:
            progress(f"could not save the pods' logs: {exc.message}")
        kube.stop_consumers()
        progress(f"collecting evidence topic {spec.evidence_topic}")
        kube.collect_evidence(run_dir, evidence_topic=str(spec.evidence_topic))
        spec.log_drain = drain_log(spec, run_dir, bootstrap, progress)
    if getattr(kube, "user_kafka", None) is not None and spec.topics:
        from riverbed.platforms.external import cleanup

        progress("deleting the session's topics and group on your Kafka")
        spec.topics = cleanup(
            bootstrap,
            list(spec.topics.get("created") or []),
            spec.group,
            bool(spec.keep_topics),
            progress=progress,
        )
    spec.chaos = experiments_run_by_hand(run_dir)
    spec.t_load = spec.t_load or first_send(run_dir)
    spec.t_end = time.time()
    spec.write(run_dir)
    _record_path(kube).unlink(missing_ok=True)
    return spec


def read_session(run_dir: Path) -> RunSpec:
    try:
        spec = RunSpec.read(run_dir)
    except (OSError, ValueError) as exc:
        raise BadInput(
            f"{run_dir} holds no readable spec.json ({exc}).",
            fix="give the run directory `riverbed up --platform kind|k8s` printed.",
        ) from None
    if spec.platform not in ("kind", "k8s") or not spec.evidence_topic:
        raise BadInput(
            f"{run_dir} is not a session of riverbed on kind or Kubernetes "
            f"(platform {spec.platform}).",
            fix="`riverbed collect` is for `riverbed up --platform kind|k8s` sessions; a local "
            "session ends with `riverbed down`.",
        )
    return spec


def experiments_run_by_hand(run_dir: Path) -> list[dict[str, Any]]:
    """spec.json ``chaos`` from the journals the evidence control kept in ``chaos/``: each
    experiment run by hand is judged as ``riverbed run`` judges its own (a fault that hit
    nothing, a failed action or rollback makes the run inconclusive)."""
    from riverbed.chaos.control import epoch
    from riverbed.chaos.runner import outcome_from_journal

    entries = []
    for path in sorted((run_dir / "chaos").glob("*.journal.json")):
        try:
            journal = json.loads(path.read_text())
        except (OSError, ValueError):
            journal = None
        name = path.name.removesuffix(".journal.json")
        experiment = str(((journal or {}).get("experiment") or {}).get("title") or name)
        when = journal or {}
        outcome = outcome_from_journal(
            journal,
            experiment,
            name,
            path,
            path.with_name(f"{name}.log"),
            None,
            t_start=epoch(when.get("start")),
            t_end=epoch(when.get("end")),
        )
        entries.append(outcome.to_dict())
    return sorted(entries, key=lambda e: e.get("t_start") or 0.0)


def first_send(run_dir: Path) -> float | None:
    """When the by-hand load started: the earliest send outcome's time."""
    earliest: float | None = None
    for path in (run_dir / "evidence" / "acks").glob("*.jsonl"):
        with path.open() as f:
            for line in f:
                try:
                    t = json.loads(line).get("t_send")
                except ValueError:
                    continue
                if isinstance(t, int | float):
                    earliest = t if earliest is None else min(earliest, float(t))
                break  # a producer's records are in time order: its first is its earliest
    return earliest


def _record_path(kube: Any) -> Path:
    from riverbed.paths import state_dir

    name = f"{kube.context}--{kube.namespace}".replace("/", "_")
    return state_dir() / "kube-sessions" / f"{name}.json"
