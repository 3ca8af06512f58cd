"""What one instrumented consumer handed to its application, what it finished, what it claimed.

The instrumentation sees the consumer's API, not the application's work, and records
only what that API shows (docs/consumers.md, "What the evidence says"):

- *handed* (``handed`` lines): ``poll()`` / ``consume()`` returned records, or iteration
  yielded one;
- *finished* (``finished`` lines): the application came back for more — its next
  ``poll()`` / ``consume()`` / iteration step — after records of a partition it has not
  paused, or it marked them processed with :func:`riverbed_instrument.processed`. Once a
  program uses the marker, only the marker finishes records (it hands work to threads);
- *claimed* (``committing`` lines): a commit, an offset store, the commit ``close()``
  makes or a transactional offset commit is about to be made. A claim says what the
  application *says* is done; it is never taken as processing. The report judges
  claims made while records were still in hand (docs/report.md);
- *sought back* (``seek`` lines): records in hand at or past the new position go back
  (the application will be handed them again); ``pause()``/``resume()`` are recorded, and
  coming back for more does not finish the records of a paused partition.

Writes: every line reaches the operating system before any commit request leaves the
process (a claim writes what is pending first), and records a claim covered are written
the moment they are finished. Hand-outs and finished records of a fast consumer are
otherwise written at most ``flush_s`` after the last write: at the next call of the
application, or by a small background thread when the application makes none (it holds
a batch, or stalls). A SIGKILL loses at most the calls of the last ``flush_s`` (plus the
thread's scheduling delay) before it, which the ``start`` line declares (``flush_ms``)
so the report knows.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from typing import Any, Iterable, Mapping

from . import evidence
from .settings import Settings

#: Trackers of this process that have not stopped yet (for exit, SIGTERM and fork).
_live: list[Tracker] = []
_live_lock = threading.Lock()
_exit_hooks_installed = False

#: Whether the program uses riverbed's processed marker (``riverbed_instrument``): then
#: coming back for more finishes nothing, only the marker does.
marker_mode = False

_time = time.time

# A hand span: [first, last, t_handed, claimed, written_from]. ``written_from`` is the
# first offset whose hand-out is not written yet (last + 1 once it is).
_FIRST, _LAST, _T, _CLAIMED, _WRITTEN = 0, 1, 2, 3, 4
# A pending finished span: [first, last, t_handed, t_finished, how].
_CB = "came-back"


class Tracker:
    """Evidence of one consumer (one group member): its file, and the records in hand.

    Every method may be called from the application's thread, from the client's IO
    thread (kafka-python runs rebalance listeners and commit requests there) or, for the
    marker, from the application's workers; one lock orders the state and the lines.
    """

    def __init__(
        self,
        settings: Settings,
        client: str,
        client_version: str,
        client_id: str | None,
        group: str | None,
        auto_commit: bool,
        background_commits: bool = False,
        auto_offset_store: bool = False,
    ) -> None:
        self.settings = settings
        self.topic = settings.topic
        self.client = client
        self.client_version = client_version
        self.client_id = client_id
        self.group = group
        self.auto_commit = auto_commit
        self.background_commits = background_commits
        """Commits happen in the client's own thread, with no call of the application
        (librdkafka's auto-commit): their claims are not seen before they are made."""
        self.auto_offset_store = auto_offset_store
        """The client stores a record's offset when it hands the record out, and commits
        the store in the background (librdkafka's default): a claim at every hand-out."""
        self.flush_s = settings.flush_s
        self.member = settings.member
        self.generation: int | None = None
        self.owned: set = set()
        self.started = False
        self.stopped = False
        self._file: evidence.EvidenceFile | None = None
        self._hand: dict[int, list[list[Any]]] = {}
        self._fin: dict[int, list[Any]] = {}
        self._lines: list[str] = []
        self._paused: set[int] = set()
        self._last: dict[int, int] = {}
        self.due = 0.0
        """When the next hand-out is written at the latest (0: at once)."""
        self.closing = False
        """The consumer is closing: its callbacks are not the application coming back."""
        self.back_t: float | None = None
        """Set by a wrapper while the application is inside its call for more."""
        self._q: deque[tuple[int, int, float | None, float]] = deque()
        self.queue = self._q.append
        self._urgent = False
        self._member_json = evidence.json_text(self.member)
        self._lock = threading.Lock()

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Claim the evidence file and write ``start`` (once)."""
        with self._lock:
            if self.started:
                return
            self._file = evidence.EvidenceFile(self.settings.evidence_dir, self.settings.member)
            self.member = self._file.member
            self._member_json = evidence.json_text(self.member)
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
                "flush_ms": round(self.flush_s * 1000, 3),
            }
            if self.background_commits:
                extra["background_commits"] = True
            if self.auto_offset_store:
                extra["auto_offset_store"] = True
            if s.incarnation is not None:
                extra["incarnation"] = s.incarnation
            start = evidence.schema.Start(
                self.member, s.replica, os.getpid(), socket.gethostname(), _time(), **extra
            )
            self._file.write_many([start.to_dict()])
            self.due = _time() + self.flush_s
        _register(self)

    def stop(self, reason: str, detail: str | None = None, lock_timeout: float = -1) -> None:
        """Write what is pending and ``stop``, and close the file. Records still in hand
        stay handed and unfinished in the evidence."""
        if not self._lock.acquire(timeout=lock_timeout):
            return  # interrupted inside our own write (a signal): leave the file as it is
        try:
            if not self.started or self.stopped:
                return
            self.stopped = True
            extra: dict[str, Any] = {}
            if detail:
                extra["detail"] = detail
            self._emit(evidence.schema.Stop(self.member, reason, _time(), **extra).to_dict())
            assert self._file is not None
            self._file.close()
        finally:
            self._lock.release()
        _unregister(self)

    def forget(self) -> None:
        """In a forked child: this tracker belongs to the parent; write nothing, ever."""
        self._lock = threading.Lock()  # the parent's may have been held at the fork
        self.stopped = True
        self._hand.clear()
        self._fin.clear()
        self._lines.clear()
        if self._file is not None:
            self._file.disown()

    # ---- records: the hot path ----------------------------------------------------------------
    # A client wrapper that hands out one record per call does, without the lock:
    #
    #     tracker.back_t = t_back = _time()     # coming back for more (seen by callbacks)
    #     msg = <the client's poll>
    #     tracker.back_t = None
    #     tracker.queue((partition, offset, t_back, t_handed := _time()))
    #     if t_handed >= tracker.due: tracker.settle(t_handed)
    #
    # ``queue`` is a deque's append (atomic); the items are settled, in order, under the
    # lock: by ``settle`` at most ``flush_s`` later, or first thing by any other event.
    # ``due`` drops to 0 when a claim covers records in hand, so that coming back for them
    # is written at once.

    def step(self, t_back: float | None, partition: int, offset: int, t_handed: float) -> None:
        """The application came back for more at ``t_back`` (None: already recorded) and
        was handed one record (what a wrapper does through ``queue``)."""
        self._q.append((partition, offset, t_back, t_handed))
        if t_handed >= self.due:
            self.settle(t_handed)

    def settle(self, now: float | None = None) -> None:
        """Take in the queued hand-outs, and write if due."""
        with self._lock:
            if self.stopped:
                return
            self._settle()
            now = _time() if now is None else now
            if now >= self.due or self._urgent:
                self._write(now)

    def came_back(self, t_back: float | None = None) -> None:
        """The application asks for more: what it holds of unpaused partitions is finished."""
        if not self._hand and not self._q:
            return
        with self._lock:
            if self.stopped:
                return
            self._settle()
            if not self._hand:
                return
            now = _time() if t_back is None else t_back
            self._back(now)
            if now >= self.due or self._urgent:
                self._write(now)

    def hand(self, spans: Iterable[tuple[int, int, int]], t_handed: float) -> None:
        """Records handed in one call: ``(partition, first, last)`` spans, in order."""
        with self._lock:
            if self.stopped:
                return
            self._settle()
            hand = self._hand
            last_handed = self._last
            for p, first, last in spans:
                last_handed[p] = last
                held = hand.get(p)
                if held is None:
                    hand[p] = [[first, last, t_handed, False, first]]
                else:
                    self._add(p, held, first, last, t_handed)
            if t_handed >= self.due or self._urgent:
                self._write(t_handed)

    def has_pending(self) -> bool:
        """Hand-outs queued or lines not yet written (a cheap look, without the lock)."""
        if self._q or self._fin or self._urgent:
            return True
        try:
            return any(
                s[_WRITTEN] <= s[_LAST] for spans in list(self._hand.values()) for s in spans
            )
        except RuntimeError:  # changed meanwhile by the application's thread: look again
            return True

    def flush(self) -> None:
        """Write what is pending."""
        with self._lock:
            if not self.stopped:
                self._write(_time())

    def positions(self) -> dict[int, int]:
        """``{partition: offset after the last record handed}`` of the partitions it owns
        (all it handed records of, when the client does not report its assignment)."""
        with self._lock:
            self._settle()
            owned = self.owned
            return {p: o + 1 for p, o in self._last.items() if not owned or p in owned}

    def in_hand(self) -> dict[int, int]:
        """``{partition: offset after the last record in hand}``."""
        with self._lock:
            self._settle()
            return {p: spans[-1][_LAST] + 1 for p, spans in self._hand.items() if spans}

    # ---- the processed marker --------------------------------------------------------------------
    def mark(self, partition: int, offset: int) -> bool:
        """The application says it finished the record at ``offset`` (any thread).
        False when this tracker never handed it out."""
        with self._lock:
            if self.stopped:
                return False
            self._settle()
            spans = self._hand.get(partition)
            if not spans:
                return False
            i = next((j for j, s in enumerate(spans) if s[_FIRST] <= offset <= s[_LAST]), -1)
            if i < 0:
                return False
            span = spans[i]
            now = _time()
            claimed = span[_CLAIMED]
            rest = []
            if span[_FIRST] < offset:
                rest.append([span[_FIRST], offset - 1, span[_T], claimed, span[_WRITTEN]])
            if offset < span[_LAST]:
                rest.append(
                    [offset + 1, span[_LAST], span[_T], claimed, max(span[_WRITTEN], offset + 1)]
                )
            spans[i : i + 1] = rest
            if not spans:
                del self._hand[partition]
            self._finish(partition, offset, offset, span[_T], now, "marked")
            if claimed:
                self._urgent = True
            if now >= self.due or self._urgent:
                self._write(now)
            return True

    # ---- claims and their outcomes -----------------------------------------------------------
    def claim(self, offsets: Mapping[int, int], how: str) -> None:
        """A commit (``how``: commit, commit-async, store, auto, close, rebalance,
        transaction) of ``{partition: next offset}`` is about to be made: write what is
        pending, then the claim, before the request leaves."""
        if not offsets:
            return
        with self._lock:
            if self.stopped or self._file is None:
                return
            self._settle()
            now = _time()
            covered = False
            for p, next_offset in offsets.items():
                for span in self._hand.get(p, ()):
                    if span[_FIRST] < next_offset:
                        span[_CLAIMED] = covered = True
            line = evidence.schema.Committing(self.member, dict(offsets), how, now)
            self._emit(line.to_dict())
            if covered:
                self.due = 0.0  # coming back for them is written at once

    def committed(self, offsets: Mapping[int, int], ok: bool, error: str | None = None) -> None:
        """The outcome of one commit attempt of ``{partition: next offset}``."""
        if not offsets:
            return
        with self._lock:
            if self._file is None or self.stopped:
                return
            self._emit(
                evidence.schema.Committed(self.member, offsets, ok, _time(), error).to_dict()
            )

    # ---- the application's position ----------------------------------------------------------
    def seek(self, partition: int, offset: int | None, whence: str | None = None) -> None:
        """The application moved its position: records in hand at or past ``offset`` (all
        of the partition's for a seek to the beginning or end) go back, unfinished."""
        with self._lock:
            if self.stopped or self._file is None:
                return
            self._settle()
            spans = self._hand.get(partition)
            if spans:
                kept = []
                for span in spans:
                    if offset is None or span[_FIRST] >= offset:
                        continue
                    if span[_LAST] >= offset:
                        span[_LAST] = offset - 1
                    kept.append(span)
                if kept:
                    self._hand[partition] = kept
                else:
                    del self._hand[partition]
            if offset is not None:
                self._last[partition] = offset - 1
            else:
                self._last.pop(partition, None)
            extra = {"whence": whence} if whence else {}
            self._emit(
                evidence.schema.Seek(self.member, partition, offset, _time(), **extra).to_dict()
            )

    def paused(self, partitions: Iterable[int], pause: bool) -> None:
        """``pause()`` / ``resume()`` of the data topic's ``partitions``."""
        parts = sorted(set(partitions))
        if not parts:
            return
        with self._lock:
            if self.stopped or self._file is None:
                return
            self._settle()
            if pause:
                self._paused.update(parts)
                kind: Any = evidence.schema.Paused
            else:
                self._paused.difference_update(parts)
                kind = evidence.schema.Resumed
            self._emit(kind(self.member, parts, _time()).to_dict())

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
                _time(),
                member_id=member_id,
                client_id=self.client_id,
            )
            self._emit(assigned.to_dict())

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
            # What came back before the revocation is written as finished first; records
            # of a paused partition stay in hand (a worker may still hold them).
            self._settle()
            self.owned -= parts
            self._paused -= parts
            for p in parts:
                self._last.pop(p, None)
            change = evidence.schema.Lost if kind == "lost" else evidence.schema.Revoked
            self._emit(change(self.member, generation, parts, _time()).to_dict())

    # ---- internals (lock held) ---------------------------------------------------------------
    def _add(self, p: int, spans: list[list[Any]], first: int, last: int, t: float) -> None:
        """More records of a partition that has records in hand (a paused one, or records
        handed again after a position reset the client made)."""
        tail = spans[-1]
        if first == tail[_LAST] + 1 and not tail[_CLAIMED]:
            tail[_LAST] = last
            return
        if first <= tail[_LAST]:
            # Handed again from an earlier position (the client reset it, e.g. to the
            # committed offset after a rebalance): what is in hand from there went back.
            self._hand[p] = spans = [s for s in spans if s[_FIRST] < first]
            for s in spans:
                if s[_LAST] >= first:
                    s[_LAST] = first - 1
        spans.append([first, last, t, False, first])

    def _settle(self) -> None:
        """The queued hand-outs of one-record calls, in order (lock held)."""
        q = self._q
        if not q:
            if self.back_t is not None and self._hand:
                self._back(self.back_t)
            return
        hand = self._hand
        fin = self._fin
        popleft = q.popleft
        while q:
            p, o, tb, th = popleft()
            held = hand.get(p)
            if (
                tb is not None
                and held is not None
                and len(held) == 1
                and len(hand) == 1
                and not marker_mode
                and not self._paused
            ):
                # One record at a time: the one in hand is finished, the next handed —
                # and so on for the whole run of this partition's next offsets.
                span = held[0]
                if span[1] + 1 == o and not span[3]:
                    while q:
                        nxt = q[0]
                        if nxt[0] != p or nxt[1] != o + 1 or nxt[2] is None:
                            break
                        popleft()
                        o, tb, th = nxt[1], nxt[2], nxt[3]
                    pending = fin.get(p)
                    if pending is not None and pending[1] + 1 == span[0] and pending[4] == _CB:
                        pending[1] = o - 1
                        pending[3] = tb
                    else:
                        self._finish(p, span[0], o - 1, span[2], tb, _CB)
                    span[0] = span[1] = span[4] = o
                    span[2] = th
                    self._last[p] = o
                    continue
            if hand and tb is not None:
                self._back(tb)
            self._last[p] = o
            held = hand.get(p)
            if held is None:
                hand[p] = [[o, o, th, False, o]]
            else:
                self._add(p, held, o, o, th)
        if self.back_t is not None and hand:
            # A callback inside the application's next call: it had come back already.
            self._back(self.back_t)

    def _back(self, t: float) -> None:
        """Coming back for more at ``t``: unpaused in-hand spans are finished."""
        if marker_mode:
            return
        paused = self._paused
        hand = self._hand
        for p in list(hand):
            if p in paused:
                continue
            for span in hand.pop(p):
                self._finish(p, span[_FIRST], span[_LAST], span[_T], t, "came-back")
                if span[_CLAIMED]:
                    self._urgent = True

    def _finish(self, p: int, first: int, last: int, t_h: float, t: float, how: str) -> None:
        pending = self._fin.get(p)
        if pending is not None:
            if pending[1] + 1 == first and pending[4] == how:
                pending[1], pending[3] = last, t
                return
            self._lines.append(self._finished_line(p, pending))
        self._fin[p] = [first, last, t_h, t, how]

    def _finished_line(self, p: int, f: list[Any]) -> str:
        return (
            f'{{"v":1,"type":"finished","member":{self._member_json},"partition":{p},'
            f'"first":{f[0]},"last":{f[1]},"how":"{f[4]}","t":{float.__repr__(f[3])},'
            f'"t_handed":{float.__repr__(f[2])}}}\n'
        )

    def _pending(self) -> list[str]:
        """Every pending line, in the order things happened: finished, then handed."""
        self._settle()
        lines = self._lines
        self._lines = []
        if self._fin:
            for p, f in self._fin.items():
                lines.append(self._finished_line(p, f))
            self._fin = {}
        m = self._member_json
        for p, spans in self._hand.items():
            for span in spans:
                if span[_WRITTEN] <= span[_LAST]:
                    lines.append(
                        f'{{"v":1,"type":"handed","member":{m},"partition":{p},'
                        f'"first":{span[_WRITTEN]},"last":{span[_LAST]},'
                        f'"t":{float.__repr__(span[_T])}}}\n'
                    )
                    span[_WRITTEN] = span[_LAST] + 1
        return lines

    def _write(self, now: float) -> None:
        lines = self._pending()
        self._urgent = False
        self.due = now + self.flush_s
        if lines and self._file is not None:
            self._file.write_many(lines)

    def _emit(self, record: Mapping[str, Any]) -> None:
        """Write what is pending, then ``record``."""
        lines: list[Any] = self._pending()
        lines.append(record)
        self._urgent = False
        self.due = _time() + self.flush_s
        assert self._file is not None
        self._file.write_many(lines)


def _pgid() -> int | None:
    try:
        return os.getpgid(0)
    except (AttributeError, OSError):
        return None


# ---- the marker ---------------------------------------------------------------------------------
def mark_processed(topic: str, partition: int, offset: int) -> bool:
    """Finish the record at ``topic``/``partition``/``offset`` in whichever tracker of this
    process handed it out. False when none did."""
    with _live_lock:
        live = list(_live)
    return any(t.topic == topic and t.mark(partition, offset) for t in live)


# ---- process exit and fork ----------------------------------------------------------------------
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
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child)
    _start_flusher()


