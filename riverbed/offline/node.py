"""Assemble the kind node image as ``kind build node-image`` does, without pulling anything.

kind's own command always pulls its base image, so its steps are redone here:

1. the node's operating system (``node-base.Dockerfile``: Debian packages plus
   kind's files from kind's source) gets Kubernetes' programs and
   ``/kind/version`` (``node.Dockerfile``);
2. every image kubeadm will run (``kubeadm config images list``) is built
   locally: each static program alone in an image tagged with the name kubeadm
   expects, kube-proxy on a Debian base with iptables, and pause also under the
   sandbox image name of the node's containerd configuration; so are kind's
   default storage images (local-path-provisioner and its helper, under the
   names in kind's storage manifest, which goes to
   ``/kind/manifests/default-storage.yaml``);
3. a container of the node image runs containerd, the images are imported
   into its ``k8s.io`` namespace (pinned, as kind does), containerd stops, and
   the container is committed; ``node-finish.Dockerfile`` restores the entry
   point and stop signal.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from riverbed.errors import HarnessError
from riverbed.offline import docker, shell
from riverbed.offline.recipes import DOCKERFILES
from riverbed.offline.versions import ControlPlaneImage, control_plane_images

#: Where each static program sits in its image, and the entry point its users
#: rely on (kubeadm's manifests give a command for the control plane; CoreDNS's
#: Deployment and the pod sandbox use the image's entry point).
STATIC_LAYOUT = {
    "kube-apiserver": ("/usr/local/bin/kube-apiserver", None),
    "kube-controller-manager": ("/usr/local/bin/kube-controller-manager", None),
    "kube-scheduler": ("/usr/local/bin/kube-scheduler", None),
    "etcd": ("/usr/local/bin/etcd", None),
    "coredns": ("/coredns", "/coredns"),
    "pause": ("/pause", "/pause"),
    "local-path-provisioner": ("/usr/local/bin/local-path-provisioner", None),
}


def static_dockerfile(component: str) -> str:
    """A Dockerfile for one static program in an otherwise empty image.

    >>> print(static_dockerfile("pause"))  # doctest: +NORMALIZE_WHITESPACE
    FROM scratch
    COPY pause /pause
    ENV PATH=/usr/local/bin:/usr/bin:/bin
    ENTRYPOINT ["/pause"]
    """
    path, entrypoint = STATIC_LAYOUT[component]
    lines = ["FROM scratch", f"COPY {component} {path}", "ENV PATH=/usr/local/bin:/usr/bin:/bin"]
    if entrypoint:
        lines.append(f'ENTRYPOINT ["{entrypoint}"]')
    return "\n".join(lines) + "\n"


def sandbox_image(containerd_config: str) -> str:
    """The pod sandbox image a containerd configuration names.

    >>> sandbox_image('[plugins."io.containerd.grpc.v1.cri"]\\n  sandbox_image = "registry.k8s.io/pause:3.10"')
    'registry.k8s.io/pause:3.10'
    """
    m = re.search(r'^\s*sandbox_image\s*=\s*"([^"]+)"', containerd_config, re.M)
    if not m:
        raise HarnessError("kind's containerd configuration names no sandbox_image.")
    return m[1]


@dataclass(frozen=True)
class KindStorage:
    """kind's default storage: rancher.io/local-path, as kind's node images ship it."""

    provisioner_image: str
    """The provisioner's image reference in kind's manifest."""
    helper_image: str
    """The helper pod's image (sh, mkdir, rm) in kind's manifest."""
    manifest: str
    """/kind/manifests/default-storage.yaml: kind applies it at cluster creation."""


def kind_storage(const_storage_go: str) -> KindStorage:
    """kind's storage manifest and image names, read from kind's source
    (pkg/build/nodeimage/const_storage.go), so the node image matches the kind that creates it.
    """
    images = dict(
        re.findall(
            r'^const (storageProvisionerImage|storageHelperImage) = "([^"]+)"',
            const_storage_go,
            re.M,
        )
    )
    # The manifest is Go: raw strings joined by `+ <image constant> +`.
    head = re.search(r"^const defaultStorageManifest = `", const_storage_go, re.M)
    if len(images) != 2 or not head:
        raise HarnessError(
            "kind's storage manifest was not found in its source (const_storage.go)."
        )
    rest = const_storage_go[head.end() :]
    parts = []
    while True:
        raw, sep, rest = rest.partition("`")
        if not sep:
            raise HarnessError("kind's storage manifest in const_storage.go is not closed.")
        parts.append(raw)
        joined = re.match(r"\s*\+\s*(\w+)\s*\+\s*`", rest)
        if not joined:
            break
        if joined[1] not in images:
            raise HarnessError(
                f"kind's storage manifest uses {joined[1]}, which riverbed does not know."
            )
        parts.append(images[joined[1]])
        rest = rest[joined.end() :]
    manifest = "".join(parts)
    return KindStorage(images["storageProvisionerImage"], images["storageHelperImage"], manifest)


@dataclass(frozen=True)
class NodeInputs:
    """Everything the node image is assembled from."""

    node_base: str
    """The node operating system image (node-base.Dockerfile)."""
    debian_base: str
    """The Debian minbase image (kube-proxy's base)."""
    kubernetes_version: str
    kubernetes_bin: Path
    """kubelet, kubeadm, kubectl, kube-apiserver, … (gobuild.build_kubernetes)."""
    programs: dict[str, Path]
    """etcd, coredns, pause and crictl binaries."""
    kind_containerd_config: Path
    """kind's /etc/containerd/config.toml (for the sandbox image name)."""
    kind_const_storage: Path
    """kind's pkg/build/nodeimage/const_storage.go (the storage manifest)."""


def required_images(inputs: NodeInputs) -> tuple[list[ControlPlaneImage], str]:
    """What kubeadm will run, and the containerd sandbox image name."""
    listing = shell.output(
        [
            inputs.kubernetes_bin / "kubeadm",
            "config",
            "images",
            "list",
            "--kubernetes-version",
            inputs.kubernetes_version,
        ],
        what="asking kubeadm which images it runs",
        fix="remove the Kubernetes binaries from the cache and prepare again",
    )
    return control_plane_images(listing), sandbox_image(inputs.kind_containerd_config.read_text())


def build_control_plane_images(
    inputs: NodeInputs, work: Path, *, log: Path, say: Callable[[str], None]
) -> list[str]:
    """Build every image kubeadm expects into Docker; return their references."""
    images, sandbox = required_images(inputs)
    refs: list[str] = []
    for image in images:
        ctx = work / image.component
        shutil.rmtree(ctx, ignore_errors=True)
        ctx.mkdir(parents=True)
        tags = [image.name]
        if image.component == "pause" and sandbox != image.name:
            tags.append(sandbox)
        if image.component == "kube-proxy":
            shutil.copy2(inputs.kubernetes_bin / "kube-proxy", ctx / "kube-proxy")
            dockerfile = ctx / "Dockerfile"
            shutil.copy2(DOCKERFILES / "kube-proxy.Dockerfile", dockerfile)
            args = {"BASE_IMAGE": inputs.debian_base}
        else:
            source = (
                inputs.kubernetes_bin / image.component
                if image.component.startswith("kube-")
                else inputs.programs[image.component]
            )
            shutil.copy2(source, ctx / image.component)
            (ctx / "Dockerfile").write_text(static_dockerfile(image.component))
            args = {}
        say(f"image {tags[0]}")
        docker.build(ctx, tags[0], log=log, build_args=args, what=f"building {tags[0]}")
        for extra in tags[1:]:
            shell.run(
                [docker.cli(), "tag", tags[0], extra],
                log=log,
                what=f"tagging {extra}",
                fix=docker.ENGINE_FIX,
            )
        refs += tags
    storage = kind_storage(inputs.kind_const_storage.read_text())
    ctx = work / "local-path-provisioner"
    shutil.rmtree(ctx, ignore_errors=True)
    ctx.mkdir(parents=True)
    shutil.copy2(inputs.programs["local-path-provisioner"], ctx / "local-path-provisioner")
    (ctx / "Dockerfile").write_text(static_dockerfile("local-path-provisioner"))
    say(f"image {storage.provisioner_image}")
    docker.build(ctx, storage.provisioner_image, log=log, what="building the storage provisioner")
    helper = work / "local-path-helper"
    shutil.rmtree(helper, ignore_errors=True)
    helper.mkdir(parents=True)
    shutil.copy2(DOCKERFILES / "local-path-helper.Dockerfile", helper / "Dockerfile")
    say(f"image {storage.helper_image}")
    docker.build(
        helper,
        storage.helper_image,
        log=log,
        build_args={"BASE_IMAGE": inputs.debian_base},
        what="building the storage helper image",
    )
    return [*refs, storage.provisioner_image, storage.helper_image]


def assemble(
    inputs: NodeInputs,
    image: str,
    work: Path,
    *,
    log: Path,
    say: Callable[[str], None],
) -> None:
    """Build the node image ``image`` (see the module docstring)."""
    shutil.rmtree(work, ignore_errors=True)
    ctx = work / "context"
    (ctx / "bin").mkdir(parents=True)
    (ctx / "local-bin").mkdir()
    for name in ("kubelet", "kubeadm", "kubectl"):
        shutil.copy2(inputs.kubernetes_bin / name, ctx / "bin" / name)
    shutil.copy2(inputs.programs["crictl"], ctx / "local-bin" / "crictl")
    (ctx / "manifests").mkdir()
    (ctx / "manifests" / "default-storage.yaml").write_text(
        kind_storage(inputs.kind_const_storage.read_text()).manifest
    )
    shutil.copy2(DOCKERFILES / "node.Dockerfile", ctx / "Dockerfile")
    stage1 = f"{image}-stage1"
    stage2 = f"{image}-stage2"
    say("node: Kubernetes programs")
    docker.build(
        ctx,
        stage1,
        log=log,
        build_args={
            "BASE_IMAGE": inputs.node_base,
            "KUBERNETES_VERSION": inputs.kubernetes_version,
        },
        what="adding Kubernetes to the node image",
    )
    refs = build_control_plane_images(inputs, work / "control-plane", log=log, say=say)
    archive = work / "control-plane.tar"
    shell.run(
        [docker.cli(), "save", "-o", archive, *refs],
        log=log,
        what="saving the control-plane images",
        fix="check free disk space in the cache directory",
    )
    say("node: importing the control-plane images into its containerd")
    cid = shell.output(
        [docker.cli(), "run", "-d", "--privileged", "--entrypoint", "containerd", stage1],
        what="starting containerd in the node image",
        fix=docker.ENGINE_FIX,
    ).strip()
    try:
        _wait_for_containerd(cid)
        with archive.open("rb") as tar, log.open("a") as f:
            import subprocess

            f.write(f"$ docker exec -i {cid[:12]} ctr -n k8s.io images import … < {archive}\n")
            f.flush()
            proc = subprocess.run(
                [
                    docker.cli(),
                    "exec",
                    "-i",
                    cid,
                    "ctr",
                    "--namespace=k8s.io",
                    "images",
                    "import",
                    "--label=io.cri-containerd.pinned=pinned",
                    "--all-platforms",
                    "--no-unpack",
                    "--digests",
                    "-",
                ],
                stdin=tar,
                stdout=f,
                stderr=subprocess.STDOUT,
                timeout=1200,
            )
        if proc.returncode != 0:
            raise HarnessError(
                f"Importing the control-plane images into the node failed; last lines of {log}:\n"
                + shell.tail(log),
                fix="see the log",
            )
        listed = set(
            shell.output(
                [docker.cli(), "exec", cid, "ctr", "--namespace=k8s.io", "images", "ls", "-q"],
                what="listing the node's images",
                fix=docker.ENGINE_FIX,
            ).split()
        )
        missing = [r for r in refs if r not in listed and f"docker.io/{r}" not in listed]
        if missing:
            raise HarnessError(
                f"The node's containerd lacks {', '.join(missing)} after the import."
            )
        shell.run(
            [docker.cli(), "stop", "-t", "30", cid], log=log, what="stopping containerd", fix=""
        )
        shell.run(
            [docker.cli(), "commit", cid, stage2],
            log=log,
            what="committing the node image",
            fix=docker.ENGINE_FIX,
        )
    finally:
        shell.run(
            [docker.cli(), "rm", "-f", "-v", cid],
            log=log,
            what="removing the node build container",
            fix=docker.ENGINE_FIX,
        )
    finish = work / "finish"
    finish.mkdir()
    shutil.copy2(DOCKERFILES / "node-finish.Dockerfile", finish / "Dockerfile")
    docker.build(
        finish, image, log=log, build_args={"BASE_IMAGE": stage2}, what="finishing the node image"
    )
    # The control-plane images live on inside the node; Docker needs neither
    # them nor the stage tags (their layers stay as the node image's parents).
    shell.run(
        [docker.cli(), "rmi", stage1, stage2, *refs],
        log=log,
        what="removing intermediate tags",
        fix=docker.ENGINE_FIX,
    )
    # The build context held copies of every binary: nothing in it is needed again.
    shutil.rmtree(work, ignore_errors=True)


def _wait_for_containerd(cid: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            shell.output(
                [docker.cli(), "exec", cid, "ctr", "version"],
                what="waiting for containerd in the node image",
                fix=docker.ENGINE_FIX,
            )
            return
        except HarnessError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
