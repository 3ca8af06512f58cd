"""The independent truth about a run of a test consumer, and whether riverbed's verdict agrees.

riverbed judges a user's consumer from evidence it gathers around the process. To
tell whether such a verdict is *right*, the soundness tests compare it with a truth
that owes nothing to that evidence:

- what the consumer itself says it finished: each test consumer appends one line
  ``{"partition": p, "offset": o, "t": …}`` per finished record to
  ``$TRUTH_DIR/<pid>.jsonl`` (every incarnation and process its own file);
- the records Kafka holds: the data topic read back after the run from its first
  to its end offsets (:func:`read_log`);
- the group's committed offsets, asked of the broker after the run
  (:func:`read_committed`).

A record below its partition's committed offset that no process finished is
**lost**: the group moved past it and nobody did its work. A record finished more
than once was redelivered (allowed at-least-once, shown for information). A record
at or past the committed offset that nobody finished is **backlog**: not lost, the
group never claimed it. ``spec.json`` of the run directory is read only for the
topic and group names.

:func:`judge` and :func:`outcome` are pure; the readers touch files and Kafka.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Offsets shown per list in a description (the totals count all).
EXAMPLES = 10

#: The outcomes of comparing a verdict with the truth.
TRUE_FAIL = "true-fail"
TRUE_PASS = "true-pass"
FALSE_PASS = "FALSE-PASS"
FALSE_ALARM = "FALSE-ALARM"
INCONCLUSIVE = "inconclusive"
OUTCOMES = (TRUE_FAIL, TRUE_PASS, FALSE_PASS, FALSE_ALARM, INCONCLUSIVE)


class TruthUnavailable(Exception):
    """The truth could not be read completely (Kafka did not answer in time, no spec)."""


@dataclass(frozen=True)
class Finish:
    """One truth line: a process finished the record at ``partition``/``offset``."""

    partition: int
    offset: int
    t: float
    """When it finished (wall clock, Unix seconds)."""
    source: str = ""
    """The truth file it came from (``<pid>.jsonl``)."""


@dataclass(frozen=True)
class PartitionTruth:
    """What happened to one partition's records."""

    partition: int
    log: int
    """Records Kafka holds in the partition."""
    committed: int | None
    """The group's committed offset after the run (None: it never committed one)."""
    finished: int
    """Records of the log finished at least once."""
    lost: tuple[int, ...]
    """Offsets below ``committed`` that no process finished."""
    finished_twice: tuple[int, ...]
    """Offsets finished more than once."""
    backlog: int
    """Records at or past ``committed`` that no process finished (not lost)."""


@dataclass(frozen=True)
class Truth:
    """The truth of a run: per partition, and what the truth lines say that the log does not."""

    partitions: tuple[PartitionTruth, ...]
    unknown: tuple[tuple[int, int], ...] = ()
    """(partition, offset) finished according to a truth line but not in the log: a truth
    that does not describe this topic (never expected)."""
    truncated: int = 0
    """Truth lines that could not be parsed (a writer killed mid-line; never expected with
    one ``os.write`` per line)."""

    @property
    def lost(self) -> int:
        return sum(len(p.lost) for p in self.partitions)

    @property
    def finished_twice(self) -> int:
        return sum(len(p.finished_twice) for p in self.partitions)

    @property
    def backlog(self) -> int:
        return sum(p.backlog for p in self.partitions)

    @property
    def log(self) -> int:
        return sum(p.log for p in self.partitions)

    @property
    def finished(self) -> int:
        return sum(p.finished for p in self.partitions)

    def lost_cases(self) -> list[tuple[int, int]]:
        """Every lost record as (partition, offset)."""
        return [(p.partition, o) for p in self.partitions for o in p.lost]

    def to_dict(self) -> dict[str, Any]:
        return {
            "log": self.log,
            "finished": self.finished,
            "lost": self.lost,
            "finished_twice": self.finished_twice,
            "backlog": self.backlog,
            "unknown": [list(x) for x in self.unknown],
            "truncated": self.truncated,
            "partitions": [
                {
                    "partition": p.partition,
                    "log": p.log,
                    "committed": p.committed,
                    "finished": p.finished,
                    "lost": list(p.lost),
                    "finished_twice": list(p.finished_twice),
                    "backlog": p.backlog,
                }
                for p in self.partitions
            ],
        }

    def describe(self) -> str:
        """A few lines for a person: totals, then per partition with example offsets."""
        lines = [
            f"truth: {self.log} records in the log, {self.finished} finished, "
            f"{self.lost} lost, {self.finished_twice} finished more than once, "
            f"{self.backlog} backlog"
        ]
        for p in self.partitions:
            lost = _examples(p.lost)
            twice = _examples(p.finished_twice)
            lines.append(
                f"  partition {p.partition}: log {p.log}, committed {p.committed}, "
                f"lost {len(p.lost)}{lost}, twice {len(p.finished_twice)}{twice}, "
                f"backlog {p.backlog}"
            )
        if self.unknown:
            lines.append(f"  finished but not in the log: {_examples(self.unknown)}")
        if self.truncated:
            lines.append(f"  unreadable truth lines: {self.truncated}")
        return "\n".join(lines)


