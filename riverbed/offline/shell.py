"""Run the build's external commands with their output in a log file, and fail
with a HarnessError that quotes the log's last lines and names a fix."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from riverbed.errors import HarnessError


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path})"


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra or {})
    return env


def run(
    cmd: Sequence[str | Path],
    *,
    log: Path,
    what: str,
    fix: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = 3600,
) -> None:
    """Run ``cmd``, appending its command line and output to ``log``."""
    argv = [str(c) for c in cmd]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f:
        f.write(f"$ {shlex.join(argv)}\n")
        f.flush()
        try:
            proc = subprocess.run(
                argv,
                stdout=f,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_env(env),
                cwd=cwd,
                timeout=timeout,
            )
        except FileNotFoundError as exc:
            raise HarnessError(f"{what}: {argv[0]} was not found.", fix=fix) from exc
        except subprocess.TimeoutExpired as exc:
            raise HarnessError(
                f"{what} took longer than {timeout:.0f}s (log: {log}).", fix=fix
            ) from exc
    if proc.returncode != 0:
        raise HarnessError(
            f"{what} failed (exit {proc.returncode}); last lines of {log}:\n{tail(log)}", fix=fix
        )


def output(
    cmd: Sequence[str | Path],
    *,
    what: str,
    fix: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> str:
    """Run a short command and return its stdout."""
    argv = [str(c) for c in cmd]
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, env=_env(env), timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise HarnessError(f"{what}: {argv[0]} was not found.", fix=fix) from exc
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"{what} took longer than {timeout:.0f}s.", fix=fix) from exc
    if proc.returncode != 0:
        raise HarnessError(
            f"{what} failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-2000:]}",
            fix=fix,
        )
    return proc.stdout


def pipe(
    producer: Sequence[str | Path],
    consumer: Sequence[str | Path],
    *,
    log: Path,
    what: str,
    fix: str,
    stdout_path: Path | None = None,
    timeout: float = 3600,
) -> None:
    """``producer | consumer [> stdout_path]``, both logging stderr to ``log``; both must succeed."""
    a = [str(c) for c in producer]
    b = [str(c) for c in consumer]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f:
        f.write(f"$ {shlex.join(a)} | {shlex.join(b)}\n")
        f.flush()
        out = stdout_path.open("wb") if stdout_path else f
        try:
            first = subprocess.Popen(a, stdout=subprocess.PIPE, stderr=f, stdin=subprocess.DEVNULL)
            assert first.stdout is not None
            second = subprocess.Popen(b, stdin=first.stdout, stdout=out, stderr=f)
            first.stdout.close()
            try:
                rc_b = second.wait(timeout=timeout)
                rc_a = first.wait(timeout=60)
            except subprocess.TimeoutExpired as exc:
                first.kill()
                second.kill()
                raise HarnessError(f"{what} took longer than {timeout:.0f}s.", fix=fix) from exc
        except FileNotFoundError as exc:
            raise HarnessError(f"{what}: {exc.filename} was not found.", fix=fix) from exc
        finally:
            if stdout_path:
                out.close()
    if rc_a != 0 or rc_b != 0:
        if stdout_path:
            stdout_path.unlink(missing_ok=True)
        raise HarnessError(
            f"{what} failed (exit {rc_a} | {rc_b}); last lines of {log}:\n{tail(log)}", fix=fix
        )
