"""Per-user send pacing: a steady rate that does not burst to catch up after a stall."""

from __future__ import annotations

import time
from collections.abc import Callable


class Pacer:
    """Wait times for ``rate`` sends per second (``0``: no wait).

    After a stall (backpressure, a slow broker) the pacer catches up at most
    ``max_catch_up_s`` worth of sends, so a user never floods the cluster to
    make up for lost time.
    """

    def __init__(
        self,
        rate: float,
        max_catch_up_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.max_catch_up_s = max_catch_up_s
        self._clock = clock
        self._next: float | None = None

    def wait_time(self) -> float:
        """Seconds to wait before the next send."""
        if not self.interval:
            return 0.0
        now = self._clock()
        if self._next is None or self._next < now - self.max_catch_up_s:
            self._next = now
        self._next += self.interval
        return max(0.0, self._next - now)
