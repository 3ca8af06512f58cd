"""The kind test set-up's machine detection and generated configuration (no Docker needed)."""

from __future__ import annotations

import subprocess
import sys

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
