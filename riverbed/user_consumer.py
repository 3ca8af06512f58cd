"""The user's own consumer as the system under test (``--consumer-cmd``).

riverbed runs the command as it runs its reference replicas (consumer-1..N,
supervised, killed and scaled by the chaos actions), gives it the tutorial's
environment (``KAFKA_BROKER``, ``KAFKA_TOPIC``, ``KAFKA_GROUP``, …), and gathers
evidence around it with one of three strengths (docs/consumers.md):

- ``instrumented``: a Python consumer, run with riverbed's instrumentation
  layer (``workloads/instrument``) around kafka-python, confluent-kafka or aiokafka;
  a JVM consumer, run with riverbed's Java agent (``-javaagent`` in
  ``JAVA_TOOL_OPTIONS``) around kafka-clients' ``KafkaConsumer``;
- ``output-topic``: the service writes one output record per input to
  ``--output-topic``, drained at the end of the run;
- ``offsets``: only committed offsets and the group's view.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from riverbed.errors import HarnessError
from workloads.instrument import program

EVIDENCE_MODES = ("instrumented", "output-topic", "offsets")
#: ``consumer_evidence`` of a run whose consumer is riverbed's own.
REFERENCE = "reference"
#: Options that configure riverbed's reference consumer only.
REFERENCE_ONLY_OPTIONS = ("commit_mode", "assignor", "processing_ms")

def command_words(cmd: str) -> list[str]:
    """The command's words as the shell would split them (a clear error if it cannot)."""
    try:
        words = shlex.split(cmd)
    except ValueError as exc:
        raise HarnessError(
            f"--consumer-cmd {cmd!r} cannot be parsed: {exc}.",
            fix='quote it as you would in a shell, e.g. --consumer-cmd "python my_consumer.py".',
        ) from None
    if not words:
        raise HarnessError(
            "--consumer-cmd is empty.", fix='give the command, e.g. --consumer-cmd "python app.py".'
        )
    return words


def runs_python(cmd: str) -> bool:
    """Whether the command starts a Python program: its first word (after ``env`` and
    ``VAR=value`` assignments) is ``python``, ``python3``, ``python3.11``, a path to
    one of them, or a ``.py`` script."""
    command_words(cmd)
    return program.runs_python(cmd)


def runs_java(cmd: str) -> bool:
    """Whether the command starts a JVM (``java …``, a path to one, or a ``.jar``)."""
    command_words(cmd)
    return program.runs_java(cmd)


def default_evidence(cmd: str) -> str:
    """``instrumented`` for a Python or a JVM command, else ``offsets``."""
    return "instrumented" if runs_python(cmd) or runs_java(cmd) else "offsets"


#: Where a consumer image runs.
KUBE_PLATFORMS = ("kind", "k8s")


@dataclass(frozen=True)
class UserConsumer:
    """A validated ``--consumer-cmd`` (or ``--consumer-image``) with how riverbed gathers
    its evidence."""

    cmd: str | None
    """The shell command line of one replica (None: the consumer is an image)."""
    cwd: str
    """Absolute working directory of the command."""
    evidence: str
    """``instrumented``, ``output-topic`` or ``offsets``."""
    output_topic: str | None = None
    """The topic the service writes its outputs to (output-topic mode)."""
    image: str | None = None
    """kind/k8s: the image the consumer Deployment runs instead of riverbed's consumer."""

    @property
    def needs_java_agent(self) -> bool:
        """Instrumented evidence of a command that is not a Python program: riverbed's Java
        agent goes into its ``JAVA_TOOL_OPTIONS`` (a JVM, or a script that starts one)."""
        return (
            self.evidence == "instrumented" and self.cmd is not None and not runs_python(self.cmd)
        )

    @property
    def what(self) -> str:
        """How to name it to users: its command, or its image."""
        return f"`{self.cmd}`" if self.cmd is not None else f"image {self.image}"


