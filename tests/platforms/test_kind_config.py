"""The kind configuration for this host: detection and the adjusted configuration (no Docker
needed: the probe's docker commands are replaced by recorded answers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from riverbed.errors import HarnessError
from riverbed.platforms.kube import kind_config as quirks

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"

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
    with pytest.raises(ValueError, match="CapBnd"):
        quirks.capability_bounding_set("Name:\tx\n")


def test_config_gets_the_containerd_patch_only_when_needed() -> None:
    base = (MANIFESTS / "kind-cluster.yaml").read_text()
    patched, changes = quirks.for_host(base, restrict_oom_score_adj=True, name="rb-test-1")
    config = yaml.safe_load(patched)
    assert config["name"] == "rb-test-1"
    assert config["containerdConfigPatches"] == [
        '[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true\n'
    ]
    assert any("restrict_oom_score_adj" in c for c in changes)
    # Everything else is the standard configuration: same node, same port mappings.
    original = yaml.safe_load(base)
    assert config["nodes"] == original["nodes"]
    clean, changes = quirks.for_host(base, restrict_oom_score_adj=False)
    assert yaml.safe_load(clean) == original and changes == []


def test_patch_is_not_added_twice() -> None:
    base = (MANIFESTS / "kind-cluster.yaml").read_text()
    once, _ = quirks.for_host(base, restrict_oom_score_adj=True)
    twice, _ = quirks.for_host(once, restrict_oom_score_adj=True)
    assert (
        yaml.safe_load(twice)["containerdConfigPatches"]
        == yaml.safe_load(once)["containerdConfigPatches"]
    )


def test_patch_is_valid_toml_for_containerd() -> None:
    import tomllib

    parsed = tomllib.loads(quirks.RESTRICT_OOM_SCORE_ADJ_PATCH)
    assert parsed["plugins"]["io.containerd.grpc.v1.cri"]["restrict_oom_score_adj"] is True


def test_a_privileged_probe_container_says_what_a_node_gets() -> None:
    lacking = quirks.read_probe("node:1", 0, LACKING, "")
    assert lacking.lacks_sys_resource and lacking.how == "a privileged container of node:1"
    assert not quirks.read_probe("node:1", 0, FULL, "").lacks_sys_resource


def test_an_engine_that_cannot_start_privileged_containers_is_named_with_the_fix() -> None:
    refused = (
        "docker: Error response from daemon: ... unable to apply caps: operation not permitted"
    )
    with pytest.raises(HarnessError, match="unable to apply caps") as info:
        quirks.read_probe("node:1", 126, "", refused)
    assert "docker-engine.sh" in str(info.value.fix)
    with pytest.raises(HarnessError, match="failed: no space left"):
        quirks.read_probe("node:1", 125, "", "no space left on device")


def test_without_a_node_image_this_process_stands_in() -> None:
    host = quirks.probe_host(None)
    assert host.how == "this process's capability bounding set"
    assert host.lacks_sys_resource == quirks.lacks_sys_resource()


def test_riverbed_kind_config_prints_this_hosts_config() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "riverbed.cli", "kind", "config", "--name", "rb-x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    config = yaml.safe_load(proc.stdout)
    assert config["kind"] == "Cluster" and config["name"] == "rb-x"
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
