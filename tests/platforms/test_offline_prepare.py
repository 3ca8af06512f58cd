"""The offline image preparation's pure parts: cache layout, recipe keys, the Go wrapper
module, kubeadm's image list, the node image's static images, and the errors a user sees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from riverbed.errors import HarnessError
from riverbed.offline import cache, gobuild, node, recipes, versions
from riverbed.offline.prepare import PREPARE_FIX, prepared_images

KUBEADM_LIST = """\
registry.k8s.io/kube-apiserver:v1.34.4
registry.k8s.io/kube-controller-manager:v1.34.4
registry.k8s.io/kube-scheduler:v1.34.4
registry.k8s.io/kube-proxy:v1.34.4
registry.k8s.io/coredns/coredns:v1.12.1
registry.k8s.io/pause:3.10.1
registry.k8s.io/etcd:3.6.5-0
"""


def test_cache_paths_are_keyed_by_version(tmp_path: Path) -> None:
    c = cache.OfflineCache.at(tmp_path)
    assert c.tool("kind", "v0.33.0") == tmp_path / "tools" / "kind-v0.33.0" / "kind"
    assert c.tool("kind", "v0.33.0") != c.tool("kind", "v0.34.0")
    assert c.kubernetes_bin("v1.34.4") == tmp_path / "kubernetes-v1.34.4" / "bin"
    assert c.control_plane_bin("v1.34.4") == tmp_path / "control-plane-v1.34.4" / "bin"
    image = "riverbed-offline/kind-node:v1.34.4-0123456789"
    assert c.image_archive(image).name == "riverbed-offline_kind-node_v1.34.4-0123456789.tar.zst"
    assert c.image_archive(image).parent == tmp_path / "images"
    assert not any(tmp_path.iterdir()), "looking up paths creates nothing"


def test_default_cache_dir_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("RIVERBED_KIND_CACHE_DIR", str(tmp_path / "k"))
    assert cache.default_cache_dir() == tmp_path / "k"
    monkeypatch.delenv("RIVERBED_KIND_CACHE_DIR")
    monkeypatch.setenv("RIVERBED_CACHE_DIR", str(tmp_path / "c"))
    assert cache.default_cache_dir() == tmp_path / "c" / "kind-offline"


def test_recipe_key_follows_file_contents_and_modes(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    (d / "a").write_text("one")
    first = cache.recipe_key("x", d)
    assert cache.recipe_key("x", d) == first
    (d / "a").write_text("two")
    second = cache.recipe_key("x", d)
    assert second != first
    (d / "a").chmod(0o755)
    assert cache.recipe_key("x", d) != second, "an executable bit is part of the recipe"
    assert cache.recipe_key("y", d) != cache.recipe_key("x", d)
    assert len(first) == 10


def test_image_tags_carry_versions_and_keys() -> None:
    r = recipes.recipes()
    assert r.node.startswith(f"riverbed-offline/kind-node:{versions.KUBERNETES_VERSION}-")
    assert r.kafka.startswith(f"riverbed-offline/kafka:{versions.KAFKA_IMAGE_VERSION}-")
    assert r.python.startswith("riverbed-offline/python:3.11-bookworm-")
    assert recipes.recipes() == r, "stable across calls"
    assert len({r.base, r.python, r.kafka, r.node_base, r.node}) == 5


def test_kubernetes_wrapper_module_replaces_every_staging_module() -> None:
    kubernetes_mod = """module k8s.io/kubernetes

go 1.24.0

