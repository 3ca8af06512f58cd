"""riverbed's processed marker: for consumers that finish records somewhere else.

riverbed judges an unmodified consumer by what its client library shows: a record is
finished when the application comes back for more (its next ``poll()``). A program that
hands records to worker threads, or that commits before doing the work, can say exactly
when each record is done instead::

    try:
        from riverbed_instrument import processed
    except ImportError:  # not run by riverbed: the marker does nothing
        def processed(*records): pass

    def work(msg):
        handle(msg)
        processed(msg)  # from any thread

Importing this module switches this process's instrumented consumers to the marker:
from then on only ``processed(...)`` finishes records; coming back for more does not.
It is on ``PYTHONPATH`` only when riverbed runs the program with instrumented evidence.
"""

from __future__ import annotations

from typing import Any

from _riverbed_instrument import tracker as _tracker

__all__ = ["processed"]

_tracker.marker_mode = True


def processed(*records: Any) -> int:
    """Mark records finished: kafka-python ``ConsumerRecord``s, confluent-kafka
    ``Message``s, or ``(topic, partition, offset)`` tuples. Returns how many were records
    an instrumented consumer of this process had handed out (others are ignored)."""
    done = 0
    for record in records:
        if hasattr(record, "topic") and hasattr(record, "offset"):
            # kafka-python's ConsumerRecord (a named tuple) or confluent-kafka's Message
            topic, partition, offset = record.topic, record.partition, record.offset
            if callable(topic):  # confluent-kafka's Message has methods
                topic, partition, offset = topic(), partition(), offset()
        else:
            topic, partition, offset = record
        if _tracker.mark_processed(str(topic), int(partition), int(offset)):
            done += 1
    return done
