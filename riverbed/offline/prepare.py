"""Prepare everything a kind cluster needs on a machine with Docker but no registry.

:func:`prepare` builds, once, from package registries alone (Debian's mirror,
the Go module proxy, Maven Central):

- the ``kind`` binary and a ``kubectl`` of the node's Kubernetes version (host tools);
- the kind node image (Kubernetes, its control-plane images inside);
- a Python 3.11 base image (Debian bookworm) for the workload images;
- an Apache Kafka image from the same Maven jars as the local platform.

Two lanes run side by side, because they use different resources: the Go
builds (CPU) and the Debian-based images (network and disk); the node image
joins them. Everything is cached (see :mod:`.cache`); a second run builds
nothing and says so. :func:`prepared_images` is what a platform calls: it
returns the images and tools, re-loading an image into Docker from the cache
when Docker lost it.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from riverbed.errors import HarnessError
from riverbed.offline import docker, gobuild, node, rootfs, versions
from riverbed.offline.cache import DATA, OfflineCache, recipe_key
from riverbed.offline.recipes import DOCKERFILES, REPOSITORY, Recipes, recipes

Say = Callable[[str], None]
#: Programs of the node image besides Kubernetes' own.
NODE_PROGRAMS = ("etcd", "coredns", "pause", "crictl", "local-path-provisioner")
PREPARE_FIX = "run `riverbed kind prepare --offline`"


@dataclass(frozen=True)
class PreparedImages:
    """What ``riverbed kind prepare --offline`` produced: images in Docker, tools on disk."""

    node_image: str
    """kind node image: ``kind create cluster --image <node_image>``."""
    kafka_image: str
    """Apache Kafka, a drop-in for ``apache/kafka:<version>`` in manifests/kafka.yaml."""
    python_image: str
    """Python 3.11 base: ``docker build --build-arg PYTHON_IMAGE=<python_image>``."""
    kind_bin: Path
    """The kind binary."""
    kubectl_bin: Path
    """kubectl of the node's Kubernetes version."""
    kubernetes_version: str
    kind_version: str
    kafka_version: str
    cache_dir: Path

    def to_json(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}


@dataclass
class StepTiming:
    name: str
    seconds: float
    outcome: str
    """``built``, ``cached``, ``loaded`` (from the cache archive) or ``failed``."""


