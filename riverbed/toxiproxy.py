"""Resolve a pinned Toxiproxy server: built once from the Go module proxy, cached.

riverbed's network faults act on real TCP traffic through
`Toxiproxy <https://github.com/Shopify/toxiproxy>`_ (latency, bandwidth, resets,
black holes). Its server is a Go program: riverbed builds the pinned release
with ``go install`` into ``<cache>/toxiproxy-<version>/`` the first time a run
needs it (``make toxiproxy`` or ``python -m riverbed.toxiproxy`` does it ahead
of time, as CI does), and never again. ``RIVERBED_TOXIPROXY_SERVER`` points at
a server binary of your own instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from riverbed.errors import HarnessError
from riverbed.paths import cache_dir

#: The Toxiproxy release riverbed runs (its module path and the server's package).
TOXIPROXY_VERSION = "v2.12.0"
MODULE = "github.com/Shopify/toxiproxy/v2"
SERVER_PACKAGE = f"{MODULE}/cmd/server"
BINARY = "toxiproxy-server"


def home(version: str = TOXIPROXY_VERSION) -> Path:
    return cache_dir() / f"toxiproxy-{version.lstrip('v')}"


def server_path(version: str = TOXIPROXY_VERSION) -> Path | None:
    """The server binary if it is already there (``RIVERBED_TOXIPROXY_SERVER``, or cached)."""
    if env := os.environ.get("RIVERBED_TOXIPROXY_SERVER"):
        return Path(env).expanduser()
    path = home(version) / BINARY
    return path if path.is_file() and os.access(path, os.X_OK) else None


def resolve(version: str = TOXIPROXY_VERSION, progress=None) -> Path:
    """The Toxiproxy server binary, built with ``go install`` on first use."""
    if (found := server_path(version)) is not None:
        if not found.is_file():
            raise HarnessError(
                f"RIVERBED_TOXIPROXY_SERVER names {found}, which does not exist.",
                fix="point it at a toxiproxy-server binary, or unset it to let riverbed build one.",
            )
        return found
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if go is None:
        raise HarnessError(
            "Network faults need the Toxiproxy server, which riverbed builds with Go, and "
            "no `go` was found.",
            fix="install Go 1.22 or newer (Debian/Ubuntu: apt-get install golang-go), or set "
            "RIVERBED_TOXIPROXY_SERVER to a toxiproxy-server binary.",
        )
    target = home(version)
    staging = target / "bin.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True, exist_ok=True)
    if progress is not None:
        progress(f"building Toxiproxy {version} with {go} (once)")
    env = {**os.environ, "GOBIN": str(staging), "CGO_ENABLED": "0"}
    log_path = target / "build.log"
    with log_path.open("w") as log:
        proc = subprocess.run(
            [go, "install", f"{SERVER_PACKAGE}@{version}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=target,
            timeout=900,
        )
    built = staging / "server"
    if proc.returncode != 0 or not built.is_file():
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise HarnessError(
            f"Building Toxiproxy {version} failed (exit {proc.returncode}); last lines of "
            f"{log_path}:\n{tail}",
            fix="check access to the Go module proxy (GOPROXY), or set "
            "RIVERBED_TOXIPROXY_SERVER to a toxiproxy-server binary.",
        )
    final = target / BINARY
    built.replace(final)
    shutil.rmtree(staging, ignore_errors=True)
    return final


def main() -> int:
    """``python -m riverbed.toxiproxy``: build (or find) the server and print its path."""
    try:
        path = resolve(progress=lambda text: print(f"… {text}", file=sys.stderr))
    except HarnessError as exc:
        print(f"error: {exc.message}\nfix: {exc.fix}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
