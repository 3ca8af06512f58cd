"""The kind test set-up's machine detection and generated configuration (no Docker needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.kind import quirks
from tests.kind.conftest import MANIFESTS, ROOT

# /proc/self/status of a VM whose bounding set lacks CAP_SYS_RESOURCE (bit 24), and a full one.
LACKING = "Name:\tbash\nCapInh:\t0000000000000000\nCapBnd:\t000001fffeffffff\nCapAmb:\t0\n"
FULL = "Name:\tbash\nCapBnd:\t000001ffffffffff\n"


def test_bounding_set_is_read_from_proc_status() -> None:
    assert quirks.capability_bounding_set(LACKING) == 0x1FFFEFFFFFF
    assert quirks.lacks_sys_resource(LACKING) is True
    assert quirks.lacks_sys_resource(FULL) is False
    # Only bit 24 matters: CAP_SYS_ADMIN (21) missing is not this quirk.
    assert quirks.lacks_sys_resource("CapBnd:\t000001ffffdfffff\n") is False


def test_status_without_a_bounding_set_is_an_error() -> None:
    import pytest

    with pytest.raises(ValueError, match="CapBnd"):
        quirks.capability_bounding_set("Name:\tx\n")


def test_config_gets_the_containerd_patch_only_when_needed() -> None:
    base = (MANIFESTS / "kind-cluster.yaml").read_text()
    patched, changes = quirks.kind_config(base, restrict_oom_score_adj=True, name="rb-test-1")
    config = yaml.safe_load(patched)
    assert config["name"] == "rb-test-1"
    assert config["containerdConfigPatches"] == [
        '[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true\n'
    ]
    assert any("restrict_oom_score_adj" in c for c in changes)
    # Everything else is the standard configuration: same node, same port mappings.
    original = yaml.safe_load(base)
    assert config["nodes"] == original["nodes"]
    clean, changes = quirks.kind_config(base, restrict_oom_score_adj=False)
    assert yaml.safe_load(clean) == original and changes == []


def test_patch_is_not_added_twice() -> None:
    base = (MANIFESTS / "kind-cluster.yaml").read_text()
    once, _ = quirks.kind_config(base, restrict_oom_score_adj=True)
    twice, _ = quirks.kind_config(once, restrict_oom_score_adj=True)
    assert (
        yaml.safe_load(twice)["containerdConfigPatches"]
        == yaml.safe_load(once)["containerdConfigPatches"]
    )


def test_patch_is_valid_toml_for_containerd() -> None:
    import tomllib

    parsed = tomllib.loads(quirks.RESTRICT_OOM_SCORE_ADJ_PATCH)
    assert parsed["plugins"]["io.containerd.grpc.v1.cri"]["restrict_oom_score_adj"] is True


def test_module_prints_this_machines_config() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tests.kind.quirks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    config = yaml.safe_load(proc.stdout)
    assert config["kind"] == "Cluster"
    assert ("containerdConfigPatches" in config) == quirks.lacks_sys_resource()
    assert ("restrict_oom_score_adj" in proc.stderr) == quirks.lacks_sys_resource()


def _runc_wrapper() -> object:
    import importlib.util

    path = ROOT / "scripts" / "ci" / "runc-without-sys-resource.py"
    spec = importlib.util.spec_from_file_location("runc_wrapper", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runc_wrapper_drops_only_cap_sys_resource(tmp_path: Path) -> None:
    """scripts/ci's runc wrapper edits a bundle's config.json (create) and an exec's
    process.json, removing CAP_SYS_RESOURCE from every set and nothing else."""
    wrapper: Any = _runc_wrapper()
    all_caps = ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"]
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "ociVersion": "1.0.2",
                "process": {
                    "args": ["sh"],
                    "capabilities": {
                        k: list(all_caps) for k in ("bounding", "effective", "permitted")
                    },
                },
            }
        )
    )
    wrapper._edit(str(config), process_only=False)
    caps = json.loads(config.read_text())["process"]["capabilities"]
    assert caps == {
        k: ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_ADMIN"]
        for k in ("bounding", "effective", "permitted")
    }
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["id"], "capabilities": {"bounding": list(all_caps)}}))
    wrapper._edit(str(process), process_only=True)
    assert "CAP_SYS_RESOURCE" not in json.loads(process.read_text())["capabilities"]["bounding"]
    # An unprivileged container's spec, without the capability, is left byte for byte.
    plain = tmp_path / "plain.json"
    plain.write_text('{"process": {"capabilities": {"bounding": ["CAP_CHOWN"]}}}')
    wrapper._edit(str(plain), process_only=False)
    assert plain.read_text() == '{"process": {"capabilities": {"bounding": ["CAP_CHOWN"]}}}'


def test_runc_wrapper_finds_the_bundle_and_process_arguments() -> None:
    wrapper: Any = _runc_wrapper()
    args = ["--root", "/run/x", "create", "--bundle", "/b", "--pid-file", "/p", "id1"]
    assert wrapper._value(args, "--bundle", "-b") == "/b"
    assert wrapper._value(["exec", "-p", "/proc.json", "id"], "--process", "-p") == "/proc.json"
    assert wrapper._value(["create", "--bundle=/c", "id"], "--bundle", "-b") == "/c"
    assert wrapper._value(["start", "id"], "--bundle", "-b") is None