class Preparation:
    """One run of the preparation: the steps, their timings and their output."""

    def __init__(self, cache: OfflineCache, say: Say, mirror: str | None = None) -> None:
        import os

        self.cache = cache
        self._say = say
        self._lock = threading.Lock()
        self.recipes: Recipes = recipes()
        self.mirror = (
            mirror or os.environ.get("RIVERBED_DEBIAN_MIRROR") or versions.DEFAULT_DEBIAN_MIRROR
        )
        self.timings: list[StepTiming] = []
        self.k8s = versions.KUBERNETES_VERSION

    # ---- output ---------------------------------------------------------------------------
    def say(self, text: str) -> None:
        with self._lock:
            self._say(text)

    @contextmanager
    def step(self, name: str) -> Iterator[dict[str, str]]:
        """Time one step; the body sets ``outcome`` (default ``built``)."""
        state = {"outcome": "built"}
        t0 = time.monotonic()
        try:
            yield state
        except BaseException:
            dt = time.monotonic() - t0
            self.timings.append(StepTiming(name, dt, "failed"))
            # Said now: the other lane may run on for minutes before the error is raised.
            self.say(f"{name}: failed after {dt:.1f}s (log: {self.cache.root / 'logs'})")
            raise
        dt = time.monotonic() - t0
        self.timings.append(StepTiming(name, dt, state["outcome"]))
        if state["outcome"] == "cached":
            self.say(f"{name}: cached, nothing to do")
        else:
            self.say(f"{name}: {state['outcome']} in {dt:.1f}s")

    # ---- paths ----------------------------------------------------------------------------
    @property
    def kind_bin(self) -> Path:
        return self.cache.tool("kind", versions.KIND_VERSION)

    @property
    def kubernetes_bin(self) -> Path:
        return self.cache.kubernetes_bin(self.k8s)

    @property
    def kubectl_bin(self) -> Path:
        return self.kubernetes_bin / "kubectl"

    def program(self, name: str) -> Path:
        return self.cache.control_plane_bin(self.k8s) / name

    # ---- checks before anything expensive --------------------------------------------------
    def preflight(self) -> None:
        """Fail fast, naming the fix, when a tool the missing steps need is absent."""
        docker.engine_version()
        docker.zstd()
        if (
            not self._node_available()
            or not self.kubectl_bin.exists()
            or not self.kind_bin.exists()
        ):
            gobuild.go()
        needs_base = (
            not all(self._image_available(i) for i in (self.recipes.python, self.recipes.kafka))
            or not self._node_available()
        )
        if (
            needs_base
            and not self.cache.rootfs_archive(
                versions.DEBIAN_SUITE, self.recipes.rootfs_key
            ).exists()
            and not docker.image_id(self.recipes.base)
        ):
            rootfs.debootstrap()
        if not self._image_available(self.recipes.kafka):
            from riverbed.kafka.distribution import find_java

            find_java()  # Maven resolves the jars; it needs a JDK too

    def _image_available(self, image: str) -> bool:
        return docker.image_id(image) is not None or self.cache.image_archive(image).exists()

    def _node_available(self) -> bool:
        return self._image_available(self.recipes.node)

    # ---- images in Docker, archives in the cache -------------------------------------------
    def ensure_image(
        self, name: str, image: str, build: Callable[[], None], archive: bool = True
    ) -> None:
        """Make ``image`` present in Docker: as it is, from its cache archive, or by building it."""
        log = self.cache.log(name)
        with self.step(name) as state:
            path = self.cache.image_archive(image)
            if docker.image_id(image):
                state["outcome"] = "cached"
                if archive and not path.exists():
                    docker.save(image, path, log=log)
                return
            if archive and path.exists():
                docker.load(path, log=log)
                if docker.image_id(image):
                    state["outcome"] = "loaded from the cache archive"
                    return
            build()
            if not docker.image_id(image):
                raise HarnessError(f"{image} is not in Docker after its build (log: {log}).")
            if archive:
                docker.save(image, path, log=log)

    # ---- Go lane -----------------------------------------------------------------------------
    def build_kind(self) -> None:
        with self.step(f"kind {versions.KIND_VERSION}") as state:
            if self.kind_bin.exists():
                state["outcome"] = "cached"
                return
            gobuild.go_install(
                f"sigs.k8s.io/kind@{versions.KIND_VERSION}",
                self.kind_bin,
                log=self.cache.log("kind"),
            )

    def build_kubernetes(self, needed_for_node: bool) -> None:
        with self.step(f"Kubernetes {self.k8s} binaries") as state:
            wanted = gobuild.KUBERNETES_COMMANDS if needed_for_node else ("kubectl",)
            if all((self.kubernetes_bin / c).exists() for c in wanted):
                state["outcome"] = "cached"
                return
            gobuild.build_kubernetes(
                self.k8s,
                self.kubernetes_bin,
                self.cache.build_dir("kubernetes-module"),
                log=self.cache.log("kubernetes"),
            )

    def build_node_programs(self) -> None:
        """etcd, CoreDNS and pause at the versions kubeadm asks for, crictl, and
        local-path-provisioner (kind's default storage)."""
        images, _ = node.required_images(self._node_inputs())
        wanted = {i.component: i for i in images}
        log = self.cache.log("node-programs")
        pinned = {
            "crictl": versions.CRICTL_VERSION,
            "local-path-provisioner": versions.LOCAL_PATH_PROVISIONER_VERSION,
        }
        for name in NODE_PROGRAMS:
            target = self.program(name)
            version = wanted[name].tag if name in wanted else pinned[name]
            label = f"{name} {wanted[name].source_version if name in wanted else version}"
            source = DATA / "go" / name
            if source.is_dir():  # built from a wrapper main: its source is part of the version
                version = f"{version} {recipe_key(source)}"
            with self.step(label) as state:
                stamp = target.with_name(target.name + ".version")
                if target.exists() and stamp.exists() and stamp.read_text().strip() == version:
                    state["outcome"] = "cached"
                    continue
                work = self.cache.build_dir(f"{name}-module")
                if name == "etcd":
                    gobuild.build_etcd(wanted[name].source_version, target, work, log=log)
                elif name == "pause":
                    gobuild.build_pause(target, work, log=log)
                elif name == "coredns":
                    gobuild.build_coredns(wanted[name].source_version, target, work, log=log)
                elif name == "local-path-provisioner":
                    built = gobuild.go_install(
                        f"github.com/rancher/local-path-provisioner@{version}",
                        self.cache.tool(name, version),
                        log=log,
                    )
                    shutil.copy2(built, target)
                else:
                    built = gobuild.go_install(
                        f"sigs.k8s.io/cri-tools/cmd/crictl@{versions.CRICTL_VERSION}",
                        self.cache.tool("crictl", versions.CRICTL_VERSION),
                        log=log,
                        ldflags="-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version="
                        + versions.CRICTL_VERSION,
                    )
                    shutil.copy2(built, target)
                stamp.write_text(version + "\n")

    def go_lane(self) -> None:
        node_missing = not self._node_available()
        self.build_kind()
        self.build_kubernetes(needed_for_node=node_missing)
        if node_missing:
            self.build_node_programs()

    # ---- Debian lane -------------------------------------------------------------------------
    def base_image(self) -> None:
        archive = self.cache.rootfs_archive(versions.DEBIAN_SUITE, self.recipes.rootfs_key)

        def build() -> None:
            log = self.cache.log("debian-base")
            if not archive.exists():
                self.say(f"debootstrap {versions.DEBIAN_SUITE} from {self.mirror}")
                rootfs.build_rootfs(
                    versions.DEBIAN_SUITE,
                    self.mirror,
                    archive,
                    self.cache.build_dir("rootfs"),
                    log=log,
                )
            rootfs.import_rootfs(archive, self.recipes.base, log=log)

        self.ensure_image(
            f"Debian {versions.DEBIAN_SUITE} base", self.recipes.base, build, archive=False
        )

    def python_image(self) -> None:
        def build() -> None:
            ctx = self._context("python", {"python.Dockerfile": "Dockerfile"})
            docker.build(
                ctx,
                self.recipes.python,
                log=self.cache.log("python"),
                build_args={"BASE_IMAGE": self.recipes.base},
                what="building the Python image",
            )

        self.ensure_image(f"Python {versions.PYTHON_VERSION} image", self.recipes.python, build)

    def kafka_image(self) -> None:
        def build() -> None:
            from riverbed.kafka.distribution import resolve

            dist = resolve(version=versions.KAFKA_IMAGE_VERSION)
            ctx = self._context("kafka", {"kafka.Dockerfile": "Dockerfile"})
            shutil.copytree(DATA / "kafka" / "bin", ctx / "bin")
            shutil.copytree(DATA / "kafka" / "config", ctx / "config")
            (ctx / "libs").mkdir()
            for jar in sorted(dist.libs.glob("*.jar")):
                _link_or_copy(jar, ctx / "libs" / jar.name)
            docker.build(
                ctx,
                self.recipes.kafka,
                log=self.cache.log("kafka"),
                build_args={"BASE_IMAGE": self.recipes.base},
                what="building the Kafka image",
            )

        self.ensure_image(f"Kafka {versions.KAFKA_IMAGE_VERSION} image", self.recipes.kafka, build)

    def node_base_image(self) -> None:
        def build() -> None:
            ctx = self._context("node-base", {"node-base.Dockerfile": "Dockerfile"})
            shutil.copytree(kind_source() / "images" / "base" / "files", ctx / "kind")
            shutil.copytree(DATA / "node", ctx / "riverbed")
            docker.build(
                ctx,
                self.recipes.node_base,
                log=self.cache.log("node-base"),
                build_args={"BASE_IMAGE": self.recipes.base},
                what="building the node's operating system image",
            )

        self.ensure_image("kind node OS image", self.recipes.node_base, build, archive=False)

    def debian_lane(self, node_missing: bool) -> None:
        if (
            not (
                self._image_available(self.recipes.python)
                and self._image_available(self.recipes.kafka)
            )
            or node_missing
        ):
            self.base_image()
        self.python_image()
        self.kafka_image()
        if node_missing:
            self.node_base_image()

    # ---- the node image ------------------------------------------------------------------------
    def _node_inputs(self) -> node.NodeInputs:
        return node.NodeInputs(
            node_base=self.recipes.node_base,
            debian_base=self.recipes.base,
            kubernetes_version=self.k8s,
            kubernetes_bin=self.kubernetes_bin,
            programs={n: self.program(n) for n in NODE_PROGRAMS},
            kind_containerd_config=kind_source() / "images/base/files/etc/containerd/config.toml",
            kind_const_storage=kind_source() / "pkg/build/nodeimage/const_storage.go",
        )

    def node_image(self) -> None:
        def build() -> None:
            node.assemble(
                self._node_inputs(),
                self.recipes.node,
                self.cache.build_dir("node"),
                log=self.cache.log("node"),
                say=self.say,
            )

        self.ensure_image(f"kind node image (Kubernetes {self.k8s})", self.recipes.node, build)

    # ---- everything ----------------------------------------------------------------------------
    def run(self) -> PreparedImages:
        self.cache.root.mkdir(parents=True, exist_ok=True)
        self.preflight()
        node_missing = not self._node_available()
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="prepare") as pool:
            lanes = [pool.submit(self.go_lane), pool.submit(self.debian_lane, node_missing)]
            errors = [f.exception() for f in lanes]
        for exc in errors:
            if exc is not None:
                raise exc
        self.node_image()
        prepared = PreparedImages(
            node_image=self.recipes.node,
            kafka_image=self.recipes.kafka,
            python_image=self.recipes.python,
            kind_bin=self.kind_bin,
            kubectl_bin=self.kubectl_bin,
            kubernetes_version=self.k8s,
            kind_version=versions.KIND_VERSION,
            kafka_version=versions.KAFKA_IMAGE_VERSION,
            cache_dir=self.cache.root,
        )
        self.cache.manifest.write_text(json.dumps(prepared.to_json(), indent=2) + "\n")
        shutil.rmtree(self.cache.root / "build" / "context", ignore_errors=True)
        self.prune()
        return prepared

    def prune(self) -> None:
        """Drop what older recipes left: their archives in the cache and their image tags
        in Docker (an image a container still uses stays)."""
        current = {
            self.recipes.base,
            self.recipes.python,
            self.recipes.kafka,
            self.recipes.node_base,
            self.recipes.node,
        }
        keep = {self.cache.image_archive(i).name for i in current}
        for archive in sorted((self.cache.root / "images").glob("*.tar.zst")):
            if archive.name not in keep:
                self.say(f"removing {archive.name} (an older recipe's image)")
                archive.unlink()
                archive.with_name(archive.name.removesuffix(".tar.zst") + ".json").unlink(
                    missing_ok=True
                )
        for image in docker.images(f"{REPOSITORY}/*"):
            stale = image not in current and not image.endswith(("-stage1", "-stage2"))
            if stale and docker.remove_image(image):
                self.say(f"removed {image} from Docker (an older recipe's image)")

    def _context(self, name: str, files: dict[str, str]) -> Path:
        ctx = self.cache.root / "build" / "context" / name
        shutil.rmtree(ctx, ignore_errors=True)
        ctx.mkdir(parents=True)
        for source, target in files.items():
            shutil.copy2(DOCKERFILES / source, ctx / target)
        return ctx


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        dst.hardlink_to(src)
    except OSError:
        shutil.copy2(src, dst)


