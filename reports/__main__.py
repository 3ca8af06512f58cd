"""``python -m reports RUN_DIR``: the same as ``riverbed report RUN_DIR`` (exit codes too)."""

import sys

import click

from reports.cli import report
from reports.exit_codes import BAD_INPUT_EXIT

if __name__ == "__main__":  # pragma: no branch
    try:
        code = report.main(prog_name="python -m reports", standalone_mode=False)
    except click.UsageError as exc:  # a mistyped flag is bad input, as for `riverbed report`
        exc.show()
        sys.exit(BAD_INPUT_EXIT)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
