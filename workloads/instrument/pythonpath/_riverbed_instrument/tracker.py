"""What one instrumented consumer handed to its application, and what that proves.

The instrumentation sees the consumer's API, not the application's work. Its
rule for ``processed``:

- a record is *handed* to the application when ``poll()`` / ``consume()``
  returns it or iteration yields it;
- it counts as *processed* when the application comes back for more (the next
  ``poll()`` / ``consume()`` / iteration step) or when a commit covers it (a
  commit says everything before the committed offset is done): the
  ``processed`` line is written before the ``committed`` line;
- processed records are written when the application comes back for a new
  batch (iteration: at the next fetch), before any commit, rebalance or stop
  line: a SIGKILL loses at most the batch in hand;
- records still in hand when the consumer stops are not known to be processed:
  the ``stop`` line lists them as ``held`` (and a SIGKILL leaves no line at all,
  so they simply stay unprocessed in the evidence).

The rule cannot see work the application does elsewhere: a record handed to a
worker thread counts as processed when the consumer loop comes back, done or
not. docs/consumers.md says what each evidence strength can and cannot prove.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from typing import Any, Iterable, Mapping

from . import evidence
from .records import NotAMessage, identify
from .settings import Settings

#: Trackers of this process that have not stopped yet (for exit and SIGTERM).
_live: list[Tracker] = []
_live_lock = threading.Lock()
_exit_hooks_installed = False


class Tracker:
    """Evidence of one consumer (one group member): a file and the records in hand.

    Every method may be called from the application's thread or from the
    client's IO thread (kafka-python runs rebalance listeners and commit
    requests there); one lock orders the state and the file's lines.
    """

    def __init__(
        self,
        settings: Settings,
        client: str,
        client_version: str,
        client_id: str | None,
        group: str | None,
        auto_commit: bool,
    ) -> None:
        self.settings = settings
        self.topic = settings.topic
        self.client = client
        self.client_version = client_version
        self.client_id = client_id
        self.group = group
        self.auto_commit = auto_commit
        self.member = settings.member
        self.generation: int | None = None
        self.owned: set = set()
        self.started = False
        self.stopped = False
        self.trust_commits = True
        """False while the consumer closes because of an exception: a commit made then
        does not mean the records in hand were finished."""
        self._file: evidence.EvidenceFile | None = None
        self._handed: dict[int, list[tuple[int, Any]]] = {}
        self._pending: dict[int, list[tuple[int, Any]]] = {}
        self._lock = threading.Lock()

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Claim the evidence file and write ``start`` (once)."""
        with self._lock:
            if self.started:
                return
            self._file = evidence.EvidenceFile(self.settings.evidence_dir, self.settings.member)
            self.member = self._file.member
            self.started = True
            s = self.settings
            extra: dict[str, Any] = {
                "group": self.group,
                "topic": self.topic,
                "commit_mode": "auto" if self.auto_commit else "manual",
                "client": self.client,
                "client_version": self.client_version,
                "client_id": self.client_id,
                "pgid": _pgid(),
                "instrumented": True,
            }
            if s.incarnation is not None:
                extra["incarnation"] = s.incarnation
            start = evidence.schema.Start(
                self.member, s.replica, os.getpid(), socket.gethostname(), time.time(), **extra
            )
            self._file.write_many([start.to_dict()])
        _register(self)

    def stop(self, reason: str, detail: str | None = None, lock_timeout: float = -1) -> None:
        """Write ``stop`` with the records still in hand as ``held``, and close the file."""
        if not self._lock.acquire(timeout=lock_timeout):
            return  # interrupted inside our own write (a signal): leave the file as it is
        try:
            if not self.started or self.stopped:
                return
            self.stopped = True
            lines = self._drain_pending()
            extra: dict[str, Any] = {}
            if detail:
                extra["detail"] = detail
            held = {
                str(p): [_identified(o, v) for o, v in recs]
                for p, recs in sorted(self._handed.items())
                if recs
            }
            if held:
                extra["held"] = held
            self._handed.clear()
            lines.append(evidence.schema.Stop(self.member, reason, time.time(), **extra).to_dict())
            assert self._file is not None
            self._file.write_many(lines)
            self._file.close()
        finally:
            self._lock.release()
        _unregister(self)

    # ---- records -----------------------------------------------------------------------------
    def hand(self, partition: int, records: Iterable[tuple[int, Any]]) -> None:
        """Records returned to the application (in the order it got them)."""
        with self._lock:
            self._handed.setdefault(partition, []).extend(records)

    def hand_one(self, partition: int, offset: int, value: Any) -> None:
        with self._lock:
            held = self._handed.get(partition)
            if held is None:
                self._handed[partition] = [(offset, value)]
            else:
                held.append((offset, value))

    def came_back(self, write: bool = True) -> None:
        """The application asks for more: everything in hand is processed.

        ``write=False`` only moves the records to the buffer (iteration yields one
        record at a time; the buffer is written at the next batch boundary).
        """
        with self._lock:
            if self._handed:
                for p, recs in self._handed.items():
                    self._pending.setdefault(p, []).extend(recs)
                self._handed.clear()
            if write and self._pending and self._file is not None:
                self._file.write_many(self._drain_pending())

    def flush(self) -> None:
        """Write the processed records buffered so far."""
        with self._lock:
            if self._pending and self._file is not None:
                self._file.write_many(self._drain_pending())

    def in_hand(self) -> dict[int, int]:
        """``{partition: offset after the last record in hand}`` (what a commit of
        the current positions would commit)."""
        with self._lock:
            return {p: recs[-1][0] + 1 for p, recs in self._handed.items() if recs}

    # ---- commits -----------------------------------------------------------------------------
    def cover(self, offsets: Mapping[int, int] | None) -> None:
        """A commit (or an offset store) of ``{partition: next offset}`` is about to be
        made: what it covers was processed; write it before the commit's line.
        ``None`` covers everything in hand."""
        with self._lock:
            if offsets is None:
                for p, recs in self._handed.items():
                    self._pending.setdefault(p, []).extend(recs)
                self._handed.clear()
            else:
                for p, next_offset in offsets.items():
                    in_hand = self._handed.get(p)
                    if not in_hand:
                        continue
                    done = [r for r in in_hand if r[0] < next_offset]
                    if done:
                        self._pending.setdefault(p, []).extend(done)
                        rest = [r for r in in_hand if r[0] >= next_offset]
                        if rest:
                            self._handed[p] = rest
                        else:
                            del self._handed[p]
            if self._pending and self._file is not None:
                self._file.write_many(self._drain_pending())

    def committed(self, offsets: Mapping[int, int], ok: bool, error: str | None = None) -> None:
        """The outcome of one commit attempt of ``{partition: next offset}``."""
        if not offsets:
            return
        with self._lock:
            if self._file is None or self.stopped:
                return
            lines = self._drain_pending()
            committed = evidence.schema.Committed(self.member, offsets, ok, time.time(), error)
            lines.append(committed.to_dict())
            self._file.write_many(lines)

    # ---- ownership ---------------------------------------------------------------------------
    def assigned(
        self,
        partitions: Iterable[int],
        generation: int | None,
        member_id: str | None,
    ) -> None:
        parts = set(partitions)
        with self._lock:
            if self._file is None or self.stopped:
                return
            if generation is not None:
                self.generation = generation
            self.owned |= parts
            assigned = evidence.schema.Assigned(
                self.member,
                self.generation if generation is None else generation,
                parts,
                time.time(),
                member_id=member_id,
                client_id=self.client_id,
            )
            self._file.write_many(self._drain_pending() + [assigned.to_dict()])

    def revoked(self, kind: str, partitions: Iterable[int], generation: int | None) -> None:
        """``revoked`` or ``lost``. A revoke of nothing (before a first join) is not written."""
        parts = set(partitions)
        if not parts:
            return
        with self._lock:
            if self._file is None or self.stopped:
                return
            if kind == "lost" or generation is None:
                # After a lost membership the client has reset its generation: the
                # partitions belonged to the last one this member joined.
                generation = self.generation
            self.owned -= parts
            change = evidence.schema.Lost if kind == "lost" else evidence.schema.Revoked
            record = change(self.member, generation, parts, time.time())
            self._file.write_many(self._drain_pending() + [record.to_dict()])

    # ---- internals ---------------------------------------------------------------------------
    def _drain_pending(self) -> list[Any]:
        """The ``processed`` / ``invalid`` lines of the buffered records (lock held)."""
        if not self._pending:
            return []
        now = time.time()
        member_json = evidence.json_text(self.member)
        lines: list[Any] = []
        for p in sorted(self._pending):
            valid: list[list[Any]] = []
            invalid: list[dict[str, Any]] = []
            for offset, value in self._pending[p]:
                try:
                    producer, key, seq = identify(value)
                except NotAMessage as exc:
                    refused = evidence.schema.Invalid(self.member, p, offset, exc.reason, now)
                    invalid.append(refused.to_dict())
                    continue
                valid.append([offset, producer, key, seq])
            if valid:
                lines.append(evidence.processed_line(member_json, p, valid, now))
            lines.extend(invalid)
        self._pending.clear()
        return lines


