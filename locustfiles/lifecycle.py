"""What riverbed's locustfiles share: options, report paths, the per-process sender's
lifecycle, and the master/worker flush handshake.

A *process sender* (the Kafka session, the HTTP user's recorder) lives in each
process that runs users: the local runner, or every worker (``--processes N``
forks them; ``--worker`` runs them on other machines). It is created at test
start, after the fork and after a worker received the master's options, and
closed at test stop, on quitting and at exit, whichever comes first.

With a master, the master's ``test_stop`` asks every worker to close its sender
and report its final stats, and waits for them (bounded), so the counts in
Locust's report include every outcome the workers recorded.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import gevent
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import CSV_STATS_INTERVAL_SEC

from locustfiles import settings
from locustfiles.shapes import RiverbedShape
from workloads.readiness import ReadyFile

log = logging.getLogger("riverbed.load")

FLUSH_MESSAGE = "riverbed_flush"
FLUSHED_MESSAGE = "riverbed_flushed"
START_FAILED_MESSAGE = "riverbed_start_failed"

#: Read before Locust parses its options (it imports the locustfile first).
PREPARSED = settings.preparse(sys.argv[1:], os.environ)


class ProcessSender(Protocol):
    def close(self, timeout: float | None = None) -> None: ...


def register_options(parser: Any, *groups: tuple[str, tuple[settings.Option, ...]]) -> None:
    """Add the common and shape options plus ``groups``; default Locust's HTML report and
    CSV stats into ``<run-dir>/locust/`` (``--html``/``--csv`` still win)."""
    settings.add_options(
        parser, "riverbed load", settings.COMMON_OPTIONS, overrides={"run_dir": PREPARSED.run_dir}
    )
    for title, options in groups:
        settings.add_options(parser, title, options)
    settings.add_options(parser, "riverbed load shape", settings.SHAPE_OPTIONS)
    locust_dir = Path(PREPARSED.run_dir) / "locust"
    parser.set_defaults(
        html_file=str(locust_dir / "report.html"), csv_prefix=str(locust_dir / "locust")
    )


class Lifecycle:
    """Creates and closes this process's sender around Locust's events.

    ``start(environment)`` returns the sender or raises an exception whose
    text is shown to the user; the run then quits with exit code 2.
    """

    def __init__(self, start: Callable[[Environment], ProcessSender]) -> None:
        self._start = start
        self.sender: Any = None
        self.failed: str | None = None
        self._flush_timeout = 30.0
        self._flushed: dict[str, Any] = {}
        self._t_start = time.time()
        self._ready: ReadyFile | None = None
        events.init.add_listener(self._on_init)
        events.test_start.add_listener(self._on_test_start)
        events.test_stop.add_listener(self._on_test_stop)
        events.quitting.add_listener(self._on_quitting)
        atexit.register(self._at_exit)

    # ---- events --------------------------------------------------------------------------------
    def _on_init(self, environment: Environment, runner: Any = None, **_: Any) -> None:
        # gevent's loop clock was last read before Locust's imports; timers armed from
        # it (--run-time) would fire early by the seconds the start-up took.
        gevent.get_hub().loop.update_now()
        # kafka-python narrates every connection at INFO; keep Locust's output readable.
        logging.getLogger("kafka").setLevel(max(logging.WARNING, logging.getLogger().level))
        options = environment.parsed_options
        if options is not None and getattr(options, "close_timeout", None) is not None:
            self._flush_timeout = float(options.close_timeout)
        if isinstance(runner, MasterRunner):
            runner.register_message(FLUSHED_MESSAGE, self._on_flushed)
            runner.register_message(START_FAILED_MESSAGE, self._on_worker_start_failed)
        elif isinstance(runner, WorkerRunner):
            runner.register_message(FLUSH_MESSAGE, self._on_flush_request, concurrent=True)
            self._track_master(environment)

    def _track_master(self, environment: Environment) -> None:
        """A worker is ready while it is connected: the master answers its heartbeats
        (each second) only once it registered the worker, so every heartbeat received
        refreshes the readiness file (``$RIVERBED_READY_FILE``, unset: none)."""
        ready = ReadyFile.from_environ()
        if ready.path is None:
            return
        self._ready = ready
        environment.events.heartbeat_received.add_listener(lambda **_: ready.mark(True))

    def _on_test_start(self, environment: Environment, **_: Any) -> None:
        runner = environment.runner
        if not isinstance(runner, WorkerRunner):
            self._t_start = time.time()
            shape = environment.shape_class
            try:
                if isinstance(shape, RiverbedShape):
                    shape.current_params()  # -t too short for the chaos window: say so now
            except ValueError as exc:
                log.error("riverbed: %s", exc)
                environment.process_exit_code = 2
                if runner is not None:
                    gevent.spawn_later(0.1, runner.quit)
                return
            write_shape_description(environment)
        if isinstance(runner, MasterRunner):
            return
        self.close()  # a restarted test gets a new sender (and a new producer id)
        self.failed = None
        try:
            self.sender = self._start(environment)
        except Exception as exc:
            self.failed = str(exc)
            if getattr(exc, "fix", None):  # a StartError: the message says what to do
                log.error("riverbed: cannot start sending: %s", exc)
            else:
                log.exception("riverbed: cannot start sending")
            environment.process_exit_code = 2
            if isinstance(runner, WorkerRunner):
                runner.send_message(START_FAILED_MESSAGE, {"error": str(exc)})
            if runner is not None:
                gevent.spawn_later(0.1, runner.quit)

    def _on_test_stop(self, environment: Environment, **_: Any) -> None:
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            self._flush_workers(runner)
        else:
            self.close()

    def _on_quitting(self, environment: Environment, **_: Any) -> None:
        runner = environment.runner
        if self._ready is not None:
            self._ready.clear()  # quitting: no longer a worker the master can use
        if not isinstance(runner, MasterRunner):
            self.close()
        if not isinstance(runner, WorkerRunner):
            save_html_report(environment, self._t_start)
            if getattr(environment.parsed_options, "csv_prefix", None):
                # Locust rewrites its CSV stats every CSV_STATS_INTERVAL_SEC and only
                # closes the files at exit: give it one more turn, now that every
                # outcome is in the stats.
                gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.2)

    def _at_exit(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: best effort only
            self.close(timeout=2.0)

    # ---- master side -----------------------------------------------------------------------------
    def _flush_workers(self, runner: MasterRunner) -> None:
        workers = {c.id for c in runner.clients.all}
        if not workers:
            return
        self._flushed.clear()
        runner.send_message(FLUSH_MESSAGE)
        deadline = time.monotonic() + self._flush_timeout + 5.0
        while time.monotonic() < deadline:
            alive = {c.id for c in runner.clients.all}
            if not (workers & alive) - set(self._flushed):
                return
            gevent.sleep(0.1)
        log.warning(
            "riverbed: %d worker(s) did not confirm their final outcomes; Locust's counts may "
            "miss some (the evidence files do not)",
            len((workers & {c.id for c in runner.clients.all}) - set(self._flushed)),
        )

    def _on_flushed(self, environment: Environment, msg: Any, **_: Any) -> None:
        self._flushed[msg.node_id] = msg.data

    def _on_worker_start_failed(self, environment: Environment, msg: Any, **_: Any) -> None:
        log.error("riverbed: worker %s cannot send: %s", msg.node_id, (msg.data or {}).get("error"))
        environment.process_exit_code = 2
        if environment.runner is not None:
            gevent.spawn(environment.runner.quit)

    # ---- worker side -----------------------------------------------------------------------------
    def _on_flush_request(self, environment: Environment, msg: Any, **_: Any) -> None:
        runner = environment.runner
        assert isinstance(runner, WorkerRunner)
        self.close()
        # The same report a worker sends every few seconds, now, so the master has
        # every outcome before it writes its report.
        data: dict[str, Any] = {}
        environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
        runner.send_message("stats", data)
        runner.send_message(FLUSHED_MESSAGE, {"failed": self.failed})

    # ---- the sender ------------------------------------------------------------------------------
    def close(self, timeout: float | None = None) -> None:
        sender = self.sender
        if sender is not None:
            sender.close(timeout)


def write_shape_description(environment: Environment) -> None:
    """``<run-dir>/locust/shape.json``: the shape, its parameters and phase times (wall clock),
    so a run can line its experiment up with the steady phase."""
    shape = environment.shape_class
    options = environment.parsed_options
    if not isinstance(shape, RiverbedShape) or options is None:
        return
    description = shape.describe()
    t0 = time.time() - shape.get_run_time()
    description["t_start"] = t0
    for phase in description["phases"]:
        phase["t_start"] = t0 + phase["start_s"]
        phase["t_end"] = t0 + phase["end_s"]
    path = Path(options.run_dir) / "locust" / "shape.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(description, indent=2) + "\n")
    except OSError as exc:
        log.warning("riverbed: could not write %s: %s", path, exc)


def save_html_report(environment: Environment, since: float) -> None:
    """Write Locust's HTML report if Locust did not (it skips it when stopped by SIGTERM)."""
    options = environment.parsed_options
    html_file = getattr(options, "html_file", None) if options is not None else None
    if not html_file:
        return
    path = Path(html_file)
    with contextlib.suppress(OSError):
        if path.stat().st_mtime >= since:
            return  # Locust wrote it for this run
    try:
        from locust.html import get_html_report

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(get_html_report(environment, show_download_link=False), encoding="utf-8")
    except Exception as exc:  # the report is a convenience; the evidence is what counts
        log.warning("riverbed: could not write %s: %s", path, exc)