_flusher_pid: int | None = None


def _start_flusher() -> None:
    """One daemon thread per process writes what a tracker has pending once it is due.

    Without it, an application that holds its last batch (a long piece of work, a stall)
    makes no further call, and the records it finished before would reach the file only
    at its next call — never, if it is killed hard meanwhile."""
    global _flusher_pid
    pid = os.getpid()
    with _live_lock:
        if _flusher_pid == pid:  # a forked child has no thread, whatever its parent had
            return
        _flusher_pid = pid
    threading.Thread(target=_flush_loop, name="riverbed-evidence-flush", daemon=True).start()


def _flush_loop() -> None:
    while True:
        with _live_lock:
            live = list(_live)
        time.sleep(max(min((t.flush_s for t in live), default=0.1), 0.005))
        now = _time()
        for tracker in live:
            # Only what is queued or unwritten; never a judgement (coming back for more
            # is the application's call, not this thread's).
            if not tracker.stopped and now >= tracker.due and tracker.has_pending():
                try:
                    tracker.settle(now)
                except Exception as exc:  # evidence must never crash the application
                    print(f"riverbed instrumentation: flush failed: {exc!r}", file=sys.stderr)


def _unregister(tracker: Tracker) -> None:
    with _live_lock:
        if tracker in _live:
            _live.remove(tracker)


def _after_fork_in_child() -> None:
    # A forked worker inherits the parent's trackers and evidence file: they are the
    # parent's (its consumer, its records in hand), so the child writes nothing for them.
    global _live_lock
    _live_lock = threading.Lock()
    for tracker in list(_live):
        tracker.forget()
    _live.clear()


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
