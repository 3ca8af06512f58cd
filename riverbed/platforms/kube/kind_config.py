"""The kind cluster configuration for this host: what a host's quirks need, detected, never assumed.

Some hosts (VMs, CI sandboxes) run containers with a capability bounding set
that lacks CAP_SYS_RESOURCE. Inside a kind node, runc then cannot start pod
sandboxes — kubeadm fails after minutes with ``can't get final child's PID from
pipe: EOF`` — because it may not give a container a negative ``oom_score_adj``,
unless containerd's CRI plugin is told to keep every container's
``oom_score_adj`` at or above its own: ``restrict_oom_score_adj = true``.

riverbed looks at what a privileged container on this Docker engine actually
gets (kind nodes are privileged containers), and when CAP_SYS_RESOURCE is
missing it adds that setting to the cluster's kind configuration
(``containerdConfigPatches``) before creating the cluster, and says so. A
host without the quirk gets the configuration unchanged. This shapes only the
cluster riverbed creates (``riverbed up --platform kind``, ``make kind-up``
through ``riverbed kind config``); the node image stays clean.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from riverbed.errors import HarnessError

CAP_SYS_RESOURCE = 24

#: For containerd's config version 2 (kind's), which containerd 1.6 and 2.x both read.
RESTRICT_OOM_SCORE_ADJ_PATCH = (
    '[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true\n'
)

#: What Docker says when a privileged container asks for a capability the host lacks.
_CAPS_REFUSED = "unable to apply caps"


@dataclass(frozen=True)
class HostCapabilities:
    """What a privileged container on this host gets, and how riverbed found out."""

    lacks_sys_resource: bool
    how: str
    """``a privileged container of IMAGE`` or ``this process (…)``: for the announcement."""


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
    """Whether CAP_SYS_RESOURCE is missing from a bounding set (default: this process's)."""
    text = proc_status if proc_status is not None else Path("/proc/self/status").read_text()
    return not (capability_bounding_set(text) >> CAP_SYS_RESOURCE) & 1


def probe_host(node_image: str | None) -> HostCapabilities:
    """What a kind node on this Docker engine would get.

    With a node image Docker already has, one privileged container of it prints its
    own /proc/self/status (a second or two; nothing is pulled). Without one (kind's
    default image, not pulled yet) the bounding set of this process stands in for the
    engine's: the same kernel, and the usual case of a local engine.
    """
    if node_image and _run(["docker", "image", "inspect", node_image]).returncode == 0:
        probe = _run(
            [
                "docker", "run", "--rm", "--privileged", "--network", "none",
                "--entrypoint", "cat", node_image, "/proc/self/status",
            ]
        )  # fmt: skip
        return read_probe(node_image, probe.returncode, probe.stdout, probe.stderr)
    return HostCapabilities(lacks_sys_resource(), "this process's capability bounding set")


def read_probe(node_image: str, returncode: int, stdout: str, stderr: str) -> HostCapabilities:
    """What the privileged probe container's exit code and output say (pure).

    >>> read_probe("n", 0, "CapBnd:\t000001fffeffffff\n", "").lacks_sys_resource
    True
    """
    how = f"a privileged container of {node_image}"
    if returncode == 0:
        return HostCapabilities(lacks_sys_resource(stdout), how)
    if _CAPS_REFUSED in stderr:
        raise HarnessError(
            'Docker cannot start privileged containers on this host ("unable to apply caps": '
            "its capability bounding set lacks CAP_SYS_RESOURCE), so no kind node can start.",
            fix="run the engine with a runtime that drops that one capability "
            "(scripts/ci/docker-engine.sh installs one where needed), then retry.",
        )
    raise HarnessError(
        f"`docker run --privileged {node_image}` failed: {stderr.strip()[-500:]}",
        fix="check that Docker runs privileged containers (kind needs them).",
    )


def for_host(
    base: str, *, restrict_oom_score_adj: bool, name: str | None = None
) -> tuple[str, list[str]]:
    """``base`` (a kind cluster configuration, YAML) adjusted for this host.

    Returns the new YAML and one line per change, for the user.
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
            changes.append(
                "containerd restrict_oom_score_adj = true (containers on this host lack "
                "CAP_SYS_RESOURCE: without it no pod sandbox starts in the node)"
            )
        config["containerdConfigPatches"] = patches
    return yaml.safe_dump(config, sort_keys=False), changes


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError as exc:
        raise HarnessError("docker was not found on PATH.", fix="install Docker.") from exc
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(
            f"`{' '.join(argv[:4])} …` did not finish within 120 s.",
            fix="check that the Docker daemon answers (`docker info`).",
        ) from exc
