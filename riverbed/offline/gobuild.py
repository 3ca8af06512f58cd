"""Build kind, Kubernetes and the node's other programs from the Go module proxy.

Every binary is static (``CGO_ENABLED=0``) and reproducible (``-trimpath``);
Go's own build cache (``go env GOCACHE``) is reused, so a second build of the
same version compiles nothing. Each result is moved into the offline cache
only when complete.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from riverbed.errors import HarnessError
from riverbed.offline import shell
from riverbed.offline.cache import DATA

GO_FIX = (
    "install Go 1.24 or newer and check that the Go module proxy is reachable "
    "(`go env GOPROXY`; set GOPROXY/GOFLAGS for a mirror)"
)

#: The Kubernetes programs the node image and the host need.
KUBERNETES_COMMANDS = (
    "kubelet",
    "kubeadm",
    "kubectl",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
)


def go() -> str:
    found = shutil.which("go")
    if not found:
        raise HarnessError(
            "Go was not found on PATH; the offline images build from source.", fix=GO_FIX
        )
    return found


def _env(gobin: Path | None = None) -> dict[str, str]:
    env = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
    if gobin:
        env["GOBIN"] = str(gobin)
    return env


def kubernetes_ldflags(version: str) -> str:
    """The version stamp kubeadm derives its image tags from, as Kubernetes' own build sets it.

    >>> "gitVersion=v1.34.4" in kubernetes_ldflags("v1.34.4")
    True
    """
    m = re.fullmatch(r"v(\d+)\.(\d+)\.\d+", version)
    if not m:
        raise HarnessError(f"Not a Kubernetes release version: {version!r}.")
    stamp = {
        "gitVersion": version,
        "gitMajor": m[1],
        "gitMinor": m[2],
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
    }
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.{key}={value}" for key, value in stamp.items()]
    return " ".join(flags)


def kubernetes_go_mod(version: str, kubernetes_mod: str) -> str:
    """The wrapper module that builds ``k8s.io/kubernetes`` as a dependency.

    Kubernetes' own go.mod points each staging module (``k8s.io/api``, …) at a
    directory of its repository; those replaces do not apply to a dependency,
    so the wrapper replaces each with its published ``v0.<minor>.<patch>``.
    """
    staging = re.findall(r"^\s*(k8s\.io/[\w.\-]+)\s*=>\s*\./staging/", kubernetes_mod, re.M)
    if not staging:
        raise HarnessError(f"k8s.io/kubernetes {version}'s go.mod lists no staging modules.")
    published = "v0" + version[2:]
    lines = [
        "module riverbed.invalid/kubernetes-build",
        "",
        "go 1.24",
        "",
        f"require k8s.io/kubernetes {version}",
        "",
        "replace (",
        *[f"\t{m} => {m} {published}" for m in staging],
        ")",
        "",
    ]
    return "\n".join(lines)


def _install_into(staging: Path, final_dir: Path) -> None:
    final_dir.mkdir(parents=True, exist_ok=True)
    for f in staging.iterdir():
        f.replace(final_dir / f.name)
    shutil.rmtree(staging, ignore_errors=True)


def go_install(package: str, target: Path, *, log: Path, ldflags: str = "-s -w") -> Path:
    """``go install PACKAGE@VERSION`` into ``target``'s directory (named ``target.name``)."""
    staging = target.parent.with_name(target.parent.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shell.run(
        [go(), "install", "-trimpath", f"-ldflags={ldflags}", package],
        log=log,
        what=f"go install {package}",
        fix=GO_FIX,
        env=_env(staging),
    )
    _install_into(staging, target.parent)
    if not target.exists():
        raise HarnessError(f"go install {package} produced no {target.name}.")
    return target


def build_kubernetes(version: str, out_dir: Path, work: Path, *, log: Path) -> Path:
    """Build every program in :data:`KUBERNETES_COMMANDS` into ``out_dir``."""
    if all((out_dir / c).exists() for c in KUBERNETES_COMMANDS):
        return out_dir
    info = json.loads(
        shell.output(
            [go(), "mod", "download", "-json", f"k8s.io/kubernetes@{version}"],
            what=f"downloading k8s.io/kubernetes {version} from the Go module proxy",
            fix=GO_FIX,
            timeout=1200,
        )
    )
    work.mkdir(parents=True, exist_ok=True)
    (work / "go.mod").write_text(kubernetes_go_mod(version, Path(info["GoMod"]).read_text()))
    (work / "go.sum").touch()
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shell.run(
        [
            go(),
            "build",
            "-trimpath",
            f"-ldflags={kubernetes_ldflags(version)}",
            "-o",
            f"{staging}/",
            *[f"k8s.io/kubernetes/cmd/{c}" for c in KUBERNETES_COMMANDS],
        ],
        log=log,
        what=f"building Kubernetes {version}",
        fix=GO_FIX,
        env=_env(),
        cwd=work,
    )
    _install_into(staging, out_dir)
    return out_dir


def build_module(
    name: str,
    requires: Sequence[str],
    source: Path,
    target: Path,
    work: Path,
    *,
    log: Path,
) -> Path:
    """Build a small main package from ``source`` (package data) in a wrapper module
    that requires ``requires`` (``module version`` strings), into ``target``."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for f in source.glob("*.go"):
        shutil.copy2(f, work / f.name)
    lines = [f"module riverbed.invalid/{name}", "", "go 1.24", ""]
    lines += [f"require {r}" for r in requires]
    (work / "go.mod").write_text("\n".join(lines) + "\n")
    (work / "go.sum").touch()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shell.run(
        [go(), "build", "-trimpath", "-ldflags=-s -w", "-o", partial, "."],
        log=log,
        what=f"building {name}",
        fix=GO_FIX,
        env=_env(),
        cwd=work,
    )
    partial.replace(target)
    return target


def build_etcd(version: str, target: Path, work: Path, *, log: Path) -> Path:
    """etcd ``version`` (e.g. ``v3.6.5``): a tiny main around ``go.etcd.io/etcd/server/v3``."""
    return build_module(
        "etcd",
        [f"go.etcd.io/etcd/server/v3 {version}"],
        DATA / "go" / "etcd",
        target,
        work,
        log=log,
    )


def build_coredns(version: str, target: Path, work: Path, *, log: Path) -> Path:
    """CoreDNS ``version`` without its cloud-service plugins (see data/go/coredns/main.go)."""
    return build_module(
        "coredns",
        [f"github.com/coredns/coredns {version}"],
        DATA / "go" / "coredns",
        target,
        work,
        log=log,
    )


def build_pause(target: Path, work: Path, *, log: Path) -> Path:
    return build_module("pause", [], DATA / "go" / "pause", target, work, log=log)
