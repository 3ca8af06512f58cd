"""The workload image (workloads/Dockerfile) and the commands the manifests run in it.

Docker cannot run here, so the image is checked from the outside: its stages
and user, the dependency lists its build computes (by running that very
script), its build context, that the code it copies imports only what it
installs, and that every command, flag and variable the manifests give the
containers is one the workload CLIs accept.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from riverbed.platforms.kube import render as km
from tests.manifests.conftest import ROOT, named

DOCKERFILE = ROOT / "workloads" / "Dockerfile"
DOCKERIGNORE = ROOT / "workloads" / "Dockerfile.dockerignore"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and heredoc bodies kept."""
    lines = DOCKERFILE.read_text().splitlines()
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        while line.endswith("\\"):
            line = line[:-1] + " " + lines[i].strip()
            i += 1
        word, _, rest = line.partition(" ")
        if m := re.search(r"<<'?(\w+)'?", rest):
            body = []
            while lines[i].strip() != m[1]:
                body.append(lines[i])
                i += 1
            i += 1
            rest += "\n" + "\n".join(body)
        out.append((word.upper(), rest))
    return out


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current = None
    for word, rest in _instructions():
        if word == "FROM":
            current = rest.split(" AS ")[-1].strip() if " AS " in rest else rest
            stages[current] = [(word, rest)]
        elif current is not None:
            stages[current].append((word, rest))
    return stages


def test_stages_and_default_target() -> None:
    stages = _stages()
    assert list(stages) == ["netfault", "requirements", "runtime-base", "locust", "workloads"]
    # The last stage is what a plain `docker build` produces: the workloads image.
    args = dict(rest.split("=", 1) for w, rest in _instructions() if w == "ARG" and "=" in rest)
    assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", args["PYTHON_IMAGE"])
    assert stages["runtime-base"][0] == ("FROM", "${PYTHON_IMAGE} AS runtime-base")


@pytest.mark.parametrize("stage", ["workloads", "locust"])
def test_runnable_stages_run_as_a_numeric_non_root_user(stage: str) -> None:
    users = [rest for w, rest in _stages()[stage] if w == "USER"]
    assert users, f"{stage} sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    # The manifests run as that same user.


def test_manifests_run_as_the_image_user(all_docs: list[dict[str, Any]]) -> None:
    uid = int([rest for w, rest in _stages()["workloads"] if w == "USER"][-1].split(":")[0])
    for name in ("producer", "consumer", "monitor", "locust-master", "locust-worker"):
        spec = km.pod_spec(named(all_docs, "Deployment", name))
        assert spec["securityContext"]["runAsUser"] == uid, name


def test_workloads_stage_installs_only_the_base_dependencies(tmp_path: Path) -> None:
    """Run the build's own requirements script against pyproject.toml."""
    runs = [rest for w, rest in _stages()["requirements"] if w == "RUN"]
    assert runs == ["python image_requirements.py"]
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(ROOT / "workloads" / "image_requirements.py", tmp_path / "image_requirements.py")
    subprocess.run([sys.executable, "image_requirements.py"], cwd=tmp_path, check=True, timeout=30)

    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    workloads = (tmp_path / "workloads.txt").read_text().split("\n")[:-1]
    assert workloads == project["dependencies"]
    assert {_dist_name(r) for r in workloads} >= {"kafka-python", "starlette", "uvicorn"}
    locust = (tmp_path / "locust.txt").read_text().split("\n")[:-1]
    assert locust[: len(workloads)] == workloads
    assert "locust" in {_dist_name(r) for r in locust}
    assert not {_dist_name(r) for r in locust} & {"chaostoolkit", "kubernetes", "rich", "click"}


