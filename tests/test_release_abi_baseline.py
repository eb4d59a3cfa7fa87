"""Where the last release's kernel ABI comes from, and cargo-semver-checks feeding the same level.

The baseline is a manifest kept in dist/ (dist/manifest.json or a per-version copy) whose tags hold
the last release tag, else that release's CUDA tarball kept in dist/, else the kernels rebuilt at
the tag (git worktree, real nvcc). cargo-semver-checks is not installed here: a script on PATH
prints what the real tool prints (its summary line and exit codes, from its src/check_release.rs
and src/main.rs) so the parsing and the level are exercised; a real run is not.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from factory import init_git
from release_support import cli, git
from test_release_abi_level import current_build

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ptx"
SAXPY_PTX = (FIXTURES / "saxpy-nvcc13.ptx").read_text()  # saxpy(u32, f32, u64, u64)
OLD_PTX = SAXPY_PTX.replace(".param .f32 saxpy_param_1", ".param .f64 saxpy_param_1")
TAG = "prism4d-v0.4.2"
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _tagged(root: Path) -> str:
    (root / ".gitignore").write_text("/target\n/dist\n")
    init_git(root)
    git(root, "tag", "-a", TAG, "-m", "Release")
    sha = git(root, "rev-parse", "HEAD").strip()
    (root / "crates" / "prism-core" / "src" / "lib.rs").open("a").write("\n// fix\n")
    git(root, "commit", "-qam", "fix: rounding")
    current_build(root)
    return sha


def _plan(root: Path, env: dict[str, str] | None = None) -> dict:
    result = cli("release", "--json", "--workspace", str(root), env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_per_version_manifest_kept_in_dist_is_the_baseline(example_copy: Path) -> None:
    _tagged(example_copy)
    kept = example_copy / "dist" / "0.4.2"
    kept.mkdir(parents=True)
    (kept / "manifest.json").write_text(json.dumps({"schema": 1, "tags": [TAG], "kernel_abi": {
        "saxpy": {"saxpy": ["u32", "f64", "u64", "u64"]}}}))
    # dist/manifest.json of another release is not taken for the last one.
    (example_copy / "dist" / "manifest.json").write_text(json.dumps({"schema": 1, "tags": ["prism4d-v0.3.0"],
                                                                     "kernel_abi": {"saxpy": {"saxpy": []}}}))
    plan = _plan(example_copy)
    assert plan["kernel_abi"]["baseline"] == "dist/0.4.2/manifest.json"
    assert plan["kernel_abi"]["breaking"] is True and plan["shared"]["new"] == "0.5.0"


def test_the_cuda_tarball_kept_in_dist_is_the_baseline(example_copy: Path) -> None:
    sha = _tagged(example_copy)
    stem = f"prism4d-cuda-0.4.2-{sha[:7]}"
    manifest = {"schema": 1, "ptx": "compute_90",
                "kernels": [{"name": "saxpy", "ptx": "saxpy.compute_90.ptx", "entries": ["saxpy"]}]}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, text in (("manifest.json", json.dumps(manifest)), ("saxpy.compute_90.ptx", OLD_PTX)):
            data = text.encode()
            info = tarfile.TarInfo(f"{stem}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (example_copy / "dist").mkdir()
    (example_copy / "dist" / f"{stem}.tar.gz").write_bytes(gzip.compress(raw.getvalue()))
    plan = _plan(example_copy)
    assert plan["kernel_abi"]["baseline"] == f"dist/{stem}.tar.gz"
    assert [c["kind"] for c in plan["kernel_abi"]["changes"]] == ["changed"]
    assert plan["shared"]["new"] == "0.5.0"


KERNEL = """extern "C" __global__ void scale(unsigned n, {ty} a, {ty} *x) {{
    unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= a;
}}
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("nvcc") is None and not Path("/usr/local/cuda/bin/nvcc").exists(),
                    reason="nvcc is not installed")
