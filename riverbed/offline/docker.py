"""The few Docker operations the offline images need, through the ``docker`` CLI.

Builds use the engine's classic builder (``DOCKER_BUILDKIT=0``): it reads base
images from the local image store and never asks a registry for a frontend
image, so every build works with no registry in reach. Nothing here pulls.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from riverbed.errors import HarnessError
from riverbed.offline import shell

ENGINE_FIX = (
    "start the Docker engine (on a CI machine without one: `bash scripts/ci/docker-engine.sh`)"
)


def cli() -> str:
    """The docker client: ``$RIVERBED_DOCKER``, else ``docker`` on PATH."""
    found = os.environ.get("RIVERBED_DOCKER") or shutil.which("docker")
    if not found:
        raise HarnessError("The docker command was not found.", fix="install Docker, " + ENGINE_FIX)
    return found


def engine_version() -> str:
    """The engine's version; a HarnessError when it does not answer."""
    return shell.output(
        [cli(), "version", "--format", "{{.Server.Version}}"],
        what="asking the Docker engine for its version",
        fix=ENGINE_FIX,
        timeout=30,
    ).strip()


def image_id(image: str) -> str | None:
    """The local image's id, or ``None`` when Docker does not have it."""
    try:
        return shell.output(
            [cli(), "image", "inspect", "--format", "{{.Id}}", image],
            what=f"inspecting {image}",
            fix=ENGINE_FIX,
            timeout=60,
        ).strip()
    except HarnessError:
        return None


def images(reference: str) -> list[str]:
    """Local images matching ``reference`` (``docker images REFERENCE``), as repo:tag."""
    out = shell.output(
        [cli(), "images", "--format", "{{.Repository}}:{{.Tag}}", reference],
        what="listing Docker images",
        fix=ENGINE_FIX,
    )
    return [line for line in out.split() if not line.endswith(":<none>")]


def remove_image(image: str) -> bool:
    """``docker rmi IMAGE`` (never forced: an image a container uses stays); True if removed."""
    try:
        shell.output([cli(), "rmi", image], what=f"removing {image}", fix=ENGINE_FIX)
    except HarnessError:
        return False
    return True


def image_size(image: str) -> int:
    out = shell.output(
        [cli(), "image", "inspect", "--format", "{{.Size}}", image],
        what=f"inspecting {image}",
        fix=ENGINE_FIX,
    )
    return int(out.strip() or 0)


def build_network() -> list[str]:
    """``--network host`` when ``RIVERBED_DOCKER_BUILD_NETWORK=host``: for machines
    whose build containers cannot reach the package mirrors over Docker's bridge."""
    network = os.environ.get("RIVERBED_DOCKER_BUILD_NETWORK")
    return ["--network", network] if network else []


def build(
    context: Path,
    tag: str,
    *,
    log: Path,
    dockerfile: Path | None = None,
    build_args: Mapping[str, str] | None = None,
    what: str,
) -> None:
    """``docker build`` with the classic builder; ``dockerfile`` defaults to context/Dockerfile."""
    cmd: list[str | Path] = [cli(), "build", "--force-rm", "-t", tag, *build_network()]
    if dockerfile:
        cmd += ["-f", dockerfile]
    for key, value in (build_args or {}).items():
        cmd += ["--build-arg", f"{key}={value}"]
    cmd.append(context)
    shell.run(
        cmd,
        log=log,
        what=what,
        fix="see the log; if package downloads fail inside the build, retry with "
        "RIVERBED_DOCKER_BUILD_NETWORK=host",
        env={"DOCKER_BUILDKIT": "0"},
    )


def save(image: str, archive: Path, *, log: Path) -> None:
    """``docker save IMAGE | zstd`` into ``archive`` (written under a temporary name first)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".partial")
    shell.pipe(
        [cli(), "save", image],
        [zstd(), "-T0", "-3", "-q", "-c"],
        log=log,
        what=f"saving {image} to {archive}",
        fix="check free disk space in the cache directory",
        stdout_path=partial,
    )
    partial.rename(archive)
    record = {"image": image, "id": image_id(image), "archive": archive.name}
    archive.with_name(archive.name.removesuffix(".tar.zst") + ".json").write_text(
        json.dumps(record, indent=2) + "\n"
    )


def load(archive: Path, *, log: Path) -> None:
    """``zstd -dc ARCHIVE | docker load``."""
    shell.pipe(
        [zstd(), "-dc", archive],
        [cli(), "load", "-q"],
        log=log,
        what=f"loading {archive} into Docker",
        fix=f"remove the damaged {archive} and run `riverbed kind prepare --offline` again",
    )


def zstd() -> str:
    found = shutil.which("zstd")
    if not found:
        raise HarnessError(
            "zstd was not found; the offline image cache is zstd-compressed.",
            fix="install it (Debian/Ubuntu: apt-get install zstd; CI: scripts/ci/kind-host.sh)",
        )
    return found