require (
\tk8s.io/api v0.0.0
\tk8s.io/client-go v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tk8s.io/kube-openapi => k8s.io/kube-openapi v0.0.0-2025
)
"""
    text = gobuild.kubernetes_go_mod("v1.34.4", kubernetes_mod)
    assert "require k8s.io/kubernetes v1.34.4" in text
    assert "\tk8s.io/api => k8s.io/api v0.34.4" in text
    assert "\tk8s.io/client-go => k8s.io/client-go v0.34.4" in text
    assert "kube-openapi" not in text, "only staging modules are replaced"
    with pytest.raises(HarnessError, match="no staging modules"):
        gobuild.kubernetes_go_mod("v1.34.4", "module k8s.io/kubernetes\n")


def test_version_stamp_for_kubeadm() -> None:
    flags = gobuild.kubernetes_ldflags("v1.34.4")
    assert "-X k8s.io/component-base/version.gitVersion=v1.34.4" in flags
    assert "-X k8s.io/component-base/version.gitMinor=34" in flags
    assert "-X k8s.io/client-go/pkg/version.gitVersion=v1.34.4" in flags
    with pytest.raises(HarnessError):
        gobuild.kubernetes_ldflags("1.34")


def test_kubeadm_image_list_names_what_to_build() -> None:
    images = {i.component: i for i in versions.control_plane_images(KUBEADM_LIST)}
    assert set(images) == {
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kube-proxy",
        "coredns",
        "pause",
        "etcd",
    }
    assert images["etcd"].source_version == "v3.6.5"
    assert images["coredns"].source_version == "v1.12.1"
    assert images["coredns"].name == "registry.k8s.io/coredns/coredns:v1.12.1"
    with pytest.raises(HarnessError, match="cannot build offline: kindnetd"):
        versions.control_plane_images("docker.io/kindest/kindnetd:v1\n")


def test_static_images_keep_the_entry_points_their_users_rely_on() -> None:
    assert 'ENTRYPOINT ["/coredns"]' in node.static_dockerfile("coredns")
    assert 'ENTRYPOINT ["/pause"]' in node.static_dockerfile("pause")
    apiserver = node.static_dockerfile("kube-apiserver")
    assert apiserver.startswith("FROM scratch\n"), "nothing to pull"
    assert "COPY kube-apiserver /usr/local/bin/kube-apiserver" in apiserver
    assert "ENTRYPOINT" not in apiserver  # kubeadm's manifests give the command


def test_sandbox_image_comes_from_kinds_containerd_config() -> None:
    config = (
        '[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "registry.k8s.io/pause:3.10"\n'
    )
    assert node.sandbox_image(config) == "registry.k8s.io/pause:3.10"
    with pytest.raises(HarnessError):
        node.sandbox_image("version = 2\n")


def test_nothing_prepared_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as info:
        prepared_images(tmp_path)
    assert info.value.fix == PREPARE_FIX
    assert str(tmp_path) in info.value.message


def test_images_from_other_recipes_are_not_used(tmp_path: Path) -> None:
    r = recipes.recipes()
    (tmp_path / "prepared.json").write_text(
        json.dumps(
            {
                "node_image": "riverbed-offline/kind-node:v1.33.0-old",
                "kafka_image": r.kafka,
                "python_image": r.python,
                "kind_bin": str(tmp_path / "kind"),
                "kubectl_bin": str(tmp_path / "kubectl"),
                "kubernetes_version": "v1.33.0",
                "kind_version": "v0.33.0",
                "kafka_version": "4.4.0",
                "cache_dir": str(tmp_path),
            }
        )
    )
    with pytest.raises(HarnessError, match="other recipes") as info:
        prepared_images(tmp_path)
    assert info.value.fix == PREPARE_FIX


def _riverbed(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "riverbed.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_cli_prepare_needs_offline_and_exits_4() -> None:
    proc = _riverbed("kind", "prepare")
    assert proc.returncode == 4
    assert "--offline" in proc.stderr


def test_cli_images_without_preparation_exits_3(tmp_path: Path) -> None:
    proc = _riverbed("kind", "images", "--cache-dir", str(tmp_path))
    assert proc.returncode == 3
    assert "riverbed kind prepare --offline" in proc.stderr


def test_package_data_is_declared() -> None:
    """Every data file ships with the package (pyproject's package-data globs reach it)."""
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["riverbed"]
    data = cache.DATA
    files = [p.relative_to(root / "riverbed").as_posix() for p in data.rglob("*") if p.is_file()]
    assert files
    for f in files:
        assert any(fnmatch.fnmatch(f, g) and f.count("/") == g.count("/") for g in globs), f


CONST_STORAGE = """package nodeimage

const storageProvisionerImage = "docker.io/kindest/local-path-provisioner:v1"
const storageHelperImage = "docker.io/kindest/local-path-helper:v2"

var defaultStorageImages = []string{storageProvisionerImage, storageHelperImage}

const defaultStorageManifest = `
kind: Deployment
image: ` + storageProvisionerImage + `
args:
  - ` + storageHelperImage + `
---
helper: ` + storageHelperImage + `
`
"""


def test_kinds_storage_manifest_is_read_from_its_source() -> None:
    storage = node.kind_storage(CONST_STORAGE)
    assert storage.provisioner_image == "docker.io/kindest/local-path-provisioner:v1"
    assert storage.helper_image == "docker.io/kindest/local-path-helper:v2"
    assert storage.manifest == (
        "\nkind: Deployment\nimage: docker.io/kindest/local-path-provisioner:v1\n"
        "args:\n  - docker.io/kindest/local-path-helper:v2\n---\n"
        "helper: docker.io/kindest/local-path-helper:v2\n"
    )
    with pytest.raises(HarnessError, match="not found"):
        node.kind_storage("package nodeimage\n")
    with pytest.raises(HarnessError, match="does not know"):
        node.kind_storage(CONST_STORAGE.replace("+ storageHelperImage +", "+ otherImage +", 1))


def test_kinds_real_storage_manifest_when_its_source_is_at_hand() -> None:
    """The manifest of the kind version riverbed builds, if Go has its source."""
    import os

    modcache = Path(os.environ.get("GOMODCACHE") or Path.home() / "go" / "pkg" / "mod")
    source = (
        modcache
        / "sigs.k8s.io"
        / f"kind@{versions.KIND_VERSION}"
        / "pkg/build/nodeimage/const_storage.go"
    )
    if not source.exists():
        # The source arrives with `go install sigs.k8s.io/kind` (riverbed kind prepare);
        # a fresh machine running the default suite has not done that yet. The kind
        # tests exercise the real manifest end to end on every CI run regardless.
        pytest.skip(f"kind {versions.KIND_VERSION}'s source is not in the Go module cache")
    import yaml

    storage = node.kind_storage(source.read_text())
    docs = [d for d in yaml.safe_load_all(storage.manifest) if d]
    (sc,) = [d for d in docs if d["kind"] == "StorageClass"]
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == storage.provisioner_image
    assert storage.helper_image in storage.manifest
