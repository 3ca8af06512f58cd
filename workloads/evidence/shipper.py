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
mid-line leaves a fragment no reader would accept; it is reported at exit.

Exit status: 0 when everything written was shipped, 1 otherwise.
"""

from __future__ import annotations

import json
import logging
import os
import signal
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
        self.offsets: dict[str, int] = self._load_state()
        self.shipped_lines = 0

    def _load_state(self) -> dict[str, int]:
        try:
            data = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _save_state(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.offsets, sort_keys=True))
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
        for path in self.files():
            rel = str(path.relative_to(self.evidence_dir))
            start = self.offsets.get(rel, 0)
            try:
                with path.open("rb") as fh:
                    fh.seek(start)
                    chunk = fh.read(MAX_BATCH_BYTES)
            except OSError as exc:
                log.warning("cannot read %s: %s", path, exc)
                continue
            end = chunk.rfind(b"\n")
            if end < 0:
                continue
            # One writer per file: its member (the file's name) keys every line, so the
            # lines stay in order on one partition, as KafkaSink keys them.
            key = path.stem.encode()
            for line in chunk[:end].split(b"\n"):
                if line.strip():
                    futures.append(self.producer.send(self.topic, key=key, value=line))
            reached[rel] = start + end + 1
        if not reached:
            return 0
        self.producer.flush(timeout=30)
        failed = [f for f in futures if not f.succeeded()]
        if failed:
            raise RuntimeError(
                f"{len(failed)} evidence line(s) not acknowledged: {failed[0].exception!r}"
            )
        self.offsets.update(reached)
        self._save_state()
        self.shipped_lines += len(futures)
        return len(futures)

    def backlog(self) -> dict[str, int]:
        """Bytes written but not shipped, per file (a fragment included)."""
        out = {}
        for path in self.files():
            rel = str(path.relative_to(self.evidence_dir))
            left = path.stat().st_size - self.offsets.get(rel, 0)
            if left > 0:
                out[rel] = left
        return out


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
    left = shipper.backlog()
    if left:
        log.warning("not shipped (incomplete last lines of writers killed mid-line): %s", left)
    log.info("shipped %d evidence line(s)", shipper.shipped_lines)
    return 0 if not left else 1


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
