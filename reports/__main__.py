"""``python -m reports RUN_DIR``: the same as ``riverbed report RUN_DIR``."""

from reports.cli import report

if __name__ == "__main__":  # pragma: no branch
    report(prog_name="python -m reports")