def _identified(offset: int, value: Any) -> list[Any]:
    try:
        producer, key, seq = identify(value)
    except NotAMessage:
        return [offset, None, None, None]
    return [offset, producer, key, seq]


def _pgid() -> int | None:
    try:
        return os.getpgid(0)
    except (AttributeError, OSError):
        return None


# ---- process exit -------------------------------------------------------------------------------
def _register(tracker: Tracker) -> None:
    global _exit_hooks_installed
    with _live_lock:
        _live.append(tracker)
        first = not _exit_hooks_installed
        _exit_hooks_installed = True
    if first:
        import atexit

        atexit.register(_at_exit)
        _install_sigterm()


def _unregister(tracker: Tracker) -> None:
    with _live_lock:
        if tracker in _live:
            _live.remove(tracker)


def _stop_all(reason: str, detail: str, lock_timeout: float = -1) -> None:
    with _live_lock:
        live = list(_live)
    for tracker in live:
        try:
            tracker.stop(reason, detail, lock_timeout=lock_timeout)
        except Exception as exc:  # evidence must never turn an exit into a crash
            print(f"riverbed instrumentation: stop not recorded: {exc!r}", file=sys.stderr)


def _at_exit() -> None:
    # The program ends without having closed its consumer: the group notices only
    # when the session times out, as after a crash, and uncommitted records will be
    # delivered again. That is a hard end ("error"), not a graceful one.
    _stop_all("error", "the process exited without closing its consumer")


def _install_sigterm() -> None:
    """Record the stop of a program that has no SIGTERM handler of its own.

    Python's default for SIGTERM is to die at once, without ``atexit``. When the
    program has not installed a handler, this one writes the evidence and then
    dies of SIGTERM exactly as the program would have. A handler the program
    installs (before or after) is left alone, and runs instead.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            return
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError, AttributeError):
        return


def _on_sigterm(signum: int, frame: Any) -> None:
    _stop_all("error", "terminated by SIGTERM without closing its consumer", lock_timeout=1.0)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def exception_in_flight() -> bool:
    """Whether the caller runs while an exception propagates (a ``finally`` after an error)."""
    return sys.exc_info()[0] is not None
