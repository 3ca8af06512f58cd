"""Check an experiment before a run starts anything: a bad file must cost seconds, not a run.

:func:`check_experiment` reads the file, checks that it is JSON or YAML, runs Chaos
Toolkit's own validation (``chaos validate``'s: structure, hypothesis, every
activity; Python activities must be importable with matching arguments) in
this process, and checks that an experiment written for another platform is
not run on this one (riverbed's extension names it: ``"platform": "kind"``).
On ``--platform external`` and on ``--platform k8s --kafka-bootstrap`` (a Kafka
cluster riverbed does not run) an experiment that stops, kills, pauses or starts
brokers is refused (:func:`broker_activities`): riverbed touches nothing there but
its own topics.
Every problem is a :class:`~riverbed.errors.HarnessError` naming the file.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError

#: Platforms whose experiments are interchangeable: a Kubernetes experiment runs on kind and k8s.
_FAMILY = {"local": "local", "kind": "kubernetes", "k8s": "kubernetes", "external": "local"}


def experiment_platform(experiment: dict[str, Any]) -> str | None:
    """The platform riverbed's extension names (``local``, ``kind``...), or None."""
    for ext in experiment.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == "riverbed":
            platform = ext.get("platform")
            return str(platform) if platform else None
    return None


#: Platforms whose brokers riverbed does not run: broker faults are refused there.
FOREIGN_KAFKA = ("external",)


def _activities(experiment: dict[str, Any]) -> list[dict[str, Any]]:
    hypothesis = experiment.get("steady-state-hypothesis") or {}
    found = [
        *(hypothesis.get("probes") or []),
        *(experiment.get("method") or []),
        *(experiment.get("rollbacks") or []),
    ]
    return [a for a in found if isinstance(a, dict)]


#: Modules whose activities act on Kubernetes objects (pods, Deployments, StatefulSets).
_KUBE_MODULES = ("chaosk8s", "riverbed.chaos.kube.actions")


def _mentions_brokers(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_mentions_brokers(v) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_brokers(v) for v in value)
    text = str(value).lower()
    return "broker" in text or "kafka" in text


def acts_on_brokers(provider: dict[str, Any]) -> bool:
    """Whether an activity's provider acts on broker processes: one of riverbed's local
    broker actions (``stop_broker``, ``kill_broker``, ``start_broker``, and any later one
    with ``broker`` in its name), a process running ``riverbed kafka stop|kill|start``, or a
    Kubernetes activity (chaosk8s, riverbed's scaling) on broker pods or the broker
    StatefulSet (an argument naming brokers or Kafka: ``${broker_selector}``,
    ``app.kubernetes.io/name=kafka``, ``${broker_statefulset}``)."""
    if provider.get("type") == "python":
        module = str(provider.get("module") or "")
        if module.startswith(_KUBE_MODULES):
            return _mentions_brokers(provider.get("arguments") or {})
        return module.startswith("riverbed.chaos.local") and "broker" in str(
            provider.get("func") or ""
        )
    if provider.get("type") == "process":
        words = [Path(str(provider.get("path") or "")).name]
        arguments = provider.get("arguments")
        words += (
            arguments.split() if isinstance(arguments, str) else [str(a) for a in arguments or []]
        )
        return (
            "riverbed" in words
            and "kafka" in words
            and bool({"stop", "kill", "start", "pause"} & set(words))
        )
    return False


def broker_activities(experiment: dict[str, Any]) -> list[str]:
    """Names of the experiment's activities that act on brokers (see :func:`acts_on_brokers`)."""
    return [
        str(a.get("name") or "?")
        for a in _activities(experiment)
        if isinstance(a.get("provider"), dict) and acts_on_brokers(a["provider"])
    ]


def network_activities(experiment: dict[str, Any]) -> list[str]:
    """Names of the experiment's activities that fault a replica's network (Toxiproxy)."""
    return [
        str(a.get("name") or "?")
        for a in _activities(experiment)
        if isinstance(a.get("provider"), dict)
        and str(a["provider"].get("module") or "").startswith(
            ("riverbed.chaos.local.network", "chaostoxi", "riverbed.chaos.kube.network")
        )
    ]


#: The file types Chaos Toolkit reads experiments from.
EXPERIMENT_SUFFIXES = (".json", ".yaml", ".yml")


