"""Resolve a pinned Apache Kafka distribution from Maven Central.

riverbed does not download Kafka's release tarball: it asks Maven for the
broker artifact (``org.apache.kafka:kafka_2.13``), the tools artifact and the
Log4j SLF4J binding, through ``pom.xml`` next to this module, and copies every
runtime jar into ``<cache>/kafka-<version>/libs``.  A marker file written last
says the copy is complete, so a second resolution never touches the network.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from riverbed.errors import HarnessError
from riverbed.paths import cache_dir

#: The Apache Kafka release riverbed runs. Keep it in step with pom.xml.
KAFKA_VERSION = "4.4.0"
POM = Path(__file__).with_name("pom.xml")
MIN_JAVA = 17
_MARKER = ".complete"


@dataclass(frozen=True)
class KafkaDistribution:
    """A resolved Kafka distribution."""

    version: str
    """Apache Kafka version, e.g. ``4.4.0``."""
    libs: Path
    """Directory holding every runtime jar (the broker's classpath)."""
    java: str
    """The ``java`` executable that runs it."""

    @property
    def classpath(self) -> str:
        return str(self.libs / "*")


def find_java() -> str:
    """Return the java executable (``$JAVA_HOME/bin/java`` or ``java`` on PATH),
    checking that it is version 17 or newer."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise HarnessError(
            "Java was not found (no JAVA_HOME and no `java` on PATH).",
            fix=f"install a JDK {MIN_JAVA} or newer (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless) "
            "or set JAVA_HOME to one.",
        )
    try:
        out = subprocess.run(
            [candidate, "-version"], capture_output=True, text=True, timeout=30
        ).stderr
    except OSError as exc:
        raise HarnessError(f"Could not run {candidate}: {exc}", fix="check JAVA_HOME") from exc
    major = java_major_version(out)
    if major is None:
        raise HarnessError(
            f"Could not read the Java version from `{candidate} -version`: {out!r}",
            fix=f"put a JDK {MIN_JAVA}+ first on PATH, or set JAVA_HOME to one.",
        )
    if major < MIN_JAVA:
        raise HarnessError(
            f"Java {major} found at {candidate}; Apache Kafka {KAFKA_VERSION} needs Java {MIN_JAVA} or newer.",
            fix=f"install a JDK {MIN_JAVA}+ and put it first on PATH or set JAVA_HOME to it.",
        )
    return candidate


def java_major_version(version_output: str) -> int | None:
    """Parse the major version from ``java -version`` output.

    >>> java_major_version('openjdk version "17.0.15" 2025-04-15')
    17
    >>> java_major_version('java version "1.8.0_392"')
    8
    """
    m = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not m:
        return None
    major = int(m.group(1))
    if major == 1 and m.group(2):  # 1.8 style
        return int(m.group(2))
    return major


def find_maven() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise HarnessError(
            "Maven (`mvn`) was not found on PATH; riverbed resolves Apache Kafka from Maven Central with it.",
            fix="install Maven 3.6+ (Debian/Ubuntu: apt-get install maven), or point "
            "RIVERBED_KAFKA_LIBS at the libs/ directory of an Apache Kafka distribution.",
        )
    return mvn


def resolve(
    version: str = KAFKA_VERSION,
    on_progress: Callable[[str], None] | None = None,
) -> KafkaDistribution:
    """Return the Kafka distribution, resolving it with Maven the first time.

    ``RIVERBED_KAFKA_LIBS`` may name an existing directory of Kafka jars (for
    example an unpacked release's ``libs/``); then Maven is not used at all.
    ``on_progress`` receives one short line per artifact Maven downloads.
    """
    java = find_java()
    if env_libs := os.environ.get("RIVERBED_KAFKA_LIBS"):
        libs = Path(env_libs).expanduser()
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise HarnessError(
                f"RIVERBED_KAFKA_LIBS={libs} holds no kafka_2.13-*.jar.",
                fix="point it at the libs/ directory of an Apache Kafka 4.x distribution, or unset it.",
            )
        found = sorted(libs.glob("kafka_2.13-*.jar"))[0].name
        return KafkaDistribution(found.removeprefix("kafka_2.13-").removesuffix(".jar"), libs, java)

    home = cache_dir() / f"kafka-{version}"
    libs = home / "libs"
    if (home / _MARKER).exists():
        return KafkaDistribution(version, libs, java)

    mvn = find_maven()
    home.mkdir(parents=True, exist_ok=True)
    staging = home / "libs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [
        mvn,
        "-B",
        "-f",
        str(POM),
        f"-Dkafka.version={version}",
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
        # Extra Maven arguments, e.g. `-s settings.xml` for a proxy or a mirror.
        *shlex.split(os.environ.get("RIVERBED_MAVEN_ARGS", "")),
    ]
    log_path = home / "resolve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=home
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if on_progress and (m := re.search(r"Download(?:ing|ed) from \S+: (\S+)", line)):
                on_progress(m.group(1).rsplit("/", 1)[-1])
        rc = proc.wait()
    if rc != 0:
        text = log_path.read_text(errors="replace")
        if re.search(
            r"Could not transfer|UnknownHost|Connection refused|timed out|Network is unreachable|Could not resolve",
            text,
        ):
            raise HarnessError(
                f"Maven could not download Apache Kafka {version} from Maven Central (see {log_path}).",
                fix="check network access to https://repo.maven.apache.org (proxy settings in "
                "~/.m2/settings.xml), or set RIVERBED_KAFKA_LIBS to a Kafka libs/ directory.",
            )
        tail = "\n".join(text.splitlines()[-20:])
        raise HarnessError(
            f"Maven failed to resolve Apache Kafka {version} (exit {rc}); last lines of {log_path}:\n{tail}",
            fix="fix the error above and run again.",
        )
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    (home / _MARKER).write_text(version + "\n")
    return KafkaDistribution(version, libs, java)
