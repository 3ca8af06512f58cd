"""The one door through which the Kubernetes platform reaches the outside world.

Every external command (``docker``, ``kind``, ``kubectl``) and every in-process
step with an effect (creating a Kafka topic) goes through a :class:`Runner`.
In dry-run mode the runner runs nothing: it records each step — the argv, the
manifests piped to ``kubectl apply -f -``, the call and its arguments — so a
test (or a curious user) can read the exact plan.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riverbed.errors import HarnessError

#: How much of a failed command's output an error message shows.
OUTPUT_TAIL_CHARS = 2000


@dataclass(frozen=True)
class Command:
    """One external command, as run (or, in dry-run mode, as it would be run)."""

    argv: tuple[str, ...]
    """The program and its arguments, never a shell string."""
    stdin: str | None = None
    """Text written to the command's standard input: the manifests for ``kubectl apply -f -``."""
    env: tuple[tuple[str, str], ...] = ()
    """Variables added to the environment, sorted by name."""
    background: bool = False
    """Started and left running (``kubectl port-forward``), not waited for."""


@dataclass(frozen=True)
class Call:
    """An in-process step with an effect outside this process (e.g. creating a topic)."""

    name: str
    """What is called, e.g. ``create_topic``."""
    kwargs: tuple[tuple[str, Any], ...] = ()
    """Its arguments, sorted by name."""


Step = Command | Call


@dataclass(frozen=True)
class Result:
    """What a finished command returned."""

    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class Runner:
    """Runs commands from ``cwd``, or in dry-run mode only records them in :attr:`steps`."""

    dry_run: bool = False
    cwd: Path | None = None
    steps: list[Step] = field(default_factory=list)
    echo: Callable[[str], None] | None = None
    """Told the command line of every command before it runs (progress output)."""
    responses: dict[tuple[str, ...], str] = field(default_factory=dict)
    """Dry run: what a command whose argv starts with a key pretends to print
    (the longest matching key wins), to plan from a given state of the world."""

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        check: bool = True,
        fix: str | None = None,
        dry_stdout: str = "",
    ) -> Result:
        """Run ``argv`` to completion and capture its output.

        ``check``: a non-zero exit raises :class:`HarnessError` with the
        command, its exit code, the tail of its output and ``fix``.
        ``dry_stdout``: what a dry run pretends the command printed, so that a
        plan can be computed for a known starting state (e.g. no cluster yet).
        """
        command = Command(tuple(argv), stdin, tuple(sorted((env or {}).items())))
        self.steps.append(command)
        if self.echo:
            self.echo(" ".join(command.argv))
        if self.dry_run:
            return Result(0, self._response(command.argv, dry_stdout), "")
        try:
            proc = subprocess.run(
                list(argv),
                input=stdin,
                capture_output=True,
                text=True,
                cwd=self.cwd,
                env={**os.environ, **env} if env else None,
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise HarnessError(
                f"{argv[0]} was not found on PATH.",
                fix=fix or f"install {argv[0]} and make sure it is on PATH.",
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise HarnessError(
                f"`{_show(argv)}` did not finish within {timeout:.0f}s.",
                fix=fix,
            ) from exc
        result = Result(proc.returncode, proc.stdout or "", proc.stderr or "")
        if check and not result.ok:
            raise HarnessError(
                f"`{_show(argv)}` failed with exit code {result.returncode}:\n"
                f"{_tail(result.stderr or result.stdout)}",
                fix=fix,
            )
        return result

    def start(
        self, argv: Sequence[str], *, log: Path | None = None
    ) -> subprocess.Popen[bytes] | None:
        """Start ``argv`` in the background (output to ``log`` or discarded).

        Returns the process, or None in dry-run mode. The caller stops it.
        """
        command = Command(tuple(argv), background=True)
        self.steps.append(command)
        if self.echo:
            self.echo(" ".join(command.argv))
        if self.dry_run:
            return None
        with contextlib.ExitStack() as stack:
            out: Any = subprocess.DEVNULL
            if log is not None:
                log.parent.mkdir(parents=True, exist_ok=True)
                out = stack.enter_context(log.open("ab"))
            return subprocess.Popen(
                list(argv),
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def call(self, step: str, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Record an in-process step named ``step`` and, unless this is a dry run, run ``fn(**kwargs)``."""
        self.steps.append(Call(step, tuple(sorted(kwargs.items()))))
        if self.echo:
            self.echo(f"{step}({', '.join(f'{k}={v!r}' for k, v in sorted(kwargs.items()))})")
        if self.dry_run:
            return None
        return fn(**kwargs)

    def _response(self, argv: tuple[str, ...], default: str) -> str:
        keys = [k for k in self.responses if argv[: len(k)] == k]
        return self.responses[max(keys, key=len)] if keys else default

    # ---- reading a plan ------------------------------------------------------------------------
    def commands(self) -> list[Command]:
        """The recorded external commands, in order."""
        return [s for s in self.steps if isinstance(s, Command)]


def describe(step: Step) -> str:
    """One line for a step, as a shell user would write it (the plan printout)."""
    if isinstance(step, Call):
        args = ", ".join(f"{k}={v!r}" for k, v in step.kwargs)
        return f"# riverbed: {step.name}({args})"
    line = _show(step.argv)
    if step.env:
        line = " ".join(f"{k}={v}" for k, v in step.env) + " " + line
    if step.stdin is not None:
        line += "   <<< manifests"
    if step.background:
        line += " &"
    return line


def _show(argv: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


def _tail(text: str) -> str:
    text = text.strip()
    if len(text) > OUTPUT_TAIL_CHARS:
        text = "…" + text[-OUTPUT_TAIL_CHARS:]
    return text or "(no output)"
