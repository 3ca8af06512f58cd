"""What the offline kind images are built from: pinned versions, in one place.

The control-plane image versions (etcd, CoreDNS, pause) are not pinned here:
they are what the built ``kubeadm`` asks for (``kubeadm config images list``),
so they always match the Kubernetes release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from riverbed.errors import HarnessError
from riverbed.kafka.distribution import KAFKA_VERSION

#: kind, built with ``go install`` from the Go module proxy.
KIND_VERSION = "v0.33.0"
#: Kubernetes for the node image and the host's kubectl. Stay on 1.34: kubelet
#: 1.35 refuses cgroup v1 by default, and CI machines may still run it.
KUBERNETES_VERSION = "v1.34.4"
#: crictl in the node (kind's image loading asks it for image ids). Debian
#: bookworm has no cri-tools package.
CRICTL_VERSION = "v1.34.0"
#: kind's default storage (rancher.io/local-path), built from the Go module proxy: kind's
#: own node images carry it. v0.0.30 is the newest release the proxy serves.
LOCAL_PATH_PROVISIONER_VERSION = "v0.0.30"
#: The Debian release every image is based on (its Python is 3.11, its Java 17).
DEBIAN_SUITE = "bookworm"
DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian"
PYTHON_VERSION = "3.11"
JAVA_PACKAGE = "openjdk-17-jre-headless"
#: Kafka in the offline image: the local platform's version, from the same jars.
KAFKA_IMAGE_VERSION = KAFKA_VERSION


@dataclass(frozen=True)
class ControlPlaneImage:
    """One image kubeadm runs on the control plane."""

    name: str
    """Full image reference kubeadm expects, e.g. ``registry.k8s.io/etcd:3.6.5-0``."""
    component: str
    """The program in it: kube-apiserver, kube-controller-manager, kube-scheduler,
    kube-proxy, etcd, coredns or pause."""
    tag: str
    """The reference's tag, e.g. ``3.6.5-0``."""

    @property
    def source_version(self) -> str:
        """The Go module version the program is built from (``3.6.5-0`` → ``v3.6.5``)."""
        version = self.tag.split("-", 1)[0]
        return version if version.startswith("v") else f"v{version}"


def control_plane_images(kubeadm_list: str) -> list[ControlPlaneImage]:
    """Parse ``kubeadm config images list`` output into the images to build.

    >>> [i.component for i in control_plane_images(
    ...     "registry.k8s.io/kube-apiserver:v1.34.4\\nregistry.k8s.io/coredns/coredns:v1.12.1\\n")]
    ['kube-apiserver', 'coredns']
    """
    images = []
    for line in kubeadm_list.splitlines():
        ref = line.strip()
        if not ref:
            continue
        m = re.fullmatch(r"(?P<repo>[\w.\-/:]+?/(?P<component>[\w.\-]+)):(?P<tag>[\w.\-]+)", ref)
        if not m:
            raise HarnessError(f"Unexpected image reference from kubeadm: {ref!r}.")
        images.append(ControlPlaneImage(ref, m["component"], m["tag"]))
    known = {"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"}
    known |= {"etcd", "coredns", "pause"}
    if unknown := sorted({i.component for i in images} - known):
        raise HarnessError(
            f"kubeadm asks for images riverbed cannot build offline: {', '.join(unknown)}.",
            fix=f"keep KUBERNETES_VERSION at a release riverbed supports ({KUBERNETES_VERSION}).",
        )
    return images
