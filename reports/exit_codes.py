"""Exit codes of every ``riverbed`` command, one table for all of them (docs/report.md).

A CI job acts on them, so each case has a code of its own, the way pytest
separates "tests failed" from "usage error":

====  =================  =========================================================
code  outcome            meaning
====  =================  =========================================================
0     ``pass``           the run (every run of a campaign) passed
1     ``fail``           the evidence shows an anomaly
2     ``inconclusive``   the run proves nothing: no fault landed, nothing was
                         acknowledged, a drain missed its deadline, it was
                         interrupted
3     ``harness-error``  riverbed or its environment failed while working (Kafka
                         did not start, a platform step failed, the run stopped
                         early); the message names the fix
4     ``bad-input``      the command line, a settings file, an experiment or a
                         run directory is wrong; nothing was started or written
====  =================  =========================================================

``summary.json`` carries the code and its outcome (``exit_code``, ``outcome``).
This module has no imports: the CLI, the report and the campaign share it.
"""

from __future__ import annotations

PASS_EXIT = 0
FAIL_EXIT = 1
INCONCLUSIVE_EXIT = 2
HARNESS_ERROR_EXIT = 3
BAD_INPUT_EXIT = 4

#: Each exit code's outcome, the word ``summary.json`` and the docs use for it.
OUTCOMES = {
    PASS_EXIT: "pass",
    FAIL_EXIT: "fail",
    INCONCLUSIVE_EXIT: "inconclusive",
    HARNESS_ERROR_EXIT: "harness-error",
    BAD_INPUT_EXIT: "bad-input",
}

#: One line per code, for ``--help`` texts.
HELP = "Exit codes: 0 pass, 1 fail, 2 inconclusive, 3 harness error, 4 bad input."
