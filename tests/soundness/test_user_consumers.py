"""Is riverbed's verdict on a user's consumer right? Checked against an independent truth.

Each test runs `riverbed run --consumer-cmd "python tests/soundness/consumers/<name>.py"`
on the session's real Kafka under a real kill (SIGKILL, or SIGTERM for a graceful
stop), with the consumers busy so that the kill lands mid-batch. The consumer
writes down what it finished; after the run, the truth (tests/support/truth.py)
reads those lines, the topic and the group's committed offsets. The relation that
must hold:

- the truth shows a loss ⇒ the verdict is ``fail`` and ``never-processed`` fails;
- the truth shows no loss ⇒ the verdict is ``pass``.

A test's name says which side its consumer is on. A failed test prints the
comparison with the report's explanations and keeps its evidence in
test-artifacts/soundness/<test>/.
"""

from __future__ import annotations

import json

import pytest
from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition

from riverbed.kafka.admin import create_topic
from tests.soundness.harness import KILL_GRACEFUL, WRONG_RECORDS, SoundnessRun
from tests.support.truth import TRUE_FAIL, TRUE_PASS, truth_of_run

# A run takes about a minute; riverbed's deadlines and the harness's own bound come first.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

EXIT_CODES = {"pass": 0, "fail": 1, "inconclusive": 2}


def truth_of(run: SoundnessRun):
    assert run.truth is not None and run.outcome is not None, run.describe()
    assert not run.truth.unknown, "the truth does not describe this run\n" + run.describe()
    # Record by record too: no record riverbed calls lost was finished, and none it lets
    # pass as finished (or finds skipped) was lost.
    wrong = {k: v for k, v in (run.records or {}).items() if k in WRONG_RECORDS}
    assert not wrong, f"record-level answers against the truth: {wrong}\n" + run.describe()
    return run.truth


def assert_fails_on_its_loss(run: SoundnessRun) -> None:
    """An at-most-once consumer under a kill mid-batch: the truth shows records lost, and
    riverbed must fail the run on never-processed."""
    truth = truth_of(run)
    assert truth.lost > 0, (
        "the scenario was meant to make this consumer lose records (a kill mid-batch), "
        "but its truth shows none: the test proves nothing\n" + run.describe()
    )
    verdict = run.summary.get("verdict")
    never = run.summary.get("checks", {}).get("never-processed", {}).get("status")
    assert (verdict, never) == ("fail", "fail"), run.describe()
    assert run.outcome is not None and run.outcome.name == TRUE_FAIL, run.describe()
    assert run.returncode == EXIT_CODES["fail"], run.describe()


def assert_never_passes_on_its_loss(run: SoundnessRun) -> None:
    """An at-most-once consumer whose loss timing alone may not prove: the truth shows
    records lost, and riverbed must fail the run or say it cannot tell — never pass."""
    truth = truth_of(run)
    assert truth.lost > 0, (
        "the scenario was meant to make this consumer lose records, but its truth shows "
        "none: the test proves nothing\n" + run.describe()
    )
    never = run.summary.get("checks", {}).get("never-processed", {})
    assert run.summary.get("verdict") in ("fail", "inconclusive"), run.describe()
    assert never.get("status") in ("fail", "inconclusive"), run.describe()
    if never.get("status") == "inconclusive":
        assert never.get("counts", {}).get("cannot-tell", 0) > 0, run.describe()


def assert_passes_without_loss(run: SoundnessRun) -> None:
    """A careful consumer: the truth shows nothing lost, and riverbed must pass the run."""
    truth = truth_of(run)
    assert truth.lost == 0, (
        "a careful consumer lost records: the consumer or the truth is wrong\n" + run.describe()
    )
    assert run.summary.get("verdict") == "pass", run.describe()
    assert run.outcome is not None and run.outcome.name == TRUE_PASS, run.describe()
    assert run.returncode == EXIT_CODES["pass"], run.describe()


# ---- the truth itself, against Kafka ------------------------------------------------------


