"""JVM consumers: riverbed's Java agent, built from Maven Central on first use and cached.

A JVM ``--consumer-cmd`` (``java -jar app.jar``) is judged at the instrumented strength by
riverbed's Java agent (``workloads/instrument/jvm``, docs/consumers.md): riverbed adds
``-javaagent:<jar>`` to the command's ``JAVA_TOOL_OPTIONS``, which every JVM reads at start,
whatever starts it (a shell script, ``mvn exec``, Spring Boot's launcher).

The agent's Maven module is built the way the Kafka jars are resolved
(:mod:`riverbed.kafka.distribution`): once, with ``mvn package`` in a copy of the module
under riverbed's cache (``<cache>/jvm-<name>-<digest>/``, the digest of its sources, so an
edited agent is built afresh), with a marker written last; later runs do not touch the
network. :func:`build_jar` builds any such module (the JVM examples too).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from riverbed.errors import HarnessError
from riverbed.kafka.distribution import find_java, find_maven
from riverbed.paths import PROJECT_ROOT, cache_dir

#: The Java agent's Maven module.
AGENT_MODULE = PROJECT_ROOT / "workloads" / "instrument" / "jvm"
#: The JVM examples' Maven module (examples/README.md).
EXAMPLES_MODULE = PROJECT_ROOT / "examples" / "jvm"
_MARKER = ".complete"
#: A first build downloads its plugins and dependencies; later ones take seconds.
BUILD_TIMEOUT_S = 1200


def sources_digest(module: Path) -> str:
    """A digest of the module's build inputs (``pom.xml`` and ``src/``)."""
    h = hashlib.sha256()
    files = [module / "pom.xml", *sorted(p for p in (module / "src").rglob("*") if p.is_file())]
    for path in files:
        h.update(str(path.relative_to(module)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time per module version (parallel test workers, two runs at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_jar(
    module: Path,
    jar_name: str,
    name: str,
    on_progress: Callable[[str], None] | None = None,
) -> Path:
    """``target/<jar_name>`` of the Maven ``module``, built once into riverbed's cache.

    Raises :class:`HarnessError` (with the fix) when Java or Maven is missing or the build
    fails; the build's output is kept in ``build.log`` beside the jar.
    """
    home = cache_dir() / f"jvm-{name}-{sources_digest(module)}"
    jar = home / jar_name
    if (home / _MARKER).exists() and jar.exists():
        return jar
    find_java()
    mvn = find_maven()
    with _locked(cache_dir() / f"jvm-{name}.lock"):
        if (home / _MARKER).exists() and jar.exists():
            return jar
        build = home / "build"
        shutil.rmtree(build, ignore_errors=True)
        home.mkdir(parents=True, exist_ok=True)
        shutil.copytree(module, build, ignore=shutil.ignore_patterns("target"))
        cmd = [
            mvn,
            "-B",
            "-f",
            str(build / "pom.xml"),
            "package",
            "-DskipTests",
            # Extra Maven arguments, e.g. `-s settings.xml` for a proxy or a mirror.
            *shlex.split(os.environ.get("RIVERBED_MAVEN_ARGS", "")),
        ]
        log_path = home / "build.log"
        if on_progress:
            on_progress(f"building {name} with Maven (once; log: {log_path})")
        with log_path.open("w") as log:
            try:
                rc = subprocess.run(
                    cmd, stdout=log, stderr=subprocess.STDOUT, cwd=build, timeout=BUILD_TIMEOUT_S
                ).returncode
            except subprocess.TimeoutExpired:
                rc = -1
        built = build / "target" / jar_name
        if rc != 0 or not built.exists():
            text = log_path.read_text(errors="replace")
            tail = "\n".join(text.splitlines()[-20:])
            if re.search(
                r"Could not transfer|UnknownHost|Could not resolve|Network is unreachable", text
            ):
                raise HarnessError(
                    f"Maven could not download what {name} needs from Maven Central (see {log_path}).",
                    fix="check network access to https://repo.maven.apache.org (proxy settings in "
                    "~/.m2/settings.xml, or RIVERBED_MAVEN_ARGS).",
                )
            raise HarnessError(
                f"Maven failed to build {name} (exit {rc}); last lines of {log_path}:\n{tail}",
                fix="fix the error above and run again.",
            )
        shutil.copy2(built, jar)
        shutil.rmtree(build, ignore_errors=True)
        (home / _MARKER).write_text(jar_name + "\n")
    return jar


def is_built(module: Path, jar_name: str, name: str) -> bool:
    """Whether the module's jar of these sources is in the cache already."""
    home = cache_dir() / f"jvm-{name}-{sources_digest(module)}"
    return (home / _MARKER).exists() and (home / jar_name).exists()


def check_agent_buildable() -> None:
    """Before anything starts: the agent is cached, or Java and Maven are there to build it
    (:class:`HarnessError` with the fix otherwise)."""
    find_java()
    if not is_built(AGENT_MODULE, "riverbed-agent.jar", "agent"):
        find_maven()


def agent_jar(on_progress: Callable[[str], None] | None = None) -> Path:
    """riverbed's Java agent jar (built on first use)."""
    return build_jar(AGENT_MODULE, "riverbed-agent.jar", "agent", on_progress)


def examples_jar(on_progress: Callable[[str], None] | None = None) -> Path:
    """The JVM examples' jar (``java -jar … EXAMPLE``; built on first use)."""
    return build_jar(EXAMPLES_MODULE, "riverbed-jvm-examples.jar", "examples", on_progress)


def agent_option(jar: Path | str) -> str:
    """The ``JAVA_TOOL_OPTIONS`` word that loads the agent."""
    return f"-javaagent:{jar}"


def java_tool_options(jar: Path | str, existing: str | None) -> str:
    """``JAVA_TOOL_OPTIONS`` with the agent added to the options the process would get."""
    option = agent_option(jar)
    words = (existing or "").split()
    return " ".join([*(w for w in words if w != option), option])
