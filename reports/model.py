"""Typed records of the checker: verdicts of single checks and the run's summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.exit_codes import (
    FAIL_EXIT,
    HARNESS_ERROR_EXIT,
    INCONCLUSIVE_EXIT,
    OUTCOMES,
    PASS_EXIT,
)

# The checks, in the report's order: declared in reports.registry.
from reports.registry import CHECK_NAMES as CHECK_NAMES

PASS = "pass"
FAIL = "fail"
INCONCLUSIVE = "inconclusive"
#: A check's status (never a run's verdict) when the run's evidence strength cannot
#: see what it judges: it neither passes nor fails the run.
NOT_APPLICABLE = "n/a"

#: Exit code per run verdict (docs/report.md; every code in reports/exit_codes.py).
EXIT_CODES = {PASS: PASS_EXIT, FAIL: FAIL_EXIT, INCONCLUSIVE: INCONCLUSIVE_EXIT}

#: Examples kept per check (the counts are always complete).
MAX_EXAMPLES = 20


@dataclass(frozen=True)
class Allowed:
    """Anomalies a check found and an allowance let pass (:mod:`reports.allowances`)."""

    allowance: str
    """The allowance's name (``uncommitted-window``, ``zombie-window``, …)."""
    count: int
    """How many anomalies it let pass (0: its condition never held)."""
    examples: tuple[dict[str, Any], ...] = ()
    """Up to ``MAX_EXAMPLES`` of them, located like the check's own examples."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: never just a boolean."""

    name: str
    """The check's name from the verdict vocabulary (``lost-from-log``, …)."""
    status: str
    """``pass``, ``fail``, ``inconclusive``, or ``n/a`` (not applicable at the run's
    evidence strength: it does not count towards the run's verdict)."""
    count: int
    """The headline number: anomalies found (0 on a pass)."""
    explanation: str
    """One line a person can read: what was checked and what was found."""
    counts: dict[str, Any] = field(default_factory=dict)
    """Every number the check computed (anomalies, hazards, what it looked at)."""
    examples: tuple[dict[str, Any], ...] = ()
    """Up to ``MAX_EXAMPLES`` located anomalies: key, seq, partition, offset, member, times."""
    allowed: tuple[Allowed, ...] = ()
    """What the check found and let pass, per allowance it consulted."""

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "count": self.count,
            "examples": list(self.examples),
            "explanation": self.explanation,
            "counts": self.counts,
        }


def combine(statuses: list[str]) -> str:
    """The run's verdict: any fail fails, else any inconclusive, else pass (``n/a`` counts not)."""
    if FAIL in statuses:
        return FAIL
    if INCONCLUSIVE in statuses:
        return INCONCLUSIVE
    return PASS


def status_of(anomalies: int, complete: bool, *, certain: bool = True) -> str:
    """Status for a check that found ``anomalies`` in evidence that is ``complete`` or not.

    An anomaly proven by what is present fails the check even when some evidence
    is missing (``certain``); an anomaly inferred from an absence does not
    (``certain=False``) while the evidence is incomplete. Nothing found in
    incomplete evidence proves nothing: inconclusive.
    """
    if anomalies and (certain or complete):
        return FAIL
    if not complete:
        return INCONCLUSIVE
    return PASS


@dataclass(frozen=True)
class Issue:
    """A problem with the evidence itself, shown at the top of the report."""

    source: str
    """Which evidence: ``spec``, ``acks``, ``consumed``, ``group``, ``faults``, ``log``, …"""
    level: str
    """``error`` (evidence could not be read), ``warning`` (read with a gap), ``note``."""
    message: str

    def to_json(self) -> dict[str, str]:
        return {"source": self.source, "level": self.level, "message": self.message}


@dataclass
class Summary:
    """What ``reports.build`` returns: the verdict and where the outputs went."""

    run_dir: Path
    out_dir: Path
    run_id: str
    verdict: str
    checks: list[Verdict]
    counts: dict[str, int | None]
    rebalances: list[dict[str, Any]]
    issues: list[Issue]
    latency: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)
    """``report_html``, ``summary_json``, ``junit_xml`` once written."""
    reasons: list[str] = field(default_factory=list)
    """Why the run is inconclusive, when it is."""
    evidence_strength: dict[str, str] = field(default_factory=dict)
    """What the verdicts rest on: ``name`` (reference, instrumented, output-topic,
    offsets), ``title``, ``proves``, ``cannot``, ``assumption``."""
    allowances: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Every allowance applied in the run (name → check, anomaly, condition, reason,
    count, examples); an allowance not listed let nothing pass."""
    harness_error: dict[str, Any] | None = None
    """What stopped the run early, when riverbed or its environment failed (spec.json
    ``error``: ``message``, ``fix``): the run exits 3, whatever its verdict says."""

    @property
    def exit_code(self) -> int:
        """0 pass, 1 fail, 2 inconclusive; 3 when a harness error stopped the run (as
        pytest's internal error, it wins: the verdict still shows what was found)."""
        if self.harness_error:
            return HARNESS_ERROR_EXIT
        return EXIT_CODES[self.verdict]

    @property
    def outcome(self) -> str:
        """The exit code's name: ``pass``, ``fail``, ``inconclusive``, ``harness-error``."""
        return OUTCOMES[self.exit_code]

    def check(self, name: str) -> Verdict:
        for v in self.checks:
            if v.name == name:
                return v
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "run_id": self.run_id,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "outcome": self.outcome,
            **({"harness_error": self.harness_error} if self.harness_error else {}),
            "evidence_strength": self.evidence_strength.get("name", "reference"),
            "evidence_scope": {k: v for k, v in self.evidence_strength.items() if k != "name"},
            "counts": self.counts,
            "checks": {v.name: v.to_json() for v in self.checks},
            "rebalances": self.rebalances,
            "latency": self.latency,
            "issues": [i.to_json() for i in self.issues],
            "reasons": self.reasons,
            "allowances": self.allowances,
        }
