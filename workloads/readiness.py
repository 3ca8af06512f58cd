"""A readiness signal a Kubernetes exec probe can read: a file kept fresh while ready.

The workloads run with a read-only root filesystem under the restricted Pod
Security Standard and serve no HTTP (but the producer), so readiness is a file
in the pod's ``/tmp`` emptyDir: the process refreshes its modification time
while it is ready and removes it when it is not. The probe
(:data:`PROBE_COMMAND`, in manifests/base/workloads.yaml) passes only if the
file exists and is younger than the freshness bound, so a process that stops
refreshing it — killed, frozen (SIGSTOP), stuck — turns unready by itself,
without having to say so.

Pure standard library; the probe is POSIX shell and coreutils (``date``,
``stat``), present in the image, cheaper than starting Python every 5 s.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

log = logging.getLogger("workloads.readiness")

#: The environment variable that names the file (the manifests set it; unset: no file).
ENV = "RIVERBED_READY_FILE"
#: The file's path in the manifests (the pods' /tmp emptyDir).
DEFAULT_PATH = "/tmp/riverbed-ready"
#: Seconds without a refresh after which the file no longer means ready: the group's
#: default session timeout, after which the coordinator would evict a silent member too.
MAX_AGE_S = 10
#: The exec probe: the file exists and was refreshed less than MAX_AGE_S seconds ago.
PROBE_COMMAND = (
    f'f={DEFAULT_PATH}; [ -f "$f" ] && [ $(( $(date +%s) - $(stat -c %Y "$f") )) -lt {MAX_AGE_S} ]'
)


class ReadyFile:
    """Marks readiness in a file: refreshed (at most every ``min_interval_s``) while
    ready, removed when not. ``path`` None: does nothing (outside Kubernetes)."""

    def __init__(self, path: str | os.PathLike[str] | None, min_interval_s: float = 1.0) -> None:
        self.path = Path(path) if path else None
        self.min_interval_s = min_interval_s
        self._last = float("-inf")
        self._ready = False
        if self.path is not None:
            # A file left by an earlier incarnation (a restarted container keeps its
            # emptyDir) must not make this one ready before it is.
            self._remove()

    @classmethod
    def from_environ(cls, path: str | None = None) -> ReadyFile:
        """``path``, else ``$RIVERBED_READY_FILE``, else no file."""
        return cls(path or os.environ.get(ENV) or None)

    @property
    def ready(self) -> bool:
        """What the last :meth:`mark` said."""
        return self._ready

    def mark(self, ready: bool) -> None:
        """Say whether the process is ready now: cheap enough to call in every loop turn."""
        if self.path is None:
            self._ready = ready
            return
        if not ready:
            if self._ready:
                log.info("not ready (%s removed)", self.path)
                self._remove()
            self._ready = False
            return
        now = time.monotonic()
        if self._ready and now - self._last < self.min_interval_s:
            return
        try:
            self.path.touch()  # an existing file gets a new modification time
        except OSError as exc:
            log.warning("cannot refresh the readiness file %s: %r", self.path, exc)
            return
        if not self._ready:
            log.info("ready (%s)", self.path)
        self._ready = True
        self._last = now

    def clear(self) -> None:
        """Not ready any more (stopping)."""
        self.mark(False)
        self._remove()

    def _remove(self) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
