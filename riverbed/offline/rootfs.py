"""A minimal Debian root filesystem from Debian's mirror, imported as a Docker base image.

``debootstrap --variant=minbase`` needs nothing but the package mirror; the
result is kept as a zstd tarball in the cache, so a lost base image is
re-imported in seconds instead of bootstrapped again.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from riverbed.errors import HarnessError
from riverbed.offline import docker, shell

DEBOOTSTRAP_FIX = (
    "install debootstrap (Debian/Ubuntu: apt-get install debootstrap; CI: "
    "scripts/ci/kind-host.sh) and run as root; set RIVERBED_DEBIAN_MIRROR for another mirror"
)

SOURCES = """\
deb {mirror} {suite} main
deb {mirror} {suite}-updates main
deb {security} {suite}-security main
"""


def debootstrap() -> str:
    found = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    if not found:
        raise HarnessError("debootstrap was not found.", fix=DEBOOTSTRAP_FIX)
    if os.geteuid() != 0:
        raise HarnessError(
            "debootstrap needs root to build the Debian base image.", fix=DEBOOTSTRAP_FIX
        )
    return found


def security_mirror(mirror: str) -> str:
    """Debian's security archive next to ``mirror``.

    >>> security_mirror("http://deb.debian.org/debian")
    'http://deb.debian.org/debian-security'
    """
    return mirror.rstrip("/") + "-security"


def build_rootfs(suite: str, mirror: str, archive: Path, work: Path, *, log: Path) -> Path:
    """Bootstrap ``suite`` into ``work`` and pack it into ``archive`` (tar.zst)."""
    shutil.rmtree(work, ignore_errors=True)
    work.parent.mkdir(parents=True, exist_ok=True)
    shell.run(
        [debootstrap(), "--variant=minbase", suite, work, mirror],
        log=log,
        what=f"debootstrap {suite}",
        fix=DEBOOTSTRAP_FIX,
        timeout=1800,
    )
    (work / "etc/apt/sources.list").write_text(
        SOURCES.format(mirror=mirror, suite=suite, security=security_mirror(mirror))
    )
    # What Debian's own container images do: no package caches kept in images.
    (work / "etc/apt/apt.conf.d/docker-clean").write_text(
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb '
        '/var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n'
    )
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for f in (work / leftover).glob("*"):
            if f.is_file():
                f.unlink()
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".partial")
    shell.pipe(
        ["tar", "-C", work, "--numeric-owner", "-cf", "-", "."],
        [docker.zstd(), "-T0", "-3", "-q", "-c"],
        log=log,
        what=f"packing the {suite} root filesystem",
        fix="check free disk space in the cache directory",
        stdout_path=partial,
    )
    partial.rename(archive)
    shutil.rmtree(work, ignore_errors=True)
    return archive


def import_rootfs(archive: Path, image: str, *, log: Path) -> None:
    """``zstd -dc ARCHIVE | docker import - IMAGE``."""
    shell.pipe(
        [docker.zstd(), "-dc", archive],
        [docker.cli(), "import", "--change", 'CMD ["/bin/bash"]', "-", image],
        log=log,
        what=f"importing {archive.name} as {image}",
        fix=docker.ENGINE_FIX,
    )