def _examples(items: Sequence[Any]) -> str:
    if not items:
        return ""
    shown = ", ".join(str(x) for x in items[:EXAMPLES])
    more = f", … ({len(items) - EXAMPLES} more)" if len(items) > EXAMPLES else ""
    return f" [{shown}{more}]"


def judge(
    finishes: Iterable[Finish],
    log: Mapping[int, Iterable[int]],
    committed: Mapping[int, int],
    truncated: int = 0,
) -> Truth:
    """The truth from what the consumers finished, what Kafka holds and what the group
    committed.

    ``log``: partition → offsets of the records the topic holds (gaps allowed: Kafka's
    offsets need not be contiguous). ``committed``: partition → the group's committed
    offset (the next record to consume); a partition without one has nothing lost.
    """
    counts = Counter((f.partition, f.offset) for f in finishes)
    held = {p: sorted(set(offsets)) for p, offsets in log.items()}
    known = {(p, o) for p, offsets in held.items() for o in offsets}
    partitions = []
    for p in sorted(set(held) | set(committed)):
        offsets = held.get(p, [])
        mark = committed.get(p)
        unfinished = [o for o in offsets if counts[(p, o)] == 0]
        lost = tuple(o for o in unfinished if mark is not None and o < mark)
        partitions.append(
            PartitionTruth(
                partition=p,
                log=len(offsets),
                committed=mark,
                finished=len(offsets) - len(unfinished),
                lost=lost,
                finished_twice=tuple(o for o in offsets if counts[(p, o)] > 1),
                backlog=len(unfinished) - len(lost),
            )
        )
    unknown = tuple(sorted(k for k in counts if k not in known))
    return Truth(tuple(partitions), unknown, truncated)


@dataclass(frozen=True)
class Outcome:
    """How riverbed's verdict compares with the truth."""

    name: str
    """One of :data:`OUTCOMES`."""
    verdict: str
    """riverbed's verdict (``missing`` when the run wrote no summary)."""
    reason: str
    explanations: dict[str, str] = field(default_factory=dict)
    """Check name → ``status: explanation`` from summary.json, for the diagnosis."""

    @property
    def false(self) -> bool:
        """A false pass or a false alarm: the verdict contradicts the truth."""
        return self.name in (FALSE_PASS, FALSE_ALARM)

    def describe(self) -> str:
        lines = [f"outcome {self.name}: riverbed said {self.verdict}; {self.reason}"]
        lines += [f"  {name}: {text}" for name, text in self.explanations.items()]
        return "\n".join(lines)


def outcome(truth: Truth, summary: Mapping[str, Any]) -> Outcome:
    """Compare riverbed's ``summary.json`` with the truth.

    - the truth shows a loss: a ``fail`` verdict with ``never-processed`` failing is a
      true fail; ``never-processed`` passing is a false pass (whatever else failed);
      otherwise (the check inconclusive, or no verdict) inconclusive;
    - the truth shows no loss: ``pass`` is a true pass, ``fail`` a false alarm,
      anything else inconclusive;
    - a truth that does not describe the run (finished records the log does not hold)
      decides nothing: inconclusive.
    """
    verdict = str(summary.get("verdict") or "missing")
    checks = summary.get("checks") or {}
    explanations = {
        name: f"{check.get('status')}: {check.get('explanation', '')}".strip()
        for name, check in checks.items()
        if isinstance(check, Mapping)
    }
    never = (checks.get("never-processed") or {}).get("status")
    failed = sorted(
        n for n, c in checks.items() if isinstance(c, Mapping) and c.get("status") == "fail"
    )

    def made(name: str, reason: str) -> Outcome:
        return Outcome(name, verdict, reason, explanations)

    if truth.unknown:
        return made(INCONCLUSIVE, f"{len(truth.unknown)} finished records are not in the log")
    if truth.lost:
        lost = f"the truth shows {truth.lost} lost"
        if never == "fail" and verdict == "fail":
            return made(TRUE_FAIL, f"{lost}; never-processed failed")
        if never == "pass":
            return made(FALSE_PASS, f"{lost}, but never-processed passed (failed: {failed})")
        return made(INCONCLUSIVE, f"{lost}; never-processed is {never}")
    if verdict == "pass":
        return made(TRUE_PASS, "the truth shows no loss")
    if verdict == "fail":
        return made(FALSE_ALARM, f"the truth shows no loss, but these checks failed: {failed}")
    return made(INCONCLUSIVE, f"the truth shows no loss; reasons: {summary.get('reasons')}")


