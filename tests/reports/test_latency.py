"""Latency to first processing: from the broker's append time where the log has it, else from
the producer's acknowledgement, with the records processed before their acknowledgement
counted and explained where they appear."""

from __future__ import annotations

from reports import build
from tests.reports.builder import Run, baseline
from tests.reports.test_strengths import output_run


def stamped(run: Run, t_append: float = 1.0) -> Run:
    """The log as a drain of a LogAppendTime topic records it."""
    for line in run.log:
        line["t_append"] = t_append + line["offset"] * 0.1
    return run


def acked_late(run: Run) -> Run:
    """Every acknowledgement recorded at 3.5 s: partition 0's first batch (processed at
    3.0 s) reached its consumer before the producer recorded its acknowledgement."""
    for send in run.sends:
        send["t_ack"] = 3.5
    return run


def test_latency_runs_from_the_append_time_when_the_log_has_it(check_run):
    s = check_run(stamped(acked_late(baseline())))
    lat = s.latency
    assert lat["basis"] == "append" and lat["to"] == "first processing"
    assert lat["count"] == 12 and lat["negative"] == 0
    # Partition 0's offset 5: appended at 1.5 s, first processed at 9.0 s; offset 2 of
    # either partition: appended at 1.2 s, processed at 3.0 s.
    assert lat["max"] == 7500.0 and lat["min"] == 1800.0


def test_without_append_times_latency_runs_from_the_acknowledgement_and_counts_the_early(
    check_run,
):
    s = check_run(acked_late(baseline()))
    lat = s.latency
    assert lat["basis"] == "acknowledgement"
    # Partition 0's offsets 0..2 and partition 1's 0..2 were processed at 3.0 s.
    assert lat["negative"] == 6 and lat["min"] == -500.0
    assert check_run(baseline()).latency["negative"] == 0


def test_the_report_explains_negative_latencies_where_they_appear(tmp_path):
    html = build(acked_late(baseline()).write(tmp_path / "ack")).paths["report_html"].read_text()
    assert 'data-basis="acknowledgement"' in html
    note = html[html.index('id="latency-negative"') :].split("</p>", 1)[0]
    assert "6 of 12 records (50.0%)" in note
    assert "the acknowledgement reaches the producer" in note and "Not an error" in note
    assert 'href="#latency-negative"' in html  # the minimum points at the note

    html = (
        build(stamped(acked_late(baseline())).write(tmp_path / "append"))
        .paths["report_html"]
        .read_text()
    )
    assert 'data-basis="append"' in html and "append time" in html
    assert 'id="latency-negative"' not in html


def test_output_latency_runs_from_the_inputs_append_time(check_run):
    s = check_run(stamped(output_run(), t_append=1.0))
    lat = s.latency
    assert lat["basis"] == "append" and lat["to"] == "first output"
    # Outputs at 3.0 s answer inputs appended at 1.0 s (offset 0) to 1.2 s (offset 2).
    assert lat["min"] == 1800.0 and lat["negative"] == 0
    assert check_run(output_run()).latency["basis"] == "acknowledgement"
