"""``python -m locustfiles``: riverbed's Locust options, with their variables and defaults.

Locust prints ``--help`` before it imports a locustfile, so options that a
locustfile adds never show there; this lists them instead.
"""

from __future__ import annotations

import argparse
import sys

from locustfiles import settings

USAGE = """\
locust -f locustfiles/kafka_producer.py --headless [Locust options] [riverbed options]
       locust -f locustfiles/http_producer.py --headless -H http://HOST:PORT [options]"""

EPILOG = """\
Locust's own options (-u users, -r spawn rate, -t run time, --processes N, --html,
--csv, ...) are listed by `locust --help`. Without --html/--csv, the HTML report and
CSV stats go to <run-dir>/locust/. Details: docs/load.md.

example (the chaos window of `riverbed run`):
  locust -f locustfiles/kafka_producer.py --headless --run-dir runs/r1 \\
      --kafka-bootstrap 127.0.0.1:19092 --kafka-topic riverbed-events \\
      --shape chaos-window --warmup-s 10s --cooldown-s 10s -t 80s -u 10 -r 10"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m locustfiles",
        usage=USAGE,
        description="Options riverbed's locustfiles add to Locust's command line.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    settings.add_options(
        p,
        "riverbed load (both users)",
        settings.COMMON_OPTIONS,
        overrides={"run_dir": "runs/<date>-<time>-locust"},
    )
    settings.add_options(p, "riverbed Kafka producer (kafka_producer.py)", settings.KAFKA_OPTIONS)
    settings.add_options(p, "riverbed HTTP producer (http_producer.py)", settings.HTTP_OPTIONS)
    settings.add_options(p, "riverbed load shape (both users)", settings.SHAPE_OPTIONS)
    return p


def main(argv: list[str] | None = None) -> int:
    parser().print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
