"""Build the workload and Locust images (workloads/Dockerfile) on the prepared Python base.

Where a build container's pip cannot reach PyPI (no route, or a TLS-inspecting
egress proxy whose certificate authority only the host trusts), the build
would fail at ``pip install``. :func:`build_workload_images` checks that
first, with one small download from inside the Python image, and then falls
back to the most robust route: the host (whose pip works) builds a wheelhouse
of exactly the image's requirements, serves it on 127.0.0.1 for the length of
the build, and the build runs with ``--network host`` and
``PIP_NO_INDEX=1 PIP_FIND_LINKS=http://127.0.0.1:<port>/``. It says so when it
does; nothing on the machine is changed.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from riverbed.errors import HarnessError
from riverbed.offline import docker, shell
from riverbed.offline.cache import OfflineCache, recipe_key
from riverbed.paths import PROJECT_ROOT

DOCKERFILE = Path("workloads") / "Dockerfile"
IMAGES = {
    "workloads": "riverbed-workloads",
    "locust": "riverbed-locust",
    "netfault": "riverbed-netfault",
}


def pip_reaches_index(python_image: str) -> tuple[bool, str]:
    """Whether pip inside ``python_image`` (on Docker's default network) can download
    from its package index; with the last line of pip's complaint when it cannot."""
    proc = subprocess.run(
        [
            docker.cli(),
            "run",
            "--rm",
            python_image,
            "python",
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--retries",
            "0",
            "--timeout",
            "20",
            "-d",
            "/tmp/probe",
            "pip",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    reason = next((ln for ln in lines if "SSL" in ln or "Error" in ln), lines[-1] if lines else "")
    return proc.returncode == 0, reason.strip()


def requirement_lists(root: Path = PROJECT_ROOT) -> dict[str, Path]:
    """``workloads.txt`` and ``locust.txt``, computed by the image's own script."""
    out = Path(tempfile.mkdtemp(prefix="riverbed-requirements-"))
    shutil.copy2(root / "pyproject.toml", out / "pyproject.toml")
    subprocess.run(
        [sys.executable, str(root / "workloads" / "image_requirements.py")],
        cwd=out,
        check=True,
        timeout=60,
    )
    return {"workloads": out / "workloads.txt", "locust": out / "locust.txt"}


def wheelhouse(cache: OfflineCache, requirements: Sequence[Path], *, log: Path) -> Path:
    """Wheels for ``requirements`` built by the host's pip (kept, keyed by the lists)."""
    if sys.version_info[:2] != (3, 11):
        raise HarnessError(
            "Build containers cannot reach PyPI, and the host's Python is not 3.11, so it "
            "cannot build the image's wheels.",
            fix="run riverbed with Python 3.11, or pass the build a reachable index "
            "(PIP_INDEX_URL build argument).",
        )
    target = cache.root / "wheels" / recipe_key(*requirements)
    done = target / ".complete"
    if done.exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for req in requirements:
        shell.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", target, "-r", req],
            log=log,
            what=f"building wheels for {req.name} on the host",
            fix="check that pip on this machine reaches PyPI",
        )
    done.touch()
    return target


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` read-only on 127.0.0.1 (a free port) as a pip find-links page."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, name="wheelhouse", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def build_workload_images(
    tag: str = "dev",
    *,
    python_image: str,
    targets: Sequence[str] = ("workloads", "locust"),
    root: Path = PROJECT_ROOT,
    cache_dir: Path | str | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, str]:
    """Build ``riverbed-workloads:<tag>``, ``riverbed-locust:<tag>`` (and, asked for,
    ``riverbed-netfault:<tag>``) on ``python_image``.

    Returns target → image reference.
    """
    unknown = [t for t in targets if t not in IMAGES]
    if unknown:
        raise HarnessError(
            f"Unknown image target(s): {', '.join(unknown)}.",
            fix="use workloads, locust or netfault.",
        )
    if docker.image_id(python_image) is None:
        raise HarnessError(
            f"Docker has no {python_image}.", fix="run `riverbed kind prepare --offline` first."
        )
    cache = OfflineCache.at(cache_dir)
    log = cache.log("workload-images")
    # The netfault target installs no Python package: no index needed.
    reachable, reason = (
        pip_reaches_index(python_image) if set(targets) - {"netfault"} else (True, "")
    )
    extra: list[str] = []
    server: contextlib.AbstractContextManager[str | None] = contextlib.nullcontext(None)
    if not reachable:
        say(
            f"pip in {python_image} cannot reach its package index ({reason}); "
            "building from wheels the host downloads, served on 127.0.0.1 to a --network host build"
        )
        # Both lists: the classic builder builds every stage before its target,
        # so the workloads target builds the Locust stage too.
        lists = requirement_lists(root)
        wheels = wheelhouse(cache, [lists["workloads"], lists["locust"]], log=log)
        server = serve(wheels)
    built = {}
    with server as url:
        if url:
            extra = [
                "--network",
                "host",
                "--build-arg",
                "PIP_NO_INDEX=1",
                "--build-arg",
                f"PIP_FIND_LINKS={url}",
            ]
        for target in targets:
            image = f"{IMAGES[target]}:{tag}"
            say(f"building {image} on {python_image}")
            shell.run(
                [
                    docker.cli(),
                    "build",
                    "--force-rm",
                    "-f",
                    DOCKERFILE,
                    "--target",
                    target,
                    "--build-arg",
                    f"PYTHON_IMAGE={python_image}",
                    *extra,
                    "-t",
                    image,
                    ".",
                ],
                log=log,
                what=f"building {image}",
                fix="see the log",
                env={"DOCKER_BUILDKIT": "0"},
                cwd=root,
            )
            built[target] = image
    return built