def test_stages_copy_only_what_the_workloads_need() -> None:
    stages = _stages()
    copies = {
        stage: [rest for w, rest in body if w == "COPY" and "--from=" not in rest]
        for stage, body in stages.items()
    }
    assert copies["workloads"] == ["workloads/ /app/workloads/"]
    assert copies["locust"] == ["workloads/ /app/workloads/", "locustfiles/ /app/locustfiles/"]
    assert copies["requirements"] == ["pyproject.toml workloads/image_requirements.py ./"]
    # No build tools left behind, no pip cache; only the network-fault sidecar may
    # install a Debian package (iptables), and only where its base lacks it.
    text = DOCKERFILE.read_text()
    assert "PIP_NO_CACHE_DIR=1" in text
    for stage, body in stages.items():
        runs = " ".join(" ".join(rest.split()) for w, rest in body if w == "RUN")
        if stage == "netfault":
            assert runs.startswith("command -v iptables >/dev/null || (apt-get update"), runs
            assert "install -y --no-install-recommends iptables" in runs
            assert "rm -rf /var/lib/apt/lists/*" in runs
            assert not [rest for w, rest in body if w == "COPY"]  # nothing of the project
        else:
            assert "apt-get install" not in runs, stage


def test_build_context_is_an_allow_list() -> None:
    lines = [
        ln.strip()
        for ln in DOCKERIGNORE.read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {ln[1:].rstrip("/") for ln in lines if ln.startswith("!")}
    # Every path a stage copies from the context is allowed back in.
    for _, body in _stages().items():
        for word, rest in body:
            if word == "COPY" and "--from=" not in rest:
                for source in rest.split()[:-1]:
                    source = source.rstrip("/")
                    assert source in allowed or source.split("/")[0] in allowed, source


def test_classic_builder_context_matches_buildkit_context() -> None:
    """The classic builder reads only /.dockerignore: it must say what the Dockerfile's own does."""

    def rules(path: Path) -> list[str]:
        return [
            ln.strip()
            for ln in path.read_text().splitlines()
            if ln.strip() and not ln.startswith("#")
        ]

    assert rules(ROOT / ".dockerignore") == rules(DOCKERIGNORE)


def test_builds_without_buildkit_features() -> None:
    """No `# syntax=` line (BuildKit would fetch a frontend image) and no heredocs
    (the engine's built-in frontend and the classic builder have none)."""
    text = DOCKERFILE.read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, re.M | re.I)
    assert "<<" not in text