def kind_source() -> Path:
    """kind's source in the Go module cache (its node files: entrypoint, units, containerd config)."""
    from riverbed.offline import shell

    modcache = shell.output(
        [gobuild.go(), "env", "GOMODCACHE"],
        what="asking Go for its module cache",
        fix=gobuild.GO_FIX,
    ).strip()
    path = Path(modcache) / "sigs.k8s.io" / f"kind@{versions.KIND_VERSION}"
    if not (path / "images" / "base" / "files").is_dir():
        shell.output(
            [gobuild.go(), "mod", "download", f"sigs.k8s.io/kind@{versions.KIND_VERSION}"],
            what=f"downloading kind {versions.KIND_VERSION}'s source",
            fix=gobuild.GO_FIX,
            timeout=600,
        )
    return path


def prepare(
    cache_dir: Path | str | None = None, say: Say = print
) -> tuple[PreparedImages, list[StepTiming]]:
    """Build (or find cached) everything in :class:`PreparedImages`; return it with each step's timing."""
    run = Preparation(OfflineCache.at(cache_dir), say)
    return run.run(), run.timings


def prepared_images(cache_dir: Path | str | None = None, say: Say | None = None) -> PreparedImages:
    """The prepared images and tools, ready to use.

    Raises HarnessError (fix: ``riverbed kind prepare --offline``) when nothing
    is prepared, or what is prepared was built from other recipes than this
    riverbed's. An image Docker lost is loaded back from the cache's archive.
    """
    cache = OfflineCache.at(cache_dir)
    data = cache.read_manifest()
    if data is None:
        raise HarnessError(f"No offline kind images are prepared in {cache.root}.", fix=PREPARE_FIX)
    current = recipes()
    prepared = PreparedImages(
        node_image=data["node_image"],
        kafka_image=data["kafka_image"],
        python_image=data["python_image"],
        kind_bin=Path(data["kind_bin"]),
        kubectl_bin=Path(data["kubectl_bin"]),
        kubernetes_version=data["kubernetes_version"],
        kind_version=data["kind_version"],
        kafka_version=data["kafka_version"],
        cache_dir=cache.root,
    )
    if (prepared.node_image, prepared.kafka_image, prepared.python_image) != (
        current.node,
        current.kafka,
        current.python,
    ):
        raise HarnessError(
            f"The offline images in {cache.root} were prepared from other recipes than this "
            "riverbed's (an older or newer version).",
            fix=PREPARE_FIX,
        )
    for tool in (prepared.kind_bin, prepared.kubectl_bin):
        if not tool.exists():
            raise HarnessError(f"{tool} is missing from the offline cache.", fix=PREPARE_FIX)
    for image in (prepared.node_image, prepared.kafka_image, prepared.python_image):
        if docker.image_id(image):
            continue
        archive = cache.image_archive(image)
        if not archive.exists():
            raise HarnessError(
                f"Docker has no {image} and the cache has no archive of it.", fix=PREPARE_FIX
            )
        if say:
            say(f"loading {image} into Docker from {archive}")
        docker.load(archive, log=cache.log("reload"))
        if not docker.image_id(image):
            raise HarnessError(f"{archive} did not hold {image}.", fix=PREPARE_FIX)
    return prepared