def load_experiment(path: str | Path) -> dict[str, Any]:
    """The experiment, from JSON or YAML (as ``chaos run`` reads them); a HarnessError
    naming the file and the line otherwise."""
    path = Path(path)
    example = "experiments/local/kill-consumer-hard.json"
    if not path.is_file():
        raise HarnessError(
            f"Experiment file {path} does not exist.",
            fix=f"pass a path like {example}.",
        )
    if path.suffix.lower() not in EXPERIMENT_SUFFIXES:
        raise HarnessError(
            f"Experiment {path} is neither JSON nor YAML (Chaos Toolkit reads .json, .yaml "
            "and .yml files).",
            fix="name the file by its format: .json, .yaml or .yml.",
        )
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(
            f"Experiment file {path} cannot be read: {getattr(exc, 'strerror', None) or exc}.",
            fix=f"pass a path like {example}.",
        ) from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HarnessError(
                f"Experiment {path} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                f"column {exc.colno}.",
                fix="fix the JSON (or write the experiment in YAML, as a .yaml file).",
            ) from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise HarnessError(
                f"Experiment {path} is not valid YAML: {problem}{where}.",
                fix="fix the YAML.",
            ) from None
    if not isinstance(data, dict):
        raise HarnessError(
            f"Experiment {path} must be an object (a mapping), not {type(data).__name__}.",
            fix="see experiments/local/kill-consumer.json for the shape of an experiment.",
        )
    return data


def check_experiment(
    path: str | Path,
    platform: str | None = None,
    env: dict[str, str] | None = None,
    foreign_kafka: bool | None = None,
) -> dict[str, Any]:
    """Validate one experiment file for a run on ``platform``; returns the experiment.

    ``env``: variables the experiment will run with (e.g. ``RIVERBED_KUBE_CONTEXT``,
    which the Kubernetes experiments read their context from), set while validating.
    ``foreign_kafka``: the run's Kafka is not riverbed's (default: ``platform`` is
    external; ``--platform k8s --kafka-bootstrap`` passes True): broker and network
    faults are refused.
    Raises HarnessError (exit code 4 when a run checks its input) naming the file and the problem.
    """
    from chaoslib.exceptions import ChaosException
    from chaoslib.experiment import ensure_experiment_is_valid

    path = Path(path)
    experiment = load_experiment(path)
    written_for = experiment_platform(experiment)
    if platform and written_for and _FAMILY.get(written_for) != _FAMILY.get(platform):
        where = "experiments/local/" if _FAMILY.get(platform) == "local" else "experiments/"
        raise HarnessError(
            f"Experiment {path} is written for the {written_for} platform; this run is on "
            f"{platform}.",
            fix=f"use an experiment from {where} (or change the experiment's riverbed "
            "extension if it really works on both).",
        )
    foreign = platform in FOREIGN_KAFKA if foreign_kafka is None else foreign_kafka
    where = f"--platform {platform}" + (" with --kafka-bootstrap" if platform == "k8s" else "")
    if foreign and (names := network_activities(experiment)):
        raise HarnessError(
            f"Experiment {path} faults the network between consumers and brokers "
            f"({', '.join(names)}); that needs brokers riverbed runs (a listener per consumer "
            f"replica, or broker pods it knows by name), not {where}.",
            fix="run network experiments on riverbed's own Kafka (--platform local, kind, or "
            "k8s without --kafka-bootstrap).",
        )
    if foreign and (names := broker_activities(experiment)):
        raise HarnessError(
            f"Experiment {path} acts on brokers ({', '.join(names)}); on {where} "
            "the cluster is not riverbed's: it creates and deletes its own topics there and "
            "touches nothing else.",
            fix="drop this experiment (consumer kills, scaling, partition changes and poison "
            "records work on any cluster), or run it on riverbed's own Kafka (--platform "
            "local, kind, or k8s without --kafka-bootstrap).",
        )
    # chaoslib logs every validation step at INFO; the caller reports the outcome.
    chaos_log = logging.getLogger("chaostoolkit")
    level = chaos_log.level
    chaos_log.setLevel(logging.ERROR)
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        ensure_experiment_is_valid(experiment)
    except ChaosException as exc:
        raise HarnessError(
            f"Experiment {path} is not valid: {exc}.",
            fix=f"fix the experiment; `chaos validate {path}` shows the same check.",
        ) from None
    finally:
        chaos_log.setLevel(level)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return experiment


def check_experiments(
    paths: list[str] | tuple[str, ...],
    platform: str | None = None,
    env: dict[str, str] | None = None,
    foreign_kafka: bool | None = None,
) -> list[dict[str, Any]]:
    """Validate every experiment of a run (all of them, before anything starts); returns
    them, loaded."""
    return [check_experiment(path, platform, env, foreign_kafka) for path in paths]
