"""Write the workload images' dependency lists from pyproject.toml (run by workloads/Dockerfile).

``workloads.txt``: the project's base dependencies (what the producer, consumer
and monitor import). ``locust.txt``: those plus Locust and the Kafka clients
its users may drive, with the ranges the harness pins.
"""

from __future__ import annotations

import re
import tomllib

LOAD_NAMES = {"locust", "confluent-kafka"}


def main() -> None:
    with open("pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    base = project["dependencies"]
    load = [
        req
        for req in project["optional-dependencies"]["harness"]
        if re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0].lower() in LOAD_NAMES
    ]
    with open("workloads.txt", "w") as f:
        f.write("\n".join(base) + "\n")
    with open("locust.txt", "w") as f:
        f.write("\n".join(base + load) + "\n")


if __name__ == "__main__":
    main()
