"""Is riverbed's verdict on a JVM consumer right? The examples of examples/jvm under a hard kill.

Each test runs `riverbed run --consumer-cmd "java -jar riverbed-jvm-examples.jar EXAMPLE"`
on the session's real Kafka: real JVMs, instrumented by riverbed's Java agent (riverbed
puts it into their ``JAVA_TOOL_OPTIONS``: the command is not changed), killed with SIGKILL
mid-batch. Each example writes down what it finished itself (``$TRUTH_DIR``, as
tests/soundness/consumers/app.py does); the truth (tests/support/truth.py) reads those
lines, the topic and the group's committed offsets, and the verdict must agree:

- the truth shows a loss ⇒ the verdict is ``fail`` and ``never-processed`` fails;
- the truth shows no loss ⇒ the verdict is ``pass``.

The examples' jar is built once (Maven, cached in riverbed's cache, like the agent).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from riverbed.jvm import examples_jar
from tests.soundness.test_user_consumers import assert_fails_on_its_loss, assert_passes_without_loss

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]


@pytest.fixture(scope="session")
def jvm_examples() -> Path:
    """The examples' jar, built once per session (and cached across sessions)."""
    return examples_jar()


def command(jar: Path, example: str) -> str:
    return f"java -jar {shlex.quote(str(jar))} {example}"


def test_plain_careful_loses_nothing_under_a_hard_kill_and_riverbed_passes_it(judged, jvm_examples):
    run = judged("jvm-plain-careful", command=command(jvm_examples, "plain-careful"))
    assert run.summary.get("evidence_strength") == "instrumented", run.describe()
    assert_passes_without_loss(run)


def test_plain_commit_first_loses_records_under_a_hard_kill_and_riverbed_fails_it(
    judged, jvm_examples
):
    assert_fails_on_its_loss(
        judged("jvm-plain-commit-first", command=command(jvm_examples, "plain-commit-first"))
    )


def test_spring_listener_loses_nothing_under_a_hard_kill_and_riverbed_passes_it(
    judged, jvm_examples
):
    assert_passes_without_loss(
        judged("jvm-spring-listener", command=command(jvm_examples, "spring-listener"))
    )


def test_spring_ack_first_loses_records_under_a_hard_kill_and_riverbed_fails_it(
    judged, jvm_examples
):
    assert_fails_on_its_loss(
        judged("jvm-spring-ack-first", command=command(jvm_examples, "spring-ack-first"))
    )


def test_kafka_streams_app_loses_nothing_under_a_hard_kill_and_riverbed_passes_it(
    judged, jvm_examples
):
    assert_passes_without_loss(judged("jvm-streams", command=command(jvm_examples, "streams")))
