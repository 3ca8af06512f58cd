"""spec.json ``evidence_gaps``: consumer evidence the platform knows did not all arrive (an
instrumented image's pod whose evidence sidecar never confirmed its shipping) is "cannot
tell" where it could matter — never a pass, and never a failure the gap could explain."""

from __future__ import annotations

from tests.reports.builder import P1, baseline
from tests.reports.conftest import not_passing

GAP = [{"source": "consumed", "detail": "consumer-2-bbb: its pod's evidence sidecar never "
        "confirmed it shipped everything"}]  # fmt: skip


def _tail_missing():
    """m2's last batch of partition 1 did not arrive: committed past, never seen processed."""
    run = baseline()
    m2 = run.members["consumer-2-bbb"]
    m2.lines = [
        x for x in m2.lines
        if not (x["type"] == "processed" and x["records"][0][0] == P1[3][0] and x["partition"] == 1)
    ]  # fmt: skip
    return run


def test_missing_evidence_without_a_known_gap_fails_as_a_skip(check_run):
    s = check_run(_tail_missing())
    assert not_passing(s)["never-processed"] == "fail"


def test_missing_evidence_with_a_known_gap_cannot_tell(check_run):
    run = _tail_missing()
    run.spec["evidence_gaps"] = GAP
    s = check_run(run)
    assert s.verdict == "inconclusive"
    assert s.check("never-processed").status == "inconclusive"
    assert "fail" not in not_passing(s).values()


def test_a_clean_run_with_a_known_gap_is_not_a_pass(check_run):
    run = baseline()
    run.spec["evidence_gaps"] = GAP
    s = check_run(run)
    assert s.verdict == "inconclusive"
    assert s.check("never-processed").status == "inconclusive"
