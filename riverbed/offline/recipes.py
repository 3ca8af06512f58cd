"""The names of the offline images: each tag carries a key of what it is built from."""

from __future__ import annotations

from dataclasses import dataclass

from riverbed.kafka.distribution import POM
from riverbed.offline import rootfs, versions
from riverbed.offline.cache import DATA, recipe_key

REPOSITORY = "riverbed-offline"
DOCKERFILES = DATA / "dockerfiles"


@dataclass(frozen=True)
class Recipes:
    """Image references for the current package: a changed Dockerfile, data file or
    version changes the reference, and so causes a rebuild."""

    rootfs_key: str
    """Key of the debootstrap root filesystem (suite, variant, apt sources)."""
    base: str
    """Debian minbase, imported from the root filesystem (intermediate)."""
    python: str
    """Python 3.11 on Debian, /opt/venv first on PATH."""
    kafka: str
    """Apache Kafka on Debian with Java 17, laid out like apache/kafka."""
    node_base: str
    """The kind node's operating system (intermediate)."""
    node: str
    """The kind node image, Kubernetes and its control-plane images included."""


def recipes() -> Recipes:
    suite = versions.DEBIAN_SUITE
    rootfs_key = recipe_key("debootstrap", suite, "minbase", rootfs.SOURCES)
    base = f"{REPOSITORY}/debian:{suite}-{rootfs_key}"
    python = f"{REPOSITORY}/python:{versions.PYTHON_VERSION}-{suite}-" + recipe_key(
        base, DOCKERFILES / "python.Dockerfile"
    )
    kafka = f"{REPOSITORY}/kafka:{versions.KAFKA_IMAGE_VERSION}-" + recipe_key(
        base, DOCKERFILES / "kafka.Dockerfile", DATA / "kafka", POM, versions.KAFKA_IMAGE_VERSION
    )
    node_base = f"{REPOSITORY}/kind-node-base:{suite}-" + recipe_key(
        base, DOCKERFILES / "node-base.Dockerfile", DATA / "node", versions.KIND_VERSION
    )
    node = f"{REPOSITORY}/kind-node:{versions.KUBERNETES_VERSION}-" + recipe_key(
        node_base,
        DOCKERFILES / "node.Dockerfile",
        DOCKERFILES / "node-finish.Dockerfile",
        DOCKERFILES / "kube-proxy.Dockerfile",
        DOCKERFILES / "local-path-helper.Dockerfile",
        DATA / "go",
        versions.KUBERNETES_VERSION,
        versions.CRICTL_VERSION,
        versions.LOCAL_PATH_PROVISIONER_VERSION,
        "static-image-v1",
    )
    return Recipes(rootfs_key, base, python, kafka, node_base, node)
