"""What a run directory is, checked before the report reads anything (no heavy imports:
a wrong path is refused in a fraction of a second)."""

from __future__ import annotations

import json
from pathlib import Path


class ReportError(Exception):
    """The input is not something the report can read at all (exit code 2)."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def check_run_dir(run_dir: Path) -> None:
    """Refuse what is not one run's directory, before anything is read or written.

    A run directory has a spec.json that is a JSON object (riverbed writes it
    atomically: anything else was not written by a run), or, for evidence
    recorded by hand, an evidence/ directory with files in it.
    """
    one_run = "pass the directory of one run, e.g. runs/<run-id>"
    if not run_dir.exists():
        raise ReportError(f"run directory {run_dir} does not exist", one_run)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir} is not a directory", "pass a run directory, not a file")
    spec = run_dir / "spec.json"
    if spec.exists():
        try:
            data = json.loads(spec.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ReportError(
                f"{spec} cannot be read as JSON ({exc}): the directory is half-written or "
                "not a riverbed run",
                "pass a run directory whose spec.json riverbed wrote (it writes it "
                "atomically; a broken one was edited or copied in part)",
            ) from None
        if not isinstance(data, dict):
            raise ReportError(
                f"{spec} is not a run spec (a JSON object)",
                one_run,
            )
        return
    evidence = run_dir / "evidence"
    if evidence.is_dir() and any(p.is_file() for p in evidence.rglob("*")):
        return
    runs = sorted(p.name for p in run_dir.iterdir() if (p / "spec.json").is_file())
    if runs:
        raise ReportError(
            f"{run_dir} holds run directories ({', '.join(runs[-3:])}"
            f"{', …' if len(runs) > 3 else ''}), it is not one itself",
            f"pass one of them, e.g. {run_dir / runs[-1]}",
        )
    what = "an empty evidence/" if evidence.is_dir() else "neither spec.json nor evidence/"
    raise ReportError(
        f"{run_dir} is not a riverbed run directory: it has {what}",
        one_run,
    )