# ---- imports: the image has the base dependencies (and Locust), nothing else ------------------
def _dist_name(req: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", req, maxsplit=1)[0].lower()


def _modules_of(dist: str, seen: set[str] | None = None) -> set[str]:
    """Top-level modules a distribution and everything it requires provide."""
    seen = seen if seen is not None else set()
    key = dist.lower().replace("_", "-")
    if key in seen:
        return set()
    seen.add(key)
    try:
        d = md.distribution(dist)
    except md.PackageNotFoundError:
        return set()
    mods = set()
    top = d.read_text("top_level.txt")
    if top:
        mods |= {m.strip() for m in top.splitlines() if m.strip()}
    for f in d.files or []:
        parts = Path(str(f)).parts
        if (
            parts
            and not parts[0].endswith((".dist-info", ".egg-info", ".data"))
            and ".." not in parts
        ):
            mods.add(parts[0].removesuffix(".py"))
    for req in d.requires or []:
        if "extra ==" in req:
            continue
        mods |= _modules_of(_dist_name(req), seen)
    return mods


def _imports(folder: Path) -> dict[str, set[str]]:
    """top-level module → files importing it (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(path.name)
    return found


def _base_requirements() -> list[str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


#: Imports inside functions the image never calls: module → files.
NOT_RUN_IN_THE_IMAGE = {
    # `chaos discover riverbed` hands over to riverbed.chaos from here (a lazy import).
    "riverbed": {"__init__.py"},
}


#: Directories the workloads put first on another program's PYTHONPATH (the consumer
#: instrumentation): their top-level modules ship inside workloads/.
PYTHONPATH_DIRS = [ROOT / "workloads" / "instrument" / "pythonpath"]


#: Clients the instrumentation patches only inside a program that imported them itself
#: (a user's consumer, in the user's own image): module → the instrumentation's file.
PATCHED_ONLY_WHEN_IMPORTED = {"aiokafka": {"aiokafka_client.py"}}


def test_workloads_import_only_what_the_image_installs() -> None:
    allowed = set(sys.stdlib_module_names) | {"workloads", "__future__"}
    for folder in PYTHONPATH_DIRS:
        allowed |= {
            p.stem for p in folder.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()
        }
    for req in _base_requirements():
        allowed |= _modules_of(_dist_name(req))
    stray = {
        m: files - PATCHED_ONLY_WHEN_IMPORTED.get(m, set())
        for m, files in _imports(ROOT / "workloads").items()
        if m not in allowed
    }
    stray = {m: files for m, files in stray.items() if files}
    assert not stray, f"workloads/ imports modules the image does not install: {stray}"


def test_locustfiles_import_only_what_the_locust_image_installs() -> None:
    allowed = set(sys.stdlib_module_names) | {"workloads", "locustfiles", "__future__"}
    for req in [*_base_requirements(), "locust", "confluent-kafka"]:
        allowed |= _modules_of(_dist_name(req))
    stray = {
        m: files - NOT_RUN_IN_THE_IMAGE.get(m, set())
        for m, files in _imports(ROOT / "locustfiles").items()
        if m not in allowed
    }
    stray = {m: files for m, files in stray.items() if files}
    assert not stray, f"locustfiles/ import modules the locust image does not install: {stray}"


def test_import_check_notices_a_stray_import(tmp_path: Path) -> None:
    (tmp_path / "x.py").write_text("import riverbed.kafka\nfrom kafka import KafkaConsumer\n")
    allowed = set(sys.stdlib_module_names) | _modules_of("kafka-python")
    assert {m for m in _imports(tmp_path) if m not in allowed} == {"riverbed"}


# ---- the commands the manifests run ---------------------------------------------------------------
def _help(module: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", module, *args, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _container(all_docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (c,) = km.pod_spec(named(all_docs, "Deployment", name))["containers"]
    return c


def _expand(arg: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in command arguments."""
    return re.sub(r"\$\((\w+)\)", lambda m: env[m[1]], arg)


def _flags(args: list[str]) -> list[str]:
    return [a for a in args if a.startswith("--")]


@pytest.mark.parametrize(
    ("deployment", "module", "subcommand"),
    [
        ("consumer", "workloads.consumer", ()),
        ("producer", "workloads.producer", ("http",)),
        ("monitor", "workloads.monitor", ()),
    ],
)
def test_workload_commands_and_variables_are_accepted(
    all_docs: list[dict[str, Any]], deployment: str, module: str, subcommand: tuple[str, ...]
) -> None:
    c = _container(all_docs, deployment)
    assert c["command"][:3] == ["python", "-m", module]
    assert tuple(c["command"][3:]) == subcommand
    help_text = _help(module, *subcommand)
    for flag in _flags(c.get("args", [])):
        assert re.search(rf"(^|\s){re.escape(flag)}[\s=,]", help_text), f"{module}: {flag}"
    # $(VAR) references in args must name a variable the container defines.
    defined = {e["name"] for e in c.get("env", [])}
    for ref in re.findall(r"\$\((\w+)\)", " ".join(c.get("args", []))):
        assert ref in defined, ref
    # Every riverbed / tutorial variable set on the container is one the CLI reads.
    for name in defined:
        if name.startswith(("RIVERBED_", "KAFKA_")) and f"$({name})" not in " ".join(
            c.get("args", [])
        ):
            assert name in help_text, f"{module} does not read {name}"


def test_consumer_replica_is_the_pod_name(all_docs: list[dict[str, Any]]) -> None:
    env = {e["name"]: e for e in _container(all_docs, "consumer")["env"]}
    assert env["RIVERBED_REPLICA"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["RIVERBED_EVIDENCE_TOPIC"]["value"] == "riverbed-evidence"
    assert env["KAFKA_TOPIC"]["value"] == "riverbed-events"


def test_locust_commands_are_accepted(all_docs: list[dict[str, Any]], tmp_path: Path) -> None:
    """Locust parses every option the manifests pass (``--list`` parses, then exits)."""
    locustfile = ROOT / "locustfiles" / "kafka_producer.py"
    assert locustfile.is_file(), "the manifests run locustfiles/kafka_producer.py"
    for name in ("locust-master", "locust-worker"):
        c = _container(all_docs, name)
        assert c["command"] == ["locust"]
        env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
        args = [_expand(a, env) for a in c["args"]]
        assert args[args.index("-f") + 1] == "locustfiles/kafka_producer.py"
        args[args.index("--run-dir") + 1] = str(tmp_path / name)
        proc = subprocess.run(
            [sys.executable, "-m", "locust", *args, "--list"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, f"{name}: {proc.stderr[-2000:]}"
