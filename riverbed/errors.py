"""Errors the harness reports to users: what went wrong and how to fix it."""

from __future__ import annotations


class HarnessError(Exception):
    """A problem with the environment or the input, not with the system under test.

    The CLI prints ``message`` and, when given, ``fix``, and exits with code 2
    (the code riverbed reserves for inconclusive runs and harness errors).
    """

    exit_code = 2

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message}\n  fix: {self.fix}"
        return self.message