def test_without_a_kept_manifest_the_kernels_are_rebuilt_at_the_tag(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "crates" / "kern" / "src").mkdir(parents=True)
    (root / "crates" / "kern" / "kernels").mkdir()
    (root / "Cargo.toml").write_text(
        '[workspace]\nresolver = "2"\nmembers = ["crates/kern"]\n\n[workspace.package]\nversion = "1.2.0"\n'
        'edition = "2021"\n\n[workspace.metadata.pipeline.cuda]\narchitectures = ["sm_90"]\nptx = true\n\n'
        '[workspace.metadata.pipeline.release]\ngates = []\n')
    (root / "crates" / "kern" / "Cargo.toml").write_text(
        '[package]\nname = "kern"\nversion.workspace = true\nedition.workspace = true\n')
    (root / "crates" / "kern" / "src" / "lib.rs").write_text("pub fn f() {}\n")
    (root / "crates" / "kern" / "kernels" / "scale.cu").write_text(KERNEL.format(ty="float"))
    (root / ".gitignore").write_text("/target\n/dist\n")
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True)
    init_git(root)
    git(root, "tag", "-a", "v1.2.0", "-m", "Release")
    (root / "crates" / "kern" / "kernels" / "scale.cu").write_text(KERNEL.format(ty="double"))
    git(root, "commit", "-qam", "fix: precision")
    built = cli("cuda", "--workspace", str(root))
    assert built.returncode == 0, built.stderr
    plan = _plan(root)
    assert plan["kernel_abi"]["baseline"] == "rebuilt at v1.2.0"
    assert plan["kernel_abi"]["changes"] == [{"kind": "changed", "kernel": "scale", "entry": "scale",
                                              "old": ["u32", "f32", "u64"], "new": ["u32", "f64", "u64"]}]
    assert plan["shared"] == {"old": "1.2.0", "new": "2.0.0"}  # a `fix:` made major by the kernel ABI
    assert git(root, "worktree", "list").count("\n") == 1  # the throwaway worktree is gone
    # A second plan reads the cached ABI of that commit instead of building again.
    again = cli("release", "--json", "--workspace", str(root))
    assert json.loads(again.stdout)["kernel_abi"]["baseline"].startswith("rebuilt at v1.2.0 (cached in target/")
    assert "building its kernels at v1.2.0" not in again.stderr


FAKE = r"""#!/bin/sh
# Mimics cargo-semver-checks' output: stdout gets the failures, stderr the status lines (src/check_release.rs),
# exit 0 (no update required), 100 (lint failures), 101 (error) as src/main.rs.
echo "$@" > "$FAKE_SEMVER_ARGS"
case "$FAKE_SEMVER" in
  major)
    cat <<'OUT'

--- failure function_missing: pub fn removed or renamed ---

Description:
A publicly-visible function cannot be imported by its prior path.
OUT
    cat >&2 <<'OUT'
    Checking prism-core v0.4.2 -> v0.4.2 (no change; assume patch)
     Checked [   0.010s] 120 checks: 119 pass, 1 fail, 0 warn, 30 skip

     Summary semver requires new major version: 1 major and 0 minor checks failed
OUT
    exit 100 ;;
  minor)
    cat >&2 <<'OUT'
     Checked [   0.010s] 120 checks: 119 pass, 1 fail, 0 warn, 30 skip

     Summary semver requires new minor version: 0 major and 1 minor checks failed
OUT
    exit 100 ;;
  none)
    cat >&2 <<'OUT'
     Checked [   0.010s] 120 checks: 120 pass, 30 skip
     Summary no semver update required
OUT
    exit 0 ;;
  *)
    echo "error: failed to build rustdoc for crate prism-core v0.4.2" >&2
    exit 101 ;;
esac
"""


@pytest.mark.parametrize(("verdict", "new", "line"), [
    ("major", "0.5.0", "Rust API (cargo-semver-checks): breaking (against prism4d-v0.4.2: 1 major and 0 minor"),
    ("minor", "0.4.3", "Rust API (cargo-semver-checks): feature (minor) (against prism4d-v0.4.2: 0 major and 1"),
    ("none", "0.4.3", "Rust API (cargo-semver-checks): no breaking change (against prism4d-v0.4.2)"),
    ("error", "0.4.3", "Rust API: not checked (cargo-semver-checks failed (exit 101): error: failed to build"),
])
def test_cargo_semver_checks_feeds_the_level(example_copy: Path, tmp_path: Path, verdict: str, new: str,
                                             line: str) -> None:
    _tagged(example_copy)
    (example_copy / "dist").mkdir()
    (example_copy / "dist" / "manifest.json").write_text(json.dumps({"schema": 1, "tags": [TAG], "kernel_abi": {
        "saxpy": {"saxpy": ["u32", "f32", "u64", "u64"]}}}))  # the kernel ABI is unchanged
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "cargo-semver-checks"
    fake.write_text(FAKE)
    fake.chmod(0o755)
    args = tmp_path / "args"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_SEMVER": verdict,
           "FAKE_SEMVER_ARGS": str(args)}
    plan = _plan(example_copy, env)
    # 0.x: a breaking change is a minor bump; a minor-level finding on 0.x stays a patch (as a `feat` does).
    assert plan["shared"]["new"] == new
    assert plan["rust_api"]["checked"] is (verdict != "error")
    assert plan["rust_api"]["breaking"] is (verdict == "major")
    assert plan["rust_api"]["feature"] is (verdict == "minor")
    assert args.read_text().split() == ["semver-checks", "--workspace", "--baseline-rev", TAG]
    text = cli("release", "--workspace", str(example_copy), env=env).stdout
    assert line in text
