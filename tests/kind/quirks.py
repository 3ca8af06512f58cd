"""This machine's quirks that a kind cluster must work around, detected, never assumed.

Some VMs run containers with a capability bounding set that lacks
CAP_SYS_RESOURCE. Inside a kind node, runc then cannot start pod sandboxes
(``can't get final child's PID from pipe: EOF``: it may not set a negative
oom_score_adj), unless containerd's CRI plugin is told to keep every
container's oom_score_adj at or above its own: ``restrict_oom_score_adj =
true``. That goes into the kind cluster configuration the tests generate
(kind's ``containerdConfigPatches``), so the node image itself stays clean and
a machine without the quirk runs the standard configuration.

Run ``python -m tests.kind.quirks [manifests/kind-cluster.yaml]`` to print the
configuration for this machine (it says on stderr what it changed), e.g. for
``make kind-up KIND_CONFIG=…``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

CAP_SYS_RESOURCE = 24

#: For containerd's config version 2 (kind's), which containerd 1.6 and 2.x both read.
RESTRICT_OOM_SCORE_ADJ_PATCH = (
    '[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true\n'
)


def capability_bounding_set(proc_status: str) -> int:
    """The ``CapBnd`` mask from the text of /proc/<pid>/status.

    >>> hex(capability_bounding_set("Name:\\tx\\nCapBnd:\\t000001fffeffffff\\n"))
    '0x1fffeffffff'
    """
    for line in proc_status.splitlines():
        key, _, value = line.partition(":")
        if key == "CapBnd":
            return int(value.strip(), 16)
    raise ValueError("no CapBnd line in the process status")


def lacks_sys_resource(proc_status: str | None = None) -> bool:
    """Whether CAP_SYS_RESOURCE is missing from this process's bounding set
    (which a kind node's containers inherit)."""
    text = proc_status if proc_status is not None else Path("/proc/self/status").read_text()
    return not (capability_bounding_set(text) >> CAP_SYS_RESOURCE) & 1


def kind_config(
    base: str,
    *,
    restrict_oom_score_adj: bool,
    name: str | None = None,
) -> tuple[str, list[str]]:
    """``base`` (a kind cluster configuration, YAML) adjusted for this machine.

    Returns the new YAML and one line per change, for the test log.
    """
    config: dict[str, Any] = yaml.safe_load(base)
    changes = []
    if name:
        config["name"] = name
        changes.append(f"cluster name {name}")
    if restrict_oom_score_adj:
        patches = list(config.get("containerdConfigPatches") or [])
        if RESTRICT_OOM_SCORE_ADJ_PATCH not in patches:
            patches.append(RESTRICT_OOM_SCORE_ADJ_PATCH)
        config["containerdConfigPatches"] = patches
        changes.append(
            "containerd restrict_oom_score_adj = true (CAP_SYS_RESOURCE is not in this "
            "machine's capability bounding set)"
        )
    return yaml.safe_dump(config, sort_keys=False), changes


def main(argv: list[str]) -> int:
    source = (
        Path(argv[0])
        if argv
        else Path(__file__).resolve().parents[2] / "manifests/kind-cluster.yaml"
    )
    text, changes = kind_config(source.read_text(), restrict_oom_score_adj=lacks_sys_resource())
    for change in changes:
        print(f"kind config: {change}", file=sys.stderr)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
