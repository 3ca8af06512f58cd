"""Send outcomes as evidence: one ``send`` record per message a user tried to send.

An :class:`AckRecorder` belongs to one sending process. It owns the producer
id, the per-(producer, key) sequence numbers and the process's evidence file
``<run-dir>/evidence/acks/<producer-id>.jsonl`` (evidence contract v1, see
docs/evidence.md). Users of every kind (Kafka, HTTP) record through it, so the
records are the same whoever sent.

No Locust or gevent import here: callers pass a ``report`` callback that fires
Locust's request event.
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workloads.evidence.schema import RunLayout, Send
from workloads.evidence.schema import error_text as error_text  # the users' error text
from workloads.evidence.sinks import FileSink
from workloads.message import producer_id as make_producer_id

OK, FAIL, UNKNOWN = "ok", "fail", "unknown"

#: ``report(record, response_time_ms, response_length, exception_or_None)``
Report = Callable[[dict[str, Any], float, int, BaseException | None], None]


class SendFailed(Exception):
    """The exception Locust's stats show for a failed or unknown send."""


def make_body(size: int, seed: int = 0) -> str:
    """A printable ASCII body of ``size`` bytes (fixed per seed, not compressible to nothing)."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits
    return "".join(rng.choice(alphabet) for _ in range(size))


class AckRecorder:
    """Producer id, sequence numbers and the acks evidence file of one sending process.

    Thread-safe for writing (the file sink locks); :meth:`next_seq` must be
    called by whoever serialises sends per key (the Kafka session's send lock,
    or the HTTP user's per-key lock), so that seq order is send order.
    """

    def __init__(
        self,
        run_dir: Path | str,
        prefix: str,
        key_space: int,
        report: Report | None = None,
        producer: str | None = None,
    ) -> None:
        self.producer = producer or make_producer_id(prefix)
        self.keys = [f"k{i}" for i in range(key_space)]
        self._seq = [0] * key_space
        self.path = RunLayout(run_dir).acks_dir / f"{self.producer}.jsonl"
        # Opened at the first record: a process that never sent leaves no file.
        self._sink: FileSink | None = None
        self.report = report
        self.counts = {OK: 0, FAIL: 0, UNKNOWN: 0}
        self.closed = False

    def pick_key(self) -> int:
        """A key index, uniform over the key space."""
        return random.randrange(len(self.keys))

    def next_seq(self, key_index: int) -> int:
        seq = self._seq[key_index]
        self._seq[key_index] = seq + 1
        return seq

    def record(
        self,
        key: str,
        seq: int,
        status: str,
        partition: int | None = None,
        offset: int | None = None,
        error: str | None = None,
        *,
        t_send: float,
        response_time_ms: float,
        size: int,
        t_ack: float | None = None,
    ) -> dict[str, Any]:
        """Write one ``send`` record and report it to Locust's stats.

        ``status`` is ``ok`` (``partition``/``offset`` given), ``fail``
        (definitely not written) or ``unknown``; ``error`` says why it is not ok.
        """
        rec = Send(
            self.producer,
            key,
            seq,
            status,
            partition,
            offset,
            t_send,
            time.time() if t_ack is None else t_ack,
            error,
        ).to_dict(v=True)  # "v" given here: the sink does not copy the record to add it
        if self.closed:  # a late outcome after close: nowhere safe to write it
            return rec
        if self._sink is None:
            self._sink = FileSink(self.path)
        self._sink.write(rec)
        self.counts[status] += 1
        if self.report is not None:
            exc = None if status == OK else SendFailed(f"{status}: {rec['error']}")
            self.report(rec, response_time_ms, size, exc)
        return rec

    def flush(self) -> None:
        if not self.closed and self._sink is not None:
            self._sink.flush()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._sink is not None:
                self._sink.close()
