"""Soundness runs keep their evidence when a test fails: test-artifacts/soundness/<test>/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from riverbed.kafka.cluster import LocalKafkaCluster
from tests.soundness.harness import KILL_HARD, SoundnessRun, keep_evidence, soundness_run


@pytest.fixture
def judged(
    kafka: LocalKafkaCluster, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., SoundnessRun]]:
    """``judged(consumer, experiment=KILL_HARD)``: one `riverbed run` of a test consumer on
    the session cluster, with its truth and the comparison. When the test fails, the run
    directory, the truth lines and a diagnosis go to test-artifacts/soundness/<test>/."""
    runs: list[SoundnessRun] = []

    def run(
        consumer: str, experiment: Path = KILL_HARD, command: str | None = None
    ) -> SoundnessRun:
        result = soundness_run(
            kafka, consumer, tmp_path / f"{consumer}-{len(runs)}", experiment, command=command
        )
        runs.append(result)
        return result

    yield run
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for i, result in enumerate(runs):
            keep_evidence(result, request.node.name + (f"-{i}" if i else ""))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