def check_user_consumer(
    cmd: str | None,
    cwd: str | None,
    evidence: str | None,
    output_topic: str | None,
    platform: str = "local",
    explicit_reference_options: tuple[str, ...] = (),
    image: str | None = None,
) -> UserConsumer | None:
    """Validate the user-consumer options together; None when riverbed's own consumer runs.

    Raises :class:`HarnessError` (exit 4, before anything starts) on a
    combination that cannot work.
    """
    if cmd is None and image is None:
        for flag, value in (
            ("--consumer-cwd", cwd),
            ("--consumer-evidence", evidence),
            ("--output-topic", output_topic),
        ):
            if value:
                raise HarnessError(
                    f"{flag} applies to a consumer given with --consumer-cmd or --consumer-image.",
                    fix='add --consumer-cmd "…" (or --consumer-image on kind/k8s), or drop the option.',
                )
        return None
    if cmd is not None and image is not None:
        raise HarnessError(
            "--consumer-cmd and --consumer-image name two consumers; give one.",
            fix="--consumer-cmd runs a command on this machine (local platform), "
            "--consumer-image an image in the cluster (kind, k8s).",
        )
    if image is not None:
        return _check_image(
            image, cwd, evidence, output_topic, platform, explicit_reference_options
        )
    assert cmd is not None
    if platform not in ("local", "external"):
        raise HarnessError(
            f"--consumer-cmd runs on this machine: the local platform only, or external "
            f"Kafka with --platform external (got --platform {platform}).",
            fix=f"on {platform}, give your consumer as an image: --consumer-image IMAGE "
            "(riverbed's consumer Deployment runs it); or run the command here with "
            "--platform local, or external with --kafka-bootstrap.",
        )
    if explicit_reference_options:
        flags = ", ".join("--" + name.replace("_", "-") for name in explicit_reference_options)
        verb, pronoun = (
            ("configures", "it means")
            if len(explicit_reference_options) == 1
            else ("configure", "they mean")
        )
        raise HarnessError(
            f"{flags} {verb} riverbed's reference consumer; {pronoun} nothing for your "
            "consumer, which commits, assigns and processes as its own code says.",
            fix=f"drop {flags} (or drop --consumer-cmd to test the reference consumer).",
        )
    mode = evidence or default_evidence(cmd)
    if mode not in EVIDENCE_MODES:
        raise HarnessError(
            f"Unknown --consumer-evidence {mode!r}.", fix=f"use one of {', '.join(EVIDENCE_MODES)}."
        )
    if output_topic and mode != "output-topic":
        raise HarnessError(
            f"--output-topic is for --consumer-evidence output-topic (this run uses {mode}).",
            fix="add --consumer-evidence output-topic, or drop --output-topic.",
        )
    if mode == "output-topic" and not output_topic:
        raise HarnessError(
            "--consumer-evidence output-topic needs --output-topic NAME: the topic your "
            "service writes one output record per input to.",
            fix="add --output-topic NAME (riverbed creates it; your service reads it from "
            "$KAFKA_OUTPUT_TOPIC).",
        )
    directory = Path(cwd).expanduser() if cwd else Path.cwd()
    if not directory.is_dir():
        raise HarnessError(
            f"--consumer-cwd {cwd} is not a directory.",
            fix="give the directory your consumer runs from.",
        )
    command_words(cmd)
    user = UserConsumer(cmd, str(directory.resolve()), mode, output_topic or None)
    if user.needs_java_agent:
        from riverbed.jvm import check_agent_buildable

        check_agent_buildable()  # Java, and Maven for a first build of the agent
    return user


