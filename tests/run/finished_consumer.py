"""Run an example consumer unchanged, keeping its own record of every event it finished.

    python tests/run/finished_consumer.py examples/confluent_auto_commit.py

The examples log ``handled <producer>/<key> #<seq>`` (logger ``worker``, DEBUG) after the
work on an event is done. This wrapper sends exactly those lines, one per finished event,
to ``$FINISHED_DIR/<run>/<member>.log`` (flushed line by line: a SIGKILL loses none),
keeps the example's INFO log on stderr as before, and runs the example as ``__main__``.
That file is the consumer's own account of what it finished: a truth for the tests that
owes nothing to riverbed's evidence (``RIVERBED_RUN_DIR`` and ``RIVERBED_MEMBER`` only
name the file).
"""

from __future__ import annotations

import logging
import os
import re
import runpy
import sys
from pathlib import Path

#: The examples' line for one finished event (not their INFO summary of a batch,
#: ``handled and committed 100 events``).
FINISHED = re.compile(r"handled \S+/\S+ #\d+")


def finished_log() -> Path:
    folder = Path(os.environ["FINISHED_DIR"]) / Path(os.environ["RIVERBED_RUN_DIR"]).name
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{os.environ.get('RIVERBED_MEMBER', os.getpid())}.log"


def main() -> None:
    truth = logging.FileHandler(finished_log())
    truth.setFormatter(logging.Formatter("%(message)s"))
    truth.addFilter(lambda record: FINISHED.fullmatch(record.getMessage()) is not None)
    console = logging.StreamHandler()
    console.setLevel(logging.INFO)
    console.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    worker = logging.getLogger("worker")
    worker.setLevel(logging.DEBUG)
    worker.propagate = False  # the example's own root handler would print every event
    worker.addHandler(truth)
    worker.addHandler(console)
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
