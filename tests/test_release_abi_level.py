"""`pipeline release` reads the kernel ABI: the diff against the last release's manifest is in the plan, and
a removed or changed entry makes `auto` pick the breaking level even when the commits say `fix`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from factory import init_git
from release_support import cli

SAXPY_PTX = (Path(__file__).resolve().parent / "fixtures" / "ptx" / "saxpy-nvcc13.ptx").read_text()


def current_build(root: Path) -> None:
    """This build's outputs, as `pipeline cuda` leaves them (ptx = true): saxpy(u32, f32, u64, u64)."""
    cuda = root / "target" / "cuda"
    cuda.mkdir(parents=True)
    (cuda / "saxpy.compute_90.ptx").write_text(SAXPY_PTX)
    (cuda / "manifest.json").write_text(json.dumps({
        "schema": 1, "nvcc": "13.0", "architectures": ["sm_90"], "ptx": "compute_90",
        "kernels": [{"name": "saxpy", "crate": "prism-gpu", "ptx": "saxpy.compute_90.ptx", "entries": ["saxpy"]}],
    }))


def _released(root: Path, saxpy_params: list[str], extra_entries: dict[str, list[str]] | None = None) -> None:
    """A tagged release whose dist/manifest.json recorded the kernel ABI, then a `fix:` commit."""
    (root / ".gitignore").write_text("/target\n/dist\n")
    init_git(root)
    subprocess.run(["git", "tag", "-a", "prism4d-v0.4.2", "-m", "Release"], cwd=root, check=True)
    dist = root / "dist"
    dist.mkdir()
    (dist / "manifest.json").write_text(json.dumps({
        "schema": 1, "tags": ["prism4d-v0.4.2"],
        "kernel_abi": {"saxpy": {"saxpy": saxpy_params, **(extra_entries or {})}},
    }))
    (root / "crates" / "prism-core" / "src" / "lib.rs").open("a").write("\n// fix\n")
    subprocess.run(["git", "commit", "-qam", "fix: rounding"], cwd=root, check=True)
    current_build(root)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_changed_kernel_parameters_are_breaking(example_copy: Path) -> None:
    _released(example_copy, ["u32", "f64", "u64", "u64"])
    result = cli("release", "--json", "--workspace", str(example_copy))
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    # A `fix:` alone is a patch; the changed saxpy(...) makes it breaking: minor on 0.x.
    assert plan["shared"] == {"old": "0.4.2", "new": "0.5.0"}
    assert plan["kernel_abi"]["breaking"] is True
    assert plan["kernel_abi"]["changes"] == [{"kind": "changed", "kernel": "saxpy", "entry": "saxpy",
                                              "old": ["u32", "f64", "u64", "u64"],
                                              "new": ["u32", "f32", "u64", "u64"]}]
    text = cli("release", "--workspace", str(example_copy)).stdout
    assert ("kernel ABI since prism4d-v0.4.2:\n"
            "  changed saxpy: saxpy(u32, f64, u64, u64) -> (u32, f32, u64, u64)") in text
    if shutil.which("cargo-semver-checks") is None:
        assert "Rust API: not checked (cargo-semver-checks is not installed)" in text


def test_unchanged_abi_leaves_the_commit_level(example_copy: Path) -> None:
    _released(example_copy, ["u32", "f32", "u64", "u64"])
    result = cli("release", "--workspace", str(example_copy))
    assert result.returncode == 0, result.stderr
    assert "shared version: 0.4.2 -> 0.4.3" in result.stdout
    assert "kernel ABI: unchanged since prism4d-v0.4.2" in result.stdout


def test_removed_entry_is_breaking(example_copy: Path) -> None:
    _released(example_copy, ["u32", "f32", "u64", "u64"], {"saxpy_batched": ["u32", "u64"]})
    result = cli("release", "--json", "--workspace", str(example_copy))
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["shared"]["new"] == "0.5.0"
    assert [(c["kind"], c["entry"]) for c in plan["kernel_abi"]["changes"]] == [("removed", "saxpy_batched")]