def _check_image(
    image: str,
    cwd: str | None,
    evidence: str | None,
    output_topic: str | None,
    platform: str,
    explicit_reference_options: tuple[str, ...],
) -> UserConsumer:
    """``--consumer-image``: the user's image as the consumer Deployment (kind, k8s)."""
    if platform not in KUBE_PLATFORMS:
        raise HarnessError(
            f"--consumer-image runs your image in a Kubernetes cluster (got --platform {platform}).",
            fix='use --platform kind or k8s, or --consumer-cmd "…" to run it on this machine.',
        )
    if not image.strip() or any(c.isspace() for c in image):
        raise HarnessError(
            f"--consumer-image {image!r} is not an image reference.",
            fix="give it as you would to docker, e.g. registry.example/team/orders-consumer:1.4.",
        )
    if cwd:
        raise HarnessError(
            "--consumer-cwd is for --consumer-cmd; an image brings its own working directory.",
            fix="drop --consumer-cwd.",
        )
    if explicit_reference_options:
        flags = ", ".join("--" + name.replace("_", "-") for name in explicit_reference_options)
        raise HarnessError(
            f"{flags} configure riverbed's reference consumer, not your image.",
            fix=f"drop {flags}.",
        )
    mode = evidence or "offsets"
    if mode == "instrumented":
        raise HarnessError(
            "Instrumented evidence needs your consumer's process on this machine "
            "(--consumer-cmd); in a cluster, riverbed judges an image by its output topic or "
            "its committed offsets.",
            fix="use --consumer-evidence output-topic --output-topic NAME, or offsets.",
        )
    if mode not in EVIDENCE_MODES:
        raise HarnessError(
            f"Unknown --consumer-evidence {mode!r}.", fix=f"use one of {', '.join(EVIDENCE_MODES)}."
        )
    if output_topic and mode != "output-topic":
        raise HarnessError(
            f"--output-topic is for --consumer-evidence output-topic (this run uses {mode}).",
            fix="add --consumer-evidence output-topic, or drop --output-topic.",
        )
    if mode == "output-topic" and not output_topic:
        raise HarnessError(
            "--consumer-evidence output-topic needs --output-topic NAME: the topic your "
            "service writes one output record per input to.",
            fix="add --output-topic NAME (riverbed creates it; your service reads it from "
            "$KAFKA_OUTPUT_TOPIC).",
        )
    return UserConsumer(None, "", mode, output_topic or None, image=image.strip())


def member_name(replica: str, incarnation: int) -> str:
    """The evidence identity of one incarnation of a user-consumer replica."""
    return f"{replica}.{incarnation}"


def replica_env(
    config: Mapping[str, object],
    replica: str,
    incarnation: int,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one incarnation of the user's consumer.

    ``config`` is the local platform's ``platform.json``. ``KAFKA_BROKER`` is one
    bootstrap address (the tutorial passes it as a one-element list);
    ``KAFKA_BOOTSTRAP_SERVERS`` has them all. The connection settings of a cluster
    riverbed does not run (``RIVERBED_KAFKA_CONFIG`` in ``base``) become
    ``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_USERNAME`` … and ``KAFKA_CLIENT_CONFIG``
    (all of them as JSON; ``{}`` without any), see :mod:`workloads.client_config`.
    """
    from workloads import client_config

    servers = str(config["bootstrap_servers"])
    topic = str(config["topic"])
    group = str(config["group"])
    run_dir = Path(str(config["run_dir"]))
    member = member_name(replica, incarnation)
    env = {
        "KAFKA_BROKER": servers.split(",")[0].strip(),
        "KAFKA_BOOTSTRAP_SERVERS": servers,
        "KAFKA_TOPIC": topic,
        "KAFKA_GROUP": group,
        "RIVERBED_REPLICA": replica,
        "RIVERBED_INCARNATION": str(incarnation),
        "RIVERBED_MEMBER": member,
        "RIVERBED_RUN_DIR": str(run_dir),
    }
    env.update(
        client_config.consumer_environment(
            client_config.from_environ(os.environ if base is None else base)
        )
    )
    if config.get("output_topic"):
        env["KAFKA_OUTPUT_TOPIC"] = str(config["output_topic"])
    if config.get("consumer_evidence") == "instrumented":
        from workloads.instrument import instrument_env

        base_env = os.environ if base is None else base
        if config.get("java_agent"):
            from riverbed.jvm import java_tool_options

            env["JAVA_TOOL_OPTIONS"] = java_tool_options(
                str(config["java_agent"]), base_env.get("JAVA_TOOL_OPTIONS")
            )
        env.update(
            instrument_env(
                run_dir / "evidence",
                member,
                topic,
                replica=replica,
                incarnation=incarnation,
                group=group,
                base=base_env,
            )
        )
    return env
