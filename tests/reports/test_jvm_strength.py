"""The report states what the instrumented strength can and cannot tell for a JVM consumer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports import build
from reports.strength import DESCRIPTIONS, INSTRUMENTED, JVM_INSTRUMENTED, strength_of
from tests.reports.builder import baseline


@pytest.mark.parametrize(
    ("cmd", "java"),
    [
        ("java -jar orders.jar", True),
        ("env JAVA_OPTS=-Xmx1g /opt/jdk/bin/java -cp app.jar Main", True),
        ("./app.jar", True),
        ("python consumer.py", False),
        ("javac X.java", False),
        ("'unclosed", False),
        (None, False),
    ],
)
def test_a_jvm_command_is_told_apart_by_its_program(cmd, java):
    from workloads.instrument.program import runs_java, runs_python

    assert runs_java(cmd) is java
    assert runs_python(cmd) is (cmd == "python consumer.py")


def test_the_report_names_a_jvm_consumer_s_strength_as_riverbed_chose_it():
    value, problem = strength_of(
        {"consumer_evidence": INSTRUMENTED, "consumer_cmd": "java -jar a.jar"}
    )
    assert problem is None and value is JVM_INSTRUMENTED
    value, problem = strength_of({"consumer_evidence": INSTRUMENTED, "consumer_cmd": "python a.py"})
    assert problem is None and value is not JVM_INSTRUMENTED


def test_an_instrumented_jvm_consumer_is_described_as_the_java_agent_records_it(tmp_path: Path):
    run = baseline()
    run.spec["consumer_evidence"] = "instrumented"
    run.spec["consumer_cmd"] = "java -jar orders.jar"
    summary = build(run.write(tmp_path / "jvm"))
    assert summary.verdict == "pass"
    data = json.loads(summary.paths["summary_json"].read_text())
    assert data["evidence_strength"] == "instrumented"
    scope = data["evidence_scope"]
    assert "Java agent" in scope["title"] and "Kafka Streams" in scope["title"]
    assert "dev.riverbed.Processed" in scope["assumption"]
    assert "stream task has processed it" in scope["assumption"]
    assert "consumer group protocol" in scope["cannot"]
    html = summary.paths["report_html"].read_text()
    assert "Java agent" in html
    # A Python consumer keeps the Python layer's text.
    assert strength_of({"consumer_evidence": "instrumented", "consumer_cmd": "python c.py"}) == (
        DESCRIPTIONS[INSTRUMENTED],
        None,
    )
    assert (
        strength_of({"consumer_evidence": "instrumented", "consumer_cmd": "java -jar a.jar"})[0]
        is JVM_INSTRUMENTED
    )
