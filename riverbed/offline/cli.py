"""``riverbed kind …``: images and tools for kind clusters on machines without a registry."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from riverbed.console import err, harness_errors, out
from riverbed.errors import BadInput

cache_dir_option = click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="RIVERBED_KIND_CACHE_DIR",
    default=None,
    help="Where the images' archives and the tools are kept "
    "[default ~/.cache/riverbed/kind-offline].",
)


@click.group()
def kind() -> None:
    """kind clusters without a container registry: build their images locally.

    \b
    riverbed kind prepare --offline   build and cache the node, Kafka and Python images,
                                      kind and kubectl (12–42 min the first time, seconds after)
    riverbed kind images              show what is prepared (--make: as make variables)
    """


@kind.command()
@click.option(
    "--offline",
    is_flag=True,
    help="Build every image from package registries (Debian, the Go module proxy, Maven "
    "Central) instead of pulling from container registries. Required: it is the only mode.",
)
@cache_dir_option
@harness_errors
def prepare(offline: bool, cache_dir: Path | None) -> None:
    """Build and cache what a kind cluster needs when no container registry can be reached.

    \b
    - kind and a kubectl of the node's Kubernetes version (host tools),
    - the kind node image, its control-plane images inside,
    - Apache Kafka (same jars as the local platform) on Debian with Java 17,
    - Python 3.11 on Debian (base of the workload and Locust images).

    Needs Docker, Go, debootstrap (as root), zstd, and Java + Maven for the Kafka jars.
    A second run rebuilds nothing. Then:
    `kind create cluster --image "$(riverbed kind images --get node_image)" …`.
    """
    if not offline:
        raise BadInput(
            "`riverbed kind prepare` only builds images offline.",
            fix="add --offline (kind pulls its usual images by itself where a registry is reachable).",
        )
    from riverbed.offline.prepare import prepare as run_prepare

    t0 = time.monotonic()
    prepared, timings = run_prepare(cache_dir, say=lambda text: err.print(f"… {text}"))
    built = [t for t in timings if t.outcome != "cached"]
    err.print(
        f"prepared in {time.monotonic() - t0:.1f}s"
        + (" (everything was cached)" if not built else f" ({len(built)} step(s) ran)")
    )
    _print(prepared.to_json(), as_make=False)


@kind.command()
@cache_dir_option
@click.option("--make", "as_make", is_flag=True, help="Print make variable assignments.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--get", "key", default=None, help="Print one value, e.g. --get node_image.")
@harness_errors
def images(cache_dir: Path | None, as_make: bool, as_json: bool, key: str | None) -> None:
    """Show the prepared images and tools (loading an image Docker lost from the cache).

    \b
    make kind-up build-images load-images deploy-kafka deploy-apps $(riverbed kind images --make)
    """
    from riverbed.offline.prepare import prepared_images

    data = prepared_images(cache_dir, say=lambda text: err.print(f"… {text}")).to_json()
    if key:
        if key not in data:
            raise BadInput(f"Unknown key {key!r}.", fix=f"use one of {', '.join(data)}.")
        out.print(data[key])
    elif as_json:
        out.print(json.dumps(data, indent=2))
    else:
        _print(data, as_make=as_make)


def _print(data: dict[str, str], *, as_make: bool) -> None:
    if as_make:
        out.print(
            " ".join(
                [
                    "OFFLINE=1",
                    f"KIND={data['kind_bin']}",
                    f"KUBECTL={data['kubectl_bin']}",
                    f"KIND_NODE_IMAGE={data['node_image']}",
                    f"KAFKA_IMAGE={data['kafka_image']}",
                    f"PYTHON_IMAGE={data['python_image']}",
                ]
            ),
            soft_wrap=True,
        )
        return
    width = max(len(k) for k in data)
    for k, v in data.items():
        out.print(f"{k.ljust(width)}  {v}", soft_wrap=True)


@kind.command("build-images")
@click.option("--tag", default="dev", show_default=True, help="Tag of both images.")
@click.option(
    "--python-image",
    default=None,
    help="Base image [default: the prepared offline Python image].",
)
@click.option(
    "--target",
    "targets",
    type=click.Choice(["workloads", "locust"]),
    multiple=True,
    help="Build only this target (repeatable) [default: both].",
)
@cache_dir_option
@harness_errors
def build_images(
    tag: str, python_image: str | None, targets: tuple[str, ...], cache_dir: Path | None
) -> None:
    """Build riverbed-workloads:TAG and riverbed-locust:TAG (workloads/Dockerfile).

    Where pip inside a build container cannot reach PyPI, the host builds the
    wheels and serves them on 127.0.0.1 for the build (it says so).
    """
    from riverbed.offline.prepare import prepared_images
    from riverbed.offline.workload_images import build_workload_images

    say = lambda text: err.print(f"… {text}")  # noqa: E731
    if python_image is None:
        python_image = prepared_images(cache_dir, say=say).python_image
    t0 = time.monotonic()
    built = build_workload_images(
        tag,
        python_image=python_image,
        targets=targets or ("workloads", "locust"),
        cache_dir=cache_dir,
        say=say,
    )
    err.print(f"built {', '.join(built.values())} in {time.monotonic() - t0:.1f}s")


@kind.command("config")
@click.option(
    "--kind-config",
    "source",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The configuration to start from [default: manifests/kind-cluster.yaml].",
)
@click.option(
    "--image",
    "node_image",
    default=None,
    help="The node image the cluster will run: a privileged container of it shows what a "
    "node gets on this host [default: this process's capabilities stand in].",
)
@click.option("--name", default=None, help="Set the cluster's name in the configuration.")
@harness_errors
def config(source: Path | None, node_image: str | None, name: str | None) -> None:
    """Print the kind configuration for this host: what `riverbed up --platform kind` creates
    its cluster from (stderr says what was changed, and why).

    Where containers lack CAP_SYS_RESOURCE, containerd in the node gets
    restrict_oom_score_adj = true (else no pod sandbox starts). `make kind-up` uses it:

    \b
    riverbed kind config > kind.yaml && kind create cluster --config kind.yaml
    """
    from riverbed.paths import PROJECT_ROOT
    from riverbed.platforms.kube.kind_config import for_host, probe_host

    path = source or PROJECT_ROOT / "manifests" / "kind-cluster.yaml"
    if not path.is_file():
        raise BadInput(f"kind configuration {path} does not exist.", fix="check --kind-config.")
    host = probe_host(node_image)
    text, changes = for_host(
        path.read_text(), restrict_oom_score_adj=host.lacks_sys_resource, name=name
    )
    for change in changes:
        err.print(f"kind configuration for this host ({host.how}): {change}")
    click.echo(text, nl=False)
