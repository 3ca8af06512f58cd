"""Errors the harness reports to users: what went wrong and how to fix it.

Exit codes (``reports/exit_codes.py``, docs/report.md): a :class:`HarnessError`
exits 3 (riverbed or its environment failed while working); a :class:`BadInput`,
or any HarnessError raised while a command checks its input (:func:`checking_input`),
exits 4: the invocation is wrong and nothing was started.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from reports.exit_codes import BAD_INPUT_EXIT, HARNESS_ERROR_EXIT


class HarnessError(Exception):
    """A problem with the environment or the input, not with the system under test.

    The CLI prints ``message`` and, when given, ``fix``, and exits with
    ``exit_code``: 3 (harness error), or 4 for bad input.
    """

    exit_code = HARNESS_ERROR_EXIT

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message}\n  fix: {self.fix}"
        return self.message


class BadInput(HarnessError):
    """The command line, a settings file, an experiment or a run directory is wrong."""

    exit_code = BAD_INPUT_EXIT


@contextlib.contextmanager
def checking_input() -> Iterator[None]:
    """While a command checks its input (before it starts anything), every
    HarnessError is bad input: exit 4, not 3."""
    try:
        yield
    except HarnessError as exc:
        exc.exit_code = BAD_INPUT_EXIT
        raise
