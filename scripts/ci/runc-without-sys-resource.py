#!/usr/bin/env python3
"""runc, minus CAP_SYS_RESOURCE: for machines whose capability bounding set lacks it.

`docker run --privileged` asks for every capability; where the kernel's bounding
set lacks CAP_SYS_RESOURCE, runc then fails with "unable to apply caps:
operation not permitted". This wrapper removes that one capability from the
OCI spec of each container (`create`/`run`: the bundle's config.json) and each
exec'd process (`exec --process FILE`), then hands over to the real runc with
the same arguments. scripts/ci/docker-engine.sh installs it only when the
capability is missing.
"""

import json
import os
import sys

REAL_RUNC = "@REAL_RUNC@"
CAP = "CAP_SYS_RESOURCE"


def _value(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def _strip(caps: dict) -> bool:
    changed = False
    for key in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        if CAP in (caps.get(key) or []):
            caps[key] = [c for c in caps[key] if c != CAP]
            changed = True
    return changed


def _edit(path: str, process_only: bool) -> None:
    try:
        with open(path) as f:
            spec = json.load(f)
    except (OSError, ValueError):
        return
    process = spec if process_only else spec.get("process") or {}
    if _strip(process.get("capabilities") or {}):
        with open(path, "w") as f:
            json.dump(spec, f)


def main() -> None:
    args = sys.argv[1:]
    commands = [a for a in args if not a.startswith("-")]
    if "create" in commands or "run" in commands:
        bundle = _value(args, "--bundle", "-b") or os.getcwd()
        _edit(os.path.join(bundle, "config.json"), process_only=False)
    elif "exec" in commands and (process := _value(args, "--process", "-p")):
        _edit(process, process_only=True)
    os.execv(REAL_RUNC, [REAL_RUNC, *args])


if __name__ == "__main__":
    main()
