"""Terminal output: progress on every wait, errors that name their fix.

Progress and diagnostics go to stderr so that stdout stays clean for scripts
(``riverbed kafka bootstrap`` prints only the bootstrap servers).
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from rich.console import Console
from rich.text import Text

from reports.exit_codes import INCONCLUSIVE_EXIT
from riverbed.errors import HarnessError

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False)


@contextlib.contextmanager
def progress(initial: str) -> Iterator[Callable[[str], None]]:
    """A spinner whose text the caller updates; plain lines when not a terminal."""
    if err.is_terminal:
        with err.status(initial) as status:
            yield lambda text: status.update(text)
    else:
        import time

        last: dict[str, Any] = {"kind": "", "t": 0.0}

        def update(text: str) -> None:
            # Without a terminal, print when the message changes in kind (its
            # first word) or every 5 s, not on every tick.
            kind = text.split(" ", 1)[0]
            now = time.monotonic()
            if kind != last["kind"] or now - float(last["t"]) >= 5:
                last.update(kind=kind, t=now)
                err.print(f"… {text}")

        err.print(f"… {initial}")
        yield update


F = TypeVar("F", bound=Callable[..., Any])


def harness_errors(fn: F) -> F:
    """Print a HarnessError as message + fix and exit with its code (3, or 4 for bad
    input) instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HarnessError as exc:
            err.print(Text.assemble(("error: ", "bold red"), exc.message))
            if exc.fix:
                err.print(Text.assemble(("fix: ", "bold"), exc.fix))
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            # Interrupted outside a run's own handling (e.g. while checking its
            # input): nothing was started yet, nothing was proven: 2, inconclusive.
            err.print("interrupted")
            sys.exit(INCONCLUSIVE_EXIT)

    return wrapper  # type: ignore[return-value]
