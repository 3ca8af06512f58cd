"""Where the offline kind images and tools are kept, keyed by what they are built from.

Everything lives outside the repository, under ``$RIVERBED_KIND_CACHE_DIR``
(default ``<riverbed cache>/kind-offline``, see :mod:`riverbed.paths`)::

    tools/kind-v0.33.0/kind                 host tools
    tools/crictl-v1.34.0/crictl             node tools, built from the Go module proxy
    kubernetes-v1.34.4/bin/{kubectl,kubelet,kubeadm,kube-apiserver,…}
    control-plane-v1.34.4/bin/{etcd,coredns,pause}
    rootfs/debian-bookworm-minbase-<key>.tar.zst   the debootstrap rootfs
    images/<image>.tar.zst                  `docker save | zstd` of each prepared image
    images/<image>.json                     its reference and image id
    build/                                  scratch space (build contexts, Go wrapper modules)
    logs/<step>.log                         the full output of each step

An image's tag carries a key: a short hash of the versions and package data
files it is built from, so a changed recipe gets a new tag and a rebuild, and
an unchanged one is never rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from riverbed.paths import cache_dir

#: Package data: Dockerfiles, Go wrapper modules, Kafka scripts, node files.
DATA = Path(__file__).resolve().with_name("data")


def default_cache_dir() -> Path:
    """``$RIVERBED_KIND_CACHE_DIR``, else ``<riverbed cache dir>/kind-offline``."""
    if env := os.environ.get("RIVERBED_KIND_CACHE_DIR"):
        return Path(env).expanduser()
    return cache_dir() / "kind-offline"


def recipe_key(*parts: str | Path, length: int = 10) -> str:
    """A short hex digest of strings and of files' contents (directories recursively,
    by relative path and bytes), for cache keys and image tags.

    >>> recipe_key("a", "b") == recipe_key("a", "b") != recipe_key("ab")
    True
    """
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            files = sorted(p for p in part.rglob("*") if p.is_file()) if part.is_dir() else [part]
            for f in files:
                rel = f.relative_to(part).as_posix() if part.is_dir() else f.name
                h.update(f"file:{rel}:{os.access(f, os.X_OK)}\0".encode())
                h.update(f.read_bytes())
                h.update(b"\0")
        else:
            h.update(f"str:{part}\0".encode())
    return h.hexdigest()[:length]


def archive_name(image: str) -> str:
    """A file name for an image reference.

    >>> archive_name("riverbed-offline/kind-node:v1.34.4-0123456789")
    'riverbed-offline_kind-node_v1.34.4-0123456789'
    """
    return re.sub(r"[^A-Za-z0-9._-]", "_", image)


@dataclass(frozen=True)
class OfflineCache:
    """Paths in one offline cache directory (nothing is created by looking)."""

    root: Path

    @classmethod
    def at(cls, root: Path | str | None = None) -> OfflineCache:
        return cls(Path(root).expanduser().resolve() if root else default_cache_dir())

    def tool(self, name: str, version: str) -> Path:
        """A Go-built tool: ``tools/<name>-<version>/<name>``."""
        return self.root / "tools" / f"{name}-{version}" / name

    def kubernetes_bin(self, version: str) -> Path:
        return self.root / f"kubernetes-{version}" / "bin"

    def control_plane_bin(self, kubernetes_version: str) -> Path:
        return self.root / f"control-plane-{kubernetes_version}" / "bin"

    def rootfs_archive(self, suite: str, key: str) -> Path:
        return self.root / "rootfs" / f"debian-{suite}-minbase-{key}.tar.zst"

    def image_archive(self, image: str) -> Path:
        return self.root / "images" / f"{archive_name(image)}.tar.zst"

    def image_record(self, image: str) -> Path:
        return self.root / "images" / f"{archive_name(image)}.json"

    def build_dir(self, name: str) -> Path:
        return self.root / "build" / name

    def log(self, step: str) -> Path:
        return self.root / "logs" / f"{step}.log"

    @property
    def manifest(self) -> Path:
        """``prepared.json``: what the last complete preparation produced."""
        return self.root / "prepared.json"

    def read_manifest(self) -> dict[str, str] | None:
        try:
            data = json.loads(self.manifest.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None
