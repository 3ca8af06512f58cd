"""The images the Kubernetes platform runs: content tags, and where the node, Kafka and
Python images and the kind/kubectl tools come from."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

WORKLOADS_IMAGE = "riverbed-workloads"
#: The Kafka image the manifests name (its tag is the Kafka version).
KAFKA_IMAGE = "apache/kafka"
LOCUST_IMAGE = "riverbed-locust"
DOCKERFILE = "workloads/Dockerfile"

#: What the workload images are built from (workloads/Dockerfile's context): a change to
#: any of it makes a new content tag.
IMAGE_INPUTS = ("pyproject.toml", "workloads", "locustfiles")


def content_tag(root: Path, python_image: str | None = None) -> str:
    """An image tag from what the images are built from: ``rc-<12 hex>``.

    Two runs of the same sources get the same tag, so the second builds and loads
    nothing; any change gives a new tag, so a node never runs a stale image under a
    reused tag (what unique tags guaranteed, without rebuilding every run).
    """
    import hashlib

    digest = hashlib.sha256((python_image or "python:3.11-slim").encode())
    for name in IMAGE_INPUTS:
        base = root / name
        files = sorted(base.rglob("*")) if base.is_dir() else [base]
        for path in files:
            if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return f"rc-{digest.hexdigest()[:12]}"


def new_tag() -> str:
    """A unique image tag: time of the build plus 6 random hex digits.

    Unique per build, so that ``kind load`` never leaves a node running an
    older image that happens to share the tag.
    """
    return f"rb-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class KubeImages:
    """Where the kind platform's images and tools come from.

    The defaults are the public images (kind's own node image, ``apache/kafka``,
    ``python:3.11-slim`` in workloads/Dockerfile) and the tools on PATH.
    :meth:`offline` uses what ``riverbed kind prepare --offline`` built instead,
    for machines that cannot reach a container registry: the same manifests run
    unchanged on either.
    """

    node_image: str | None = None
    """``kind create cluster --image`` (None: kind's default node image)."""
    kafka_image: str | None = None
    """Replaces ``apache/kafka:<version>`` in manifests/kafka.yaml (None: keep it)."""
    python_image: str | None = None
    """workloads/Dockerfile's ``PYTHON_IMAGE`` (None: its default, python:3.11-slim)."""
    kind_bin: str = "kind"
    kubectl_bin: str = "kubectl"
    offline: bool = False
    """Build the workload images the offline way (wheels served from this machine when
    build containers cannot reach PyPI) and load the Kafka image into the node."""

    @classmethod
    def offline_prepared(cls, say: Callable[[str], None] | None = None) -> KubeImages:
        """The images and tools ``riverbed kind prepare --offline`` prepared (HarnessError
        naming that command when nothing is prepared)."""
        from riverbed.offline import prepared_images

        prepared = prepared_images(say=say)
        return cls(
            node_image=prepared.node_image,
            kafka_image=prepared.kafka_image,
            python_image=prepared.python_image,
            kind_bin=str(prepared.kind_bin),
            kubectl_bin=str(prepared.kubectl_bin),
            offline=True,
        )
