"""Property-based: simulated clean histories always pass; one injected anomaly is always flagged.

The simulation (tests.support.synthetic) covers hard kills with legal redelivery,
graceful stops, lost partitions, partitions added mid-run, faults with no
effect on the group, unknown sends, duplicate ack records and poison records.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reports import analyse
from tests.reports.conftest import not_passing
from tests.support.synthetic import ANOMALIES, FAULT_KINDS, Fault, Scenario, generate

faults = st.lists(
    st.builds(
        Fault,
        kind=st.sampled_from(FAULT_KINDS),
        at=st.floats(0.05, 0.95),
        member=st.integers(0, 3),
        count=st.integers(1, 3),
        replace=st.booleans(),
    ),
    min_size=1,
    max_size=3,
)

scenarios = st.builds(
    Scenario,
    messages=st.integers(60, 400),
    partitions=st.integers(1, 4),
    consumers=st.integers(1, 3),
    producers=st.integers(1, 2),
    keys=st.integers(3, 12),
    rate=st.sampled_from([100.0, 400.0, 1000.0]),
    batch=st.integers(1, 30),
    commit_mode=st.sampled_from(["after-process", "auto"]),
    faults=faults,
    unknown_sends=st.integers(0, 3),
    duplicate_acks=st.integers(0, 3),
    poison=st.integers(0, 2),
    seed=st.integers(0, 10_000),
    chaos_journal=st.just(False),
    locust_csv=st.just(False),
)

SETTINGS = settings(
    # RIVERBED_PROPERTY_EXAMPLES=500 for a longer hunt; the default keeps the suite quick.
    max_examples=int(os.environ.get("RIVERBED_PROPERTY_EXAMPLES", "50")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _check(sc: Scenario):
    with tempfile.TemporaryDirectory() as d:
        truth = generate(Path(d) / "run", sc)
        summary, _, _ = analyse(Path(d) / "run")
    return truth, summary


@SETTINGS
@given(sc=scenarios)
def test_clean_histories_pass_and_counts_match_the_simulation(sc):
    # At least one fault must land on the group for the run to prove anything.
    truth, s = _check(sc)
    # A run proves something only when a fault landed and the group caught up
    # (a single consumer killed for good leaves nobody to drain).
    assume(truth.faults > 0 and truth.drained)
    assert s.verdict == "pass", (
        not_passing(s),
        [v.explanation for v in s.checks if v.status != "pass"],
    )
    assert s.counts["acknowledged"] == truth.acknowledged
    assert s.counts["recovered"] == truth.recovered
    assert s.counts["indeterminate"] == truth.unknown - truth.recovered
    assert s.counts["redelivered"] == truth.redelivered
    assert s.check("redelivered").counts["legal"] == truth.redelivered
    assert s.counts["invalid"] == truth.detail.get("poison", 0)
    assert s.counts["lost-from-log"] == s.counts["never-processed"] == 0


@SETTINGS
@given(sc=scenarios, anomaly=st.sampled_from(ANOMALIES))
def test_one_injected_anomaly_is_flagged_by_its_check(sc, anomaly):
    sc = Scenario(**{**sc.__dict__, "inject": anomaly, "unknown_sends": 0})
    truth, s = _check(sc)
    assume(truth.injected == anomaly and truth.drained)
    flagged = s.check(anomaly).status
    if anomaly == "vacuity":
        assert flagged == "inconclusive"
        assert s.verdict == "inconclusive"
    else:
        assert flagged == "fail", s.check(anomaly).explanation
        assert s.verdict == "fail"
    # ...and no other check fails because of it.
    others = {k: v for k, v in not_passing(s).items() if k != anomaly and v == "fail"}
    assert others == {}, others
