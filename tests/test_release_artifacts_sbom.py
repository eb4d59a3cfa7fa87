"""dist/ of a release: an SBOM per tarball (listed in SHA256SUMS and the manifest) and the kernel ABI."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.release import artifacts, sbom
from pipeline.workspace.load import load_workspace

pytestmark = pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not on PATH")

SAXPY_PTX = (Path(__file__).resolve().parent / "fixtures" / "ptx" / "saxpy-nvcc13.ptx").read_text()


def _workspace(root: Path) -> Path:
    """A binary crate, a library crate owning a kernel (the binary does not link it: it would need real device
    code, which the release's shipping check looks for), and a CUDA build's outputs already in target/cuda."""
    (root / "tool" / "src").mkdir(parents=True)
    (root / "kern" / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[workspace]\nresolver = "2"\nmembers = ["tool", "kern"]\n')
    (root / "kern" / "Cargo.toml").write_text('[package]\nname = "kern"\nversion = "0.3.0"\nedition = "2021"\n')
    (root / "kern" / "src" / "lib.rs").write_text("pub fn n() -> u32 { 3 }\n")
    (root / "tool" / "Cargo.toml").write_text(
        '[package]\nname = "tool"\nversion = "0.3.0"\nedition = "2021"\n')
    (root / "tool" / "src" / "main.rs").write_text('fn main() { println!("3"); }\n')
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True)
    cuda = root / "target" / "cuda"
    cuda.mkdir(parents=True)
    (cuda / "saxpy.compute_90.ptx").write_text(SAXPY_PTX)
    (cuda / "saxpy.sm_90.cubin").write_bytes(b"\x7fELF-cubin")
    (cuda / "manifest.json").write_text(json.dumps({
        "schema": 1, "nvcc": "13.0", "architectures": ["sm_90"], "ptx": "compute_90",
        "kernels": [{"name": "saxpy", "crate": "kern", "ptx": "saxpy.compute_90.ptx", "entries": ["saxpy"]}],
    }))
    return root


def test_dist_has_sboms_checksums_and_the_kernel_abi(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root = _workspace(tmp_path / "ws")
    monkeypatch.setenv("CARGO_TARGET_DIR", str(root / "target"))
    ws = load_workspace(root)
    dist = root / "dist"
    written = artifacts.build(ws, dist=dist, project="demo", versions={"tool": "0.3.0", "kern": "0.3.0"},
                              workspace_version=None, tags=["v0.3.0"], commit="a" * 40, commit_time=1_700_000_000,
                              crates=["tool", "kern"], tool_version="0.1.0")
    names = sorted(p.name for p in written)
    triple = artifacts.toolchain().triple
    tool_tar = f"tool-0.3.0-aaaaaaa-{triple}.tar.gz"
    cuda_tar = "demo-cuda-0.3.0-aaaaaaa.tar.gz"
    assert names == sorted([tool_tar, sbom.sbom_name(tool_tar), cuda_tar, sbom.sbom_name(cuda_tar),
                            "manifest.json", "SHA256SUMS"])
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=dist, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"{sbom.sbom_name(tool_tar)}: OK" in check.stdout

    manifest = json.loads((dist / "manifest.json").read_text())
    by_name = {f["name"]: f for f in manifest["files"]}
    assert by_name[tool_tar]["sbom"] == sbom.sbom_name(tool_tar)
    assert by_name[cuda_tar]["sbom"] == sbom.sbom_name(cuda_tar)
    assert manifest["kernel_abi"] == {"saxpy": {"saxpy": ["u32", "f32", "u64", "u64"]}}

    toolkits = {}
    for tarball in (tool_tar, cuda_tar):
        text = (dist / sbom.sbom_name(tarball)).read_text()
        assert sbom.validate(text) == []
        data = json.loads(text)
        assert data["metadata"]["component"]["hashes"][0]["content"] == by_name[tarball]["sha256"]
        toolkits[tarball] = [c for c in data["components"] if c["name"] == "cuda-toolkit"]
    # The CUDA outputs carry the toolchain; the binary, whose graph holds no kernel crate, does not.
    cuda = toolkits[cuda_tar]
    assert cuda and {p["name"]: p["value"] for p in cuda[0]["properties"]} == {
        "cuda:nvcc-version": "13.0", "cuda:architectures": "sm_90", "cuda:ptx": "compute_90",
        "cuda:minimum-driver": "580.65.06"}
    assert toolkits[tool_tar] == []
    tool_sbom = json.loads((dist / sbom.sbom_name(tool_tar)).read_text())
    assert [c["purl"] for c in tool_sbom["components"] if "purl" in c] == ["pkg:cargo/tool@0.3.0"]
    cuda_sbom = json.loads((dist / sbom.sbom_name(cuda_tar)).read_text())
    assert [c["purl"] for c in cuda_sbom["components"] if "purl" in c] == ["pkg:cargo/kern@0.3.0"]
