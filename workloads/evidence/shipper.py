"""``python -m workloads.evidence.shipper``: ship evidence files to the evidence topic.

A user's consumer image, instrumented in its pod (docs/kubernetes.md), writes its
evidence the way it does on the local platform: ``<dir>/consumed/<member>.jsonl``,
one file per process, in an emptyDir the pod shares. This shipper runs beside it
(a native sidecar: started before the consumer, stopped after it) and produces
every complete line of every file to the run's evidence topic, exactly as
:class:`~workloads.evidence.kafka_sink.KafkaSink` would have written it: key the
file's member, value the line. ``python -m workloads.collect`` then rebuilds the
same files, so collection and the report need no special case.

What survives what:

- the consumer killed hard (its container restarts in the same pod): its lines are
  on disk, in the emptyDir, and the shipper is another process (another user, out of
  reach of ``kill -KILL -1``), so nothing is lost; the restarted process writes a
  new file (a new member);
- the pod deleted: the consumer stops first, then the shipper gets SIGTERM, ships
  what is left and exits;
- the shipper itself restarted: it resumes from its state file, where it records,
  per file, how many bytes the brokers have acknowledged (written after each
  acknowledged batch). A crash between an acknowledgement and that write ships the
  batch again: duplicate evidence lines, which can only make a report stricter
  (a redelivery it did not see happen), never hide a loss.

A line is shipped once it is complete (ends with a newline): a writer killed
mid-line leaves a fragment no reader would accept (a reader of the file ignores it
too); it is logged at exit.

At exit the shipper produces a receipt, ``{"v":1,"type":"shipped","shipper":<pod>,
"files":{<member>: <lines>},"complete":true|false,"t":…}`` (key ``shipper:<pod>``),
which ``workloads.collect`` skips (it is no evidence record): riverbed compares it with
what it collected, so evidence a pod never finished shipping — its sidecar killed before
the end, a broker away for good — makes the run's consumer evidence incomplete (its
verdicts "cannot tell"), never a pass and never a false failure.

Exit status: 0 when every complete line written was shipped, 1 otherwise.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workloads.cli_support import EnvArgumentParser, setup_logging

log = logging.getLogger("workloads.evidence.shipper")

#: Subdirectories of the evidence directory whose files are shipped.
SHIPPED_DIRS = ("consumed",)
#: At most this many bytes are read from one file per pass (bounded memory).
MAX_BATCH_BYTES = 1 << 20
STATE_FILE = "shipped.json"
#: The receipt's record type (not an evidence type: the collector skips it).
RECEIPT = "shipped"


class Shipper:
    """Tails ``<evidence_dir>/consumed/*.jsonl`` into ``topic``.

    ``producer`` is a kafka-python ``KafkaProducer`` (an evidence producer:
    ``acks=all``, idempotent); ``state_dir`` holds the byte offsets shipped.
    """

    def __init__(
        self, producer: Any, topic: str, evidence_dir: Path | str, state_dir: Path | str
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.evidence_dir = Path(evidence_dir)
        self.state_dir = Path(state_dir)
        self.state_path = self.state_dir / STATE_FILE
        #: Per file (relative to the evidence directory): bytes and lines acknowledged.
        self.offsets: dict[str, int] = {}
        self.lines: dict[str, int] = {}
        self._load_state()
        self.shipped_lines = 0
        #: Files it could not read (a consumer's umask stricter than 022): never silently
        #: left out — the receipt names them and says incomplete.
        self.unreadable: set[str] = set()

    def _load_state(self) -> None:
        try:
            data = json.loads(self.state_path.read_text())
            self.offsets = {str(k): int(v) for k, v in data["offsets"].items()}
            self.lines = {str(k): int(v) for k, v in data["lines"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.offsets, self.lines = {}, {}

    def _save_state(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"offsets": self.offsets, "lines": self.lines}, sort_keys=True))
        os.replace(tmp, self.state_path)

    def files(self) -> list[Path]:
        out: list[Path] = []
        for sub in SHIPPED_DIRS:
            base = self.evidence_dir / sub
            if base.is_dir():
                out += sorted(p for p in base.glob("*.jsonl") if p.is_file())
        return out

    def ship_once(self) -> int:
        """One pass over every file: send its new complete lines, wait for every
        acknowledgement, then record the new offsets. Returns the lines shipped.

        Raises (a Kafka error, or :class:`RuntimeError` when an acknowledgement
        failed) without moving any offset past what was not acknowledged.
        """
        futures: list[Any] = []
        reached: dict[str, int] = {}
        counted: dict[str, int] = {}
        for path in self.files():
            rel = str(path.relative_to(self.evidence_dir))
            start = self.offsets.get(rel, 0)
            try:
                with path.open("rb") as fh:
                    fh.seek(start)
                    chunk = fh.read(MAX_BATCH_BYTES)
            except OSError as exc:
                if rel not in self.unreadable:
                    log.error("cannot read %s: %s", path, exc)
                self.unreadable.add(rel)
                continue
            self.unreadable.discard(rel)
            end = chunk.rfind(b"\n")
            if end < 0:
                continue
            # One writer per file: its member (the file's name) keys every line, so the
            # lines stay in order on one partition, as KafkaSink keys them.
            key = path.stem.encode()
            lines = [line for line in chunk[:end].split(b"\n") if line.strip()]
            futures += [self.producer.send(self.topic, key=key, value=x) for x in lines]
            reached[rel] = start + end + 1
            counted[rel] = len(lines)
        if not reached:
            return 0
        self.producer.flush(timeout=30)
        failed = [f for f in futures if not f.succeeded()]
        if failed:
            raise RuntimeError(
                f"{len(failed)} evidence line(s) not acknowledged: {failed[0].exception!r}"
            )
        self.offsets.update(reached)
        for rel, n in counted.items():
            self.lines[rel] = self.lines.get(rel, 0) + n
        self._save_state()
        self.shipped_lines += len(futures)
        return len(futures)

    def backlog(self) -> tuple[dict[str, int], dict[str, int]]:
        """(complete lines written but not shipped, per file; bytes of a last line cut
        short, per file)."""
        unshipped, fragments = {}, {}
        for path in self.files():
            rel = str(path.relative_to(self.evidence_dir))
            try:
                with path.open("rb") as fh:
                    fh.seek(self.offsets.get(rel, 0))
                    rest = fh.read()
            except OSError:
                self.unreadable.add(rel)
                continue
            if rest.count(b"\n"):
                unshipped[rel] = rest.count(b"\n")
            tail = rest[rest.rfind(b"\n") + 1 :]
            if tail:
                fragments[rel] = len(tail)
        return unshipped, fragments

    def receipt(self, complete: bool) -> dict[str, Any]:
        """What this shipper shipped: lines per member (its file's name)."""
        return {
            "v": 1,
            "type": RECEIPT,
            "shipper": socket.gethostname(),
            "files": {
                Path(rel).stem: self.lines.get(rel, 0)
                for rel in sorted(set(self.lines) | self.unreadable)
            },
            "complete": complete and not self.unreadable,
            "t": time.time(),
        }

    def send_receipt(self, complete: bool) -> None:
        """Produce the receipt and wait for its acknowledgement (raises if it fails)."""
        rec = self.receipt(complete)
        key = f"shipper:{rec['shipper']}".encode()
        value = json.dumps(rec, separators=(",", ":")).encode()
        future = self.producer.send(self.topic, key=key, value=value)
        self.producer.flush(timeout=30)
        if not future.succeeded():
            raise RuntimeError(f"receipt not acknowledged: {future.exception!r}")


def run(
    shipper: Shipper,
    stop: threading.Event,
    interval_s: float = 0.2,
    drain_s: float = 0.5,
) -> int:
    """Ship until ``stop`` is set, then until nothing new arrives for ``drain_s``.

    A Kafka error is retried (after ``interval_s``, doubling up to 5 s): nothing
    is skipped while the brokers are away. Returns the exit status.
    """
    delay = interval_s
    quiet_since: float | None = None
    while True:
        try:
            n = shipper.ship_once()
            delay = interval_s
        except Exception as exc:  # noqa: BLE001 - a broker away, a leader moving: retry
            log.warning("shipping failed, retrying: %s", exc)
            n = -1
            delay = min(delay * 2, 5.0)
        if stop.is_set():
            # Stopping: the consumer has exited (a native sidecar stops after the
            # app containers). Go on until a pass finds nothing new for drain_s.
            if n == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= drain_s:
                    break
            else:
                quiet_since = None
        time.sleep(delay if n != 0 or not stop.is_set() else min(delay, 0.1))
    unshipped, fragments = shipper.backlog()
    if fragments:
        log.warning("last lines cut short by a kill, not shipped (bytes): %s", fragments)
    if unshipped:
        log.error("lines not shipped: %s", unshipped)
    # The receipt: without it (or with complete false) riverbed counts this pod's evidence
    # as incomplete. Retried for as long as the shipper is given.
    for attempt in range(10):
        try:
            shipper.send_receipt(not unshipped)
            break
        except Exception as exc:  # noqa: BLE001 - a broker away: retry, then give up
            log.warning("receipt not shipped (attempt %d): %s", attempt + 1, exc)
            time.sleep(min(0.5 * 2**attempt, 5.0))
    log.info("shipped %d evidence line(s)", shipper.shipped_lines)
    return 0 if not unshipped else 1


def build_parser() -> EnvArgumentParser:
    p = EnvArgumentParser(prog="python -m workloads.evidence.shipper", description=__doc__)
    p.add_bootstrap_servers()
    p.add_env_argument(
        "--evidence-topic",
        env="RIVERBED_EVIDENCE_TOPIC",
        required=True,
        metavar="TOPIC",
        help="the run's evidence topic",
    )
    p.add_env_argument(
        "--evidence-dir",
        env="RIVERBED_EVIDENCE_DIR",
        required=True,
        metavar="DIR",
        help="the directory the instrumented consumer writes consumed/*.jsonl to",
    )
    p.add_env_argument(
        "--state-dir",
        env="RIVERBED_SHIPPER_STATE_DIR",
        required=True,
        metavar="DIR",
        help="where the shipper keeps the byte offsets it has shipped",
    )
    p.add_client_config()
    p.add_verbose()
    return p


def connect(
    bootstrap_servers: str, kafka_config: Mapping[str, str] | None, stop: threading.Event
) -> Any:
    """An evidence producer, retried until the brokers answer (or ``stop``)."""
    from workloads.evidence.kafka_sink import evidence_producer

    delay = 0.5
    while True:
        try:
            return evidence_producer(bootstrap_servers, "evidence-shipper", kafka_config)
        except Exception as exc:  # noqa: BLE001 - no broker yet: the pod may start first
            if stop.is_set():
                raise
            log.warning("no broker answers yet (%s); retrying", exc)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    producer = connect(args.bootstrap_servers, args.kafka_config, stop)
    shipper = Shipper(producer, args.evidence_topic, args.evidence_dir, args.state_dir)
    try:
        return run(shipper, stop)
    finally:
        producer.close(timeout=5)


if __name__ == "__main__":
    raise SystemExit(main())
