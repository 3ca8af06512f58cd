"""Evidence strength: what the verdicts of a run rest on, and what that can and cannot prove.

A verdict is only as strong as the evidence under it. spec.json's
``consumer_evidence`` names it (absent in older runs: ``reference``):

- ``reference``: riverbed's reference consumer recorded every event itself;
- ``instrumented``: an instrumentation layer around the user's unmodified
  client library (kafka-python, confluent-kafka, aiokafka; kafka-clients through
  riverbed's Java agent) recorded the same events;
- ``output-topic``: the user's service writes one output per input; outputs
  are matched to inputs by (producer, key, seq);
- ``offsets``: only the group's committed offsets and its view of the group.

The report states the strength at the top, and ``summary.json`` carries it
(``evidence_strength``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from workloads.instrument.program import runs_java

REFERENCE = "reference"
INSTRUMENTED = "instrumented"
OUTPUT_TOPIC = "output-topic"
OFFSETS = "offsets"

#: Every strength, strongest first.
STRENGTHS = (REFERENCE, INSTRUMENTED, OUTPUT_TOPIC, OFFSETS)

#: Strengths whose evidence is the consumer's own events (evidence/consumed).
CONSUMER_EVENTS = frozenset({REFERENCE, INSTRUMENTED})


@dataclass(frozen=True)
class Strength:
    """One evidence strength, as the report explains it."""

    name: str
    """``reference``, ``instrumented``, ``output-topic`` or ``offsets``."""
    title: str
    """What the evidence is, in a few words."""
    proves: str
    """What verdicts at this strength can prove."""
    cannot: str
    """What they cannot (empty: nothing the checks judge is out of reach)."""
    assumption: str = ""
    """An assumption the verdicts rest on, when there is one."""

    def to_json(self) -> dict[str, str]:
        out = {"name": self.name, "title": self.title, "proves": self.proves}
        if self.cannot:
            out["cannot"] = self.cannot
        if self.assumption:
            out["assumption"] = self.assumption
        return out


DESCRIPTIONS: dict[str, Strength] = {
    REFERENCE: Strength(
        REFERENCE,
        "riverbed's reference consumer recorded every assignment, processed batch and commit",
        "everything the checks judge: loss, duplicates and redelivery, partition and key "
        "order, corruption, the handling of invalid records, and ownership across rebalances",
        "",
    ),
    INSTRUMENTED: Strength(
        INSTRUMENTED,
        "an instrumentation layer around the service's own client library recorded every "
        "assignment, record handed to the application, coming back for more, commit (as a "
        "claim, before it was sent), seek and pause",
        "loss (records the group committed past that the application never finished, judged "
        "from its own commits and pace when it was stopped holding them), redelivery, "
        "partition and key order, ownership across rebalances and the commit pattern "
        "(commits that run ahead of the work)",
        "whether the application refused a record (invalid-handling), what it did with corrupt "
        "records it was handed, and a record it held when it stopped, committed, whose fate "
        "its commit pattern cannot tell (reported as cannot tell)",
        "a record counts as processed when the application comes back for more after it "
        "(its next poll) while its partition is not paused, or marks it processed "
        "(riverbed_instrument.processed): a commit never counts. A service that hands records "
        "to other threads must use the marker, or be judged by its output topic",
    ),
    OUTPUT_TOPIC: Strength(
        OUTPUT_TOPIC,
        "the service's outputs, drained from its output topic and matched to the inputs by "
        "producer, key and seq",
        "loss (an input below the group's committed offset with no output), duplicates "
        "(an input with several outputs, allowed only across a rebalance of its partition "
        "for records not yet committed, placed by when the outputs were appended), key order "
        "of the outputs (by offset within an output partition; across output partitions by "
        "append times more than the clock tolerance apart), and corruption of outputs "
        "matched to inputs",
        "processing order inside the service (partition order, redelivery of an offset), "
        "the handling of invalid records, and processing gaps during rebalances; a duplicate "
        "after a graceful handover cannot be told from one after a hard stop; on an output "
        "topic whose records keep producer timestamps (one riverbed did not create, or an "
        "older run), a duplicate whose outputs carry times within the clock tolerance (a "
        "service that keeps its input's timestamp) and the order of a key's outputs across "
        "output partitions are cannot tell; with append times, so is the order of two "
        "outputs on different output partitions within the clock tolerance",
    ),
    OFFSETS: Strength(
        OFFSETS,
        "only the group's committed offsets and the coordinator's view of the group",
        "rewinds (a committed offset moving backwards) and skips that are visible in the "
        "offsets alone (the group committing past records that had not been sent yet), broker "
        "loss, and ownership of partitions across rebalances",
        "processing: whether any record below the committed offset was processed, in which "
        "order, or how often. Loss of processing cannot be proven at this strength, so a run "
        "here is never a pass: without an anomaly it is inconclusive",
    ),
}


#: ``instrumented`` for a JVM consumer: riverbed's Java agent around kafka-clients.
JVM_INSTRUMENTED = replace(
    DESCRIPTIONS[INSTRUMENTED],
    title="riverbed's Java agent around the service's own kafka-clients consumers (those "
    "Spring Kafka's listener containers and Kafka Streams' stream threads make included) "
    "recorded every assignment, record handed out by poll(), coming back for more, commit "
    "(as a claim, before it was sent; transactional offset commits too), seek and pause",
    cannot="whether the application refused a record (invalid-handling), what it did with "
    "corrupt records it was handed, work it hands to threads of its own unless it marks it, "
    "and a record it held when it stopped, committed, whose fate its commit pattern cannot "
    "tell (reported as cannot tell); under the consumer group protocol the client "
    "auto-commits in its own thread, so a record handed out in the last flush window "
    "(10 ms) before a hard kill is cannot tell",
    assumption="a record counts as processed when the application comes back for more after "
    "it (its next poll()) while its partition is not paused — for Kafka Streams, when its "
    "stream task has processed it — or marks it processed (dev.riverbed.Processed): a commit "
    "never counts. A service that hands records to other threads (an asynchronous "
    "listener, a thread pool) must use the marker, or be judged by its output topic",
)


def strength_of(spec: dict[str, Any]) -> tuple[Strength, str | None]:
    """The strength spec.json names (``consumer_evidence``), and a problem with it if any.

    Older runs have no ``consumer_evidence``: their consumer is the reference one.
    A value this riverbed does not know is a problem (the run cannot pass on it).
    An instrumented JVM consumer is described as what riverbed's Java agent records.
    """
    value = spec.get("consumer_evidence")
    if value is None:
        return DESCRIPTIONS[REFERENCE], None
    if value == INSTRUMENTED and runs_java(spec.get("consumer_cmd")):
        return JVM_INSTRUMENTED, None
    if isinstance(value, str) and value in DESCRIPTIONS:
        return DESCRIPTIONS[value], None
    return DESCRIPTIONS[REFERENCE], (
        f"spec.json consumer_evidence is {value!r}; this riverbed knows {', '.join(STRENGTHS)}"
    )