def test_the_truth_reads_the_topic_and_the_committed_offsets_from_kafka(
    kafka, topic_name, tmp_path
):
    bootstrap = kafka.bootstrap_servers
    create_topic(bootstrap, topic_name, partitions=2, replication_factor=3)
    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","))
    for partition, count in ((0, 5), (1, 3)):
        for i in range(count):
            producer.send(topic_name, value=b"x%d" % i, partition=partition)
    producer.flush()
    producer.close()
    group = f"{topic_name}-g"
    committer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=group)
    committer.commit(
        {
            TopicPartition(topic_name, 0): OffsetAndMetadata(4, "", -1),
            TopicPartition(topic_name, 1): OffsetAndMetadata(1, "", -1),
        }
    )
    committer.close()
    run_dir, truth_dir = tmp_path / "run", tmp_path / "truth"
    run_dir.mkdir()
    truth_dir.mkdir()
    (run_dir / "spec.json").write_text(json.dumps({"topic": topic_name, "group": group}))
    lines = [(0, 0), (0, 1), (0, 3), (1, 0), (1, 0)]
    (truth_dir / "1.jsonl").write_text(
        "".join(json.dumps({"partition": p, "offset": o, "t": 1.0}) + "\n" for p, o in lines)
    )

    truth = truth_of_run(run_dir, truth_dir, bootstrap)

    assert truth.log == 8 and truth.finished == 4
    assert truth.lost_cases() == [(0, 2)]  # below committed 4, never finished
    assert [p.committed for p in truth.partitions] == [4, 1]
    assert [p.backlog for p in truth.partitions] == [1, 2]  # at or past the committed offset
    assert [p.finished_twice for p in truth.partitions] == [(), (0,)]


# ---- quick ones (default suite) -------------------------------------------------------------


def test_kp_commit_first_loses_records_under_a_hard_kill_and_riverbed_fails_it(judged):
    assert_fails_on_its_loss(judged("kp_commit_first"))


def test_ck_careful_loses_nothing_under_a_hard_kill_and_riverbed_passes_it(judged):
    assert_passes_without_loss(judged("ck_careful"))


# ---- kafka-python ---------------------------------------------------------------------------


@pytest.mark.slow
def test_kp_careful_loses_nothing_under_a_hard_kill_and_riverbed_passes_it(judged):
    assert_passes_without_loss(judged("kp_careful"))


@pytest.mark.slow
def test_kp_careful_loses_nothing_under_a_graceful_stop_and_riverbed_passes_it(judged):
    assert_passes_without_loss(judged("kp_careful", KILL_GRACEFUL))


@pytest.mark.slow
def test_kp_graceful_break_loses_its_batch_on_a_graceful_stop_and_riverbed_never_passes_it(
    judged,
):
    # close() commits the batch it broke out of: whether the application finished the
    # records it held is told by its pace only when it stopped early in the batch
    # (docs/consumers.md); otherwise riverbed cannot tell — never a pass.
    assert_never_passes_on_its_loss(judged("kp_graceful_break", KILL_GRACEFUL))


@pytest.mark.slow
def test_kp_seek_retry_loses_nothing_under_a_hard_kill_and_riverbed_passes_it(judged):
    assert_passes_without_loss(judged("kp_seek_retry"))


@pytest.mark.slow
def test_kp_domain_deserializer_loses_nothing_under_a_hard_kill_and_riverbed_passes_it(judged):
    assert_passes_without_loss(judged("kp_domain_deserializer"))


@pytest.mark.slow
def test_kp_audit_reader_loses_records_under_a_hard_kill_and_riverbed_fails_it(judged):
    assert_fails_on_its_loss(judged("kp_audit_reader"))


@pytest.mark.slow
def test_kp_pause_heartbeat_commit_first_loses_records_under_a_hard_kill_and_riverbed_fails_it(
    judged,
):
    assert_fails_on_its_loss(judged("kp_pause_heartbeat_commit_first"))


@pytest.mark.slow
def test_kp_pause_heartbeat_careful_loses_nothing_under_a_hard_kill_and_riverbed_passes_it(judged):
    assert_passes_without_loss(judged("kp_pause_heartbeat_careful"))


@pytest.mark.slow
def test_kp_forking_loses_nothing_under_a_hard_kill_and_riverbed_passes_it(judged):
    assert_passes_without_loss(judged("kp_forking"))


# ---- confluent-kafka ------------------------------------------------------------------------


@pytest.mark.slow
def test_ck_commit_first_loses_records_under_a_hard_kill_and_riverbed_fails_it(judged):
    assert_fails_on_its_loss(judged("ck_commit_first"))


@pytest.mark.slow
def test_ck_store_first_loses_the_message_in_hand_under_hard_kills_and_riverbed_fails_it(judged):
    assert_fails_on_its_loss(judged("ck_store_first"))


@pytest.mark.slow
def test_ck_auto_commit_loses_records_under_a_hard_kill_and_riverbed_fails_it(judged):
    assert_fails_on_its_loss(judged("ck_auto_commit"))


@pytest.mark.slow
def test_ck_seek_retry_loses_nothing_under_a_hard_kill_and_riverbed_passes_it(judged):
    assert_passes_without_loss(judged("ck_seek_retry"))


@pytest.mark.slow
def test_ck_transactional_loses_nothing_under_a_hard_kill_and_riverbed_passes_it(judged):
    assert_passes_without_loss(judged("ck_transactional"))