# ---- readers ---------------------------------------------------------------------------------


def read_finishes(truth_dir: Path) -> tuple[list[Finish], int]:
    """Every truth line under ``truth_dir`` (``*.jsonl``), and the count of unreadable ones
    (a truncated last line is tolerated and counted, not fatal)."""
    finishes: list[Finish] = []
    bad = 0
    for path in sorted(Path(truth_dir).glob("*.jsonl")):
        for line in path.read_text(errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                finishes.append(
                    Finish(int(item["partition"]), int(item["offset"]), float(item["t"]), path.name)
                )
            except (ValueError, KeyError, TypeError):
                bad += 1
    return finishes, bad


def topic_and_group(run_dir: Path) -> tuple[str, str]:
    """The data topic and the consumer group of a run, from its ``spec.json``."""
    try:
        spec = json.loads((Path(run_dir) / "spec.json").read_text())
        return str(spec["topic"]), str(spec["group"])
    except (OSError, ValueError, KeyError) as exc:
        raise TruthUnavailable(f"no topic and group in {run_dir}/spec.json: {exc}") from exc


def read_log(bootstrap: str, topic: str, timeout: float = 120.0) -> dict[int, list[int]]:
    """Partition → offsets of every record ``topic`` holds, read from its beginning to the
    end offsets taken at the start (no group, nothing committed)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        group_id=None,
        enable_auto_commit=False,
        # Only offsets matter: leave keys and values as bytes.
    )
    try:
        deadline = time.monotonic() + timeout
        partitions = None
        while not partitions and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                time.sleep(0.5)
        if not partitions:
            raise TruthUnavailable(f"topic {topic} has no partitions (or does not exist)")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        offsets: dict[int, list[int]] = {tp.partition: [] for tp in tps}
        pending = {tp for tp in tps if consumer.position(tp) < end[tp]}
        while pending:
            if time.monotonic() > deadline:
                raise TruthUnavailable(
                    f"reading {topic} did not reach its end offsets within {timeout:.0f}s"
                )
            for tp, records in consumer.poll(timeout_ms=500).items():
                offsets[tp.partition] += [r.offset for r in records if r.offset < end[tp]]
            pending = {tp for tp in pending if consumer.position(tp) < end[tp]}
        return offsets
    finally:
        consumer.close()


def read_committed(bootstrap: str, group: str, topic: str, timeout: float = 60.0) -> dict[int, int]:
    """Partition → the group's committed offset for ``topic``, asked of the broker."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    while True:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
        try:
            offsets = admin.list_group_offsets(group).get(group, {})
            return {
                tp.partition: om.offset
                for tp, om in offsets.items()
                if tp.topic == topic and om is not None and om.offset >= 0
            }
        except KafkaError as exc:
            # The coordinator may be moving or loading: ask again until the deadline.
            if not exc.retriable or time.monotonic() > deadline:
                raise TruthUnavailable(f"committed offsets of {group}: {exc!r}") from exc
        finally:
            admin.close()
        time.sleep(1.0)


def truth_of_run(run_dir: Path, truth_dir: Path, bootstrap: str) -> Truth:
    """The truth of a finished run: its consumers' truth lines, its topic read back from
    Kafka and its group's committed offsets (call it once the consumers have stopped)."""
    topic, group = topic_and_group(run_dir)
    finishes, bad = read_finishes(truth_dir)
    committed = read_committed(bootstrap, group, topic)
    log = read_log(bootstrap, topic)
    return judge(finishes, log, committed, truncated=bad)
